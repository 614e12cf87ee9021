//! IAM operations about the whole account: GetAccountSummary and
//! GetAccountAuthorizationDetails.

use irsa_store::{PolicyListFilter, PrincipalKind};

use super::principals::attached_node;
use super::{all_pages, policy_fields, role_node, user_node, version_node, RoleShape};
use crate::error::ApiError;
use crate::protocol::response::{encode_policy_document, Node};
use crate::service::{store_error, AwsApi};

/// GetAccountSummary: entity counts (every page of every listing) and the
/// quotas irsa enforces.
pub(super) async fn summary(api: &AwsApi) -> Result<Node, ApiError> {
    let st = api.store();
    let users = all_pages(|q| async move { st.list_users(&q).await })
        .await?
        .len();
    let roles = all_pages(|q| async move { st.list_roles(&q).await })
        .await?
        .len();
    let policies = all_pages(|q| async move { st.list_policies(&q, PolicyListFilter::All).await })
        .await?
        .len();
    let providers = st.list_oidc_providers().await.map_err(store_error)?.len();
    let entries: [(&str, usize); 9] = [
        ("Users", users),
        ("UsersQuota", 5000),
        ("Roles", roles),
        ("RolesQuota", 1000),
        ("Policies", policies),
        ("PoliciesQuota", 1500),
        (
            "AccessKeysPerUserQuota",
            irsa_store::MAX_ACCESS_KEYS_PER_USER,
        ),
        (
            "AttachedPoliciesPerRoleQuota",
            irsa_store::MAX_ATTACHED_POLICIES,
        ),
        ("Providers", providers),
    ];
    // An XML map: <entry><key>…</key><value>…</value></entry>.
    let map = Node::Struct(
        entries
            .iter()
            .map(|(k, v)| {
                (
                    "entry".to_owned(),
                    Node::object()
                        .with("key", *k)
                        .with("value", i64::try_from(*v).unwrap_or(i64::MAX)),
                )
            })
            .collect(),
    );
    Ok(Node::object().with("SummaryMap", map))
}

/// A principal's inline policies (with documents) and attached policies.
async fn principal_policies(
    api: &AwsApi,
    kind: PrincipalKind,
    name: &str,
) -> Result<(Node, Node), ApiError> {
    let st = api.store();
    let mut inline = Vec::new();
    for policy_name in st
        .list_inline_policies(kind, name)
        .await
        .map_err(store_error)?
    {
        let p = st
            .get_inline_policy(kind, name, &policy_name)
            .await
            .map_err(store_error)?;
        inline.push(
            Node::object()
                .with("PolicyName", p.name)
                .with("PolicyDocument", encode_policy_document(&p.document)),
        );
    }
    let attached = st
        .list_attached_policies(kind, name, None)
        .await
        .map_err(store_error)?
        .iter()
        .map(attached_node)
        .collect();
    Ok((Node::List(inline), Node::List(attached)))
}

/// GetAccountAuthorizationDetails: users, roles and local managed policies
/// with their documents, in one (untruncated) answer.
pub(super) async fn authorization_details(
    api: &AwsApi,
    filter: &[String],
) -> Result<Node, ApiError> {
    let want = |f: &str| filter.is_empty() || filter.iter().any(|x| x == f);
    let st = api.store();
    let mut users = Vec::new();
    if want("User") {
        for u in all_pages(|q| async move { st.list_users(&q).await }).await? {
            let (inline, attached) = principal_policies(api, PrincipalKind::User, &u.name).await?;
            users.push(
                user_node(&u)
                    .with("UserPolicyList", inline)
                    .with("GroupList", Node::List(Vec::new()))
                    .with("AttachedManagedPolicies", attached),
            );
        }
    }
    let mut roles = Vec::new();
    if want("Role") {
        for r in all_pages(|q| async move { st.list_roles(&q).await }).await? {
            let (inline, attached) = principal_policies(api, PrincipalKind::Role, &r.name).await?;
            roles.push(
                role_node(&r, RoleShape::Detail)
                    .with("InstanceProfileList", Node::List(Vec::new()))
                    .with("RolePolicyList", inline)
                    .with("AttachedManagedPolicies", attached),
            );
        }
    }
    let mut policies = Vec::new();
    if want("LocalManagedPolicy") {
        for p in
            all_pages(|q| async move { st.list_policies(&q, PolicyListFilter::All).await }).await?
        {
            let versions = st
                .list_policy_versions(&p.arn)
                .await
                .map_err(store_error)?
                .iter()
                .map(|v| version_node(v, true))
                .collect();
            policies.push(policy_fields(&p).with("PolicyVersionList", Node::List(versions)));
        }
    }
    Ok(Node::object()
        .with("UserDetailList", Node::List(users))
        .with("GroupDetailList", Node::List(Vec::new()))
        .with("RoleDetailList", Node::List(roles))
        .with("Policies", Node::List(policies))
        .with("IsTruncated", false))
}
