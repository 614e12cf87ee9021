//! The verifier's error: an AWS error code plus the message STS returns.

use std::fmt;

/// The STS error codes a web-identity verification can end in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidIdentityToken,
    ExpiredTokenException,
    IdpCommunicationError,
    IdpRejectedClaim,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidIdentityToken => "InvalidIdentityToken",
            ErrorCode::ExpiredTokenException => "ExpiredTokenException",
            ErrorCode::IdpCommunicationError => "IDPCommunicationError",
            ErrorCode::IdpRejectedClaim => "IDPRejectedClaim",
        }
    }

    /// HTTP status STS uses for the code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::IdpRejectedClaim => 403,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A finer classification than the code, for metrics, logs and `irsa explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Not a JWT, bad base64/JSON, length out of range.
    Malformed,
    /// `alg` is none, HMAC, unknown, or does not fit the key.
    UnsupportedAlgorithm,
    /// `iss` missing or not the provider's URL.
    IssuerMismatch,
    /// A legacy (non-expiring) Kubernetes secret token.
    LegacyServiceAccountToken,
    /// No published key has the token's `kid`.
    KeyNotFound,
    /// Signature did not verify with the matching key.
    BadSignature,
    Expired,
    NotYetValid,
    IssuedInFuture,
    MissingClaim,
    InvalidClaim,
    AudienceMismatch,
    /// Discovery document wrong (issuer mismatch, bad jwks_uri, ...).
    Discovery,
    /// Network, TLS, HTTP status, body cap, timeout.
    Fetch,
    /// TLS chain untrusted and no thumbprint matched.
    ThumbprintMismatch,
}

/// Why a token was refused. Carries no token material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct VerifyError {
    code: ErrorCode,
    kind: ErrorKind,
    message: String,
    detail: Option<String>,
}

impl VerifyError {
    pub(crate) fn new(code: ErrorCode, kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            code,
            kind,
            message: message.into(),
            detail: None,
        }
    }

    pub(crate) fn invalid(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidIdentityToken, kind, message)
    }

    pub(crate) fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// The AWS error code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }
    /// The classification, for metrics and explanations.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    /// The message to put in the AWS error response.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// Operator-facing diagnostics (e.g. the network error behind the
    /// key-retrieval message); for logs and `irsa explain`, not for clients.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }
}

/// The message AWS gives when keys cannot be fetched (two spaces, verbatim).
pub const KEY_RETRIEVAL_MESSAGE: &str = "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements";
/// The message AWS gives when the TLS chain matches no configured thumbprint.
pub const THUMBPRINT_MESSAGE: &str =
    "OpenIDConnect provider's HTTPS certificate doesn't match configured thumbprint";
