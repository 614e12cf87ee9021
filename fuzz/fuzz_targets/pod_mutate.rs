//! The pure pod mutation (`irsa_webhook::mutate`) on arbitrary pod JSON and
//! ServiceAccount settings.
//!
//! Input: byte 0 picks the ServiceAccount settings, the rest is the pod JSON.
//! Invariants:
//! - no panic; a skipped pod has a reason, a mutated one has none;
//! - the patch applies cleanly to the pod it was computed for;
//! - mutation is idempotent: the patched pod needs no further patch
//!   (kube-apiserver may call the webhook again on reinvocation).

#![no_main]

#[path = "webhook_common.rs"]
mod webhook_common;

use irsa_webhook::{mutate, ServiceAccountConfig, SkipReason};
use libfuzzer_sys::fuzz_target;

fn service_account(selector: u8) -> ServiceAccountConfig {
    let pick = |bit: u8, value: &str| (selector & bit != 0).then(|| value.to_owned());
    ServiceAccountConfig {
        role_arn: Some(if selector & 0x80 != 0 {
            "arn:aws:iam::123:user/nope".to_owned()
        } else {
            webhook_common::ROLE.to_owned()
        }),
        audience: pick(0x01, "irsa"),
        sts_regional_endpoints: pick(
            0x02,
            if selector & 0x40 != 0 {
                "maybe"
            } else {
                "false"
            },
        ),
        token_expiration: pick(
            0x04,
            if selector & 0x40 != 0 {
                "tomorrow"
            } else {
                "7200"
            },
        ),
        sts_endpoint_url: pick(0x08, "https://irsa.team:8443"),
        s3_endpoint_url: pick(
            0x10,
            if selector & 0x20 != 0 {
                "ftp://x"
            } else {
                "https://s3.team"
            },
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    let [selector, json @ ..] = data else {
        return;
    };
    let Ok(pod) = serde_json::from_slice::<serde_json::Value>(json) else {
        return;
    };
    let sa = service_account(*selector);
    let config = webhook_common::config();
    let outcome = mutate(&pod, &sa, &config);
    let Some(patch) = outcome.patch else {
        assert!(outcome.skipped.is_some(), "no patch and no reason");
        return;
    };
    assert!(outcome.skipped.is_none());
    let mut patched = pod.clone();
    json_patch::patch(&mut patched, &patch).expect("patch must apply to its pod");
    let again = mutate(&patched, &sa, &config);
    assert!(
        again.patch.is_none() && again.skipped == Some(SkipReason::AlreadyMutated),
        "mutating the mutated pod again changes it: {:?}",
        again.patch
    );
});
