//! An irsa server (STS + IAM) and its S3 gateway in-process, in front of
//! a real Garage started by scripts/test (or scripts/garage.sh), driven by
//! aws-sdk-rust and by hand-signed requests.
//!
//! Reusable by the CLI/boto3 tests: [`Gateway::start`] gives the STS/IAM
//! endpoint, the S3 endpoint and root credentials; [`Gateway::role`]
//! makes a role with an inline policy and returns session credentials.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

/// The OIDC test issuer of irsa-server's tests (HTTPS, throwaway CA).
#[path = "../../../irsa-server/tests/common/issuer.rs"]
pub mod issuer;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use irsa_core::{SecretString, SystemClock};
use irsa_gateway::{
    GatewayMetrics, Pipeline, S3Front, S3FrontConfig, ServerOptions, Upstream, UpstreamConfig,
};
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

/// How a test gateway differs from the default one.
#[derive(Default)]
pub struct Options {
    /// The upstream's response timeout (the gateway's default when `None`).
    pub response_timeout: Option<Duration>,
    /// Serve HTTPS with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// A PostgreSQL database URL (SQLite in a temp dir when `None`).
    pub database_url: Option<String>,
    /// Trust OIDC providers whose certificates chain to this CA.
    pub oidc_ca_file: Option<std::path::PathBuf>,
}

/// The database behind a test gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A new, empty database on the server `IRSA_TEST_DATABASE_URL` points at
/// (scripts/test sets it), or `None` with a note when it is unset. In CI
/// it must be set.
pub async fn fresh_postgres_database() -> Option<String> {
    use sqlx::{Connection as _, Executor as _};
    let Some(admin_url) = std::env::var("IRSA_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "IRSA_TEST_DATABASE_URL is not set but CI=true: the PostgreSQL gateway tests must run in CI"
        );
        eprintln!("skipping the PostgreSQL variant: set IRSA_TEST_DATABASE_URL=postgres://… (scripts/test does)");
        return None;
    };
    sqlx::any::install_default_drivers();
    let db = format!(
        "irsa_gateway_test_{}",
        uuid::Uuid::new_v4().simple().to_string()[..16].to_owned()
    );
    let mut admin = sqlx::AnyConnection::connect(&admin_url).await.unwrap();
    admin
        .execute(format!("CREATE DATABASE {db}").as_str())
        .await
        .unwrap();
    admin.close().await.unwrap();
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b.to_owned(), format!("?{q}")),
        None => (admin_url.clone(), String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => base[..scheme_end + i].to_owned(),
        None => base,
    };
    Some(format!("{host_part}/{db}{query}"))
}

pub struct Gateway {
    /// STS and IAM.
    pub api_addr: SocketAddr,
    /// The S3 gateway.
    pub s3_addr: SocketAddr,
    pub root: Credentials,
    pub backend: Db,
    /// HTTPS (the test's CA must be trusted by the client).
    pub https: bool,
    _data: tempfile::TempDir,
    api_task: tokio::task::JoinHandle<()>,
    s3_task: tokio::task::JoinHandle<()>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.api_task.abort();
        self.s3_task.abort();
    }
}

impl Gateway {
    pub async fn start(upstream: &UpstreamEnv) -> Gateway {
        Self::start_with(upstream, Options::default()).await
    }

    /// The gateway on `db`: `None` (with a note) for PostgreSQL when
    /// `IRSA_TEST_DATABASE_URL` is unset.
    pub async fn start_on(upstream: &UpstreamEnv, db: Db) -> Option<Gateway> {
        let database_url = match db {
            Db::Sqlite => None,
            Db::Postgres => Some(fresh_postgres_database().await?),
        };
        Some(
            Self::start_with(
                upstream,
                Options {
                    database_url,
                    ..Options::default()
                },
            )
            .await,
        )
    }

    /// The gateway is assembled here from irsa-gateway's public parts
    /// (as irsa-server does), so a test can set what the server does not
    /// expose (a short upstream timeout).
    pub async fn start_with(upstream: &UpstreamEnv, options: Options) -> Gateway {
        let data = tempfile::tempdir().unwrap();
        let backend = if options.database_url.is_some() {
            Db::Postgres
        } else {
            Db::Sqlite
        };
        // PostgreSQL needs a master key in a file (replicas share it).
        let master_key_file = options.database_url.as_ref().map(|_| {
            let path = data.path().join("test-master-key");
            let key = irsa_store::MasterKey::generate().unwrap();
            std::fs::write(&path, key.to_base64().expose()).unwrap();
            path
        });
        let args = ServeArgs {
            listen: "127.0.0.1:0".into(),
            data_dir: data.path().to_path_buf(),
            account_id: ACCOUNT.into(),
            database_url: options.database_url.clone(),
            master_key_file,
            log_format: "pretty".into(),
            body_limit: "1048576".into(),
            request_timeout: "30".into(),
            shutdown_grace: "5".into(),
            oidc_ca_file: options.oidc_ca_file.clone(),
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
        let mut gateway_upstream = Upstream::new(UpstreamConfig {
            endpoint: upstream.url.clone(),
            access_key_id: upstream.access_key_id.clone(),
            secret_access_key: SecretString::new(upstream.secret_access_key.clone()),
            region: upstream.region.clone(),
            connect_timeout: Duration::from_secs(2),
        })
        .unwrap();
        if let Some(timeout) = options.response_timeout {
            gateway_upstream = gateway_upstream.with_response_timeout(timeout);
        }
        let pipeline = Pipeline {
            authenticator: Arc::clone(state.api.authenticator()),
            authorizer: Arc::clone(state.api.authorizer()),
            upstream: gateway_upstream,
            metrics: GatewayMetrics::new("s3"),
            clock: state.clock.clone(),
            account: state.config.account_id.clone(),
        };
        let front = S3Front::new(
            pipeline,
            state.store.clone(),
            &S3FrontConfig {
                domains: vec!["s3.localhost".into()],
            },
        );
        let https = options.tls.is_some();
        let s3_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let s3_addr = s3_listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let s3_task = tokio::spawn(irsa_gateway::serve(
            s3_listener,
            Arc::new(front),
            ServerOptions {
                tls: options.tls,
                shutdown_grace: Duration::from_secs(1),
                ..ServerOptions::default()
            },
            async move {
                let _ = stopped.await;
            },
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api_addr = listener.local_addr().unwrap();
        let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
        let api_task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Gateway {
            api_addr,
            s3_addr,
            root: Credentials::new(
                &root.access_key_id,
                root.secret_access_key.expose(),
                None,
                None,
                "irsa-test",
            ),
            backend,
            https,
            _data: data,
            api_task,
            s3_task,
            _stop: stop,
        }
    }

    pub fn s3_endpoint(&self) -> String {
        if self.https {
            format!("https://localhost:{}", self.s3_addr.port())
        } else {
            format!("http://{}", self.s3_addr)
        }
    }

    #[allow(clippy::unused_self)] // a method so callers read gateway.sdk_config(…)
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
        let role = self.role_with_policy(name, trust, policy).await;
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
        session(assumed.assumed_role_user, assumed.credentials)
    }

    /// Creates role `name` trusting `trust`, with inline policy `policy`.
    async fn role_with_policy(
        &self,
        name: &str,
        trust: String,
        policy: &str,
    ) -> aws_sdk_iam::types::Role {
        let iam = self.iam();
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
        role
    }
}

/// The assumed-role ARN and the session credentials of an STS answer.
fn session(
    user: Option<aws_sdk_sts::types::AssumedRoleUser>,
    credentials: Option<aws_sdk_sts::types::Credentials>,
) -> (String, Credentials) {
    let c = credentials.unwrap();
    (
        user.unwrap().arn,
        Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            None,
            "irsa-test",
        ),
    )
}

impl Gateway {
    /// A role `name` with inline `policy`, trusting service account
    /// `default/app` of `issuer` (registered as an OIDC provider here), and
    /// session credentials from an unsigned AssumeRoleWithWebIdentity
    /// (aws-sdk-sts) with that service account's token.
    pub async fn web_identity_role(
        &self,
        issuer: &issuer::HttpsIssuer,
        name: &str,
        policy: &str,
    ) -> (String, Credentials) {
        let iam = self.iam();
        iam.create_open_id_connect_provider()
            .url(&issuer.url)
            .client_id_list("sts.amazonaws.com")
            .send()
            .await
            .unwrap();
        let trust = issuer.trust_policy(ACCOUNT, "system:serviceaccount:default:app");
        let role = self.role_with_policy(name, trust, policy).await;
        let now = i64::try_from(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        )
        .unwrap();
        let token = issuer.token("default", "app", now);
        // Unsigned, as a pod without keys calls it.
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::Config::builder()
                .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
                .region(aws_sdk_sts::config::Region::new("us-east-1"))
                .endpoint_url(format!("http://{}", self.api_addr))
                .build(),
        );
        let assumed = sts
            .assume_role_with_web_identity()
            .role_arn(role.arn())
            .role_session_name("pod")
            .web_identity_token(token)
            .send()
            .await
            .unwrap();
        session(assumed.assumed_role_user, assumed.credentials)
    }
}

/// A throwaway CA and a certificate it signed for `localhost` and
/// `127.0.0.1`: the gateway's HTTPS configuration (HTTP/1.1, as irsa-server
/// sets it) and the CA's PEM for clients to trust.
pub fn throwaway_tls() -> (Arc<rustls::ServerConfig>, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "irsa gateway test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let ca = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![
            leaf.der().clone(),
            CertificateDer::from(ca_cert.der().to_vec()),
        ],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
    )
    .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    (Arc::new(config), ca_cert.pem())
}

impl Gateway {
    /// An S3 client for the HTTPS gateway, trusting only `ca_pem`.
    pub fn s3_https(&self, creds: Credentials, ca_pem: &str) -> aws_sdk_s3::Client {
        use aws_smithy_http_client::tls;
        let http_client = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .tls_context(
                tls::TlsContext::builder()
                    .with_trust_store(
                        tls::TrustStore::empty().with_pem_certificate(ca_pem.as_bytes()),
                    )
                    .build()
                    .unwrap(),
            )
            .build_https();
        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(self.s3_endpoint())
            .http_client(http_client)
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(creds),
            )
            .build();
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .build(),
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
