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
//!    (the generic rules, or S3's), derives the signing key and compares
//!    signatures in constant time, yielding a [`VerifiedSignature`].
//!
//! [`SigV4Config`] holds the policy (allowed services, skew); the free
//! functions use its default.
//!
//! # S3
//!
//! Under S3's rules ([`S3Rules`]; by default whenever the scope's service
//! is `s3`, see [`SigV4Config::s3`]) the canonical URI is the path encoded
//! once and not normalised, a header-form request must carry
//! `x-amz-content-sha256`, and a presigned URL without
//! `X-Amz-Content-Sha256` signs `UNSIGNED-PAYLOAD`. An S3 gateway passes the
//! body as [`Payload::Deferred`]; once [`SigV4Config::verify`] accepted the
//! headers, [`VerifiedSignature::payload_mode`] says how to check the body
//! while it streams:
//!
//! - a SHA-256 or `UNSIGNED-PAYLOAD`: feed it to a [`PayloadCheck`]
//!   ([`VerifiedSignature::payload_check`]), which also checks an
//!   `x-amz-checksum-*` header;
//! - the aws-chunked modes: feed the raw body to the
//!   [`AwsChunkedDecoder`] from [`VerifiedSignature::chunked_decoder`]; it
//!   yields the decoded bytes, checks every chunk signature, the trailer
//!   signature, the trailer checksum and `x-amz-decoded-content-length`.
//!
//! To forward signed chunks, re-sign them with an [`AwsChunkedEncoder`]
//! built from the gateway's own [`ChunkSigningContext`].
//!
//! Every error has AWS's STS code ([`SigV4Error::code`]) and S3's
//! ([`SigV4Error::s3_code`], [`SigV4Error::s3_status`],
//! [`SigV4Error::s3_message`]).

pub mod aws_chunked;
mod canonical;
mod checksum;
mod error;
mod parse;
mod payload;
mod request;
mod signing;
mod verify;

use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use irsa_core::SecretString;

pub use aws_chunked::{
    AwsChunkedDecoder, AwsChunkedEncoder, ChunkedEvent, ChunkedMode, ChunkedOptions,
};
pub use checksum::{header_checksum, ChecksumAlgorithm, Checksummer, ExpectedChecksum};
pub use error::SigV4Error;
pub use parse::{CredentialScope, ParsedSignature, SignatureForm, MAX_PRESIGNED_EXPIRES_SECONDS};
pub use payload::{PayloadCheck, PayloadMode};
pub use request::{Payload, RequestParts};
pub use signing::ChunkSigningContext;
pub use verify::{SecretLookup, VerifiedSignature, DEFAULT_MAX_SKEW};

/// When S3's canonicalisation and payload rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum S3Rules {
    /// When the credential scope's service is `s3` (default).
    #[default]
    ByService,
    /// Always (an S3 endpoint that also accepts other scope names).
    Always,
    /// Never: the generic rules for every service.
    Never,
}

impl S3Rules {
    pub(crate) fn applies_to(self, service: &str) -> bool {
        match self {
            Self::ByService => service == "s3",
            Self::Always => true,
            Self::Never => false,
        }
    }
}

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
    /// When S3's rules apply (default: for service `s3`).
    pub s3_rules: S3Rules,
}

impl Default for SigV4Config {
    fn default() -> Self {
        Self {
            allowed_services: vec!["sts".to_owned(), "iam".to_owned()],
            max_skew: DEFAULT_MAX_SKEW,
            allow_unsigned_payload: true,
            presigned_within_skew: true,
            s3_rules: S3Rules::ByService,
        }
    }
}

impl SigV4Config {
    /// What Amazon S3 accepts: scope service `s3`, S3's rules, 15 minutes
    /// of skew for header signatures, presigned URLs valid for their whole
    /// `X-Amz-Expires` (at most seven days).
    pub fn s3() -> Self {
        Self {
            allowed_services: vec!["s3".to_owned()],
            max_skew: DEFAULT_MAX_SKEW,
            allow_unsigned_payload: true,
            presigned_within_skew: false,
            s3_rules: S3Rules::Always,
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
