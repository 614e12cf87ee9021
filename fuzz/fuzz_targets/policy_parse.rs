//! Parse arbitrary bytes as every policy kind; whatever parses must evaluate,
//! and the traced decision must equal the fast one.
//!
//! Run: `cd fuzz && cargo +nightly fuzz run policy_parse -- -max_total_time=300`

#![no_main]

use irsa_policy::{
    evaluate, evaluate_with_trace, Policy, PolicyKind, PolicySet, PolicySource, RequestContext,
    RequestPrincipal,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ctx = RequestContext::new(
        RequestPrincipal::user(
            "arn:aws:iam::123456789012:user/Bob",
            "123456789012",
            "Bob",
            "AIDABOBBOBBOBBOBBOB",
        ),
        "s3:GetObject",
        "arn:aws:s3:::bucket/key",
        time::OffsetDateTime::UNIX_EPOCH,
    )
    .with("aws:SourceIp", "10.1.2.3")
    .with("aws:TagKeys", vec!["a", "b"]);
    for kind in [
        PolicyKind::Identity,
        PolicyKind::Trust,
        PolicyKind::Resource,
        PolicyKind::PermissionsBoundary,
        PolicyKind::Session,
    ] {
        let Ok(policy) = Policy::parse_bytes(data, kind) else {
            continue;
        };
        let src = [PolicySource::new("fuzz", &policy)];
        let set = match kind {
            PolicyKind::Trust | PolicyKind::Resource => PolicySet {
                resource: Some(src[0]),
                ..PolicySet::default()
            },
            _ => PolicySet::identity(&src),
        };
        let fast = evaluate(&ctx, &set);
        let traced = evaluate_with_trace(&ctx, &set);
        assert_eq!(fast, traced.decision);
        let _ = traced.explain();
    }
});
