//! Durable storage for irsa: the [`Store`] trait and its SQLite / PostgreSQL
//! backends (sqlx, embedded migrations), with secrets sealed at rest under a
//! [`MasterKey`].
//!
//! Entry points: [`load_master_key`] (or [`MasterKey::from_base64`]), then
//! [`open`] with a [`StoreConfig`], giving an `Arc<dyn Store>`.
//!
//! IAM semantics that need atomicity live here: names are unique
//! case-insensitively, every mutation is one transaction, and mutations are
//! serialised (SQLite `BEGIN IMMEDIATE`; PostgreSQL a row lock on
//! `store_lock`), so limits hold under concurrency and concurrent creates of
//! one name have exactly one winner.

mod crypto;
mod error;
pub mod key_ring;
mod model;
mod sql;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use irsa_core::{AccountId, SharedClock};

pub use crypto::{
    load_master_key, master_key_from_env, MasterKey, MasterKeySource, MASTER_KEY_ENV,
    MASTER_KEY_FILE, MASTER_KEY_LEN,
};
pub use error::{Entity, StoreError};
pub use model::*;
pub use sql::normalize_provider_url;

/// File name of the embedded SQLite database inside the data directory.
pub const SQLITE_FILE: &str = "irsa.db";

/// Which managed policies `list_policies` keeps: ListPolicies'
/// `OnlyAttached` and `PolicyUsageFilter` folded into one choice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PolicyListFilter {
    /// Every policy.
    #[default]
    All,
    /// Attached to at least one user or role (as a permissions policy).
    Attached,
    /// Set as the permissions boundary of at least one user or role.
    UsedAsBoundary,
}

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How to open a store.
#[derive(Clone)]
pub struct StoreConfig {
    /// `None` → SQLite at `<data_dir>/irsa.db`; `postgres://…` → PostgreSQL;
    /// `sqlite://PATH` → SQLite at PATH.
    pub database_url: Option<String>,
    pub data_dir: PathBuf,
    pub master_key: MasterKey,
    /// The account whose ARNs the store builds (users, roles, policies,
    /// OIDC providers).
    pub account_id: AccountId,
    /// Source of every timestamp the store writes.
    pub clock: SharedClock,
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreConfig")
            .field(
                "database_url",
                &self.database_url.as_deref().map(sql::redact_url),
            )
            .field("data_dir", &self.data_dir)
            .field("master_key", &self.master_key)
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

/// Opens (creating if needed) the store, applies migrations and checks the
/// master key against the data. Errors are one line each, saying what to fix.
pub async fn open(config: StoreConfig) -> Result<Arc<dyn Store>, StoreError> {
    let store = sql::SqlStore::open(config).await?;
    Ok(Arc::new(store))
}

type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything the server keeps. All methods are safe to call concurrently
/// from many tasks and many replicas (PostgreSQL).
///
/// Names (users, roles, managed policies, inline policies) are matched
/// case-insensitively; the case given at creation is kept for display.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    fn backend(&self) -> Backend;
    fn account_id(&self) -> &AccountId;
    /// The clock that stamps what the store writes; decisions about stored
    /// timestamps (which key may sign now) read the same clock.
    fn clock(&self) -> &SharedClock;
    /// Readiness: the database answers and the migrations are applied.
    async fn ping(&self) -> Result<()>;
    /// Closes the connection pool (graceful shutdown).
    async fn close(&self);

    // ------------------------------------------- users and roles (principals)
    // What users and roles share takes a `PrincipalKind`; typed methods stay
    // only where the records differ (a role has a trust policy, a session
    // duration and a last use; a user has access keys and can be renamed).
    async fn create_user(&self, user: NewUser) -> Result<User>;
    async fn create_role(&self, role: NewRole) -> Result<Role>;
    async fn get_user(&self, name: &str) -> Result<User>;
    async fn get_role(&self, name: &str) -> Result<Role>;
    async fn list_users(&self, query: &ListQuery) -> Result<Page<User>>;
    async fn list_roles(&self, query: &ListQuery) -> Result<Page<Role>>;
    /// A user or role by kind and name.
    async fn get_principal(&self, kind: PrincipalKind, name: &str) -> Result<Principal> {
        Ok(match kind {
            PrincipalKind::User => Principal::User(self.get_user(name).await?),
            PrincipalKind::Role => Principal::Role(self.get_role(name).await?),
        })
    }
    /// One page of the users or roles.
    async fn list_principals(
        &self,
        kind: PrincipalKind,
        query: &ListQuery,
    ) -> Result<Page<Principal>> {
        Ok(match kind {
            PrincipalKind::User => self.list_users(query).await?.map(Principal::User),
            PrincipalKind::Role => self.list_roles(query).await?.map(Principal::Role),
        })
    }
    /// `DeleteConflict` while the principal has inline or attached policies
    /// (or, for a user, access keys).
    async fn delete_principal(&self, kind: PrincipalKind, name: &str) -> Result<()>;
    /// Adds or overwrites tags (by key); more than 50 → `LimitExceeded`.
    async fn tag_principal(&self, kind: PrincipalKind, name: &str, tags: Vec<Tag>) -> Result<()>;
    async fn untag_principal(&self, kind: PrincipalKind, name: &str, keys: &[String])
        -> Result<()>;
    /// Sets (`Some`) or removes (`None`) the permissions boundary.
    async fn set_permissions_boundary(
        &self,
        kind: PrincipalKind,
        name: &str,
        arn: Option<String>,
    ) -> Result<()>;
    /// Rename and/or move; access keys, inline and attached policies follow.
    async fn update_user(&self, name: &str, update: UserUpdate) -> Result<User>;
    async fn update_role(&self, name: &str, update: RoleUpdate) -> Result<Role>;
    async fn update_assume_role_policy(&self, name: &str, document: String) -> Result<()>;
    /// Sets RoleLastUsed (now, region).
    async fn record_role_use(&self, name: &str, region: &str) -> Result<()>;

    // ------------------------------------------------------ access keys
    /// At most 2 per user (`LimitExceeded`); root keys are not limited so the
    /// server can import a configured root key. The secret is returned once
    /// here and sealed at rest.
    async fn create_access_key(&self, key: NewAccessKey) -> Result<AccessKeyWithSecret>;
    /// Lookup for SigV4 verification (any owner, any status).
    async fn get_access_key(&self, id: &str) -> Result<AccessKeyWithSecret>;
    /// Ordered by creation date.
    async fn list_access_keys(&self, owner: &KeyOwner) -> Result<Vec<AccessKey>>;
    async fn update_access_key_status(
        &self,
        owner: &KeyOwner,
        id: &str,
        status: AccessKeyStatus,
    ) -> Result<()>;
    async fn delete_access_key(&self, owner: &KeyOwner, id: &str) -> Result<()>;
    /// Sets last-used date (now), service and region.
    async fn record_access_key_use(&self, id: &str, service: &str, region: &str) -> Result<()>;

    // -------------------------------------------------- inline policies
    /// Creates or replaces the inline policy `policy_name` of a user/role.
    async fn put_inline_policy(
        &self,
        kind: PrincipalKind,
        principal: &str,
        policy_name: &str,
        document: String,
    ) -> Result<()>;
    async fn get_inline_policy(
        &self,
        kind: PrincipalKind,
        principal: &str,
        policy_name: &str,
    ) -> Result<InlinePolicy>;
    /// Policy names, ordered case-insensitively.
    async fn list_inline_policies(
        &self,
        kind: PrincipalKind,
        principal: &str,
    ) -> Result<Vec<String>>;
    async fn delete_inline_policy(
        &self,
        kind: PrincipalKind,
        principal: &str,
        policy_name: &str,
    ) -> Result<()>;

    // ------------------------------------------------------ attachments
    /// Attaches a managed policy by ARN: one of this account's policies (must
    /// exist) or an AWS-managed `arn:aws:iam::aws:policy/…`. Idempotent.
    /// More than 10 per user/role → `LimitExceeded`.
    async fn attach_policy(
        &self,
        kind: PrincipalKind,
        principal: &str,
        policy_arn: &str,
    ) -> Result<()>;
    async fn detach_policy(
        &self,
        kind: PrincipalKind,
        principal: &str,
        policy_arn: &str,
    ) -> Result<()>;
    /// Ordered by policy name; `path_prefix` filters on the policy's path.
    async fn list_attached_policies(
        &self,
        kind: PrincipalKind,
        principal: &str,
        path_prefix: Option<&str>,
    ) -> Result<Vec<AttachedPolicy>>;
    async fn list_entities_for_policy(&self, policy_arn: &str) -> Result<PolicyEntities>;
    /// How many users and roles use `policy_arn`, attached and as their
    /// permissions boundary; for any ARN (AWS managed ones included, which
    /// have no row of their own), 0 and 0 when nothing refers to it.
    async fn policy_usage(&self, policy_arn: &str) -> Result<PolicyUsage>;
    /// The account's entity counts (GetAccountSummary), in one read.
    async fn account_counts(&self) -> Result<AccountCounts>;

    // ------------------------------------------------- managed policies
    /// Creates the policy with version `v1` as default.
    async fn create_policy(&self, policy: NewPolicy) -> Result<ManagedPolicy>;
    async fn get_policy(&self, arn: &str) -> Result<ManagedPolicy>;
    /// Local managed policies in name order, narrowed by `filter`.
    async fn list_policies(
        &self,
        query: &ListQuery,
        filter: PolicyListFilter,
    ) -> Result<Page<ManagedPolicy>>;
    /// `DeleteConflict` while attached, while some user or role has it as
    /// permissions boundary, or while non-default versions exist.
    async fn delete_policy(&self, arn: &str) -> Result<()>;
    async fn tag_policy(&self, arn: &str, tags: Vec<Tag>) -> Result<()>;
    async fn untag_policy(&self, arn: &str, keys: &[String]) -> Result<()>;
    /// New version `v<n>` (ids never reused); a 6th version → `LimitExceeded`.
    async fn create_policy_version(
        &self,
        arn: &str,
        document: String,
        set_as_default: bool,
    ) -> Result<PolicyVersion>;
    async fn get_policy_version(&self, arn: &str, version_id: &str) -> Result<PolicyVersion>;
    /// Newest first.
    async fn list_policy_versions(&self, arn: &str) -> Result<Vec<PolicyVersion>>;
    /// Deleting the default version → `DeleteConflict`.
    async fn delete_policy_version(&self, arn: &str, version_id: &str) -> Result<()>;
    async fn set_default_policy_version(&self, arn: &str, version_id: &str) -> Result<()>;

    // --------------------------------------------------- OIDC providers
    /// The URL is normalised with [`normalize_provider_url`]; the URL
    /// without its scheme is the unique key (so `http://h` and `https://h`
    /// clash with `AlreadyExists` naming the existing URL). At most 100
    /// client ids and 5 thumbprints.
    async fn create_oidc_provider(&self, provider: NewOidcProvider) -> Result<OidcProvider>;
    async fn get_oidc_provider(&self, arn: &str) -> Result<OidcProvider>;
    /// Lookup by issuer URL (normalised first), e.g. a token's `iss`; the
    /// scheme must match the provider's.
    async fn find_oidc_provider_by_url(&self, url: &str) -> Result<OidcProvider>;
    /// Ordered by URL.
    async fn list_oidc_providers(&self) -> Result<Vec<OidcProvider>>;
    async fn delete_oidc_provider(&self, arn: &str) -> Result<()>;
    /// Idempotent.
    async fn add_client_id(&self, arn: &str, client_id: &str) -> Result<()>;
    /// Idempotent.
    async fn remove_client_id(&self, arn: &str, client_id: &str) -> Result<()>;
    async fn update_thumbprints(&self, arn: &str, thumbprints: Vec<String>) -> Result<()>;
    async fn tag_oidc_provider(&self, arn: &str, tags: Vec<Tag>) -> Result<()>;
    async fn untag_oidc_provider(&self, arn: &str, keys: &[String]) -> Result<()>;

    // ---------------------------------------------------------- key ring
    /// `AlreadyExists` if `(purpose, key_id)` exists. Inserted active.
    async fn insert_server_key(&self, key: NewServerKey) -> Result<ServerKey>;
    /// Inserts `key` only if `purpose` has no active, unexpired key; returns
    /// the newest such key otherwise. Lets replicas bootstrap a key ring
    /// concurrently without creating several keys.
    async fn insert_server_key_if_absent(&self, key: NewServerKey) -> Result<ServerKey>;
    /// All keys of a purpose (active or not), oldest first; keys created
    /// in the same second in the order they seal (`not_before`), then by id.
    async fn list_server_keys(&self, purpose: &str) -> Result<Vec<ServerKey>>;
    /// Marks a key inactive; `retire_after` defaults to now. It stays listed
    /// so tokens it made still verify until `expires`.
    async fn retire_server_key(
        &self,
        purpose: &str,
        key_id: &str,
        retire_after: Option<time::OffsetDateTime>,
    ) -> Result<()>;
    async fn delete_server_key(&self, purpose: &str, key_id: &str) -> Result<()>;

    // ------------------------------------------------- account settings
    /// An account-wide setting by name (`None` when never set).
    async fn get_account_setting(&self, name: &str) -> Result<Option<String>>;
    /// Sets an account-wide setting and returns its previous value, in one
    /// serialised write: of concurrent writers exactly one sees any given
    /// old value (IAM's Enable/Disable answer "already enabled" that way).
    async fn set_account_setting(&self, name: &str, value: &str) -> Result<Option<String>>;

    // --------------------------------------------------- bucket policies
    /// Creates or replaces the policy of an S3 bucket (validated by the caller).
    async fn put_bucket_policy(&self, bucket: &str, document: String) -> Result<BucketPolicy>;
    /// The bucket's policy, `None` when it has none.
    async fn get_bucket_policy(&self, bucket: &str) -> Result<Option<BucketPolicy>>;
    /// Removes the bucket's policy; `false` when it had none (S3 answers 204 either way).
    async fn delete_bucket_policy(&self, bucket: &str) -> Result<bool>;
}
