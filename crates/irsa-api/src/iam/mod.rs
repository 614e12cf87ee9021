//! IAM operations: users, access keys, inline policies, roles, managed
//! policies and versions, attachments, permissions boundaries, OIDC
//! providers, account summary. Result shapes follow botocore's model.

use irsa_policy::{PolicyKind as DocKind, SizeLimit};
use irsa_store::{
    AccessKeyStatus, KeyOwner, ListQuery, ManagedPolicy, NewAccessKey, NewOidcProvider, NewPolicy,
    NewRole, NewUser, OidcProvider, PolicyEntities, PolicyListFilter, PrincipalKind, Role,
    RoleUpdate, StoreError, User, UserUpdate,
};

use crate::authorize::{managed_document, validate_document};
use crate::context::{OperationContext, RequestInfo};
use crate::error::{not_implemented, store_error};
use crate::error::{ApiError, ErrorCode};
use crate::model::{checks, Request, Tag};
use crate::protocol::response::{encode_policy_document, Node};
use irsa_auth::{Caller, CallerKind};

mod account;
mod principals;
mod simulate;

use irsa_auth::managed::{aws_managed_document, AWS_MANAGED, AWS_POLICY_PREFIX};

fn aws_managed_policies(now: time::OffsetDateTime) -> Vec<ManagedPolicy> {
    AWS_MANAGED
        .iter()
        .map(|(name, id, _)| ManagedPolicy {
            name: (*name).to_owned(),
            path: "/".to_owned(),
            id: (*id).to_owned(),
            arn: format!("{AWS_POLICY_PREFIX}{name}"),
            description: None,
            tags: Vec::new(),
            create_date: now,
            update_date: now,
            default_version_id: "v1".to_owned(),
            attachment_count: 0,
            permissions_boundary_usage_count: 0,
        })
        .collect()
}

/// ListPolicies' `OnlyAttached` and `PolicyUsageFilter` as one store filter.
/// A usage filter names what "in use" means (attached as a permissions
/// policy, or set as a permissions boundary), so `OnlyAttached` adds
/// nothing to it; `OnlyAttached` alone means attached.
fn list_policies_filter(only_attached: bool, usage: Option<&str>) -> PolicyListFilter {
    match usage {
        Some("PermissionsBoundary") => PolicyListFilter::UsedAsBoundary,
        Some(_) => PolicyListFilter::Attached,
        None if only_attached => PolicyListFilter::Attached,
        None => PolicyListFilter::All,
    }
}

/// Users and roles whose permissions boundary is `policy_arn`, as
/// `(name, id)` pairs ordered by name. Boundaries are not indexed by policy,
/// so this scans every user and role (IAM-sized accounts, rare calls).
async fn boundary_entities(
    api: &OperationContext,
    policy_arn: &str,
) -> Result<PolicyEntities, ApiError> {
    let st = api.store();
    let mut entities = PolicyEntities::default();
    for kind in PrincipalKind::ALL {
        let bounded = all_pages(|q| async move { st.list_principals(kind, &q).await })
            .await?
            .into_iter()
            .filter(|p| p.permissions_boundary() == Some(policy_arn))
            .map(|p| (p.name().to_owned(), p.id().to_owned()));
        match kind {
            PrincipalKind::User => entities.users.extend(bounded),
            PrincipalKind::Role => entities.roles.extend(bounded),
        }
    }
    Ok(entities)
}

/// A built-in AWS managed policy with its usage counted (they live outside
/// the policies table, so the store's policy queries cannot count them).
async fn with_usage(
    api: &OperationContext,
    mut policy: ManagedPolicy,
) -> Result<ManagedPolicy, ApiError> {
    let usage = api
        .store()
        .policy_usage(&policy.arn)
        .await
        .map_err(store_error)?;
    policy.attachment_count = usage.attachments;
    policy.permissions_boundary_usage_count = usage.boundaries;
    Ok(policy)
}

/// Whether a policy, its usage counted, passes a ListPolicies filter.
fn passes(filter: PolicyListFilter, policy: &ManagedPolicy) -> bool {
    match filter {
        PolicyListFilter::All => true,
        PolicyListFilter::Attached => policy.attachment_count > 0,
        PolicyListFilter::UsedAsBoundary => policy.permissions_boundary_usage_count > 0,
    }
}

// ------------------------------------------------------------- helpers

fn tag_nodes(tags: &[irsa_store::Tag]) -> Vec<Node> {
    tags.iter()
        .map(|t| Node::object().with("Key", &t.key).with("Value", &t.value))
        .collect()
}

fn tags_node(tags: &[irsa_store::Tag]) -> Node {
    Node::List(tag_nodes(tags))
}

fn store_tags(tags: &[Tag]) -> Vec<irsa_store::Tag> {
    tags.iter()
        .map(|t| irsa_store::Tag::new(t.key.clone(), t.value.clone()))
        .collect()
}

fn boundary_node(arn: Option<&String>) -> Option<Node> {
    arn.map(|a| {
        Node::object()
            .with("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
            .with("PermissionsBoundaryArn", a)
    })
}

/// Which members of a user a result carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UserShape {
    /// `User` in ListUsers: no boundary or tags (botocore's documentation
    /// of ListUsers lists what resource listings leave out).
    Listed,
    /// `User` in GetUser and CreateUser, `UserDetail` in
    /// GetAccountAuthorizationDetails.
    Full,
}

fn user_node(u: &User, shape: UserShape) -> Node {
    let mut n = Node::object()
        .with("Path", &u.path)
        .with("UserName", &u.name)
        .with("UserId", &u.id)
        .with("Arn", &u.arn)
        .with("CreateDate", u.create_date);
    if shape == UserShape::Full {
        n = n.with_opt(
            "PermissionsBoundary",
            boundary_node(u.permissions_boundary.as_ref()),
        );
        if !u.tags.is_empty() {
            n = n.with("Tags", tags_node(&u.tags));
        }
    }
    n
}

/// Which members of a role a result carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RoleShape {
    /// `Role` in ListRoles: no boundary, tags or last use.
    Listed,
    /// `Role` in GetRole, CreateRole, UpdateRoleDescription.
    Full,
    /// `RoleDetail` (GetAccountAuthorizationDetails): no description or
    /// session duration; the caller adds the policy lists.
    Detail,
}

fn role_node(r: &Role, shape: RoleShape) -> Node {
    let mut n = Node::object()
        .with("Path", &r.path)
        .with("RoleName", &r.name)
        .with("RoleId", &r.id)
        .with("Arn", &r.arn)
        .with("CreateDate", r.create_date)
        .with(
            "AssumeRolePolicyDocument",
            encode_policy_document(&r.assume_role_policy_document),
        );
    if shape != RoleShape::Detail {
        n = n
            .with_opt("Description", r.description.as_ref())
            .with("MaxSessionDuration", r.max_session_duration);
    }
    if shape != RoleShape::Listed {
        n = n.with_opt(
            "PermissionsBoundary",
            boundary_node(r.permissions_boundary.as_ref()),
        );
        if !r.tags.is_empty() {
            n = n.with("Tags", tags_node(&r.tags));
        }
        let mut last = Node::object();
        if let Some(l) = &r.last_used {
            last = last
                .with("LastUsedDate", l.date)
                .with_opt("Region", l.region.as_ref());
        }
        n = n.with("RoleLastUsed", last);
    }
    n
}

/// The members `Policy` and `ManagedPolicyDetail` share.
fn policy_fields(p: &ManagedPolicy) -> Node {
    Node::object()
        .with("PolicyName", &p.name)
        .with("PolicyId", &p.id)
        .with("Arn", &p.arn)
        .with("Path", &p.path)
        .with("DefaultVersionId", &p.default_version_id)
        .with("AttachmentCount", p.attachment_count)
        .with(
            "PermissionsBoundaryUsageCount",
            p.permissions_boundary_usage_count,
        )
        .with("IsAttachable", true)
        .with_opt("Description", p.description.as_ref())
        .with("CreateDate", p.create_date)
        .with("UpdateDate", p.update_date)
}

fn policy_node(p: &ManagedPolicy) -> Node {
    let n = policy_fields(p);
    if p.tags.is_empty() {
        n
    } else {
        n.with("Tags", tags_node(&p.tags))
    }
}

fn version_node(v: &irsa_store::PolicyVersion, with_document: bool) -> Node {
    let mut n = Node::object();
    if with_document {
        n = n.with("Document", encode_policy_document(&v.document));
    }
    n.with("VersionId", &v.version_id)
        .with("IsDefaultVersion", v.is_default)
        .with("CreateDate", v.create_date)
}

fn provider_node(p: &OidcProvider) -> Node {
    let url = p.url.strip_prefix("https://").unwrap_or(&p.url);
    let mut n = Node::object()
        .with("Url", url)
        .with("ClientIDList", Node::list(p.client_ids.iter()))
        .with("ThumbprintList", Node::list(p.thumbprints.iter()))
        .with("CreateDate", p.create_date);
    if !p.tags.is_empty() {
        n = n.with("Tags", tags_node(&p.tags));
    }
    n
}

fn list_query(
    path_prefix: Option<&String>,
    marker: Option<&String>,
    max: Option<i32>,
) -> ListQuery {
    ListQuery {
        path_prefix: path_prefix.cloned(),
        marker: marker.cloned(),
        max_items: max.and_then(|m| u32::try_from(m).ok()),
    }
}

/// The `Marker` / `MaxItems` of a list request.
#[derive(Debug)]
struct Paging {
    marker: Option<String>,
    max_items: Option<i32>,
}

impl Paging {
    fn of(marker: Option<String>, max_items: Option<i32>) -> Self {
        Self { marker, max_items }
    }
}

/// Pages an in-memory list: the marker is the index of the next item.
fn page<T>(items: Vec<T>, paging: &Paging) -> Result<(Vec<T>, Option<String>), ApiError> {
    let (marker, max) = (paging.marker.as_ref(), paging.max_items);
    let start = match marker {
        Some(m) => m.parse::<usize>().map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidInput,
                "Invalid value for parameter Marker",
            )
        })?,
        None => 0,
    };
    let max = usize::try_from(max.unwrap_or(100))
        .unwrap_or(100)
        .clamp(1, 1000);
    let total = items.len();
    let out: Vec<T> = items.into_iter().skip(start).take(max).collect();
    let next = start + out.len();
    let marker = (next < total).then(|| next.to_string());
    Ok((out, marker))
}

fn paged(list_name: &str, items: Vec<Node>, marker: Option<String>) -> Node {
    Node::object()
        .with(list_name, Node::List(items))
        .with("IsTruncated", marker.is_some())
        .with_opt("Marker", marker)
}

fn not_found_policy(arn: &str) -> ApiError {
    ApiError::new(
        ErrorCode::NoSuchEntity,
        format!("Policy {arn} does not exist or is not attachable."),
    )
}

async fn require_policy(api: &OperationContext, arn: &str) -> Result<(), ApiError> {
    match managed_document(api, arn).await? {
        Some(_) => Ok(()),
        None => Err(not_found_policy(arn)),
    }
}

/// The user or role a same-account IAM principal ARN names
/// (`arn:PARTITION:iam::ACCOUNT:user/PATH/NAME` or `…:role/…`), as its kind
/// and name; `None` for any other principal.
fn same_account_principal<'a>(arn: &'a str, account: &str) -> Option<(PrincipalKind, &'a str)> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_partition), Some("iam"), Some(""), Some(acct), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    if acct != account {
        return None;
    }
    let (kind, path_and_name) = if let Some(rest) = resource.strip_prefix("user/") {
        (PrincipalKind::User, rest)
    } else if let Some(rest) = resource.strip_prefix("role/") {
        (PrincipalKind::Role, rest)
    } else {
        return None;
    };
    let name = path_and_name.rsplit('/').next().unwrap_or(path_and_name);
    Some((kind, name))
}

/// IAM refuses a trust policy whose `AWS` principal names a user or role of
/// this account that does not exist (AWS stores principals as unique ids,
/// so it must resolve them). Account roots, `*` and other accounts' ARNs
/// cannot be checked here and pass.
async fn require_trust_principals_exist(
    api: &OperationContext,
    trust_policy: &irsa_policy::Policy,
) -> Result<(), ApiError> {
    use irsa_policy::AwsPrincipal;
    let account = api.account().as_str();
    let arns = trust_policy
        .statements
        .iter()
        .filter_map(irsa_policy::Statement::principals)
        .flat_map(|p| p.aws.iter())
        .filter_map(|p| match p {
            AwsPrincipal::Arn(arn) => Some(arn.as_str()),
            _ => None,
        });
    for arn in arns {
        let Some((kind, name)) = same_account_principal(arn, account) else {
            continue;
        };
        let exists = match api.store().get_principal(kind, name).await {
            // The path is part of the ARN: a user of that name elsewhere is another principal.
            Ok(found) => found.arn().eq_ignore_ascii_case(arn),
            Err(StoreError::NotFound { .. }) => false,
            Err(err) => return Err(store_error(err)),
        };
        if !exists {
            return Err(ApiError::malformed_policy_document(format!(
                "Invalid principal in policy: \"AWS\":\"{arn}\""
            )));
        }
    }
    Ok(())
}

fn read_only_aws(arn: &str) -> Result<(), ApiError> {
    if arn.starts_with(AWS_POLICY_PREFIX) {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!("Policy {arn} is an AWS managed policy and cannot be modified."),
        ));
    }
    Ok(())
}

/// The user an access-key call is about: the named one, else the caller.
fn key_owner(caller: &Caller, name: Option<&String>) -> Result<KeyOwner, ApiError> {
    match (name, caller.kind()) {
        (Some(n), _) => Ok(KeyOwner::User(n.clone())),
        (None, CallerKind::Root | CallerKind::RootSession) => Ok(KeyOwner::Root),
        (None, CallerKind::User { name, .. } | CallerKind::UserSession { name, .. }) => {
            Ok(KeyOwner::User(name.clone()))
        }
        (None, CallerKind::RoleSession { .. }) => Err(ApiError::new(
            ErrorCode::ValidationError,
            "Must specify userName when calling with non-User credentials",
        )),
    }
}

fn owner_name(owner: &KeyOwner) -> Option<&str> {
    match owner {
        KeyOwner::User(n) => Some(n),
        KeyOwner::Root => None,
    }
}

// ------------------------------------------------------------ dispatch

pub(crate) async fn dispatch(
    api: &OperationContext,
    caller: &Caller,
    req: Request,
    _info: &RequestInfo,
) -> Result<Option<Node>, ApiError> {
    use Request as R;
    let req = match principals::PrincipalRequest::split(req) {
        Ok(about_principal) => return principals::handle(api, about_principal).await,
        Err(other) => other,
    };
    let st = api.store();
    let node = match req {
        // ---------------------------------------------------- users
        R::CreateUser(r) => {
            if let Some(b) = &r.permissions_boundary {
                require_policy(api, b).await?;
            }
            let u = st
                .create_user(NewUser {
                    name: r.user_name,
                    path: r.path.unwrap_or_else(|| "/".to_owned()),
                    tags: store_tags(&r.tags),
                    permissions_boundary: r.permissions_boundary,
                })
                .await
                .map_err(store_error)?;
            Node::object().with("User", user_node(&u, UserShape::Full))
        }
        R::GetUser(r) => {
            let name = match (&r.user_name, caller.kind()) {
                (Some(n), _) => n.clone(),
                (None, CallerKind::User { name, .. } | CallerKind::UserSession { name, .. }) => {
                    name.clone()
                }
                (None, CallerKind::Root | CallerKind::RootSession) => {
                    return Ok(Some(
                        Node::object().with(
                            "User",
                            Node::object()
                                .with("UserId", caller.account())
                                .with("Arn", caller.arn())
                                .with("CreateDate", time::OffsetDateTime::UNIX_EPOCH),
                        ),
                    ))
                }
                (None, CallerKind::RoleSession { .. }) => {
                    return Err(ApiError::new(
                        ErrorCode::ValidationError,
                        "Must specify userName when calling with non-User credentials",
                    ))
                }
            };
            let u = st.get_user(&name).await.map_err(store_error)?;
            Node::object().with("User", user_node(&u, UserShape::Full))
        }
        R::ListUsers(r) => {
            let p = st
                .list_users(&list_query(
                    r.path_prefix.as_ref(),
                    r.marker.as_ref(),
                    r.max_items,
                ))
                .await
                .map_err(store_error)?;
            let items = p
                .items
                .iter()
                .map(|u| user_node(u, UserShape::Listed))
                .collect();
            paged("Users", items, p.marker)
        }
        R::UpdateUser(r) => {
            st.update_user(
                &r.user_name,
                UserUpdate {
                    new_name: r.new_user_name,
                    new_path: r.new_path,
                },
            )
            .await
            .map_err(store_error)?;
            return Ok(None);
        }
        // ---------------------------------------------- access keys
        R::CreateAccessKey(r) => {
            let owner = key_owner(caller, r.user_name.as_ref())?;
            let new = match &owner {
                KeyOwner::Root => NewAccessKey::for_root(),
                KeyOwner::User(n) => NewAccessKey::for_user(n.clone()),
            };
            if let KeyOwner::User(n) = &owner {
                st.get_user(n).await.map_err(store_error)?;
            }
            let k = st.create_access_key(new).await.map_err(store_error)?;
            let mut key = Node::object();
            if let Some(n) = owner_name(&owner) {
                key = key.with("UserName", n);
            }
            key = key
                .with("AccessKeyId", &k.key.id)
                .with("Status", k.key.status.as_str())
                .with("SecretAccessKey", &k.secret)
                .with("CreateDate", k.key.create_date);
            Node::object().with("AccessKey", key)
        }
        R::ListAccessKeys(r) => {
            let owner = key_owner(caller, r.user_name.as_ref())?;
            if let KeyOwner::User(n) = &owner {
                st.get_user(n).await.map_err(store_error)?;
            }
            let keys = st.list_access_keys(&owner).await.map_err(store_error)?;
            let (keys, marker) = page(keys, &Paging::of(r.marker, r.max_items))?;
            let items = keys
                .iter()
                .map(|k| {
                    let mut n = Node::object();
                    if let Some(u) = owner_name(&owner) {
                        n = n.with("UserName", u);
                    }
                    n.with("AccessKeyId", &k.id)
                        .with("Status", k.status.as_str())
                        .with("CreateDate", k.create_date)
                })
                .collect();
            paged("AccessKeyMetadata", items, marker)
        }
        R::UpdateAccessKey(r) => {
            let owner = key_owner(caller, r.user_name.as_ref())?;
            let status = match r.status.as_str() {
                "Active" => AccessKeyStatus::Active,
                "Inactive" => AccessKeyStatus::Inactive,
                other => {
                    return Err(ApiError::new(
                        ErrorCode::ValidationError,
                        format!("Status {other} cannot be set on an access key."),
                    ))
                }
            };
            st.update_access_key_status(&owner, &r.access_key_id, status)
                .await
                .map_err(store_error)?;
            return Ok(None);
        }
        R::DeleteAccessKey(r) => {
            let owner = key_owner(caller, r.user_name.as_ref())?;
            st.delete_access_key(&owner, &r.access_key_id)
                .await
                .map_err(store_error)?;
            return Ok(None);
        }
        R::GetAccessKeyLastUsed(r) => {
            let k = match st.get_access_key(&r.access_key_id).await {
                Ok(k) => k.key,
                Err(StoreError::NotFound { .. }) => return Err(ApiError::new(
                    ErrorCode::AccessDenied,
                    "The specified access key does not exist or does not belong to this account.",
                )),
                Err(err) => return Err(store_error(err)),
            };
            let last = match &k.last_used {
                Some(l) => Node::object()
                    .with("LastUsedDate", l.date)
                    .with("ServiceName", l.service.as_deref().unwrap_or("N/A"))
                    .with("Region", l.region.as_deref().unwrap_or("N/A")),
                None => Node::object()
                    .with("ServiceName", "N/A")
                    .with("Region", "N/A"),
            };
            Node::object()
                .with("UserName", owner_name(&k.owner).unwrap_or("root"))
                .with("AccessKeyLastUsed", last)
        }
        // ---------------------------------------------------- roles
        R::CreateRole(r) => {
            let trust = validate_document(
                &r.assume_role_policy_document,
                DocKind::Trust,
                SizeLimit::RoleTrustPolicy,
                false,
            )?;
            require_trust_principals_exist(api, &trust).await?;
            if let Some(b) = &r.permissions_boundary {
                require_policy(api, b).await?;
            }
            let role = st
                .create_role(NewRole {
                    name: r.role_name,
                    path: r.path.unwrap_or_else(|| "/".to_owned()),
                    assume_role_policy_document: r.assume_role_policy_document,
                    max_session_duration: r
                        .max_session_duration
                        .and_then(|d| u32::try_from(d).ok())
                        .unwrap_or(3600),
                    description: r.description,
                    permissions_boundary: r.permissions_boundary,
                    tags: store_tags(&r.tags),
                })
                .await
                .map_err(store_error)?;
            Node::object().with("Role", role_node(&role, RoleShape::Full))
        }
        R::GetRole(r) => {
            let role = st.get_role(&r.role_name).await.map_err(store_error)?;
            Node::object().with("Role", role_node(&role, RoleShape::Full))
        }
        R::ListRoles(r) => {
            let p = st
                .list_roles(&list_query(
                    r.path_prefix.as_ref(),
                    r.marker.as_ref(),
                    r.max_items,
                ))
                .await
                .map_err(store_error)?;
            let items = p
                .items
                .iter()
                .map(|x| role_node(x, RoleShape::Listed))
                .collect();
            paged("Roles", items, p.marker)
        }
        R::UpdateRole(r) => {
            st.update_role(
                &r.role_name,
                RoleUpdate {
                    description: r.description,
                    max_session_duration: r
                        .max_session_duration
                        .and_then(|d| u32::try_from(d).ok()),
                },
            )
            .await
            .map_err(store_error)?;
            Node::object()
        }
        R::UpdateRoleDescription(r) => {
            let role = st
                .update_role(
                    &r.role_name,
                    RoleUpdate {
                        description: Some(r.description),
                        max_session_duration: None,
                    },
                )
                .await
                .map_err(store_error)?;
            Node::object().with("Role", role_node(&role, RoleShape::Full))
        }
        R::UpdateAssumeRolePolicy(r) => {
            let trust = validate_document(
                &r.policy_document,
                DocKind::Trust,
                SizeLimit::RoleTrustPolicy,
                false,
            )?;
            require_trust_principals_exist(api, &trust).await?;
            st.update_assume_role_policy(&r.role_name, r.policy_document)
                .await
                .map_err(store_error)?;
            return Ok(None);
        }
        // ----------------------------------------- managed policies
        R::CreatePolicy(r) => {
            validate_document(
                &r.policy_document,
                DocKind::Identity,
                SizeLimit::ManagedPolicy,
                false,
            )?;
            let p = st
                .create_policy(NewPolicy {
                    name: r.policy_name,
                    path: r.path.unwrap_or_else(|| "/".to_owned()),
                    description: r.description,
                    document: r.policy_document,
                    tags: store_tags(&r.tags),
                })
                .await
                .map_err(store_error)?;
            Node::object().with("Policy", policy_node(&p))
        }
        R::GetPolicy(r) => {
            let p = get_policy(api, &r.policy_arn).await?;
            Node::object().with("Policy", policy_node(&p))
        }
        R::ListPolicies(r) => {
            let scope = r.scope.as_deref().unwrap_or("All");
            let filter = list_policies_filter(
                r.only_attached.unwrap_or(false),
                r.policy_usage_filter.as_deref(),
            );
            let mut items = Vec::new();
            let mut marker = None;
            if scope != "AWS" {
                let p = st
                    .list_policies(
                        &list_query(r.path_prefix.as_ref(), r.marker.as_ref(), r.max_items),
                        filter,
                    )
                    .await
                    .map_err(store_error)?;
                // A listing leaves tags out (botocore's ListPolicies documentation).
                items.extend(p.items.iter().map(policy_fields));
                marker = p.marker;
            }
            // AWS managed policies follow the last page of local ones.
            if scope != "Local" && marker.is_none() {
                let prefix = r.path_prefix.as_deref().unwrap_or("/");
                for p in aws_managed_policies(api.now()) {
                    if !p.path.starts_with(prefix) {
                        continue;
                    }
                    let p = with_usage(api, p).await?;
                    if passes(filter, &p) {
                        items.push(policy_fields(&p));
                    }
                }
            }
            paged("Policies", items, marker)
        }
        R::DeletePolicy(r) => {
            read_only_aws(&r.policy_arn)?;
            st.delete_policy(&r.policy_arn).await.map_err(store_error)?;
            return Ok(None);
        }
        R::CreatePolicyVersion(r) => {
            read_only_aws(&r.policy_arn)?;
            validate_document(
                &r.policy_document,
                DocKind::Identity,
                SizeLimit::ManagedPolicy,
                false,
            )?;
            let v = st
                .create_policy_version(
                    &r.policy_arn,
                    r.policy_document,
                    r.set_as_default.unwrap_or(false),
                )
                .await
                .map_err(store_error)?;
            Node::object().with("PolicyVersion", version_node(&v, false))
        }
        R::GetPolicyVersion(r) => {
            let v = if let Some(doc) = aws_managed_document(&r.policy_arn) {
                if r.version_id != "v1" {
                    return Err(ApiError::new(
                        ErrorCode::NoSuchEntity,
                        format!(
                            "Policy {} version {} does not exist or is not attachable.",
                            r.policy_arn, r.version_id
                        ),
                    ));
                }
                irsa_store::PolicyVersion {
                    version_id: "v1".to_owned(),
                    document: doc.to_owned(),
                    is_default: true,
                    create_date: time::OffsetDateTime::UNIX_EPOCH,
                }
            } else {
                st.get_policy_version(&r.policy_arn, &r.version_id)
                    .await
                    .map_err(store_error)?
            };
            Node::object().with("PolicyVersion", version_node(&v, true))
        }
        R::ListPolicyVersions(r) => {
            let versions = st
                .list_policy_versions(&r.policy_arn)
                .await
                .map_err(store_error)?;
            let (versions, marker) = page(versions, &Paging::of(r.marker, r.max_items))?;
            let items = versions.iter().map(|v| version_node(v, false)).collect();
            paged("Versions", items, marker)
        }
        R::SetDefaultPolicyVersion(r) => {
            read_only_aws(&r.policy_arn)?;
            st.set_default_policy_version(&r.policy_arn, &r.version_id)
                .await
                .map_err(store_error)?;
            return Ok(None);
        }
        R::DeletePolicyVersion(r) => {
            read_only_aws(&r.policy_arn)?;
            st.delete_policy_version(&r.policy_arn, &r.version_id)
                .await
                .map_err(store_error)?;
            return Ok(None);
        }
        R::TagPolicy(r) => {
            read_only_aws(&r.policy_arn)?;
            st.tag_policy(&r.policy_arn, store_tags(&r.tags))
                .await
                .map_err(store_error)?;
            return Ok(None);
        }
        R::UntagPolicy(r) => {
            read_only_aws(&r.policy_arn)?;
            st.untag_policy(&r.policy_arn, &r.tag_keys)
                .await
                .map_err(store_error)?;
            return Ok(None);
        }
        R::ListPolicyTags(r) => {
            let p = get_policy(api, &r.policy_arn).await?;
            let (items, marker) = page(p.tags, &Paging::of(r.marker, r.max_items))?;
            paged("Tags", tag_nodes(&items), marker)
        }
        R::ListEntitiesForPolicy(r) => {
            get_policy(api, &r.policy_arn).await?;
            // Without PolicyUsageFilter both uses are listed (an entity once).
            let usage = r.policy_usage_filter.as_deref();
            let mut ents = if usage == Some("PermissionsBoundary") {
                PolicyEntities::default()
            } else {
                st.list_entities_for_policy(&r.policy_arn)
                    .await
                    .map_err(store_error)?
            };
            if usage != Some("PermissionsPolicy") {
                let bounded = boundary_entities(api, &r.policy_arn).await?;
                for (list, more) in [
                    (&mut ents.users, bounded.users),
                    (&mut ents.roles, bounded.roles),
                ] {
                    list.extend(more);
                    list.sort();
                    list.dedup();
                }
            }
            let filter = r.entity_filter.as_deref().unwrap_or("");
            let users = if matches!(filter, "" | "User") {
                ents.users
                    .iter()
                    .map(|(n, id)| Node::object().with("UserName", n).with("UserId", id))
                    .collect()
            } else {
                Vec::new()
            };
            let roles = if matches!(filter, "" | "Role") {
                ents.roles
                    .iter()
                    .map(|(n, id)| Node::object().with("RoleName", n).with("RoleId", id))
                    .collect()
            } else {
                Vec::new()
            };
            Node::object()
                .with("PolicyGroups", Node::List(Vec::new()))
                .with("PolicyUsers", Node::List(users))
                .with("PolicyRoles", Node::List(roles))
                .with("IsTruncated", false)
        }
        // ------------------------------------------- OIDC providers
        R::CreateOpenIDConnectProvider(r) => {
            let url = checks::provider_url(&r.url, api.allow_http_providers())?;
            checks::client_id_count(r.client_id_list.len())?;
            checks::thumbprints(&r.thumbprint_list)?;
            let p = st
                .create_oidc_provider(NewOidcProvider {
                    url: url.url,
                    client_ids: r.client_id_list,
                    thumbprints: r.thumbprint_list,
                    tags: store_tags(&r.tags),
                })
                .await
                .map_err(store_error)?;
            let mut n = Node::object().with("OpenIDConnectProviderArn", &p.arn);
            if !p.tags.is_empty() {
                n = n.with("Tags", tags_node(&p.tags));
            }
            n
        }
        R::GetOpenIDConnectProvider(r) => {
            let p = st
                .get_oidc_provider(&r.open_id_connect_provider_arn)
                .await
                .map_err(store_error)?;
            provider_node(&p)
        }
        R::ListOpenIDConnectProviders(_) => {
            let list = st.list_oidc_providers().await.map_err(store_error)?;
            Node::object().with(
                "OpenIDConnectProviderList",
                Node::list(list.iter().map(|p| Node::object().with("Arn", &p.arn))),
            )
        }
        R::DeleteOpenIDConnectProvider(r) => {
            st.delete_oidc_provider(&r.open_id_connect_provider_arn)
                .await
                .map_err(store_error)?;
            return Ok(None);
        }
        R::AddClientIDToOpenIDConnectProvider(r) => {
            let p = st
                .get_oidc_provider(&r.open_id_connect_provider_arn)
                .await
                .map_err(store_error)?;
            if !p.client_ids.contains(&r.client_id) {
                checks::client_id_count(p.client_ids.len() + 1)?;
            }
            st.add_client_id(&r.open_id_connect_provider_arn, &r.client_id)
                .await
                .map_err(store_error)?;
            return Ok(None);
        }
        R::RemoveClientIDFromOpenIDConnectProvider(r) => {
            st.remove_client_id(&r.open_id_connect_provider_arn, &r.client_id)
                .await
                .map_err(store_error)?;
            return Ok(None);
        }
        R::UpdateOpenIDConnectProviderThumbprint(r) => {
            checks::thumbprints(&r.thumbprint_list)?;
            st.update_thumbprints(&r.open_id_connect_provider_arn, r.thumbprint_list)
                .await
                .map_err(store_error)?;
            return Ok(None);
        }
        R::TagOpenIDConnectProvider(r) => {
            st.tag_oidc_provider(&r.open_id_connect_provider_arn, store_tags(&r.tags))
                .await
                .map_err(store_error)?;
            return Ok(None);
        }
        R::UntagOpenIDConnectProvider(r) => {
            st.untag_oidc_provider(&r.open_id_connect_provider_arn, &r.tag_keys)
                .await
                .map_err(store_error)?;
            return Ok(None);
        }
        R::ListOpenIDConnectProviderTags(r) => {
            let p = st
                .get_oidc_provider(&r.open_id_connect_provider_arn)
                .await
                .map_err(store_error)?;
            let (items, marker) = page(p.tags, &Paging::of(r.marker, r.max_items))?;
            paged("Tags", tag_nodes(&items), marker)
        }
        // ------------------------------------------------- account
        R::GetAccountSummary(_) => account::summary(api).await?,
        R::GetAccountAuthorizationDetails(r) => {
            account::authorization_details(api, &r.filter).await?
        }
        R::SimulateCustomPolicy(r) => simulate::custom(api, &r)?,
        R::SimulatePrincipalPolicy(r) => simulate::principal(api, &r).await?,
        // ------------------------------------- outbound web identity
        R::EnableOutboundWebIdentityFederation(_) => crate::outbound::enable(api).await?,
        R::DisableOutboundWebIdentityFederation(_) => {
            return crate::outbound::disable(api).await;
        }
        R::GetOutboundWebIdentityFederationInfo(_) => crate::outbound::info(api).await?,
        other => return Err(not_implemented(other.action())),
    };
    Ok(Some(node))
}

async fn get_policy(api: &OperationContext, arn: &str) -> Result<ManagedPolicy, ApiError> {
    if arn.starts_with(AWS_POLICY_PREFIX) {
        let policy = aws_managed_policies(api.now())
            .into_iter()
            .find(|p| p.arn == arn)
            .ok_or_else(|| not_found_policy(arn))?;
        return with_usage(api, policy).await;
    }
    match api.store().get_policy(arn).await {
        Ok(p) => Ok(p),
        Err(StoreError::NotFound { .. }) => Err(ApiError::new(
            ErrorCode::NoSuchEntity,
            format!("Policy {arn} was not found."),
        )),
        Err(err) => Err(store_error(err)),
    }
}

/// Every page of a store listing (GetAccountAuthorizationDetails is a snapshot).
async fn all_pages<T, F, Fut>(mut fetch: F) -> Result<Vec<T>, ApiError>
where
    F: FnMut(ListQuery) -> Fut,
    Fut: std::future::Future<Output = Result<irsa_store::Page<T>, StoreError>>,
{
    let mut out = Vec::new();
    let mut marker = None;
    loop {
        let page = fetch(ListQuery {
            path_prefix: None,
            marker: marker.take(),
            max_items: Some(irsa_store::MAX_MAX_ITEMS),
        })
        .await
        .map_err(store_error)?;
        out.extend(page.items);
        match page.marker {
            Some(m) => marker = Some(m),
            None => return Ok(out),
        }
    }
}
