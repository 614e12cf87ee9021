use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::AccountId;

/// An Amazon Resource Name: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.
///
/// Region and account may be empty (IAM ARNs have no region; S3 bucket ARNs
/// have neither). The resource part may itself contain `:` and `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Arn {
    partition: String,
    service: String,
    region: String,
    account: String,
    resource: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArnError {
    #[error("ARN must start with \"arn:\"")]
    MissingPrefix,
    #[error(
        "ARN must have 6 colon-separated parts (arn:partition:service:region:account:resource)"
    )]
    TooFewParts,
    #[error("ARN partition must not be empty")]
    EmptyPartition,
    #[error("ARN service must not be empty")]
    EmptyService,
    #[error("ARN resource must not be empty")]
    EmptyResource,
    #[error("ARN contains a control character")]
    ControlCharacter,
}

impl Arn {
    pub fn new(
        partition: impl Into<String>,
        service: impl Into<String>,
        region: impl Into<String>,
        account: impl Into<String>,
        resource: impl Into<String>,
    ) -> Self {
        Self {
            partition: partition.into(),
            service: service.into(),
            region: region.into(),
            account: account.into(),
            resource: resource.into(),
        }
    }

    fn iam(account: &AccountId, resource: String) -> Self {
        Self::new("aws", "iam", "", account.as_str(), resource)
    }

    /// `arn:aws:iam::ACCT:root`
    pub fn account_root(account: &AccountId) -> Self {
        Self::iam(account, "root".to_owned())
    }

    /// `arn:aws:iam::ACCT:role/PATH/NAME`; `path` starts and ends with `/`.
    pub fn iam_role(account: &AccountId, path: &str, name: &str) -> Self {
        Self::iam(account, format!("role{path}{name}"))
    }

    /// `arn:aws:iam::ACCT:user/PATH/NAME`
    pub fn iam_user(account: &AccountId, path: &str, name: &str) -> Self {
        Self::iam(account, format!("user{path}{name}"))
    }

    /// `arn:aws:iam::ACCT:policy/PATH/NAME`
    pub fn iam_policy(account: &AccountId, path: &str, name: &str) -> Self {
        Self::iam(account, format!("policy{path}{name}"))
    }

    /// `arn:aws:iam::ACCT:oidc-provider/HOST/PATH` from a provider URL
    /// already normalised and stripped of `https://`.
    pub fn oidc_provider(account: &AccountId, url_without_scheme: &str) -> Self {
        Self::iam(account, format!("oidc-provider/{url_without_scheme}"))
    }

    /// `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`
    pub fn assumed_role(account: &AccountId, role_name: &str, session_name: &str) -> Self {
        Self::new(
            "aws",
            "sts",
            "",
            account.as_str(),
            format!("assumed-role/{role_name}/{session_name}"),
        )
    }

    /// `arn:aws:sts::ACCT:federated-user/NAME`
    pub fn federated_user(account: &AccountId, name: &str) -> Self {
        Self::new(
            "aws",
            "sts",
            "",
            account.as_str(),
            format!("federated-user/{name}"),
        )
    }

    pub fn partition(&self) -> &str {
        &self.partition
    }
    pub fn service(&self) -> &str {
        &self.service
    }
    pub fn region(&self) -> &str {
        &self.region
    }
    pub fn account(&self) -> &str {
        &self.account
    }
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The resource type before the first `/` or `:` (`role`, `user`, `policy`…).
    pub fn resource_type(&self) -> &str {
        self.resource
            .split(['/', ':'])
            .next()
            .unwrap_or(&self.resource)
    }

    /// The last `/`-separated segment of the resource (an IAM entity's name).
    pub fn resource_name(&self) -> &str {
        self.resource.rsplit('/').next().unwrap_or(&self.resource)
    }
}

impl FromStr for Arn {
    type Err = ArnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.chars().any(char::is_control) {
            return Err(ArnError::ControlCharacter);
        }
        let rest = s.strip_prefix("arn:").ok_or(ArnError::MissingPrefix)?;
        let mut parts = rest.splitn(5, ':');
        let partition = parts.next().ok_or(ArnError::TooFewParts)?;
        let service = parts.next().ok_or(ArnError::TooFewParts)?;
        let region = parts.next().ok_or(ArnError::TooFewParts)?;
        let account = parts.next().ok_or(ArnError::TooFewParts)?;
        let resource = parts.next().ok_or(ArnError::TooFewParts)?;
        if partition.is_empty() {
            return Err(ArnError::EmptyPartition);
        }
        if service.is_empty() {
            return Err(ArnError::EmptyService);
        }
        if resource.is_empty() {
            return Err(ArnError::EmptyResource);
        }
        Ok(Self::new(partition, service, region, account, resource))
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account, self.resource
        )
    }
}

impl Serialize for Arn {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Arn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn acct() -> AccountId {
        AccountId::default()
    }

    #[test]
    fn parses_iam_role() {
        let arn: Arn = "arn:aws:iam::123456789012:role/team/app".parse().unwrap();
        assert_eq!(arn.partition(), "aws");
        assert_eq!(arn.service(), "iam");
        assert_eq!(arn.region(), "");
        assert_eq!(arn.account(), "123456789012");
        assert_eq!(arn.resource(), "role/team/app");
        assert_eq!(arn.resource_type(), "role");
        assert_eq!(arn.resource_name(), "app");
    }

    #[test]
    fn resource_may_contain_colons() {
        let arn: Arn = "arn:aws:logs:us-east-1:123456789012:log-group:/a/b:*"
            .parse()
            .unwrap();
        assert_eq!(arn.resource(), "log-group:/a/b:*");
        assert_eq!(arn.resource_type(), "log-group");
    }

    #[test]
    fn constructors_format_like_aws() {
        assert_eq!(
            Arn::iam_role(&acct(), "/", "app").to_string(),
            "arn:aws:iam::123456789012:role/app"
        );
        assert_eq!(
            Arn::iam_role(&acct(), "/team/", "app").to_string(),
            "arn:aws:iam::123456789012:role/team/app"
        );
        assert_eq!(
            Arn::account_root(&acct()).to_string(),
            "arn:aws:iam::123456789012:root"
        );
        assert_eq!(
            Arn::oidc_provider(&acct(), "oidc.example.com:8443/id/ABC").to_string(),
            "arn:aws:iam::123456789012:oidc-provider/oidc.example.com:8443/id/ABC"
        );
        assert_eq!(
            Arn::assumed_role(&acct(), "app", "s1").to_string(),
            "arn:aws:sts::123456789012:assumed-role/app/s1"
        );
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(
            "aws:iam::1:role/x".parse::<Arn>(),
            Err(ArnError::MissingPrefix)
        );
        assert_eq!("arn:aws:iam::1".parse::<Arn>(), Err(ArnError::TooFewParts));
        assert_eq!(
            "arn::iam::1:x".parse::<Arn>(),
            Err(ArnError::EmptyPartition)
        );
        assert_eq!("arn:aws:::1:x".parse::<Arn>(), Err(ArnError::EmptyService));
        assert_eq!(
            "arn:aws:iam::1:".parse::<Arn>(),
            Err(ArnError::EmptyResource)
        );
        assert_eq!(
            "arn:aws:iam::1:role/\n".parse::<Arn>(),
            Err(ArnError::ControlCharacter)
        );
    }

    proptest! {
        #[test]
        fn round_trips(
            partition in "[a-z-]{1,10}",
            service in "[a-z0-9-]{1,10}",
            region in "[a-z0-9-]{0,12}",
            account in "[0-9]{0,12}",
            resource in "[ -~]{1,40}",
        ) {
            let arn = Arn::new(partition, service, region, account, resource);
            let text = arn.to_string();
            let parsed: Arn = text.parse().unwrap();
            prop_assert_eq!(&parsed, &arn);
            prop_assert_eq!(parsed.to_string(), text);
        }

        #[test]
        fn never_panics(s in "\\PC{0,80}") {
            let _ = s.parse::<Arn>();
        }
    }
}
