//! Policy documents: parsing and validation into precompiled statements.

use crate::condition::{parse_condition, ConditionBlock};
use crate::error::PolicyError;
use crate::json::{self, Json};
use crate::limits::{minified_len, SizeLimit};
use crate::pattern::{ArnPattern, Syntax, Template};
use crate::principal::Principals;

/// Where a document is used; decides which elements are required or forbidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// Attached to a user, group or role (managed or inline).
    Identity,
    /// A role's trust policy: a resource policy with `Principal` and STS actions only.
    Trust,
    /// Another resource-based policy (requires `Principal`).
    Resource,
    PermissionsBoundary,
    /// A session policy passed to AssumeRole*.
    Session,
}

impl PolicyKind {
    /// The size limit applied by [`Policy::parse`]; identity policies use the
    /// managed-policy quota (pass another [`SizeLimit`] to [`Policy::parse_with_limit`]
    /// for inline policies).
    pub fn default_size_limit(self) -> SizeLimit {
        match self {
            Self::Identity | Self::PermissionsBoundary => SizeLimit::ManagedPolicy,
            Self::Trust => SizeLimit::RoleTrustPolicy,
            Self::Session => SizeLimit::SessionPolicy,
            Self::Resource => SizeLimit::Custom(20_480),
        }
    }

    fn has_principal(self) -> bool {
        matches!(self, Self::Trust | Self::Resource)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// `2012-10-17`: policy variables are expanded.
    V2012_10_17,
    /// `2008-10-17` or no `Version`: `${…}` is literal text.
    V2008_10_17,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ActionMatcher {
    pub negated: bool,
    pub patterns: Vec<Template>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourceMatcher {
    pub negated: bool,
    pub patterns: Vec<ArnPattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PrincipalMatcher {
    pub negated: bool,
    pub principals: Principals,
}

/// One statement, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    /// Action (or NotAction) values as written.
    pub actions: Vec<String>,
    /// Resource (or NotResource) values as written.
    pub resources: Vec<String>,
    pub conditions: Vec<ConditionBlock>,
    pub(crate) action: ActionMatcher,
    pub(crate) resource: Option<ResourceMatcher>,
    pub(crate) principal: Option<PrincipalMatcher>,
}

impl Statement {
    pub fn not_action(&self) -> bool {
        self.action.negated
    }
    pub fn not_resource(&self) -> bool {
        self.resource.as_ref().is_some_and(|r| r.negated)
    }
    pub fn principals(&self) -> Option<&Principals> {
        self.principal.as_ref().map(|p| &p.principals)
    }
    pub fn not_principal(&self) -> bool {
        self.principal.as_ref().is_some_and(|p| p.negated)
    }
}

/// A validated, precompiled policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub kind: PolicyKind,
    pub version: Version,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
}

fn string_list(v: &Json, what: &str) -> Result<Vec<String>, PolicyError> {
    match v {
        Json::String(s) => Ok(vec![s.clone()]),
        Json::Array(items) => items
            .iter()
            .map(|i| match i {
                Json::String(s) => Ok(s.clone()),
                other => Err(PolicyError::syntax(format!(
                    "{what} values must be strings, not {}",
                    other.type_name()
                ))),
            })
            .collect(),
        other => Err(PolicyError::syntax(format!(
            "{what} must be a string or a list of strings, not {}",
            other.type_name()
        ))),
    }
}

fn validate_action(a: &str) -> Result<(), PolicyError> {
    if a == "*" {
        return Ok(());
    }
    let Some((vendor, name)) = a.split_once(':') else {
        return Err(PolicyError::MissingVendor);
    };
    if vendor.is_empty()
        || name.is_empty()
        || !vendor
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'*' || b == b'?')
        || name.contains(':')
    {
        return Err(PolicyError::syntax(format!("invalid action {a:?}")));
    }
    Ok(())
}

fn validate_resource(r: &str) -> Result<(), PolicyError> {
    if r == "*" {
        return Ok(());
    }
    if !r.starts_with("arn:") || r.matches(':').count() < 5 {
        return Err(PolicyError::InvalidResource(r.to_owned()));
    }
    let service = r.split(':').nth(2).unwrap_or_default();
    if service.is_empty() {
        return Err(PolicyError::InvalidResource(r.to_owned()));
    }
    if service.contains(['*', '?']) {
        return Err(PolicyError::ResourceVendorWildcard);
    }
    Ok(())
}

fn is_sts_action(a: &str) -> bool {
    a == "*"
        || a.split_once(':')
            .is_some_and(|(v, _)| v.eq_ignore_ascii_case("sts"))
}

fn parse_statement(
    json: &Json,
    kind: PolicyKind,
    version: Version,
) -> Result<Statement, PolicyError> {
    let Json::Object(fields) = json else {
        return Err(PolicyError::syntax("each Statement must be an object"));
    };
    let variables = version == Version::V2012_10_17;
    let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    for (k, _) in fields {
        if !matches!(
            k.as_str(),
            "Sid"
                | "Effect"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Principal"
                | "NotPrincipal"
                | "Condition"
        ) {
            return Err(PolicyError::syntax(format!("unknown field {k}")));
        }
    }

    let sid = match get("Sid") {
        None => None,
        Some(Json::String(s)) => {
            if !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(PolicyError::InvalidSid);
            }
            Some(s.clone())
        }
        Some(_) => return Err(PolicyError::syntax("Sid must be a string")),
    };

    let effect = match get("Effect") {
        Some(Json::String(s)) if s == "Allow" => Effect::Allow,
        Some(Json::String(s)) if s == "Deny" => Effect::Deny,
        Some(other) => {
            return Err(PolicyError::syntax(format!(
                "invalid Effect {}",
                match other {
                    Json::String(s) => format!("{s:?}"),
                    o => o.type_name().to_owned(),
                }
            )))
        }
        None => return Err(PolicyError::syntax("missing Effect")),
    };

    // Principal
    let principal = match (get("Principal"), get("NotPrincipal")) {
        (Some(_), Some(_)) => {
            return Err(PolicyError::syntax("Principal and NotPrincipal together"))
        }
        (Some(p), None) | (None, Some(p)) => {
            if !kind.has_principal() {
                return Err(PolicyError::PrincipalNotAllowed);
            }
            Some(PrincipalMatcher {
                negated: get("NotPrincipal").is_some(),
                principals: Principals::parse(p)?,
            })
        }
        (None, None) => {
            if kind.has_principal() {
                return Err(PolicyError::MissingPrincipal);
            }
            None
        }
    };

    if kind == PolicyKind::Trust {
        for field in ["Resource", "NotResource"] {
            if get(field).is_some() {
                return Err(PolicyError::ProhibitedField(field));
            }
        }
    }

    // Action
    let (actions, negated_action) = match (get("Action"), get("NotAction")) {
        (Some(_), Some(_)) => return Err(PolicyError::syntax("Action and NotAction together")),
        (Some(a), None) => (string_list(a, "Action")?, false),
        (None, Some(a)) => (string_list(a, "NotAction")?, true),
        (None, None) => return Err(PolicyError::MissingActions),
    };
    if actions.is_empty() {
        return Err(PolicyError::MissingActions);
    }
    for a in &actions {
        validate_action(a)?;
        if kind == PolicyKind::Trust && !negated_action && !is_sts_action(a) {
            return Err(PolicyError::TrustActionNotSts);
        }
    }
    let action_syntax = Syntax {
        wildcards: true,
        variables: false,
        lowercase: true,
    };
    let action = ActionMatcher {
        negated: negated_action,
        patterns: actions
            .iter()
            .map(|a| Template::compile(a, action_syntax))
            .collect(),
    };

    // Resource
    let (resources, resource) = match (get("Resource"), get("NotResource")) {
        (Some(_), Some(_)) => return Err(PolicyError::syntax("Resource and NotResource together")),
        (Some(r), None) | (None, Some(r)) => {
            let list = string_list(r, "Resource")?;
            if list.is_empty() {
                return Err(PolicyError::MissingResources);
            }
            for v in &list {
                validate_resource(v)?;
            }
            let matcher = ResourceMatcher {
                negated: get("NotResource").is_some(),
                patterns: list
                    .iter()
                    .map(|v| ArnPattern::compile(v, variables))
                    .collect(),
            };
            (list, Some(matcher))
        }
        (None, None) => {
            // Only a role trust policy may (must) leave resources out.
            if kind != PolicyKind::Trust {
                return Err(PolicyError::MissingResources);
            }
            (Vec::new(), None)
        }
    };

    let conditions = match get("Condition") {
        None => Vec::new(),
        Some(c) => parse_condition(c, variables)?,
    };

    Ok(Statement {
        sid,
        effect,
        actions,
        resources,
        conditions,
        action,
        resource,
        principal,
    })
}

impl Policy {
    /// Parse and validate with the kind's default size limit.
    pub fn parse(json: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        Self::parse_with_limit(json, kind, kind.default_size_limit())
    }

    /// Parse raw bytes (invalid UTF-8 is a validation error).
    pub fn parse_bytes(raw: &[u8], kind: PolicyKind) -> Result<Policy, PolicyError> {
        if raw.len() > crate::limits::MAX_RAW_BYTES {
            return Err(PolicyError::TooLarge {
                limit: SizeLimit::Unlimited,
                actual: raw.len(),
            });
        }
        let text = std::str::from_utf8(raw).map_err(|e| PolicyError::InvalidJson {
            detail: format!("invalid UTF-8 at byte {}", e.valid_up_to()),
        })?;
        Self::parse(text, kind)
    }

    /// Parse and validate against an explicit size limit.
    pub fn parse_with_limit(
        json: &str,
        kind: PolicyKind,
        limit: SizeLimit,
    ) -> Result<Policy, PolicyError> {
        if json.len() > crate::limits::MAX_RAW_BYTES {
            return Err(PolicyError::TooLarge {
                limit: SizeLimit::Unlimited,
                actual: json.len(),
            });
        }
        if let Some(max) = limit.bytes() {
            let actual = minified_len(json);
            if actual > max {
                return Err(PolicyError::TooLarge { limit, actual });
            }
        }
        let tree = json::parse_str(json)?;
        Self::from_json(&tree, kind)
    }

    fn from_json(tree: &Json, kind: PolicyKind) -> Result<Policy, PolicyError> {
        let Json::Object(fields) = tree else {
            return Err(PolicyError::syntax("policy must be a JSON object"));
        };
        for (k, _) in fields {
            if !matches!(k.as_str(), "Version" | "Id" | "Statement") {
                return Err(PolicyError::syntax(format!("unknown field {k}")));
            }
        }
        let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        let version = match get("Version") {
            None => Version::V2008_10_17,
            Some(Json::String(v)) if v == "2012-10-17" => Version::V2012_10_17,
            Some(Json::String(v)) if v == "2008-10-17" => Version::V2008_10_17,
            Some(Json::String(_)) => return Err(PolicyError::InvalidVersion),
            Some(_) => return Err(PolicyError::syntax("Version must be a string")),
        };
        let id = match get("Id") {
            None => None,
            Some(Json::String(s)) => Some(s.clone()),
            Some(_) => return Err(PolicyError::syntax("Id must be a string")),
        };
        let statements = match get("Statement") {
            None => return Err(PolicyError::syntax("missing Statement")),
            Some(s @ Json::Object(_)) => vec![parse_statement(s, kind, version)?],
            Some(Json::Array(items)) => {
                if items.is_empty() {
                    return Err(PolicyError::syntax("empty Statement"));
                }
                items
                    .iter()
                    .map(|s| parse_statement(s, kind, version))
                    .collect::<Result<Vec<_>, _>>()?
            }
            Some(_) => return Err(PolicyError::syntax("Statement must be an object or a list")),
        };
        let mut sids: Vec<&str> = statements.iter().filter_map(|s| s.sid.as_deref()).collect();
        sids.sort_unstable();
        if sids.windows(2).any(|w| w[0] == w[1] && !w[0].is_empty()) {
            return Err(PolicyError::DuplicateSid);
        }
        Ok(Policy {
            kind,
            version,
            id,
            statements,
        })
    }
}

impl std::str::FromStr for Policy {
    type Err = PolicyError;

    /// An identity policy (use [`Policy::parse`] to choose the kind).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s, PolicyKind::Identity)
    }
}
