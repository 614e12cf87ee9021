//! TLS trust for identity-provider fetches: the chain verifies against the
//! roots, OR the SHA-1 of the top certificate the server presents matches a
//! configured thumbprint (and then the chain must still verify up to that
//! certificate, so hostname, validity and signatures are always checked).

use std::fmt;
use std::sync::{Arc, Mutex};

use aws_lc_rs::digest;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, DigitallySignedStruct, Error, OtherError, RootCertStore, SignatureScheme,
};

/// SHA-1 of a DER certificate.
pub fn sha1(der: &[u8]) -> [u8; 20] {
    let d = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    let mut out = [0u8; 20];
    out.copy_from_slice(d.as_ref());
    out
}

/// The certificate whose SHA-1 IAM calls the thumbprint: the last one the
/// server sends (the leaf when it sends only one).
pub fn top_certificate<'a>(
    end_entity: &'a CertificateDer<'a>,
    intermediates: &'a [CertificateDer<'a>],
) -> &'a CertificateDer<'a> {
    intermediates.last().unwrap_or(end_entity)
}

/// Marker inside the rustls error so fetch errors can be classified.
pub(crate) struct ThumbprintMismatch;

impl fmt::Debug for ThumbprintMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ThumbprintMismatch")
    }
}
impl fmt::Display for ThumbprintMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::error::THUMBPRINT_MESSAGE)
    }
}
impl std::error::Error for ThumbprintMismatch {}

pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn webpki(
    roots: Arc<RootCertStore>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, Error> {
    WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| Error::General(format!("TLS verifier: {e}")))
}

/// Roots first, thumbprints second.
#[derive(Debug)]
pub(crate) struct IdpCertVerifier {
    roots: Option<Arc<WebPkiServerVerifier>>,
    thumbprints: Vec<[u8; 20]>,
    provider: Arc<CryptoProvider>,
}

impl IdpCertVerifier {
    pub(crate) fn new(
        roots: Arc<RootCertStore>,
        thumbprints: Vec<[u8; 20]>,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, Error> {
        let roots = if roots.is_empty() {
            None
        } else {
            Some(webpki(roots, &provider)?)
        };
        Ok(Self {
            roots,
            thumbprints,
            provider,
        })
    }
}

impl IdpCertVerifier {
    /// The roots' verdict alone (no thumbprints).
    fn verify_with_roots(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        match &self.roots {
            Some(v) => {
                v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            None => Err(Error::InvalidCertificate(CertificateError::UnknownIssuer)),
        }
    }
}

impl ServerCertVerifier for IdpCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let root_result =
            self.verify_with_roots(end_entity, intermediates, server_name, ocsp_response, now);
        let root_err = match root_result {
            Ok(ok) => return Ok(ok),
            Err(e) => e,
        };
        // An empty list matches nothing: AWS gives the same thumbprint error
        // for an untrusted chain whatever the provider's list holds.
        let top = top_certificate(end_entity, intermediates);
        if !self.thumbprints.contains(&sha1(top)) {
            tracing::warn!(error = %root_err, "IdP certificate chain untrusted and no thumbprint matched");
            return Err(Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(ThumbprintMismatch)),
            )));
        }
        // Pinned: verify the chain with the pinned certificate as the only
        // anchor, which still checks names, validity and signatures.
        let mut anchor = RootCertStore::empty();
        anchor
            .add(top.clone().into_owned())
            .map_err(|_| Error::InvalidCertificate(CertificateError::BadEncoding))?;
        webpki(Arc::new(anchor), &self.provider)?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// What a recording handshake saw.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub chain: Vec<CertificateDer<'static>>,
    pub trusted: Result<(), String>,
}

/// Accepts any chain (handshake signatures are still checked) and records it
/// with the roots' verdict: for `irsa oidc thumbprint`, which must report the
/// thumbprint of servers nobody trusts yet.
#[derive(Debug)]
pub(crate) struct RecordingVerifier {
    inner: IdpCertVerifier,
    pub seen: Mutex<Option<Recorded>>,
}

impl RecordingVerifier {
    pub(crate) fn new(
        roots: Arc<RootCertStore>,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, Error> {
        Ok(Self {
            inner: IdpCertVerifier::new(roots, Vec::new(), provider)?,
            seen: Mutex::new(None),
        })
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let trusted = self
            .inner
            .verify_with_roots(end_entity, intermediates, server_name, ocsp_response, now)
            .map(|_| ())
            .map_err(|e| e.to_string());
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(Recorded { chain, trusted });
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A rustls client config around a custom verifier.
pub(crate) fn client_config(
    verifier: Arc<dyn ServerCertVerifier>,
    provider: Arc<CryptoProvider>,
) -> Result<rustls::ClientConfig, Error> {
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}
