//! Outbound web identity end to end: a server with its built-in issuer,
//! driven by aws-sdk-rust. Enable federation, let a role session call
//! GetWebIdentityToken, and verify the token against the server's own
//! issuer (discovery + JWKS over HTTP) with irsa-oidc's verifier and with
//! the independent `jsonwebtoken` crate. Plus the documented error cases.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use aws_sdk_sts::types::Tag;
use clap::Parser;
use irsa_core::{SharedClock, SystemClock};
use irsa_oidc::{OidcVerifier, ProviderTrust, SigningKeyType, VerifierConfig};
use irsa_server::bootstrap::RootCredentials;
use irsa_server::config::{Environment, ServeArgs};
use irsa_server::issuer::IssuerConfig;
use irsa_server::{prepare, router};
use serde_json::Value;

struct NoEnvironment;

impl Environment for NoEnvironment {
    fn var(&self, _name: &str) -> Option<String> {
        None
    }
    fn read_file(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

/// A server whose built-in issuer is served by itself at `/outbound`.
struct Server {
    addr: SocketAddr,
    issuer: String,
    root: RootCredentials,
    _data: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const AUDIENCE: &str = "https://api.example.com";

impl Server {
    /// `with_issuer: false` runs the server without `--issuer-url`.
    async fn start(with_issuer: bool) -> Server {
        let data = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let issuer = format!("http://{addr}/outbound");
        let cli = Cli::try_parse_from([
            "irsa",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.path().to_str().unwrap(),
            "--account-id",
            "123456789012",
        ])
        .unwrap();
        let mut config = cli.serve.validate(&NoEnvironment).unwrap();
        if with_issuer {
            config.issuer = Some(IssuerConfig {
                url: issuer.clone(),
                key_type: SigningKeyType::Rsa2048,
            });
            config.allow_insecure_issuer = true;
        }
        let clock: SharedClock = Arc::new(SystemClock);
        let (state, root) = prepare(config, clock).await.unwrap();
        let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Server {
            addr,
            issuer,
            root,
            _data: data,
            task,
        }
    }

    fn config(&self, creds: aws_credential_types::Credentials) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-1"))
            .endpoint_url(format!("http://{}", self.addr))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(creds),
            )
            .build()
    }

    fn root_creds(&self) -> aws_credential_types::Credentials {
        aws_credential_types::Credentials::new(
            &self.root.access_key_id,
            self.root.secret_access_key.expose(),
            None,
            None,
            "test",
        )
    }

    fn iam(&self, creds: aws_credential_types::Credentials) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.config(creds))
    }

    fn sts(&self, creds: aws_credential_types::Credentials) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.config(creds))
    }

    /// GET over a bare HTTP/1.1 connection; the body.
    async fn get(&self, path: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: irsa\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        response.split_once("\r\n\r\n").unwrap().1.to_owned()
    }

    /// A role `app` that root may assume, allowed to mint tokens, and a
    /// session of it.
    async fn role_session(&self) -> aws_credential_types::Credentials {
        let iam = self.iam(self.root_creds());
        // IAM refuses a trust policy naming a user that does not exist.
        iam.create_user().user_name("alice").send().await.unwrap();
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"sts:AssumeRole"}]}"#;
        iam.create_role()
            .role_name("app")
            .assume_role_policy_document(trust)
            .send()
            .await
            .unwrap();
        iam.put_role_policy()
            .role_name("app")
            .policy_name("jwt")
            .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:GetWebIdentityToken","sts:TagGetWebIdentityToken"],"Resource":"*"}]}"#)
            .send()
            .await
            .unwrap();
        iam.put_user_policy()
            .user_name("alice")
            .policy_name("assume")
            .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#)
            .send()
            .await
            .unwrap();
        let key = iam
            .create_access_key()
            .user_name("alice")
            .send()
            .await
            .unwrap()
            .access_key
            .unwrap();
        let alice = aws_credential_types::Credentials::new(
            key.access_key_id,
            key.secret_access_key,
            None,
            None,
            "test",
        );
        let assumed = self
            .sts(alice)
            .assume_role()
            .role_arn("arn:aws:iam::123456789012:role/app")
            .role_session_name("worker")
            .duration_seconds(900)
            .send()
            .await
            .unwrap();
        let c = assumed.credentials.unwrap();
        aws_credential_types::Credentials::new(
            c.access_key_id,
            c.secret_access_key,
            Some(c.session_token),
            None,
            "test",
        )
    }
}

fn code<E, R>(e: &aws_sdk_sts::error::SdkError<E, R>) -> String
where
    E: aws_sdk_sts::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|s| s.code().map(str::to_owned))
        .unwrap_or_else(|| "<no service error>".to_owned())
}

#[tokio::test]
async fn role_session_token_verifies_against_the_built_in_issuer() {
    let server = Server::start(true).await;
    let iam = server.iam(server.root_creds());

    let enabled = iam
        .enable_outbound_web_identity_federation()
        .send()
        .await
        .unwrap();
    assert_eq!(enabled.issuer_identifier(), Some(server.issuer.as_str()));
    let info = iam
        .get_outbound_web_identity_federation_info()
        .send()
        .await
        .unwrap();
    assert_eq!(info.issuer_identifier(), Some(server.issuer.as_str()));
    assert!(info.jwt_vending_enabled());

    let session = server.role_session().await;
    let sts = server.sts(session);
    for alg in ["RS256", "ES384"] {
        let out = sts
            .get_web_identity_token()
            .audience(AUDIENCE)
            .signing_algorithm(alg)
            .tags(Tag::builder().key("job").value("nightly").build().unwrap())
            .send()
            .await
            .unwrap();
        let token = out.web_identity_token().unwrap().to_owned();
        let expiration = out.expiration().unwrap().secs();

        // irsa's own verifier: discovery + JWKS over HTTP.
        let verifier = OidcVerifier::new(VerifierConfig {
            allow_insecure_http: true,
            ..VerifierConfig::default()
        })
        .unwrap();
        let trust =
            ProviderTrust::new(&server.issuer, [AUDIENCE], Vec::<String>::new(), true).unwrap();
        let checked = verifier.verify(&token, &trust).await.unwrap();
        assert_eq!(checked.subject(), "arn:aws:iam::123456789012:role/app");
        assert_eq!(checked.audience(), AUDIENCE);
        assert_eq!(checked.alg().as_str(), alg);
        assert_eq!(checked.expires_at(), expiration);
        let aws = &checked.claims()["https://sts.amazonaws.com/"];
        assert_eq!(aws["aws_account"], "123456789012");
        assert_eq!(aws["source_region"], "eu-west-1");
        assert_eq!(aws["request_tags"]["job"], "nightly");

        // jsonwebtoken, with the JWKS the issuer publishes.
        let discovery: Value = serde_json::from_str(
            &server
                .get("/outbound/.well-known/openid-configuration")
                .await,
        )
        .unwrap();
        assert_eq!(discovery["issuer"], server.issuer);
        let jwks_path = discovery["jwks_uri"]
            .as_str()
            .unwrap()
            .strip_prefix(&format!("http://{}", server.addr))
            .unwrap()
            .to_owned();
        let jwks: jsonwebtoken::jwk::JwkSet =
            serde_json::from_str(&server.get(&jwks_path).await).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let algorithm = match alg {
            "RS256" => jsonwebtoken::Algorithm::RS256,
            _ => jsonwebtoken::Algorithm::ES384,
        };
        assert_eq!(header.alg, algorithm);
        let mut validation = jsonwebtoken::Validation::new(algorithm);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[server.issuer.as_str()]);
        let data = jsonwebtoken::decode::<Value>(&token, &key, &validation).unwrap();
        assert_eq!(data.claims["sub"], "arn:aws:iam::123456789012:role/app");
        assert_eq!(
            data.claims["exp"].as_i64().unwrap() - data.claims["iat"].as_i64().unwrap(),
            300
        );

        // A token for another audience is refused by both.
        let other = ProviderTrust::new(
            &server.issuer,
            ["https://other.example"],
            Vec::<String>::new(),
            true,
        )
        .unwrap();
        assert!(verifier.verify(&token, &other).await.is_err());
        validation.set_audience(&["https://other.example"]);
        assert!(jsonwebtoken::decode::<Value>(&token, &key, &validation).is_err());
    }

    // Duration bounds, session escalation and payload size.
    for d in [59, 3601] {
        let e = sts
            .get_web_identity_token()
            .audience(AUDIENCE)
            .signing_algorithm("RS256")
            .duration_seconds(d)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "ValidationError", "{d}");
    }
    let e = sts
        .get_web_identity_token()
        .audience(AUDIENCE)
        .signing_algorithm("RS256")
        .duration_seconds(3600)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        e.as_service_error(),
        Some(aws_sdk_sts::operation::get_web_identity_token::GetWebIdentityTokenError::SessionDurationEscalationException(_))
    ), "{e:?}");
    let mut big = sts
        .get_web_identity_token()
        .audience(AUDIENCE)
        .signing_algorithm("ES384");
    for i in 0..50 {
        big = big.tags(
            Tag::builder()
                .key(format!("{i:03}{}", "k".repeat(125)))
                .value("v".repeat(256))
                .build()
                .unwrap(),
        );
    }
    let e = big.send().await.unwrap_err();
    assert!(matches!(
        e.as_service_error(),
        Some(aws_sdk_sts::operation::get_web_identity_token::GetWebIdentityTokenError::JwtPayloadSizeExceededException(_))
    ), "{e:?}");

    // Disabled: tokens are refused, a second Disable is FeatureDisabled.
    iam.disable_outbound_web_identity_federation()
        .send()
        .await
        .unwrap();
    let e = sts
        .get_web_identity_token()
        .audience(AUDIENCE)
        .signing_algorithm("RS256")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        e.as_service_error(),
        Some(aws_sdk_sts::operation::get_web_identity_token::GetWebIdentityTokenError::OutboundWebIdentityFederationDisabledException(_))
    ), "{e:?}");
    let e = iam
        .disable_outbound_web_identity_federation()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.as_service_error()
            .and_then(aws_sdk_iam::error::ProvideErrorMetadata::code),
        Some("FeatureDisabled"),
        "{e:?}"
    );
    let info = iam
        .get_outbound_web_identity_federation_info()
        .send()
        .await
        .unwrap();
    assert!(!info.jwt_vending_enabled());
}

#[tokio::test]
async fn enable_twice_and_without_issuer() {
    let server = Server::start(true).await;
    let iam = server.iam(server.root_creds());
    let e = iam
        .get_outbound_web_identity_federation_info()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.as_service_error()
            .and_then(aws_sdk_iam::error::ProvideErrorMetadata::code),
        Some("FeatureDisabled"),
        "{e:?}"
    );
    iam.enable_outbound_web_identity_federation()
        .send()
        .await
        .unwrap();
    let e = iam
        .enable_outbound_web_identity_federation()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.as_service_error()
            .and_then(aws_sdk_iam::error::ProvideErrorMetadata::code),
        Some("FeatureEnabled"),
        "{e:?}"
    );

    let bare = Server::start(false).await;
    let e = bare
        .iam(bare.root_creds())
        .enable_outbound_web_identity_federation()
        .send()
        .await
        .unwrap_err();
    let service = e.as_service_error().unwrap();
    assert_eq!(
        aws_sdk_iam::error::ProvideErrorMetadata::code(service),
        Some("InvalidInput")
    );
    assert!(aws_sdk_iam::error::ProvideErrorMetadata::message(service)
        .unwrap()
        .contains("--issuer-url"));
}

/// The account's own outbound tokens never buy a role through
/// AssumeRoleWithWebIdentity, even with the built-in issuer registered as an
/// OIDC provider and a trust policy that checks only `aud`.
#[tokio::test]
async fn own_outbound_tokens_are_refused_by_assume_role_with_web_identity() {
    use aws_sdk_sts::error::ProvideErrorMetadata;
    let server = Server::start(true).await;
    let iam = server.iam(server.root_creds());
    iam.enable_outbound_web_identity_federation()
        .send()
        .await
        .unwrap();
    let provider = iam
        .create_open_id_connect_provider()
        .url(&server.issuer)
        .client_id_list("sts.amazonaws.com")
        .send()
        .await
        .unwrap()
        .open_id_connect_provider_arn
        .unwrap();
    let prefix = server.issuer.strip_prefix("http://").unwrap();
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": provider},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {format!("{prefix}:aud"): "sts.amazonaws.com"}}
        }]
    });
    iam.create_role()
        .role_name("loose")
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();

    let session = server.role_session().await;
    let token = server
        .sts(session)
        .get_web_identity_token()
        .audience("sts.amazonaws.com")
        .signing_algorithm("RS256")
        .send()
        .await
        .unwrap()
        .web_identity_token
        .unwrap();
    let err = server
        .sts(server.root_creds())
        .assume_role_with_web_identity()
        .role_arn("arn:aws:iam::123456789012:role/loose")
        .role_session_name("probe")
        .web_identity_token(token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidIdentityToken");
    assert!(
        err.as_service_error()
            .and_then(ProvideErrorMetadata::message)
            .is_some_and(|m| m.contains("GetWebIdentityToken")),
        "{err:?}"
    );
}
