//! The store conformance suite: every test runs against SQLite and, when
//! `IRSA_TEST_DATABASE_URL` is set, against PostgreSQL (required in CI).

// Integration tests: unwrap is how a test fails (clippy.toml only covers #[test] fns).
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Harness, START};
use irsa_core::{is_valid_id, Clock, IdPrefix, SecretBytes, SecretString};
use irsa_store::{
    AccessKeyStatus, Entity, KeyOwner, ListQuery, MasterKey, NewAccessKey, NewOidcProvider,
    NewPolicy, NewRole, NewServerKey, NewUser, PolicyListFilter, Principal, PrincipalKind,
    RoleUpdate, StoreError, Tag, UserUpdate,
};
use sqlx::Row;
use time::OffsetDateTime;

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
const DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let h = crate::common::sqlite().await;
                    assert_eq!(h.store.backend(), irsa_store::Backend::Sqlite);
                    super::$name(h).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    if let Some(h) = crate::common::postgres().await {
                        assert_eq!(h.store.backend(), irsa_store::Backend::Postgres);
                        super::$name(h).await;
                    }
                }
            )*
        }
    };
}

conformance!(
    ping_and_backend,
    users_crud,
    user_rename_carries_keys_and_policies,
    user_delete_conflicts,
    list_pagination_and_path_prefix,
    access_keys_crud_and_limit,
    roles_crud,
    role_delete_conflicts,
    inline_policies,
    managed_policies_and_versions,
    policy_list_usage_filters,
    attachments_and_limits,
    oidc_providers,
    http_oidc_providers_keep_their_scheme,
    key_ring,
    key_ring_life_cycle,
    secrets_encrypted_at_rest,
    wrong_master_key_refused_at_open,
    reopen_keeps_data,
    concurrent_role_creates_have_one_winner,
    concurrent_access_keys_never_exceed_two,
    concurrent_attachments_never_exceed_ten,
    concurrent_key_ring_bootstrap_creates_one_key,
    account_settings,
    concurrent_account_setting_has_one_winner,
);

fn at_start() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(i64::try_from(START).unwrap()).unwrap()
}

fn assert_not_found<T: std::fmt::Debug>(r: Result<T, StoreError>, entity: Entity) {
    match r {
        Err(StoreError::NotFound { entity: e, .. }) => assert_eq!(e, entity),
        other => panic!("expected NotFound {entity:?}, got {other:?}"),
    }
}

fn assert_exists<T: std::fmt::Debug>(r: Result<T, StoreError>, entity: Entity) {
    match r {
        Err(StoreError::AlreadyExists { entity: e, .. }) => assert_eq!(e, entity),
        other => panic!("expected AlreadyExists {entity:?}, got {other:?}"),
    }
}

fn assert_delete_conflict<T: std::fmt::Debug>(r: Result<T, StoreError>, needle: &str) {
    match r {
        Err(StoreError::DeleteConflict { message, .. }) => {
            assert!(message.contains(needle), "{message}");
        }
        other => panic!("expected DeleteConflict ({needle}), got {other:?}"),
    }
}

#[allow(clippy::needless_pass_by_value)]
fn assert_limit<T: std::fmt::Debug>(r: Result<T, StoreError>) {
    assert!(
        matches!(r, Err(StoreError::LimitExceeded { .. })),
        "expected LimitExceeded, got {r:?}"
    );
}

async fn ping_and_backend(h: Harness) {
    h.store.ping().await.unwrap();
    assert_eq!(h.store.account_id().as_str(), "123456789012");
}

async fn users_crud(h: Harness) {
    let s = &h.store;
    let mut new = NewUser::named("Alice");
    new.path = "/team/".into();
    new.tags = vec![Tag::new("env", "dev")];
    let alice = s.create_user(new).await.unwrap();
    assert!(is_valid_id(IdPrefix::User, &alice.id), "{}", alice.id);
    assert_eq!(alice.arn, "arn:aws:iam::123456789012:user/team/Alice");
    assert_eq!(alice.create_date, at_start());

    // Case-insensitive lookup and uniqueness; display case is kept.
    let got = s.get_user("ALICE").await.unwrap();
    assert_eq!(got, alice);
    assert_eq!(
        s.get_principal(PrincipalKind::User, "alice").await.unwrap(),
        Principal::User(alice.clone())
    );
    let err = s.create_user(NewUser::named("alice")).await.unwrap_err();
    assert_eq!(err.to_string(), "User with name alice already exists.");
    assert_eq!(err.aws_code(), "EntityAlreadyExists");
    assert_eq!(err.http_status(), 409);

    s.tag_principal(
        PrincipalKind::User,
        "alice",
        vec![Tag::new("env", "prod"), Tag::new("team", "a")],
    )
    .await
    .unwrap();
    let got = s.get_user("Alice").await.unwrap();
    assert_eq!(
        got.tags,
        vec![Tag::new("env", "prod"), Tag::new("team", "a")]
    );
    s.untag_principal(PrincipalKind::User, "Alice", &["env".to_owned()])
        .await
        .unwrap();
    assert_eq!(
        s.get_user("Alice").await.unwrap().tags,
        vec![Tag::new("team", "a")]
    );
    let too_many: Vec<Tag> = (0..50).map(|i| Tag::new(format!("k{i}"), "v")).collect();
    assert_limit(
        s.tag_principal(PrincipalKind::User, "Alice", too_many)
            .await,
    );

    s.set_permissions_boundary(
        PrincipalKind::User,
        "Alice",
        Some("arn:aws:iam::aws:policy/PowerUserAccess".into()),
    )
    .await
    .unwrap();
    assert_eq!(
        s.get_user("Alice")
            .await
            .unwrap()
            .permissions_boundary
            .as_deref(),
        Some("arn:aws:iam::aws:policy/PowerUserAccess")
    );
    s.set_permissions_boundary(PrincipalKind::User, "Alice", None)
        .await
        .unwrap();
    assert_eq!(
        s.get_user("Alice").await.unwrap().permissions_boundary,
        None
    );

    let moved = s
        .update_user(
            "alice",
            UserUpdate {
                new_name: None,
                new_path: Some("/other/".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(moved.arn, "arn:aws:iam::123456789012:user/other/Alice");
    assert_eq!(moved.id, alice.id);

    s.delete_principal(PrincipalKind::User, "aLiCe")
        .await
        .unwrap();
    assert_not_found(s.get_user("Alice").await, Entity::User);
    let err = s
        .delete_principal(PrincipalKind::User, "Alice")
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "The user with name Alice cannot be found.");
    assert_eq!(err.http_status(), 404);
    assert_not_found(
        s.tag_principal(PrincipalKind::User, "nobody", vec![]).await,
        Entity::User,
    );
    assert_not_found(
        s.set_permissions_boundary(PrincipalKind::User, "nobody", None)
            .await,
        Entity::User,
    );
}

async fn user_rename_carries_keys_and_policies(h: Harness) {
    let s = &h.store;
    s.create_user(NewUser::named("bob")).await.unwrap();
    s.create_user(NewUser::named("carol")).await.unwrap();
    let key = s
        .create_access_key(NewAccessKey::for_user("bob"))
        .await
        .unwrap();
    s.put_inline_policy(PrincipalKind::User, "bob", "inline", DOC.into())
        .await
        .unwrap();
    s.attach_policy(
        PrincipalKind::User,
        "bob",
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
    )
    .await
    .unwrap();

    assert_exists(
        s.update_user(
            "bob",
            UserUpdate {
                new_name: Some("Carol".into()),
                new_path: None,
            },
        )
        .await,
        Entity::User,
    );
    let renamed = s
        .update_user(
            "bob",
            UserUpdate {
                new_name: Some("Robert".into()),
                new_path: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.arn, "arn:aws:iam::123456789012:user/Robert");
    assert_not_found(s.get_user("bob").await, Entity::User);
    let keys = s
        .list_access_keys(&KeyOwner::User("robert".into()))
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].id, key.key.id);
    assert_eq!(keys[0].owner, KeyOwner::User("Robert".into()));
    assert_eq!(
        s.get_access_key(&key.key.id).await.unwrap().key.owner,
        KeyOwner::User("Robert".into())
    );
    assert_eq!(
        s.list_inline_policies(PrincipalKind::User, "Robert")
            .await
            .unwrap(),
        vec!["inline"]
    );
    assert_eq!(
        s.list_attached_policies(PrincipalKind::User, "Robert", None)
            .await
            .unwrap()
            .len(),
        1
    );
    // Renaming to a different case of the same name is allowed.
    let recased = s
        .update_user(
            "Robert",
            UserUpdate {
                new_name: Some("ROBERT".into()),
                new_path: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(recased.name, "ROBERT");
}

async fn user_delete_conflicts(h: Harness) {
    let s = &h.store;
    s.create_user(NewUser::named("dave")).await.unwrap();
    let key = s
        .create_access_key(NewAccessKey::for_user("dave"))
        .await
        .unwrap();
    assert_delete_conflict(
        s.delete_principal(PrincipalKind::User, "dave").await,
        "access keys",
    );
    s.delete_access_key(&KeyOwner::User("dave".into()), &key.key.id)
        .await
        .unwrap();

    s.put_inline_policy(PrincipalKind::User, "dave", "p", DOC.into())
        .await
        .unwrap();
    assert_delete_conflict(
        s.delete_principal(PrincipalKind::User, "dave").await,
        "must delete policies first",
    );
    s.delete_inline_policy(PrincipalKind::User, "dave", "P")
        .await
        .unwrap();

    s.attach_policy(
        PrincipalKind::User,
        "dave",
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
    )
    .await
    .unwrap();
    assert_delete_conflict(
        s.delete_principal(PrincipalKind::User, "dave").await,
        "detach all policies",
    );
    s.detach_policy(
        PrincipalKind::User,
        "dave",
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
    )
    .await
    .unwrap();

    s.delete_principal(PrincipalKind::User, "dave")
        .await
        .unwrap();
    assert_not_found(s.get_user("dave").await, Entity::User);
}

async fn list_pagination_and_path_prefix(h: Harness) {
    let s = &h.store;
    for name in ["delta", "Alpha", "charlie", "Bravo", "echo"] {
        let mut u = NewUser::named(name);
        if name == "charlie" || name == "echo" {
            u.path = "/ops/".into();
        }
        s.create_user(u).await.unwrap();
    }
    let all = s.list_users(&ListQuery::all()).await.unwrap();
    let names: Vec<_> = all.items.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["Alpha", "Bravo", "charlie", "delta", "echo"]);
    assert!(!all.is_truncated());

    let mut query = ListQuery {
        max_items: Some(2),
        ..ListQuery::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = s.list_users(&query).await.unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|u| u.name.clone()));
        match page.marker {
            Some(m) => query.marker = Some(m),
            None => break,
        }
    }
    assert_eq!(seen, ["Alpha", "Bravo", "charlie", "delta", "echo"]);

    let ops = s
        .list_users(&ListQuery {
            path_prefix: Some("/ops/".into()),
            ..ListQuery::default()
        })
        .await
        .unwrap();
    let names: Vec<_> = ops.items.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["charlie", "echo"]);

    // The same ordering and paging for roles and policies.
    for name in ["zeta", "Eta", "theta"] {
        s.create_role(NewRole::new(name, TRUST)).await.unwrap();
        s.create_policy(NewPolicy::new(name, DOC)).await.unwrap();
    }
    let roles = s
        .list_roles(&ListQuery {
            max_items: Some(2),
            ..ListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        roles
            .items
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        ["Eta", "theta"]
    );
    let rest = s
        .list_roles(&ListQuery {
            marker: roles.marker.clone(),
            ..ListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        rest.items
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        ["zeta"]
    );
    // Principal-generic listing: the same pages, whatever the kind.
    for (kind, expected) in [
        (PrincipalKind::User, vec!["Alpha", "Bravo", "charlie"]),
        (PrincipalKind::Role, vec!["Eta", "theta", "zeta"]),
    ] {
        let first = s
            .list_principals(
                kind,
                &ListQuery {
                    max_items: Some(2),
                    ..ListQuery::default()
                },
            )
            .await
            .unwrap();
        let second = s
            .list_principals(
                kind,
                &ListQuery {
                    marker: first.marker.clone(),
                    max_items: Some(1),
                    ..ListQuery::default()
                },
            )
            .await
            .unwrap();
        let names: Vec<&str> = first
            .items
            .iter()
            .chain(&second.items)
            .map(|p| {
                assert_eq!(p.kind(), kind);
                p.name()
            })
            .collect();
        assert_eq!(names, expected);
    }
    let policies = s
        .list_policies(&ListQuery::all(), PolicyListFilter::All)
        .await
        .unwrap();
    assert_eq!(
        policies
            .items
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        ["Eta", "theta", "zeta"]
    );
}

async fn access_keys_crud_and_limit(h: Harness) {
    let s = &h.store;
    s.create_user(NewUser::named("erin")).await.unwrap();
    let owner = KeyOwner::User("erin".into());
    let k1 = s
        .create_access_key(NewAccessKey::for_user("Erin"))
        .await
        .unwrap();
    assert!(is_valid_id(IdPrefix::AccessKey, &k1.key.id));
    assert_eq!(k1.secret.expose().len(), 40);
    assert_eq!(k1.key.status, AccessKeyStatus::Active);
    assert_eq!(k1.key.create_date, at_start());
    h.clock.advance(Duration::from_secs(5));
    let k2 = s
        .create_access_key(NewAccessKey::for_user("erin"))
        .await
        .unwrap();
    assert_ne!(k1.key.id, k2.key.id);
    let err = s
        .create_access_key(NewAccessKey::for_user("erin"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Cannot exceed quota for AccessKeysPerUser: 2"
    );
    assert_eq!(err.aws_code(), "LimitExceeded");

    let got = s.get_access_key(&k1.key.id).await.unwrap();
    assert_eq!(got.secret, k1.secret);
    assert!(
        !format!("{got:?}").contains(k1.secret.expose()),
        "secret in Debug output"
    );
    assert_eq!(got.key.owner, KeyOwner::User("erin".into()));
    let listed = s.list_access_keys(&owner).await.unwrap();
    assert_eq!(
        listed.iter().map(|k| k.id.clone()).collect::<Vec<_>>(),
        vec![k1.key.id.clone(), k2.key.id.clone()]
    );

    s.update_access_key_status(&owner, &k1.key.id, AccessKeyStatus::Inactive)
        .await
        .unwrap();
    assert_eq!(
        s.get_access_key(&k1.key.id).await.unwrap().key.status,
        AccessKeyStatus::Inactive
    );
    // A key is only reachable through its owner.
    s.create_user(NewUser::named("frank")).await.unwrap();
    let frank = KeyOwner::User("frank".into());
    assert_not_found(
        s.update_access_key_status(&frank, &k1.key.id, AccessKeyStatus::Active)
            .await,
        Entity::AccessKey,
    );
    assert_not_found(
        s.delete_access_key(&frank, &k1.key.id).await,
        Entity::AccessKey,
    );
    assert_not_found(
        s.list_access_keys(&KeyOwner::User("nobody".into())).await,
        Entity::User,
    );
    assert_not_found(
        s.create_access_key(NewAccessKey::for_user("nobody")).await,
        Entity::User,
    );

    h.clock.advance(Duration::from_secs(60));
    s.record_access_key_use(&k2.key.id, "sts", "eu-west-1")
        .await
        .unwrap();
    let used = s
        .get_access_key(&k2.key.id)
        .await
        .unwrap()
        .key
        .last_used
        .unwrap();
    assert_eq!(used.date, at_start() + Duration::from_secs(65));
    assert_eq!(used.service.as_deref(), Some("sts"));
    assert_eq!(used.region.as_deref(), Some("eu-west-1"));
    assert_not_found(
        s.record_access_key_use("AKIANOPE", "sts", "x").await,
        Entity::AccessKey,
    );

    s.delete_access_key(&owner, &k1.key.id).await.unwrap();
    assert_not_found(s.get_access_key(&k1.key.id).await, Entity::AccessKey);
    s.create_access_key(NewAccessKey::for_user("erin"))
        .await
        .unwrap();

    // Root keys: imported with a given id and secret, not limited to two.
    let root = NewAccessKey {
        owner: KeyOwner::Root,
        id: Some("AKIAROOTROOTROOTROOT".into()),
        secret: Some(SecretString::new(
            "root/secret/key/0123456789abcdefghijklmn",
        )),
        status: AccessKeyStatus::Active,
    };
    s.create_access_key(root.clone()).await.unwrap();
    assert_exists(s.create_access_key(root).await, Entity::AccessKey);
    for _ in 0..3 {
        s.create_access_key(NewAccessKey::for_root()).await.unwrap();
    }
    let got = s.get_access_key("AKIAROOTROOTROOTROOT").await.unwrap();
    assert_eq!(got.key.owner, KeyOwner::Root);
    assert_eq!(
        got.secret.expose(),
        "root/secret/key/0123456789abcdefghijklmn"
    );
    assert_eq!(s.list_access_keys(&KeyOwner::Root).await.unwrap().len(), 4);
}

async fn roles_crud(h: Harness) {
    let s = &h.store;
    let mut new = NewRole::new("App", TRUST);
    new.path = "/svc/".into();
    new.description = Some("the app".into());
    new.max_session_duration = 7200;
    new.tags = vec![Tag::new("a", "1")];
    let role = s.create_role(new).await.unwrap();
    assert!(is_valid_id(IdPrefix::Role, &role.id));
    assert_eq!(role.arn, "arn:aws:iam::123456789012:role/svc/App");
    assert_eq!(role.create_date, at_start());
    assert_eq!(s.get_role("app").await.unwrap(), role);
    let principal = s.get_principal(PrincipalKind::Role, "APP").await.unwrap();
    assert_eq!(
        (
            principal.kind(),
            principal.name(),
            principal.id(),
            principal.arn()
        ),
        (
            PrincipalKind::Role,
            "App",
            role.id.as_str(),
            role.arn.as_str()
        )
    );
    assert_eq!(principal, Principal::Role(role.clone()));
    assert_not_found(
        s.get_principal(PrincipalKind::User, "App").await,
        Entity::User,
    );
    assert_exists(
        s.create_role(NewRole::new("APP", TRUST)).await,
        Entity::Role,
    );
    assert_eq!(
        s.create_role(NewRole::new("app", TRUST))
            .await
            .unwrap_err()
            .to_string(),
        "Role with name app already exists."
    );

    let updated = s
        .update_role(
            "app",
            RoleUpdate {
                description: Some("new".into()),
                max_session_duration: Some(43200),
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.description.as_deref(), Some("new"));
    assert_eq!(updated.max_session_duration, 43200);
    let only_desc = s
        .update_role(
            "app",
            RoleUpdate {
                description: Some("newer".into()),
                max_session_duration: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(only_desc.max_session_duration, 43200);

    let trust2 = TRUST.replace("sts:AssumeRole", "sts:AssumeRoleWithWebIdentity");
    s.update_assume_role_policy("App", trust2.clone())
        .await
        .unwrap();
    assert_eq!(
        s.get_role("App").await.unwrap().assume_role_policy_document,
        trust2
    );

    s.tag_principal(PrincipalKind::Role, "App", vec![Tag::new("b", "2")])
        .await
        .unwrap();
    s.untag_principal(PrincipalKind::Role, "App", &["a".to_owned()])
        .await
        .unwrap();
    assert_eq!(
        s.get_role("App").await.unwrap().tags,
        vec![Tag::new("b", "2")]
    );
    s.set_permissions_boundary(
        PrincipalKind::Role,
        "App",
        Some("arn:aws:iam::123456789012:policy/b".into()),
    )
    .await
    .unwrap();
    assert!(s
        .get_role("App")
        .await
        .unwrap()
        .permissions_boundary
        .is_some());

    assert_eq!(s.get_role("App").await.unwrap().last_used, None);
    h.clock.advance(Duration::from_secs(10));
    s.record_role_use("app", "us-east-1").await.unwrap();
    let used = s.get_role("App").await.unwrap().last_used.unwrap();
    assert_eq!(used.date, at_start() + Duration::from_secs(10));
    assert_eq!(used.region.as_deref(), Some("us-east-1"));

    s.delete_principal(PrincipalKind::Role, "APP")
        .await
        .unwrap();
    assert_not_found(s.get_role("App").await, Entity::Role);
    assert_not_found(
        s.delete_principal(PrincipalKind::Role, "App").await,
        Entity::Role,
    );
    assert_not_found(
        s.update_assume_role_policy("App", TRUST.into()).await,
        Entity::Role,
    );
    assert_not_found(
        s.update_role("App", RoleUpdate::default()).await,
        Entity::Role,
    );
    assert_not_found(s.record_role_use("App", "x").await, Entity::Role);
}

async fn role_delete_conflicts(h: Harness) {
    let s = &h.store;
    s.create_role(NewRole::new("r", TRUST)).await.unwrap();
    s.put_inline_policy(PrincipalKind::Role, "r", "p", DOC.into())
        .await
        .unwrap();
    assert_delete_conflict(
        s.delete_principal(PrincipalKind::Role, "r").await,
        "must delete policies first",
    );
    s.delete_inline_policy(PrincipalKind::Role, "r", "p")
        .await
        .unwrap();
    let policy = s.create_policy(NewPolicy::new("mine", DOC)).await.unwrap();
    s.attach_policy(PrincipalKind::Role, "r", &policy.arn)
        .await
        .unwrap();
    assert_delete_conflict(
        s.delete_principal(PrincipalKind::Role, "r").await,
        "detach all policies",
    );
    s.detach_policy(PrincipalKind::Role, "r", &policy.arn)
        .await
        .unwrap();
    s.delete_principal(PrincipalKind::Role, "r").await.unwrap();
}

async fn inline_policies(h: Harness) {
    let s = &h.store;
    s.create_user(NewUser::named("u")).await.unwrap();
    s.create_role(NewRole::new("r", TRUST)).await.unwrap();
    for kind in [PrincipalKind::User, PrincipalKind::Role] {
        let who = if kind == PrincipalKind::User {
            "U"
        } else {
            "R"
        };
        s.put_inline_policy(kind, who, "Zed", DOC.into())
            .await
            .unwrap();
        s.put_inline_policy(kind, who, "alpha", DOC.into())
            .await
            .unwrap();
        assert_eq!(
            s.list_inline_policies(kind, who).await.unwrap(),
            vec!["alpha", "Zed"]
        );
        // Putting the same name (any case) replaces the document.
        s.put_inline_policy(kind, who, "ZED", "{}".into())
            .await
            .unwrap();
        let got = s.get_inline_policy(kind, who, "zed").await.unwrap();
        assert_eq!(got.document, "{}");
        assert_eq!(s.list_inline_policies(kind, who).await.unwrap().len(), 2);
        s.delete_inline_policy(kind, who, "alpha").await.unwrap();
        let entity = if kind == PrincipalKind::User {
            Entity::UserPolicy
        } else {
            Entity::RolePolicy
        };
        assert_not_found(s.get_inline_policy(kind, who, "alpha").await, entity);
        assert_not_found(s.delete_inline_policy(kind, who, "alpha").await, entity);
    }
    let err = s
        .get_inline_policy(PrincipalKind::User, "u", "nope")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "The user policy with name nope cannot be found."
    );
    assert_not_found(
        s.put_inline_policy(PrincipalKind::User, "ghost", "p", DOC.into())
            .await,
        Entity::User,
    );
    assert_not_found(
        s.list_inline_policies(PrincipalKind::Role, "ghost").await,
        Entity::Role,
    );
}

async fn managed_policies_and_versions(h: Harness) {
    let s = &h.store;
    let mut new = NewPolicy::new("Read", DOC);
    new.path = "/app/".into();
    new.description = Some("reads".into());
    let p = s.create_policy(new).await.unwrap();
    assert!(is_valid_id(IdPrefix::ManagedPolicy, &p.id));
    assert_eq!(p.arn, "arn:aws:iam::123456789012:policy/app/Read");
    assert_eq!(p.default_version_id, "v1");
    assert_eq!(p.attachment_count, 0);
    assert_eq!(s.get_policy(&p.arn).await.unwrap(), p);
    // Names are unique per account regardless of path and case.
    let mut dup = NewPolicy::new("READ", DOC);
    dup.path = "/other/".into();
    assert_exists(s.create_policy(dup).await, Entity::Policy);

    let v1 = s.get_policy_version(&p.arn, "v1").await.unwrap();
    assert!(v1.is_default);
    assert_eq!(v1.document, DOC);

    h.clock.advance(Duration::from_secs(30));
    let v2 = s
        .create_policy_version(&p.arn, "{\"v\":2}".into(), false)
        .await
        .unwrap();
    assert_eq!(v2.version_id, "v2");
    assert!(!v2.is_default);
    let v3 = s
        .create_policy_version(&p.arn, "{\"v\":3}".into(), true)
        .await
        .unwrap();
    assert!(v3.is_default);
    let policy = s.get_policy(&p.arn).await.unwrap();
    assert_eq!(policy.default_version_id, "v3");
    assert_eq!(policy.update_date, at_start() + Duration::from_secs(30));
    assert!(!s.get_policy_version(&p.arn, "v1").await.unwrap().is_default);
    s.create_policy_version(&p.arn, "{}".into(), false)
        .await
        .unwrap();
    s.create_policy_version(&p.arn, "{}".into(), false)
        .await
        .unwrap();
    let err = s
        .create_policy_version(&p.arn, "{}".into(), false)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LimitExceeded { .. }), "{err:?}");

    let ids: Vec<_> = s
        .list_policy_versions(&p.arn)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.version_id)
        .collect();
    assert_eq!(ids, ["v5", "v4", "v3", "v2", "v1"]);
    let defaults: Vec<_> = s
        .list_policy_versions(&p.arn)
        .await
        .unwrap()
        .into_iter()
        .filter(|v| v.is_default)
        .collect();
    assert_eq!(defaults.len(), 1);

    assert_delete_conflict(
        s.delete_policy_version(&p.arn, "v3").await,
        "default version",
    );
    s.delete_policy_version(&p.arn, "v1").await.unwrap();
    assert_not_found(
        s.get_policy_version(&p.arn, "v1").await,
        Entity::PolicyVersion,
    );
    assert_not_found(
        s.delete_policy_version(&p.arn, "v1").await,
        Entity::PolicyVersion,
    );
    // Version ids are never reused.
    let v6 = s
        .create_policy_version(&p.arn, "{}".into(), false)
        .await
        .unwrap();
    assert_eq!(v6.version_id, "v6");

    s.set_default_policy_version(&p.arn, "v6").await.unwrap();
    assert_eq!(s.get_policy(&p.arn).await.unwrap().default_version_id, "v6");
    assert_not_found(
        s.set_default_policy_version(&p.arn, "v1").await,
        Entity::PolicyVersion,
    );

    s.tag_policy(&p.arn, vec![Tag::new("k", "v")])
        .await
        .unwrap();
    assert_eq!(
        s.get_policy(&p.arn).await.unwrap().tags,
        vec![Tag::new("k", "v")]
    );
    s.untag_policy(&p.arn, &["k".to_owned()]).await.unwrap();
    assert!(s.get_policy(&p.arn).await.unwrap().tags.is_empty());

    assert_delete_conflict(s.delete_policy(&p.arn).await, "more than one version");
    for v in ["v2", "v3", "v4", "v5"] {
        s.delete_policy_version(&p.arn, v).await.unwrap();
    }
    s.create_role(NewRole::new("r", TRUST)).await.unwrap();
    s.attach_policy(PrincipalKind::Role, "r", &p.arn)
        .await
        .unwrap();
    assert_eq!(s.get_policy(&p.arn).await.unwrap().attachment_count, 1);
    let attached = s
        .list_policies(&ListQuery::all(), PolicyListFilter::Attached)
        .await
        .unwrap();
    assert_eq!(attached.items.len(), 1);
    s.create_policy(NewPolicy::new("unattached", DOC))
        .await
        .unwrap();
    assert_eq!(
        s.list_policies(&ListQuery::all(), PolicyListFilter::Attached)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        s.list_policies(&ListQuery::all(), PolicyListFilter::All)
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    assert_delete_conflict(s.delete_policy(&p.arn).await, "attached");
    s.detach_policy(PrincipalKind::Role, "r", &p.arn)
        .await
        .unwrap();
    s.delete_policy(&p.arn).await.unwrap();
    assert_not_found(s.get_policy(&p.arn).await, Entity::Policy);
    assert_not_found(s.list_policy_versions(&p.arn).await, Entity::Policy);
    assert_not_found(
        s.create_policy_version(&p.arn, "{}".into(), true).await,
        Entity::Policy,
    );
}

/// ListPolicies' OnlyAttached / PolicyUsageFilter: attached as a
/// permissions policy vs set as a user's or role's permissions boundary.
async fn policy_list_usage_filters(h: Harness) {
    let s = &h.store;
    let mut arns = std::collections::HashMap::new();
    for name in ["attached", "boundary", "both", "unused"] {
        let p = s.create_policy(NewPolicy::new(name, DOC)).await.unwrap();
        arns.insert(name, p.arn);
    }
    s.create_role(NewRole::new("r", TRUST)).await.unwrap();
    s.create_user(NewUser::named("u")).await.unwrap();
    s.attach_policy(PrincipalKind::Role, "r", &arns["attached"])
        .await
        .unwrap();
    s.attach_policy(PrincipalKind::User, "u", &arns["both"])
        .await
        .unwrap();
    s.set_permissions_boundary(PrincipalKind::User, "u", Some(arns["boundary"].clone()))
        .await
        .unwrap();
    s.set_permissions_boundary(PrincipalKind::Role, "r", Some(arns["both"].clone()))
        .await
        .unwrap();
    let names = |filter: PolicyListFilter, query: ListQuery| async move {
        let page = s.list_policies(&query, filter).await.unwrap();
        let names: Vec<String> = page.items.into_iter().map(|p| p.name).collect();
        (names, page.marker)
    };
    assert_eq!(
        names(PolicyListFilter::All, ListQuery::all()).await.0,
        ["attached", "both", "boundary", "unused"]
    );
    assert_eq!(
        names(PolicyListFilter::Attached, ListQuery::all()).await.0,
        ["attached", "both"]
    );
    assert_eq!(
        names(PolicyListFilter::UsedAsBoundary, ListQuery::all())
            .await
            .0,
        ["both", "boundary"]
    );
    // Pagination walks the filtered list, not the whole table.
    let first = ListQuery {
        max_items: Some(1),
        ..ListQuery::default()
    };
    let (items, marker) = names(PolicyListFilter::UsedAsBoundary, first).await;
    assert_eq!(items, ["both"]);
    let next = ListQuery {
        max_items: Some(1),
        marker,
        ..ListQuery::default()
    };
    let (items, marker) = names(PolicyListFilter::UsedAsBoundary, next).await;
    assert_eq!(items, ["boundary"]);
    assert_eq!(marker, None);

    // Clearing a boundary takes the policy out of the boundary list at once.
    s.set_permissions_boundary(PrincipalKind::Role, "r", None)
        .await
        .unwrap();
    assert_eq!(
        names(PolicyListFilter::UsedAsBoundary, ListQuery::all())
            .await
            .0,
        ["boundary"]
    );
    s.set_permissions_boundary(PrincipalKind::User, "u", None)
        .await
        .unwrap();
    assert!(names(PolicyListFilter::UsedAsBoundary, ListQuery::all())
        .await
        .0
        .is_empty());
}

async fn attachments_and_limits(h: Harness) {
    let s = &h.store;
    s.create_user(NewUser::named("u")).await.unwrap();
    s.create_role(NewRole::new("r", TRUST)).await.unwrap();
    let mut local = NewPolicy::new("Local", DOC);
    local.path = "/team/".into();
    let local = s.create_policy(local).await.unwrap();
    let aws = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";

    s.attach_policy(PrincipalKind::Role, "R", &local.arn)
        .await
        .unwrap();
    s.attach_policy(PrincipalKind::Role, "r", aws)
        .await
        .unwrap();
    s.attach_policy(PrincipalKind::Role, "r", aws)
        .await
        .unwrap(); // idempotent
    s.attach_policy(PrincipalKind::User, "u", &local.arn)
        .await
        .unwrap();
    let listed = s
        .list_attached_policies(PrincipalKind::Role, "r", None)
        .await
        .unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|a| a.policy_name.as_str())
            .collect::<Vec<_>>(),
        ["AmazonS3ReadOnlyAccess", "Local"]
    );
    let team = s
        .list_attached_policies(PrincipalKind::Role, "r", Some("/team/"))
        .await
        .unwrap();
    assert_eq!(team.len(), 1);
    assert_eq!(team[0].policy_arn, local.arn);

    assert_eq!(s.get_policy(&local.arn).await.unwrap().attachment_count, 2);
    let entities = s.list_entities_for_policy(&local.arn).await.unwrap();
    assert_eq!(
        entities
            .users
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        ["u"]
    );
    assert_eq!(
        entities
            .roles
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        ["r"]
    );
    assert_eq!(
        s.list_entities_for_policy(aws).await.unwrap().roles.len(),
        1
    );

    assert_not_found(
        s.attach_policy(
            PrincipalKind::Role,
            "r",
            "arn:aws:iam::123456789012:policy/missing",
        )
        .await,
        Entity::Policy,
    );
    assert_not_found(
        s.attach_policy(PrincipalKind::Role, "ghost", aws).await,
        Entity::Role,
    );
    assert!(matches!(
        s.attach_policy(PrincipalKind::Role, "r", "not-an-arn")
            .await,
        Err(StoreError::InvalidInput(_))
    ));
    assert_not_found(
        s.detach_policy(PrincipalKind::User, "u", aws).await,
        Entity::Attachment,
    );

    for i in 0..8 {
        s.attach_policy(
            PrincipalKind::Role,
            "r",
            &format!("arn:aws:iam::aws:policy/P{i}"),
        )
        .await
        .unwrap();
    }
    let err = s
        .attach_policy(PrincipalKind::Role, "r", "arn:aws:iam::aws:policy/P9")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Cannot exceed quota for PoliciesPerRole: 10"
    );
    // Re-attaching one already attached is still fine at the limit.
    s.attach_policy(PrincipalKind::Role, "r", aws)
        .await
        .unwrap();
    s.detach_policy(PrincipalKind::Role, "r", aws)
        .await
        .unwrap();
    s.attach_policy(PrincipalKind::Role, "r", "arn:aws:iam::aws:policy/P9")
        .await
        .unwrap();
    assert_eq!(
        s.list_attached_policies(PrincipalKind::Role, "r", None)
            .await
            .unwrap()
            .len(),
        10
    );
}

async fn oidc_providers(h: Harness) {
    let s = &h.store;
    let p = s
        .create_oidc_provider(NewOidcProvider {
            url: "https://OIDC.Example.com:8443/id/ABC/".into(),
            client_ids: vec!["sts.amazonaws.com".into(), "sts.amazonaws.com".into()],
            thumbprints: vec!["9e99a48a9960b14926bb7f3b02e22da2b0ab7280".into()],
            tags: vec![Tag::new("cluster", "dev")],
        })
        .await
        .unwrap();
    assert_eq!(p.url, "https://oidc.example.com:8443/id/ABC");
    assert_eq!(
        p.arn,
        "arn:aws:iam::123456789012:oidc-provider/oidc.example.com:8443/id/ABC"
    );
    assert_eq!(p.client_ids, vec!["sts.amazonaws.com"]);
    assert_eq!(p.create_date, at_start());
    assert_eq!(s.get_oidc_provider(&p.arn).await.unwrap(), p);
    assert_eq!(
        s.find_oidc_provider_by_url("https://oidc.example.com:8443/id/ABC")
            .await
            .unwrap(),
        p
    );
    assert_eq!(
        s.find_oidc_provider_by_url("oidc.example.com:8443/id/ABC/")
            .await
            .unwrap(),
        p
    );
    // The path stays case-sensitive.
    assert_not_found(
        s.find_oidc_provider_by_url("https://oidc.example.com:8443/id/abc")
            .await,
        Entity::OidcProvider,
    );
    let dup = NewOidcProvider {
        url: "https://oidc.EXAMPLE.com:8443/id/ABC".into(),
        client_ids: vec![],
        thumbprints: vec![],
        tags: vec![],
    };
    assert_exists(s.create_oidc_provider(dup).await, Entity::OidcProvider);

    s.add_client_id(&p.arn, "other").await.unwrap();
    s.add_client_id(&p.arn, "other").await.unwrap();
    assert_eq!(
        s.get_oidc_provider(&p.arn).await.unwrap().client_ids,
        vec!["sts.amazonaws.com", "other"]
    );
    s.remove_client_id(&p.arn, "sts.amazonaws.com")
        .await
        .unwrap();
    s.remove_client_id(&p.arn, "never-there").await.unwrap();
    assert_eq!(
        s.get_oidc_provider(&p.arn).await.unwrap().client_ids,
        vec!["other"]
    );
    let thumbs: Vec<String> = vec!["a".repeat(40), "b".repeat(40)];
    s.update_thumbprints(&p.arn, thumbs.clone()).await.unwrap();
    assert_eq!(
        s.get_oidc_provider(&p.arn).await.unwrap().thumbprints,
        thumbs
    );
    assert_limit(s.update_thumbprints(&p.arn, vec!["c".repeat(40); 6]).await);
    s.tag_oidc_provider(&p.arn, vec![Tag::new("x", "y")])
        .await
        .unwrap();
    s.untag_oidc_provider(&p.arn, &["cluster".to_owned()])
        .await
        .unwrap();
    assert_eq!(
        s.get_oidc_provider(&p.arn).await.unwrap().tags,
        vec![Tag::new("x", "y")]
    );

    let second = s
        .create_oidc_provider(NewOidcProvider {
            url: "https://a.example.com".into(),
            client_ids: vec!["x".into()],
            thumbprints: vec![],
            tags: vec![],
        })
        .await
        .unwrap();
    let urls: Vec<_> = s
        .list_oidc_providers()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.url)
        .collect();
    assert_eq!(
        urls,
        [
            "https://a.example.com",
            "https://oidc.example.com:8443/id/ABC"
        ]
    );
    assert_limit(
        s.create_oidc_provider(NewOidcProvider {
            url: "https://b.example.com".into(),
            client_ids: (0..101).map(|i| i.to_string()).collect(),
            thumbprints: vec![],
            tags: vec![],
        })
        .await,
    );

    s.delete_oidc_provider(&second.arn).await.unwrap();
    assert_not_found(s.get_oidc_provider(&second.arn).await, Entity::OidcProvider);
    assert_not_found(
        s.delete_oidc_provider(&second.arn).await,
        Entity::OidcProvider,
    );
    assert_not_found(
        s.add_client_id(&second.arn, "x").await,
        Entity::OidcProvider,
    );
}

/// `--allow-insecure-issuer` setups register `http://` providers: the ARN
/// drops the scheme, the URL keeps it, and http/https of one host clash.
async fn http_oidc_providers_keep_their_scheme(h: Harness) {
    let s = &h.store;
    let p = s
        .create_oidc_provider(NewOidcProvider {
            url: "HTTP://127.0.0.1:8080/".into(),
            client_ids: vec!["sts.amazonaws.com".into()],
            thumbprints: vec![],
            tags: vec![],
        })
        .await
        .unwrap();
    assert_eq!(p.url, "http://127.0.0.1:8080");
    assert_eq!(
        p.arn,
        "arn:aws:iam::123456789012:oidc-provider/127.0.0.1:8080"
    );
    assert_eq!(
        s.find_oidc_provider_by_url("http://127.0.0.1:8080")
            .await
            .unwrap(),
        p
    );
    // A token claiming the https issuer of the same host is not this provider.
    assert_not_found(
        s.find_oidc_provider_by_url("https://127.0.0.1:8080").await,
        Entity::OidcProvider,
    );
    assert_not_found(
        s.find_oidc_provider_by_url("127.0.0.1:8080").await,
        Entity::OidcProvider,
    );
    match s
        .create_oidc_provider(NewOidcProvider {
            url: "https://127.0.0.1:8080".into(),
            client_ids: vec![],
            thumbprints: vec![],
            tags: vec![],
        })
        .await
    {
        Err(err @ StoreError::AlreadyExists { .. }) => {
            assert!(err.to_string().contains("http://127.0.0.1:8080"), "{err}");
        }
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
}

fn server_key(purpose: &str, id: &str, secret: &[u8]) -> NewServerKey {
    NewServerKey {
        purpose: purpose.into(),
        key_id: id.into(),
        algorithm: "AES-256-GCM".into(),
        secret: SecretBytes::new(secret.to_vec()),
        public: None,
        not_before: None,
        retire_after: None,
        expires: None,
    }
}

/// `irsa_store::key_ring`'s rotate → retire → prune, with a key that
/// starts signing later (how the session-token ring rotates) and one that
/// signs at once (how the issuer's rings rotate).
async fn key_ring_life_cycle(h: Harness) {
    use irsa_store::key_ring::{current_signer, prune_retired, retire_superseded, rotate};
    let s = h.store.as_ref();
    let purpose = "session-token";
    let ids = |keys: &[irsa_store::ServerKey]| {
        keys.iter()
            .map(|k| (k.key_id.clone(), k.active))
            .collect::<Vec<_>>()
    };
    let signer = |keys: &[irsa_store::ServerKey]| {
        current_signer(keys, h.clock.now_utc()).map(|k| k.key_id.clone())
    };
    s.insert_server_key(server_key(purpose, "k1", b"one"))
        .await
        .unwrap();

    // k2 starts signing in 90 s: until then k1 signs and stays active, in
    // the same second as k1's creation too.
    let mut deferred = server_key(purpose, "k2", b"two");
    deferred.not_before = Some(h.clock.now_utc() + Duration::from_secs(90));
    rotate(s, deferred).await.unwrap();
    let keys = s.list_server_keys(purpose).await.unwrap();
    assert_eq!(signer(&keys).as_deref(), Some("k1"));
    assert_eq!(ids(&keys), [("k1".into(), true), ("k2".into(), true)]);
    assert!(retire_superseded(s, purpose).await.unwrap().is_empty());

    h.clock.advance(Duration::from_secs(90));
    let keys = s.list_server_keys(purpose).await.unwrap();
    assert_eq!(signer(&keys).as_deref(), Some("k2"));
    assert_eq!(retire_superseded(s, purpose).await.unwrap(), ["k1"]);
    assert!(retire_superseded(s, purpose).await.unwrap().is_empty());
    let keys = s.list_server_keys(purpose).await.unwrap();
    assert_eq!(ids(&keys), [("k1".into(), false), ("k2".into(), true)]);

    // A key that signs at once retires the others immediately.
    h.clock.advance(Duration::from_secs(10));
    rotate(s, server_key(purpose, "k3", b"three"))
        .await
        .unwrap();
    let keys = s.list_server_keys(purpose).await.unwrap();
    assert_eq!(signer(&keys).as_deref(), Some("k3"));
    assert_eq!(
        ids(&keys),
        [
            ("k1".into(), false),
            ("k2".into(), false),
            ("k3".into(), true)
        ]
    );

    // Pruned once `keep_for` has passed since each was retired.
    let keep_for = Duration::from_secs(3600);
    let now = h.clock.now_utc();
    assert!(prune_retired(s, purpose, keep_for, now)
        .await
        .unwrap()
        .is_empty());
    // k1 retired 10 s before k2.
    let pruned = prune_retired(s, purpose, keep_for, now + Duration::from_secs(3590))
        .await
        .unwrap();
    assert_eq!(pruned, ["k1"]);
    let pruned = prune_retired(s, purpose, keep_for, now + keep_for)
        .await
        .unwrap();
    assert_eq!(pruned, ["k2"]);
    let keys = s.list_server_keys(purpose).await.unwrap();
    assert_eq!(ids(&keys), [("k3".into(), true)]);
    // The signing key is never pruned.
    let later = now + Duration::from_secs(400 * 86_400);
    assert!(prune_retired(s, purpose, keep_for, later)
        .await
        .unwrap()
        .is_empty());
}

async fn key_ring(h: Harness) {
    let s = &h.store;
    let k1 = s
        .insert_server_key(server_key("session-token", "k1", b"secret-one"))
        .await
        .unwrap();
    assert!(k1.active);
    assert_eq!(k1.created, at_start());
    assert_eq!(k1.not_before, at_start());
    assert_exists(
        s.insert_server_key(server_key("session-token", "k1", b"x"))
            .await,
        Entity::ServerKey,
    );

    let mut signing = server_key("issuer-signing", "sig1", b"private-der");
    signing.algorithm = "RS256".into();
    signing.public = Some(b"public-der".to_vec());
    signing.expires = Some(at_start() + Duration::from_secs(86400));
    s.insert_server_key(signing).await.unwrap();

    // Only one active key is bootstrapped, however often it is asked.
    let existing = s
        .insert_server_key_if_absent(server_key("session-token", "k-new", b"n"))
        .await
        .unwrap();
    assert_eq!(existing.key_id, "k1");
    assert_eq!(existing.secret.expose(), b"secret-one");

    h.clock.advance(Duration::from_secs(100));
    s.insert_server_key(server_key("session-token", "k2", b"secret-two"))
        .await
        .unwrap();
    s.retire_server_key("session-token", "k1", None)
        .await
        .unwrap();
    let keys = s.list_server_keys("session-token").await.unwrap();
    assert_eq!(
        keys.iter().map(|k| k.key_id.as_str()).collect::<Vec<_>>(),
        ["k1", "k2"]
    );
    assert!(!keys[0].active);
    assert_eq!(
        keys[0].retire_after,
        Some(at_start() + Duration::from_secs(100))
    );
    assert_eq!(keys[0].secret.expose(), b"secret-one");
    assert!(keys[1].active);
    assert_eq!(keys[1].secret.expose(), b"secret-two");

    let signing = s.list_server_keys("issuer-signing").await.unwrap();
    assert_eq!(signing.len(), 1);
    assert_eq!(signing[0].algorithm, "RS256");
    assert_eq!(signing[0].public.as_deref(), Some(&b"public-der"[..]));
    assert_eq!(
        signing[0].expires,
        Some(at_start() + Duration::from_secs(86400))
    );

    s.retire_server_key("session-token", "k2", None)
        .await
        .unwrap();
    let fresh = s
        .insert_server_key_if_absent(server_key("session-token", "k3", b"three"))
        .await
        .unwrap();
    assert_eq!(fresh.key_id, "k3");
    s.delete_server_key("session-token", "k1").await.unwrap();
    assert_not_found(
        s.delete_server_key("session-token", "k1").await,
        Entity::ServerKey,
    );
    assert_not_found(
        s.retire_server_key("session-token", "nope", None).await,
        Entity::ServerKey,
    );
    assert_eq!(s.list_server_keys("session-token").await.unwrap().len(), 2);
    assert!(s.list_server_keys("unknown").await.unwrap().is_empty());
}

async fn secrets_encrypted_at_rest(h: Harness) {
    let s = &h.store;
    s.create_user(NewUser::named("u")).await.unwrap();
    let key = s
        .create_access_key(NewAccessKey::for_user("u"))
        .await
        .unwrap();
    let material = b"VERY-SECRET-KEY-MATERIAL-0123456789";
    s.insert_server_key(server_key("session-token", "k1", material))
        .await
        .unwrap();

    let raw = h.raw().await;
    let rows = sqlx::query("SELECT id, secret_sealed FROM access_keys")
        .fetch_all(&raw)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let sealed: Vec<u8> = rows[0].try_get("secret_sealed").unwrap();
    let secret = key.secret.expose().as_bytes();
    assert!(sealed.len() > secret.len());
    assert!(
        !sealed.windows(secret.len()).any(|w| w == secret),
        "secret access key stored in clear"
    );
    let sealed: Vec<u8> = sqlx::query_scalar("SELECT secret_sealed FROM server_keys")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert!(
        !sealed.windows(material.len()).any(|w| w == material),
        "key material stored in clear"
    );

    // Moving a sealed secret to another row does not decrypt (AAD binds the id).
    s.create_user(NewUser::named("v")).await.unwrap();
    let other = s
        .create_access_key(NewAccessKey::for_user("v"))
        .await
        .unwrap();
    let stolen: Vec<u8> = sqlx::query_scalar("SELECT secret_sealed FROM access_keys WHERE id = $1")
        .bind(&key.key.id)
        .fetch_one(&raw)
        .await
        .unwrap();
    sqlx::query("UPDATE access_keys SET secret_sealed = $1 WHERE id = $2")
        .bind(stolen)
        .bind(&other.key.id)
        .execute(&raw)
        .await
        .unwrap();
    assert!(matches!(
        s.get_access_key(&other.key.id).await,
        Err(StoreError::Crypto(_))
    ));
    raw.close().await;
}

async fn wrong_master_key_refused_at_open(h: Harness) {
    h.store.create_user(NewUser::named("u")).await.unwrap();
    h.store.close().await;
    let err = h.reopen(MasterKey::generate().unwrap()).await.unwrap_err();
    assert!(matches!(err, StoreError::Crypto(_)), "{err:?}");
    assert!(
        err.to_string().contains("master key does not match"),
        "{err}"
    );
    // The right key still opens it.
    let store = h.reopen(h.key.clone()).await.unwrap();
    store.get_user("u").await.unwrap();
    store.close().await;
    // A corrupted key check is refused too, even with the right key.
    let raw = h.raw().await;
    sqlx::query("UPDATE store_meta SET value = $1 WHERE key = 'key_check'")
        .bind(vec![1u8; 40])
        .execute(&raw)
        .await
        .unwrap();
    raw.close().await;
    let err = h.reopen(h.key.clone()).await.unwrap_err();
    assert!(matches!(err, StoreError::Crypto(_)), "{err:?}");
}

async fn reopen_keeps_data(h: Harness) {
    let s = &h.store;
    s.create_user(NewUser::named("keep")).await.unwrap();
    let key = s
        .create_access_key(NewAccessKey::for_user("keep"))
        .await
        .unwrap();
    let role = s
        .create_role(NewRole::new("KeepRole", TRUST))
        .await
        .unwrap();
    let policy = s
        .create_policy(NewPolicy::new("KeepPolicy", DOC))
        .await
        .unwrap();
    s.attach_policy(PrincipalKind::Role, "KeepRole", &policy.arn)
        .await
        .unwrap();
    let provider = s
        .create_oidc_provider(NewOidcProvider {
            url: "https://issuer.example".into(),
            client_ids: vec!["sts.amazonaws.com".into()],
            thumbprints: vec![],
            tags: vec![],
        })
        .await
        .unwrap();
    s.insert_server_key(server_key("session-token", "k1", b"kept"))
        .await
        .unwrap();
    s.close().await;

    let s = h.reopen(h.key.clone()).await.unwrap();
    s.ping().await.unwrap();
    assert_eq!(
        s.get_access_key(&key.key.id).await.unwrap().secret,
        key.secret
    );
    assert_eq!(s.get_role("keeprole").await.unwrap(), role);
    assert_eq!(s.get_policy(&policy.arn).await.unwrap().attachment_count, 1);
    assert_eq!(s.get_oidc_provider(&provider.arn).await.unwrap(), provider);
    assert_eq!(
        s.list_server_keys("session-token").await.unwrap()[0]
            .secret
            .expose(),
        b"kept"
    );
}

async fn concurrent_role_creates_have_one_winner(h: Harness) {
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = Arc::clone(&h.store);
            // Different cases of one name: still one role.
            let name = if i % 2 == 0 { "Racer" } else { "RACER" };
            tokio::spawn(async move { store.create_role(NewRole::new(name, TRUST)).await })
        })
        .collect();
    let mut ok = 0;
    let mut exists = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::AlreadyExists {
                entity: Entity::Role,
                ..
            }) => exists += 1,
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert_eq!((ok, exists), (1, 15));
    assert_eq!(
        h.store
            .list_roles(&ListQuery::all())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

async fn concurrent_access_keys_never_exceed_two(h: Harness) {
    h.store.create_user(NewUser::named("busy")).await.unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = Arc::clone(&h.store);
            tokio::spawn(async move {
                store
                    .create_access_key(NewAccessKey::for_user("busy"))
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::LimitExceeded { .. }) => {}
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert_eq!(ok, 2);
    assert_eq!(
        h.store
            .list_access_keys(&KeyOwner::User("busy".into()))
            .await
            .unwrap()
            .len(),
        2
    );
}

async fn concurrent_attachments_never_exceed_ten(h: Harness) {
    h.store
        .create_role(NewRole::new("target", TRUST))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = Arc::clone(&h.store);
            tokio::spawn(async move {
                store
                    .attach_policy(
                        PrincipalKind::Role,
                        "target",
                        &format!("arn:aws:iam::aws:policy/C{i}"),
                    )
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(StoreError::LimitExceeded { .. }) => {}
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert_eq!(ok, 10);
    assert_eq!(
        h.store
            .list_attached_policies(PrincipalKind::Role, "target", None)
            .await
            .unwrap()
            .len(),
        10
    );
}

async fn concurrent_key_ring_bootstrap_creates_one_key(h: Harness) {
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = Arc::clone(&h.store);
            tokio::spawn(async move {
                let secret = format!("secret-{i}");
                store
                    .insert_server_key_if_absent(server_key(
                        "session-token",
                        &format!("k{i}"),
                        secret.as_bytes(),
                    ))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap().key_id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every caller sees the same key: {ids:?}");
    assert_eq!(
        h.store
            .list_server_keys("session-token")
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn account_settings(h: Harness) {
    let store = &h.store;
    assert_eq!(store.get_account_setting("feature-x").await.unwrap(), None);
    assert_eq!(
        store.set_account_setting("feature-x", "on").await.unwrap(),
        None
    );
    assert_eq!(
        store.get_account_setting("feature-x").await.unwrap(),
        Some("on".to_owned())
    );
    // Names are exact (case-sensitive) and independent.
    assert_eq!(store.get_account_setting("Feature-X").await.unwrap(), None);
    assert_eq!(
        store.set_account_setting("feature-x", "off").await.unwrap(),
        Some("on".to_owned())
    );
    assert_eq!(
        store.set_account_setting("feature-x", "off").await.unwrap(),
        Some("off".to_owned())
    );
    assert_eq!(
        store.get_account_setting("feature-x").await.unwrap(),
        Some("off".to_owned())
    );
}

async fn concurrent_account_setting_has_one_winner(h: Harness) {
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = Arc::clone(&h.store);
            tokio::spawn(async move { store.set_account_setting("flag", "on").await.unwrap() })
        })
        .collect();
    let mut first = 0;
    for t in tasks {
        match t.await.unwrap() {
            None => first += 1,
            Some(v) => assert_eq!(v, "on"),
        }
    }
    assert_eq!(first, 1, "exactly one writer sees the setting unset");
}

/// Bucket policies (S3 gateway): kept per bucket, replaced by a put, gone
/// after a delete, independent between buckets.
mod bucket_policy_conformance {
    use super::{at_start, Duration, Harness};

    conformance!(bucket_policies);

    const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}]}"#;

    async fn bucket_policies(h: Harness) {
        let store = &h.store;
        assert_eq!(store.get_bucket_policy("photos").await.unwrap(), None);
        assert!(!store.delete_bucket_policy("photos").await.unwrap());

        let put = store
            .put_bucket_policy("photos", POLICY.to_owned())
            .await
            .unwrap();
        assert_eq!(put.bucket, "photos");
        assert_eq!(put.updated, at_start());
        let got = store.get_bucket_policy("photos").await.unwrap().unwrap();
        assert_eq!(got, put);
        // Another bucket is unaffected, and names are exact.
        assert_eq!(store.get_bucket_policy("photos2").await.unwrap(), None);
        assert_eq!(store.get_bucket_policy("Photos").await.unwrap(), None);

        // A put replaces the document and moves the timestamp.
        h.clock.advance(Duration::from_secs(7));
        let replaced = POLICY.replace("GetObject", "PutObject");
        store
            .put_bucket_policy("photos", replaced.clone())
            .await
            .unwrap();
        let got = store.get_bucket_policy("photos").await.unwrap().unwrap();
        assert_eq!(got.document, replaced);
        assert_eq!(got.updated, at_start() + Duration::from_secs(7));

        assert!(store.delete_bucket_policy("photos").await.unwrap());
        assert_eq!(store.get_bucket_policy("photos").await.unwrap(), None);
        assert!(!store.delete_bucket_policy("photos").await.unwrap());
    }
}
