//! The one error type of SigV4 authentication, with AWS's codes and messages.

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
}

impl SigV4Error {
    /// The AWS error code (`<Code>` in the error response).
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "MissingAuthenticationToken",
            Self::IncompleteSignature(_) => "IncompleteSignature",
            Self::InvalidClientTokenId => "InvalidClientTokenId",
            Self::SignatureDoesNotMatch
            | Self::InvalidScope(_)
            | Self::SignatureExpired { .. }
            | Self::SignatureNotYetCurrent { .. } => "SignatureDoesNotMatch",
            Self::PresignedExpired => "AccessDenied",
        }
    }

    /// The HTTP status AWS answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::IncompleteSignature(_) => 400,
            _ => 403,
        }
    }

    /// The human-readable message (`<Message>`); same as `Display`.
    pub fn message(&self) -> String {
        self.to_string()
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
