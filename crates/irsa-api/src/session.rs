//! Role sessions, the layer below every AssumeRole* operation: validating
//! session policies, the packed-size budget, and minting a session (fresh
//! temporary key, sealed session token, the `Credentials` and
//! `AssumedRoleUser` members every AssumeRole* result has).

use irsa_auth::{SessionClaims, SessionPrincipal, SessionTag};
use irsa_core::{generate_id, generate_secret_access_key, Arn, IdPrefix};
use irsa_policy::{minified_len, PolicyKind, SizeLimit};
use irsa_store::Role;

use crate::authorize::{managed_document, validate_document};
use crate::context::OperationContext;
use crate::error::{ApiError, ErrorCode};
use crate::model::PolicyDescriptorType;
use crate::protocol::response::{credentials_node, Node};

/// Budget of packed session policies, policy ARNs and tags;
/// `PackedPolicySize` is a percentage of it.
pub(crate) const PACKED_BUDGET: usize = 2048;

/// `PackedPolicySize` of a session (percent of [`PACKED_BUDGET`]); `None` when
/// the session has nothing packed. Over budget → `PackedPolicyTooLarge`.
pub(crate) fn packed_policy_percent(
    policy: Option<&str>,
    policy_arns: &[String],
    tags: &[SessionTag],
) -> Result<Option<i64>, ApiError> {
    if policy.is_none() && policy_arns.is_empty() && tags.is_empty() {
        return Ok(None);
    }
    let packed = policy.map_or(0, minified_len)
        + policy_arns.iter().map(String::len).sum::<usize>()
        + tags
            .iter()
            .map(|t| t.key.len() + t.value.len())
            .sum::<usize>();
    let percent = packed.saturating_mul(100).div_ceil(PACKED_BUDGET);
    if percent > 100 {
        return Err(ApiError::new(
            ErrorCode::PackedPolicyTooLarge,
            format!(
                "Packed policy consumes {percent}% of allotted space, please use smaller policy."
            ),
        ));
    }
    Ok(Some(i64::try_from(percent).unwrap_or(100)))
}

/// Validates a session's inline `Policy` and `PolicyArns` (which must exist)
/// before any trust decision, as STS does; returns the policy ARNs.
pub(crate) async fn session_policies(
    ctx: &OperationContext,
    policy: Option<&str>,
    policy_arns: &[PolicyDescriptorType],
) -> Result<Vec<String>, ApiError> {
    if let Some(p) = policy {
        validate_document(p, PolicyKind::Session, SizeLimit::SessionPolicy, true)?;
    }
    let mut arns = Vec::new();
    for d in policy_arns {
        let Some(a) = &d.arn else { continue };
        if managed_document(ctx, a).await?.is_none() {
            return Err(ApiError::new(
                ErrorCode::InvalidParameterValue,
                format!("Policy {a} does not exist or is not attachable."),
            ));
        }
        arns.push(a.clone());
    }
    Ok(arns)
}

/// What a new role session carries besides its role and name.
pub(crate) struct RoleSessionGrant {
    pub session_policy: Option<String>,
    pub policy_arns: Vec<String>,
    pub tags: Vec<SessionTag>,
    pub transitive_tag_keys: Vec<String>,
    pub source_identity: Option<String>,
    pub role_chained: bool,
}

/// Mints a session of `role` (fresh ASIA key, sealed token) and returns the
/// `Credentials` and `AssumedRoleUser` members every AssumeRole* result has.
pub(crate) fn issue_role_session(
    ctx: &OperationContext,
    role: &Role,
    session_name: &str,
    duration_seconds: i32,
    grant: RoleSessionGrant,
) -> Result<(Node, Node), ApiError> {
    let issued_at = ctx.now().unix_timestamp();
    let access_key_id = generate_id(IdPrefix::TemporaryAccessKey);
    let secret = generate_secret_access_key();
    let claims = SessionClaims {
        access_key_id: access_key_id.clone(),
        secret_access_key: secret.clone(),
        principal: SessionPrincipal::AssumedRole {
            role_arn: role.arn.clone(),
            role_id: role.id.clone(),
            session_name: session_name.to_owned(),
        },
        account: ctx.account().clone(),
        issued_at,
        expires_at: issued_at + i64::from(duration_seconds),
        session_policy: grant.session_policy,
        policy_arns: grant.policy_arns,
        tags: grant.tags,
        transitive_tag_keys: grant.transitive_tag_keys,
        source_identity: grant.source_identity,
        role_chained: grant.role_chained,
    };
    let token = ctx.seal_session(&claims)?;
    let credentials = credentials_node(&access_key_id, &secret, token, claims.expires_at_utc());
    let assumed_role_user = Node::object()
        .with("AssumedRoleId", format!("{}:{session_name}", role.id))
        .with(
            "Arn",
            Arn::assumed_role(ctx.account(), &role.name, session_name).to_string(),
        );
    Ok((credentials, assumed_role_user))
}
