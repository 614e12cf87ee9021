//! The real aws-sdk-rust (STS and IAM clients) against an in-process server,
//! each test on SQLite and on PostgreSQL (`IRSA_TEST_DATABASE_URL`; the
//! PostgreSQL variant is skipped with a note when it is unset).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on setup failures

mod common;

use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::types::{PolicyScopeType, PolicyUsageType};
use common::{credentials, TestServer};
use irsa_core::SecretString;

common::on_both_backends!(
    root_get_caller_identity,
    wrong_secret_is_signature_does_not_match,
    user_denied_then_allowed_then_assumes_role,
    list_roles_paginates,
    list_policies_filters_and_paginates,
);

fn code_of<E: ProvideErrorMetadata>(err: &E) -> String {
    err.code().unwrap_or("<none>").to_owned()
}

async fn root_get_caller_identity(server: TestServer) {
    let out = server
        .sts(server.root_credentials())
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(out.account(), Some("123456789012"));
    assert_eq!(out.arn(), Some("arn:aws:iam::123456789012:root"));
    assert_eq!(out.user_id(), Some("123456789012"));
}

async fn wrong_secret_is_signature_does_not_match(server: TestServer) {
    let bad = credentials(
        &server.root.access_key_id,
        &SecretString::new("0000000000000000000000000000000000000000"),
        None,
    );
    let err = server
        .sts(bad)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code_of(&err), "SignatureDoesNotMatch");

    let unknown = credentials(
        "AKIAAAAAAAAAAAAAAAAA",
        &SecretString::new("0000000000000000000000000000000000000000"),
        None,
    );
    let err = server
        .sts(unknown)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code_of(&err), "InvalidClientTokenId");
}

async fn user_denied_then_allowed_then_assumes_role(server: TestServer) {
    let iam = server.iam(server.root_credentials());

    let user = iam.create_user().user_name("alice").send().await.unwrap();
    assert_eq!(
        user.user().unwrap().arn(),
        "arn:aws:iam::123456789012:user/alice"
    );
    let key = iam
        .create_access_key()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap();
    let alice = credentials(
        key.access_key_id(),
        &SecretString::new(key.secret_access_key()),
        None,
    );

    // Who am I works for everyone.
    let me = server
        .sts(alice.clone())
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(me.arn(), Some("arn:aws:iam::123456789012:user/alice"));

    // No policy yet: denied with AWS's message shape.
    let err = server
        .iam(alice.clone())
        .list_roles()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code_of(&err), "AccessDenied");
    let message = err.message().unwrap_or_default().to_owned();
    assert!(
        message.contains(
            "arn:aws:iam::123456789012:user/alice is not authorized to perform: iam:ListRoles"
        ),
        "{message}"
    );

    iam.put_user_policy()
        .user_name("alice")
        .policy_name("roles")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:ListRoles","sts:AssumeRole"],"Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    server.iam(alice.clone()).list_roles().send().await.unwrap();

    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
    iam.create_role()
        .role_name("app")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    let assumed = server
        .sts(alice.clone())
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/app")
        .role_session_name("s1")
        .send()
        .await
        .unwrap();
    let creds = assumed.credentials().unwrap();
    assert!(creds.access_key_id().starts_with("ASIA"));
    assert_eq!(
        assumed.assumed_role_user().unwrap().arn(),
        "arn:aws:sts::123456789012:assumed-role/app/s1"
    );

    let session = credentials(
        creds.access_key_id(),
        &SecretString::new(creds.secret_access_key()),
        Some(creds.session_token().to_owned()),
    );
    let me = server
        .sts(session)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.arn(),
        Some("arn:aws:sts::123456789012:assumed-role/app/s1")
    );
    assert!(me.user_id().unwrap().ends_with(":s1"));

    // A tampered session token is refused.
    let mut token = creds.session_token().to_owned();
    let last = token.pop().unwrap();
    token.push(if last == 'A' { 'B' } else { 'A' });
    let tampered = credentials(
        creds.access_key_id(),
        &SecretString::new(creds.secret_access_key()),
        Some(token),
    );
    let err = server
        .sts(tampered)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code_of(&err), "InvalidClientTokenId");

    // Root may not assume roles.
    let err = server
        .sts(server.root_credentials())
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/app")
        .role_session_name("s2")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code_of(&err), "AccessDenied");
    assert_eq!(
        err.message(),
        Some("Roles may not be assumed by root accounts.")
    );
}

async fn list_roles_paginates(server: TestServer) {
    let iam = server.iam(server.root_credentials());
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
    for i in 0..7 {
        iam.create_role()
            .role_name(format!("role-{i}"))
            .path("/team/")
            .assume_role_policy_document(trust)
            .send()
            .await
            .unwrap();
    }
    let pages: Vec<_> = iam
        .list_roles()
        .path_prefix("/team/")
        .max_items(3)
        .into_paginator()
        .send()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(pages.len(), 3);
    let names: Vec<String> = pages
        .into_iter()
        .flat_map(|p| p.unwrap().roles)
        .map(|r| r.role_name)
        .collect();
    assert_eq!(names.len(), 7);
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);

    let err = iam
        .create_role()
        .role_name("ROLE-0")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code_of(&err), "EntityAlreadyExists");
    let err = iam
        .get_role()
        .role_name("missing")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code_of(&err), "NoSuchEntity");
}

/// ListPolicies through the SDK's paginator: Scope, OnlyAttached and
/// PolicyUsageFilter (attached as a permissions policy vs used as a
/// permissions boundary), AWS managed policies included.
async fn list_policies_filters_and_paginates(server: TestServer) {
    let iam = server.iam(server.root_credentials());
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
    let mut arns = std::collections::HashMap::new();
    for name in ["p-attached", "p-boundary", "p-both", "p-unused", "p-zz"] {
        let p = iam
            .create_policy()
            .policy_name(name)
            .policy_document(doc)
            .send()
            .await
            .unwrap();
        arns.insert(name, p.policy().unwrap().arn().unwrap().to_owned());
    }
    iam.create_role()
        .role_name("app")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    iam.create_user().user_name("bob").send().await.unwrap();
    for (role, policy) in [("app", "p-attached"), ("app", "p-both")] {
        iam.attach_role_policy()
            .role_name(role)
            .policy_arn(&arns[policy])
            .send()
            .await
            .unwrap();
    }
    iam.attach_role_policy()
        .role_name("app")
        .policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .send()
        .await
        .unwrap();
    iam.put_user_permissions_boundary()
        .user_name("bob")
        .permissions_boundary(&arns["p-boundary"])
        .send()
        .await
        .unwrap();
    iam.put_role_permissions_boundary()
        .role_name("app")
        .permissions_boundary(&arns["p-both"])
        .send()
        .await
        .unwrap();
    iam.create_user().user_name("carol").send().await.unwrap();
    iam.put_user_permissions_boundary()
        .user_name("carol")
        .permissions_boundary("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
        .send()
        .await
        .unwrap();

    // Every page through the paginator, two items at a time.
    let list = |scope: PolicyScopeType, only_attached: bool, usage: Option<PolicyUsageType>| {
        let iam = iam.clone();
        async move {
            let pages: Vec<_> = iam
                .list_policies()
                .scope(scope)
                .only_attached(only_attached)
                .set_policy_usage_filter(usage)
                .max_items(2)
                .into_paginator()
                .send()
                .collect::<Vec<_>>()
                .await;
            pages
                .into_iter()
                .flat_map(|p| p.unwrap().policies.unwrap_or_default())
                .map(|p| p.policy_name.unwrap())
                .collect::<Vec<String>>()
        }
    };
    assert_eq!(
        list(PolicyScopeType::Local, false, None).await,
        ["p-attached", "p-both", "p-boundary", "p-unused", "p-zz"]
    );
    assert_eq!(
        list(PolicyScopeType::Local, true, None).await,
        ["p-attached", "p-both"]
    );
    assert_eq!(
        list(
            PolicyScopeType::Local,
            false,
            Some(PolicyUsageType::PermissionsPolicy)
        )
        .await,
        ["p-attached", "p-both"]
    );
    assert_eq!(
        list(
            PolicyScopeType::Local,
            true,
            Some(PolicyUsageType::PermissionsBoundary)
        )
        .await,
        ["p-both", "p-boundary"]
    );
    // AWS managed policies obey the same filters.
    assert_eq!(
        list(PolicyScopeType::All, true, None).await,
        ["p-attached", "p-both", "ReadOnlyAccess"]
    );
    assert_eq!(
        list(
            PolicyScopeType::Aws,
            false,
            Some(PolicyUsageType::PermissionsBoundary)
        )
        .await,
        ["AmazonS3ReadOnlyAccess"]
    );
    let all_aws = list(PolicyScopeType::Aws, false, None).await;
    assert!(
        all_aws.len() >= 3 && all_aws.iter().any(|n| n == "AdministratorAccess"),
        "{all_aws:?}"
    );
    // ListEntitiesForPolicy: both uses without a filter (an entity once).
    let entities = |policy: &'static str, usage: Option<PolicyUsageType>| {
        let iam = iam.clone();
        let arn = arns[policy].clone();
        async move {
            let out = iam
                .list_entities_for_policy()
                .policy_arn(arn)
                .set_policy_usage_filter(usage)
                .send()
                .await
                .unwrap();
            let users: Vec<String> = out
                .policy_users()
                .iter()
                .filter_map(|u| u.user_name().map(str::to_owned))
                .collect();
            let roles: Vec<String> = out
                .policy_roles()
                .iter()
                .filter_map(|r| r.role_name().map(str::to_owned))
                .collect();
            (users, roles)
        }
    };
    let none: Vec<String> = Vec::new();
    let app = vec!["app".to_owned()];
    let bob = vec!["bob".to_owned()];
    assert_eq!(entities("p-both", None).await, (none.clone(), app.clone()));
    assert_eq!(
        entities("p-both", Some(PolicyUsageType::PermissionsPolicy)).await,
        (none.clone(), app.clone())
    );
    assert_eq!(
        entities("p-both", Some(PolicyUsageType::PermissionsBoundary)).await,
        (none.clone(), app.clone())
    );
    assert_eq!(
        entities("p-boundary", None).await,
        (bob.clone(), none.clone())
    );
    assert_eq!(
        entities("p-boundary", Some(PolicyUsageType::PermissionsPolicy)).await,
        (none.clone(), none.clone())
    );
    assert_eq!(
        entities("p-boundary", Some(PolicyUsageType::PermissionsBoundary)).await,
        (bob, none.clone())
    );
    assert_eq!(
        entities("p-attached", Some(PolicyUsageType::PermissionsBoundary)).await,
        (none.clone(), none)
    );

    // Removing the uses empties the filtered lists again.
    iam.delete_role_permissions_boundary()
        .role_name("app")
        .send()
        .await
        .unwrap();
    for user in ["bob", "carol"] {
        iam.delete_user_permissions_boundary()
            .user_name(user)
            .send()
            .await
            .unwrap();
    }
    assert!(list(
        PolicyScopeType::All,
        false,
        Some(PolicyUsageType::PermissionsBoundary)
    )
    .await
    .is_empty());

    // An unknown filter value is refused before any lookup.
    let err = iam
        .list_policies()
        .policy_usage_filter(PolicyUsageType::from("Everything"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code_of(&err), "ValidationError");
}
