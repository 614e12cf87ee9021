//! Two `irsa serve` processes on one PostgreSQL database, as two replicas
//! behind a load balancer run: credentials issued by one work on the other;
//! a role deleted, a policy changed or a key deactivated on one takes
//! effect on the other within the documented cache bound (5 s; polled for
//! up to 7 s here, the exact moment is not asserted); identical CreateRole
//! calls racing on both give one success and one `EntityAlreadyExists`;
//! a rotation of either key ring (the built-in issuer's signing keys, the
//! session-token sealing keys) is seen by both.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod reliability;

use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use reliability::{
    allow, credentials, failure, free_port, fresh_postgres_database, http_get, iam, irsa,
    issue_token, root_credentials, sts, trust_account, web_identity_role, write_master_key,
    Process, Spec, ACCOUNT,
};

/// How long a change on one replica may take to show on the other: the
/// 5 s caches plus slack for a loaded machine.
const PROPAGATION: Duration = Duration::from_secs(7);

/// Polls `check` until it holds or [`PROPAGATION`] passes; returns how long it took.
async fn within_bound<F, Fut>(what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    within(what, PROPAGATION, || {
        let holds = check();
        async move {
            if holds.await {
                Ok(())
            } else {
                Err("not seen on the other replica".to_owned())
            }
        }
    })
    .await
}

/// Two replicas' specs on one PostgreSQL database `url` with one master
/// key, each with `args`; the temporary directory holds their data.
fn two_replicas(url: &str, args: &[String]) -> (tempfile::TempDir, Spec, Spec) {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("master-key-file");
    write_master_key(&key_file);
    let spec = |name: &str| {
        let data_dir = dir.path().join(name);
        std::fs::create_dir_all(&data_dir).unwrap();
        let mut spec = Spec::postgres(&data_dir, url, &key_file);
        spec.args = args.to_vec();
        spec
    };
    let (a, b) = (spec("a"), spec("b"));
    (dir, a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_credentials_changes_and_uniqueness() {
    let Some(url) = fresh_postgres_database("replicas").await else {
        return;
    };
    let (_dir, a_spec, b_spec) = two_replicas(&url, &[]);
    let a = Process::start(&a_spec);
    let b = Process::start(&b_spec);
    let (root_id, root_secret) = root_credentials(&a_spec.data_dir);
    assert_eq!(
        root_credentials(&b_spec.data_dir),
        (root_id.clone(), root_secret.clone()),
        "the second replica must adopt the first one's root key"
    );
    let root = credentials(&root_id, &root_secret, None);
    let iam_a = iam(&a.endpoint(), root.clone());
    let iam_b = iam(&b.endpoint(), root.clone());

    // A long-term key made on A authenticates on B.
    iam_a.create_user().user_name("bob").send().await.unwrap();
    iam_a
        .put_user_policy()
        .user_name("bob")
        .policy_name("p")
        .policy_document(allow(r#"["iam:GetUser","iam:ListUsers","sts:AssumeRole"]"#))
        .send()
        .await
        .unwrap();
    let key = iam_a
        .create_access_key()
        .user_name("bob")
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    let bob = credentials(&key.access_key_id, &key.secret_access_key, None);
    let who = sts(&b.endpoint(), bob.clone())
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(who.arn.unwrap(), format!("arn:aws:iam::{ACCOUNT}:user/bob"));

    // A session issued by A (AssumeRole) works on B, and the other way round.
    iam_a
        .create_role()
        .role_name("shared")
        .assume_role_policy_document(trust_account("shared"))
        .send()
        .await
        .unwrap();
    for (issuer, user) in [(&a, &b), (&b, &a)] {
        let session = sts(&issuer.endpoint(), bob.clone())
            .assume_role()
            .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/shared"))
            .role_session_name("sess")
            .send()
            .await
            .unwrap()
            .credentials
            .unwrap();
        let who = sts(
            &user.endpoint(),
            credentials(
                &session.access_key_id,
                &session.secret_access_key,
                Some(&session.session_token),
            ),
        )
        .get_caller_identity()
        .send()
        .await
        .unwrap();
        assert_eq!(
            who.arn.unwrap(),
            format!("arn:aws:sts::{ACCOUNT}:assumed-role/shared/sess")
        );
    }
    // GetSessionToken on B, used on A.
    let session = sts(&b.endpoint(), bob.clone())
        .get_session_token()
        .send()
        .await
        .unwrap()
        .credentials
        .unwrap();
    sts(
        &a.endpoint(),
        credentials(
            &session.access_key_id,
            &session.secret_access_key,
            Some(&session.session_token),
        ),
    )
    .get_caller_identity()
    .send()
    .await
    .unwrap();

    // A role deleted on A: B stops issuing sessions for it.
    let bob_on_b = sts(&b.endpoint(), bob.clone());
    iam_a
        .delete_role()
        .role_name("shared")
        .send()
        .await
        .unwrap();
    let took = within_bound("role deleted on A", || async {
        bob_on_b
            .assume_role()
            .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/shared"))
            .role_session_name("sess")
            .send()
            .await
            .is_err_and(|e| matches!(failure(&e).code(), Some("AccessDenied" | "NoSuchEntity")))
    })
    .await;
    println!("replicas: role deletion seen on B after {took:?}");

    // A policy changed on A: B applies the new one.
    let bob_iam_b = iam(&b.endpoint(), bob.clone());
    bob_iam_b.list_users().send().await.unwrap();
    iam_a
        .put_user_policy()
        .user_name("bob")
        .policy_name("p")
        .policy_document(allow(r#"["iam:GetUser"]"#))
        .send()
        .await
        .unwrap();
    let took = within_bound("policy changed on A", || async {
        bob_iam_b
            .list_users()
            .send()
            .await
            .is_err_and(|e| failure(&e).code() == Some("AccessDenied"))
    })
    .await;
    println!("replicas: policy change seen on B after {took:?}");

    // A key deactivated on A: B refuses it.
    bob_iam_b.get_user().user_name("bob").send().await.unwrap();
    iam_a
        .update_access_key()
        .user_name("bob")
        .access_key_id(&key.access_key_id)
        .status(aws_sdk_iam::types::StatusType::Inactive)
        .send()
        .await
        .unwrap();
    let took = within_bound("key deactivated on A", || async {
        bob_iam_b
            .get_user()
            .user_name("bob")
            .send()
            .await
            .is_err_and(|e| failure(&e).code() == Some("InvalidClientTokenId"))
    })
    .await;
    println!("replicas: key deactivation seen on B after {took:?}");

    // The same CreateRole racing on both replicas: exactly one wins.
    for round in 0..10 {
        let name = format!("race-{round}");
        let (on_a, on_b) = tokio::join!(
            iam_a
                .create_role()
                .role_name(&name)
                .assume_role_policy_document(trust_account("a"))
                .send(),
            iam_b
                .create_role()
                .role_name(&name)
                .assume_role_policy_document(trust_account("b"))
                .send(),
        );
        let codes: Vec<Option<String>> = [
            on_a.map(|_| ()).map_err(|e| failure(&e)),
            on_b.map(|_| ()).map_err(|e| failure(&e)),
        ]
        .into_iter()
        .map(|r| r.err().map(|f| format!("{f:?}")))
        .collect();
        let successes = codes.iter().filter(|c| c.is_none()).count();
        assert_eq!(successes, 1, "{name}: {codes:?}");
        let loser = codes.iter().flatten().next().unwrap();
        assert!(
            loser.contains("EntityAlreadyExists") && loser.contains("409"),
            "{name}: {loser}"
        );
        // Both replicas now see the same, whole role.
        let on_a = iam_a.get_role().role_name(&name).send().await.unwrap();
        let on_b = iam_b.get_role().role_name(&name).send().await.unwrap();
        assert_eq!(on_a.role.unwrap().role_id, on_b.role.unwrap().role_id);
    }
}

/// How long a replica's OIDC verifier may keep a JWKS without a new key
/// after a token names it: it refetches on an unknown `kid`, at most every
/// 10 s (`refetch_interval`); plus the propagation slack.
const JWKS_REFETCH: Duration = Duration::from_secs(10);

/// How long a replica may refuse a session token sealed under a key it has
/// not loaded yet: it reloads its ring on such a miss at most every 30 s
/// (`irsa_auth::session_keys::RELOAD_AFTER`).
const SESSION_RING_RELOAD: Duration = Duration::from_secs(30);

/// How long after `irsa session-keys rotate --activate-in 5` a replica
/// seals with the new key: the 5 s, then its next reload (upkeep every 15 s,
/// reloads at most every 30 s: within 45 s).
const SESSION_KEY_TAKE_UP: Duration = Duration::from_secs(50);

/// Polls `check` until it holds or `bound` passes; returns how long it took.
async fn within<F, Fut>(what: &str, bound: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    loop {
        match check().await {
            Ok(()) => return started.elapsed(),
            Err(last) => assert!(
                started.elapsed() < bound,
                "{what}: not seen within {bound:?}; last: {last}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The `kid`s a replica's issuer publishes at its JWKS URL.
fn published_kids(process: &Process) -> Vec<String> {
    let (status, body) = http_get(process.port, "/openid/v1/jwks").unwrap_or_default();
    assert_eq!(status, 200, "JWKS on port {}: {body}", process.port);
    let jwks: serde_json::Value = serde_json::from_str(&body).unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// The `kid` in a JWT's header.
fn token_kid(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

/// The key id a session token names (its clear header: version, id length, id).
fn session_key_id(token: &str) -> String {
    let raw = URL_SAFE_NO_PAD.decode(token).unwrap();
    let len = usize::from(raw[1]);
    String::from_utf8(raw[2..2 + len].to_vec()).unwrap()
}

/// AssumeRoleWithWebIdentity for role `web` on `process`: the session, or the failure.
async fn assume_web(
    process: &Process,
    token: &str,
) -> Result<aws_sdk_sts::types::Credentials, String> {
    sts(&process.endpoint(), credentials("x", "x", None))
        .assume_role_with_web_identity()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/web"))
        .role_session_name("rot")
        .web_identity_token(token)
        .send()
        .await
        .map_err(|e| format!("{:?}", failure(&e)))
        .map(|out| out.credentials.unwrap())
}

/// GetCallerIdentity with a session on `process`.
async fn caller_with(
    process: &Process,
    session: &aws_sdk_sts::types::Credentials,
) -> Result<(), String> {
    sts(
        &process.endpoint(),
        credentials(
            &session.access_key_id,
            &session.secret_access_key,
            Some(&session.session_token),
        ),
    )
    .get_caller_identity()
    .send()
    .await
    .map(|_| ())
    .map_err(|e| format!("{:?}", failure(&e)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_ring_rotation_on_one_replica_is_seen_by_the_other() {
    let Some(url) = fresh_postgres_database("rotation").await else {
        return;
    };
    // Both replicas serve one issuer, as behind a load balancer; its URL
    // is B's address, so both verifiers fetch the JWKS that B publishes.
    let (a_port, b_port) = (free_port(), free_port());
    let issuer = format!("http://127.0.0.1:{b_port}");
    let issuer_args = vec![
        "--issuer-url".to_owned(),
        issuer.clone(),
        "--allow-insecure-issuer".to_owned(),
    ];
    let (_dir, a_spec, b_spec) = two_replicas(&url, &issuer_args);
    let key_file = a_spec.master_key_path();
    let a = Process::spawn_on(&a_spec, a_port);
    a.wait_ready(Duration::from_secs(60));
    let b = Process::spawn_on(&b_spec, b_port);
    b.wait_ready(Duration::from_secs(60));
    let (root_id, root_secret) = root_credentials(&a_spec.data_dir);
    let root_a = iam(&a.endpoint(), credentials(&root_id, &root_secret, None));
    web_identity_role(&root_a, &issuer, "web", "demo").await;

    // Before: one issuer key, published by both; B accepts its tokens
    // (which also fills B's JWKS cache with the old key set).
    let old_token = issue_token(&a_spec, &issuer, "demo");
    let old_kid = token_kid(&old_token);
    assert_eq!(published_kids(&a), vec![old_kid.clone()]);
    assert_eq!(published_kids(&b), vec![old_kid.clone()]);
    let old_session = assume_web(&b, &old_token).await.unwrap();

    // Issuer key ring: `irsa issuer rotate` against A's store while both run.
    let out = irsa()
        .args(["issuer", "rotate", "--data-dir"])
        .arg(&a_spec.data_dir)
        .args(["--database-url", &url])
        .arg("--master-key-file")
        .arg(&key_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "irsa issuer rotate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let new_kid = stdout
        .strip_prefix("new signing key ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("irsa issuer rotate printed: {stdout}"))
        .to_owned();
    assert_ne!(new_kid, old_kid);
    // B publishes the new key next to the old one (which still verifies
    // the tokens it signed).
    let took = within("new issuer key in B's JWKS", PROPAGATION, || async {
        let kids = published_kids(&b);
        if kids.contains(&new_kid) && kids.contains(&old_kid) {
            Ok(())
        } else {
            Err(format!("{kids:?}"))
        }
    })
    .await;
    println!("replicas: rotated issuer key {new_kid} published by B after {took:?}");
    // A signs with the new key (IssueServiceAccountToken on A) ...
    let mut new_token = String::new();
    within("A signs with the new issuer key", PROPAGATION, || {
        let out = irsa()
            .args(["token", "issue", "--endpoint", &a.endpoint(), "--data-dir"])
            .arg(&a_spec.data_dir)
            .args(["--namespace", "default", "--service-account", "demo"])
            .output()
            .unwrap();
        let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let result = if out.status.success() {
            let kid = token_kid(&token);
            if kid == new_kid {
                new_token = token;
                Ok(())
            } else {
                Err(format!("signed with {kid}"))
            }
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        };
        std::future::ready(result)
    })
    .await;
    // ... and B accepts that token (its verifier refetches on the new kid),
    // while tokens signed before the rotation still work.
    let took = within(
        "a token signed with the new key accepted by B",
        PROPAGATION + JWKS_REFETCH,
        || async { assume_web(&b, &new_token).await.map(|_| ()) },
    )
    .await;
    println!("replicas: token signed with the new issuer key accepted by B after {took:?}");
    assume_web(&b, &old_token).await.unwrap();
    assume_web(&a, &new_token).await.unwrap();

    // Session-token key ring: `irsa session-keys rotate` against the shared
    // store while both replicas run. A new key that starts sealing 5 s
    // later is taken up by A's upkeep (it reloads at least every 45 s) with
    // no restart; B opens what A seals with it.
    let old_session_key = session_key_id(old_session.session_token());
    let out = irsa()
        .args(["session-keys", "rotate", "--activate-in", "5", "--data-dir"])
        .arg(&a_spec.data_dir)
        .args(["--database-url", &url])
        .arg("--master-key-file")
        .arg(&key_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "irsa session-keys rotate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rotated = String::from_utf8_lossy(&out.stdout).into_owned();
    let rotated_key = rotated
        .split_whitespace()
        .nth(3)
        .unwrap_or_default()
        .to_owned();
    assert!(rotated_key.starts_with("st-"), "{rotated}");
    let sealed_new = std::cell::RefCell::new(None);
    let took = within(
        "A seals new sessions with the rotated key",
        SESSION_KEY_TAKE_UP + PROPAGATION,
        || async {
            let session = assume_web(&a, &new_token).await?;
            let sealed_with = session_key_id(session.session_token());
            if sealed_with == rotated_key {
                *sealed_new.borrow_mut() = Some(session);
                Ok(())
            } else {
                Err(format!("sealed with {sealed_with}"))
            }
        },
    )
    .await;
    println!("replicas: A seals with the rotated session key {rotated_key} after {took:?}");
    let new_session = sealed_new.into_inner().unwrap();
    let new_session_key = session_key_id(new_session.session_token());
    assert_ne!(new_session_key, old_session_key);
    let took = within(
        "a session sealed with the new key accepted by B",
        SESSION_RING_RELOAD + PROPAGATION,
        || caller_with(&b, &new_session),
    )
    .await;
    println!(
        "replicas: session sealed by A with the new key {new_session_key} accepted by B after {took:?}"
    );
    // Sessions sealed before the rotation (by B) still open on both.
    caller_with(&a, &old_session).await.unwrap();
    caller_with(&b, &old_session).await.unwrap();
}
