//! Requests signed by the real `aws-sigv4` crate (the signer inside
//! aws-sdk-rust) must verify; tampering with any signed part must not.

// Test code: helpers outside #[test] fns may unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::{HeaderName, HeaderValue};
use irsa_core::SecretString;
use irsa_sigv4::{
    parse, verify, verify_request, Payload, RequestParts, SigV4Config, SigV4Error, SignatureForm,
};

const AK: &str = "AKIAIOSFODNN7EXAMPLE";
const SK: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "FwoGZXIvYXdzEJr//////////wEaDOr+example/session==token";
/// 2023-10-10T00:30:00Z
const T0: u64 = 1_696_897_800;
const GCI_BODY: &[u8] = b"Action=GetCallerIdentity&Version=2011-06-15";

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(T0)
}

struct Case<'a> {
    name: &'a str,
    method: &'a str,
    uri: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    body: &'a [u8],
    location: SignatureLocation,
    token: Option<&'a str>,
    expires: Option<Duration>,
    checksum_header: bool,
    unsigned: bool,
    region: &'a str,
    service: &'a str,
}

impl Default for Case<'_> {
    fn default() -> Self {
        Self {
            name: "",
            method: "POST",
            uri: "https://sts.amazonaws.com/",
            headers: vec![(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )],
            body: GCI_BODY,
            location: SignatureLocation::Headers,
            token: None,
            expires: None,
            checksum_header: false,
            unsigned: false,
            region: "us-east-1",
            service: "sts",
        }
    }
}

fn sign_case(c: &Case<'_>, time: SystemTime) -> http::Request<Vec<u8>> {
    let mut req = http::Request::builder()
        .method(c.method)
        .uri(c.uri)
        .body(c.body.to_vec())
        .unwrap();
    let host = req.uri().authority().unwrap().as_str().to_owned();
    req.headers_mut()
        .insert("host", HeaderValue::from_str(&host).unwrap());
    for (n, v) in &c.headers {
        req.headers_mut().append(
            HeaderName::from_str(n).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    let identity: Identity =
        Credentials::new(AK, SK, c.token.map(String::from), None, "test").into();
    let mut settings = SigningSettings::default();
    settings.signature_location = c.location;
    settings.expires_in = c.expires;
    if c.checksum_header {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(c.region)
        .name(c.service)
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let body = if c.unsigned {
        SignableBody::UnsignedPayload
    } else {
        SignableBody::Bytes(c.body)
    };
    let uri = req.uri().to_string();
    let signable = SignableRequest::new(
        c.method,
        uri,
        req.headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.to_str().unwrap())),
        body,
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(&mut req);
    req
}

fn parts(req: &http::Request<Vec<u8>>) -> RequestParts<'_> {
    let mut p = RequestParts::new(
        req.method().as_str(),
        req.uri().path(),
        req.uri().query().unwrap_or(""),
        Payload::Bytes(req.body()),
    );
    for (n, v) in req.headers() {
        p = p.header(n.as_str(), v.as_bytes());
    }
    p
}

fn secret() -> SecretString {
    SecretString::new(SK)
}

fn check(
    p: &RequestParts<'_>,
    now: SystemTime,
) -> Result<irsa_sigv4::VerifiedSignature, SigV4Error> {
    let parsed = parse(p)?;
    verify(&parsed, p, &secret(), now)
}

fn cases() -> Vec<Case<'static>> {
    vec![
        Case {
            name: "header: STS GetCallerIdentity POST",
            ..Case::default()
        },
        Case {
            name: "header: IAM in another region",
            uri: "https://iam.amazonaws.com/",
            body: b"Action=ListUsers&Version=2010-05-08&MaxItems=10",
            region: "eu-west-3",
            service: "iam",
            ..Case::default()
        },
        Case {
            name: "header: cn region, port in host",
            uri: "http://127.0.0.1:8080/",
            region: "cn-north-1",
            ..Case::default()
        },
        Case {
            name: "header: GET with query params needing encoding",
            method: "GET",
            uri: "https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&Weird=a%20b%2Fc%21%2A%27%28%29&%C3%A9=%E2%9C%93&Empty=&Dup=2&Dup=1&Tilde=~x",
            headers: vec![],
            body: b"",
            ..Case::default()
        },
        Case {
            name: "header: plus in query",
            method: "GET",
            uri: "https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&q=a+b",
            headers: vec![],
            body: b"",
            ..Case::default()
        },
        Case {
            name: "header: repeated headers and spaces in values",
            headers: vec![
                ("content-type", "application/x-www-form-urlencoded"),
                ("x-custom", "first"),
                ("x-custom", "  second   value   with  spaces "),
                ("x-other", "a    b"),
            ],
            ..Case::default()
        },
        Case {
            name: "header: empty body",
            body: b"",
            headers: vec![],
            ..Case::default()
        },
        Case {
            name: "header: x-amz-content-sha256 of the body",
            checksum_header: true,
            ..Case::default()
        },
        Case {
            name: "header: UNSIGNED-PAYLOAD",
            checksum_header: true,
            unsigned: true,
            ..Case::default()
        },
        Case {
            name: "header: session token",
            token: Some(TOKEN),
            ..Case::default()
        },
        Case {
            name: "header: path needing normalisation and encoding",
            uri: "https://sts.amazonaws.com/a%20b/./c/../d%2Fe/",
            ..Case::default()
        },
        Case {
            name: "header: non-ASCII JSON-ish body",
            body: "Action=TagRole&Tags.member.1.Value=caf%C3%A9&x=ü".as_bytes(),
            ..Case::default()
        },
        Case {
            name: "presigned: GetCallerIdentity GET",
            method: "GET",
            uri: "https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15",
            headers: vec![],
            body: b"",
            location: SignatureLocation::QueryParams,
            expires: Some(Duration::from_secs(900)),
            ..Case::default()
        },
        Case {
            name: "presigned: with session token and extra signed header",
            method: "GET",
            uri: "https://sts.us-west-2.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15",
            headers: vec![("x-k8s-aws-id", "my-cluster")],
            body: b"",
            location: SignatureLocation::QueryParams,
            expires: Some(Duration::from_secs(60)),
            token: Some(TOKEN),
            region: "us-west-2",
            ..Case::default()
        },
        Case {
            name: "presigned: query needing encoding",
            method: "GET",
            uri: "https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&Weird=a%20b%2F%3D%26&Z=1&A=2",
            headers: vec![],
            body: b"",
            location: SignatureLocation::QueryParams,
            expires: Some(Duration::from_secs(604_800)),
            ..Case::default()
        },
        Case {
            name: "presigned: UNSIGNED-PAYLOAD POST",
            location: SignatureLocation::QueryParams,
            expires: Some(Duration::from_secs(300)),
            unsigned: true,
            ..Case::default()
        },
    ]
}

#[test]
fn every_sdk_signed_shape_verifies() {
    for case in cases() {
        let req = sign_case(&case, t0());
        let p = parts(&req);
        let verified = check(&p, t0()).unwrap_or_else(|e| panic!("{}: {e:?} ({p:?})", case.name));
        assert_eq!(verified.access_key_id(), AK, "{}", case.name);
        assert_eq!(verified.region(), case.region, "{}", case.name);
        assert_eq!(verified.service(), case.service, "{}", case.name);
        assert_eq!(
            verified.security_token().map(SecretString::expose),
            case.token,
            "{}",
            case.name
        );
        let expected_form = if case.location == SignatureLocation::Headers {
            SignatureForm::Header
        } else {
            SignatureForm::Presigned
        };
        assert_eq!(verified.form(), expected_form, "{}", case.name);
        assert_eq!(verified.request_time(), t0());
        let parsed = parse(&p).unwrap();
        assert_eq!(parsed.presigned_expires(), case.expires, "{}", case.name);
        assert!(parsed.signed_headers().iter().any(|h| h == "host"));
    }
}

#[test]
fn precomputed_payload_hash_is_accepted() {
    let case = Case::default();
    let req = sign_case(&case, t0());
    let hash = "b7a2a2ee3c0e8b88e4b96d5b1b4e9a0c1bd1fd5fcd3f3b6a3c0f9b3c2b0c7f91";
    let mut p = parts(&req);
    p.payload = Payload::Sha256Hex(hash);
    // A wrong precomputed hash is a wrong body.
    assert_eq!(
        check(&p, t0()).unwrap_err(),
        SigV4Error::SignatureDoesNotMatch
    );
    let real = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(GCI_BODY));
    p.payload = Payload::Sha256Hex(&real);
    check(&p, t0()).unwrap();
}

/// Ways to damage a signed request; each must give SignatureDoesNotMatch.
fn tamperings(req: &RequestParts<'_>, body_signed: bool) -> Vec<(String, RequestParts<'static>)> {
    // Leak small strings so the tampered copies can borrow them for 'static.
    fn leak(s: String) -> &'static str {
        Box::leak(s.into_boxed_str())
    }
    fn leak_bytes(b: Vec<u8>) -> &'static [u8] {
        Box::leak(b.into_boxed_slice())
    }
    let owned = RequestParts {
        method: leak(req.method.to_owned()),
        path: leak(req.path.to_owned()),
        query: leak(req.query.to_owned()),
        headers: req
            .headers
            .iter()
            .map(|(n, v)| (leak((*n).to_owned()), leak_bytes(v.to_vec())))
            .collect(),
        payload: match req.payload {
            Payload::Bytes(b) => Payload::Bytes(leak_bytes(b.to_vec())),
            Payload::Sha256Hex(h) => Payload::Sha256Hex(leak(h.to_owned())),
            Payload::Deferred => Payload::Deferred,
        },
    };
    let mut out = Vec::new();
    let mut tm = owned.clone();
    tm.method = if owned.method == "GET" { "POST" } else { "GET" };
    out.push(("method".to_owned(), tm));
    let mut tm = owned.clone();
    tm.path = leak(format!("{}x", owned.path));
    out.push(("path".to_owned(), tm));
    let mut tm = owned.clone();
    tm.query = leak(if owned.query.is_empty() {
        "Action=GetCallerIdentity".to_owned()
    } else {
        format!("{}&extra=1", owned.query)
    });
    out.push(("query param added".to_owned(), tm));
    if owned.query.contains("Version=") {
        let mut tm = owned.clone();
        tm.query = leak(owned.query.replace("Version=", "Version=1"));
        out.push(("query value".to_owned(), tm));
    }
    if let (Payload::Bytes(b), true) = (owned.payload, body_signed) {
        let mut body = b.to_vec();
        if body.is_empty() {
            body.push(b'x');
        } else {
            body[0] ^= 1;
        }
        let mut tm = owned.clone();
        tm.payload = Payload::Bytes(leak_bytes(body));
        out.push(("body".to_owned(), tm));
    }
    let parsed = parse(&owned).unwrap();
    for signed in parsed.signed_headers() {
        if signed == "x-amz-content-sha256" || signed == "x-amz-date" {
            continue; // covered below
        }
        let mut tm = owned.clone();
        for (n, v) in &mut tm.headers {
            if n.eq_ignore_ascii_case(signed) {
                let mut nv = v.to_vec();
                nv.extend_from_slice(b"1");
                *v = leak_bytes(nv);
            }
        }
        out.push((format!("signed header {signed}"), tm));
        let mut tm = owned.clone();
        tm.headers.push((leak(signed.clone()), b"again"));
        out.push((format!("repeated signed header {signed}"), tm));
    }
    // Signature, credential scope and date, in header or query.
    let flip_sig = |s: &str| -> String {
        let (before, after) = s.split_once("Signature=").unwrap();
        let first = after.chars().next().unwrap();
        let repl = if first == '0' { '1' } else { '0' };
        format!("{before}Signature={repl}{}", &after[1..])
    };
    if parsed.form() == SignatureForm::Header {
        for (what, f) in [
            (
                "signature",
                Box::new(flip_sig) as Box<dyn Fn(&str) -> String>,
            ),
            (
                "region",
                Box::new(|s: &str| s.replacen(&format!("/{}/", parsed.region()), "/xx-east-9/", 1)),
            ),
            (
                "service",
                Box::new(|s: &str| {
                    let other = if parsed.service() == "sts" {
                        "/iam/"
                    } else {
                        "/sts/"
                    };
                    s.replacen(&format!("/{}/", parsed.service()), other, 1)
                }),
            ),
            (
                "signed headers list",
                Box::new(|s: &str| {
                    s.replacen("SignedHeaders=", "SignedHeaders=content-length;", 1)
                }),
            ),
        ] {
            let mut tm = owned.clone();
            for (n, v) in &mut tm.headers {
                if n.eq_ignore_ascii_case("authorization") {
                    *v = leak(f(std::str::from_utf8(v).unwrap())).as_bytes();
                }
            }
            out.push((what.to_owned(), tm));
        }
        let mut tm = owned.clone();
        for (n, v) in &mut tm.headers {
            if n.eq_ignore_ascii_case("x-amz-date") {
                *v = b"20231010T003001Z";
            }
        }
        out.push(("x-amz-date".to_owned(), tm));
    } else {
        let mut tm = owned.clone();
        let query = owned.query;
        let pos = query.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
        let sig_char = query.as_bytes()[pos];
        let repl = if sig_char == b'0' { "1" } else { "0" };
        tm.query = leak(format!("{}{}{}", &query[..pos], repl, &query[pos + 1..]));
        out.push(("signature".to_owned(), tm));
        let mut tm = owned.clone();
        tm.query =
            leak(query.replace("X-Amz-Date=20231010T003000Z", "X-Amz-Date=20231010T003001Z"));
        out.push(("x-amz-date".to_owned(), tm));
        let mut tm = owned.clone();
        tm.query = leak(query.replace("X-Amz-Expires=", "X-Amz-Expires=0"));
        out.push(("expires".to_owned(), tm));
        let mut tm = owned.clone();
        tm.query = leak(query.replacen("%2Fus-", "%2Fxx-", 1));
        out.push(("region".to_owned(), tm));
    }
    out
}

#[test]
fn tampering_any_signed_part_fails() {
    for case in cases() {
        let req = sign_case(&case, t0());
        let p = parts(&req);
        let tampered = tamperings(&p, !case.unsigned);
        assert!(
            tampered.len() >= 6,
            "{}: only {} tamperings",
            case.name,
            tampered.len()
        );
        for (what, m) in tampered {
            let err = check(&m, t0())
                .expect_err(&format!("{}: tampered {what} still verified", case.name));
            assert_eq!(
                err.code(),
                "SignatureDoesNotMatch",
                "{}: tampered {what}: {err:?}",
                case.name
            );
            assert!(!err.message().contains(SK));
        }
    }
}

#[test]
fn wrong_secret_fails_and_message_leaks_nothing() {
    let req = sign_case(&Case::default(), t0());
    let p = parts(&req);
    let parsed = parse(&p).unwrap();
    let err = verify(&parsed, &p, &SecretString::new("not-the-secret"), t0()).unwrap_err();
    assert_eq!(err, SigV4Error::SignatureDoesNotMatch);
    assert_eq!(err.status(), 403);
    assert!(!format!("{err:?} {err}").contains("not-the-secret"));
}

#[test]
fn unsigned_headers_may_be_added() {
    let req = sign_case(&Case::default(), t0());
    let mut p = parts(&req);
    p.headers.push(("user-agent", b"something else"));
    p.headers.push(("x-forwarded-for", b"10.0.0.1"));
    check(&p, t0()).unwrap();
}

#[test]
fn lookup_trait_maps_unknown_keys_to_invalid_client_token_id() {
    let req = sign_case(&Case::default(), t0());
    let p = parts(&req);
    let mut keys: HashMap<String, SecretString> = HashMap::new();
    assert_eq!(
        verify_request(&keys, &p, t0()).unwrap_err(),
        SigV4Error::InvalidClientTokenId
    );
    keys.insert(AK.to_owned(), secret());
    let v = verify_request(&keys, &p, t0()).unwrap();
    assert_eq!(v.access_key_id(), AK);
}

#[test]
fn unsigned_payload_can_be_refused() {
    let case = Case {
        checksum_header: true,
        unsigned: true,
        ..Case::default()
    };
    let req = sign_case(&case, t0());
    let p = parts(&req);
    let config = SigV4Config {
        allow_unsigned_payload: false,
        ..SigV4Config::default()
    };
    let parsed = config.parse(&p).unwrap();
    assert_eq!(
        config.verify(&parsed, &p, &secret(), t0()).unwrap_err(),
        SigV4Error::SignatureDoesNotMatch
    );
}

#[test]
fn header_checksum_must_match_the_body() {
    let case = Case {
        checksum_header: true,
        ..Case::default()
    };
    let req = sign_case(&case, t0());
    let mut p = parts(&req);
    p.payload = Payload::Bytes(b"Action=CreateUser&UserName=evil&Version=2010-05-08");
    assert_eq!(
        check(&p, t0()).unwrap_err(),
        SigV4Error::SignatureDoesNotMatch
    );
}

// ---- time window ----

fn at(offset_secs: i64) -> SystemTime {
    if offset_secs >= 0 {
        t0() + Duration::from_secs(offset_secs.unsigned_abs())
    } else {
        t0() - Duration::from_secs(offset_secs.unsigned_abs())
    }
}

#[test]
fn header_form_allows_fifteen_minutes_of_skew_each_way() {
    let req = sign_case(&Case::default(), t0());
    let p = parts(&req);
    check(&p, at(900)).unwrap();
    check(&p, at(-900)).unwrap();
    let err = check(&p, at(901)).unwrap_err();
    assert_eq!(err.code(), "SignatureDoesNotMatch");
    assert_eq!(err.status(), 403);
    assert_eq!(
        err.message(),
        "Signature expired: 20231010T003000Z is now earlier than 20231010T003001Z (20231010T004501Z - 15 min.)"
    );
    let err = check(&p, at(-901)).unwrap_err();
    assert_eq!(err.code(), "SignatureDoesNotMatch");
    assert_eq!(
        err.message(),
        "Signature not yet current: 20231010T003000Z is still later than 20231010T002959Z (20231010T001459Z + 15 min.)"
    );
}

fn presigned(expires: u64) -> Case<'static> {
    Case {
        method: "GET",
        uri: "https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15",
        headers: vec![],
        body: b"",
        location: SignatureLocation::QueryParams,
        expires: Some(Duration::from_secs(expires)),
        ..Case::default()
    }
}

#[test]
fn presigned_expiry_is_enforced() {
    let req = sign_case(&presigned(60), t0());
    let p = parts(&req);
    check(&p, at(60)).unwrap();
    let err = check(&p, at(61)).unwrap_err();
    assert_eq!(err, SigV4Error::PresignedExpired);
    assert_eq!(err.code(), "AccessDenied");
    assert_eq!(err.status(), 403);
    assert_eq!(err.message(), "Request has expired.");
    // Not yet current applies to presigned URLs too.
    assert_eq!(
        check(&p, at(-901)).unwrap_err().code(),
        "SignatureDoesNotMatch"
    );
}

#[test]
fn presigned_lifetime_is_capped_by_skew_unless_configured() {
    let req = sign_case(&presigned(3600), t0());
    let p = parts(&req);
    check(&p, at(900)).unwrap();
    assert!(matches!(
        check(&p, at(901)).unwrap_err(),
        SigV4Error::SignatureExpired { .. }
    ));
    let long = SigV4Config {
        presigned_within_skew: false,
        ..SigV4Config::default()
    };
    let parsed = long.parse(&p).unwrap();
    long.verify(&parsed, &p, &secret(), at(3600)).unwrap();
    assert_eq!(
        long.verify(&parsed, &p, &secret(), at(3601)).unwrap_err(),
        SigV4Error::PresignedExpired
    );
}

#[test]
fn services_outside_the_allow_list_are_refused() {
    let case = Case {
        service: "dynamodb",
        ..Case::default()
    };
    let req = sign_case(&case, t0());
    let p = parts(&req);
    let err = parse(&p).unwrap_err();
    assert_eq!(err.code(), "SignatureDoesNotMatch");
    assert_eq!(
        err.message(),
        "Credential should be scoped to correct service: 'sts' or 'iam'. "
    );
    let config = SigV4Config {
        allowed_services: vec!["dynamodb".into()],
        ..SigV4Config::default()
    };
    let parsed = config.parse(&p).unwrap();
    config.verify(&parsed, &p, &secret(), t0()).unwrap();
}
