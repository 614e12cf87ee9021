//! Real `irsa serve` processes for the reliability tests (crash safety,
//! replicas, PostgreSQL faults, secrets in logs, soak): spawned from the
//! binary cargo built, killed with SIGKILL, restarted on the same data, their
//! output captured to a file; plus AWS SDK clients that never retry, so a
//! 200 seen by the test is exactly one acknowledged request.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ACCOUNT: &str = "123456789012";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Environment variable naming an `irsa` binary to run instead of the one
/// cargo built for this test (e.g. a copy of a release build, so a soak
/// runs exactly the binary measured while others rebuild the shared target).
pub const TEST_BIN_ENV: &str = "IRSA_TEST_BIN";

/// The `irsa` binary with the developer's `IRSA_*` / `AWS_*` variables removed.
pub fn irsa() -> Command {
    let binary = std::env::var_os(TEST_BIN_ENV)
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_irsa").into());
    let mut cmd = Command::new(binary);
    for (key, _) in std::env::vars() {
        if key.starts_with("IRSA_") || key.starts_with("AWS_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Whether a PostgreSQL server is configured; in CI it must be.
pub fn postgres_admin_url() -> Option<String> {
    let url = std::env::var("IRSA_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "IRSA_TEST_DATABASE_URL is not set but CI=true: the PostgreSQL variants must run in CI"
        );
        eprintln!(
            "skipping the PostgreSQL variant: set IRSA_TEST_DATABASE_URL (scripts/test does)"
        );
    }
    url
}

/// A new, empty database on the server `IRSA_TEST_DATABASE_URL` points at
/// (one per test); `None` when the variable is unset.
pub async fn fresh_postgres_database(prefix: &str) -> Option<String> {
    use sqlx::{Connection, Executor};
    let admin_url = postgres_admin_url()?;
    sqlx::any::install_default_drivers();
    let db = format!(
        "irsa_{prefix}_{}",
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
pub fn with_database(url: &str, db: &str) -> String {
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

/// How to start one `irsa serve`.
#[derive(Clone, Debug)]
pub struct Spec {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub master_key_file: Option<PathBuf>,
    /// Everything the process prints (stdout and stderr), appended across restarts.
    pub log_file: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl Spec {
    /// SQLite in `dir/data`, log in `dir/serve.log`.
    pub fn sqlite(dir: &Path) -> Spec {
        Spec {
            data_dir: dir.join("data"),
            database_url: None,
            master_key_file: None,
            log_file: dir.join("serve.log"),
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// PostgreSQL at `url` with a master key file written into `dir`
    /// (replicas share it by sharing the file).
    pub fn postgres(dir: &Path, url: &str, master_key_file: &Path) -> Spec {
        Spec {
            data_dir: dir.join("data"),
            database_url: Some(url.to_owned()),
            master_key_file: Some(master_key_file.to_path_buf()),
            log_file: dir.join("serve.log"),
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    pub fn master_key_path(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master-key"))
    }
}

/// Writes a new master key (base64 of 32 bytes) to `path`.
pub fn write_master_key(path: &Path) {
    let key = irsa_store::MasterKey::generate().unwrap();
    std::fs::write(path, key.to_base64().expose()).unwrap();
}

/// One running `irsa serve`; SIGKILLed on drop.
pub struct Process {
    child: Option<Child>,
    pub port: u16,
    pub spec: Spec,
}

impl Process {
    /// Starts the process on a free port (it may not be ready yet).
    pub fn spawn(spec: &Spec) -> Process {
        Self::spawn_on(spec, free_port())
    }

    pub fn spawn_on(spec: &Spec, port: u16) -> Process {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&spec.log_file)
            .unwrap();
        let mut cmd = irsa();
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(&spec.data_dir);
        if let Some(url) = &spec.database_url {
            cmd.args(["--database-url", url]);
        }
        if let Some(file) = &spec.master_key_file {
            cmd.arg("--master-key-file").arg(file);
        }
        cmd.args(&spec.args)
            .envs(spec.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log));
        Process {
            child: Some(cmd.spawn().unwrap()),
            port,
            spec: spec.clone(),
        }
    }

    /// Starts the process and waits until `/readyz` answers 200.
    pub fn start(spec: &Spec) -> Process {
        let process = Self::spawn(spec);
        process.wait_ready(Duration::from_secs(60));
        process
    }

    pub fn wait_ready(&self, within: Duration) -> Duration {
        let started = Instant::now();
        while started.elapsed() < within {
            if let Some((200, _)) = http_get(self.port, "/readyz") {
                return started.elapsed();
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!(
            "irsa serve on port {} not ready within {within:?}; its log:\n{}",
            self.port,
            std::fs::read_to_string(&self.spec.log_file).unwrap_or_default()
        );
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// SIGKILL, as an OOM killer or a power cut would stop it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// SIGTERM and wait for the exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        child.wait().unwrap()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A bare HTTP/1.1 GET; (status, body).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

/// The root key written to `<data-dir>/root-credentials`: (id, secret).
pub fn root_credentials(data_dir: &Path) -> (String, String) {
    let text = std::fs::read_to_string(data_dir.join("root-credentials")).unwrap();
    let value = |name: &str| {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap()
    };
    (value("aws_access_key_id"), value("aws_secret_access_key"))
}

pub fn credentials(
    id: &str,
    secret: &str,
    token: Option<&str>,
) -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new(id, secret, token.map(str::to_owned), None, "irsa-test")
}

/// SDK configuration with retries off (one call = one request) and a
/// bounded operation time, so a hang shows up as a timeout.
pub fn sdk_config(
    endpoint: &str,
    creds: aws_credential_types::Credentials,
    operation_timeout: Duration,
) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(creds))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_timeout(operation_timeout)
                .build(),
        )
        .build()
}

pub fn iam(endpoint: &str, creds: aws_credential_types::Credentials) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&sdk_config(endpoint, creds, Duration::from_secs(20)))
}

pub fn sts(endpoint: &str, creds: aws_credential_types::Credentials) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::new(&sdk_config(endpoint, creds, Duration::from_secs(20)))
}

/// What a failed SDK call came back with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The service answered with an AWS error: (HTTP status, code).
    Service(u16, String),
    /// The operation timed out on the client.
    Timeout,
    /// No answer: connection refused or reset, or a body cut short.
    Transport(String),
}

impl Failure {
    pub fn code(&self) -> Option<&str> {
        match self {
            Failure::Service(_, code) => Some(code),
            _ => None,
        }
    }
}

/// Classifies an SDK error.
pub fn failure<E>(
    err: &aws_sdk_iam::error::SdkError<E, aws_sdk_iam::config::http::HttpResponse>,
) -> Failure
where
    E: aws_sdk_iam::error::ProvideErrorMetadata + std::fmt::Debug,
{
    use aws_sdk_iam::error::SdkError;
    match err {
        SdkError::TimeoutError(_) => Failure::Timeout,
        SdkError::ServiceError(service) => Failure::Service(
            service.raw().status().as_u16(),
            service.err().code().unwrap_or("?").to_owned(),
        ),
        SdkError::ResponseError(_) | SdkError::DispatchFailure(_) => {
            let text = format!("{err:?}");
            if text.contains("TimedOut") || text.contains("timed out") {
                Failure::Timeout
            } else {
                Failure::Transport(text.chars().take(200).collect())
            }
        }
        other => Failure::Transport(format!("{other:?}").chars().take(200).collect()),
    }
}

/// An IAM policy allowing `actions` on everything.
pub fn allow(actions: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":{actions},"Resource":"*"}}]}}"#
    )
}

/// Like [`allow`], with a statement id (letters and digits).
pub fn allow_as(sid: &str, actions: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{sid}","Effect":"Allow","Action":{actions},"Resource":"*"}}]}}"#
    )
}

/// A trust policy letting the account's root (and so its users) assume a role.
pub fn trust_account(marker: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{marker}","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    )
}

/// Percent-decodes a policy document as IAM returns it.
pub fn decode_document(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(v) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// Canonical JSON text, to compare documents regardless of whitespace.
pub fn same_json(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// `irsa token issue` against `spec`'s store: a service-account token from
/// the built-in issuer at `issuer` for `default/<service_account>`.
pub fn issue_token(spec: &Spec, issuer: &str, service_account: &str) -> String {
    let out_file = spec
        .data_dir
        .join(format!("token-{service_account}-{}", free_port()));
    let mut cmd = irsa();
    cmd.args(["token", "issue", "--data-dir"])
        .arg(&spec.data_dir);
    if let Some(url) = &spec.database_url {
        cmd.args(["--database-url", url]);
    }
    if let Some(file) = &spec.master_key_file {
        cmd.arg("--master-key-file").arg(file);
    }
    let out = cmd
        .args(["--issuer-url", issuer, "--allow-insecure-issuer"])
        .args([
            "--namespace",
            "default",
            "--service-account",
            service_account,
        ])
        .arg("--output")
        .arg(&out_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "irsa token issue: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(&out_file)
        .unwrap()
        .trim()
        .to_owned()
}

/// Registers the built-in issuer at `issuer` (`http://127.0.0.1:PORT`) as an
/// OIDC provider and creates `role` trusting `default/<service_account>`.
pub async fn web_identity_role(
    iam: &aws_sdk_iam::Client,
    issuer: &str,
    role: &str,
    service_account: &str,
) {
    let host = issuer.trim_start_matches("http://");
    iam.create_open_id_connect_provider()
        .url(issuer)
        .client_id_list("sts.amazonaws.com")
        .send()
        .await
        .unwrap();
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"{host}:sub":"system:serviceaccount:default:{service_account}"}}}}}}]}}"#
    );
    iam.create_role()
        .role_name(role)
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
}

/// Resident set size (kB) and open file descriptors of a process.
pub fn rss_kb_and_fds(pid: u32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count);
    (rss, fds)
}

/// Open file descriptors of a process by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FdKinds {
    /// Follow the clients' connections.
    pub sockets: usize,
    /// The SQLite database, its WAL and shared memory: a few per pooled
    /// connection, so they follow the store pool's size (at most 8).
    pub store_files: usize,
    /// Everything else (the log file, pipes, epoll and event fds).
    pub others: usize,
}

pub fn fd_kinds(pid: u32) -> FdKinds {
    let mut kinds = FdKinds::default();
    if let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for entry in entries.flatten() {
            let target = std::fs::read_link(entry.path()).unwrap_or_default();
            let target = target.to_string_lossy();
            if target.starts_with("socket:") {
                kinds.sockets += 1;
            } else if target.contains("irsa.db") {
                kinds.store_files += 1;
            } else {
                kinds.others += 1;
            }
        }
    }
    kinds
}
