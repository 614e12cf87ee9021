//! SimulateCustomPolicy with `ResourcePolicy`, `CallerArn` and
//! `ResourceOwner`, through aws-sdk-iam: the resource-based policy cases of
//! AWS's policy evaluation logic documentation on the wire.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on setup failures

mod common;

use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::types::{ContextEntry, ContextKeyTypeEnum, EvaluationResult};
use common::TestServer;

const ACCT: &str = "123456789012";
const OTHER: &str = "444455556666";
const BOB: &str = "arn:aws:iam::123456789012:user/Bob";
const ALICE: &str = "arn:aws:iam::123456789012:user/Alice";
const OBJECT: &str = "arn:aws:s3:::bucket/key";

fn identity(action: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"{action}","Resource":"*"}}}}"#
    )
}

fn bucket_policy(statements: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#)
}

fn allow_to(principal: &str) -> String {
    bucket_policy(&format!(
        r#"{{"Sid":"Grant","Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"}}"#
    ))
}

/// One simulation of s3:GetObject on the object.
struct Sim<'a> {
    identity: String,
    boundary: Option<String>,
    resource_policy: Option<String>,
    caller: Option<&'a str>,
    owner: Option<String>,
    context: Vec<ContextEntry>,
}

impl Sim<'_> {
    fn new(identity_action: &str) -> Self {
        Sim {
            identity: identity(identity_action),
            boundary: None,
            resource_policy: None,
            caller: Some(BOB),
            owner: None,
            context: Vec::new(),
        }
    }

    async fn run(&self, server: &TestServer) -> EvaluationResult {
        let out = server
            .iam(server.root_credentials())
            .simulate_custom_policy()
            .policy_input_list(&self.identity)
            .set_permissions_boundary_policy_input_list(self.boundary.clone().map(|b| vec![b]))
            .action_names("s3:GetObject")
            .resource_arns(OBJECT)
            .set_resource_policy(self.resource_policy.clone())
            .set_caller_arn(self.caller.map(str::to_owned))
            .set_resource_owner(self.owner.clone())
            .set_context_entries(Some(self.context.clone()))
            .send()
            .await
            .unwrap();
        let results = out.evaluation_results();
        assert_eq!(results.len(), 1);
        results[0].clone()
    }

    async fn decision(&self, server: &TestServer) -> String {
        self.run(server).await.eval_decision().as_str().to_owned()
    }
}

fn secure_transport(value: &str) -> ContextEntry {
    ContextEntry::builder()
        .context_key_name("aws:SecureTransport")
        .context_key_type(ContextKeyTypeEnum::Boolean)
        .context_key_values(value)
        .build()
}

#[tokio::test]
async fn same_account_user_named_in_the_resource_policy() {
    let server = TestServer::start().await;
    // "If either the identity-based policy or the resource-based policy
    // within the same account allows the request and the other doesn't, the
    // request is still allowed."
    let sim = Sim {
        resource_policy: Some(allow_to(BOB)),
        ..Sim::new("ec2:*")
    };
    let result = sim.run(&server).await;
    assert_eq!(result.eval_decision().as_str(), "allowed");
    let matched = result.matched_statements();
    assert_eq!(matched.len(), 1);
    assert_eq!(matched[0].source_policy_id(), Some("ResourcePolicy"));
    assert_eq!(
        matched[0]
            .source_policy_type()
            .map(aws_sdk_iam::types::PolicySourceType::as_str),
        Some("resource")
    );
    // Alice is not named and has no identity Allow.
    let alice = Sim {
        caller: Some(ALICE),
        ..sim
    };
    assert_eq!(alice.decision(&server).await, "implicitDeny");
    // Naming the account only delegates to identity policies.
    let account = Sim {
        resource_policy: Some(allow_to(&format!("arn:aws:iam::{ACCT}:root"))),
        ..Sim::new("ec2:*")
    };
    assert_eq!(account.decision(&server).await, "implicitDeny");
    let account_and_identity = Sim {
        identity: identity("s3:GetObject"),
        ..account
    };
    assert_eq!(account_and_identity.decision(&server).await, "allowed");
}

#[tokio::test]
async fn user_arn_grant_is_not_limited_by_the_boundary() {
    let server = TestServer::start().await;
    // "Within the same account, resource-based policies that grant
    // permissions to an IAM user ARN [...] are not limited by an implicit
    // deny in an identity-based policy or permissions boundary."
    let sim = Sim {
        boundary: Some(identity("ec2:*")),
        resource_policy: Some(allow_to(BOB)),
        ..Sim::new("s3:GetObject")
    };
    let result = sim.run(&server).await;
    assert_eq!(result.eval_decision().as_str(), "allowed");
    assert_eq!(
        result.permissions_boundary_decision_detail().map(
            aws_sdk_iam::types::PermissionsBoundaryDecisionDetail::allowed_by_permissions_boundary
        ),
        Some(false)
    );
    // Without the resource policy the boundary's implicit deny decides.
    let no_resource = Sim {
        resource_policy: None,
        ..sim
    };
    assert_eq!(no_resource.decision(&server).await, "implicitDeny");
}

#[tokio::test]
async fn role_session_and_role_arn_grants() {
    let server = TestServer::start().await;
    let session = "arn:aws:sts::123456789012:assumed-role/app/s1";
    // "resource-based policies that grant permissions to an IAM role session
    // ARN grant permissions directly to the assumed role session. Permissions
    // granted directly to a session are not limited by an implicit deny in an
    // identity-based policy, a permissions boundary, or session policy."
    let by_session = Sim {
        caller: Some(session),
        boundary: Some(identity("ec2:*")),
        resource_policy: Some(allow_to(session)),
        ..Sim::new("ec2:*")
    };
    assert_eq!(by_session.decision(&server).await, "allowed");
    // "Resource-based policies that grant permissions to an IAM role ARN are
    // limited by an implicit deny in a permissions boundary or session policy."
    let by_role = Sim {
        resource_policy: Some(allow_to("arn:aws:iam::123456789012:role/app")),
        ..by_session
    };
    assert_eq!(by_role.decision(&server).await, "implicitDeny");
    let by_role_no_boundary = Sim {
        boundary: None,
        ..by_role
    };
    assert_eq!(by_role_no_boundary.decision(&server).await, "allowed");
}

#[tokio::test]
async fn cross_account_needs_both_sides() {
    let server = TestServer::start().await;
    // "the requester in the trusted AccountA must have an identity-based
    // policy [...]. Additionally, the resource-based policy in AccountB must
    // allow the requester in AccountA to access the resource."
    let owner = Some(format!("arn:aws:iam::{OTHER}:root"));
    let resource_only = Sim {
        resource_policy: Some(allow_to(BOB)),
        owner: owner.clone(),
        ..Sim::new("ec2:*")
    };
    assert_eq!(resource_only.decision(&server).await, "implicitDeny");
    let both = Sim {
        identity: identity("s3:GetObject"),
        ..resource_only
    };
    assert_eq!(both.decision(&server).await, "allowed");
    let identity_only = Sim {
        resource_policy: Some(allow_to(&format!("arn:aws:iam::{OTHER}:user/Carol"))),
        ..both
    };
    assert_eq!(identity_only.decision(&server).await, "implicitDeny");
    // The account principal is enough on the resource side across accounts.
    let account = Sim {
        resource_policy: Some(allow_to(ACCT)),
        owner,
        ..Sim::new("s3:GetObject")
    };
    assert_eq!(account.decision(&server).await, "allowed");
}

#[tokio::test]
async fn explicit_deny_in_the_resource_policy_wins() {
    let server = TestServer::start().await;
    // "An explicit deny in any of these policies overrides the allow."
    let policy = bucket_policy(
        r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::bucket/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#,
    );
    let plain = Sim {
        resource_policy: Some(policy),
        context: vec![secure_transport("false")],
        ..Sim::new("s3:*")
    };
    let result = plain.run(&server).await;
    assert_eq!(result.eval_decision().as_str(), "explicitDeny");
    assert_eq!(
        result.matched_statements()[0]
            .source_policy_type()
            .map(aws_sdk_iam::types::PolicySourceType::as_str),
        Some("resource")
    );
    let tls = Sim {
        context: vec![secure_transport("true")],
        ..plain
    };
    assert_eq!(tls.decision(&server).await, "allowed");
}

#[tokio::test]
async fn not_principal_deny_exempts_the_listed_user_only() {
    let server = TestServer::start().await;
    // NotPrincipal: "all principals except the user named Bob [...] are
    // explicitly denied access", listing Bob and his account's root.
    let policy = bucket_policy(&format!(
        r#"{{"Effect":"Deny","NotPrincipal":{{"AWS":["{BOB}","arn:aws:iam::{ACCT}:root"]}},"Action":"s3:*","Resource":"arn:aws:s3:::bucket/*"}}"#
    ));
    let bob = Sim {
        resource_policy: Some(policy),
        ..Sim::new("s3:*")
    };
    assert_eq!(bob.decision(&server).await, "allowed");
    let alice = Sim {
        caller: Some(ALICE),
        ..bob
    };
    assert_eq!(alice.decision(&server).await, "explicitDeny");
}

type SimulateError = aws_sdk_iam::error::SdkError<
    aws_sdk_iam::operation::simulate_custom_policy::SimulateCustomPolicyError,
    aws_sdk_iam::config::http::HttpResponse,
>;

fn code(err: SimulateError) -> String {
    err.into_service_error()
        .code()
        .unwrap_or("<none>")
        .to_owned()
}

#[tokio::test]
async fn resource_policy_input_errors() {
    let server = TestServer::start().await;
    let iam = server.iam(server.root_credentials());
    let send = |resource_policy: &str, caller: Option<&str>, owner: Option<&str>| {
        iam.simulate_custom_policy()
            .policy_input_list(identity("s3:*"))
            .action_names("s3:GetObject")
            .resource_policy(resource_policy)
            .set_caller_arn(caller.map(str::to_owned))
            .set_resource_owner(owner.map(str::to_owned))
            .send()
    };
    // "CallerArn is required if you include a ResourcePolicy".
    let err = send(&allow_to(BOB), None, None).await.unwrap_err();
    assert_eq!(code(err), "InvalidInput");
    // A resource-based policy needs a Principal.
    let no_principal = bucket_policy(
        r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"}"#,
    );
    let err = send(&no_principal, Some(BOB), None).await.unwrap_err();
    assert_eq!(code(err), "MalformedPolicyDocument");
    let err = send(&allow_to(BOB), Some(BOB), Some("not-an-arn"))
        .await
        .unwrap_err();
    assert_eq!(code(err), "InvalidInput");
    let err = send(
        &allow_to(BOB),
        Some("arn:aws:iam::123456789012:group/g"),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(code(err), "InvalidInput");
}
