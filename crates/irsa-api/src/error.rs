//! The one error type of the API and its code table (code, HTTP status,
//! Sender/Receiver); rendered as AWS Query XML or as JSON by
//! [`crate::respond`].

use std::fmt;

use irsa_store::StoreError;

/// Who is to blame, as AWS reports it in `<Type>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    Sender,
    Receiver,
}

impl Fault {
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Sender => "Sender",
            Fault::Receiver => "Receiver",
        }
    }
}

macro_rules! codes {
    ($($variant:ident = $code:literal, $status:literal, $fault:ident;)*) => {
        /// Every error code irsa returns, with its wire code, HTTP status and fault.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($variant,)*
        }

        impl ErrorCode {
            /// All codes, in table order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The `<Code>` string clients branch on.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            /// The HTTP status of the error response.
            pub fn http_status(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $status,)*
                }
            }

            /// `Sender` for client mistakes, `Receiver` for server failures.
            pub fn fault(self) -> Fault {
                match self {
                    $(ErrorCode::$variant => Fault::$fault,)*
                }
            }

            /// Looks a wire code up in the table.
            pub fn from_code(code: &str) -> Option<Self> {
                match code {
                    $($code => Some(ErrorCode::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

codes! {
    // STS web identity (codes as the STS service model defines them).
    InvalidIdentityToken = "InvalidIdentityToken", 400, Sender;
    ExpiredTokenException = "ExpiredTokenException", 400, Sender;
    IdpRejectedClaim = "IDPRejectedClaim", 403, Sender;
    IdpCommunicationError = "IDPCommunicationError", 400, Sender;
    PackedPolicyTooLarge = "PackedPolicyTooLarge", 400, Sender;
    RegionDisabled = "RegionDisabledException", 403, Sender;
    InvalidAuthorizationMessage = "InvalidAuthorizationMessageException", 400, Sender;
    OutboundWebIdentityFederationDisabled = "OutboundWebIdentityFederationDisabledException", 403, Sender;
    SessionDurationEscalation = "SessionDurationEscalationException", 403, Sender;
    JwtPayloadSizeExceeded = "JWTPayloadSizeExceededException", 400, Sender;
    // Authentication and authorization (AWS common errors).
    AccessDenied = "AccessDenied", 403, Sender;
    InvalidClientTokenId = "InvalidClientTokenId", 403, Sender;
    SignatureDoesNotMatch = "SignatureDoesNotMatch", 403, Sender;
    IncompleteSignature = "IncompleteSignature", 400, Sender;
    MissingAuthenticationToken = "MissingAuthenticationToken", 403, Sender;
    ExpiredToken = "ExpiredToken", 403, Sender;
    RequestExpired = "RequestExpired", 400, Sender;
    // Request shape (AWS common errors).
    ValidationError = "ValidationError", 400, Sender;
    InvalidAction = "InvalidAction", 400, Sender;
    MissingAction = "MissingAction", 400, Sender;
    MissingParameter = "MissingParameter", 400, Sender;
    InvalidParameterValue = "InvalidParameterValue", 400, Sender;
    InvalidParameterCombination = "InvalidParameterCombination", 400, Sender;
    InvalidQueryParameter = "InvalidQueryParameter", 400, Sender;
    // AWS documents 404 for this one; kept for fidelity (still a 4xx, never retried).
    MalformedQueryString = "MalformedQueryString", 404, Sender;
    // Not an AWS Query code; irsa's answer to bodies over its size cap.
    RequestEntityTooLarge = "RequestEntityTooLarge", 413, Sender;
    // IAM (codes as the IAM service model defines them).
    MalformedPolicyDocument = "MalformedPolicyDocument", 400, Sender;
    NoSuchEntity = "NoSuchEntity", 404, Sender;
    EntityAlreadyExists = "EntityAlreadyExists", 409, Sender;
    LimitExceeded = "LimitExceeded", 409, Sender;
    DeleteConflict = "DeleteConflict", 409, Sender;
    InvalidInput = "InvalidInput", 400, Sender;
    ConcurrentModification = "ConcurrentModification", 409, Sender;
    UnmodifiableEntity = "UnmodifiableEntity", 400, Sender;
    PolicyNotAttachable = "PolicyNotAttachable", 400, Sender;
    PolicyEvaluation = "PolicyEvaluation", 500, Receiver;
    FeatureDisabled = "FeatureDisabled", 404, Sender;
    FeatureEnabled = "FeatureEnabled", 409, Sender;
    OpenIdIdpCommunicationError = "OpenIdIdpCommunicationError", 400, Sender;
    // Server side.
    ServiceFailure = "ServiceFailure", 500, Receiver;
    ServiceUnavailable = "ServiceUnavailable", 503, Receiver;
    Throttling = "Throttling", 400, Sender;
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub use irsa_auth::{DenialReason, PolicyKind};

/// An AWS API error: a code from the table and the message clients see.
/// Messages never carry secrets or internal details.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

/// Generic message of `ServiceFailure`; the cause goes to the log only.
pub const SERVICE_FAILURE_MESSAGE: &str =
    "Request processing has failed because of an unknown error, exception or failure.";

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn http_status(&self) -> u16 {
        self.code.http_status()
    }

    pub fn fault(&self) -> Fault {
        self.code.fault()
    }

    // ---- request shape ----

    /// `InvalidAction` for an unknown action or an action/version mismatch.
    pub fn invalid_action(action: &str, version: &str) -> Self {
        Self::new(
            ErrorCode::InvalidAction,
            format!("Could not find operation {action} for version {version}"),
        )
    }

    /// `MissingAction`: the request names no `Action`.
    pub fn missing_action() -> Self {
        Self::new(ErrorCode::MissingAction, "Missing Action")
    }

    /// `ValidationError` listing every violated constraint, AWS style:
    /// "2 validation errors detected: …; …".
    pub fn validation(violations: &[String]) -> Self {
        let n = violations.len();
        let plural = if n == 1 { "error" } else { "errors" };
        Self::new(
            ErrorCode::ValidationError,
            format!(
                "{n} validation {plural} detected: {}",
                violations.join("; ")
            ),
        )
    }

    // ---- authentication ----

    /// `InvalidClientTokenId`: unknown/inactive access key or a tampered session token.
    pub fn invalid_client_token_id() -> Self {
        Self::new(
            ErrorCode::InvalidClientTokenId,
            "The security token included in the request is invalid.",
        )
    }

    /// `ExpiredToken`: the session token of the request has expired.
    pub fn expired_token() -> Self {
        Self::new(
            ErrorCode::ExpiredToken,
            "The security token included in the request is expired",
        )
    }

    /// `MissingAuthenticationToken`: an unsigned call to a signed operation.
    pub fn missing_authentication_token() -> Self {
        Self::new(
            ErrorCode::MissingAuthenticationToken,
            "Request is missing Authentication Token",
        )
    }

    /// `SignatureDoesNotMatch` with AWS's standard text.
    pub fn signature_does_not_match() -> Self {
        Self::new(
            ErrorCode::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        )
    }

    // ---- authorization ----

    /// `AccessDenied` for a call the policies do not allow, in AWS's words:
    /// "User: ARN is not authorized to perform: iam:CreateRole on resource:
    /// ARN because no identity-based policy allows the iam:CreateRole action".
    pub fn not_authorized(
        principal_arn: &str,
        action: &str,
        resource: &str,
        reason: DenialReason,
    ) -> Self {
        Self::from(irsa_auth::Denial::new(
            principal_arn,
            action,
            resource,
            reason,
        ))
    }

    /// `AccessDenied`: root credentials cannot assume roles.
    pub fn root_cannot_assume_roles() -> Self {
        Self::new(
            ErrorCode::AccessDenied,
            "Roles may not be assumed by root accounts.",
        )
    }

    // ---- web identity (verbatim AWS messages) ----

    /// `InvalidIdentityToken`: the token's `iss` is no provider of the account.
    pub fn no_oidc_provider(issuer_url: &str) -> Self {
        Self::new(
            ErrorCode::InvalidIdentityToken,
            format!("No OpenIDConnect provider found in your account for {issuer_url}"),
        )
    }

    /// `InvalidIdentityToken`: no `aud` value is a registered client id.
    pub fn incorrect_token_audience() -> Self {
        Self::new(ErrorCode::InvalidIdentityToken, "Incorrect token audience")
    }

    /// `InvalidIdentityToken`: a required claim (`sub`, `aud`, …) is absent.
    pub fn missing_claim(claim: &str) -> Self {
        Self::new(
            ErrorCode::InvalidIdentityToken,
            format!("Missing a required claim: {claim}"),
        )
    }

    /// `InvalidIdentityToken`: the issuer's keys could not be fetched or none matched.
    pub fn verification_key_unavailable() -> Self {
        // Two spaces after the comma, as AWS writes it.
        Self::new(
            ErrorCode::InvalidIdentityToken,
            "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements",
        )
    }

    /// `InvalidIdentityToken`: the issuer's certificate matches no thumbprint.
    pub fn thumbprint_mismatch() -> Self {
        Self::new(
            ErrorCode::InvalidIdentityToken,
            "OpenIDConnect provider's HTTPS certificate doesn't match configured thumbprint",
        )
    }

    /// `ExpiredTokenException`: the web identity token is past `exp` (+ skew).
    /// Times are Unix seconds, as AWS prints them.
    pub fn web_identity_token_expired(now_unix: i64, expiry_unix: i64) -> Self {
        Self::new(
            ErrorCode::ExpiredTokenException,
            format!(
                "Token expired: current date/time {now_unix} must be before the expiration date/time {expiry_unix}"
            ),
        )
    }

    /// `AccessDenied` for AssumeRoleWithWebIdentity (missing and denied roles alike).
    pub fn web_identity_not_authorized() -> Self {
        Self::new(
            ErrorCode::AccessDenied,
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        )
    }

    /// `ValidationError`: DurationSeconds above the role's MaxSessionDuration.
    pub fn duration_exceeds_max_session_duration() -> Self {
        Self::new(
            ErrorCode::ValidationError,
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        )
    }

    // ---- IAM entities ----

    /// `NoSuchEntity` for a named entity: "The role with name app cannot be found."
    pub fn no_such_entity(kind: &str, name: &str) -> Self {
        Self::new(
            ErrorCode::NoSuchEntity,
            format!("The {kind} with name {name} cannot be found."),
        )
    }

    /// `EntityAlreadyExists`: "Role with name app already exists."
    pub fn entity_already_exists(kind: &str, name: &str) -> Self {
        let mut kind_cap = kind.to_owned();
        if let Some(first) = kind_cap.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        Self::new(
            ErrorCode::EntityAlreadyExists,
            format!("{kind_cap} with name {name} already exists."),
        )
    }

    /// `MalformedPolicyDocument` with the policy engine's precise message.
    pub fn malformed_policy_document(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::MalformedPolicyDocument, message)
    }

    // ---- server ----

    /// `ServiceFailure`: logs the cause, returns a message without internals.
    pub fn service_failure(cause: &dyn fmt::Display) -> Self {
        tracing::error!(error = %cause, "service failure");
        Self::new(ErrorCode::ServiceFailure, SERVICE_FAILURE_MESSAGE)
    }

    /// `Throttling`: "Rate exceeded".
    pub fn throttling() -> Self {
        Self::new(ErrorCode::Throttling, "Rate exceeded")
    }

    /// `RequestEntityTooLarge` for a body above the server's cap.
    pub fn request_too_large(limit_bytes: usize) -> Self {
        Self::new(
            ErrorCode::RequestEntityTooLarge,
            format!("Request body exceeds the maximum size of {limit_bytes} bytes"),
        )
    }
}

/// Maps store failures onto AWS errors (the one place that does).
pub(crate) fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::AlreadyExists { .. } => {
            ApiError::new(ErrorCode::EntityAlreadyExists, e.to_string())
        }
        StoreError::NotFound { .. } => ApiError::new(ErrorCode::NoSuchEntity, e.to_string()),
        StoreError::LimitExceeded { .. } => ApiError::new(ErrorCode::LimitExceeded, e.to_string()),
        StoreError::DeleteConflict { .. } => {
            ApiError::new(ErrorCode::DeleteConflict, e.to_string())
        }
        StoreError::InvalidInput(m) => ApiError::new(ErrorCode::InvalidInput, m),
        StoreError::Unavailable(_)
        | StoreError::Backend(_)
        | StoreError::Crypto(_)
        | StoreError::Config(_) => ApiError::service_failure(&e),
    }
}

/// The answer for operations irsa does not implement (yet).
pub(crate) fn not_implemented(action: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidAction,
        format!("Operation {action} is not implemented by irsa yet"),
    )
}

impl From<irsa_auth::Denial> for ApiError {
    fn from(denial: irsa_auth::Denial) -> Self {
        Self::new(ErrorCode::AccessDenied, denial.message())
    }
}

/// Authentication failures in the STS/IAM wire shape.
impl From<irsa_auth::AuthError> for ApiError {
    fn from(e: irsa_auth::AuthError) -> Self {
        use irsa_auth::AuthError as E;
        match e {
            E::SigV4(e) => {
                let code =
                    ErrorCode::from_code(e.code()).unwrap_or(ErrorCode::SignatureDoesNotMatch);
                ApiError::new(code, e.message())
            }
            E::UnknownAccessKey | E::MissingSessionToken | E::InvalidSessionToken => {
                ApiError::invalid_client_token_id()
            }
            E::ExpiredSessionToken => ApiError::expired_token(),
            E::Unavailable(_) | E::Internal(_) => ApiError::service_failure(&e),
        }
    }
}

impl From<irsa_auth::SessionTokenError> for ApiError {
    fn from(e: irsa_auth::SessionTokenError) -> Self {
        use irsa_auth::SessionTokenError as E;
        match e {
            E::Invalid => ApiError::invalid_client_token_id(),
            E::Expired => ApiError::expired_token(),
            E::InvalidKey(_) | E::Seal => ApiError::service_failure(&e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_design() {
        let expected: &[(&str, u16, Fault)] = &[
            ("InvalidIdentityToken", 400, Fault::Sender),
            ("ExpiredTokenException", 400, Fault::Sender),
            ("IDPRejectedClaim", 403, Fault::Sender),
            ("IDPCommunicationError", 400, Fault::Sender),
            ("AccessDenied", 403, Fault::Sender),
            ("InvalidClientTokenId", 403, Fault::Sender),
            ("SignatureDoesNotMatch", 403, Fault::Sender),
            ("IncompleteSignature", 400, Fault::Sender),
            ("MissingAuthenticationToken", 403, Fault::Sender),
            ("ExpiredToken", 403, Fault::Sender),
            ("RequestExpired", 400, Fault::Sender),
            ("ValidationError", 400, Fault::Sender),
            ("MalformedPolicyDocument", 400, Fault::Sender),
            ("PackedPolicyTooLarge", 400, Fault::Sender),
            ("InvalidAction", 400, Fault::Sender),
            ("MissingParameter", 400, Fault::Sender),
            ("InvalidParameterValue", 400, Fault::Sender),
            ("NoSuchEntity", 404, Fault::Sender),
            ("EntityAlreadyExists", 409, Fault::Sender),
            ("LimitExceeded", 409, Fault::Sender),
            ("DeleteConflict", 409, Fault::Sender),
            ("InvalidInput", 400, Fault::Sender),
            ("ServiceFailure", 500, Fault::Receiver),
            ("Throttling", 400, Fault::Sender),
            (
                "OutboundWebIdentityFederationDisabledException",
                403,
                Fault::Sender,
            ),
            // Outbound web identity, as botocore's models define them.
            ("SessionDurationEscalationException", 403, Fault::Sender),
            ("JWTPayloadSizeExceededException", 400, Fault::Sender),
            ("FeatureDisabled", 404, Fault::Sender),
            ("FeatureEnabled", 409, Fault::Sender),
        ];
        for (code, status, fault) in expected {
            let c = ErrorCode::from_code(code).unwrap_or_else(|| panic!("missing {code}"));
            assert_eq!(c.as_str(), *code);
            assert_eq!(c.http_status(), *status, "{code}");
            assert_eq!(c.fault(), *fault, "{code}");
        }
    }

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "duplicate {code}");
            assert_eq!(ErrorCode::from_code(code.as_str()), Some(*code));
            assert!((400..600).contains(&code.http_status()));
            assert_eq!(
                code.fault() == Fault::Receiver,
                code.http_status() >= 500,
                "{code}"
            );
        }
        assert_eq!(ErrorCode::from_code("NoSuchThing"), None);
    }

    #[test]
    fn verbatim_messages() {
        assert_eq!(
            ApiError::invalid_action("Frobnicate", "2011-06-15").message,
            "Could not find operation Frobnicate for version 2011-06-15"
        );
        assert_eq!(
            ApiError::web_identity_token_expired(1_700_000_400, 1_700_000_000).message,
            "Token expired: current date/time 1700000400 must be before the expiration date/time 1700000000"
        );
        assert_eq!(
            ApiError::no_oidc_provider("https://example.com/id").message,
            "No OpenIDConnect provider found in your account for https://example.com/id"
        );
        assert!(ApiError::verification_key_unavailable()
            .message
            .contains("provider,  please"));
        let denied = ApiError::not_authorized(
            "arn:aws:iam::123456789012:user/bob",
            "iam:CreateRole",
            "arn:aws:iam::123456789012:role/app",
            DenialReason::NoAllow(PolicyKind::IdentityBased),
        );
        assert_eq!(denied.message, "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: iam:CreateRole on resource: arn:aws:iam::123456789012:role/app because no identity-based policy allows the iam:CreateRole action");
        assert_eq!(denied.http_status(), 403);
        let explicit = ApiError::not_authorized(
            "U",
            "sts:AssumeRole",
            "R",
            DenialReason::ExplicitDeny(PolicyKind::IdentityBased),
        );
        assert_eq!(explicit.message, "User: U is not authorized to perform: sts:AssumeRole on resource: R with an explicit deny in an identity-based policy");
        let boundary = ApiError::not_authorized(
            "U",
            "s3:GetObject",
            "R",
            DenialReason::ExplicitDeny(PolicyKind::PermissionsBoundary),
        );
        assert!(boundary
            .message
            .ends_with("with an explicit deny in a permissions boundary"));
        let session = ApiError::not_authorized(
            "U",
            "s3:GetObject",
            "R",
            DenialReason::NoAllow(PolicyKind::SessionPolicy),
        );
        assert!(session
            .message
            .ends_with("because no session policy allows the s3:GetObject action"));
        let trust = ApiError::not_authorized("U", "sts:AssumeRole", "R", DenialReason::Unspecified);
        assert_eq!(
            trust.message,
            "User: U is not authorized to perform: sts:AssumeRole on resource: R"
        );
        assert_eq!(
            ApiError::entity_already_exists("role", "app").message,
            "Role with name app already exists."
        );
        assert_eq!(
            ApiError::validation(&["a".into(), "b".into()]).message,
            "2 validation errors detected: a; b"
        );
        assert_eq!(
            ApiError::validation(&["a".into()]).message,
            "1 validation error detected: a"
        );
    }

    #[test]
    fn service_failure_hides_the_cause() {
        let e = ApiError::service_failure(&"connection refused to postgres://admin:pw@db");
        assert_eq!(e.code, ErrorCode::ServiceFailure);
        assert!(!e.message.contains("postgres"));
        assert_eq!(e.http_status(), 500);
        assert_eq!(e.fault(), Fault::Receiver);
    }

    #[test]
    fn renders_xml_and_json() {
        let e = ApiError::new(ErrorCode::InvalidIdentityToken, "bad <token> & \"x\"");
        let xml = e.to_xml(crate::Service::Sts, "req-1");
        assert_eq!(
            xml,
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>bad &lt;token&gt; &amp; &quot;x&quot;</Message></Error><RequestId>req-1</RequestId></ErrorResponse>"
        );
        let json: serde_json::Value = serde_json::from_str(&e.to_json("req-1")).unwrap();
        assert_eq!(json["Error"]["Code"], "InvalidIdentityToken");
        assert_eq!(json["Error"]["Message"], "bad <token> & \"x\"");
        assert_eq!(json["Error"]["Type"], "Sender");
        assert_eq!(json["RequestId"], "req-1");
        let (ct, _) =
            ApiError::throttling().render(crate::Service::Iam, crate::ResponseFormat::Json, "r");
        assert!(ApiError::throttling()
            .to_xml(crate::Service::Iam, "r")
            .starts_with("<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"));
        assert_eq!(ct, "application/json");
    }
}
