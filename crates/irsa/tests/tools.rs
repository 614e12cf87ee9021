//! `irsa token`, `irsa issuer` and `irsa oidc` as a user runs them: the
//! real binary, real files, real sockets.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use irsa_oidc::{ObjectRef, ServiceAccountToken, SigningKey, SigningKeyType};
use serde_json::Value;
use support::{free_port, irsa};

fn run(args: &[&str]) -> Output {
    irsa().args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn now() -> i64 {
    irsa_core::Clock::unix_seconds(&irsa_core::SystemClock)
}

fn minted(key: &SigningKey) -> String {
    ServiceAccountToken {
        issuer: "https://issuer.example".into(),
        audiences: vec!["sts.amazonaws.com".into()],
        namespace: "default".into(),
        service_account: ObjectRef {
            name: "demo".into(),
            uid: "sa-uid".into(),
        },
        pod: None,
        node: None,
        expiration_seconds: 3600,
        warn_after: None,
    }
    .mint(key, now())
    .unwrap()
}

/// Verifies `token` with the independent `jsonwebtoken` crate against a
/// served JWKS document: the key is picked by the token's `kid`.
fn verify_with_jsonwebtoken(token: &str, jwks: &str, issuer: &str, audience: &str) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_str(jwks).unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("the token's kid is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[issuer]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap()
        .claims
}

fn pem(label: &str, der: &[u8]) -> String {
    pem::encode(&pem::Pem::new(label, der.to_vec()))
}

/// Status, lower-cased headers, body.
type Response = (u16, Vec<(String, String)>, String);

/// A raw GET.
fn get(port: u16, path: &str) -> Option<Response> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some((status, headers, body.to_owned()))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A child process killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(port: u16, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some((200, _, _)) = get(port, path) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("nothing answered 200 on {path}");
}

#[test]
fn decode_prints_header_claims_and_relative_times() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate(SigningKeyType::EcdsaP256).unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{}\n", minted(&key))).unwrap();

    let out = run(&["token", "decode", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("\"ES256\""), "{stdout}");
    assert!(stdout.contains(key.kid()), "{stdout}");
    assert!(
        stdout.contains("system:serviceaccount:default:demo"),
        "{stdout}"
    );
    assert!(
        stdout.contains("expires in 59m") || stdout.contains("expires in 1h"),
        "{stdout}"
    );

    let out = run(&["token", "decode", "--json", file.to_str().unwrap()]);
    assert!(out.status.success());
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["claims"]["aud"],
        serde_json::json!(["sts.amazonaws.com"])
    );
    assert_eq!(json["header"]["kid"], key.kid());
    assert_eq!(json["expired"], false);
    assert_eq!(json["verified"], false);

    // Standard input.
    let mut child = irsa()
        .args(["token", "decode", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(minted(&key).as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["claims"]["sub"], "system:serviceaccount:default:demo");
}

#[test]
fn decode_rejects_bad_token_files_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate(SigningKeyType::EcdsaP256).unwrap();
    let cases = [
        ("empty.jwt", String::new(), "the token file is empty"),
        ("crlf.jwt", format!("{}\r\n", minted(&key)), "CRLF"),
        ("garbage.jwt", "hello".to_owned(), "not a JWT"),
    ];
    for (name, contents, expected) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, contents).unwrap();
        let out = run(&["token", "decode", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(name), "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
    }
    let out = run(&[
        "token",
        "decode",
        dir.path().join("missing").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("missing: cannot read"));
}

/// `token verify` reads files like `decode`, and `token issue` / `serve`
/// refuse an issuer URL with a query, naming the flag.
#[test]
fn verify_and_issue_reject_bad_files_and_issuer_urls() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate(SigningKeyType::EcdsaP256).unwrap();
    for (name, contents, expected) in [
        ("empty.jwt", String::new(), "the token file is empty"),
        ("crlf.jwt", format!("{}\r\n", minted(&key)), "CRLF"),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, contents).unwrap();
        let out = run(&[
            "token",
            "verify",
            file.to_str().unwrap(),
            "--issuer",
            "https://oidc.example",
        ]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(name), "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
    }

    let data = dir.path().join("data");
    let out = run(&[
        "token",
        "issue",
        "--data-dir",
        data.to_str().unwrap(),
        "--issuer-url",
        "https://oidc.example/cluster?x=1",
        "--namespace",
        "default",
        "--service-account",
        "demo",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--issuer-url") && stderr.contains("query"),
        "{stderr}"
    );
    let out = run(&[
        "serve",
        "--data-dir",
        data.to_str().unwrap(),
        "--issuer-url",
        "https://oidc.example/cluster?x=1",
        "--issuer-rotation-period",
        "1w",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--issuer-url") && stderr.contains("query"),
        "{stderr}"
    );
    assert!(stderr.contains("--issuer-rotation-period"), "{stderr}");
}

fn write_keys(out_dir: &Path, issuer: &str, keys: &[&Path], extra: &[&str]) -> Output {
    let mut args = vec!["issuer", "keys", "--issuer-url", issuer];
    for k in keys {
        args.extend(["--public-key", k.to_str().unwrap()]);
    }
    args.extend(["--out", out_dir.to_str().unwrap()]);
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn issuer_keys_writes_documents_and_issuer_serve_serves_them() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate(SigningKeyType::Rsa2048).unwrap();
    let old = SigningKey::generate(SigningKeyType::Rsa2048).unwrap();
    let sa_pub = dir.path().join("sa.pub");
    let old_pub = dir.path().join("old.pub");
    std::fs::write(&sa_pub, pem("PUBLIC KEY", &key.public_key().spki_der())).unwrap();
    std::fs::write(&old_pub, pem("PUBLIC KEY", &old.public_key().spki_der())).unwrap();
    let out_dir = dir.path().join("site");
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}/cluster");

    let out = write_keys(
        &out_dir,
        &issuer,
        &[&sa_pub, &old_pub],
        &["--allow-insecure-issuer"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let jwks: Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("openid/v1/jwks")).unwrap())
            .unwrap();
    assert_eq!(
        jwks["keys"][0]["kid"],
        key.kid(),
        "kid as kube-apiserver computes it"
    );
    assert_eq!(jwks["keys"][1]["kid"], old.kid());
    assert_eq!(jwks["keys"][0]["alg"], "RS256");
    let disco: Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join(".well-known/openid-configuration")).unwrap(),
    )
    .unwrap();
    assert_eq!(disco["issuer"], issuer.as_str());
    assert_eq!(disco["jwks_uri"], format!("{issuer}/openid/v1/jwks"));

    let _server = Running(
        irsa()
            .args(["issuer", "serve", "--dir", out_dir.to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(port, "/cluster/openid/v1/jwks");
    let (_, headers, body) = get(port, "/cluster/.well-known/openid-configuration").unwrap();
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), disco);
    let (_, headers, body) = get(port, "/cluster/openid/v1/jwks").unwrap();
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/jwk-set+json")
    );
    assert_eq!(
        header(&headers, "cache-control"),
        Some("public, max-age=3600")
    );
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), jwks);
    // Also at the root, for proxies that strip the path.
    assert_eq!(get(port, "/openid/v1/jwks").unwrap().0, 200);
    assert_eq!(get(port, "/nothing").unwrap().0, 404);

    // A token signed by the cluster key verifies against the served issuer.
    let token = ServiceAccountToken {
        issuer: issuer.clone(),
        audiences: vec!["sts.amazonaws.com".into()],
        namespace: "kube-system".into(),
        service_account: ObjectRef {
            name: "builder".into(),
            uid: "u".into(),
        },
        pod: None,
        node: None,
        expiration_seconds: 3600,
        warn_after: None,
    }
    .mint(&key, now())
    .unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, &token).unwrap();
    let claims = verify_with_jsonwebtoken(&token, &body, &issuer, "sts.amazonaws.com");
    assert_eq!(claims["sub"], "system:serviceaccount:kube-system:builder");
    let out = run(&[
        "token",
        "verify",
        token_file.to_str().unwrap(),
        "--issuer",
        &issuer,
        "--audience",
        "sts.amazonaws.com",
        "--allow-insecure-issuer",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("[ok  ] signature valid"), "{stdout}");
    let out = run(&[
        "token",
        "verify",
        token_file.to_str().unwrap(),
        "--issuer",
        &issuer,
        "--audience",
        "someone-else",
        "--allow-insecure-issuer",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("[FAIL] aud"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn issuer_keys_bad_input_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate(SigningKeyType::Rsa2048).unwrap();
    let ec = SigningKey::generate(SigningKeyType::EcdsaP256).unwrap();
    let not_pem = dir.path().join("not-pem.pub");
    std::fs::write(&not_pem, "ssh-rsa AAAA me@host\n").unwrap();
    let private = dir.path().join("sa.key");
    std::fs::write(&private, pem("PRIVATE KEY", key.pkcs8_der().expose())).unwrap();
    let rsa_pub = dir.path().join("rsa.pub");
    std::fs::write(&rsa_pub, pem("PUBLIC KEY", &key.public_key().spki_der())).unwrap();
    let ec_pub = dir.path().join("ec.pub");
    std::fs::write(&ec_pub, pem("PUBLIC KEY", &ec.public_key().spki_der())).unwrap();
    let out_dir = dir.path().join("site");
    let https = "https://oidc.example";

    for (files, expected) in [
        (vec![not_pem.as_path()], "not-pem.pub: not a PEM file"),
        (vec![private.as_path()], "sa.key: contains a private key"),
        (
            vec![rsa_pub.as_path(), not_pem.as_path(), ec_pub.as_path()],
            "not-pem.pub: not a PEM file",
        ),
    ] {
        let out = write_keys(&out_dir, https, &files, &[]);
        assert_eq!(out.status.code(), Some(2), "{expected}");
        assert!(
            text(&out.stderr).contains(expected),
            "{}",
            text(&out.stderr)
        );
    }
    let out = write_keys(&out_dir, "https://oidc.example/?a=b", &[&rsa_pub], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("query"), "{}", text(&out.stderr));
    let out = write_keys(&out_dir, "http://oidc.example", &[&rsa_pub], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!out_dir.exists(), "nothing written on error");
}

/// Runs `sh -c script` and returns stdout; panics with stderr on failure.
fn shell(script: &str) -> Vec<u8> {
    let out = Command::new("sh").args(["-c", script]).output().unwrap();
    assert!(out.status.success(), "{script}: {}", text(&out.stderr));
    out.stdout
}

/// A DER INTEGER of an unsigned big-endian number.
fn der_uint(be: &[u8]) -> Vec<u8> {
    let first = be.iter().position(|&b| b != 0).unwrap_or(be.len() - 1);
    let mut content = be[first..].to_vec();
    if content[0] & 0x80 != 0 {
        content.insert(0, 0);
    }
    let mut out = vec![0x02, u8::try_from(content.len()).unwrap()];
    out.extend(content);
    out
}

/// Verifies an ES512 JWS with openssl, using only the JWK's `x` and `y`: the
/// P-521 key is rebuilt as SubjectPublicKeyInfo, the JWS `r||s` as DER.
fn verify_es512_with_openssl(token: &str, jwk: &Value, dir: &Path) {
    use irsa_oidc::jwt::b64url_decode;
    assert_eq!(
        (jwk["kty"].as_str(), jwk["crv"].as_str()),
        (Some("EC"), Some("P-521"))
    );
    let x = b64url_decode(jwk["x"].as_str().unwrap()).unwrap();
    let y = b64url_decode(jwk["y"].as_str().unwrap()).unwrap();
    assert_eq!((x.len(), y.len()), (66, 66));
    // SEQUENCE { SEQUENCE { id-ecPublicKey, secp521r1 }, BIT STRING 04||x||y }
    let mut spki = vec![
        0x30, 0x81, 0x9b, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
        0x05, 0x2b, 0x81, 0x04, 0x00, 0x23, 0x03, 0x81, 0x86, 0x00, 0x04,
    ];
    spki.extend(&x);
    spki.extend(&y);
    let key_file = dir.join("p521-from-jwk.pem");
    std::fs::write(&key_file, pem("PUBLIC KEY", &spki)).unwrap();
    let (input, signature) = token.rsplit_once('.').unwrap();
    let signature = b64url_decode(signature).unwrap();
    assert_eq!(signature.len(), 132);
    let body = [der_uint(&signature[..66]), der_uint(&signature[66..])].concat();
    let mut der = vec![0x30];
    if body.len() > 127 {
        der.push(0x81);
    }
    der.push(u8::try_from(body.len()).unwrap());
    der.extend(body);
    let (input_file, sig_file) = (dir.join("es512.input"), dir.join("es512.sig"));
    std::fs::write(&input_file, input).unwrap();
    std::fs::write(&sig_file, der).unwrap();
    let out = shell(&format!(
        "openssl dgst -sha512 -verify '{}' -signature '{}' '{}'",
        key_file.display(),
        sig_file.display(),
        input_file.display()
    ));
    assert_eq!(text(&out).trim(), "Verified OK");
}

/// kube-apiserver takes several `--service-account-key-file`s of mixed
/// types; `irsa issuer keys` publishes each with its own kid, kty and alg,
/// discovery lists every alg, and a token signed by each key verifies
/// against the served JWKS (jsonwebtoken for RS256/ES256/ES384, openssl for
/// ES512, which jsonwebtoken lacks, and `irsa token verify` for all).
#[test]
fn issuer_keys_publishes_mixed_rsa_and_ec_keys() {
    let dir = tempfile::tempdir().unwrap();
    let keys = [
        (SigningKeyType::Rsa2048, "RSA", None, "RS256"),
        (SigningKeyType::EcdsaP256, "EC", Some("P-256"), "ES256"),
        (SigningKeyType::EcdsaP384, "EC", Some("P-384"), "ES384"),
        (SigningKeyType::EcdsaP521, "EC", Some("P-521"), "ES512"),
    ]
    .map(|(kind, kty, crv, alg)| (SigningKey::generate(kind).unwrap(), kty, crv, alg));
    // RSA and P-256 in files of their own, P-384 and P-521 in one bundle.
    let rsa_pub = dir.path().join("rsa.pub");
    let p256_pub = dir.path().join("p256.pub");
    let bundle = dir.path().join("ec-bundle.pem");
    std::fs::write(
        &rsa_pub,
        pem("PUBLIC KEY", &keys[0].0.public_key().spki_der()),
    )
    .unwrap();
    std::fs::write(
        &p256_pub,
        pem("PUBLIC KEY", &keys[1].0.public_key().spki_der()),
    )
    .unwrap();
    std::fs::write(
        &bundle,
        format!(
            "{}{}",
            pem("PUBLIC KEY", &keys[2].0.public_key().spki_der()),
            pem("PUBLIC KEY", &keys[3].0.public_key().spki_der())
        ),
    )
    .unwrap();
    let out_dir = dir.path().join("site");
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let out = write_keys(
        &out_dir,
        &issuer,
        &[&rsa_pub, &p256_pub, &bundle],
        &["--allow-insecure-issuer"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    for (key, _, _, alg) in &keys {
        assert!(
            text(&out.stdout).contains(&format!("kid {} ({alg})", key.kid())),
            "{}",
            text(&out.stdout)
        );
    }

    let disco: Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join(".well-known/openid-configuration")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        disco["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256", "ES256", "ES384", "ES512"])
    );

    let _server = Running(
        irsa()
            .args(["issuer", "serve", "--dir", out_dir.to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(port, "/openid/v1/jwks");
    let (_, _, served) = get(port, "/openid/v1/jwks").unwrap();
    let jwks: Value = serde_json::from_str(&served).unwrap();
    let published = jwks["keys"].as_array().unwrap();
    assert_eq!(published.len(), 4, "{jwks:#}");

    for (i, (key, kty, crv, alg)) in keys.iter().enumerate() {
        let jwk = &published[i];
        // kid = base64url-no-pad(SHA-256(DER SPKI)), computed by openssl from
        // the PEM the user gave.
        let spki_file = dir.path().join(format!("key-{i}.pem"));
        std::fs::write(&spki_file, pem("PUBLIC KEY", &key.public_key().spki_der())).unwrap();
        let kid = shell(&format!(
            "openssl pkey -pubin -in '{}' -outform DER | openssl dgst -sha256 -binary | base64 -w0 | tr '+/' '-_' | tr -d '='",
            spki_file.display()
        ));
        assert_eq!(jwk["kid"].as_str(), Some(text(&kid).trim()), "{jwk}");
        assert_eq!(jwk["kty"].as_str(), Some(*kty), "{jwk}");
        assert_eq!(jwk["crv"].as_str(), *crv, "{jwk}");
        assert_eq!(jwk["alg"].as_str(), Some(*alg), "{jwk}");
        assert_eq!(jwk["use"], "sig");

        let token = ServiceAccountToken {
            issuer: issuer.clone(),
            audiences: vec!["sts.amazonaws.com".into()],
            namespace: "default".into(),
            service_account: ObjectRef {
                name: format!("sa-{i}"),
                uid: "u".into(),
            },
            pod: None,
            node: None,
            expiration_seconds: 3600,
            warn_after: None,
        }
        .mint(key, now())
        .unwrap();
        if *alg == "ES512" {
            verify_es512_with_openssl(&token, jwk, dir.path());
        } else {
            let claims = verify_with_jsonwebtoken(&token, &served, &issuer, "sts.amazonaws.com");
            assert_eq!(
                claims["sub"],
                format!("system:serviceaccount:default:sa-{i}")
            );
        }
        let token_file = dir.path().join(format!("token-{i}"));
        std::fs::write(&token_file, &token).unwrap();
        let out = run(&[
            "token",
            "verify",
            token_file.to_str().unwrap(),
            "--issuer",
            &issuer,
            "--audience",
            "sts.amazonaws.com",
            "--allow-insecure-issuer",
        ]);
        assert!(
            out.status.success(),
            "{alg}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
}

#[test]
fn token_issue_offline_then_serve_publishes_the_key_and_verify_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}/issuer");
    let token_file = dir.path().join("token");
    let issue = |output: Option<&Path>| {
        let mut cmd = irsa();
        cmd.args(["token", "issue", "--data-dir", data.to_str().unwrap()])
            .args(["--issuer-url", &issuer, "--allow-insecure-issuer"])
            .args(["--namespace", "team-a", "--service-account", "app"])
            .args(["--audience", "sts.amazonaws.com", "--audience", "vault"])
            .args([
                "--pod-name",
                "app-0",
                "--node-name",
                "node-1",
                "--expiration",
                "600",
            ]);
        if let Some(path) = output {
            cmd.arg("--output").arg(path);
        }
        cmd.output().unwrap()
    };

    let out = issue(Some(&token_file));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "the token goes to the file only");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let out = run(&["token", "decode", "--json", token_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let claims = &json["claims"];
    assert_eq!(claims["sub"], "system:serviceaccount:team-a:app");
    assert_eq!(
        claims["aud"],
        serde_json::json!(["sts.amazonaws.com", "vault"])
    );
    assert_eq!(claims["iss"], issuer.as_str());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );
    assert_eq!(claims["kubernetes.io"]["pod"]["name"], "app-0");
    assert_eq!(claims["kubernetes.io"]["node"]["name"], "node-1");
    assert_eq!(claims["kubernetes.io"]["namespace"], "team-a");
    let kid = json["header"]["kid"].as_str().unwrap().to_owned();
    assert_eq!(json["header"]["alg"], "RS256");

    // Printed to stdout without --output; the same key signs.
    let out = issue(None);
    assert!(out.status.success());
    let printed = text(&out.stdout);
    let decoded = irsa_oidc::jwt::decode(printed.trim()).unwrap();
    assert_eq!(decoded.kid(), Some(kid.as_str()));

    // Too short a lifetime is refused like TokenRequest does.
    let out = run(&[
        "token",
        "issue",
        "--data-dir",
        data.to_str().unwrap(),
        "--issuer-url",
        &issuer,
        "--allow-insecure-issuer",
        "--namespace",
        "a",
        "--service-account",
        "b",
        "--expiration",
        "60",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--expiration"),
        "{}",
        text(&out.stderr)
    );
    // Longer than the 48 h a retired key stays published: refused too.
    let out = run(&[
        "token",
        "issue",
        "--data-dir",
        data.to_str().unwrap(),
        "--issuer-url",
        &issuer,
        "--allow-insecure-issuer",
        "--namespace",
        "a",
        "--service-account",
        "b",
        "--expiration",
        "172801",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("600..=172800"),
        "{}",
        text(&out.stderr)
    );

    // The server started on the same data dir publishes the key.
    let _server = Running(
        irsa()
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(&data)
            .args(["--issuer-url", &issuer, "--allow-insecure-issuer"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(port, "/issuer/openid/v1/jwks");
    let (_, headers, body) = get(port, "/issuer/openid/v1/jwks").unwrap();
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/jwk-set+json")
    );
    assert_eq!(
        header(&headers, "cache-control"),
        Some("public, max-age=3600")
    );
    let jwks: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(jwks["keys"][0]["kid"], kid.as_str());
    let token = std::fs::read_to_string(&token_file).unwrap();
    let claims = verify_with_jsonwebtoken(token.trim(), &body, &issuer, "vault");
    assert_eq!(claims["sub"], "system:serviceaccount:team-a:app");
    let (_, headers, body) = get(port, "/issuer/.well-known/openid-configuration").unwrap();
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    let disco: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(disco["issuer"], issuer.as_str());
    assert_eq!(disco["jwks_uri"], format!("{issuer}/openid/v1/jwks"));

    let out = run(&[
        "token",
        "verify",
        token_file.to_str().unwrap(),
        "--issuer",
        &issuer,
        "--audience",
        "vault",
        "--allow-insecure-issuer",
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    // Rotation: a new key signs, the old one stays published, old tokens verify.
    let out = run(&["issuer", "rotate", "--data-dir", data.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = issue(None);
    let new_kid = irsa_oidc::jwt::decode(text(&out.stdout).trim())
        .unwrap()
        .kid()
        .unwrap()
        .to_owned();
    assert_ne!(new_kid, kid);
    let (_, _, body) = get(port, "/issuer/openid/v1/jwks").unwrap();
    let jwks: Value = serde_json::from_str(&body).unwrap();
    let mut kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    kids.sort_unstable();
    // Keys created in the same second have no defined order.
    let mut expected = vec![kid.as_str(), new_kid.as_str()];
    expected.sort_unstable();
    assert_eq!(kids, expected);
    let out = run(&[
        "token",
        "verify",
        token_file.to_str().unwrap(),
        "--issuer",
        &issuer,
        "--allow-insecure-issuer",
    ]);
    assert!(out.status.success(), "{}", text(&out.stdout));

    // Session-token keys, rotated while the server runs: the server's key
    // keeps sealing, the new one is pending; neither secret is printed.
    let data_dir = data.to_str().unwrap();
    let out = run(&["session-keys", "rotate", "--data-dir", data_dir]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rotated = text(&out.stdout);
    assert!(
        rotated.contains("seals from") && rotated.contains("90 s"),
        "{rotated}"
    );
    let out = run(&["session-keys", "list", "--data-dir", data_dir]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    let states: Vec<&str> = listed
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().nth(1))
        .collect();
    assert_eq!(states, ["sealing", "pending"], "{listed}");
    let new_key = rotated.split_whitespace().nth(3).unwrap();
    assert!(listed.contains(new_key), "{rotated}\n{listed}");
}

#[test]
fn serve_reports_issuer_flag_problems_with_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&[
        "serve",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--listen",
        "nowhere",
        "--issuer-url",
        "http://issuer.example",
        "--issuer-key-type",
        "dsa",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    for needle in [
        "--listen",
        "--issuer-url",
        "--allow-insecure-issuer",
        "--issuer-key-type",
        "3 problem(s)",
    ] {
        assert!(stderr.contains(needle), "{needle}: {stderr}");
    }
}

/// `irsa serve --tls-self-signed`: a real HTTPS client (curl) trusts the
/// generated certificate as a CA, `irsa oidc thumbprint` sees the thumbprint
/// the server printed, and tokens verify over HTTPS with the CA file or the
/// thumbprint (and not without either).
#[test]
fn serve_tls_self_signed_with_issuer() {
    if !support::client_available("curl", &["--version"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = support::free_port();
    let issuer = format!("https://localhost:{port}");
    let child = irsa()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(&data)
        .args(["--issuer-url", &issuer, "--tls-self-signed"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Running(child);
    let cert = data.join("tls-self-signed.crt");
    let ready = |extra: &[&str]| {
        Command::new("curl")
            .args(["-sf", "--max-time", "5"])
            .args(extra)
            .arg(format!("https://localhost:{port}/readyz"))
            .output()
            .is_ok_and(|o| o.status.success() && o.stdout == b"ready\n")
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(cert.exists() && ready(&["--cacert", cert.to_str().unwrap()])) {
        assert!(
            Instant::now() < deadline,
            "HTTPS server did not become ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Without the CA a real client refuses the certificate.
    assert!(!ready(&[]), "curl accepted a self-signed certificate");
    // Plain HTTP on the TLS port gets nothing useful.
    assert!(get(port, "/readyz").is_none_or(|(status, _, _)| status != 200));

    let out = run(&["oidc", "thumbprint", &issuer]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let thumbprint = text(&out.stdout).lines().next().unwrap().to_owned();
    assert_eq!(thumbprint.len(), 40, "{thumbprint}");

    let token = dir.path().join("token");
    let out = run(&[
        "token",
        "issue",
        "--data-dir",
        data.to_str().unwrap(),
        "--issuer-url",
        &issuer,
        "--namespace",
        "default",
        "--service-account",
        "demo",
        "--output",
        token.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "token",
            "verify",
            token.to_str().unwrap(),
            "--issuer",
            &issuer,
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let out = verify(&["--ca-file", cert.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let out = verify(&["--thumbprint", &thumbprint]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let out = verify(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));

    // The whole IRSA flow over HTTPS: the provider is registered with the
    // printed thumbprint, and STS trusts the issuer through it alone.
    if Command::new("aws")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        let aws = |args: &[&str]| {
            let out = Command::new("aws")
                .args(["--endpoint-url", &issuer, "--output", "text"])
                .args(args)
                .env("HOME", dir.path())
                .env("AWS_CONFIG_FILE", "/dev/null")
                .env("AWS_DEFAULT_REGION", "us-east-1")
                .env("AWS_CA_BUNDLE", &cert)
                .env("AWS_SHARED_CREDENTIALS_FILE", data.join("root-credentials"))
                .env("AWS_PROFILE", "irsa-root")
                .output()
                .unwrap();
            assert!(out.status.success(), "aws {args:?}: {}", text(&out.stderr));
            text(&out.stdout).trim().to_owned()
        };
        let host = format!("localhost:{port}");
        aws(&[
            "iam",
            "create-open-id-connect-provider",
            "--url",
            &issuer,
            "--client-id-list",
            "sts.amazonaws.com",
            "--thumbprint-list",
            &thumbprint,
        ]);
        let trust = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Federated": format!("arn:aws:iam::123456789012:oidc-provider/{host}")},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {format!("{host}:sub"): "system:serviceaccount:default:demo"}}
            }]
        })
        .to_string();
        aws(&[
            "iam",
            "create-role",
            "--role-name",
            "demo",
            "--assume-role-policy-document",
            &trust,
        ]);
        let jwt = std::fs::read_to_string(&token).unwrap();
        let arn = aws(&[
            "sts",
            "assume-role-with-web-identity",
            "--role-arn",
            "arn:aws:iam::123456789012:role/demo",
            "--role-session-name",
            "tls",
            "--web-identity-token",
            jwt.trim(),
            "--query",
            "AssumedRoleUser.Arn",
        ]);
        assert_eq!(arn, "arn:aws:sts::123456789012:assumed-role/demo/tls");
    }

    // The thumbprint the server printed at startup is the one IAM sees.
    let status = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut stdout = String::new();
    server
        .0
        .stdout
        .as_mut()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(
        stdout.contains(&format!("certificate thumbprint (SHA-1) {thumbprint}")),
        "{stdout}"
    );
}

/// `irsa token issue --endpoint`: the signed `IssueServiceAccountToken`
/// action of a running server, as root (credentials from --data-dir); a
/// user without an Allow is refused, an unknown key too.
#[test]
fn token_issue_against_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let issuer = format!("{endpoint}/issuer");
    let _server = Running(
        irsa()
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(&data)
            .args(["--issuer-url", &issuer, "--allow-insecure-issuer"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(port, "/issuer/openid/v1/jwks");
    let token = dir.path().join("token");
    let issue = |env: &[(&str, &str)]| {
        let mut cmd = irsa();
        cmd.args(["token", "issue", "--endpoint", &endpoint])
            .arg("--data-dir")
            .arg(&data)
            .args(["--namespace", "team-a", "--service-account", "app"])
            .args(["--audience", "sts.amazonaws.com", "--audience", "vault"])
            .args(["--expiration", "900", "--pod-name", "app-0"])
            .arg("--output")
            .arg(&token)
            .env("HOME", dir.path())
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_SHARED_CREDENTIALS_FILE");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let out = issue(&[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&["token", "decode", "--json", token.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let claims = &json["claims"];
    assert_eq!(claims["iss"], issuer.as_str());
    assert_eq!(claims["sub"], "system:serviceaccount:team-a:app");
    assert_eq!(
        claims["aud"],
        serde_json::json!(["sts.amazonaws.com", "vault"])
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    assert_eq!(claims["kubernetes.io"]["pod"]["name"], "app-0");
    let out = run(&[
        "token",
        "verify",
        token.to_str().unwrap(),
        "--issuer",
        &issuer,
        "--audience",
        "vault",
        "--allow-insecure-issuer",
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    // Somebody else's key: refused by the server, named by the client.
    let out = issue(&[
        ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("InvalidClientTokenId"),
        "{}",
        text(&out.stderr)
    );

    // An IAM user needs an Allow for irsa:IssueServiceAccountToken.
    let has_aws = Command::new("aws")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_aws {
        eprintln!("skipping the IAM-user half: aws CLI not available");
        return;
    }
    let aws = |args: &[&str]| {
        let out = Command::new("aws")
            .args(["--endpoint-url", &endpoint, "--output", "json"])
            .args(args)
            .env("HOME", dir.path())
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_SHARED_CREDENTIALS_FILE", data.join("root-credentials"))
            .env("AWS_PROFILE", "irsa-root")
            .output()
            .unwrap();
        assert!(out.status.success(), "aws {args:?}: {}", text(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null)
    };
    aws(&["iam", "create-user", "--user-name", "minter"]);
    let key = aws(&["iam", "create-access-key", "--user-name", "minter"]);
    let id = key["AccessKey"]["AccessKeyId"].as_str().unwrap().to_owned();
    let secret = key["AccessKey"]["SecretAccessKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let user_env = [
        ("AWS_ACCESS_KEY_ID", id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
    ];
    let out = issue(&user_env);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("AccessDenied")
            && stderr.contains(
                "user/minter is not authorized to perform: irsa:IssueServiceAccountToken"
            ),
        "{stderr}"
    );
    // Allowed for one namespace only.
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "irsa:IssueServiceAccountToken",
            "Resource": "*",
            "Condition": {"StringEquals": {"irsa:Namespace": "team-a"}}
        }]
    })
    .to_string();
    aws(&[
        "iam",
        "put-user-policy",
        "--user-name",
        "minter",
        "--policy-name",
        "mint",
        "--policy-document",
        &policy,
    ]);
    let out = issue(&user_env);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// A minimal Kubernetes API for `irsa webhook`: the ServiceAccount `default/app`
/// (GET and LIST; watches end at once, so the webhook falls back to GETs).
fn fake_kube_api(service_account: Value) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head);
            let path = head.split_whitespace().nth(1).unwrap_or("/");
            let (status, body) = if path.contains("watch=") {
                ("200 OK", String::new())
            } else if path.starts_with("/api/v1/namespaces/default/serviceaccounts/app") {
                ("200 OK", service_account.to_string())
            } else if path.contains("serviceaccounts") {
                let list = serde_json::json!({
                    "apiVersion": "v1", "kind": "ServiceAccountList",
                    "metadata": {"resourceVersion": "1"}, "items": [service_account]
                });
                ("200 OK", list.to_string())
            } else {
                (
                    "404 Not Found",
                    r#"{"kind":"Status","apiVersion":"v1","status":"Failure","code":404}"#
                        .to_owned(),
                )
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// `irsa webhook` as the upstream's users run it: `--sts-regional-endpoint`
/// alone means true (Go flag semantics), `--in-cluster=false`, and
/// `--s3-endpoint-url` injects AWS_ENDPOINT_URL_S3; bad boolean values stop
/// it with a usage error. The AdmissionReview goes over real TLS.
#[test]
fn webhook_binary_takes_go_boolean_flags_and_injects_endpoints() {
    let help = run(&["webhook", "--help"]);
    assert!(text(&help.stdout).contains("--s3-endpoint-url"));
    assert!(text(&help.stdout).contains("IRSA_S3_ENDPOINT_URL"));
    for bad in [
        &["--sts-regional-endpoint=yes"][..],
        &["--sts-regional-endpoint", "false"][..],
        &["--in-cluster=nope"][..],
    ] {
        let mut args = vec!["webhook"];
        args.extend_from_slice(bad);
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", text(&out.stderr));
        assert!(
            !text(&out.stderr).contains("a value is required"),
            "{}",
            text(&out.stderr)
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    shell(&format!(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
         -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 -keyout '{}' -out '{}' 2>/dev/null",
        key.display(),
        cert.display()
    ));
    let api = fake_kube_api(serde_json::json!({
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "app", "namespace": "default", "resourceVersion": "1",
                     "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/app"}}
    }));
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{api}\n\
             users:\n- name: u\n  user:\n    token: test\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n\
             current-context: x\n"
        ),
    )
    .unwrap();
    let (port, metrics) = (free_port(), free_port());
    let _webhook = Running(
        irsa()
            .args(["webhook", "--sts-regional-endpoint", "--in-cluster=false"])
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--tls-cert")
            .arg(&cert)
            .arg("--tls-key")
            .arg(&key)
            .args(["--listen-address", "127.0.0.1"])
            .args(["--port", &port.to_string()])
            .args(["--metrics-port", &metrics.to_string()])
            .args(["--s3-endpoint-url", "https://s3.irsa.test:9443"])
            .env("IRSA_STS_ENDPOINT_URL", "https://irsa.test:8443")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(metrics, "/healthz");

    let review = serde_json::json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "3f1c", "namespace": "default", "operation": "CREATE",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "object": {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "app-1", "namespace": "default"},
                "spec": {"serviceAccountName": "app", "containers": [
                    {"name": "app", "image": "amazon/aws-cli"},
                    {"name": "own", "image": "x", "env": [{"name": "AWS_ROLE_ARN", "value": "arn:aws:iam::123456789012:role/own"}]}
                ]}}
        }
    });
    let review_file = dir.path().join("review.json");
    std::fs::write(&review_file, review.to_string()).unwrap();
    let answer = shell(&format!(
        "curl -sS --max-time 10 --cacert '{}' -H 'Content-Type: application/json' --data-binary @'{}' https://127.0.0.1:{port}/mutate",
        cert.display(),
        review_file.display()
    ));
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(answer["response"]["uid"], "3f1c");
    assert_eq!(answer["response"]["allowed"], true, "{answer:#}");
    let patch_file = dir.path().join("patch.b64");
    std::fs::write(&patch_file, answer["response"]["patch"].as_str().unwrap()).unwrap();
    let patch: Value =
        serde_json::from_slice(&shell(&format!("base64 -d '{}'", patch_file.display()))).unwrap();
    let env_added = |container: usize| -> Vec<(String, String)> {
        let prefix = format!("/spec/containers/{container}/env");
        patch
            .as_array()
            .unwrap()
            .iter()
            .filter(|op| op["path"].as_str().unwrap().starts_with(&prefix))
            .flat_map(|op| match &op["value"] {
                Value::Array(items) => items.clone(),
                item => vec![item.clone()],
            })
            .map(|e| {
                (
                    e["name"].as_str().unwrap().to_owned(),
                    e["value"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let owned = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    assert_eq!(
        env_added(0),
        owned(&[
            ("AWS_STS_REGIONAL_ENDPOINTS", "regional"),
            ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/app"),
            (
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
            ),
            ("AWS_ENDPOINT_URL_STS", "https://irsa.test:8443"),
            ("AWS_ENDPOINT_URL_S3", "https://s3.irsa.test:9443"),
        ]),
        "{patch:#}"
    );
    // The container with its own AWS_ROLE_ARN gets no web-identity variable.
    assert_eq!(
        env_added(1),
        owned(&[
            ("AWS_STS_REGIONAL_ENDPOINTS", "regional"),
            ("AWS_ENDPOINT_URL_STS", "https://irsa.test:8443"),
            ("AWS_ENDPOINT_URL_S3", "https://s3.irsa.test:9443"),
        ]),
        "{patch:#}"
    );
}
