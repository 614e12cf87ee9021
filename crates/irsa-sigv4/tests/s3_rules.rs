//! S3's rules: object keys of every shape signed by the real `aws-sigv4`
//! signer in S3 mode (path encoded once, not normalised), presigned URLs,
//! the payload modes of `x-amz-content-sha256`, and S3's error codes.

// Test code: helpers outside #[test] fns may unwrap too.
#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest,
    SignatureLocation, SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::{HeaderName, HeaderValue};
use irsa_core::SecretString;
use irsa_sigv4::{
    ChecksumAlgorithm, ChunkedOptions, Payload, PayloadMode, RequestParts, S3Rules, SigV4Config,
    SigV4Error, SignatureForm, VerifiedSignature,
};
use sha2::{Digest, Sha256};

const AK: &str = "AKIAIOSFODNN7EXAMPLE";
const SK: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "FwoGZXIvYXdzEJr//////////wEaDOr+example/session==token";
/// 2023-10-10T00:30:00Z
const T0: u64 = 1_696_897_800;
const HOST: &str = "s3.eu-west-1.amazonaws.com";

fn at(offset_secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(T0 + offset_secs)
}

#[derive(Clone)]
struct Signing<'a> {
    method: &'a str,
    /// Path and query exactly as they go on the wire.
    path_and_query: String,
    headers: Vec<(&'a str, &'a str)>,
    body: SignableBody<'a>,
    presign: Option<Duration>,
    content_sha256_header: bool,
    token: Option<&'a str>,
    service: &'a str,
}

impl Default for Signing<'_> {
    fn default() -> Self {
        Self {
            method: "GET",
            path_and_query: "/bucket/key".to_owned(),
            headers: vec![],
            body: SignableBody::Bytes(b""),
            presign: None,
            content_sha256_header: true,
            token: None,
            service: "s3",
        }
    }
}

/// Signs as aws-sdk-rust's S3 client does: `PercentEncodingMode::Single`,
/// `UriPathNormalizationMode::Disabled`, `x-amz-content-sha256` sent.
fn sign_s3(s: &Signing<'_>) -> http::Request<()> {
    let uri = format!("https://{HOST}{}", s.path_and_query);
    let mut req = http::Request::builder()
        .method(s.method)
        .uri(&uri)
        .body(())
        .unwrap();
    req.headers_mut()
        .insert("host", HeaderValue::from_static(HOST));
    for (n, v) in &s.headers {
        req.headers_mut().append(
            HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    let identity: Identity =
        Credentials::new(AK, SK, s.token.map(String::from), None, "test").into();
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    if s.content_sha256_header {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    if let Some(expires) = s.presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires);
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("eu-west-1")
        .name(s.service)
        .time(at(0))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        s.method,
        uri.clone(),
        req.headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.to_str().unwrap())),
        s.body.clone(),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(&mut req);
    req
}

fn parts<'a>(req: &'a http::Request<()>, payload: Payload<'a>) -> RequestParts<'a> {
    let mut p = RequestParts::new(
        req.method().as_str(),
        req.uri().path(),
        req.uri().query().unwrap_or(""),
        payload,
    );
    for (n, v) in req.headers() {
        p = p.header(n.as_str(), v.as_bytes());
    }
    p
}

fn verify_with(
    config: &SigV4Config,
    p: &RequestParts<'_>,
    now: SystemTime,
) -> Result<VerifiedSignature, SigV4Error> {
    let parsed = config.parse(p)?;
    config.verify(&parsed, p, &SecretString::new(SK), now)
}

fn verify(p: &RequestParts<'_>) -> Result<VerifiedSignature, SigV4Error> {
    verify_with(&SigV4Config::s3(), p, at(0))
}

// ---- object keys ----

/// What SDKs send: every byte but unreserved characters and `/` escaped.
fn sdk_encode(key: &str) -> String {
    let mut out = String::new();
    for &b in key.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// What looser clients send: sub-delimiters, `:` and `@` raw (RFC 3986
/// allows them in a path), the rest escaped with lower-case hex, `~` as
/// `%7e`.
fn loose_encode(key: &str) -> String {
    let mut out = String::new();
    for &b in key.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_./!$&'()*+,;=:@".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02x}");
        }
    }
    out
}

fn keys() -> Vec<String> {
    vec![
        "plain.txt".into(),
        "a b".into(),
        "a+b".into(),
        "a~b".into(),
        "k=v&x=y".into(),
        "100%".into(),
        "!$&'()*,;:@".into(),
        "dir/../escape".into(),
        "../up".into(),
        "./dot/./key".into(),
        "a//b///c/".into(),
        "/leading-slash".into(),
        "ключ/日本語/é".into(),
        "emoji 🎉".into(),
        "k".repeat(1024),
        "é".repeat(512),
        format!("{}/{}", "d".repeat(500), "x y".repeat(170)),
    ]
}

#[test]
fn every_key_signed_by_the_sdk_verifies_however_it_is_encoded() {
    for key in keys() {
        let sdk = sdk_encode(&key);
        let loose = loose_encode(&key);
        // `/` inside the key sent as %2F.
        let slashes = sdk.replace('/', "%2F");
        for encoded in [&sdk, &loose, &slashes] {
            for method in ["GET", "PUT", "DELETE"] {
                let req = sign_s3(&Signing {
                    method,
                    path_and_query: format!("/bucket/{encoded}"),
                    ..Signing::default()
                });
                assert_eq!(req.uri().path(), format!("/bucket/{encoded}"));
                let v = verify(&parts(&req, Payload::Deferred))
                    .unwrap_or_else(|e| panic!("{key:?} as {encoded}: {e:?}"));
                assert_eq!(v.service(), "s3");
                assert_eq!(
                    v.payload_mode(),
                    &PayloadMode::Sha256(hex::encode(Sha256::digest(b"")))
                );
            }
        }
    }
}

#[test]
fn a_key_signed_as_s3_canonicalises_it_verifies_whatever_the_wire_escaping() {
    // A client that computes the canonical URI from the key (as AWS
    // documents it) and escapes differently on the wire.
    for key in keys() {
        let signed = sign_s3(&Signing {
            path_and_query: format!("/bucket/{}", sdk_encode(&key)),
            ..Signing::default()
        });
        let loose = format!("/bucket/{}", loose_encode(&key));
        let mut p = parts(&signed, Payload::Deferred);
        p.path = &loose;
        verify(&p).unwrap_or_else(|e| panic!("{key:?} sent as {loose}: {e:?}"));
    }
}

#[test]
fn another_key_does_not_verify() {
    let cases = [
        // (signed, sent)
        ("/bucket/a%2Fb", "/bucket/a/b"),
        ("/bucket/a/../c", "/bucket/c"),
        ("/bucket/c", "/bucket/a/../c"),
        ("/bucket/a//b", "/bucket/a/b"),
        ("/bucket/a%20b", "/bucket/a+b"),
        ("/bucket/a+b", "/bucket/a%20b"),
        ("/bucket/key", "/bucket/key/"),
        ("/bucket/key", "/bucket/Key"),
        ("/bucket/key", "/other/key"),
        ("/bucket/%C3%A9", "/bucket/%C3%A8"),
    ];
    for (signed, sent) in cases {
        let req = sign_s3(&Signing {
            path_and_query: signed.to_owned(),
            ..Signing::default()
        });
        let mut p = parts(&req, Payload::Deferred);
        p.path = sent;
        assert_eq!(
            verify(&p).unwrap_err(),
            SigV4Error::SignatureDoesNotMatch,
            "signed {signed}, sent {sent}"
        );
    }
}

#[test]
fn query_strings_of_s3_operations_verify() {
    for query in [
        "list-type=2&prefix=a%2Fb%20c&delimiter=%2F&max-keys=10",
        "uploads",
        "partNumber=3&uploadId=abc~def%2B%3D",
        "versionId=null",
        "tagging",
        "response-content-disposition=attachment%3B%20filename%3D%22a%20b.txt%22",
    ] {
        let req = sign_s3(&Signing {
            path_and_query: format!("/bucket/key?{query}"),
            ..Signing::default()
        });
        verify(&parts(&req, Payload::Deferred)).unwrap_or_else(|e| panic!("{query}: {e:?}"));
    }
}

#[test]
fn rules_follow_the_scope_or_the_config() {
    let req = sign_s3(&Signing {
        path_and_query: "/bucket/a%20b/../c".to_owned(),
        ..Signing::default()
    });
    let p = parts(&req, Payload::Deferred);
    // By service: s3 gets S3's rules.
    let by_service = SigV4Config {
        allowed_services: vec!["s3".into()],
        ..SigV4Config::default()
    };
    assert_eq!(by_service.s3_rules, S3Rules::ByService);
    assert!(by_service.parse(&p).unwrap().uses_s3_rules());
    verify_with(&by_service, &p, at(0)).unwrap();
    // The generic rules (normalised, double-encoded path) do not match.
    let generic = SigV4Config {
        s3_rules: S3Rules::Never,
        ..by_service.clone()
    };
    assert!(!generic.parse(&p).unwrap().uses_s3_rules());
    assert_eq!(
        verify_with(&generic, &p, at(0)).unwrap_err(),
        SigV4Error::SignatureDoesNotMatch
    );
    // S3's rules for another scope name, when asked.
    let req = sign_s3(&Signing {
        path_and_query: "/bucket/a%20b".to_owned(),
        service: "s3-object-lambda",
        ..Signing::default()
    });
    let p = parts(&req, Payload::Deferred);
    let always = SigV4Config {
        allowed_services: vec!["s3-object-lambda".into()],
        s3_rules: S3Rules::Always,
        ..SigV4Config::default()
    };
    verify_with(&always, &p, at(0)).unwrap();
}

// ---- payload modes ----

#[test]
fn header_form_needs_x_amz_content_sha256() {
    let req = sign_s3(&Signing {
        content_sha256_header: false,
        ..Signing::default()
    });
    assert!(req.headers().get("x-amz-content-sha256").is_none());
    let err = verify(&parts(&req, Payload::Bytes(b""))).unwrap_err();
    assert_eq!(err, SigV4Error::MissingContentSha256);
    assert_eq!(err.s3_code(), "InvalidRequest");
    assert_eq!(err.s3_status(), 400);
    assert_eq!(
        err.s3_message(),
        "Missing required header for this request: x-amz-content-sha256"
    );
}

#[test]
fn content_sha256_values() {
    let body = b"object body";
    let req = sign_s3(&Signing {
        method: "PUT",
        body: SignableBody::Bytes(body),
        ..Signing::default()
    });
    let hash = hex::encode(Sha256::digest(body));
    // The body given, or deferred and checked while it streams.
    let v = verify(&parts(&req, Payload::Bytes(body))).unwrap();
    assert_eq!(v.payload_mode(), &PayloadMode::Sha256(hash.clone()));
    verify(&parts(&req, Payload::Sha256Hex(&hash))).unwrap();
    let p = parts(&req, Payload::Deferred);
    let v = verify(&p).unwrap();
    let mut check = v.payload_check(&p).unwrap();
    check.update(b"object ");
    check.update(b"body");
    check.finish().unwrap();
    let mut check = v.payload_check(&p).unwrap();
    check.update(b"another body");
    let err = check.finish().unwrap_err();
    assert_eq!(err.s3_code(), "XAmzContentSHA256Mismatch");
    // S3 checks the signature (over the claimed hash) first, then the body.
    let err = verify(&parts(&req, Payload::Bytes(b"another body"))).unwrap_err();
    assert_eq!(err, SigV4Error::ContentSha256Mismatch);
    assert_eq!(err.s3_status(), 400);
    assert_eq!(
        err.s3_message(),
        "The provided 'x-amz-content-sha256' header does not match what was computed."
    );
    // A claimed hash changed after signing is a signature mismatch.
    let mut p = parts(&req, Payload::Deferred);
    let other = hex::encode(Sha256::digest(b"x"));
    for (n, v) in &mut p.headers {
        if *n == "x-amz-content-sha256" {
            *v = other.as_bytes();
        }
    }
    assert_eq!(verify(&p).unwrap_err(), SigV4Error::SignatureDoesNotMatch);
    // Not a mode S3 knows.
    let mut p = parts(&req, Payload::Deferred);
    for (n, v) in &mut p.headers {
        if *n == "x-amz-content-sha256" {
            *v = b"STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD";
        }
    }
    let err = verify(&p).unwrap_err();
    assert_eq!(err, SigV4Error::InvalidContentSha256);
    assert_eq!(err.s3_code(), "InvalidArgument");
    assert_eq!(err.s3_status(), 400);
}

#[test]
fn unsigned_and_streaming_modes() {
    let req = sign_s3(&Signing {
        method: "PUT",
        body: SignableBody::UnsignedPayload,
        headers: vec![("x-amz-checksum-crc32", "NSRBwg==")],
        ..Signing::default()
    });
    let p = parts(&req, Payload::Deferred);
    let v = verify(&p).unwrap();
    assert_eq!(v.payload_mode(), &PayloadMode::Unsigned);
    // The checksum header is still checked.
    let mut check = v.payload_check(&p).unwrap();
    check.update(b"abc");
    check.finish().unwrap();
    let mut check = v.payload_check(&p).unwrap();
    check.update(b"abd");
    assert_eq!(
        check.finish().unwrap_err(),
        SigV4Error::BadDigest {
            algorithm: ChecksumAlgorithm::Crc32
        }
    );
    assert!(v.chunked_decoder(ChunkedOptions::default()).is_err());
    // Refused when the configuration says so.
    let strict = SigV4Config {
        allow_unsigned_payload: false,
        ..SigV4Config::s3()
    };
    assert_eq!(
        verify_with(&strict, &p, at(0)).unwrap_err(),
        SigV4Error::SignatureDoesNotMatch
    );

    for (body, mode) in [
        (
            SignableBody::StreamingUnsignedPayloadTrailer,
            PayloadMode::StreamingUnsignedTrailer,
        ),
        (
            SignableBody::StreamingSignedPayloadTrailer,
            PayloadMode::StreamingSignedTrailer,
        ),
        (
            SignableBody::Precomputed("STREAMING-AWS4-HMAC-SHA256-PAYLOAD".into()),
            PayloadMode::StreamingSigned,
        ),
    ] {
        let req = sign_s3(&Signing {
            method: "PUT",
            body,
            ..Signing::default()
        });
        let p = parts(&req, Payload::Deferred);
        let v = verify(&p).unwrap();
        assert_eq!(v.payload_mode(), &mode);
        assert!(v.payload_mode().is_streaming());
        v.chunked_decoder(ChunkedOptions::from_request(&p).unwrap())
            .unwrap();
    }
}

#[test]
fn session_tokens_are_returned() {
    let req = sign_s3(&Signing {
        token: Some(TOKEN),
        ..Signing::default()
    });
    let v = verify(&parts(&req, Payload::Deferred)).unwrap();
    assert_eq!(v.security_token().map(SecretString::expose), Some(TOKEN));
    assert_eq!(v.form(), SignatureForm::Header);
}

// ---- presigned URLs ----

fn presigned(expires: u64) -> http::Request<()> {
    sign_s3(&Signing {
        path_and_query: "/bucket/dir/a%20key~%2B".to_owned(),
        body: SignableBody::UnsignedPayload,
        presign: Some(Duration::from_secs(expires)),
        content_sha256_header: false,
        ..Signing::default()
    })
}

#[test]
fn presigned_urls_sign_unsigned_payload_and_live_their_whole_lifetime() {
    let req = presigned(3600);
    let query = req.uri().query().unwrap();
    assert!(query.contains("X-Amz-Expires=3600"));
    assert!(!query.contains("X-Amz-Content-Sha256"));
    let p = parts(&req, Payload::Deferred);
    let v = verify(&p).unwrap();
    assert_eq!(v.form(), SignatureForm::Presigned);
    assert_eq!(v.payload_mode(), &PayloadMode::Unsigned);
    // Unlike STS, S3 honours X-Amz-Expires beyond the 15-minute skew.
    verify_with(&SigV4Config::s3(), &p, at(3600)).unwrap();
    let err = verify_with(&SigV4Config::s3(), &p, at(3601)).unwrap_err();
    assert_eq!(err, SigV4Error::PresignedExpired);
    assert_eq!(err.s3_code(), "AccessDenied");
    assert_eq!(err.s3_status(), 403);
    assert_eq!(err.s3_message(), "Request has expired.");
    // Seven days is the longest lifetime, and it is honoured.
    let week = presigned(604_800);
    verify_with(
        &SigV4Config::s3(),
        &parts(&week, Payload::Deferred),
        at(604_800),
    )
    .unwrap();
}

#[test]
fn presigned_urls_signed_over_the_body_hash_do_not_verify() {
    // Without X-Amz-Content-Sha256 S3 signs UNSIGNED-PAYLOAD, never the
    // body's hash.
    let req = sign_s3(&Signing {
        method: "PUT",
        body: SignableBody::Bytes(b"data"),
        presign: Some(Duration::from_secs(60)),
        content_sha256_header: false,
        ..Signing::default()
    });
    assert_eq!(
        verify(&parts(&req, Payload::Bytes(b"data"))).unwrap_err(),
        SigV4Error::SignatureDoesNotMatch
    );
    // Unless the URL names the hash.
    let hash = hex::encode(Sha256::digest(b"data"));
    let req = sign_s3(&Signing {
        method: "PUT",
        path_and_query: format!("/bucket/key?X-Amz-Content-Sha256={hash}"),
        body: SignableBody::Precomputed(hash.clone()),
        presign: Some(Duration::from_secs(60)),
        content_sha256_header: false,
        ..Signing::default()
    });
    let v = verify(&parts(&req, Payload::Deferred)).unwrap();
    assert_eq!(v.payload_mode(), &PayloadMode::Sha256(hash));
    assert_eq!(
        verify(&parts(&req, Payload::Bytes(b"other"))).unwrap_err(),
        SigV4Error::ContentSha256Mismatch
    );
}

#[test]
fn presigned_lifetime_limits() {
    let req = presigned(60);
    let query = req.uri().query().unwrap().to_owned();
    for (value, message) in [
        (
            "604801",
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        ),
        ("-5", "X-Amz-Expires must be non-negative"),
        ("soon", "X-Amz-Expires should be a number"),
    ] {
        let bad = query.replace("X-Amz-Expires=60", &format!("X-Amz-Expires={value}"));
        let mut p = parts(&req, Payload::Deferred);
        p.query = &bad;
        let err = SigV4Config::s3().parse(&p).unwrap_err();
        assert_eq!(
            err.s3_code(),
            "AuthorizationQueryParametersError",
            "{value}"
        );
        assert_eq!(err.s3_status(), 400);
        assert_eq!(err.s3_message(), message);
        // STS wording for the same fault stays as it was.
        assert_eq!(err.code(), "IncompleteSignature");
    }
}

#[test]
fn presigned_urls_cannot_carry_aws_chunked_bodies() {
    let req = sign_s3(&Signing {
        method: "PUT",
        path_and_query: "/bucket/key?X-Amz-Content-Sha256=STREAMING-UNSIGNED-PAYLOAD-TRAILER"
            .to_owned(),
        body: SignableBody::StreamingUnsignedPayloadTrailer,
        presign: Some(Duration::from_secs(60)),
        content_sha256_header: false,
        ..Signing::default()
    });
    let err = verify(&parts(&req, Payload::Deferred)).unwrap_err();
    assert!(matches!(err, SigV4Error::InvalidRequest(_)), "{err:?}");
    assert_eq!(err.s3_code(), "InvalidRequest");
}

// ---- time, scope and the error table ----

#[test]
fn header_signatures_allow_fifteen_minutes_of_skew() {
    let req = sign_s3(&Signing::default());
    let p = parts(&req, Payload::Deferred);
    verify_with(&SigV4Config::s3(), &p, at(900)).unwrap();
    let err = verify_with(&SigV4Config::s3(), &p, at(901)).unwrap_err();
    assert_eq!(err.s3_code(), "RequestTimeTooSkewed");
    assert_eq!(err.s3_status(), 403);
    assert_eq!(
        err.s3_message(),
        "The difference between the request time and the current time is too large."
    );
}

#[test]
fn wrong_service_or_secret() {
    let req = sign_s3(&Signing {
        service: "sts",
        ..Signing::default()
    });
    let err = SigV4Config::s3()
        .parse(&parts(&req, Payload::Deferred))
        .unwrap_err();
    assert_eq!(err.s3_code(), "AuthorizationHeaderMalformed");
    assert_eq!(err.s3_status(), 400);
    let req = sign_s3(&Signing::default());
    let p = parts(&req, Payload::Deferred);
    let parsed = SigV4Config::s3().parse(&p).unwrap();
    let err = SigV4Config::s3()
        .verify(&parsed, &p, &SecretString::new("wrong"), at(0))
        .unwrap_err();
    assert_eq!(err.s3_code(), "SignatureDoesNotMatch");
    assert_eq!(
        err.s3_message(),
        "The request signature we calculated does not match the signature you provided. \
         Check your key and signing method."
    );
}

#[test]
fn every_error_has_s3_code_and_a_4xx_status() {
    let table: Vec<(SigV4Error, &str, u16)> = vec![
        (SigV4Error::MissingAuthenticationToken, "AccessDenied", 403),
        (
            SigV4Error::IncompleteSignature(String::new()),
            "AuthorizationHeaderMalformed",
            400,
        ),
        (SigV4Error::InvalidClientTokenId, "InvalidAccessKeyId", 403),
        (
            SigV4Error::SignatureDoesNotMatch,
            "SignatureDoesNotMatch",
            403,
        ),
        (
            SigV4Error::InvalidScope(String::new()),
            "AuthorizationHeaderMalformed",
            400,
        ),
        (
            SigV4Error::SignatureExpired {
                request_time: String::new(),
                earliest: String::new(),
                now: String::new(),
                skew_minutes: 15,
            },
            "RequestTimeTooSkewed",
            403,
        ),
        (
            SigV4Error::SignatureNotYetCurrent {
                request_time: String::new(),
                latest: String::new(),
                now: String::new(),
                skew_minutes: 15,
            },
            "RequestTimeTooSkewed",
            403,
        ),
        (SigV4Error::PresignedExpired, "AccessDenied", 403),
        (
            SigV4Error::InvalidPresignedExpires(String::new()),
            "AuthorizationQueryParametersError",
            400,
        ),
        (SigV4Error::MissingContentSha256, "InvalidRequest", 400),
        (SigV4Error::InvalidContentSha256, "InvalidArgument", 400),
        (
            SigV4Error::ContentSha256Mismatch,
            "XAmzContentSHA256Mismatch",
            400,
        ),
        (
            SigV4Error::InvalidRequest(String::new()),
            "InvalidRequest",
            400,
        ),
        (
            SigV4Error::ChunkSignatureDoesNotMatch,
            "SignatureDoesNotMatch",
            403,
        ),
        (SigV4Error::IncompleteBody, "IncompleteBody", 400),
        (SigV4Error::MalformedChunkedBody("x"), "IncompleteBody", 400),
        (
            SigV4Error::DecodedLengthMismatch {
                expected: 1,
                received: 2,
            },
            "IncompleteBody",
            400,
        ),
        (
            SigV4Error::InvalidChunkSize {
                min: 8192,
                chunk: 2,
                bad_chunk_size: 1,
            },
            "InvalidChunkSizeError",
            400,
        ),
        (
            SigV4Error::LimitExceeded(String::new()),
            "InvalidRequest",
            400,
        ),
        (SigV4Error::MalformedTrailer, "MalformedTrailerError", 400),
        (
            SigV4Error::InvalidChecksum {
                header: String::new(),
            },
            "InvalidRequest",
            400,
        ),
        (
            SigV4Error::BadDigest {
                algorithm: ChecksumAlgorithm::Crc64Nvme,
            },
            "BadDigest",
            400,
        ),
    ];
    for (err, code, status) in table {
        assert_eq!(err.s3_code(), code, "{err:?}");
        assert_eq!(err.s3_status(), status, "{err:?}");
        assert!((400..500).contains(&err.status()), "{err:?}");
    }
    assert_eq!(
        SigV4Error::BadDigest {
            algorithm: ChecksumAlgorithm::Crc64Nvme
        }
        .s3_message(),
        "The CRC64NVME you specified did not match the calculated checksum."
    );
    assert_eq!(
        SigV4Error::InvalidClientTokenId.s3_message(),
        "The AWS Access Key Id you provided does not exist in our records."
    );
    assert_eq!(
        SigV4Error::IncompleteBody.s3_message(),
        "The request body terminated unexpectedly"
    );
}
