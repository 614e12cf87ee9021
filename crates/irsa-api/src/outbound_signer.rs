//! The issuer side of outbound web identity federation as this crate sees
//! it: the [`OutboundTokenSigner`] the server plugs in (the built-in OIDC
//! issuer), so irsa-api signs GetWebIdentityToken JWTs without depending
//! on the server.

use std::fmt;

use async_trait::async_trait;
use serde_json::Value;

/// The two algorithms GetWebIdentityToken offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboundAlg {
    Rs256,
    Es384,
}

impl OutboundAlg {
    /// Parses `SigningAlgorithm` (exact, as AWS documents it).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "RS256" => Some(Self::Rs256),
            "ES384" => Some(Self::Es384),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es384 => "ES384",
        }
    }
}

/// Why the signer could not sign (logged; clients see `ServiceFailure`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OutboundSignerError(pub String);

/// The issuer side of outbound federation (the built-in OIDC issuer of
/// `irsa serve --issuer-url`), plugged in with
/// [`crate::AwsApi::set_outbound_token_signer`].
#[async_trait]
pub trait OutboundTokenSigner: Send + Sync + fmt::Debug {
    /// The issuer URL: `iss` of every token and `IssuerIdentifier`.
    fn issuer_url(&self) -> &str;
    /// Creates the signing keys if missing so the JWKS publishes them
    /// before the first token exists (called on Enable).
    async fn prepare(&self) -> Result<(), OutboundSignerError>;
    /// Signs `claims` (a JSON object) as a compact JWS with `alg`; the
    /// header carries `alg`, `kid` and `typ: JWT`.
    async fn sign(&self, alg: OutboundAlg, claims: &Value) -> Result<String, OutboundSignerError>;
}
