//! `irsa webhook`: a Kubernetes mutating admission webhook that gives pods of an
//! annotated ServiceAccount a projected web-identity token and the AWS SDK env,
//! compatible with amazon-eks-pod-identity-webhook, plus `AWS_ENDPOINT_URL_STS`
//! injection so pods reach an irsa server.
//!
//! - [`mutate()`]: the pure mutation (pod JSON → JSON Patch);
//! - [`admission::review`]: AdmissionReview v1/v1beta1 in, AdmissionReview out;
//! - [`cache::ServiceAccountCache`]: watch cache with grace period and GET fallback;
//! - [`run`]: the HTTPS server wired from [`WebhookArgs`].
//!
//! fsGroup: like upstream, the webhook does not touch `securityContext` by default
//! (kubelet ≥ 1.19 makes the token readable to a pod whose containers share a
//! `runAsUser`, and mode 0644 otherwise). `--non-root-fs-group GID` opts in to
//! adding `fsGroup: GID` to pods that run as non-root and have no `fsGroup`.

pub mod admission;
pub mod cache;
pub mod config;
pub mod metrics;
pub mod mutate;
pub mod server;
pub mod tls;

use std::net::SocketAddr;

pub use admission::{review, AdmissionState, Answer};
pub use cache::{
    Annotations, LookupError, ServiceAccountCache, ServiceAccountLookup, StaticLookup,
};
pub use config::{WebhookArgs, WebhookConfig};
pub use metrics::Metrics;
pub use mutate::{mutate, MutationConfig, MutationOutcome, ServiceAccountConfig, SkipReason};
pub use server::{router, run, serve_tls};

/// Errors that stop the webhook.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Invalid settings, all of them.
    #[error("invalid webhook configuration:\n  {}", .0.join("\n  "))]
    Config(Vec<String>),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("Kubernetes client: {0}")]
    Kube(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}
