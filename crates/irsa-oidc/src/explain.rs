//! A step-by-step account of a verification, for `irsa token verify` and
//! `irsa explain`. Built after the fact from the token and the verifier's
//! result: the checks run in a fixed order, so the error's kind says which
//! step failed and every earlier step passed.

use serde_json::Value;

use crate::error::{ErrorKind, VerifyError};
use crate::jwt;
use crate::verifier::{OidcVerifier, ProviderTrust, VerifiedToken};

/// The checks, in the order the verifier runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    Decode,
    Algorithm,
    Issuer,
    Keys,
    Signature,
    Expiry,
    NotBefore,
    IssuedAt,
    Audience,
    Subject,
    Claims,
}

impl Step {
    pub const ORDER: [Step; 11] = [
        Step::Decode,
        Step::Algorithm,
        Step::Issuer,
        Step::Keys,
        Step::Signature,
        Step::Expiry,
        Step::NotBefore,
        Step::IssuedAt,
        Step::Audience,
        Step::Subject,
        Step::Claims,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Step::Decode => "token is a JWT",
            Step::Algorithm => "signing algorithm allowed",
            Step::Issuer => "iss matches the provider",
            Step::Keys => "issuer's signing key found",
            Step::Signature => "signature valid",
            Step::Expiry => "exp not passed",
            Step::NotBefore => "nbf reached",
            Step::IssuedAt => "iat not in the future",
            Step::Audience => "aud is a registered client id",
            Step::Subject => "sub present",
            Step::Claims => "AWS claims well-formed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Passed,
    Failed,
    NotChecked,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceStep {
    pub step: Step,
    pub status: Status,
    pub detail: String,
}

fn failed_step(err: &VerifyError) -> Step {
    let claim_step = |m: &str| {
        if m.contains(": exp") {
            Step::Expiry
        } else if m.contains(": nbf") {
            Step::NotBefore
        } else if m.contains(": iat") {
            Step::IssuedAt
        } else if m.contains(": aud") {
            Step::Audience
        } else if m.contains(": sub") {
            Step::Subject
        } else if m.contains(": iss") {
            Step::Issuer
        } else {
            Step::Claims
        }
    };
    match err.kind() {
        ErrorKind::Malformed => Step::Decode,
        ErrorKind::UnsupportedAlgorithm => Step::Algorithm,
        ErrorKind::IssuerMismatch | ErrorKind::LegacyServiceAccountToken => Step::Issuer,
        ErrorKind::BadSignature => Step::Signature,
        ErrorKind::Expired => Step::Expiry,
        ErrorKind::NotYetValid => Step::NotBefore,
        ErrorKind::IssuedInFuture => Step::IssuedAt,
        ErrorKind::AudienceMismatch => Step::Audience,
        ErrorKind::MissingClaim | ErrorKind::InvalidClaim => claim_step(err.message()),
        _ => Step::Keys,
    }
}

fn time_detail(claims: &serde_json::Map<String, Value>, name: &str, now: i64) -> String {
    match claims.get(name).and_then(Value::as_i64) {
        Some(t) => format!(
            "{name} {t} ({}, {})",
            jwt::format_unix(t).unwrap_or_default(),
            jwt::relative_time(name, t, now)
        ),
        None => format!("no {name} claim"),
    }
}

impl OidcVerifier {
    /// Explains `result` (the outcome of `verify(token, provider)`) step by
    /// step. Details quote claims, never the token or its signature.
    pub fn explain(
        &self,
        token: &str,
        provider: &ProviderTrust,
        result: &Result<VerifiedToken, VerifyError>,
    ) -> Vec<TraceStep> {
        let now = self.config().clock.unix_seconds();
        let skew = self.config().clock_skew.as_secs();
        let decoded = jwt::decode(token).ok();
        let failed = result.as_ref().err().map(failed_step);
        let mut reached_failure = false;
        let mut out = Vec::new();
        for step in Step::ORDER {
            let status = if reached_failure {
                Status::NotChecked
            } else if Some(step) == failed {
                reached_failure = true;
                Status::Failed
            } else {
                Status::Passed
            };
            let detail = match (status, &decoded, result) {
                (Status::Failed, _, Err(e)) => match e.detail() {
                    Some(d) => format!("{}: {} ({d})", e.code(), e.message()),
                    None => format!("{}: {}", e.code(), e.message()),
                },
                (Status::NotChecked, _, _) | (_, None, _) => String::new(),
                (_, Some(d), _) => {
                    let c = d.claims();
                    match step {
                        Step::Decode => format!(
                            "header alg={} kid={}, {} claims",
                            d.alg().unwrap_or("-"),
                            d.kid().unwrap_or("-"),
                            c.len()
                        ),
                        Step::Algorithm => d.alg().unwrap_or("-").to_owned(),
                        Step::Issuer => format!(
                            "iss {} = provider {}",
                            d.claim_str("iss").unwrap_or("-"),
                            provider.issuer_url()
                        ),
                        Step::Keys => format!("kid {}", d.kid().unwrap_or("(none)")),
                        Step::Signature => format!("{} signature verified", d.alg().unwrap_or("-")),
                        Step::Expiry => {
                            format!("{}, skew allowance {skew}s", time_detail(c, "exp", now))
                        }
                        Step::NotBefore => time_detail(c, "nbf", now),
                        Step::IssuedAt => time_detail(c, "iat", now),
                        Step::Audience => match result {
                            Ok(v) => format!(
                                "aud {:?} matched client id {}",
                                v.audiences(),
                                v.audience()
                            ),
                            Err(_) => format!("aud {}", c.get("aud").unwrap_or(&Value::Null)),
                        },
                        Step::Subject => format!("sub {}", c.get("sub").unwrap_or(&Value::Null)),
                        Step::Claims => "roles, tags, source identity".to_owned(),
                    }
                }
            };
            out.push(TraceStep {
                step,
                status,
                detail,
            });
        }
        out
    }
}
