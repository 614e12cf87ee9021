//! A full signed GetCallerIdentity through the axum router (no network):
//! body read, Query decode, SigV4 parse + key lookup + verify, authorization,
//! XML rendering; signed with the root's long-term key and an IAM user's
//! (both cached after the first call) and with GetSessionToken credentials
//! (sealed token opened).
//!
//! `cargo bench -p irsa-server --bench router`; one iteration is one request
//! on one thread, so requests/s per core is 1 / (time per iteration).

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use axum::body::Body;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use irsa_core::SystemClock;
use irsa_server::config::{Environment, ServeArgs};
use tower::ServiceExt;

struct NoEnv;

impl Environment for NoEnv {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
    fn read_file(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

const BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";

fn signed_request(
    service: &str,
    key_id: &str,
    secret: &str,
    session_token: Option<&str>,
    body: &str,
) -> http::Request<Vec<u8>> {
    let mut req = http::Request::builder()
        .method("POST")
        .uri("http://127.0.0.1:8080/")
        .header("host", "127.0.0.1:8080")
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(body.as_bytes().to_vec())
        .expect("request");
    let identity: Identity = Credentials::new(
        key_id,
        secret,
        session_token.map(str::to_owned),
        None,
        "bench",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .expect("params")
        .into();
    let signable = SignableRequest::new(
        "POST",
        "http://127.0.0.1:8080/",
        req.headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.to_str().expect("ascii header"))),
        SignableBody::Bytes(body.as_bytes()),
    )
    .expect("signable");
    let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
    instructions.apply_to_request_http1x(&mut req);
    req
}

/// A copy of a signed request `axum` can consume.
fn replay(template: &http::Request<Vec<u8>>) -> http::Request<Body> {
    let mut req = http::Request::builder()
        .method("POST")
        .uri("/")
        .body(Body::from(template.body().clone()))
        .expect("request");
    *req.headers_mut() = template.headers().clone();
    req
}

/// The text of `<name>…</name>` in an XML answer.
fn element<'a>(xml: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let start = xml.find(&open).expect("element present") + open.len();
    let end = xml[start..].find('<').expect("element closed") + start;
    &xml[start..end]
}

fn bench_router(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let data = tempfile::tempdir().expect("tempdir");
    let args = ServeArgs {
        listen: "127.0.0.1:0".into(),
        data_dir: data.path().to_path_buf(),
        account_id: "123456789012".into(),
        database_url: None,
        master_key_file: None,
        log_format: "pretty".into(),
        body_limit: "1048576".into(),
        request_timeout: "30".into(),
        shutdown_grace: "5".into(),
        oidc_ca_file: None,
    };
    let config = args.validate(&NoEnv).expect("config");
    let (state, root) = runtime
        .block_on(irsa_server::prepare(config, Arc::new(SystemClock)))
        .expect("server state");
    let app = irsa_server::router(state);
    let template = signed_request(
        "sts",
        &root.access_key_id,
        root.secret_access_key.expose(),
        None,
        BODY,
    );
    let session_template = runtime.block_on(async {
        let get_session = signed_request(
            "sts",
            &root.access_key_id,
            root.secret_access_key.expose(),
            None,
            "Action=GetSessionToken&Version=2011-06-15",
        );
        let response = app
            .clone()
            .oneshot(replay(&get_session))
            .await
            .expect("infallible");
        assert_eq!(response.status(), 200);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let xml = String::from_utf8(bytes.to_vec()).expect("utf-8");
        signed_request(
            "sts",
            element(&xml, "AccessKeyId"),
            element(&xml, "SecretAccessKey"),
            Some(element(&xml, "SessionToken")),
            BODY,
        )
    });
    // An IAM user's access key: a long-term key other than the root's.
    let user_template = runtime.block_on(async {
        let root_call = |body: &str| {
            let request = signed_request(
                "iam",
                &root.access_key_id,
                root.secret_access_key.expose(),
                None,
                body,
            );
            let app = app.clone();
            async move {
                let response = app.oneshot(replay(&request)).await.expect("infallible");
                assert_eq!(response.status(), 200);
                let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .expect("body");
                String::from_utf8(bytes.to_vec()).expect("utf-8")
            }
        };
        root_call("Action=CreateUser&UserName=bench&Version=2010-05-08").await;
        let xml = root_call("Action=CreateAccessKey&UserName=bench&Version=2010-05-08").await;
        signed_request(
            "sts",
            element(&xml, "AccessKeyId"),
            element(&xml, "SecretAccessKey"),
            None,
            BODY,
        )
    });

    let mut group = c.benchmark_group("router");
    group.throughput(Throughput::Elements(1));
    for (name, request) in [
        ("signed GetCallerIdentity (long-term key)", &template),
        (
            "signed GetCallerIdentity (IAM user's long-term key)",
            &user_template,
        ),
        (
            "signed GetCallerIdentity (session credentials)",
            &session_template,
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let response = runtime
                    .block_on(app.clone().oneshot(replay(request)))
                    .expect("infallible");
                assert_eq!(response.status(), 200);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench_router);
criterion_main!(benches);
