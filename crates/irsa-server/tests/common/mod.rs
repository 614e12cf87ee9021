//! An irsa server running in-process on an ephemeral port, for tests that
//! drive it with real clients.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use irsa_core::{SecretString, SharedClock, SystemClock};
use irsa_server::bootstrap::RootCredentials;
use irsa_server::config::{Environment, ServeArgs};
use irsa_server::{prepare, router};

/// No environment: tests configure everything through flags.
struct EmptyEnvironment;

impl Environment for EmptyEnvironment {
    fn var(&self, _name: &str) -> Option<String> {
        None
    }
    fn read_file(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub root: RootCredentials,
    pub account: String,
    _data: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with_clock(Arc::new(SystemClock)).await
    }

    pub async fn start_with_clock(clock: SharedClock) -> TestServer {
        Self::start_with(clock, None).await
    }

    /// With `oidc_ca_file`, OIDC providers whose certificates chain to that
    /// CA are trusted.
    pub async fn start_with(clock: SharedClock, oidc_ca_file: Option<&Path>) -> TestServer {
        let data = tempfile::tempdir().unwrap();
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
            oidc_ca_file: oidc_ca_file.map(Path::to_path_buf),
        };
        let config = args.validate(&EmptyEnvironment).unwrap();
        let (state, root) = prepare(config, clock).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        TestServer {
            addr,
            root,
            account: "123456789012".into(),
            _data: data,
            task,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn root_credentials(&self) -> aws_credential_types::Credentials {
        credentials(&self.root.access_key_id, &self.root.secret_access_key, None)
    }

    pub fn sdk_config(&self, creds: aws_credential_types::Credentials) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(creds),
            )
            .build()
    }

    pub fn sts(&self, creds: aws_credential_types::Credentials) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.sdk_config(creds))
    }

    pub fn iam(&self, creds: aws_credential_types::Credentials) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.sdk_config(creds))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn credentials(
    id: &str,
    secret: &SecretString,
    token: Option<String>,
) -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new(id, secret.expose(), token, None, "irsa-test")
}

impl TestServer {
    /// GET over a bare HTTP/1.1 connection; returns the body.
    pub async fn get_text(&self, path: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: irsa\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default()
    }
}
