//! AssumeRoleWithWebIdentity end to end: a real HTTPS OIDC issuer with a
//! throwaway CA, the IAM setup through aws-sdk-iam, and the aws-sdk-rust
//! web-identity credentials provider reading a token file.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on setup failures

mod common;

use std::fmt::Write as _;
use std::sync::Arc;

use aws_sdk_sts::error::ProvideErrorMetadata;
use common::issuer::HttpsIssuer;
use common::TestServer;
use irsa_core::{SystemClock, TestClock};
use irsa_oidc::{mint, SigningKeyType};

const ACCOUNT: &str = "123456789012";

fn now() -> i64 {
    irsa_core::Clock::unix_seconds(&SystemClock)
}

/// The IAM half of the walkthrough: provider, role trusting one service account.
async fn setup(server: &TestServer, issuer: &HttpsIssuer, role: &str, trust_sub: &str) {
    let iam = server.iam(server.root_credentials());
    let _ = iam
        .create_open_id_connect_provider()
        .url(&issuer.url)
        .client_id_list("sts.amazonaws.com")
        .send()
        .await;
    let host = issuer.host();
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": issuer.provider_arn(ACCOUNT)},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {format!("{host}:aud"): "sts.amazonaws.com"},
                "StringLike": {format!("{host}:sub"): trust_sub}
            }
        }]
    });
    iam.create_role()
        .role_name(role)
        .assume_role_policy_document(trust.to_string())
        .max_session_duration(7200)
        .send()
        .await
        .unwrap();
}

async fn assume(
    server: &TestServer,
    role: &str,
    token: &str,
) -> Result<
    aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityOutput,
    (String, String),
> {
    // Unsigned call: no credentials at all, as a pod without keys makes it.
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new("us-east-1"))
        .endpoint_url(server.endpoint())
        .build();
    aws_sdk_sts::Client::from_conf(config)
        .assume_role_with_web_identity()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/{role}"))
        .role_session_name("pod")
        .web_identity_token(token)
        .send()
        .await
        .map_err(|e| {
            let e = e.into_service_error();
            (
                e.code().unwrap_or_default().to_owned(),
                e.message().unwrap_or_default().to_owned(),
            )
        })
}

#[tokio::test]
async fn irsa_walkthrough_with_sdk_web_identity_provider() {
    let issuer = HttpsIssuer::start(SigningKeyType::Rsa2048).await;
    let server = TestServer::start_with(Arc::new(SystemClock), Some(issuer.ca_file.path())).await;
    setup(&server, &issuer, "app", "system:serviceaccount:default:app").await;

    // Direct call: every response field the walkthrough lists.
    let token = issuer.service_account_token("default", "app", "sts.amazonaws.com", now());
    let out = assume(&server, "app", &token).await.unwrap();
    assert_eq!(
        out.subject_from_web_identity_token(),
        Some("system:serviceaccount:default:app")
    );
    assert_eq!(out.audience(), Some("sts.amazonaws.com"));
    assert_eq!(out.provider(), Some(issuer.provider_arn(ACCOUNT).as_str()));
    assert_eq!(
        out.assumed_role_user().unwrap().arn(),
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/app/pod")
    );
    assert!(out
        .credentials()
        .unwrap()
        .access_key_id()
        .starts_with("ASIA"));

    // The SDK's own flow: token file (with a trailing newline, as kubelet
    // writes it) + role ARN, credentials fetched and used transparently.
    let token_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token_file.path(), format!("{token}\n")).unwrap();
    // Exactly the environment the webhook gives a pod; only this test in
    // this binary reads the process environment.
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
    ] {
        std::env::remove_var(var);
    }
    std::env::set_var("AWS_CONFIG_FILE", "/dev/null");
    std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var("AWS_ROLE_ARN", format!("arn:aws:iam::{ACCOUNT}:role/app"));
    std::env::set_var("AWS_ROLE_SESSION_NAME", "sdk-session");
    std::env::set_var("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.path());
    std::env::set_var("AWS_ENDPOINT_URL_STS", server.endpoint());
    let sdk_config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let me = aws_sdk_sts::Client::new(&sdk_config)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.arn(),
        Some(format!("arn:aws:sts::{ACCOUNT}:assumed-role/app/sdk-session").as_str())
    );
}

#[tokio::test]
async fn walkthrough_mistakes_give_the_errors_users_search_for() {
    let issuer = HttpsIssuer::start(SigningKeyType::EcdsaP256).await;
    let server = TestServer::start_with(Arc::new(SystemClock), Some(issuer.ca_file.path())).await;
    setup(&server, &issuer, "app", "system:serviceaccount:default:app").await;
    let t = now();

    // Another audience.
    let token = issuer.service_account_token("default", "app", "vault", t);
    let (code, message) = assume(&server, "app", &token).await.unwrap_err();
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("InvalidIdentityToken", "Incorrect token audience")
    );

    // Another service account.
    let token = issuer.service_account_token("default", "other", "sts.amazonaws.com", t);
    let (code, message) = assume(&server, "app", &token).await.unwrap_err();
    assert_eq!(code, "AccessDenied");
    assert_eq!(
        message,
        "Not authorized to perform sts:AssumeRoleWithWebIdentity"
    );

    // A role that does not exist is denied the same way.
    let token = issuer.service_account_token("default", "app", "sts.amazonaws.com", t);
    let (code, message) = assume(&server, "nope", &token).await.unwrap_err();
    assert_eq!(code, "AccessDenied");
    assert_eq!(
        message,
        "Not authorized to perform sts:AssumeRoleWithWebIdentity"
    );

    // Expired (beyond the five-minute allowance).
    let token = issuer.service_account_token("default", "app", "sts.amazonaws.com", t - 3600 - 600);
    let (code, message) = assume(&server, "app", &token).await.unwrap_err();
    assert_eq!(code, "ExpiredTokenException");
    assert!(
        message.starts_with("Token expired: current date/time"),
        "{message}"
    );

    // Unregistered issuer.
    let stranger = HttpsIssuer::start(SigningKeyType::Rsa2048).await;
    let token = stranger.service_account_token("default", "app", "sts.amazonaws.com", t);
    let (code, message) = assume(&server, "app", &token).await.unwrap_err();
    assert_eq!(code, "InvalidIdentityToken");
    assert_eq!(
        message,
        format!(
            "No OpenIDConnect provider found in your account for {}",
            stranger.url
        )
    );

    // Signed by a key the issuer never published (same kid).
    let mut claims: serde_json::Value =
        serde_json::from_slice(&base64_url_decode(token.split('.').nth(1).unwrap())).unwrap();
    claims["iss"] = serde_json::Value::String(issuer.url.clone());
    let forged = mint(&claims, &stranger.key).unwrap();
    let (code, _) = assume(&server, "app", &forged).await.unwrap_err();
    assert_eq!(code, "InvalidIdentityToken");

    // Garbage.
    let (code, _) = assume(&server, "app", "not.a.jwt").await.unwrap_err();
    assert_eq!(code, "InvalidIdentityToken");

    // Every outcome is counted.
    let metrics = server.get_text("/metrics").await;
    for line in [
        r#"irsa_api_requests_total{action="AssumeRoleWithWebIdentity",outcome="AccessDenied"} 2"#,
        r#"irsa_api_requests_total{action="AssumeRoleWithWebIdentity",outcome="ExpiredTokenException"} 1"#,
        r#"irsa_oidc_key_cache_events_total{event="fetch"}"#,
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }
}

#[tokio::test]
async fn duration_is_capped_by_max_session_duration() {
    let issuer = HttpsIssuer::start(SigningKeyType::Rsa2048).await;
    let clock = TestClock::new(std::time::SystemTime::now());
    let server = TestServer::start_with(Arc::new(clock), Some(issuer.ca_file.path())).await;
    setup(&server, &issuer, "app", "system:serviceaccount:*:app").await;
    let token = issuer.service_account_token("prod", "app", "sts.amazonaws.com", now());
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new("us-east-1"))
        .endpoint_url(server.endpoint())
        .build();
    let sts = aws_sdk_sts::Client::from_conf(config);
    let err = sts
        .assume_role_with_web_identity()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/app"))
        .role_session_name("pod")
        .web_identity_token(&token)
        .duration_seconds(7201)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("ValidationError"));
    assert_eq!(
        err.message(),
        Some("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    );
    let out = sts
        .assume_role_with_web_identity()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/app"))
        .role_session_name("pod")
        .web_identity_token(&token)
        .duration_seconds(7200)
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.subject_from_web_identity_token(),
        Some("system:serviceaccount:prod:app")
    );
}

fn base64_url_decode(segment: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment)
        .unwrap()
}

// ---- irsa explain (ExplainWebIdentity), hot-path cache, IDPRejectedClaim ----

fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        for (j, part) in [k, v].iter().enumerate() {
            if j == 1 {
                out.push('=');
            }
            for b in part.bytes() {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    out.push(char::from(b));
                } else {
                    let _ = write!(out, "%{b:02X}");
                }
            }
        }
    }
    out
}

/// A SigV4-signed Query POST asking for JSON; returns (status, body).
async fn signed_post(
    server: &TestServer,
    key_id: &str,
    secret: &str,
    pairs: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    use aws_sigv4::sign::v4;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = form_encode(pairs);
    let host = server.addr.to_string();
    let url = format!("http://{host}/");
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let identity = aws_credential_types::Credentials::new(key_id, secret, None, None, "t").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("sts")
        .time(irsa_core::Clock::now(&SystemClock))
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let headers = [("host", host.as_str()), ("content-type", content_type)];
    let signable = SignableRequest::new(
        "POST",
        &url,
        headers.iter().copied(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nAccept: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in instructions.headers() {
        let _ = write!(request, "{name}: {value}\r\n");
    }
    request.push_str("\r\n");
    request.push_str(&body);
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status: u16 = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap();
    let (head, rest) = response.split_once("\r\n\r\n").unwrap();
    // Bodies are small; tolerate chunked framing by finding the JSON object.
    let json_text = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let start = rest.find('{').unwrap();
        let end = rest.rfind('}').unwrap();
        &rest[start..=end]
    } else {
        rest
    };
    (status, serde_json::from_str(json_text).unwrap())
}

async fn explain_as(
    server: &TestServer,
    key_id: &str,
    secret: &str,
    role: &str,
    token: &str,
) -> irsa_api::explain::Explanation {
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/{role}");
    let (status, body) = signed_post(
        server,
        key_id,
        secret,
        &[
            ("Action", "ExplainWebIdentity"),
            ("Version", "2011-06-15"),
            ("RoleArn", &role_arn),
            ("WebIdentityToken", token),
            ("RoleSessionName", "pod"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    irsa_api::explain::Explanation::from_response_json(&body).unwrap()
}

async fn explain(server: &TestServer, role: &str, token: &str) -> irsa_api::explain::Explanation {
    let root = &server.root;
    explain_as(
        server,
        &root.access_key_id,
        root.secret_access_key.expose(),
        role,
        token,
    )
    .await
}

fn find_step<'a>(
    steps: &'a [irsa_api::explain::ExplainStep],
    name: &str,
) -> Option<&'a irsa_api::explain::ExplainStep> {
    steps.iter().find_map(|s| {
        if s.name == name {
            Some(s)
        } else {
            find_step(&s.steps, name)
        }
    })
}

/// Re-signs `token`'s claims after `edit` with the issuer's key.
fn remint(issuer: &HttpsIssuer, token: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut claims: serde_json::Value =
        serde_json::from_slice(&base64_url_decode(token.split('.').nth(1).unwrap())).unwrap();
    edit(&mut claims);
    mint(&claims, &issuer.key).unwrap()
}

#[tokio::test]
async fn explain_answers_exactly_what_assume_role_with_web_identity_answers() {
    let issuer = HttpsIssuer::start(SigningKeyType::Rsa2048).await;
    let server = TestServer::start_with(Arc::new(SystemClock), Some(issuer.ca_file.path())).await;
    setup(&server, &issuer, "app", "system:serviceaccount:default:app").await;
    let t = now();
    let good = issuer.service_account_token("default", "app", "sts.amazonaws.com", t);
    let stranger = HttpsIssuer::start(SigningKeyType::Rsa2048).await;
    let cases: Vec<(&str, &str, String)> = vec![
        ("happy path", "app", good.clone()),
        (
            "wrong aud",
            "app",
            issuer.service_account_token("default", "app", "vault", t),
        ),
        (
            "sub mismatch",
            "app",
            issuer.service_account_token("default", "other", "sts.amazonaws.com", t),
        ),
        (
            "unknown issuer",
            "app",
            stranger.service_account_token("default", "app", "sts.amazonaws.com", t),
        ),
        (
            "expired",
            "app",
            issuer.service_account_token("default", "app", "sts.amazonaws.com", t - 3600 - 600),
        ),
        ("role missing", "nope", good.clone()),
        (
            "trailing slash issuer",
            "app",
            remint(&issuer, &good, |c| {
                c["iss"] = serde_json::Value::String(format!("{}/", issuer.url));
            }),
        ),
        (
            "http issuer",
            "app",
            remint(&issuer, &good, |c| {
                c["iss"] = serde_json::Value::String(issuer.url.replace("https://", "http://"));
            }),
        ),
        ("garbage", "app", "not.a.jwt".to_owned()),
    ];
    for (name, role, token) in &cases {
        let explained = explain(&server, role, token).await;
        let real = assume(&server, role, token).await;
        match real {
            Ok(_) => {
                assert!(explained.outcome.allowed, "{name}: {explained:?}");
                assert_eq!(explained.outcome.code, None, "{name}");
            }
            Err((code, message)) => {
                assert!(!explained.outcome.allowed, "{name}");
                assert_eq!(
                    explained.outcome.code.as_deref(),
                    Some(code.as_str()),
                    "{name}"
                );
                assert_eq!(
                    explained.outcome.message.as_deref(),
                    Some(message.as_str()),
                    "{name}"
                );
            }
        }
        // Never the token's signature (nor the token itself).
        let text = serde_json::to_string(&explained).unwrap();
        if let Some(signature) = token.split('.').nth(2) {
            assert!(!text.contains(signature), "{name}: signature leaked");
        }
    }

    // The steps say why.
    let happy = explain(&server, "app", &good).await;
    let human = happy.render_human();
    assert!(human.contains("✓ provider"), "{human}");
    assert!(human.contains("✓ signature valid"), "{human}");
    assert!(human.contains("Result: ✓ allowed"), "{human}");

    let wrong_sub = issuer.service_account_token("default", "other", "sts.amazonaws.com", t);
    let e = explain(&server, "app", &wrong_sub).await;
    let sub_condition = find_step(&e.steps, &format!("StringLike {}:sub", issuer.host())).unwrap();
    assert_eq!(sub_condition.status, irsa_api::explain::StepStatus::Failed);
    assert!(
        sub_condition
            .summary
            .contains("system:serviceaccount:default:other"),
        "{}",
        sub_condition.summary
    );
    let aud_condition =
        find_step(&e.steps, &format!("StringEquals {}:aud", issuer.host())).unwrap();
    assert_eq!(aud_condition.status, irsa_api::explain::StepStatus::Passed);

    let wrong_aud = issuer.service_account_token("default", "app", "vault", t);
    let e = explain(&server, "app", &wrong_aud).await;
    let aud = find_step(&e.steps, "aud is a registered client id").unwrap();
    assert_eq!(aud.status, irsa_api::explain::StepStatus::Failed);
    assert!(
        aud.details.iter().any(|d| d.contains("sts.amazonaws.com")),
        "{aud:?}"
    );

    // irsa normalises a trailing slash; http vs https is a different provider.
    let http = remint(&issuer, &good, |c| {
        c["iss"] = serde_json::Value::String(issuer.url.replace("https://", "http://"));
    });
    let e = explain(&server, "app", &http).await;
    let provider = find_step(&e.steps, "provider").unwrap();
    assert_eq!(provider.status, irsa_api::explain::StepStatus::Failed);
    assert!(
        provider
            .details
            .iter()
            .any(|d| d.contains(r#"scheme "http" vs "https""#)),
        "{provider:?}"
    );

    let expired =
        issuer.service_account_token("default", "app", "sts.amazonaws.com", t - 3600 - 600);
    let e = explain(&server, "app", &expired).await;
    let exp = find_step(&e.steps, "exp not passed").unwrap();
    assert_eq!(exp.status, irsa_api::explain::StepStatus::Failed);

    let e = explain(&server, "nope", &good).await;
    assert_eq!(
        find_step(&e.steps, "role").unwrap().status,
        irsa_api::explain::StepStatus::Failed
    );
}

#[tokio::test]
async fn explain_needs_irsa_explain_permission() {
    let issuer = HttpsIssuer::start(SigningKeyType::EcdsaP256).await;
    let server = TestServer::start_with(Arc::new(SystemClock), Some(issuer.ca_file.path())).await;
    setup(&server, &issuer, "app", "system:serviceaccount:default:app").await;
    let iam = server.iam(server.root_credentials());
    iam.create_user().user_name("dev").send().await.unwrap();
    let key = iam
        .create_access_key()
        .user_name("dev")
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    let token = issuer.service_account_token("default", "app", "sts.amazonaws.com", now());
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/app");
    let pairs = [
        ("Action", "ExplainWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", role_arn.as_str()),
        ("WebIdentityToken", token.as_str()),
    ];
    let (status, body) = signed_post(
        &server,
        key.access_key_id(),
        key.secret_access_key(),
        &pairs,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["Error"]["Code"], "AccessDenied");
    assert_eq!(
        body["Error"]["Message"],
        format!(
            "User: arn:aws:iam::{ACCOUNT}:user/dev is not authorized to perform: irsa:ExplainWebIdentity on resource: {role_arn} because no identity-based policy allows the irsa:ExplainWebIdentity action"
        )
    );
    iam.put_user_policy()
        .user_name("dev")
        .policy_name("explain")
        .policy_document(
            serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "irsa:ExplainWebIdentity", "Resource": "*"}]
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let e = explain_as(
        &server,
        key.access_key_id(),
        key.secret_access_key(),
        "app",
        &token,
    )
    .await;
    assert!(e.outcome.allowed, "{e:?}");

    // Missing parameters are AWS-shaped errors.
    let (status, body) = signed_post(
        &server,
        key.access_key_id(),
        key.secret_access_key(),
        &pairs[..3],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["Error"]["Code"], "ValidationError");
}

#[tokio::test]
async fn cached_lookups_see_iam_changes_at_once() {
    let issuer = HttpsIssuer::start(SigningKeyType::Rsa2048).await;
    let server = TestServer::start_with(Arc::new(SystemClock), Some(issuer.ca_file.path())).await;
    setup(&server, &issuer, "app", "system:serviceaccount:default:app").await;
    let iam = server.iam(server.root_credentials());
    let token = issuer.service_account_token("default", "app", "sts.amazonaws.com", now());
    assume(&server, "app", &token).await.unwrap();
    let misses = |metrics: &str, entity: &str| -> u64 {
        let prefix =
            format!(r#"irsa_api_lookup_cache_events_total{{entity="{entity}",event="miss"}} "#);
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("{prefix} missing from:\n{metrics}"))
            .trim()
            .parse()
            .unwrap()
    };
    let before = server.get_text("/metrics").await;
    // Warm: the hot path reads neither provider nor role from the store.
    for _ in 0..5 {
        assume(&server, "app", &token).await.unwrap();
    }
    let metrics = server.get_text("/metrics").await;
    for entity in ["provider", "role"] {
        assert_eq!(
            misses(&before, entity),
            misses(&metrics, entity),
            "{entity}"
        );
    }
    for line in [
        r#"irsa_api_lookup_cache_events_total{entity="provider",event="hit"}"#,
        r#"irsa_api_lookup_cache_events_total{entity="role",event="hit"}"#,
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }

    // A trust policy for another service account: the very next call is denied.
    let host = issuer.host();
    let trust = |sub: &str| {
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Federated": issuer.provider_arn(ACCOUNT)},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {format!("{host}:sub"): sub}}
            }]
        })
        .to_string()
    };
    iam.update_assume_role_policy()
        .role_name("app")
        .policy_document(trust("system:serviceaccount:default:other"))
        .send()
        .await
        .unwrap();
    let (code, _) = assume(&server, "app", &token).await.unwrap_err();
    assert_eq!(code, "AccessDenied");
    iam.update_assume_role_policy()
        .role_name("app")
        .policy_document(trust("system:serviceaccount:default:app"))
        .send()
        .await
        .unwrap();
    assume(&server, "app", &token).await.unwrap();

    // Deleted: denied at once; created again: allowed at once (the negative
    // answer is not kept).
    iam.delete_role().role_name("app").send().await.unwrap();
    let (code, _) = assume(&server, "app", &token).await.unwrap_err();
    assert_eq!(code, "AccessDenied");
    iam.create_role()
        .role_name("app")
        .assume_role_policy_document(trust("system:serviceaccount:default:app"))
        .send()
        .await
        .unwrap();
    assume(&server, "app", &token).await.unwrap();

    // The provider's client ids change: the cached provider is dropped too.
    iam.remove_client_id_from_open_id_connect_provider()
        .open_id_connect_provider_arn(issuer.provider_arn(ACCOUNT))
        .client_id("sts.amazonaws.com")
        .send()
        .await
        .unwrap();
    let (code, message) = assume(&server, "app", &token).await.unwrap_err();
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("InvalidIdentityToken", "Incorrect token audience")
    );
}

#[tokio::test]
async fn malformed_aws_claims_are_idp_rejected_claim() {
    let issuer = HttpsIssuer::start(SigningKeyType::Rsa2048).await;
    let server = TestServer::start_with(Arc::new(SystemClock), Some(issuer.ca_file.path())).await;
    setup(&server, &issuer, "app", "system:serviceaccount:default:app").await;
    let good = issuer.service_account_token("default", "app", "sts.amazonaws.com", now());
    let bad_tags = remint(&issuer, &good, |c| {
        c["https://aws.amazon.com/tags"] =
            serde_json::json!({"principal_tags": {"team": ["a", "b"]}});
    });
    let (code, message) = assume(&server, "app", &bad_tags).await.unwrap_err();
    assert_eq!(code, "IDPRejectedClaim");
    assert!(message.contains("https://aws.amazon.com/tags"), "{message}");
    let bad_source = remint(&issuer, &good, |c| {
        c["https://aws.amazon.com/source_identity"] = serde_json::json!("aws:admin");
    });
    let (code, message) = assume(&server, "app", &bad_source).await.unwrap_err();
    assert_eq!(code, "IDPRejectedClaim");
    assert!(
        message.contains("https://aws.amazon.com/source_identity"),
        "{message}"
    );
    // Explain names the same answer.
    let e = explain(&server, "app", &bad_tags).await;
    assert_eq!(e.outcome.code.as_deref(), Some("IDPRejectedClaim"));
    assert_eq!(e.outcome.http_status, 403);
}
