//! Property tests: decisions are monotone in Deny, independent of statement
//! order, the trace agrees with the fast path, and the parser never panics.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use irsa_policy::{
    evaluate, evaluate_outcome, evaluate_with_trace, Decision, DenyReason, Policy, PolicyKind,
    PolicyRole, PolicySet, PolicySource, RequestContext, RequestPrincipal, SizeLimit,
};
use proptest::prelude::*;
use time::OffsetDateTime;

const ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:*",
    "S3:get*",
    "iam:*",
    "*",
    "ec2:Describe?nstances",
    "s3:PutObject",
];
const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::b/k",
    "arn:aws:s3:::c/*",
    "arn:aws:s3:::${aws:username}/*",
];
const CONDITIONS: &[&str] = &[
    r#"{"StringEquals":{"aws:RequestTag/env":"prod"}}"#,
    r#"{"StringNotEquals":{"aws:RequestTag/env":"prod"}}"#,
    r#"{"StringLikeIfExists":{"s3:prefix":"home/*"}}"#,
    r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}"#,
    r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["a"]}}"#,
    r#"{"Bool":{"aws:SecureTransport":"true"}}"#,
    r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
    r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
    r#"{"NumericLessThan":{"s3:max-keys":"10"}}"#,
    r#"{"Null":{"aws:RequestTag/env":"true"}}"#,
    r#"{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}"#,
];

fn json_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(","))
}

prop_compose! {
    fn statement(effect: Option<bool>)(
        allow in any::<bool>(),
        actions in prop::sample::subsequence(ACTIONS, 1..3),
        not_action in prop::bool::weighted(0.2),
        resources in prop::sample::subsequence(RESOURCES, 1..3),
        not_resource in prop::bool::weighted(0.2),
        condition in prop::option::weighted(0.5, prop::sample::select(CONDITIONS)),
    ) -> String {
        let allow = effect.unwrap_or(allow);
        let mut s = format!(
            r#"{{"Effect":"{}","{}":{},"{}":{}"#,
            if allow { "Allow" } else { "Deny" },
            if not_action { "NotAction" } else { "Action" },
            json_list(&actions),
            if not_resource { "NotResource" } else { "Resource" },
            json_list(&resources),
        );
        if let Some(c) = condition {
            s.push_str(r#","Condition":"#);
            s.push_str(c);
        }
        s.push('}');
        s
    }
}

fn doc(statements: &[String]) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        statements.join(",")
    )
}

fn parse(statements: &[String], kind: PolicyKind) -> Policy {
    Policy::parse_with_limit(&doc(statements), kind, SizeLimit::Unlimited).unwrap()
}

prop_compose! {
    fn request()(
        action in prop::sample::select(&["s3:GetObject", "s3:PutObject", "iam:CreateUser", "ec2:DescribeInstances"][..]),
        resource in prop::sample::select(&["arn:aws:s3:::b/k", "arn:aws:s3:::c/x", "arn:aws:s3:::Bob/f"][..]),
        env in prop::option::of(prop::sample::select(&["prod", "dev"][..])),
        tags in prop::option::of(prop::sample::subsequence(&["a", "b", "c"][..], 0..3)),
        secure in prop::option::of(any::<bool>()),
        ip in prop::option::of(prop::sample::select(&["10.1.2.3", "192.0.2.1", "::1"][..])),
        max_keys in prop::option::of(0u32..20),
    ) -> RequestContext {
        let mut ctx = RequestContext::new(
            RequestPrincipal::user("arn:aws:iam::123456789012:user/Bob", "123456789012", "Bob", "AIDABOBBOBBOBBOBBOB"),
            action,
            resource,
            OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
        );
        if let Some(e) = env { ctx.insert("aws:RequestTag/env", e); }
        if let Some(t) = tags { ctx.insert("aws:TagKeys", t); }
        if let Some(s) = secure { ctx.insert("aws:SecureTransport", s); }
        if let Some(i) = ip { ctx.insert("aws:SourceIp", i); }
        if let Some(m) = max_keys { ctx.insert("s3:max-keys", m.to_string()); }
        ctx
    }
}

fn decide(identity: &[Policy], boundary: Option<&Policy>, ctx: &RequestContext) -> Decision {
    let ids: Vec<PolicySource<'_>> = identity.iter().map(|p| PolicySource::new("p", p)).collect();
    let set = PolicySet {
        identity: &ids,
        permissions_boundary: boundary.map(|b| PolicySource::new("b", b)),
        ..PolicySet::default()
    };
    let fast = evaluate(ctx, &set);
    assert_eq!(fast, evaluate_with_trace(ctx, &set).decision);
    fast
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn adding_a_deny_never_grants(
        stmts in prop::collection::vec(statement(None), 1..6),
        deny in statement(Some(false)),
        boundary in prop::option::of(prop::collection::vec(statement(None), 1..3)),
        ctx in request(),
    ) {
        let boundary = boundary.map(|b| parse(&b, PolicyKind::PermissionsBoundary));
        let before = decide(&[parse(&stmts, PolicyKind::Identity)], boundary.as_ref(), &ctx);
        let mut more = stmts.clone();
        more.push(deny.clone());
        let after = decide(&[parse(&more, PolicyKind::Identity)], boundary.as_ref(), &ctx);
        if before != Decision::Allow {
            prop_assert_ne!(after, Decision::Allow);
        }
        if before == Decision::ExplicitDeny {
            prop_assert_eq!(after, Decision::ExplicitDeny);
        }
        // The same Deny in a separate policy behaves the same.
        let separate = decide(
            &[parse(&stmts, PolicyKind::Identity), parse(&[deny], PolicyKind::Identity)],
            boundary.as_ref(),
            &ctx,
        );
        prop_assert_eq!(separate, after);
    }

    #[test]
    fn statement_and_policy_order_does_not_matter(
        stmts in prop::collection::vec(statement(None), 1..8),
        seed in any::<u64>(),
        ctx in request(),
    ) {
        let mut shuffled = stmts.clone();
        // Deterministic Fisher–Yates from the seed.
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            let j = usize::try_from(x % (i as u64 + 1)).unwrap();
            shuffled.swap(i, j);
        }
        let a = decide(&[parse(&stmts, PolicyKind::Identity)], None, &ctx);
        let b = decide(&[parse(&shuffled, PolicyKind::Identity)], None, &ctx);
        prop_assert_eq!(a, b);
        // Split into one policy per statement, in reverse order.
        let split: Vec<Policy> = shuffled
            .iter()
            .rev()
            .map(|s| parse(std::slice::from_ref(s), PolicyKind::Identity))
            .collect();
        prop_assert_eq!(decide(&split, None, &ctx), a);
    }

    #[test]
    fn parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for kind in [PolicyKind::Identity, PolicyKind::Trust, PolicyKind::Session] {
            let _ = Policy::parse_bytes(&bytes, kind);
        }
    }

    #[test]
    fn parser_never_panics_on_policy_like_text(
        parts in prop::collection::vec(prop::sample::select(&[
            "{", "}", "[", "]", ",", ":", "\"Version\"", "\"2012-10-17\"", "\"Statement\"",
            "\"Effect\"", "\"Allow\"", "\"Deny\"", "\"Action\"", "\"NotAction\"", "\"Resource\"",
            "\"Principal\"", "\"NotPrincipal\"", "\"AWS\"", "\"Federated\"", "\"*\"", "\"Condition\"",
            "\"StringLike\"", "\"ForAllValues:StringEquals\"", "\"aws:k\"", "\"${aws:username}\"",
            "\"${\"", "\"arn:aws:s3:::*\"", "\"s3:*\"", "1", "true", "null", "\"IpAddress\"",
            "\"10.0.0.0/99\"", "\"DateLessThan\"", "\"2020-13-45\"", "\"Sid\"", "\"\\u0000\"",
        ][..]), 0..64),
    ) {
        let text = parts.concat();
        for kind in [PolicyKind::Identity, PolicyKind::Trust, PolicyKind::Resource] {
            if let Ok(p) = Policy::parse(&text, kind) {
                // Whatever parses must also evaluate without panicking.
                let ctx = RequestContext::new(
                    RequestPrincipal::anonymous(), "s3:GetObject", "arn:aws:s3:::b/k",
                    OffsetDateTime::UNIX_EPOCH,
                );
                let src = [PolicySource::new("p", &p)];
                let _ = evaluate_with_trace(&ctx, &PolicySet::identity(&src));
            }
        }
    }

    #[test]
    fn wildcard_matching_never_panics(pattern in "[a-c*?$\\{\\}:]{0,24}", text in "[a-c:é]{0,24}") {
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{{"StringLike":{{"aws:k":{pattern:?}}}}}}}}}"#
        );
        if let Ok(p) = Policy::parse(&doc, PolicyKind::Identity) {
            let ctx = RequestContext::new(
                RequestPrincipal::anonymous(), "s3:GetObject", "x", OffsetDateTime::UNIX_EPOCH,
            ).with("aws:k", text.as_str());
            let src = [PolicySource::new("p", &p)];
            let _ = evaluate(&ctx, &PolicySet::identity(&src));
        }
    }
}

const PRINCIPALS: &[&str] = &[
    r#""Principal":"*""#,
    r#""Principal":{"AWS":"*"}"#,
    r#""Principal":{"AWS":"arn:aws:iam::123456789012:user/Bob"}"#,
    r#""Principal":{"AWS":"arn:aws:iam::123456789012:role/app"}"#,
    r#""Principal":{"AWS":"arn:aws:sts::123456789012:assumed-role/app/s1"}"#,
    r#""Principal":{"AWS":"123456789012"}"#,
    r#""Principal":{"AWS":"arn:aws:iam::210987654321:root"}"#,
    r#""NotPrincipal":{"AWS":["arn:aws:iam::123456789012:user/Bob","arn:aws:iam::123456789012:root"]}"#,
    r#""NotPrincipal":{"AWS":"arn:aws:sts::123456789012:assumed-role/app/s1"}"#,
];

/// A resource-policy statement: an identity statement with a principal.
fn with_principal(statement: &str, principal: &str) -> String {
    format!("{{{principal},{}", &statement[1..])
}

prop_compose! {
    fn resource_statement(effect: Option<bool>)(
        s in statement(effect),
        principal in prop::sample::select(PRINCIPALS),
    ) -> String {
        with_principal(&s, principal)
    }
}

prop_compose! {
    fn caller()(session in any::<bool>()) -> RequestPrincipal {
        if session {
            RequestPrincipal::assumed_role(
                "arn:aws:sts::123456789012:assumed-role/app/s1",
                "arn:aws:iam::123456789012:role/app",
                "123456789012",
                "AROAAPPAPPAPPAPPAPPAP:s1",
            )
        } else {
            RequestPrincipal::user("arn:aws:iam::123456789012:user/Bob", "123456789012", "Bob", "AIDABOBBOBBOBBOBBOB")
        }
    }
}

/// Every policy of one request, as statement lists (`None`: absent).
#[derive(Debug, Clone)]
struct AllPolicies {
    identity: Vec<String>,
    resource: Option<Vec<String>>,
    boundary: Option<Vec<String>>,
    session: Option<Vec<String>>,
}

prop_compose! {
    fn all_policies()(
        identity in prop::collection::vec(statement(None), 0..4),
        resource in prop::option::of(prop::collection::vec(resource_statement(None), 1..4)),
        boundary in prop::option::of(prop::collection::vec(statement(None), 1..3)),
        session in prop::option::of(prop::collection::vec(statement(None), 1..3)),
    ) -> AllPolicies {
        AllPolicies { identity, resource, boundary, session }
    }
}

struct Parsed {
    identity: Option<Policy>,
    resource: Option<Policy>,
    boundary: Option<Policy>,
    session: Option<Policy>,
}

impl AllPolicies {
    fn parse(&self) -> Parsed {
        Parsed {
            identity: (!self.identity.is_empty())
                .then(|| parse(&self.identity, PolicyKind::Identity)),
            resource: self
                .resource
                .as_ref()
                .map(|s| parse(s, PolicyKind::Resource)),
            boundary: self
                .boundary
                .as_ref()
                .map(|s| parse(s, PolicyKind::PermissionsBoundary)),
            session: self.session.as_ref().map(|s| parse(s, PolicyKind::Session)),
        }
    }
}

fn decide_all(
    p: &Parsed,
    same_account: bool,
    ctx: &RequestContext,
) -> (Decision, Option<DenyReason>) {
    let ids: Vec<PolicySource<'_>> = p
        .identity
        .iter()
        .map(|x| PolicySource::new("id", x))
        .collect();
    let sessions: Vec<PolicySource<'_>> = p
        .session
        .iter()
        .map(|x| PolicySource::new("s", x))
        .collect();
    let set = PolicySet {
        identity: &ids,
        resource: p.resource.as_ref().map(|x| PolicySource::new("r", x)),
        same_account,
        permissions_boundary: p.boundary.as_ref().map(|x| PolicySource::new("b", x)),
        session: &sessions,
    };
    let outcome = evaluate_outcome(ctx, &set);
    let trace = evaluate_with_trace(ctx, &set);
    assert_eq!(evaluate(ctx, &set), outcome.decision);
    assert_eq!(trace.decision, outcome.decision);
    assert_eq!(trace.deny_reason, outcome.deny_reason);
    (outcome.decision, outcome.deny_reason)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// "An explicit deny in any policy overrides any allows": a Deny that
    /// matches the request, added to any one of the policies (a resource
    /// policy's to `"Principal": "*"`), makes the decision an explicit deny
    /// whatever else the policies say, for users and role sessions, in the
    /// same account and across accounts; and the reason names a policy kind
    /// that holds a matching Deny.
    #[test]
    fn explicit_deny_anywhere_always_wins(
        policies in all_policies(),
        target in 0usize..4,
        same_account in any::<bool>(),
        principal in caller(),
        action in prop::sample::select(&["s3:GetObject", "s3:PutObject", "iam:CreateUser"][..]),
    ) {
        let ctx = RequestContext::new(principal, action, "arn:aws:s3:::b/k", OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap());
        let deny = format!(r#"{{"Effect":"Deny","Action":"{action}","Resource":"*"}}"#);
        let mut with_deny = policies.clone();
        let role = match target {
            0 => { with_deny.identity.push(deny); PolicyRole::Identity }
            1 => {
                with_deny.resource.get_or_insert_with(Vec::new).push(with_principal(&deny, r#""Principal":"*""#));
                PolicyRole::Resource
            }
            2 => { with_deny.boundary.get_or_insert_with(Vec::new).push(deny); PolicyRole::PermissionsBoundary }
            _ => { with_deny.session.get_or_insert_with(Vec::new).push(deny); PolicyRole::Session }
        };
        let (decision, reason) = decide_all(&with_deny.parse(), same_account, &ctx);
        prop_assert_eq!(decision, Decision::ExplicitDeny);
        let Some(DenyReason::ExplicitDeny(blamed)) = reason else {
            return Err(TestCaseError::fail(format!("reason {reason:?}")));
        };
        // The blamed kind comes no later than the one we added a Deny to,
        // in the order identity, resource, boundary, session.
        let rank = |r: PolicyRole| match r {
            PolicyRole::Identity => 0,
            PolicyRole::Resource => 1,
            PolicyRole::PermissionsBoundary => 2,
            PolicyRole::Session => 3,
        };
        prop_assert!(rank(blamed) <= rank(role));
    }

    /// Adding any Deny statement (with any principal, condition, NotAction
    /// or NotResource) to a resource policy never turns a denial into an Allow.
    #[test]
    fn a_resource_deny_never_grants(
        policies in all_policies(),
        deny in resource_statement(Some(false)),
        same_account in any::<bool>(),
        base in request(),
        principal in caller(),
    ) {
        let mut ctx = RequestContext::new(principal, base.action(), base.resource(), base.now());
        for (k, v) in base.keys() {
            if !k.starts_with("aws:principal") && !k.starts_with("aws:user") {
                ctx.insert(k, v.clone());
            }
        }
        let (before, _) = decide_all(&policies.parse(), same_account, &ctx);
        let mut more = policies.clone();
        more.resource.get_or_insert_with(Vec::new).push(deny);
        let (after, reason) = decide_all(&more.parse(), same_account, &ctx);
        if before != Decision::Allow {
            prop_assert_ne!(after, Decision::Allow);
        }
        if before == Decision::ExplicitDeny {
            prop_assert_eq!(after, Decision::ExplicitDeny);
        }
        prop_assert_eq!(after == Decision::Allow, reason.is_none());
    }
}
