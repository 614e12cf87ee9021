//! The STS/IAM service: one entry point ([`AwsApi::handle`]) that decodes a
//! Query request, authenticates it (SigV4, session tokens), authorizes it
//! (irsa-policy), runs the operation against the store and renders the
//! answer. Errors become HTTP here, exactly once.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use async_trait::async_trait;
use irsa_core::{AccountId, SecretBytes, SharedClock};
use irsa_store::{NewServerKey, Store, StoreError};
use time::OffsetDateTime;

use crate::auth::{self, Caller};
use crate::error::{ApiError, ErrorCode};
use crate::model::{AssumeRoleWithWebIdentityRequest, Request};
use crate::protocol::query::QueryRequest;
use crate::protocol::response::{render, Node, ResponseFormat};
use crate::session_token::{KeyRing, SessionKey, KEY_LEN};
use crate::{authorize, iam, sts, Service};

/// Purpose of the session-token keys in the store's key ring.
pub const SESSION_TOKEN_KEY_PURPOSE: &str = "session-token";

/// One HTTP request as the server received it.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    pub method: &'a str,
    /// Raw path, still percent-encoded.
    pub path: &'a str,
    /// Raw query string without `?` (may be empty).
    pub query: &'a str,
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
    pub request_id: &'a str,
    pub source_ip: Option<IpAddr>,
    pub secure_transport: bool,
}

/// What to send back (the server adds `x-amzn-RequestId`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

/// Facts about the request that policies and handlers look at.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    pub request_id: String,
    pub source_ip: Option<IpAddr>,
    pub secure_transport: bool,
    /// Region of the SigV4 scope (`us-east-1` for unsigned calls).
    pub region: String,
}

/// AssumeRoleWithWebIdentity, provided by the OIDC side of irsa and plugged
/// in with [`AwsApi::set_web_identity_verifier`]. It answers the content of
/// `AssumeRoleWithWebIdentityResult`; [`AwsApi::seal_session`] issues tokens.
#[async_trait]
pub trait WebIdentityVerifier: Send + Sync + fmt::Debug {
    async fn assume_role_with_web_identity(
        &self,
        api: &AwsApi,
        request: &AssumeRoleWithWebIdentityRequest,
        info: &RequestInfo,
    ) -> Result<Node, ApiError>;

    /// Explains what [`Self::assume_role_with_web_identity`] would answer,
    /// step by step, without issuing credentials (`irsa explain`).
    async fn explain(
        &self,
        _api: &AwsApi,
        request: &AssumeRoleWithWebIdentityRequest,
        _info: &RequestInfo,
    ) -> crate::explain::Explanation {
        let err = not_implemented("AssumeRoleWithWebIdentity");
        crate::explain::Explanation {
            role_arn: request.role_arn.clone(),
            steps: Vec::new(),
            outcome: crate::explain::Outcome::from_result::<()>(&Err(err)),
        }
    }
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: SharedClock,
    pub(crate) account: AccountId,
    /// The session-token key ring and when it was last loaded.
    pub(crate) keys: RwLock<(Arc<KeyRing>, OffsetDateTime)>,
    pub(crate) web_identity: OnceLock<Arc<dyn WebIdentityVerifier>>,
    pub(crate) outbound: OnceLock<Arc<dyn crate::outbound::OutboundTokenSigner>>,
    pub(crate) policies: authorize::PolicyCache,
    /// Access key id → when its use was last written (throttles the writes).
    pub(crate) key_use: Mutex<HashMap<String, OffsetDateTime>>,
    pub(crate) metrics: crate::metrics::ApiMetrics,
    /// Providers and roles for AssumeRoleWithWebIdentity (short TTL).
    pub(crate) lookups: crate::lookups::LookupCache,
    /// IAM accepts `http://` OIDC provider URLs (`--allow-insecure-issuer`).
    pub(crate) allow_http_providers: std::sync::atomic::AtomicBool,
}

/// The STS + IAM API. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct AwsApi {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for AwsApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsApi")
            .field("account", &self.inner.account)
            .finish_non_exhaustive()
    }
}

/// Maps store failures onto AWS errors (the one place that does).
pub fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::AlreadyExists { .. } => {
            ApiError::new(ErrorCode::EntityAlreadyExists, e.to_string())
        }
        StoreError::NotFound { .. } => ApiError::new(ErrorCode::NoSuchEntity, e.to_string()),
        StoreError::LimitExceeded { .. } => ApiError::new(ErrorCode::LimitExceeded, e.to_string()),
        StoreError::DeleteConflict { .. } => {
            ApiError::new(ErrorCode::DeleteConflict, e.to_string())
        }
        StoreError::InvalidInput(m) => ApiError::new(ErrorCode::InvalidInput, m),
        StoreError::Unavailable(_)
        | StoreError::Backend(_)
        | StoreError::Crypto(_)
        | StoreError::Config(_) => ApiError::service_failure(&e),
    }
}

impl AwsApi {
    /// Loads the session-token key ring from the store, creating its first
    /// key if there is none (replicas racing here agree on one key).
    pub async fn new(
        store: Arc<dyn Store>,
        clock: SharedClock,
        account: AccountId,
    ) -> Result<AwsApi, ApiError> {
        let now = clock.now_utc();
        let keys = load_key_ring(store.as_ref(), now).await?;
        Ok(AwsApi {
            inner: Arc::new(Inner {
                store,
                clock,
                account,
                keys: RwLock::new((Arc::new(keys), now)),
                web_identity: OnceLock::new(),
                outbound: OnceLock::new(),
                policies: authorize::PolicyCache::default(),
                key_use: Mutex::new(HashMap::new()),
                metrics: crate::metrics::ApiMetrics::new(),
                lookups: crate::lookups::LookupCache::default(),
                allow_http_providers: std::sync::atomic::AtomicBool::new(false),
            }),
        })
    }

    /// Plugs in AssumeRoleWithWebIdentity (once; later calls are ignored and return false).
    pub fn set_web_identity_verifier(&self, verifier: Arc<dyn WebIdentityVerifier>) -> bool {
        self.inner.web_identity.set(verifier).is_ok()
    }

    /// Plugs in the signer of GetWebIdentityToken (once; later calls return false).
    pub fn set_outbound_token_signer(
        &self,
        signer: Arc<dyn crate::outbound::OutboundTokenSigner>,
    ) -> bool {
        self.inner.outbound.set(signer).is_ok()
    }

    pub(crate) fn outbound_signer(&self) -> Option<&Arc<dyn crate::outbound::OutboundTokenSigner>> {
        self.inner.outbound.get()
    }

    /// Lets IAM CreateOpenIDConnectProvider accept `http://` URLs (off by
    /// default, as in AWS; `irsa serve --allow-insecure-issuer` turns it on).
    pub fn set_allow_http_providers(&self, allow: bool) {
        self.inner
            .allow_http_providers
            .store(allow, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn allow_http_providers(&self) -> bool {
        self.inner
            .allow_http_providers
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Request counters and latency histograms (Prometheus).
    pub fn metrics(&self) -> &crate::metrics::ApiMetrics {
        &self.inner.metrics
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    pub fn account(&self) -> &AccountId {
        &self.inner.account
    }

    /// Seals session claims into a session token with the current key.
    pub fn seal_session(
        &self,
        claims: &crate::SessionClaims,
    ) -> Result<irsa_core::SecretString, ApiError> {
        crate::session_token::seal(claims, self.key_ring().current())
            .map(irsa_core::SecretString::new)
            .map_err(ApiError::from)
    }

    /// Handles one request end to end; never panics, never a 500 for a client mistake.
    pub async fn handle(&self, request: HttpRequest<'_>) -> HttpResponse {
        let accept = request
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        let format = ResponseFormat::from_accept(accept);
        let mut service = Service::Sts;
        let mut metric_action = crate::metrics::UNKNOWN_ACTION;
        let started = std::time::Instant::now();
        let outcome = self
            .handle_inner(&request, &mut service, &mut metric_action)
            .await;
        self.inner.metrics.observe(
            metric_action,
            outcome.as_ref().map_or_else(|e| e.code.as_str(), |_| "ok"),
            started.elapsed().as_secs_f64(),
        );
        let (status, (content_type, body)) = match outcome {
            Ok((action, node)) => (
                200,
                render(service, action, node.as_ref(), request.request_id, format),
            ),
            Err(e) => {
                tracing::debug!(code = e.code.as_str(), message = %e.message, request_id = request.request_id, "request failed");
                (
                    e.http_status(),
                    e.render(service, format, request.request_id),
                )
            }
        };
        HttpResponse {
            status,
            content_type,
            body,
        }
    }

    async fn handle_inner(
        &self,
        request: &HttpRequest<'_>,
        service: &mut Service,
        metric_action: &mut &'static str,
    ) -> Result<(&'static str, Option<Node>), ApiError> {
        let query = (!request.query.is_empty()).then_some(request.query.as_bytes());
        let body = (request.method.eq_ignore_ascii_case("POST") && !request.body.is_empty())
            .then_some(request.body);
        let q = QueryRequest::decode(query, body)?;
        if let Some(op) = crate::model::operation(&q.action) {
            *service = op.service;
            *metric_action = op.name;
        }
        let mut info = RequestInfo {
            request_id: request.request_id.to_owned(),
            source_ip: request.source_ip,
            secure_transport: request.secure_transport,
            region: "us-east-1".to_owned(),
        };
        if is_unsigned_action(&q.action) {
            let req = crate::model::decode_request(&q, None)?;
            let action = req.action();
            return match req {
                Request::AssumeRoleWithWebIdentity(r) => {
                    let Some(v) = self.inner.web_identity.get() else {
                        return Err(not_implemented(action));
                    };
                    let node = v.assume_role_with_web_identity(self, &r, &info).await?;
                    Ok((action, Some(node)))
                }
                _ => Err(not_implemented(action)),
            };
        }
        let (caller, scope_service) = auth::authenticate(self, request).await?;
        info.region.clone_from(&caller.region);
        if let Some(s) = scope_service {
            *service = s;
        }
        if q.action == crate::explain::ACTION {
            *metric_action = crate::explain::ACTION;
            let node = crate::explain::handle(self, &caller, &q.params, &info).await?;
            return Ok((crate::explain::ACTION, Some(node)));
        }
        let req = crate::model::decode_request(&q, scope_service)?;
        let action = req.action();
        tracing::debug!(action, caller = %caller.arn(), "authenticated");
        authorize::authorize(self, &caller, &req, &info).await?;
        let node = self.dispatch(&caller, req, &info).await?;
        // Central invalidation: handlers need not know about the cache.
        self.inner.lookups.after_write(action, &q.params);
        Ok((action, node))
    }

    async fn dispatch(
        &self,
        caller: &Caller,
        req: Request,
        info: &RequestInfo,
    ) -> Result<Option<Node>, ApiError> {
        match req.service() {
            Service::Sts => sts::dispatch(self, caller, req, info).await,
            Service::Iam => iam::dispatch(self, caller, req, info).await,
        }
    }

    /// The current session-token key ring.
    pub(crate) fn key_ring(&self) -> Arc<KeyRing> {
        match self.inner.keys.read() {
            Ok(g) => Arc::clone(&g.0),
            Err(poisoned) => Arc::clone(&poisoned.into_inner().0),
        }
    }

    /// Reloads the key ring from the store (another replica may have
    /// rotated it), at most every 30 seconds. True when reloaded.
    pub(crate) async fn refresh_key_ring(&self) -> bool {
        let now = self.now();
        let last = match self.inner.keys.read() {
            Ok(g) => g.1,
            Err(poisoned) => poisoned.into_inner().1,
        };
        if now - last < time::Duration::seconds(30) {
            return false;
        }
        match load_key_ring(self.inner.store.as_ref(), now).await {
            Ok(ring) => {
                if let Ok(mut g) = self.inner.keys.write() {
                    *g = (Arc::new(ring), now);
                }
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not reload the session-token key ring");
                false
            }
        }
    }

    pub(crate) fn now(&self) -> OffsetDateTime {
        self.inner.clock.now_utc()
    }

    /// Records the use of a long-term key off the hot path, at most once a minute per key.
    pub(crate) fn note_key_use(&self, key_id: &str, service: &str, region: &str) {
        let now = self.now();
        {
            let Ok(mut seen) = self.inner.key_use.lock() else {
                return;
            };
            if seen
                .get(key_id)
                .is_some_and(|t| now - *t < time::Duration::seconds(60))
            {
                return;
            }
            if seen.len() > 10_000 {
                seen.clear();
            }
            seen.insert(key_id.to_owned(), now);
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = Arc::clone(&self.inner.store);
        let (key_id, service, region) = (key_id.to_owned(), service.to_owned(), region.to_owned());
        rt.spawn(async move {
            if let Err(e) = store
                .record_access_key_use(&key_id, &service, &region)
                .await
            {
                tracing::warn!(error = %e, "could not record access key use");
            }
        });
    }
}

fn is_unsigned_action(action: &str) -> bool {
    matches!(action, "AssumeRoleWithWebIdentity" | "AssumeRoleWithSAML")
}

/// The answer for operations irsa does not implement (yet).
pub fn not_implemented(action: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidAction,
        format!("Operation {action} is not implemented by irsa yet"),
    )
}

async fn load_key_ring(store: &dyn Store, now: OffsetDateTime) -> Result<KeyRing, ApiError> {
    let usable = |k: &irsa_store::ServerKey| k.expires.is_none_or(|e| e > now);
    let mut listed = store
        .list_server_keys(SESSION_TOKEN_KEY_PURPOSE)
        .await
        .map_err(store_error)?;
    if !listed.iter().any(|k| k.active && usable(k)) {
        let fresh = SessionKey::generate(format!("st-{:016x}", rand::random::<u64>()))?;
        store
            .insert_server_key_if_absent(NewServerKey {
                purpose: SESSION_TOKEN_KEY_PURPOSE.to_owned(),
                key_id: fresh.id().to_owned(),
                algorithm: "XChaCha20-Poly1305".to_owned(),
                secret: SecretBytes::new(fresh.secret().expose().to_vec()),
                public: None,
                not_before: None,
                retire_after: None,
                expires: None,
            })
            .await
            .map_err(store_error)?;
        listed = store
            .list_server_keys(SESSION_TOKEN_KEY_PURPOSE)
            .await
            .map_err(store_error)?;
    }
    // Newest active key that may issue now seals; every unexpired key opens.
    let mut sealing: Vec<&irsa_store::ServerKey> = listed
        .iter()
        .filter(|k| {
            k.active
                && usable(k)
                && k.not_before <= now
                && k.retire_after.is_none_or(|r| r > now)
                && k.secret.len() == KEY_LEN
        })
        .collect();
    sealing.sort_by_key(|k| k.created);
    let current = sealing
        .last()
        .ok_or_else(|| ApiError::service_failure(&"no usable session-token key"))?;
    let mut keys = vec![SessionKey::new(
        current.key_id.clone(),
        current.secret.clone(),
    )?];
    for k in listed.iter().rev() {
        if k.key_id != current.key_id && usable(k) && k.secret.len() == KEY_LEN {
            if let Ok(key) = SessionKey::new(k.key_id.clone(), k.secret.clone()) {
                keys.push(key);
            }
        }
    }
    Ok(KeyRing::new(keys)?)
}
