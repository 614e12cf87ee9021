//! AssumeRoleWithWebIdentity through the whole axum router (no network for
//! the call itself): body read, Query decode, provider lookup, JWT signature
//! and claim checks with a warm JWKS cache, trust policy, session token
//! sealing, XML. RS256 (RSA-2048) and ES256 (P-256) tokens from in-process
//! HTTPS issuers; 1000 distinct tokens per key type, used in turn.
//!
//! `CARGO_TARGET_DIR=… cargo bench -p irsa-server --bench web_identity`

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/issuer.rs"]
mod issuer;

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use irsa_core::{Clock, SystemClock};
use irsa_oidc::SigningKeyType;
use irsa_server::config::{Environment, ServeArgs};
use irsa_store::{NewOidcProvider, NewRole};
use issuer::{assume_body, HttpsIssuer};
use tower::ServiceExt;

const ACCOUNT: &str = "123456789012";
const TOKENS: usize = 1000;

struct NoEnv;

impl Environment for NoEnv {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
    fn read_file(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

fn request(body: &str) -> http::Request<Body> {
    http::Request::builder()
        .method("POST")
        .uri("/")
        .header("host", "127.0.0.1:8080")
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(Body::from(body.to_owned()))
        .unwrap()
}

fn bench_web_identity(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rsa = runtime.block_on(HttpsIssuer::start(SigningKeyType::Rsa2048));
    let ec = runtime.block_on(HttpsIssuer::start(SigningKeyType::EcdsaP256));
    let data = tempfile::tempdir().unwrap();
    let ca_file = data.path().join("ca.pem");
    std::fs::write(&ca_file, format!("{}{}", rsa.ca_pem, ec.ca_pem)).unwrap();
    let args = ServeArgs {
        listen: "127.0.0.1:0".into(),
        data_dir: data.path().join("irsa"),
        account_id: ACCOUNT.into(),
        database_url: None,
        master_key_file: None,
        log_format: "pretty".into(),
        body_limit: "1048576".into(),
        request_timeout: "30".into(),
        shutdown_grace: "5".into(),
        oidc_ca_file: Some(ca_file),
    };
    let config = args.validate(&NoEnv).unwrap();
    let (state, _root) = runtime
        .block_on(irsa_server::prepare(config, Arc::new(SystemClock)))
        .unwrap();
    let now = SystemClock.unix_seconds();
    let mut cases = Vec::new();
    for (label, issuer) in [("RS256", &rsa), ("ES256", &ec)] {
        let role = format!("app-{label}");
        runtime.block_on(async {
            state
                .store
                .create_oidc_provider(NewOidcProvider {
                    url: issuer.url.clone(),
                    client_ids: vec!["sts.amazonaws.com".into()],
                    thumbprints: Vec::new(),
                    tags: Vec::new(),
                })
                .await
                .unwrap();
            state
                .store
                .create_role(NewRole::new(
                    &role,
                    issuer.trust_policy(ACCOUNT, "system:serviceaccount:*:app"),
                ))
                .await
                .unwrap();
        });
        let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/{role}");
        // Distinct namespaces: every token differs in `sub` and signature.
        let bodies: Vec<String> = (0..TOKENS)
            .map(|i| {
                assume_body(
                    &role_arn,
                    "bench",
                    &issuer.token(&format!("ns-{i}"), "app", now),
                )
            })
            .collect();
        cases.push((label, bodies));
    }
    let app = irsa_server::router(state);
    for (label, bodies) in &cases {
        // Warm the discovery/JWKS cache; fail loudly if the setup is wrong.
        let response = runtime
            .block_on(app.clone().oneshot(request(&bodies[0])))
            .unwrap();
        assert_eq!(response.status(), 200, "{label} warm-up call failed");
    }

    let mut group = c.benchmark_group("assume_role_with_web_identity");
    group.throughput(Throughput::Elements(1));
    for (label, bodies) in &cases {
        let mut next = 0;
        group.bench_function(*label, |b| {
            b.iter(|| {
                let body = &bodies[next % bodies.len()];
                next += 1;
                let response = runtime
                    .block_on(app.clone().oneshot(request(body)))
                    .unwrap();
                assert_eq!(response.status(), 200);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench_web_identity);
criterion_main!(benches);
