//! The irsa HTTP server: configuration, bootstrap, router and middleware.
//! Errors become HTTP exactly once, in the API layer; this crate wires
//! the pieces together and owns the process lifecycle.

mod aws;
pub mod bootstrap;
pub mod config;
pub mod issuer;
pub mod json_log;
pub mod middleware;
pub mod outbound;
pub mod s3;
pub mod sa_token;
pub mod telemetry;
pub mod tls;

use std::fmt::Write as _;
use std::future::{Future, IntoFuture as _};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use irsa_core::{SharedClock, SystemClock};
use irsa_store::{Store, StoreConfig, StoreError};

use crate::bootstrap::RootCredentials;
use crate::config::{Database, ServeConfig};

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Store(#[source] StoreError),
    #[error("{0}")]
    Bootstrap(String),
    #[error("cannot listen on {addr}: {source}; is another process using the port? choose another with --listen")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Serve(#[source] std::io::Error),
}

impl ServeError {
    /// Startup problems the operator must fix (exit status 2).
    pub fn is_startup(&self) -> bool {
        !matches!(self, ServeError::Serve(_))
    }
}

/// Shared state of every request handler: one `Arc`, because axum clones
/// the state for every request.
#[derive(Debug, Clone)]
pub struct AppState(Arc<ServerParts>);

impl std::ops::Deref for AppState {
    type Target = ServerParts;

    fn deref(&self) -> &ServerParts {
        &self.0
    }
}

/// What [`AppState`] shares.
#[derive(Debug)]
pub struct ServerParts {
    pub config: Arc<ServeConfig>,
    pub store: Arc<dyn Store>,
    pub clock: SharedClock,
    /// STS and IAM operations.
    pub api: irsa_api::AwsApi,
    /// The verifier behind AssumeRoleWithWebIdentity (for its cache metrics).
    pub oidc: irsa_oidc::OidcVerifier,
}

/// Runs [`irsa_auth::SessionKeys::upkeep`] every
/// [`irsa_auth::session_keys::UPKEEP_EVERY`] until the task is dropped.
async fn session_key_upkeep(authenticator: Arc<irsa_auth::Authenticator>) {
    let mut tick = tokio::time::interval(irsa_auth::session_keys::UPKEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        authenticator.session_keys().upkeep().await;
    }
}

/// Opens the store and ensures the root key: everything `run` does before
/// it accepts connections. Tests use it to build a server in-process.
pub async fn prepare(
    config: ServeConfig,
    clock: SharedClock,
) -> Result<(AppState, RootCredentials), ServeError> {
    let master_key = bootstrap::master_key(&config)?;
    let database_url = match &config.database {
        Database::EmbeddedSqlite => None,
        Database::Postgres(url) => Some(url.expose().to_owned()),
    };
    let store = irsa_store::open(StoreConfig {
        database_url,
        data_dir: config.data_dir.clone(),
        master_key,
        account_id: config.account_id.clone(),
        clock: clock.clone(),
    })
    .await
    .map_err(ServeError::Store)?;
    let root = bootstrap::ensure_root_credentials(store.as_ref(), &config).await?;
    if let Some(issuer) = &config.issuer {
        // Create the first signing key before serving its JWKS.
        irsa_auth::issuer_keys::signing_key(store.as_ref(), issuer.key_type)
            .await
            .map_err(|err| ServeError::Bootstrap(err.to_string()))?;
    }
    let api = irsa_api::AwsApi::new(store.clone(), clock.clone(), config.account_id.clone())
        .await
        .map_err(|err| {
            ServeError::Bootstrap(format!("cannot initialise the API: {}", err.message))
        })?;
    api.set_allow_http_providers(config.allow_insecure_issuer);
    let web_identity = web_identity(&config, &clock)?;
    let oidc = web_identity.verifier().clone();
    api.set_web_identity_verifier(Arc::new(web_identity));
    if let Some(issuer) = &config.issuer {
        api.set_outbound_token_signer(Arc::new(outbound::OutboundSigner::new(
            store.clone(),
            issuer.url.clone(),
        )));
    }
    api.register_extension(Arc::new(sa_token::IssueServiceAccountToken::new(
        config.issuer.clone(),
        store.clone(),
        clock.clone(),
    )));
    let state = AppState(Arc::new(ServerParts {
        config: Arc::new(config),
        store,
        clock,
        api,
        oidc,
    }));
    Ok((state, root))
}

/// AssumeRoleWithWebIdentity's verifier: public roots, `--oidc-ca-file`
/// and each provider's thumbprints.
fn web_identity(
    config: &ServeConfig,
    clock: &SharedClock,
) -> Result<irsa_api::web_identity::OidcWebIdentity, ServeError> {
    let mut verifier_config = irsa_oidc::VerifierConfig {
        clock: clock.clone(),
        allow_insecure_http: config.allow_insecure_issuer,
        ..irsa_oidc::VerifierConfig::default()
    };
    if let Some(pem) = &config.oidc_ca_pem {
        verifier_config
            .add_ca_pem(pem)
            .map_err(|err| ServeError::Bootstrap(format!("--oidc-ca-file: {err}")))?;
    }
    let verifier = irsa_oidc::OidcVerifier::new(verifier_config)
        .map_err(|err| ServeError::Bootstrap(format!("cannot set up OIDC verification: {err}")))?;
    Ok(irsa_api::web_identity::OidcWebIdentity::new(
        verifier,
        config.allow_insecure_issuer,
    ))
}

/// The HTTP application.
pub fn router(state: AppState) -> Router {
    let issuer_routes = state
        .config
        .issuer
        .clone()
        .map_or_else(Router::new, |config| {
            issuer::routes(issuer::IssuerService {
                store: state.store.clone(),
                config,
                clock: state.clock.clone(),
            })
        });
    let timeout = state.config.request_timeout;
    Router::new()
        .route("/healthz", get(healthz))
        .merge(issuer_routes)
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/", get(aws::handle).post(aws::handle))
        // Request ids, spans, and 503 for a request that took too long
        // (slow store, slow issuer): SDKs retry that.
        .layer(middleware::RequestContextLayer::new(timeout))
        .with_state(state)
}

/// Prometheus text: API requests by action and outcome, latency, and the
/// OIDC key cache.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut text = state.api.metrics().render();
    text.push_str(&s3::render_metrics());
    let cache = state.oidc.cache_stats();
    text.push_str(
        "# HELP irsa_oidc_key_cache_events_total OIDC discovery/JWKS cache events.\n\
         # TYPE irsa_oidc_key_cache_events_total counter\n",
    );
    for (event, value) in [
        ("hit", cache.hits),
        ("miss", cache.misses),
        ("fetch", cache.fetches),
        ("fetch_error", cache.fetch_errors),
        ("stale_served", cache.stale_served),
        ("rate_limited", cache.rate_limited),
    ] {
        let _ = writeln!(
            text,
            "irsa_oidc_key_cache_events_total{{event=\"{event}\"}} {value}"
        );
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// How long `/readyz` waits for the store. The pool waits far longer for a
/// connection (to ride out a database restart), but a probe must answer
/// before the prober's own timeout (Kubernetes: 1 s by default) to be heard.
const READINESS_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(900);

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let not_ready = (
        StatusCode::SERVICE_UNAVAILABLE,
        "not ready: store unavailable\n".to_owned(),
    );
    match tokio::time::timeout(READINESS_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n".to_owned()),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness check failed");
            not_ready
        }
        Err(_) => {
            tracing::warn!(
                timeout_ms = READINESS_TIMEOUT.as_millis(),
                "readiness check failed: the store did not answer in time"
            );
            not_ready
        }
    }
}

/// Runs `irsa serve` until `shutdown` resolves, then lets in-flight
/// requests finish (bounded by the configured grace period).
pub async fn run(
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let listen = config.listen;
    let grace = config.shutdown_grace;
    let tls = match &config.tls {
        Some(source) => {
            let hosts: Vec<String> = config
                .issuer
                .iter()
                .filter_map(|i| url_host(&i.url))
                .collect();
            Some(tls::load(source, &config.data_dir, &hosts).map_err(ServeError::Bootstrap)?)
        }
        None => None,
    };
    let (state, root) = prepare(config, Arc::new(SystemClock)).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: listen,
            source,
        })?;
    announce(&state, &root, listener.local_addr().unwrap_or(listen));
    if let Some(tls) = &tls {
        // What `aws iam create-open-id-connect-provider --thumbprint-list` wants.
        println!(
            "Serving HTTPS with {cert}; certificate thumbprint (SHA-1) {thumbprint}",
            cert = tls.cert_file.display(),
            thumbprint = tls.thumbprint
        );
    }
    // Rotation (when configured) and pruning of retired signing keys.
    let maintenance = state.config.issuer.as_ref().map(|issuer| {
        tokio::spawn(issuer::maintenance_loop(
            state.store.clone(),
            issuer.key_type,
            state.config.issuer_rotation_period,
            state.clock.clone(),
        ))
    });
    // Session-token keys: a rotated key is picked up, replaced keys retired
    // and, once their sessions expired, deleted.
    let session_key_upkeep =
        tokio::spawn(session_key_upkeep(Arc::clone(state.api.authenticator())));
    let store = state.store.clone();
    let s3 = s3::start(&state, tls.as_ref()).await?;
    let app = router(state);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: finishing in-flight requests");
        let _ = stop_tx.send(true);
    };
    let make_service = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    // Both kinds go through axum::serve: same graceful shutdown and peer address.
    let server: std::pin::Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>> = match tls {
        None => Box::pin(
            axum::serve(listener, make_service)
                .with_graceful_shutdown(signal)
                .into_future(),
        ),
        Some(tls) => {
            use axum::serve::ListenerExt as _;
            let listener =
                tls::TlsListener::new(listener, tls.config).map_err(ServeError::Serve)?;
            Box::pin(
                axum::serve(listener.tap_io(|_| {}), make_service)
                    .with_graceful_shutdown(signal)
                    .into_future(),
            )
        }
    };
    let mut stop_rx = stop_rx;
    let result = tokio::select! {
        result = server => result.map_err(ServeError::Serve),
        () = async {
            let _ = stop_rx.wait_for(|stopping| *stopping).await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(grace_seconds = grace.as_secs(), "in-flight requests did not finish in time");
            Ok(())
        }
    };
    if let Some(task) = maintenance {
        task.abort();
    }
    session_key_upkeep.abort();
    if let Some(s3) = s3 {
        s3.shutdown().await;
    }
    store.close().await;
    tracing::info!("stopped");
    result
}

/// The host of a normalised URL (for the self-signed certificate's names).
fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    };
    (!host.is_empty()).then(|| host.to_owned())
}

fn announce(state: &AppState, root: &RootCredentials, addr: std::net::SocketAddr) {
    if root.newly_generated {
        // Printed once, on the start that created the key.
        println!(
            "Generated root credentials for account {account}:\n  aws_access_key_id     = {id}\n  aws_secret_access_key = {secret}\nSaved to {file} (mode 0600). Use them with:\n  export AWS_SHARED_CREDENTIALS_FILE={file} AWS_PROFILE={profile}",
            account = state.config.account_id,
            id = root.access_key_id,
            secret = root.secret_access_key.expose(),
            file = root
                .file
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            profile = bootstrap::ROOT_PROFILE,
        );
    }
    tracing::info!(
        %addr,
        account = %state.config.account_id,
        backend = ?state.store.backend(),
        root_access_key_id = %root.access_key_id,
        "irsa serving STS and IAM on {scheme}://{addr}",
        scheme = if state.config.tls.is_some() { "https" } else { "http" }
    );
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
