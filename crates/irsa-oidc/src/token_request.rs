//! The fields of a service-account token request (`irsa token issue`'s
//! flags, the `IssueServiceAccountToken` action's parameters), checked the
//! way kube-apiserver's TokenRequest checks them and turned into a
//! [`ServiceAccountToken`](crate::ServiceAccountToken) to mint.

use std::time::Duration;

/// Longest lifetime of a token the built-in issuer signs; a retired signing
/// key stays published this long (plus the verifiers' clock skew) so every
/// token it signed expires before it goes.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(48 * 3600);

/// Shortest token lifetime (TokenRequest's minimum).
pub const MIN_TOKEN_SECONDS: i64 = 600;

/// The fields of a service-account token request, from `irsa token issue`
/// flags or the `IssueServiceAccountToken` action's parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenFields {
    pub namespace: String,
    pub service_account: String,
    pub service_account_uid: Option<String>,
    pub audiences: Vec<String>,
    pub expiration_seconds: i64,
    pub pod_name: Option<String>,
    pub pod_uid: Option<String>,
    pub node_name: Option<String>,
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

impl TokenFields {
    /// Checks the fields (every problem at once, each prefixed with
    /// `label(field)`, field being `namespace`, `service-account`,
    /// `expiration`, `audience`, `pod-uid` or `pod-name`) and builds the
    /// token request for `issuer`. Missing uids are random.
    pub fn request(
        &self,
        issuer: &str,
        label: impl Fn(&str) -> String,
    ) -> Result<crate::ServiceAccountToken, Vec<String>> {
        let mut problems = Vec::new();
        if !is_dns_label(&self.namespace) {
            problems.push(format!(
                "{}: {:?} is not a Kubernetes namespace name (lower-case letters, digits and '-', at most 63)",
                label("namespace"),
                self.namespace
            ));
        }
        if !is_dns_subdomain(&self.service_account) {
            problems.push(format!(
                "{}: {:?} is not a Kubernetes object name (lower-case letters, digits, '-' and '.')",
                label("service-account"),
                self.service_account
            ));
        }
        #[allow(clippy::cast_possible_wrap)] // 172 800 fits
        let max = MAX_TOKEN_LIFETIME.as_secs() as i64;
        if !(MIN_TOKEN_SECONDS..=max).contains(&self.expiration_seconds) {
            problems.push(format!(
                "{}: {} s is outside {MIN_TOKEN_SECONDS}..={max} (TokenRequest's minimum; the built-in issuer's 48 h maximum)",
                label("expiration"),
                self.expiration_seconds
            ));
        }
        if self.audiences.is_empty() || self.audiences.iter().any(|a| a.trim().is_empty()) {
            problems.push(format!("{}: must not be empty", label("audience")));
        }
        if self.pod_uid.is_some() && self.pod_name.is_none() {
            problems.push(format!("{} needs {}", label("pod-uid"), label("pod-name")));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let uid = || uuid::Uuid::new_v4().to_string();
        Ok(crate::ServiceAccountToken {
            issuer: issuer.to_owned(),
            audiences: self.audiences.clone(),
            namespace: self.namespace.clone(),
            service_account: crate::ObjectRef {
                name: self.service_account.clone(),
                uid: self.service_account_uid.clone().unwrap_or_else(uid),
            },
            pod: self.pod_name.as_ref().map(|name| crate::ObjectRef {
                name: name.clone(),
                uid: self.pod_uid.clone().unwrap_or_else(uid),
            }),
            node: self.node_name.as_ref().map(|name| crate::ObjectRef {
                name: name.clone(),
                uid: uid(),
            }),
            expiration_seconds: self.expiration_seconds,
            warn_after: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> TokenFields {
        TokenFields {
            namespace: "default".into(),
            service_account: "demo".into(),
            audiences: vec!["sts.amazonaws.com".into()],
            expiration_seconds: 3600,
            ..TokenFields::default()
        }
    }

    #[test]
    fn valid_fields_make_a_request_with_random_uids() {
        let request = fields()
            .request("https://i.example", str::to_owned)
            .unwrap();
        assert_eq!(request.subject(), "system:serviceaccount:default:demo");
        assert_eq!(request.issuer, "https://i.example");
        assert_eq!(request.service_account.uid.len(), 36);
        assert!(request.pod.is_none() && request.node.is_none());
    }

    #[test]
    fn every_problem_is_reported_with_its_label() {
        let bad = TokenFields {
            namespace: "Bad_NS".into(),
            service_account: "-x".into(),
            audiences: vec![" ".into()],
            expiration_seconds: MIN_TOKEN_SECONDS - 1,
            pod_uid: Some("u".into()),
            ..TokenFields::default()
        };
        let problems = bad
            .request("https://i.example", |f| format!("<{f}>"))
            .unwrap_err();
        for label in [
            "<namespace>",
            "<service-account>",
            "<expiration>",
            "<audience>",
            "<pod-uid>",
        ] {
            assert!(
                problems.iter().any(|p| p.starts_with(label)),
                "{label}: {problems:?}"
            );
        }
        assert_eq!(problems.len(), 5);
        #[allow(clippy::cast_possible_wrap)]
        let too_long = TokenFields {
            expiration_seconds: MAX_TOKEN_LIFETIME.as_secs() as i64 + 1,
            ..fields()
        };
        assert!(too_long
            .request("https://i.example", str::to_owned)
            .is_err());
    }
}
