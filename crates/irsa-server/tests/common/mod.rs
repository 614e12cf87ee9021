//! An irsa server running in-process on an ephemeral port, for tests that
//! drive it with real clients.
#![allow(dead_code, unused_macros, clippy::unwrap_used, clippy::expect_used)]

pub mod issuer;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use irsa_core::{SecretString, SharedClock, SystemClock};
use irsa_server::bootstrap::RootCredentials;
use irsa_server::config::{Environment, ServeArgs};
use irsa_server::{prepare, router};

/// One `#[tokio::test]` per backend for each `async fn(TestServer)` named:
/// `sqlite::NAME` always, `postgres::NAME` when `IRSA_TEST_DATABASE_URL` is
/// set (skipped with a note otherwise, as `TestServer::start_on` says).
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let server = crate::common::TestServer::start_on(crate::common::Db::Sqlite)
                        .await
                        .unwrap();
                    super::$name(server).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(server) =
                        crate::common::TestServer::start_on(crate::common::Db::Postgres).await
                    {
                        assert_eq!(server.backend, crate::common::Db::Postgres);
                        super::$name(server).await;
                    }
                }
            )*
        }
    };
}
#[allow(unused_imports)] // test files without per-backend tests
pub(crate) use on_both_backends;

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

/// The database behind a test server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A new, empty database on the server `IRSA_TEST_DATABASE_URL` points at
/// (one per test, as the store's conformance suite does), or `None` with a
/// note when the variable is unset. In CI it must be set.
async fn fresh_postgres_database() -> Option<String> {
    use sqlx::{Connection, Executor};
    let Some(admin_url) = std::env::var("IRSA_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "IRSA_TEST_DATABASE_URL is not set but CI=true: the PostgreSQL API tests must run in CI"
        );
        eprintln!(
            "skipping the PostgreSQL variant: set IRSA_TEST_DATABASE_URL=postgres://… (scripts/test does) to run it"
        );
        return None;
    };
    sqlx::any::install_default_drivers();
    let db = format!(
        "irsa_api_test_{}",
        irsa_core::generate_id(irsa_core::IdPrefix::User).to_lowercase()
    );
    let mut admin = sqlx::AnyConnection::connect(&admin_url).await.unwrap();
    admin
        .execute(format!("CREATE DATABASE {db}").as_str())
        .await
        .unwrap();
    admin.close().await.unwrap();
    Some(with_database(&admin_url, &db))
}

/// Replaces the database name in a PostgreSQL URL.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{host_part}/{db}{query}")
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub root: RootCredentials,
    pub account: String,
    pub backend: Db,
    /// The server's store, to act as another replica sharing it would.
    pub store: Arc<dyn irsa_store::Store>,
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
        Self::launch(clock, oidc_ca_file, None).await
    }

    /// A server on `db`; `None` (with a printed note) for PostgreSQL when
    /// `IRSA_TEST_DATABASE_URL` is unset (scripts/test always sets it).
    pub async fn start_on(db: Db) -> Option<TestServer> {
        let clock: SharedClock = Arc::new(SystemClock);
        match db {
            Db::Sqlite => Some(Self::launch(clock, None, None).await),
            Db::Postgres => {
                let url = fresh_postgres_database().await?;
                Some(Self::launch(clock, None, Some(url)).await)
            }
        }
    }

    async fn launch(
        clock: SharedClock,
        oidc_ca_file: Option<&Path>,
        database_url: Option<String>,
    ) -> TestServer {
        let data = tempfile::tempdir().unwrap();
        // PostgreSQL needs a master key shared by replicas: give it a file.
        let master_key_file = database_url.as_ref().map(|_| {
            let path = data.path().join("test-master-key");
            let key = irsa_store::MasterKey::generate().unwrap();
            std::fs::write(&path, key.to_base64().expose()).unwrap();
            path
        });
        let backend = if database_url.is_some() {
            Db::Postgres
        } else {
            Db::Sqlite
        };
        let args = ServeArgs {
            listen: "127.0.0.1:0".into(),
            data_dir: data.path().to_path_buf(),
            account_id: "123456789012".into(),
            database_url,
            master_key_file,
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
        let store = state.store.clone();
        let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        TestServer {
            addr,
            root,
            account: "123456789012".into(),
            backend,
            store,
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
