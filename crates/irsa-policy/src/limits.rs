//! Document size limits, measured as IAM does: characters after removing
//! whitespace outside JSON strings.

/// Hard cap on the raw input, checked before any parsing so a 10 MB body
/// costs nothing. Far above every IAM limit even with generous whitespace.
pub const MAX_RAW_BYTES: usize = 131_072;
/// Maximum nesting of JSON arrays/objects; real policies need 6.
pub const MAX_DEPTH: usize = 32;

pub const MANAGED_POLICY: usize = 6144;
pub const ROLE_TRUST_POLICY: usize = 2048;
pub const INLINE_ROLE_POLICIES: usize = 10_240;
pub const INLINE_USER_POLICIES: usize = 2048;
pub const SESSION_POLICY: usize = 2048;

/// Which IAM quota a document is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SizeLimit {
    /// A customer managed policy (also used as a permissions boundary).
    ManagedPolicy,
    /// A role's trust (assume-role) policy.
    RoleTrustPolicy,
    /// Inline policies of a role (aggregate).
    InlineRolePolicies,
    /// Inline policies of a user (aggregate).
    InlineUserPolicies,
    /// An inline session policy passed to STS.
    SessionPolicy,
    /// A caller-chosen limit.
    Custom(usize),
    /// Only the raw-size and depth guards apply.
    Unlimited,
}

impl SizeLimit {
    pub fn bytes(self) -> Option<usize> {
        match self {
            Self::ManagedPolicy => Some(MANAGED_POLICY),
            Self::RoleTrustPolicy => Some(ROLE_TRUST_POLICY),
            Self::InlineRolePolicies => Some(INLINE_ROLE_POLICIES),
            Self::InlineUserPolicies => Some(INLINE_USER_POLICIES),
            Self::SessionPolicy => Some(SESSION_POLICY),
            Self::Custom(n) => Some(n),
            Self::Unlimited => None,
        }
    }

    /// The message IAM/STS gives when the limit is exceeded.
    pub fn message(self, actual: usize) -> String {
        match self {
            Self::ManagedPolicy => format!("Cannot exceed quota for PolicySize: {MANAGED_POLICY}"),
            Self::RoleTrustPolicy => {
                format!("Cannot exceed quota for ACLSizePerRole: {ROLE_TRUST_POLICY}")
            }
            Self::InlineRolePolicies => {
                format!("Maximum policy size of {INLINE_ROLE_POLICIES} bytes exceeded for role")
            }
            Self::InlineUserPolicies => {
                format!("Maximum policy size of {INLINE_USER_POLICIES} bytes exceeded for user")
            }
            Self::SessionPolicy => format!(
                "Policy of length {actual} exceeds the maximum allowed length of {SESSION_POLICY}"
            ),
            Self::Custom(n) => format!("Policy size {actual} exceeds the limit of {n}"),
            Self::Unlimited => {
                format!("Policy document of {actual} bytes exceeds the maximum of {MAX_RAW_BYTES}")
            }
        }
    }
}

/// Characters of `json` outside whitespace that is not inside a string.
/// Works on any text (it does not validate JSON).
pub fn minified_len(json: &str) -> usize {
    let mut in_string = false;
    let mut escaped = false;
    let mut n = 0;
    for c in json.chars() {
        if in_string {
            n += 1;
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            n += 1;
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_outside_strings_is_not_counted() {
        assert_eq!(
            minified_len("{ \"a b\" :\n [ 1 , 2 ] }"),
            "{\"a b\":[1,2]}".len()
        );
        assert_eq!(minified_len(r#"{"a\" b": 1}"#), r#"{"a\" b":1}"#.len());
    }

    #[test]
    fn messages_name_the_quota() {
        assert_eq!(
            SizeLimit::ManagedPolicy.message(7000),
            "Cannot exceed quota for PolicySize: 6144"
        );
        assert_eq!(
            SizeLimit::RoleTrustPolicy.message(3000),
            "Cannot exceed quota for ACLSizePerRole: 2048"
        );
        assert_eq!(SizeLimit::InlineRolePolicies.bytes(), Some(10_240));
    }
}
