//! Prometheus metrics of a gateway front, named after its service
//! (`irsa_s3_…`): requests by operation and outcome, request duration,
//! body bytes in and out.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

/// Operation label of requests that could not be classified.
pub const UNKNOWN_OPERATION: &str = "unknown";

#[derive(Debug, Clone)]
pub struct GatewayMetrics {
    registry: Registry,
    /// `irsa_<service>_requests_total{operation, outcome}`: outcome is `ok`,
    /// the error code the gateway answered, or `upstream_<status>`.
    requests: IntCounterVec,
    /// `irsa_<service>_request_duration_seconds{operation}` (to response headers).
    duration: HistogramVec,
    /// `irsa_<service>_received_bytes_total`: request body bytes from clients.
    received: IntCounter,
    /// `irsa_<service>_sent_bytes_total`: response body bytes to clients.
    sent: IntCounter,
}

impl GatewayMetrics {
    /// Metrics for the front of `service` (`s3`).
    pub fn new(service: &str) -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                format!("irsa_{service}_requests_total"),
                format!("{service} gateway requests by operation and outcome (ok, the error code answered, or upstream_STATUS)"),
            ),
            &["operation", "outcome"],
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let duration = HistogramVec::new(
            HistogramOpts::new(
                format!("irsa_{service}_request_duration_seconds"),
                format!("Time until the {service} gateway sent the response headers, by operation"),
            )
            .buckets(vec![
                0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 30.0, 60.0,
            ]),
            &["operation"],
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let received = IntCounter::new(
            format!("irsa_{service}_received_bytes_total"),
            format!("Request body bytes the {service} gateway received from clients"),
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let sent = IntCounter::new(
            format!("irsa_{service}_sent_bytes_total"),
            format!("Response body bytes the {service} gateway sent to clients"),
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(duration.clone()),
            Box::new(received.clone()),
            Box::new(sent.clone()),
        ] {
            registry
                .register(collector)
                .unwrap_or_else(|e| unreachable!("registered once in a fresh registry: {e}"));
        }
        Self {
            registry,
            requests,
            duration,
            received,
            sent,
        }
    }

    pub fn observe(&self, operation: &str, outcome: &str, seconds: f64) {
        self.requests.with_label_values(&[operation, outcome]).inc();
        self.duration
            .with_label_values(&[operation])
            .observe(seconds);
    }

    /// Requests counted for an operation and outcome (tests).
    pub fn request_count(&self, operation: &str, outcome: &str) -> u64 {
        self.requests.with_label_values(&[operation, outcome]).get()
    }

    pub fn received(&self) -> IntCounter {
        self.received.clone()
    }

    pub fn sent(&self) -> IntCounter {
        self.sent.clone()
    }

    /// Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!(error = %e, "cannot encode gateway metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}
