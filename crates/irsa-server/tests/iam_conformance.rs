//! IAM and STS answer as AWS does, seen through real clients (aws-sdk-rust
//! and boto3) against an in-process server: entity id lengths, validation
//! errors for absent required members, duplicate tag keys. Each SDK test
//! runs on SQLite and on PostgreSQL (`IRSA_TEST_DATABASE_URL`; skipped
//! with a note when unset).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on setup failures

mod common;

use std::process::Command;

use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::types::Tag;
use common::{credentials, TestServer};
use irsa_core::SecretString;

/// One `#[tokio::test]` per backend for each `async fn(TestServer)`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let server = crate::common::TestServer::start_on(crate::common::Db::Sqlite)
                        .await
                        .unwrap();
                    super::$name(server).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(server) =
                        crate::common::TestServer::start_on(crate::common::Db::Postgres).await
                    {
                        assert_eq!(server.backend, crate::common::Db::Postgres);
                        super::$name(server).await;
                    }
                }
            )*
        }
    };
}

on_both_backends!(
    entity_ids_have_aws_lengths,
    absent_required_members_are_validation_errors,
    duplicate_tag_keys_are_invalid_input,
);

const ACCOUNT: &str = "123456789012";
const TRUST_ACCOUNT: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#;
const THUMBPRINT: &str = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280";

fn code_of<E: ProvideErrorMetadata>(err: &E) -> String {
    err.code().unwrap_or("<none>").to_owned()
}

fn message_of<E: ProvideErrorMetadata>(err: &E) -> String {
    err.message().unwrap_or("<none>").to_owned()
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().unwrap()
}

/// `prefix` + 17 characters of `A-Z2-7`, as IAM's entity ids.
fn assert_entity_id(id: &str, prefix: &str) {
    assert_eq!(id.len(), 21, "{id}");
    assert!(id.starts_with(prefix), "{id}");
    assert!(
        id[4..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)),
        "{id}"
    );
}

fn assert_access_key_id(id: &str, prefix: &str) {
    assert_eq!(id.len(), 20, "{id}");
    assert!(id.starts_with(prefix), "{id}");
}

async fn entity_ids_have_aws_lengths(server: TestServer) {
    let iam = server.iam(server.root_credentials());
    let user = iam.create_user().user_name("alice").send().await.unwrap();
    let user_id = user.user().unwrap().user_id().to_owned();
    assert_entity_id(&user_id, "AIDA");
    let got = iam.get_user().user_name("alice").send().await.unwrap();
    assert_eq!(got.user().unwrap().user_id(), user_id);

    let role = iam
        .create_role()
        .role_name("app")
        .assume_role_policy_document(TRUST_ACCOUNT)
        .send()
        .await
        .unwrap();
    let role_id = role.role().unwrap().role_id().to_owned();
    assert_entity_id(&role_id, "AROA");

    let policy = iam
        .create_policy()
        .policy_name("list")
        .policy_document(POLICY)
        .send()
        .await
        .unwrap();
    assert_entity_id(policy.policy().unwrap().policy_id().unwrap(), "ANPA");

    // Access key ids keep their 20 characters, long-term and temporary.
    let key = iam
        .create_access_key()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap();
    assert_access_key_id(key.access_key_id(), "AKIA");
    let alice = credentials(
        key.access_key_id(),
        &SecretString::new(key.secret_access_key()),
        None,
    );
    let me = server
        .sts(alice.clone())
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(me.user_id(), Some(user_id.as_str()));

    iam.put_user_policy()
        .user_name("alice")
        .policy_name("assume")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let assumed = server
        .sts(alice)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/app"))
        .role_session_name("s1")
        .send()
        .await
        .unwrap();
    assert_access_key_id(assumed.credentials().unwrap().access_key_id(), "ASIA");
    assert_eq!(
        assumed.assumed_role_user().unwrap().assumed_role_id(),
        format!("{role_id}:s1")
    );
}

async fn absent_required_members_are_validation_errors(server: TestServer) {
    let iam = server.iam(server.root_credentials());
    // aws-sdk-rust leaves required members to the server.
    let err = iam.get_user_policy().user_name("alice").send().await;
    let err = err.unwrap_err().into_service_error();
    assert_eq!(code_of(&err), "ValidationError");
    assert_eq!(
        message_of(&err),
        "1 validation error detected: Value null at 'policyName' failed to satisfy constraint: Member must not be null"
    );
    let err = iam.create_user().send().await.unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 400);
    let err = err.into_service_error();
    assert_eq!(code_of(&err), "ValidationError");
    assert_eq!(
        message_of(&err),
        "1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null"
    );
    // Several violations in one message, absent members among them.
    let err = iam
        .create_role()
        .role_name("bad name")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code_of(&err), "ValidationError");
    let message = message_of(&err);
    assert!(
        message.starts_with("2 validation errors detected: "),
        "{message}"
    );
    assert!(
        message.contains("Value 'bad name' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern"),
        "{message}"
    );
    assert!(
        message.contains("Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null"),
        "{message}"
    );
    // STS answers the same shape.
    let err = server
        .sts(server.root_credentials())
        .assume_role()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/app"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code_of(&err), "ValidationError");
    assert_eq!(
        message_of(&err),
        "1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null"
    );
}

const DUPLICATE_TAGS: &str =
    "Duplicate tag keys found. Please note that Tag keys are case insensitive.";

fn assert_duplicate_tags<E: ProvideErrorMetadata + std::fmt::Debug>(what: &str, err: &E) {
    assert_eq!(code_of(err), "InvalidInput", "{what}: {err:?}");
    assert_eq!(message_of(err), DUPLICATE_TAGS, "{what}");
}

async fn duplicate_tag_keys_are_invalid_input(server: TestServer) {
    let iam = server.iam(server.root_credentials());
    let dup = || vec![tag("Team", "a"), tag("team", "b")];

    let err = iam
        .create_user()
        .user_name("alice")
        .set_tags(Some(dup()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 400);
    assert_duplicate_tags("CreateUser", &err.into_service_error());
    let err = iam
        .create_role()
        .role_name("app")
        .assume_role_policy_document(TRUST_ACCOUNT)
        .set_tags(Some(dup()))
        .send()
        .await
        .unwrap_err();
    assert_duplicate_tags("CreateRole", &err.into_service_error());
    let err = iam
        .create_policy()
        .policy_name("list")
        .policy_document(POLICY)
        .set_tags(Some(dup()))
        .send()
        .await
        .unwrap_err();
    assert_duplicate_tags("CreatePolicy", &err.into_service_error());
    let err = iam
        .create_open_id_connect_provider()
        .url("https://issuer.example.com")
        .thumbprint_list(THUMBPRINT)
        .set_tags(Some(dup()))
        .send()
        .await
        .unwrap_err();
    assert_duplicate_tags("CreateOpenIDConnectProvider", &err.into_service_error());

    // Nothing was created by the refused requests.
    let users = iam.list_users().send().await.unwrap();
    assert!(users.users().is_empty());
    let roles = iam.list_roles().send().await.unwrap();
    assert!(roles.roles().is_empty());
    let providers = iam.list_open_id_connect_providers().send().await.unwrap();
    assert!(providers.open_id_connect_provider_list().is_empty());

    // The Tag* operations refuse them too and keep the existing tags.
    iam.create_user()
        .user_name("alice")
        .tags(tag("env", "prod"))
        .send()
        .await
        .unwrap();
    iam.create_role()
        .role_name("app")
        .assume_role_policy_document(TRUST_ACCOUNT)
        .send()
        .await
        .unwrap();
    let policy_arn = iam
        .create_policy()
        .policy_name("list")
        .policy_document(POLICY)
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let provider_arn = iam
        .create_open_id_connect_provider()
        .url("https://issuer.example.com")
        .thumbprint_list(THUMBPRINT)
        .send()
        .await
        .unwrap()
        .open_id_connect_provider_arn()
        .unwrap()
        .to_owned();
    let err = iam
        .tag_user()
        .user_name("alice")
        .set_tags(Some(dup()))
        .send()
        .await
        .unwrap_err();
    assert_duplicate_tags("TagUser", &err.into_service_error());
    let err = iam
        .tag_role()
        .role_name("app")
        .set_tags(Some(dup()))
        .send()
        .await
        .unwrap_err();
    assert_duplicate_tags("TagRole", &err.into_service_error());
    let err = iam
        .tag_policy()
        .policy_arn(&policy_arn)
        .set_tags(Some(dup()))
        .send()
        .await
        .unwrap_err();
    assert_duplicate_tags("TagPolicy", &err.into_service_error());
    let err = iam
        .tag_open_id_connect_provider()
        .open_id_connect_provider_arn(&provider_arn)
        .set_tags(Some(dup()))
        .send()
        .await
        .unwrap_err();
    assert_duplicate_tags("TagOpenIDConnectProvider", &err.into_service_error());
    // Keys equal byte for byte are duplicates as well.
    let err = iam
        .tag_role()
        .role_name("app")
        .tags(tag("x", "1"))
        .tags(tag("x", "2"))
        .send()
        .await
        .unwrap_err();
    assert_duplicate_tags("TagRole (same case)", &err.into_service_error());

    let tags = iam
        .list_user_tags()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);
    assert_eq!(tags.tags()[0].key(), "env");
    let tags = iam.list_role_tags().role_name("app").send().await.unwrap();
    assert!(tags.tags().is_empty());

    // Distinct keys are fine.
    iam.tag_role()
        .role_name("app")
        .tags(tag("Team", "a"))
        .tags(tag("env", "b"))
        .send()
        .await
        .unwrap();
}

/// Whether python3 can import boto3; in CI it must.
fn boto3_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import boto3"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "python3 with boto3 is required in CI (scripts/test installs it with pip)"
        );
        eprintln!("skipping: python3 with boto3 not available (run ./scripts/test)");
    }
    ok
}

/// boto3 (its own client-side checks off, so the server's answer shows)
/// reads the same codes and messages.
#[tokio::test]
async fn boto3_reads_validation_and_tag_errors() {
    if !boto3_available() {
        return;
    }
    let server = TestServer::start().await;
    let script = r#"
import json, sys
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, key_id, secret = sys.argv[1:4]
config = Config(parameter_validation=False, retries={"max_attempts": 1})
def client(service):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=key_id, aws_secret_access_key=secret, config=config)
iam, sts = client("iam"), client("sts")
out = {}
def attempt(name, call):
    try:
        call()
        out[name] = {"ok": True}
    except ClientError as e:
        out[name] = {"code": e.response["Error"]["Code"], "message": e.response["Error"]["Message"],
                     "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}
attempt("GetRole", lambda: iam.get_role())
attempt("CreateUser", lambda: iam.create_user())
attempt("AssumeRole", lambda: sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/app"))
attempt("CreateRole", lambda: iam.create_role(
    RoleName="app",
    AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[]}',
    Tags=[{"Key": "Env", "Value": "a"}, {"Key": "ENV", "Value": "b"}]))
created = iam.create_user(UserName="carol")["User"]
attempt("TagUser", lambda: iam.tag_user(UserName="carol", Tags=[{"Key": "team"}]))
out["UserId"] = created["UserId"]
print(json.dumps(out))
"#;
    let endpoint = server.endpoint();
    let key_id = server.root.access_key_id.clone();
    let secret = server.root.secret_access_key.expose().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(["-c", script, &endpoint, &key_id, &secret])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let null = |member: &str| {
        format!("1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null")
    };
    for (op, member) in [
        ("GetRole", "roleName"),
        ("TagUser", "tags.1.member.value"),
        ("CreateUser", "userName"),
        ("AssumeRole", "roleSessionName"),
    ] {
        assert_eq!(out[op]["code"], "ValidationError", "{op}: {out}");
        assert_eq!(out[op]["status"], 400, "{op}: {out}");
        assert_eq!(out[op]["message"], null(member), "{op}: {out}");
    }
    assert_eq!(out["CreateRole"]["code"], "InvalidInput", "{out}");
    assert_eq!(out["CreateRole"]["message"], DUPLICATE_TAGS, "{out}");
    assert_entity_id(out["UserId"].as_str().unwrap(), "AIDA");
}
