//! The HTTPS admission server: routes, TLS accept loop, and `run`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::admission::{review, AdmissionState};
use crate::cache::ServiceAccountCache;
use crate::metrics::Metrics;
use crate::tls::{load_certified_key, server_config, spawn_reloader, ReloadingCert};
use crate::{WebhookArgs, WebhookError};

const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);

async fn mutate_route(
    State(state): State<AdmissionState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let answer = review(&state, content_type, &body).await;
    (
        answer.status,
        [(header::CONTENT_TYPE, answer.content_type)],
        answer.body,
    )
        .into_response()
}

async fn metrics_route(State(state): State<AdmissionState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "ok"
}

/// `POST /mutate`, `GET /healthz`, `GET /metrics`.
pub fn router(state: AdmissionState, max_request_bytes: usize) -> Router {
    Router::new()
        .route("/mutate", post(mutate_route))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_route))
        .layer(DefaultBodyLimit::max(max_request_bytes))
        .with_state(state)
}

fn metrics_router(state: AdmissionState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_route))
        .with_state(state)
}

/// Serves `app` over TLS on `listener` until `shutdown` completes, then drains
/// open connections (bounded).
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    app: Router,
    shutdown: impl Future<Output = ()> + Send,
) {
    let acceptor = TlsAcceptor::from(tls);
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        // e.g. EMFILE: back off instead of spinning.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let app = app.clone();
                let builder = builder.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let tls = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(error)) => {
                            tracing::debug!(%peer, %error, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    };
                    let conn = builder.serve_connection(TokioIo::new(tls), TowerToHyperService::new(app));
                    if let Err(error) = watcher.watch(conn).await {
                        tracing::debug!(%peer, %error, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after drain timeout");
    }
}

async fn kube_client(config: &crate::config::WebhookConfig) -> Result<Client, WebhookError> {
    let kube_config = if let Some(path) = &config.kubeconfig {
        let kubeconfig =
            Kubeconfig::read_from(path).map_err(|e| WebhookError::Kube(e.to_string()))?;
        Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| WebhookError::Kube(e.to_string()))?
    } else if config.in_cluster {
        Config::incluster().map_err(|e| WebhookError::Kube(e.to_string()))?
    } else {
        Config::infer()
            .await
            .map_err(|e| WebhookError::Kube(e.to_string()))?
    };
    Client::try_from(kube_config).map_err(|e| WebhookError::Kube(e.to_string()))
}

/// Runs `irsa webhook` until `shutdown` completes.
pub async fn run(
    args: WebhookArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WebhookError> {
    let config = args.validate()?;
    // kube's client builds its rustls config from the process default provider;
    // make it unambiguous in case another crate enables a second provider.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let client = kube_client(&config).await?;
    let metrics = Arc::new(Metrics::new());
    let (cache, watch_task) = ServiceAccountCache::start(
        client,
        config.namespace.clone(),
        config.grace_period,
        config.lookup_timeout,
        Arc::clone(&metrics),
    );
    let state = AdmissionState {
        config: Arc::new(config.mutation.clone()),
        lookup: Arc::new(cache),
        metrics,
    };

    let key = load_certified_key(&config.tls_cert, &config.tls_key)
        .map_err(|e| WebhookError::Tls(e.to_string()))?;
    let resolver = Arc::new(ReloadingCert::new(key));
    let tls = server_config(Arc::clone(&resolver)).map_err(|e| WebhookError::Tls(e.to_string()))?;
    let reload_task = spawn_reloader(
        resolver,
        config.tls_cert.clone(),
        config.tls_key.clone(),
        config.tls_reload_interval,
    );

    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| WebhookError::Bind {
            addr: config.listen,
            source,
        })?;
    let metrics_listener = match config.metrics_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|source| WebhookError::Bind { addr, source })?,
        ),
        None => None,
    };
    tracing::info!(
        listen = %config.listen,
        metrics = ?config.metrics_listen,
        namespace = ?config.namespace,
        "pod identity webhook serving"
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let metrics_task = metrics_listener.map(|listener| {
        let app = metrics_router(state.clone());
        let stop = stopped(stop_rx.clone());
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::warn!(%error, "metrics listener failed");
            }
        })
    });
    serve_tls(
        listener,
        tls,
        router(state, config.max_request_bytes),
        stopped(stop_rx),
    )
    .await;

    watch_task.abort();
    reload_task.abort();
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    tracing::info!("pod identity webhook stopped");
    Ok(())
}
