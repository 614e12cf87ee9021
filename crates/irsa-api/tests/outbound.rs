//! Outbound web identity federation through `AwsApi::handle`: IAM
//! Enable/Disable/GetOutboundWebIdentityFederationInfo and STS
//! GetWebIdentityToken, every error path, with requests signed by the real
//! `aws-sigv4` crate against a SQLite store and a test signer.

#![allow(clippy::unwrap_used)]

mod common;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use irsa_api::{OutboundAlg, OutboundSignerError, OutboundTokenSigner};
use irsa_core::Clock;
use serde_json::{json, Value};

use common::*;

/// A signer over one RSA and one P-384 key, like the server's.
#[derive(Debug)]
struct TestSigner {
    rsa: irsa_oidc::SigningKey,
    ec: irsa_oidc::SigningKey,
    prepared: std::sync::atomic::AtomicUsize,
}

const ISSUER: &str = "https://issuer.example/outbound";

impl TestSigner {
    fn new() -> Self {
        Self {
            rsa: irsa_oidc::SigningKey::generate(irsa_oidc::SigningKeyType::Rsa2048).unwrap(),
            ec: irsa_oidc::SigningKey::generate(irsa_oidc::SigningKeyType::EcdsaP384).unwrap(),
            prepared: std::sync::atomic::AtomicUsize::new(0),
        }
    }
}

#[async_trait::async_trait]
impl OutboundTokenSigner for TestSigner {
    fn issuer_url(&self) -> &str {
        ISSUER
    }
    async fn prepare(&self) -> Result<(), OutboundSignerError> {
        self.prepared
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
    async fn sign(&self, alg: OutboundAlg, claims: &Value) -> Result<String, OutboundSignerError> {
        let key = match alg {
            OutboundAlg::Rs256 => &self.rsa,
            OutboundAlg::Es384 => &self.ec,
        };
        irsa_oidc::issuer::mint(claims, key).map_err(|e| OutboundSignerError(e.to_string()))
    }
}

fn with_signer(env: &Env) -> Arc<TestSigner> {
    let signer = Arc::new(TestSigner::new());
    assert!(env.api.set_outbound_token_signer(signer.clone()));
    signer
}

/// Header and claims of a compact JWS (no verification).
fn decode(token: &str) -> (Value, Value) {
    use base64::Engine as _;
    let mut parts = token.split('.');
    let mut next = || {
        serde_json::from_slice::<Value>(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(parts.next().unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    let header = next();
    let claims = next();
    (header, claims)
}

const ENABLE: &str = "Action=EnableOutboundWebIdentityFederation";
const DISABLE: &str = "Action=DisableOutboundWebIdentityFederation";
const INFO: &str = "Action=GetOutboundWebIdentityFederationInfo";
const TOKEN: &str = "Action=GetWebIdentityToken&Audience.member.1=https%3A%2F%2Fapi.example.com&SigningAlgorithm=RS256";

#[tokio::test]
async fn without_an_issuer_enable_is_refused() {
    let env = env().await;
    let r = iam(&env, &env.root, ENABLE).await;
    assert_err(&r, 400, "InvalidInput");
    assert!(
        field(&r.body, "Message").contains("--issuer-url"),
        "{}",
        r.body
    );
    assert_err(&iam(&env, &env.root, INFO).await, 404, "FeatureDisabled");
    let alice = user_with_key(&env, "alice").await;
    allow_user(&env, "alice", "jwt", r#""sts:GetWebIdentityToken""#).await;
    let r = sts(&env, &alice, TOKEN).await;
    assert_err(&r, 403, "OutboundWebIdentityFederationDisabledException");
}

#[tokio::test]
async fn enable_disable_and_info_lifecycle() {
    let env = env().await;
    let signer = with_signer(&env);
    // Never enabled: Info and Disable answer FeatureDisabled.
    assert_err(&iam(&env, &env.root, INFO).await, 404, "FeatureDisabled");
    assert_err(&iam(&env, &env.root, DISABLE).await, 404, "FeatureDisabled");

    let r = iam(&env, &env.root, ENABLE).await;
    assert_ok(&r);
    assert_eq!(field(&r.body, "IssuerIdentifier"), ISSUER);
    assert!(
        r.body
            .contains("<EnableOutboundWebIdentityFederationResult>"),
        "{}",
        r.body
    );
    assert_eq!(signer.prepared.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_err(&iam(&env, &env.root, ENABLE).await, 409, "FeatureEnabled");

    let r = iam(&env, &env.root, INFO).await;
    assert_ok(&r);
    assert_eq!(field(&r.body, "IssuerIdentifier"), ISSUER);
    assert_eq!(field(&r.body, "JwtVendingEnabled"), "true");

    let alice = user_with_key(&env, "alice").await;
    allow_user(&env, "alice", "jwt", r#""sts:GetWebIdentityToken""#).await;
    assert_ok(&sts(&env, &alice, TOKEN).await);

    assert_ok(&iam(&env, &env.root, DISABLE).await);
    let r = iam(&env, &env.root, INFO).await;
    assert_ok(&r);
    assert_eq!(field(&r.body, "IssuerIdentifier"), ISSUER);
    assert_eq!(field(&r.body, "JwtVendingEnabled"), "false");
    assert_err(&iam(&env, &env.root, DISABLE).await, 404, "FeatureDisabled");
    let r = sts(&env, &alice, TOKEN).await;
    assert_err(&r, 403, "OutboundWebIdentityFederationDisabledException");

    // Re-enabling works and keeps the issuer.
    let r = iam(&env, &env.root, ENABLE).await;
    assert_ok(&r);
    assert_eq!(field(&r.body, "IssuerIdentifier"), ISSUER);
    assert_ok(&sts(&env, &alice, TOKEN).await);

    // IAM authorization applies to the three IAM actions.
    let bob = user_with_key(&env, "bob").await;
    let r = iam(&env, &bob, INFO).await;
    assert_err(&r, 403, "AccessDenied");
    assert!(field(&r.body, "Message").contains("iam:GetOutboundWebIdentityFederationInfo"));
}

#[tokio::test]
async fn token_claims_for_a_user() {
    let env = env().await;
    with_signer(&env);
    assert_ok(&iam(&env, &env.root, ENABLE).await);
    let alice = user_with_key(&env, "alice").await;
    assert_ok(
        &iam(
            &env,
            &env.root,
            "Action=TagUser&UserName=alice&Tags.member.1.Key=team&Tags.member.1.Value=data",
        )
        .await,
    );
    allow_user(
        &env,
        "alice",
        "jwt",
        r#"["sts:GetWebIdentityToken","sts:TagGetWebIdentityToken"]"#,
    )
    .await;
    let r = sts(&env, &alice, TOKEN).await;
    assert_ok(&r);
    assert_eq!(field(&r.body, "Expiration"), "2026-11-23T14:05:00Z");
    let (header, claims) = decode(&field(&r.body, "WebIdentityToken"));
    assert_eq!(header["alg"], "RS256");
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["sub"], "arn:aws:iam::123456789012:user/alice");
    assert_eq!(claims["aud"], "https://api.example.com");
    assert_eq!(claims["iat"], T0);
    assert_eq!(claims["exp"], T0 + 300);
    assert_eq!(claims["jti"].as_str().unwrap().len(), 36);
    let aws = &claims["https://sts.amazonaws.com/"];
    assert_eq!(aws["aws_account"], ACCOUNT);
    assert_eq!(aws["source_region"], "us-east-1");
    assert_eq!(aws["principal_tags"], json!({"team": "data"}));
    assert!(aws.get("request_tags").is_none());

    // ES384, two audiences, a duration and request tags.
    let r = sts(
        &env,
        &alice,
        "Action=GetWebIdentityToken&Audience.member.1=a&Audience.member.2=b&SigningAlgorithm=ES384&DurationSeconds=3600&Tags.member.1.Key=job&Tags.member.1.Value=42",
    )
    .await;
    assert_ok(&r);
    assert_eq!(field(&r.body, "Expiration"), "2026-11-23T15:00:00Z");
    let (header, claims) = decode(&field(&r.body, "WebIdentityToken"));
    assert_eq!(header["alg"], "ES384");
    assert_eq!(claims["aud"], json!(["a", "b"]));
    assert_eq!(claims["exp"], T0 + 3600);
    assert_eq!(
        claims["https://sts.amazonaws.com/"]["request_tags"],
        json!({"job": "42"})
    );

    // JSON answers carry the same members.
    let mut req = signed(
        &alice,
        "sts",
        &format!("Version=2011-06-15&{TOKEN}"),
        env.clock.now(),
    );
    req.headers_mut()
        .insert("accept", HeaderValue::from_static("application/json"));
    let r = send(&env, &req).await;
    assert_ok(&r);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    let result = &v["GetWebIdentityTokenResponse"]["GetWebIdentityTokenResult"];
    assert!(
        result["WebIdentityToken"]
            .as_str()
            .unwrap()
            .split('.')
            .count()
            == 3,
        "{v}"
    );
    assert!(
        result["Expiration"].is_number() || result["Expiration"].is_string(),
        "{v}"
    );
}

#[tokio::test]
async fn token_request_errors() {
    let env = env().await;
    with_signer(&env);
    assert_ok(&iam(&env, &env.root, ENABLE).await);

    // Root cannot mint tokens.
    let r = sts(&env, &env.root, TOKEN).await;
    assert_err(&r, 403, "AccessDenied");

    // No permission: denied on the account's `self` resource.
    let alice = user_with_key(&env, "alice").await;
    let r = sts(&env, &alice, TOKEN).await;
    assert_err(&r, 403, "AccessDenied");
    assert_eq!(
        field(&r.body, "Message"),
        "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: sts:GetWebIdentityToken on resource: arn:aws:sts::123456789012:self because no identity-based policy allows the sts:GetWebIdentityToken action"
    );

    // Tags need sts:TagGetWebIdentityToken too.
    allow_user(&env, "alice", "jwt", r#""sts:GetWebIdentityToken""#).await;
    let tagged = format!("{TOKEN}&Tags.member.1.Key=k&Tags.member.1.Value=v");
    let r = sts(&env, &alice, &tagged).await;
    assert_err(&r, 403, "AccessDenied");
    assert!(
        field(&r.body, "Message").contains("sts:TagGetWebIdentityToken"),
        "{}",
        r.body
    );
    allow_user(
        &env,
        "alice",
        "jwt",
        r#"["sts:GetWebIdentityToken","sts:TagGetWebIdentityToken"]"#,
    )
    .await;
    assert_ok(&sts(&env, &alice, &tagged).await);

    // Validation of the request shape.
    for bad in [
        format!("{TOKEN}&DurationSeconds=59"),
        format!("{TOKEN}&DurationSeconds=3601"),
        TOKEN.replace("RS256", "HS256"),
        TOKEN.replace("RS256", "ES3841"),
    ] {
        let r = sts(&env, &alice, &bad).await;
        assert_err(&r, 400, "ValidationError");
    }
    let r = sts(
        &env,
        &alice,
        "Action=GetWebIdentityToken&SigningAlgorithm=RS256",
    )
    .await;
    assert_err(&r, 400, "ValidationError");
    assert_eq!(
        field(&r.body, "Message").replace("&apos;", "'"),
        "1 validation error detected: Value null at 'audience' failed to satisfy constraint: Member must not be null"
    );
    let r = sts(
        &env,
        &alice,
        &format!("{TOKEN}&Tags.member.1.Key=k&Tags.member.1.Value=1&Tags.member.2.Key=K&Tags.member.2.Value=2"),
    )
    .await;
    assert_err(&r, 400, "InvalidParameterValue");

    // 50 maximal tags do not fit the payload.
    let mut huge = TOKEN.to_owned();
    for i in 1..=50 {
        write!(
            huge,
            "&Tags.member.{i}.Key={i:03}{}&Tags.member.{i}.Value={}",
            "k".repeat(125),
            "v".repeat(256)
        )
        .unwrap();
    }
    let r = sts(&env, &alice, &huge).await;
    assert_err(&r, 400, "JWTPayloadSizeExceededException");
    // A handful of tags is fine.
    let mut some = TOKEN.to_owned();
    for i in 1..=5 {
        write!(
            some,
            "&Tags.member.{i}.Key=k{i}&Tags.member.{i}.Value={}",
            "v".repeat(256)
        )
        .unwrap();
    }
    assert_ok(&sts(&env, &alice, &some).await);
}

#[tokio::test]
async fn condition_keys_restrict_tokens() {
    let env = env().await;
    with_signer(&env);
    assert_ok(&iam(&env, &env.root, ENABLE).await);
    let alice = user_with_key(&env, "alice").await;
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:GetWebIdentityToken","Resource":"arn:aws:sts::123456789012:self","Condition":{"ForAllValues:StringEquals":{"sts:IdentityTokenAudience":["https://ok.example","https://also.example"]},"Null":{"sts:IdentityTokenAudience":"false"},"StringEquals":{"sts:SigningAlgorithm":"ES384"},"NumericLessThanEquals":{"sts:DurationSeconds":"300"}}}]}"#;
    assert_ok(
        &iam(
            &env,
            &env.root,
            &format!(
                "Action=PutUserPolicy&UserName=alice&PolicyName=jwt&PolicyDocument={}",
                enc(doc)
            ),
        )
        .await,
    );
    let base = "Action=GetWebIdentityToken&Audience.member.1=https%3A%2F%2Fok.example&SigningAlgorithm=ES384";
    assert_ok(&sts(&env, &alice, base).await);
    assert_ok(
        &sts(
            &env,
            &alice,
            &format!("{base}&Audience.member.2=https%3A%2F%2Falso.example&DurationSeconds=120"),
        )
        .await,
    );
    for denied in [
        format!("{base}&DurationSeconds=301"),
        base.replace("ES384", "RS256"),
        base.replace("ok.example", "evil.example"),
        format!("{base}&Audience.member.2=https%3A%2F%2Fevil.example"),
    ] {
        let r = sts(&env, &alice, &denied).await;
        assert_err(&r, 403, "AccessDenied");
    }
}

#[tokio::test]
async fn role_sessions_cannot_outlive_their_credentials() {
    let env = env().await;
    with_signer(&env);
    assert_ok(&iam(&env, &env.root, ENABLE).await);
    let alice = user_with_key(&env, "alice").await;
    allow_user(&env, "alice", "assume", r#""sts:AssumeRole""#).await;
    create_role(&env, "app", "").await;
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:GetWebIdentityToken","Resource":"*"}]}"#;
    assert_ok(
        &iam(
            &env,
            &env.root,
            &format!(
                "Action=PutRolePolicy&RoleName=app&PolicyName=jwt&PolicyDocument={}",
                enc(doc)
            ),
        )
        .await,
    );
    let r = sts(
        &env,
        &alice,
        &format!(
            "Action=AssumeRole&RoleArn={}&RoleSessionName=s1&DurationSeconds=900",
            enc("arn:aws:iam::123456789012:role/app")
        ),
    )
    .await;
    assert_ok(&r);
    let session = session_creds(&r.body);
    let r = sts(&env, &session, TOKEN).await;
    assert_ok(&r);
    let (_, claims) = decode(&field(&r.body, "WebIdentityToken"));
    assert_eq!(claims["sub"], "arn:aws:iam::123456789012:role/app");

    let r = sts(&env, &session, &format!("{TOKEN}&DurationSeconds=900")).await;
    assert_ok(&r);
    let r = sts(&env, &session, &format!("{TOKEN}&DurationSeconds=901")).await;
    assert_err(&r, 403, "SessionDurationEscalationException");
    env.clock.advance(Duration::from_secs(700));
    let r = sts(&env, &session, TOKEN).await;
    assert_err(&r, 403, "SessionDurationEscalationException");
    assert_ok(&sts(&env, &session, &format!("{TOKEN}&DurationSeconds=200")).await);
}
