//! OIDC web identity for irsa.
//!
//! - [`jwt`]: decode a compact JWS without trusting it; render for humans.
//! - [`verifier`]: [`OidcVerifier`] — discovery, JWKS cache, TLS trust by
//!   roots or thumbprint, signature and claim checks with AWS's errors.
//! - [`issuer`]: signing keys, Kubernetes `kid`s, discovery/JWKS documents,
//!   PEM public keys, minting Kubernetes-shaped tokens.
//! - [`thumbprint`]: the thumbprint IAM expects for an issuer.

pub mod error;
pub mod explain;
mod http;
pub mod issuer;
pub mod jwt;
pub mod keys;
pub mod thumbprint;
mod tls;
pub mod token_request;
pub mod verifier;

pub use error::{ErrorCode, ErrorKind, VerifyError, KEY_RETRIEVAL_MESSAGE, THUMBPRINT_MESSAGE};
pub use explain::{Status, Step, TraceStep};
pub use http::FetchError;
pub use issuer::{
    discovery_document, jwks_document, mint, parse_public_keys_pem, sign_jws, KeyFileError,
    ObjectRef, PublicKey, ServiceAccountToken, SigningKey, SigningKeyType,
};
pub use keys::{Alg, KeyMaterial};
pub use thumbprint::{
    certificate_thumbprint, issuer_thumbprint, CertSummary, ThumbprintError, ThumbprintReport,
};
pub use token_request::{TokenFields, MAX_TOKEN_LIFETIME, MIN_TOKEN_SECONDS};
pub use verifier::{
    normalize_issuer_url, CacheStats, ConfigError, OidcVerifier, ProviderTrust, VerifiedToken,
    VerifierConfig,
};
