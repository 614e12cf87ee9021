//! Evaluation: explicit deny wins; otherwise an Allow is needed from an
//! identity or resource (trust) policy, within every present limit
//! (permissions boundary, session policies); otherwise implicit deny.

use std::fmt;

use crate::condition::{entry_holds, Values};
use crate::context::{PrincipalKind, RequestContext};
use crate::policy::{Effect, Policy, PolicyKind, Statement};
use crate::principal::{Grant, PrincipalMatch};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }

    /// The `EvalDecision` string of IAM Simulate*.
    pub fn as_simulate_str(self) -> &'static str {
        match self {
            Decision::Allow => "allowed",
            Decision::ExplicitDeny => "explicitDeny",
            Decision::ImplicitDeny => "implicitDeny",
        }
    }
}

/// A policy with the id reported in traces (a policy ARN, `role/inline-name`,
/// `PolicyInputList.1`, …).
#[derive(Debug, Clone, Copy)]
pub struct PolicySource<'a> {
    pub id: &'a str,
    pub policy: &'a Policy,
}

impl<'a> PolicySource<'a> {
    pub fn new(id: &'a str, policy: &'a Policy) -> Self {
        Self { id, policy }
    }
}

/// The role a policy plays in one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyRole {
    Identity,
    /// The resource-based policy; for AssumeRole* the role's trust policy.
    Resource,
    PermissionsBoundary,
    Session,
}

/// Everything that applies to one request.
#[derive(Debug, Clone, Copy)]
pub struct PolicySet<'a> {
    /// The caller's identity policies (inline and attached).
    pub identity: &'a [PolicySource<'a>],
    /// The resource-based policy (the trust policy for AssumeRole*).
    pub resource: Option<PolicySource<'a>>,
    /// Whether the caller and the resource are in the same account.
    pub same_account: bool,
    pub permissions_boundary: Option<PolicySource<'a>>,
    /// Session policies; empty when the session has none. Their union limits the session.
    pub session: &'a [PolicySource<'a>],
}

impl Default for PolicySet<'_> {
    fn default() -> Self {
        Self {
            identity: &[],
            resource: None,
            same_account: true,
            permissions_boundary: None,
            session: &[],
        }
    }
}

impl<'a> PolicySet<'a> {
    /// Identity policies only, same account (IAM/STS API calls).
    pub fn identity(identity: &'a [PolicySource<'a>]) -> Self {
        Self {
            identity,
            ..Self::default()
        }
    }

    /// A trust-policy check (AssumeRole*), optionally with the caller's identity policies.
    pub fn trust(trust: PolicySource<'a>, same_account: bool) -> Self {
        Self {
            resource: Some(trust),
            same_account,
            ..Self::default()
        }
    }

    fn sources(&self) -> impl Iterator<Item = (PolicyRole, PolicySource<'a>)> + '_ {
        self.identity
            .iter()
            .map(|p| (PolicyRole::Identity, *p))
            .chain(self.resource.map(|p| (PolicyRole::Resource, p)))
            .chain(
                self.permissions_boundary
                    .map(|p| (PolicyRole::PermissionsBoundary, p)),
            )
            .chain(self.session.iter().map(|p| (PolicyRole::Session, *p)))
    }
}

/// Why a statement did not apply (cheap; details are rendered for traces).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Miss {
    Principal,
    Action,
    Resource,
    Condition { block: usize, entry: usize },
}

/// `Ok(principal match)` when the statement applies (`None`: no principal checked).
fn match_statement(
    st: &Statement,
    ctx: &RequestContext,
    role: PolicyRole,
    has_boundary: bool,
) -> Result<Option<PrincipalMatch>, Miss> {
    let action_lc = ctx.action_lc();
    let action_hit = st
        .action
        .patterns
        .iter()
        .any(|p| p.matches(action_lc, false, ctx));
    if action_hit == st.action.negated {
        return Err(Miss::Action);
    }
    let principal = if role == PolicyRole::Resource {
        // A resource policy statement without a principal never applies.
        let pm = st.principal.as_ref().ok_or(Miss::Principal)?;
        if pm.negated {
            // IAM (permissions boundaries): "The NotPrincipal element with a
            // Deny effect will always deny any IAM principal that has a
            // permissions boundary policy attached, regardless of the values
            // specified in the NotPrincipal element."
            let boundary_overrides = st.effect == Effect::Deny
                && has_boundary
                && matches!(
                    ctx.principal().kind,
                    PrincipalKind::User | PrincipalKind::AssumedRole
                );
            if !boundary_overrides && pm.principals.excludes_caller(ctx.principal()) {
                return Err(Miss::Principal);
            }
            Some(PrincipalMatch::Wildcard)
        } else {
            Some(
                pm.principals
                    .match_caller(ctx.principal())
                    .ok_or(Miss::Principal)?,
            )
        }
    } else {
        None
    };
    if let Some(r) = &st.resource {
        let hit = r.patterns.iter().any(|p| p.matches(ctx.resource(), ctx));
        if hit == r.negated {
            return Err(Miss::Resource);
        }
    }
    for (b, block) in st.conditions.iter().enumerate() {
        for (e, entry) in block.entries.iter().enumerate() {
            if !entry_holds(&block.operator, entry, ctx) {
                return Err(Miss::Condition { block: b, entry: e });
            }
        }
    }
    Ok(principal)
}

/// Which kind of policy a denial is to blame on, as AWS's AccessDenied
/// messages name it ("with an explicit deny in a resource-based policy",
/// "because no identity-based policy allows the ACTION action").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DenyReason {
    /// A matching `Deny` statement in a policy of this role (the first in
    /// the order identity, resource, permissions boundary, session).
    ExplicitDeny(PolicyRole),
    /// No `Allow` from a policy of this role where one was needed.
    NoAllow(PolicyRole),
}

impl DenyReason {
    pub fn role(self) -> PolicyRole {
        match self {
            Self::ExplicitDeny(r) | Self::NoAllow(r) => r,
        }
    }

    pub fn is_explicit(self) -> bool {
        matches!(self, Self::ExplicitDeny(_))
    }
}

#[derive(Debug, Default)]
struct Agg {
    /// The role of the first matching Deny statement.
    deny: Option<PolicyRole>,
    identity_allow: bool,
    /// The strongest way a resource-policy Allow named the caller.
    resource_allow: Option<PrincipalMatch>,
    boundary_allow: bool,
    session_allow: bool,
}

impl Agg {
    fn record(&mut self, role: PolicyRole, effect: Effect, pm: Option<PrincipalMatch>) {
        if effect == Effect::Deny {
            self.deny.get_or_insert(role);
            return;
        }
        match role {
            PolicyRole::Identity => self.identity_allow = true,
            PolicyRole::Resource => {
                let m = pm.unwrap_or(PrincipalMatch::Account);
                if self.resource_allow.is_none_or(|b| m.grant() > b.grant()) {
                    self.resource_allow = Some(m);
                }
            }
            PolicyRole::PermissionsBoundary => self.boundary_allow = true,
            PolicyRole::Session => self.session_allow = true,
        }
    }

    fn resource_grant(&self) -> Option<Grant> {
        self.resource_allow.map(PrincipalMatch::grant)
    }
}

/// The decision and, for a denial, the policy kind to blame.
///
/// AWS's evaluation logic, in the order its documentation gives it:
/// an explicit deny anywhere wins; a role trust policy must always allow;
/// within one account an Allow in either the identity policies (within the
/// boundary and session policies) or the resource policy is enough, where a
/// resource policy naming the caller's own user or session ARN is not
/// limited by any implicit deny, one naming the role (or everyone) is
/// limited by the boundary and session policies, and one naming the account
/// delegates to the identity policies; across accounts both the caller's
/// identity policies (within its limits) and the resource policy must allow.
fn decide(agg: &Agg, set: &PolicySet<'_>, ctx: &RequestContext) -> (Decision, Option<DenyReason>) {
    if let Some(role) = agg.deny {
        return (Decision::ExplicitDeny, Some(DenyReason::ExplicitDeny(role)));
    }
    let boundary_ok = set.permissions_boundary.is_none() || agg.boundary_allow;
    let session_ok = set.session.is_empty() || agg.session_allow;
    let limits_ok = boundary_ok && session_ok;
    let identity_ok = agg.identity_allow && limits_ok;
    let grant = agg.resource_grant();
    // The limit to blame when something granted but a limit did not allow.
    let limit_reason = if boundary_ok {
        DenyReason::NoAllow(PolicyRole::Session)
    } else {
        DenyReason::NoAllow(PolicyRole::PermissionsBoundary)
    };
    let no_resource_allow = DenyReason::NoAllow(PolicyRole::Resource);
    // A role trust policy must always grant: identity policies alone never
    // let anyone assume a role, even in the same account.
    let trust_required = set
        .resource
        .is_some_and(|r| r.policy.kind == PolicyKind::Trust);
    let outcome: Result<(), DenyReason> = if trust_required && grant.is_none() {
        Err(no_resource_allow)
    } else if !ctx.principal().kind.is_account_principal() {
        // Web-identity, service and anonymous callers have no identity
        // policies: the resource (trust) policy alone grants.
        match grant {
            None => Err(no_resource_allow),
            Some(_) if !limits_ok => Err(limit_reason),
            Some(_) => Ok(()),
        }
    } else if set.same_account {
        let resource_ok = match grant {
            Some(Grant::Direct) => true,
            Some(Grant::Limited) => limits_ok,
            Some(Grant::ViaAccount) | None => false,
        };
        if identity_ok || resource_ok {
            Ok(())
        } else if agg.identity_allow || grant == Some(Grant::Limited) {
            Err(limit_reason)
        } else {
            Err(DenyReason::NoAllow(PolicyRole::Identity))
        }
    } else {
        // Cross-account: the trusted account's evaluation (identity policies
        // within their limits) and the trusting account's (the resource
        // policy, naming the caller in any way) must both allow.
        match grant {
            None => Err(no_resource_allow),
            Some(_) if !agg.identity_allow => Err(DenyReason::NoAllow(PolicyRole::Identity)),
            Some(_) if !limits_ok => Err(limit_reason),
            Some(_) => Ok(()),
        }
    };
    match outcome {
        Ok(()) => (Decision::Allow, None),
        Err(reason) => (Decision::ImplicitDeny, Some(reason)),
    }
}

/// The first explicit-deny statement found by the fast path, borrowed.
struct DenyHit<'a> {
    role: PolicyRole,
    source_id: &'a str,
    index: usize,
    sid: Option<&'a str>,
}

/// The fast path: no allocation, stops at the first explicit deny.
fn run<'a>(
    ctx: &RequestContext,
    set: &PolicySet<'a>,
) -> (Decision, Option<DenyReason>, Option<DenyHit<'a>>) {
    let mut agg = Agg::default();
    let has_boundary = set.permissions_boundary.is_some();
    for (role, source) in set.sources() {
        for (index, st) in source.policy.statements.iter().enumerate() {
            // Once this role has an Allow, only Deny statements can still change the outcome.
            if st.effect == Effect::Allow && already_allowed(&agg, role) {
                continue;
            }
            if let Ok(pm) = match_statement(st, ctx, role, has_boundary) {
                if st.effect == Effect::Deny {
                    let hit = DenyHit {
                        role,
                        source_id: source.id,
                        index,
                        sid: st.sid.as_deref(),
                    };
                    return (
                        Decision::ExplicitDeny,
                        Some(DenyReason::ExplicitDeny(role)),
                        Some(hit),
                    );
                }
                agg.record(role, st.effect, pm);
            }
        }
    }
    let (decision, reason) = decide(&agg, set, ctx);
    (decision, reason, None)
}

/// Decide a request. The fast path: no allocation, stops at the first explicit deny.
pub fn evaluate(ctx: &RequestContext, set: &PolicySet<'_>) -> Decision {
    run(ctx, set).0
}

/// A decision with what a denial message and an audit line need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub decision: Decision,
    /// `None` when allowed.
    pub deny_reason: Option<DenyReason>,
    /// For an explicit deny: the first Deny statement that matched (in the
    /// order identity, resource, permissions boundary, session).
    pub deciding_deny: Option<StatementRef>,
}

/// Decide a request and say which kind of policy a denial is to blame on.
/// As fast as [`evaluate`]; allocates only for an explicit deny.
pub fn evaluate_outcome(ctx: &RequestContext, set: &PolicySet<'_>) -> Outcome {
    let (decision, deny_reason, hit) = run(ctx, set);
    let deciding_deny = hit.map(|h| StatementRef {
        source_id: h.source_id.to_owned(),
        role: h.role,
        index: h.index,
        sid: h.sid.map(str::to_owned),
        effect: Effect::Deny,
    });
    Outcome {
        decision,
        deny_reason,
        deciding_deny,
    }
}

fn already_allowed(agg: &Agg, role: PolicyRole) -> bool {
    match role {
        PolicyRole::Identity => agg.identity_allow,
        PolicyRole::Resource => agg.resource_grant() == Some(Grant::Direct),
        PolicyRole::PermissionsBoundary => agg.boundary_allow,
        PolicyRole::Session => agg.session_allow,
    }
}

/// Why one statement did not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    Principal {
        not_principal: bool,
    },
    Action {
        action: String,
    },
    Resource {
        resource: String,
    },
    Condition {
        operator: String,
        key: String,
        /// The request's values (`None`: key absent).
        actual: Option<Vec<String>>,
        expected: Vec<String>,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Principal {
                not_principal: false,
            } => f.write_str("principal not matched"),
            Mismatch::Principal {
                not_principal: true,
            } => f.write_str("principal excluded by NotPrincipal"),
            Mismatch::Action { action } => write!(f, "action {action} not matched"),
            Mismatch::Resource { resource } => write!(f, "resource {resource} not matched"),
            Mismatch::Condition {
                operator,
                key,
                actual,
                expected,
            } => {
                write!(f, "condition {operator} failed: key {key} ")?;
                match actual {
                    Some(v) => write!(f, "had {v:?}")?,
                    None => f.write_str("was absent")?,
                }
                write!(f, ", expected {expected:?}")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementTrace {
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
    pub matched: bool,
    /// The first reason it did not apply.
    pub mismatch: Option<Mismatch>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyTrace {
    pub source_id: String,
    pub role: PolicyRole,
    pub statements: Vec<StatementTrace>,
}

/// A statement that decided the outcome (IAM Simulate's `MatchedStatements`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRef {
    pub source_id: String,
    pub role: PolicyRole,
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
}

/// The full explanation of one decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    pub decision: Decision,
    pub policies: Vec<PolicyTrace>,
    /// Deny statements that matched (explicit deny) or the Allow statements
    /// that granted (allow); empty for implicit deny.
    pub matched_statements: Vec<StatementRef>,
    /// Condition keys and policy variables that applicable statements
    /// referenced but the request did not carry (IAM `MissingContextValues`).
    pub missing_context_keys: Vec<String>,
    /// Which kind of policy a denial is to blame on; `None` when allowed.
    pub deny_reason: Option<DenyReason>,
}

fn render_miss(st: &Statement, miss: Miss, ctx: &RequestContext) -> Mismatch {
    match miss {
        Miss::Principal => Mismatch::Principal {
            not_principal: st.not_principal(),
        },
        Miss::Action => Mismatch::Action {
            action: ctx.action().to_owned(),
        },
        Miss::Resource => Mismatch::Resource {
            resource: ctx.resource().to_owned(),
        },
        Miss::Condition { block, entry } => {
            let b = &st.conditions[block];
            let e = &b.entries[entry];
            Mismatch::Condition {
                operator: b.operator_name.clone(),
                key: e.key.clone(),
                actual: ctx
                    .get_lc(&e.key_lc)
                    .map(|v| v.iter().map(str::to_owned).collect()),
                expected: e.values.clone(),
            }
        }
    }
}

fn note_missing(st: &Statement, ctx: &RequestContext, out: &mut Vec<String>) {
    let mut push = |key: &str| {
        if ctx.get(key).is_none() && !out.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            out.push(key.to_owned());
        }
    };
    if let Some(r) = &st.resource {
        for p in &r.patterns {
            for v in p.variables() {
                push(v);
            }
        }
    }
    for block in &st.conditions {
        for entry in &block.entries {
            push(&entry.key);
            match &entry.compiled {
                Values::Strings(ts) => {
                    for v in ts.iter().flat_map(crate::pattern::Template::variables) {
                        push(v);
                    }
                }
                Values::Arns(ps) => {
                    for p in ps {
                        for v in p.variables() {
                            push(v);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// Decide a request and explain it. Slower than [`evaluate`]; always agrees with it.
pub fn evaluate_with_trace(ctx: &RequestContext, set: &PolicySet<'_>) -> Trace {
    let mut agg = Agg::default();
    let mut policies = Vec::new();
    let mut hits: Vec<StatementRef> = Vec::new();
    let mut missing = Vec::new();
    let has_boundary = set.permissions_boundary.is_some();
    for (role, source) in set.sources() {
        let mut statements = Vec::with_capacity(source.policy.statements.len());
        for (index, st) in source.policy.statements.iter().enumerate() {
            let result = match_statement(st, ctx, role, has_boundary);
            let (matched, mismatch) = match result {
                Ok(pm) => {
                    agg.record(role, st.effect, pm);
                    hits.push(StatementRef {
                        source_id: source.id.to_owned(),
                        role,
                        index,
                        sid: st.sid.clone(),
                        effect: st.effect,
                    });
                    note_missing(st, ctx, &mut missing);
                    (true, None)
                }
                Err(miss) => {
                    if matches!(miss, Miss::Condition { .. }) {
                        note_missing(st, ctx, &mut missing);
                    }
                    (false, Some(render_miss(st, miss, ctx)))
                }
            };
            statements.push(StatementTrace {
                index,
                sid: st.sid.clone(),
                effect: st.effect,
                matched,
                mismatch,
            });
        }
        policies.push(PolicyTrace {
            source_id: source.id.to_owned(),
            role,
            statements,
        });
    }
    let (decision, deny_reason) = decide(&agg, set, ctx);
    let matched_statements = match decision {
        Decision::ExplicitDeny => hits
            .into_iter()
            .filter(|h| h.effect == Effect::Deny)
            .collect(),
        Decision::Allow => hits,
        Decision::ImplicitDeny => Vec::new(),
    };
    Trace {
        decision,
        policies,
        matched_statements,
        missing_context_keys: missing,
        deny_reason,
    }
}

impl Trace {
    /// A readable, line-per-statement explanation (for `irsa explain`).
    pub fn explain(&self) -> String {
        use fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(out, "decision: {:?}", self.decision);
        for p in &self.policies {
            let _ = writeln!(out, "{:?} policy {}:", p.role, p.source_id);
            for s in &p.statements {
                let name = s
                    .sid
                    .as_deref()
                    .map_or(String::new(), |sid| format!(" ({sid})"));
                match &s.mismatch {
                    None => {
                        let _ =
                            writeln!(out, "  statement {}{name} {:?}: matched", s.index, s.effect);
                    }
                    Some(m) => {
                        let _ = writeln!(
                            out,
                            "  statement {}{name} {:?}: not matched: {m}",
                            s.index, s.effect
                        );
                    }
                }
            }
        }
        for m in &self.matched_statements {
            let _ = writeln!(
                out,
                "decided by {:?} statement {} of {}",
                m.effect, m.index, m.source_id
            );
        }
        if let Some(reason) = self.deny_reason {
            let _ = match reason {
                DenyReason::ExplicitDeny(role) => {
                    writeln!(out, "denied by an explicit deny in a {role:?} policy")
                }
                DenyReason::NoAllow(role) => writeln!(out, "denied: no {role:?} policy allows"),
            };
        }
        if !self.missing_context_keys.is_empty() {
            let _ = writeln!(
                out,
                "missing context keys: {}",
                self.missing_context_keys.join(", ")
            );
        }
        out
    }
}
