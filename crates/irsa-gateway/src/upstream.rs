//! The store behind the gateway: a pooled hyper client, and SigV4 signing
//! of forwarded requests with the gateway's own key (the `aws-sigv4` crate:
//! signing is not the product, verifying is).

use std::fmt;
use std::future::Future as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use http::header::{HeaderName, HeaderValue, HOST};
use http::{HeaderMap, Method, Request, Response, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use irsa_core::SecretString;
use irsa_sigv4::{ChunkSigningContext, SigV4Error};

use crate::body::{BoxError, GatewayBody};

/// How long the upstream may stay silent before the client gets 503, by
/// default: as long as the Query API lets a request take
/// (`--request-timeout`'s default, 30 s).
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the upstream is and how the gateway signs for it.
#[derive(Clone)]
pub struct UpstreamConfig {
    /// `http(s)://host[:port][/prefix]`.
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    /// The region the upstream expects in signatures (`us-east-1` by default).
    pub region: String,
    /// An unreachable upstream fails within this (503 to the client).
    pub connect_timeout: Duration,
}

impl fmt::Debug for UpstreamConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamConfig")
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key)
            .field("region", &self.region)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// Why a request could not be sent upstream.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("invalid upstream endpoint {0:?}: expected http(s)://host[:port]")]
    InvalidEndpoint(String),
    #[error("cannot sign the upstream request: {0}")]
    Signing(String),
    #[error("cannot reach the upstream: {0}")]
    Unreachable(String),
    /// The client's body was refused while it streamed (the upstream
    /// request was aborted on purpose).
    #[error("request body refused")]
    BodyRejected,
    /// The upstream neither read the request body nor answered for the
    /// response timeout (the request was aborted).
    #[error("the upstream did not answer within {0:?}")]
    NoResponse(Duration),
    /// The client stopped sending its body for the response timeout (the
    /// upstream request was aborted; S3 says `RequestTimeout`).
    #[error("the client sent no body bytes for {0:?}")]
    ClientStalled(Duration),
}

/// The upstream store.
#[derive(Clone)]
pub struct Upstream {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, GatewayBody>,
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
    /// Path prefix of the endpoint, without a trailing slash ("" usually).
    prefix: String,
    config: UpstreamConfig,
    response_timeout: Duration,
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upstream")
            .field("config", &self.config)
            .field("response_timeout", &self.response_timeout)
            .finish_non_exhaustive()
    }
}

/// A request signed for the upstream.
#[derive(Debug)]
pub struct SignedUpstreamRequest {
    pub uri: Uri,
    pub headers: HeaderMap,
    /// The `Signature=` of the request: seeds the chunk signatures of a
    /// signed aws-chunked body.
    pub seed_signature: String,
}

/// Keys an S3 request is signed with.
#[derive(Clone, Copy)]
pub struct S3Credentials<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    /// `x-amz-security-token` of temporary credentials.
    pub session_token: Option<&'a str>,
}

impl fmt::Debug for S3Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Signs an S3 request as aws-sdk-rust does: the path signed as sent
/// (encoded once, not normalised) and `x-amz-content-sha256` a signed
/// header. `headers` must hold `host` and every other header to sign; the
/// signature's headers (`authorization`, `x-amz-date`,
/// `x-amz-content-sha256`, the session token) are added to it. Returns the
/// `Signature=` value, which seeds the chunk signatures of a signed
/// aws-chunked body.
pub fn sign_s3(
    credentials: &S3Credentials<'_>,
    region: &str,
    method: &str,
    uri: &Uri,
    headers: &mut HeaderMap,
    content_sha256: &str,
    time: SystemTime,
) -> Result<String, UpstreamError> {
    let identity = aws_credential_types::Credentials::new(
        credentials.access_key_id,
        credentials.secret_access_key,
        credentials.session_token.map(str::to_owned),
        None,
        "irsa-gateway",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("s3")
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| UpstreamError::Signing(e.to_string()))?
        .into();
    let mut pairs = Vec::with_capacity(headers.len());
    for (name, value) in headers.iter() {
        let value = value
            .to_str()
            .map_err(|_| UpstreamError::Signing(format!("header {name} is not visible ASCII")))?;
        pairs.push((name.as_str(), value));
    }
    let signable = SignableRequest::new(
        method,
        uri.to_string(),
        pairs.into_iter(),
        SignableBody::Precomputed(content_sha256.to_owned()),
    )
    .map_err(|e| UpstreamError::Signing(e.to_string()))?;
    let (instructions, seed_signature) = sign(signable, &params)
        .map_err(|e| UpstreamError::Signing(e.to_string()))?
        .into_parts();
    for (name, value) in instructions.headers() {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| UpstreamError::Signing(e.to_string()))?;
        let value =
            HeaderValue::from_str(value).map_err(|e| UpstreamError::Signing(e.to_string()))?;
        headers.insert(name, value);
    }
    Ok(seed_signature)
}

impl Upstream {
    pub fn new(config: UpstreamConfig) -> Result<Self, UpstreamError> {
        let invalid = || UpstreamError::InvalidEndpoint(config.endpoint.clone());
        let uri: Uri = config.endpoint.parse().map_err(|_| invalid())?;
        let scheme = uri.scheme().cloned().ok_or_else(invalid)?;
        if scheme != http::uri::Scheme::HTTP && scheme != http::uri::Scheme::HTTPS {
            return Err(invalid());
        }
        let authority = uri.authority().cloned().ok_or_else(invalid)?;
        if uri.query().is_some() {
            return Err(invalid());
        }
        let prefix = uri.path().trim_end_matches('/').to_owned();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(config.connect_timeout));
        http.set_nodelay(true);
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| UpstreamError::InvalidEndpoint(format!("{}: {e}", config.endpoint)))?
        .with_root_certificates(rustls::RootCertStore {
            roots: webpki_roots_store(),
        })
        .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Self {
            client,
            scheme,
            authority,
            prefix,
            config,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
        })
    }

    /// The longest the upstream may go without reading the request body or
    /// answering (and, while a response streams, without sending a byte).
    /// An idle bound rather than a total one, so a 5 GiB upload that keeps
    /// moving is never cut off. Default [`DEFAULT_RESPONSE_TIMEOUT`].
    #[must_use]
    pub fn with_response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    pub fn response_timeout(&self) -> Duration {
        self.response_timeout
    }

    pub fn config(&self) -> &UpstreamConfig {
        &self.config
    }

    /// Signs a request for the upstream. `path_and_query` is path-style
    /// (`/bucket/key?query`), already URI-encoded the way S3 wants it
    /// (encoded once); `headers` are the ones to forward (no
    /// `Authorization`, no hop-by-hop headers); `content_sha256` is the
    /// `x-amz-content-sha256` to send (a hex SHA-256, `UNSIGNED-PAYLOAD` or
    /// a `STREAMING-…` keyword).
    pub fn sign(
        &self,
        method: &Method,
        path_and_query: &str,
        mut headers: HeaderMap,
        content_sha256: &str,
        time: SystemTime,
    ) -> Result<SignedUpstreamRequest, UpstreamError> {
        let uri: Uri = format!(
            "{}://{}{}{}",
            self.scheme, self.authority, self.prefix, path_and_query
        )
        .parse()
        .map_err(|e| UpstreamError::Signing(format!("invalid upstream URI: {e}")))?;
        headers.insert(
            HOST,
            HeaderValue::from_str(self.authority.as_str())
                .map_err(|e| UpstreamError::Signing(e.to_string()))?,
        );
        for name in [
            "authorization",
            "x-amz-date",
            "x-amz-security-token",
            "x-amz-content-sha256",
        ] {
            headers.remove(name);
        }
        let credentials = S3Credentials {
            access_key_id: &self.config.access_key_id,
            secret_access_key: self.config.secret_access_key.expose(),
            session_token: None,
        };
        let seed_signature = sign_s3(
            &credentials,
            &self.config.region,
            method.as_str(),
            &uri,
            &mut headers,
            content_sha256,
            time,
        )?;
        Ok(SignedUpstreamRequest {
            uri,
            headers,
            seed_signature,
        })
    }

    /// The chain that signs forwarded chunks: the gateway's key, the
    /// upstream request's time and its seed signature.
    pub fn chunk_signing(
        &self,
        time: SystemTime,
        seed_signature: &str,
    ) -> Result<ChunkSigningContext, SigV4Error> {
        ChunkSigningContext::new(
            &self.config.secret_access_key,
            time,
            &self.config.region,
            "s3",
            seed_signature,
        )
    }

    /// Sends a signed request. Connection failures (refused, timed out,
    /// DNS) are [`UpstreamError::Unreachable`]; an upstream that stops
    /// reading the body or does not answer within the response timeout is
    /// [`UpstreamError::NoResponse`] (the request is dropped, so the store
    /// sees an aborted request and commits nothing).
    pub async fn send(
        &self,
        request: Request<GatewayBody>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let activity = Activity::new();
        let watched = activity.clone();
        let request = request.map(|inner| {
            Watched {
                inner,
                activity: watched,
            }
            .boxed_unsync()
        });
        let sent = self.client.request(request);
        tokio::pin!(sent);
        let timeout = self.response_timeout;
        loop {
            tokio::select! {
                result = &mut sent => {
                    return result.map_err(|e| {
                        if is_body_rejection(&e) {
                            UpstreamError::BodyRejected
                        } else {
                            UpstreamError::Unreachable(error_chain(&e))
                        }
                    });
                }
                () = tokio::time::sleep_until(activity.last() + timeout) => {
                    // Re-armed while the body keeps moving.
                    if activity.last() + timeout <= tokio::time::Instant::now() {
                        return Err(if activity.waiting_on_client() {
                            UpstreamError::ClientStalled(timeout)
                        } else {
                            UpstreamError::NoResponse(timeout)
                        });
                    }
                }
            }
        }
    }

    /// The upstream's response body, ended with an error when the upstream
    /// sends nothing for the response timeout (the client sees the
    /// connection cut rather than waiting forever).
    pub fn idle_bounded<B>(&self, body: B) -> IdleBounded<B> {
        IdleBounded {
            inner: body,
            timeout: self.response_timeout,
            sleep: Box::pin(tokio::time::sleep(self.response_timeout)),
        }
    }
}

/// When the request body last moved, and whether it is waiting on the
/// client (then a stall is the client's, not the upstream's).
#[derive(Debug, Clone)]
struct Activity(Arc<ActivityState>);

#[derive(Debug)]
struct ActivityState {
    started: tokio::time::Instant,
    last_ms: AtomicU64,
    waiting_on_client: AtomicBool,
}

impl Activity {
    fn new() -> Self {
        Self(Arc::new(ActivityState {
            started: tokio::time::Instant::now(),
            last_ms: AtomicU64::new(0),
            waiting_on_client: AtomicBool::new(false),
        }))
    }

    fn touch(&self) {
        let ms = u64::try_from(self.0.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.0.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> tokio::time::Instant {
        self.0.started + Duration::from_millis(self.0.last_ms.load(Ordering::Relaxed))
    }

    fn waiting_on_client(&self) -> bool {
        self.0.waiting_on_client.load(Ordering::Relaxed)
    }
}

/// A request body that records its progress in an [`Activity`].
struct Watched {
    inner: GatewayBody,
    activity: Activity,
}

impl Body for Watched {
    type Data = bytes::Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<bytes::Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        let waiting = polled.is_pending();
        self.activity
            .0
            .waiting_on_client
            .store(waiting, Ordering::Relaxed);
        if !waiting {
            self.activity.touch();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that fails when no frame arrives for `timeout`.
pub struct IdleBounded<B> {
    inner: B,
    timeout: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl<B> fmt::Debug for IdleBounded<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdleBounded")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The upstream went silent in the middle of a response body.
#[derive(Debug, thiserror::Error)]
#[error("the upstream sent nothing for {0:?} in the middle of a response")]
pub struct ResponseStalled(pub Duration);

impl<B> Body for IdleBounded<B>
where
    B: Body<Data = bytes::Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = bytes::Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<bytes::Bytes>, BoxError>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            let deadline = tokio::time::Instant::now() + self.timeout;
            self.sleep.as_mut().reset(deadline);
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        ready!(self.sleep.as_mut().poll(cx));
        Poll::Ready(Some(Err(Box::new(ResponseStalled(self.timeout)))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

fn webpki_roots_store() -> Vec<rustls_pki_types::TrustAnchor<'static>> {
    webpki_roots::TLS_SERVER_ROOTS.to_vec()
}

/// Whether a client error was caused by our own body stream refusing the
/// client's bytes.
fn is_body_rejection(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<crate::body::BodyRejected>() {
            return true;
        }
        source = e.source();
    }
    false
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}
