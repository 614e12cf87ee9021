//! `AwsApi::handle` end to end: requests signed by the real `aws-sigv4`
//! crate against a SQLite store in a temp dir.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::HeaderValue;
use irsa_api::{AwsApi, HttpRequest};
use irsa_core::Clock;

use common::*;

#[tokio::test]
async fn root_get_caller_identity() {
    let env = env().await;
    let r = sts(&env, &env.root, "Action=GetCallerIdentity").await;
    assert_ok(&r);
    assert_eq!(r.content_type, "text/xml");
    assert!(r.body.starts_with(
        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
    ));
    assert_eq!(field(&r.body, "Arn"), "arn:aws:iam::123456789012:root");
    assert_eq!(field(&r.body, "UserId"), ACCOUNT);
    assert_eq!(field(&r.body, "Account"), ACCOUNT);
    assert_eq!(field(&r.body, "RequestId"), "req-1");
}

#[tokio::test]
async fn json_when_asked() {
    let env = env().await;
    let mut req = signed(
        &env.root,
        "sts",
        "Action=GetCallerIdentity&Version=2011-06-15",
        env.clock.now(),
    );
    // Accept is not signed; adding it after signing keeps the signature valid.
    req.headers_mut()
        .insert("accept", HeaderValue::from_static("application/json"));
    let r = send(&env, &req).await;
    assert_ok(&r);
    assert_eq!(r.content_type, "application/json");
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        v["GetCallerIdentityResponse"]["GetCallerIdentityResult"]["Arn"],
        "arn:aws:iam::123456789012:root"
    );
}

#[tokio::test]
async fn user_denied_then_allowed_by_inline_policy() {
    let env = env().await;
    let alice = user_with_key(&env, "alice").await;
    let r = sts(&env, &alice, "Action=GetCallerIdentity").await;
    assert_ok(&r);
    assert_eq!(
        field(&r.body, "Arn"),
        "arn:aws:iam::123456789012:user/alice"
    );
    assert!(field(&r.body, "UserId").starts_with("AIDA"));

    let r = iam(
        &env,
        &alice,
        &format!(
            "Action=CreateRole&RoleName=app&AssumeRolePolicyDocument={}",
            enc(TRUST_ACCOUNT)
        ),
    )
    .await;
    assert_err(&r, 403, "AccessDenied");
    assert_eq!(
        field(&r.body, "Message"),
        "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: iam:CreateRole on resource: arn:aws:iam::123456789012:role/app because no identity-based policy allows the iam:CreateRole action"
    );

    allow_user(
        &env,
        "alice",
        "roles",
        r#"["iam:CreateRole","iam:GetRole"]"#,
    )
    .await;
    let r = iam(
        &env,
        &alice,
        &format!(
            "Action=CreateRole&RoleName=app&AssumeRolePolicyDocument={}",
            enc(TRUST_ACCOUNT)
        ),
    )
    .await;
    assert_ok(&r);
    assert_eq!(field(&r.body, "Arn"), "arn:aws:iam::123456789012:role/app");
    assert!(field(&r.body, "RoleId").starts_with("AROA"));
    // The trust policy comes back URL-encoded.
    assert_eq!(
        field(&r.body, "AssumeRolePolicyDocument"),
        irsa_api::protocol::response::encode_policy_document(TRUST_ACCOUNT)
    );

    // An explicit deny wins and is worded as such.
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:GetRole","Resource":"*"}]}"#;
    assert_ok(
        &iam(
            &env,
            &env.root,
            &format!(
                "Action=PutUserPolicy&UserName=alice&PolicyName=deny&PolicyDocument={}",
                enc(deny)
            ),
        )
        .await,
    );
    let r = iam(&env, &alice, "Action=GetRole&RoleName=app").await;
    assert_err(&r, 403, "AccessDenied");
    assert!(
        field(&r.body, "Message").ends_with("with an explicit deny in an identity-based policy")
    );
}

#[tokio::test]
async fn assume_role_and_session_identity() {
    let env = env().await;
    let alice = user_with_key(&env, "alice").await;
    create_role(&env, "app", "&MaxSessionDuration=7200").await;
    let role_arn = enc("arn:aws:iam::123456789012:role/app");

    // The trust policy names the account: alice's own policies must allow it.
    let r = sts(
        &env,
        &alice,
        &format!("Action=AssumeRole&RoleArn={role_arn}&RoleSessionName=s1"),
    )
    .await;
    assert_err(&r, 403, "AccessDenied");

    allow_user(&env, "alice", "assume", r#""sts:AssumeRole""#).await;
    let r = sts(
        &env,
        &alice,
        &format!("Action=AssumeRole&RoleArn={role_arn}&RoleSessionName=s1&DurationSeconds=7200"),
    )
    .await;
    assert_ok(&r);
    assert_eq!(
        field(&r.body, "Arn"),
        "arn:aws:sts::123456789012:assumed-role/app/s1"
    );
    let assumed_id = field(&r.body, "AssumedRoleId");
    assert!(assumed_id.starts_with("AROA") && assumed_id.ends_with(":s1"));
    assert_eq!(field(&r.body, "Expiration"), "2026-11-23T16:00:00Z");
    let session = session_creds(&r.body);
    assert!(session.ak.starts_with("ASIA"));

    let r = sts(&env, &session, "Action=GetCallerIdentity").await;
    assert_ok(&r);
    assert_eq!(
        field(&r.body, "Arn"),
        "arn:aws:sts::123456789012:assumed-role/app/s1"
    );
    assert_eq!(field(&r.body, "UserId"), assumed_id);

    // The role has no permissions: IAM calls are denied, naming the session.
    let r = iam(&env, &session, "Action=ListRoles").await;
    assert_err(&r, 403, "AccessDenied");
    assert!(field(&r.body, "Message").starts_with(
        "User: arn:aws:sts::123456789012:assumed-role/app/s1 is not authorized to perform: iam:ListRoles on resource: *"
    ));
    // Role inline policies apply to its sessions.
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*"}]}"#;
    assert_ok(
        &iam(
            &env,
            &env.root,
            &format!(
                "Action=PutRolePolicy&RoleName=app&PolicyName=list&PolicyDocument={}",
                enc(doc)
            ),
        )
        .await,
    );
    let r = iam(&env, &session, "Action=ListRoles").await;
    assert_ok(&r);
    assert_eq!(field(&r.body, "RoleName"), "app");
    assert_eq!(field(&r.body, "IsTruncated"), "false");

    // Tampered token.
    let mut tampered = session.clone();
    let mut t = tampered.token.clone().unwrap().into_bytes();
    let i = t.len() / 2;
    t[i] = if t[i] == b'A' { b'B' } else { b'A' };
    tampered.token = Some(String::from_utf8(t).unwrap());
    let r = sts(&env, &tampered, "Action=GetCallerIdentity").await;
    assert_err(&r, 403, "InvalidClientTokenId");

    // Missing token with an ASIA key.
    let mut no_token = session.clone();
    no_token.token = None;
    let r = sts(&env, &no_token, "Action=GetCallerIdentity").await;
    assert_err(&r, 403, "InvalidClientTokenId");

    // Expired session.
    env.clock.advance(Duration::from_secs(7201));
    let r = sts(&env, &session, "Action=GetCallerIdentity").await;
    assert_err(&r, 403, "ExpiredToken");
}

#[tokio::test]
async fn assume_role_errors() {
    let env = env().await;
    create_role(&env, "app", "").await;
    let role_arn = enc("arn:aws:iam::123456789012:role/app");
    let r = sts(
        &env,
        &env.root,
        &format!("Action=AssumeRole&RoleArn={role_arn}&RoleSessionName=s1"),
    )
    .await;
    assert_err(&r, 403, "AccessDenied");
    assert_eq!(
        field(&r.body, "Message"),
        "Roles may not be assumed by root accounts."
    );

    let alice = user_with_key(&env, "alice").await;
    allow_user(&env, "alice", "assume", r#""sts:AssumeRole""#).await;
    let r = sts(
        &env,
        &alice,
        &format!("Action=AssumeRole&RoleArn={role_arn}&RoleSessionName=s1&DurationSeconds=7200"),
    )
    .await;
    assert_err(&r, 400, "ValidationError");
    assert_eq!(
        field(&r.body, "Message"),
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    );

    // A missing role is denied like a refused one.
    let r = sts(
        &env,
        &alice,
        &format!(
            "Action=AssumeRole&RoleArn={}&RoleSessionName=s1",
            enc("arn:aws:iam::123456789012:role/nope")
        ),
    )
    .await;
    assert_err(&r, 403, "AccessDenied");

    // Session tags need sts:TagSession.
    let r = sts(
        &env,
        &alice,
        &format!("Action=AssumeRole&RoleArn={role_arn}&RoleSessionName=s1&Tags.member.1.Key=team&Tags.member.1.Value=a"),
    )
    .await;
    assert_err(&r, 403, "AccessDenied");
    assert!(field(&r.body, "Message").contains("sts:TagSession"));

    // With a session policy: PackedPolicySize is reported and the policy limits the session.
    let session_policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetRole","Resource":"*"}]}"#;
    let r = sts(
        &env,
        &alice,
        &format!(
            "Action=AssumeRole&RoleArn={role_arn}&RoleSessionName=s2&Policy={}",
            enc(session_policy)
        ),
    )
    .await;
    assert_ok(&r);
    assert!(field(&r.body, "PackedPolicySize").parse::<u32>().unwrap() > 0);
    let session = session_creds(&r.body);
    let all = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#;
    assert_ok(
        &iam(
            &env,
            &env.root,
            &format!(
                "Action=PutRolePolicy&RoleName=app&PolicyName=all&PolicyDocument={}",
                enc(all)
            ),
        )
        .await,
    );
    assert_ok(&iam(&env, &session, "Action=GetRole&RoleName=app").await);
    let r = iam(&env, &session, "Action=ListRoles").await;
    assert_err(&r, 403, "AccessDenied");
    assert!(field(&r.body, "Message")
        .ends_with("because no session policy allows the iam:ListRoles action"));

    // Role chaining is capped at one hour.
    let r = sts(
        &env,
        &session,
        &format!("Action=AssumeRole&RoleArn={role_arn}&RoleSessionName=s3&DurationSeconds=3601"),
    )
    .await;
    assert_err(&r, 400, "ValidationError");

    // A malformed session policy.
    let r = sts(
        &env,
        &alice,
        &format!(
            "Action=AssumeRole&RoleArn={role_arn}&RoleSessionName=s4&Policy={}",
            enc("{\"x\":")
        ),
    )
    .await;
    assert_err(&r, 400, "MalformedPolicyDocument");
}

#[tokio::test]
async fn get_session_token_and_access_key_info() {
    let env = env().await;
    let alice = user_with_key(&env, "alice").await;
    let r = sts(&env, &alice, "Action=GetSessionToken&DurationSeconds=900").await;
    assert_ok(&r);
    assert_eq!(field(&r.body, "Expiration"), "2026-11-23T14:15:00Z");
    let session = session_creds(&r.body);
    let r = sts(&env, &session, "Action=GetCallerIdentity").await;
    assert_ok(&r);
    assert_eq!(
        field(&r.body, "Arn"),
        "arn:aws:iam::123456789012:user/alice"
    );
    let r = sts(&env, &session, "Action=GetSessionToken").await;
    assert_err(&r, 403, "AccessDenied");

    // Root sessions are capped at one hour.
    let r = sts(&env, &env.root, "Action=GetSessionToken").await;
    assert_ok(&r);
    assert_eq!(field(&r.body, "Expiration"), "2026-11-23T15:00:00Z");

    let r = sts(
        &env,
        &env.root,
        &format!("Action=GetAccessKeyInfo&AccessKeyId={}", alice.ak),
    )
    .await;
    assert_ok(&r);
    assert_eq!(field(&r.body, "Account"), ACCOUNT);
}

#[tokio::test]
async fn users_and_access_keys() {
    let env = env().await;
    let alice = user_with_key(&env, "alice").await;
    // Second key is fine, third exceeds the quota.
    assert_ok(&iam(&env, &env.root, "Action=CreateAccessKey&UserName=alice").await);
    let r = iam(&env, &env.root, "Action=CreateAccessKey&UserName=alice").await;
    assert_err(&r, 409, "LimitExceeded");

    let r = iam(&env, &env.root, "Action=ListAccessKeys&UserName=alice").await;
    assert_ok(&r);
    assert_eq!(r.body.matches("<AccessKeyId>").count(), 2);

    // DeleteUser while keys remain.
    let r = iam(&env, &env.root, "Action=DeleteUser&UserName=alice").await;
    assert_err(&r, 409, "DeleteConflict");

    let r = iam(&env, &env.root, "Action=GetUser&UserName=bob").await;
    assert_err(&r, 404, "NoSuchEntity");
    assert_eq!(
        field(&r.body, "Message"),
        "The user with name bob cannot be found."
    );
    let r = iam(&env, &env.root, "Action=CreateUser&UserName=ALICE").await;
    assert_err(&r, 409, "EntityAlreadyExists");

    // GetUser of the caller itself (needs iam:GetUser).
    allow_user(&env, "alice", "self", r#""iam:GetUser""#).await;
    let r = iam(&env, &alice, "Action=GetUser").await;
    assert_ok(&r);
    assert_eq!(field(&r.body, "UserName"), "alice");

    // Deactivated key: InvalidClientTokenId.
    assert_ok(
        &iam(
            &env,
            &env.root,
            &format!(
                "Action=UpdateAccessKey&UserName=alice&AccessKeyId={}&Status=Inactive",
                alice.ak
            ),
        )
        .await,
    );
    let r = sts(&env, &alice, "Action=GetCallerIdentity").await;
    assert_err(&r, 403, "InvalidClientTokenId");

    // Inline policies round-trip, URL-encoded.
    let r = iam(
        &env,
        &env.root,
        "Action=GetUserPolicy&UserName=alice&PolicyName=self",
    )
    .await;
    assert_ok(&r);
    assert!(field(&r.body, "PolicyDocument").starts_with("%7B%22Version%22"));
    let r = iam(
        &env,
        &env.root,
        "Action=ListUserPolicies&UserName=alice&MaxItems=1",
    )
    .await;
    assert_ok(&r);
    assert_eq!(field(&r.body, "IsTruncated"), "false");
    let bad = iam(
        &env,
        &env.root,
        &format!(
            "Action=PutUserPolicy&UserName=alice&PolicyName=bad&PolicyDocument={}",
            enc("{}")
        ),
    )
    .await;
    assert_err(&bad, 400, "MalformedPolicyDocument");
}

#[tokio::test]
async fn authentication_errors() {
    let env = env().await;
    // Unsigned.
    let headers = http::HeaderMap::new();
    let r = env
        .api
        .handle(HttpRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body: b"Action=GetCallerIdentity&Version=2011-06-15",
            request_id: "r",
            source_ip: None,
            secure_transport: false,
        })
        .await;
    assert_err(&r, 403, "MissingAuthenticationToken");

    // Wrong secret.
    let mut bad = env.root.clone();
    bad.sk = "x".repeat(40);
    let r = sts(&env, &bad, "Action=GetCallerIdentity").await;
    assert_err(&r, 403, "SignatureDoesNotMatch");

    // Unknown key.
    let mut unknown = env.root.clone();
    unknown.ak = "AKIAAAAAAAAAAAAAAAAA".to_owned();
    let r = sts(&env, &unknown, "Action=GetCallerIdentity").await;
    assert_err(&r, 403, "InvalidClientTokenId");

    // Body altered after signing.
    let mut req = signed(
        &env.root,
        "sts",
        "Action=GetCallerIdentity&Version=2011-06-15",
        env.clock.now(),
    );
    *req.body_mut() = b"Action=GetSessionToken&Version=2011-06-15".to_vec();
    let r = send(&env, &req).await;
    assert_err(&r, 403, "SignatureDoesNotMatch");

    // Unknown action and unimplemented web identity stay 4xx.
    let r = sts(&env, &env.root, "Action=Frobnicate").await;
    assert_err(&r, 400, "InvalidAction");
    let r = env
        .api
        .handle(HttpRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body: b"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fapp&RoleSessionName=s1&WebIdentityToken=eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
            request_id: "r",
            source_ip: None,
            secure_transport: false,
        })
        .await;
    assert_err(&r, 400, "InvalidAction");
}

#[tokio::test]
async fn roles_policies_and_providers() {
    let env = env().await;
    create_role(
        &env,
        "app",
        "&Path=%2Fteam%2F&Description=d&Tags.member.1.Key=k&Tags.member.1.Value=v",
    )
    .await;
    let r = iam(&env, &env.root, "Action=GetRole&RoleName=app").await;
    assert_ok(&r);
    assert_eq!(
        field(&r.body, "Arn"),
        "arn:aws:iam::123456789012:role/team/app"
    );
    assert_eq!(field(&r.body, "MaxSessionDuration"), "3600");
    assert_eq!(field(&r.body, "Key"), "k");

    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    let r = iam(
        &env,
        &env.root,
        &format!(
            "Action=CreatePolicy&PolicyName=read&PolicyDocument={}",
            enc(doc)
        ),
    )
    .await;
    assert_ok(&r);
    let arn = field(&r.body, "Arn");
    assert_eq!(arn, "arn:aws:iam::123456789012:policy/read");
    assert!(field(&r.body, "PolicyId").starts_with("ANPA"));
    assert_ok(
        &iam(
            &env,
            &env.root,
            &format!(
                "Action=AttachRolePolicy&RoleName=app&PolicyArn={}",
                enc(&arn)
            ),
        )
        .await,
    );
    let r = iam(
        &env,
        &env.root,
        "Action=ListAttachedRolePolicies&RoleName=app",
    )
    .await;
    assert_ok(&r);
    assert_eq!(field(&r.body, "PolicyArn"), arn);
    // Attached: the role cannot be deleted.
    let r = iam(&env, &env.root, "Action=DeleteRole&RoleName=app").await;
    assert_err(&r, 409, "DeleteConflict");

    let r = iam(
        &env,
        &env.root,
        &format!(
            "Action=GetPolicyVersion&PolicyArn={}&VersionId=v1",
            enc(&arn)
        ),
    )
    .await;
    assert_ok(&r);
    assert_eq!(
        field(&r.body, "Document"),
        irsa_api::protocol::response::encode_policy_document(doc)
    );

    let r = iam(
        &env,
        &env.root,
        "Action=CreateOpenIDConnectProvider&Url=https%3A%2F%2FIssuer.Example.com%2Fid%2F&ClientIDList.member.1=sts.amazonaws.com",
    )
    .await;
    assert_ok(&r);
    let provider = field(&r.body, "OpenIDConnectProviderArn");
    assert_eq!(
        provider,
        "arn:aws:iam::123456789012:oidc-provider/issuer.example.com/id"
    );
    let r = iam(
        &env,
        &env.root,
        &format!(
            "Action=GetOpenIDConnectProvider&OpenIDConnectProviderArn={}",
            enc(&provider)
        ),
    )
    .await;
    assert_ok(&r);
    assert_eq!(field(&r.body, "Url"), "issuer.example.com/id");
    let r = iam(
        &env,
        &env.root,
        "Action=CreateOpenIDConnectProvider&Url=http%3A%2F%2Fissuer.example.com",
    )
    .await;
    assert_err(&r, 400, "InvalidInput");

    let r = iam(&env, &env.root, "Action=GetAccountAuthorizationDetails").await;
    assert_ok(&r);
    assert!(r.body.contains("<RoleName>app</RoleName>"), "{}", r.body);
    assert!(
        r.body.contains(&format!(
            "<AttachedManagedPolicies><member><PolicyName>read</PolicyName><PolicyArn>{arn}</PolicyArn></member></AttachedManagedPolicies>"
        )),
        "{}",
        r.body
    );
    assert!(r.body.contains("<VersionId>v1</VersionId>"), "{}", r.body);

    // Pagination: two roles, one per page.
    create_role(&env, "zeta", "").await;
    let r = iam(&env, &env.root, "Action=ListRoles&MaxItems=1").await;
    assert_ok(&r);
    assert_eq!(field(&r.body, "IsTruncated"), "true");
    assert_eq!(field(&r.body, "RoleName"), "app");
    let marker = field(&r.body, "Marker");
    let r = iam(
        &env,
        &env.root,
        &format!("Action=ListRoles&MaxItems=1&Marker={}", enc(&marker)),
    )
    .await;
    assert_ok(&r);
    assert_eq!(field(&r.body, "RoleName"), "zeta");
    assert_eq!(field(&r.body, "IsTruncated"), "false");

    let r = iam(&env, &env.root, "Action=GetAccountSummary").await;
    assert_ok(&r);
    assert!(
        r.body
            .contains("<entry><key>Roles</key><value>2</value></entry>"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn key_ring_is_shared_between_instances() {
    let env = env().await;
    let alice = user_with_key(&env, "alice").await;
    let r = sts(&env, &alice, "Action=GetSessionToken").await;
    let session = session_creds(&r.body);
    // A second API over the same store (another replica) opens the token.
    let other = AwsApi::new(
        Arc::clone(&env.store),
        Arc::new(env.clock.clone()),
        ACCOUNT.parse().unwrap(),
    )
    .await
    .unwrap();
    let req = signed(
        &session,
        "sts",
        "Action=GetCallerIdentity&Version=2011-06-15",
        env.clock.now(),
    );
    let r = other
        .handle(HttpRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: req.headers(),
            body: req.body(),
            request_id: "r",
            source_ip: None,
            secure_transport: true,
        })
        .await;
    assert_ok(&r);
}

#[tokio::test]
async fn simulate_policies() {
    let env = env().await;
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/team":"a"}}}]}"#;
    let r = iam(
        &env,
        &env.root,
        &format!(
            "Action=SimulateCustomPolicy&PolicyInputList.member.1={}&ActionNames.member.1=s3%3AGetObject&ActionNames.member.2=s3%3APutObject\
             &ContextEntries.member.1.ContextKeyName=aws%3ARequestTag%2Fteam&ContextEntries.member.1.ContextKeyType=string&ContextEntries.member.1.ContextKeyValues.member.1=a",
            enc(doc)
        ),
    )
    .await;
    assert_ok(&r);
    let decisions: Vec<&str> = r
        .body
        .split("<EvalDecision>")
        .skip(1)
        .map(|s| &s[..s.find('<').unwrap()])
        .collect();
    assert_eq!(decisions, ["allowed", "implicitDeny"], "{}", r.body);
    assert_eq!(field(&r.body, "SourcePolicyId"), "PolicyInputList.1");

    // Without the context key: denied, and the key is reported missing.
    let r = iam(
        &env,
        &env.root,
        &format!(
            "Action=SimulateCustomPolicy&PolicyInputList.member.1={}&ActionNames.member.1=s3%3AGetObject",
            enc(doc)
        ),
    )
    .await;
    assert_ok(&r);
    assert_eq!(field(&r.body, "EvalDecision"), "implicitDeny");
    assert!(r.body.contains("aws:RequestTag/team"), "{}", r.body);

    let _alice = user_with_key(&env, "alice").await;
    allow_user(&env, "alice", "iam", r#""iam:GetUser""#).await;
    let r = iam(
        &env,
        &env.root,
        &format!(
            "Action=SimulatePrincipalPolicy&PolicySourceArn={}&ActionNames.member.1=iam%3AGetUser&ActionNames.member.2=iam%3ADeleteUser",
            enc("arn:aws:iam::123456789012:user/alice")
        ),
    )
    .await;
    assert_ok(&r);
    assert!(r.body.contains("<EvalActionName>iam:GetUser</EvalActionName><EvalResourceName>*</EvalResourceName><EvalDecision>allowed</EvalDecision>"), "{}", r.body);
    assert!(r.body.contains("<EvalActionName>iam:DeleteUser</EvalActionName><EvalResourceName>*</EvalResourceName><EvalDecision>implicitDeny</EvalDecision>"), "{}", r.body);
    assert_eq!(field(&r.body, "SourcePolicyType"), "user");
}

#[tokio::test]
async fn presigned_get_caller_identity() {
    use aws_sigv4::http_request::SignatureLocation;
    let env = env().await;
    // What aws-iam-authenticator does: a presigned GET, JSON answer.
    let mut req = http::Request::builder()
        .method("GET")
        .uri("https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15")
        .body(Vec::new())
        .unwrap();
    req.headers_mut()
        .insert("host", HeaderValue::from_static("sts.amazonaws.com"));
    let identity: Identity =
        Credentials::new(env.root.ak.clone(), env.root.sk.clone(), None, None, "t").into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(60));
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("sts")
        .time(env.clock.now())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let uri = req.uri().to_string();
    let signable = SignableRequest::new(
        "GET",
        uri,
        req.headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.to_str().unwrap())),
        SignableBody::Bytes(&[]),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(&mut req);
    req.headers_mut()
        .insert("accept", HeaderValue::from_static("application/json"));
    let r = send(&env, &req).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        v["GetCallerIdentityResponse"]["GetCallerIdentityResult"]["Account"],
        ACCOUNT
    );
    // After expiry the same URL is refused with a 4xx.
    env.clock.advance(Duration::from_secs(120));
    let r = send(&env, &req).await;
    assert!((400..500).contains(&r.status), "{} {}", r.status, r.body);
}

#[tokio::test]
async fn rotated_key_ring_is_picked_up() {
    let env = env().await;
    // Another replica rotates: a newer session-token key appears in the store.
    env.clock.advance(Duration::from_secs(60));
    env.store
        .insert_server_key(irsa_store::NewServerKey {
            purpose: irsa_api::SESSION_TOKEN_KEY_PURPOSE.to_owned(),
            key_id: "st-rotated".to_owned(),
            algorithm: "XChaCha20-Poly1305".to_owned(),
            secret: irsa_core::SecretBytes::new(vec![7_u8; 32]),
            public: None,
            not_before: None,
            retire_after: None,
            expires: None,
        })
        .await
        .unwrap();
    let newer = AwsApi::new(
        Arc::clone(&env.store),
        Arc::new(env.clock.clone()),
        ACCOUNT.parse().unwrap(),
    )
    .await
    .unwrap();
    let req = signed(
        &env.root,
        "sts",
        "Action=GetSessionToken&Version=2011-06-15",
        env.clock.now(),
    );
    let r = newer
        .handle(HttpRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: req.headers(),
            body: req.body(),
            request_id: "r",
            source_ip: None,
            secure_transport: false,
        })
        .await;
    assert_ok(&r);
    let session = session_creds(&r.body);
    // The token names its sealing key in clear: the rotated one.
    let raw = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(session.token.as_ref().unwrap())
            .unwrap()
    };
    assert_eq!(&raw[2..2 + usize::from(raw[1])], b"st-rotated");
    // The old instance loaded its ring before the rotation; it reloads and accepts.
    let r = sts(&env, &session, "Action=GetCallerIdentity").await;
    assert_ok(&r);
    assert_eq!(field(&r.body, "Arn"), "arn:aws:iam::123456789012:root");
}

#[tokio::test]
async fn account_summary_counts_every_page() {
    let env = env().await;
    // One more user than a store page holds, so a count of the first page is wrong.
    let users = usize::try_from(irsa_store::MAX_MAX_ITEMS).unwrap() + 1;
    for i in 0..users {
        env.store
            .create_user(irsa_store::NewUser::named(format!("user{i:04}")))
            .await
            .unwrap();
    }
    let r = iam(&env, &env.root, "Action=GetAccountSummary").await;
    assert_ok(&r);
    assert!(
        r.body.contains(&format!(
            "<entry><key>Users</key><value>{users}</value></entry>"
        )),
        "{}",
        r.body
    );
}
