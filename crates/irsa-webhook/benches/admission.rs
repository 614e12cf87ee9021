//! Admission reviews per second through the handler function (no network).

use std::collections::BTreeMap;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use irsa_webhook::{review, AdmissionState, Metrics, MutationConfig, StaticLookup};

fn bench(c: &mut Criterion) {
    let fixture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/admission_v1_pod.json"
    ))
    .expect("fixture");
    let mut annotations = BTreeMap::new();
    annotations.insert(
        "eks.amazonaws.com/role-arn".to_owned(),
        "arn:aws:iam::123456789012:role/app".to_owned(),
    );
    let state = AdmissionState {
        config: Arc::new(MutationConfig {
            region: Some("us-west-2".into()),
            sts_endpoint_url: Some("https://irsa.irsa-system.svc:8443".into()),
            ..MutationConfig::default()
        }),
        lookup: Arc::new(StaticLookup::new().with("default", "app", annotations)),
        metrics: Arc::new(Metrics::new()),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("admission");
    group.throughput(Throughput::Elements(1));
    group.bench_function("v1_pod_review_mutated", |b| {
        b.iter(|| {
            let answer = runtime.block_on(review(&state, Some("application/json"), &fixture));
            assert_eq!(answer.status, http::StatusCode::OK);
            answer
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
