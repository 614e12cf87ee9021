//! `OidcVerifier`: discovery, JWKS cache with single-flight and rate-limited
//! refetch, TLS trust (roots or thumbprints), signature and claim checks.

use std::collections::HashMap;
use std::fmt;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use irsa_core::{SharedClock, SystemClock};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;
use serde_json::{Map, Value};

use crate::error::{ErrorCode, ErrorKind, VerifyError, KEY_RETRIEVAL_MESSAGE, THUMBPRINT_MESSAGE};
use crate::http::{self, FetchError, Limits};
use crate::jwt;
use crate::keys::{parse_jwks, Alg, Jwk};
use crate::tls;

/// Claim listing the roles a token may assume.
pub const ROLES_CLAIM: &str = "https://aws.amazon.com/roles";
/// Claim carrying session tags.
pub const TAGS_CLAIM: &str = "https://aws.amazon.com/tags";
/// Claim carrying the source identity.
pub const SOURCE_IDENTITY_CLAIM: &str = "https://aws.amazon.com/source_identity";
/// Object claim AWS STS puts in the tokens it mints (GetWebIdentityToken).
pub const STS_CLAIMS_NAMESPACE: &str = "https://sts.amazonaws.com/";
/// `iss` of legacy (secret-based, non-expiring) Kubernetes tokens.
pub const LEGACY_K8S_ISSUER: &str = "kubernetes/serviceaccount";

/// Configuration problems (bad CA file, bad provider URL or thumbprint).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("CA file: {0}")]
    CaFile(String),
    #[error("invalid issuer URL {url:?}: {reason}")]
    IssuerUrl { url: String, reason: String },
    #[error("invalid thumbprint {0:?}: expected 40 hexadecimal characters")]
    Thumbprint(String),
    #[error("TLS setup: {0}")]
    Tls(String),
}

/// Verifier settings. `Default` gives the production values.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    pub connect_timeout: Duration,
    /// Overall time for one response (headers and body) after connecting;
    /// bounds slow-loris issuers.
    pub read_timeout: Duration,
    pub max_body_bytes: usize,
    /// Trust the Mozilla root set (webpki-roots).
    pub use_system_roots: bool,
    /// Extra trusted CAs (`--oidc-ca-file`).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Allowance for clock skew on `exp`, `nbf`, `iat` (AWS: 5 minutes).
    pub clock_skew: Duration,
    /// Accept `http://` issuers and JWKS URIs (explicit opt-in, dev only).
    pub allow_insecure_http: bool,
    pub clock: SharedClock,
    /// Minimum time between two fetches for one issuer (unknown `kid`,
    /// failures).
    pub refetch_interval: Duration,
    /// Keys used from one JWKS at most.
    pub max_keys: usize,
    pub max_redirects: usize,
    /// Cache lifetime when the JWKS response has no `max-age`.
    pub default_cache_ttl: Duration,
    /// Bounds applied to `max-age`.
    pub min_cache_ttl: Duration,
    pub max_cache_ttl: Duration,
    /// How long past expiry cached keys are still served while the issuer is
    /// unreachable.
    pub max_stale: Duration,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(10),
            max_body_bytes: 1024 * 1024,
            use_system_roots: true,
            extra_roots: Vec::new(),
            clock_skew: Duration::from_secs(300),
            allow_insecure_http: false,
            clock: Arc::new(SystemClock),
            refetch_interval: Duration::from_secs(10),
            max_keys: 100,
            max_redirects: 3,
            default_cache_ttl: Duration::from_secs(3600),
            min_cache_ttl: Duration::from_secs(60),
            max_cache_ttl: Duration::from_secs(24 * 3600),
            max_stale: Duration::from_secs(24 * 3600),
        }
    }
}

impl VerifierConfig {
    /// Adds every certificate of a PEM bundle to the trusted CAs; returns how
    /// many were added.
    pub fn add_ca_pem(&mut self, pem_data: &[u8]) -> Result<usize, ConfigError> {
        let blocks = pem::parse_many(pem_data).map_err(|e| ConfigError::CaFile(e.to_string()))?;
        let certs: Vec<_> = blocks
            .into_iter()
            .filter(|b| b.tag() == "CERTIFICATE")
            .map(|b| CertificateDer::from(b.into_contents()))
            .collect();
        if certs.is_empty() {
            return Err(ConfigError::CaFile(
                "no CERTIFICATE blocks found".to_owned(),
            ));
        }
        let n = certs.len();
        self.extra_roots.extend(certs);
        Ok(n)
    }
}

/// Normalises an issuer URL for comparison and display: lower-case scheme
/// and host, no default port, no trailing slash; rejects query, fragment and
/// credentials. `http` only when `allow_http`.
pub fn normalize_issuer_url(url: &str, allow_http: bool) -> Result<String, ConfigError> {
    let bad = |reason: &str| ConfigError::IssuerUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| bad(&e.to_string()))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_http => {}
        _ => return Err(bad("the scheme must be https")),
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("must not contain credentials"));
    }
    let host = parsed.host_str().ok_or_else(|| bad("has no host"))?;
    let mut out = format!("{}://{}", parsed.scheme(), host);
    if let Some(port) = parsed.port() {
        let _ = write!(out, ":{port}");
    }
    out.push_str(parsed.path().trim_end_matches('/'));
    Ok(out)
}

/// What an account registered for one OIDC provider.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderTrust {
    issuer_url: String,
    client_ids: Vec<String>,
    thumbprints: Vec<[u8; 20]>,
    /// The key of this provider's key cache slot, built once here rather
    /// than on every verification.
    slot_key: CacheKey,
}

// `slot_key` only repeats the URL and thumbprints shown.
#[allow(clippy::missing_fields_in_debug)]
impl fmt::Debug for ProviderTrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderTrust")
            .field("issuer_url", &self.issuer_url)
            .field("client_ids", &self.client_ids)
            .field(
                "thumbprints",
                &self.thumbprints.iter().map(hex::encode).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl ProviderTrust {
    /// `url` is normalised (http accepted only with `allow_http`);
    /// thumbprints are 40 hex characters, either case.
    pub fn new<C, T>(
        url: &str,
        client_ids: C,
        thumbprints: T,
        allow_http: bool,
    ) -> Result<Self, ConfigError>
    where
        C: IntoIterator,
        C::Item: Into<String>,
        T: IntoIterator,
        T::Item: AsRef<str>,
    {
        let issuer_url = normalize_issuer_url(url, allow_http)?;
        let mut prints = Vec::new();
        for t in thumbprints {
            let t = t.as_ref();
            let bytes = hex::decode(t.trim()).map_err(|_| ConfigError::Thumbprint(t.to_owned()))?;
            let arr: [u8; 20] = bytes
                .try_into()
                .map_err(|_| ConfigError::Thumbprint(t.to_owned()))?;
            prints.push(arr);
        }
        let mut sorted = prints.clone();
        sorted.sort_unstable();
        Ok(Self {
            slot_key: (issuer_url.clone(), sorted),
            issuer_url,
            client_ids: client_ids.into_iter().map(Into::into).collect(),
            thumbprints: prints,
        })
    }
    pub fn issuer_url(&self) -> &str {
        &self.issuer_url
    }
    pub fn client_ids(&self) -> &[String] {
        &self.client_ids
    }
    /// Thumbprints as lower-case hex.
    pub fn thumbprints(&self) -> Vec<String> {
        self.thumbprints.iter().map(hex::encode).collect()
    }
}

/// A token whose signature and claims were verified. Only the verifier
/// builds one.
#[derive(Clone)]
pub struct VerifiedToken {
    issuer: String,
    subject: String,
    audience: String,
    audiences: Vec<String>,
    amr: Vec<String>,
    azp: Option<String>,
    expires_at: i64,
    issued_at: Option<i64>,
    not_before: Option<i64>,
    claims: Arc<jwt::JsonObject>,
    roles: Option<Vec<String>>,
    tags: Option<Value>,
    source_identity: Option<String>,
    has_sts_claims: bool,
    kid: Option<String>,
    alg: Alg,
}

// Claims may hold personal data: Debug shows the identifying parts only.
impl fmt::Debug for VerifiedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedToken")
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("audience", &self.audience)
            .field("expires_at", &self.expires_at)
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl VerifiedToken {
    /// The provider's normalised URL (equal to `iss`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
    pub fn subject(&self) -> &str {
        &self.subject
    }
    /// The registered client id that matched (STS `Audience`).
    pub fn audience(&self) -> &str {
        &self.audience
    }
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }
    pub fn amr(&self) -> &[String] {
        &self.amr
    }
    pub fn azp(&self) -> Option<&str> {
        self.azp.as_deref()
    }
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }
    pub fn issued_at(&self) -> Option<i64> {
        self.issued_at
    }
    pub fn not_before(&self) -> Option<i64> {
        self.not_before
    }
    /// Every claim of the token (built on first call).
    pub fn claims(&self) -> &Map<String, Value> {
        self.claims.map()
    }
    /// `https://aws.amazon.com/roles`, when present.
    pub fn roles(&self) -> Option<&[String]> {
        self.roles.as_deref()
    }
    /// `None` without a roles claim; otherwise whether `role_arn` is listed
    /// exactly (`sts:RoleAuthorizedByIdp`).
    pub fn role_authorized(&self, role_arn: &str) -> Option<bool> {
        self.roles.as_ref().map(|r| r.iter().any(|x| x == role_arn))
    }
    /// `https://aws.amazon.com/tags`, unparsed.
    pub fn tags(&self) -> Option<&Value> {
        self.tags.as_ref()
    }
    pub fn source_identity(&self) -> Option<&str> {
        self.source_identity.as_deref()
    }
    /// Whether the token has the [`STS_CLAIMS_NAMESPACE`] claim, as tokens
    /// minted by GetWebIdentityToken do.
    pub fn has_sts_claims(&self) -> bool {
        self.has_sts_claims
    }
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
    pub fn alg(&self) -> Alg {
        self.alg
    }
}

/// Cache counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Fresh keys served from cache.
    pub hits: u64,
    /// Lookups that wanted a fetch (cold, expired, unknown `kid`).
    pub misses: u64,
    /// Discovery+JWKS fetches made.
    pub fetches: u64,
    pub fetch_errors: u64,
    /// Lookups answered with expired keys because the issuer was down.
    pub stale_served: u64,
    /// Lookups that wanted a fetch but were held back by the rate limit.
    pub rate_limited: u64,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    fetches: AtomicU64,
    fetch_errors: AtomicU64,
    stale_served: AtomicU64,
    rate_limited: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

struct KeySet {
    keys: Vec<Jwk>,
    expires_at: SystemTime,
}

impl KeySet {
    fn has(&self, kid: Option<&str>, alg: Alg) -> bool {
        self.keys.iter().any(|k| match kid {
            Some(kid) => k.kid() == Some(kid),
            None => k.accepts(alg),
        })
    }
}

#[derive(Default)]
struct SlotState {
    keys: Option<Arc<KeySet>>,
    last_attempt: Option<SystemTime>,
    attempts: u64,
    last_error: Option<VerifyError>,
}

#[derive(Default)]
struct IssuerSlot {
    /// Held while fetching: concurrent misses wait and share the result.
    fetch: tokio::sync::Mutex<()>,
    state: Mutex<SlotState>,
}

impl IssuerSlot {
    fn state(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

type CacheKey = (String, Vec<[u8; 20]>);

struct Inner {
    config: VerifierConfig,
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
    slots: Mutex<HashMap<CacheKey, Arc<IssuerSlot>>>,
    counters: Counters,
}

/// Verifies web-identity tokens. Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct OidcVerifier {
    inner: Arc<Inner>,
}

impl fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("config", &self.inner.config)
            .field("stats", &self.cache_stats())
            .finish_non_exhaustive()
    }
}

/// Keys could not be had (network, TLS, HTTP status, bad documents). AWS
/// answers every such case `InvalidIdentityToken` (400) with this message —
/// also for transient outages, which is why aws-sdk-go-v2 retries that code
/// for web identity; the cause goes to the operator-facing detail only.
fn comm_error(kind: ErrorKind, detail: impl Into<String>) -> VerifyError {
    VerifyError::invalid(kind, KEY_RETRIEVAL_MESSAGE).with_detail(detail)
}

fn fetch_error(what: &str, url: &str, e: &FetchError) -> VerifyError {
    match e {
        FetchError::Thumbprint => {
            VerifyError::invalid(ErrorKind::ThumbprintMismatch, THUMBPRINT_MESSAGE)
                .with_detail(format!("{what} {url}: {e}"))
        }
        _ => comm_error(ErrorKind::Fetch, format!("{what} {url}: {e}")),
    }
}

/// A claim that is a string or an array of strings.
fn string_or_array(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => None,
    }
}

impl OidcVerifier {
    pub fn new(config: VerifierConfig) -> Result<Self, ConfigError> {
        let mut roots = RootCertStore::empty();
        if config.use_system_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        for cert in &config.extra_roots {
            roots
                .add(cert.clone())
                .map_err(|e| ConfigError::CaFile(format!("unusable CA certificate: {e}")))?;
        }
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                roots: Arc::new(roots),
                provider: tls::provider(),
                slots: Mutex::new(HashMap::new()),
                counters: Counters::default(),
            }),
        })
    }

    pub fn config(&self) -> &VerifierConfig {
        &self.inner.config
    }

    pub fn cache_stats(&self) -> CacheStats {
        let c = &self.inner.counters;
        CacheStats {
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            fetches: c.fetches.load(Ordering::Relaxed),
            fetch_errors: c.fetch_errors.load(Ordering::Relaxed),
            stale_served: c.stale_served.load(Ordering::Relaxed),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
        }
    }

    /// Drops every cached key set (e.g. after a provider's thumbprints change).
    pub fn clear_cache(&self) {
        if let Ok(mut s) = self.inner.slots.lock() {
            s.clear();
        }
    }

    /// Verifies `token` for `provider`: signature with the issuer's published
    /// keys, then `iss`, `exp`/`nbf`/`iat` (with skew), `aud`, `sub`.
    pub async fn verify(
        &self,
        token: &str,
        provider: &ProviderTrust,
    ) -> Result<VerifiedToken, VerifyError> {
        let jwt = jwt::decode(token)
            .map_err(|e| VerifyError::invalid(ErrorKind::Malformed, e.to_string()))?;
        self.verify_decoded(&jwt, provider).await
    }

    /// [`Self::verify`] for a token the caller already decoded (to read its
    /// `iss` and pick the provider), so the hot path parses it once. Every
    /// check of `verify` still runs: nothing in a decoded token is trusted.
    pub async fn verify_decoded(
        &self,
        jwt: &jwt::DecodedJwt,
        provider: &ProviderTrust,
    ) -> Result<VerifiedToken, VerifyError> {
        let cfg = &self.inner.config;
        let alg_name = jwt.alg().ok_or_else(|| {
            VerifyError::invalid(ErrorKind::UnsupportedAlgorithm, "Token header has no alg")
        })?;
        let alg = Alg::parse(alg_name)
            .map_err(|m| VerifyError::invalid(ErrorKind::UnsupportedAlgorithm, m))?;
        // Issuer first: it decides whose keys to fetch.
        let iss = match &jwt.checked().iss {
            None => {
                return Err(VerifyError::invalid(
                    ErrorKind::MissingClaim,
                    "Missing a required claim: iss",
                ))
            }
            Some(Value::String(s)) => s.as_str(),
            Some(_) => {
                return Err(VerifyError::invalid(
                    ErrorKind::InvalidClaim,
                    "Invalid claim: iss must be a string",
                ))
            }
        };
        if iss == LEGACY_K8S_ISSUER {
            return Err(VerifyError::invalid(
                ErrorKind::LegacyServiceAccountToken,
                "Legacy Kubernetes service account tokens (issuer kubernetes/serviceaccount) cannot be used; use a projected service account token",
            ));
        }
        // The provider's URL is normalised already and normalising is
        // idempotent: a token naming it exactly (the usual case) skips the
        // URL parse, and anything else is normalised and compared.
        let exact =
            iss == provider.issuer_url && (iss.starts_with("https://") || cfg.allow_insecure_http);
        let normalized = if exact {
            None
        } else {
            Some(
                normalize_issuer_url(iss, cfg.allow_insecure_http).map_err(|e| {
                    VerifyError::invalid(
                        ErrorKind::IssuerMismatch,
                        match e {
                            ConfigError::IssuerUrl { reason, .. } => {
                                format!("Token issuer {iss} is not acceptable: {reason}")
                            }
                            other => other.to_string(),
                        },
                    )
                })?,
            )
        };
        if normalized.is_some_and(|n| n != provider.issuer_url) {
            return Err(VerifyError::invalid(
                ErrorKind::IssuerMismatch,
                format!(
                    "Token issuer {iss} does not match the OpenIDConnect provider {}",
                    provider.issuer_url
                ),
            ));
        }

        let keys = self.keys_for(provider, jwt.kid(), alg).await?;
        Self::check_signature(&keys, jwt, alg)?;
        self.check_claims(jwt, alg, provider)
    }

    fn check_signature(keys: &KeySet, jwt: &jwt::DecodedJwt, alg: Alg) -> Result<(), VerifyError> {
        let kid = jwt.kid();
        let candidates: Vec<&Jwk> = keys
            .keys
            .iter()
            .filter(|k| kid.is_none() || k.kid() == kid)
            .collect();
        if candidates.is_empty() {
            return Err(VerifyError::invalid(
                ErrorKind::KeyNotFound,
                format!(
                    "No key with kid {} found in the identity provider's JWKS",
                    kid.unwrap_or("(none)")
                ),
            ));
        }
        let usable: Vec<&&Jwk> = candidates.iter().filter(|k| k.accepts(alg)).collect();
        if usable.is_empty() {
            return Err(VerifyError::invalid(
                ErrorKind::UnsupportedAlgorithm,
                format!(
                    "Token algorithm {alg} does not match the identity provider's {} key",
                    candidates[0].material().describe()
                ),
            ));
        }
        if usable
            .iter()
            .any(|k| k.verify(alg, jwt.signing_input(), jwt.signature()))
        {
            Ok(())
        } else {
            Err(VerifyError::invalid(
                ErrorKind::BadSignature,
                "The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request.",
            ))
        }
    }

    fn check_claims(
        &self,
        jwt: &jwt::DecodedJwt,
        alg: Alg,
        provider: &ProviderTrust,
    ) -> Result<VerifiedToken, VerifyError> {
        let cfg = &self.inner.config;
        let now = cfg.clock.unix_seconds();
        let skew = i64::try_from(cfg.clock_skew.as_secs()).unwrap_or(i64::MAX);
        let kid = jwt.kid().map(str::to_owned);
        let claims = jwt.checked();
        let invalid_claim = |name: &str, what: &str| {
            VerifyError::invalid(
                ErrorKind::InvalidClaim,
                format!("Invalid claim: {name} {what}"),
            )
        };
        let time_claim = |name: &str, claim: &Option<Value>| -> Result<Option<i64>, VerifyError> {
            match claim {
                None => Ok(None),
                Some(v) => jwt::numeric_date(v)
                    .map(Some)
                    .ok_or_else(|| invalid_claim(name, "must be a number")),
            }
        };

        let exp = time_claim("exp", &claims.exp)?.ok_or_else(|| {
            VerifyError::invalid(ErrorKind::MissingClaim, "Missing a required claim: exp")
        })?;
        if now >= exp.saturating_add(skew) {
            return Err(VerifyError::new(
                ErrorCode::ExpiredTokenException,
                ErrorKind::Expired,
                format!(
                    "Token expired: current date/time {now} must be before the expiration date/time {exp}"
                ),
            ));
        }
        let nbf = time_claim("nbf", &claims.nbf)?;
        if let Some(nbf) = nbf {
            if nbf > now.saturating_add(skew) {
                return Err(VerifyError::invalid(
                    ErrorKind::NotYetValid,
                    format!("Token is not yet valid: current date/time {now} is before the not-before date/time {nbf}"),
                ));
            }
        }
        let iat = time_claim("iat", &claims.iat)?;
        if let Some(iat) = iat {
            if iat > now.saturating_add(skew) {
                return Err(VerifyError::invalid(
                    ErrorKind::IssuedInFuture,
                    format!("Token was issued in the future: current date/time {now} is before the issued-at date/time {iat}"),
                ));
            }
        }

        let audiences = match &claims.aud {
            None => {
                return Err(VerifyError::invalid(
                    ErrorKind::MissingClaim,
                    "Missing a required claim: aud",
                ))
            }
            Some(v) => string_or_array(v)
                .ok_or_else(|| invalid_claim("aud", "must be a string or an array of strings"))?,
        };
        let audience = audiences
            .iter()
            .find(|a| provider.client_ids.iter().any(|c| c == *a))
            .cloned()
            .ok_or_else(|| {
                VerifyError::invalid(ErrorKind::AudienceMismatch, "Incorrect token audience")
            })?;

        let subject = match &claims.sub {
            None => {
                return Err(VerifyError::invalid(
                    ErrorKind::MissingClaim,
                    "Missing a required claim: sub",
                ))
            }
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(_) => return Err(invalid_claim("sub", "must be a non-empty string")),
        };
        let amr = match &claims.amr {
            None => Vec::new(),
            Some(v) => string_or_array(v)
                .ok_or_else(|| invalid_claim("amr", "must be a string or an array of strings"))?,
        };
        let azp = match &claims.azp {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(invalid_claim("azp", "must be a string")),
        };
        let roles = match &claims.roles {
            None => None,
            Some(v) => Some(string_or_array(v).ok_or_else(|| {
                invalid_claim(ROLES_CLAIM, "must be a role ARN or an array of role ARNs")
            })?),
        };
        let source_identity = match &claims.source_identity {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(invalid_claim(SOURCE_IDENTITY_CLAIM, "must be a string")),
        };
        let tags = claims.tags.clone();
        let claims = Arc::clone(jwt.shared_claims());
        Ok(VerifiedToken {
            issuer: provider.issuer_url.clone(),
            subject,
            audience,
            audiences,
            amr,
            azp,
            expires_at: exp,
            issued_at: iat,
            not_before: nbf,
            claims,
            roles,
            tags,
            source_identity,
            has_sts_claims: jwt.checked().sts_namespace,
            kid,
            alg,
        })
    }

    fn slot(&self, provider: &ProviderTrust) -> Arc<IssuerSlot> {
        let mut slots = self
            .inner
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(slot) = slots.get(&provider.slot_key) {
            return Arc::clone(slot);
        }
        Arc::clone(slots.entry(provider.slot_key.clone()).or_default())
    }

    /// Keys for the issuer, fetching when cold, expired or missing `kid` —
    /// single-flight, and at most once per `refetch_interval`.
    async fn keys_for(
        &self,
        provider: &ProviderTrust,
        kid: Option<&str>,
        alg: Alg,
    ) -> Result<Arc<KeySet>, VerifyError> {
        let cfg = &self.inner.config;
        let counters = &self.inner.counters;
        let slot = self.slot(provider);
        let now = cfg.clock.now();
        let (seen_attempts, cached) = {
            let st = slot.state();
            if let Some(keys) = &st.keys {
                if now < keys.expires_at && keys.has(kid, alg) {
                    bump(&counters.hits);
                    return Ok(keys.clone());
                }
            }
            bump(&counters.misses);
            let may_fetch = st
                .last_attempt
                .is_none_or(|t| now.duration_since(t).unwrap_or_default() >= cfg.refetch_interval);
            if !may_fetch {
                bump(&counters.rate_limited);
                return self.settle(&st, now);
            }
            (st.attempts, st.keys.clone())
        };
        let _flight = slot.fetch.lock().await;
        {
            let st = slot.state();
            if st.attempts != seen_attempts {
                // Another request fetched while this one waited: share it.
                return self.settle(&st, now);
            }
        }
        bump(&counters.fetches);
        let result = self.fetch_keys(provider).await;
        let done = cfg.clock.now();
        let mut st = slot.state();
        st.attempts += 1;
        st.last_attempt = Some(done);
        match result {
            Ok(keys) => {
                st.last_error = None;
                st.keys = Some(Arc::new(keys));
            }
            Err(e) => {
                bump(&counters.fetch_errors);
                tracing::warn!(
                    issuer = %provider.issuer_url,
                    error = %e,
                    detail = e.detail().unwrap_or(""),
                    stale_keys = cached.is_some(),
                    "OIDC key fetch failed"
                );
                st.last_error = Some(e);
            }
        }
        self.settle(&st, done)
    }

    /// The answer from the current state: fresh or acceptably stale keys, or
    /// the last fetch error.
    fn settle(&self, st: &SlotState, now: SystemTime) -> Result<Arc<KeySet>, VerifyError> {
        match &st.keys {
            Some(keys) => {
                if now >= keys.expires_at {
                    let stale_for = now.duration_since(keys.expires_at).unwrap_or_default();
                    if stale_for > self.inner.config.max_stale {
                        return Err(st.last_error.clone().unwrap_or_else(|| {
                            comm_error(ErrorKind::Fetch, "cached keys are too old")
                        }));
                    }
                    if st.last_error.is_some() {
                        bump(&self.inner.counters.stale_served);
                    }
                }
                Ok(keys.clone())
            }
            None => Err(st
                .last_error
                .clone()
                .unwrap_or_else(|| comm_error(ErrorKind::Fetch, "no keys fetched yet"))),
        }
    }

    fn client(&self, provider: &ProviderTrust) -> Result<reqwest::Client, VerifyError> {
        let cfg = &self.inner.config;
        let verifier = tls::IdpCertVerifier::new(
            self.inner.roots.clone(),
            provider.thumbprints.clone(),
            self.inner.provider.clone(),
        )
        .map_err(|e| comm_error(ErrorKind::Fetch, format!("TLS setup: {e}")))?;
        let tls = tls::client_config(Arc::new(verifier), self.inner.provider.clone())
            .map_err(|e| comm_error(ErrorKind::Fetch, format!("TLS setup: {e}")))?;
        build_client(cfg, tls).map_err(|e| comm_error(ErrorKind::Fetch, e))
    }

    async fn fetch_keys(&self, provider: &ProviderTrust) -> Result<KeySet, VerifyError> {
        let cfg = &self.inner.config;
        let client = self.client(provider)?;
        let limits = Limits {
            total: cfg.connect_timeout + cfg.read_timeout,
            max_body: cfg.max_body_bytes,
        };
        let jwks_uri = discover_jwks_uri(&client, provider.issuer_url(), cfg, limits).await?;
        let fetched = http::get(&client, &jwks_uri, limits)
            .await
            .map_err(|e| fetch_error("JWKS", &jwks_uri, &e))?;
        let doc: Value = serde_json::from_slice(&fetched.body).map_err(|e| {
            comm_error(
                ErrorKind::Discovery,
                format!("JWKS {jwks_uri} is not JSON: {e}"),
            )
        })?;
        let parsed = parse_jwks(&doc, cfg.max_keys)
            .map_err(|e| comm_error(ErrorKind::Discovery, format!("JWKS {jwks_uri}: {e}")))?;
        if !parsed.skipped.is_empty() {
            tracing::info!(issuer = %provider.issuer_url, skipped = ?parsed.skipped, "JWKS keys skipped");
        }
        let ttl = fetched
            .max_age
            .map_or(cfg.default_cache_ttl, Duration::from_secs)
            .clamp(cfg.min_cache_ttl, cfg.max_cache_ttl);
        tracing::debug!(issuer = %provider.issuer_url, keys = parsed.keys.len(), ttl_s = ttl.as_secs(), "JWKS fetched");
        Ok(KeySet {
            keys: parsed.keys,
            expires_at: cfg.clock.now() + ttl,
        })
    }
}

/// A reqwest client with our TLS, timeouts and redirect rules: bounded
/// redirects, never from https to anything else.
pub(crate) fn build_client(
    cfg: &VerifierConfig,
    tls: rustls::ClientConfig,
) -> Result<reqwest::Client, String> {
    let allow_http = cfg.allow_insecure_http;
    let max_redirects = cfg.max_redirects;
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        let scheme = attempt.url().scheme().to_owned();
        if attempt.previous().len() > max_redirects {
            attempt.error(format!("more than {max_redirects} redirects"))
        } else if scheme == "https" || (allow_http && scheme == "http") {
            attempt.follow()
        } else {
            attempt.error(format!("redirect to a {scheme} URL"))
        }
    });
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(cfg.connect_timeout)
        .read_timeout(cfg.read_timeout)
        .redirect(policy)
        .user_agent(concat!("irsa-oidc/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

/// Fetches the discovery document and returns its validated `jwks_uri`.
pub(crate) async fn discover_jwks_uri(
    client: &reqwest::Client,
    issuer_url: &str,
    cfg: &VerifierConfig,
    limits: Limits,
) -> Result<String, VerifyError> {
    let url = format!("{issuer_url}{}", crate::issuer::DISCOVERY_PATH);
    let fetched = http::get(client, &url, limits)
        .await
        .map_err(|e| fetch_error("discovery", &url, &e))?;
    let doc: Value = serde_json::from_slice(&fetched.body).map_err(|e| {
        comm_error(
            ErrorKind::Discovery,
            format!("discovery {url} is not JSON: {e}"),
        )
    })?;
    let issuer = doc.get("issuer").and_then(Value::as_str).unwrap_or("");
    if normalize_issuer_url(issuer, cfg.allow_insecure_http).as_deref() != Ok(issuer_url) {
        return Err(comm_error(
            ErrorKind::Discovery,
            format!(
                "discovery {url}: issuer {issuer:?} does not equal the provider URL {issuer_url}"
            ),
        ));
    }
    let jwks_uri = doc.get("jwks_uri").and_then(Value::as_str).ok_or_else(|| {
        comm_error(
            ErrorKind::Discovery,
            format!("discovery {url}: no jwks_uri"),
        )
    })?;
    let parsed = reqwest::Url::parse(jwks_uri).map_err(|e| {
        comm_error(
            ErrorKind::Discovery,
            format!("discovery {url}: invalid jwks_uri: {e}"),
        )
    })?;
    let http_ok = cfg.allow_insecure_http && issuer_url.starts_with("http://");
    match parsed.scheme() {
        "https" => {}
        "http" if http_ok => {}
        other => {
            return Err(comm_error(
                ErrorKind::Discovery,
                format!("discovery {url}: jwks_uri uses {other}, only https is allowed"),
            ))
        }
    }
    Ok(parsed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_urls_normalise() {
        assert_eq!(
            normalize_issuer_url("https://OIDC.Example.com/id/ABC/", false).unwrap(),
            "https://oidc.example.com/id/ABC"
        );
        assert_eq!(
            normalize_issuer_url("https://h.example:443", false).unwrap(),
            "https://h.example"
        );
        assert_eq!(
            normalize_issuer_url("https://h.example:8443/", false).unwrap(),
            "https://h.example:8443"
        );
        assert!(normalize_issuer_url("http://h.example", false).is_err());
        assert_eq!(
            normalize_issuer_url("http://h.example", true).unwrap(),
            "http://h.example"
        );
        assert!(normalize_issuer_url("https://h.example/?a=b", false).is_err());
        assert!(normalize_issuer_url("https://u:p@h.example", false).is_err());
        assert!(normalize_issuer_url("ftp://h.example", true).is_err());
    }

    #[test]
    fn provider_thumbprints_are_validated() {
        let ok = ProviderTrust::new(
            "https://h.example",
            ["sts.amazonaws.com"],
            ["9E99A48A9960B14926BB7F3B02E22DA2B0AB7280"],
            false,
        )
        .unwrap();
        assert_eq!(
            ok.thumbprints(),
            ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"]
        );
        let err = ProviderTrust::new("https://h.example", ["a"], ["abc"], false).unwrap_err();
        assert_eq!(err, ConfigError::Thumbprint("abc".into()));
    }

    #[test]
    fn claim_helpers() {
        assert_eq!(jwt::numeric_date(&serde_json::json!(12.9)), Some(12));
        assert_eq!(jwt::numeric_date(&serde_json::json!("12")), None);
        assert_eq!(
            string_or_array(&serde_json::json!(["a", "b"])),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(string_or_array(&serde_json::json!(["a", 1])), None);
        assert_eq!(string_or_array(&serde_json::json!(1)), None);
    }
}
