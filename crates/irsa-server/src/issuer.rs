//! The served issuer: `irsa serve --issuer-url`'s flags, its key upkeep
//! timer and its HTTP routes. irsa-oidc's `issuer` module supplies the
//! primitives (keys, JWS, discovery and JWKS documents) and irsa-auth's
//! `issuer_keys` the key rings in the store (sealed by the store); the
//! discovery document and JWKS are served under the issuer URL's path by the
//! same router.
//!
//! Every published key stays in the JWKS after rotation so tokens it signed
//! keep verifying; only the newest active key signs.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use irsa_auth::issuer_keys::{maintain, published_keys};
use irsa_core::SharedClock;
use irsa_oidc::issuer::{CACHE_CONTROL, DISCOVERY_PATH, JWKS_CONTENT_TYPE, JWKS_PATH};
use irsa_oidc::{
    discovery_document, jwks_document, normalize_issuer_url, PublicKey, SigningKeyType,
};
use irsa_store::Store;

/// Issuer flags of `irsa serve` (kept apart from `ServeArgs` so existing
/// constructions of `ServeArgs` stay valid).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct IssuerArgs {
    /// Serve a Kubernetes-style OIDC issuer at this URL (off when unset).
    #[arg(long, env = "IRSA_ISSUER_URL")]
    pub issuer_url: Option<String>,

    /// Signing key type of the built-in issuer: rsa or ecdsa-p256.
    #[arg(long, env = "IRSA_ISSUER_KEY_TYPE", default_value = "rsa")]
    pub issuer_key_type: String,

    /// Allow a plain http:// issuer URL (development only; verifiers must opt in too).
    #[arg(long, env = "IRSA_ALLOW_INSECURE_ISSUER")]
    pub allow_insecure_issuer: bool,

    /// Rotate the signing key when it is older than this: seconds or a number
    /// with s, m, h or d (`30d`); at least 1h; `off` (the default) never rotates.
    #[arg(long, env = "IRSA_ISSUER_ROTATION_PERIOD", default_value = "off")]
    pub issuer_rotation_period: String,
}

/// Shortest `--issuer-rotation-period`: verifiers cache the JWKS for up to
/// an hour (`max-age=3600`), and each rotation adds a key to it for 48 h.
pub const MIN_ROTATION_PERIOD: Duration = Duration::from_secs(3600);
/// How often `irsa serve` checks whether to rotate or prune.
pub const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(60);

/// Parses `--issuer-rotation-period`: `off`/`0`, seconds, or `N` with
/// `s`, `m`, `h`, `d`.
pub fn parse_rotation_period(flag: &str, value: &str) -> Result<Option<Duration>, String> {
    let v = value.trim();
    if v.is_empty() || v.eq_ignore_ascii_case("off") || v == "0" {
        return Ok(None);
    }
    let (digits, unit) = match v.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => v.split_at(i),
        None => (v, "s"),
    };
    let multiplier = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => 0,
    };
    let seconds = digits
        .parse::<u64>()
        .ok()
        .filter(|_| multiplier > 0)
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| {
            format!("--{flag}: expected off, seconds or a number with s, m, h or d (e.g. 30d), got {value:?}")
        })?;
    let period = Duration::from_secs(seconds);
    if period < MIN_ROTATION_PERIOD {
        return Err(format!(
            "--{flag}: {value} is shorter than the minimum of 1h"
        ));
    }
    Ok(Some(period))
}

/// A validated issuer configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerConfig {
    /// Normalised issuer URL (the `iss` of minted tokens).
    pub url: String,
    pub key_type: SigningKeyType,
}

impl IssuerConfig {
    /// The URL's path without a trailing slash ("" for a bare host): the
    /// prefix the documents are served under.
    pub fn path(&self) -> &str {
        url_path(&self.url)
    }
}

/// The path of a normalised URL ("" when it has none).
pub fn url_path(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme
        .find('/')
        .map_or("", |i| after_scheme[i..].trim_end_matches('/'))
}

/// Parses a key type flag value (only the two the issue names for serving).
pub fn parse_key_type(flag: &str, value: &str) -> Result<SigningKeyType, String> {
    match value {
        "rsa" => Ok(SigningKeyType::Rsa2048),
        "ecdsa-p256" => Ok(SigningKeyType::EcdsaP256),
        other => Err(format!(
            "--{flag}: expected rsa or ecdsa-p256, got {other:?}"
        )),
    }
}

/// Checks an issuer URL the way the verifier will: https unless insecure
/// issuers are allowed; no query, fragment or credentials.
pub fn check_issuer_url(flag: &str, url: &str, allow_insecure: bool) -> Result<String, String> {
    normalize_issuer_url(url, allow_insecure).map_err(|err| {
        let hint = if url.trim_start().starts_with("http://") && !allow_insecure {
            " (plain http needs --allow-insecure-issuer)"
        } else {
            ""
        };
        format!("--{flag}: {err}{hint}")
    })
}

impl IssuerArgs {
    /// `--issuer-rotation-period` (`None` when off or invalid; `validate`
    /// reports invalid values).
    pub fn rotation_period(&self) -> Option<Duration> {
        parse_rotation_period("issuer-rotation-period", &self.issuer_rotation_period)
            .ok()
            .flatten()
    }

    /// Every problem at once, like `ServeArgs::validate`.
    pub fn validate(&self) -> Result<Option<IssuerConfig>, Vec<String>> {
        let mut problems = Vec::new();
        let key_type = parse_key_type("issuer-key-type", &self.issuer_key_type)
            .map_err(|p| problems.push(p))
            .ok();
        if let Err(p) =
            parse_rotation_period("issuer-rotation-period", &self.issuer_rotation_period)
        {
            problems.push(p);
        }
        let url = self.issuer_url.as_deref().map(|url| {
            check_issuer_url("issuer-url", url, self.allow_insecure_issuer)
                .map_err(|p| problems.push(p))
                .ok()
        });
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(match (url, key_type) {
            (Some(Some(url)), Some(key_type)) => Some(IssuerConfig { url, key_type }),
            _ => None,
        })
    }
}

/// Runs [`maintain`] every [`MAINTENANCE_INTERVAL`] until the task is
/// dropped; failures are logged and retried on the next tick.
pub async fn maintenance_loop(
    store: Arc<dyn Store>,
    kind: SigningKeyType,
    rotation_period: Option<Duration>,
    clock: SharedClock,
) {
    let mut tick = tokio::time::interval(MAINTENANCE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(err) = maintain(store.as_ref(), kind, rotation_period, clock.now_utc()).await {
            tracing::warn!(error = %err, "issuer key maintenance failed; retrying later");
        }
    }
}

/// What the issuer routes need.
#[derive(Debug, Clone)]
pub struct IssuerService {
    pub store: Arc<dyn Store>,
    pub config: IssuerConfig,
    pub clock: SharedClock,
}

/// Discovery and JWKS routes under the issuer URL's path. The documents are
/// read from the key ring on each request so that `irsa issuer rotate`
/// from another process shows up without a restart.
pub fn routes<S: Clone + Send + Sync + 'static>(service: IssuerService) -> Router<S> {
    let base = service.config.path().to_owned();
    Router::new()
        .route(&format!("{base}{DISCOVERY_PATH}"), get(discovery))
        .route(&format!("{base}{JWKS_PATH}"), get(jwks))
        .with_state(service)
}

async fn current_keys(service: &IssuerService) -> Result<Vec<PublicKey>, Response> {
    published_keys(service.store.as_ref(), service.clock.now_utc())
        .await
        .map_err(|err| {
            tracing::warn!(error = %err, "cannot read the issuer key ring");
            (StatusCode::SERVICE_UNAVAILABLE, "issuer keys unavailable\n").into_response()
        })
}

fn json_response(content_type: &'static str, body: &serde_json::Value) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, CACHE_CONTROL),
        ],
        body.to_string(),
    )
        .into_response()
}

async fn discovery(State(service): State<IssuerService>) -> Response {
    match current_keys(&service).await {
        Ok(keys) => json_response(
            "application/json",
            &discovery_document(&service.config.url, &keys),
        ),
        Err(response) => response,
    }
}

async fn jwks(State(service): State<IssuerService>) -> Response {
    match current_keys(&service).await {
        Ok(keys) => json_response(JWKS_CONTENT_TYPE, &jwks_document(&keys)),
        Err(response) => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_url_paths() {
        assert_eq!(url_path("https://h.example"), "");
        assert_eq!(url_path("https://h.example:8443/cluster/a"), "/cluster/a");
        assert_eq!(url_path("http://127.0.0.1:8080/"), "");
    }

    #[test]
    fn issuer_args_report_every_problem() {
        let args = IssuerArgs {
            issuer_url: Some("http://h.example/x?y=1".into()),
            issuer_key_type: "dsa".into(),
            allow_insecure_issuer: false,
            issuer_rotation_period: "5m".into(),
        };
        let problems = args.validate().unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("--issuer-key-type"), "{problems:?}");
        assert!(
            problems[1].contains("--issuer-rotation-period") && problems[1].contains("1h"),
            "{problems:?}"
        );
        assert!(problems[2].contains("--issuer-url"), "{problems:?}");
        assert!(
            problems[2].contains("--allow-insecure-issuer"),
            "{problems:?}"
        );

        let query = IssuerArgs {
            issuer_url: Some("https://h.example/x?y=1".into()),
            issuer_key_type: "rsa".into(),
            ..IssuerArgs::default()
        };
        assert!(query.validate().unwrap_err()[0].contains("query"));

        let ok = IssuerArgs {
            issuer_url: Some("http://127.0.0.1:8080/issuer/".into()),
            issuer_key_type: "ecdsa-p256".into(),
            allow_insecure_issuer: true,
            issuer_rotation_period: "30d".into(),
        };
        let config = ok.validate().unwrap().unwrap();
        assert_eq!(config.url, "http://127.0.0.1:8080/issuer");
        assert_eq!(config.path(), "/issuer");
        assert_eq!(config.key_type, SigningKeyType::EcdsaP256);
        assert_eq!(ok.rotation_period(), Some(Duration::from_secs(30 * 86_400)));

        let off = IssuerArgs {
            issuer_key_type: "rsa".into(),
            ..IssuerArgs::default()
        };
        assert_eq!(off.validate().unwrap(), None);
    }

    #[test]
    fn rotation_periods() {
        let p = |v: &str| parse_rotation_period("issuer-rotation-period", v);
        assert_eq!(p("off"), Ok(None));
        assert_eq!(p("0"), Ok(None));
        assert_eq!(p("3600"), Ok(Some(Duration::from_secs(3600))));
        assert_eq!(p("24h"), Ok(Some(Duration::from_secs(86_400))));
        assert_eq!(p("90m"), Ok(Some(Duration::from_secs(5400))));
        assert_eq!(p("7d"), Ok(Some(Duration::from_secs(7 * 86_400))));
        for bad in ["1w", "h", "-5", "1.5h", "24 h", "99999999999999999999d"] {
            let err = p(bad).unwrap_err();
            assert!(err.contains("--issuer-rotation-period"), "{bad}: {err}");
            assert!(err.contains("e.g. 30d"), "{bad}: {err}");
        }
        assert!(p("59m").unwrap_err().contains("minimum of 1h"));
    }
}
