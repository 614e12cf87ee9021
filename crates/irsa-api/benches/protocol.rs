//! Cost of the protocol layer on the AssumeRoleWithWebIdentity path:
//! decode + validate the form body, seal and open a session token, render
//! the XML response.

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion};
use irsa_api::protocol::response::{credentials_node, to_xml};
use irsa_api::session_token::{open, seal, SessionPrincipal};
use irsa_api::{decode_request, KeyRing, Node, QueryRequest, Service, SessionClaims, SessionKey};
use irsa_core::{SecretBytes, SecretString};
use time::macros::datetime;

fn body() -> String {
    let token = format!(
        "eyJhbGciOiJSUzI1NiIsImtpZCI6ImFiYyJ9.{}.{}",
        "e".repeat(600),
        "s".repeat(342)
    );
    format!(
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fapp\
         &RoleSessionName=botocore-session-1795442400&DurationSeconds=3600&WebIdentityToken={token}"
    )
}

fn claims() -> SessionClaims {
    SessionClaims::new(
        "ASIAEXAMPLEEXAMPLEXX".into(),
        SecretString::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        SessionPrincipal::AssumedRole {
            role_arn: "arn:aws:iam::123456789012:role/app".into(),
            role_id: "AROAEXAMPLEEXAMPLEXX".into(),
            session_name: "botocore-session-1795442400".into(),
        },
        "123456789012".parse().expect("account"),
        1_795_442_400,
        1_795_446_000,
    )
}

fn bench(c: &mut Criterion) {
    let body = body();
    c.bench_function("decode AssumeRoleWithWebIdentity", |b| {
        b.iter(|| {
            let q = QueryRequest::decode(None, Some(black_box(body.as_bytes()))).expect("query");
            decode_request(&q, None).expect("request")
        });
    });
    c.bench_function("parse form body only", |b| {
        b.iter(|| QueryRequest::decode(None, Some(black_box(body.as_bytes()))).expect("query"));
    });
    let q = QueryRequest::decode(None, Some(body.as_bytes())).expect("query");
    c.bench_function("validate AssumeRoleWithWebIdentity only", |b| {
        b.iter(|| decode_request(black_box(&q), None).expect("request"));
    });
    let ring = KeyRing::new(vec![
        SessionKey::new("k1", SecretBytes::new(vec![7; 32])).expect("key")
    ])
    .expect("ring");
    let claims = claims();
    c.bench_function("seal session token", |b| {
        b.iter(|| seal(black_box(&claims), ring.current()).expect("seal"));
    });
    let token = seal(&claims, ring.current()).expect("seal");
    let now = UNIX_EPOCH + Duration::from_secs(1_795_442_500);
    c.bench_function("open session token", |b| {
        b.iter(|| open(black_box(&token), &ring, now).expect("open"));
    });
    let result = Node::object()
        .with(
            "Credentials",
            credentials_node(
                "ASIAEXAMPLEEXAMPLEXX",
                &SecretString::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                SecretString::new(token.clone()),
                datetime!(2026-11-23 15:00:00 UTC),
            ),
        )
        .with(
            "SubjectFromWebIdentityToken",
            "system:serviceaccount:default:app",
        )
        .with(
            "AssumedRoleUser",
            Node::object()
                .with("AssumedRoleId", "AROAEXAMPLEEXAMPLEXX:s")
                .with("Arn", "arn:aws:sts::123456789012:assumed-role/app/s"),
        )
        .with(
            "Provider",
            "arn:aws:iam::123456789012:oidc-provider/issuer.local",
        )
        .with("Audience", "sts.amazonaws.com");
    c.bench_function("render AssumeRoleWithWebIdentity XML", |b| {
        b.iter(|| {
            to_xml(
                Service::Sts,
                "AssumeRoleWithWebIdentity",
                Some(black_box(&result)),
                "c6104cbe-af31-11e0-8154-cbc7ccf896c7",
            )
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
