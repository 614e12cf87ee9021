//! SigV4: the `Authorization` header and presigned `X-Amz-*` query
//! parameters of arbitrary requests, then verification with a fixed secret.
//!
//! Input: an HTTP request as text (see `http_text.rs`).
//! Invariants:
//! - parse/verify never panic; every error maps to a 4xx for STS and S3 and
//!   renders its messages;
//! - a parsed signature names an allowed service, a non-empty key id and
//!   region, a credential date equal to the request date, and signs `host`
//!   (lower-case header names);
//! - the S3 configuration parses the same credential fields.

#![no_main]

#[path = "http_text.rs"]
mod http_text;

use irsa_core::SecretString;
use irsa_sigv4::{Payload, RequestParts, SigV4Config, SigV4Error};
use libfuzzer_sys::fuzz_target;

fn check_error(error: &SigV4Error) {
    assert!((400..500).contains(&error.status()), "{error}");
    assert!((400..500).contains(&error.s3_status()), "{error}");
    assert!(!error.code().is_empty() && !error.s3_code().is_empty());
    let _ = (error.message(), error.s3_message());
}

fuzz_target!(|data: &[u8]| {
    let text = http_text::parse_http_text(data);
    let mut request = RequestParts::new(
        &text.method,
        &text.path,
        &text.query,
        Payload::Bytes(text.body),
    );
    for (name, value) in &text.headers {
        request = request.header(name, value);
    }
    let secret = SecretString::from("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_owned());
    for config in [SigV4Config::default(), SigV4Config::s3()] {
        let parsed = match config.parse(&request) {
            Ok(parsed) => parsed,
            Err(error) => {
                check_error(&error);
                continue;
            }
        };
        assert!(config
            .allowed_services
            .iter()
            .any(|s| s == parsed.service()));
        assert!(!parsed.access_key_id().is_empty());
        assert!(!parsed.region().is_empty());
        assert!(parsed.signed_headers().iter().any(|h| h == "host"));
        assert!(parsed
            .signed_headers()
            .iter()
            .all(|h| !h.is_empty() && *h == h.to_ascii_lowercase()));
        assert_eq!(parsed.scope().date.len(), 8);
        // Verify at the request's own time so the time window passes and the
        // canonical request is built.
        match config.verify(&parsed, &request, &secret, parsed.request_time()) {
            Ok(verified) => {
                assert_eq!(verified.access_key_id(), parsed.access_key_id());
                assert_eq!(verified.service(), parsed.service());
            }
            Err(error) => check_error(&error),
        }
        let deferred = RequestParts {
            payload: Payload::Deferred,
            ..request.clone()
        };
        if let Err(error) = config.verify(&parsed, &deferred, &secret, parsed.request_time()) {
            check_error(&error);
        }
    }
});
