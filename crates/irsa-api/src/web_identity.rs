//! The parts of AssumeRoleWithWebIdentity that sit between the OIDC verifier
//! and the trust policy: AWS errors for verifier failures, the condition
//! keys a verified token puts in the trust-policy context, and session tags
//! and source identity from the token's AWS claims.

use std::sync::Arc;

use irsa_auth::SessionTag;
use irsa_core::Arn;
use irsa_oidc::{OidcVerifier, ProviderTrust, VerifiedToken, VerifyError};
use irsa_policy::{evaluate, Decision, PolicySet, PolicySource, RequestContext, RequestPrincipal};
use serde_json::Value;
use time::OffsetDateTime;

use crate::context::{OperationContext, RequestInfo};
use crate::error::{ApiError, ErrorCode};
use crate::explain::{self, ExplainStep, Explanation, Outcome, Recorder, StepStatus};
use crate::lookups::CachedRole;
use crate::model::AssumeRoleWithWebIdentityRequest;
use crate::protocol::response::Node;
use crate::session::{
    issue_role_session, packed_policy_percent, session_policies, RoleSessionGrant,
};

/// Claim carrying session tags (`principal_tags`, `transitive_tag_keys`).
pub(crate) const TAGS_CLAIM: &str = "https://aws.amazon.com/tags";

/// Most session tags AWS accepts on one session.
pub(crate) const MAX_SESSION_TAGS: usize = 50;

/// The facts of a verified (incoming) web-identity token that the trust
/// policy looks at. Built from a [`VerifiedToken`]; tests build it directly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TokenFacts {
    pub subject: String,
    /// The audience that matched a registered client id.
    pub audience: String,
    pub audiences: Vec<String>,
    pub amr: Vec<String>,
    pub azp: Option<String>,
    /// `Some(true/false)` when the token names roles it may assume.
    pub role_authorized: Option<bool>,
    pub tags: Option<Value>,
    pub source_identity: Option<String>,
}

impl TokenFacts {
    pub(crate) fn from_verified(token: &VerifiedToken, role_arn: &str) -> Self {
        Self {
            subject: token.subject().to_owned(),
            audience: token.audience().to_owned(),
            audiences: token.audiences().to_vec(),
            amr: token.amr().to_vec(),
            azp: token.azp().map(str::to_owned),
            role_authorized: token.role_authorized(role_arn),
            tags: token.tags().cloned(),
            source_identity: token.source_identity().map(str::to_owned),
        }
    }
}

/// The AWS error a verifier failure becomes.
pub(crate) fn verify_error(err: &VerifyError) -> ApiError {
    let code = ErrorCode::from_code(err.code().as_str()).unwrap_or(ErrorCode::InvalidIdentityToken);
    ApiError::new(code, err.message())
}

/// `https://oidc.example.com/id/X` → `oidc.example.com/id/X`: the prefix of
/// the provider's condition keys and the tail of its ARN.
pub(crate) fn condition_prefix(provider_url: &str) -> &str {
    provider_url
        .strip_prefix("https://")
        .or_else(|| provider_url.strip_prefix("http://"))
        .unwrap_or(provider_url)
}

/// Session tags asked for by the token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SessionTagClaims {
    pub tags: Vec<(String, String)>,
    pub transitive_tag_keys: Vec<String>,
}

/// Reads `https://aws.amazon.com/tags`:
/// `{"principal_tags": {"k": ["v"]}, "transitive_tag_keys": ["k"]}`.
pub(crate) fn session_tags(facts: &TokenFacts) -> Result<SessionTagClaims, ApiError> {
    let Some(claim) = &facts.tags else {
        return Ok(SessionTagClaims::default());
    };
    // The IdP vouched for a claim STS cannot use: IDPRejectedClaim
    // ("authentication failed ... because the claim is invalid").
    let invalid = |why: &str| {
        ApiError::new(
            ErrorCode::IdpRejectedClaim,
            format!("The {TAGS_CLAIM} claim is invalid: {why}"),
        )
    };
    let object = claim
        .as_object()
        .ok_or_else(|| invalid("expected an object"))?;
    let mut out = SessionTagClaims::default();
    if let Some(tags) = object.get("principal_tags") {
        let tags = tags
            .as_object()
            .ok_or_else(|| invalid("principal_tags must be an object"))?;
        for (key, value) in tags {
            // AWS takes one value per tag, given as a one-element array.
            let value = match value {
                Value::Array(values) if values.len() == 1 => values[0].as_str(),
                Value::String(s) => Some(s.as_str()),
                _ => None,
            }
            .ok_or_else(|| invalid(&format!("tag {key:?} must have exactly one string value")))?;
            if key.is_empty() || key.len() > 128 || value.len() > 256 {
                return Err(invalid(&format!(
                    "tag {key:?}: keys must be 1-128 and values 0-256 characters"
                )));
            }
            out.tags.push((key.clone(), value.to_owned()));
        }
    }
    if out.tags.len() > MAX_SESSION_TAGS {
        return Err(invalid(&format!(
            "more than {MAX_SESSION_TAGS} session tags"
        )));
    }
    if let Some(keys) = object.get("transitive_tag_keys") {
        let keys = keys
            .as_array()
            .ok_or_else(|| invalid("transitive_tag_keys must be an array"))?;
        for key in keys {
            let key = key
                .as_str()
                .ok_or_else(|| invalid("transitive_tag_keys must hold strings"))?;
            if !out.tags.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
                return Err(invalid(&format!(
                    "transitive tag key {key:?} is not one of the principal_tags"
                )));
            }
            out.transitive_tag_keys.push(key.to_owned());
        }
    }
    Ok(out)
}

/// The OIDC provider a token was verified against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProviderRef<'a> {
    /// Normalised URL (`https://HOST/PATH`).
    pub url: &'a str,
    pub arn: &'a str,
    pub account: &'a str,
}

/// The trust-policy request context for `action` on `role_arn` by a
/// web-identity principal of `provider`.
pub(crate) fn trust_context(
    facts: &TokenFacts,
    tags: &SessionTagClaims,
    provider: ProviderRef<'_>,
    action: &str,
    role_arn: &str,
    now: OffsetDateTime,
) -> RequestContext {
    let (provider_arn, account) = (provider.arn, provider.account);
    let prefix = condition_prefix(provider.url);
    let mut ctx = RequestContext::new(
        RequestPrincipal::web_identity(provider_arn, account),
        action,
        role_arn,
        now,
    );
    ctx.insert(&format!("{prefix}:sub"), facts.subject.as_str());
    ctx.insert(&format!("{prefix}:aud"), facts.audience.as_str());
    if !facts.amr.is_empty() {
        ctx.insert(&format!("{prefix}:amr"), facts.amr.clone());
    }
    if let Some(azp) = &facts.azp {
        ctx.insert(&format!("{prefix}:azp"), azp.as_str());
        // With azp present, `aud` keeps the matched client id and the
        // token's own audiences are offered as `oaud`.
        ctx.insert(&format!("{prefix}:oaud"), facts.audiences.clone());
    }
    ctx.insert("aws:FederatedProvider", provider_arn);
    if let Some(authorized) = facts.role_authorized {
        ctx.insert("sts:RoleAuthorizedByIdp", authorized);
    }
    if !tags.tags.is_empty() {
        for (key, value) in &tags.tags {
            ctx.insert(&format!("aws:RequestTag/{key}"), value.as_str());
        }
        ctx.insert(
            "aws:TagKeys",
            tags.tags.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        );
    }
    if !tags.transitive_tag_keys.is_empty() {
        ctx.insert("sts:TransitiveTagKeys", tags.transitive_tag_keys.clone());
    }
    if let Some(source_identity) = &facts.source_identity {
        ctx.insert("sts:SourceIdentity", source_identity.as_str());
    }
    ctx
}

/// The actions the trust policy must allow: web identity itself, plus
/// `sts:TagSession` when the token carries tags and `sts:SetSourceIdentity`
/// when it carries a source identity.
pub(crate) fn required_actions(tags: &SessionTagClaims, facts: &TokenFacts) -> Vec<&'static str> {
    let mut actions = vec!["sts:AssumeRoleWithWebIdentity"];
    if !tags.tags.is_empty() {
        actions.push("sts:TagSession");
    }
    if facts.source_identity.is_some() {
        actions.push("sts:SetSourceIdentity");
    }
    actions
}

/// AssumeRoleWithWebIdentity backed by irsa-oidc's verifier: the token is
/// verified against the keys of the account's OIDC provider for its `iss`,
/// then the role's trust policy decides.
#[derive(Debug, Clone)]
pub struct OidcWebIdentity {
    verifier: OidcVerifier,
    /// Accept `http://` issuers (only with `--allow-insecure-issuer`).
    allow_http: bool,
}

impl OidcWebIdentity {
    pub fn new(verifier: OidcVerifier, allow_http: bool) -> Self {
        Self {
            verifier,
            allow_http,
        }
    }

    pub fn verifier(&self) -> &OidcVerifier {
        &self.verifier
    }
}

/// One structured audit line per AssumeRoleWithWebIdentity, without the
/// token or any secret.
fn audit(role_arn: &str, sub: Option<&str>, aud: Option<&str>, outcome: Result<(), &ApiError>) {
    match outcome {
        Ok(()) => tracing::info!(
            target: "irsa::audit",
            action = "sts:AssumeRoleWithWebIdentity",
            role = role_arn,
            sub,
            aud,
            outcome = "issued",
        ),
        Err(err) => tracing::info!(
            target: "irsa::audit",
            action = "sts:AssumeRoleWithWebIdentity",
            role = role_arn,
            sub,
            aud,
            outcome = err.code.as_str(),
            reason = %err.message,
        ),
    }
}

impl OidcWebIdentity {
    /// AssumeRoleWithWebIdentity: verify the token, decide, issue the session;
    /// the content of `AssumeRoleWithWebIdentityResult`.
    pub(crate) async fn assume_role_with_web_identity(
        &self,
        ctx: &OperationContext,
        r: &AssumeRoleWithWebIdentityRequest,
        info: &RequestInfo,
    ) -> Result<Node, ApiError> {
        let mut audit_fields = AuditFields::default();
        let result = match self
            .decide(ctx, r, info, &mut Recorder::off(), &mut audit_fields)
            .await
        {
            Ok(granted) => Self::issue(ctx, r, granted),
            Err(e) => Err(e),
        };
        audit(
            &r.role_arn,
            audit_fields.sub.as_deref(),
            audit_fields.aud.as_deref(),
            result.as_ref().map(|_| ()),
        );
        result
    }

    /// Explains what [`Self::assume_role_with_web_identity`] would answer,
    /// step by step, without issuing credentials (`irsa explain`).
    pub(crate) async fn explain(
        &self,
        ctx: &OperationContext,
        r: &AssumeRoleWithWebIdentityRequest,
        info: &RequestInfo,
    ) -> Explanation {
        let mut steps = Vec::new();
        let result = self
            .decide(
                ctx,
                r,
                info,
                &mut Recorder::on(&mut steps),
                &mut AuditFields::default(),
            )
            .await;
        Explanation {
            role_arn: r.role_arn.clone(),
            steps,
            outcome: Outcome::from_result(&result),
        }
    }
}

#[derive(Debug, Default)]
struct AuditFields {
    sub: Option<String>,
    aud: Option<String>,
}

/// Everything [`OidcWebIdentity::decide`] established for a granted call.
#[derive(Debug)]
struct Granted {
    role: Arc<CachedRole>,
    provider_arn: String,
    facts: TokenFacts,
    tag_claims: SessionTagClaims,
    policy_arns: Vec<String>,
    duration: i32,
    packed: Option<i64>,
}

/// Longest and shortest SourceIdentity STS accepts.
const SOURCE_IDENTITY_LEN: std::ops::RangeInclusive<usize> = 2..=64;

/// `https://aws.amazon.com/source_identity` must be a valid SourceIdentity.
pub(crate) fn check_source_identity(value: &str) -> Result<(), ApiError> {
    let valid_chars = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if SOURCE_IDENTITY_LEN.contains(&value.len())
        && valid_chars
        && !value.to_ascii_lowercase().starts_with("aws:")
    {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::IdpRejectedClaim,
            format!(
                "The {SOURCE_IDENTITY_CLAIM} claim is invalid: it must be 2-64 characters of letters, digits and _+=,.@- and must not start with aws:"
            ),
        ))
    }
}

/// Claim carrying the source identity.
pub(crate) const SOURCE_IDENTITY_CLAIM: &str = "https://aws.amazon.com/source_identity";

/// How a token's issuer differs from each registered provider URL.
fn provider_differences(iss: &str, registered: &[String]) -> Vec<String> {
    fn split(url: &str) -> (&str, &str, &str) {
        let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
        let (host, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        (scheme, host, path)
    }
    let (scheme, host, path) = split(iss);
    let mut out = Vec::new();
    if registered.is_empty() {
        out.push("no OIDC providers are registered in this account".to_owned());
        return out;
    }
    for url in registered {
        let (p_scheme, p_host, p_path) = split(url);
        let mut diffs = Vec::new();
        if scheme != p_scheme {
            diffs.push(format!("scheme {scheme:?} vs {p_scheme:?}"));
        }
        if host != p_host {
            if host.eq_ignore_ascii_case(p_host) {
                diffs.push("host differs only in case".to_owned());
            } else {
                diffs.push(format!("host {host:?} vs {p_host:?}"));
            }
        }
        if path != p_path {
            if path.trim_end_matches('/') == p_path.trim_end_matches('/') {
                diffs.push("trailing slash".to_owned());
            } else {
                diffs.push(format!("path {path:?} vs {p_path:?}"));
            }
        }
        if diffs.is_empty() {
            out.push(format!(
                "registered {url}: same URL (normalisation refused the issuer)"
            ));
        } else {
            out.push(format!("registered {url}: differs by {}", diffs.join(", ")));
        }
    }
    out
}

fn verification_step(
    checks: Vec<irsa_oidc::TraceStep>,
    trust: &ProviderTrust,
    ok: bool,
) -> ExplainStep {
    let steps = checks
        .into_iter()
        .map(|c| {
            let status = match c.status {
                irsa_oidc::Status::Passed => StepStatus::Passed,
                irsa_oidc::Status::Failed => StepStatus::Failed,
                irsa_oidc::Status::NotChecked => StepStatus::Skipped,
            };
            let mut step = ExplainStep::new(c.step.label(), status, c.detail);
            if c.step == irsa_oidc::Step::Audience {
                step = step.detail(format!("registered client ids: {:?}", trust.client_ids()));
            }
            step
        })
        .collect();
    let summary = if ok {
        "signature and claims verified with the issuer's published keys"
    } else {
        "the token was refused"
    };
    ExplainStep::new(
        "verification",
        if ok {
            StepStatus::Passed
        } else {
            StepStatus::Failed
        },
        summary,
    )
    .with_steps(steps)
}

impl OidcWebIdentity {
    /// Every check of AssumeRoleWithWebIdentity, in order, up to (not
    /// including) minting the session. The real call and `irsa explain`
    /// both run this; `rec` is off for the real call.
    #[allow(clippy::too_many_lines)] // one linear story, step by step
    async fn decide(
        &self,
        ctx: &OperationContext,
        r: &AssumeRoleWithWebIdentityRequest,
        info: &RequestInfo,
        rec: &mut Recorder<'_>,
        audit_fields: &mut AuditFields,
    ) -> Result<Granted, ApiError> {
        if r.provider_id.is_some() {
            let err = ApiError::new(
                ErrorCode::InvalidParameterValue,
                "ProviderId is only for OAuth 2.0 access tokens; omit it for OpenID Connect ID tokens.",
            );
            rec.push(|| ExplainStep::failed("request", err.message.clone()));
            return Err(err);
        }
        // SDKs send a token file's trailing newline as is.
        let token = r.web_identity_token.expose().trim();

        // 1. Which provider? `iss` read without trusting the token yet.
        let decoded = match irsa_oidc::jwt::decode(token) {
            Ok(d) => d,
            Err(e) => {
                let err = ApiError::new(
                    ErrorCode::InvalidIdentityToken,
                    format!("The web identity token is malformed: {e}"),
                );
                rec.push(|| ExplainStep::failed("token", err.message.clone()));
                return Err(err);
            }
        };
        let Some(issuer) = decoded.issuer().map(str::to_owned) else {
            let err = ApiError::missing_claim("iss");
            rec.push(|| ExplainStep::failed("token", err.message.clone()));
            return Err(err);
        };
        rec.push(|| {
            let mut step = ExplainStep::passed(
                "token",
                format!(
                    "JWT alg={} kid={} iss={issuer}",
                    decoded.alg().unwrap_or("-"),
                    decoded.kid().unwrap_or("-")
                ),
            );
            // Claims are fine to show; the signature never is.
            for (k, v) in decoded.claims() {
                step = step.detail(format!("claim {k} = {v}"));
            }
            step
        });
        let Some(cached) = ctx.provider(&issuer, self.allow_http).await? else {
            if rec.active() {
                let urls: Vec<String> = match ctx.store().list_oidc_providers().await {
                    Ok(list) => list.into_iter().map(|p| p.url).collect(),
                    Err(_) => Vec::new(),
                };
                let mut step = ExplainStep::failed(
                    "provider",
                    format!("no OIDC provider is registered for iss {issuer}"),
                );
                for line in provider_differences(&issuer, &urls) {
                    step = step.detail(line);
                }
                rec.push(|| step);
            }
            return Err(ApiError::no_oidc_provider(&issuer));
        };
        let provider = &cached.provider;
        let trust = match cached.trust(self.allow_http) {
            Ok(t) => t,
            Err(e) => {
                rec.push(|| {
                    ExplainStep::failed(
                        "provider",
                        format!("provider {} is not usable: {e}", provider.arn),
                    )
                });
                return Err(ApiError::no_oidc_provider(&issuer));
            }
        };
        rec.push(|| {
            ExplainStep::passed(
                "provider",
                format!("iss {issuer} is provider {}", provider.arn),
            )
            .detail(format!("client ids: {:?}", provider.client_ids))
            .detail(format!("thumbprints: {:?}", provider.thumbprints))
        });

        // 2-3. Keys, signature and claims.
        // The token decoded above is verified as is: one parse per call.
        let verified = self.verifier.verify_decoded(&decoded, &trust).await;
        if rec.active() {
            let checks = self.verifier.explain(token, &trust, &verified);
            let ok = verified.is_ok();
            rec.push(|| verification_step(checks, &trust, ok));
        }
        let verified = verified.map_err(|e| verify_error(&e))?;
        // Like AWS STS, never accept the outbound tokens this account mints
        // itself (GetWebIdentityToken): otherwise any principal allowed to
        // mint one could assume roles whose trust policy checks only `aud`.
        // Another irsa's outbound tokens stay usable.
        if verified.has_sts_claims()
            && ctx
                .outbound_signer()
                .is_some_and(|s| same_issuer(s.issuer_url(), verified.issuer()))
        {
            let err = ApiError::new(
                ErrorCode::InvalidIdentityToken,
                "Tokens issued by sts:GetWebIdentityToken of this account cannot be used with AssumeRoleWithWebIdentity.",
            );
            rec.push(|| ExplainStep::failed("token", err.message.clone()));
            return Err(err);
        }
        let facts = TokenFacts::from_verified(&verified, &r.role_arn);
        audit_fields.sub = Some(facts.subject.clone());
        audit_fields.aud = Some(facts.audience.clone());
        if let Some(authorized) = facts.role_authorized {
            let roles = verified.roles().unwrap_or_default().to_vec();
            if !authorized {
                let err = ApiError::new(
                    ErrorCode::InvalidIdentityToken,
                    "The requested role is not listed in the token's https://aws.amazon.com/roles claim.",
                );
                rec.push(|| {
                    ExplainStep::failed("roles claim", err.message.clone())
                        .detail(format!("token lists {roles:?}"))
                });
                return Err(err);
            }
            rec.push(|| {
                ExplainStep::passed(
                    "roles claim",
                    "the role is listed in https://aws.amazon.com/roles (sts:RoleAuthorizedByIdp = true)",
                )
            });
        }

        // 4. The role and its trust policy; a missing role is denied alike.
        let role_name = match r.role_arn.parse::<Arn>() {
            Ok(arn)
                if arn.service() == "iam"
                    && arn.account() == ctx.account().as_str()
                    && arn.resource_type() == "role" =>
            {
                arn.resource_name().to_owned()
            }
            _ => {
                rec.push(|| {
                    ExplainStep::failed(
                        "role",
                        format!(
                            "{} is not a role ARN of account {} (answered like a denial)",
                            r.role_arn,
                            ctx.account().as_str()
                        ),
                    )
                });
                return Err(ApiError::web_identity_not_authorized());
            }
        };
        let role = match ctx.role(&role_name).await? {
            Some(role) if role.role.arn == r.role_arn => role,
            Some(role) => {
                rec.push(|| {
                    ExplainStep::failed(
                        "role",
                        format!(
                            "role {role_name} exists as {}, not {} (path differs; answered like a denial)",
                            role.role.arn, r.role_arn
                        ),
                    )
                });
                return Err(ApiError::web_identity_not_authorized());
            }
            None => {
                rec.push(|| {
                    ExplainStep::failed(
                        "role",
                        format!(
                            "no role named {role_name} (STS answers a missing role exactly like a denied one)"
                        ),
                    )
                });
                return Err(ApiError::web_identity_not_authorized());
            }
        };
        rec.push(|| {
            ExplainStep::passed("role", format!("role {} exists", role.role.arn)).detail(format!(
                "trust policy: {}",
                role.role.assume_role_policy_document
            ))
        });
        let duration = r.duration_seconds.unwrap_or(3600);
        let max = role.role.max_session_duration;
        if i64::from(duration) > i64::from(max) {
            rec.push(|| {
                ExplainStep::failed(
                    "duration",
                    format!("DurationSeconds {duration} > MaxSessionDuration {max}"),
                )
            });
            return Err(ApiError::duration_exceeds_max_session_duration());
        }
        rec.push(|| {
            ExplainStep::passed(
                "duration",
                format!("DurationSeconds {duration} <= MaxSessionDuration {max}"),
            )
        });
        let policy_arns = match session_policies(ctx, r.policy.as_deref(), &r.policy_arns).await {
            Ok(arns) => arns,
            Err(e) => {
                rec.push(|| ExplainStep::failed("session policies", e.message.clone()));
                return Err(e);
            }
        };

        // Session tags and source identity from the token.
        let tag_claims = match session_tags(&facts).and_then(|tags| {
            if let Some(si) = &facts.source_identity {
                check_source_identity(si)?;
            }
            Ok(tags)
        }) {
            Ok(tags) => tags,
            Err(e) => {
                rec.push(|| {
                    ExplainStep::failed("session tags and source identity", e.message.clone())
                });
                return Err(e);
            }
        };
        let actions = required_actions(&tag_claims, &facts);
        rec.push(|| {
            ExplainStep::passed(
                "session tags and source identity",
                format!("the trust policy must allow {}", actions.join(", ")),
            )
            .detail(format!("session tags: {:?}", tag_claims.tags))
            .detail(format!(
                "transitive tag keys: {:?}",
                tag_claims.transitive_tag_keys
            ))
            .detail(format!(
                "source identity: {}",
                facts.source_identity.as_deref().unwrap_or("(none)")
            ))
        });

        let set = PolicySet::trust(PolicySource::new("trust", &role.trust), true);
        let mut action_steps = Vec::new();
        let mut denied = false;
        for action in &actions {
            let mut ctx = trust_context(
                &facts,
                &tag_claims,
                ProviderRef {
                    url: &provider.url,
                    arn: &provider.arn,
                    account: ctx.account().as_str(),
                },
                action,
                &role.role.arn,
                ctx.now(),
            );
            ctx.insert("sts:RoleSessionName", r.role_session_name.as_str());
            info.facts().add_global_keys(&mut ctx);
            let decision = evaluate(&ctx, &set);
            if rec.active() {
                let (traced, statements) = explain::trust_policy_steps(&role.trust, &ctx);
                debug_assert_eq!(traced, decision, "traced and fast evaluation agree");
                let mut step = ExplainStep::new(
                    *action,
                    if decision == Decision::Allow {
                        StepStatus::Passed
                    } else {
                        StepStatus::Failed
                    },
                    format!("{decision:?}"),
                );
                for line in explain::context_lines(&ctx) {
                    step = step.detail(format!("context {line}"));
                }
                action_steps.push(step.with_steps(statements));
            }
            if decision != Decision::Allow {
                denied = true;
                break;
            }
        }
        rec.push(|| {
            ExplainStep::new(
                "trust policy",
                if denied {
                    StepStatus::Failed
                } else {
                    StepStatus::Passed
                },
                if denied {
                    "the trust policy does not allow this token"
                } else {
                    "the trust policy allows this token"
                },
            )
            .with_steps(action_steps)
        });
        if denied {
            return Err(ApiError::web_identity_not_authorized());
        }

        let tags = session_tag_list(&tag_claims);
        let packed = match packed_policy_percent(r.policy.as_deref(), &policy_arns, &tags) {
            Ok(p) => p,
            Err(e) => {
                rec.push(|| ExplainStep::failed("packed size", e.message.clone()));
                return Err(e);
            }
        };
        Ok(Granted {
            role,
            provider_arn: provider.arn.clone(),
            facts,
            tag_claims,
            policy_arns,
            duration,
            packed,
        })
    }

    /// 5. Credentials for a granted call (no store access).
    fn issue(
        ctx: &OperationContext,
        r: &AssumeRoleWithWebIdentityRequest,
        g: Granted,
    ) -> Result<Node, ApiError> {
        let (credentials, assumed_role_user) = issue_role_session(
            ctx,
            &g.role.role,
            &r.role_session_name,
            g.duration,
            RoleSessionGrant {
                session_policy: r.policy.clone(),
                policy_arns: g.policy_arns,
                tags: session_tag_list(&g.tag_claims),
                transitive_tag_keys: g.tag_claims.transitive_tag_keys,
                source_identity: g.facts.source_identity.clone(),
                role_chained: false,
            },
        )?;
        let mut node = Node::object()
            .with("Credentials", credentials)
            .with("SubjectFromWebIdentityToken", g.facts.subject.clone())
            .with("AssumedRoleUser", assumed_role_user);
        if let Some(packed) = g.packed {
            node = node.with("PackedPolicySize", packed);
        }
        Ok(node
            .with("Provider", g.provider_arn)
            .with("Audience", g.facts.audience)
            .with_opt("SourceIdentity", g.facts.source_identity))
    }
}

fn session_tag_list(claims: &SessionTagClaims) -> Vec<SessionTag> {
    claims
        .tags
        .iter()
        .map(|(key, value)| SessionTag {
            key: key.clone(),
            value: value.clone(),
        })
        .collect()
}

/// Whether two issuer URLs name the same issuer once normalised.
fn same_issuer(a: &str, b: &str) -> bool {
    match (
        irsa_oidc::normalize_issuer_url(a, true),
        irsa_oidc::normalize_issuer_url(b, true),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use irsa_policy::{evaluate, Decision, Policy, PolicyKind, PolicySet, PolicySource};
    use serde_json::json;

    const PROVIDER_URL: &str = "https://oidc.example.com:8443/id/ABC";
    const PROVIDER_ARN: &str =
        "arn:aws:iam::123456789012:oidc-provider/oidc.example.com:8443/id/ABC";
    const ROLE: &str = "arn:aws:iam::123456789012:role/app";

    fn facts(sub: &str) -> TokenFacts {
        TokenFacts {
            subject: sub.into(),
            audience: "sts.amazonaws.com".into(),
            audiences: vec!["sts.amazonaws.com".into()],
            ..TokenFacts::default()
        }
    }

    fn decide(trust: &str, facts: &TokenFacts) -> Decision {
        let policy = Policy::parse(trust, PolicyKind::Trust).unwrap();
        let tags = session_tags(facts).unwrap();
        let set = PolicySet::trust(PolicySource::new("trust", &policy), true);
        let mut decision = Decision::Allow;
        for action in required_actions(&tags, facts) {
            let ctx = trust_context(
                facts,
                &tags,
                ProviderRef {
                    url: PROVIDER_URL,
                    arn: PROVIDER_ARN,
                    account: "123456789012",
                },
                action,
                ROLE,
                OffsetDateTime::UNIX_EPOCH,
            );
            let d = evaluate(&ctx, &set);
            if d != Decision::Allow {
                decision = d;
            }
        }
        decision
    }

    fn irsa_trust(sub_operator: &str, sub: &str) -> String {
        let mut condition = json!({
            "StringEquals": {"oidc.example.com:8443/id/ABC:aud": "sts.amazonaws.com"}
        });
        condition
            .as_object_mut()
            .unwrap()
            .entry(sub_operator)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .unwrap()
            .insert("oidc.example.com:8443/id/ABC:sub".into(), json!(sub));
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Federated": PROVIDER_ARN},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": condition
            }]
        })
        .to_string()
    }

    #[test]
    fn irsa_trust_policy_matches_service_account() {
        let trust = irsa_trust("StringEquals", "system:serviceaccount:default:app");
        assert_eq!(
            decide(&trust, &facts("system:serviceaccount:default:app")),
            Decision::Allow
        );
        assert_eq!(
            decide(&trust, &facts("system:serviceaccount:default:other")),
            Decision::ImplicitDeny
        );
        let mut wrong_aud = facts("system:serviceaccount:default:app");
        wrong_aud.audience = "other".into();
        assert_eq!(decide(&trust, &wrong_aud), Decision::ImplicitDeny);
    }

    #[test]
    fn string_like_wildcard_sub() {
        let trust = irsa_trust("StringLike", "repo:org/repo:*");
        assert_eq!(
            decide(&trust, &facts("repo:org/repo:ref:refs/heads/main")),
            Decision::Allow
        );
        assert_eq!(
            decide(&trust, &facts("repo:org/other:ref:refs/heads/main")),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn tags_and_source_identity_need_their_actions() {
        let trust = irsa_trust("StringEquals", "s");
        let mut tagged = facts("s");
        tagged.tags = Some(json!({"principal_tags": {"team": ["a"]}}));
        assert_eq!(decide(&trust, &tagged), Decision::ImplicitDeny);
        let mut with_source = facts("s");
        with_source.source_identity = Some("alice".into());
        assert_eq!(decide(&trust, &with_source), Decision::ImplicitDeny);

        let allowing = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Federated": PROVIDER_ARN},
                "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession", "sts:SetSourceIdentity"],
                "Condition": {"StringEquals": {"aws:RequestTag/team": "a"}}
            }]
        })
        .to_string();
        assert_eq!(decide(&allowing, &tagged), Decision::Allow);
        let mut other_team = facts("s");
        other_team.tags = Some(json!({"principal_tags": {"team": ["b"]}}));
        assert_eq!(decide(&allowing, &other_team), Decision::ImplicitDeny);
    }

    #[test]
    fn role_authorized_by_idp_key() {
        let trust = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Federated": PROVIDER_ARN},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"Bool": {"sts:RoleAuthorizedByIdp": "true"}}
            }]
        })
        .to_string();
        let mut f = facts("s");
        assert_eq!(decide(&trust, &f), Decision::ImplicitDeny);
        f.role_authorized = Some(true);
        assert_eq!(decide(&trust, &f), Decision::Allow);
    }

    #[test]
    fn other_provider_is_not_trusted() {
        let trust = irsa_trust("StringEquals", "s")
            .replace("oidc.example.com:8443/id/ABC\"}", "other.example.com\"}");
        let trust = trust.replace(
            PROVIDER_ARN,
            "arn:aws:iam::123456789012:oidc-provider/other.example.com",
        );
        assert_eq!(decide(&trust, &facts("s")), Decision::ImplicitDeny);
    }

    #[test]
    fn tag_claims_are_validated() {
        let mut f = facts("s");
        f.tags =
            Some(json!({"principal_tags": {"a": ["1"], "b": "2"}, "transitive_tag_keys": ["a"]}));
        let tags = session_tags(&f).unwrap();
        assert_eq!(tags.tags.len(), 2);
        assert_eq!(tags.transitive_tag_keys, vec!["a".to_owned()]);

        for bad in [
            json!("x"),
            json!({"principal_tags": ["a"]}),
            json!({"principal_tags": {"a": ["1", "2"]}}),
            json!({"principal_tags": {"a": [1]}}),
            json!({"principal_tags": {"a": ["1"]}, "transitive_tag_keys": ["b"]}),
        ] {
            f.tags = Some(bad.clone());
            let err = session_tags(&f).unwrap_err();
            assert_eq!(err.code, ErrorCode::IdpRejectedClaim, "{bad}");
        }
    }

    #[test]
    fn source_identity_claim_is_validated() {
        check_source_identity("alice@example.com").unwrap();
        for bad in ["a", "aws:alice", "has space", &"x".repeat(65)] {
            let err = check_source_identity(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::IdpRejectedClaim, "{bad}");
            assert_eq!(err.http_status(), 403);
        }
    }

    #[test]
    fn provider_differences_name_the_difference() {
        let registered = vec![
            "https://oidc.example.com/id/ABC".to_owned(),
            "https://other.example.com".to_owned(),
        ];
        let d = provider_differences("https://oidc.example.com/id/ABC/", &registered);
        assert!(d[0].contains("trailing slash"), "{d:?}");
        assert!(d[1].contains("host"), "{d:?}");
        let d = provider_differences("http://OIDC.example.com/id/ABC", &registered);
        assert!(d[0].contains("scheme \"http\" vs \"https\""), "{d:?}");
        assert!(d[0].contains("case"), "{d:?}");
        let d = provider_differences("https://oidc.example.com/id/XYZ", &registered);
        assert!(d[0].contains("path"), "{d:?}");
        assert_eq!(
            provider_differences("https://x", &[]),
            vec!["no OIDC providers are registered in this account".to_owned()]
        );
    }

    #[test]
    fn condition_prefix_drops_scheme() {
        assert_eq!(
            condition_prefix(PROVIDER_URL),
            "oidc.example.com:8443/id/ABC"
        );
        assert_eq!(condition_prefix("http://localhost:9000"), "localhost:9000");
    }
}
