//! S3's AccessDenied message, in AWS's words:
//! `User: ARN is not authorized to perform: s3:GetObject on resource:
//! "arn:aws:s3:::b/k" because no identity-based policy allows the
//! s3:GetObject action`. S3 quotes the resource (IAM's own APIs do not).

use crate::error::{S3Error, S3ErrorCode};

/// The kind of policy that decided a denial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyType {
    IdentityBased,
    /// The bucket policy.
    ResourceBased,
    PermissionsBoundary,
    SessionPolicy,
}

impl PolicyType {
    fn phrase(self) -> &'static str {
        match self {
            PolicyType::IdentityBased => "identity-based policy",
            PolicyType::ResourceBased => "resource-based policy",
            PolicyType::PermissionsBoundary => "permissions boundary",
            PolicyType::SessionPolicy => "session policy",
        }
    }

    fn article(self) -> &'static str {
        match self {
            PolicyType::IdentityBased => "an",
            _ => "a",
        }
    }
}

/// Why the request was denied, as the policy engine decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenialReason {
    /// "because no identity-based policy allows the ACTION action"
    NoAllow(PolicyType),
    /// "with an explicit deny in a resource-based policy"
    ExplicitDeny(PolicyType),
}

/// AWS's message for an S3 denial. `principal_arn` is the caller's ARN
/// (`arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`…, or `anonymous`).
pub fn access_denied_message(
    principal_arn: &str,
    action: &str,
    resource: &str,
    reason: DenialReason,
) -> String {
    let head = format!(
        "User: {principal_arn} is not authorized to perform: {action} on resource: \"{resource}\""
    );
    match reason {
        DenialReason::NoAllow(kind) => format!(
            "{head} because no {} allows the {action} action",
            kind.phrase()
        ),
        DenialReason::ExplicitDeny(kind) => {
            format!(
                "{head} with an explicit deny in {} {}",
                kind.article(),
                kind.phrase()
            )
        }
    }
}

/// The 403 `AccessDenied` error carrying [`access_denied_message`].
pub fn access_denied(
    principal_arn: &str,
    action: &str,
    resource: &str,
    reason: DenialReason,
) -> S3Error {
    S3Error::new(
        S3ErrorCode::AccessDenied,
        access_denied_message(principal_arn, action, resource, reason),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "arn:aws:sts::123456789012:assumed-role/app/s1";

    #[test]
    fn every_reason_in_aws_words() {
        let cases = [
            (
                DenialReason::NoAllow(PolicyType::IdentityBased),
                " because no identity-based policy allows the s3:GetObject action",
            ),
            (
                DenialReason::NoAllow(PolicyType::ResourceBased),
                " because no resource-based policy allows the s3:GetObject action",
            ),
            (
                DenialReason::NoAllow(PolicyType::PermissionsBoundary),
                " because no permissions boundary allows the s3:GetObject action",
            ),
            (
                DenialReason::NoAllow(PolicyType::SessionPolicy),
                " because no session policy allows the s3:GetObject action",
            ),
            (
                DenialReason::ExplicitDeny(PolicyType::IdentityBased),
                " with an explicit deny in an identity-based policy",
            ),
            (
                DenialReason::ExplicitDeny(PolicyType::ResourceBased),
                " with an explicit deny in a resource-based policy",
            ),
            (
                DenialReason::ExplicitDeny(PolicyType::PermissionsBoundary),
                " with an explicit deny in a permissions boundary",
            ),
            (
                DenialReason::ExplicitDeny(PolicyType::SessionPolicy),
                " with an explicit deny in a session policy",
            ),
        ];
        for (reason, tail) in cases {
            assert_eq!(
                access_denied_message(ROLE, "s3:GetObject", "arn:aws:s3:::b/k", reason),
                format!("User: {ROLE} is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::b/k\"{tail}")
            );
        }
    }

    #[test]
    fn renders_escaped_in_the_error_document() {
        let err = access_denied(
            ROLE,
            "s3:GetObject",
            "arn:aws:s3:::b/a&b",
            DenialReason::NoAllow(PolicyType::IdentityBased),
        );
        assert_eq!(err.status().as_u16(), 403);
        assert!(err
            .to_xml("r", "h")
            .contains("on resource: &quot;arn:aws:s3:::b/a&amp;b&quot; because"));
    }
}
