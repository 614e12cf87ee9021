//! `irsa explain` as a user runs it: a real `irsa serve` with its built-in
//! issuer (http, `--allow-insecure-issuer`), IAM set up over signed Query
//! calls, a token from `irsa token issue`, then `irsa explain` against the
//! server (`--endpoint`) and in-process (`--data-dir`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use serde_json::Value;
use support::{free_port, http_get, irsa};

const ACCOUNT: &str = "123456789012";

struct Served {
    child: Child,
    port: u16,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data_dir: &Path) -> Served {
    let port = free_port();
    let child = irsa()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--issuer-url", &format!("http://127.0.0.1:{port}")])
        .arg("--allow-insecure-issuer")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let served = Served { child, port };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some((200, _)) = http_get(port, "/readyz") {
            return served;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("server did not become ready");
}

fn root(data_dir: &Path) -> (String, String) {
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

fn form(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        for (j, part) in [k, v].iter().enumerate() {
            if j == 1 {
                out.push('=');
            }
            for b in part.bytes() {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    out.push(char::from(b));
                } else {
                    let _ = write!(out, "%{b:02X}");
                }
            }
        }
    }
    out
}

/// A Query POST answered as JSON, signed for `service` when `creds` is given.
fn post(
    port: u16,
    creds: Option<(&str, &str)>,
    service: &str,
    pairs: &[(&str, &str)],
) -> (u16, Value) {
    let body = form(pairs);
    let host = format!("127.0.0.1:{port}");
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let mut request = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nAccept: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if let Some((id, secret)) = creds {
        let identity = aws_credential_types::Credentials::new(id, secret, None, None, "t").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name(service)
            .time(irsa_core::Clock::now(&irsa_core::SystemClock))
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let headers = [("host", host.as_str()), ("content-type", content_type)];
        let url = format!("http://{host}/");
        let signable = SignableRequest::new(
            "POST",
            &url,
            headers.iter().copied(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        for (name, value) in instructions.headers() {
            let _ = write!(request, "{name}: {value}\r\n");
        }
    }
    request.push_str("\r\n");
    request.push_str(&body);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let (_, rest) = response.split_once("\r\n\r\n").unwrap();
    let start = rest.find('{').unwrap();
    let end = rest.rfind('}').unwrap();
    (status, serde_json::from_str(&rest[start..=end]).unwrap())
}

fn issue_token(data_dir: &Path, port: u16, service_account: &str, out: &Path) {
    let output = irsa()
        .args(["token", "issue", "--data-dir"])
        .arg(data_dir)
        .args([
            "--issuer-url",
            &format!("http://127.0.0.1:{port}"),
            "--allow-insecure-issuer",
            "--namespace",
            "default",
            "--service-account",
            service_account,
            "--output",
        ])
        .arg(out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn explain(args: &[&str]) -> Output {
    irsa()
        .arg("explain")
        .args(args)
        // Credentials must come from the data dir, not the developer's shell.
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .unwrap()
}

#[test]
#[allow(clippy::too_many_lines)] // one walkthrough
fn explain_tells_why_a_pod_is_denied() {
    let data = tempfile::tempdir().unwrap();
    let server = serve(data.path());
    let port = server.port;
    let (id, secret) = root(data.path());
    let creds = Some((id.as_str(), secret.as_str()));
    let issuer = format!("http://127.0.0.1:{port}");
    let host = format!("127.0.0.1:{port}");

    let (status, body) = post(
        port,
        creds,
        "iam",
        &[
            ("Action", "CreateOpenIDConnectProvider"),
            ("Version", "2010-05-08"),
            ("Url", &issuer),
            ("ClientIDList.member.1", "sts.amazonaws.com"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{host}")},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                format!("{host}:aud"): "sts.amazonaws.com",
                format!("{host}:sub"): "system:serviceaccount:default:app"
            }}
        }]
    })
    .to_string();
    let (status, body) = post(
        port,
        creds,
        "iam",
        &[
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", "app"),
            ("AssumeRolePolicyDocument", &trust),
        ],
    );
    assert_eq!(status, 200, "{body}");
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/app");

    let tokens = tempfile::tempdir().unwrap();
    let good = tokens.path().join("app.jwt");
    let other = tokens.path().join("other.jwt");
    issue_token(data.path(), port, "app", &good);
    issue_token(data.path(), port, "other", &other);
    let data_dir = data.path().to_str().unwrap();
    let endpoint = format!("http://127.0.0.1:{port}");

    // Against the running server, credentials from the data dir.
    let out = explain(&[
        "--role-arn",
        &role_arn,
        "--token",
        good.to_str().unwrap(),
        "--endpoint",
        &endpoint,
        "--data-dir",
        data_dir,
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("✓ provider"), "{stdout}");
    assert!(stdout.contains("Result: ✓ allowed"), "{stdout}");

    // The wrong service account: exit 1, the failing condition with the
    // actual sub, and exactly the error AssumeRoleWithWebIdentity gives.
    let out = explain(&[
        "--role-arn",
        &role_arn,
        "--token",
        other.to_str().unwrap(),
        "--endpoint",
        &endpoint,
        "--data-dir",
        data_dir,
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("✗ StringEquals 127.0.0.1")
            && stdout.contains("\"system:serviceaccount:default:other\""),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "AccessDenied (HTTP 403): Not authorized to perform sts:AssumeRoleWithWebIdentity"
        ),
        "{stdout}"
    );
    let other_token = std::fs::read_to_string(&other).unwrap();
    let (status, real) = post(
        port,
        None,
        "sts",
        &[
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", "2011-06-15"),
            ("RoleArn", &role_arn),
            ("RoleSessionName", "pod"),
            ("WebIdentityToken", other_token.trim()),
        ],
    );
    assert_eq!(status, 403);

    // In-process, JSON: the same answer without a server round trip.
    let out = explain(&[
        "--role-arn",
        &role_arn,
        "--token",
        other.to_str().unwrap(),
        "--data-dir",
        data_dir,
        "--allow-insecure-issuer",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["outcome"]["allowed"], false);
    assert_eq!(json["outcome"]["code"], real["Error"]["Code"]);
    assert_eq!(json["outcome"]["message"], real["Error"]["Message"]);
    let out = explain(&[
        "--role-arn",
        &role_arn,
        "--token",
        good.to_str().unwrap(),
        "--data-dir",
        data_dir,
        "--allow-insecure-issuer",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["outcome"]["allowed"], true);
    // Claims are shown; the token (and its signature) never.
    let good_token = std::fs::read_to_string(&good).unwrap();
    let signature = good_token.trim().rsplit('.').next().unwrap();
    assert!(!text(&out.stdout).contains(signature));

    // Usage errors exit 2.
    let out = explain(&["--role-arn", &role_arn, "--token", "/nonexistent/token"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("/nonexistent/token"),
        "{}",
        text(&out.stderr)
    );
    let out = explain(&["--token", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let missing = tokens.path().join("no-such-dir");
    let out = explain(&[
        "--role-arn",
        &role_arn,
        "--token",
        good.to_str().unwrap(),
        "--data-dir",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no such data directory"),
        "{}",
        text(&out.stderr)
    );
    drop(server);
}
