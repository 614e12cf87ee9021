//! An OIDC issuer over HTTPS on 127.0.0.1 with a throwaway CA: discovery and
//! JWKS for one signing key, and Kubernetes-shaped service-account tokens.
//! Shared by the web-identity tests, the criterion bench and the load
//! example (`#[path]` includes).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use irsa_oidc::{
    discovery_document, jwks_document, ObjectRef, ServiceAccountToken, SigningKey, SigningKeyType,
};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

pub struct HttpsIssuer {
    /// `https://localhost:PORT`
    pub url: String,
    /// PEM of the CA that signed the issuer's certificate.
    pub ca_pem: String,
    /// The same PEM in a file, for `--oidc-ca-file`.
    pub ca_file: tempfile::NamedTempFile,
    pub key: SigningKey,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HttpsIssuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HttpsIssuer {
    pub async fn start(key_type: SigningKeyType) -> HttpsIssuer {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "irsa test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let ca = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![
                leaf.der().clone(),
                CertificateDer::from(ca_cert.der().to_vec()),
            ],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "https://localhost:{}",
            listener.local_addr().unwrap().port()
        );
        let key = SigningKey::generate(key_type).unwrap();
        let discovery = discovery_document(&url, &[key.public_key().clone()]);
        let jwks = jwks_document(&[key.public_key().clone()]);
        let app = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || async move { Json(discovery) }),
            )
            .route("/openid/v1/jwks", get(move || async move { Json(jwks) }));
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, app) = (acceptor.clone(), app.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(tls), TowerToHyperService::new(app))
                            .await;
                    }
                });
            }
        });
        let ca_file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(ca_file.path(), ca_cert.pem()).unwrap();
        HttpsIssuer {
            url,
            ca_pem: ca_cert.pem(),
            ca_file,
            key,
            task,
        }
    }

    pub fn host(&self) -> &str {
        self.url.strip_prefix("https://").unwrap()
    }

    pub fn provider_arn(&self, account: &str) -> String {
        format!("arn:aws:iam::{account}:oidc-provider/{}", self.host())
    }

    /// A trust policy for `sts.amazonaws.com` tokens whose `sub` matches
    /// `sub_pattern` (StringLike).
    pub fn trust_policy(&self, account: &str, sub_pattern: &str) -> String {
        let host = self.host();
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Federated": self.provider_arn(account)},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {format!("{host}:aud"): "sts.amazonaws.com"},
                    "StringLike": {format!("{host}:sub"): sub_pattern}
                }
            }]
        })
        .to_string()
    }

    /// A projected service-account token (audience `sts.amazonaws.com`,
    /// one hour) for `system:serviceaccount:NAMESPACE:NAME`.
    pub fn token(&self, namespace: &str, name: &str, now: i64) -> String {
        self.service_account_token(namespace, name, "sts.amazonaws.com", now)
    }

    /// [`Self::token`] for another audience.
    pub fn service_account_token(
        &self,
        namespace: &str,
        name: &str,
        audience: &str,
        now: i64,
    ) -> String {
        ServiceAccountToken {
            issuer: self.url.clone(),
            audiences: vec![audience.to_owned()],
            namespace: namespace.to_owned(),
            service_account: ObjectRef {
                name: name.to_owned(),
                uid: "6f0e2d5a-9c5b-4a57-8a59-1f5e0c7c1e11".to_owned(),
            },
            pod: Some(ObjectRef {
                name: format!("{name}-7d9f8b6c5-x2x9q"),
                uid: "0d6a3b1e-2f4c-4b8e-9a7d-5c3e1f2a4b6c".to_owned(),
            }),
            node: None,
            expiration_seconds: 3600,
            warn_after: None,
        }
        .mint(&self.key, now)
        .unwrap()
    }
}

/// The form body of an unsigned AssumeRoleWithWebIdentity.
pub fn assume_body(role_arn: &str, session: &str, token: &str) -> String {
    fn enc(s: &str) -> String {
        use std::fmt::Write as _;
        let mut out = String::with_capacity(s.len());
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    out.push(char::from(b));
                }
                _ => {
                    let _ = write!(out, "%{b:02X}");
                }
            }
        }
        out
    }
    format!(
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={}&RoleSessionName={}&WebIdentityToken={}",
        enc(role_arn),
        enc(session),
        enc(token)
    )
}
