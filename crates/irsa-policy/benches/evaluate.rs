//! Evaluations per second: a simple one-statement case, the IRSA trust
//! check, and a realistic role (5 policies, 30 statements, 10 conditions).

#![allow(clippy::unwrap_used, missing_docs)] // benchmark setup

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use irsa_policy::{
    evaluate, evaluate_with_trace, Decision, Policy, PolicyKind, PolicySet, PolicySource,
    RequestContext, RequestPrincipal,
};
use time::OffsetDateTime;

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()
}

fn bob() -> RequestPrincipal {
    RequestPrincipal::user(
        "arn:aws:iam::123456789012:user/Bob",
        "123456789012",
        "Bob",
        "AIDABOBBOBBOBBOBBOB",
    )
}

/// Four identity policies (26 statements) and a boundary (4 statements);
/// 10 condition entries in all; the granting statement is the last one.
fn realistic() -> (Vec<Policy>, Policy) {
    let mut identity = Vec::new();
    let services = ["ec2", "dynamodb", "sqs", "sns", "lambda", "logs", "kms"];
    let mut cond_left = 8;
    for p in 0..4 {
        let mut stmts = Vec::new();
        for s in 0..6 {
            let svc = services[(p * 6 + s) % services.len()];
            let mut st = format!(
                r#"{{"Sid":"P{p}S{s}","Effect":"Allow","Action":["{svc}:Describe*","{svc}:Get*","{svc}:List*"],"Resource":"arn:aws:{svc}:us-east-1:123456789012:res-{p}-{s}/*""#
            );
            if cond_left > 0 && s % 2 == 0 {
                cond_left -= 1;
                st.push_str(r#","Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}"#);
            }
            st.push('}');
            stmts.push(st);
        }
        if p == 3 {
            stmts.push(r#"{"Sid":"DenyInsecure","Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#.to_owned());
            stmts.push(r#"{"Sid":"Home","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::corp-data/home/${aws:username}/*","Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.0.2.0/24"]}}}"#.to_owned());
        }
        identity.push(
            Policy::parse_with_limit(
                &format!(
                    r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
                    stmts.join(",")
                ),
                PolicyKind::Identity,
                irsa_policy::SizeLimit::Unlimited,
            )
            .unwrap(),
        );
    }
    let boundary = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[
          {"Effect":"Allow","Action":["ec2:*","dynamodb:*"],"Resource":"*"},
          {"Effect":"Allow","Action":["sqs:*","sns:*"],"Resource":"*"},
          {"Effect":"Deny","Action":"iam:*","Resource":"*"},
          {"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::corp-data/*"}]}"#,
        PolicyKind::PermissionsBoundary,
    )
    .unwrap();
    (identity, boundary)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("evaluate");
    g.throughput(Throughput::Elements(1));

    let simple = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
        PolicyKind::Identity,
    )
    .unwrap();
    let simple_src = [PolicySource::new("simple", &simple)];
    let simple_set = PolicySet::identity(&simple_src);
    let ctx = RequestContext::new(bob(), "s3:GetObject", "arn:aws:s3:::b/key", now());
    assert_eq!(evaluate(&ctx, &simple_set), Decision::Allow);
    g.bench_function("simple", |b| {
        b.iter(|| evaluate(black_box(&ctx), black_box(&simple_set)));
    });

    let provider = "arn:aws:iam::123456789012:oidc-provider/oidc.example.com/id/ABC";
    let trust = Policy::parse(
        &format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"Federated":"{provider}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"oidc.example.com/id/ABC:aud":"sts.amazonaws.com","oidc.example.com/id/ABC:sub":"system:serviceaccount:default:app"}}}}}}}}"#
        ),
        PolicyKind::Trust,
    )
    .unwrap();
    let trust_set = PolicySet::trust(PolicySource::new("trust", &trust), true);
    let web = RequestContext::new(
        RequestPrincipal::web_identity(provider, "123456789012"),
        "sts:AssumeRoleWithWebIdentity",
        "arn:aws:iam::123456789012:role/app",
        now(),
    )
    .with("oidc.example.com/id/ABC:aud", "sts.amazonaws.com")
    .with(
        "oidc.example.com/id/ABC:sub",
        "system:serviceaccount:default:app",
    );
    assert_eq!(evaluate(&web, &trust_set), Decision::Allow);
    g.bench_function("irsa_trust", |b| {
        b.iter(|| evaluate(black_box(&web), black_box(&trust_set)));
    });

    let (identity, boundary) = realistic();
    let total: usize =
        identity.iter().map(|p| p.statements.len()).sum::<usize>() + boundary.statements.len();
    assert_eq!(total, 30);
    let ids: Vec<PolicySource<'_>> = identity
        .iter()
        .map(|p| PolicySource::new("identity", p))
        .collect();
    let set = PolicySet {
        identity: &ids,
        permissions_boundary: Some(PolicySource::new("boundary", &boundary)),
        ..PolicySet::default()
    };
    let ctx = RequestContext::new(
        bob(),
        "s3:PutObject",
        "arn:aws:s3:::corp-data/home/Bob/notes.txt",
        now(),
    )
    .with("aws:SecureTransport", true)
    .with("aws:SourceIp", "10.20.30.40")
    .with("aws:RequestedRegion", "us-east-1");
    assert_eq!(evaluate(&ctx, &set), Decision::Allow);
    g.bench_function("realistic_role", |b| {
        b.iter(|| evaluate(black_box(&ctx), black_box(&set)));
    });
    g.bench_function("realistic_role_with_trace", |b| {
        b.iter(|| evaluate_with_trace(black_box(&ctx), black_box(&set)));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
