//! The S3 gateway end to end: aws-sdk-rust and hand-signed requests
//! against irsa's gateway in front of a real Garage.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::similar_names)]

use std::fmt::Write as _;

mod common;

use std::time::{Duration, Instant, SystemTime};

use aws_sdk_s3::primitives::ByteStream;
use common::{bucket_name, send, sign_headers, upstream_env, Db, Gateway, UpstreamEnv};
use sha2::{Digest as _, Sha256};

fn hex_sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn role_policy(bucket: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::{bucket}/*"}},
            {{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::{bucket}"}}]}}"#
    )
}

async fn setup(prefix: &str) -> Option<(Gateway, String)> {
    setup_on(prefix, Db::Sqlite).await
}

/// A gateway on `db` and a fresh bucket; `None` when Garage (or, for
/// PostgreSQL, `IRSA_TEST_DATABASE_URL`) is not configured.
async fn setup_on(prefix: &str, db: Db) -> Option<(Gateway, String)> {
    let upstream = upstream_env()?;
    let gateway = Gateway::start_on(&upstream, db).await?;
    let bucket = bucket_name(prefix);
    gateway
        .s3(gateway.root.clone())
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    Some((gateway, bucket))
}

fn error_code<E, R>(err: &aws_sdk_s3::error::SdkError<E, R>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    err.as_service_error()
        .and_then(|e| e.code().map(str::to_owned))
        .unwrap_or_else(|| format!("{err:?}"))
}

fn error_message<E, R>(err: &aws_sdk_s3::error::SdkError<E, R>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(|e| e.message().map(str::to_owned))
        .unwrap_or_default()
}

type GetObjectError = aws_sdk_s3::error::SdkError<
    aws_sdk_s3::operation::get_object::GetObjectError,
    aws_sdk_s3::config::http::HttpResponse,
>;

/// Puts `body` at `key`.
async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: impl Into<ByteStream>) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(body.into())
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {key:?}: {e:?}"));
}

/// The object's bytes, or GetObject's error.
async fn get(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<bytes::Bytes, GetObjectError> {
    let object = s3.get_object().bucket(bucket).key(key).send().await?;
    Ok(object.body.collect().await.unwrap().into_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn role_session_allowed_and_denied() {
    let Some((gateway, bucket)) = setup("gw-role").await else {
        return;
    };
    let (role_arn, creds) = gateway.role("app", &role_policy(&bucket)).await;
    let s3 = gateway.s3(creds);

    // In-memory body: a signed SHA-256 of the payload.
    put(&s3, &bucket, "hello.txt", b"hello gateway".to_vec()).await;
    let got = s3
        .get_object()
        .bucket(&bucket)
        .key("hello.txt")
        .send()
        .await
        .unwrap();
    assert!(got.e_tag().is_some());
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"hello gateway"
    );

    // Range reads come back as the upstream answers them.
    let range = s3
        .get_object()
        .bucket(&bucket)
        .key("hello.txt")
        .range("bytes=6-12")
        .send()
        .await
        .unwrap();
    assert_eq!(
        range.body.collect().await.unwrap().into_bytes().as_ref(),
        b"gateway"
    );

    // Streaming body (a file): STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer.
    let file = tempfile::NamedTempFile::new().unwrap();
    let data: Vec<u8> = (0..300_000_u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(file.path(), &data).unwrap();
    put(
        &s3,
        &bucket,
        "streamed.bin",
        ByteStream::from_path(file.path()).await.unwrap(),
    )
    .await;
    let back = get(&s3, &bucket, "streamed.bin").await.unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back.as_ref() == data.as_slice());

    // Not in the role's policy: AccessDenied with AWS's message.
    let denied = s3
        .delete_object()
        .bucket(&bucket)
        .key("hello.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&denied), "AccessDenied");
    assert_eq!(
        error_message(&denied),
        format!(
            "User: {role_arn} is not authorized to perform: s3:DeleteObject on resource: \"arn:aws:s3:::{bucket}/hello.txt\" because no identity-based policy allows the s3:DeleteObject action"
        )
    );
    // Another bucket is out of reach, and so is ListBuckets.
    let other = s3
        .list_objects_v2()
        .bucket("other-bucket")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&other), "AccessDenied");
    let list_all = s3.list_buckets().send().await.unwrap_err();
    assert_eq!(error_code(&list_all), "AccessDenied");

    // ListObjectsV2 is s3:ListBucket.
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["hello.txt", "streamed.bin"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn odd_and_long_keys_round_trip_byte_exactly() {
    let Some((gateway, bucket)) = setup("gw-keys").await else {
        return;
    };
    let s3 = gateway.s3(gateway.root.clone());
    let long = "k".repeat(1024);
    let keys = [
        "with space",
        "plus+sign",
        "tilde~",
        "equals=sign",
        "percent%2Fslash",
        "dir/../dot-dot",
        "unicodé/日本",
        "a//double",
        long.as_str(),
    ];
    for key in keys {
        put(&s3, &bucket, key, key.as_bytes().to_vec()).await;
    }
    for key in keys {
        let body = get(&s3, &bucket, key)
            .await
            .unwrap_or_else(|e| panic!("get {key:?}: {e:?}"));
        assert_eq!(body.as_ref(), key.as_bytes(), "{key:?}");
    }
    let mut listed: Vec<String> = s3
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    listed.sort();
    let mut expected: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
    expected.sort();
    assert_eq!(listed, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bucket_policy_grants_and_denies_sqlite() {
    bucket_policy_grants_and_denies(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bucket_policy_grants_and_denies_postgres() {
    bucket_policy_grants_and_denies(Db::Postgres).await;
}

async fn bucket_policy_grants_and_denies(db: Db) {
    let Some((gateway, bucket)) = setup_on("gw-policy", db).await else {
        return;
    };
    assert_eq!(gateway.backend, db);
    let root = gateway.s3(gateway.root.clone());
    put(&root, &bucket, "doc.txt", b"policy".to_vec()).await;
    // A role whose own policy allows nothing on this bucket.
    let (role_arn, creds) = gateway
        .role(
            "reader",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#,
        )
        .await;
    let s3 = gateway.s3(creds);
    let before = get(&s3, &bucket, "doc.txt").await.unwrap_err();
    assert_eq!(error_code(&before), "AccessDenied");

    // No policy yet.
    let none = root
        .get_bucket_policy()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&none), "NoSuchBucketPolicy");
    // A malformed policy is refused.
    let bad = root
        .put_bucket_policy()
        .bucket(&bucket)
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&bad), "MalformedPolicy");

    // Same-account principal named in the bucket policy: allowed without an identity Allow.
    let grant = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Read","Effect":"Allow","Principal":{{"AWS":"{role_arn}"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    );
    root.put_bucket_policy()
        .bucket(&bucket)
        .policy(&grant)
        .send()
        .await
        .unwrap();
    let stored = root
        .get_bucket_policy()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(stored.policy(), Some(grant.as_str()));
    assert_eq!(get(&s3, &bucket, "doc.txt").await.unwrap(), &b"policy"[..]);

    // An explicit deny wins, for the role and for the root's data access.
    let deny = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"NoReads","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    );
    root.put_bucket_policy()
        .bucket(&bucket)
        .policy(&deny)
        .send()
        .await
        .unwrap();
    let denied = get(&s3, &bucket, "doc.txt").await.unwrap_err();
    assert_eq!(error_code(&denied), "AccessDenied");
    assert!(
        error_message(&denied).contains("with an explicit deny in a resource-based policy"),
        "{}",
        error_message(&denied)
    );
    let root_denied = get(&root, &bucket, "doc.txt").await.unwrap_err();
    assert_eq!(error_code(&root_denied), "AccessDenied");
    // …but the root can always manage the policy.
    let status = root
        .get_bucket_policy_status()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        status
            .policy_status()
            .and_then(aws_sdk_s3::types::PolicyStatus::is_public),
        Some(false)
    );
    root.delete_bucket_policy()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let gone = root
        .get_bucket_policy()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&gone), "NoSuchBucketPolicy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_objects_answers_denied_keys_per_key() {
    let Some((gateway, bucket)) = setup("gw-delete").await else {
        return;
    };
    let root = gateway.s3(gateway.root.clone());
    for key in ["public/a", "private/b"] {
        put(&root, &bucket, key, b"x".to_vec()).await;
    }
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::{bucket}/public/*"}}]}}"#
    );
    let (_, creds) = gateway.role("deleter", &policy).await;
    let s3 = gateway.s3(creds);
    let objects = ["public/a", "private/b"]
        .iter()
        .map(|k| {
            aws_sdk_s3::types::ObjectIdentifier::builder()
                .key(*k)
                .build()
                .unwrap()
        })
        .collect::<Vec<_>>();
    let result = s3
        .delete_objects()
        .bucket(&bucket)
        .delete(
            aws_sdk_s3::types::Delete::builder()
                .set_objects(Some(objects))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let deleted: Vec<&str> = result.deleted().iter().filter_map(|d| d.key()).collect();
    assert_eq!(deleted, ["public/a"]);
    let errors: Vec<(&str, &str)> = result
        .errors()
        .iter()
        .map(|e| (e.key().unwrap_or(""), e.code().unwrap_or("")))
        .collect();
    assert_eq!(errors, [("private/b", "AccessDenied")]);
    // The denied key is still there; the allowed one is gone.
    root.head_object()
        .bucket(&bucket)
        .key("private/b")
        .send()
        .await
        .unwrap();
    assert!(root
        .head_object()
        .bucket(&bucket)
        .key("public/a")
        .send()
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn presigned_get_and_put() {
    let Some((gateway, bucket)) = setup("gw-presign").await else {
        return;
    };
    let s3 = gateway.s3(gateway.root.clone());
    let config =
        aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(300)).unwrap();
    let put = s3
        .put_object()
        .bucket(&bucket)
        .key("presigned.txt")
        .presigned(config.clone())
        .await
        .unwrap();
    let headers: Vec<(String, String)> = put
        .headers()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    let answer = send("PUT", put.uri(), &headers, b"via presigned PUT".to_vec()).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let get = s3
        .get_object()
        .bucket(&bucket)
        .key("presigned.txt")
        .presigned(config)
        .await
        .unwrap();
    let answer = send("GET", get.uri(), &[], Vec::new()).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body, "via presigned PUT");
    // A tampered presigned URL is refused.
    let tampered = get.uri().replace("presigned.txt", "other.txt");
    let answer = send("GET", &tampered, &[], Vec::new()).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.code(), "SignatureDoesNotMatch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_signatures_scopes_and_times() {
    let Some((gateway, bucket)) = setup("gw-badsig").await else {
        return;
    };
    let url = format!("{}/{bucket}", gateway.s3_endpoint());
    let empty = hex_sha256(b"");
    let now = SystemTime::now();
    let cases = [
        // Wrong secret.
        (
            aws_credential_types::Credentials::new(
                gateway.root.access_key_id(),
                "wrong-secret",
                None,
                None,
                "t",
            ),
            "us-east-1",
            "s3",
            now,
            403,
            "SignatureDoesNotMatch",
        ),
        // Unknown key.
        (
            aws_credential_types::Credentials::new("AKIAAAAAAAAAAAAAAAAA", "x", None, None, "t"),
            "us-east-1",
            "s3",
            now,
            403,
            "InvalidAccessKeyId",
        ),
        // Wrong service in the scope.
        (
            gateway.root.clone(),
            "us-east-1",
            "iam",
            now,
            400,
            "AuthorizationHeaderMalformed",
        ),
        // 20 minutes of skew.
        (
            gateway.root.clone(),
            "us-east-1",
            "s3",
            now - Duration::from_secs(20 * 60),
            403,
            "RequestTimeTooSkewed",
        ),
    ];
    for (creds, region, service, time, status, code) in cases {
        let (headers, _) = sign_headers(&creds, "GET", &url, &[], &empty, region, service, time);
        let answer = send("GET", &url, &headers, Vec::new()).await;
        assert_eq!((answer.status, answer.code()), (status, code), "{answer:?}");
        assert!(answer.headers.contains_key("x-amz-request-id"));
        assert!(answer.headers.contains_key("x-amz-id-2"));
    }
    // HEAD errors carry no body.
    let (headers, _) = sign_headers(
        &aws_credential_types::Credentials::new("AKIAAAAAAAAAAAAAAAAA", "x", None, None, "t"),
        "HEAD",
        &url,
        &[],
        &empty,
        "us-east-1",
        "s3",
        now,
    );
    let answer = send("HEAD", &url, &headers, Vec::new()).await;
    assert_eq!(answer.status, 403);
    assert!(answer.body.is_empty());
    // An operation the gateway does not support is answered locally.
    let acl = format!("{url}?acl");
    let (headers, _) = sign_headers(
        &gateway.root,
        "GET",
        &acl,
        &[],
        &empty,
        "us-east-1",
        "s3",
        now,
    );
    let answer = send("GET", &acl, &headers, Vec::new()).await;
    assert_eq!(
        (answer.status, answer.code()),
        (501, "NotImplemented"),
        "{answer:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_payload_hash_leaves_no_object() {
    let Some((gateway, bucket)) = setup("gw-sha").await else {
        return;
    };
    let url = format!("{}/{bucket}/mismatch.txt", gateway.s3_endpoint());
    let body = b"the real body".to_vec();
    let claimed = hex_sha256(b"another body");
    let length = body.len().to_string();
    let (headers, _) = sign_headers(
        &gateway.root,
        "PUT",
        &url,
        &[("content-length", length.as_str())],
        &claimed,
        "us-east-1",
        "s3",
        SystemTime::now(),
    );
    let answer = send("PUT", &url, &headers, body).await;
    assert_eq!(
        (answer.status, answer.code()),
        (400, "XAmzContentSHA256Mismatch"),
        "{answer:?}"
    );
    let head = gateway
        .s3(gateway.root.clone())
        .head_object()
        .bucket(&bucket)
        .key("mismatch.txt")
        .send()
        .await;
    assert!(head.is_err(), "no object may appear: {head:?}");
}

/// Signed aws-chunked bodies (as minio-go and the Java SDK send them):
/// every chunk verified and re-signed for Garage; a chunk signature that
/// is wrong half-way aborts the upload and no object appears.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signed_chunks_are_verified_and_resigned() {
    let Some((gateway, bucket)) = setup("gw-chunks").await else {
        return;
    };
    let data: Vec<u8> = (0..40_000_u32).map(|i| (i % 253) as u8).collect();
    for (key, corrupt) in [("chunked-ok.bin", false), ("chunked-bad.bin", true)] {
        let url = format!("{}/{bucket}/{key}", gateway.s3_endpoint());
        let time = SystemTime::now();
        let encoded_len = chunked_len(&data, 16 * 1024);
        let decoded = data.len().to_string();
        let encoded = encoded_len.to_string();
        let (headers, seed) = sign_headers(
            &gateway.root,
            "PUT",
            &url,
            &[
                ("content-encoding", "aws-chunked"),
                ("content-length", encoded.as_str()),
                ("x-amz-decoded-content-length", decoded.as_str()),
            ],
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            "us-east-1",
            "s3",
            time,
        );
        let secret = irsa_core::SecretString::new(gateway.root.secret_access_key().to_owned());
        let chain =
            irsa_sigv4::ChunkSigningContext::new(&secret, time, "us-east-1", "s3", &seed).unwrap();
        let mut encoder = irsa_sigv4::AwsChunkedEncoder::new(chain, false);
        let mut body = Vec::new();
        for (i, chunk) in data.chunks(16 * 1024).enumerate() {
            let mut framed = Vec::new();
            encoder.encode_chunk(chunk, &mut framed);
            if corrupt && i == 1 {
                // Flip one hex digit of the second chunk's signature.
                let at = framed.iter().position(|b| *b == b'=').unwrap() + 1;
                framed[at] = if framed[at] == b'0' { b'1' } else { b'0' };
            }
            body.extend_from_slice(&framed);
        }
        encoder.finish(&[], &mut body).unwrap();
        assert_eq!(body.len(), encoded_len);
        let answer = send("PUT", &url, &headers, body).await;
        let head = get(&gateway.s3(gateway.root.clone()), &bucket, key).await;
        if corrupt {
            assert_eq!(
                (answer.status, answer.code()),
                (403, "SignatureDoesNotMatch"),
                "{answer:?}"
            );
            assert!(head.is_err(), "no object may appear");
        } else {
            assert_eq!(answer.status, 200, "{answer:?}");
            let back = head.unwrap();
            assert!(back.as_ref() == data.as_slice());
        }
    }
}

/// The encoded length of signed aws-chunked data.
fn chunked_len(data: &[u8], chunk: usize) -> usize {
    let line = |n: usize| format!("{n:x}").len() + ";chunk-signature=".len() + 64 + 2;
    data.chunks(chunk)
        .map(|c| line(c.len()) + c.len() + 2)
        .sum::<usize>()
        + line(0)
        + 2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unreachable_upstream_answers_503_promptly() {
    // No Garage needed: nothing listens on port 1.
    let upstream = UpstreamEnv {
        url: "http://127.0.0.1:1".into(),
        access_key_id: "GKunreachable".into(),
        secret_access_key: "secret".into(),
        region: "us-east-1".into(),
    };
    let gateway = Gateway::start(&upstream).await;
    let started = Instant::now();
    let err = gateway
        .s3(gateway.root.clone())
        .list_buckets()
        .customize()
        .config_override(
            aws_sdk_s3::config::Config::builder()
                .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled()),
        )
        .send()
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    let status = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(503), "{err:?}");
    assert_eq!(error_code(&err), "ServiceUnavailable");
}

/// An upstream that accepts connections and never answers: the client
/// gets 503 `ServiceUnavailable` (S3 XML) once the response timeout ran
/// out, never a hang, and a PUT's body is abandoned (the upstream request
/// is dropped).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn silent_upstream_answers_503_within_the_response_timeout() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut connections = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            // Kept open, never read from, never written to.
            connections.push(stream);
        }
    });
    let upstream = UpstreamEnv {
        url: format!("http://{silent_addr}"),
        access_key_id: "GKsilent".into(),
        secret_access_key: "secret".into(),
        region: "us-east-1".into(),
    };
    let gateway = Gateway::start_with(
        &upstream,
        common::Options {
            response_timeout: Some(Duration::from_millis(1500)),
            ..common::Options::default()
        },
    )
    .await;
    let s3 = gateway.s3(gateway.root.clone());
    let no_retry = || {
        aws_sdk_s3::config::Config::builder()
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
    };
    let started = Instant::now();
    let err = s3
        .get_object()
        .bucket("any")
        .key("k")
        .customize()
        .config_override(no_retry())
        .send()
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1400),
        "answered before the timeout: {took:?}"
    );
    assert!(took < Duration::from_secs(6), "{took:?}");
    assert_eq!(
        err.raw_response().map(|r| r.status().as_u16()),
        Some(503),
        "{err:?}"
    );
    assert_eq!(error_code(&err), "ServiceUnavailable");

    let started = Instant::now();
    let err = s3
        .put_object()
        .bucket("any")
        .key("k")
        .body(ByteStream::from(vec![7u8; 64 * 1024]))
        .customize()
        .config_override(no_retry())
        .send()
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(6));
    assert_eq!(
        err.raw_response().map(|r| r.status().as_u16()),
        Some(503),
        "{err:?}"
    );
    assert_eq!(error_code(&err), "ServiceUnavailable");

    // A raw request sees S3's XML document.
    let url = format!("{}/any/k", gateway.s3_endpoint());
    let (headers, _) = sign_headers(
        &gateway.root,
        "GET",
        &url,
        &[],
        &hex_sha256(b""),
        "us-east-1",
        "s3",
        SystemTime::now(),
    );
    let answer = send("GET", &url, &headers, Vec::new()).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert!(answer.body.starts_with("<?xml"), "{answer:?}");
    assert_eq!(answer.code(), "ServiceUnavailable");
    held.abort();
}

/// Sends raw bytes on a fresh connection and reads the answer until the
/// server closes.
async fn raw_exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.split();
    let writer = async {
        // The server may answer (and stop reading) before all is sent.
        let _ = write.write_all(request).await;
    };
    let reader = async {
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), read.read_to_end(&mut out)).await;
        out
    };
    let ((), out) = tokio::join!(writer, reader);
    String::from_utf8_lossy(&out).into_owned()
}

/// 10,000 headers, or one huge header: S3's 400
/// `RequestHeaderSectionTooLarge` XML (not hyper's bare 431, never a
/// 500), and the gateway keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oversized_heads_get_s3_errors() {
    let Some((gateway, bucket)) = setup("gw-heads").await else {
        return;
    };
    let host = gateway.s3_addr.to_string();
    let mut many = format!("GET /{bucket}/k HTTP/1.1\r\nhost: {host}\r\n");
    for i in 0..10_000 {
        let _ = write!(many, "x-amz-meta-h{i}: v\r\n");
    }
    many.push_str("\r\n");
    let huge = format!(
        "PUT /{bucket}/k HTTP/1.1\r\nhost: {host}\r\nx-amz-meta-big: {}\r\ncontent-length: 0\r\n\r\n",
        "v".repeat(200 * 1024)
    );
    for request in [many, huge] {
        let answer = raw_exchange(gateway.s3_addr, request.as_bytes()).await;
        let head = answer.split("\r\n").next().unwrap_or_default().to_owned();
        assert_eq!(head, "HTTP/1.1 400 Bad Request", "{answer}");
        assert!(
            answer.contains("<Code>RequestHeaderSectionTooLarge</Code>"),
            "{answer}"
        );
        assert!(answer.contains("<MaxSizeAllowed>"), "{answer}");
        assert!(answer.contains("<RequestId>"), "{answer}");
        assert!(
            answer
                .to_ascii_lowercase()
                .contains("content-type: application/xml"),
            "{answer}"
        );
    }
    // Others are still served.
    let s3 = gateway.s3(gateway.root.clone());
    put(&s3, &bucket, "after", b"still here".to_vec()).await;
    assert_eq!(
        get(&s3, &bucket, "after").await.unwrap(),
        &b"still here"[..]
    );
}

/// Unsigned requests are the anonymous principal: allowed only what the
/// bucket policy grants to everyone (`"*"` or `{"AWS": "*"}`), otherwise
/// `AccessDenied` with S3's plain "Access Denied" (the detailed message is
/// for the bucket owner's own account).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn anonymous_requests_need_a_public_bucket_policy_sqlite() {
    anonymous_requests_need_a_public_bucket_policy(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn anonymous_requests_need_a_public_bucket_policy_postgres() {
    anonymous_requests_need_a_public_bucket_policy(Db::Postgres).await;
}

async fn anonymous_requests_need_a_public_bucket_policy(db: Db) {
    let Some((gateway, bucket)) = setup_on("gw-anon", db).await else {
        return;
    };
    let s3 = gateway.s3(gateway.root.clone());
    put(&s3, &bucket, "public.txt", b"for everyone".to_vec()).await;
    let url = format!("{}/{bucket}/public.txt", gateway.s3_endpoint());
    let denied = send("GET", &url, &[], Vec::new()).await;
    assert_eq!(denied.status, 403, "{denied:?}");
    assert_eq!(denied.code(), "AccessDenied");
    assert!(
        denied.body.contains("<Message>Access Denied</Message>"),
        "{denied:?}"
    );

    for principal in [r#""*""#, r#"{"AWS":"*"}"#] {
        let policy = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"PublicRead","Effect":"Allow","Principal":{principal},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
        );
        s3.put_bucket_policy()
            .bucket(&bucket)
            .policy(policy)
            .send()
            .await
            .unwrap();
        let allowed = send("GET", &url, &[], Vec::new()).await;
        assert_eq!(allowed.status, 200, "{principal}: {allowed:?}");
        assert_eq!(allowed.body, "for everyone");
    }

    // The policy grants GetObject only: an anonymous write is refused and
    // nothing is written.
    let put_url = format!("{}/{bucket}/anonymous-write.txt", gateway.s3_endpoint());
    let put = send("PUT", &put_url, &[], b"graffiti".to_vec()).await;
    assert_eq!(put.status, 403, "{put:?}");
    assert_eq!(put.code(), "AccessDenied");
    assert!(s3
        .head_object()
        .bucket(&bucket)
        .key("anonymous-write.txt")
        .send()
        .await
        .is_err());
    // Other operations of the anonymous caller are refused too.
    let list = send(
        "GET",
        &format!("{}/{bucket}", gateway.s3_endpoint()),
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(list.status, 403, "{list:?}");
    assert_eq!(list.code(), "AccessDenied");

    // Without the policy, the object is private again.
    s3.delete_bucket_policy()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let denied = send("GET", &url, &[], Vec::new()).await;
    assert_eq!(denied.status, 403, "{denied:?}");
}

/// An upstream with object tagging (Garage has none): every object is
/// tagged `team=a`; counts the GetObjectTagging calls it gets.
async fn tagging_upstream(
    calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> (UpstreamEnv, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move |uri: http::Uri| {
        let calls = std::sync::Arc::clone(&calls);
        async move {
            if uri.query().is_some_and(|q| q.split('&').any(|p| p == "tagging" || p == "tagging=")) {
                calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Tagging><TagSet><Tag><Key>team</Key><Value>a</Value></Tag></TagSet></Tagging>".to_owned()
            } else {
                "tagged body".to_owned()
            }
        }
    });
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (
        UpstreamEnv {
            url: format!("http://{addr}"),
            access_key_id: "GKtagging".into(),
            secret_access_key: "secret".into(),
            region: "us-east-1".into(),
        },
        task,
    )
}

fn tag_policy(bucket: &str, team: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*","Condition":{{"StringEquals":{{"s3:ExistingObjectTag/team":"{team}"}}}}}}]}}"#
    )
}

/// `s3:ExistingObjectTag/…` in a policy makes the gateway read the
/// object's tags from the upstream first (and only then).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn existing_object_tags_are_fetched_when_a_policy_needs_them() {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (upstream, task) = tagging_upstream(std::sync::Arc::clone(&calls)).await;
    let gateway = Gateway::start(&upstream).await;
    let (_, team_a) = gateway.role("tag-a", &tag_policy("tagged", "a")).await;
    let got = get(&gateway.s3(team_a), "tagged", "doc").await.unwrap();
    assert_eq!(got, &b"tagged body"[..]);
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);

    let (_, team_b) = gateway.role("tag-b", &tag_policy("tagged", "b")).await;
    let err = gateway
        .s3(team_b)
        .get_object()
        .bucket("tagged")
        .key("doc")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "AccessDenied");
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);

    // No policy mentions the key: no upstream call for tags.
    let (_, plain) = gateway.role("plain", &role_policy("tagged")).await;
    get(&gateway.s3(plain), "tagged", "doc").await.unwrap();
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    task.abort();
}

/// Garage has no object tagging (GetObjectTagging is 501 there): its
/// objects have no tags, so a policy that requires one denies, with the
/// ordinary AccessDenied (not a 503 from the failed tag read).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn existing_object_tag_required_but_garage_object_has_none() {
    let Some((gateway, bucket)) = setup("gw-tags").await else {
        return;
    };
    put(
        &gateway.s3(gateway.root.clone()),
        &bucket,
        "doc",
        b"untagged".to_vec(),
    )
    .await;
    let (arn, creds) = gateway.role("needs-tag", &tag_policy(&bucket, "a")).await;
    let err = get(&gateway.s3(creds), &bucket, "doc").await.unwrap_err();
    assert_eq!(
        err.raw_response().map(|r| r.status().as_u16()),
        Some(403),
        "{err:?}"
    );
    assert_eq!(error_code(&err), "AccessDenied");
    assert_eq!(
        error_message(&err),
        format!("User: {arn} is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::{bucket}/doc\" because no identity-based policy allows the s3:GetObject action")
    );
}

/// The walkthrough's last step: credentials from AssumeRoleWithWebIdentity
/// (a service-account token of an HTTPS OIDC issuer) call S3 through the
/// gateway; the role's policy decides, on SQLite and on PostgreSQL.
async fn web_identity_credentials_allowed_and_denied(db: Db) {
    let Some(upstream) = upstream_env() else {
        return;
    };
    let issuer = common::issuer::HttpsIssuer::start(irsa_oidc::SigningKeyType::EcdsaP256).await;
    let database_url = match db {
        Db::Sqlite => None,
        Db::Postgres => match common::fresh_postgres_database().await {
            Some(url) => Some(url),
            None => return,
        },
    };
    let gateway = Gateway::start_with(
        &upstream,
        common::Options {
            database_url,
            oidc_ca_file: Some(issuer.ca_file.path().to_path_buf()),
            ..common::Options::default()
        },
    )
    .await;
    let bucket = bucket_name("gw-wi");
    let root = gateway.s3(gateway.root.clone());
    root.create_bucket().bucket(&bucket).send().await.unwrap();
    let (arn, creds) = gateway
        .web_identity_role(&issuer, "pod-app", &role_policy(&bucket))
        .await;
    assert!(arn.ends_with(":assumed-role/pod-app/pod"), "{arn}");
    let s3 = gateway.s3(creds);
    put(&s3, &bucket, "from-pod.txt", b"hello from the pod".to_vec()).await;
    assert_eq!(
        get(&s3, &bucket, "from-pod.txt").await.unwrap(),
        &b"hello from the pod"[..]
    );
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert_eq!(listed.key_count(), Some(1));
    // DeleteObject is not in the role's policy.
    let err = s3
        .delete_object()
        .bucket(&bucket)
        .key("from-pod.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "AccessDenied");
    assert_eq!(
        error_message(&err),
        format!("User: {arn} is not authorized to perform: s3:DeleteObject on resource: \"arn:aws:s3:::{bucket}/from-pod.txt\" because no identity-based policy allows the s3:DeleteObject action")
    );
    // Nor is another bucket.
    let err = s3
        .list_objects_v2()
        .bucket("some-other-bucket")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "AccessDenied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn web_identity_credentials_allowed_and_denied_sqlite() {
    web_identity_credentials_allowed_and_denied(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn web_identity_credentials_allowed_and_denied_postgres() {
    web_identity_credentials_allowed_and_denied(Db::Postgres).await;
}

/// Records the `x-amz-content-sha256` each request went out with.
#[derive(Debug, Clone, Default)]
struct PayloadModes(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl aws_sdk_s3::config::Intercept for PayloadModes {
    fn name(&self) -> &'static str {
        "PayloadModes"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_s3::config::RuntimeComponents,
        _cfg: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        if let Some(mode) = context.request().headers().get("x-amz-content-sha256") {
            self.0.lock().unwrap().push(mode.to_owned());
        }
        Ok(())
    }
}

/// Over HTTPS, aws-sdk-rust sends a streaming PutObject as
/// `STREAMING-UNSIGNED-PAYLOAD-TRAILER` (aws-chunked with a CRC32
/// trailer); the gateway verifies it and the bucket policy sees
/// `aws:SecureTransport` true.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn https_streaming_put_and_get_with_secure_transport_condition() {
    let Some(upstream) = upstream_env() else {
        return;
    };
    let (tls, ca_pem) = common::throwaway_tls();
    let gateway = Gateway::start_with(
        &upstream,
        common::Options {
            tls: Some(tls),
            ..common::Options::default()
        },
    )
    .await;
    assert!(gateway.s3_endpoint().starts_with("https://"));
    let bucket = bucket_name("gw-tls");
    let root = gateway.s3_https(gateway.root.clone(), &ca_pem);
    root.create_bucket().bucket(&bucket).send().await.unwrap();
    // The role's own policy allows nothing here: only the bucket policy,
    // and only over TLS.
    let (role_arn, creds) = gateway
        .role(
            "tls-writer",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#,
        )
        .await;
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"TlsOnly","Effect":"Allow","Principal":{{"AWS":"{role_arn}"}},"Action":["s3:PutObject","s3:GetObject"],"Resource":"arn:aws:s3:::{bucket}/*","Condition":{{"Bool":{{"aws:SecureTransport":"true"}}}}}}]}}"#
    );
    root.put_bucket_policy()
        .bucket(&bucket)
        .policy(policy)
        .send()
        .await
        .unwrap();
    let s3 = gateway.s3_https(creds, &ca_pem);
    let data: Vec<u8> = (0..3 * 1024 * 1024 + 17)
        .map(|i: u32| u8::try_from(i % 251).unwrap())
        .collect();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &data).unwrap();
    let modes = PayloadModes::default();
    s3.put_object()
        .bucket(&bucket)
        .key("streamed.bin")
        .body(ByteStream::from_path(file.path()).await.unwrap())
        .customize()
        .interceptor(modes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        modes.0.lock().unwrap().as_slice(),
        ["STREAMING-UNSIGNED-PAYLOAD-TRAILER"],
        "the SDK's default over https"
    );
    let back = get(&s3, &bucket, "streamed.bin").await.unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back.as_ref() == data.as_slice());
    // Listing is not granted by either policy.
    let err = s3
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "AccessDenied");
}
