//! STS operations: GetCallerIdentity, AssumeRole, GetSessionToken,
//! GetAccessKeyInfo, DecodeAuthorizationMessage.

use irsa_auth::{Caller, CallerKind, SessionClaims, SessionPrincipal, SessionTag};
use irsa_auth::{Check, ResourcePolicy, Verdict};
use irsa_core::{generate_id, generate_secret_access_key, Arn, IdPrefix};
use irsa_policy::PolicyKind as DocKind;
use irsa_store::StoreError;

use crate::authorize::request_tag_keys;
use crate::context::{OperationContext, RequestInfo};
use crate::error::{not_implemented, store_error, ApiError, DenialReason, ErrorCode};
use crate::model::{AssumeRoleRequest, GetSessionTokenRequest, Request};
use crate::protocol::response::{credentials_node, Node};
use crate::session::{
    issue_role_session, packed_policy_percent, session_policies, RoleSessionGrant,
};

/// Role chaining caps sessions at one hour.
const CHAINED_MAX_SECONDS: i32 = 3600;

pub(crate) async fn dispatch(
    ctx: &OperationContext,
    caller: &Caller,
    req: Request,
    info: &RequestInfo,
) -> Result<Option<Node>, ApiError> {
    match req {
        Request::GetCallerIdentity(_) => Ok(Some(
            Node::object()
                .with("UserId", caller.user_id())
                .with("Account", caller.account())
                .with("Arn", caller.arn()),
        )),
        Request::AssumeRole(r) => assume_role(ctx, caller, &r, info).await.map(Some),
        Request::GetSessionToken(r) => get_session_token(ctx, caller, &r).map(Some),
        Request::GetAccessKeyInfo(r) => {
            if r.access_key_id.starts_with("AKIA") {
                match ctx.store().get_access_key(&r.access_key_id).await {
                    Ok(_) => {}
                    Err(StoreError::NotFound { .. }) => {
                        return Err(ApiError::new(
                            ErrorCode::InvalidParameterValue,
                            format!("The access key ID {} is not valid for this account.", r.access_key_id),
                        ))
                    }
                    Err(e) => return Err(store_error(e)),
                }
            }
            Ok(Some(Node::object().with("Account", ctx.account().as_str())))
        }
        Request::DecodeAuthorizationMessage(_) => Err(ApiError::new(
            ErrorCode::InvalidAuthorizationMessage,
            "The message is not a valid authorization message encoded by irsa (irsa does not encode AccessDenied details).",
        )),
        Request::GetWebIdentityToken(r) => {
            crate::outbound::get_web_identity_token(ctx, caller, &r, info)
                .await
                .map(Some)
        }
        other => Err(not_implemented(other.action())),
    }
}

fn denied(caller: &Caller, role_arn: &str) -> ApiError {
    ApiError::not_authorized(
        &caller.arn(),
        "sts:AssumeRole",
        role_arn,
        DenialReason::Unspecified,
    )
}

async fn assume_role(
    ctx: &OperationContext,
    caller: &Caller,
    r: &AssumeRoleRequest,
    info: &RequestInfo,
) -> Result<Node, ApiError> {
    if caller.is_root() {
        return Err(ApiError::root_cannot_assume_roles());
    }
    let chained = matches!(caller.kind(), CallerKind::RoleSession { .. });
    if chained && r.duration_seconds.is_some_and(|d| d > CHAINED_MAX_SECONDS) {
        return Err(ApiError::new(
            ErrorCode::ValidationError,
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        ));
    }
    // A role that is not ours or does not exist is denied like a refused one.
    let arn: Arn = r
        .role_arn
        .parse()
        .map_err(|_| denied(caller, &r.role_arn))?;
    if arn.service() != "iam"
        || arn.account() != ctx.account().as_str()
        || arn.resource_type() != "role"
    {
        return Err(denied(caller, &r.role_arn));
    }
    let role = match ctx.store().get_role(arn.resource_name()).await {
        Ok(role) if role.arn == r.role_arn => role,
        Ok(_) | Err(StoreError::NotFound { .. }) => return Err(denied(caller, &r.role_arn)),
        Err(e) => return Err(store_error(e)),
    };
    let duration = r.duration_seconds.unwrap_or(3600);
    if i64::from(duration) > i64::from(role.max_session_duration) {
        return Err(ApiError::duration_exceeds_max_session_duration());
    }

    // Session policies: validated before the trust decision, as STS does.
    let policy_arns = session_policies(ctx, r.policy.as_deref(), &r.policy_arns).await?;

    // Tags: the caller's transitive tags carry over and cannot be overridden.
    let mut tags: Vec<SessionTag> = Vec::new();
    let mut transitive: Vec<String> = Vec::new();
    if let Some(claims) = caller.session() {
        for t in &claims.tags {
            if claims
                .transitive_tag_keys
                .iter()
                .any(|k| k.eq_ignore_ascii_case(&t.key))
            {
                tags.push(t.clone());
                transitive.push(t.key.clone());
            }
        }
    }
    for t in &r.tags {
        if tags.iter().any(|x| x.key.eq_ignore_ascii_case(&t.key)) {
            return Err(ApiError::new(
                ErrorCode::InvalidParameterValue,
                format!("Tag key {} is a transitive tag of the calling session and cannot be set again.", t.key),
            ));
        }
        tags.push(SessionTag {
            key: t.key.clone(),
            value: t.value.clone(),
        });
    }
    for k in &r.transitive_tag_keys {
        if !r.tags.iter().any(|t| t.key.eq_ignore_ascii_case(k)) {
            return Err(ApiError::new(
                ErrorCode::InvalidParameterValue,
                format!("The transitive tag key {k} is not a session tag of the request."),
            ));
        }
        if !transitive.iter().any(|x| x.eq_ignore_ascii_case(k)) {
            transitive.push(k.clone());
        }
    }
    let inherited_source = caller.session().and_then(|c| c.source_identity.clone());
    if let (Some(old), Some(new)) = (&inherited_source, &r.source_identity) {
        if old != new {
            return Err(ApiError::new(
                ErrorCode::ValidationError,
                "SourceIdentity cannot be changed once set in a role session.",
            ));
        }
    }
    let source_identity = inherited_source.or_else(|| r.source_identity.clone());

    // Trust policy (the role's resource-based policy) + the caller's own
    // identity policies.
    let trust = ctx
        .authorizer()
        .parse_stored(&role.assume_role_policy_document, DocKind::Trust)
        .map_err(|e| ApiError::service_failure(&e))?;
    let trust = ResourcePolicy {
        id: "trust",
        policy: &trust,
        owner_account: ctx.account().as_str(),
    };
    let mut context = vec![(
        "sts:RoleSessionName".to_owned(),
        vec![r.role_session_name.clone()],
    )];
    if let Some(x) = &r.external_id {
        context.push(("sts:ExternalId".to_owned(), vec![x.clone()]));
    }
    if let Some(s) = &r.source_identity {
        context.push(("sts:SourceIdentity".to_owned(), vec![s.clone()]));
    }
    context.extend(request_tag_keys(&r.tags));
    if !r.transitive_tag_keys.is_empty() {
        context.push((
            "sts:TransitiveTagKeys".to_owned(),
            r.transitive_tag_keys.clone(),
        ));
    }
    let check = |action| {
        Check::new(action, &role.arn)
            .with_context(&context)
            .with_resource_policy(Some(trust))
    };
    let mut checks = vec![check("sts:AssumeRole")];
    if !r.tags.is_empty() {
        checks.push(check("sts:TagSession"));
    }
    if r.source_identity.is_some() {
        checks.push(check("sts:SetSourceIdentity"));
    }
    let verdict = ctx
        .authorizer()
        .check_all(caller, &info.facts(), &checks)
        .await?;
    if let Verdict::Denied(denial) = verdict {
        // STS names no policy kind for trust-policy denials.
        return Err(ApiError::not_authorized(
            &caller.arn(),
            &denial.action,
            &role.arn,
            DenialReason::Unspecified,
        ));
    }

    // Packed size: session policy, policy ARNs and tags against one budget.
    let packed = packed_policy_percent(r.policy.as_deref(), &policy_arns, &tags)?;

    let (credentials, assumed_role_user) = issue_role_session(
        ctx,
        &role,
        &r.role_session_name,
        duration,
        RoleSessionGrant {
            session_policy: r.policy.clone(),
            policy_arns,
            tags,
            transitive_tag_keys: transitive,
            source_identity: source_identity.clone(),
            role_chained: chained,
        },
    )?;
    let store = std::sync::Arc::clone(ctx.store());
    let (role_name, region) = (role.name.clone(), info.region.clone());
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(async move {
            if let Err(e) = store.record_role_use(&role_name, &region).await {
                tracing::warn!(error = %e, "could not record role use");
            }
        });
    }
    let mut node = Node::object()
        .with("Credentials", credentials)
        .with("AssumedRoleUser", assumed_role_user);
    if let Some(packed) = packed {
        node = node.with("PackedPolicySize", packed);
    }
    Ok(node.with_opt("SourceIdentity", source_identity))
}

fn get_session_token(
    ctx: &OperationContext,
    caller: &Caller,
    r: &GetSessionTokenRequest,
) -> Result<Node, ApiError> {
    let (principal, max) = match caller.kind() {
        CallerKind::Root => (SessionPrincipal::Root, 3600),
        CallerKind::User { id, arn, .. } => (
            SessionPrincipal::User {
                user_arn: arn.clone(),
                user_id: id.clone(),
            },
            129_600,
        ),
        CallerKind::RoleSession { .. }
        | CallerKind::UserSession { .. }
        | CallerKind::RootSession => {
            return Err(ApiError::new(
                ErrorCode::AccessDenied,
                "Cannot call GetSessionToken with session credentials",
            ))
        }
    };
    let duration = i64::from(r.duration_seconds.unwrap_or(43_200)).min(max);
    let now = ctx.now().unix_timestamp();
    let access_key_id = generate_id(IdPrefix::TemporaryAccessKey);
    let secret = generate_secret_access_key();
    let claims = SessionClaims::new(
        access_key_id.clone(),
        secret.clone(),
        principal,
        ctx.account().clone(),
        now,
        now + duration,
    );
    let token = ctx.seal_session(&claims)?;
    Ok(Node::object().with(
        "Credentials",
        credentials_node(&access_key_id, &secret, token, claims.expires_at_utc()),
    ))
}
