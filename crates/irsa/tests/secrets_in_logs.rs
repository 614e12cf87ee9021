//! No secret in any log line or on `/metrics`: the real binary runs with
//! `IRSA_LOG=debug` and its built-in issuer, a full client run creates every
//! kind of secret (root key, IAM user key, AssumeRole, GetSessionToken and
//! AssumeRoleWithWebIdentity sessions, a service-account token) and fails a
//! few requests on purpose (wrong secret, altered session token, altered
//! web-identity token); then the captured stdout/stderr and `/metrics` are
//! searched for every secret, the master key and the server's private keys
//! (issuer signing keys, session-token keys, outbound signing keys).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::similar_names)]

use std::fmt::Write as _;

mod reliability;

use std::path::Path;

use base64::Engine as _;
use reliability::{
    allow, credentials, failure, free_port, http_get, iam, irsa, root_credentials, sts,
    trust_account, Process, Spec, ACCOUNT,
};

/// Every run of `window` consecutive characters of `secret` (all of it when shorter).
fn windows(secret: &str, window: usize) -> Vec<String> {
    if secret.len() <= window {
        return vec![secret.to_owned()];
    }
    (0..=secret.len() - window)
        .filter(|i| secret.is_char_boundary(*i) && secret.is_char_boundary(i + window))
        .map(|i| secret[i..i + window].to_owned())
        .collect()
}

/// A secret and the pieces of text that would betray it.
struct Secret {
    name: String,
    needles: Vec<String>,
}

fn secret(name: &str, text: &str) -> Secret {
    Secret {
        name: name.to_owned(),
        needles: windows(text, 16),
    }
}

/// Names of the secrets found in `text`.
fn leaked<'a>(text: &str, secrets: &'a [Secret]) -> Vec<&'a str> {
    secrets
        .iter()
        .filter(|s| s.needles.iter().any(|n| text.contains(n.as_str())))
        .map(|s| s.name.as_str())
        .collect()
}

/// Private key material as base64, base64url and hex would show it: pieces
/// of 12 (base64) or 8 (hex) bytes of the key, leaving out the ASN.1 header
/// and any piece that also occurs in the public key (which is published).
fn private_key_needles(der: &[u8], public: &[u8]) -> Vec<String> {
    let in_public = |piece: &[u8]| public.windows(piece.len()).any(|w| w == piece);
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(der);
    let mut needles = Vec::new();
    // A symmetric key has no ASN.1 header to skip.
    let skip = if public.is_empty() { 0 } else { 24 };
    // A dump of the whole key starts at offset 0: every 3-aligned 12 bytes
    // are 16 whole base64 characters of it.
    for start in (skip..=der.len().saturating_sub(12)).step_by(3) {
        if !in_public(&der[start..start + 12]) {
            let at = start / 3 * 4;
            needles.push(b64[at..at + 16].to_owned());
            needles.push(b64url[at..at + 16].to_owned());
        }
    }
    for start in skip..=der.len().saturating_sub(8) {
        let piece = &der[start..start + 8];
        if !in_public(piece) {
            needles.push(piece.iter().fold(String::new(), |mut hex, b| {
                let _ = write!(hex, "{b:02x}");
                hex
            }));
        }
    }
    needles
}

/// The server's private keys, decrypted from the store.
async fn server_key_material(data_dir: &Path) -> Vec<Secret> {
    let master_key = irsa_store::MasterKey::from_base64(
        &std::fs::read_to_string(data_dir.join("master-key")).unwrap(),
    )
    .unwrap();
    let store = irsa_store::open(irsa_store::StoreConfig {
        database_url: None,
        data_dir: data_dir.to_path_buf(),
        master_key,
        account_id: ACCOUNT.parse().unwrap(),
        clock: std::sync::Arc::new(irsa_core::SystemClock),
    })
    .await
    .unwrap();
    let mut material = Vec::new();
    for purpose in [
        "issuer-signing",
        "session-token",
        "outbound-rs256",
        "outbound-es384",
    ] {
        for key in store.list_server_keys(purpose).await.unwrap() {
            let needles =
                private_key_needles(key.secret.expose(), key.public.as_deref().unwrap_or(&[]));
            assert!(
                !needles.is_empty(),
                "{purpose} key {} has nothing private",
                key.key_id
            );
            material.push(Secret {
                name: format!("{purpose} key {}", key.key_id),
                needles,
            });
        }
    }
    store.close().await;
    material
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_client_run_logs_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let mut spec = Spec::sqlite(dir.path());
    spec.args = vec![
        "--issuer-url".into(),
        issuer.clone(),
        "--allow-insecure-issuer".into(),
    ];

    // First start: the generated root secret is printed once, on purpose,
    // in the announcement; nowhere else.
    spec.log_file = dir.path().join("first-start.log");
    let mut first = Process::spawn_on(&spec, port);
    first.wait_ready(std::time::Duration::from_secs(60));
    assert!(first.stop().success());
    let (root_id, root_secret) = root_credentials(&spec.data_dir);
    let first_log = std::fs::read_to_string(&spec.log_file).unwrap();
    let announced: Vec<&str> = first_log
        .lines()
        .filter(|l| l.contains(&root_secret))
        .collect();
    assert_eq!(
        announced,
        vec![format!("  aws_secret_access_key = {root_secret}")],
        "the root secret appears outside its one announcement line"
    );

    // Second start, debug logging: the client run.
    spec.log_file = dir.path().join("serve.log");
    spec.env = vec![("IRSA_LOG".into(), "debug".into())];
    let mut server = Process::spawn_on(&spec, port);
    server.wait_ready(std::time::Duration::from_secs(60));
    let endpoint = server.endpoint();
    let root = iam(&endpoint, credentials(&root_id, &root_secret, None));
    let mut secrets: Vec<Secret> = vec![secret("root secret", &root_secret)];

    // Web identity through the built-in issuer, as the README quick start does.
    let host = format!("127.0.0.1:{port}");
    root.create_open_id_connect_provider()
        .url(&issuer)
        .client_id_list("sts.amazonaws.com")
        .send()
        .await
        .unwrap();
    let web_trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"{host}:sub":"system:serviceaccount:default:demo"}}}}}}]}}"#
    );
    root.create_role()
        .role_name("web")
        .assume_role_policy_document(web_trust)
        .send()
        .await
        .unwrap();
    let token_file = dir.path().join("token");
    let issued = irsa()
        .args(["token", "issue", "--data-dir"])
        .arg(&spec.data_dir)
        .args(["--issuer-url", &issuer, "--allow-insecure-issuer"])
        .args([
            "--namespace",
            "default",
            "--service-account",
            "demo",
            "--output",
        ])
        .arg(&token_file)
        .env("IRSA_LOG", "debug")
        .output()
        .unwrap();
    assert!(
        issued.status.success(),
        "{}",
        String::from_utf8_lossy(&issued.stderr)
    );
    let token_cli_output = format!(
        "{}{}",
        String::from_utf8_lossy(&issued.stdout),
        String::from_utf8_lossy(&issued.stderr)
    );
    let token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_owned();
    let signature = token.rsplit('.').next().unwrap().to_owned();
    secrets.push(secret("web-identity token signature", &signature));

    let anonymous = sts(&endpoint, credentials("unused", "unused", None));
    let web = anonymous
        .assume_role_with_web_identity()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/web"))
        .role_session_name("pod")
        .web_identity_token(&token)
        .send()
        .await
        .unwrap()
        .credentials
        .unwrap();
    secrets.push(secret(
        "web-identity session secret",
        &web.secret_access_key,
    ));
    secrets.push(secret("web-identity session token", &web.session_token));
    sts(
        &endpoint,
        credentials(
            &web.access_key_id,
            &web.secret_access_key,
            Some(&web.session_token),
        ),
    )
    .get_caller_identity()
    .send()
    .await
    .unwrap();
    // An altered web-identity token is refused (and logged as such).
    let mut forged = token.clone();
    forged.truncate(token.len() - 4);
    forged.push_str(if token.ends_with("AAAA") {
        "BBBB"
    } else {
        "AAAA"
    });
    let refused = anonymous
        .assume_role_with_web_identity()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/web"))
        .role_session_name("pod")
        .web_identity_token(&forged)
        .send()
        .await
        .unwrap_err();
    assert_eq!(failure(&refused).code(), Some("InvalidIdentityToken"));

    // An IAM user with a key; AssumeRole and GetSessionToken with it.
    root.create_user().user_name("alice").send().await.unwrap();
    root.put_user_policy()
        .user_name("alice")
        .policy_name("assume")
        .policy_document(allow(r#"["sts:AssumeRole","iam:GetUser"]"#))
        .send()
        .await
        .unwrap();
    let key = root
        .create_access_key()
        .user_name("alice")
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    secrets.push(secret("alice's secret", &key.secret_access_key));
    root.create_role()
        .role_name("assumable")
        .assume_role_policy_document(trust_account("any"))
        .send()
        .await
        .unwrap();
    let alice = sts(
        &endpoint,
        credentials(&key.access_key_id, &key.secret_access_key, None),
    );
    let assumed = alice
        .assume_role()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/assumable"))
        .role_session_name("sess")
        .send()
        .await
        .unwrap()
        .credentials
        .unwrap();
    secrets.push(secret("AssumeRole secret", &assumed.secret_access_key));
    secrets.push(secret("AssumeRole session token", &assumed.session_token));
    let session = alice
        .get_session_token()
        .send()
        .await
        .unwrap()
        .credentials
        .unwrap();
    secrets.push(secret("GetSessionToken secret", &session.secret_access_key));
    secrets.push(secret(
        "GetSessionToken session token",
        &session.session_token,
    ));
    for (id, secret, token) in [
        (
            &assumed.access_key_id,
            &assumed.secret_access_key,
            &assumed.session_token,
        ),
        (
            &session.access_key_id,
            &session.secret_access_key,
            &session.session_token,
        ),
    ] {
        sts(&endpoint, credentials(id, secret, Some(token)))
            .get_caller_identity()
            .send()
            .await
            .unwrap();
        // The same session with its token altered: refused.
        let mut altered = token.clone();
        let last = altered.pop().unwrap();
        altered.push(if last == 'A' { 'B' } else { 'A' });
        let err = sts(&endpoint, credentials(id, secret, Some(&altered)))
            .get_caller_identity()
            .send()
            .await
            .unwrap_err();
        assert!(failure(&err).code().is_some(), "{:?}", failure(&err));
    }
    // alice's key with a wrong secret: a signature mismatch.
    let wrong = sts(
        &endpoint,
        credentials(
            &key.access_key_id,
            "wrong-secret-wrong-secret-wrong-secret00",
            None,
        ),
    )
    .get_caller_identity()
    .send()
    .await
    .unwrap_err();
    assert_eq!(failure(&wrong).code(), Some("SignatureDoesNotMatch"));
    // An IAM call from alice that her policy does not allow: AccessDenied.
    let denied = iam(
        &endpoint,
        credentials(&key.access_key_id, &key.secret_access_key, None),
    )
    .list_roles()
    .send()
    .await
    .unwrap_err();
    assert_eq!(failure(&denied).code(), Some("AccessDenied"));

    let (status, metrics) = http_get(server.port, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert!(server.stop().success());

    secrets.push(secret(
        "master key",
        std::fs::read_to_string(spec.data_dir.join("master-key"))
            .unwrap()
            .trim(),
    ));
    secrets.extend(server_key_material(&spec.data_dir).await);
    assert!(
        secrets.iter().any(|s| s.name.starts_with("issuer-signing")),
        "no issuer key found to search for"
    );

    let log = std::fs::read_to_string(&spec.log_file).unwrap();
    // The run did log at debug level, and the requests are in it.
    assert!(log.contains("DEBUG"), "no debug lines were logged:\n{log}");
    assert!(
        log.lines().count() > 20,
        "too little logged to mean anything:\n{log}"
    );
    for (what, text) in [
        ("serve log (debug)", log.as_str()),
        (
            "first-start log outside the announcement",
            &first_log.replace(&format!("  aws_secret_access_key = {root_secret}"), ""),
        ),
        ("/metrics", metrics.as_str()),
        ("irsa token issue output", token_cli_output.as_str()),
    ] {
        let found = leaked(text, &secrets);
        assert!(found.is_empty(), "{what} contains {found:?}");
    }
    // The search itself works: a line holding a secret is caught.
    assert_eq!(
        leaked(&format!("x {} y", &key.secret_access_key[3..30]), &secrets),
        vec!["alice's secret"]
    );
}
