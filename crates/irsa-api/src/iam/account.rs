//! IAM operations about the whole account: GetAccountSummary and
//! GetAccountAuthorizationDetails.

use irsa_store::{PolicyListFilter, PrincipalKind};

use super::principals::attached_node;
use super::{all_pages, policy_fields, role_node, user_node, version_node, RoleShape, UserShape};
use crate::context::OperationContext;
use crate::error::store_error;
use crate::error::ApiError;
use crate::protocol::response::{encode_policy_document, Node};

/// AWS's default quotas for what irsa counts but does not limit.
const USERS_QUOTA: u64 = 5000;
const GROUPS_QUOTA: u64 = 300;
const ROLES_QUOTA: u64 = 1000;
const POLICIES_QUOTA: u64 = 1500;
const INSTANCE_PROFILES_QUOTA: u64 = 1000;
const SERVER_CERTIFICATES_QUOTA: u64 = 20;
const POLICY_VERSIONS_IN_USE_QUOTA: u64 = 10_000;
const SIGNING_CERTIFICATES_PER_USER_QUOTA: u64 = 2;
const GROUPS_PER_USER_QUOTA: u64 = 10;
const GROUP_POLICY_SIZE_QUOTA: u64 = 5120;
/// Version 1 tokens (valid in default-enabled regions only) are what the
/// global endpoint issues unless the account asks for version 2.
const GLOBAL_ENDPOINT_TOKEN_VERSION: u64 = 1;

/// A count or limit as a summary value.
fn value(n: impl TryInto<u64>) -> u64 {
    n.try_into().unwrap_or(u64::MAX)
}

/// GetAccountSummary: every key of botocore's `summaryKeyType`, usage
/// counts next to quotas. A quota irsa enforces is the enforcing constant
/// itself; the rest are AWS's defaults. Groups, instance profiles, server
/// and signing certificates, MFA devices and passwords do not exist in
/// irsa, so their counts are 0.
pub(super) async fn summary(api: &OperationContext) -> Result<Node, ApiError> {
    use irsa_policy::limits;
    let counts = api.store().account_counts().await.map_err(store_error)?;
    let entries: [(&str, u64); 34] = [
        ("Users", value(counts.users)),
        ("UsersQuota", USERS_QUOTA),
        ("Groups", 0),
        ("GroupsQuota", GROUPS_QUOTA),
        ("ServerCertificates", 0),
        ("ServerCertificatesQuota", SERVER_CERTIFICATES_QUOTA),
        ("UserPolicySizeQuota", value(limits::INLINE_USER_POLICIES)),
        ("GroupPolicySizeQuota", GROUP_POLICY_SIZE_QUOTA),
        ("GroupsPerUserQuota", GROUPS_PER_USER_QUOTA),
        (
            "SigningCertificatesPerUserQuota",
            SIGNING_CERTIFICATES_PER_USER_QUOTA,
        ),
        (
            "AccessKeysPerUserQuota",
            value(irsa_store::MAX_ACCESS_KEYS_PER_USER),
        ),
        ("MFADevices", 0),
        ("MFADevicesInUse", 0),
        ("AccountMFAEnabled", 0),
        (
            "AccountAccessKeysPresent",
            u64::from(counts.root_access_keys > 0),
        ),
        ("AccountPasswordPresent", 0),
        ("AccountSigningCertificatesPresent", 0),
        (
            "AttachedPoliciesPerGroupQuota",
            value(irsa_store::MAX_ATTACHED_POLICIES),
        ),
        (
            "AttachedPoliciesPerRoleQuota",
            value(irsa_store::MAX_ATTACHED_POLICIES),
        ),
        (
            "AttachedPoliciesPerUserQuota",
            value(irsa_store::MAX_ATTACHED_POLICIES),
        ),
        ("Policies", value(counts.policies)),
        ("PoliciesQuota", POLICIES_QUOTA),
        ("PolicySizeQuota", value(limits::MANAGED_POLICY)),
        ("PolicyVersionsInUse", value(counts.attachments)),
        ("PolicyVersionsInUseQuota", POLICY_VERSIONS_IN_USE_QUOTA),
        (
            "VersionsPerPolicyQuota",
            value(irsa_store::MAX_POLICY_VERSIONS),
        ),
        ("GlobalEndpointTokenVersion", GLOBAL_ENDPOINT_TOKEN_VERSION),
        (
            "AssumeRolePolicySizeQuota",
            value(limits::ROLE_TRUST_POLICY),
        ),
        ("InstanceProfiles", 0),
        ("InstanceProfilesQuota", INSTANCE_PROFILES_QUOTA),
        ("Providers", value(counts.oidc_providers)),
        ("RolePolicySizeQuota", value(limits::INLINE_ROLE_POLICIES)),
        ("Roles", value(counts.roles)),
        ("RolesQuota", ROLES_QUOTA),
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
    api: &OperationContext,
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
    api: &OperationContext,
    filter: &[String],
) -> Result<Node, ApiError> {
    let want = |f: &str| filter.is_empty() || filter.iter().any(|x| x == f);
    let st = api.store();
    let mut users = Vec::new();
    if want("User") {
        for u in all_pages(|q| async move { st.list_users(&q).await }).await? {
            let (inline, attached) = principal_policies(api, PrincipalKind::User, &u.name).await?;
            users.push(
                user_node(&u, UserShape::Full)
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
