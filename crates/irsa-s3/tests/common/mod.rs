//! The request table shared by the classification tests and the checks
//! against AWS's published IAM data.

#![allow(dead_code, clippy::unwrap_used)]

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use irsa_s3::{
    classify, AddressingConfig, AuthContext, AuthorizationRequest, Operation, RequestInput,
    S3Error, S3Request,
};

/// One expected check: action, resource, and the exact condition keys.
pub type Check = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static [&'static str])],
);

pub struct Case {
    pub name: &'static str,
    pub method: &'static str,
    pub host: &'static str,
    pub path: &'static str,
    pub query: Option<&'static str>,
    pub headers: &'static [(&'static str, &'static str)],
    pub operation: Operation,
    /// Checks with an anonymous [`AuthContext`] (no connection keys).
    pub checks: &'static [Check],
}

pub fn config() -> AddressingConfig {
    AddressingConfig::new(["s3.example.com"])
}

pub fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

pub fn run(
    method: &str,
    host: &str,
    path: &str,
    query: Option<&str>,
    header_pairs: &[(&str, &str)],
) -> Result<S3Request, S3Error> {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let headers = headers(header_pairs);
    let input = RequestInput {
        method: &method,
        host: Some(host),
        path,
        query,
        headers: &headers,
    };
    classify(&config(), &input)
}

pub fn run_case(case: &Case) -> Result<S3Request, S3Error> {
    run(case.method, case.host, case.path, case.query, case.headers)
}

pub fn full_context() -> AuthContext {
    AuthContext {
        auth_type: Some(irsa_s3::AuthType::Header),
        tls_version: Some("1.3".into()),
        signature_age_ms: Some(42),
        resource_account: Some(irsa_core::AccountId::default()),
    }
}

/// The checks of a request, with the PutObjectTagging body attached when
/// needed, so every case yields checks.
pub fn checks_of(request: &mut S3Request, ctx: &AuthContext) -> Vec<AuthorizationRequest> {
    if request.operation == Operation::PutObjectTagging {
        request.attach_tagging_body(vec![irsa_s3::Tag::new("team", "blue")]);
    }
    request.authorization(ctx).unwrap()
}

const SHA: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

pub const CASES: &[Case] = &[
    Case {
        name: "ListBuckets",
        method: "GET",
        host: "s3.example.com",
        path: "/",
        query: Some("x-id=ListBuckets&max-buckets=10"),
        headers: &[],
        operation: Operation::ListBuckets,
        checks: &[("s3:ListAllMyBuckets", "*", &[])],
    },
    Case {
        name: "CreateBucket with an ACL",
        method: "PUT",
        host: "localhost",
        path: "/new-bucket",
        query: None,
        headers: &[
            ("x-amz-acl", "private"),
            ("x-amz-object-ownership", "BucketOwnerEnforced"),
        ],
        operation: Operation::CreateBucket,
        checks: &[(
            "s3:CreateBucket",
            "arn:aws:s3:::new-bucket",
            &[
                ("s3:x-amz-acl", &["private"]),
                ("s3:x-amz-object-ownership", &["BucketOwnerEnforced"]),
            ],
        )],
    },
    Case {
        name: "DeleteBucket",
        method: "DELETE",
        host: "localhost",
        path: "/bkt",
        query: None,
        headers: &[],
        operation: Operation::DeleteBucket,
        checks: &[("s3:DeleteBucket", "arn:aws:s3:::bkt", &[])],
    },
    Case {
        name: "HeadBucket needs ListBucket",
        method: "HEAD",
        host: "bkt.s3.example.com",
        path: "/",
        query: None,
        headers: &[],
        operation: Operation::HeadBucket,
        checks: &[("s3:ListBucket", "arn:aws:s3:::bkt", &[])],
    },
    Case {
        name: "GetBucketLocation",
        method: "GET",
        host: "localhost",
        path: "/bkt",
        query: Some("location"),
        headers: &[],
        operation: Operation::GetBucketLocation,
        checks: &[("s3:GetBucketLocation", "arn:aws:s3:::bkt", &[])],
    },
    Case {
        name: "ListObjects (v1) with prefix keys",
        method: "GET",
        host: "localhost",
        path: "/bkt",
        query: Some("prefix=home%2Falice%2F&delimiter=%2F&max-keys=100&marker=m"),
        headers: &[],
        operation: Operation::ListObjects,
        checks: &[(
            "s3:ListBucket",
            "arn:aws:s3:::bkt",
            &[
                ("s3:prefix", &["home/alice/"]),
                ("s3:delimiter", &["/"]),
                ("s3:max-keys", &["100"]),
            ],
        )],
    },
    Case {
        name: "ListObjectsV2 as the aws CLI sends it (empty prefix is a value)",
        method: "GET",
        host: "localhost",
        path: "/bkt/",
        query: Some("list-type=2&prefix=&delimiter=%2F&encoding-type=url"),
        headers: &[("x-amz-content-sha256", SHA)],
        operation: Operation::ListObjectsV2,
        checks: &[(
            "s3:ListBucket",
            "arn:aws:s3:::bkt",
            &[
                ("s3:prefix", &[""]),
                ("s3:delimiter", &["/"]),
                ("s3:x-amz-content-sha256", &[SHA]),
            ],
        )],
    },
    Case {
        name: "ListObjectVersions",
        method: "GET",
        host: "bkt.s3.example.com",
        path: "/",
        query: Some("versions&prefix=a+b"),
        headers: &[],
        operation: Operation::ListObjectVersions,
        checks: &[(
            "s3:ListBucketVersions",
            "arn:aws:s3:::bkt",
            &[("s3:prefix", &["a b"])],
        )],
    },
    Case {
        name: "GetObject",
        method: "GET",
        host: "localhost",
        path: "/bkt/dir/a%20b+c.txt",
        query: Some("response-content-type=text%2Fplain&x-id=GetObject"),
        headers: &[("range", "bytes=0-9")],
        operation: Operation::GetObject,
        checks: &[("s3:GetObject", "arn:aws:s3:::bkt/dir/a b+c.txt", &[])],
    },
    Case {
        name: "GetObject of a version",
        method: "GET",
        host: "localhost",
        path: "/bkt/k",
        query: Some("versionId=v1"),
        headers: &[],
        operation: Operation::GetObject,
        checks: &[(
            "s3:GetObjectVersion",
            "arn:aws:s3:::bkt/k",
            &[("s3:VersionId", &["v1"])],
        )],
    },
    Case {
        name: "HeadObject needs GetObject",
        method: "HEAD",
        host: "bkt.s3.example.com",
        path: "/k",
        query: Some("partNumber=1"),
        headers: &[],
        operation: Operation::HeadObject,
        checks: &[("s3:GetObject", "arn:aws:s3:::bkt/k", &[])],
    },
    Case {
        name: "HeadObject of a version",
        method: "HEAD",
        host: "localhost",
        path: "/bkt/k",
        query: Some("versionId=null"),
        headers: &[],
        operation: Operation::HeadObject,
        checks: &[(
            "s3:GetObjectVersion",
            "arn:aws:s3:::bkt/k",
            &[("s3:VersionId", &["null"])],
        )],
    },
    Case {
        name: "PutObject with headers that are condition keys",
        method: "PUT",
        host: "localhost",
        path: "/bkt/k",
        query: None,
        headers: &[
            ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
            ("x-amz-server-side-encryption", "AES256"),
            ("x-amz-storage-class", "STANDARD"),
            ("if-none-match", "*"),
            ("content-type", "text/plain"),
        ],
        operation: Operation::PutObject,
        checks: &[(
            "s3:PutObject",
            "arn:aws:s3:::bkt/k",
            &[
                ("s3:x-amz-server-side-encryption", &["AES256"]),
                ("s3:x-amz-storage-class", &["STANDARD"]),
                ("s3:if-none-match", &["*"]),
                (
                    "s3:x-amz-content-sha256",
                    &["STREAMING-UNSIGNED-PAYLOAD-TRAILER"],
                ),
            ],
        )],
    },
    Case {
        name: "PutObject with tags and an ACL also needs PutObjectTagging and PutObjectAcl",
        method: "PUT",
        host: "localhost",
        path: "/bkt/k",
        query: None,
        headers: &[
            ("x-amz-tagging", "team=blue&env=prod"),
            ("x-amz-acl", "bucket-owner-full-control"),
        ],
        operation: Operation::PutObject,
        checks: &[
            (
                "s3:PutObject",
                "arn:aws:s3:::bkt/k",
                &[
                    ("s3:x-amz-acl", &["bucket-owner-full-control"]),
                    ("s3:RequestObjectTag/team", &["blue"]),
                    ("s3:RequestObjectTag/env", &["prod"]),
                    ("s3:RequestObjectTagKeys", &["team", "env"]),
                ],
            ),
            (
                "s3:PutObjectTagging",
                "arn:aws:s3:::bkt/k",
                &[
                    ("s3:RequestObjectTag/team", &["blue"]),
                    ("s3:RequestObjectTag/env", &["prod"]),
                    ("s3:RequestObjectTagKeys", &["team", "env"]),
                ],
            ),
            (
                "s3:PutObjectAcl",
                "arn:aws:s3:::bkt/k",
                &[("s3:x-amz-acl", &["bucket-owner-full-control"])],
            ),
        ],
    },
    Case {
        name: "presigned PutObject with a hoisted x-amz-tagging",
        method: "PUT",
        host: "localhost",
        path: "/bkt/up.bin",
        query: Some("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=60&x-amz-tagging=team%3Dred"),
        headers: &[],
        operation: Operation::PutObject,
        checks: &[
            (
                "s3:PutObject",
                "arn:aws:s3:::bkt/up.bin",
                &[
                    ("s3:RequestObjectTag/team", &["red"]),
                    ("s3:RequestObjectTagKeys", &["team"]),
                ],
            ),
            (
                "s3:PutObjectTagging",
                "arn:aws:s3:::bkt/up.bin",
                &[
                    ("s3:RequestObjectTag/team", &["red"]),
                    ("s3:RequestObjectTagKeys", &["team"]),
                ],
            ),
        ],
    },
    Case {
        name: "DeleteObject",
        method: "DELETE",
        host: "localhost",
        path: "/bkt/k",
        query: None,
        headers: &[],
        operation: Operation::DeleteObject,
        checks: &[("s3:DeleteObject", "arn:aws:s3:::bkt/k", &[])],
    },
    Case {
        name: "DeleteObject of a version",
        method: "DELETE",
        host: "localhost",
        path: "/bkt/k",
        query: Some("versionId=v2"),
        headers: &[],
        operation: Operation::DeleteObject,
        checks: &[(
            "s3:DeleteObjectVersion",
            "arn:aws:s3:::bkt/k",
            &[("s3:VersionId", &["v2"])],
        )],
    },
    Case {
        name: "CopyObject reads the source and writes the target",
        method: "PUT",
        host: "localhost",
        path: "/dst/new%20key",
        query: None,
        headers: &[
            ("x-amz-copy-source", "/src/dir/old%20key"),
            ("x-amz-metadata-directive", "REPLACE"),
        ],
        operation: Operation::CopyObject,
        checks: &[
            ("s3:GetObject", "arn:aws:s3:::src/dir/old key", &[]),
            (
                "s3:PutObject",
                "arn:aws:s3:::dst/new key",
                &[
                    ("s3:x-amz-copy-source", &["src/dir/old key"]),
                    ("s3:x-amz-metadata-directive", &["REPLACE"]),
                ],
            ),
        ],
    },
    Case {
        name: "CopyObject of a source version with replaced tags",
        method: "PUT",
        host: "dst.s3.example.com",
        path: "/k2",
        query: None,
        headers: &[
            ("x-amz-copy-source", "src/k1?versionId=v7"),
            ("x-amz-tagging-directive", "REPLACE"),
            ("x-amz-tagging", "a=1"),
        ],
        operation: Operation::CopyObject,
        checks: &[
            (
                "s3:GetObjectVersion",
                "arn:aws:s3:::src/k1",
                &[("s3:VersionId", &["v7"])],
            ),
            (
                "s3:PutObject",
                "arn:aws:s3:::dst/k2",
                &[
                    ("s3:x-amz-copy-source", &["src/k1"]),
                    ("s3:RequestObjectTag/a", &["1"]),
                    ("s3:RequestObjectTagKeys", &["a"]),
                ],
            ),
            (
                "s3:PutObjectTagging",
                "arn:aws:s3:::dst/k2",
                &[
                    ("s3:RequestObjectTag/a", &["1"]),
                    ("s3:RequestObjectTagKeys", &["a"]),
                ],
            ),
        ],
    },
    Case {
        name: "CopyObject with the default tagging directive sets no tags",
        method: "PUT",
        host: "localhost",
        path: "/dst/k",
        query: None,
        headers: &[("x-amz-copy-source", "src/k"), ("x-amz-tagging", "a=1")],
        operation: Operation::CopyObject,
        checks: &[
            ("s3:GetObject", "arn:aws:s3:::src/k", &[]),
            (
                "s3:PutObject",
                "arn:aws:s3:::dst/k",
                &[("s3:x-amz-copy-source", &["src/k"])],
            ),
        ],
    },
    Case {
        name: "CreateMultipartUpload",
        method: "POST",
        host: "localhost",
        path: "/bkt/big.bin",
        query: Some("uploads"),
        headers: &[("x-amz-server-side-encryption", "AES256")],
        operation: Operation::CreateMultipartUpload,
        checks: &[(
            "s3:PutObject",
            "arn:aws:s3:::bkt/big.bin",
            &[("s3:x-amz-server-side-encryption", &["AES256"])],
        )],
    },
    Case {
        name: "UploadPart",
        method: "PUT",
        host: "localhost",
        path: "/bkt/big.bin",
        query: Some("partNumber=3&uploadId=abc"),
        headers: &[],
        operation: Operation::UploadPart,
        checks: &[("s3:PutObject", "arn:aws:s3:::bkt/big.bin", &[])],
    },
    Case {
        name: "UploadPartCopy",
        method: "PUT",
        host: "localhost",
        path: "/bkt/big.bin",
        query: Some("partNumber=1&uploadId=abc"),
        headers: &[
            ("x-amz-copy-source", "other/part%2Bsrc"),
            ("x-amz-copy-source-range", "bytes=0-99"),
        ],
        operation: Operation::UploadPartCopy,
        checks: &[
            ("s3:GetObject", "arn:aws:s3:::other/part+src", &[]),
            (
                "s3:PutObject",
                "arn:aws:s3:::bkt/big.bin",
                &[("s3:x-amz-copy-source", &["other/part+src"])],
            ),
        ],
    },
    Case {
        name: "CompleteMultipartUpload",
        method: "POST",
        host: "localhost",
        path: "/bkt/big.bin",
        query: Some("uploadId=abc"),
        headers: &[],
        operation: Operation::CompleteMultipartUpload,
        checks: &[("s3:PutObject", "arn:aws:s3:::bkt/big.bin", &[])],
    },
    Case {
        name: "AbortMultipartUpload",
        method: "DELETE",
        host: "localhost",
        path: "/bkt/big.bin",
        query: Some("uploadId=abc"),
        headers: &[],
        operation: Operation::AbortMultipartUpload,
        checks: &[("s3:AbortMultipartUpload", "arn:aws:s3:::bkt/big.bin", &[])],
    },
    Case {
        name: "ListParts",
        method: "GET",
        host: "localhost",
        path: "/bkt/big.bin",
        query: Some("uploadId=abc&max-parts=10"),
        headers: &[],
        operation: Operation::ListParts,
        checks: &[(
            "s3:ListMultipartUploadParts",
            "arn:aws:s3:::bkt/big.bin",
            &[],
        )],
    },
    Case {
        name: "ListMultipartUploads",
        method: "GET",
        host: "localhost",
        path: "/bkt",
        query: Some("uploads&prefix=p"),
        headers: &[],
        operation: Operation::ListMultipartUploads,
        checks: &[("s3:ListBucketMultipartUploads", "arn:aws:s3:::bkt", &[])],
    },
    Case {
        name: "GetObjectTagging",
        method: "GET",
        host: "localhost",
        path: "/bkt/k",
        query: Some("tagging"),
        headers: &[],
        operation: Operation::GetObjectTagging,
        checks: &[("s3:GetObjectTagging", "arn:aws:s3:::bkt/k", &[])],
    },
    Case {
        name: "GetObjectTagging of a version",
        method: "GET",
        host: "localhost",
        path: "/bkt/k",
        query: Some("tagging&versionId=v1"),
        headers: &[],
        operation: Operation::GetObjectTagging,
        checks: &[(
            "s3:GetObjectVersionTagging",
            "arn:aws:s3:::bkt/k",
            &[("s3:VersionId", &["v1"])],
        )],
    },
    Case {
        name: "PutObjectTagging (body tags attached)",
        method: "PUT",
        host: "localhost",
        path: "/bkt/k",
        query: Some("tagging"),
        headers: &[],
        operation: Operation::PutObjectTagging,
        checks: &[(
            "s3:PutObjectTagging",
            "arn:aws:s3:::bkt/k",
            &[
                ("s3:RequestObjectTag/team", &["blue"]),
                ("s3:RequestObjectTagKeys", &["team"]),
            ],
        )],
    },
    Case {
        name: "PutObjectTagging of a version",
        method: "PUT",
        host: "localhost",
        path: "/bkt/k",
        query: Some("tagging&versionId=v3"),
        headers: &[],
        operation: Operation::PutObjectTagging,
        checks: &[(
            "s3:PutObjectVersionTagging",
            "arn:aws:s3:::bkt/k",
            &[
                ("s3:VersionId", &["v3"]),
                ("s3:RequestObjectTag/team", &["blue"]),
                ("s3:RequestObjectTagKeys", &["team"]),
            ],
        )],
    },
    Case {
        name: "DeleteObjectTagging",
        method: "DELETE",
        host: "localhost",
        path: "/bkt/k",
        query: Some("tagging"),
        headers: &[],
        operation: Operation::DeleteObjectTagging,
        checks: &[("s3:DeleteObjectTagging", "arn:aws:s3:::bkt/k", &[])],
    },
    Case {
        name: "DeleteObjectTagging of a version",
        method: "DELETE",
        host: "localhost",
        path: "/bkt/k",
        query: Some("tagging&versionId=v1"),
        headers: &[],
        operation: Operation::DeleteObjectTagging,
        checks: &[(
            "s3:DeleteObjectVersionTagging",
            "arn:aws:s3:::bkt/k",
            &[("s3:VersionId", &["v1"])],
        )],
    },
    Case {
        name: "PutBucketPolicy",
        method: "PUT",
        host: "localhost",
        path: "/bkt",
        query: Some("policy"),
        headers: &[],
        operation: Operation::PutBucketPolicy,
        checks: &[("s3:PutBucketPolicy", "arn:aws:s3:::bkt", &[])],
    },
    Case {
        name: "GetBucketPolicy",
        method: "GET",
        host: "bkt.s3.example.com",
        path: "/",
        query: Some("policy="),
        headers: &[],
        operation: Operation::GetBucketPolicy,
        checks: &[("s3:GetBucketPolicy", "arn:aws:s3:::bkt", &[])],
    },
    Case {
        name: "DeleteBucketPolicy",
        method: "DELETE",
        host: "localhost",
        path: "/bkt",
        query: Some("policy"),
        headers: &[],
        operation: Operation::DeleteBucketPolicy,
        checks: &[("s3:DeleteBucketPolicy", "arn:aws:s3:::bkt", &[])],
    },
    Case {
        name: "GetBucketPolicyStatus",
        method: "GET",
        host: "localhost",
        path: "/bkt",
        query: Some("policyStatus"),
        headers: &[],
        operation: Operation::GetBucketPolicyStatus,
        checks: &[("s3:GetBucketPolicyStatus", "arn:aws:s3:::bkt", &[])],
    },
];
