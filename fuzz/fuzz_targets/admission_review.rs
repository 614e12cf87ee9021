//! AdmissionReview requests as kube-apiserver POSTs them to `/mutate`:
//! decoding, the ServiceAccount lookup and the pod mutation, end to end
//! through `irsa_webhook::review`.
//!
//! Input: the request body (content type `application/json`).
//! Invariants:
//! - no panic, always HTTP 200 with an AdmissionReview (the webhook never
//!   answers 5xx: failurePolicy decides what failures mean);
//! - the response echoes the request's `uid` when the body is JSON with one;
//! - a returned JSON Patch is base64 JSON that applies cleanly to the pod
//!   the request carried.

#![no_main]

#[path = "webhook_common.rs"]
mod webhook_common;

use std::sync::{Arc, LazyLock};

use base64::Engine as _;
use irsa_webhook::{review, AdmissionState, Metrics};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

static STATE: LazyLock<AdmissionState> = LazyLock::new(|| AdmissionState {
    config: Arc::new(webhook_common::config()),
    lookup: Arc::new(webhook_common::lookup()),
    metrics: Arc::new(Metrics::new()),
});

fuzz_target!(|data: &[u8]| {
    let answer = futures::executor::block_on(review(&STATE, Some("application/json"), data));
    assert_eq!(answer.status, http::StatusCode::OK);
    let out: Value = serde_json::from_slice(&answer.body).expect("answer is JSON");
    assert_eq!(out["kind"], "AdmissionReview");
    let response = &out["response"];
    assert!(response["allowed"].is_boolean());
    let request: Option<Value> = serde_json::from_slice(data).ok();
    if let Some(uid) = request
        .as_ref()
        .and_then(|r| r.pointer("/request/uid"))
        .and_then(Value::as_str)
    {
        assert_eq!(response["uid"], uid, "uid not echoed");
    }
    if let Some(patch) = response["patch"].as_str() {
        assert_eq!(response["patchType"], "JSONPatch");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(patch)
            .expect("patch is base64");
        let patch: json_patch::Patch =
            serde_json::from_slice(&bytes).expect("patch is a JSON Patch");
        // Lossy: the webhook skips fields it does not read without checking
        // their UTF-8, and what it does read (uid, object) must be valid for
        // it to answer with a patch, so replacing invalid bytes changes
        // nothing this check reads.
        let lossy: Option<Value> = serde_json::from_str(&String::from_utf8_lossy(data)).ok();
        let mut pod = lossy
            .as_ref()
            .and_then(|r| r.pointer("/request/object"))
            .cloned()
            .expect("a patch needs a pod");
        json_patch::patch(&mut pod, &patch).expect("patch must apply to the pod");
    }
});
