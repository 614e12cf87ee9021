//! Two `irsa serve` processes on one PostgreSQL database, as two replicas
//! behind a load balancer run: credentials issued by one work on the other;
//! a role deleted, a policy changed or a key deactivated on one takes
//! effect on the other within the documented cache bound (5 s; polled for
//! up to 7 s here, the exact moment is not asserted); identical CreateRole
//! calls racing on both give one success and one `EntityAlreadyExists`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod reliability;

use std::time::{Duration, Instant};

use reliability::{
    allow, credentials, failure, fresh_postgres_database, iam, root_credentials, sts,
    trust_account, write_master_key, Process, Spec, ACCOUNT,
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
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < PROPAGATION,
            "{what}: not seen on the other replica within {PROPAGATION:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_credentials_changes_and_uniqueness() {
    let Some(url) = fresh_postgres_database("replicas").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("master-key-file");
    write_master_key(&key_file);
    let a_dir = dir.path().join("a");
    let b_dir = dir.path().join("b");
    std::fs::create_dir_all(&a_dir).unwrap();
    std::fs::create_dir_all(&b_dir).unwrap();
    let a_spec = Spec::postgres(&a_dir, &url, &key_file);
    let b_spec = Spec::postgres(&b_dir, &url, &key_file);
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
