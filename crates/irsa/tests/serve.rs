//! `irsa serve` as a user runs it: the real binary, real files, real sockets.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on setup failures

mod support;

use std::net::TcpListener;

use support::{free_port, http_get, irsa, root_key_id, Server};

#[test]
fn serves_health_and_keeps_root_key_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let server = Server::start(&data);
    assert_eq!(http_get(server.port, "/healthz").unwrap().0, 200);
    let (status, _) = http_get(server.port, "/readyz").unwrap();
    assert_eq!(status, 200);
    let first = server.stop();
    assert!(first.status.success(), "exit: {:?}", first.status);
    let stdout = String::from_utf8_lossy(&first.stdout);
    let key_id = root_key_id(&data);
    assert!(key_id.starts_with("AKIA") && key_id.len() == 20, "{key_id}");
    assert!(
        stdout.contains(&key_id),
        "first start prints the generated key: {stdout}"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in ["root-credentials", "master-key"] {
            let mode = std::fs::metadata(data.join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file} mode {mode:o}");
        }
    }

    let server = Server::start(&data);
    let second = server.stop();
    assert!(second.status.success());
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(
        !stdout.contains("aws_secret_access_key"),
        "printed again: {stdout}"
    );
    assert_eq!(root_key_id(&data), key_id, "root key changed on restart");
}

#[test]
fn invalid_configuration_lists_every_problem_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let output = irsa()
        .args([
            "serve",
            "--listen",
            "nowhere",
            "--account-id",
            "12",
            "--log-format",
            "yaml",
            "--database-url",
            "mysql://db",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for flag in ["--listen", "--account-id", "--log-format", "--database-url"] {
        assert!(stderr.contains(flag), "{flag} not reported:\n{stderr}");
    }
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "wrote files"
    );
}

#[test]
fn unknown_flag_exits_2() {
    let output = irsa().args(["serve", "--no-such-flag"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn port_in_use_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let output = irsa()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot listen on"), "{stderr}");
}

#[test]
fn wrong_master_key_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    Server::start(&data).stop();
    // Another key (base64 of 32 bytes) for the same data.
    std::fs::write(
        data.join("master-key"),
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
    )
    .unwrap();
    let output = irsa()
        .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.to_lowercase().contains("master key"), "{stderr}");
}

#[test]
fn unwritable_data_dir_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    let output = irsa()
        .args(["serve", "--data-dir"])
        .arg(file.join("sub"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--data-dir"));
}
