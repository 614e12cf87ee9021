//! SimulatePrincipalPolicy and SimulateCustomPolicy, answered from
//! irsa-policy's evaluation trace.

use std::sync::Arc;

use irsa_core::Arn;
use irsa_policy::{
    evaluate, evaluate_with_trace, ContextValues, Policy, PolicyKind as DocKind, PolicySet,
    PolicySource, RequestContext, RequestPrincipal, SizeLimit,
};

use crate::authorize::policy_error;
use crate::context::OperationContext;
use crate::error::store_error;
use crate::error::{ApiError, ErrorCode};
use crate::model::{ContextEntry, SimulateCustomPolicyRequest, SimulatePrincipalPolicyRequest};
use crate::protocol::response::Node;
use irsa_auth::Subject;

/// The resource-based policy of a simulation and the account that owns it.
struct ResourceInput {
    policy: Arc<Policy>,
    /// `ResourceOwner`'s account, else the caller's.
    owner: String,
}

/// `SourcePolicyId` of the `ResourcePolicy` parameter in `MatchedStatements`.
const RESOURCE_POLICY_ID: &str = "ResourcePolicy";

struct Inputs {
    identity: Vec<(String, Arc<Policy>)>,
    boundary: Vec<(String, Arc<Policy>)>,
    resource: Option<ResourceInput>,
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
    if id == RESOURCE_POLICY_ID {
        "resource"
    } else if id.starts_with("arn:aws:iam::aws:") {
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
    api: &OperationContext,
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
    let resource_policy = inputs
        .resource
        .as_ref()
        .map(|r| PolicySource::new(RESOURCE_POLICY_ID, &r.policy));
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
            // A resource ARN that names its account owns the resource;
            // otherwise ResourceOwner (or the caller's account) does.
            let same_account = inputs.resource.as_ref().is_none_or(|r| {
                let owner = resource
                    .parse::<Arn>()
                    .ok()
                    .map(|a| a.account().to_owned())
                    .filter(|a| !a.is_empty())
                    .unwrap_or_else(|| r.owner.clone());
                owner == inputs.principal.account
            });
            let set = PolicySet {
                identity: &identity,
                resource: resource_policy,
                same_account,
                permissions_boundary: boundary,
                ..PolicySet::default()
            };
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

fn invalid_arn(parameter: &str, value: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidInput,
        format!("Invalid ARN for parameter {parameter}: {value}"),
    )
}

/// The simulated caller of SimulateCustomPolicy: an IAM user ARN (AWS
/// accepts only those), or, as an irsa extension that lets the
/// session rules of resource policies be simulated, a role session ARN
/// (`arn:aws:sts::A:assumed-role/ROLE/SESSION`, role path `/`).
fn caller_principal(arn_text: &str) -> Result<RequestPrincipal, ApiError> {
    let arn: Arn = arn_text
        .parse()
        .map_err(|_| invalid_arn("CallerArn", arn_text))?;
    let account = arn.account();
    match (arn.service(), arn.resource_type()) {
        ("iam", "user") => Ok(RequestPrincipal::user(
            arn_text,
            account,
            arn.resource_name(),
            "",
        )),
        ("sts", "assumed-role") => {
            let (role, session) = arn
                .resource()
                .strip_prefix("assumed-role/")
                .and_then(|rest| rest.split_once('/'))
                .ok_or_else(|| invalid_arn("CallerArn", arn_text))?;
            let role_arn = format!("arn:{}:iam::{account}:role/{role}", arn.partition());
            Ok(RequestPrincipal::assumed_role(
                arn_text,
                &role_arn,
                account,
                &format!(":{session}"),
            ))
        }
        _ => Err(invalid_arn("CallerArn", arn_text)),
    }
}

/// `ResourceOwner` is an account ARN (`arn:aws:iam::ACCOUNT:root`).
fn resource_owner(text: &str) -> Result<String, ApiError> {
    let arn: Arn = text
        .parse()
        .map_err(|_| invalid_arn("ResourceOwner", text))?;
    let account = arn.account();
    if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) {
        Ok(account.to_owned())
    } else {
        Err(invalid_arn("ResourceOwner", text))
    }
}

pub(crate) fn custom(
    api: &OperationContext,
    r: &SimulateCustomPolicyRequest,
) -> Result<Node, ApiError> {
    let identity = parse_inputs(&r.policy_input_list, "PolicyInputList", DocKind::Identity)?;
    let boundary = parse_inputs(
        &r.permissions_boundary_policy_input_list,
        "PermissionsBoundaryPolicyInputList",
        DocKind::PermissionsBoundary,
    )?;
    let account = api.account().as_str();
    let principal = match &r.caller_arn {
        Some(arn) => caller_principal(arn)?,
        None if r.resource_policy.is_some() => {
            // IAM: "CallerArn is required if you include a ResourcePolicy so
            // that the policy's Principal element has a value to use in
            // evaluating the policy."
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                "CallerArn is required when ResourcePolicy is specified.",
            ));
        }
        None => RequestPrincipal::root(account),
    };
    let resource = match &r.resource_policy {
        Some(text) => {
            let policy = Policy::parse_with_limit(text, DocKind::Resource, SizeLimit::Unlimited)
                .map_err(|e| policy_error(&e, false))?;
            let owner = match &r.resource_owner {
                Some(owner) => resource_owner(owner)?,
                None => principal.account.clone(),
            };
            Some(ResourceInput {
                policy: Arc::new(policy),
                owner,
            })
        }
        None => None,
    };
    let inputs = Inputs {
        identity,
        boundary,
        resource,
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
    api: &OperationContext,
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
    let (subject, principal, entity_type) = match arn.resource_type() {
        "user" => {
            let u = api.store().get_user(&name).await.map_err(store_error)?;
            (
                Subject::User {
                    name: u.name.clone(),
                },
                RequestPrincipal::user(&u.arn, &account, &u.name, &u.id),
                "user",
            )
        }
        "role" => {
            let role = api.store().get_role(&name).await.map_err(store_error)?;
            (
                Subject::Role {
                    name: role.name.clone(),
                    id: Some(role.id.clone()),
                },
                RequestPrincipal::assumed_role(&role.arn, &role.arn, &account, &role.id),
                "role",
            )
        }
        _ => return Err(invalid()),
    };
    let loaded = api.authorizer().subject_policies(&subject).await?;
    let mut identity = loaded.identity.clone();
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
        boundary.extend(loaded.boundary.clone());
    }
    let inputs = Inputs {
        identity,
        boundary,
        resource: None,
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
