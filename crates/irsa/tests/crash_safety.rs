//! Crash safety of the real binary on SQLite and PostgreSQL: several
//! clients write IAM entities (users, access keys, inline policies, tags,
//! managed policies, roles, attachments, detach + delete) while the server is
//! `kill -9`ed at a random moment; after each restart on the same data,
//! every write that got a 200 must be there and nothing half-written may be
//! visible (a role without its trust policy, a policy without its document,
//! a key that does not authenticate, an attachment to a deleted policy).
//! The master key file, the root credentials file and the root key itself
//! must survive every kill.
//!
//! `IRSA_CRASH_KILLS` (default 5) and `IRSA_CRASH_CLIENTS` (default 4) size
//! the run; `scripts/crash N` runs the long version.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod reliability;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use reliability::{
    allow_as, credentials, decode_document, failure, fresh_postgres_database, iam,
    root_credentials, same_json, sts, trust_account, write_master_key, Failure, Process, Spec,
    ACCOUNT,
};

/// A write the server acknowledged with a 200.
#[derive(Clone, Debug)]
enum Ack {
    User {
        name: String,
    },
    AccessKey {
        user: String,
        id: String,
        secret: String,
    },
    UserPolicy {
        user: String,
        name: String,
        document: String,
    },
    Tag {
        on: Principal,
        key: String,
        value: String,
    },
    Policy {
        arn: String,
        document: String,
    },
    Role {
        name: String,
        trust: String,
    },
    Attached {
        role: String,
        arn: String,
    },
    Detached {
        role: String,
        arn: String,
    },
    PolicyDeleted {
        arn: String,
    },
}

/// A user or a role, by name.
#[derive(Clone, Debug)]
enum Principal {
    User(String),
    Role(String),
}

impl Principal {
    async fn tag(&self, iam: &aws_sdk_iam::Client, key: &str, value: &str) -> Result<(), Failure> {
        let tag = aws_sdk_iam::types::Tag::builder()
            .key(key)
            .value(value)
            .build()
            .unwrap();
        match self {
            Principal::User(name) => iam
                .tag_user()
                .user_name(name)
                .tags(tag)
                .send()
                .await
                .map(drop)
                .map_err(|e| failure(&e)),
            Principal::Role(name) => iam
                .tag_role()
                .role_name(name)
                .tags(tag)
                .send()
                .await
                .map(drop)
                .map_err(|e| failure(&e)),
        }
    }

    /// Its tags as (key, value); `None` when they cannot be read.
    async fn tags(&self, iam: &aws_sdk_iam::Client) -> Option<Vec<(String, String)>> {
        let tags = match self {
            Principal::User(name) => iam.list_user_tags().user_name(name).send().await.ok()?.tags,
            Principal::Role(name) => iam.list_role_tags().role_name(name).send().await.ok()?.tags,
        };
        Some(tags.into_iter().map(|t| (t.key, t.value)).collect())
    }
}

#[derive(Default)]
struct Ledger {
    acks: Vec<Ack>,
    /// Every CreateRole sent (acknowledged or not): (name, trust policy).
    roles_sent: Vec<(String, String)>,
    /// Every DetachRolePolicy (`detach ROLE ARN`) and DeletePolicy
    /// (`delete ARN`) sent: one cut off by the kill may or may not have
    /// happened, so the write it undoes may be gone without a 200.
    removals_sent: HashSet<String>,
    /// Errors other than the connection going away.
    unexpected: Vec<String>,
}

type Shared = Arc<Mutex<Ledger>>;

fn ack(ledger: &Shared, a: Ack) {
    ledger.lock().unwrap().acks.push(a);
}

/// Tags `on` and, on a 200, records the tag.
async fn tag_acked(
    iam: &aws_sdk_iam::Client,
    ledger: &Shared,
    on: Principal,
    key: &str,
    value: &str,
) -> Result<(), Failure> {
    on.tag(iam, key, value).await?;
    ack(
        ledger,
        Ack::Tag {
            on,
            key: key.into(),
            value: value.into(),
        },
    );
    Ok(())
}

/// Notes a removal before sending it: one cut off by the kill may have
/// happened without a 200.
fn removal_sent(ledger: &Shared, removal: String) {
    ledger.lock().unwrap().removals_sent.insert(removal);
}

/// One chain of writes; stops at the first failure.
async fn iteration(iam: &aws_sdk_iam::Client, ledger: &Shared, tag: &str) -> Result<(), Failure> {
    let user = format!("cs-u-{tag}");
    iam.create_user()
        .user_name(&user)
        .send()
        .await
        .map_err(|e| failure(&e))?;
    ack(ledger, Ack::User { name: user.clone() });

    let key = iam
        .create_access_key()
        .user_name(&user)
        .send()
        .await
        .map_err(|e| failure(&e))?;
    let key = key.access_key.unwrap();
    ack(
        ledger,
        Ack::AccessKey {
            user: user.clone(),
            id: key.access_key_id,
            secret: key.secret_access_key,
        },
    );

    // Documents name the chain, so a stale or foreign one is told apart.
    let sid = tag.replace('-', "x");
    let inline = allow_as(&format!("u{sid}"), r#"["iam:GetUser"]"#);
    iam.put_user_policy()
        .user_name(&user)
        .policy_name("inline")
        .policy_document(&inline)
        .send()
        .await
        .map_err(|e| failure(&e))?;
    ack(
        ledger,
        Ack::UserPolicy {
            user: user.clone(),
            name: "inline".into(),
            document: inline,
        },
    );

    tag_acked(iam, ledger, Principal::User(user.clone()), "iteration", tag).await?;

    let policy_document = allow_as(&format!("p{sid}"), r#"["s3:GetObject"]"#);
    let policy = iam
        .create_policy()
        .policy_name(format!("cs-p-{tag}"))
        .policy_document(&policy_document)
        .send()
        .await
        .map_err(|e| failure(&e))?;
    let arn = policy.policy.unwrap().arn.unwrap();
    ack(
        ledger,
        Ack::Policy {
            arn: arn.clone(),
            document: policy_document,
        },
    );

    let role = format!("cs-r-{tag}");
    let trust = trust_account(&format!("t{sid}"));
    ledger
        .lock()
        .unwrap()
        .roles_sent
        .push((role.clone(), trust.clone()));
    iam.create_role()
        .role_name(&role)
        .assume_role_policy_document(&trust)
        .send()
        .await
        .map_err(|e| failure(&e))?;
    ack(
        ledger,
        Ack::Role {
            name: role.clone(),
            trust,
        },
    );

    tag_acked(iam, ledger, Principal::Role(role.clone()), "owner", &user).await?;

    iam.attach_role_policy()
        .role_name(&role)
        .policy_arn(&arn)
        .send()
        .await
        .map_err(|e| failure(&e))?;
    ack(
        ledger,
        Ack::Attached {
            role: role.clone(),
            arn: arn.clone(),
        },
    );

    // Every other chain takes the policy away again.
    if tag.ends_with(['0', '2', '4', '6', '8']) {
        removal_sent(ledger, format!("detach {role} {arn}"));
        iam.detach_role_policy()
            .role_name(&role)
            .policy_arn(&arn)
            .send()
            .await
            .map_err(|e| failure(&e))?;
        ack(
            ledger,
            Ack::Detached {
                role: role.clone(),
                arn: arn.clone(),
            },
        );
        removal_sent(ledger, format!("delete {arn}"));
        iam.delete_policy()
            .policy_arn(&arn)
            .send()
            .await
            .map_err(|e| failure(&e))?;
        ack(ledger, Ack::PolicyDeleted { arn });
    }
    Ok(())
}

async fn client(
    endpoint: String,
    root: (String, String),
    round: usize,
    worker: usize,
    ledger: Shared,
    killed: Arc<AtomicBool>,
) {
    let iam = iam(&endpoint, credentials(&root.0, &root.1, None));
    for i in 0.. {
        let tag = format!("{round}-{worker}-{i}");
        if let Err(err) = iteration(&iam, &ledger, &tag).await {
            if !killed.load(Ordering::SeqCst) {
                ledger
                    .lock()
                    .unwrap()
                    .unexpected
                    .push(format!("{tag}: {err:?} before the kill"));
            } else if let Failure::Service(status, code) = &err {
                // A 5xx while dying is acceptable; an answer in the 4xx
                // range would be a wrong verdict.
                if *status < 500 {
                    ledger
                        .lock()
                        .unwrap()
                        .unexpected
                        .push(format!("{tag}: {status} {code} while being killed"));
                }
            }
            return;
        }
    }
}

/// Checks the acknowledged writes and the entities of the sent roles;
/// returns (checks passed, unacknowledged roles found whole).
async fn verify(
    endpoint: &str,
    root: &(String, String),
    acks: &[Ack],
    roles_sent: &[(String, String)],
    removals_sent: &HashSet<String>,
    anomalies: &mut Vec<String>,
) -> (usize, usize) {
    let iam = iam(endpoint, credentials(&root.0, &root.1, None));
    let detached: HashSet<(String, String)> = acks
        .iter()
        .filter_map(|a| match a {
            Ack::Detached { role, arn } => Some((role.clone(), arn.clone())),
            _ => None,
        })
        .collect();
    let deleted: HashSet<String> = acks
        .iter()
        .filter_map(|a| match a {
            Ack::PolicyDeleted { arn } => Some(arn.clone()),
            _ => None,
        })
        .collect();
    let mut passed = 0;
    for a in acks {
        let ok = match a {
            Ack::User { name } => iam.get_user().user_name(name).send().await.is_ok(),
            Ack::AccessKey { user, id, secret } => {
                let sts = sts(endpoint, credentials(id, secret, None));
                match sts.get_caller_identity().send().await {
                    Ok(who) => {
                        who.arn.as_deref() == Some(&format!("arn:aws:iam::{ACCOUNT}:user/{user}"))
                    }
                    Err(e) => {
                        anomalies.push(format!(
                            "key {id} of {user} does not authenticate: {:?}",
                            failure(&e)
                        ));
                        continue;
                    }
                }
            }
            Ack::UserPolicy {
                user,
                name,
                document,
            } => {
                match iam
                    .get_user_policy()
                    .user_name(user)
                    .policy_name(name)
                    .send()
                    .await
                {
                    Ok(got) => same_json(&decode_document(&got.policy_document), document),
                    Err(_) => false,
                }
            }
            Ack::Tag { on, key, value } => on
                .tags(&iam)
                .await
                .is_some_and(|tags| tags.iter().any(|(k, v)| k == key && v == value)),
            Ack::Policy { arn, document } => {
                if deleted.contains(arn) {
                    passed += 1;
                    continue;
                }
                match iam.get_policy().policy_arn(arn).send().await {
                    Ok(got) => {
                        let version = got
                            .policy
                            .and_then(|p| p.default_version_id)
                            .unwrap_or_default();
                        match iam
                            .get_policy_version()
                            .policy_arn(arn)
                            .version_id(version)
                            .send()
                            .await
                        {
                            Ok(v) => v
                                .policy_version
                                .and_then(|v| v.document)
                                .is_some_and(|d| same_json(&decode_document(&d), document)),
                            Err(_) => false,
                        }
                    }
                    // A DeletePolicy cut off by the kill may have committed.
                    Err(e) => {
                        removals_sent.contains(&format!("delete {arn}"))
                            && failure(&e).code() == Some("NoSuchEntity")
                    }
                }
            }
            Ack::Role { name, trust } => match iam.get_role().role_name(name).send().await {
                Ok(got) => got
                    .role
                    .and_then(|r| r.assume_role_policy_document)
                    .is_some_and(|d| same_json(&decode_document(&d), trust)),
                Err(_) => false,
            },
            Ack::Attached { role, arn } => {
                if detached.contains(&(role.clone(), arn.clone())) {
                    passed += 1;
                    continue;
                }
                // A DetachRolePolicy cut off by the kill may have committed.
                let detach_sent = removals_sent.contains(&format!("detach {role} {arn}"));
                attached(&iam, role)
                    .await
                    .is_some_and(|a| a.contains(arn) || detach_sent)
            }
            Ack::Detached { role, arn } => {
                attached(&iam, role).await.is_some_and(|a| !a.contains(arn))
            }
            Ack::PolicyDeleted { arn } => match iam.get_policy().policy_arn(arn).send().await {
                Ok(_) => false,
                Err(e) => failure(&e).code() == Some("NoSuchEntity"),
            },
        };
        if ok {
            passed += 1;
        } else {
            anomalies.push(format!("acknowledged write lost or altered: {a:?}"));
        }
    }
    // Roles whose CreateRole was cut off: absent, or whole. And no role of
    // this round points at a policy that is gone.
    let acked_roles: HashSet<&str> = acks
        .iter()
        .filter_map(|a| match a {
            Ack::Role { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    let mut whole_unacked = 0;
    for (name, trust) in roles_sent {
        match iam.get_role().role_name(name).send().await {
            Ok(got) => {
                let document = got.role.and_then(|r| r.assume_role_policy_document);
                if !document.is_some_and(|d| same_json(&decode_document(&d), trust)) {
                    anomalies.push(format!("role {name} visible without its trust policy"));
                } else if !acked_roles.contains(name.as_str()) {
                    whole_unacked += 1;
                }
                for arn in attached(&iam, name).await.unwrap_or_default() {
                    if iam.get_policy().policy_arn(&arn).send().await.is_err() {
                        anomalies.push(format!("role {name} attached to missing policy {arn}"));
                    }
                }
            }
            Err(e) => {
                if failure(&e).code() != Some("NoSuchEntity") {
                    anomalies.push(format!("GetRole {name}: {:?}", failure(&e)));
                } else if acked_roles.contains(name.as_str()) {
                    // Reported above as a lost acknowledged write.
                }
            }
        }
    }
    (passed, whole_unacked)
}

async fn attached(iam: &aws_sdk_iam::Client, role: &str) -> Option<Vec<String>> {
    let got = iam
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await
        .ok()?;
    Some(
        got.attached_policies
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.policy_arn)
            .collect(),
    )
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The root key works and names the account root.
async fn root_works(endpoint: &str, root: &(String, String)) -> bool {
    sts(endpoint, credentials(&root.0, &root.1, None))
        .get_caller_identity()
        .send()
        .await
        .is_ok_and(|who| who.arn.as_deref() == Some(&format!("arn:aws:iam::{ACCOUNT}:root")))
}

async fn crash_run(label: &str, spec: Spec) {
    let kills = env_number("IRSA_CRASH_KILLS", 5);
    let clients = env_number("IRSA_CRASH_CLIENTS", 4);
    let started = Instant::now();

    let mut server = Process::start(&spec);
    let root = root_credentials(&spec.data_dir);
    let master_key = std::fs::read(spec.master_key_path()).unwrap();
    let root_file = std::fs::read(spec.data_dir.join("root-credentials")).unwrap();

    let mut all_acks: Vec<Ack> = Vec::new();
    let mut all_removals: HashSet<String> = HashSet::new();
    let mut anomalies: Vec<String> = Vec::new();
    let mut verified = 0;
    let mut whole_unacked = 0;
    let mut max_restart = Duration::ZERO;
    for round in 0..kills {
        let ledger: Shared = Arc::default();
        let killed = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..clients)
            .map(|w| {
                tokio::spawn(client(
                    server.endpoint(),
                    root.clone(),
                    round,
                    w,
                    ledger.clone(),
                    killed.clone(),
                ))
            })
            .collect();
        let delay = rand::thread_rng().gen_range(150..1200);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        killed.store(true, Ordering::SeqCst);
        server.kill9();
        for w in workers {
            w.await.unwrap();
        }

        server = Process::spawn(&spec);
        let restart = tokio::task::block_in_place(|| server.wait_ready(Duration::from_secs(60)));
        max_restart = max_restart.max(restart);
        if std::fs::read(spec.master_key_path()).unwrap() != master_key {
            anomalies.push(format!("round {round}: master key file changed"));
        }
        if std::fs::read(spec.data_dir.join("root-credentials")).unwrap() != root_file {
            anomalies.push(format!("round {round}: root credentials file changed"));
        }
        if !root_works(&server.endpoint(), &root).await {
            anomalies.push(format!("round {round}: root key no longer works"));
        }
        let ledger = std::mem::take(&mut *ledger.lock().unwrap());
        anomalies.extend(ledger.unexpected);
        let (passed, whole) = verify(
            &server.endpoint(),
            &root,
            &ledger.acks,
            &ledger.roles_sent,
            &ledger.removals_sent,
            &mut anomalies,
        )
        .await;
        verified += passed;
        whole_unacked += whole;
        all_acks.extend(ledger.acks);
        all_removals.extend(ledger.removals_sent);
    }
    // Later rounds must not have undone earlier ones.
    let (final_passed, _) = verify(
        &server.endpoint(),
        &root,
        &all_acks,
        &[],
        &all_removals,
        &mut anomalies,
    )
    .await;
    println!(
        "crash-safety {label}: kills={kills} clients={clients} acknowledged={} verified_after_kill={verified} verified_at_end={final_passed} unacknowledged_roles_found_whole={whole_unacked} max_restart_ms={} anomalies={} elapsed_s={:.1}",
        all_acks.len(),
        max_restart.as_millis(),
        anomalies.len(),
        started.elapsed().as_secs_f64(),
    );
    assert!(anomalies.is_empty(), "{label}: {anomalies:#?}");
    assert!(
        all_acks.len() >= kills,
        "{label}: too few writes acknowledged ({}) for the test to mean anything",
        all_acks.len()
    );
    assert_eq!(verified, all_acks.len());
    assert_eq!(final_passed, all_acks.len());
    assert!(server.stop().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_keeps_every_acknowledged_write_across_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    crash_run("sqlite", Spec::sqlite(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_keeps_every_acknowledged_write_across_kill_9() {
    let Some(url) = fresh_postgres_database("crash").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("master-key-file");
    write_master_key(&key_file);
    crash_run("postgres", Spec::postgres(dir.path(), &url, &key_file)).await;
}
