//! AdmissionReview (admission.k8s.io/v1 and v1beta1) decoding and answering.
//!
//! Both versions share the request/response shape the webhook uses, so one set of
//! types serves both; the response echoes the request's apiVersion, kind and uid.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cache::ServiceAccountLookup;
use crate::metrics::Metrics;
use crate::mutate::{mutate, MutationConfig, ServiceAccountConfig, SkipReason};

/// Supported AdmissionReview API versions.
pub const API_VERSIONS: [&str; 2] = ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReviewIn {
    api_version: String,
    kind: String,
    request: Option<RequestIn>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestIn {
    uid: String,
    kind: GroupVersionKind,
    #[serde(default)]
    namespace: Option<String>,
    operation: String,
    #[serde(default)]
    object: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct GroupVersionKind {
    #[serde(default)]
    group: String,
    #[serde(default)]
    kind: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ReviewOut<'a> {
    api_version: &'a str,
    kind: &'a str,
    response: ResponseOut,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ResponseOut {
    uid: String,
    allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<StatusOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
struct StatusOut {
    code: u16,
    message: String,
}

/// What the admission handler needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct AdmissionState {
    pub config: Arc<MutationConfig>,
    pub lookup: Arc<dyn ServiceAccountLookup>,
    pub metrics: Arc<Metrics>,
}

/// An HTTP answer: status, content type, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Answer {
    fn json(body: Vec<u8>) -> Self {
        Self {
            status: StatusCode::OK,
            content_type: "application/json",
            body,
        }
    }

    fn text(status: StatusCode, message: &str) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body: message.as_bytes().to_vec(),
        }
    }
}

fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
    })
}

/// Handles one `POST /mutate` body. Never panics and never returns 5xx: the
/// apiserver's failurePolicy decides what a webhook failure means, so every
/// problem the webhook can describe is answered inside an AdmissionReview.
pub async fn review(state: &AdmissionState, content_type: Option<&str>, body: &[u8]) -> Answer {
    let started = Instant::now();
    let answer = review_inner(state, content_type, body).await;
    state
        .metrics
        .duration
        .observe(started.elapsed().as_secs_f64());
    answer
}

async fn review_inner(state: &AdmissionState, content_type: Option<&str>, body: &[u8]) -> Answer {
    let metrics = &state.metrics;
    if !is_json(content_type) {
        metrics.requests.with_label_values(&["rejected"]).inc();
        return Answer::text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content type must be application/json",
        );
    }
    let review: ReviewIn = match serde_json::from_slice(body) {
        Ok(review) => review,
        Err(error) => {
            metrics.requests.with_label_values(&["error"]).inc();
            tracing::warn!(%error, "undecodable AdmissionReview");
            return denied(body, &format!("cannot decode AdmissionReview: {error}"));
        }
    };
    if !API_VERSIONS.contains(&review.api_version.as_str()) || review.kind != "AdmissionReview" {
        metrics.requests.with_label_values(&["error"]).inc();
        return denied(
            body,
            &format!(
                "unsupported {}/{}: expected AdmissionReview of {}",
                review.api_version,
                review.kind,
                API_VERSIONS.join(" or ")
            ),
        );
    }
    let Some(request) = review.request else {
        metrics.requests.with_label_values(&["error"]).inc();
        return denied(body, "AdmissionReview has no request");
    };
    let respond = |response: ResponseOut| {
        let out = ReviewOut {
            api_version: &review.api_version,
            kind: &review.kind,
            response,
        };
        Answer::json(serde_json::to_vec(&out).unwrap_or_default())
    };
    let allow = |uid: String, warnings: Vec<String>| ResponseOut {
        uid,
        allowed: true,
        patch_type: None,
        patch: None,
        status: None,
        warnings,
    };

    let is_pod = request.kind.group.is_empty() && request.kind.kind == "Pod";
    if !is_pod || request.operation != "CREATE" {
        // The webhook configuration should not send these; let them through untouched.
        metrics.requests.with_label_values(&["ignored"]).inc();
        return respond(allow(request.uid, Vec::new()));
    }
    let Some(pod) = request.object.as_ref().filter(|o| o.is_object()) else {
        metrics.requests.with_label_values(&["ignored"]).inc();
        return respond(allow(
            request.uid,
            vec!["pod identity webhook: request has no pod object; not mutated".to_owned()],
        ));
    };
    let namespace = request
        .namespace
        .clone()
        .filter(|ns| !ns.is_empty())
        .or_else(|| {
            pod.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "default".to_owned());
    let sa_name = pod
        .pointer("/spec/serviceAccountName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("default");

    // A pod with the skip label needs no lookup at all.
    let skip_label = state.config.skip_label();
    if pod
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .is_some_and(|l| l.contains_key(&skip_label))
    {
        metrics.requests.with_label_values(&["skipped"]).inc();
        metrics.skips.with_label_values(&["skip_label"]).inc();
        return respond(allow(request.uid, Vec::new()));
    }

    let annotations = match state.lookup.lookup(&namespace, sa_name).await {
        Ok(Some(annotations)) => annotations,
        Ok(None) => {
            metrics.requests.with_label_values(&["skipped"]).inc();
            metrics
                .skips
                .with_label_values(&["no_service_account"])
                .inc();
            return respond(allow(request.uid, Vec::new()));
        }
        Err(error) => {
            tracing::warn!(%error, namespace, service_account = sa_name, "ServiceAccount lookup failed");
            metrics.requests.with_label_values(&["error"]).inc();
            return respond(allow(
                request.uid,
                vec![format!(
                    "pod identity webhook: could not read ServiceAccount {namespace}/{sa_name} ({error}); pod not given AWS credentials"
                )],
            ));
        }
    };
    let sa = ServiceAccountConfig::from_annotations(&annotations, &state.config);
    let outcome = mutate(pod, &sa, &state.config);
    for warning in &outcome.warnings {
        tracing::info!(
            namespace,
            service_account = sa_name,
            warning,
            "pod mutation warning"
        );
    }
    let warnings = outcome
        .warnings
        .into_iter()
        .map(|w| format!("pod identity webhook: {w}"))
        .collect();
    let patch_json = outcome
        .patch
        .as_ref()
        .and_then(|patch| serde_json::to_vec(patch).ok());
    if let Some(patch_json) = patch_json {
        metrics.requests.with_label_values(&["mutated"]).inc();
        metrics.mutations.inc();
        tracing::debug!(namespace, service_account = sa_name, "pod mutated");
        return respond(ResponseOut {
            uid: request.uid,
            allowed: true,
            patch_type: Some("JSONPatch"),
            patch: Some(base64::engine::general_purpose::STANDARD.encode(patch_json)),
            status: None,
            warnings,
        });
    }
    let reason = outcome.skipped.map_or("unknown", SkipReason::as_str);
    metrics.requests.with_label_values(&["skipped"]).inc();
    metrics.skips.with_label_values(&[reason]).inc();
    respond(allow(request.uid, warnings))
}

/// allowed=false with a message, echoing whatever apiVersion/kind/uid can be read.
fn denied(body: &[u8], message: &str) -> Answer {
    let raw: Option<Value> = serde_json::from_slice(body).ok();
    let field = |pointer: &str| {
        raw.as_ref()
            .and_then(|v| v.pointer(pointer))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let api_version = field("/apiVersion")
        .filter(|v| API_VERSIONS.contains(&v.as_str()))
        .unwrap_or_else(|| API_VERSIONS[0].to_owned());
    let out = ReviewOut {
        api_version: &api_version,
        kind: "AdmissionReview",
        response: ResponseOut {
            uid: field("/request/uid").unwrap_or_default(),
            allowed: false,
            patch_type: None,
            patch: None,
            status: Some(StatusOut {
                code: 400,
                message: message.to_owned(),
            }),
            warnings: Vec::new(),
        },
    };
    Answer::json(serde_json::to_vec(&out).unwrap_or_default())
}
