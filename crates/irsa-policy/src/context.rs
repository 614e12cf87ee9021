//! The request being authorized: who, what, on which resource, with which
//! condition keys, when.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::OnceLock;

use irsa_core::Clock;
use time::OffsetDateTime;

use crate::condition::parse_date;
use crate::pattern::Vars;

/// What kind of principal makes the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// The account's root user (`arn:aws:iam::ACCT:root`).
    Root,
    User,
    /// A role session (`arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`).
    AssumedRole,
    /// `arn:aws:sts::ACCT:federated-user/NAME`.
    FederatedUser,
    /// A web-identity (OIDC) or SAML caller; `arn` is the provider ARN
    /// (or a well-known provider name such as `accounts.google.com`).
    Federated,
    /// An AWS service principal such as `ec2.amazonaws.com`.
    Service,
    Anonymous,
}

impl PrincipalKind {
    /// `aws:PrincipalType` as AWS reports it, when it has one.
    fn principal_type(self) -> Option<&'static str> {
        match self {
            Self::Root => Some("Account"),
            Self::User => Some("User"),
            Self::AssumedRole => Some("AssumedRole"),
            Self::FederatedUser => Some("FederatedUser"),
            Self::Anonymous => Some("Anonymous"),
            Self::Federated | Self::Service => None,
        }
    }

    /// Principals that belong to an account and carry identity policies.
    pub(crate) fn is_account_principal(self) -> bool {
        matches!(
            self,
            Self::Root | Self::User | Self::AssumedRole | Self::FederatedUser
        )
    }
}

/// The caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPrincipal {
    pub kind: PrincipalKind,
    /// The caller ARN (what GetCallerIdentity shows); for `Federated` the
    /// provider ARN, for `Service` the service name, empty for anonymous.
    pub arn: String,
    /// The caller's account (empty when it has none).
    pub account: String,
    /// For role sessions: the role's IAM ARN (`arn:aws:iam::A:role/PATH/NAME`),
    /// so a `Principal` naming the role matches its sessions.
    pub role_arn: Option<String>,
    /// For federated-user sessions (GetFederationToken): the IAM user that
    /// created the session (`arn:aws:iam::A:user/NAME`).
    pub federating_user_arn: Option<String>,
    /// The unique id (`AIDA…` for users, `AROA…:SESSION` for role sessions).
    pub user_id: Option<String>,
    /// For users: the user name (`aws:username`).
    pub user_name: Option<String>,
}

impl RequestPrincipal {
    pub fn new(kind: PrincipalKind, arn: impl Into<String>, account: impl Into<String>) -> Self {
        Self {
            kind,
            arn: arn.into(),
            account: account.into(),
            role_arn: None,
            federating_user_arn: None,
            user_id: None,
            user_name: None,
        }
    }

    pub fn root(account: &str) -> Self {
        Self::new(
            PrincipalKind::Root,
            format!("arn:aws:iam::{account}:root"),
            account,
        )
    }

    pub fn user(arn: &str, account: &str, user_name: &str, user_id: &str) -> Self {
        let mut p = Self::new(PrincipalKind::User, arn, account);
        p.user_name = Some(user_name.to_owned());
        p.user_id = Some(user_id.to_owned());
        p
    }

    /// A role session; `user_id` is `AROA…:SESSION`.
    pub fn assumed_role(session_arn: &str, role_arn: &str, account: &str, user_id: &str) -> Self {
        let mut p = Self::new(PrincipalKind::AssumedRole, session_arn, account);
        p.role_arn = Some(role_arn.to_owned());
        p.user_id = Some(user_id.to_owned());
        p
    }

    /// A federated-user session (GetFederationToken) of IAM user `user_arn`;
    /// `session_arn` is `arn:aws:sts::A:federated-user/NAME`.
    pub fn federated_user(session_arn: &str, user_arn: &str, account: &str, user_id: &str) -> Self {
        let mut p = Self::new(PrincipalKind::FederatedUser, session_arn, account);
        p.federating_user_arn = Some(user_arn.to_owned());
        p.user_id = Some(user_id.to_owned());
        p
    }

    /// A web-identity caller federating through `provider` (an
    /// `oidc-provider` ARN) that belongs to `account`.
    pub fn web_identity(provider: &str, account: &str) -> Self {
        Self::new(PrincipalKind::Federated, provider, account)
    }

    pub fn service(name: &str) -> Self {
        Self::new(PrincipalKind::Service, name, "")
    }

    pub fn anonymous() -> Self {
        Self::new(PrincipalKind::Anonymous, "", "")
    }
}

/// One context value, with its typed readings computed once, when a
/// condition first asks for them: most values are only ever compared as
/// strings, and a request's context is built on every call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CtxValue {
    pub text: String,
    number: OnceLock<Option<f64>>,
    date: OnceLock<Option<i128>>,
    ip: OnceLock<Option<IpAddr>>,
}

impl CtxValue {
    fn new(text: String) -> Self {
        Self {
            text,
            number: OnceLock::new(),
            date: OnceLock::new(),
            ip: OnceLock::new(),
        }
    }

    /// The value as a finite number, if it is one.
    pub(crate) fn number(&self) -> Option<f64> {
        *self.number.get_or_init(|| {
            self.text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
        })
    }

    /// The value as a date (Unix nanoseconds), if it is one.
    pub(crate) fn date(&self) -> Option<i128> {
        *self.date.get_or_init(|| parse_date(self.text.trim()))
    }

    /// The value as an IP address, if it is one.
    pub(crate) fn ip(&self) -> Option<IpAddr> {
        *self
            .ip
            .get_or_init(|| self.text.trim().parse::<IpAddr>().ok())
    }
}

/// The values of one condition key.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextValues {
    pub(crate) values: Vec<CtxValue>,
    multi: bool,
}

impl ContextValues {
    pub fn single(value: impl Into<String>) -> Self {
        Self {
            values: vec![CtxValue::new(value.into())],
            multi: false,
        }
    }

    pub fn multi<I, S>(values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            values: values
                .into_iter()
                .map(|v| CtxValue::new(v.into()))
                .collect(),
            multi: true,
        }
    }

    pub fn is_multi_valued(&self) -> bool {
        self.multi
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.values.iter().map(|v| v.text.as_str())
    }
}

impl From<&str> for ContextValues {
    fn from(v: &str) -> Self {
        Self::single(v)
    }
}
impl From<String> for ContextValues {
    fn from(v: String) -> Self {
        Self::single(v)
    }
}
impl From<bool> for ContextValues {
    fn from(v: bool) -> Self {
        Self::single(if v { "true" } else { "false" })
    }
}
impl From<Vec<String>> for ContextValues {
    fn from(v: Vec<String>) -> Self {
        Self::multi(v)
    }
}
impl From<Vec<&str>> for ContextValues {
    fn from(v: Vec<&str>) -> Self {
        Self::multi(v)
    }
}

/// Everything a policy can look at for one request.
#[derive(Debug, Clone)]
pub struct RequestContext {
    principal: RequestPrincipal,
    action: String,
    action_lc: String,
    resource: String,
    now: OffsetDateTime,
    /// Keys are lower-cased: condition key names are case-insensitive.
    /// A small vector beats hashing for the dozen keys a request carries;
    /// the `aws:` keys filled in here borrow their static names.
    keys: Vec<(Cow<'static, str>, ContextValues)>,
}

impl RequestContext {
    /// A context at time `now`. Fills `aws:CurrentTime`, `aws:EpochTime`,
    /// `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType`,
    /// `aws:username` and `aws:userid` from the arguments; `insert` overrides them.
    pub fn new(
        principal: RequestPrincipal,
        action: impl Into<String>,
        resource: impl Into<String>,
        now: OffsetDateTime,
    ) -> Self {
        // The keys filled in here: distinct static names, lower-case already.
        let mut keys: Vec<(Cow<'static, str>, ContextValues)> = Vec::with_capacity(16);
        let mut derive = |key: &'static str, value: String| {
            keys.push((Cow::Borrowed(key), ContextValues::single(value)));
        };
        let now_utc = now.to_offset(time::UtcOffset::UTC);
        let current = now_utc
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        derive("aws:currenttime", current);
        derive("aws:epochtime", now.unix_timestamp().to_string());
        let p = &principal;
        if p.kind.is_account_principal() {
            let principal_arn = p.role_arn.as_ref().unwrap_or(&p.arn);
            derive("aws:principalarn", principal_arn.clone());
            derive("aws:principalaccount", p.account.clone());
        }
        if let Some(t) = p.kind.principal_type() {
            derive("aws:principaltype", t.to_owned());
        }
        if let Some(name) = &p.user_name {
            derive("aws:username", name.clone());
        }
        if let Some(id) = &p.user_id {
            derive("aws:userid", id.clone());
        }
        let action = action.into();
        Self {
            action_lc: action.to_lowercase(),
            action,
            resource: resource.into(),
            now,
            keys,
            principal,
        }
    }

    /// A context at the clock's current time.
    pub fn at(
        principal: RequestPrincipal,
        action: impl Into<String>,
        resource: impl Into<String>,
        clock: &dyn Clock,
    ) -> Self {
        Self::new(principal, action, resource, clock.now_utc())
    }

    fn put(&mut self, key_lc: Cow<'static, str>, values: ContextValues) {
        match self.keys.iter_mut().find(|(k, _)| *k == key_lc) {
            Some(slot) => slot.1 = values,
            None => self.keys.push((key_lc, values)),
        }
    }

    /// Set a condition key (case-insensitive name), replacing any value.
    pub fn insert(&mut self, key: &str, values: impl Into<ContextValues>) {
        self.put(Cow::Owned(key.to_lowercase()), values.into());
    }

    /// Builder form of [`insert`](Self::insert).
    #[must_use]
    pub fn with(mut self, key: &str, values: impl Into<ContextValues>) -> Self {
        self.insert(key, values);
        self
    }

    /// Remove a key (also a derived one, e.g. to simulate its absence).
    pub fn remove(&mut self, key: &str) {
        let lc = key.to_lowercase();
        self.keys.retain(|(k, _)| **k != *lc);
    }

    /// The values of a key, looked up case-insensitively.
    pub fn get(&self, key: &str) -> Option<&ContextValues> {
        if key.bytes().any(|b| b.is_ascii_uppercase()) || !key.is_ascii() {
            self.get_lc(&key.to_lowercase())
        } else {
            self.get_lc(key)
        }
    }

    /// Lookup with an already lower-cased key (hot path, no allocation).
    pub(crate) fn get_lc(&self, key_lc: &str) -> Option<&ContextValues> {
        let want = key_lc.as_bytes();
        self.keys
            .iter()
            .find(|(k, _)| crate::pattern::bytes_eq(k.as_bytes(), want))
            .map(|(_, v)| v)
    }

    /// All condition keys present (lower-cased), in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = (&str, &ContextValues)> {
        self.keys.iter().map(|(k, v)| (&**k, v))
    }

    pub fn principal(&self) -> &RequestPrincipal {
        &self.principal
    }
    pub fn action(&self) -> &str {
        &self.action
    }
    pub(crate) fn action_lc(&self) -> &str {
        &self.action_lc
    }
    pub fn resource(&self) -> &str {
        &self.resource
    }
    pub fn now(&self) -> OffsetDateTime {
        self.now
    }
}

impl Vars for RequestContext {
    fn var(&self, key_lc: &str) -> Option<&str> {
        let values = self.get_lc(key_lc)?;
        match values.values.as_slice() {
            [one] => Some(one.text.as_str()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> RequestContext {
        RequestContext::new(
            RequestPrincipal::user(
                "arn:aws:iam::123456789012:user/Bob",
                "123456789012",
                "Bob",
                "AIDAEXAMPLE",
            ),
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
        )
    }

    #[test]
    fn keys_are_case_insensitive_values_are_not() {
        let c = ctx().with("S3:Prefix", "Home/");
        assert_eq!(c.get("s3:prefix").unwrap().iter().next(), Some("Home/"));
        assert_eq!(c.get("S3:PREFIX").unwrap().iter().next(), Some("Home/"));
    }

    #[test]
    fn derived_keys() {
        let c = ctx();
        assert_eq!(
            c.get("aws:CurrentTime").unwrap().iter().next(),
            Some("2023-11-14T22:13:20Z")
        );
        assert_eq!(
            c.get("aws:EpochTime").unwrap().iter().next(),
            Some("1700000000")
        );
        assert_eq!(c.get("aws:username").unwrap().iter().next(), Some("Bob"));
        assert_eq!(
            c.get("aws:PrincipalType").unwrap().iter().next(),
            Some("User")
        );
        assert_eq!(c.var("aws:userid"), Some("AIDAEXAMPLE"));
    }
}
