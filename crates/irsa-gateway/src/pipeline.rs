//! The service-neutral steps every front runs: authenticate (SigV4 with the
//! shared core), authorize a list of checks (identity, session, boundary
//! and resource policies), audit denials, and reach the upstream.

use std::sync::Arc;

use irsa_auth::{
    AuthError, Authenticated, Authenticator, Authorizer, Caller, Check, Denial, PrincipalPolicies,
    RequestFacts, Verdict,
};
use irsa_core::{AccountId, SharedClock};
use irsa_sigv4::{Payload, RequestParts, SigV4Config};

use crate::front::ConnectionInfo;
use crate::metrics::GatewayMetrics;
use crate::upstream::Upstream;

/// The shared machinery behind every front.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub authenticator: Arc<Authenticator>,
    pub authorizer: Arc<Authorizer>,
    pub upstream: Upstream,
    pub metrics: GatewayMetrics,
    pub clock: SharedClock,
    /// The account that owns every resource behind the gateway.
    pub account: AccountId,
}

/// The parts of a request SigV4 verification reads; the body is checked
/// later, while it streams ([`Payload::Deferred`]).
pub fn signed_request(parts: &http::request::Parts) -> RequestParts<'_> {
    let mut request = RequestParts::new(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query().unwrap_or(""),
        Payload::Deferred,
    );
    request.headers.reserve(parts.headers.len());
    for (name, value) in &parts.headers {
        request.headers.push((name.as_str(), value.as_bytes()));
    }
    request
}

impl Pipeline {
    /// Verifies the request's signature and says who sent it.
    pub async fn authenticate(
        &self,
        config: &SigV4Config,
        request: &RequestParts<'_>,
    ) -> Result<Authenticated, AuthError> {
        self.authenticator.authenticate(config, request).await
    }

    /// The facts `aws:*` global condition keys come from.
    pub fn facts(connection: &ConnectionInfo, region: &str) -> RequestFacts {
        RequestFacts {
            source_ip: Some(connection.peer.ip()),
            secure_transport: connection.secure_transport,
            region: region.to_owned(),
        }
    }

    /// The policies that apply to a caller (`None` for the root, whom
    /// identity policies do not limit), loaded once per request.
    pub async fn caller_policies(
        &self,
        caller: &Caller,
    ) -> Result<Option<Arc<PrincipalPolicies>>, AuthError> {
        if caller.is_root() {
            Ok(None)
        } else {
            Ok(Some(self.authorizer.caller_policies(caller).await?))
        }
    }

    /// Decides every check (all of them, so a front can answer per item,
    /// as DeleteObjects does) with the caller's loaded policies.
    pub fn decide_all(
        &self,
        caller: &Caller,
        policies: Option<&PrincipalPolicies>,
        facts: &RequestFacts,
        checks: &[Check<'_>],
    ) -> Vec<Verdict> {
        checks
            .iter()
            .map(|check| self.authorizer.decide(caller, policies, facts, check))
            .collect()
    }

    /// Decides every check, loading the caller's policies once.
    pub async fn authorize(
        &self,
        caller: &Caller,
        facts: &RequestFacts,
        checks: &[Check<'_>],
    ) -> Result<Vec<Verdict>, AuthError> {
        let policies = self.caller_policies(caller).await?;
        Ok(self.decide_all(caller, policies.as_deref(), facts, checks))
    }

    /// Decides every check of an unsigned request (the anonymous
    /// principal: only a bucket policy granting to everyone allows).
    pub fn authorize_anonymous(&self, facts: &RequestFacts, checks: &[Check<'_>]) -> Vec<Verdict> {
        checks
            .iter()
            .map(|check| self.authorizer.decide_anonymous(facts, check))
            .collect()
    }

    /// The audit line of a denial: who, what, on what, and the statement
    /// that decided (for explicit denies).
    pub fn audit_denial(
        service: &str,
        request_id: &str,
        connection: &ConnectionInfo,
        denial: &Denial,
    ) {
        tracing::info!(
            target: "irsa::audit",
            service,
            request_id,
            principal = %denial.principal_arn,
            action = %denial.action,
            resource = %denial.resource,
            reason = ?denial.reason,
            deciding_statement = denial.deciding.as_deref().unwrap_or("none (no statement allows it)"),
            source_ip = %connection.peer.ip(),
            "access denied"
        );
    }
}
