//! Every supported operation: method/path/query/headers → operation,
//! actions, resources and condition keys; and what must never be forwarded.

#![allow(clippy::unwrap_used, clippy::type_complexity)] // test helpers and tables

mod common;

use common::{full_context, run, run_case, CASES};
use irsa_s3::{
    merge_delete_result, parse_tagging_xml, AuthContext, BodyHandling, ConditionValues,
    DeleteObjectsRequest, Operation, S3ErrorCode, Tag,
};

#[test]
fn every_operation_is_in_the_table() {
    for op in Operation::ALL {
        let covered = CASES.iter().any(|c| c.operation == op) || op == Operation::DeleteObjects;
        assert!(covered, "{op} has no table case");
    }
}

type Row<'a> = (&'a str, String, Vec<(String, Vec<String>)>);

fn sorted(rows: Vec<Row<'_>>) -> Vec<Row<'_>> {
    rows.into_iter()
        .map(|(a, r, mut k)| {
            k.sort();
            (a, r, k)
        })
        .collect()
}

#[test]
fn table_operations_actions_resources_and_keys() {
    for case in CASES {
        let mut request = run_case(case).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(request.operation, case.operation, "{}", case.name);
        let checks = common::checks_of(&mut request, &AuthContext::default());
        let got: Vec<_> = checks
            .iter()
            .map(|c| {
                let keys: Vec<(String, Vec<String>)> = c
                    .condition_keys
                    .iter()
                    .map(|(k, v)| (k.clone(), v.values().to_vec()))
                    .collect();
                (c.action, c.resource.clone(), keys)
            })
            .collect();
        let want: Vec<_> = case
            .checks
            .iter()
            .map(|(action, resource, keys)| {
                let keys: Vec<(String, Vec<String>)> = keys
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
                    .collect();
                (*action, (*resource).to_owned(), keys)
            })
            .collect();
        // Key order is not part of the contract; compare sorted.
        assert_eq!(sorted(got), sorted(want), "{}", case.name);
    }
}

#[test]
fn connection_keys_are_added_to_every_check() {
    for case in CASES {
        let mut request = run_case(case).unwrap();
        for check in common::checks_of(&mut request, &full_context()) {
            for key in [
                "s3:authType",
                "s3:signatureversion",
                "s3:TlsVersion",
                "s3:signatureAge",
                "s3:ResourceAccount",
            ] {
                assert!(
                    check.condition(key).is_some(),
                    "{}: {} lacks {key}",
                    case.name,
                    check.action
                );
            }
            assert_eq!(
                check.condition("s3:authType"),
                Some(&ConditionValues::Single("REST-HEADER".into()))
            );
        }
    }
}

#[test]
fn tag_keys_are_multi_valued() {
    let mut request = run(
        "PUT",
        "localhost",
        "/bkt/k",
        None,
        &[("x-amz-tagging", "a=1&b=2")],
    )
    .unwrap();
    let checks = common::checks_of(&mut request, &AuthContext::default());
    assert_eq!(
        checks[0].condition("s3:RequestObjectTagKeys"),
        Some(&ConditionValues::Multi(vec!["a".into(), "b".into()]))
    );
    assert_eq!(
        request.request_tags,
        Some(vec![Tag::new("a", "1"), Tag::new("b", "2")])
    );
}

#[test]
fn existing_object_tags_are_offered_where_aws_defines_them() {
    let cases: &[(
        &str,
        &str,
        Option<&str>,
        &[(&str, &str)],
        &[(&str, Option<&str>)],
    )] = &[
        (
            "GET",
            "/bkt/k",
            None,
            &[],
            &[("s3:GetObject", Some("bkt/k"))],
        ),
        (
            "GET",
            "/bkt/k",
            Some("tagging"),
            &[],
            &[("s3:GetObjectTagging", Some("bkt/k"))],
        ),
        ("DELETE", "/bkt/k", None, &[], &[("s3:DeleteObject", None)]),
        (
            "PUT",
            "/dst/k",
            None,
            &[("x-amz-copy-source", "src/s")],
            &[("s3:GetObject", Some("src/s")), ("s3:PutObject", None)],
        ),
        ("GET", "/bkt", None, &[], &[("s3:ListBucket", None)]),
    ];
    for (method, path, query, headers, expected) in cases {
        let mut request = run(method, "localhost", path, *query, headers).unwrap();
        let checks = common::checks_of(&mut request, &AuthContext::default());
        let got: Vec<_> = checks
            .iter()
            .map(|c| {
                (
                    c.action,
                    c.existing_object_tags
                        .as_ref()
                        .map(|o| format!("{}/{}", o.bucket, o.key)),
                )
            })
            .collect();
        let want: Vec<_> = expected
            .iter()
            .map(|(a, o)| (*a, o.map(str::to_owned)))
            .collect();
        assert_eq!(got, want, "{method} {path}");
    }
    // And adding them puts s3:ExistingObjectTag/<k> on the check.
    let mut request = run("GET", "localhost", "/bkt/k", Some("versionId=v1"), &[]).unwrap();
    let mut checks = common::checks_of(&mut request, &AuthContext::default());
    assert_eq!(
        checks[0]
            .existing_object_tags
            .as_ref()
            .unwrap()
            .version_id
            .as_deref(),
        Some("v1")
    );
    checks[0].add_existing_object_tags(&[Tag::new("class", "secret")]);
    assert_eq!(
        checks[0].condition("s3:ExistingObjectTag/class"),
        Some(&ConditionValues::Single("secret".into()))
    );
}

#[test]
fn delete_objects_is_authorized_per_key() {
    let request = run(
        "POST",
        "localhost",
        "/bkt",
        Some("delete"),
        &[
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ("content-md5", "x"),
        ],
    )
    .unwrap();
    assert_eq!(request.operation, Operation::DeleteObjects);
    assert_eq!(
        request.operation.body_handling(),
        BodyHandling::ParseDeleteObjects
    );
    // Never a vacuous "nothing to check".
    assert_eq!(
        request
            .authorization(&AuthContext::default())
            .unwrap_err()
            .code(),
        S3ErrorCode::InternalError
    );
    let body = DeleteObjectsRequest::parse(
        b"<Delete><Object><Key>public/a</Key></Object><Object><Key>secret/b</Key><VersionId>v1</VersionId></Object><Quiet>true</Quiet></Delete>",
    )
    .unwrap();
    let checks = request
        .delete_objects_authorization(&full_context(), &body)
        .unwrap();
    let got: Vec<_> = checks
        .iter()
        .map(|c| (c.action, c.resource.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("s3:DeleteObject", "arn:aws:s3:::bkt/public/a"),
            ("s3:DeleteObjectVersion", "arn:aws:s3:::bkt/secret/b"),
        ]
    );
    assert_eq!(
        checks[1].condition("s3:VersionId"),
        Some(&ConditionValues::Single("v1".into()))
    );
    assert_eq!(
        checks[0].condition("s3:x-amz-content-sha256"),
        Some(&ConditionValues::Single("UNSIGNED-PAYLOAD".into()))
    );
    // Suppose the second was denied: forward the first only, merge the denial.
    let forwarded = body.to_xml(|i| i == 0);
    assert!(forwarded.contains("<Key>public/a</Key>") && !forwarded.contains("secret"));
    let upstream = b"<DeleteResult><Deleted><Key>public/a</Key></Deleted></DeleteResult>";
    let merged = merge_delete_result(Some(upstream), &[&body.objects[1]]).unwrap();
    assert!(merged.ends_with("<Deleted><Key>public/a</Key></Deleted><Error><Key>secret/b</Key><VersionId>v1</VersionId><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>"));
    // Only DeleteObjects requests can be authorized per key.
    let get = run("GET", "localhost", "/bkt/k", None, &[]).unwrap();
    assert!(get
        .delete_objects_authorization(&AuthContext::default(), &body)
        .is_err());
}

#[test]
fn put_object_tagging_needs_its_body_first() {
    let mut request = run("PUT", "localhost", "/bkt/k", Some("tagging"), &[]).unwrap();
    assert_eq!(
        request.operation.body_handling(),
        BodyHandling::ParseTagging
    );
    assert_eq!(
        request
            .authorization(&AuthContext::default())
            .unwrap_err()
            .code(),
        S3ErrorCode::InternalError
    );
    let tags = parse_tagging_xml(
        b"<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>",
    )
    .unwrap();
    request.attach_tagging_body(tags);
    let checks = request.authorization(&AuthContext::default()).unwrap();
    assert_eq!(
        checks[0].condition("s3:RequestObjectTag/k"),
        Some(&ConditionValues::Single("v".into()))
    );
}

#[test]
fn bucket_policy_operations_are_answered_locally() {
    for op in Operation::ALL {
        let local = matches!(
            op,
            Operation::PutBucketPolicy
                | Operation::GetBucketPolicy
                | Operation::DeleteBucketPolicy
                | Operation::GetBucketPolicyStatus
        );
        assert_eq!(op.is_answered_by_gateway(), local, "{op}");
    }
    assert_eq!(
        Operation::PutBucketPolicy.body_handling(),
        BodyHandling::BucketPolicy
    );
    assert_eq!(Operation::PutObject.body_handling(), BodyHandling::Forward);
}

#[test]
fn unsupported_requests_are_not_implemented() {
    let cases: &[(&str, &str, Option<&str>, &[(&str, &str)])] = &[
        ("GET", "/bkt", Some("acl"), &[]),
        ("PUT", "/bkt", Some("acl"), &[]),
        ("GET", "/bkt", Some("cors"), &[]),
        ("PUT", "/bkt", Some("lifecycle"), &[]),
        ("GET", "/bkt", Some("versioning"), &[]),
        ("PUT", "/bkt", Some("versioning"), &[]),
        ("GET", "/bkt", Some("tagging"), &[]),
        ("GET", "/bkt", Some("website"), &[]),
        ("GET", "/bkt", Some("encryption"), &[]),
        ("GET", "/bkt", Some("policy&acl"), &[]),
        ("GET", "/bkt", Some("list-type=2&acl"), &[]),
        ("GET", "/bkt/k", Some("acl"), &[]),
        ("PUT", "/bkt/k", Some("acl"), &[]),
        ("GET", "/bkt/k", Some("attributes"), &[]),
        ("GET", "/bkt/k", Some("torrent"), &[]),
        ("GET", "/bkt/k", Some("retention"), &[]),
        ("PUT", "/bkt/k", Some("legal-hold"), &[]),
        ("POST", "/bkt/k", Some("restore"), &[]),
        ("POST", "/bkt/k", Some("select&select-type=2"), &[]),
        ("POST", "/bkt/k", None, &[]),
        ("POST", "/bkt", None, &[]),
        ("GET", "/bkt/k", Some("unknown-param=1"), &[]),
        ("PUT", "/bkt/k", Some("uploads"), &[]),
        ("DELETE", "/bkt/k", Some("uploads"), &[]),
        ("PATCH", "/bkt/k", None, &[]),
        ("OPTIONS", "/bkt/k", None, &[("origin", "https://x")]),
        ("PUT", "/", None, &[]),
        ("DELETE", "/", None, &[]),
        ("POST", "/", None, &[]),
    ];
    for (method, path, query, headers) in cases {
        let err = run(method, "localhost", path, *query, headers).unwrap_err();
        assert_eq!(
            err.code(),
            S3ErrorCode::NotImplemented,
            "{method} {path}?{query:?}"
        );
        assert_eq!(err.status().as_u16(), 501);
    }
}

#[test]
fn bad_requests() {
    let cases: &[(&str, &str, Option<&str>, &[(&str, &str)], S3ErrorCode)] = &[
        (
            "GET",
            "/Bad_Bucket/k",
            None,
            &[],
            S3ErrorCode::InvalidBucketName,
        ),
        (
            "GET",
            "/bkt/k",
            Some("versionId="),
            &[],
            S3ErrorCode::InvalidArgument,
        ),
        (
            "GET",
            "/bkt/k",
            Some("versionId=a&versionId=b"),
            &[],
            S3ErrorCode::InvalidArgument,
        ),
        (
            "GET",
            "/bkt",
            Some("list-type=3"),
            &[],
            S3ErrorCode::InvalidArgument,
        ),
        (
            "PUT",
            "/bkt/k",
            Some("partNumber=1"),
            &[],
            S3ErrorCode::InvalidRequest,
        ),
        (
            "PUT",
            "/bkt/k",
            Some("uploadId=u"),
            &[],
            S3ErrorCode::InvalidRequest,
        ),
        (
            "PUT",
            "/bkt/k",
            None,
            &[("x-amz-copy-source", "nokey")],
            S3ErrorCode::InvalidArgument,
        ),
        (
            "PUT",
            "/bkt/k",
            None,
            &[("x-amz-copy-source", "/src/")],
            S3ErrorCode::InvalidArgument,
        ),
        (
            "PUT",
            "/bkt/k",
            None,
            &[("x-amz-copy-source", "Bad_Bucket/k")],
            S3ErrorCode::InvalidArgument,
        ),
        (
            "PUT",
            "/bkt/k",
            None,
            &[("x-amz-copy-source", "src/k?acl")],
            S3ErrorCode::InvalidArgument,
        ),
        (
            "PUT",
            "/bkt/k",
            None,
            &[("x-amz-copy-source", "src/k%zz")],
            S3ErrorCode::InvalidArgument,
        ),
        (
            "PUT",
            "/bkt/k",
            None,
            &[("x-amz-tagging", "a=1&a=2")],
            S3ErrorCode::InvalidTag,
        ),
        (
            "PUT",
            "/bkt/k",
            None,
            &[
                ("x-amz-copy-source", "src/a"),
                ("x-amz-copy-source", "src/b"),
            ],
            S3ErrorCode::InvalidArgument,
        ),
        (
            "PUT",
            "/bkt/k",
            Some("x-amz-acl=private"),
            &[("x-amz-acl", "public-read")],
            S3ErrorCode::InvalidArgument,
        ),
    ];
    for (method, path, query, headers, code) in cases {
        let err = run(method, "localhost", path, *query, headers).unwrap_err();
        assert_eq!(err.code(), *code, "{method} {path}?{query:?} {headers:?}");
    }
    let long_key = format!("/bkt/{}", "k".repeat(1025));
    assert_eq!(
        run("GET", "localhost", &long_key, None, &[])
            .unwrap_err()
            .code(),
        S3ErrorCode::KeyTooLongError
    );
}

#[test]
fn keys_and_copy_sources_are_byte_exact() {
    let keys = [
        ("a%20b", "a b"),
        ("a+b", "a+b"),
        ("%7Etilde%3Deq", "~tilde=eq"),
        ("a%2Fb", "a/b"),
        ("..%2F..%2Fetc", "../../etc"),
        ("%E2%9C%93%20ok", "\u{2713} ok"),
    ];
    for (raw, key) in keys {
        let request = run("GET", "localhost", &format!("/bkt/{raw}"), None, &[]).unwrap();
        assert_eq!(request.key.as_ref().unwrap().as_str(), key, "{raw}");
        let copy = run(
            "PUT",
            "localhost",
            "/dst/k",
            None,
            &[("x-amz-copy-source", &format!("src/{raw}"))],
        )
        .unwrap();
        assert_eq!(
            copy.copy_source.as_ref().unwrap().key.as_str(),
            key,
            "copy {raw}"
        );
    }
    let exact = format!("/bkt/{}", "%C3%A9".repeat(512));
    let request = run("GET", "localhost", &exact, None, &[]).unwrap();
    assert_eq!(request.key.unwrap().as_str().len(), 1024);
}

#[test]
fn from_http_parts() {
    let request = http::Request::builder()
        .method("GET")
        .uri("/k%20x?tagging")
        .header("host", "bkt.s3.example.com:8443")
        .body(())
        .unwrap();
    let (parts, ()) = request.into_parts();
    let input = irsa_s3::RequestInput::from_parts(&parts);
    let classified = irsa_s3::classify(&common::config(), &input).unwrap();
    assert_eq!(classified.operation, Operation::GetObjectTagging);
    assert_eq!(classified.bucket.unwrap().as_str(), "bkt");
    assert_eq!(classified.key.unwrap().as_str(), "k x");
    // HTTP/2: no Host header, the authority is in the URI.
    let request = http::Request::builder()
        .method("HEAD")
        .uri("https://bkt.s3.example.com/")
        .body(())
        .unwrap();
    let (parts, ()) = request.into_parts();
    let classified = irsa_s3::classify(
        &common::config(),
        &irsa_s3::RequestInput::from_parts(&parts),
    )
    .unwrap();
    assert_eq!(classified.operation, Operation::HeadBucket);
}
