//! `irsa oidc thumbprint`: the SHA-1 thumbprint IAM expects for an issuer,
//! computed the way IAM does (discovery, then the `jwks_uri` host's chain).

use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::RootCertStore;
use tokio::net::TcpStream;

use crate::http::Limits;
use crate::tls::{self, RecordingVerifier};
use crate::verifier::{build_client, discover_jwks_uri, normalize_issuer_url, VerifierConfig};

#[derive(Debug, thiserror::Error)]
pub enum ThumbprintError {
    #[error(transparent)]
    Url(#[from] crate::verifier::ConfigError),
    #[error("discovery failed: {0}")]
    Discovery(String),
    #[error("jwks_uri {0} has no host")]
    NoHost(String),
    #[error("connecting to {host}:{port}: {reason}")]
    Connect {
        host: String,
        port: u16,
        reason: String,
    },
    #[error("TLS handshake with {host}:{port}: {reason}")]
    Handshake {
        host: String,
        port: u16,
        reason: String,
    },
    #[error("{0} served plain http; thumbprints only exist for https")]
    NotHttps(String),
}

/// One certificate of the presented chain, for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSummary {
    pub subject: String,
    pub issuer: String,
    pub not_after: String,
    /// Lower-case hex SHA-1 of the DER.
    pub sha1: String,
}

/// The result of `issuer_thumbprint`.
#[derive(Debug, Clone)]
pub struct ThumbprintReport {
    /// Normalised issuer URL.
    pub issuer: String,
    pub jwks_uri: String,
    pub host: String,
    pub port: u16,
    /// 40 lower-case hex characters (IAM accepts either case).
    pub thumbprint: String,
    /// Leaf first, as presented.
    pub chain: Vec<CertSummary>,
    /// `Ok` when the chain verifies against the configured roots (then IAM's
    /// thumbprint is not strictly needed); `Err(reason)` otherwise.
    pub trusted_by_roots: Result<(), String>,
}

/// The thumbprint IAM computes for a DER certificate: lower-case hex SHA-1.
pub fn certificate_thumbprint(der: &[u8]) -> String {
    hex::encode(tls::sha1(der))
}

fn summarize(der: &[u8]) -> CertSummary {
    let sha1 = certificate_thumbprint(der);
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, c)) => CertSummary {
            subject: c.subject().to_string(),
            issuer: c.issuer().to_string(),
            not_after: c.validity().not_after.to_string(),
            sha1,
        },
        Err(_) => CertSummary {
            subject: "(unparseable certificate)".into(),
            issuer: String::new(),
            not_after: String::new(),
            sha1,
        },
    }
}

fn roots(config: &VerifierConfig) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    if config.use_system_roots {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for c in &config.extra_roots {
        // A bad extra CA only weakens the "trusted" verdict; ignore it here.
        let _ = roots.add(c.clone());
    }
    Arc::new(roots)
}

/// Computes the thumbprint of `url`'s issuer. Discovery is fetched without
/// requiring a trusted chain (the point is to pin servers nobody trusts yet);
/// the report says whether the roots trust the JWKS host.
pub async fn issuer_thumbprint(
    url: &str,
    config: &VerifierConfig,
) -> Result<ThumbprintReport, ThumbprintError> {
    let issuer = normalize_issuer_url(url, config.allow_insecure_http)?;
    let roots = roots(config);
    let provider = tls::provider();
    let limits = Limits {
        total: config.connect_timeout + config.read_timeout,
        max_body: config.max_body_bytes,
    };
    let tls_err = |e: rustls::Error| ThumbprintError::Discovery(e.to_string());
    let discovery_verifier =
        Arc::new(RecordingVerifier::new(roots.clone(), provider.clone()).map_err(tls_err)?);
    let tls_cfg = tls::client_config(discovery_verifier, provider.clone()).map_err(tls_err)?;
    let client = build_client(config, tls_cfg).map_err(ThumbprintError::Discovery)?;
    let jwks_uri = discover_jwks_uri(&client, &issuer, config, limits)
        .await
        .map_err(|e| ThumbprintError::Discovery(e.detail().unwrap_or(e.message()).to_owned()))?;
    let parsed =
        reqwest::Url::parse(&jwks_uri).map_err(|_| ThumbprintError::NoHost(jwks_uri.clone()))?;
    if parsed.scheme() != "https" {
        return Err(ThumbprintError::NotHttps(jwks_uri));
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| ThumbprintError::NoHost(jwks_uri.clone()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = parsed.port_or_known_default().unwrap_or(443);

    let recorder = Arc::new(RecordingVerifier::new(roots, provider.clone()).map_err(tls_err)?);
    let tls_cfg = tls::client_config(recorder.clone(), provider).map_err(tls_err)?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls_cfg));
    let server_name = ServerName::try_from(host.clone()).map_err(|e| ThumbprintError::Connect {
        host: host.clone(),
        port,
        reason: e.to_string(),
    })?;
    let tcp = tokio::time::timeout(
        config.connect_timeout,
        TcpStream::connect((host.as_str(), port)),
    )
    .await
    .map_err(|_| ThumbprintError::Connect {
        host: host.clone(),
        port,
        reason: "timed out".into(),
    })?
    .map_err(|e| ThumbprintError::Connect {
        host: host.clone(),
        port,
        reason: e.to_string(),
    })?;
    let stream = tokio::time::timeout(config.read_timeout, connector.connect(server_name, tcp))
        .await
        .map_err(|_| ThumbprintError::Handshake {
            host: host.clone(),
            port,
            reason: "timed out".into(),
        })?
        .map_err(|e| ThumbprintError::Handshake {
            host: host.clone(),
            port,
            reason: e.to_string(),
        })?;
    drop(stream);
    let seen = recorder
        .seen
        .lock()
        .ok()
        .and_then(|s| s.clone())
        .ok_or_else(|| ThumbprintError::Handshake {
            host: host.clone(),
            port,
            reason: "server presented no certificate".into(),
        })?;
    let top = seen
        .chain
        .last()
        .ok_or_else(|| ThumbprintError::Handshake {
            host: host.clone(),
            port,
            reason: "empty certificate chain".into(),
        })?;
    Ok(ThumbprintReport {
        issuer,
        jwks_uri,
        host,
        port,
        thumbprint: certificate_thumbprint(top),
        chain: seen.chain.iter().map(|c| summarize(c)).collect(),
        trusted_by_roots: seen.trusted,
    })
}
