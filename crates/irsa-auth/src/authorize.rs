//! Authorization: may this caller do this action on this resource? The
//! caller's identity policies, permissions boundary and session policies,
//! plus an optional resource-based policy (a bucket policy), evaluated by
//! irsa-policy; the `aws:*` global condition keys are added here, once.
//!
//! Policies of an entity are loaded once and cached for
//! [`POLICY_CACHE_TTL`]; IAM writes in this process invalidate exactly what
//! they changed at once ([`Authorizer::invalidate_subject`],
//! [`Authorizer::invalidate_managed`]), other replicas' writes are seen
//! within the TTL.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use irsa_core::SharedClock;
use irsa_policy::{
    evaluate_outcome, Decision, DenyReason, Outcome, Policy, PolicyError, PolicyKind as DocKind,
    PolicyRole, PolicySet, PolicySource, RequestContext, SizeLimit,
};
use irsa_store::{PrincipalKind, Store, StoreError};
use time::{Duration, OffsetDateTime};

use crate::caller::{Caller, Subject};
use crate::denial::{Denial, DenialReason, PolicyKind};
use crate::error::AuthError;
use crate::managed::aws_managed_document;

/// How long an entity's loaded policies are trusted.
pub const POLICY_CACHE_TTL: Duration = Duration::seconds(5);

const PARSED_MAX: usize = 4096;
const SUBJECTS_MAX: usize = 10_000;

/// Facts about the request that global condition keys come from.
#[derive(Debug, Clone)]
pub struct RequestFacts {
    pub source_ip: Option<IpAddr>,
    pub secure_transport: bool,
    /// Region of the SigV4 scope (`us-east-1` for unsigned calls).
    pub region: String,
}

impl RequestFacts {
    /// `aws:RequestedRegion`, `aws:SecureTransport`, `aws:SourceIp`: the
    /// global keys of the request itself, whoever makes it (a signed caller
    /// or an unsigned AssumeRoleWithWebIdentity).
    pub fn add_global_keys(&self, ctx: &mut RequestContext) {
        ctx.insert("aws:RequestedRegion", self.region.as_str());
        ctx.insert(
            "aws:SecureTransport",
            if self.secure_transport {
                "true"
            } else {
                "false"
            },
        );
        if let Some(ip) = self.source_ip {
            ctx.insert("aws:SourceIp", ip.to_string());
        }
    }
}

/// A resource-based policy that applies to the request (a bucket policy).
#[derive(Debug, Clone, Copy)]
pub struct ResourcePolicy<'a> {
    /// Reported in traces and audit lines (e.g. `bucket-policy:NAME`).
    pub id: &'a str,
    pub policy: &'a Policy,
    /// The account that owns the resource.
    pub owner_account: &'a str,
}

/// One action on one resource to authorize.
#[derive(Debug, Clone, Copy)]
pub struct Check<'a> {
    /// e.g. `s3:GetObject`, `iam:CreateRole`.
    pub action: &'a str,
    /// e.g. `arn:aws:s3:::bucket/key`.
    pub resource: &'a str,
    /// Service condition keys (`s3:prefix`, `irsa:Namespace`, …).
    pub context: &'a [(String, Vec<String>)],
    pub resource_policy: Option<ResourcePolicy<'a>>,
}

impl<'a> Check<'a> {
    pub fn new(action: &'a str, resource: &'a str) -> Self {
        Self {
            action,
            resource,
            context: &[],
            resource_policy: None,
        }
    }

    #[must_use]
    pub fn with_context(mut self, context: &'a [(String, Vec<String>)]) -> Self {
        self.context = context;
        self
    }

    #[must_use]
    pub fn with_resource_policy(mut self, policy: Option<ResourcePolicy<'a>>) -> Self {
        self.resource_policy = policy;
        self
    }
}

/// The outcome of an authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Denied(Denial),
}

impl Verdict {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Verdict::Allowed)
    }
}

/// The condition keys some policies name (lower-cased, each once),
/// collected when the policies are loaded, so a front can tell cheaply
/// whether a key whose value is costly to get (an upstream call, such as
/// `s3:ExistingObjectTag/…`) can matter to a request at all.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ConditionKeys(Vec<String>);

impl ConditionKeys {
    pub fn of<'a>(policies: impl IntoIterator<Item = &'a Policy>) -> Self {
        let mut keys: Vec<String> = policies
            .into_iter()
            .flat_map(|p| &p.statements)
            .flat_map(|s| &s.conditions)
            .flat_map(|block| &block.entries)
            .map(|entry| entry.key.to_ascii_lowercase())
            .collect();
        keys.sort_unstable();
        keys.dedup();
        Self(keys)
    }

    /// Whether a named key starts with `prefix`, compared ASCII
    /// case-insensitively (as condition key names are).
    pub fn any_with_prefix(&self, prefix: &str) -> bool {
        self.0.iter().any(|key| {
            key.get(..prefix.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
        })
    }
}

/// The policies that apply to a caller (or a simulated principal).
#[derive(Debug, Default, Clone)]
pub struct PrincipalPolicies {
    pub identity: Vec<(String, Arc<Policy>)>,
    pub boundary: Option<(String, Arc<Policy>)>,
    pub session: Vec<(String, Arc<Policy>)>,
    /// `aws:PrincipalTag/*` (entity tags, overridden by session tags).
    pub principal_tags: Vec<(String, String)>,
    /// Of all the policies above, set by the [`Authorizer`] once it has
    /// built them.
    condition_keys: ConditionKeys,
}

fn sources(list: &[(String, Arc<Policy>)]) -> Vec<PolicySource<'_>> {
    list.iter()
        .map(|(id, p)| PolicySource::new(id, p))
        .collect()
}

impl PrincipalPolicies {
    /// The condition keys the identity, boundary and session policies name.
    pub fn condition_keys(&self) -> &ConditionKeys {
        &self.condition_keys
    }

    fn index_condition_keys(&mut self) {
        self.condition_keys = ConditionKeys::of(
            self.identity
                .iter()
                .chain(&self.session)
                .chain(self.boundary.iter())
                .map(|(_, policy)| policy.as_ref()),
        );
    }

    /// Evaluates with an optional resource-based policy: the decision, and
    /// for a denial which kind of policy is to blame and which statement
    /// decided an explicit deny (computed by the engine itself).
    pub fn evaluate(
        &self,
        ctx: &RequestContext,
        resource: Option<PolicySource<'_>>,
        same_account: bool,
    ) -> Outcome {
        let identity = sources(&self.identity);
        let session = sources(&self.session);
        let set = PolicySet {
            identity: &identity,
            resource,
            same_account,
            permissions_boundary: self
                .boundary
                .as_ref()
                .map(|(id, p)| PolicySource::new(id, p)),
            session: &session,
        };
        evaluate_outcome(ctx, &set)
    }
}

/// The engine's reason, in the words of AWS's AccessDenied message.
fn denial_reason(reason: Option<DenyReason>) -> DenialReason {
    let kind = |role: PolicyRole| match role {
        PolicyRole::Identity => PolicyKind::IdentityBased,
        PolicyRole::Resource => PolicyKind::ResourceBased,
        PolicyRole::PermissionsBoundary => PolicyKind::PermissionsBoundary,
        PolicyRole::Session => PolicyKind::SessionPolicy,
    };
    match reason {
        Some(DenyReason::ExplicitDeny(role)) => DenialReason::ExplicitDeny(kind(role)),
        Some(DenyReason::NoAllow(role)) => DenialReason::NoAllow(kind(role)),
        None => DenialReason::NoAllow(PolicyKind::IdentityBased),
    }
}

#[derive(Debug)]
struct Cached<T> {
    value: Arc<T>,
    loaded: OffsetDateTime,
}

/// An entity's policies with the managed policies (attached, boundary)
/// their documents came from, so a change to one of those finds them.
#[derive(Debug)]
struct CachedSubject {
    policies: Cached<PrincipalPolicies>,
    managed_arns: Vec<String>,
}

impl CachedSubject {
    fn uses_managed(&self, arn: &str) -> bool {
        self.managed_arns
            .iter()
            .any(|a| a.eq_ignore_ascii_case(arn))
    }
}

/// Whether a cached subject is `kind` `name` (IAM names are unique
/// case-insensitively, and the store finds them so).
fn is_named(subject: &Subject, kind: PrincipalKind, name: &str) -> bool {
    match (kind, subject) {
        (PrincipalKind::User, Subject::User { name: n })
        | (PrincipalKind::Role, Subject::Role { name: n, .. }) => {
            n == name || n.to_lowercase() == name.to_lowercase()
        }
        _ => false,
    }
}

/// Decides requests for every front.
#[derive(Debug)]
pub struct Authorizer {
    store: Arc<dyn Store>,
    clock: SharedClock,
    parsed: Mutex<HashMap<(u8, String), Arc<Policy>>>,
    subjects: RwLock<HashMap<Subject, CachedSubject>>,
    managed: RwLock<HashMap<String, Cached<Option<String>>>>,
    generation: AtomicU64,
}

fn kind_key(kind: DocKind) -> u8 {
    match kind {
        DocKind::Identity => 0,
        DocKind::Trust => 1,
        DocKind::Resource => 2,
        DocKind::PermissionsBoundary => 3,
        DocKind::Session => 4,
    }
}

fn empty_policy(kind: DocKind) -> Arc<Policy> {
    Arc::new(Policy {
        kind,
        version: irsa_policy::Version::V2012_10_17,
        id: None,
        statements: Vec::new(),
    })
}

impl Authorizer {
    pub fn new(store: Arc<dyn Store>, clock: SharedClock) -> Self {
        Self {
            store,
            clock,
            parsed: Mutex::new(HashMap::new()),
            subjects: RwLock::new(HashMap::new()),
            managed: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now_utc()
    }

    /// Parses (or finds) a stored document. Stored documents were validated
    /// on write, so no size limit is applied again.
    pub fn parse_stored(&self, text: &str, kind: DocKind) -> Result<Arc<Policy>, PolicyError> {
        let key = (kind_key(kind), text.to_owned());
        if let Ok(map) = self.parsed.lock() {
            if let Some(p) = map.get(&key) {
                return Ok(Arc::clone(p));
            }
        }
        let parsed = Arc::new(Policy::parse_with_limit(text, kind, SizeLimit::Unlimited)?);
        if let Ok(mut map) = self.parsed.lock() {
            if map.len() >= PARSED_MAX {
                map.clear();
            }
            map.insert(key, Arc::clone(&parsed));
        }
        Ok(parsed)
    }

    fn parse_or_deny(&self, id: &str, text: &str, kind: DocKind) -> Arc<Policy> {
        self.parse_stored(text, kind).unwrap_or_else(|e| {
            // Validated on write; a document that no longer parses allows nothing.
            tracing::warn!(policy = id, error = %e, "stored policy does not parse");
            empty_policy(kind)
        })
    }

    /// Forgets the cached policies of one entity (IAM changed its inline
    /// policies, attachments, boundary or tags here, or deleted it).
    pub fn invalidate_subject(&self, kind: PrincipalKind, name: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut map) = self.subjects.write() {
            map.retain(|subject, _| !is_named(subject, kind, name));
        }
    }

    /// Forgets a managed policy's cached document and the cached policies
    /// of every entity that attaches it or has it as boundary (IAM changed
    /// its versions, tags or existence here). Sessions naming it as a
    /// session policy read it through the managed cache, so they see it too.
    pub fn invalidate_managed(&self, arn: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut map) = self.managed.write() {
            map.retain(|cached_arn, _| !cached_arn.eq_ignore_ascii_case(arn));
        }
        if let Ok(mut map) = self.subjects.write() {
            map.retain(|_, cached| !cached.uses_managed(arn));
        }
    }

    /// Whether fresh policies of `subject` are cached (diagnostics, and
    /// tests of what an invalidation keeps).
    pub fn has_cached_policies(&self, subject: &Subject) -> bool {
        let now = self.now();
        self.subjects.read().is_ok_and(|map| {
            map.get(subject)
                .is_some_and(|c| now - c.policies.loaded < POLICY_CACHE_TTL)
        })
    }

    /// The default version's document of a managed policy (`None`: no such policy).
    pub async fn managed_document(&self, arn: &str) -> Result<Option<String>, AuthError> {
        if let Some(doc) = aws_managed_document(arn) {
            return Ok(Some(doc.to_owned()));
        }
        let now = self.now();
        if let Ok(map) = self.managed.read() {
            if let Some(c) = map.get(arn) {
                if now - c.loaded < POLICY_CACHE_TTL {
                    return Ok((*c.value).clone());
                }
            }
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let doc = self.load_managed_document(arn).await?;
        if let Ok(mut map) = self.managed.write() {
            if self.generation.load(Ordering::SeqCst) == generation {
                if map.len() >= SUBJECTS_MAX {
                    map.clear();
                }
                map.insert(
                    arn.to_owned(),
                    Cached {
                        value: Arc::new(doc.clone()),
                        loaded: now,
                    },
                );
            }
        }
        Ok(doc)
    }

    async fn load_managed_document(&self, arn: &str) -> Result<Option<String>, AuthError> {
        let policy = match self.store.get_policy(arn).await {
            Ok(p) => p,
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(AuthError::store(&e)),
        };
        match self
            .store
            .get_policy_version(arn, &policy.default_version_id)
            .await
        {
            Ok(v) => Ok(Some(v.document)),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(AuthError::store(&e)),
        }
    }

    /// The identity policies, boundary and tags of an entity (cached).
    pub async fn subject_policies(
        &self,
        subject: &Subject,
    ) -> Result<Arc<PrincipalPolicies>, AuthError> {
        if matches!(subject, Subject::Root) {
            return Ok(Arc::new(PrincipalPolicies::default()));
        }
        let now = self.now();
        if let Ok(map) = self.subjects.read() {
            if let Some(c) = map.get(subject) {
                if now - c.policies.loaded < POLICY_CACHE_TTL {
                    return Ok(Arc::clone(&c.policies.value));
                }
            }
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let (loaded, managed_arns) = self.load_subject(subject).await?;
        let loaded = Arc::new(loaded);
        if let Ok(mut map) = self.subjects.write() {
            if self.generation.load(Ordering::SeqCst) == generation {
                if map.len() >= SUBJECTS_MAX {
                    map.clear();
                }
                map.insert(
                    subject.clone(),
                    CachedSubject {
                        policies: Cached {
                            value: Arc::clone(&loaded),
                            loaded: now,
                        },
                        managed_arns,
                    },
                );
            }
        }
        Ok(loaded)
    }

    /// An entity's policies and the managed policies they came from.
    async fn load_subject(
        &self,
        subject: &Subject,
    ) -> Result<(PrincipalPolicies, Vec<String>), AuthError> {
        let mut out = PrincipalPolicies::default();
        let mut managed_arns = Vec::new();
        let (kind, name, tags, boundary) = match subject {
            Subject::Root => return Ok((out, managed_arns)),
            Subject::User { name } => match self.store.get_user(name).await {
                Ok(u) => (PrincipalKind::User, u.name, u.tags, u.permissions_boundary),
                Err(StoreError::NotFound { .. }) => return Ok((out, managed_arns)),
                Err(e) => return Err(AuthError::store(&e)),
            },
            Subject::Role { name, id } => match self.store.get_role(name).await {
                // A role deleted and re-created under the same name is another role.
                Ok(r) if id.as_ref().is_none_or(|id| *id == r.id) => {
                    (PrincipalKind::Role, r.name, r.tags, r.permissions_boundary)
                }
                Ok(_) | Err(StoreError::NotFound { .. }) => return Ok((out, managed_arns)),
                Err(e) => return Err(AuthError::store(&e)),
            },
        };
        out.principal_tags = tags.into_iter().map(|t| (t.key, t.value)).collect();
        let store = &self.store;
        let names = match store.list_inline_policies(kind, &name).await {
            Ok(n) => n,
            Err(StoreError::NotFound { .. }) => return Ok((out, managed_arns)),
            Err(e) => return Err(AuthError::store(&e)),
        };
        for policy_name in names {
            match store.get_inline_policy(kind, &name, &policy_name).await {
                Ok(p) => {
                    let id = format!("{name}/{policy_name}");
                    let parsed = self.parse_or_deny(&id, &p.document, DocKind::Identity);
                    out.identity.push((id, parsed));
                }
                Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(AuthError::store(&e)),
            }
        }
        let attached = match store.list_attached_policies(kind, &name, None).await {
            Ok(a) => a,
            Err(StoreError::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(AuthError::store(&e)),
        };
        for a in attached {
            managed_arns.push(a.policy_arn.clone());
            if let Some(doc) = self.managed_document(&a.policy_arn).await? {
                let parsed = self.parse_or_deny(&a.policy_arn, &doc, DocKind::Identity);
                out.identity.push((a.policy_arn, parsed));
            }
        }
        if let Some(arn) = boundary {
            managed_arns.push(arn.clone());
            // A boundary whose policy vanished allows nothing (fail closed).
            let parsed = match self.managed_document(&arn).await? {
                Some(doc) => self.parse_or_deny(&arn, &doc, DocKind::PermissionsBoundary),
                None => empty_policy(DocKind::PermissionsBoundary),
            };
            out.boundary = Some((arn, parsed));
        }
        out.index_condition_keys();
        Ok((out, managed_arns))
    }

    /// Every policy that applies to a caller: its entity's (cached) and its
    /// session's (session policies, session tags).
    pub async fn caller_policies(
        &self,
        caller: &Caller,
    ) -> Result<Arc<PrincipalPolicies>, AuthError> {
        let entity = self.subject_policies(&caller.subject()).await?;
        let Some(claims) = caller.session() else {
            return Ok(entity);
        };
        if claims.session_policy.is_none()
            && claims.policy_arns.is_empty()
            && claims.tags.is_empty()
        {
            return Ok(entity);
        }
        let mut out = (*entity).clone();
        if let Some(text) = &claims.session_policy {
            let parsed = self.parse_or_deny("session-policy", text, DocKind::Session);
            out.session.push(("session-policy".to_owned(), parsed));
        }
        for arn in &claims.policy_arns {
            let parsed = match self.managed_document(arn).await? {
                Some(doc) => self.parse_or_deny(arn, &doc, DocKind::Session),
                // A session policy that vanished allows nothing.
                None => empty_policy(DocKind::Session),
            };
            out.session.push((arn.clone(), parsed));
        }
        for tag in &claims.tags {
            out.principal_tags
                .retain(|(k, _)| !k.eq_ignore_ascii_case(&tag.key));
            out.principal_tags
                .push((tag.key.clone(), tag.value.clone()));
        }
        out.index_condition_keys();
        Ok(Arc::new(out))
    }

    /// The request context of a caller for one action on one resource,
    /// with the `aws:*` global keys.
    pub fn context(
        &self,
        caller: &Caller,
        facts: &RequestFacts,
        action: &str,
        resource: &str,
        principal_tags: &[(String, String)],
    ) -> RequestContext {
        let mut ctx = RequestContext::new(caller.policy_principal(), action, resource, self.now());
        facts.add_global_keys(&mut ctx);
        if let Some(claims) = caller.session() {
            let issued = claims
                .issued_at_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            ctx.insert("aws:TokenIssueTime", issued);
            if let Some(si) = &claims.source_identity {
                ctx.insert("aws:SourceIdentity", si.as_str());
            }
        }
        for (k, v) in principal_tags {
            ctx.insert(&format!("aws:PrincipalTag/{k}"), v.as_str());
        }
        ctx
    }

    /// Authorizes one action.
    pub async fn check(
        &self,
        caller: &Caller,
        facts: &RequestFacts,
        check: &Check<'_>,
    ) -> Result<Verdict, AuthError> {
        self.check_all(caller, facts, std::slice::from_ref(check))
            .await
    }

    /// Authorizes several actions of one request (all must be allowed),
    /// loading the caller's policies once. The first denial is returned.
    pub async fn check_all(
        &self,
        caller: &Caller,
        facts: &RequestFacts,
        checks: &[Check<'_>],
    ) -> Result<Verdict, AuthError> {
        let policies = if caller.is_root() {
            None
        } else {
            Some(self.caller_policies(caller).await?)
        };
        for check in checks {
            let verdict = self.decide(caller, policies.as_deref(), facts, check);
            if !verdict.is_allowed() {
                return Ok(verdict);
            }
        }
        Ok(Verdict::Allowed)
    }

    /// Decides one check with already loaded policies (`None`: the root,
    /// whom identity policies do not limit).
    pub fn decide(
        &self,
        caller: &Caller,
        policies: Option<&PrincipalPolicies>,
        facts: &RequestFacts,
        check: &Check<'_>,
    ) -> Verdict {
        let empty = PrincipalPolicies::default();
        let loaded = policies.unwrap_or(&empty);
        let mut ctx = self.context(
            caller,
            facts,
            check.action,
            check.resource,
            &loaded.principal_tags,
        );
        for (key, values) in check.context {
            ctx.insert(key, values.clone());
        }
        let resource = check
            .resource_policy
            .map(|r| PolicySource::new(r.id, r.policy));
        let same_account = check
            .resource_policy
            .is_none_or(|r| r.owner_account == caller.account());
        let outcome = if policies.is_none() {
            // The root: only an explicit deny in a resource policy stops it.
            let resource_only = resource.map(|r| {
                evaluate_outcome(
                    &ctx,
                    &PolicySet {
                        resource: Some(r),
                        same_account,
                        ..PolicySet::default()
                    },
                )
            });
            match resource_only {
                Some(o) if o.decision == Decision::ExplicitDeny => o,
                _ => return Verdict::Allowed,
            }
        } else {
            loaded.evaluate(&ctx, resource, same_account)
        };
        let reason = denial_reason(outcome.deny_reason);
        verdict(&caller.arn(), check, &outcome, reason)
    }

    /// Decides a check for an unsigned request: the anonymous principal
    /// has no identity policies, so only a resource policy that grants to
    /// everyone (`"Principal": "*"` or `{"AWS": "*"}`) allows, and any
    /// explicit deny in it wins.
    pub fn decide_anonymous(&self, facts: &RequestFacts, check: &Check<'_>) -> Verdict {
        let Some(resource) = check.resource_policy else {
            return Verdict::Denied(Denial::new(
                ANONYMOUS_PRINCIPAL,
                check.action,
                check.resource,
                DenialReason::NoAllow(PolicyKind::ResourceBased),
            ));
        };
        let mut ctx = RequestContext::new(
            irsa_policy::RequestPrincipal::anonymous(),
            check.action,
            check.resource,
            self.clock.now_utc(),
        );
        facts.add_global_keys(&mut ctx);
        for (key, values) in check.context {
            ctx.insert(key, values.clone());
        }
        let outcome = evaluate_outcome(
            &ctx,
            &PolicySet {
                resource: Some(PolicySource::new(resource.id, resource.policy)),
                same_account: false,
                ..PolicySet::default()
            },
        );
        let reason = if outcome.decision == Decision::ExplicitDeny {
            DenialReason::ExplicitDeny(PolicyKind::ResourceBased)
        } else {
            DenialReason::NoAllow(PolicyKind::ResourceBased)
        };
        verdict(ANONYMOUS_PRINCIPAL, check, &outcome, reason)
    }
}

/// The principal name denials of unsigned requests carry.
pub const ANONYMOUS_PRINCIPAL: &str = "anonymous";

/// The verdict of an evaluated check; a denial names the statement that
/// decided it (`policy#sid`, or `policy#index` without a Sid).
fn verdict(
    principal_arn: &str,
    check: &Check<'_>,
    outcome: &Outcome,
    reason: DenialReason,
) -> Verdict {
    if outcome.decision.is_allowed() {
        return Verdict::Allowed;
    }
    let mut denial = Denial::new(principal_arn, check.action, check.resource, reason);
    denial.deciding = outcome.deciding_deny.as_ref().map(|s| match &s.sid {
        Some(sid) => format!("{}#{sid}", s.source_id),
        None => format!("{}#{}", s.source_id, s.index),
    });
    Verdict::Denied(denial)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use irsa_core::TestClock;
    use irsa_store::{NewPolicy, NewUser};

    use super::*;

    const ALLOW_ALL: &str =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    const TAG_CONDITION: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"s3:existingobjecttag/Team":"a"}}}]}"#;

    async fn authorizer(dir: &std::path::Path) -> Authorizer {
        let clock: SharedClock = Arc::new(TestClock::at_unix(1_795_442_400));
        let store = crate::test_support::temp_store(dir, Arc::clone(&clock)).await;
        Authorizer::new(store, clock)
    }

    fn user(name: &str) -> Subject {
        Subject::User {
            name: name.to_owned(),
        }
    }

    #[test]
    fn condition_keys_are_collected_once_and_matched_by_prefix() {
        let tagged = Policy::parse(TAG_CONDITION, DocKind::Identity).unwrap();
        let plain = Policy::parse(ALLOW_ALL, DocKind::Identity).unwrap();
        let keys = ConditionKeys::of([&plain, &tagged, &tagged]);
        assert_eq!(keys.0, ["s3:existingobjecttag/team"]);
        assert!(keys.any_with_prefix("s3:ExistingObjectTag/"));
        assert!(!keys.any_with_prefix("s3:RequestObjectTag/"));
        assert!(!ConditionKeys::of([&plain]).any_with_prefix("s3:ExistingObjectTag/"));
    }

    #[tokio::test]
    async fn managed_policy_invalidation_drops_only_its_users() {
        let dir = tempfile::tempdir().unwrap();
        let authz = authorizer(dir.path()).await;
        let store = Arc::clone(&authz.store);
        let managed = store
            .create_policy(NewPolicy::new("tagged", TAG_CONDITION))
            .await
            .unwrap();
        for name in ["attaches", "bounded", "inline", "Other"] {
            store.create_user(NewUser::named(name)).await.unwrap();
        }
        store
            .attach_policy(PrincipalKind::User, "attaches", &managed.arn)
            .await
            .unwrap();
        store
            .set_permissions_boundary(PrincipalKind::User, "bounded", Some(managed.arn.clone()))
            .await
            .unwrap();
        store
            .put_inline_policy(PrincipalKind::User, "inline", "all", ALLOW_ALL.to_owned())
            .await
            .unwrap();
        for name in ["attaches", "bounded", "inline", "Other"] {
            let policies = authz.subject_policies(&user(name)).await.unwrap();
            let names_tag = policies
                .condition_keys()
                .any_with_prefix("s3:ExistingObjectTag/");
            assert_eq!(names_tag, matches!(name, "attaches" | "bounded"), "{name}");
            assert!(authz.has_cached_policies(&user(name)));
        }

        authz.invalidate_managed(&managed.arn);
        assert!(!authz.has_cached_policies(&user("attaches")));
        assert!(!authz.has_cached_policies(&user("bounded")));
        assert!(authz.has_cached_policies(&user("inline")));
        assert!(authz.has_cached_policies(&user("Other")));

        // Names are matched as IAM matches them, case-insensitively.
        authz.invalidate_subject(PrincipalKind::User, "other");
        assert!(!authz.has_cached_policies(&user("Other")));
        authz.invalidate_subject(PrincipalKind::Role, "inline");
        assert!(
            authz.has_cached_policies(&user("inline")),
            "a role of that name is another entity"
        );
    }

    #[tokio::test]
    async fn session_policies_join_the_condition_keys() {
        let dir = tempfile::tempdir().unwrap();
        let authz = authorizer(dir.path()).await;
        let mut policies = (*authz.subject_policies(&user("nobody")).await.unwrap()).clone();
        assert!(!policies
            .condition_keys()
            .any_with_prefix("s3:ExistingObjectTag/"));
        let parsed = authz.parse_or_deny("session-policy", TAG_CONDITION, DocKind::Session);
        policies.session.push(("session-policy".to_owned(), parsed));
        policies.index_condition_keys();
        assert!(policies
            .condition_keys()
            .any_with_prefix("s3:ExistingObjectTag/"));
    }
}
