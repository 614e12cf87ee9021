//! `irsa explain`: why a token does (or does not) get a role. The account is
//! written by the same code that answers AssumeRoleWithWebIdentity
//! ([`crate::web_identity`], which uses the [`Recorder`] and steps defined
//! here); the real call passes a disabled recorder and pays nothing for it. Trust policies are re-evaluated with irsa-policy's
//! traced evaluator only when explaining.
//!
//! Served as the irsa-specific signed Query action `ExplainWebIdentity`
//! (RoleArn, WebIdentityToken, optional RoleSessionName, DurationSeconds,
//! Policy), authorized as `irsa:ExplainWebIdentity` (root always; others
//! need an Allow). The result renders as XML or, with
//! `Accept: application/json`, JSON like every other action.

use std::fmt::Write as _;

use irsa_policy::{
    evaluate_with_trace, ConditionBlock, Decision, Effect, Mismatch, Policy, PolicySet,
    PolicySource, RequestContext, Statement,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use irsa_auth::Caller;

use crate::authorize;
use crate::context::{OperationContext, RequestInfo};
use crate::error::{ApiError, ErrorCode};
use crate::model::AssumeRoleWithWebIdentityRequest;
use crate::protocol::query::Params;
use crate::protocol::response::Node;

/// The Query action name.
pub const ACTION: &str = "ExplainWebIdentity";
/// The IAM action a non-root caller needs.
pub(crate) const IAM_ACTION: &str = "irsa:ExplainWebIdentity";
/// Session name used when the request gives none.
pub const DEFAULT_SESSION_NAME: &str = "irsa-explain";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Passed,
    Failed,
    /// Not reached (an earlier step failed) or not applicable.
    Skipped,
}

impl StepStatus {
    pub fn mark(self) -> &'static str {
        match self {
            StepStatus::Passed => "✓",
            StepStatus::Failed => "✗",
            StepStatus::Skipped => "-",
        }
    }
}

/// One step of the decision, possibly with sub-steps (verification checks,
/// trust-policy statements and their conditions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExplainStep {
    pub name: String,
    pub status: StepStatus,
    pub summary: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<ExplainStep>,
}

impl ExplainStep {
    pub fn new(
        name: impl Into<String>,
        status: StepStatus,
        summary: impl Into<String>,
    ) -> ExplainStep {
        ExplainStep {
            name: name.into(),
            status,
            summary: summary.into(),
            details: Vec::new(),
            steps: Vec::new(),
        }
    }

    pub fn passed(name: impl Into<String>, summary: impl Into<String>) -> ExplainStep {
        Self::new(name, StepStatus::Passed, summary)
    }

    pub fn failed(name: impl Into<String>, summary: impl Into<String>) -> ExplainStep {
        Self::new(name, StepStatus::Failed, summary)
    }

    #[must_use]
    pub fn detail(mut self, line: impl Into<String>) -> ExplainStep {
        self.details.push(line.into());
        self
    }

    #[must_use]
    pub fn with_steps(mut self, steps: Vec<ExplainStep>) -> ExplainStep {
        self.steps = steps;
        self
    }
}

/// What the SDK would see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub allowed: bool,
    /// The AWS error code (`None` when allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// HTTP status of the answer (200 when allowed).
    pub http_status: u16,
}

impl Outcome {
    pub(crate) fn from_result<T>(result: &Result<T, ApiError>) -> Outcome {
        match result {
            Ok(_) => Outcome {
                allowed: true,
                code: None,
                message: None,
                http_status: 200,
            },
            Err(e) => Outcome {
                allowed: false,
                code: Some(e.code.as_str().to_owned()),
                message: Some(e.message.clone()),
                http_status: e.http_status(),
            },
        }
    }
}

/// The whole account of one AssumeRoleWithWebIdentity decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    pub role_arn: String,
    pub steps: Vec<ExplainStep>,
    pub outcome: Outcome,
}

impl Explanation {
    /// Human-readable: one line per step with ✓/✗, details and sub-steps
    /// indented, then the answer the SDK would get.
    pub fn render_human(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "AssumeRoleWithWebIdentity for role {}", self.role_arn);
        for step in &self.steps {
            render_step(&mut out, step, 0);
        }
        let o = &self.outcome;
        if o.allowed {
            let _ = writeln!(out, "\nResult: ✓ allowed — the role would be assumed");
        } else {
            let _ = writeln!(
                out,
                "\nResult: ✗ denied — the SDK gets {} (HTTP {}): {}",
                o.code.as_deref().unwrap_or("-"),
                o.http_status,
                o.message.as_deref().unwrap_or("")
            );
        }
        out
    }

    /// The result of the `ExplainWebIdentity` action.
    pub fn to_node(&self) -> Node {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| value_to_node(&v))
            .unwrap_or_else(Node::object)
    }

    /// Reads the JSON answer of `ExplainWebIdentity` (the whole response
    /// document or just the result).
    pub fn from_response_json(body: &Value) -> Option<Explanation> {
        let result = body
            .get("ExplainWebIdentityResponse")
            .and_then(|r| r.get("ExplainWebIdentityResult"))
            .unwrap_or(body);
        serde_json::from_value(result.clone()).ok()
    }
}

fn render_step(out: &mut String, step: &ExplainStep, depth: usize) {
    let pad = "  ".repeat(depth);
    let _ = writeln!(
        out,
        "{pad}{} {}: {}",
        step.status.mark(),
        step.name,
        step.summary
    );
    for d in &step.details {
        let _ = writeln!(out, "{pad}      {d}");
    }
    for s in &step.steps {
        render_step(out, s, depth + 1);
    }
}

fn value_to_node(v: &Value) -> Option<Node> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => Node::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Node::Int(i),
            None => Node::Str(n.to_string()),
        },
        Value::String(s) => Node::Str(s.clone()),
        Value::Array(items) => Node::List(items.iter().filter_map(value_to_node).collect()),
        Value::Object(map) => Node::Struct(
            map.iter()
                .filter_map(|(k, v)| value_to_node(v).map(|n| (k.clone(), n)))
                .collect(),
        ),
    })
}

/// Collects steps when explaining; a no-op on the hot path (the closures
/// that build steps never run).
#[derive(Debug)]
pub(crate) struct Recorder<'a>(Option<&'a mut Vec<ExplainStep>>);

impl<'a> Recorder<'a> {
    pub(crate) fn off() -> Recorder<'static> {
        Recorder(None)
    }

    pub(crate) fn on(steps: &'a mut Vec<ExplainStep>) -> Recorder<'a> {
        Recorder(Some(steps))
    }

    pub(crate) fn active(&self) -> bool {
        self.0.is_some()
    }

    pub(crate) fn push(&mut self, step: impl FnOnce() -> ExplainStep) {
        if let Some(steps) = self.0.as_deref_mut() {
            steps.push(step());
        }
    }
}

fn quote_values(values: Option<Vec<String>>) -> String {
    match values {
        Some(v) if v.len() == 1 => format!("{:?}", v[0]),
        Some(v) => format!("{v:?}"),
        None => "(absent)".to_owned(),
    }
}

/// Does `statement` hold `entry` of `block` alone? Evaluated by the real
/// evaluator on a copy of the statement carrying only that condition.
fn condition_holds(
    policy: &Policy,
    statement: &Statement,
    block: &ConditionBlock,
    entry: usize,
    ctx: &RequestContext,
) -> bool {
    let mut one = statement.clone();
    one.conditions = vec![ConditionBlock {
        operator: block.operator.clone(),
        operator_name: block.operator_name.clone(),
        entries: vec![block.entries[entry].clone()],
    }];
    let single = Policy {
        kind: policy.kind,
        version: policy.version,
        id: None,
        statements: vec![one],
    };
    let trace = evaluate_with_trace(
        ctx,
        &PolicySet::trust(PolicySource::new("c", &single), true),
    );
    !trace
        .policies
        .first()
        .and_then(|p| p.statements.first())
        .is_some_and(|s| matches!(s.mismatch, Some(Mismatch::Condition { .. })))
}

/// Explains one trust-policy evaluation: every statement and every
/// condition, with the request's actual values. The decision comes from
/// the traced evaluator, which always agrees with the fast one.
pub(crate) fn trust_policy_steps(
    policy: &Policy,
    ctx: &RequestContext,
) -> (Decision, Vec<ExplainStep>) {
    let trace = evaluate_with_trace(
        ctx,
        &PolicySet::trust(PolicySource::new("trust", policy), true),
    );
    let mut out = Vec::new();
    let traces = trace
        .policies
        .first()
        .map(|p| p.statements.as_slice())
        .unwrap_or_default();
    for (st, t) in policy.statements.iter().zip(traces) {
        let label = match &st.sid {
            Some(sid) => format!("statement {} ({sid})", t.index),
            None => format!("statement {}", t.index),
        };
        let effect = match st.effect {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        };
        let status = match (st.effect, t.matched) {
            (Effect::Allow, true) | (Effect::Deny, false) => StepStatus::Passed,
            (Effect::Allow, false) | (Effect::Deny, true) => StepStatus::Failed,
        };
        let summary = match (&t.mismatch, st.effect) {
            (None, Effect::Allow) => "Allow applies".to_owned(),
            (None, Effect::Deny) => "Deny applies (explicit deny)".to_owned(),
            (Some(m), _) => format!("{effect} does not apply: {m}"),
        };
        let mut step = ExplainStep::new(label, status, summary);
        if let Some(p) = st.principals() {
            let mut parts = Vec::new();
            if p.any {
                parts.push("*".to_owned());
            }
            if !p.federated.is_empty() {
                parts.push(format!("Federated {:?}", p.federated));
            }
            if !p.aws.is_empty() {
                parts.push(format!("AWS {:?}", p.aws));
            }
            if !p.service.is_empty() {
                parts.push(format!("Service {:?}", p.service));
            }
            let not = if st.not_principal() {
                "NotPrincipal"
            } else {
                "Principal"
            };
            step = step.detail(format!(
                "{not}: {} (request: Federated {:?})",
                parts.join(", "),
                ctx.principal().arn
            ));
        }
        let act = if st.not_action() {
            "NotAction"
        } else {
            "Action"
        };
        step = step.detail(format!(
            "{act}: {:?} (request: {})",
            st.actions,
            ctx.action()
        ));
        // Conditions are only reached when principal and action matched.
        let reached = !matches!(
            t.mismatch,
            Some(Mismatch::Principal { .. } | Mismatch::Action { .. } | Mismatch::Resource { .. })
        );
        for block in &st.conditions {
            for (i, entry) in block.entries.iter().enumerate() {
                let actual = ctx
                    .get(&entry.key)
                    .map(|v| v.iter().map(str::to_owned).collect::<Vec<_>>());
                let (status, verdict) = if !reached {
                    (StepStatus::Skipped, "not evaluated")
                } else if condition_holds(policy, st, block, i, ctx) {
                    (StepStatus::Passed, "holds")
                } else {
                    (StepStatus::Failed, "fails")
                };
                step.steps.push(ExplainStep::new(
                    format!("{} {}", block.operator_name, entry.key),
                    status,
                    format!(
                        "{verdict}: request has {}, policy wants {}",
                        quote_values(actual),
                        quote_values(Some(entry.values.clone()))
                    ),
                ));
            }
        }
        out.push(step);
    }
    (trace.decision, out)
}

/// The request context as `key = value` lines (what conditions can see).
pub(crate) fn context_lines(ctx: &RequestContext) -> Vec<String> {
    let mut lines: Vec<String> = ctx
        .keys()
        .map(|(k, v)| {
            let values: Vec<&str> = v.iter().collect();
            if values.len() == 1 && !v.is_multi_valued() {
                format!("{k} = {:?}", values[0])
            } else {
                format!("{k} = {values:?}")
            }
        })
        .collect();
    lines.sort();
    lines
}

fn required<'p>(params: &'p Params, name: &str) -> Result<&'p str, ApiError> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| crate::model::absent_member(name))
}

/// The `ExplainWebIdentity` request, once the caller is authorized for it
/// (`irsa:ExplainWebIdentity` on the role): what AssumeRoleWithWebIdentity
/// would be asked.
pub(crate) async fn authorized_request(
    ctx: &OperationContext,
    caller: &Caller,
    params: &Params,
    info: &RequestInfo,
) -> Result<AssumeRoleWithWebIdentityRequest, ApiError> {
    let role_arn = required(params, "RoleArn")?;
    let token = required(params, "WebIdentityToken")?;
    authorize::require(
        ctx,
        caller,
        info,
        &[irsa_auth::Check::new(IAM_ACTION, role_arn)],
    )
    .await?;
    let duration_seconds = match params.get("DurationSeconds") {
        None => None,
        Some(d) => Some(d.parse::<i32>().map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidParameterValue,
                format!("Value '{d}' for DurationSeconds is not an integer."),
            )
        })?),
    };
    Ok(AssumeRoleWithWebIdentityRequest {
        role_arn: role_arn.to_owned(),
        role_session_name: params
            .get("RoleSessionName")
            .cloned()
            .unwrap_or_else(|| DEFAULT_SESSION_NAME.to_owned()),
        web_identity_token: irsa_core::SecretString::new(token.to_owned()),
        provider_id: params.get("ProviderId").cloned(),
        policy_arns: Vec::new(),
        policy: params.get("Policy").cloned(),
        duration_seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use irsa_policy::{PolicyKind, RequestPrincipal};
    use time::OffsetDateTime;

    #[test]
    fn conditions_show_actual_values_and_verdicts() {
        let policy = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/i.example"},
                "Action":"sts:AssumeRoleWithWebIdentity",
                "Condition":{"StringEquals":{"i.example:aud":"sts.amazonaws.com","i.example:sub":"system:serviceaccount:default:app"}}}]}"#,
            PolicyKind::Trust,
        )
        .unwrap();
        let ctx = RequestContext::new(
            RequestPrincipal::web_identity(
                "arn:aws:iam::123456789012:oidc-provider/i.example",
                "123456789012",
            ),
            "sts:AssumeRoleWithWebIdentity",
            "arn:aws:iam::123456789012:role/app",
            OffsetDateTime::UNIX_EPOCH,
        )
        .with("i.example:aud", "sts.amazonaws.com")
        .with("i.example:sub", "system:serviceaccount:default:other");
        let (decision, steps) = trust_policy_steps(&policy, &ctx);
        assert_eq!(decision, Decision::ImplicitDeny);
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].status, StepStatus::Failed);
        let conditions = &steps[0].steps;
        assert_eq!(conditions.len(), 2);
        let aud = conditions
            .iter()
            .find(|c| c.name.ends_with(":aud"))
            .unwrap();
        assert_eq!(aud.status, StepStatus::Passed);
        let sub = conditions
            .iter()
            .find(|c| c.name.ends_with(":sub"))
            .unwrap();
        assert_eq!(sub.status, StepStatus::Failed);
        assert!(
            sub.summary.contains("system:serviceaccount:default:other"),
            "{}",
            sub.summary
        );

        let ok = ctx.with("i.example:sub", "system:serviceaccount:default:app");
        let (decision, steps) = trust_policy_steps(&policy, &ok);
        assert_eq!(decision, Decision::Allow);
        assert!(steps[0]
            .steps
            .iter()
            .all(|c| c.status == StepStatus::Passed));
    }

    #[test]
    fn explanation_round_trips_through_the_response_json() {
        let e = Explanation {
            role_arn: "arn:aws:iam::123456789012:role/app".into(),
            steps: vec![ExplainStep::failed("role", "no such role")
                .detail("d")
                .with_steps(vec![ExplainStep::passed("x", "y")])],
            outcome: Outcome::from_result::<()>(&Err(ApiError::web_identity_not_authorized())),
        };
        let body = crate::protocol::response::to_json(ACTION, Some(&e.to_node()), "rid");
        let parsed: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(Explanation::from_response_json(&parsed).unwrap(), e);
        let human = e.render_human();
        assert!(human.contains("✗ role: no such role"), "{human}");
        assert!(human.contains("AccessDenied (HTTP 403)"), "{human}");
    }
}
