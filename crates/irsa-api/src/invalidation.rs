//! What a successful STS/IAM action can have made stale in this process's
//! authentication and authorization caches, from one table ([`effects`]):
//! only that is dropped, so a write does not cost every other principal a
//! reload. Other replicas see the change within the caches' TTLs.
//!
//! Every operation of the model has a row (a test checks it, and that the
//! parameters a row names are members of its operation), so a new write
//! action cannot be forgotten.

use irsa_auth::{Authenticator, Authorizer};
use irsa_core::{AccountId, Arn};
use irsa_store::PrincipalKind;

use crate::protocol::query::Params;

/// One thing an action can change, with the request parameter naming it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// The inline policies, attachments, boundary, tags or existence of the
    /// user or role named by the parameter (creation too: a name may have a
    /// cached absence, e.g. from a session of a deleted namesake).
    Subject(PrincipalKind, &'static str),
    /// The long-term keys of the user named by the parameter (renamed or
    /// deleted: the cached keys carry the old name).
    UserKeys(&'static str),
    /// The access key named by `AccessKeyId` (status changed, deleted).
    AccessKey,
    /// The managed policy named by `PolicyArn`: its default document, and
    /// so every entity attaching it or bounded by it.
    ManagedPolicy,
    /// The managed policy `CreatePolicy` made (`Path` + `PolicyName`): a
    /// cached absence of that ARN.
    CreatedPolicy,
}

use Effect::{AccessKey, CreatedPolicy, ManagedPolicy, Subject, UserKeys};
use PrincipalKind::{Role, User};

const NONE: &[Effect] = &[];
const USER: &[Effect] = &[Subject(User, "UserName")];
const ROLE: &[Effect] = &[Subject(Role, "RoleName")];
const POLICY: &[Effect] = &[ManagedPolicy];

/// The caches an action can have made stale; `None` for an action that
/// is not an operation of the model.
// Rows are grouped by entity for reading, so several arms say the same.
#[allow(clippy::match_same_arms)]
pub(crate) fn effects(action: &str) -> Option<&'static [Effect]> {
    Some(match action {
        // STS: sessions are sealed in their tokens; nothing stored changes.
        "GetCallerIdentity"
        | "AssumeRole"
        | "AssumeRoleWithWebIdentity"
        | "GetSessionToken"
        | "GetAccessKeyInfo"
        | "DecodeAuthorizationMessage"
        | "GetWebIdentityToken" => NONE,
        // Reads.
        "GetUser"
        | "ListUsers"
        | "ListUserTags"
        | "ListAccessKeys"
        | "GetAccessKeyLastUsed"
        | "GetUserPolicy"
        | "ListUserPolicies"
        | "GetRole"
        | "ListRoles"
        | "GetRolePolicy"
        | "ListRolePolicies"
        | "ListRoleTags"
        | "GetPolicy"
        | "ListPolicies"
        | "GetPolicyVersion"
        | "ListPolicyVersions"
        | "ListPolicyTags"
        | "ListEntitiesForPolicy"
        | "ListAttachedRolePolicies"
        | "ListAttachedUserPolicies"
        | "GetOpenIDConnectProvider"
        | "ListOpenIDConnectProviders"
        | "ListOpenIDConnectProviderTags"
        | "SimulatePrincipalPolicy"
        | "SimulateCustomPolicy"
        | "GetAccountSummary"
        | "GetAccountAuthorizationDetails"
        | "GetOutboundWebIdentityFederationInfo" => NONE,
        // Users.
        "CreateUser"
        | "TagUser"
        | "UntagUser"
        | "PutUserPolicy"
        | "DeleteUserPolicy"
        | "AttachUserPolicy"
        | "DetachUserPolicy"
        | "PutUserPermissionsBoundary"
        | "DeleteUserPermissionsBoundary" => USER,
        "UpdateUser" => &[
            Subject(User, "UserName"),
            Subject(User, "NewUserName"),
            UserKeys("UserName"),
        ],
        "DeleteUser" => &[Subject(User, "UserName"), UserKeys("UserName")],
        // A new key has no cached entry (its id was never seen).
        "CreateAccessKey" => NONE,
        "UpdateAccessKey" | "DeleteAccessKey" => &[AccessKey],
        // Roles. The trust policy, description and session duration are
        // not authorization state of the role's own calls; the lookup
        // cache (AssumeRole*) is dropped by `LookupCache::after_write`.
        "CreateRole"
        | "DeleteRole"
        | "PutRolePolicy"
        | "DeleteRolePolicy"
        | "TagRole"
        | "UntagRole"
        | "AttachRolePolicy"
        | "DetachRolePolicy"
        | "PutRolePermissionsBoundary"
        | "DeleteRolePermissionsBoundary" => ROLE,
        "UpdateRole" | "UpdateRoleDescription" | "UpdateAssumeRolePolicy" => NONE,
        // Managed policies.
        "CreatePolicy" => &[CreatedPolicy],
        "DeletePolicy"
        | "CreatePolicyVersion"
        | "SetDefaultPolicyVersion"
        | "DeletePolicyVersion"
        | "TagPolicy"
        | "UntagPolicy" => POLICY,
        // OIDC providers and outbound federation: no authentication or
        // authorization cache holds them (the lookup cache's providers
        // are dropped by `LookupCache::after_write`).
        "CreateOpenIDConnectProvider"
        | "DeleteOpenIDConnectProvider"
        | "AddClientIDToOpenIDConnectProvider"
        | "RemoveClientIDFromOpenIDConnectProvider"
        | "UpdateOpenIDConnectProviderThumbprint"
        | "TagOpenIDConnectProvider"
        | "UntagOpenIDConnectProvider"
        | "EnableOutboundWebIdentityFederation"
        | "DisableOutboundWebIdentityFederation" => NONE,
        _ => return None,
    })
}

/// Drops what a successful `action` with `params` can have made stale.
pub(crate) fn after_write(
    action: &str,
    params: &Params,
    account: &AccountId,
    authorizer: &Authorizer,
    authenticator: &Authenticator,
) {
    let Some(effects) = effects(action) else {
        // Only model operations get here (irsa's own actions return
        // earlier); the coverage test keeps this unreachable.
        tracing::warn!(action, "action has no cache invalidation row");
        return;
    };
    for effect in effects {
        match *effect {
            Subject(kind, param) => {
                if let Some(name) = params.get(param) {
                    authorizer.invalidate_subject(kind, name);
                }
            }
            UserKeys(param) => {
                if let Some(name) = params.get(param) {
                    authenticator.invalidate_user(name);
                }
            }
            AccessKey => {
                if let Some(key_id) = params.get("AccessKeyId") {
                    authenticator.invalidate_access_key(key_id);
                }
            }
            ManagedPolicy => {
                if let Some(arn) = params.get("PolicyArn") {
                    authorizer.invalidate_managed(arn);
                }
            }
            CreatedPolicy => {
                if let Some(name) = params.get("PolicyName") {
                    let path = params.get("Path").map_or("/", String::as_str);
                    authorizer
                        .invalidate_managed(&Arn::iam_policy(account, path, name).to_string());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookups::is_read_only;
    use crate::model::OPERATIONS;

    /// The parameters an effect reads.
    fn params_of(effect: Effect) -> Vec<&'static str> {
        match effect {
            Subject(_, p) | UserKeys(p) => vec![p],
            AccessKey => vec!["AccessKeyId"],
            ManagedPolicy => vec!["PolicyArn"],
            CreatedPolicy => vec!["PolicyName", "Path"],
        }
    }

    #[test]
    fn every_operation_has_a_row_naming_its_own_parameters() {
        for op in OPERATIONS {
            let effects =
                effects(op.name).unwrap_or_else(|| panic!("{} has no invalidation row", op.name));
            for effect in effects {
                for param in params_of(*effect) {
                    assert!(
                        op.input.iter().any(|m| m.name == param),
                        "{}: {effect:?} reads {param}, not a member of the operation",
                        op.name
                    );
                }
            }
            if is_read_only(op.name) {
                assert!(
                    effects.is_empty(),
                    "read {} invalidates {effects:?}",
                    op.name
                );
            }
        }
        assert_eq!(effects("ExplainWebIdentity"), None);
    }

    #[test]
    fn writes_to_principals_and_policies_name_what_they_change() {
        for action in [
            "PutUserPolicy",
            "AttachUserPolicy",
            "PutUserPermissionsBoundary",
            "TagUser",
        ] {
            assert_eq!(effects(action), Some(USER), "{action}");
        }
        for action in [
            "PutRolePolicy",
            "DetachRolePolicy",
            "DeleteRolePermissionsBoundary",
        ] {
            assert_eq!(effects(action), Some(ROLE), "{action}");
        }
        for action in [
            "CreatePolicyVersion",
            "SetDefaultPolicyVersion",
            "DeletePolicy",
        ] {
            assert_eq!(effects(action), Some(POLICY), "{action}");
        }
        assert_eq!(effects("AssumeRole"), Some(NONE));
    }
}
