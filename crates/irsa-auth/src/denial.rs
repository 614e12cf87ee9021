//! AWS's AccessDenied wording, built in one place for every front:
//! "User: ARN is not authorized to perform: ACTION on resource: RESOURCE
//! because no identity-based policy allows the ACTION action". IAM's own
//! APIs print the resource bare, S3 in double quotes
//! ([`Denial::message_with_quoted_resource`]).

use std::fmt;

/// The kind of policy that decided a denial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    IdentityBased,
    ResourceBased,
    PermissionsBoundary,
    SessionPolicy,
}

impl PolicyKind {
    fn phrase(self) -> &'static str {
        match self {
            PolicyKind::IdentityBased => "identity-based policy",
            PolicyKind::ResourceBased => "resource-based policy",
            PolicyKind::PermissionsBoundary => "permissions boundary",
            PolicyKind::SessionPolicy => "session policy",
        }
    }

    fn article(self) -> &'static str {
        if self.phrase().starts_with('i') {
            "an"
        } else {
            "a"
        }
    }
}

/// Why access was denied, as AWS words it after the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenialReason {
    /// No reason given (trust-policy denials of AssumeRole).
    Unspecified,
    /// "because no identity-based policy allows the ACTION action"
    NoAllow(PolicyKind),
    /// "with an explicit deny in an identity-based policy"
    ExplicitDeny(PolicyKind),
}

/// How the resource is printed in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResourceStyle {
    /// `on resource: arn:aws:iam::…` (IAM, STS).
    Bare,
    /// `on resource: "arn:aws:s3:::b/k"` (S3).
    Quoted,
}

/// A refused request: who, what, on what, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub principal_arn: String,
    pub action: String,
    pub resource: String,
    pub reason: DenialReason,
    /// The statement that decided an explicit deny (`policy-id#Sid`), for
    /// the audit log; never shown to the client.
    pub deciding: Option<String>,
}

impl Denial {
    pub fn new(
        principal_arn: impl Into<String>,
        action: impl Into<String>,
        resource: impl Into<String>,
        reason: DenialReason,
    ) -> Self {
        Self {
            principal_arn: principal_arn.into(),
            action: action.into(),
            resource: resource.into(),
            reason,
            deciding: None,
        }
    }

    /// AWS's message, the resource bare (IAM's wording).
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// AWS's message with the resource in double quotes, as S3 words it
    /// (`on resource: "arn:aws:s3:::b/k"`).
    pub fn message_with_quoted_resource(&self) -> String {
        let mut out = String::with_capacity(160);
        // Writing into a String cannot fail.
        let _ = self.write_message(&mut out, ResourceStyle::Quoted);
        out
    }

    fn write_message(&self, f: &mut impl fmt::Write, style: ResourceStyle) -> fmt::Result {
        let Denial {
            principal_arn,
            action,
            resource,
            reason,
            ..
        } = self;
        write!(
            f,
            "User: {principal_arn} is not authorized to perform: {action} on resource: "
        )?;
        match style {
            ResourceStyle::Bare => f.write_str(resource)?,
            ResourceStyle::Quoted => write!(f, "\"{resource}\"")?,
        }
        match reason {
            DenialReason::Unspecified => Ok(()),
            DenialReason::NoAllow(kind) => {
                write!(
                    f,
                    " because no {} allows the {action} action",
                    kind.phrase()
                )
            }
            DenialReason::ExplicitDeny(kind) => write!(
                f,
                " with an explicit deny in {} {}",
                kind.article(),
                kind.phrase()
            ),
        }
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_message(f, ResourceStyle::Bare)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_follow_aws() {
        let no_allow = Denial::new(
            "arn:aws:iam::123456789012:user/bob",
            "iam:CreateRole",
            "arn:aws:iam::123456789012:role/app",
            DenialReason::NoAllow(PolicyKind::IdentityBased),
        );
        assert_eq!(no_allow.message(), "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: iam:CreateRole on resource: arn:aws:iam::123456789012:role/app because no identity-based policy allows the iam:CreateRole action");
        let explicit = Denial::new(
            "U",
            "s3:GetObject",
            "R",
            DenialReason::ExplicitDeny(PolicyKind::ResourceBased),
        );
        assert_eq!(
            explicit.message(),
            "User: U is not authorized to perform: s3:GetObject on resource: R with an explicit deny in a resource-based policy"
        );
        let boundary = Denial::new(
            "U",
            "A",
            "R",
            DenialReason::ExplicitDeny(PolicyKind::PermissionsBoundary),
        );
        assert!(boundary
            .message()
            .ends_with("with an explicit deny in a permissions boundary"));
        let quoted = Denial::new(
            "arn:aws:sts::123456789012:assumed-role/app/s1",
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            DenialReason::NoAllow(PolicyKind::SessionPolicy),
        );
        assert_eq!(
            quoted.message_with_quoted_resource(),
            "User: arn:aws:sts::123456789012:assumed-role/app/s1 is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::b/k\" because no session policy allows the s3:GetObject action"
        );
        assert!(quoted
            .message()
            .contains("on resource: arn:aws:s3:::b/k because"));
        let plain = Denial::new("U", "sts:AssumeRole", "R", DenialReason::Unspecified);
        assert_eq!(
            plain.message(),
            "User: U is not authorized to perform: sts:AssumeRole on resource: R"
        );
    }
}
