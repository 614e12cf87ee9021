//! The STS/IAM service: one entry point ([`AwsApi::handle`]) running the
//! pipeline decode → authenticate → authorize → dispatch → render. The
//! operations below it see only an [`OperationContext`]; errors become
//! HTTP here, once.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock, RwLock};

use async_trait::async_trait;
use irsa_auth::{Authenticator, Authorizer, Caller};
use irsa_core::{AccountId, SharedClock};
use irsa_store::Store;

use crate::context::{OperationContext, RequestInfo};
use crate::error::{not_implemented, ApiError};
use crate::explain::{self, Explanation};
use crate::http::{HttpRequest, HttpResponse};
use crate::metrics::UNKNOWN_ACTION;
use crate::model::{AssumeRoleWithWebIdentityRequest, Request};
use crate::outbound_signer::OutboundTokenSigner;
use crate::protocol::query::{Params, QueryRequest};
use crate::protocol::response::{render, Node, ResponseFormat};
use crate::web_identity::OidcWebIdentity;
use crate::{auth, authorize, iam, lookups, sts, Service};

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
        params: &Params,
        info: &RequestInfo,
    ) -> Result<Node, ApiError>;
}

struct Inner {
    /// What operations see (store, clock, account, authorizer, caches).
    ctx: OperationContext,
    /// Who signed a request (keys cached, session tokens opened).
    authn: Arc<Authenticator>,
    /// AssumeRoleWithWebIdentity (plugged in by the server, which owns the
    /// OIDC verifier's configuration).
    web_identity: OnceLock<Arc<OidcWebIdentity>>,
    /// irsa's own actions by name (registered at start-up).
    extensions: RwLock<Vec<Arc<dyn ExtensionAction>>>,
}

/// The STS + IAM API. Cheap to clone; share one per process. Derefs to
/// its [`OperationContext`] (`api.store()`, `api.account()`, …).
#[derive(Clone)]
pub struct AwsApi {
    inner: Arc<Inner>,
}

impl fmt::Debug for AwsApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsApi")
            .field("account", self.account())
            .finish_non_exhaustive()
    }
}

impl Deref for AwsApi {
    type Target = OperationContext;

    fn deref(&self) -> &OperationContext {
        &self.inner.ctx
    }
}

/// `ExplainWebIdentity` ([`crate::explain`]), registered on every [`AwsApi`].
#[derive(Debug)]
struct ExplainAction;

#[async_trait]
impl ExtensionAction for ExplainAction {
    fn action(&self) -> &'static str {
        explain::ACTION
    }

    async fn handle(
        &self,
        api: &AwsApi,
        caller: &Caller,
        params: &Params,
        info: &RequestInfo,
    ) -> Result<Node, ApiError> {
        let request = explain::authorized_request(api, caller, params, info).await?;
        Ok(api.explain_web_identity(&request, info).await?.to_node())
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
            Arc::new(Authenticator::new(Arc::clone(&store), clock.clone(), account.clone()).await?);
        let authorizer = Arc::new(Authorizer::new(Arc::clone(&store), clock.clone()));
        Ok(AwsApi {
            inner: Arc::new(Inner {
                ctx: OperationContext::new(
                    store,
                    clock,
                    account,
                    Arc::clone(&authenticator),
                    authorizer,
                ),
                authn: authenticator,
                web_identity: OnceLock::new(),
                extensions: RwLock::new(vec![Arc::new(ExplainAction)]),
            }),
        })
    }

    /// Plugs in AssumeRoleWithWebIdentity (once; later calls are ignored and return false).
    pub fn set_web_identity_verifier(&self, web_identity: Arc<OidcWebIdentity>) -> bool {
        self.inner.web_identity.set(web_identity).is_ok()
    }

    /// Plugs in the signer of GetWebIdentityToken (once; later calls return false).
    pub fn set_outbound_token_signer(&self, signer: Arc<dyn OutboundTokenSigner>) -> bool {
        self.inner.ctx.set_outbound_signer(signer)
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
        self.inner.ctx.set_allow_http_providers(allow);
    }

    /// The shared authentication core (the S3 gateway uses the same one).
    pub fn authenticator(&self) -> &Arc<Authenticator> {
        &self.inner.authn
    }

    /// Explains what AssumeRoleWithWebIdentity would answer for `request`,
    /// step by step, without issuing credentials (`ExplainWebIdentity`, and
    /// `irsa explain --data-dir` directly).
    pub async fn explain_web_identity(
        &self,
        request: &AssumeRoleWithWebIdentityRequest,
        info: &RequestInfo,
    ) -> Result<Explanation, ApiError> {
        let Some(web_identity) = self.inner.web_identity.get() else {
            return Err(not_implemented(explain::ACTION));
        };
        Ok(web_identity.explain(self, request, info).await)
    }

    /// The answer to a request refused before it reached the API (e.g. a
    /// body over the server's limit), rendered like every other error.
    pub fn reject(&self, error: &ApiError, accept: Option<&str>, request_id: &str) -> HttpResponse {
        let format = ResponseFormat::from_accept(accept);
        let (content_type, body) = error.render(Service::Sts, format, request_id);
        self.metrics()
            .observe(UNKNOWN_ACTION, error.code.as_str(), 0.0);
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
        let mut metric_action = UNKNOWN_ACTION;
        let started = std::time::Instant::now();
        let outcome = self
            .handle_inner(&request, &mut service, &mut metric_action)
            .await;
        self.metrics().observe(
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
                    let Some(web_identity) = self.inner.web_identity.get() else {
                        return Err(not_implemented(action));
                    };
                    let node = web_identity
                        .assume_role_with_web_identity(self, &r, &info)
                        .await?;
                    Ok((action, Some(node)))
                }
                _ => Err(not_implemented(action)),
            };
        }
        let (caller, scope_service) = auth::authenticate(&self.inner.authn, request).await?;
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
    /// process, and only that (other replicas see it within the caches'
    /// TTLs): see [`crate::invalidation`] for the table.
    fn after_write(&self, action: &str, params: &Params) {
        if lookups::is_read_only(action) {
            return;
        }
        self.lookups().after_write(action, params);
        crate::invalidation::after_write(
            action,
            params,
            self.account(),
            self.authorizer(),
            &self.inner.authn,
        );
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
}

fn is_unsigned_action(action: &str) -> bool {
    matches!(action, "AssumeRoleWithWebIdentity" | "AssumeRoleWithSAML")
}
