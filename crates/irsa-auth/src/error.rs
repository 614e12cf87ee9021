//! Why authentication or authorization could not answer. Typed, without
//! HTTP: each front turns these into its own wire codes (`From` impls in
//! irsa-api for Query, in irsa-gateway for S3) at its edge.

use irsa_sigv4::SigV4Error;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// irsa-sigv4 refused the request (no or malformed signature, wrong
    /// signature, clock skew, expired presigned URL, …).
    #[error(transparent)]
    SigV4(#[from] SigV4Error),
    /// The access key id is unknown or inactive, or its owner is gone.
    #[error("the access key id is not known")]
    UnknownAccessKey,
    /// A temporary key (`ASIA…`) without a session token.
    #[error("temporary credentials need a session token")]
    MissingSessionToken,
    /// The session token is malformed, tampered with, sealed by another
    /// deployment, or does not belong to the signing key.
    #[error("the session token is invalid")]
    InvalidSessionToken,
    /// The session token is authentic but past its expiry.
    #[error("the session token is expired")]
    ExpiredSessionToken,
    /// The store could not be read; safe to log (no secrets).
    #[error("the identity store is unavailable: {0}")]
    Unavailable(String),
    /// A server-side problem (e.g. no usable session-token key).
    #[error("internal error: {0}")]
    Internal(String),
}

impl AuthError {
    pub(crate) fn store(e: &irsa_store::StoreError) -> Self {
        Self::Unavailable(e.to_string())
    }
}
