//! Running the real `irsa` binary in tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn irsa() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_irsa"));
    // Keep the developer's environment out of the test.
    for (key, _) in std::env::vars() {
        if key.starts_with("IRSA_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Whether a client tool (`aws`, `python3 -c 'import boto3'`, `curl`) is
/// usable. In CI (`CI=true`) its absence fails the test, because
/// `scripts/test` installs it; elsewhere the test is skipped with a note.
pub fn client_available(program: &str, args: &[&str]) -> bool {
    let ok = Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{program} is required in CI (scripts/test installs it)"
        );
        eprintln!("skipping: {program} not available (run ./scripts/test to install it)");
    }
    ok
}

/// The S3 store `scripts/test` starts (Garage) for the gateway's tests.
pub struct S3Upstream {
    pub url: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// The store from `IRSA_TEST_S3_UPSTREAM_*`, or `None` with a note (a
/// failure in CI, where `scripts/test` always starts one).
pub fn s3_upstream() -> Option<S3Upstream> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let found = (|| {
        Some(S3Upstream {
            url: var("IRSA_TEST_S3_UPSTREAM_URL")?,
            access_key_id: var("IRSA_TEST_S3_UPSTREAM_ACCESS_KEY_ID")?,
            secret_access_key: var("IRSA_TEST_S3_UPSTREAM_SECRET_ACCESS_KEY")?,
        })
    })();
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "IRSA_TEST_S3_UPSTREAM_* are not set but CI=true: scripts/test starts Garage"
        );
        eprintln!("skipping: no S3 store (run ./scripts/test, which starts Garage)");
    }
    found
}

/// A suffix that keeps bucket names of concurrent tests apart (the store is
/// shared by every test of a run).
pub fn unique_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

/// A shell session as a reader of the README would have it: a fresh
/// temporary `HOME` with a `work` directory to run in, `irsa` on `PATH` (a
/// symlink to the binary cargo built), and none of the developer's `AWS_*`
/// or `IRSA_*` variables.
pub struct ShellSandbox {
    pub dir: tempfile::TempDir,
    pub work: std::path::PathBuf,
}

impl ShellSandbox {
    pub fn new() -> ShellSandbox {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_irsa"), bin.join("irsa")).unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir(&work).unwrap();
        ShellSandbox { dir, work }
    }

    /// `bash -c SCRIPT` under `timeout SECONDS`, in the sandbox.
    pub fn bash(&self, script: &str, timeout_seconds: u32) -> Command {
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = Command::new("timeout");
        command
            .args([&timeout_seconds.to_string(), "bash", "-c", script])
            .current_dir(&self.work)
            .stdin(Stdio::null());
        for (key, _) in std::env::vars() {
            if key.starts_with("AWS_") || key.starts_with("IRSA_") {
                command.env_remove(key);
            }
        }
        command.env("PATH", path).env("HOME", self.dir.path());
        command
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A bare HTTP/1.1 GET; returns (status, body).
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

/// A running `irsa serve`; killed on drop if the test fails before `stop`.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
}

impl Server {
    pub fn start(data_dir: &Path) -> Server {
        let port = free_port();
        let child = irsa()
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let server = Server {
            child: Some(child),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some((200, _)) = http_get(port, "/readyz") {
                return server;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("server did not become ready");
    }

    /// Sends SIGTERM and returns what the process printed.
    pub fn stop(mut self) -> Output {
        let child = self.child.take().unwrap();
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        child.wait_with_output().unwrap()
    }
}

pub fn root_key_id(data_dir: &Path) -> String {
    let text = std::fs::read_to_string(data_dir.join("root-credentials")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("aws_access_key_id = "))
        .unwrap()
        .to_owned()
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
