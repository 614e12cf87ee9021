//! Requests shaped from botocore's S3 service model: each supported
//! operation, with every query parameter the model documents, classifies as
//! itself; every operation the gateway does not support is refused.
//!
//! Data: `pip install botocore`; `IRSA_TEST_BOTOCORE_DATA` is its `data`
//! directory (scripts/test exports it).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use std::io::Read;

use irsa_s3::{Operation, S3ErrorCode};
use serde_json::Value;

fn load() -> Option<Value> {
    let Ok(dir) = std::env::var("IRSA_TEST_BOTOCORE_DATA") else {
        eprintln!("SKIPPED: IRSA_TEST_BOTOCORE_DATA is not set (pip install botocore; point it at botocore/data)");
        return None;
    };
    let base = std::path::Path::new(&dir).join("s3/2006-03-01/service-2.json");
    let text = if let Ok(text) = std::fs::read_to_string(&base) {
        text
    } else {
        let gz = base.with_extension("json.gz");
        let file = std::fs::File::open(&gz).unwrap_or_else(|e| panic!("{}: {e}", gz.display()));
        let mut text = String::new();
        flate2::read::GzDecoder::new(file)
            .read_to_string(&mut text)
            .unwrap();
        text
    };
    Some(serde_json::from_str(&text).unwrap())
}

/// Builds (method, path, query, headers) for an operation from its model.
fn shape_request(model: &Value, name: &str) -> (String, String, String, Vec<(String, String)>) {
    let op = &model["operations"][name];
    let method = op["http"]["method"].as_str().unwrap().to_owned();
    let uri = op["http"]["requestUri"].as_str().unwrap();
    let (path, fixed_query) = uri.split_once('?').unwrap_or((uri, ""));
    let path = path.replace("{Bucket}", "bkt").replace("{Key+}", "dir/key");
    let mut query: Vec<String> = fixed_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    let mut headers = Vec::new();
    if let Some(input) = op["input"]["shape"].as_str() {
        let members = model["shapes"][input]["members"].as_object().unwrap();
        for member in members.values() {
            let Some(location_name) = member["locationName"].as_str() else {
                continue;
            };
            match member["location"].as_str() {
                Some("querystring")
                    if !query
                        .iter()
                        .any(|q| q.split('=').next() == Some(location_name)) =>
                {
                    let value = match location_name {
                        "list-type" => "2",
                        "partNumber" | "max-keys" | "max-parts" | "max-uploads" | "max-buckets" => {
                            "1"
                        }
                        _ => "v",
                    };
                    query.push(format!("{location_name}={value}"));
                }
                Some("header") if location_name.eq_ignore_ascii_case("x-amz-copy-source") => {
                    headers.push((location_name.to_ascii_lowercase(), "src/obj".to_owned()));
                }
                _ => {}
            }
        }
    }
    (method, path, query.join("&"), headers)
}

#[test]
fn supported_operations_classify_as_themselves() {
    let Some(model) = load() else { return };
    for op in Operation::ALL {
        let (method, path, query, headers) = shape_request(&model, op.as_str());
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let got = common::run(&method, "localhost", &path, Some(&query), &headers)
            .unwrap_or_else(|e| panic!("{op}: {method} {path}?{query}: {e}"));
        assert_eq!(got.operation, op, "{method} {path}?{query}");
    }
}

#[test]
fn other_operations_are_never_forwarded() {
    let Some(model) = load() else { return };
    let supported: Vec<&str> = Operation::ALL.iter().map(|o| o.as_str()).collect();
    let mut refused = 0;
    for name in model["operations"].as_object().unwrap().keys() {
        if supported.contains(&name.as_str()) {
            continue;
        }
        let (method, path, query, headers) = shape_request(&model, name);
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        match common::run(&method, "localhost", &path, Some(&query), &headers) {
            Err(e) => {
                assert!(
                    matches!(
                        e.code(),
                        S3ErrorCode::NotImplemented | S3ErrorCode::InvalidBucketName
                    ),
                    "{name}: {e}"
                );
                refused += 1;
            }
            Ok(request) => panic!(
                "{name} ({method} {path}?{query}) was taken for {}",
                request.operation
            ),
        }
    }
    assert!(
        refused > 50,
        "only {refused} unsupported operations checked"
    );
}
