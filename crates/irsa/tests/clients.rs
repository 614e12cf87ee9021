//! The real `aws` CLI and boto3 against the real `irsa serve` binary.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on setup failures

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{client_available, Server};

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/clients")
}

fn run(mut command: Command) {
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{command:?} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
}

#[test]
fn aws_cli_walkthrough() {
    if !client_available("aws", &["--version"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut command = Command::new("bash");
    command
        .arg(scripts_dir().join("walkthrough.sh"))
        .arg(format!("http://127.0.0.1:{}", server.port))
        .arg(dir.path());
    run(command);
    server.stop();
}

#[test]
fn boto3_walkthrough() {
    if !client_available("python3", &["-c", "import boto3"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let credentials = std::fs::read_to_string(dir.path().join("root-credentials")).unwrap();
    let value = |name: &str| {
        credentials
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} = ")))
            .unwrap()
            .to_owned()
    };
    let mut command = Command::new("python3");
    command
        .arg(scripts_dir().join("walkthrough_boto3.py"))
        .arg(format!("http://127.0.0.1:{}", server.port))
        .arg(value("aws_access_key_id"))
        .arg(value("aws_secret_access_key"));
    run(command);
    server.stop();
}
