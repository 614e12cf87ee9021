//! Cross-cutting HTTP layer: request ids, per-request tracing spans and the
//! request timeout, in one tower layer.

use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};
use tracing::Instrument;

/// The id of one request, shared by the response header, the AWS
/// `ResponseMetadata/RequestId` and every log line of the request.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// AWS clients read this header; SDKs print it in error messages.
pub const REQUEST_ID_HEADER: &str = "x-amzn-requestid";

/// Gives every request a fresh UUID-shaped id, runs it inside a tracing
/// span, answers 503 when it takes longer than the timeout (SDKs retry
/// that), sets the `x-amzn-RequestId` response header and logs the outcome.
///
/// One hand-written layer instead of `from_fn` plus tower-http's timeout:
/// no per-request boxing of the inner service, and the timer is armed only
/// when the request waits (most calls finish on their first poll).
#[derive(Debug, Clone, Copy)]
pub struct RequestContextLayer {
    timeout: Duration,
}

impl RequestContextLayer {
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl<S> Layer<S> for RequestContextLayer {
    type Service = RequestContext<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestContext {
            inner,
            timeout: self.timeout,
        }
    }
}

/// The service [`RequestContextLayer`] wraps around the router's routes.
#[derive(Debug, Clone)]
pub struct RequestContext<S> {
    inner: S,
    timeout: Duration,
}

impl<S> Service<Request> for RequestContext<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let started = Instant::now();
        // Unique without a getrandom syscall per request (see irsa-core).
        let request_id = irsa_core::UniqueRequestId::next().to_uuid_string();
        let span = tracing::info_span!(
            "request",
            // Recorded as strings: no formatting machinery per request.
            request_id = request_id.as_str(),
            method = request.method().as_str(),
            path = request.uri().path(),
        );
        request
            .extensions_mut()
            .insert(RequestId(request_id.clone()));
        let future = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        let timeout = self.timeout;
        Box::pin(
            async move {
                let mut response = match finish_by(future, started + timeout).await {
                    Some(Ok(response)) => response,
                    Some(Err(never)) => match never {},
                    None => {
                        tracing::warn!(timeout_ms = timeout.as_millis(), "request timed out");
                        StatusCode::SERVICE_UNAVAILABLE.into_response()
                    }
                };
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
                Ok(response)
            }
            .instrument(span),
        )
    }
}

/// `future`'s output, or `None` once `deadline` passes first. The timer is
/// created only when `future` is not ready on its first poll.
async fn finish_by<F: Future>(future: F, deadline: Instant) -> Option<F::Output> {
    let mut future = pin!(future);
    let mut timer: Option<Pin<Box<Sleep>>> = None;
    poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)))
            .as_mut()
            .poll(cx)
            .map(|()| None)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    fn app() -> Router {
        Router::new()
            .route("/fast", get(|| async { "ok" }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    "late"
                }),
            )
            .route(
                "/id",
                get(|request: Request| async move {
                    request
                        .extensions()
                        .get::<RequestId>()
                        .map(|id| id.0.clone())
                        .unwrap_or_default()
                }),
            )
            .layer(RequestContextLayer::new(Duration::from_secs(30)))
    }

    async fn call(path: &str) -> Response {
        let request = Request::builder()
            .uri(path)
            .body(axum::body::Body::empty())
            .unwrap();
        app().oneshot(request).await.unwrap()
    }

    fn request_id(response: &Response) -> String {
        response.headers()[REQUEST_ID_HEADER]
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_that_finishes_gets_its_answer_and_an_id() {
        let response = call("/fast").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(request_id(&response).len(), 36);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], b"ok");
    }

    #[tokio::test(start_paused = true)]
    async fn the_handler_sees_the_id_the_client_gets() {
        let response = call("/id").await;
        let id = request_id(&response);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(body, id.as_bytes());
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_past_the_timeout_is_answered_503_with_an_id() {
        let started = Instant::now();
        let response = call("/slow").await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(request_id(&response).len(), 36);
        // Paused time: exactly the timeout, not the handler's 60 s.
        assert_eq!(started.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_counts_from_the_request_not_from_the_first_wait() {
        let deadline = Instant::now() + Duration::from_secs(5);
        // Ready at once: no timer.
        assert_eq!(finish_by(async { 7 }, deadline).await, Some(7));
        // Waits 4 s of its 5: done in time.
        let four = async {
            tokio::time::sleep(Duration::from_secs(4)).await;
            4
        };
        assert_eq!(finish_by(four, deadline).await, Some(4));
        // 1 s left of the same deadline: a 2 s wait misses it.
        let two = async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            2
        };
        assert_eq!(finish_by(two, deadline).await, None);
        assert_eq!(Instant::now(), deadline);
    }
}
