//! Records the store keeps. Timestamps have whole-second precision.

use irsa_core::{SecretBytes, SecretString};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// At most this many tags on any taggable entity.
pub const MAX_TAGS: usize = 50;
/// At most this many long-term access keys per IAM user.
pub const MAX_ACCESS_KEYS_PER_USER: usize = 2;
/// At most this many versions per managed policy.
pub const MAX_POLICY_VERSIONS: usize = 5;
/// At most this many managed policies attached to one user or role.
pub const MAX_ATTACHED_POLICIES: usize = 10;
/// Default and maximum page sizes of list operations.
pub const DEFAULT_MAX_ITEMS: u32 = 100;
pub const MAX_MAX_ITEMS: u32 = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

impl Tag {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// Paging and filtering for list operations.
///
/// Results are ordered by name, case-insensitively (ties by exact name).
/// `marker` is the opaque value a previous [`Page::marker`] returned; the page
/// starts after it. `max_items` defaults to 100 and is capped at 1000. The API
/// layer passes AWS `Marker`/`MaxItems` straight through and sets
/// `IsTruncated` to `page.marker.is_some()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Only entities whose path starts with this (e.g. `/division/`).
    pub path_prefix: Option<String>,
    pub marker: Option<String>,
    pub max_items: Option<u32>,
}

impl ListQuery {
    pub fn all() -> Self {
        Self::default()
    }

    pub(crate) fn limit(&self) -> u32 {
        self.max_items
            .unwrap_or(DEFAULT_MAX_ITEMS)
            .clamp(1, MAX_MAX_ITEMS)
    }
}

/// One page of a list; `marker` is `Some` when more items follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub marker: Option<String>,
}

impl<T> Page<T> {
    pub fn is_truncated(&self) -> bool {
        self.marker.is_some()
    }

    /// The same page with every item converted.
    #[must_use]
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            marker: self.marker,
        }
    }
}

// ---------------------------------------------------------------- users

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub path: String,
    /// `AIDA…`
    pub id: String,
    pub arn: String,
    pub create_date: OffsetDateTime,
    pub tags: Vec<Tag>,
    pub permissions_boundary: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub name: String,
    /// `/` when the caller gave none.
    pub path: String,
    pub tags: Vec<Tag>,
    pub permissions_boundary: Option<String>,
}

impl NewUser {
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            path: "/".to_owned(),
            tags: Vec::new(),
            permissions_boundary: None,
        }
    }
}

/// IAM UpdateUser: rename and/or move.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    pub new_name: Option<String>,
    pub new_path: Option<String>,
}

// ---------------------------------------------------------- access keys

/// Who an access key belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyOwner {
    /// The account root (`arn:aws:iam::ACCT:root`).
    Root,
    /// An IAM user, by name.
    User(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessKeyStatus {
    Active,
    Inactive,
}

impl AccessKeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessKeyStatus::Active => "Active",
            AccessKeyStatus::Inactive => "Inactive",
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        if s == "Active" {
            AccessKeyStatus::Active
        } else {
            AccessKeyStatus::Inactive
        }
    }
}

/// When and where a credential was last used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastUsed {
    pub date: OffsetDateTime,
    pub service: Option<String>,
    pub region: Option<String>,
}

/// An access key without its secret (what listings return).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// `AKIA…`
    pub id: String,
    pub owner: KeyOwner,
    pub status: AccessKeyStatus,
    pub create_date: OffsetDateTime,
    pub last_used: Option<LastUsed>,
}

/// An access key with its secret, decrypted (CreateAccessKey, SigV4 lookup).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyWithSecret {
    pub key: AccessKey,
    pub secret: SecretString,
}

/// Input of [`crate::Store::create_access_key`]. With `id`/`secret` unset the
/// store generates them; the server sets both to import the root key from
/// `IRSA_ROOT_ACCESS_KEY_ID`/`IRSA_ROOT_SECRET_ACCESS_KEY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccessKey {
    pub owner: KeyOwner,
    pub id: Option<String>,
    pub secret: Option<SecretString>,
    pub status: AccessKeyStatus,
}

impl NewAccessKey {
    pub fn for_user(name: impl Into<String>) -> Self {
        Self {
            owner: KeyOwner::User(name.into()),
            id: None,
            secret: None,
            status: AccessKeyStatus::Active,
        }
    }

    pub fn for_root() -> Self {
        Self {
            owner: KeyOwner::Root,
            id: None,
            secret: None,
            status: AccessKeyStatus::Active,
        }
    }
}

// ---------------------------------------------------------------- roles

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleLastUsed {
    pub date: OffsetDateTime,
    pub region: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub name: String,
    pub path: String,
    /// `AROA…`
    pub id: String,
    pub arn: String,
    /// The trust policy document, as given (not URL-encoded).
    pub assume_role_policy_document: String,
    /// Seconds, 3600–43200.
    pub max_session_duration: u32,
    pub description: Option<String>,
    pub permissions_boundary: Option<String>,
    pub tags: Vec<Tag>,
    pub create_date: OffsetDateTime,
    pub last_used: Option<RoleLastUsed>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRole {
    pub name: String,
    pub path: String,
    pub assume_role_policy_document: String,
    pub max_session_duration: u32,
    pub description: Option<String>,
    pub permissions_boundary: Option<String>,
    pub tags: Vec<Tag>,
}

impl NewRole {
    pub fn new(name: impl Into<String>, trust_policy: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            path: "/".to_owned(),
            assume_role_policy_document: trust_policy.into(),
            max_session_duration: 3600,
            description: None,
            permissions_boundary: None,
            tags: Vec::new(),
        }
    }
}

/// IAM UpdateRole / UpdateRoleDescription: fields left `None` are unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleUpdate {
    pub description: Option<String>,
    pub max_session_duration: Option<u32>,
}

// ------------------------------------------------------ managed policies

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPolicy {
    pub name: String,
    pub path: String,
    /// `ANPA…`
    pub id: String,
    pub arn: String,
    pub description: Option<String>,
    pub tags: Vec<Tag>,
    pub create_date: OffsetDateTime,
    pub update_date: OffsetDateTime,
    /// `v1`, `v2`, …
    pub default_version_id: String,
    /// Users and roles it is attached to.
    pub attachment_count: u32,
    /// Users and roles that have it as their permissions boundary.
    pub permissions_boundary_usage_count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPolicy {
    pub name: String,
    pub path: String,
    pub description: Option<String>,
    pub document: String,
    pub tags: Vec<Tag>,
}

impl NewPolicy {
    pub fn new(name: impl Into<String>, document: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            path: "/".to_owned(),
            description: None,
            document: document.into(),
            tags: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    pub version_id: String,
    pub document: String,
    pub is_default: bool,
    pub create_date: OffsetDateTime,
}

/// A managed policy attached to a user or role. The ARN may be an
/// AWS-managed one (`arn:aws:iam::aws:policy/…`), which the store does not
/// keep documents for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedPolicy {
    pub policy_name: String,
    pub policy_arn: String,
}

/// How many of each entity the account has (GetAccountSummary's usage keys).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountCounts {
    pub users: u32,
    pub roles: u32,
    /// Local (customer) managed policies.
    pub policies: u32,
    pub oidc_providers: u32,
    /// Managed-policy attachments to users and roles, AWS managed policies
    /// included: each attachment keeps one policy version in use.
    pub attachments: u32,
    /// Access keys of the account's root user.
    pub root_access_keys: u32,
}

/// How many users and roles use a managed policy, each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PolicyUsage {
    /// Attached as a permissions policy (AttachmentCount).
    pub attachments: u32,
    /// Set as permissions boundary (PermissionsBoundaryUsageCount).
    pub boundaries: u32,
}

/// Who a managed policy is attached to (ListEntitiesForPolicy).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyEntities {
    /// `(name, id)` pairs, ordered by name.
    pub users: Vec<(String, String)>,
    pub roles: Vec<(String, String)>,
}

/// A kind of IAM identity that has policies, tags and a permissions
/// boundary: what inline policies and attachments belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    User,
    Role,
}

impl PrincipalKind {
    /// Every kind, in the order listings present them.
    pub const ALL: [PrincipalKind; 2] = [PrincipalKind::User, PrincipalKind::Role];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Role => "role",
        }
    }
}

/// A user or a role, for code that treats every principal kind alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    User(User),
    Role(Role),
}

impl Principal {
    pub fn kind(&self) -> PrincipalKind {
        match self {
            Principal::User(_) => PrincipalKind::User,
            Principal::Role(_) => PrincipalKind::Role,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Principal::User(u) => &u.name,
            Principal::Role(r) => &r.name,
        }
    }

    /// `AIDA…` or `AROA…`.
    pub fn id(&self) -> &str {
        match self {
            Principal::User(u) => &u.id,
            Principal::Role(r) => &r.id,
        }
    }

    pub fn arn(&self) -> &str {
        match self {
            Principal::User(u) => &u.arn,
            Principal::Role(r) => &r.arn,
        }
    }

    pub fn tags(&self) -> &[Tag] {
        match self {
            Principal::User(u) => &u.tags,
            Principal::Role(r) => &r.tags,
        }
    }

    pub fn permissions_boundary(&self) -> Option<&str> {
        match self {
            Principal::User(u) => u.permissions_boundary.as_deref(),
            Principal::Role(r) => r.permissions_boundary.as_deref(),
        }
    }
}

/// An inline policy of a user or role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlinePolicy {
    pub name: String,
    pub document: String,
}

// ------------------------------------------------------- OIDC providers

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcProvider {
    /// The URL as registered (normalised: `https://` + lowercase host + path,
    /// no trailing `/`).
    pub url: String,
    /// `arn:aws:iam::ACCT:oidc-provider/HOST/PATH`
    pub arn: String,
    pub client_ids: Vec<String>,
    pub thumbprints: Vec<String>,
    pub tags: Vec<Tag>,
    pub create_date: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOidcProvider {
    pub url: String,
    pub client_ids: Vec<String>,
    pub thumbprints: Vec<String>,
    pub tags: Vec<Tag>,
}

// -------------------------------------------------------------- key ring

/// A server key (session-token AEAD key, issuer signing key…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerKey {
    /// e.g. `session-token`, `issuer-signing`.
    pub purpose: String,
    pub key_id: String,
    /// e.g. `AES-256-GCM`, `RS256`, `ES256`.
    pub algorithm: String,
    /// Decrypted secret material (symmetric key, private key DER…).
    pub secret: SecretBytes,
    pub public: Option<Vec<u8>>,
    pub created: OffsetDateTime,
    /// Not to be used for new signatures/tokens before this.
    pub not_before: OffsetDateTime,
    /// Stop issuing with it after this (still verifies).
    pub retire_after: Option<OffsetDateTime>,
    /// Stop accepting anything made with it after this.
    pub expires: Option<OffsetDateTime>,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewServerKey {
    pub purpose: String,
    pub key_id: String,
    pub algorithm: String,
    pub secret: SecretBytes,
    pub public: Option<Vec<u8>>,
    /// `None` → now.
    pub not_before: Option<OffsetDateTime>,
    pub retire_after: Option<OffsetDateTime>,
    pub expires: Option<OffsetDateTime>,
}

/// An S3 bucket policy as stored (the document exactly as the client put it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketPolicy {
    pub bucket: String,
    pub document: String,
    /// When it was last put; lets caches tell versions apart.
    pub updated: OffsetDateTime,
}
