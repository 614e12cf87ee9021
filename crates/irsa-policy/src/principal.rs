//! `Principal` / `NotPrincipal` elements and matching them to the caller.

use crate::context::{PrincipalKind, RequestPrincipal};
use crate::error::PolicyError;
use crate::json::Json;

/// One value of the `AWS` principal type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsPrincipal {
    /// `"*"`
    Any,
    /// An account id or `arn:aws:iam::ACCT:root`: any principal of the account
    /// (whose own identity policies must then allow).
    Account(String),
    /// A user, role, assumed-role session or federated-user ARN.
    Arn(String),
    /// A unique id (`AIDA…`, `AROA…`), as IAM shows for deleted entities.
    UniqueId(String),
}

/// A parsed `Principal` element.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Principals {
    /// `"Principal": "*"`
    pub any: bool,
    pub aws: Vec<AwsPrincipal>,
    pub federated: Vec<String>,
    pub service: Vec<String>,
    pub canonical_user: Vec<String>,
}

/// How a `Principal` element names the caller. The evaluator needs it for
/// AWS's same-account rules: a grant made directly to the caller (its user
/// ARN or its session ARN) is not limited by an implicit deny in identity
/// policies, permissions boundaries or session policies; a grant to the
/// role behind a session (or to everyone) is limited by the boundary and the
/// session policies; a grant to the account only delegates to identity policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalMatch {
    /// The caller's account (`ACCT` or `arn:aws:iam::ACCT:root`).
    Account,
    /// `"*"` or `{"AWS":"*"}` (and a `NotPrincipal` that leaves the caller out).
    Wildcard,
    /// The role behind a role session (role ARN or role unique id).
    Role,
    /// The IAM user that created a federated-user session (GetFederationToken).
    FederatingUser,
    /// A `Federated` identity provider (web identity, SAML).
    IdentityProvider,
    /// A `Service` principal.
    Service,
    /// The IAM user's own ARN or unique id.
    User,
    /// The exact role-session (`assumed-role/ROLE/SESSION`) or
    /// federated-user session ARN.
    Session,
}

/// What a resource-policy Allow grants, by how it names the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Grant {
    /// Needs the caller's identity policies too (the account principal).
    ViaAccount,
    /// Limited by an implicit deny in the permissions boundary and session policies.
    Limited,
    /// Not limited by an implicit deny anywhere (same account).
    Direct,
}

impl PrincipalMatch {
    /// True when the statement names the caller itself (its user ARN, or the
    /// session ARN of a role or federated-user session).
    pub fn names_caller_directly(self) -> bool {
        matches!(self, Self::User | Self::Session)
    }

    /// True when the match only delegates to the caller's account.
    pub fn is_account(self) -> bool {
        self == Self::Account
    }

    pub(crate) fn grant(self) -> Grant {
        match self {
            Self::Account => Grant::ViaAccount,
            Self::User | Self::Session => Grant::Direct,
            Self::Wildcard
            | Self::Role
            | Self::FederatingUser
            | Self::IdentityProvider
            | Self::Service => Grant::Limited,
        }
    }
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn invalid(kind: &str, value: &str) -> PolicyError {
    PolicyError::InvalidPrincipal(format!("\"{kind}\":\"{value}\""))
}

fn parse_aws(value: &str) -> Result<AwsPrincipal, PolicyError> {
    if value == "*" {
        return Ok(AwsPrincipal::Any);
    }
    if is_account_id(value) {
        return Ok(AwsPrincipal::Account(value.to_owned()));
    }
    if let Some(rest) = value.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        if let [partition, service, region, account, resource] = parts.as_slice() {
            let ok_base = !partition.is_empty()
                && region.is_empty()
                && is_account_id(account)
                && !value.contains(['*', '?']);
            if ok_base {
                match *service {
                    "iam" if *resource == "root" => {
                        return Ok(AwsPrincipal::Account((*account).to_owned()));
                    }
                    "iam" if resource.starts_with("user/") || resource.starts_with("role/") => {
                        return Ok(AwsPrincipal::Arn(value.to_owned()));
                    }
                    "sts"
                        if resource.starts_with("assumed-role/")
                            || resource.starts_with("federated-user/") =>
                    {
                        return Ok(AwsPrincipal::Arn(value.to_owned()));
                    }
                    _ => {}
                }
            }
        }
        return Err(invalid("AWS", value));
    }
    let is_unique_id = value.len() >= 16
        && ["AIDA", "AROA", "AIPA", "ANPA"]
            .iter()
            .any(|p| value.starts_with(p))
        && value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if is_unique_id {
        return Ok(AwsPrincipal::UniqueId(value.to_owned()));
    }
    Err(invalid("AWS", value))
}

fn strings(kind: &str, v: &Json) -> Result<Vec<String>, PolicyError> {
    let bad = || {
        PolicyError::syntax(format!(
            "principal {kind} must be a string or list of strings"
        ))
    };
    match v {
        Json::String(s) => Ok(vec![s.clone()]),
        Json::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| match i {
                Json::String(s) => Ok(s.clone()),
                _ => Err(bad()),
            })
            .collect(),
        _ => Err(bad()),
    }
}

impl Principals {
    pub(crate) fn parse(json: &Json) -> Result<Self, PolicyError> {
        match json {
            Json::String(s) if s == "*" => Ok(Self {
                any: true,
                ..Self::default()
            }),
            Json::String(s) => Err(PolicyError::InvalidPrincipal(format!("\"{s}\""))),
            Json::Object(entries) if !entries.is_empty() => {
                let mut p = Self::default();
                for (kind, value) in entries {
                    let values = strings(kind, value)?;
                    match kind.as_str() {
                        "AWS" => {
                            for v in &values {
                                p.aws.push(parse_aws(v)?);
                            }
                        }
                        "Federated" => {
                            for v in &values {
                                let ok = if v.starts_with("arn:") {
                                    v.split(':').nth(5).is_some_and(|r| {
                                        r.starts_with("oidc-provider/")
                                            || r.starts_with("saml-provider/")
                                    })
                                } else {
                                    !v.is_empty() && v.contains('.') && !v.contains(['*', ' '])
                                };
                                if !ok {
                                    return Err(invalid("Federated", v));
                                }
                            }
                            p.federated.extend(values);
                        }
                        "Service" => {
                            for v in &values {
                                if v.is_empty() || !v.contains('.') || v.contains([' ', '*']) {
                                    return Err(invalid("Service", v));
                                }
                            }
                            p.service.extend(values);
                        }
                        "CanonicalUser" => p.canonical_user.extend(values),
                        other => {
                            return Err(PolicyError::InvalidPrincipal(format!(
                                "\"{other}\":{}",
                                values.first().map_or(String::new(), |v| format!("\"{v}\""))
                            )));
                        }
                    }
                }
                Ok(p)
            }
            _ => Err(PolicyError::syntax("Principal must be \"*\" or an object")),
        }
    }

    /// The strongest way this element names the caller, if it does: a
    /// direct name (user or session ARN) beats the role, a wildcard, a
    /// provider or a service, which beat the account.
    pub fn match_caller(&self, caller: &RequestPrincipal) -> Option<PrincipalMatch> {
        let mut best: Option<PrincipalMatch> = None;
        let mut note = |m: PrincipalMatch| {
            if best.is_none_or(|b| m.grant() > b.grant()) {
                best = Some(m);
            }
        };
        if self.any {
            note(PrincipalMatch::Wildcard);
        }
        let account_principal = caller.kind.is_account_principal();
        for aws in &self.aws {
            match aws {
                AwsPrincipal::Any => note(PrincipalMatch::Wildcard),
                AwsPrincipal::Account(a) => {
                    if account_principal && caller.account == *a {
                        note(PrincipalMatch::Account);
                    }
                }
                AwsPrincipal::Arn(arn) => {
                    if account_principal && caller.arn == *arn {
                        note(match caller.kind {
                            PrincipalKind::User => PrincipalMatch::User,
                            // The root's own ARN parses as the account principal;
                            // any other equal ARN is a session.
                            _ => PrincipalMatch::Session,
                        });
                    } else if caller.role_arn.as_deref() == Some(arn.as_str()) {
                        note(PrincipalMatch::Role);
                    } else if caller.federating_user_arn.as_deref() == Some(arn.as_str()) {
                        note(PrincipalMatch::FederatingUser);
                    }
                }
                AwsPrincipal::UniqueId(id) => {
                    if let Some(m) = unique_id_match(caller, id) {
                        note(m);
                    }
                }
            }
        }
        match caller.kind {
            PrincipalKind::Federated if self.federated.contains(&caller.arn) => {
                note(PrincipalMatch::IdentityProvider);
            }
            PrincipalKind::Service
                if self
                    .service
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(&caller.arn)) =>
            {
                note(PrincipalMatch::Service);
            }
            _ => {}
        }
        best
    }

    /// Whether a `NotPrincipal` with these values leaves the caller out.
    ///
    /// Only the caller's own identity counts: the user (ARN or unique id),
    /// the exact session ARN of a role or federated-user session, the root
    /// user (account id or `:root` ARN), the provider or the service. Listing
    /// an account root or a role ARN leaves out that root or nothing else,
    /// never every principal of the account or every session of the role
    /// (IAM: "When you specify an assumed-role session in a NotPrincipal
    /// element, you cannot use a wildcard (*) to mean all sessions.
    /// Principals must always name a specific session.").
    pub fn excludes_caller(&self, caller: &RequestPrincipal) -> bool {
        if self.any || self.aws.contains(&AwsPrincipal::Any) {
            return true;
        }
        match caller.kind {
            PrincipalKind::Root => self
                .aws
                .iter()
                .any(|p| matches!(p, AwsPrincipal::Account(a) if *a == caller.account)),
            PrincipalKind::User | PrincipalKind::AssumedRole | PrincipalKind::FederatedUser => {
                self.aws.iter().any(|p| match p {
                    AwsPrincipal::Arn(arn) => *arn == caller.arn,
                    AwsPrincipal::UniqueId(id) => {
                        caller.kind == PrincipalKind::User
                            && unique_id_match(caller, id) == Some(PrincipalMatch::User)
                    }
                    AwsPrincipal::Any | AwsPrincipal::Account(_) => false,
                })
            }
            PrincipalKind::Federated => self.federated.contains(&caller.arn),
            PrincipalKind::Service => self
                .service
                .iter()
                .any(|s| s.eq_ignore_ascii_case(&caller.arn)),
            PrincipalKind::Anonymous => false,
        }
    }
}

/// A unique id names a user (`AIDA…`) or the role behind a session (`AROA…`).
fn unique_id_match(caller: &RequestPrincipal, id: &str) -> Option<PrincipalMatch> {
    let own = caller.user_id.as_deref()?;
    let own = own.split(':').next().unwrap_or(own);
    if own != id {
        return None;
    }
    match caller.kind {
        PrincipalKind::User => Some(PrincipalMatch::User),
        PrincipalKind::AssumedRole => Some(PrincipalMatch::Role),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse_str;

    fn parse(s: &str) -> Result<Principals, PolicyError> {
        Principals::parse(&parse_str(s).unwrap())
    }

    #[test]
    fn parses_and_validates() {
        assert!(parse(r#""*""#).unwrap().any);
        let p = parse(r#"{"AWS":["123456789012","arn:aws:iam::123456789012:root","arn:aws:iam::123456789012:role/a/b"]}"#).unwrap();
        assert_eq!(p.aws[0], AwsPrincipal::Account("123456789012".into()));
        assert_eq!(p.aws[1], AwsPrincipal::Account("123456789012".into()));
        assert!(matches!(p.aws[2], AwsPrincipal::Arn(_)));
        assert_eq!(
            parse(r#"{"AWS":"bob"}"#).unwrap_err().to_string(),
            "Invalid principal in policy: \"AWS\":\"bob\""
        );
        assert!(parse(r#"{"AWS":"arn:aws:iam::123456789012:user/*"}"#).is_err());
        assert!(
            parse(r#"{"Federated":"arn:aws:iam::123456789012:oidc-provider/example.com"}"#).is_ok()
        );
        assert!(parse(r#"{"Federated":"arn:aws:iam::123456789012:user/x"}"#).is_err());
        assert!(parse(r#"{"Service":"ec2.amazonaws.com"}"#).is_ok());
        assert!(parse(r#"{"Bogus":"x"}"#).is_err());
        assert!(parse("{}").is_err());
        assert!(parse(r#"{"AWS":[]}"#).is_err());
        assert!(parse(r#"{"AWS":5}"#).is_err());
    }

    #[test]
    fn matching() {
        let acct = "123456789012";
        let role = "arn:aws:iam::123456789012:role/path/app";
        let session = RequestPrincipal::assumed_role(
            "arn:aws:sts::123456789012:assumed-role/app/s1",
            role,
            acct,
            "AROAEXAMPLEEXAMPLE:s1",
        );
        let by_role = parse(&format!(r#"{{"AWS":"{role}"}}"#)).unwrap();
        assert_eq!(by_role.match_caller(&session), Some(PrincipalMatch::Role));
        let by_session =
            parse(r#"{"AWS":"arn:aws:sts::123456789012:assumed-role/app/s1"}"#).unwrap();
        assert_eq!(
            by_session.match_caller(&session),
            Some(PrincipalMatch::Session)
        );
        let by_account = parse(r#"{"AWS":"123456789012"}"#).unwrap();
        assert_eq!(
            by_account.match_caller(&session),
            Some(PrincipalMatch::Account)
        );
        let other = parse(r#"{"AWS":"210987654321"}"#).unwrap();
        assert_eq!(other.match_caller(&session), None);
        let by_id = parse(r#"{"AWS":"AROAEXAMPLEEXAMPLE"}"#).unwrap();
        assert_eq!(by_id.match_caller(&session), Some(PrincipalMatch::Role));
        let user = RequestPrincipal::user(
            "arn:aws:iam::123456789012:user/u",
            acct,
            "u",
            "AIDAUSERUSERUSERUSER",
        );
        let by_user_id = parse(r#"{"AWS":"AIDAUSERUSERUSERUSER"}"#).unwrap();
        assert_eq!(by_user_id.match_caller(&user), Some(PrincipalMatch::User));
        assert_eq!(by_id.match_caller(&user), None);

        let provider = "arn:aws:iam::123456789012:oidc-provider/example.com";
        let web = RequestPrincipal::web_identity(provider, acct);
        let fed = parse(&format!(r#"{{"Federated":"{provider}"}}"#)).unwrap();
        assert_eq!(
            fed.match_caller(&web),
            Some(PrincipalMatch::IdentityProvider)
        );
        // The account principal never covers a web-identity caller.
        assert_eq!(by_account.match_caller(&web), None);
        assert_eq!(fed.match_caller(&session), None);

        // The strongest name wins: session ARN over role ARN over account.
        let all = parse(&format!(
            r#"{{"AWS":["{acct}","{role}","arn:aws:sts::123456789012:assumed-role/app/s1"]}}"#
        ))
        .unwrap();
        assert_eq!(all.match_caller(&session), Some(PrincipalMatch::Session));
        let wild = parse(r#"{"AWS":"*"}"#).unwrap();
        assert_eq!(wild.match_caller(&session), Some(PrincipalMatch::Wildcard));
        assert_eq!(
            wild.match_caller(&RequestPrincipal::anonymous()),
            Some(PrincipalMatch::Wildcard)
        );
    }

    #[test]
    fn not_principal_excludes_only_the_named_identity() {
        let acct = "123456789012";
        let bob = RequestPrincipal::user(
            "arn:aws:iam::123456789012:user/Bob",
            acct,
            "Bob",
            "AIDABOBBOBBOBBOBBOB",
        );
        let alice = RequestPrincipal::user(
            "arn:aws:iam::123456789012:user/Alice",
            acct,
            "Alice",
            "AIDAALICEALICEALICE",
        );
        let root = RequestPrincipal::root(acct);
        let listed = parse(
            r#"{"AWS":["arn:aws:iam::123456789012:user/Bob","arn:aws:iam::123456789012:root"]}"#,
        )
        .unwrap();
        assert!(listed.excludes_caller(&bob));
        assert!(listed.excludes_caller(&root));
        assert!(!listed.excludes_caller(&alice));
        let by_id = parse(r#"{"AWS":"AIDABOBBOBBOBBOBBOB"}"#).unwrap();
        assert!(by_id.excludes_caller(&bob));

        let session = RequestPrincipal::assumed_role(
            "arn:aws:sts::123456789012:assumed-role/app/s1",
            "arn:aws:iam::123456789012:role/app",
            acct,
            "AROAEXAMPLEEXAMPLE:s1",
        );
        let role_and_root = parse(
            r#"{"AWS":["arn:aws:iam::123456789012:role/app","arn:aws:iam::123456789012:root"]}"#,
        )
        .unwrap();
        assert!(!role_and_root.excludes_caller(&session));
        let with_session = parse(
            r#"{"AWS":["arn:aws:sts::123456789012:assumed-role/app/s1","arn:aws:iam::123456789012:role/app","arn:aws:iam::123456789012:root"]}"#,
        )
        .unwrap();
        assert!(with_session.excludes_caller(&session));
        assert!(!with_session.excludes_caller(&RequestPrincipal::anonymous()));
        assert!(parse(r#""*""#)
            .unwrap()
            .excludes_caller(&RequestPrincipal::anonymous()));
    }
}
