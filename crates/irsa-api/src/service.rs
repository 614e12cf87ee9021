//! The STS/IAM service: one entry point ([`AwsApi::handle`]) that decodes a
//! Query request, authenticates it (SigV4, session tokens), authorizes it
//! (irsa-policy), runs the operation against the store and renders the
//! answer. Errors become HTTP here, exactly once.

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use irsa_auth::{Authenticator, Authorizer, Caller, RequestFacts};
use irsa_core::{AccountId, SharedClock};
use irsa_store::{Store, StoreError};
use time::OffsetDateTime;

use crate::auth;
use crate::error::{ApiError, ErrorCode};
use crate::model::{AssumeRoleWithWebIdentityRequest, Request};
use crate::protocol::query::QueryRequest;
use crate::protocol::response::{render, Node, ResponseFormat};
use crate::{authorize, iam, sts, Service};

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

impl RequestInfo {
    /// What the global condition keys (`aws:SourceIp`, …) are made of.
    pub fn facts(&self) -> RequestFacts {
        RequestFacts {
            source_ip: self.source_ip,
            secure_transport: self.secure_transport,
            region: self.region.clone(),
        }
    }
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

/// One of irsa's own signed Query actions (not in botocore's model, e.g.
/// `ExplainWebIdentity`, `IssueServiceAccountToken`): decoded, authenticated,
/// counted and rendered like any other action; the handler authorizes.
#[async_trait]
pub trait ExtensionAction: Send + Sync + fmt::Debug {
    /// The Query `Action` name.
    fn action(&self) -> &'static str;

    async fn handle(
        &self,
        api: &AwsApi,
        caller: &Caller,
        params: &crate::Params,
        info: &RequestInfo,
    ) -> Result<Node, ApiError>;
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: SharedClock,
    pub(crate) account: AccountId,
    /// Who signed a request (keys cached, session tokens opened).
    pub(crate) authn: Arc<Authenticator>,
    /// May they do it (policies cached).
    pub(crate) authz: Arc<Authorizer>,
    pub(crate) web_identity: OnceLock<Arc<dyn WebIdentityVerifier>>,
    pub(crate) outbound: OnceLock<Arc<dyn crate::outbound::OutboundTokenSigner>>,
    /// irsa's own actions by name (registered at start-up).
    pub(crate) extensions: std::sync::RwLock<Vec<Arc<dyn ExtensionAction>>>,
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
        let authenticator =
            Authenticator::new(Arc::clone(&store), clock.clone(), account.clone()).await?;
        let authorizer = Authorizer::new(Arc::clone(&store), clock.clone());
        Ok(AwsApi {
            inner: Arc::new(Inner {
                store,
                clock,
                account,
                authn: Arc::new(authenticator),
                authz: Arc::new(authorizer),
                web_identity: OnceLock::new(),
                outbound: OnceLock::new(),
                extensions: std::sync::RwLock::new(vec![Arc::new(crate::explain::ExplainAction)]),
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

    /// Adds one of irsa's own actions; false when one of that name exists.
    pub fn register_extension(&self, extension: Arc<dyn ExtensionAction>) -> bool {
        let Ok(mut list) = self.inner.extensions.write() else {
            return false;
        };
        if list.iter().any(|e| e.action() == extension.action()) {
            return false;
        }
        list.push(extension);
        true
    }

    fn extension(&self, action: &str) -> Option<Arc<dyn ExtensionAction>> {
        let list = self.inner.extensions.read().ok()?;
        list.iter().find(|e| e.action() == action).cloned()
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

    /// The shared authentication core (the S3 gateway uses the same one).
    pub fn authenticator(&self) -> &Arc<Authenticator> {
        &self.inner.authn
    }

    /// The shared authorization core (the S3 gateway uses the same one).
    pub fn authorizer(&self) -> &Arc<Authorizer> {
        &self.inner.authz
    }

    /// Seals session claims into a session token with the current key.
    pub fn seal_session(
        &self,
        claims: &crate::SessionClaims,
    ) -> Result<irsa_core::SecretString, ApiError> {
        Ok(self.inner.authn.session_keys().seal(claims)?)
    }

    /// The answer to a request refused before it reached the API (e.g. a
    /// body over the server's limit), rendered like every other error.
    pub fn reject(&self, error: &ApiError, accept: Option<&str>, request_id: &str) -> HttpResponse {
        let format = ResponseFormat::from_accept(accept);
        let (content_type, body) = error.render(Service::Sts, format, request_id);
        self.inner
            .metrics
            .observe(crate::metrics::UNKNOWN_ACTION, error.code.as_str(), 0.0);
        HttpResponse {
            status: error.http_status(),
            content_type,
            body,
        }
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
        caller.region().clone_into(&mut info.region);
        if let Some(s) = scope_service {
            *service = s;
        }
        if let Some(extension) = self.extension(&q.action) {
            let action = extension.action();
            *metric_action = action;
            let node = extension.handle(self, &caller, &q.params, &info).await?;
            return Ok((action, Some(node)));
        }
        let req = crate::model::decode_request(&q, scope_service)?;
        let action = req.action();
        tracing::debug!(action, caller = %caller.arn(), "authenticated");
        authorize::authorize(self, &caller, &req, &info).await?;
        let node = self.dispatch(&caller, req, &info).await?;
        // Central invalidation: handlers need not know about the caches.
        self.after_write(action, &q.params);
        Ok((action, node))
    }

    /// Drops what a successful IAM write may have made stale in this
    /// process (other replicas see it within the caches' TTLs).
    fn after_write(&self, action: &str, params: &crate::Params) {
        if crate::lookups::is_read_only(action) {
            return;
        }
        self.inner.lookups.after_write(action, params);
        // Policies: any write may change what applies to whom (a managed
        // policy version, an attachment, a boundary, tags).
        self.inner.authz.invalidate_all();
        if let Some(key_id) = params.get("AccessKeyId") {
            self.inner.authn.invalidate_access_key(key_id);
        }
        if matches!(action, "DeleteUser" | "UpdateUser") {
            if let Some(user) = params.get("UserName") {
                self.inner.authn.invalidate_user(user);
            }
        }
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

    pub(crate) fn now(&self) -> OffsetDateTime {
        self.inner.clock.now_utc()
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
