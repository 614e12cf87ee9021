//! The S3 gateway (`--s3-listen`): its own listener next to the main one,
//! sharing the store and the authentication/authorization core (so IAM
//! changes made through this process apply to S3 at once).

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use irsa_gateway::{
    GatewayMetrics, Pipeline, S3Front, S3FrontConfig, ServerOptions, Upstream, UpstreamConfig,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::{AppState, ServeError};

/// An unreachable upstream fails within this: 503 to the client, promptly.
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The gateway's metrics, rendered by `/metrics` next to the API's. One per
/// process (several in-process test servers add up).
static METRICS: OnceLock<GatewayMetrics> = OnceLock::new();

/// Prometheus text of the S3 gateway (empty when it never started).
pub fn render_metrics() -> String {
    METRICS
        .get()
        .map(GatewayMetrics::render)
        .unwrap_or_default()
}

/// The running gateway: stops (gracefully) on [`S3Gateway::shutdown`] or drop.
#[derive(Debug)]
pub struct S3Gateway {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl S3Gateway {
    /// Stops accepting and waits for in-flight requests (bounded by the
    /// shutdown grace period).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for S3Gateway {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts the S3 gateway when `--s3-listen` is configured. `tls`: the main
/// listener's HTTPS settings, which the gateway serves with too.
pub async fn start(
    state: &AppState,
    tls: Option<&crate::tls::Tls>,
) -> Result<Option<S3Gateway>, ServeError> {
    let Some(config) = state.config.s3.clone() else {
        return Ok(None);
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
    let tls = tls.map(|tls| {
        // The gateway speaks HTTP/1.1 only.
        let mut server = (*tls.config).clone();
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(server)
    });
    let gateway = start_on(state, listener, tls)?;
    tracing::info!(
        addr = %gateway.addr,
        upstream = %config.upstream_url,
        "irsa serving the S3 gateway"
    );
    Ok(Some(gateway))
}

/// Serves the gateway on an already bound listener (tests bind port 0).
/// Spawns the serving task, so it must run inside the Tokio runtime.
pub fn start_on(
    state: &AppState,
    listener: tokio::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Result<S3Gateway, ServeError> {
    let Some(config) = state.config.s3.clone() else {
        return Err(ServeError::Bootstrap(
            "the S3 gateway is not configured (--s3-listen)".to_owned(),
        ));
    };
    let upstream = Upstream::new(UpstreamConfig {
        endpoint: config.upstream_url.clone(),
        access_key_id: config.upstream_access_key_id.clone(),
        secret_access_key: config.upstream_secret_access_key.clone(),
        region: config.upstream_region.clone(),
        connect_timeout: UPSTREAM_CONNECT_TIMEOUT,
    })
    .map_err(|e| ServeError::Bootstrap(format!("--s3-upstream: {e}")))?
    // The same bound as the Query API's --request-timeout, but idle: a
    // transfer that keeps moving is never cut off.
    .with_response_timeout(state.config.request_timeout);
    let pipeline = Pipeline {
        authenticator: Arc::clone(state.api.authenticator()),
        authorizer: Arc::clone(state.api.authorizer()),
        upstream,
        metrics: METRICS.get_or_init(|| GatewayMetrics::new("s3")).clone(),
        clock: state.clock.clone(),
        account: state.config.account_id.clone(),
    };
    let front = S3Front::new(
        pipeline,
        state.store.clone(),
        &S3FrontConfig {
            domains: config.domains.clone(),
        },
    );
    let addr = listener.local_addr().map_err(ServeError::Serve)?;
    let options = ServerOptions {
        shutdown_grace: state.config.shutdown_grace,
        tls,
        ..ServerOptions::default()
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(irsa_gateway::serve(
        listener,
        Arc::new(front),
        options,
        async move {
            let _ = stopped.await;
        },
    ));
    Ok(S3Gateway {
        addr,
        stop: Some(stop),
        task: Some(task),
    })
}
