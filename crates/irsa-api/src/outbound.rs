//! Outbound web identity federation: IAM `EnableOutboundWebIdentityFederation`,
//! `DisableOutboundWebIdentityFederation`, `GetOutboundWebIdentityFederationInfo`
//! and STS `GetWebIdentityToken`, which signs a JWT asserting the caller's
//! identity with the built-in issuer's keys (plugged in as an
//! [`crate::outbound_signer::OutboundTokenSigner`], so this crate does not depend on the server).
//!
//! Claims follow AWS's documented shape: `iss`, `sub` (the user ARN, or the
//! role ARN for a role session), `aud` (a string for one audience, an array
//! for several), `iat`, `exp`, `jti`, and under the `https://sts.amazonaws.com/`
//! namespace `aws_account`, `source_region`, `principal_tags`, `request_tags`.

use std::fmt::Write as _;
use std::sync::Arc;

use irsa_auth::{Caller, CallerKind, Check, PrincipalPolicies};
use serde_json::{json, Map, Value};

use crate::authorize::{self, request_tag_keys};
use crate::context::{OperationContext, RequestInfo};
use crate::error::{store_error, ApiError, ErrorCode};
use crate::model::GetWebIdentityTokenRequest;
use crate::outbound_signer::{OutboundAlg, OutboundSignerError};
use crate::protocol::response::Node;

/// Store setting holding the feature's state (see [`FederationState`]).
pub(crate) const SETTING_NAME: &str = "outbound-web-identity-federation";
/// Namespace claim of AWS's custom claims, kept so that verifiers written
/// for AWS-issued tokens read irsa's the same way.
pub(crate) const CLAIMS_NAMESPACE: &str = irsa_oidc::verifier::STS_CLAIMS_NAMESPACE;
/// Largest JWT payload (claims JSON, bytes) irsa signs. AWS does not
/// document its limit; this one fits 10 maximal audiences plus a few tags.
pub(crate) const MAX_PAYLOAD_BYTES: usize = 16_384;
/// `DurationSeconds` when the request has none (AWS: 5 minutes).
pub(crate) const DEFAULT_DURATION_SECONDS: i32 = 300;

/// The feature's state as stored: never enabled, enabled, or disabled
/// after having been enabled (the issuer URL stays allocated, as in AWS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FederationState {
    Never,
    Enabled { issuer: String },
    Disabled { issuer: String },
}

impl FederationState {
    fn parse(value: Option<&str>) -> Self {
        let Some(v) = value else {
            return Self::Never;
        };
        let parsed: Value = serde_json::from_str(v).unwrap_or(Value::Null);
        let issuer = parsed["issuer"].as_str().unwrap_or_default().to_owned();
        if parsed["enabled"].as_bool() == Some(true) {
            Self::Enabled { issuer }
        } else {
            Self::Disabled { issuer }
        }
    }

    fn encode(enabled: bool, issuer: &str) -> String {
        json!({"enabled": enabled, "issuer": issuer}).to_string()
    }
}

async fn state(ctx: &OperationContext) -> Result<FederationState, ApiError> {
    let value = ctx
        .store()
        .get_account_setting(SETTING_NAME)
        .await
        .map_err(store_error)?;
    Ok(FederationState::parse(value.as_deref()))
}

fn feature_disabled() -> ApiError {
    ApiError::new(
        ErrorCode::FeatureDisabled,
        "Outbound web identity federation is disabled for this account.",
    )
}

fn no_issuer() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidInput,
        "Outbound web identity federation needs the built-in OIDC issuer: start irsa serve with --issuer-url.",
    )
}

fn signer_failure(e: &OutboundSignerError) -> ApiError {
    ApiError::service_failure(e)
}

/// IAM `EnableOutboundWebIdentityFederation`.
pub(crate) async fn enable(ctx: &OperationContext) -> Result<Node, ApiError> {
    let signer = ctx.outbound_signer().ok_or_else(no_issuer)?;
    // Keys first: once enabled, the JWKS already lists them.
    signer.prepare().await.map_err(|e| signer_failure(&e))?;
    let issuer = signer.issuer_url().to_owned();
    let previous = ctx
        .store()
        .set_account_setting(SETTING_NAME, &FederationState::encode(true, &issuer))
        .await
        .map_err(store_error)?;
    if let FederationState::Enabled { .. } = FederationState::parse(previous.as_deref()) {
        return Err(ApiError::new(
            ErrorCode::FeatureEnabled,
            "Outbound web identity federation is already enabled for this account. Use GetOutboundWebIdentityFederationInfo to read the issuer URL.",
        ));
    }
    tracing::info!(issuer = %issuer, "outbound web identity federation enabled");
    Ok(Node::object().with("IssuerIdentifier", issuer))
}

/// IAM `DisableOutboundWebIdentityFederation`.
pub(crate) async fn disable(ctx: &OperationContext) -> Result<Option<Node>, ApiError> {
    let issuer = match state(ctx).await? {
        FederationState::Enabled { issuer } => issuer,
        FederationState::Never | FederationState::Disabled { .. } => return Err(feature_disabled()),
    };
    let previous = ctx
        .store()
        .set_account_setting(SETTING_NAME, &FederationState::encode(false, &issuer))
        .await
        .map_err(store_error)?;
    // A concurrent Disable got there first.
    if !matches!(
        FederationState::parse(previous.as_deref()),
        FederationState::Enabled { .. }
    ) {
        return Err(feature_disabled());
    }
    tracing::info!("outbound web identity federation disabled");
    Ok(None)
}

/// IAM `GetOutboundWebIdentityFederationInfo`: FeatureDisabled until the
/// feature was first enabled, then the issuer and the current status.
pub(crate) async fn info(ctx: &OperationContext) -> Result<Node, ApiError> {
    let (enabled, stored) = match state(ctx).await? {
        FederationState::Never => return Err(feature_disabled()),
        FederationState::Enabled { issuer } => (true, issuer),
        FederationState::Disabled { issuer } => (false, issuer),
    };
    // The running issuer wins: tokens carry its URL.
    let issuer = ctx
        .outbound_signer()
        .map_or(stored, |s| s.issuer_url().to_owned());
    Ok(Node::object()
        .with("IssuerIdentifier", issuer)
        .with("JwtVendingEnabled", enabled))
}

/// The resource GetWebIdentityToken is authorized on (as in AWS).
pub(crate) fn token_resource(account: &str) -> String {
    format!("arn:aws:sts::{account}:self")
}

/// The `sub` of a caller's tokens: the user ARN, or the role ARN of a role session.
fn subject(caller: &Caller) -> Option<String> {
    match caller.kind() {
        CallerKind::User { arn, .. } | CallerKind::UserSession { arn, .. } => Some(arn.clone()),
        CallerKind::RoleSession { role_arn, .. } => Some(role_arn.clone()),
        CallerKind::Root | CallerKind::RootSession => None,
    }
}

/// STS `GetWebIdentityToken`.
pub(crate) async fn get_web_identity_token(
    ctx: &OperationContext,
    caller: &Caller,
    r: &GetWebIdentityTokenRequest,
    info: &RequestInfo,
) -> Result<Node, ApiError> {
    let Some(sub) = subject(caller) else {
        return Err(ApiError::new(
            ErrorCode::AccessDenied,
            "Cannot call GetWebIdentityToken with root credentials; use an IAM user or role.",
        ));
    };
    let Some(alg) = OutboundAlg::parse(&r.signing_algorithm) else {
        return Err(ApiError::validation(&[format!(
            "Value '{}' at 'signingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [RS256, ES384]",
            r.signing_algorithm
        )]));
    };
    let duration = r.duration_seconds.unwrap_or(DEFAULT_DURATION_SECONDS);
    for (i, t) in r.tags.iter().enumerate() {
        if r.tags[..i]
            .iter()
            .any(|o| o.key.eq_ignore_ascii_case(&t.key))
        {
            return Err(ApiError::new(
                ErrorCode::InvalidParameterValue,
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
    }

    let loaded = authorize_token(ctx, caller, r, alg, duration, info).await?;

    let signer = match (state(ctx).await?, ctx.outbound_signer()) {
        (FederationState::Enabled { .. }, Some(signer)) => signer,
        (FederationState::Enabled { .. }, None) => {
            return Err(ApiError::new(
                ErrorCode::OutboundWebIdentityFederationDisabled,
                "Outbound web identity federation is enabled but this server has no issuer (irsa serve runs without --issuer-url).",
            ))
        }
        _ => {
            return Err(ApiError::new(
                ErrorCode::OutboundWebIdentityFederationDisabled,
                "Outbound web identity federation is not enabled for this account. Enable it with EnableOutboundWebIdentityFederation.",
            ))
        }
    };

    let now = ctx.now();
    let expires = now + time::Duration::seconds(i64::from(duration));
    // A session cannot mint a token that outlives it.
    if let Some(session) = caller.session() {
        if expires.unix_timestamp() > session.expires_at {
            return Err(ApiError::new(
                ErrorCode::SessionDurationEscalation,
                format!(
                    "The requested DurationSeconds ({duration}) would extend the token beyond the expiration of the calling session ({} seconds left).",
                    (session.expires_at - now.unix_timestamp()).max(0)
                ),
            ));
        }
    }

    let claims = token_claims(&OutboundClaims {
        issuer: signer.issuer_url(),
        subject: &sub,
        audience: &r.audience,
        issued_at: now.unix_timestamp(),
        expires_at: expires.unix_timestamp(),
        account: caller.account(),
        region: &info.region,
        principal_tags: &loaded.principal_tags,
        request_tags: &r
            .tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect::<Vec<_>>(),
    });
    let size = claims.to_string().len();
    if size > MAX_PAYLOAD_BYTES {
        return Err(ApiError::new(
            ErrorCode::JwtPayloadSizeExceeded,
            format!(
                "The token payload ({size} bytes) exceeds the maximum of {MAX_PAYLOAD_BYTES} bytes. Reduce the number or size of the request tags and audiences."
            ),
        ));
    }
    let token = signer
        .sign(alg, &claims)
        .await
        .map_err(|e| signer_failure(&e))?;
    tracing::info!(
        subject = %sub,
        alg = alg.as_str(),
        audiences = r.audience.len(),
        duration,
        "issued outbound web identity token"
    );
    Ok(Node::object()
        .with("WebIdentityToken", irsa_core::SecretString::new(token))
        .with("Expiration", expires))
}

/// Authorization with the request's condition keys; tags also need
/// `sts:TagGetWebIdentityToken`. Returns the caller's policies (their
/// principal tags become claims).
async fn authorize_token(
    ctx: &OperationContext,
    caller: &Caller,
    r: &GetWebIdentityTokenRequest,
    alg: OutboundAlg,
    duration: i32,
    info: &RequestInfo,
) -> Result<Arc<PrincipalPolicies>, ApiError> {
    let resource = token_resource(caller.account());
    let mut context: Vec<(String, Vec<String>)> = vec![
        ("sts:IdentityTokenAudience".to_owned(), r.audience.clone()),
        ("sts:DurationSeconds".to_owned(), vec![duration.to_string()]),
        (
            "sts:SigningAlgorithm".to_owned(),
            vec![alg.as_str().to_owned()],
        ),
    ];
    context.extend(request_tag_keys(&r.tags));
    let mut checks = vec![Check::new("sts:GetWebIdentityToken", &resource).with_context(&context)];
    if !r.tags.is_empty() {
        checks.push(Check::new("sts:TagGetWebIdentityToken", &resource).with_context(&context));
    }
    authorize::require(ctx, caller, info, &checks).await?;
    Ok(ctx.authorizer().caller_policies(caller).await?)
}

/// What a GetWebIdentityToken token asserts (rendered by [`token_claims`]).
#[derive(Debug)]
pub(crate) struct OutboundClaims<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    pub audience: &'a [String],
    pub issued_at: i64,
    pub expires_at: i64,
    pub account: &'a str,
    pub region: &'a str,
    pub principal_tags: &'a [(String, String)],
    pub request_tags: &'a [(String, String)],
}

fn tag_map(tags: &[(String, String)]) -> Value {
    Value::Object(
        tags.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<Map<_, _>>(),
    )
}

/// The claims of a GetWebIdentityToken token.
pub(crate) fn token_claims(f: &OutboundClaims<'_>) -> Value {
    let aud = match f.audience {
        [one] => Value::String(one.clone()),
        many => json!(many),
    };
    let mut aws = Map::new();
    aws.insert("aws_account".into(), f.account.into());
    aws.insert("source_region".into(), f.region.into());
    if !f.principal_tags.is_empty() {
        aws.insert("principal_tags".into(), tag_map(f.principal_tags));
    }
    if !f.request_tags.is_empty() {
        aws.insert("request_tags".into(), tag_map(f.request_tags));
    }
    let mut jti = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut jti);
    // UUID v4 layout, like AWS's jti values.
    jti[6] = (jti[6] & 0x0f) | 0x40;
    jti[8] = (jti[8] & 0x3f) | 0x80;
    let mut hex = String::with_capacity(32);
    for b in jti {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{b:02x}");
    }
    let jti = format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    );
    json!({
        "iss": f.issuer,
        "sub": f.subject,
        "aud": aud,
        "iat": f.issued_at,
        "exp": f.expires_at,
        "jti": jti,
        CLAIMS_NAMESPACE: aws,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips() {
        assert_eq!(FederationState::parse(None), FederationState::Never);
        assert_eq!(
            FederationState::parse(Some(&FederationState::encode(true, "https://i"))),
            FederationState::Enabled {
                issuer: "https://i".into()
            }
        );
        assert_eq!(
            FederationState::parse(Some(&FederationState::encode(false, "https://i"))),
            FederationState::Disabled {
                issuer: "https://i".into()
            }
        );
    }

    #[test]
    fn claims_shape() {
        let aud = vec!["https://api.example.com".to_owned()];
        let facts = OutboundClaims {
            issuer: "https://issuer.example",
            subject: "arn:aws:iam::123456789012:role/app",
            audience: &aud,
            issued_at: 1_700_000_000,
            expires_at: 1_700_000_300,
            account: "123456789012",
            region: "us-east-1",
            principal_tags: &[("team".into(), "data".into())],
            request_tags: &[],
        };
        let c = token_claims(&facts);
        assert_eq!(c["aud"], "https://api.example.com");
        assert_eq!(c["exp"], 1_700_000_300);
        assert_eq!(c[CLAIMS_NAMESPACE]["aws_account"], "123456789012");
        assert_eq!(c[CLAIMS_NAMESPACE]["principal_tags"]["team"], "data");
        assert!(c[CLAIMS_NAMESPACE].get("request_tags").is_none());
        let jti = c["jti"].as_str().unwrap();
        assert_eq!(jti.len(), 36);
        assert_eq!(&jti[14..15], "4");
        assert_ne!(token_claims(&facts)["jti"], c["jti"], "jti is unique");
        let two = vec!["a".to_owned(), "b".to_owned()];
        let c = token_claims(&OutboundClaims {
            audience: &two,
            ..facts
        });
        assert_eq!(c["aud"], json!(["a", "b"]));
    }

    #[test]
    fn algorithms() {
        assert_eq!(OutboundAlg::parse("RS256"), Some(OutboundAlg::Rs256));
        assert_eq!(OutboundAlg::parse("ES384"), Some(OutboundAlg::Es384));
        assert_eq!(OutboundAlg::parse("es384"), None);
        assert_eq!(OutboundAlg::parse("HS256"), None);
    }
}
