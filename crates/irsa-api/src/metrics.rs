//! Prometheus metrics of the STS/IAM edge: one counter per action and
//! outcome (`ok` or the AWS error code) and a latency histogram per action.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

/// Label used for requests whose action is not an operation irsa knows, so
/// clients cannot create unbounded label values.
pub(crate) const UNKNOWN_ACTION: &str = "unknown";

#[derive(Debug, Clone)]
pub struct ApiMetrics {
    registry: Registry,
    /// `irsa_api_requests_total{action, outcome}`
    requests: IntCounterVec,
    /// `irsa_api_request_duration_seconds{action}`
    duration: HistogramVec,
    /// `irsa_api_lookup_cache_events_total{entity, event}` (provider/role, hit/miss)
    lookups: IntCounterVec,
}

impl Default for ApiMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ApiMetrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "irsa_api_requests_total",
                "STS and IAM requests by action and outcome (ok or the AWS error code)",
            ),
            &["action", "outcome"],
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "irsa_api_request_duration_seconds",
                "Time to answer STS and IAM requests, by action",
            )
            .buckets(vec![
                0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["action"],
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let lookups = IntCounterVec::new(
            Opts::new(
                "irsa_api_lookup_cache_events_total",
                "AssumeRoleWithWebIdentity provider and role lookups answered from the cache (hit) or the store (miss)",
            ),
            &["entity", "event"],
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(duration.clone()),
            Box::new(lookups.clone()),
        ] {
            registry
                .register(collector)
                .unwrap_or_else(|e| unreachable!("registered once in a fresh registry: {e}"));
        }
        Self {
            registry,
            requests,
            duration,
            lookups,
        }
    }

    /// One provider/role lookup: `event` is `hit` or `miss`.
    pub(crate) fn lookup(&self, entity: &'static str, event: &'static str) {
        self.lookups.with_label_values(&[entity, event]).inc();
    }

    pub(crate) fn observe(&self, action: &'static str, outcome: &str, seconds: f64) {
        self.requests.with_label_values(&[action, outcome]).inc();
        self.duration.with_label_values(&[action]).observe(seconds);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        if let Err(err) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::warn!(error = %err, "cannot encode metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_outcomes_per_action() {
        let metrics = ApiMetrics::new();
        metrics.observe("AssumeRoleWithWebIdentity", "ok", 0.001);
        metrics.observe("AssumeRoleWithWebIdentity", "AccessDenied", 0.002);
        metrics.observe("AssumeRoleWithWebIdentity", "AccessDenied", 0.002);
        let text = metrics.render();
        assert!(text.contains(
            r#"irsa_api_requests_total{action="AssumeRoleWithWebIdentity",outcome="AccessDenied"} 2"#
        ), "{text}");
        assert!(text.contains(
            r#"irsa_api_requests_total{action="AssumeRoleWithWebIdentity",outcome="ok"} 1"#
        ));
        assert!(text.contains(
            r#"irsa_api_request_duration_seconds_count{action="AssumeRoleWithWebIdentity"} 3"#
        ));
    }
}
