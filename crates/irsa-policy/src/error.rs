//! Validation errors. `Display` is the exact message IAM returns with
//! `MalformedPolicyDocument` (or `LimitExceeded` for sizes), so the API layer
//! can use `error.to_string()` verbatim.

use crate::limits::SizeLimit;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Not parseable as JSON: bad syntax, invalid UTF-8, too deep, duplicate keys.
    #[error("This policy contains invalid Json")]
    InvalidJson { detail: String },
    /// Valid JSON that is not a valid policy grammar; `detail` says what (for logs and explain).
    #[error("Syntax errors in policy.")]
    Syntax { detail: String },
    #[error("The policy failed legacy parsing")]
    InvalidVersion,
    #[error("Policy document should not specify a principal.")]
    PrincipalNotAllowed,
    #[error("Missing required field Principal")]
    MissingPrincipal,
    #[error("Has prohibited field {0}")]
    ProhibitedField(&'static str),
    #[error("Policy statement must contain actions.")]
    MissingActions,
    #[error("Policy statement must contain resources.")]
    MissingResources,
    #[error("Invalid principal in policy: {0}")]
    InvalidPrincipal(String),
    #[error("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")]
    MissingVendor,
    #[error("AssumeRole policy may only specify STS AssumeRole actions.")]
    TrustActionNotSts,
    #[error("Resource {0} must be in ARN format or \"*\".")]
    InvalidResource(String),
    #[error("Resource vendor must be fully qualified and cannot contain regexes.")]
    ResourceVendorWildcard,
    #[error("Statement IDs (SID) in a single policy must be unique.")]
    DuplicateSid,
    #[error("Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*")]
    InvalidSid,
    #[error("Invalid Condition type : {0}")]
    InvalidConditionOperator(String),
    /// Too large after whitespace removal. The API layer maps this to
    /// `LimitExceeded` (IAM) or `PackedPolicyTooLarge` (STS sessions).
    #[error("{}", limit.message(*actual))]
    TooLarge { limit: SizeLimit, actual: usize },
}

impl PolicyError {
    pub(crate) fn syntax(detail: impl Into<String>) -> Self {
        Self::Syntax {
            detail: detail.into(),
        }
    }

    /// True for size errors (IAM answers `LimitExceeded`, not `MalformedPolicyDocument`).
    pub fn is_size_limit(&self) -> bool {
        matches!(self, Self::TooLarge { .. })
    }

    /// A longer explanation for logs and `irsa explain` (the IAM message stays terse).
    pub fn detail(&self) -> String {
        match self {
            Self::InvalidJson { detail } | Self::Syntax { detail } => {
                format!("{self} ({detail})")
            }
            other => other.to_string(),
        }
    }
}
