//! IAM operations that are the same for users and roles (groups will be the
//! third kind): delete, tags, permissions boundaries, inline policies and
//! managed-policy attachments. Each request names its principal in its own
//! member (`UserName`, `RoleName`); [`PrincipalRequest::split`] takes the
//! kind and name out so that one implementation serves every kind.

use irsa_policy::{PolicyKind as DocKind, SizeLimit};
use irsa_store::{AttachedPolicy, PrincipalKind};

use super::{page, paged, require_policy, store_tags, tag_nodes, Paging};
use crate::authorize::validate_document;
use crate::context::OperationContext;
use crate::error::store_error;
use crate::error::ApiError;
use crate::model::{Request, Tag};
use crate::protocol::response::{encode_policy_document, Node};

/// What a request asks of its principal.
#[derive(Debug)]
enum PrincipalAction {
    Delete,
    Tag(Vec<Tag>),
    Untag(Vec<String>),
    ListTags(Paging),
    PutBoundary(String),
    DeleteBoundary,
    /// Policy name and document.
    PutInline(String, String),
    /// Policy name.
    GetInline(String),
    ListInline(Paging),
    /// Policy name.
    DeleteInline(String),
    /// Policy ARN.
    Attach(String),
    /// Policy ARN.
    Detach(String),
    /// Path prefix of the attached policies.
    ListAttached(Option<String>, Paging),
}

/// A request about one user or role, whatever its kind.
#[derive(Debug)]
pub(super) struct PrincipalRequest {
    kind: PrincipalKind,
    name: String,
    action: PrincipalAction,
}

impl PrincipalRequest {
    /// The principal request `request` is, or `Err(request)` when it is
    /// about something else.
    // `Err` hands the request back unchanged (not an error value), so its
    // size is the request's own.
    #[allow(clippy::result_large_err)]
    pub(super) fn split(request: Request) -> Result<Self, Request> {
        use PrincipalAction as A;
        use PrincipalKind::{Role, User};
        use Request as R;
        let (kind, name, action) = match request {
            R::DeleteUser(r) => (User, r.user_name, A::Delete),
            R::DeleteRole(r) => (Role, r.role_name, A::Delete),
            R::TagUser(r) => (User, r.user_name, A::Tag(r.tags)),
            R::TagRole(r) => (Role, r.role_name, A::Tag(r.tags)),
            R::UntagUser(r) => (User, r.user_name, A::Untag(r.tag_keys)),
            R::UntagRole(r) => (Role, r.role_name, A::Untag(r.tag_keys)),
            R::ListUserTags(r) => (
                User,
                r.user_name,
                A::ListTags(Paging::of(r.marker, r.max_items)),
            ),
            R::ListRoleTags(r) => (
                Role,
                r.role_name,
                A::ListTags(Paging::of(r.marker, r.max_items)),
            ),
            R::PutUserPermissionsBoundary(r) => {
                (User, r.user_name, A::PutBoundary(r.permissions_boundary))
            }
            R::PutRolePermissionsBoundary(r) => {
                (Role, r.role_name, A::PutBoundary(r.permissions_boundary))
            }
            R::DeleteUserPermissionsBoundary(r) => (User, r.user_name, A::DeleteBoundary),
            R::DeleteRolePermissionsBoundary(r) => (Role, r.role_name, A::DeleteBoundary),
            R::PutUserPolicy(r) => (
                User,
                r.user_name,
                A::PutInline(r.policy_name, r.policy_document),
            ),
            R::PutRolePolicy(r) => (
                Role,
                r.role_name,
                A::PutInline(r.policy_name, r.policy_document),
            ),
            R::GetUserPolicy(r) => (User, r.user_name, A::GetInline(r.policy_name)),
            R::GetRolePolicy(r) => (Role, r.role_name, A::GetInline(r.policy_name)),
            R::ListUserPolicies(r) => (
                User,
                r.user_name,
                A::ListInline(Paging::of(r.marker, r.max_items)),
            ),
            R::ListRolePolicies(r) => (
                Role,
                r.role_name,
                A::ListInline(Paging::of(r.marker, r.max_items)),
            ),
            R::DeleteUserPolicy(r) => (User, r.user_name, A::DeleteInline(r.policy_name)),
            R::DeleteRolePolicy(r) => (Role, r.role_name, A::DeleteInline(r.policy_name)),
            R::AttachUserPolicy(r) => (User, r.user_name, A::Attach(r.policy_arn)),
            R::AttachRolePolicy(r) => (Role, r.role_name, A::Attach(r.policy_arn)),
            R::DetachUserPolicy(r) => (User, r.user_name, A::Detach(r.policy_arn)),
            R::DetachRolePolicy(r) => (Role, r.role_name, A::Detach(r.policy_arn)),
            R::ListAttachedUserPolicies(r) => (
                User,
                r.user_name,
                A::ListAttached(r.path_prefix, Paging::of(r.marker, r.max_items)),
            ),
            R::ListAttachedRolePolicies(r) => (
                Role,
                r.role_name,
                A::ListAttached(r.path_prefix, Paging::of(r.marker, r.max_items)),
            ),
            other => return Err(other),
        };
        Ok(Self { kind, name, action })
    }
}

/// The member that names a principal of `kind` in results.
fn name_member(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::User => "UserName",
        PrincipalKind::Role => "RoleName",
    }
}

/// The size quota of a kind's inline policies.
fn inline_limit(kind: PrincipalKind) -> SizeLimit {
    match kind {
        PrincipalKind::User => SizeLimit::InlineUserPolicies,
        PrincipalKind::Role => SizeLimit::InlineRolePolicies,
    }
}

/// Runs a principal request; writes answer `None` (an empty result).
pub(super) async fn handle(
    api: &OperationContext,
    request: PrincipalRequest,
) -> Result<Option<Node>, ApiError> {
    use PrincipalAction as A;
    let PrincipalRequest { kind, name, action } = request;
    let st = api.store();
    let written = match action {
        A::Delete => st.delete_principal(kind, &name).await,
        A::Tag(tags) => st.tag_principal(kind, &name, store_tags(&tags)).await,
        A::Untag(keys) => st.untag_principal(kind, &name, &keys).await,
        A::PutBoundary(arn) => {
            require_policy(api, &arn).await?;
            st.set_permissions_boundary(kind, &name, Some(arn)).await
        }
        A::DeleteBoundary => st.set_permissions_boundary(kind, &name, None).await,
        A::PutInline(policy, document) => {
            validate_document(&document, DocKind::Identity, inline_limit(kind), false)?;
            st.put_inline_policy(kind, &name, &policy, document).await
        }
        A::DeleteInline(policy) => st.delete_inline_policy(kind, &name, &policy).await,
        A::Attach(policy_arn) => {
            require_policy(api, &policy_arn).await?;
            st.attach_policy(kind, &name, &policy_arn).await
        }
        A::Detach(policy_arn) => st.detach_policy(kind, &name, &policy_arn).await,
        A::ListTags(paging) => {
            let principal = st.get_principal(kind, &name).await.map_err(store_error)?;
            let (tags, marker) = page(principal.tags().to_vec(), &paging)?;
            return Ok(Some(paged("Tags", tag_nodes(&tags), marker)));
        }
        A::GetInline(policy) => {
            let p = st
                .get_inline_policy(kind, &name, &policy)
                .await
                .map_err(store_error)?;
            return Ok(Some(
                Node::object()
                    .with(name_member(kind), name)
                    .with("PolicyName", p.name)
                    .with("PolicyDocument", encode_policy_document(&p.document)),
            ));
        }
        A::ListInline(paging) => {
            let names = st
                .list_inline_policies(kind, &name)
                .await
                .map_err(store_error)?;
            let (names, marker) = page(names, &paging)?;
            let items = names.into_iter().map(Node::from).collect();
            return Ok(Some(paged("PolicyNames", items, marker)));
        }
        A::ListAttached(path_prefix, paging) => {
            let attached = st
                .list_attached_policies(kind, &name, path_prefix.as_deref())
                .await
                .map_err(store_error)?;
            let (attached, marker) = page(attached, &paging)?;
            let items = attached.iter().map(attached_node).collect();
            return Ok(Some(paged("AttachedPolicies", items, marker)));
        }
    };
    written.map_err(store_error)?;
    Ok(None)
}

/// `AttachedPolicy`: in attachment listings and authorization details.
pub(super) fn attached_node(a: &AttachedPolicy) -> Node {
    Node::object()
        .with("PolicyName", &a.policy_name)
        .with("PolicyArn", &a.policy_arn)
}
