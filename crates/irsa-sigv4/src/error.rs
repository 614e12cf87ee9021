//! The one error type of SigV4 authentication, with AWS's codes and messages.
//!
//! [`SigV4Error::code`]/[`SigV4Error::status`]/[`SigV4Error::message`] are
//! what STS and IAM answer; [`SigV4Error::s3_code`]/[`SigV4Error::s3_status`]/
//! [`SigV4Error::s3_message`] what Amazon S3 answers for the same fault.

use crate::checksum::ChecksumAlgorithm;

/// Why a request failed SigV4 authentication.
///
/// Messages follow what AWS STS/IAM answer; they never contain a secret
/// key, a derived key or the signature the server expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigV4Error {
    /// Neither an `Authorization` header nor presigned query parameters.
    #[error("Request is missing Authentication Token")]
    MissingAuthenticationToken,

    /// The `Authorization` header or presigned parameters are incomplete or
    /// malformed; the message names what is missing.
    #[error("{0}")]
    IncompleteSignature(String),

    /// Unknown or inactive access key id (produced by the secret lookup).
    #[error("The security token included in the request is invalid.")]
    InvalidClientTokenId,

    /// The signature does not match the one computed from the request.
    #[error(
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    SignatureDoesNotMatch,

    /// The credential scope or signed-header set is unacceptable (wrong
    /// service, empty region, bad terminator, date mismatch, `host` not
    /// signed). AWS reports these under `SignatureDoesNotMatch`.
    #[error("{0}")]
    InvalidScope(String),

    /// The request time is more than the allowed skew in the past.
    #[error("Signature expired: {request_time} is now earlier than {earliest} ({now} - {skew_minutes} min.)")]
    SignatureExpired {
        request_time: String,
        earliest: String,
        now: String,
        skew_minutes: u64,
    },

    /// The request time is more than the allowed skew in the future.
    #[error("Signature not yet current: {request_time} is still later than {latest} ({now} + {skew_minutes} min.)")]
    SignatureNotYetCurrent {
        request_time: String,
        latest: String,
        now: String,
        skew_minutes: u64,
    },

    /// A presigned URL used after `X-Amz-Date + X-Amz-Expires`.
    #[error("Request has expired.")]
    PresignedExpired,

    /// `X-Amz-Expires` is not a number of seconds within 1..=604800 (S3:
    /// `AuthorizationQueryParametersError`).
    #[error("{0}")]
    InvalidPresignedExpires(String),

    /// An S3 request in header form without `x-amz-content-sha256`.
    #[error("Missing required header for this request: x-amz-content-sha256")]
    MissingContentSha256,

    /// `x-amz-content-sha256` is neither a SHA-256 nor a payload mode S3
    /// knows.
    #[error(
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, \
         STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, \
         STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER \
         or a valid sha256 value."
    )]
    InvalidContentSha256,

    /// The body does not hash to the signed `x-amz-content-sha256`.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch,

    /// A request S3 refuses as `InvalidRequest` (e.g. an aws-chunked
    /// payload mode on a presigned URL); the message says why.
    #[error("{0}")]
    InvalidRequest(String),

    /// A chunk or trailer signature of an aws-chunked body is wrong.
    #[error(
        "The request signature we calculated does not match the signature you provided. \
         Check your key and signing method."
    )]
    ChunkSignatureDoesNotMatch,

    /// The aws-chunked body ended before its final chunk (S3:
    /// `IncompleteBody`).
    #[error("The request body terminated unexpectedly")]
    IncompleteBody,

    /// The aws-chunked framing is not well-formed (a bad chunk-size line, a
    /// missing CRLF, data after the end); S3 answers `IncompleteBody`.
    #[error("The request body is not well-formed aws-chunked data: {0}")]
    MalformedChunkedBody(&'static str),

    /// The decoded body is longer or shorter than
    /// `x-amz-decoded-content-length` said.
    #[error(
        "You did not provide the number of bytes specified by the Content-Length HTTP header \
         (x-amz-decoded-content-length {expected}, received {received})"
    )]
    DecodedLengthMismatch { expected: u64, received: u64 },

    /// A chunk before the last was shorter than S3's minimum (8 KiB):
    /// `bad_chunk_size` is its size, `chunk` the (1-based) number of the
    /// chunk that followed it, as S3 reports them.
    #[error("Only the last chunk is allowed to have a size less than {min} bytes")]
    InvalidChunkSize {
        min: u64,
        chunk: u64,
        bad_chunk_size: u64,
    },

    /// A chunk, chunk-size line or trailer section beyond this server's
    /// limits (S3 has its own; the message names ours).
    #[error("{0}")]
    LimitExceeded(String),

    /// The trailer section is malformed, or lacks (or adds to) what
    /// `x-amz-trailer` declared.
    #[error(
        "The request contained trailing data that was not well-formed or did not conform to our published schema."
    )]
    MalformedTrailer,

    /// A checksum value (header or trailer) that is not the base64 of a
    /// digest of the algorithm's length; `header` names it, e.g.
    /// `x-amz-checksum-crc32` or `x-amz-checksum-crc32 trailing`.
    #[error("Value for {header} header is invalid.")]
    InvalidChecksum { header: String },

    /// The body's checksum differs from the one the client sent.
    #[error("The {algorithm} you specified did not match the calculated checksum.")]
    BadDigest { algorithm: ChecksumAlgorithm },
}

impl SigV4Error {
    /// The AWS error code (`<Code>` in the error response).
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "MissingAuthenticationToken",
            Self::IncompleteSignature(_)
            | Self::InvalidPresignedExpires(_)
            | Self::MissingContentSha256 => "IncompleteSignature",
            Self::InvalidClientTokenId => "InvalidClientTokenId",
            Self::SignatureDoesNotMatch
            | Self::InvalidScope(_)
            | Self::SignatureExpired { .. }
            | Self::SignatureNotYetCurrent { .. }
            | Self::InvalidContentSha256
            | Self::ChunkSignatureDoesNotMatch => "SignatureDoesNotMatch",
            Self::PresignedExpired => "AccessDenied",
            // STS and IAM never see bodies checked this way; the S3 codes
            // are the closest description.
            Self::ContentSha256Mismatch
            | Self::InvalidRequest(_)
            | Self::IncompleteBody
            | Self::MalformedChunkedBody(_)
            | Self::DecodedLengthMismatch { .. }
            | Self::InvalidChunkSize { .. }
            | Self::LimitExceeded(_)
            | Self::MalformedTrailer
            | Self::InvalidChecksum { .. }
            | Self::BadDigest { .. } => self.s3_code(),
        }
    }

    /// The HTTP status AWS answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::MissingAuthenticationToken
            | Self::InvalidClientTokenId
            | Self::SignatureDoesNotMatch
            | Self::InvalidScope(_)
            | Self::SignatureExpired { .. }
            | Self::SignatureNotYetCurrent { .. }
            | Self::PresignedExpired
            | Self::InvalidContentSha256
            | Self::ChunkSignatureDoesNotMatch => 403,
            _ => 400,
        }
    }

    /// The human-readable message (`<Message>`); same as `Display`.
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// The error code Amazon S3 answers for this fault.
    pub fn s3_code(&self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken | Self::PresignedExpired => "AccessDenied",
            Self::IncompleteSignature(_) | Self::InvalidScope(_) => "AuthorizationHeaderMalformed",
            Self::InvalidClientTokenId => "InvalidAccessKeyId",
            Self::SignatureDoesNotMatch | Self::ChunkSignatureDoesNotMatch => {
                "SignatureDoesNotMatch"
            }
            Self::SignatureExpired { .. } | Self::SignatureNotYetCurrent { .. } => {
                "RequestTimeTooSkewed"
            }
            Self::InvalidPresignedExpires(_) => "AuthorizationQueryParametersError",
            Self::MissingContentSha256
            | Self::InvalidRequest(_)
            | Self::LimitExceeded(_)
            | Self::InvalidChecksum { .. } => "InvalidRequest",
            Self::InvalidContentSha256 => "InvalidArgument",
            Self::ContentSha256Mismatch => "XAmzContentSHA256Mismatch",
            Self::IncompleteBody
            | Self::MalformedChunkedBody(_)
            | Self::DecodedLengthMismatch { .. } => "IncompleteBody",
            Self::InvalidChunkSize { .. } => "InvalidChunkSizeError",
            Self::MalformedTrailer => "MalformedTrailerError",
            Self::BadDigest { .. } => "BadDigest",
        }
    }

    /// The HTTP status Amazon S3 answers with.
    pub fn s3_status(&self) -> u16 {
        match self {
            Self::MissingAuthenticationToken
            | Self::PresignedExpired
            | Self::InvalidClientTokenId
            | Self::SignatureDoesNotMatch
            | Self::ChunkSignatureDoesNotMatch
            | Self::SignatureExpired { .. }
            | Self::SignatureNotYetCurrent { .. } => 403,
            _ => 400,
        }
    }

    /// The elements S3 adds to `<Error>` after `<Message>` for this fault
    /// (`<Chunk>`/`<BadChunkSize>`, `<NumberBytesExpected>`/
    /// `<NumberBytesProvided>`), as (element name, text).
    pub fn s3_error_fields(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::InvalidChunkSize {
                chunk,
                bad_chunk_size,
                ..
            } => vec![
                ("Chunk", chunk.to_string()),
                ("BadChunkSize", bad_chunk_size.to_string()),
            ],
            Self::DecodedLengthMismatch { expected, received } => vec![
                ("NumberBytesExpected", expected.to_string()),
                ("NumberBytesProvided", received.to_string()),
            ],
            _ => Vec::new(),
        }
    }

    /// The message Amazon S3 answers with. It differs from
    /// [`SigV4Error::message`] where S3's wording differs from STS's.
    pub fn s3_message(&self) -> String {
        match self {
            Self::MissingAuthenticationToken => "Access Denied".to_owned(),
            Self::InvalidClientTokenId => {
                "The AWS Access Key Id you provided does not exist in our records.".to_owned()
            }
            Self::SignatureDoesNotMatch => Self::ChunkSignatureDoesNotMatch.to_string(),
            Self::SignatureExpired { .. } | Self::SignatureNotYetCurrent { .. } => {
                "The difference between the request time and the current time is too large."
                    .to_owned()
            }
            _ => self.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_statuses_and_messages() {
        let cases: Vec<(SigV4Error, &str, u16, &str)> = vec![
            (
                SigV4Error::MissingAuthenticationToken,
                "MissingAuthenticationToken",
                403,
                "Request is missing Authentication Token",
            ),
            (
                SigV4Error::InvalidClientTokenId,
                "InvalidClientTokenId",
                403,
                "The security token included in the request is invalid.",
            ),
            (
                SigV4Error::SignatureDoesNotMatch,
                "SignatureDoesNotMatch",
                403,
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
            ),
            (
                SigV4Error::IncompleteSignature("x".into()),
                "IncompleteSignature",
                400,
                "x",
            ),
            (SigV4Error::PresignedExpired, "AccessDenied", 403, "Request has expired."),
            (
                SigV4Error::SignatureExpired {
                    request_time: "20231010T000000Z".into(),
                    earliest: "20231010T001500Z".into(),
                    now: "20231010T003000Z".into(),
                    skew_minutes: 15,
                },
                "SignatureDoesNotMatch",
                403,
                "Signature expired: 20231010T000000Z is now earlier than 20231010T001500Z (20231010T003000Z - 15 min.)",
            ),
            (
                SigV4Error::SignatureNotYetCurrent {
                    request_time: "20231010T010000Z".into(),
                    latest: "20231010T004500Z".into(),
                    now: "20231010T003000Z".into(),
                    skew_minutes: 15,
                },
                "SignatureDoesNotMatch",
                403,
                "Signature not yet current: 20231010T010000Z is still later than 20231010T004500Z (20231010T003000Z + 15 min.)",
            ),
        ];
        for (err, code, status, message) in cases {
            assert_eq!(err.code(), code);
            assert_eq!(err.status(), status);
            assert_eq!(err.message(), message);
        }
    }
}
