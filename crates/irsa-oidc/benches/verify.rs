//! Verification throughput with a warm key cache (RS256 and ES256).
#![allow(clippy::unwrap_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use irsa_core::{Clock, SystemClock, TestClock};
use irsa_oidc::{
    ObjectRef, OidcVerifier, ProviderTrust, ServiceAccountToken, SigningKey, SigningKeyType,
    VerifierConfig,
};

fn bench_verify(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let rsa = SigningKey::generate(SigningKeyType::Rsa2048).unwrap();
    let ec = SigningKey::generate(SigningKeyType::EcdsaP256).unwrap();
    let issuer = rt.block_on(common::start_issuer(common::public_keys(&[&rsa, &ec])));
    let clock = TestClock::new(SystemClock.now());
    let mut cfg = VerifierConfig {
        clock: Arc::new(clock.clone()),
        ..VerifierConfig::default()
    };
    cfg.add_ca_pem(issuer.ca_pem.as_bytes()).unwrap();
    let verifier = OidcVerifier::new(cfg).unwrap();
    let provider = ProviderTrust::new(
        &issuer.url,
        ["sts.amazonaws.com"],
        Vec::<String>::new(),
        false,
    )
    .unwrap();
    let request = ServiceAccountToken {
        issuer: issuer.url.clone(),
        audiences: vec!["sts.amazonaws.com".into()],
        namespace: "default".into(),
        service_account: ObjectRef {
            name: "app".into(),
            uid: "u1".into(),
        },
        pod: Some(ObjectRef {
            name: "p".into(),
            uid: "u2".into(),
        }),
        node: None,
        expiration_seconds: 3600,
        warn_after: None,
    };
    let mut group = c.benchmark_group("verify_warm_cache");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_secs(1));
    for (name, key) in [("RS256", &rsa), ("ES256", &ec)] {
        let token = request.mint(key, clock.unix_seconds()).unwrap();
        rt.block_on(verifier.verify(&token, &provider)).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| rt.block_on(verifier.verify(&token, &provider)).unwrap());
        });
    }
    group.finish();
    assert_eq!(
        issuer.jwks_hits(),
        1,
        "benchmark must run from a warm cache"
    );
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
