//! S3 gateway request classification (`irsa_s3::classify`): addressing
//! (path-style and virtual-hosted), operation selection from method, query
//! and headers, and the IAM checks it derives; with the bodies the gateway
//! parses before authorizing (DeleteObjects, PutObjectTagging).
//!
//! Input: an HTTP request as text (see `http_text.rs`); the `Host` header
//! is the host.
//! Invariants:
//! - no panic; a refusal is a 4xx or 501, never a 500;
//! - a classified request yields its IAM checks (for DeleteObjects and
//!   PutObjectTagging once the body is parsed), each on an `s3:` action and
//!   an S3 ARN of the addressed bucket or the copy source (or `*`), at
//!   least one per request.

#![no_main]

#[path = "http_text.rs"]
mod http_text;

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use irsa_s3::{
    classify, parse_tagging_xml, AddressingConfig, AuthContext, AuthType, DeleteObjectsRequest,
    Operation, RequestInput, S3Error,
};
use libfuzzer_sys::fuzz_target;

fn check_refusal(error: &S3Error) {
    let status = error.status().as_u16();
    assert!((400..500).contains(&status) || status == 501, "{error:?}");
    let _ = error.to_xml("REQ", "HOST");
}

fuzz_target!(|data: &[u8]| {
    let text = http_text::parse_http_text(data);
    let Ok(method) = Method::from_bytes(text.method.as_bytes()) else {
        return;
    };
    let mut headers = HeaderMap::new();
    for (name, value) in &text.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    let host = headers.get("host").and_then(|h| h.to_str().ok());
    let config = AddressingConfig::new(["s3.example.com", "localhost:3900"]);
    let input = RequestInput {
        method: &method,
        host,
        path: &text.path,
        query: (!text.query.is_empty()).then_some(text.query.as_str()),
        headers: &headers,
    };
    let mut request = match classify(&config, &input) {
        Ok(request) => request,
        Err(error) => {
            check_refusal(&error);
            return;
        }
    };
    let ctx = AuthContext {
        auth_type: Some(AuthType::Header),
        tls_version: Some("1.3".to_owned()),
        signature_age_ms: Some(1000),
        resource_account: None,
    };
    let checks = match request.operation {
        Operation::DeleteObjects => match DeleteObjectsRequest::parse(text.body) {
            Ok(body) => {
                let checks = request
                    .delete_objects_authorization(&ctx, &body)
                    .expect("a parsed DeleteObjects body is authorizable");
                assert_eq!(checks.len(), body.objects.len());
                checks
            }
            Err(error) => {
                check_refusal(&error);
                return;
            }
        },
        Operation::PutObjectTagging => match parse_tagging_xml(text.body) {
            Ok(tags) => {
                request.attach_tagging_body(tags);
                request.authorization(&ctx).expect("tagging body attached")
            }
            Err(error) => {
                check_refusal(&error);
                return;
            }
        },
        _ => request
            .authorization(&ctx)
            .expect("a classified request is authorizable"),
    };
    assert!(
        !checks.is_empty(),
        "{:?} has no IAM check",
        request.operation
    );
    for check in &checks {
        assert!(check.action.starts_with("s3:"), "{}", check.action);
        assert!(
            check.resource == "*" || check.resource.starts_with("arn:aws:s3:::"),
            "{}",
            check.resource
        );
        if let (Some(bucket), true) = (&request.bucket, check.resource != "*") {
            // Copies also check the source object.
            let source = request.copy_source.as_ref().map(|s| s.bucket.to_string());
            let on_bucket = |name: &str| {
                let arn = format!("arn:aws:s3:::{name}");
                check.resource == arn || check.resource.starts_with(&format!("{arn}/"))
            };
            assert!(
                on_bucket(bucket.as_str()) || source.as_deref().is_some_and(on_bucket),
                "check on {} for a request to bucket {bucket}",
                check.resource
            );
        }
    }
    let _ = request.object();
});
