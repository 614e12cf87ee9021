//! Authorization of every signed call with irsa-policy: the caller's
//! identity policies, permissions boundary and session policies, evaluated
//! on `iam:<Action>` / `sts:<Action>` and the operation's resource ARN.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use irsa_policy::{
    evaluate, Decision, Policy, PolicyError, PolicyKind as DocKind, PolicySet, PolicySource,
    RequestContext, RequestPrincipal, SizeLimit,
};
use irsa_store::{PrincipalKind, StoreError};

use crate::auth::{Caller, CallerKind};
use crate::error::{ApiError, DenialReason, ErrorCode, PolicyKind as DenialKind};
use crate::model::Request;
use crate::service::{store_error, AwsApi, RequestInfo};

/// Parsed documents by (kind, text): evaluation does not re-parse unchanged policies.
#[derive(Debug, Default)]
pub struct PolicyCache {
    map: Mutex<HashMap<(DocKindKey, String), Arc<Policy>>>,
}

type DocKindKey = u8;

const CACHE_MAX: usize = 4096;

fn kind_key(kind: DocKind) -> DocKindKey {
    match kind {
        DocKind::Identity => 0,
        DocKind::Trust => 1,
        DocKind::Resource => 2,
        DocKind::PermissionsBoundary => 3,
        DocKind::Session => 4,
    }
}

impl PolicyCache {
    /// Parses (or finds) a document. Stored documents were validated on
    /// write, so no size limit is re-applied here.
    pub fn get(&self, text: &str, kind: DocKind) -> Result<Arc<Policy>, PolicyError> {
        let key = (kind_key(kind), text.to_owned());
        if let Ok(map) = self.map.lock() {
            if let Some(p) = map.get(&key) {
                return Ok(Arc::clone(p));
            }
        }
        let parsed = Arc::new(Policy::parse_with_limit(text, kind, SizeLimit::Unlimited)?);
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= CACHE_MAX {
                map.clear();
            }
            map.insert(key, Arc::clone(&parsed));
        }
        Ok(parsed)
    }
}

/// Validates a document a client sends, with its IAM size limit.
/// `sts` picks STS's size error code.
pub fn validate_document(
    text: &str,
    kind: DocKind,
    limit: SizeLimit,
    sts: bool,
) -> Result<Policy, ApiError> {
    Policy::parse_with_limit(text, kind, limit).map_err(|e| policy_error(&e, sts))
}

/// Maps a validation failure onto IAM's / STS's error codes.
pub fn policy_error(e: &PolicyError, sts: bool) -> ApiError {
    if e.is_size_limit() {
        let code = if sts {
            ErrorCode::PackedPolicyTooLarge
        } else {
            ErrorCode::LimitExceeded
        };
        ApiError::new(code, e.to_string())
    } else {
        ApiError::malformed_policy_document(e.to_string())
    }
}

/// The policies that apply to a caller.
#[derive(Debug, Default)]
pub struct Loaded {
    pub identity: Vec<(String, Arc<Policy>)>,
    pub boundary: Option<(String, Arc<Policy>)>,
    pub session: Vec<(String, Arc<Policy>)>,
    /// `aws:PrincipalTag/*` (entity tags, overridden by session tags).
    pub principal_tags: Vec<(String, String)>,
}

impl Loaded {
    fn sources(list: &[(String, Arc<Policy>)]) -> Vec<PolicySource<'_>> {
        list.iter()
            .map(|(id, p)| PolicySource::new(id, p))
            .collect()
    }

    /// Evaluates with an optional resource (trust) policy.
    pub fn evaluate(&self, ctx: &RequestContext, resource: Option<PolicySource<'_>>) -> Decision {
        let identity = Self::sources(&self.identity);
        let session = Self::sources(&self.session);
        let set = PolicySet {
            identity: &identity,
            resource,
            same_account: true,
            permissions_boundary: self
                .boundary
                .as_ref()
                .map(|(id, p)| PolicySource::new(id, p)),
            session: &session,
        };
        evaluate(ctx, &set)
    }

    /// Which kind of policy is to blame for a denial, for AWS's message.
    pub fn denial_reason(&self, ctx: &RequestContext, decision: Decision) -> DenialReason {
        let alone = |list: &[(String, Arc<Policy>)]| {
            let s = Self::sources(list);
            evaluate(ctx, &PolicySet::identity(&s))
        };
        let boundary: Vec<(String, Arc<Policy>)> = self.boundary.iter().cloned().collect();
        let session_decision = || {
            if self.session.is_empty() {
                Decision::Allow
            } else {
                alone(&self.session)
            }
        };
        let boundary_decision = || {
            if boundary.is_empty() {
                Decision::Allow
            } else {
                alone(&boundary)
            }
        };
        if decision == Decision::ExplicitDeny {
            let kind = if alone(&self.identity) == Decision::ExplicitDeny {
                DenialKind::IdentityBased
            } else if boundary_decision() == Decision::ExplicitDeny {
                DenialKind::PermissionsBoundary
            } else {
                DenialKind::SessionPolicy
            };
            return DenialReason::ExplicitDeny(kind);
        }
        let kind = if alone(&self.identity) != Decision::Allow {
            DenialKind::IdentityBased
        } else if boundary_decision() != Decision::Allow {
            DenialKind::PermissionsBoundary
        } else if session_decision() != Decision::Allow {
            DenialKind::SessionPolicy
        } else {
            DenialKind::IdentityBased
        };
        DenialReason::NoAllow(kind)
    }
}

/// The document of a managed policy's default version (`None`: no such policy).
pub async fn managed_document(api: &AwsApi, arn: &str) -> Result<Option<String>, ApiError> {
    if let Some(doc) = crate::iam::aws_managed_document(arn) {
        return Ok(Some(doc.to_owned()));
    }
    let policy = match api.store().get_policy(arn).await {
        Ok(p) => p,
        Err(StoreError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(store_error(e)),
    };
    match api
        .store()
        .get_policy_version(arn, &policy.default_version_id)
        .await
    {
        Ok(v) => Ok(Some(v.document)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(store_error(e)),
    }
}

fn parse_stored(api: &AwsApi, id: &str, text: &str, kind: DocKind) -> Option<Arc<Policy>> {
    match api.inner.policies.get(text, kind) {
        Ok(p) => Some(p),
        Err(e) => {
            // Stored documents were validated on write; skip (deny) rather than fail.
            tracing::warn!(policy = id, error = %e, "stored policy does not parse");
            None
        }
    }
}

async fn load_entity(
    api: &AwsApi,
    kind: PrincipalKind,
    name: &str,
    boundary_arn: Option<&str>,
    out: &mut Loaded,
) -> Result<(), ApiError> {
    let store = api.store();
    let names = match store.list_inline_policies(kind, name).await {
        Ok(n) => n,
        Err(StoreError::NotFound { .. }) => return Ok(()),
        Err(e) => return Err(store_error(e)),
    };
    for policy_name in names {
        match store.get_inline_policy(kind, name, &policy_name).await {
            Ok(p) => {
                let id = format!("{name}/{policy_name}");
                if let Some(parsed) = parse_stored(api, &id, &p.document, DocKind::Identity) {
                    out.identity.push((id, parsed));
                }
            }
            Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(store_error(e)),
        }
    }
    let attached = match store.list_attached_policies(kind, name, None).await {
        Ok(a) => a,
        Err(StoreError::NotFound { .. }) => Vec::new(),
        Err(e) => return Err(store_error(e)),
    };
    for a in attached {
        if let Some(doc) = managed_document(api, &a.policy_arn).await? {
            if let Some(parsed) = parse_stored(api, &a.policy_arn, &doc, DocKind::Identity) {
                out.identity.push((a.policy_arn, parsed));
            }
        }
    }
    if let Some(arn) = boundary_arn {
        // A boundary whose policy vanished allows nothing (fail closed).
        let parsed = match managed_document(api, arn).await? {
            Some(doc) => parse_stored(api, arn, &doc, DocKind::PermissionsBoundary),
            None => None,
        };
        let parsed = parsed.unwrap_or_else(|| {
            Arc::new(Policy {
                kind: DocKind::PermissionsBoundary,
                version: irsa_policy::Version::V2012_10_17,
                id: None,
                statements: Vec::new(),
            })
        });
        out.boundary = Some((arn.to_owned(), parsed));
    }
    Ok(())
}

/// Loads every policy that applies to a (non-root) caller.
pub async fn load_policies(api: &AwsApi, caller: &Caller) -> Result<Loaded, ApiError> {
    let mut out = Loaded::default();
    let store = api.store();
    match &caller.kind {
        CallerKind::Root | CallerKind::RootSession => {}
        CallerKind::User { name, .. } | CallerKind::UserSession { name, .. } => {
            let user = match store.get_user(name).await {
                Ok(u) => u,
                Err(StoreError::NotFound { .. }) => return Ok(out),
                Err(e) => return Err(store_error(e)),
            };
            out.principal_tags = user
                .tags
                .iter()
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect();
            load_entity(
                api,
                PrincipalKind::User,
                &user.name,
                user.permissions_boundary.as_deref(),
                &mut out,
            )
            .await?;
        }
        CallerKind::RoleSession {
            role_name, role_id, ..
        } => {
            let role = match store.get_role(role_name).await {
                Ok(r) => r,
                Err(StoreError::NotFound { .. }) => return Ok(out),
                Err(e) => return Err(store_error(e)),
            };
            // A role deleted and re-created under the same name is another role.
            if &role.id != role_id {
                return Ok(out);
            }
            out.principal_tags = role
                .tags
                .iter()
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect();
            load_entity(
                api,
                PrincipalKind::Role,
                &role.name,
                role.permissions_boundary.as_deref(),
                &mut out,
            )
            .await?;
            if let Some(claims) = &caller.session {
                if let Some(text) = &claims.session_policy {
                    if let Some(p) = parse_stored(api, "session-policy", text, DocKind::Session) {
                        out.session.push(("session-policy".to_owned(), p));
                    } else {
                        // An unparseable session policy allows nothing.
                        out.session.push((
                            "session-policy".to_owned(),
                            Arc::new(Policy {
                                kind: DocKind::Session,
                                version: irsa_policy::Version::V2012_10_17,
                                id: None,
                                statements: Vec::new(),
                            }),
                        ));
                    }
                }
                for arn in &claims.policy_arns {
                    let doc = managed_document(api, arn).await?;
                    let parsed = doc.and_then(|d| parse_stored(api, arn, &d, DocKind::Session));
                    let parsed = parsed.unwrap_or_else(|| {
                        Arc::new(Policy {
                            kind: DocKind::Session,
                            version: irsa_policy::Version::V2012_10_17,
                            id: None,
                            statements: Vec::new(),
                        })
                    });
                    out.session.push((arn.clone(), parsed));
                }
                for tag in &claims.tags {
                    out.principal_tags
                        .retain(|(k, _)| !k.eq_ignore_ascii_case(&tag.key));
                    out.principal_tags
                        .push((tag.key.clone(), tag.value.clone()));
                }
            }
        }
    }
    Ok(out)
}

/// The request context of a caller for one action on one resource.
pub fn context(
    api: &AwsApi,
    caller: &Caller,
    action: &str,
    resource: &str,
    info: &RequestInfo,
    principal_tags: &[(String, String)],
) -> RequestContext {
    let account = caller.account.as_str();
    let principal = match &caller.kind {
        CallerKind::Root | CallerKind::RootSession => RequestPrincipal::root(account),
        CallerKind::User { name, id, arn } | CallerKind::UserSession { name, id, arn } => {
            RequestPrincipal::user(arn, account, name, id)
        }
        CallerKind::RoleSession { role_arn, .. } => {
            RequestPrincipal::assumed_role(&caller.arn(), role_arn, account, &caller.user_id())
        }
    };
    let mut ctx = RequestContext::new(principal, action, resource, api.now());
    ctx.insert("aws:RequestedRegion", info.region.as_str());
    ctx.insert(
        "aws:SecureTransport",
        if info.secure_transport {
            "true"
        } else {
            "false"
        },
    );
    if let Some(ip) = info.source_ip {
        ctx.insert("aws:SourceIp", ip.to_string());
    }
    if let Some(claims) = &caller.session {
        let issued = claims
            .issued_at_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        ctx.insert("aws:TokenIssueTime", issued);
        if let Some(si) = &claims.source_identity {
            ctx.insert("aws:SourceIdentity", si.as_str());
        }
    }
    for (k, v) in principal_tags {
        ctx.insert(&format!("aws:PrincipalTag/{k}"), v.as_str());
    }
    ctx
}

/// The resource ARN an operation acts on (`*` for account-wide operations).
pub async fn resource_of(api: &AwsApi, caller: &Caller, req: &Request) -> String {
    use Request as R;
    let account = api.account();
    let acct = account.as_str();
    let role = |name: &str| {
        let name = name.to_owned();
        async move {
            match api.store().get_role(&name).await {
                Ok(r) => r.arn,
                Err(_) => format!("arn:aws:iam::{acct}:role/{name}"),
            }
        }
    };
    let user = |name: &str| {
        let name = name.to_owned();
        async move {
            match api.store().get_user(&name).await {
                Ok(u) => u.arn,
                Err(_) => format!("arn:aws:iam::{acct}:user/{name}"),
            }
        }
    };
    let own_or = |name: &Option<String>| {
        name.clone()
            .or_else(|| caller.user_name().map(str::to_owned))
    };
    match req {
        R::AssumeRole(r) => r.role_arn.clone(),
        R::CreateRole(r) => {
            irsa_core::Arn::iam_role(account, r.path.as_deref().unwrap_or("/"), &r.role_name)
                .to_string()
        }
        R::CreateUser(r) => {
            irsa_core::Arn::iam_user(account, r.path.as_deref().unwrap_or("/"), &r.user_name)
                .to_string()
        }
        R::GetRole(r) => role(&r.role_name).await,
        R::UpdateRole(r) => role(&r.role_name).await,
        R::UpdateRoleDescription(r) => role(&r.role_name).await,
        R::UpdateAssumeRolePolicy(r) => role(&r.role_name).await,
        R::DeleteRole(r) => role(&r.role_name).await,
        R::PutRolePolicy(r) => role(&r.role_name).await,
        R::GetRolePolicy(r) => role(&r.role_name).await,
        R::ListRolePolicies(r) => role(&r.role_name).await,
        R::DeleteRolePolicy(r) => role(&r.role_name).await,
        R::TagRole(r) => role(&r.role_name).await,
        R::UntagRole(r) => role(&r.role_name).await,
        R::ListRoleTags(r) => role(&r.role_name).await,
        R::AttachRolePolicy(r) => role(&r.role_name).await,
        R::DetachRolePolicy(r) => role(&r.role_name).await,
        R::ListAttachedRolePolicies(r) => role(&r.role_name).await,
        R::PutRolePermissionsBoundary(r) => role(&r.role_name).await,
        R::DeleteRolePermissionsBoundary(r) => role(&r.role_name).await,
        R::UpdateUser(r) => user(&r.user_name).await,
        R::DeleteUser(r) => user(&r.user_name).await,
        R::TagUser(r) => user(&r.user_name).await,
        R::UntagUser(r) => user(&r.user_name).await,
        R::ListUserTags(r) => user(&r.user_name).await,
        R::PutUserPolicy(r) => user(&r.user_name).await,
        R::GetUserPolicy(r) => user(&r.user_name).await,
        R::ListUserPolicies(r) => user(&r.user_name).await,
        R::DeleteUserPolicy(r) => user(&r.user_name).await,
        R::AttachUserPolicy(r) => user(&r.user_name).await,
        R::DetachUserPolicy(r) => user(&r.user_name).await,
        R::ListAttachedUserPolicies(r) => user(&r.user_name).await,
        R::PutUserPermissionsBoundary(r) => user(&r.user_name).await,
        R::DeleteUserPermissionsBoundary(r) => user(&r.user_name).await,
        R::GetUser(r) => match own_or(&r.user_name) {
            Some(n) => user(&n).await,
            None => caller.arn(),
        },
        R::CreateAccessKey(r) => match own_or(&r.user_name) {
            Some(n) => user(&n).await,
            None => caller.arn(),
        },
        R::ListAccessKeys(r) => match own_or(&r.user_name) {
            Some(n) => user(&n).await,
            None => caller.arn(),
        },
        R::UpdateAccessKey(r) => match own_or(&r.user_name) {
            Some(n) => user(&n).await,
            None => caller.arn(),
        },
        R::DeleteAccessKey(r) => match own_or(&r.user_name) {
            Some(n) => user(&n).await,
            None => caller.arn(),
        },
        R::CreatePolicy(r) => {
            irsa_core::Arn::iam_policy(account, r.path.as_deref().unwrap_or("/"), &r.policy_name)
                .to_string()
        }
        R::GetPolicy(r) => r.policy_arn.clone(),
        R::DeletePolicy(r) => r.policy_arn.clone(),
        R::CreatePolicyVersion(r) => r.policy_arn.clone(),
        R::GetPolicyVersion(r) => r.policy_arn.clone(),
        R::ListPolicyVersions(r) => r.policy_arn.clone(),
        R::SetDefaultPolicyVersion(r) => r.policy_arn.clone(),
        R::DeletePolicyVersion(r) => r.policy_arn.clone(),
        R::TagPolicy(r) => r.policy_arn.clone(),
        R::UntagPolicy(r) => r.policy_arn.clone(),
        R::ListPolicyTags(r) => r.policy_arn.clone(),
        R::ListEntitiesForPolicy(r) => r.policy_arn.clone(),
        // The ARN has no scheme, so http and https URLs name the same resource.
        R::CreateOpenIDConnectProvider(r) => match crate::model::checks::provider_url(&r.url, true)
        {
            Ok(u) => irsa_core::Arn::oidc_provider(account, &u.arn_suffix).to_string(),
            Err(_) => "*".to_owned(),
        },
        R::GetOpenIDConnectProvider(r) => r.open_id_connect_provider_arn.clone(),
        R::DeleteOpenIDConnectProvider(r) => r.open_id_connect_provider_arn.clone(),
        R::AddClientIDToOpenIDConnectProvider(r) => r.open_id_connect_provider_arn.clone(),
        R::RemoveClientIDFromOpenIDConnectProvider(r) => r.open_id_connect_provider_arn.clone(),
        R::UpdateOpenIDConnectProviderThumbprint(r) => r.open_id_connect_provider_arn.clone(),
        R::TagOpenIDConnectProvider(r) => r.open_id_connect_provider_arn.clone(),
        R::UntagOpenIDConnectProvider(r) => r.open_id_connect_provider_arn.clone(),
        R::ListOpenIDConnectProviderTags(r) => r.open_id_connect_provider_arn.clone(),
        R::SimulatePrincipalPolicy(r) => r.policy_source_arn.clone(),
        _ => "*".to_owned(),
    }
}

/// Decides whether `caller` may make `req`; AssumeRole is decided by its
/// handler (trust policy), GetWebIdentityToken by its handler (request
/// condition keys, tags), GetCallerIdentity and GetSessionToken always are.
pub async fn authorize(
    api: &AwsApi,
    caller: &Caller,
    req: &Request,
    info: &RequestInfo,
) -> Result<(), ApiError> {
    if matches!(
        req,
        Request::GetCallerIdentity(_)
            | Request::GetSessionToken(_)
            | Request::AssumeRole(_)
            | Request::GetWebIdentityToken(_)
    ) {
        return Ok(());
    }
    // Root may do everything.
    if caller.is_root() {
        return Ok(());
    }
    let action = format!("{}:{}", req.service().signing_name(), req.action());
    let resource = resource_of(api, caller, req).await;
    let loaded = load_policies(api, caller).await?;
    let ctx = context(
        api,
        caller,
        &action,
        &resource,
        info,
        &loaded.principal_tags,
    );
    let decision = loaded.evaluate(&ctx, None);
    if decision.is_allowed() {
        return Ok(());
    }
    let reason = loaded.denial_reason(&ctx, decision);
    Err(ApiError::not_authorized(
        &caller.arn(),
        &action,
        &resource,
        reason,
    ))
}
