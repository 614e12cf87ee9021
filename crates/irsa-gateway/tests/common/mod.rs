//! An irsa server (STS + IAM) and its S3 gateway in-process, in front of
//! a real Garage started by scripts/test (or scripts/garage.sh), driven by
//! aws-sdk-rust and by hand-signed requests.
//!
//! Reusable by the CLI/boto3 tests: [`Gateway::start`] gives the STS/IAM
//! endpoint, the S3 endpoint and root credentials; [`Gateway::role`]
//! makes a role with an inline policy and returns session credentials.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use irsa_core::{SecretString, SystemClock};
use irsa_server::config::{Environment, S3Config, ServeArgs};
use irsa_server::{prepare, router};

pub const ACCOUNT: &str = "123456789012";

/// The Garage the tests run against, from scripts/test's variables.
#[derive(Debug, Clone)]
pub struct UpstreamEnv {
    pub url: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: String,
}

/// `None` (with a note) when Garage is not configured; in CI it must be.
pub fn upstream_env() -> Option<UpstreamEnv> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let found = (|| {
        Some(UpstreamEnv {
            url: var("IRSA_TEST_S3_UPSTREAM_URL")?,
            access_key_id: var("IRSA_TEST_S3_UPSTREAM_ACCESS_KEY_ID")?,
            secret_access_key: var("IRSA_TEST_S3_UPSTREAM_SECRET_ACCESS_KEY")?,
            region: var("IRSA_TEST_S3_UPSTREAM_REGION").unwrap_or_else(|| "us-east-1".into()),
        })
    })();
    if found.is_none() {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "IRSA_TEST_S3_UPSTREAM_* are not set but CI=true: the S3 gateway tests must run against Garage in CI"
        );
        eprintln!(
            "skipping: set IRSA_TEST_S3_UPSTREAM_URL/_ACCESS_KEY_ID/_SECRET_ACCESS_KEY (scripts/test starts Garage; or run scripts/garage.sh)"
        );
    }
    found
}

struct NoEnvironment;

impl Environment for NoEnvironment {
    fn var(&self, _name: &str) -> Option<String> {
        None
    }
    fn read_file(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

pub struct Gateway {
    /// STS and IAM.
    pub api_addr: SocketAddr,
    /// The S3 gateway.
    pub s3_addr: SocketAddr,
    pub root: Credentials,
    _data: tempfile::TempDir,
    api_task: tokio::task::JoinHandle<()>,
    _s3: irsa_server::s3::S3Gateway,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.api_task.abort();
    }
}

impl Gateway {
    pub async fn start(upstream: &UpstreamEnv) -> Gateway {
        let data = tempfile::tempdir().unwrap();
        let args = ServeArgs {
            listen: "127.0.0.1:0".into(),
            data_dir: data.path().to_path_buf(),
            account_id: ACCOUNT.into(),
            database_url: None,
            master_key_file: None,
            log_format: "pretty".into(),
            body_limit: "1048576".into(),
            request_timeout: "30".into(),
            shutdown_grace: "5".into(),
            oidc_ca_file: None,
        };
        let mut config = args.validate(&NoEnvironment).unwrap();
        config.s3 = Some(S3Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            upstream_url: upstream.url.clone(),
            domains: vec!["s3.localhost".into()],
            upstream_access_key_id: upstream.access_key_id.clone(),
            upstream_secret_access_key: SecretString::new(upstream.secret_access_key.clone()),
            upstream_region: upstream.region.clone(),
        });
        let (state, root) = prepare(config, Arc::new(SystemClock)).await.unwrap();
        let s3_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let s3 = irsa_server::s3::start_on(&state, s3_listener, None)
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api_addr = listener.local_addr().unwrap();
        let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
        let api_task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Gateway {
            api_addr,
            s3_addr: s3.addr,
            root: Credentials::new(
                &root.access_key_id,
                root.secret_access_key.expose(),
                None,
                None,
                "irsa-test",
            ),
            _data: data,
            api_task,
            _s3: s3,
        }
    }

    pub fn s3_endpoint(&self) -> String {
        format!("http://{}", self.s3_addr)
    }

    fn sdk_config(&self, endpoint: String, creds: Credentials) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(creds),
            )
            .build()
    }

    pub fn s3(&self, creds: Credentials) -> aws_sdk_s3::Client {
        let config = self.sdk_config(self.s3_endpoint(), creds);
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .build(),
        )
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(
            &self.sdk_config(format!("http://{}", self.api_addr), self.root.clone()),
        )
    }

    pub fn sts(&self, creds: Credentials) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.sdk_config(format!("http://{}", self.api_addr), creds))
    }

    /// A role `name` allowed `policy` (inline), assumed by an IAM user
    /// through AssumeRole: the role session's credentials.
    pub async fn role(&self, name: &str, policy: &str) -> (String, Credentials) {
        let iam = self.iam();
        let user = format!("{name}-caller");
        iam.create_user().user_name(&user).send().await.unwrap();
        iam.put_user_policy()
            .user_name(&user)
            .policy_name("assume")
            .policy_document(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#,
            )
            .send()
            .await
            .unwrap();
        let key = iam
            .create_access_key()
            .user_name(&user)
            .send()
            .await
            .unwrap()
            .access_key
            .unwrap();
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"sts:AssumeRole"}}]}}"#
        );
        let role = iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust)
            .send()
            .await
            .unwrap()
            .role
            .unwrap();
        iam.put_role_policy()
            .role_name(name)
            .policy_name("s3")
            .policy_document(policy)
            .send()
            .await
            .unwrap();
        let user_creds = Credentials::new(
            key.access_key_id(),
            key.secret_access_key(),
            None,
            None,
            "irsa-test",
        );
        let assumed = self
            .sts(user_creds)
            .assume_role()
            .role_arn(role.arn())
            .role_session_name("s3-test")
            .send()
            .await
            .unwrap();
        let c = assumed.credentials.unwrap();
        (
            assumed.assumed_role_user.unwrap().arn,
            Credentials::new(
                c.access_key_id(),
                c.secret_access_key(),
                Some(c.session_token().to_owned()),
                None,
                "irsa-test",
            ),
        )
    }
}

/// A bucket name no other test uses.
pub fn bucket_name(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &id[..12])
}

/// A raw HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Answer {
    /// The `<Code>` of an S3 error document.
    pub fn code(&self) -> &str {
        self.body
            .split_once("<Code>")
            .and_then(|(_, rest)| rest.split_once("</Code>"))
            .map_or("", |(code, _)| code)
    }
}

/// Sends a request as is (already signed or presigned).
pub async fn send(method: &str, url: &str, headers: &[(String, String)], body: Vec<u8>) -> Answer {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let mut request = http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = client
        .request(request.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Signs a request by hand (header form), as a client would, with any
/// region/service/time and payload hash: for the bad-input tests. Returns
/// the headers to send and the seed signature.
#[allow(clippy::too_many_arguments)]
pub fn sign_headers(
    creds: &Credentials,
    method: &str,
    url: &str,
    extra: &[(&str, &str)],
    content_sha256: &str,
    region: &str,
    service: &str,
    time: SystemTime,
) -> (Vec<(String, String)>, String) {
    let host = url
        .split_once("://")
        .unwrap()
        .1
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let mut headers: Vec<(String, String)> = vec![("host".into(), host)];
    headers.extend(
        extra
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    );
    let identity = creds.clone().into();
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        SignableBody::Precomputed(content_sha256.to_owned()),
    )
    .unwrap();
    let (instructions, signature) = sign(signable, &params).unwrap().into_parts();
    for (name, value) in instructions.headers() {
        headers.push((name.to_owned(), value.to_owned()));
    }
    headers.retain(|(n, _)| n != "host");
    (headers, signature)
}
