//! What the `AwsApi::handle` integration tests share: a SQLite-backed API
//! with a test clock and root key, and requests signed by the real
//! `aws-sigv4` crate.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)] // each test binary uses part of it

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::HeaderValue;
use irsa_api::{AwsApi, HttpRequest, HttpResponse};
use irsa_core::{AccountId, Clock, SharedClock, TestClock};
use irsa_store::{MasterKey, NewAccessKey, Store, StoreConfig};

pub const ACCOUNT: &str = "123456789012";
/// 2026-11-23T14:00:00Z
pub const T0: u64 = 1_795_442_400;

pub struct Env {
    pub api: AwsApi,
    pub clock: TestClock,
    pub store: Arc<dyn Store>,
    pub root: Creds,
    _dir: tempfile::TempDir,
}

#[derive(Clone)]
pub struct Creds {
    pub ak: String,
    pub sk: String,
    pub token: Option<String>,
}

pub async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at_unix(T0);
    let shared: SharedClock = Arc::new(clock.clone());
    let store = irsa_store::open(StoreConfig {
        database_url: None,
        data_dir: dir.path().to_path_buf(),
        master_key: MasterKey::generate().unwrap(),
        account_id: ACCOUNT.parse().unwrap(),
        clock: Arc::clone(&shared),
    })
    .await
    .unwrap();
    let root = store
        .create_access_key(NewAccessKey::for_root())
        .await
        .unwrap();
    let api = AwsApi::new(
        Arc::clone(&store),
        shared,
        ACCOUNT.parse::<AccountId>().unwrap(),
    )
    .await
    .unwrap();
    Env {
        api,
        clock,
        store,
        root: Creds {
            ak: root.key.id.clone(),
            sk: root.secret.expose().to_owned(),
            token: None,
        },
        _dir: dir,
    }
}

pub fn signed(creds: &Creds, service: &str, body: &str, at: SystemTime) -> http::Request<Vec<u8>> {
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
    let identity: Identity = Credentials::new(
        creds.ak.clone(),
        creds.sk.clone(),
        creds.token.clone(),
        None,
        "test",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(at)
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

pub async fn send(env: &Env, req: &http::Request<Vec<u8>>) -> HttpResponse {
    env.api
        .handle(HttpRequest {
            method: req.method().as_str(),
            path: req.uri().path(),
            query: req.uri().query().unwrap_or(""),
            headers: req.headers(),
            body: req.body(),
            request_id: "req-1",
            source_ip: Some("127.0.0.1".parse().unwrap()),
            secure_transport: false,
        })
        .await
}

pub async fn call(env: &Env, creds: &Creds, service: &str, body: &str) -> HttpResponse {
    let req = signed(creds, service, body, env.clock.now());
    send(env, &req).await
}

pub async fn iam(env: &Env, creds: &Creds, body: &str) -> HttpResponse {
    call(env, creds, "iam", &format!("Version=2010-05-08&{body}")).await
}

pub async fn sts(env: &Env, creds: &Creds, body: &str) -> HttpResponse {
    call(env, creds, "sts", &format!("Version=2011-06-15&{body}")).await
}

/// Text of the first `<name>` element.
pub fn field(body: &str, name: &str) -> String {
    let open = format!("<{name}>");
    let start = body
        .find(&open)
        .unwrap_or_else(|| panic!("no <{name}> in {body}"))
        + open.len();
    let end = body[start..].find(&format!("</{name}>")).unwrap() + start;
    body[start..end].to_owned()
}

pub fn assert_ok(r: &HttpResponse) {
    assert_eq!(r.status, 200, "{}", r.body);
}

pub fn assert_err(r: &HttpResponse, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(field(&r.body, "Code"), code, "{}", r.body);
}

pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            write!(out, "%{b:02X}").unwrap();
        }
    }
    out
}

pub const TRUST_ACCOUNT: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;

/// A user `alice` with a key; returns the key.
pub async fn user_with_key(env: &Env, name: &str) -> Creds {
    assert_ok(
        &iam(
            env,
            &env.root,
            &format!("Action=CreateUser&UserName={name}"),
        )
        .await,
    );
    let r = iam(
        env,
        &env.root,
        &format!("Action=CreateAccessKey&UserName={name}"),
    )
    .await;
    assert_ok(&r);
    Creds {
        ak: field(&r.body, "AccessKeyId"),
        sk: field(&r.body, "SecretAccessKey"),
        token: None,
    }
}

pub async fn allow_user(env: &Env, user: &str, policy: &str, actions: &str) {
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":{actions},"Resource":"*"}}]}}"#
    );
    let r = iam(
        env,
        &env.root,
        &format!(
            "Action=PutUserPolicy&UserName={user}&PolicyName={policy}&PolicyDocument={}",
            enc(&doc)
        ),
    )
    .await;
    assert_ok(&r);
}

pub async fn create_role(env: &Env, name: &str, extra: &str) {
    let r = iam(
        env,
        &env.root,
        &format!(
            "Action=CreateRole&RoleName={name}&AssumeRolePolicyDocument={}{extra}",
            enc(TRUST_ACCOUNT)
        ),
    )
    .await;
    assert_ok(&r);
}

pub fn session_creds(body: &str) -> Creds {
    Creds {
        ak: field(body, "AccessKeyId"),
        sk: field(body, "SecretAccessKey"),
        token: Some(field(body, "SessionToken")),
    }
}
