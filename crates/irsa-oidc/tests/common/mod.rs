//! An in-process HTTPS OIDC issuer with a throwaway CA (rcgen + rustls +
//! axum), for tests and benches.
// Test scaffolding: panicking on a broken fixture is the right behaviour.
#![allow(dead_code, clippy::unwrap_used, clippy::many_single_char_names)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use irsa_oidc::{PublicKey, SigningKey};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{json, Value};

/// How the issuer misbehaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Every request answers 503.
    Down,
    /// Discovery names another issuer.
    WrongIssuer,
    /// Discovery's jwks_uri is this URL.
    JwksUri(String),
    /// JWKS is an endless-looking 50 MB stream (no Content-Length).
    Huge,
    /// JWKS declares 50 MB in Content-Length.
    HugeDeclared,
    /// JWKS headers, then one byte per second forever.
    SlowLoris,
    /// Discovery redirects to itself forever.
    RedirectLoop,
    /// Discovery redirects to an http URL.
    RedirectToHttp,
}

pub struct IssuerState {
    pub url: String,
    pub keys: Mutex<Vec<PublicKey>>,
    pub mode: Mutex<Mode>,
    pub cache_control: Mutex<String>,
    /// Served instead of the keys' JWKS when set.
    pub raw_jwks: Mutex<Option<Value>>,
    pub jwks_hits: AtomicUsize,
    pub discovery_hits: AtomicUsize,
}

pub struct TestIssuer {
    pub url: String,
    pub state: Arc<IssuerState>,
    /// PEM of the CA that signed the server certificate.
    pub ca_pem: String,
    pub ca_der: CertificateDer<'static>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestIssuer {
    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }
    pub fn set_keys(&self, keys: Vec<PublicKey>) {
        *self.state.keys.lock().unwrap() = keys;
    }
    pub fn set_cache_control(&self, v: &str) {
        v.clone_into(&mut self.state.cache_control.lock().unwrap());
    }
    pub fn set_raw_jwks(&self, doc: Option<Value>) {
        *self.state.raw_jwks.lock().unwrap() = doc;
    }
    pub fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }
    /// SHA-1 (hex) of the CA certificate, the top of the presented chain.
    pub fn ca_thumbprint(&self) -> String {
        // SHA-1 computed independently of the crate under test.
        hex_lower(&sha1_smol_like::sha1(&self.ca_der))
    }
}

pub fn hex_lower(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    b.iter()
        .flat_map(|x| [DIGITS[usize::from(x >> 4)], DIGITS[usize::from(x & 15)]])
        .map(char::from)
        .collect()
}

/// Minimal SHA-1 (FIPS 180-4) so the test does not reuse the crate's own
/// thumbprint code to check it.
mod sha1_smol_like {
    pub fn sha1(data: &[u8]) -> Vec<u8> {
        let mut h: [u32; 5] = [
            0x6745_2301,
            0xEFCD_AB89,
            0x98BA_DCFE,
            0x1032_5476,
            0xC3D2_E1F0,
        ];
        let mut msg = data.to_vec();
        let bit_len = (data.len() as u64) * 8;
        msg.push(0x80);
        while msg.len() % 64 != 56 {
            msg.push(0);
        }
        msg.extend_from_slice(&bit_len.to_be_bytes());
        for chunk in msg.chunks(64) {
            let mut w = [0u32; 80];
            for i in 0..16 {
                w[i] = u32::from_be_bytes([
                    chunk[4 * i],
                    chunk[4 * i + 1],
                    chunk[4 * i + 2],
                    chunk[4 * i + 3],
                ]);
            }
            for i in 16..80 {
                w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
            }
            let (mut a, mut b, mut c, mut d, mut e) = (h[0], h[1], h[2], h[3], h[4]);
            for (i, wi) in w.iter().enumerate() {
                let (f, k) = match i {
                    0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                    20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                    40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                    _ => (b ^ c ^ d, 0xCA62_C1D6),
                };
                let t = a
                    .rotate_left(5)
                    .wrapping_add(f)
                    .wrapping_add(e)
                    .wrapping_add(k)
                    .wrapping_add(*wi);
                e = d;
                d = c;
                c = b.rotate_left(30);
                b = a;
                a = t;
            }
            h[0] = h[0].wrapping_add(a);
            h[1] = h[1].wrapping_add(b);
            h[2] = h[2].wrapping_add(c);
            h[3] = h[3].wrapping_add(d);
            h[4] = h[4].wrapping_add(e);
        }
        h.iter().flat_map(|x| x.to_be_bytes()).collect()
    }
}

async fn discovery(State(st): State<Arc<IssuerState>>) -> Response {
    st.discovery_hits.fetch_add(1, Ordering::SeqCst);
    let mode = st.mode.lock().unwrap().clone();
    let jwks_uri = format!("{}/openid/v1/jwks", st.url);
    let doc = match mode {
        Mode::Down => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Mode::WrongIssuer => json!({"issuer": "https://evil.example", "jwks_uri": jwks_uri}),
        Mode::JwksUri(u) => json!({"issuer": st.url, "jwks_uri": u}),
        Mode::RedirectLoop => {
            return (
                StatusCode::FOUND,
                [(
                    header::LOCATION,
                    format!("{}/.well-known/openid-configuration", st.url),
                )],
            )
                .into_response()
        }
        Mode::RedirectToHttp => {
            let plain = st.url.replace("https://", "http://");
            return (
                StatusCode::FOUND,
                [(
                    header::LOCATION,
                    format!("{plain}/.well-known/openid-configuration"),
                )],
            )
                .into_response();
        }
        _ => json!({
            "issuer": st.url,
            "jwks_uri": jwks_uri,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        }),
    };
    axum::Json(doc).into_response()
}

async fn jwks(State(st): State<Arc<IssuerState>>) -> Response {
    st.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let mode = st.mode.lock().unwrap().clone();
    match mode {
        Mode::Down => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Mode::Huge => {
            // 50 MB in 64 KiB chunks, no Content-Length.
            let chunk = bytes::Bytes::from(vec![b' '; 64 * 1024]);
            let stream =
                futures::stream::iter(std::iter::repeat_n(chunk, 800).map(Ok::<_, std::io::Error>));
            Response::builder()
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from_stream(stream))
                .unwrap()
        }
        Mode::HugeDeclared => {
            let body = vec![b' '; 50 * 1024 * 1024];
            Response::builder()
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .unwrap()
        }
        Mode::SlowLoris => {
            let stream = futures::stream::unfold(0u32, |n| async move {
                tokio::time::sleep(Duration::from_millis(500)).await;
                Some((
                    Ok::<_, std::io::Error>(bytes::Bytes::from_static(b" ")),
                    n + 1,
                ))
            });
            Response::builder()
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from_stream(stream))
                .unwrap()
        }
        _ => {
            let keys = st.keys.lock().unwrap().clone();
            let raw = st.raw_jwks.lock().unwrap().clone();
            let doc: Value = raw.unwrap_or_else(|| irsa_oidc::jwks_document(&keys));
            let cc = st.cache_control.lock().unwrap().clone();
            (
                [
                    (header::CONTENT_TYPE, "application/jwk-set+json".to_owned()),
                    (header::CACHE_CONTROL, cc),
                ],
                doc.to_string(),
            )
                .into_response()
        }
    }
}

/// A CA and a server certificate for `sans` signed by it.
pub fn make_pki(
    sans: &[&str],
) -> (
    CertificateDer<'static>,
    String,
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "irsa test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params =
        CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap();
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "irsa test issuer");
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    (
        ca_cert.der().clone(),
        ca_cert.pem(),
        vec![leaf.der().clone(), ca_cert.der().clone()],
        key,
    )
}

/// Starts the issuer on 127.0.0.1 with the given keys published; its
/// certificate covers localhost and 127.0.0.1.
pub async fn start_issuer(keys: Vec<PublicKey>) -> TestIssuer {
    start_issuer_with_names(keys, &["localhost", "127.0.0.1"]).await
}

/// A self-signed server certificate (no CA), as a generated dev pair is.
pub fn make_self_signed(
    sans: &[&str],
) -> (
    CertificateDer<'static>,
    String,
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
) {
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap();
    let cert = params.self_signed(&key).unwrap();
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (
        cert.der().clone(),
        cert.pem(),
        vec![cert.der().clone()],
        der,
    )
}

/// An issuer whose certificate is self-signed; `ca_der`/`ca_pem` hold it.
pub async fn start_issuer_self_signed(keys: Vec<PublicKey>) -> TestIssuer {
    serve(keys, make_self_signed(&["localhost", "127.0.0.1"])).await
}

/// Like `start_issuer`, with the certificate's subject alternative names.
pub async fn start_issuer_with_names(keys: Vec<PublicKey>, sans: &[&str]) -> TestIssuer {
    serve(keys, make_pki(sans)).await
}

async fn serve(
    keys: Vec<PublicKey>,
    pki: (
        CertificateDer<'static>,
        String,
        Vec<CertificateDer<'static>>,
        PrivateKeyDer<'static>,
    ),
) -> TestIssuer {
    let (ca_der, ca_pem, chain, key) = pki;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    let (state, app) = app(&url, keys);
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let app = app.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = TowerToHyperService::new(app);
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    TestIssuer {
        url,
        state,
        ca_pem,
        ca_der,
        task,
    }
}

fn app(url: &str, keys: Vec<PublicKey>) -> (Arc<IssuerState>, Router) {
    let state = Arc::new(IssuerState {
        url: url.to_owned(),
        keys: Mutex::new(keys),
        mode: Mutex::new(Mode::Normal),
        cache_control: Mutex::new("public, max-age=3600".to_owned()),
        raw_jwks: Mutex::new(None),
        jwks_hits: AtomicUsize::new(0),
        discovery_hits: AtomicUsize::new(0),
    });
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/openid/v1/jwks", get(jwks))
        .with_state(state.clone());
    (state, app)
}

/// A plain-http issuer (for the explicit insecure opt-in); no certificates.
pub async fn start_plain_issuer(keys: Vec<PublicKey>) -> TestIssuer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let (state, app) = app(&url, keys);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    TestIssuer {
        url,
        state,
        ca_pem: String::new(),
        ca_der: CertificateDer::from(Vec::new()),
        task,
    }
}

pub fn public_keys(keys: &[&SigningKey]) -> Vec<PublicKey> {
    keys.iter().map(|k| k.public_key().clone()).collect()
}
