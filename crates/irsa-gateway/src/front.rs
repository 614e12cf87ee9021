//! The seam between the service-neutral pipeline and one service's
//! protocol. S3 is the first [`Front`]; a DynamoDB front (JSON protocol,
//! `X-Amz-Target`) would be another, reusing [`crate::Pipeline`] for
//! authentication, authorization, signing and forwarding.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;

use crate::body::GatewayBody;

/// What the gateway knows about the connection a request came on.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub peer: SocketAddr,
    /// HTTPS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// `"1.2"` or `"1.3"` over HTTPS (`s3:TlsVersion`).
    pub tls_version: Option<&'static str>,
}

/// One service's protocol on top of the pipeline: classify requests into
/// IAM checks, answer its own errors, decide what to forward.
#[async_trait::async_trait]
pub trait Front: Send + Sync + 'static {
    /// The service name (`s3`): metrics prefix and log field.
    fn service(&self) -> &'static str;

    /// Answers one request. Never fails: errors are the service's own
    /// error documents.
    async fn handle(
        &self,
        connection: &ConnectionInfo,
        request: Request<Incoming>,
    ) -> Response<GatewayBody>;

    /// The answer to a request head over the listener's limits (too many
    /// headers, or more than `max_head_bytes`), which hyper would answer
    /// with a bare 431. `None` keeps hyper's.
    fn head_too_large(&self, max_head_bytes: usize) -> Option<Response<Bytes>> {
        let _ = max_head_bytes;
        None
    }
}
