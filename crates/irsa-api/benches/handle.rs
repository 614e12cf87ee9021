//! A full signed request through `AwsApi::handle` (decode, SigV4, store
//! lookup or session-token open, authorization, render), no network.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use criterion::{criterion_group, criterion_main, Criterion};
use http::HeaderValue;
use irsa_api::{AwsApi, HttpRequest};
use irsa_core::{Clock, SharedClock, TestClock};
use irsa_store::{MasterKey, NewAccessKey, StoreConfig};

const T0: u64 = 1_795_442_400;

fn signed(
    ak: &str,
    sk: &str,
    token: Option<&str>,
    service: &str,
    body: &str,
    clock: &TestClock,
) -> http::Request<Vec<u8>> {
    let mut req = http::Request::builder()
        .method("POST")
        .uri(format!("https://{service}.amazonaws.com/"))
        .body(body.as_bytes().to_vec())
        .unwrap();
    req.headers_mut().insert(
        "host",
        HeaderValue::from_str(&format!("{service}.amazonaws.com")).unwrap(),
    );
    req.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
    );
    let identity: Identity = Credentials::new(ak, sk, token.map(String::from), None, "b").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(clock.now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let uri = req.uri().to_string();
    let signable = SignableRequest::new(
        "POST",
        uri,
        req.headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.to_str().unwrap())),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(&mut req);
    req
}

async fn run(api: &AwsApi, req: &http::Request<Vec<u8>>) -> u16 {
    api.handle(HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: req.headers(),
        body: req.body(),
        request_id: "r",
        source_ip: None,
        secure_transport: false,
    })
    .await
    .status
}

fn field(body: &str, name: &str) -> String {
    let start = body.find(&format!("<{name}>")).unwrap() + name.len() + 2;
    let end = body[start..].find('<').unwrap() + start;
    body[start..end].to_owned()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at_unix(T0);
    let shared: SharedClock = Arc::new(clock.clone());
    let (api, root) = rt.block_on(async {
        let store = irsa_store::open(StoreConfig {
            database_url: None,
            data_dir: dir.path().to_path_buf(),
            master_key: MasterKey::generate().unwrap(),
            account_id: "123456789012".parse().unwrap(),
            clock: Arc::clone(&shared),
        })
        .await
        .unwrap();
        let root = store
            .create_access_key(NewAccessKey::for_root())
            .await
            .unwrap();
        let api = AwsApi::new(store, shared, "123456789012".parse().unwrap())
            .await
            .unwrap();
        (api, root)
    });
    let (rak, rsk) = (root.key.id.clone(), root.secret.expose().to_owned());
    let gci = "Action=GetCallerIdentity&Version=2011-06-15";
    let root_req = signed(&rak, &rsk, None, "sts", gci, &clock);
    assert_eq!(rt.block_on(run(&api, &root_req)), 200);

    // A session (GetSessionToken of root): no database read to authenticate.
    let r = rt.block_on(
        api.handle(HttpRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: signed(
                &rak,
                &rsk,
                None,
                "sts",
                "Action=GetSessionToken&Version=2011-06-15",
                &clock,
            )
            .headers(),
            body: b"Action=GetSessionToken&Version=2011-06-15",
            request_id: "r",
            source_ip: None,
            secure_transport: false,
        }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let (sak, ssk, tok) = (
        field(&r.body, "AccessKeyId"),
        field(&r.body, "SecretAccessKey"),
        field(&r.body, "SessionToken"),
    );
    let session_req = signed(&sak, &ssk, Some(&tok), "sts", gci, &clock);
    assert_eq!(rt.block_on(run(&api, &session_req)), 200);

    let mut g = c.benchmark_group("handle");
    g.bench_function("GetCallerIdentity root key (store lookup)", |b| {
        b.iter(|| black_box(rt.block_on(run(&api, &root_req))));
    });
    g.bench_function("GetCallerIdentity session token (stateless)", |b| {
        b.iter(|| black_box(rt.block_on(run(&api, &session_req))));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
