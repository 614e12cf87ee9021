//! AWS Signature Version 4 verification, pure (no I/O, time passed in).
//!
//! The flow is split so the secret lookup (async, in the store) sits in the
//! middle:
//!
//! 1. [`parse`] extracts access key id, scope, signed headers, request time,
//!    security token and presigned expiry from the `Authorization` header or
//!    the presigned `X-Amz-*` query parameters, and rejects malformed input.
//! 2. The caller looks up the secret access key (unknown or inactive key:
//!    [`SigV4Error::InvalidClientTokenId`]).
//! 3. [`verify`] checks the time window, rebuilds the canonical request
//!    (non-S3 rules), derives the signing key and compares signatures in
//!    constant time, yielding a [`VerifiedSignature`].
//!
//! [`SigV4Config`] holds the policy (allowed services, skew); the free
//! functions use its default.

mod canonical;
mod error;
mod parse;
mod request;
mod verify;

use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use irsa_core::SecretString;

pub use error::SigV4Error;
pub use parse::{CredentialScope, ParsedSignature, SignatureForm, MAX_PRESIGNED_EXPIRES_SECONDS};
pub use request::{Payload, RequestParts};
pub use verify::{SecretLookup, VerifiedSignature, DEFAULT_MAX_SKEW};

/// What SigV4 verification accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigV4Config {
    /// Services a credential scope may name (default `sts`, `iam`); any
    /// region is accepted.
    pub allowed_services: Vec<String>,
    /// How far the request time may be from now, both ways (default 15 min).
    pub max_skew: Duration,
    /// Accept `x-amz-content-sha256: UNSIGNED-PAYLOAD` (default true).
    pub allow_unsigned_payload: bool,
    /// Also apply the skew window to presigned requests, as STS does: a
    /// presigned STS URL lives at most 15 minutes whatever `X-Amz-Expires`
    /// says (default true).
    pub presigned_within_skew: bool,
}

impl Default for SigV4Config {
    fn default() -> Self {
        Self {
            allowed_services: vec!["sts".to_owned(), "iam".to_owned()],
            max_skew: DEFAULT_MAX_SKEW,
            allow_unsigned_payload: true,
            presigned_within_skew: true,
        }
    }
}

static DEFAULT_CONFIG: LazyLock<SigV4Config> = LazyLock::new(SigV4Config::default);

/// [`SigV4Config::parse`] with the default configuration.
pub fn parse(request: &RequestParts<'_>) -> Result<ParsedSignature, SigV4Error> {
    DEFAULT_CONFIG.parse(request)
}

/// [`SigV4Config::verify`] with the default configuration.
pub fn verify(
    parsed: &ParsedSignature,
    request: &RequestParts<'_>,
    secret: &SecretString,
    now: SystemTime,
) -> Result<VerifiedSignature, SigV4Error> {
    DEFAULT_CONFIG.verify(parsed, request, secret, now)
}

/// [`SigV4Config::verify_request`] with the default configuration.
pub fn verify_request(
    lookup: &impl SecretLookup,
    request: &RequestParts<'_>,
    now: SystemTime,
) -> Result<VerifiedSignature, SigV4Error> {
    DEFAULT_CONFIG.verify_request(lookup, request, now)
}
