//! The Query front's authorization: which IAM action and resource each
//! STS/IAM operation is, decided by the shared [`irsa_auth::Authorizer`];
//! and validation of documents clients send.

use irsa_auth::{Caller, Check, Verdict};
use irsa_policy::{Policy, PolicyError, PolicyKind as DocKind, SizeLimit};

use crate::context::{OperationContext, RequestInfo};
use crate::error::{ApiError, ErrorCode};
use crate::model::{Request, Tag};

/// Validates a document a client sends, with its IAM size limit.
/// `sts` picks STS's size error code.
pub(crate) fn validate_document(
    text: &str,
    kind: DocKind,
    limit: SizeLimit,
    sts: bool,
) -> Result<Policy, ApiError> {
    Policy::parse_with_limit(text, kind, limit).map_err(|e| policy_error(&e, sts))
}

/// Maps a validation failure onto IAM's / STS's error codes.
pub(crate) fn policy_error(e: &PolicyError, sts: bool) -> ApiError {
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

/// The document of a managed policy's default version (`None`: no such policy).
pub(crate) async fn managed_document(
    ctx: &OperationContext,
    arn: &str,
) -> Result<Option<String>, ApiError> {
    Ok(ctx.authorizer().managed_document(arn).await?)
}

/// Authorizes `checks` (all must pass) for `caller`; the denial becomes
/// AWS's AccessDenied.
pub async fn require(
    ctx: &OperationContext,
    caller: &Caller,
    info: &RequestInfo,
    checks: &[Check<'_>],
) -> Result<(), ApiError> {
    match ctx
        .authorizer()
        .check_all(caller, &info.facts(), checks)
        .await?
    {
        Verdict::Allowed => Ok(()),
        Verdict::Denied(denial) => Err(denial.into()),
    }
}

/// The resource ARN an operation acts on (`*` for account-wide operations).
pub(crate) async fn resource_of(ctx: &OperationContext, caller: &Caller, req: &Request) -> String {
    use Request as R;
    let account = ctx.account();
    let acct = account.as_str();
    let role = |name: &str| {
        let name = name.to_owned();
        async move {
            match ctx.store().get_role(&name).await {
                Ok(r) => r.arn,
                Err(_) => format!("arn:aws:iam::{acct}:role/{name}"),
            }
        }
    };
    let user = |name: &str| {
        let name = name.to_owned();
        async move {
            match ctx.store().get_user(&name).await {
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
pub(crate) async fn authorize(
    ctx: &OperationContext,
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
    // Identity policies do not limit the root.
    if caller.is_root() {
        return Ok(());
    }
    let action = format!("{}:{}", req.service().signing_name(), req.action());
    let resource = resource_of(ctx, caller, req).await;
    require(ctx, caller, info, &[Check::new(&action, &resource)]).await
}

/// `aws:TagKeys` and `aws:RequestTag/K` of a request's tags.
pub(crate) fn request_tag_keys(tags: &[Tag]) -> Vec<(String, Vec<String>)> {
    if tags.is_empty() {
        return Vec::new();
    }
    let mut keys = vec![(
        "aws:TagKeys".to_owned(),
        tags.iter().map(|t| t.key.clone()).collect(),
    )];
    for t in tags {
        keys.push((format!("aws:RequestTag/{}", t.key), vec![t.value.clone()]));
    }
    keys
}
