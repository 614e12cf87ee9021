//! The built-in OIDC issuer of `irsa serve --issuer-url`: signing keys live
//! in the store's key ring (sealed by the store), and the discovery document
//! and JWKS are served under the issuer URL's path by the same router.
//!
//! Every published key stays in the JWKS after rotation so tokens it signed
//! keep verifying; only the newest active key signs.

use std::sync::Arc;

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
    /// Every problem at once, like `ServeArgs::validate`.
    pub fn validate(&self) -> Result<Option<IssuerConfig>, Vec<String>> {
        let mut problems = Vec::new();
        let key_type = parse_key_type("issuer-key-type", &self.issuer_key_type)
            .map_err(|p| problems.push(p))
            .ok();
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
}

fn new_server_key(key: &SigningKey) -> NewServerKey {
    NewServerKey {
        purpose: SIGNING_KEY_PURPOSE.to_owned(),
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

/// The key that signs new tokens: the newest active key, created on first
/// use. Replicas starting together agree on one key
/// (`insert_server_key_if_absent`).
pub async fn signing_key(
    store: &dyn Store,
    kind: SigningKeyType,
) -> Result<SigningKey, IssuerError> {
    let keys = store.list_server_keys(SIGNING_KEY_PURPOSE).await?;
    if let Some(newest) = keys.iter().rev().find(|k| k.active) {
        return load(newest);
    }
    let fresh = generate(kind)?;
    let stored = store
        .insert_server_key_if_absent(new_server_key(&fresh))
        .await?;
    if stored.key_id == fresh.kid() {
        tracing::info!(kid = %stored.key_id, alg = %stored.algorithm, "created issuer signing key");
    } else {
        tracing::info!(kid = %stored.key_id, "another process created the issuer key first");
    }
    load(&stored)
}

/// Adds a new signing key and retires the previous ones from signing; they
/// stay published so the tokens they signed still verify.
pub async fn rotate(store: &dyn Store, kind: SigningKeyType) -> Result<SigningKey, IssuerError> {
    let old: Vec<ServerKey> = store
        .list_server_keys(SIGNING_KEY_PURPOSE)
        .await?
        .into_iter()
        .filter(|k| k.active)
        .collect();
    let fresh = generate(kind)?;
    store.insert_server_key(new_server_key(&fresh)).await?;
    for key in old {
        store
            .retire_server_key(SIGNING_KEY_PURPOSE, &key.key_id, None)
            .await?;
    }
    tracing::info!(kid = %fresh.kid(), "rotated issuer signing key");
    Ok(fresh)
}

/// The public keys to publish: every key not yet expired, oldest first.
pub async fn published_keys(
    store: &dyn Store,
    now: time::OffsetDateTime,
) -> Result<Vec<PublicKey>, IssuerError> {
    let keys = store.list_server_keys(SIGNING_KEY_PURPOSE).await?;
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
        };
        let problems = args.validate().unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("--issuer-key-type"), "{problems:?}");
        assert!(problems[1].contains("--issuer-url"), "{problems:?}");
        assert!(
            problems[1].contains("--allow-insecure-issuer"),
            "{problems:?}"
        );

        let query = IssuerArgs {
            issuer_url: Some("https://h.example/x?y=1".into()),
            issuer_key_type: "rsa".into(),
            allow_insecure_issuer: false,
        };
        assert!(query.validate().unwrap_err()[0].contains("query"));

        let ok = IssuerArgs {
            issuer_url: Some("http://127.0.0.1:8080/issuer/".into()),
            issuer_key_type: "ecdsa-p256".into(),
            allow_insecure_issuer: true,
        };
        let config = ok.validate().unwrap().unwrap();
        assert_eq!(config.url, "http://127.0.0.1:8080/issuer");
        assert_eq!(config.path(), "/issuer");
        assert_eq!(config.key_type, SigningKeyType::EcdsaP256);

        let off = IssuerArgs {
            issuer_key_type: "rsa".into(),
            ..IssuerArgs::default()
        };
        assert_eq!(off.validate().unwrap(), None);
    }

    async fn temp_store(dir: &std::path::Path) -> Arc<dyn Store> {
        irsa_store::open(irsa_store::StoreConfig {
            database_url: None,
            data_dir: dir.to_path_buf(),
            master_key: irsa_store::MasterKey::from_bytes(irsa_core::SecretBytes::new(vec![7; 32]))
                .unwrap(),
            account_id: irsa_core::AccountId::default(),
            clock: Arc::new(irsa_core::SystemClock),
        })
        .await
        .unwrap()
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
