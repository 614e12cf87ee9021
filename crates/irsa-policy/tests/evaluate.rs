//! Evaluation logic: the scenarios of the IAM documentation's
//! policy-evaluation pages, trust policies for the IRSA flows, and traces.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use irsa_policy::{
    evaluate, evaluate_with_trace, Decision, Effect, Mismatch, Policy, PolicyKind, PolicyRole,
    PolicySet, PolicySource, RequestContext, RequestPrincipal,
};
use time::OffsetDateTime;

const ACCT: &str = "123456789012";
const OTHER: &str = "210987654321";

fn identity(doc: &str) -> Policy {
    Policy::parse(doc, PolicyKind::Identity).unwrap()
}
fn trust(doc: &str) -> Policy {
    Policy::parse(doc, PolicyKind::Trust).unwrap()
}
fn stmt(effect: &str, action: &str, resource: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"{effect}","Action":"{action}","Resource":"{resource}"}}}}"#
    )
}
fn bob() -> RequestPrincipal {
    RequestPrincipal::user(
        &format!("arn:aws:iam::{ACCT}:user/Bob"),
        ACCT,
        "Bob",
        "AIDABOBBOBBOBBOBBOB",
    )
}
fn at(principal: RequestPrincipal, action: &str, resource: &str) -> RequestContext {
    RequestContext::new(
        principal,
        action,
        resource,
        OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
    )
}
/// Evaluate both ways and check they agree.
fn decide(ctx: &RequestContext, set: &PolicySet<'_>) -> Decision {
    let fast = evaluate(ctx, set);
    let traced = evaluate_with_trace(ctx, set);
    assert_eq!(fast, traced.decision, "fast path and trace disagree");
    fast
}

#[test]
fn implicit_deny_without_policies() {
    let ctx = at(bob(), "s3:GetObject", "arn:aws:s3:::b/k");
    assert_eq!(decide(&ctx, &PolicySet::default()), Decision::ImplicitDeny);
}

#[test]
fn explicit_deny_overrides_allow() {
    let allow = identity(&stmt("Allow", "s3:*", "*"));
    let deny = identity(&stmt("Deny", "s3:DeleteObject", "arn:aws:s3:::b/*"));
    let sources = [
        PolicySource::new("allow", &allow),
        PolicySource::new("deny", &deny),
    ];
    let set = PolicySet::identity(&sources);
    assert_eq!(
        decide(&at(bob(), "s3:GetObject", "arn:aws:s3:::b/k"), &set),
        Decision::Allow
    );
    assert_eq!(
        decide(&at(bob(), "s3:DeleteObject", "arn:aws:s3:::b/k"), &set),
        Decision::ExplicitDeny
    );
    assert_eq!(
        decide(&at(bob(), "s3:DeleteObject", "arn:aws:s3:::c/k"), &set),
        Decision::Allow
    );
}

#[test]
fn actions_are_case_insensitive_with_wildcards() {
    let p = identity(&stmt("Allow", "S3:get*", "*"));
    let sources = [PolicySource::new("p", &p)];
    let set = PolicySet::identity(&sources);
    assert!(decide(&at(bob(), "s3:GetObject", "x"), &set).is_allowed());
    assert!(decide(&at(bob(), "S3:GETOBJECTACL", "x"), &set).is_allowed());
    assert!(!decide(&at(bob(), "s3:PutObject", "x"), &set).is_allowed());
    let q = identity(&stmt("Allow", "iam:?etUser", "*"));
    let sources = [PolicySource::new("q", &q)];
    let set = PolicySet::identity(&sources);
    assert!(decide(&at(bob(), "iam:GetUser", "x"), &set).is_allowed());
    assert!(!decide(&at(bob(), "iam:ListUsers", "x"), &set).is_allowed());
}

#[test]
fn not_action_and_not_resource() {
    // Deny everything outside one bucket (NotResource + Deny).
    let allow = identity(&stmt("Allow", "s3:*", "*"));
    let fence = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:*","NotResource":["arn:aws:s3:::safe","arn:aws:s3:::safe/*"]}}"#,
    );
    let sources = [
        PolicySource::new("a", &allow),
        PolicySource::new("f", &fence),
    ];
    let set = PolicySet::identity(&sources);
    assert_eq!(
        decide(&at(bob(), "s3:GetObject", "arn:aws:s3:::safe/k"), &set),
        Decision::Allow
    );
    assert_eq!(
        decide(&at(bob(), "s3:GetObject", "arn:aws:s3:::other/k"), &set),
        Decision::ExplicitDeny
    );
    // NotAction Allow: everything except IAM.
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}"#,
    );
    let sources = [PolicySource::new("p", &p)];
    let set = PolicySet::identity(&sources);
    assert!(decide(&at(bob(), "s3:GetObject", "x"), &set).is_allowed());
    assert!(!decide(&at(bob(), "iam:CreateUser", "x"), &set).is_allowed());
}

#[test]
fn permissions_boundary_limits_identity_policies() {
    // IAM docs: identity allows s3:* and iam:*, boundary only s3:* -> iam is implicitly denied.
    let id = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:*","iam:*"],"Resource":"*"}}"#,
    );
    let boundary =
        Policy::parse(&stmt("Allow", "s3:*", "*"), PolicyKind::PermissionsBoundary).unwrap();
    let sources = [PolicySource::new("id", &id)];
    let set = PolicySet {
        identity: &sources,
        permissions_boundary: Some(PolicySource::new("boundary", &boundary)),
        ..PolicySet::default()
    };
    assert_eq!(
        decide(&at(bob(), "s3:GetObject", "x"), &set),
        Decision::Allow
    );
    assert_eq!(
        decide(&at(bob(), "iam:CreateUser", "x"), &set),
        Decision::ImplicitDeny
    );
    // The boundary alone grants nothing.
    let set = PolicySet {
        identity: &[],
        permissions_boundary: Some(PolicySource::new("boundary", &boundary)),
        ..PolicySet::default()
    };
    assert_eq!(
        decide(&at(bob(), "s3:GetObject", "x"), &set),
        Decision::ImplicitDeny
    );
    // A Deny in the boundary is an explicit deny.
    let deny_boundary =
        Policy::parse(&stmt("Deny", "s3:*", "*"), PolicyKind::PermissionsBoundary).unwrap();
    let set = PolicySet {
        identity: &sources,
        permissions_boundary: Some(PolicySource::new("b", &deny_boundary)),
        ..PolicySet::default()
    };
    assert_eq!(
        decide(&at(bob(), "s3:GetObject", "x"), &set),
        Decision::ExplicitDeny
    );
}

fn session_principal() -> RequestPrincipal {
    RequestPrincipal::assumed_role(
        &format!("arn:aws:sts::{ACCT}:assumed-role/app/s1"),
        &format!("arn:aws:iam::{ACCT}:role/app"),
        ACCT,
        "AROAAPPAPPAPPAPPAPP:s1",
    )
}

#[test]
fn session_policies_intersect_with_identity() {
    let role = identity(&stmt("Allow", "s3:*", "*"));
    let session_a =
        Policy::parse(&stmt("Allow", "s3:GetObject", "*"), PolicyKind::Session).unwrap();
    let session_b =
        Policy::parse(&stmt("Allow", "s3:ListBucket", "*"), PolicyKind::Session).unwrap();
    let ids = [PolicySource::new("role", &role)];
    let sessions = [
        PolicySource::new("inline", &session_a),
        PolicySource::new("arn:aws:iam::aws:policy/x", &session_b),
    ];
    let set = PolicySet {
        identity: &ids,
        session: &sessions,
        ..PolicySet::default()
    };
    let p = session_principal();
    assert_eq!(
        decide(&at(p.clone(), "s3:GetObject", "x"), &set),
        Decision::Allow
    );
    assert_eq!(
        decide(&at(p.clone(), "s3:ListBucket", "x"), &set),
        Decision::Allow
    );
    assert_eq!(
        decide(&at(p.clone(), "s3:PutObject", "x"), &set),
        Decision::ImplicitDeny
    );
    // A session policy never grants beyond the role.
    let wide = Policy::parse(&stmt("Allow", "*", "*"), PolicyKind::Session).unwrap();
    let narrow = identity(&stmt("Allow", "s3:GetObject", "*"));
    let ids = [PolicySource::new("role", &narrow)];
    let sessions = [PolicySource::new("inline", &wide)];
    let set = PolicySet {
        identity: &ids,
        session: &sessions,
        ..PolicySet::default()
    };
    assert_eq!(
        decide(&at(p, "iam:CreateUser", "x"), &set),
        Decision::ImplicitDeny
    );
}

const PROVIDER: &str = "arn:aws:iam::123456789012:oidc-provider/oidc.example.com/id/ABC";

fn irsa_trust(sub_op: &str, sub: &str) -> Policy {
    let condition = if sub_op == "StringEquals" {
        format!(
            r#"{{"StringEquals":{{"oidc.example.com/id/ABC:aud":"sts.amazonaws.com","oidc.example.com/id/ABC:sub":"{sub}"}}}}"#
        )
    } else {
        format!(
            r#"{{"StringEquals":{{"oidc.example.com/id/ABC:aud":"sts.amazonaws.com"}},"{sub_op}":{{"oidc.example.com/id/ABC:sub":"{sub}"}}}}"#
        )
    };
    trust(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{PROVIDER}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{condition}}}]}}"#
    ))
}

fn web_ctx(aud: &str, sub: &str) -> RequestContext {
    at(
        RequestPrincipal::web_identity(PROVIDER, ACCT),
        "sts:AssumeRoleWithWebIdentity",
        "arn:aws:iam::123456789012:role/app",
    )
    .with("oidc.example.com/id/ABC:aud", aud)
    .with("oidc.example.com/id/ABC:sub", sub)
}

#[test]
fn irsa_web_identity_trust() {
    let t = irsa_trust("StringEquals", "system:serviceaccount:default:app");
    let set = PolicySet::trust(PolicySource::new("trust", &t), true);
    assert_eq!(
        decide(
            &web_ctx("sts.amazonaws.com", "system:serviceaccount:default:app"),
            &set
        ),
        Decision::Allow
    );
    // Another service account.
    assert_eq!(
        decide(
            &web_ctx("sts.amazonaws.com", "system:serviceaccount:default:other"),
            &set
        ),
        Decision::ImplicitDeny
    );
    // Another audience.
    assert_eq!(
        decide(&web_ctx("other", "system:serviceaccount:default:app"), &set),
        Decision::ImplicitDeny
    );
    // Another provider.
    let other = at(
        RequestPrincipal::web_identity(
            "arn:aws:iam::123456789012:oidc-provider/evil.example.com",
            ACCT,
        ),
        "sts:AssumeRoleWithWebIdentity",
        "arn:aws:iam::123456789012:role/app",
    )
    .with("oidc.example.com/id/ABC:aud", "sts.amazonaws.com")
    .with(
        "oidc.example.com/id/ABC:sub",
        "system:serviceaccount:default:app",
    );
    assert_eq!(decide(&other, &set), Decision::ImplicitDeny);
    // Another action.
    let mut wrong_action = web_ctx("sts.amazonaws.com", "system:serviceaccount:default:app");
    wrong_action = RequestContext::new(
        wrong_action.principal().clone(),
        "sts:AssumeRole",
        wrong_action.resource(),
        wrong_action.now(),
    );
    assert_eq!(decide(&wrong_action, &set), Decision::ImplicitDeny);
    // Wildcard namespace with StringLike.
    let t = irsa_trust("StringLike", "system:serviceaccount:team-*:*");
    let set = PolicySet::trust(PolicySource::new("trust", &t), true);
    assert!(decide(
        &web_ctx("sts.amazonaws.com", "system:serviceaccount:team-a:x"),
        &set
    )
    .is_allowed());
    assert!(!decide(
        &web_ctx("sts.amazonaws.com", "system:serviceaccount:prod:x"),
        &set
    )
    .is_allowed());
}

fn assume_role_trust(principal: &str) -> Policy {
    trust(&format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":"sts:AssumeRole"}}}}"#
    ))
}

#[test]
fn assume_role_same_account_rules() {
    let role = format!("arn:aws:iam::{ACCT}:role/target");
    let ctx = at(bob(), "sts:AssumeRole", &role);
    let may_assume = identity(&stmt("Allow", "sts:AssumeRole", &role));
    let ids = [PolicySource::new("bob-policy", &may_assume)];

    // Trust names the account: Bob's own policies must allow.
    let t = assume_role_trust(&format!("arn:aws:iam::{ACCT}:root"));
    let alone = PolicySet::trust(PolicySource::new("trust", &t), true);
    assert_eq!(decide(&ctx, &alone), Decision::ImplicitDeny);
    let with_identity = PolicySet {
        identity: &ids,
        ..alone
    };
    assert_eq!(decide(&ctx, &with_identity), Decision::Allow);
    // A bare account id means the same.
    let t_id = assume_role_trust(ACCT);
    assert_eq!(
        decide(&ctx, &PolicySet::trust(PolicySource::new("t", &t_id), true)),
        Decision::ImplicitDeny
    );

    // Trust names Bob himself: the trust policy alone is enough in the same account.
    let t = assume_role_trust(&format!("arn:aws:iam::{ACCT}:user/Bob"));
    assert_eq!(
        decide(
            &ctx,
            &PolicySet::trust(PolicySource::new("trust", &t), true)
        ),
        Decision::Allow
    );
    // …but an explicit deny in his identity policies still wins.
    let deny = identity(&stmt("Deny", "sts:*", "*"));
    let deny_ids = [PolicySource::new("deny", &deny)];
    let set = PolicySet {
        identity: &deny_ids,
        ..PolicySet::trust(PolicySource::new("trust", &t), true)
    };
    assert_eq!(decide(&ctx, &set), Decision::ExplicitDeny);
    // Somebody else is not matched.
    let alice = RequestPrincipal::user(
        &format!("arn:aws:iam::{ACCT}:user/Alice"),
        ACCT,
        "Alice",
        "AIDAALICEALICEALICE",
    );
    assert_eq!(
        decide(
            &at(alice, "sts:AssumeRole", &role),
            &PolicySet {
                identity: &ids,
                ..PolicySet::trust(PolicySource::new("trust", &t), true)
            }
        ),
        Decision::ImplicitDeny
    );
}

#[test]
fn assume_role_cross_account_needs_both_sides() {
    let role = format!("arn:aws:iam::{OTHER}:role/target");
    let ctx = at(bob(), "sts:AssumeRole", &role);
    let may_assume = identity(&stmt("Allow", "sts:AssumeRole", &role));
    let ids = [PolicySource::new("bob-policy", &may_assume)];
    for trusted in [ACCT.to_owned(), format!("arn:aws:iam::{ACCT}:user/Bob")] {
        let t = assume_role_trust(&trusted);
        let trust_only = PolicySet::trust(PolicySource::new("trust", &t), false);
        assert_eq!(
            decide(&ctx, &trust_only),
            Decision::ImplicitDeny,
            "{trusted}"
        );
        let both = PolicySet {
            identity: &ids,
            ..trust_only
        };
        assert_eq!(decide(&ctx, &both), Decision::Allow, "{trusted}");
    }
    // Identity alone is not enough cross-account.
    let t = assume_role_trust(OTHER);
    let set = PolicySet {
        identity: &ids,
        ..PolicySet::trust(PolicySource::new("trust", &t), false)
    };
    assert_eq!(decide(&ctx, &set), Decision::ImplicitDeny);
}

#[test]
fn resource_policy_naming_role_is_limited_by_boundary_but_session_arn_is_not() {
    let resource = Policy::parse(
        &format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCT}:role/app"}},"Action":"sqs:SendMessage","Resource":"*"}},{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:sts::{ACCT}:assumed-role/app/s1"}},"Action":"sqs:ReceiveMessage","Resource":"*"}}]}}"#
        ),
        PolicyKind::Resource,
    )
    .unwrap();
    let boundary =
        Policy::parse(&stmt("Allow", "s3:*", "*"), PolicyKind::PermissionsBoundary).unwrap();
    let q = "arn:aws:sqs:us-east-1:123456789012:q";
    let set = PolicySet {
        resource: Some(PolicySource::new("queue", &resource)),
        permissions_boundary: Some(PolicySource::new("b", &boundary)),
        ..PolicySet::default()
    };
    let no_boundary = PolicySet {
        permissions_boundary: None,
        ..set
    };
    let send = at(session_principal(), "sqs:SendMessage", q);
    assert_eq!(decide(&send, &no_boundary), Decision::Allow);
    assert_eq!(decide(&send, &set), Decision::ImplicitDeny);
    let recv = at(session_principal(), "sqs:ReceiveMessage", q);
    assert_eq!(decide(&recv, &set), Decision::Allow);
}

#[test]
fn not_principal_with_deny() {
    let resource = Policy::parse(
        &format!(
            r#"{{"Version":"2012-10-17","Statement":[
                {{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}},
                {{"Effect":"Deny","NotPrincipal":{{"AWS":"arn:aws:iam::{ACCT}:user/Bob"}},"Action":"s3:*","Resource":"*"}}]}}"#
        ),
        PolicyKind::Resource,
    )
    .unwrap();
    let set = PolicySet {
        resource: Some(PolicySource::new("bucket", &resource)),
        ..PolicySet::default()
    };
    let alice = RequestPrincipal::user(
        &format!("arn:aws:iam::{ACCT}:user/Alice"),
        ACCT,
        "Alice",
        "AIDAALICEALICEALICE",
    );
    assert_eq!(
        decide(&at(bob(), "s3:GetObject", "arn:aws:s3:::b/k"), &set),
        Decision::Allow
    );
    assert_eq!(
        decide(&at(alice, "s3:GetObject", "arn:aws:s3:::b/k"), &set),
        Decision::ExplicitDeny
    );
    assert_eq!(
        decide(
            &at(
                RequestPrincipal::anonymous(),
                "s3:GetObject",
                "arn:aws:s3:::b/k"
            ),
            &set
        ),
        Decision::ExplicitDeny
    );
}

#[test]
fn policy_variables_in_resources() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home/${aws:username}/*"}}"#,
    );
    let sources = [PolicySource::new("p", &p)];
    let set = PolicySet::identity(&sources);
    assert!(decide(&at(bob(), "s3:GetObject", "arn:aws:s3:::home/Bob/f"), &set).is_allowed());
    assert!(!decide(
        &at(bob(), "s3:GetObject", "arn:aws:s3:::home/Alice/f"),
        &set
    )
    .is_allowed());
    // A session has no aws:username: the value never matches.
    assert!(!decide(
        &at(session_principal(), "s3:GetObject", "arn:aws:s3:::home//f"),
        &set
    )
    .is_allowed());
}

#[test]
fn trace_explains_each_statement() {
    let t = irsa_trust("StringEquals", "system:serviceaccount:default:app");
    let set = PolicySet::trust(PolicySource::new("trust-policy", &t), true);
    let trace = evaluate_with_trace(
        &web_ctx("sts.amazonaws.com", "system:serviceaccount:default:other"),
        &set,
    );
    assert_eq!(trace.decision, Decision::ImplicitDeny);
    assert!(trace.matched_statements.is_empty());
    let st = &trace.policies[0].statements[0];
    assert!(!st.matched);
    assert_eq!(
        st.mismatch,
        Some(Mismatch::Condition {
            operator: "StringEquals".into(),
            key: "oidc.example.com/id/ABC:sub".into(),
            actual: Some(vec!["system:serviceaccount:default:other".into()]),
            expected: vec!["system:serviceaccount:default:app".into()],
        })
    );
    let text = trace.explain();
    assert!(text.contains("condition StringEquals failed: key oidc.example.com/id/ABC:sub had [\"system:serviceaccount:default:other\"]"), "{text}");

    let ok = evaluate_with_trace(
        &web_ctx("sts.amazonaws.com", "system:serviceaccount:default:app"),
        &set,
    );
    assert_eq!(ok.decision, Decision::Allow);
    assert_eq!(ok.matched_statements.len(), 1);
    assert_eq!(ok.matched_statements[0].source_id, "trust-policy");
    assert_eq!(ok.matched_statements[0].role, PolicyRole::Resource);
    assert_eq!(ok.matched_statements[0].index, 0);
    assert_eq!(ok.matched_statements[0].effect, Effect::Allow);
}

#[test]
fn trace_reports_first_reason_deciding_statements_and_missing_keys() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"Act","Effect":"Allow","Action":"ec2:*","Resource":"*"},
            {"Sid":"Res","Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::other/*"},
            {"Sid":"Cond","Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/env":"prod","s3:prefix":"${aws:PrincipalTag/team}"}}},
            {"Sid":"Deny","Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/secret"}]}"#,
    );
    let sources = [PolicySource::new("arn:aws:iam::123456789012:policy/p", &p)];
    let set = PolicySet::identity(&sources);
    let trace = evaluate_with_trace(&at(bob(), "s3:GetObject", "arn:aws:s3:::b/k"), &set);
    assert_eq!(trace.decision, Decision::ImplicitDeny);
    let sts = &trace.policies[0].statements;
    assert_eq!(
        sts[0].mismatch,
        Some(Mismatch::Action {
            action: "s3:GetObject".into()
        })
    );
    assert_eq!(
        sts[1].mismatch,
        Some(Mismatch::Resource {
            resource: "arn:aws:s3:::b/k".into()
        })
    );
    assert!(
        matches!(&sts[2].mismatch, Some(Mismatch::Condition { key, actual: None, .. }) if key == "aws:RequestTag/env")
    );
    assert_eq!(
        trace.missing_context_keys,
        ["aws:RequestTag/env", "s3:prefix", "aws:principaltag/team"]
    );

    let denied = evaluate_with_trace(&at(bob(), "s3:GetObject", "arn:aws:s3:::b/secret"), &set);
    assert_eq!(denied.decision, Decision::ExplicitDeny);
    assert_eq!(denied.matched_statements.len(), 1);
    assert_eq!(denied.matched_statements[0].sid.as_deref(), Some("Deny"));
    assert_eq!(denied.matched_statements[0].index, 3);
}
