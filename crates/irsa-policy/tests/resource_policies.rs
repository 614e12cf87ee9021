//! Resource-based policies, one row per case of AWS's policy evaluation
//! logic documentation. Each row quotes the statement it checks (IAM User
//! Guide: "How AWS enforcement code logic evaluates requests to allow or deny
//! access", "Cross-account policy evaluation logic", "Session policies",
//! "Permissions boundaries for IAM entities", "AWS JSON policy elements:
//! Principal / NotPrincipal"). Rows marked "inferred" are not stated by the
//! documentation; they say why the engine decides as it does.

#![allow(clippy::unwrap_used)]
// test helpers outside #[test] fns
// Table helpers: `row` takes one argument per column, and the expected
// reasons read as `Option`s in the table.
#![allow(clippy::too_many_arguments, clippy::unnecessary_wraps)]

use irsa_policy::{
    evaluate, evaluate_outcome, evaluate_with_trace, Decision, DenyReason, Policy, PolicyKind,
    PolicyRole, PolicySet, PolicySource, RequestContext, RequestPrincipal,
};
use time::OffsetDateTime;

const ACCT: &str = "111122223333";
const OTHER: &str = "444455556666";
const ACTION: &str = "s3:GetObject";
const OBJECT: &str = "arn:aws:s3:::bucket/key";
const USER_ARN: &str = "arn:aws:iam::111122223333:user/Bob";
const ROLE_ARN: &str = "arn:aws:iam::111122223333:role/app";
const SESSION_ARN: &str = "arn:aws:sts::111122223333:assumed-role/app/s1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    User,
    Session,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Account {
    Same,
    Cross,
}

/// What the resource policy says about the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rbp {
    None,
    /// Allows the caller's own ARN: the user ARN, or the role session ARN.
    AllowsCaller,
    /// Allows the role ARN behind the session.
    AllowsRole,
    /// Allows the caller's account (`arn:aws:iam::ACCT:root`).
    AllowsAccount,
    /// Allows `"Principal": "*"`.
    AllowsAnyone,
    /// Allows another account only.
    AllowsOtherAccount,
    /// `Deny` to `"Principal": "*"`, plus an Allow to the caller.
    DeniesAnyone,
}

/// An identity policy, a permissions boundary or session policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Present {
    Absent,
    Allows,
    /// Present but without an Allow for the request.
    ImplicitDeny,
    Denies,
}

use Account::{Cross, Same};
use Caller::{Session, User};
use Present::{Absent, Allows, Denies, ImplicitDeny};

struct Row {
    doc: &'static str,
    account: Account,
    caller: Caller,
    identity: Present,
    resource: Rbp,
    boundary: Present,
    session: Present,
    expect: Decision,
    reason: Option<DenyReason>,
}

fn stmt(effect: &str, action: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"{effect}","Action":"{action}","Resource":"*"}}}}"#
    )
}

fn limit_policy(p: Present, kind: PolicyKind) -> Option<Policy> {
    let text = match p {
        Absent => return None,
        Allows => stmt("Allow", "s3:*"),
        ImplicitDeny => stmt("Allow", "ec2:*"),
        Denies => stmt("Deny", "s3:*"),
    };
    Some(Policy::parse(&text, kind).unwrap())
}

fn resource_policy(r: Rbp, caller: Caller) -> Option<Policy> {
    let allow = |principal: &str| {
        format!(
            r#"{{"Effect":"Allow","Principal":{principal},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"}}"#
        )
    };
    let own = match caller {
        User => USER_ARN,
        Session => SESSION_ARN,
    };
    let statements = match r {
        Rbp::None => return None,
        Rbp::AllowsCaller => allow(&format!(r#"{{"AWS":"{own}"}}"#)),
        Rbp::AllowsRole => allow(&format!(r#"{{"AWS":"{ROLE_ARN}"}}"#)),
        Rbp::AllowsAccount => allow(&format!(r#"{{"AWS":"arn:aws:iam::{ACCT}:root"}}"#)),
        Rbp::AllowsAnyone => allow(r#""*""#),
        Rbp::AllowsOtherAccount => allow(&format!(r#"{{"AWS":"{OTHER}"}}"#)),
        Rbp::DeniesAnyone => format!(
            r#"{},{{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::bucket/*"}}"#,
            allow(&format!(r#"{{"AWS":"{own}"}}"#))
        ),
    };
    Some(
        Policy::parse(
            &format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#),
            PolicyKind::Resource,
        )
        .unwrap(),
    )
}

fn principal(caller: Caller) -> RequestPrincipal {
    match caller {
        User => RequestPrincipal::user(USER_ARN, ACCT, "Bob", "AIDABOBBOBBOBBOBBOBBO"),
        Session => {
            RequestPrincipal::assumed_role(SESSION_ARN, ROLE_ARN, ACCT, "AROAAPPAPPAPPAPPAPPAP:s1")
        }
    }
}

fn ctx(caller: Caller) -> RequestContext {
    RequestContext::new(
        principal(caller),
        ACTION,
        OBJECT,
        OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
    )
}

/// Evaluates a set all three ways and checks they agree; returns the outcome.
fn run(ctx: &RequestContext, set: &PolicySet<'_>) -> (Decision, Option<DenyReason>) {
    let fast = evaluate(ctx, set);
    let outcome = evaluate_outcome(ctx, set);
    let trace = evaluate_with_trace(ctx, set);
    assert_eq!(
        fast, outcome.decision,
        "evaluate and evaluate_outcome disagree"
    );
    assert_eq!(fast, trace.decision, "evaluate and the trace disagree");
    assert_eq!(
        outcome.deny_reason, trace.deny_reason,
        "deny reasons disagree"
    );
    assert_eq!(fast == Decision::Allow, outcome.deny_reason.is_none());
    (fast, outcome.deny_reason)
}

fn check(row: &Row) {
    let identity = match row.identity {
        Absent => None,
        p => limit_policy(p, PolicyKind::Identity),
    };
    let boundary = limit_policy(row.boundary, PolicyKind::PermissionsBoundary);
    let session = limit_policy(row.session, PolicyKind::Session);
    let resource = resource_policy(row.resource, row.caller);
    let ids: Vec<PolicySource<'_>> = identity
        .iter()
        .map(|p| PolicySource::new("id", p))
        .collect();
    let sessions: Vec<PolicySource<'_>> = session
        .iter()
        .map(|p| PolicySource::new("session", p))
        .collect();
    let set = PolicySet {
        identity: &ids,
        resource: resource.as_ref().map(|p| PolicySource::new("bucket", p)),
        same_account: row.account == Same,
        permissions_boundary: boundary.as_ref().map(|p| PolicySource::new("boundary", p)),
        session: &sessions,
    };
    let got = run(&ctx(row.caller), &set);
    assert_eq!(
        got,
        (row.expect, row.reason),
        "\n{:?} account, {:?}, identity {:?}, resource {:?}, boundary {:?}, session {:?}\ndoc: {}",
        row.account,
        row.caller,
        row.identity,
        row.resource,
        row.boundary,
        row.session,
        row.doc
    );
}

const ALLOW: Decision = Decision::Allow;
const IMPLICIT: Decision = Decision::ImplicitDeny;
const EXPLICIT: Decision = Decision::ExplicitDeny;
const fn no_allow(role: PolicyRole) -> Option<DenyReason> {
    Some(DenyReason::NoAllow(role))
}
const fn explicit(role: PolicyRole) -> Option<DenyReason> {
    Some(DenyReason::ExplicitDeny(role))
}
use PolicyRole::{Identity as ID, PermissionsBoundary as PB, Resource as RES, Session as SP};

const EITHER: &str = "If either the identity-based policy or the resource-based policy within \
     the same account allows the request and the other doesn't, the request is still allowed.";
const USER_ARN_DOC: &str = "Within the same account, resource-based policies that grant \
     permissions to an IAM user ARN (that is not a federated user session) are not limited by an \
     implicit deny in an identity-based policy or permissions boundary.";
const ROLE_ARN_DOC: &str = "IAM role - Resource-based policies that grant permissions to an IAM \
     role ARN are limited by an implicit deny in a permissions boundary or session policy.";
const SESSION_ARN_DOC: &str = "Within the same account, resource-based policies that grant \
     permissions to an IAM role session ARN grant permissions directly to the assumed role \
     session. Permissions granted directly to a session are not limited by an implicit deny in \
     an identity-based policy, a permissions boundary, or session policy.";
const SESSION_POLICY_ROLE_DOC: &str = "A resource-based policy can specify the ARN of the user or \
     role as a principal. [...] The session policy limits the total permissions granted by the \
     resource-based policy and the identity-based policy.";
const SESSION_POLICY_SESSION_DOC: &str = "A resource-based policy can specify the ARN of the \
     session as a principal. [...] The resource-based policy permissions are not limited by the \
     session policy.";
const BOUNDARY_SESSION_DOC: &str = "a permissions boundary does not limit permissions granted by \
     a resource-based policy that specifies the ARN of the resulting session.";
const ACCOUNT_DOC: &str = "You can specify AWS account identifiers in the Principal element of a \
     resource-based policy [...]. This delegates authority to the account.";
const BOUNDARY_DOC: &str = "When you set a permissions boundary for an entity, the entity can \
     perform only the actions that are allowed by both its identity-based policies and its \
     permissions boundaries.";
const EXPLICIT_DOC: &str = "An explicit deny in any of these policies overrides the allow.";
const CROSS_DOC: &str = "For cross-account requests, the requester in the trusted AccountA must \
     have an identity-based policy. [...] Additionally, the resource-based policy in AccountB must \
     allow the requester in AccountA to access the resource.";
const CROSS_LIMITS_DOC: &str = "When AWS evaluates this account [the trusted account], it checks \
     the identity-based policy and any policies that can limit an identity-based policy.";
const CROSS_PRINCIPALS_DOC: &str = "The resource-based policy in the trusting account must \
     specify the principal of the trusted account [...]. You can specify the entire account or \
     its IAM users, federated users, IAM roles, or assumed-role sessions.";
const WILDCARD_INFERRED: &str = "inferred: \"*\" does not grant permission directly to the IAM \
     user or the session principal, so the implicit-deny exemption for direct grants does not \
     apply; like a role ARN it is limited by the boundary and session policies.";

fn row(
    doc: &'static str,
    account: Account,
    caller: Caller,
    identity: Present,
    resource: Rbp,
    boundary: Present,
    session: Present,
    expected: (Decision, Option<DenyReason>),
) -> Row {
    Row {
        doc,
        account,
        caller,
        identity,
        resource,
        boundary,
        session,
        expect: expected.0,
        reason: expected.1,
    }
}

#[allow(clippy::too_many_lines)] // one line per documented case
fn rows() -> Vec<Row> {
    use Rbp as R;
    vec![
        // ---- same account, IAM user ----
        row(
            EITHER,
            Same,
            User,
            Allows,
            R::None,
            Absent,
            Absent,
            (ALLOW, None),
        ),
        row(
            EITHER,
            Same,
            User,
            Absent,
            R::AllowsCaller,
            Absent,
            Absent,
            (ALLOW, None),
        ),
        row(
            EITHER,
            Same,
            User,
            Absent,
            R::None,
            Absent,
            Absent,
            (IMPLICIT, no_allow(ID)),
        ),
        row(
            USER_ARN_DOC,
            Same,
            User,
            ImplicitDeny,
            R::AllowsCaller,
            Absent,
            Absent,
            (ALLOW, None),
        ),
        row(
            USER_ARN_DOC,
            Same,
            User,
            Absent,
            R::AllowsCaller,
            ImplicitDeny,
            Absent,
            (ALLOW, None),
        ),
        row(
            USER_ARN_DOC,
            Same,
            User,
            Allows,
            R::AllowsCaller,
            ImplicitDeny,
            Absent,
            (ALLOW, None),
        ),
        row(
            ACCOUNT_DOC,
            Same,
            User,
            Absent,
            R::AllowsAccount,
            Absent,
            Absent,
            (IMPLICIT, no_allow(ID)),
        ),
        row(
            ACCOUNT_DOC,
            Same,
            User,
            Allows,
            R::AllowsAccount,
            Absent,
            Absent,
            (ALLOW, None),
        ),
        row(
            ACCOUNT_DOC,
            Same,
            User,
            Allows,
            R::AllowsAccount,
            ImplicitDeny,
            Absent,
            (IMPLICIT, no_allow(PB)),
        ),
        row(
            BOUNDARY_DOC,
            Same,
            User,
            Allows,
            R::None,
            ImplicitDeny,
            Absent,
            (IMPLICIT, no_allow(PB)),
        ),
        row(
            BOUNDARY_DOC,
            Same,
            User,
            Allows,
            R::None,
            Allows,
            Absent,
            (ALLOW, None),
        ),
        row(
            BOUNDARY_DOC,
            Same,
            User,
            Absent,
            R::None,
            Allows,
            Absent,
            (IMPLICIT, no_allow(ID)),
        ),
        row(
            WILDCARD_INFERRED,
            Same,
            User,
            Absent,
            R::AllowsAnyone,
            Absent,
            Absent,
            (ALLOW, None),
        ),
        row(
            WILDCARD_INFERRED,
            Same,
            User,
            Absent,
            R::AllowsAnyone,
            ImplicitDeny,
            Absent,
            (IMPLICIT, no_allow(PB)),
        ),
        row(
            WILDCARD_INFERRED,
            Same,
            User,
            Absent,
            R::AllowsAnyone,
            Allows,
            Absent,
            (ALLOW, None),
        ),
        row(
            EXPLICIT_DOC,
            Same,
            User,
            Allows,
            R::DeniesAnyone,
            Absent,
            Absent,
            (EXPLICIT, explicit(RES)),
        ),
        row(
            EXPLICIT_DOC,
            Same,
            User,
            Denies,
            R::AllowsCaller,
            Absent,
            Absent,
            (EXPLICIT, explicit(ID)),
        ),
        row(
            EXPLICIT_DOC,
            Same,
            User,
            Absent,
            R::AllowsCaller,
            Denies,
            Absent,
            (EXPLICIT, explicit(PB)),
        ),
        row(
            EXPLICIT_DOC,
            Same,
            User,
            Denies,
            R::DeniesAnyone,
            Denies,
            Absent,
            (EXPLICIT, explicit(ID)),
        ),
        // ---- same account, role session ----
        row(
            SESSION_ARN_DOC,
            Same,
            Session,
            Absent,
            R::AllowsCaller,
            Absent,
            Absent,
            (ALLOW, None),
        ),
        row(
            SESSION_ARN_DOC,
            Same,
            Session,
            ImplicitDeny,
            R::AllowsCaller,
            ImplicitDeny,
            ImplicitDeny,
            (ALLOW, None),
        ),
        row(
            SESSION_POLICY_SESSION_DOC,
            Same,
            Session,
            Allows,
            R::AllowsCaller,
            Absent,
            ImplicitDeny,
            (ALLOW, None),
        ),
        row(
            BOUNDARY_SESSION_DOC,
            Same,
            Session,
            Absent,
            R::AllowsCaller,
            ImplicitDeny,
            Absent,
            (ALLOW, None),
        ),
        row(
            ROLE_ARN_DOC,
            Same,
            Session,
            Absent,
            R::AllowsRole,
            Absent,
            Absent,
            (ALLOW, None),
        ),
        row(
            ROLE_ARN_DOC,
            Same,
            Session,
            Absent,
            R::AllowsRole,
            Allows,
            Allows,
            (ALLOW, None),
        ),
        row(
            ROLE_ARN_DOC,
            Same,
            Session,
            Absent,
            R::AllowsRole,
            ImplicitDeny,
            Absent,
            (IMPLICIT, no_allow(PB)),
        ),
        row(
            ROLE_ARN_DOC,
            Same,
            Session,
            Absent,
            R::AllowsRole,
            Absent,
            ImplicitDeny,
            (IMPLICIT, no_allow(SP)),
        ),
        row(
            ROLE_ARN_DOC,
            Same,
            Session,
            Allows,
            R::AllowsRole,
            ImplicitDeny,
            Allows,
            (IMPLICIT, no_allow(PB)),
        ),
        row(
            SESSION_POLICY_ROLE_DOC,
            Same,
            Session,
            Allows,
            R::AllowsRole,
            Absent,
            ImplicitDeny,
            (IMPLICIT, no_allow(SP)),
        ),
        row(
            SESSION_POLICY_ROLE_DOC,
            Same,
            Session,
            Allows,
            R::None,
            Absent,
            ImplicitDeny,
            (IMPLICIT, no_allow(SP)),
        ),
        row(
            SESSION_POLICY_ROLE_DOC,
            Same,
            Session,
            Allows,
            R::None,
            Absent,
            Allows,
            (ALLOW, None),
        ),
        row(
            ACCOUNT_DOC,
            Same,
            Session,
            Absent,
            R::AllowsAccount,
            Absent,
            Absent,
            (IMPLICIT, no_allow(ID)),
        ),
        row(
            ACCOUNT_DOC,
            Same,
            Session,
            Allows,
            R::AllowsAccount,
            Absent,
            Absent,
            (ALLOW, None),
        ),
        row(
            WILDCARD_INFERRED,
            Same,
            Session,
            Absent,
            R::AllowsAnyone,
            Absent,
            ImplicitDeny,
            (IMPLICIT, no_allow(SP)),
        ),
        row(
            EXPLICIT_DOC,
            Same,
            Session,
            Allows,
            R::DeniesAnyone,
            Allows,
            Allows,
            (EXPLICIT, explicit(RES)),
        ),
        row(
            EXPLICIT_DOC,
            Same,
            Session,
            Absent,
            R::AllowsCaller,
            Absent,
            Denies,
            (EXPLICIT, explicit(SP)),
        ),
        // ---- cross account ----
        row(
            CROSS_DOC,
            Cross,
            User,
            Allows,
            R::None,
            Absent,
            Absent,
            (IMPLICIT, no_allow(RES)),
        ),
        row(
            CROSS_DOC,
            Cross,
            User,
            Absent,
            R::AllowsCaller,
            Absent,
            Absent,
            (IMPLICIT, no_allow(ID)),
        ),
        row(
            CROSS_DOC,
            Cross,
            User,
            Absent,
            R::None,
            Absent,
            Absent,
            (IMPLICIT, no_allow(RES)),
        ),
        row(
            CROSS_DOC,
            Cross,
            User,
            Allows,
            R::AllowsCaller,
            Absent,
            Absent,
            (ALLOW, None),
        ),
        row(
            CROSS_DOC,
            Cross,
            User,
            Allows,
            R::AllowsOtherAccount,
            Absent,
            Absent,
            (IMPLICIT, no_allow(RES)),
        ),
        row(
            CROSS_PRINCIPALS_DOC,
            Cross,
            User,
            Allows,
            R::AllowsAccount,
            Absent,
            Absent,
            (ALLOW, None),
        ),
        row(
            CROSS_PRINCIPALS_DOC,
            Cross,
            User,
            Allows,
            R::AllowsAnyone,
            Absent,
            Absent,
            (ALLOW, None),
        ),
        row(
            CROSS_PRINCIPALS_DOC,
            Cross,
            Session,
            Allows,
            R::AllowsRole,
            Absent,
            Absent,
            (ALLOW, None),
        ),
        row(
            CROSS_PRINCIPALS_DOC,
            Cross,
            Session,
            Allows,
            R::AllowsCaller,
            Absent,
            Absent,
            (ALLOW, None),
        ),
        row(
            CROSS_PRINCIPALS_DOC,
            Cross,
            Session,
            Absent,
            R::AllowsCaller,
            Absent,
            Absent,
            (IMPLICIT, no_allow(ID)),
        ),
        row(
            CROSS_LIMITS_DOC,
            Cross,
            User,
            Allows,
            R::AllowsCaller,
            ImplicitDeny,
            Absent,
            (IMPLICIT, no_allow(PB)),
        ),
        row(
            CROSS_LIMITS_DOC,
            Cross,
            Session,
            Allows,
            R::AllowsCaller,
            Absent,
            ImplicitDeny,
            (IMPLICIT, no_allow(SP)),
        ),
        row(
            CROSS_LIMITS_DOC,
            Cross,
            Session,
            Allows,
            R::AllowsCaller,
            Allows,
            Allows,
            (ALLOW, None),
        ),
        row(
            EXPLICIT_DOC,
            Cross,
            User,
            Allows,
            R::DeniesAnyone,
            Absent,
            Absent,
            (EXPLICIT, explicit(RES)),
        ),
        row(
            EXPLICIT_DOC,
            Cross,
            Session,
            Denies,
            R::AllowsCaller,
            Absent,
            Absent,
            (EXPLICIT, explicit(ID)),
        ),
    ]
}

#[test]
fn documented_cases() {
    let rows = rows();
    for r in &rows {
        check(r);
    }
    assert!(rows.len() > 40);
}

fn bucket_policy(statements: &str) -> Policy {
    Policy::parse(
        &format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#),
        PolicyKind::Resource,
    )
    .unwrap()
}

fn other_user(name: &str) -> RequestPrincipal {
    RequestPrincipal::user(
        &format!("arn:aws:iam::{ACCT}:user/{name}"),
        ACCT,
        name,
        "AIDAOTHEROTHEROTHERO",
    )
}

#[test]
fn explicit_deny_to_everyone_with_a_condition() {
    // EXPLICIT_DOC, with the Deny's condition deciding whether it applies:
    // deny every principal unless the request came over TLS.
    let p = bucket_policy(
        r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/Bob"},"Action":"s3:*","Resource":"arn:aws:s3:::bucket/*"},
           {"Sid":"TlsOnly","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::bucket/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#,
    );
    let id = Policy::parse(&stmt("Allow", "s3:*"), PolicyKind::Identity).unwrap();
    let ids = [PolicySource::new("id", &id)];
    for same_account in [true, false] {
        let set = PolicySet {
            identity: &ids,
            resource: Some(PolicySource::new("bucket", &p)),
            same_account,
            ..PolicySet::default()
        };
        let plain = ctx(User).with("aws:SecureTransport", false);
        assert_eq!(run(&plain, &set), (EXPLICIT, explicit(RES)));
        let outcome = evaluate_outcome(&plain, &set);
        let deciding = outcome.deciding_deny.unwrap();
        assert_eq!((deciding.source_id.as_str(), deciding.index), ("bucket", 1));
        assert_eq!(deciding.sid.as_deref(), Some("TlsOnly"));
        assert_eq!(deciding.role, RES);
        let tls = ctx(User).with("aws:SecureTransport", true);
        assert_eq!(run(&tls, &set), (ALLOW, None));
        // The key absent: Bool fails, the Deny does not apply.
        assert_eq!(run(&ctx(User), &set), (ALLOW, None));
    }
}

#[test]
fn not_principal_deny_exempts_the_listed_user_only() {
    // NotPrincipal: "all principals except the user named Bob in AWS account
    // 444455556666 are explicitly denied access to a resource", with the
    // NotPrincipal listing Bob's ARN and his account's root ARN.
    let p = bucket_policy(
        r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"},
           {"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/Bob","arn:aws:iam::111122223333:root"]},"Action":"s3:*","Resource":"arn:aws:s3:::bucket/*"}"#,
    );
    let set = PolicySet {
        resource: Some(PolicySource::new("bucket", &p)),
        ..PolicySet::default()
    };
    let at =
        |p: RequestPrincipal| RequestContext::new(p, ACTION, OBJECT, OffsetDateTime::UNIX_EPOCH);
    assert_eq!(run(&at(principal(User)), &set), (ALLOW, None));
    // Listing the account root does not exempt every principal of the account.
    assert_eq!(
        run(&at(other_user("Alice")), &set),
        (EXPLICIT, explicit(RES))
    );
    assert_eq!(
        run(&at(principal(Session)), &set),
        (EXPLICIT, explicit(RES))
    );
    assert_eq!(
        run(&at(RequestPrincipal::anonymous()), &set),
        (EXPLICIT, explicit(RES))
    );
    // The root user itself is listed.
    assert_eq!(
        evaluate(&at(RequestPrincipal::root(ACCT)), &set),
        Decision::Allow
    );
}

#[test]
fn not_principal_deny_for_role_sessions_needs_the_session_arn() {
    // NotPrincipal: "all principals except the assumed-role user named
    // cross-account-audit-app [...] are explicitly denied", listing the
    // session, the role and the account; "When you specify an assumed-role
    // session in a NotPrincipal element, you cannot use a wildcard (*) to
    // mean all sessions. Principals must always name a specific session."
    let allow = r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"}"#;
    let role_only = bucket_policy(&format!(
        r#"{allow},{{"Effect":"Deny","NotPrincipal":{{"AWS":["{ROLE_ARN}","arn:aws:iam::{ACCT}:root"]}},"Action":"s3:*","Resource":"*"}}"#
    ));
    let with_session = bucket_policy(&format!(
        r#"{allow},{{"Effect":"Deny","NotPrincipal":{{"AWS":["{SESSION_ARN}","{ROLE_ARN}","arn:aws:iam::{ACCT}:root"]}},"Action":"s3:*","Resource":"*"}}"#
    ));
    let other_session = RequestPrincipal::assumed_role(
        "arn:aws:sts::111122223333:assumed-role/app/s2",
        ROLE_ARN,
        ACCT,
        "AROAAPPAPPAPPAPPAPPAP:s2",
    );
    for same_account in [true, false] {
        let id = Policy::parse(&stmt("Allow", "s3:*"), PolicyKind::Identity).unwrap();
        let ids = [PolicySource::new("id", &id)];
        let set = |p| PolicySet {
            identity: &ids,
            resource: Some(PolicySource::new("bucket", p)),
            same_account,
            ..PolicySet::default()
        };
        assert_eq!(
            run(&ctx(Session), &set(&role_only)),
            (EXPLICIT, explicit(RES))
        );
        assert_eq!(run(&ctx(Session), &set(&with_session)), (ALLOW, None));
        let other = RequestContext::new(
            other_session.clone(),
            ACTION,
            OBJECT,
            OffsetDateTime::UNIX_EPOCH,
        );
        assert_eq!(run(&other, &set(&with_session)), (EXPLICIT, explicit(RES)));
    }
}

#[test]
fn not_principal_deny_always_denies_principals_with_a_boundary() {
    // Permissions boundaries: "The NotPrincipal element with a Deny effect
    // will always deny any IAM principal that has a permissions boundary
    // policy attached, regardless of the values specified in the
    // NotPrincipal element."
    let p = bucket_policy(&format!(
        r#"{{"Effect":"Allow","Principal":{{"AWS":"{USER_ARN}"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"}},
           {{"Effect":"Deny","NotPrincipal":{{"AWS":["{USER_ARN}","arn:aws:iam::{ACCT}:root"]}},"Action":"s3:*","Resource":"*"}}"#
    ));
    let boundary = Policy::parse(&stmt("Allow", "s3:*"), PolicyKind::PermissionsBoundary).unwrap();
    let without = PolicySet {
        resource: Some(PolicySource::new("bucket", &p)),
        ..PolicySet::default()
    };
    assert_eq!(run(&ctx(User), &without), (ALLOW, None));
    let with = PolicySet {
        permissions_boundary: Some(PolicySource::new("boundary", &boundary)),
        ..without
    };
    assert_eq!(run(&ctx(User), &with), (EXPLICIT, explicit(RES)));
}

#[test]
fn federated_user_sessions() {
    // "Within the same account, resource-based policies that grant
    // permissions to a federated user ARN grant permissions directly to the
    // session. [...] However, if a resource-based policy grants permission to
    // the ARN of the IAM user who federated, then requests made by the
    // federated user during the session are limited by an implicit deny in a
    // permission boundary or session policy."
    let fed = RequestPrincipal::federated_user(
        "arn:aws:sts::111122223333:federated-user/Bob",
        USER_ARN,
        ACCT,
        "111122223333:Bob",
    );
    let c = RequestContext::new(fed, ACTION, OBJECT, OffsetDateTime::UNIX_EPOCH);
    let session = Policy::parse(&stmt("Allow", "ec2:*"), PolicyKind::Session).unwrap();
    let sessions = [PolicySource::new("session", &session)];
    for (named, expected) in [
        (
            "arn:aws:sts::111122223333:federated-user/Bob",
            (ALLOW, None),
        ),
        (USER_ARN, (IMPLICIT, no_allow(SP))),
    ] {
        let p = bucket_policy(&format!(
            r#"{{"Effect":"Allow","Principal":{{"AWS":"{named}"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"}}"#
        ));
        let set = PolicySet {
            resource: Some(PolicySource::new("bucket", &p)),
            session: &sessions,
            ..PolicySet::default()
        };
        assert_eq!(run(&c, &set), expected, "{named}");
    }
}

#[test]
fn trace_names_the_resource_policy_statement() {
    let p = bucket_policy(
        r#"{"Sid":"Grant","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/Bob"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"}"#,
    );
    let set = PolicySet {
        resource: Some(PolicySource::new("bucket-policy", &p)),
        ..PolicySet::default()
    };
    let trace = evaluate_with_trace(&ctx(User), &set);
    assert_eq!(trace.decision, ALLOW);
    assert_eq!(trace.matched_statements.len(), 1);
    assert_eq!(trace.matched_statements[0].role, RES);
    assert_eq!(trace.matched_statements[0].source_id, "bucket-policy");
    assert_eq!(trace.matched_statements[0].sid.as_deref(), Some("Grant"));
    // Alice is not named: the resource policy's statement reports the principal miss.
    let alice = RequestContext::new(
        other_user("Alice"),
        ACTION,
        OBJECT,
        OffsetDateTime::UNIX_EPOCH,
    );
    let trace = evaluate_with_trace(&alice, &set);
    assert_eq!(trace.deny_reason, no_allow(ID));
    assert!(
        trace.explain().contains("principal not matched"),
        "{}",
        trace.explain()
    );
}
