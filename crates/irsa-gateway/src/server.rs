//! The listener: one task per connection (a slow client holds only its
//! own task), HTTP/1.1 with bounded headers and a header read timeout,
//! optional TLS, graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::front::{ConnectionInfo, Front};
use crate::oversized::{raw_response, AnswerFn, OversizedHeadAnswer};

/// Connection limits and TLS.
#[derive(Clone)]
pub struct ServerOptions {
    /// A client must send its whole request head within this.
    pub header_read_timeout: Duration,
    /// More headers than this → the front's error (S3:
    /// `RequestHeaderSectionTooLarge`); S3 clients send a few dozen.
    pub max_headers: usize,
    /// Largest request head in bytes (S3: 8 KiB of user metadata; 64 KiB here).
    pub max_head_bytes: usize,
    /// How long in-flight requests may take to finish on shutdown.
    pub shutdown_grace: Duration,
    /// HTTPS when set.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl std::fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerOptions")
            .field("header_read_timeout", &self.header_read_timeout)
            .field("max_headers", &self.max_headers)
            .field("max_head_bytes", &self.max_head_bytes)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(20),
            max_headers: 200,
            max_head_bytes: 64 * 1024,
            shutdown_grace: Duration::from_secs(30),
            tls: None,
        }
    }
}

/// Serves `front` on `listener` until `shutdown` resolves, then lets
/// in-flight requests finish (bounded by `shutdown_grace`).
pub async fn serve(
    listener: TcpListener,
    front: Arc<dyn Front>,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send,
) {
    let graceful = GracefulShutdown::new();
    let tls = options.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .max_headers(options.max_headers)
        .max_buf_size(options.max_head_bytes.max(8192));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let front = Arc::clone(&front);
        let http = http.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        let handshake_timeout = options.header_read_timeout;
        let answer: AnswerFn = {
            let front = Arc::clone(&front);
            let max_head_bytes = options.max_head_bytes;
            Arc::new(move || {
                front
                    .head_too_large(max_head_bytes)
                    .map(|response| raw_response(&response))
            })
        };
        tokio::spawn(async move {
            match tls {
                None => {
                    let info = ConnectionInfo {
                        peer,
                        secure_transport: false,
                        tls_version: None,
                    };
                    let io = OversizedHeadAnswer::new(stream, Some(answer));
                    let conn = http.serve_connection(TokioIo::new(io), service(front, info));
                    if let Err(e) = watcher.watch(conn).await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                }
                Some(acceptor) => {
                    let stream = match tokio::time::timeout(
                        handshake_timeout,
                        acceptor.accept(stream),
                    )
                    .await
                    {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    };
                    let tls_version = match stream.get_ref().1.protocol_version() {
                        Some(rustls::ProtocolVersion::TLSv1_3) => Some("1.3"),
                        Some(rustls::ProtocolVersion::TLSv1_2) => Some("1.2"),
                        _ => None,
                    };
                    let info = ConnectionInfo {
                        peer,
                        secure_transport: true,
                        tls_version,
                    };
                    let io = OversizedHeadAnswer::new(stream, Some(answer));
                    let conn = http.serve_connection(TokioIo::new(io), service(front, info));
                    if let Err(e) = watcher.watch(conn).await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                }
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {},
        () = tokio::time::sleep(options.shutdown_grace) => {
            tracing::warn!("gateway requests did not finish within the shutdown grace period");
        }
    }
}

fn service(
    front: Arc<dyn Front>,
    info: ConnectionInfo,
) -> impl hyper::service::Service<
    http::Request<hyper::body::Incoming>,
    Response = http::Response<crate::body::GatewayBody>,
    Error = std::convert::Infallible,
    Future: Send + 'static,
> {
    let info = Arc::new(info);
    service_fn(move |request| {
        let front = Arc::clone(&front);
        let info = Arc::clone(&info);
        async move { Ok::<_, std::convert::Infallible>(front.handle(&info, request).await) }
    })
}

/// The address a listener is bound to, for log lines.
pub fn local_addr(listener: &TcpListener) -> Option<SocketAddr> {
    listener.local_addr().ok()
}
