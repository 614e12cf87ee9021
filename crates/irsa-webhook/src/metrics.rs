//! Prometheus metrics of the webhook (the `prometheus` crate, text format).

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

/// All webhook metrics, registered in their own registry.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// `irsa_webhook_requests_total{outcome}`: admission requests by outcome
    /// (`mutated`, `skipped`, `ignored`, `error`, `rejected`).
    pub requests: IntCounterVec,
    /// `irsa_webhook_mutations_total`: pods patched.
    pub mutations: IntCounter,
    /// `irsa_webhook_skips_total{reason}`: pods left unchanged, by reason.
    pub skips: IntCounterVec,
    /// `irsa_webhook_sa_cache_hits_total{path}`: `immediate` or `after_wait`.
    pub sa_cache_hits: IntCounterVec,
    /// `irsa_webhook_sa_cache_misses_total`: SA not in the cache on arrival.
    pub sa_cache_misses: IntCounter,
    /// `irsa_webhook_sa_cache_fallbacks_total{result}`: direct GETs (`found`, `not_found`, `error`).
    pub sa_cache_fallbacks: IntCounterVec,
    /// `irsa_webhook_request_duration_seconds`: handler latency.
    pub duration: Histogram,
}

impl Metrics {
    /// Creates and registers every metric.
    ///
    /// # Panics
    /// Never in practice: names are static and registered once in a fresh registry.
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "irsa_webhook_requests_total",
                "Admission requests by outcome",
            ),
            &["outcome"],
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let mutations = IntCounter::new("irsa_webhook_mutations_total", "Pods mutated")
            .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let skips = IntCounterVec::new(
            Opts::new("irsa_webhook_skips_total", "Pods not mutated, by reason"),
            &["reason"],
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let sa_cache_hits = IntCounterVec::new(
            Opts::new(
                "irsa_webhook_sa_cache_hits_total",
                "ServiceAccount found in the watch cache",
            ),
            &["path"],
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let sa_cache_misses = IntCounter::new(
            "irsa_webhook_sa_cache_misses_total",
            "ServiceAccount not in the watch cache when the pod arrived",
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let sa_cache_fallbacks = IntCounterVec::new(
            Opts::new(
                "irsa_webhook_sa_cache_fallbacks_total",
                "Direct API GETs after the grace period, by result",
            ),
            &["result"],
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let duration = Histogram::with_opts(
            HistogramOpts::new(
                "irsa_webhook_request_duration_seconds",
                "Time to answer an admission review",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(mutations.clone()),
            Box::new(skips.clone()),
            Box::new(sa_cache_hits.clone()),
            Box::new(sa_cache_misses.clone()),
            Box::new(sa_cache_fallbacks.clone()),
            Box::new(duration.clone()),
        ] {
            registry
                .register(collector)
                .unwrap_or_else(|e| unreachable!("fresh registry: {e}"));
        }
        Self {
            registry,
            requests,
            mutations,
            skips,
            sa_cache_hits,
            sa_cache_misses,
            sa_cache_fallbacks,
            duration,
        }
    }

    /// Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metric families.
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!(error = %e, "encoding metrics failed");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
