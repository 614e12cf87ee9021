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

/// How a principal element matched the caller; the evaluator needs it for
/// the same-account rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PrincipalMatch {
    /// Via the account principal: only delegates to the caller's identity policies.
    Account,
    /// Via `*`, a role ARN (its sessions), a service or a federated provider.
    Indirect,
    /// The caller's own ARN or unique id (user, or the session ARN itself).
    Direct,
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

    /// The strongest way this element names the caller, if it does.
    pub(crate) fn match_caller(&self, caller: &RequestPrincipal) -> Option<PrincipalMatch> {
        if self.any {
            return Some(PrincipalMatch::Indirect);
        }
        let mut best: Option<PrincipalMatch> = None;
        let mut note = |m: PrincipalMatch| {
            if best.is_none_or(|b| m > b) {
                best = Some(m);
            }
        };
        for aws in &self.aws {
            match aws {
                AwsPrincipal::Any => note(PrincipalMatch::Indirect),
                AwsPrincipal::Account(a) => {
                    if caller.kind.is_account_principal() && caller.account == *a {
                        note(PrincipalMatch::Account);
                    }
                }
                AwsPrincipal::Arn(arn) => {
                    if caller.kind.is_account_principal() && caller.arn == *arn {
                        note(PrincipalMatch::Direct);
                    } else if caller.role_arn.as_deref() == Some(arn.as_str()) {
                        note(PrincipalMatch::Indirect);
                    }
                }
                AwsPrincipal::UniqueId(id) => {
                    let own = caller
                        .user_id
                        .as_deref()
                        .map(|u| u.split(':').next().unwrap_or(u));
                    if own == Some(id.as_str()) {
                        // A role's id names the role, so its sessions match indirectly.
                        note(if caller.kind == PrincipalKind::AssumedRole {
                            PrincipalMatch::Indirect
                        } else {
                            PrincipalMatch::Direct
                        });
                    }
                }
            }
        }
        match caller.kind {
            PrincipalKind::Federated if self.federated.contains(&caller.arn) => {
                note(PrincipalMatch::Indirect);
            }
            PrincipalKind::Service
                if self
                    .service
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(&caller.arn)) =>
            {
                note(PrincipalMatch::Indirect);
            }
            _ => {}
        }
        best
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
        assert_eq!(
            by_role.match_caller(&session),
            Some(PrincipalMatch::Indirect)
        );
        let by_session =
            parse(r#"{"AWS":"arn:aws:sts::123456789012:assumed-role/app/s1"}"#).unwrap();
        assert_eq!(
            by_session.match_caller(&session),
            Some(PrincipalMatch::Direct)
        );
        let by_account = parse(r#"{"AWS":"123456789012"}"#).unwrap();
        assert_eq!(
            by_account.match_caller(&session),
            Some(PrincipalMatch::Account)
        );
        let other = parse(r#"{"AWS":"210987654321"}"#).unwrap();
        assert_eq!(other.match_caller(&session), None);
        let by_id = parse(r#"{"AWS":"AROAEXAMPLEEXAMPLE"}"#).unwrap();
        assert_eq!(by_id.match_caller(&session), Some(PrincipalMatch::Indirect));
        let user = RequestPrincipal::user(
            "arn:aws:iam::123456789012:user/u",
            acct,
            "u",
            "AIDAUSERUSERUSERUSER",
        );
        let by_user_id = parse(r#"{"AWS":"AIDAUSERUSERUSERUSER"}"#).unwrap();
        assert_eq!(by_user_id.match_caller(&user), Some(PrincipalMatch::Direct));
        assert_eq!(by_id.match_caller(&user), None);

        let provider = "arn:aws:iam::123456789012:oidc-provider/example.com";
        let web = RequestPrincipal::web_identity(provider, acct);
        let fed = parse(&format!(r#"{{"Federated":"{provider}"}}"#)).unwrap();
        assert_eq!(fed.match_caller(&web), Some(PrincipalMatch::Indirect));
        // The account principal never covers a web-identity caller.
        assert_eq!(by_account.match_caller(&web), None);
        assert_eq!(fed.match_caller(&session), None);
    }
}
