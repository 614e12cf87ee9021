//! The shared core's typed errors, in S3's words. (A DynamoDB front would
//! have its own mapping next to this one.)

use irsa_auth::{AuthError, Denial, DenialReason, PolicyKind};
use irsa_s3::{S3Error, S3ErrorCode};
use irsa_sigv4::SigV4Error;

/// The S3 code named `code` (S3's spelling). A code irsa-s3's table lacks
/// falls back to the generic code of the same status (the client's error
/// is never turned into a 500).
fn code_named(code: &str, status: u16) -> S3ErrorCode {
    S3ErrorCode::ALL
        .into_iter()
        .find(|c| c.as_str() == code)
        .unwrap_or(if status == 403 {
            S3ErrorCode::AccessDenied
        } else {
            S3ErrorCode::InvalidRequest
        })
}

/// A SigV4 failure as Amazon S3 reports it.
pub fn from_sigv4(error: &SigV4Error) -> S3Error {
    S3Error::new(
        code_named(error.s3_code(), error.s3_status()),
        error.s3_message(),
    )
}

/// An authentication failure as Amazon S3 reports it.
pub fn from_auth(error: &AuthError) -> S3Error {
    match error {
        AuthError::SigV4(e) => from_sigv4(e),
        AuthError::UnknownAccessKey => S3Error::from_code(S3ErrorCode::InvalidAccessKeyId),
        AuthError::MissingSessionToken | AuthError::InvalidSessionToken => {
            S3Error::from_code(S3ErrorCode::InvalidToken)
        }
        AuthError::ExpiredSessionToken => S3Error::from_code(S3ErrorCode::ExpiredToken),
        AuthError::Unavailable(why) => {
            tracing::error!(error = %why, "identity store unavailable");
            S3Error::from_code(S3ErrorCode::ServiceUnavailable)
        }
        AuthError::Internal(why) => {
            tracing::error!(error = %why, "authentication failed internally");
            S3Error::from_code(S3ErrorCode::InternalError)
        }
    }
}

/// A denial with AWS's S3 wording (the resource in quotes).
pub fn from_denial(denial: &Denial) -> S3Error {
    let message = if denial.reason == DenialReason::Unspecified {
        // The authorizer always names a reason; should one be missing, S3
        // still says why in its usual words.
        let mut named = denial.clone();
        named.reason = DenialReason::NoAllow(PolicyKind::IdentityBased);
        named.message_with_quoted_resource()
    } else {
        denial.message_with_quoted_resource()
    };
    S3Error::new(S3ErrorCode::AccessDenied, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_errors_take_s3_codes_and_statuses() {
        let cases = [
            (AuthError::UnknownAccessKey, "InvalidAccessKeyId", 403),
            (AuthError::InvalidSessionToken, "InvalidToken", 400),
            (AuthError::MissingSessionToken, "InvalidToken", 400),
            (AuthError::ExpiredSessionToken, "ExpiredToken", 400),
            (
                AuthError::SigV4(SigV4Error::SignatureDoesNotMatch),
                "SignatureDoesNotMatch",
                403,
            ),
            (
                AuthError::SigV4(SigV4Error::ContentSha256Mismatch),
                "XAmzContentSHA256Mismatch",
                400,
            ),
            (
                AuthError::SigV4(SigV4Error::MissingAuthenticationToken),
                "AccessDenied",
                403,
            ),
            (
                AuthError::Unavailable("db".into()),
                "ServiceUnavailable",
                503,
            ),
        ];
        for (error, code, status) in cases {
            let s3 = from_auth(&error);
            assert_eq!(s3.code().as_str(), code, "{error:?}");
            assert_eq!(s3.status().as_u16(), status, "{error:?}");
        }
    }

    #[test]
    fn every_sigv4_s3_code_is_a_known_s3_code() {
        let errors = [
            SigV4Error::MissingAuthenticationToken,
            SigV4Error::InvalidClientTokenId,
            SigV4Error::SignatureDoesNotMatch,
            SigV4Error::ChunkSignatureDoesNotMatch,
            SigV4Error::ContentSha256Mismatch,
            SigV4Error::IncompleteBody,
            SigV4Error::MalformedTrailer,
            SigV4Error::MissingContentSha256,
            SigV4Error::InvalidContentSha256,
        ];
        for e in errors {
            assert_eq!(from_sigv4(&e).status().as_u16(), e.s3_status(), "{e:?}");
            if e == SigV4Error::MalformedTrailer {
                // Not in irsa-s3's code table (yet): the same status, generic code.
                assert_eq!(from_sigv4(&e).code(), S3ErrorCode::InvalidRequest);
            } else {
                assert_eq!(from_sigv4(&e).code().as_str(), e.s3_code(), "{e:?}");
            }
        }
    }

    #[test]
    fn denial_messages_in_s3_words() {
        let explicit = Denial::new(
            "arn:aws:iam::123456789012:user/u",
            "s3:PutObject",
            "arn:aws:s3:::b/a&b",
            DenialReason::ExplicitDeny(PolicyKind::ResourceBased),
        );
        let e = from_denial(&explicit);
        assert_eq!(e.status().as_u16(), 403);
        assert!(e
            .to_xml("r", "h")
            .contains("on resource: &quot;arn:aws:s3:::b/a&amp;b&quot; with an explicit deny in a resource-based policy"));
        let unspecified = Denial::new("U", "s3:GetObject", "R", DenialReason::Unspecified);
        assert!(from_denial(&unspecified)
            .message()
            .ends_with("because no identity-based policy allows the s3:GetObject action"));
    }

    #[test]
    fn denial_message_in_s3_words() {
        let denial = Denial::new(
            "arn:aws:sts::123456789012:assumed-role/app/s",
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            DenialReason::NoAllow(PolicyKind::IdentityBased),
        );
        let e = from_denial(&denial);
        assert_eq!(e.code(), S3ErrorCode::AccessDenied);
        assert_eq!(
            e.message(),
            "User: arn:aws:sts::123456789012:assumed-role/app/s is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::b/k\" because no identity-based policy allows the s3:GetObject action"
        );
    }
}
