//! The verifier against a real in-process HTTPS issuer.
// Fixture helpers outside #[test] fns panic on broken setup by design.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{public_keys, start_issuer, Mode, TestIssuer};
use irsa_core::{Clock, SystemClock, TestClock};
use irsa_oidc::jwt::b64url;
use irsa_oidc::{
    mint, sign_jws, ErrorCode, ErrorKind, ObjectRef, OidcVerifier, ProviderTrust,
    ServiceAccountToken, SigningKey, SigningKeyType, VerifierConfig, KEY_RETRIEVAL_MESSAGE,
    THUMBPRINT_MESSAGE,
};
use serde_json::{json, Value};

const AUD: &str = "sts.amazonaws.com";

struct Env {
    issuer: TestIssuer,
    rsa: SigningKey,
    ec: SigningKey,
    clock: TestClock,
    verifier: OidcVerifier,
    provider: ProviderTrust,
}

fn clock() -> TestClock {
    // Claims use the test clock; TLS validity uses real time, so start there.
    TestClock::new(SystemClock.now())
}

fn config_for(issuer: &TestIssuer, clock: &TestClock, trust_ca: bool) -> VerifierConfig {
    let mut cfg = VerifierConfig {
        clock: Arc::new(clock.clone()),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(2),
        ..VerifierConfig::default()
    };
    if trust_ca {
        assert_eq!(cfg.add_ca_pem(issuer.ca_pem.as_bytes()).unwrap(), 1);
    }
    cfg
}

async fn env() -> Env {
    let rsa = SigningKey::generate(SigningKeyType::Rsa2048).unwrap();
    let ec = SigningKey::generate(SigningKeyType::EcdsaP256).unwrap();
    let issuer = start_issuer(public_keys(&[&rsa, &ec])).await;
    let clock = clock();
    let verifier = OidcVerifier::new(config_for(&issuer, &clock, true)).unwrap();
    let provider = ProviderTrust::new(&issuer.url, [AUD], Vec::<String>::new(), false).unwrap();
    Env {
        issuer,
        rsa,
        ec,
        clock,
        verifier,
        provider,
    }
}

impl Env {
    fn now(&self) -> i64 {
        self.clock.unix_seconds()
    }

    fn k8s(&self, key: &SigningKey) -> String {
        sa_token(&self.issuer.url).mint(key, self.now()).unwrap()
    }

    /// Standard claims with overrides (a `null` override removes the claim).
    fn claims(&self, overrides: &Value) -> Value {
        let now = self.now();
        let mut c = json!({
            "iss": self.issuer.url, "aud": [AUD], "sub": "system:serviceaccount:default:app",
            "exp": now + 3600, "iat": now, "nbf": now,
        });
        for (k, v) in overrides.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    }

    async fn verify(
        &self,
        token: &str,
    ) -> Result<irsa_oidc::VerifiedToken, irsa_oidc::VerifyError> {
        self.verifier.verify(token, &self.provider).await
    }
}

fn sa_token(issuer: &str) -> ServiceAccountToken {
    ServiceAccountToken {
        issuer: issuer.to_owned(),
        audiences: vec![AUD.to_owned()],
        namespace: "default".into(),
        service_account: ObjectRef {
            name: "app".into(),
            uid: "8f1e4e2c-0000-4000-8000-000000000001".into(),
        },
        pod: Some(ObjectRef {
            name: "app-6d9f7c".into(),
            uid: "8f1e4e2c-0000-4000-8000-000000000002".into(),
        }),
        node: Some(ObjectRef {
            name: "node-1".into(),
            uid: "8f1e4e2c-0000-4000-8000-000000000003".into(),
        }),
        expiration_seconds: 3600,
        warn_after: None,
    }
}

#[tokio::test]
async fn kubernetes_tokens_rs256_and_es256_verify_and_cache() {
    let e = env().await;
    for key in [&e.rsa, &e.ec] {
        let v = e.verify(&format!("{}\n", e.k8s(key))).await.unwrap();
        assert_eq!(v.subject(), "system:serviceaccount:default:app");
        assert_eq!(v.audience(), AUD);
        assert_eq!(v.issuer(), e.issuer.url);
        assert_eq!(v.kid(), Some(key.kid()));
        assert_eq!(v.claims()["kubernetes.io"]["pod"]["name"], "app-6d9f7c");
        assert_eq!(v.role_authorized("arn:aws:iam::123456789012:role/x"), None);
        assert!(v.expires_at() > e.now());
    }
    let stats = e.verifier.cache_stats();
    assert_eq!(e.issuer.jwks_hits(), 1, "second token served from cache");
    assert_eq!((stats.fetches, stats.hits, stats.misses), (1, 1, 1));
}

#[tokio::test]
async fn github_actions_shaped_token() {
    let e = env().await;
    let claims = e.claims(&json!({
        "aud": "sts.amazonaws.com",
        "sub": "repo:org/repo:ref:refs/heads/main",
        "repository": "org/repo", "ref": "refs/heads/main",
        "amr": ["pwd", "mfa"], "azp": "gha",
        "https://aws.amazon.com/roles": "arn:aws:iam::123456789012:role/ci",
        "https://aws.amazon.com/source_identity": "alice",
        "https://aws.amazon.com/tags": {"principal_tags": {"team": ["infra"]}},
    }));
    let v = e.verify(&mint(&claims, &e.ec).unwrap()).await.unwrap();
    assert_eq!(v.subject(), "repo:org/repo:ref:refs/heads/main");
    assert_eq!(v.audiences(), [AUD]);
    assert_eq!(v.amr(), ["pwd", "mfa"]);
    assert_eq!(v.azp(), Some("gha"));
    assert_eq!(v.source_identity(), Some("alice"));
    assert_eq!(
        v.role_authorized("arn:aws:iam::123456789012:role/ci"),
        Some(true)
    );
    assert_eq!(
        v.role_authorized("arn:aws:iam::123456789012:role/other"),
        Some(false)
    );
    assert_eq!(v.tags().unwrap()["principal_tags"]["team"][0], "infra");
}

#[tokio::test]
async fn audience_and_required_claims() {
    let e = env().await;
    let cases = [
        (
            json!({"aud": ["other", "another"]}),
            "Incorrect token audience",
        ),
        (json!({"aud": null}), "Missing a required claim: aud"),
        (json!({"sub": null}), "Missing a required claim: sub"),
        (
            json!({"sub": 42}),
            "Invalid claim: sub must be a non-empty string",
        ),
        (json!({"exp": null}), "Missing a required claim: exp"),
        (
            json!({"aud": 7}),
            "Invalid claim: aud must be a string or an array of strings",
        ),
    ];
    for (overrides, message) in cases {
        let t = mint(&e.claims(&overrides), &e.rsa).unwrap();
        let err = e.verify(&t).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidIdentityToken, "{overrides}");
        assert_eq!(err.message(), message, "{overrides}");
        assert!(
            !err.to_string().contains(&t[..20]),
            "error must not echo the token"
        );
    }
    // A second matching audience in an array is fine; the matched one is reported.
    let t = mint(&e.claims(&json!({"aud": ["x", AUD]})), &e.rsa).unwrap();
    assert_eq!(e.verify(&t).await.unwrap().audience(), AUD);
}

#[tokio::test]
async fn issuer_mismatches() {
    let e = env().await;
    let t = mint(&e.claims(&json!({"iss": "https://other.example"})), &e.rsa).unwrap();
    let err = e.verify(&t).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IssuerMismatch);
    assert_eq!(err.code(), ErrorCode::InvalidIdentityToken);
    // Trailing slash in iss is the same issuer.
    let t = mint(
        &e.claims(&json!({"iss": format!("{}/", e.issuer.url)})),
        &e.rsa,
    )
    .unwrap();
    e.verify(&t).await.unwrap();

    let legacy = mint(
        &json!({"iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:default:app",
                "kubernetes.io/serviceaccount/namespace": "default"}),
        &e.rsa,
    )
    .unwrap();
    let err = e.verify(&legacy).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LegacyServiceAccountToken);

    // The discovery document names another issuer.
    let e = env().await;
    e.issuer.set_mode(Mode::WrongIssuer);
    let err = e.verify(&e.k8s(&e.rsa)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidIdentityToken);
    assert_eq!(err.message(), KEY_RETRIEVAL_MESSAGE);
    assert_eq!(err.kind(), ErrorKind::Discovery);
    assert!(err.detail().unwrap().contains("evil.example"), "{err:?}");
}

#[tokio::test]
async fn expiry_with_five_minute_skew() {
    let e = env().await;
    let now = e.now();
    let within = mint(
        &e.claims(&json!({"exp": now - 299, "iat": now - 4000, "nbf": now - 4000})),
        &e.rsa,
    )
    .unwrap();
    e.verify(&within).await.unwrap();
    let expired = mint(
        &e.claims(&json!({"exp": now - 301, "iat": now - 4000, "nbf": now - 4000})),
        &e.rsa,
    )
    .unwrap();
    let err = e.verify(&expired).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ExpiredTokenException);
    assert_eq!(
        err.message(),
        format!(
            "Token expired: current date/time {now} must be before the expiration date/time {}",
            now - 301
        )
    );
    // The clock moving past exp + skew expires a token that was fine.
    let t = e.k8s(&e.ec);
    e.verify(&t).await.unwrap();
    e.clock.advance(Duration::from_secs(3600 + 300));
    assert_eq!(
        e.verify(&t).await.unwrap_err().code(),
        ErrorCode::ExpiredTokenException
    );
}

#[tokio::test]
async fn not_before_and_issued_at_in_the_future() {
    let e = env().await;
    let now = e.now();
    let ok = mint(
        &e.claims(&json!({"nbf": now + 200, "iat": now + 200})),
        &e.rsa,
    )
    .unwrap();
    e.verify(&ok).await.unwrap();
    let nbf = mint(&e.claims(&json!({"nbf": now + 301})), &e.rsa).unwrap();
    let err = e.verify(&nbf).await.unwrap_err();
    assert_eq!(
        (err.code(), err.kind()),
        (ErrorCode::InvalidIdentityToken, ErrorKind::NotYetValid)
    );
    let iat = mint(&e.claims(&json!({"iat": now + 301})), &e.rsa).unwrap();
    assert_eq!(
        e.verify(&iat).await.unwrap_err().kind(),
        ErrorKind::IssuedInFuture
    );
}

#[tokio::test]
async fn forged_and_mismatched_signatures() {
    let e = env().await;
    let claims = e.claims(&json!({}));
    // Another key, same kid.
    let other = SigningKey::generate(SigningKeyType::Rsa2048).unwrap();
    let forged = sign_jws(
        &json!({"alg": "RS256", "kid": e.rsa.kid()}),
        &claims,
        &other,
    )
    .unwrap();
    let err = e.verify(&forged).await.unwrap_err();
    assert_eq!(
        (err.code(), err.kind()),
        (ErrorCode::InvalidIdentityToken, ErrorKind::BadSignature)
    );

    // Claims changed after signing.
    let good = mint(&claims, &e.rsa).unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    let evil = b64url(
        e.claims(&json!({"sub": "system:serviceaccount:kube-system:admin"}))
            .to_string()
            .as_bytes(),
    );
    let tampered = format!("{}.{}.{}", parts[0], evil, parts[2]);
    assert_eq!(
        e.verify(&tampered).await.unwrap_err().kind(),
        ErrorKind::BadSignature
    );

    // alg none.
    let none = format!(
        "{}.{}.{}",
        b64url(br#"{"alg":"none","kid":"x"}"#),
        b64url(claims.to_string().as_bytes()),
        b64url(b"x")
    );
    let err = e.verify(&none).await.unwrap_err();
    assert_eq!(
        (err.code(), err.kind()),
        (
            ErrorCode::InvalidIdentityToken,
            ErrorKind::UnsupportedAlgorithm
        )
    );

    // Header says ES256 but the kid names the RSA key.
    let mismatch = sign_jws(&json!({"alg": "ES256", "kid": e.rsa.kid()}), &claims, &e.ec).unwrap();
    let err = e.verify(&mismatch).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnsupportedAlgorithm);
    assert!(err.message().contains("RSA-2048"), "{}", err.message());
    // Header says RS256 with the EC key's kid.
    let mismatch = sign_jws(&json!({"alg": "RS256", "kid": e.ec.kid()}), &claims, &e.rsa).unwrap();
    assert_eq!(
        e.verify(&mismatch).await.unwrap_err().kind(),
        ErrorKind::UnsupportedAlgorithm
    );

    // HS256 keyed with the public key (the classic confusion attack).
    let public_pem = pem::encode(&pem::Pem::new("PUBLIC KEY", e.rsa.public_key().spki_der()));
    let input = format!(
        "{}.{}",
        b64url(
            json!({"alg": "HS256", "kid": e.rsa.kid()})
                .to_string()
                .as_bytes()
        ),
        b64url(claims.to_string().as_bytes())
    );
    let hkey = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, public_pem.as_bytes());
    let tag = aws_lc_rs::hmac::sign(&hkey, input.as_bytes());
    let hs = format!("{input}.{}", b64url(tag.as_ref()));
    let err = e.verify(&hs).await.unwrap_err();
    assert_eq!(
        (err.code(), err.kind()),
        (
            ErrorCode::InvalidIdentityToken,
            ErrorKind::UnsupportedAlgorithm
        )
    );

    // None of these needed more than the one JWKS fetch.
    assert_eq!(e.issuer.jwks_hits(), 1);
}

#[tokio::test]
async fn garbage_is_rejected_without_network() {
    let e = env().await;
    let long = "a".repeat(20_001);
    let not_utf8 = format!(
        "{}.{}.{}",
        b64url(br#"{"alg":"RS256"}"#),
        b64url(&[0xff, 0xfe]),
        b64url(b"s")
    );
    for garbage in [
        "",
        "abc",
        "not-a-jwt",
        "a.b.c",
        "....",
        long.as_str(),
        not_utf8.as_str(),
        "e30.e30.e30.e30",
    ] {
        let err = e.verify(garbage).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidIdentityToken, "{garbage:.20}");
        assert_eq!(err.kind(), ErrorKind::Malformed, "{garbage:.20}");
    }
    let err = e.verify(&long).await.unwrap_err();
    assert!(err.message().contains("20001"), "{}", err.message());
    assert_eq!(e.issuer.jwks_hits(), 0);
}

#[tokio::test]
async fn thumbprint_pins_an_untrusted_ca() {
    let e = env().await;
    let token = e.k8s(&e.rsa);
    // The issuer's CA is not trusted by this verifier.
    let untrusting = OidcVerifier::new(config_for(&e.issuer, &e.clock, false)).unwrap();

    // An empty list matches nothing, as a wrong one: AWS's thumbprint error.
    let no_pin = ProviderTrust::new(&e.issuer.url, [AUD], Vec::<String>::new(), false).unwrap();
    let err = untrusting.verify(&token, &no_pin).await.unwrap_err();
    assert_eq!(
        (err.code(), err.kind()),
        (
            ErrorCode::InvalidIdentityToken,
            ErrorKind::ThumbprintMismatch
        )
    );
    assert_eq!(err.message(), THUMBPRINT_MESSAGE);
    assert_eq!(err.code().as_str(), "InvalidIdentityToken");
    assert_eq!(err.code().http_status(), 400);

    let wrong = ProviderTrust::new(
        &e.issuer.url,
        [AUD],
        ["0000000000000000000000000000000000000000"],
        false,
    )
    .unwrap();
    let err = untrusting.verify(&token, &wrong).await.unwrap_err();
    assert_eq!(
        (err.code(), err.kind()),
        (
            ErrorCode::InvalidIdentityToken,
            ErrorKind::ThumbprintMismatch
        )
    );
    assert_eq!(
        err.message(),
        "OpenIDConnect provider's HTTPS certificate doesn't match configured thumbprint"
    );

    let thumb = e.issuer.ca_thumbprint().to_uppercase();
    let pinned = ProviderTrust::new(
        &e.issuer.url,
        [AUD],
        ["0000000000000000000000000000000000000000", thumb.as_str()],
        false,
    )
    .unwrap();
    let v = untrusting.verify(&token, &pinned).await.unwrap();
    assert_eq!(v.subject(), "system:serviceaccount:default:app");
    assert_eq!(e.issuer.jwks_hits(), 1);
}

#[tokio::test]
async fn pinned_thumbprint_still_checks_the_hostname() {
    // Certificate for "localhost" only, reached as 127.0.0.1: the pinned CA
    // matches, but the name does not, so the chain is still refused.
    let rsa = SigningKey::generate(SigningKeyType::Rsa2048).unwrap();
    let issuer = common::start_issuer_with_names(public_keys(&[&rsa]), &["localhost"]).await;
    let clock = clock();
    let untrusting = OidcVerifier::new(config_for(&issuer, &clock, false)).unwrap();
    let thumb = issuer.ca_thumbprint();
    let p = ProviderTrust::new(&issuer.url, [AUD], [thumb.as_str()], false).unwrap();
    let t = sa_token(&issuer.url)
        .mint(&rsa, clock.unix_seconds())
        .unwrap();
    let err = untrusting.verify(&t, &p).await.unwrap_err();
    assert_eq!(
        (err.code(), err.kind()),
        (ErrorCode::InvalidIdentityToken, ErrorKind::Fetch),
        "{err:?}"
    );
    assert!(
        err.detail().unwrap().contains("not valid for name"),
        "{err:?}"
    );
    assert_eq!(issuer.jwks_hits(), 0);

    // The same pin through the name the certificate does cover is accepted.
    let url = issuer.url.replace("127.0.0.1", "localhost");
    let fresh = OidcVerifier::new(config_for(&issuer, &clock, false)).unwrap();
    let p = ProviderTrust::new(&url, [AUD], [thumb.as_str()], false).unwrap();
    let t = mint(
        &json!({"iss": url, "aud": AUD, "sub": "s", "exp": clock.unix_seconds() + 60}),
        &rsa,
    )
    .unwrap();
    // Discovery answers with issuer 127.0.0.1, which proves TLS was accepted
    // and the request reached the discovery checks.
    let err = fresh.verify(&t, &p).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Discovery, "{err:?}");
}

#[tokio::test]
async fn key_rotation_and_unknown_kid_flood() {
    let e = env().await;
    e.verify(&e.k8s(&e.rsa)).await.unwrap();
    assert_eq!(e.issuer.jwks_hits(), 1);

    // Rotate: a new key is published; tokens signed by it carry a new kid.
    let new_key = SigningKey::generate(SigningKeyType::Rsa2048).unwrap();
    e.issuer.set_keys(public_keys(&[&e.rsa, &e.ec, &new_key]));
    e.clock.advance(Duration::from_secs(11));
    e.verify(&e.k8s(&new_key)).await.unwrap();
    assert_eq!(e.issuer.jwks_hits(), 2, "one refetch for the new kid");

    // 200 concurrent tokens with unknown kids, after the rate-limit window.
    e.clock.advance(Duration::from_secs(11));
    let claims = e.claims(&json!({}));
    let mut tasks = Vec::new();
    for i in 0..200 {
        let token = sign_jws(
            &json!({"alg": "RS256", "kid": format!("bogus-{i}")}),
            &claims,
            &e.rsa,
        )
        .unwrap();
        let v = e.verifier.clone();
        let p = e.provider.clone();
        tasks.push(tokio::spawn(async move { v.verify(&token, &p).await }));
    }
    for t in tasks {
        let err = t.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::KeyNotFound);
    }
    assert_eq!(
        e.issuer.jwks_hits(),
        3,
        "the flood caused exactly one fetch"
    );
    // More bad kids within 10 s: no fetch at all.
    for i in 0..50 {
        let token = sign_jws(
            &json!({"alg": "RS256", "kid": format!("again-{i}")}),
            &claims,
            &e.rsa,
        )
        .unwrap();
        e.verify(&token).await.unwrap_err();
    }
    assert_eq!(e.issuer.jwks_hits(), 3);
    assert!(e.verifier.cache_stats().rate_limited >= 50);
    // Good tokens keep flowing from cache meanwhile.
    e.verify(&e.k8s(&e.ec)).await.unwrap();
    assert_eq!(e.issuer.jwks_hits(), 3);
}

#[tokio::test]
async fn concurrent_cold_misses_share_one_fetch() {
    let e = env().await;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let token = e.k8s(&e.rsa);
        let v = e.verifier.clone();
        let p = e.provider.clone();
        tasks.push(tokio::spawn(async move { v.verify(&token, &p).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(e.issuer.jwks_hits(), 1);
    assert_eq!(e.verifier.cache_stats().fetches, 1);
}

#[tokio::test]
async fn cache_control_is_honoured_within_bounds() {
    let e = env().await;
    e.issuer.set_cache_control("max-age=120");
    e.verify(&e.k8s(&e.rsa)).await.unwrap();
    e.clock.advance(Duration::from_secs(100));
    e.verify(&e.k8s(&e.rsa)).await.unwrap();
    assert_eq!(e.issuer.jwks_hits(), 1);
    e.clock.advance(Duration::from_secs(30));
    e.verify(&e.k8s(&e.rsa)).await.unwrap();
    assert_eq!(e.issuer.jwks_hits(), 2, "expired after 120 s");

    // max-age=1 is raised to the 60 s floor.
    e.issuer.set_cache_control("max-age=1");
    e.clock.advance(Duration::from_secs(200));
    e.verify(&e.k8s(&e.rsa)).await.unwrap();
    assert_eq!(e.issuer.jwks_hits(), 3);
    e.clock.advance(Duration::from_secs(30));
    e.verify(&e.k8s(&e.rsa)).await.unwrap();
    assert_eq!(e.issuer.jwks_hits(), 3, "floor of 60 s");
}

#[tokio::test]
async fn issuer_down_warm_cache_serves_stale_cold_cache_fails() {
    let e = env().await;
    e.verify(&e.k8s(&e.rsa)).await.unwrap();
    e.issuer.set_mode(Mode::Down);
    e.clock.advance(Duration::from_secs(2 * 3600));
    let v = e.verify(&e.k8s(&e.rsa)).await.unwrap();
    assert_eq!(v.audience(), AUD);
    let stats = e.verifier.cache_stats();
    assert_eq!(stats.fetch_errors, 1);
    assert_eq!(stats.stale_served, 1);

    let cold = OidcVerifier::new(config_for(&e.issuer, &e.clock, true)).unwrap();
    let err = cold.verify(&e.k8s(&e.rsa), &e.provider).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidIdentityToken);
    assert_eq!(
        err.message(),
        "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements"
    );
    assert!(err.detail().unwrap().contains("503"), "{err:?}");
    assert_eq!(err.code().as_str(), "InvalidIdentityToken");

    // Nothing listening at all.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("https://127.0.0.1:{port}");
    let p = ProviderTrust::new(&url, [AUD], Vec::<String>::new(), false).unwrap();
    let t = mint(&e.claims(&json!({"iss": url})), &e.rsa).unwrap();
    let err = cold.verify(&t, &p).await.unwrap_err();
    assert_eq!(err.message(), KEY_RETRIEVAL_MESSAGE);
    assert_eq!(
        (err.code(), err.kind()),
        (ErrorCode::InvalidIdentityToken, ErrorKind::Fetch)
    );
}

#[tokio::test]
async fn jwks_uri_must_be_https() {
    let e = env().await;
    for uri in [
        "http://127.0.0.1:1/jwks".to_owned(),
        "ftp://127.0.0.1/jwks".to_owned(),
        "file:///etc/passwd".to_owned(),
    ] {
        e.verifier.clear_cache();
        e.clock.advance(Duration::from_secs(11));
        e.issuer.set_mode(Mode::JwksUri(uri.clone()));
        let err = e.verify(&e.k8s(&e.rsa)).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidIdentityToken, "{uri}");
        assert_eq!(err.message(), KEY_RETRIEVAL_MESSAGE, "{uri}");
        assert!(err.detail().unwrap().contains("only https"), "{err:?}");
    }
    assert_eq!(e.issuer.jwks_hits(), 0);
    // JWKS on another https host (here: another name for the same server) is fine.
    e.verifier.clear_cache();
    e.issuer.set_mode(Mode::JwksUri(format!(
        "{}/openid/v1/jwks",
        e.issuer.url.replace("127.0.0.1", "localhost")
    )));
    e.verify(&e.k8s(&e.rsa)).await.unwrap();
}

#[tokio::test]
async fn redirects_are_bounded_and_never_to_http() {
    let e = env().await;
    e.issuer.set_mode(Mode::RedirectLoop);
    let started = Instant::now();
    let err = e.verify(&e.k8s(&e.rsa)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidIdentityToken);
    assert_eq!(err.message(), KEY_RETRIEVAL_MESSAGE);
    assert!(err.detail().unwrap().contains("redirect"), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));

    let e = env().await;
    e.issuer.set_mode(Mode::RedirectToHttp);
    let err = e.verify(&e.k8s(&e.rsa)).await.unwrap_err();
    assert!(err.detail().unwrap().contains("http URL"), "{err:?}");
}

#[tokio::test]
async fn huge_jwks_is_cut_off_at_the_cap() {
    for mode in [Mode::Huge, Mode::HugeDeclared] {
        let e = env().await;
        e.issuer.set_mode(mode.clone());
        let started = Instant::now();
        let err = e.verify(&e.k8s(&e.rsa)).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidIdentityToken);
        assert_eq!(err.message(), KEY_RETRIEVAL_MESSAGE);
        assert!(
            err.detail()
                .unwrap()
                .contains("exceeds the limit of 1048576 bytes"),
            "{mode:?} {err:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{mode:?} took {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn slow_loris_issuer_times_out() {
    let e = env().await;
    e.issuer.set_mode(Mode::SlowLoris);
    let started = Instant::now();
    let err = e.verify(&e.k8s(&e.rsa)).await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.code(), ErrorCode::InvalidIdentityToken);
    assert_eq!(err.message(), KEY_RETRIEVAL_MESSAGE);
    assert!(err.detail().unwrap().contains("timed out"), "{err:?}");
    // connect (2 s) + read (2 s) budget, with margin for a loaded machine.
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(8),
        "{took:?}"
    );
}

#[tokio::test]
async fn tokens_interoperate_with_jsonwebtoken() {
    use irsa_oidc::KeyMaterial;
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
    let e = env().await;

    // Ours -> jsonwebtoken.
    for (key, alg) in [(&e.rsa, Algorithm::RS256), (&e.ec, Algorithm::ES256)] {
        let token = e.k8s(key);
        let dk = match key.public_key().material() {
            KeyMaterial::Rsa { n, e: exp } => DecodingKey::from_rsa_raw_components(n, exp),
            KeyMaterial::Ec { x, y, .. } => {
                DecodingKey::from_ec_components(&b64url(x), &b64url(y)).unwrap()
            }
            KeyMaterial::Ed25519 { .. } => unreachable!(),
        };
        let mut validation = Validation::new(alg);
        validation.set_audience(&[AUD]);
        validation.set_issuer(&[&e.issuer.url]);
        let data = jsonwebtoken::decode::<Value>(&token, &dk, &validation).unwrap();
        assert_eq!(data.header.kid.as_deref(), Some(key.kid()));
        assert_eq!(data.claims["sub"], "system:serviceaccount:default:app");
    }

    // jsonwebtoken -> ours (ES256 from our PKCS#8 key).
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(e.ec.kid().to_owned());
    let ek = EncodingKey::from_ec_der(e.ec.pkcs8_der().expose());
    let token = jsonwebtoken::encode(
        &header,
        &e.claims(&json!({"sub": "from-jsonwebtoken"})),
        &ek,
    )
    .unwrap();
    assert_eq!(
        e.verify(&token).await.unwrap().subject(),
        "from-jsonwebtoken"
    );
}

#[tokio::test]
async fn thumbprint_report_matches_iam_rules() {
    let e = env().await;
    let cfg = config_for(&e.issuer, &e.clock, false);
    let report = irsa_oidc::issuer_thumbprint(&format!("{}/", e.issuer.url), &cfg)
        .await
        .unwrap();
    assert_eq!(report.thumbprint, e.issuer.ca_thumbprint());
    assert_eq!(report.thumbprint.len(), 40);
    assert_eq!(report.issuer, e.issuer.url);
    assert_eq!(report.chain.len(), 2);
    assert!(
        report.chain[0].subject.contains("irsa test issuer"),
        "{:?}",
        report.chain
    );
    assert!(report.chain[1].subject.contains("irsa test CA"));
    assert!(
        report.trusted_by_roots.is_err(),
        "test CA is not a public root"
    );

    let trusted =
        irsa_oidc::issuer_thumbprint(&e.issuer.url, &config_for(&e.issuer, &e.clock, true))
            .await
            .unwrap();
    assert!(
        trusted.trusted_by_roots.is_ok(),
        "{:?}",
        trusted.trusted_by_roots
    );
}

/// Signs `header.claims` with a raw signing function.
fn raw_token(header: &Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let sig = sign(input.as_bytes());
    format!("{input}.{}", b64url(&sig))
}

#[tokio::test]
async fn es384_ps256_and_eddsa_verify() {
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _, RsaKeyPair, RSA_PSS_SHA256};
    use irsa_oidc::{KeyMaterial, PublicKey};

    let rsa = SigningKey::generate(SigningKeyType::Rsa2048).unwrap();
    let p384 = SigningKey::generate(SigningKeyType::EcdsaP384).unwrap();
    let ed = Ed25519KeyPair::generate().unwrap();
    let ed_public = PublicKey::from_material(KeyMaterial::Ed25519 {
        x: ed.public_key().as_ref().to_vec(),
    });
    let mut keys = public_keys(&[&rsa, &p384]);
    keys.push(ed_public.clone());
    let issuer = start_issuer(keys).await;
    let clock = clock();
    let verifier = OidcVerifier::new(config_for(&issuer, &clock, true)).unwrap();
    let provider = ProviderTrust::new(&issuer.url, [AUD], Vec::<String>::new(), false).unwrap();
    let now = clock.unix_seconds();
    let claims = json!({"iss": issuer.url, "aud": AUD, "sub": "s", "exp": now + 60});

    let es384 = mint(&claims, &p384).unwrap();
    assert_eq!(
        verifier.verify(&es384, &provider).await.unwrap().alg(),
        irsa_oidc::Alg::ES384
    );

    // The published JWK says alg RS256, so a PS256 token under that kid is
    // refused; without a kid the key's declared alg still rules it out.
    let pss = RsaKeyPair::from_pkcs8(rsa.pkcs8_der().expose()).unwrap();
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let ps_sign = |m: &[u8]| {
        let mut sig = vec![0; pss.public_modulus_len()];
        pss.sign(&RSA_PSS_SHA256, &rng, m, &mut sig).unwrap();
        sig
    };
    let ps256 = raw_token(&json!({"alg": "PS256", "kid": rsa.kid()}), &claims, ps_sign);
    let err = verifier.verify(&ps256, &provider).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnsupportedAlgorithm);

    let eddsa = raw_token(
        &json!({"alg": "EdDSA", "kid": ed_public.kid()}),
        &claims,
        |m| ed.sign(m).as_ref().to_vec(),
    );
    assert_eq!(
        verifier.verify(&eddsa, &provider).await.unwrap().alg(),
        irsa_oidc::Alg::EdDSA
    );
    // EdDSA header with an EC key's kid: alg/key mismatch.
    let wrong = raw_token(&json!({"alg": "EdDSA", "kid": p384.kid()}), &claims, |m| {
        ed.sign(m).as_ref().to_vec()
    });
    assert_eq!(
        verifier.verify(&wrong, &provider).await.unwrap_err().kind(),
        ErrorKind::UnsupportedAlgorithm
    );
}

#[tokio::test]
async fn ps256_verifies_against_a_jwk_without_alg() {
    use aws_lc_rs::signature::{RsaKeyPair, RSA_PSS_SHA256};

    let rsa = SigningKey::generate(SigningKeyType::Rsa2048).unwrap();
    let issuer = start_issuer(Vec::new()).await;
    // Publish the RSA key without an "alg" member, as many IdPs do.
    let mut jwk = rsa.public_key().to_jwk();
    jwk.as_object_mut().unwrap().remove("alg");
    issuer.set_raw_jwks(Some(json!({"keys": [jwk]})));
    let clock = clock();
    let verifier = OidcVerifier::new(config_for(&issuer, &clock, true)).unwrap();
    let provider = ProviderTrust::new(&issuer.url, [AUD], Vec::<String>::new(), false).unwrap();
    let claims =
        json!({"iss": issuer.url, "aud": AUD, "sub": "s", "exp": clock.unix_seconds() + 60});
    let pss = RsaKeyPair::from_pkcs8(rsa.pkcs8_der().expose()).unwrap();
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let ps256 = raw_token(&json!({"alg": "PS256", "kid": rsa.kid()}), &claims, |m| {
        let mut sig = vec![0; pss.public_modulus_len()];
        pss.sign(&RSA_PSS_SHA256, &rng, m, &mut sig).unwrap();
        sig
    });
    assert_eq!(
        verifier.verify(&ps256, &provider).await.unwrap().alg(),
        irsa_oidc::Alg::PS256
    );
    // RS256 over the same key also works, the JWK does not restrict it.
    let rs256 = mint(&claims, &rsa).unwrap();
    verifier.verify(&rs256, &provider).await.unwrap();
}

#[tokio::test]
async fn thumbprint_of_a_self_signed_leaf() {
    // The top (only) certificate is the self-signed leaf: its SHA-1 pins it.
    let rsa = SigningKey::generate(SigningKeyType::Rsa2048).unwrap();
    let issuer = common::start_issuer_self_signed(public_keys(&[&rsa])).await;
    let clock = clock();
    let cfg = config_for(&issuer, &clock, false);
    let report = irsa_oidc::issuer_thumbprint(&issuer.url, &cfg)
        .await
        .unwrap();
    assert_eq!(report.thumbprint, issuer.ca_thumbprint());
    assert_eq!(report.chain.len(), 1);

    let verifier = OidcVerifier::new(cfg).unwrap();
    let t = sa_token(&issuer.url)
        .mint(&rsa, clock.unix_seconds())
        .unwrap();
    let pinned =
        ProviderTrust::new(&issuer.url, [AUD], [report.thumbprint.as_str()], false).unwrap();
    verifier.verify(&t, &pinned).await.unwrap();
    let other = ProviderTrust::new(
        &issuer.url,
        [AUD],
        ["ffffffffffffffffffffffffffffffffffffffff"],
        false,
    )
    .unwrap();
    assert_eq!(
        verifier.verify(&t, &other).await.unwrap_err().message(),
        THUMBPRINT_MESSAGE
    );
}

#[tokio::test]
async fn plain_http_issuer_only_with_explicit_opt_in() {
    let key = SigningKey::generate(SigningKeyType::EcdsaP256).unwrap();
    let issuer = common::start_plain_issuer(public_keys(&[&key])).await;
    let clock = clock();
    let t = sa_token(&issuer.url)
        .mint(&key, clock.unix_seconds())
        .unwrap();

    assert!(ProviderTrust::new(&issuer.url, [AUD], Vec::<String>::new(), false).is_err());
    let provider = ProviderTrust::new(&issuer.url, [AUD], Vec::<String>::new(), true).unwrap();
    // A verifier without the opt-in refuses the http issuer outright.
    let strict = OidcVerifier::new(config_for(&issuer, &clock, false)).unwrap();
    let err = strict.verify(&t, &provider).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IssuerMismatch);
    assert!(
        err.message().ends_with("the scheme must be https"),
        "{}",
        err.message()
    );
    assert_eq!(issuer.jwks_hits(), 0);

    let insecure = OidcVerifier::new(VerifierConfig {
        allow_insecure_http: true,
        ..config_for(&issuer, &clock, false)
    })
    .unwrap();
    let v = insecure.verify(&t, &provider).await.unwrap();
    assert_eq!(v.issuer(), issuer.url);
    assert_eq!(issuer.jwks_hits(), 1);
}

#[tokio::test]
async fn explanations_name_the_failing_step() {
    use irsa_oidc::{Status, Step};
    let e = env().await;
    let good = e.k8s(&e.rsa);
    let result = e.verify(&good).await;
    let trace = e.verifier.explain(&good, &e.provider, &result);
    assert!(
        trace.iter().all(|s| s.status == Status::Passed),
        "{trace:?}"
    );
    let aud = trace.iter().find(|s| s.step == Step::Audience).unwrap();
    assert!(
        aud.detail.contains("matched client id sts.amazonaws.com"),
        "{aud:?}"
    );

    let wrong_aud = mint(&e.claims(&json!({"aud": "other"})), &e.rsa).unwrap();
    let result = e.verify(&wrong_aud).await;
    let trace = e.verifier.explain(&wrong_aud, &e.provider, &result);
    let statuses: Vec<_> = trace.iter().map(|s| (s.step, s.status)).collect();
    assert_eq!(statuses[8], (Step::Audience, Status::Failed));
    assert_eq!(statuses[7], (Step::IssuedAt, Status::Passed));
    assert_eq!(statuses[9], (Step::Subject, Status::NotChecked));
    assert!(trace[8].detail.contains("Incorrect token audience"));

    let no_sub = mint(&e.claims(&json!({"sub": null})), &e.rsa).unwrap();
    let result = e.verify(&no_sub).await;
    let trace = e.verifier.explain(&no_sub, &e.provider, &result);
    let failed: Vec<_> = trace
        .iter()
        .filter(|s| s.status == Status::Failed)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].step, Step::Subject);
}

/// Every refusal the verifier can produce, with the AWS code, HTTP status and
/// message STS answers (irsa-api renders `code().as_str()` and `message()`).
#[tokio::test]
async fn every_error_kind_has_the_aws_code_status_and_message() {
    let e = env().await;
    let now = e.now();
    let good = e.k8s(&e.rsa);
    let (signing_input, _) = good.rsplit_once('.').unwrap();
    let forged = format!("{signing_input}.{}", b64url(&[7u8; 256]));
    let bogus_kid = sign_jws(
        &json!({"alg": "RS256", "kid": "not-published"}),
        &e.claims(&json!({})),
        &e.rsa,
    )
    .unwrap();
    let hs256 = format!(
        "{}.{}.c2ln",
        b64url(br#"{"alg":"HS256"}"#),
        b64url(e.claims(&json!({})).to_string().as_bytes())
    );
    let legacy = mint(
        &json!({"iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:default:app"}),
        &e.rsa,
    )
    .unwrap();
    let claims = |o: Value| mint(&e.claims(&o), &e.rsa).unwrap();
    let invalid = ErrorCode::InvalidIdentityToken;
    let cases: Vec<(&str, String, ErrorCode, ErrorKind, String)> = vec![
        ("not a JWT", "a.b".into(), invalid, ErrorKind::Malformed, String::new()),
        (
            "HMAC",
            hs256,
            invalid,
            ErrorKind::UnsupportedAlgorithm,
            "Symmetric signing algorithm HS256 is not accepted; use an asymmetric algorithm".into(),
        ),
        (
            "other issuer",
            claims(json!({"iss": "https://other.example"})),
            invalid,
            ErrorKind::IssuerMismatch,
            String::new(),
        ),
        (
            "legacy secret token",
            legacy,
            invalid,
            ErrorKind::LegacyServiceAccountToken,
            String::new(),
        ),
        ("forged signature", forged, invalid, ErrorKind::BadSignature,
            "The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request.".into()),
        (
            "expired",
            claims(json!({"exp": now - 301})),
            ErrorCode::ExpiredTokenException,
            ErrorKind::Expired,
            format!(
                "Token expired: current date/time {now} must be before the expiration date/time {}",
                now - 301
            ),
        ),
        (
            "not yet valid",
            claims(json!({"nbf": now + 3600})),
            invalid,
            ErrorKind::NotYetValid,
            String::new(),
        ),
        (
            "issued in the future",
            claims(json!({"iat": now + 3600})),
            invalid,
            ErrorKind::IssuedInFuture,
            String::new(),
        ),
        (
            "no sub",
            claims(json!({"sub": null})),
            invalid,
            ErrorKind::MissingClaim,
            "Missing a required claim: sub".into(),
        ),
        (
            "numeric sub",
            claims(json!({"sub": 5})),
            invalid,
            ErrorKind::InvalidClaim,
            String::new(),
        ),
        (
            "other audience",
            claims(json!({"aud": "other"})),
            invalid,
            ErrorKind::AudienceMismatch,
            "Incorrect token audience".into(),
        ),
        ("unknown kid", bogus_kid, invalid, ErrorKind::KeyNotFound, String::new()),
    ];
    for (what, token, code, kind, message) in cases {
        let err = e.verify(&token).await.unwrap_err();
        assert_eq!((err.code(), err.kind()), (code, kind), "{what}: {err:?}");
        assert_eq!(err.code().http_status(), 400, "{what}");
        if !message.is_empty() {
            assert_eq!(err.message(), message, "{what}");
        }
    }

    // Fetch and discovery failures: AWS's key-retrieval message, 400.
    for (mode, kind) in [
        (Mode::Down, ErrorKind::Fetch),
        (Mode::WrongIssuer, ErrorKind::Discovery),
    ] {
        let e = env().await;
        e.issuer.set_mode(mode.clone());
        let err = e.verify(&e.k8s(&e.rsa)).await.unwrap_err();
        assert_eq!((err.code(), err.kind()), (invalid, kind), "{mode:?}");
        assert_eq!(err.code().as_str(), "InvalidIdentityToken");
        assert_eq!(err.code().http_status(), 400);
        assert_eq!(err.message(), KEY_RETRIEVAL_MESSAGE, "{mode:?}");
        assert!(err.message().contains("provider,  please"), "two spaces");
    }
}
