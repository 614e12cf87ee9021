//! What the STS/IAM operations run against: [`OperationContext`] (store,
//! clock, account, the shared authorizer, session-token sealing, the
//! AssumeRoleWithWebIdentity lookups, the outbound token signer) and
//! [`RequestInfo`] (the facts of one request). Operations take these, never
//! the whole [`crate::AwsApi`], so they sit below the service and cannot
//! reach its pipeline (authentication, extensions, web identity).

use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use irsa_auth::{Authenticator, Authorizer, RequestFacts, SessionClaims};
use irsa_core::{AccountId, SecretString, SharedClock};
use irsa_store::Store;
use time::OffsetDateTime;

use crate::error::ApiError;
use crate::lookups::{CachedProvider, CachedRole, LookupCache};
use crate::metrics::ApiMetrics;
use crate::outbound_signer::OutboundTokenSigner;

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

/// The state every operation may use. [`crate::AwsApi`] owns one and
/// derefs to it, so `api.store()`, `api.account()`, … read it.
pub struct OperationContext {
    store: Arc<dyn Store>,
    clock: SharedClock,
    account: AccountId,
    /// Held for its session-token key ring only: operations seal tokens,
    /// they never authenticate.
    authn: Arc<Authenticator>,
    authz: Arc<Authorizer>,
    outbound: OnceLock<Arc<dyn OutboundTokenSigner>>,
    lookups: LookupCache,
    metrics: ApiMetrics,
    /// IAM accepts `http://` OIDC provider URLs (`--allow-insecure-issuer`).
    allow_http_providers: AtomicBool,
}

impl fmt::Debug for OperationContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperationContext")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl OperationContext {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        clock: SharedClock,
        account: AccountId,
        authenticator: Arc<Authenticator>,
        authorizer: Arc<Authorizer>,
    ) -> Self {
        Self {
            store,
            clock,
            account,
            authn: authenticator,
            authz: authorizer,
            outbound: OnceLock::new(),
            lookups: LookupCache::default(),
            metrics: ApiMetrics::new(),
            allow_http_providers: AtomicBool::new(false),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    pub fn account(&self) -> &AccountId {
        &self.account
    }

    /// The shared authorization core (the S3 gateway uses the same one).
    pub fn authorizer(&self) -> &Arc<Authorizer> {
        &self.authz
    }

    /// Request counters and latency histograms (Prometheus).
    pub fn metrics(&self) -> &ApiMetrics {
        &self.metrics
    }

    pub fn allow_http_providers(&self) -> bool {
        self.allow_http_providers.load(Ordering::Relaxed)
    }

    pub(crate) fn set_allow_http_providers(&self, allow: bool) {
        self.allow_http_providers.store(allow, Ordering::Relaxed);
    }

    pub(crate) fn now(&self) -> OffsetDateTime {
        self.clock.now_utc()
    }

    /// Seals session claims into a session token with the current key.
    pub(crate) fn seal_session(&self, claims: &SessionClaims) -> Result<SecretString, ApiError> {
        Ok(self.authn.session_keys().seal(claims)?)
    }

    pub(crate) fn outbound_signer(&self) -> Option<&Arc<dyn OutboundTokenSigner>> {
        self.outbound.get()
    }

    /// Plugs in the signer of GetWebIdentityToken (once; later calls return false).
    pub(crate) fn set_outbound_signer(&self, signer: Arc<dyn OutboundTokenSigner>) -> bool {
        self.outbound.set(signer).is_ok()
    }

    pub(crate) fn lookups(&self) -> &LookupCache {
        &self.lookups
    }

    /// The OIDC provider registered for the token issuer `iss` (cached).
    pub(crate) async fn provider(
        &self,
        iss: &str,
        allow_http: bool,
    ) -> Result<Option<Arc<CachedProvider>>, ApiError> {
        self.lookups
            .provider(
                self.store.as_ref(),
                &self.metrics,
                self.now(),
                iss,
                allow_http,
            )
            .await
    }

    /// The role `name` with its parsed trust policy (cached).
    pub(crate) async fn role(&self, name: &str) -> Result<Option<Arc<CachedRole>>, ApiError> {
        self.lookups
            .role(
                self.store.as_ref(),
                &self.metrics,
                &self.authz,
                self.now(),
                name,
            )
            .await
    }
}
