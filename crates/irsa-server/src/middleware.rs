//! Cross-cutting HTTP layers: request ids and per-request tracing spans.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The id of one request, shared by the response header, the AWS
/// `ResponseMetadata/RequestId` and every log line of the request.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// AWS clients read this header; SDKs print it in error messages.
pub const REQUEST_ID_HEADER: &str = "x-amzn-requestid";

/// Gives every request a fresh UUID-shaped id, runs it inside a tracing span,
/// sets the `x-amzn-RequestId` response header and logs the outcome.
pub async fn request_context(mut request: Request, next: Next) -> Response {
    // Unique without a getrandom syscall per request (see irsa-core).
    let request_id = irsa_core::UniqueRequestId::next().to_uuid_string();
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));
    let span = tracing::info_span!(
        "request",
        // Recorded as strings: no formatting machinery per request.
        request_id = request_id.as_str(),
        method = request.method().as_str(),
        path = request.uri().path(),
    );
    async move {
        let started = std::time::Instant::now();
        let mut response = next.run(request).await;
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
        let status = response.status().as_u16();
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::warn!(status, elapsed_ms, "request failed");
        } else {
            tracing::debug!(status, elapsed_ms, "request served");
        }
        response
    }
    .instrument(span)
    .await
}
