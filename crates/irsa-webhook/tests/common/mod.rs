//! Test helpers: a throwaway CA and HTTPS client, and a small fake Kubernetes API
//! server (plain HTTP) serving list, watch and get for ServiceAccounts.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::RootCertStore;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

/// A CA and a `localhost` leaf it signed, as PEM.
pub struct TestPki {
    pub ca_der: CertificateDer<'static>,
    pub cert_pem: String,
    pub key_pem: String,
    pub leaf_der: CertificateDer<'static>,
}

pub fn pki() -> TestPki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    TestPki {
        ca_der: ca.der().clone(),
        cert_pem: leaf.pem(),
        key_pem: leaf_key.serialize_pem(),
        leaf_der: leaf.der().clone(),
    }
}

pub fn write_pki(pki: &TestPki, dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let cert = dir.join("tls.crt");
    let key = dir.join("tls.key");
    std::fs::write(&cert, &pki.cert_pem).unwrap();
    std::fs::write(&key, &pki.key_pem).unwrap();
    (cert, key)
}

pub struct HttpsResponse {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub server_cert: CertificateDer<'static>,
}

impl HttpsResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// One HTTPS request to `addr`, verifying the server as `localhost` against `ca`.
pub async fn https(
    addr: SocketAddr,
    ca: &CertificateDer<'static>,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> HttpsResponse {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let server_cert = tls.get_ref().1.peer_certificates().unwrap()[0]
        .clone()
        .into_owned();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost");
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    let response = sender
        .send_request(request.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    HttpsResponse {
        status,
        content_type,
        body,
        server_cert,
    }
}

pub fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub fn service_account(namespace: &str, name: &str, annotations: &[(&str, &str)]) -> Value {
    let annotations: serde_json::Map<String, Value> = annotations
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": format!("uid-{namespace}-{name}"),
            "annotations": annotations,
        }
    })
}

#[derive(Default)]
struct FakeState {
    accounts: Vec<Value>,
    /// Returned by a direct GET only (never listed or watched): simulates a watch
    /// that has not delivered an object yet.
    hidden: Vec<Value>,
    resource_version: u64,
}

/// A fake kube-apiserver for ServiceAccounts.
#[derive(Clone)]
pub struct FakeApi {
    state: Arc<Mutex<FakeState>>,
    events: broadcast::Sender<String>,
    pub gets: Arc<AtomicUsize>,
    pub lists: Arc<AtomicUsize>,
    pub addr: SocketAddr,
}

impl FakeApi {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (events, _) = broadcast::channel(64);
        let api = FakeApi {
            state: Arc::new(Mutex::new(FakeState {
                resource_version: 1,
                ..FakeState::default()
            })),
            events,
            gets: Arc::new(AtomicUsize::new(0)),
            lists: Arc::new(AtomicUsize::new(0)),
            addr,
        };
        let app = Router::new()
            .route("/api/v1/serviceaccounts", get(list_all))
            .route(
                "/api/v1/namespaces/{ns}/serviceaccounts",
                get(list_namespaced),
            )
            .route(
                "/api/v1/namespaces/{ns}/serviceaccounts/{name}",
                get(get_one),
            )
            .with_state(api.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        api
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn client(&self) -> kube::Client {
        let config = kube::Config::new(self.url().parse().unwrap());
        kube::Client::try_from(config).unwrap()
    }

    /// A kubeconfig file pointing at this server.
    pub fn kubeconfig(&self, dir: &Path) -> std::path::PathBuf {
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\nusers:\n- name: fake\n  user:\n    token: test-token\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: default\ncurrent-context: fake\n",
            self.url()
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Adds a ServiceAccount and announces it to open watches.
    pub fn add(&self, mut sa: Value) {
        let line = {
            let mut state = self.state.lock().unwrap();
            state.resource_version += 1;
            sa["metadata"]["resourceVersion"] = json!(state.resource_version.to_string());
            state.accounts.push(sa.clone());
            format!("{}\n", json!({"type": "ADDED", "object": sa}))
        };
        let _ = self.events.send(line);
    }

    pub fn add_hidden(&self, sa: Value) {
        self.state.lock().unwrap().hidden.push(sa);
    }

    /// Number of open watch streams.
    pub fn watchers(&self) -> usize {
        self.events.receiver_count()
    }

    pub async fn wait_for_watch(&self) {
        for _ in 0..500 {
            if self.watchers() > 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("no watch opened");
    }

    fn list(&self, namespace: Option<&str>) -> Value {
        let state = self.state.lock().unwrap();
        let items: Vec<Value> = state
            .accounts
            .iter()
            .filter(|sa| namespace.is_none_or(|ns| sa["metadata"]["namespace"] == ns))
            .cloned()
            .collect();
        json!({
            "apiVersion": "v1",
            "kind": "ServiceAccountList",
            "metadata": {"resourceVersion": state.resource_version.to_string()},
            "items": items,
        })
    }

    fn watch(&self, namespace: Option<String>) -> Response {
        let rx = self.events.subscribe();
        let stream = futures::stream::unfold((rx, namespace), |(mut rx, namespace)| async move {
            loop {
                match rx.recv().await {
                    Ok(line) => {
                        let event: Value = serde_json::from_str(&line).unwrap();
                        if namespace
                            .as_deref()
                            .is_none_or(|ns| event["object"]["metadata"]["namespace"] == ns)
                        {
                            return Some((Ok::<_, std::io::Error>(line), (rx, namespace)));
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        (
            [("content-type", "application/json")],
            Body::from_stream(stream),
        )
            .into_response()
    }

    fn list_or_watch(&self, namespace: Option<String>, query: Option<&str>) -> Response {
        let watching =
            query.is_some_and(|q| q.split('&').any(|kv| kv == "watch=true" || kv == "watch=1"));
        if watching {
            self.watch(namespace)
        } else {
            self.lists.fetch_add(1, Ordering::SeqCst);
            axum::Json(self.list(namespace.as_deref())).into_response()
        }
    }
}

async fn list_all(State(api): State<FakeApi>, RawQuery(query): RawQuery) -> Response {
    api.list_or_watch(None, query.as_deref())
}

async fn list_namespaced(
    State(api): State<FakeApi>,
    UrlPath(ns): UrlPath<String>,
    RawQuery(query): RawQuery,
) -> Response {
    api.list_or_watch(Some(ns), query.as_deref())
}

async fn get_one(
    State(api): State<FakeApi>,
    UrlPath((ns, name)): UrlPath<(String, String)>,
) -> Response {
    api.gets.fetch_add(1, Ordering::SeqCst);
    let state = api.state.lock().unwrap();
    let found = state
        .accounts
        .iter()
        .chain(state.hidden.iter())
        .find(|sa| {
            sa["metadata"]["namespace"] == ns.as_str() && sa["metadata"]["name"] == name.as_str()
        })
        .cloned();
    match found {
        Some(sa) => axum::Json(sa).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": format!("serviceaccounts \"{name}\" not found"),
                "reason": "NotFound", "details": {"name": name, "kind": "serviceaccounts"}, "code": 404
            })),
        )
            .into_response(),
    }
}

/// A free local port (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
