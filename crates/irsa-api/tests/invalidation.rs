//! IAM writes drop exactly the cached policies they change: the change
//! applies at once on this replica (the test clock never moves, so no TTL
//! expires), and other principals keep their cached policies.

#![allow(clippy::unwrap_used)]

mod common;

use irsa_auth::Subject;

use common::*;

const ALLOW_LIST_ROLES: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*"}]}"#;
const ALLOW_LIST_USERS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}]}"#;
const POLICY_ARN: &str = "arn:aws:iam::123456789012:policy/lister";

fn user(name: &str) -> Subject {
    Subject::User {
        name: name.to_owned(),
    }
}

fn cached(env: &Env, name: &str) -> bool {
    env.api.authorizer().has_cached_policies(&user(name))
}

async fn attach(env: &Env, name: &str) {
    assert_ok(
        &iam(
            env,
            &env.root,
            &format!("Action=AttachUserPolicy&UserName={name}&PolicyArn={POLICY_ARN}"),
        )
        .await,
    );
}

#[tokio::test]
async fn writes_drop_only_the_principals_they_change() {
    let env = env().await;
    let alice = user_with_key(&env, "alice").await;
    let bob = user_with_key(&env, "bob").await;
    let carol = user_with_key(&env, "carol").await;
    assert_ok(
        &iam(
            &env,
            &env.root,
            &format!(
                "Action=CreatePolicy&PolicyName=lister&PolicyDocument={}",
                enc(ALLOW_LIST_ROLES)
            ),
        )
        .await,
    );
    attach(&env, "alice").await;
    attach(&env, "carol").await;
    allow_user(&env, "bob", "inline", r#""iam:ListRoles""#).await;
    for creds in [&alice, &bob, &carol] {
        assert_ok(&iam(&env, creds, "Action=ListRoles").await);
    }
    assert!(cached(&env, "alice") && cached(&env, "bob") && cached(&env, "carol"));

    // An inline policy on alice: hers are dropped and apply at once; the
    // others keep theirs.
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:ListRoles","Resource":"*"}]}"#;
    assert_ok(
        &iam(
            &env,
            &env.root,
            &format!(
                "Action=PutUserPolicy&UserName=ALICE&PolicyName=deny&PolicyDocument={}",
                enc(deny)
            ),
        )
        .await,
    );
    assert!(!cached(&env, "alice"), "names match case-insensitively");
    assert!(cached(&env, "bob") && cached(&env, "carol"));
    assert_err(
        &iam(&env, &alice, "Action=ListRoles").await,
        403,
        "AccessDenied",
    );
    assert_ok(
        &iam(
            &env,
            &env.root,
            "Action=DeleteUserPolicy&UserName=alice&PolicyName=deny",
        )
        .await,
    );
    assert_ok(&iam(&env, &alice, "Action=ListRoles").await);

    // A new default version of the managed policy: the users attaching
    // it are dropped and see it at once; bob (inline only) keeps his.
    assert_ok(
        &iam(
            &env,
            &env.root,
            &format!(
                "Action=CreatePolicyVersion&PolicyArn={POLICY_ARN}&SetAsDefault=true&PolicyDocument={}",
                enc(ALLOW_LIST_USERS)
            ),
        )
        .await,
    );
    assert!(!cached(&env, "alice") && !cached(&env, "carol"));
    assert!(cached(&env, "bob"));
    for creds in [&alice, &carol] {
        assert_err(
            &iam(&env, creds, "Action=ListRoles").await,
            403,
            "AccessDenied",
        );
        assert_ok(&iam(&env, creds, "Action=ListUsers").await);
    }
    assert_ok(&iam(&env, &bob, "Action=ListRoles").await);

    // Back to v1 as default: the old document applies at once again.
    assert_ok(
        &iam(
            &env,
            &env.root,
            &format!("Action=SetDefaultPolicyVersion&PolicyArn={POLICY_ARN}&VersionId=v1"),
        )
        .await,
    );
    assert_ok(&iam(&env, &carol, "Action=ListRoles").await);

    // Detaching from carol touches carol only.
    assert_ok(&iam(&env, &alice, "Action=ListRoles").await);
    assert_ok(
        &iam(
            &env,
            &env.root,
            &format!("Action=DetachUserPolicy&UserName=carol&PolicyArn={POLICY_ARN}"),
        )
        .await,
    );
    assert!(!cached(&env, "carol"));
    assert!(cached(&env, "alice") && cached(&env, "bob"));
    assert_err(
        &iam(&env, &carol, "Action=ListRoles").await,
        403,
        "AccessDenied",
    );

    // Reads and writes to unrelated entities drop nothing.
    create_role(&env, "app", "").await;
    assert_ok(
        &iam(
            &env,
            &env.root,
            &format!("Action=GetPolicy&PolicyArn={POLICY_ARN}"),
        )
        .await,
    );
    assert!(cached(&env, "alice") && cached(&env, "bob") && cached(&env, "carol"));
}

#[tokio::test]
async fn a_role_session_sees_its_role_policy_change_at_once() {
    let env = env().await;
    create_role(&env, "app", "").await;
    assert_ok(
        &iam(
            &env,
            &env.root,
            &format!(
                "Action=PutRolePolicy&RoleName=app&PolicyName=list&PolicyDocument={}",
                enc(ALLOW_LIST_ROLES)
            ),
        )
        .await,
    );
    let bob = user_with_key(&env, "bob").await;
    allow_user(
        &env,
        "bob",
        "inline",
        r#"["iam:ListRoles","sts:AssumeRole"]"#,
    )
    .await;
    let r = sts(
        &env,
        &bob,
        "Action=AssumeRole&RoleArn=arn:aws:iam::123456789012:role/app&RoleSessionName=sess",
    )
    .await;
    assert_ok(&r);
    let session = session_creds(&r.body);
    assert_ok(&iam(&env, &session, "Action=ListRoles").await);
    assert_ok(&iam(&env, &bob, "Action=ListRoles").await);

    assert_ok(
        &iam(
            &env,
            &env.root,
            "Action=DeleteRolePolicy&RoleName=app&PolicyName=list",
        )
        .await,
    );
    assert_err(
        &iam(&env, &session, "Action=ListRoles").await,
        403,
        "AccessDenied",
    );
    assert!(cached(&env, "bob"), "a role's change keeps users' policies");
}

#[tokio::test]
async fn renaming_a_user_by_any_case_of_its_name_renames_its_cached_key() {
    let env = env().await;
    let dave = user_with_key(&env, "Dave").await;
    let r = sts(&env, &dave, "Action=GetCallerIdentity").await;
    assert_ok(&r);
    assert!(r.body.contains(":user/Dave<"), "{}", r.body);

    // IAM finds the user by any case of the name; the key cached under
    // "Dave" must be dropped too, so the next call shows the new name.
    assert_ok(
        &iam(
            &env,
            &env.root,
            "Action=UpdateUser&UserName=dave&NewUserName=David",
        )
        .await,
    );
    let r = sts(&env, &dave, "Action=GetCallerIdentity").await;
    assert_ok(&r);
    assert!(r.body.contains(":user/David<"), "{}", r.body);
}
