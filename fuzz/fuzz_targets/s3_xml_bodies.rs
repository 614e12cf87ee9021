//! The S3 documents the gateway reads from clients and from the upstream:
//! the DeleteObjects `<Delete>` body, the upstream `<DeleteResult>`,
//! `<Tagging>` bodies and the `x-amz-tagging` header, `x-amz-copy-source`,
//! and bucket policy JSON (policy status).
//!
//! Input: the body, given to every parser.
//! Invariants:
//! - no panic; refusals are 4xx (an upstream body that is not a
//!   DeleteResult is the documented 500);
//! - DeleteObjects: the body re-rendered for the upstream (`to_xml`) parses
//!   to exactly the parsed request, so the upstream is asked to delete
//!   exactly the keys (and versions) that were authorized; a subset keeps
//!   exactly the chosen entries;
//! - tagging header, copy source: a re-encoded parse result parses to the
//!   same value.

#![no_main]

use irsa_s3::{
    is_public_policy, merge_delete_result, parse_tagging_header, parse_tagging_xml, CopySource,
    DeleteObjectsRequest, S3Error,
};
use libfuzzer_sys::fuzz_target;

fn check_refusal(error: &S3Error) {
    let status = error.status().as_u16();
    assert!((400..500).contains(&status), "{error:?}");
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    match DeleteObjectsRequest::parse(data) {
        Ok(request) => {
            let forwarded = request.to_xml(|_| true);
            let again = DeleteObjectsRequest::parse(forwarded.as_bytes())
                .expect("the forwarded body must parse");
            assert_eq!(again, request, "forwarded body asks for something else");
            if request.objects.len() > 1 {
                let odd = request.to_xml(|i| i % 2 == 1);
                let subset = DeleteObjectsRequest::parse(odd.as_bytes()).expect("subset parses");
                let expected: Vec<_> = request.objects.iter().skip(1).step_by(2).cloned().collect();
                assert_eq!(subset.objects, expected);
            }
            let denied: Vec<_> = request.objects.iter().collect();
            merge_delete_result(None, &denied).expect("result without upstream");
        }
        Err(error) => check_refusal(&error),
    }
    let _ = merge_delete_result(Some(data), &[]);

    match parse_tagging_xml(data) {
        Ok(tags) => assert!(tags.len() <= irsa_s3::MAX_TAGS),
        Err(error) => check_refusal(&error),
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_tagging_header(text) {
        Ok(tags) => {
            let encoded: Vec<String> = tags
                .iter()
                .map(|t| format!("{}={}", encode(&t.key), encode(&t.value)))
                .collect();
            let again = parse_tagging_header(&encoded.join("&")).expect("re-encoded tags parse");
            assert_eq!(again, tags);
        }
        Err(error) => check_refusal(&error),
    }
    match CopySource::parse(text) {
        Ok(source) => {
            let mut header = format!(
                "{}/{}",
                encode(source.bucket.as_str()),
                encode(source.key.as_str())
            );
            if let Some(version) = &source.version_id {
                header.push_str("?versionId=");
                header.push_str(&encode(version));
            }
            let again = CopySource::parse(&header).expect("re-encoded copy source parses");
            assert_eq!(again, source);
        }
        Err(error) => check_refusal(&error),
    }
    if let Err(error) = is_public_policy(text) {
        check_refusal(&error);
    }
});
