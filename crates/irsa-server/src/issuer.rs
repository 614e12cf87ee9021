//! The served issuer: `irsa serve --issuer-url`'s flags, its key rings in
//! the store and its HTTP routes; irsa-oidc's `issuer` module supplies the
//! primitives (keys, JWS, discovery and JWKS documents). Signing keys live
//! in the store's key ring (sealed by the store), and the discovery document
//! and JWKS are served under the issuer URL's path by the same router.
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
use irsa_core::SharedClock;
use irsa_oidc::issuer::{CACHE_CONTROL, DISCOVERY_PATH, JWKS_CONTENT_TYPE, JWKS_PATH};
use irsa_oidc::{
    discovery_document, jwks_document, normalize_issuer_url, PublicKey, SigningKey, SigningKeyType,
};
use irsa_store::key_ring::{keys_with_signer, KeyRingError};
use irsa_store::{NewServerKey, ServerKey, Store, StoreError};

/// Key-ring purpose of the issuer's signing keys.
pub const SIGNING_KEY_PURPOSE: &str = "issuer-signing";

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

/// Longest lifetime of a token the built-in issuer signs (`irsa token issue
/// --expiration`); a retired key stays published this long (plus
/// [`EXPIRY_LEEWAY`]) so every token it signed expires before it goes.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(48 * 3600);
/// How long after `exp` verifiers still accept a token (AWS STS: 5 minutes).
pub const EXPIRY_LEEWAY: Duration = Duration::from_secs(300);
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

/// Problems with the issuer's key ring.
#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    #[error("issuer key ring: {0}")]
    Store(#[from] StoreError),
    #[error("cannot generate an issuer signing key: {0}")]
    Generate(String),
    #[error("issuer signing key {key_id} in the key ring is unusable: {reason}")]
    BadKey { key_id: String, reason: String },
    /// Every key of the ring is retired or not yet valid, and another
    /// process keeps the ring from getting a new one.
    #[error("key ring {0} has no key that may sign now")]
    NoSigner(String),
}

fn new_server_key(purpose: &str, key: &SigningKey) -> NewServerKey {
    NewServerKey {
        purpose: purpose.to_owned(),
        key_id: key.kid().to_owned(),
        algorithm: key.alg().as_str().to_owned(),
        secret: key.pkcs8_der().clone(),
        public: Some(key.public_key().spki_der()),
        not_before: None,
        retire_after: None,
        expires: None,
    }
}

fn load(key: &ServerKey) -> Result<SigningKey, IssuerError> {
    SigningKey::from_pkcs8_der(key.secret.expose()).map_err(|err| IssuerError::BadKey {
        key_id: key.key_id.clone(),
        reason: err.to_string(),
    })
}

fn generate(kind: SigningKeyType) -> Result<SigningKey, IssuerError> {
    SigningKey::generate(kind).map_err(|err| IssuerError::Generate(err.to_string()))
}

/// The key of the `purpose` ring that signs now (the store's
/// [key-ring rule](irsa_store::key_ring): the newest key that may sign, a
/// new `kind` key when none may). Replicas starting together agree on one.
pub async fn current_key(
    store: &dyn Store,
    purpose: &str,
    kind: SigningKeyType,
) -> Result<ServerKey, IssuerError> {
    let ring = keys_with_signer(store, purpose, || {
        generate(kind).map(|key| new_server_key(purpose, &key))
    })
    .await
    .map_err(|err| match err {
        KeyRingError::Store(err) => IssuerError::Store(err),
        KeyRingError::Generate(err) => err,
    })?;
    ring.signer()
        .cloned()
        .ok_or_else(|| IssuerError::NoSigner(purpose.to_owned()))
}

/// The key that signs new service-account tokens, created on first use.
pub async fn signing_key(
    store: &dyn Store,
    kind: SigningKeyType,
) -> Result<SigningKey, IssuerError> {
    load(&current_key(store, SIGNING_KEY_PURPOSE, kind).await?)
}

/// Adds a new signing key and retires the previous ones from signing; they
/// stay published so the tokens they signed still verify.
pub async fn rotate(store: &dyn Store, kind: SigningKeyType) -> Result<SigningKey, IssuerError> {
    rotate_ring(store, SIGNING_KEY_PURPOSE, kind).await
}

/// Rotates the signing key of one key-ring purpose (the issuer's own, or an
/// outbound one): a fresh key signs, the old ones stay published.
async fn rotate_ring(
    store: &dyn Store,
    purpose: &str,
    kind: SigningKeyType,
) -> Result<SigningKey, IssuerError> {
    let old: Vec<ServerKey> = store
        .list_server_keys(purpose)
        .await?
        .into_iter()
        .filter(|k| k.active)
        .collect();
    let fresh = generate(kind)?;
    store
        .insert_server_key(new_server_key(purpose, &fresh))
        .await?;
    for key in old {
        store.retire_server_key(purpose, &key.key_id, None).await?;
    }
    tracing::info!(kid = %fresh.kid(), purpose, "rotated issuer signing key");
    Ok(fresh)
}

/// Shortest token lifetime (TokenRequest's minimum).
pub const MIN_TOKEN_SECONDS: i64 = 600;

/// The fields of a service-account token request, from `irsa token issue`
/// flags or the `IssueServiceAccountToken` action's parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenFields {
    pub namespace: String,
    pub service_account: String,
    pub service_account_uid: Option<String>,
    pub audiences: Vec<String>,
    pub expiration_seconds: i64,
    pub pod_name: Option<String>,
    pub pod_uid: Option<String>,
    pub node_name: Option<String>,
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

impl TokenFields {
    /// Checks the fields (every problem at once, each prefixed with
    /// `label(field)`, field being `namespace`, `service-account`,
    /// `expiration`, `audience`, `pod-uid` or `pod-name`) and builds the
    /// token request for `issuer`. Missing uids are random.
    pub fn request(
        &self,
        issuer: &str,
        label: impl Fn(&str) -> String,
    ) -> Result<irsa_oidc::ServiceAccountToken, Vec<String>> {
        let mut problems = Vec::new();
        if !is_dns_label(&self.namespace) {
            problems.push(format!(
                "{}: {:?} is not a Kubernetes namespace name (lower-case letters, digits and '-', at most 63)",
                label("namespace"),
                self.namespace
            ));
        }
        if !is_dns_subdomain(&self.service_account) {
            problems.push(format!(
                "{}: {:?} is not a Kubernetes object name (lower-case letters, digits, '-' and '.')",
                label("service-account"),
                self.service_account
            ));
        }
        #[allow(clippy::cast_possible_wrap)] // 172 800 fits
        let max = MAX_TOKEN_LIFETIME.as_secs() as i64;
        if !(MIN_TOKEN_SECONDS..=max).contains(&self.expiration_seconds) {
            problems.push(format!(
                "{}: {} s is outside {MIN_TOKEN_SECONDS}..={max} (TokenRequest's minimum; the built-in issuer's 48 h maximum)",
                label("expiration"),
                self.expiration_seconds
            ));
        }
        if self.audiences.is_empty() || self.audiences.iter().any(|a| a.trim().is_empty()) {
            problems.push(format!("{}: must not be empty", label("audience")));
        }
        if self.pod_uid.is_some() && self.pod_name.is_none() {
            problems.push(format!("{} needs {}", label("pod-uid"), label("pod-name")));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let uid = || uuid::Uuid::new_v4().to_string();
        Ok(irsa_oidc::ServiceAccountToken {
            issuer: issuer.to_owned(),
            audiences: self.audiences.clone(),
            namespace: self.namespace.clone(),
            service_account: irsa_oidc::ObjectRef {
                name: self.service_account.clone(),
                uid: self.service_account_uid.clone().unwrap_or_else(uid),
            },
            pod: self.pod_name.as_ref().map(|name| irsa_oidc::ObjectRef {
                name: name.clone(),
                uid: self.pod_uid.clone().unwrap_or_else(uid),
            }),
            node: self.node_name.as_ref().map(|name| irsa_oidc::ObjectRef {
                name: name.clone(),
                uid: uid(),
            }),
            expiration_seconds: self.expiration_seconds,
            warn_after: None,
        })
    }
}

/// What one [`maintain`] pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maintenance {
    /// kid of the key that now signs, when the pass rotated.
    pub rotated: Option<String>,
    /// kids of the outbound (GetWebIdentityToken) keys that now sign.
    pub outbound_rotated: Vec<String>,
    /// kids deleted from the key ring.
    pub pruned: Vec<String>,
}

/// One pass of key-ring upkeep at `now`: rotates when the signing key is
/// older than `rotation_period`, and deletes retired keys once every token
/// they can have signed has expired (retired + [`MAX_TOKEN_LIFETIME`] +
/// [`EXPIRY_LEEWAY`]). Until then they stay in the JWKS. The outbound
/// key rings get the same upkeep once they exist (federation enabled).
pub async fn maintain(
    store: &dyn Store,
    kind: SigningKeyType,
    rotation_period: Option<Duration>,
    now: time::OffsetDateTime,
) -> Result<Maintenance, IssuerError> {
    let (rotated, mut pruned) =
        maintain_ring(store, SIGNING_KEY_PURPOSE, kind, rotation_period, now).await?;
    let mut report = Maintenance {
        rotated,
        ..Maintenance::default()
    };
    for (purpose, kind) in crate::outbound::KEY_RINGS {
        let (rotated, more) = maintain_ring(store, purpose, kind, rotation_period, now).await?;
        report.outbound_rotated.extend(rotated);
        pruned.extend(more);
    }
    report.pruned = pruned;
    Ok(report)
}

/// [`maintain`] for one key-ring purpose: (rotated kid, pruned kids).
async fn maintain_ring(
    store: &dyn Store,
    purpose: &str,
    kind: SigningKeyType,
    rotation_period: Option<Duration>,
    now: time::OffsetDateTime,
) -> Result<(Option<String>, Vec<String>), IssuerError> {
    let keys = store.list_server_keys(purpose).await?;
    let mut rotated = None;
    let mut pruned = Vec::new();
    if let Some(period) = rotation_period {
        let newest_active = keys.iter().filter(|k| k.active).max_by_key(|k| k.created);
        if newest_active.is_some_and(|k| k.created + period <= now) {
            rotated = Some(rotate_ring(store, purpose, kind).await?.kid().to_owned());
        }
    }
    let keep_for = MAX_TOKEN_LIFETIME + EXPIRY_LEEWAY;
    for key in keys.iter().filter(|k| !k.active) {
        // A key retired without a time cannot be judged: keep it.
        let Some(retired) = key.retire_after else {
            continue;
        };
        if retired + keep_for > now {
            continue;
        }
        match store.delete_server_key(purpose, &key.key_id).await {
            // Another replica pruned it first.
            Ok(()) | Err(StoreError::NotFound { .. }) => {
                tracing::info!(kid = %key.key_id, purpose, retired = %retired, "pruned retired issuer signing key");
                pruned.push(key.key_id.clone());
            }
            Err(err) => return Err(err.into()),
        }
    }
    Ok((rotated, pruned))
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

/// The public keys to publish: every key not yet expired, oldest first.
pub async fn published_keys(
    store: &dyn Store,
    now: time::OffsetDateTime,
) -> Result<Vec<PublicKey>, IssuerError> {
    let mut keys = store.list_server_keys(SIGNING_KEY_PURPOSE).await?;
    // GetWebIdentityToken's keys are published by the same issuer.
    for (purpose, _) in crate::outbound::KEY_RINGS {
        keys.extend(store.list_server_keys(purpose).await?);
    }
    let mut out = Vec::new();
    for key in keys.iter().filter(|k| k.expires.is_none_or(|e| e > now)) {
        let public = match &key.public {
            Some(spki) => PublicKey::from_spki_der(spki).map_err(|reason| IssuerError::BadKey {
                key_id: key.key_id.clone(),
                reason,
            })?,
            None => load(key)?.public_key().clone(),
        };
        out.push(public);
    }
    Ok(out)
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

    async fn temp_store(dir: &std::path::Path) -> Arc<dyn Store> {
        temp_store_with(dir, Arc::new(irsa_core::SystemClock)).await
    }

    async fn temp_store_with(dir: &std::path::Path, clock: SharedClock) -> Arc<dyn Store> {
        irsa_store::open(irsa_store::StoreConfig {
            database_url: None,
            data_dir: dir.to_path_buf(),
            master_key: irsa_store::MasterKey::from_bytes(irsa_core::SecretBytes::new(vec![7; 32]))
                .unwrap(),
            account_id: irsa_core::AccountId::default(),
            clock,
        })
        .await
        .unwrap()
    }

    async fn published_kids(store: &dyn Store, now: time::OffsetDateTime) -> Vec<String> {
        published_keys(store, now)
            .await
            .unwrap()
            .iter()
            .map(|k| k.kid().to_owned())
            .collect()
    }

    #[tokio::test]
    async fn outbound_key_rings_rotate_and_prune_only_once_they_exist() {
        use irsa_api::{OutboundAlg, OutboundTokenSigner};
        let dir = tempfile::tempdir().unwrap();
        let clock = irsa_core::TestClock::at_unix(1_800_000_000);
        let store = temp_store_with(dir.path(), Arc::new(clock.clone())).await;
        let kind = SigningKeyType::EcdsaP256;
        let period = Some(Duration::from_secs(24 * 3600));
        let now = || irsa_core::Clock::now_utc(&clock);
        signing_key(store.as_ref(), kind).await.unwrap();

        // Federation never enabled: no outbound key is created by upkeep.
        clock.advance(Duration::from_secs(24 * 3600));
        let pass = maintain(store.as_ref(), kind, period, now()).await.unwrap();
        assert!(pass.rotated.is_some());
        assert!(pass.outbound_rotated.is_empty());
        for (purpose, _) in crate::outbound::KEY_RINGS {
            assert!(store.list_server_keys(purpose).await.unwrap().is_empty());
        }

        let signer = crate::outbound::OutboundSigner::new(Arc::clone(&store), "https://i.example");
        signer.prepare().await.unwrap();
        let kid_of = |token: &str| {
            let decoded = irsa_oidc::jwt::decode(token).unwrap();
            decoded.kid().unwrap().to_owned()
        };
        let claims = serde_json::json!({"sub": "x"});
        let rs_before = kid_of(&signer.sign(OutboundAlg::Rs256, &claims).await.unwrap());
        let es_before = kid_of(&signer.sign(OutboundAlg::Es384, &claims).await.unwrap());

        clock.advance(Duration::from_secs(24 * 3600));
        let pass = maintain(store.as_ref(), kind, period, now()).await.unwrap();
        assert_eq!(pass.outbound_rotated.len(), 2);
        let rs_after = kid_of(&signer.sign(OutboundAlg::Rs256, &claims).await.unwrap());
        let es_after = kid_of(&signer.sign(OutboundAlg::Es384, &claims).await.unwrap());
        assert!(
            pass.outbound_rotated.contains(&rs_after) && pass.outbound_rotated.contains(&es_after)
        );
        assert_ne!(rs_after, rs_before);
        assert_ne!(es_after, es_before);
        // Old outbound keys stay published until their tokens expired.
        let published = published_kids(store.as_ref(), now()).await;
        assert!(published.contains(&rs_before) && published.contains(&es_before));
        clock.advance(MAX_TOKEN_LIFETIME + EXPIRY_LEEWAY);
        let pass = maintain(store.as_ref(), kind, None, now()).await.unwrap();
        assert!(pass.pruned.contains(&rs_before) && pass.pruned.contains(&es_before));
        let published = published_kids(store.as_ref(), now()).await;
        assert!(!published.contains(&rs_before) && published.contains(&rs_after));
        store.close().await;
    }

    #[tokio::test]
    async fn automatic_rotation_and_pruning_follow_the_clock() {
        let dir = tempfile::tempdir().unwrap();
        let clock = irsa_core::TestClock::at_unix(1_800_000_000);
        let store = temp_store_with(dir.path(), Arc::new(clock.clone())).await;
        let kind = SigningKeyType::EcdsaP256;
        let period = Some(Duration::from_secs(24 * 3600));
        let now = || irsa_core::Clock::now_utc(&clock);
        let first = signing_key(store.as_ref(), kind).await.unwrap();

        // Younger than the period: nothing happens.
        clock.advance(Duration::from_secs(24 * 3600 - 1));
        let pass = maintain(store.as_ref(), kind, period, now()).await.unwrap();
        assert_eq!(pass, Maintenance::default());
        // Rotation off: an old key keeps signing.
        clock.advance(Duration::from_secs(1));
        let pass = maintain(store.as_ref(), kind, None, now()).await.unwrap();
        assert_eq!(pass, Maintenance::default());

        // Old enough: a new key signs, the old one is still published.
        let pass = maintain(store.as_ref(), kind, period, now()).await.unwrap();
        let second = pass.rotated.clone().expect("rotated");
        assert!(pass.pruned.is_empty());
        assert_ne!(second, first.kid());
        assert_eq!(
            signing_key(store.as_ref(), kind).await.unwrap().kid(),
            second
        );
        assert_eq!(
            published_kids(store.as_ref(), now()).await,
            [first.kid().to_owned(), second.clone()]
        );

        // A token signed just before retirement lives 48 h (+5 min leeway):
        // the old key stays published until then, then goes.
        let keep = MAX_TOKEN_LIFETIME.as_secs() + EXPIRY_LEEWAY.as_secs();
        clock.advance(Duration::from_secs(keep - 1));
        let pass = maintain(
            store.as_ref(),
            kind,
            Some(Duration::from_secs(365 * 86_400)),
            now(),
        )
        .await
        .unwrap();
        assert_eq!(pass, Maintenance::default());
        assert_eq!(published_kids(store.as_ref(), now()).await.len(), 2);
        clock.advance(Duration::from_secs(1));
        let pass = maintain(store.as_ref(), kind, None, now()).await.unwrap();
        assert_eq!(pass.pruned, [first.kid().to_owned()]);
        assert_eq!(pass.rotated, None);
        assert_eq!(
            published_kids(store.as_ref(), now()).await,
            std::slice::from_ref(&second)
        );
        assert_eq!(
            signing_key(store.as_ref(), kind).await.unwrap().kid(),
            second
        );

        // The signing key itself is never pruned, however old.
        clock.advance(Duration::from_secs(400 * 86_400));
        let pass = maintain(store.as_ref(), kind, None, now()).await.unwrap();
        assert_eq!(pass, Maintenance::default());
        assert_eq!(published_kids(store.as_ref(), now()).await, [second]);
        store.close().await;
    }

    #[tokio::test]
    async fn key_ring_bootstrap_rotation_and_publication() {
        let dir = tempfile::tempdir().unwrap();
        let store = temp_store(dir.path()).await;
        let first = signing_key(store.as_ref(), SigningKeyType::EcdsaP256)
            .await
            .unwrap();
        let again = signing_key(store.as_ref(), SigningKeyType::Rsa2048)
            .await
            .unwrap();
        assert_eq!(first.kid(), again.kid(), "the existing key is reused");
        assert_eq!(first.alg().as_str(), "ES256");

        let second = rotate(store.as_ref(), SigningKeyType::EcdsaP256)
            .await
            .unwrap();
        assert_ne!(second.kid(), first.kid());
        let now_signing = signing_key(store.as_ref(), SigningKeyType::EcdsaP256)
            .await
            .unwrap();
        assert_eq!(now_signing.kid(), second.kid());

        let now = irsa_core::Clock::now_utc(&irsa_core::SystemClock);
        let mut published: Vec<String> = published_keys(store.as_ref(), now)
            .await
            .unwrap()
            .iter()
            .map(|k| k.kid().to_owned())
            .collect();
        published.sort_unstable();
        // Keys created in the same second have no defined order.
        let mut expected = vec![first.kid().to_owned(), second.kid().to_owned()];
        expected.sort_unstable();
        assert_eq!(published, expected);
        store.close().await;
    }
}
