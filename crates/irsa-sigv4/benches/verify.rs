//! parse + verify of a typical signed STS POST (GetCallerIdentity), signed
//! once by the real aws-sigv4 signer.

// Test code: helpers outside #[test] fns may unwrap too.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use irsa_core::SecretString;
use irsa_sigv4::{parse, verify, Payload, RequestParts};

const AK: &str = "AKIAIOSFODNN7EXAMPLE";
const SK: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const BODY: &[u8] = b"Action=GetCallerIdentity&Version=2011-06-15";

fn signed_request(now: SystemTime) -> http::Request<Vec<u8>> {
    let mut req = http::Request::builder()
        .method("POST")
        .uri("https://sts.us-east-1.amazonaws.com/")
        .header("host", "sts.us-east-1.amazonaws.com")
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .header(
            "user-agent",
            "aws-cli/2.15.0 Python/3.11.6 Linux/6.5 botocore/2.4.5",
        )
        .header("content-length", BODY.len().to_string())
        .body(BODY.to_vec())
        .unwrap();
    let identity: Identity = Credentials::new(AK, SK, None, None, "bench").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("sts")
        .time(now)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        "POST",
        req.uri().to_string(),
        req.headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.to_str().unwrap())),
        SignableBody::Bytes(BODY),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(&mut req);
    req
}

fn bench(c: &mut Criterion) {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_696_897_800);
    let req = signed_request(now);
    let secret = SecretString::new(SK);
    let mut group = c.benchmark_group("sigv4");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse+verify GetCallerIdentity POST", |b| {
        b.iter(|| {
            let mut parts = RequestParts::new(
                req.method().as_str(),
                req.uri().path(),
                req.uri().query().unwrap_or(""),
                Payload::Bytes(req.body()),
            );
            for (n, v) in req.headers() {
                parts = parts.header(n.as_str(), v.as_bytes());
            }
            let parsed = parse(black_box(&parts)).unwrap();
            verify(&parsed, &parts, &secret, now).unwrap()
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
