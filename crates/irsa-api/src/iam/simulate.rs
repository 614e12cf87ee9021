//! SimulatePrincipalPolicy and SimulateCustomPolicy, answered from
//! irsa-policy's evaluation trace.

use std::sync::Arc;

use irsa_core::Arn;
use irsa_policy::{
    evaluate, evaluate_with_trace, ContextValues, Policy, PolicyKind as DocKind, PolicySet,
    PolicySource, RequestContext, RequestPrincipal, SizeLimit,
};

use crate::auth::{Caller, CallerKind};
use crate::authorize::{load_policies, policy_error};
use crate::error::{ApiError, ErrorCode};
use crate::model::{ContextEntry, SimulateCustomPolicyRequest, SimulatePrincipalPolicyRequest};
use crate::protocol::response::Node;
use crate::service::{store_error, AwsApi};

struct Inputs {
    identity: Vec<(String, Arc<Policy>)>,
    boundary: Vec<(String, Arc<Policy>)>,
    principal: RequestPrincipal,
    /// Source id → `SourcePolicyType`.
    entity_type: &'static str,
}

fn parse_inputs(
    list: &[String],
    prefix: &str,
    kind: DocKind,
) -> Result<Vec<(String, Arc<Policy>)>, ApiError> {
    list.iter()
        .enumerate()
        .map(|(i, text)| {
            Policy::parse_with_limit(text, kind, SizeLimit::Unlimited)
                .map(|p| (format!("{prefix}.{}", i + 1), Arc::new(p)))
                .map_err(|e| policy_error(&e, false))
        })
        .collect()
}

fn source_type(id: &str, entity_type: &'static str) -> &'static str {
    if id.starts_with("arn:aws:iam::aws:") {
        "aws-managed"
    } else if id.starts_with("arn:") {
        "user-managed"
    } else if id.starts_with("PolicyInputList") || id.starts_with("PermissionsBoundary") {
        "none"
    } else {
        entity_type
    }
}

fn apply_context(ctx: &mut RequestContext, entries: &[ContextEntry]) {
    for e in entries {
        let Some(name) = &e.context_key_name else {
            continue;
        };
        let multi = e
            .context_key_type
            .as_deref()
            .is_some_and(|t| t.ends_with("List"));
        let values = if multi || e.context_key_values.len() > 1 {
            ContextValues::multi(e.context_key_values.clone())
        } else {
            match e.context_key_values.first() {
                Some(v) => ContextValues::single(v.clone()),
                None => continue,
            }
        };
        ctx.insert(name, values);
    }
}

fn simulate(
    api: &AwsApi,
    inputs: &Inputs,
    actions: &[String],
    resources: &[String],
    context: &[ContextEntry],
) -> Node {
    let identity: Vec<PolicySource<'_>> = inputs
        .identity
        .iter()
        .map(|(id, p)| PolicySource::new(id, p))
        .collect();
    let boundary = inputs
        .boundary
        .first()
        .map(|(id, p)| PolicySource::new(id, p));
    let set = PolicySet {
        identity: &identity,
        permissions_boundary: boundary,
        ..PolicySet::default()
    };
    let default_resources = ["*".to_owned()];
    let resources = if resources.is_empty() {
        &default_resources[..]
    } else {
        resources
    };
    let mut results = Vec::new();
    for action in actions {
        for resource in resources {
            let mut ctx =
                RequestContext::new(inputs.principal.clone(), action, resource, api.now());
            apply_context(&mut ctx, context);
            let trace = evaluate_with_trace(&ctx, &set);
            let matched = trace.matched_statements.iter().map(|s| {
                Node::object().with("SourcePolicyId", &s.source_id).with(
                    "SourcePolicyType",
                    source_type(&s.source_id, inputs.entity_type),
                )
            });
            let mut node = Node::object()
                .with("EvalActionName", action)
                .with("EvalResourceName", resource)
                .with("EvalDecision", trace.decision.as_simulate_str())
                .with("MatchedStatements", Node::list(matched))
                .with(
                    "MissingContextValues",
                    Node::list(trace.missing_context_keys.iter()),
                );
            if let Some(b) = boundary {
                let only = [b];
                let allowed = evaluate(&ctx, &PolicySet::identity(&only)).is_allowed();
                node = node.with(
                    "PermissionsBoundaryDecisionDetail",
                    Node::object().with("AllowedByPermissionsBoundary", allowed),
                );
            }
            results.push(node);
        }
    }
    Node::object()
        .with("EvaluationResults", Node::List(results))
        .with("IsTruncated", false)
}

pub(crate) fn custom(api: &AwsApi, r: &SimulateCustomPolicyRequest) -> Result<Node, ApiError> {
    let identity = parse_inputs(&r.policy_input_list, "PolicyInputList", DocKind::Identity)?;
    let boundary = parse_inputs(
        &r.permissions_boundary_policy_input_list,
        "PermissionsBoundaryPolicyInputList",
        DocKind::PermissionsBoundary,
    )?;
    let account = api.account().as_str();
    let principal = match &r.caller_arn {
        Some(arn) => {
            let name = arn
                .parse::<Arn>()
                .map(|a| a.resource_name().to_owned())
                .unwrap_or_default();
            RequestPrincipal::user(arn, account, &name, "")
        }
        None => RequestPrincipal::root(account),
    };
    let inputs = Inputs {
        identity,
        boundary,
        principal,
        entity_type: "none",
    };
    Ok(simulate(
        api,
        &inputs,
        &r.action_names,
        &r.resource_arns,
        &r.context_entries,
    ))
}

pub(crate) async fn principal(
    api: &AwsApi,
    r: &SimulatePrincipalPolicyRequest,
) -> Result<Node, ApiError> {
    let invalid = || {
        ApiError::new(
            ErrorCode::InvalidInput,
            format!(
                "Invalid ARN for parameter PolicySourceArn: {}",
                r.policy_source_arn
            ),
        )
    };
    let arn: Arn = r.policy_source_arn.parse().map_err(|_| invalid())?;
    let account = api.account().as_str().to_owned();
    if arn.account() != account {
        return Err(invalid());
    }
    let name = arn.resource_name().to_owned();
    let (kind, principal, entity_type) = match arn.resource_type() {
        "user" => {
            let u = api.store().get_user(&name).await.map_err(store_error)?;
            (
                CallerKind::User {
                    name: u.name.clone(),
                    id: u.id.clone(),
                    arn: u.arn.clone(),
                },
                RequestPrincipal::user(&u.arn, &account, &u.name, &u.id),
                "user",
            )
        }
        "role" => {
            let role = api.store().get_role(&name).await.map_err(store_error)?;
            (
                CallerKind::RoleSession {
                    role_name: role.name.clone(),
                    role_arn: role.arn.clone(),
                    role_id: role.id.clone(),
                    session_name: "simulation".to_owned(),
                },
                RequestPrincipal::assumed_role(&role.arn, &role.arn, &account, &role.id),
                "role",
            )
        }
        _ => return Err(invalid()),
    };
    let caller = Caller {
        kind,
        account: account.clone(),
        access_key_id: String::new(),
        session: None,
        region: "us-east-1".to_owned(),
    };
    let loaded = load_policies(api, &caller).await?;
    let mut identity = loaded.identity;
    identity.extend(parse_inputs(
        &r.policy_input_list,
        "PolicyInputList",
        DocKind::Identity,
    )?);
    let mut boundary = parse_inputs(
        &r.permissions_boundary_policy_input_list,
        "PermissionsBoundaryPolicyInputList",
        DocKind::PermissionsBoundary,
    )?;
    if boundary.is_empty() {
        boundary.extend(loaded.boundary);
    }
    let inputs = Inputs {
        identity,
        boundary,
        principal,
        entity_type,
    };
    Ok(simulate(
        api,
        &inputs,
        &r.action_names,
        &r.resource_arns,
        &r.context_entries,
    ))
}
