//! The SQL implementation of [`Store`], shared by SQLite and PostgreSQL
//! through sqlx's `Any` driver. Only portable SQL and the types both
//! backends share (BIGINT, TEXT, BLOB/BYTEA) are used; timestamps are Unix
//! seconds. Parameters are `$1…` in order of first use, which SQLite accepts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use irsa_core::{generate_id, generate_secret_access_key, AccountId, Arn, IdPrefix, SharedClock};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Executor, Row, Transaction};
use time::OffsetDateTime;

use crate::crypto::Sealer;
use crate::error::{is_unique_violation, Entity, StoreError};
use crate::model::BucketPolicy;
use crate::model::{
    AccessKey, AccessKeyStatus, AccessKeyWithSecret, AccountCounts, AttachedPolicy, InlinePolicy,
    KeyOwner, LastUsed, ListQuery, ManagedPolicy, NewAccessKey, NewOidcProvider, NewPolicy,
    NewRole, NewServerKey, NewUser, OidcProvider, Page, PolicyEntities, PolicyUsage, PolicyVersion,
    PrincipalKind, Role, RoleLastUsed, RoleUpdate, ServerKey, Tag, User, UserUpdate,
    MAX_ACCESS_KEYS_PER_USER, MAX_ATTACHED_POLICIES, MAX_POLICY_VERSIONS, MAX_TAGS,
};
use crate::{Backend, PolicyListFilter, Result, Store, StoreConfig, SQLITE_FILE};

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Owner key of root access keys (cannot collide with an IAM user name).
const ROOT_OWNER: &str = "#root";
const KEY_CHECK: &str = "key_check";
const KEY_CHECK_AAD: &str = "store-meta:key-check";
const KEY_CHECK_PLAINTEXT: &[u8] = b"irsa-store master key check v1";
const MAX_CLIENT_IDS: usize = 100;
const MAX_THUMBPRINTS: usize = 5;

pub(crate) struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    account: AccountId,
    clock: SharedClock,
    sealer: Sealer,
    /// Where the database lives, for messages (password redacted).
    location: String,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.backend)
            .field("location", &self.location)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The file a `sqlite:` URL names (relative paths are taken as given).
pub(crate) fn sqlite_path_of(url: &str, data_dir: &Path) -> Result<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| unsupported_url(url))?;
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() {
        return Ok(data_dir.join(SQLITE_FILE));
    }
    Ok(PathBuf::from(path))
}

fn unsupported_url(url: &str) -> StoreError {
    StoreError::Config(format!(
        "invalid --database-url {}: expected postgres://USER@HOST:PORT/DB (or sqlite://PATH); leave it unset for embedded SQLite",
        redact_url(url)
    ))
}

fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Normalises an OIDC provider URL: the scheme (`https://` when absent;
/// `http://` is kept, for `--allow-insecure-issuer` setups), the lowercase
/// host and the path, without a trailing `/`. Returns `(url, key)` where key
/// is the URL without its scheme — what provider ARNs and condition-key
/// prefixes use.
/// The key is unique: `http://h` and `https://h` cannot both be providers
/// (their ARNs would be equal), and a lookup must match the scheme too.
pub fn normalize_provider_url(url: &str) -> (String, String) {
    let trimmed = url.trim();
    let has = |scheme: &str| {
        trimmed.len() >= scheme.len() && trimmed[..scheme.len()].eq_ignore_ascii_case(scheme)
    };
    let (scheme, rest) = if has("https://") {
        ("https://", &trimmed[8..])
    } else if has("http://") {
        ("http://", &trimmed[7..])
    } else {
        ("https://", trimmed)
    };
    let rest = rest.trim_end_matches('/');
    let (host, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let key = format!("{}{path}", host.to_ascii_lowercase());
    (format!("{scheme}{key}"), key)
}

fn name_key(name: &str) -> String {
    name.to_lowercase()
}

fn to_time(seconds: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(seconds)
        .map_err(|_| StoreError::Backend(format!("stored timestamp {seconds} is out of range")))
}

fn opt_time(seconds: Option<i64>) -> Result<Option<OffsetDateTime>> {
    seconds.map(to_time).transpose()
}

fn tags_json(tags: &[Tag]) -> Result<String> {
    serde_json::to_string(tags).map_err(|e| StoreError::Backend(format!("cannot encode tags: {e}")))
}

fn json_list<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Backend(format!("stored {what} are corrupted: {e}")))
}

fn list_json(items: &[String]) -> Result<String> {
    serde_json::to_string(items)
        .map_err(|e| StoreError::Backend(format!("cannot encode list: {e}")))
}

fn check_tag_count(entity: Entity, count: usize) -> Result<()> {
    if count > MAX_TAGS {
        return Err(StoreError::LimitExceeded {
            entity,
            message: format!("Cannot exceed quota for TagsPerEntity: {MAX_TAGS}."),
        });
    }
    Ok(())
}

/// Whether two tag keys name the same tag: IAM compares keys
/// case-insensitively (`Team` and `team` cannot coexist).
fn same_tag_key(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

/// Adds `new` to `existing`; a tag whose key matches an existing one
/// (case-insensitively) replaces it, key spelling and value both, in place.
fn merge_tags(existing: &mut Vec<Tag>, new: Vec<Tag>) {
    for tag in new {
        match existing.iter_mut().find(|t| same_tag_key(&t.key, &tag.key)) {
            Some(t) => *t = tag,
            None => existing.push(tag),
        }
    }
}

/// Removes the tags whose keys match any of `keys` (case-insensitively).
fn remove_tags(existing: &mut Vec<Tag>, keys: &[String]) {
    existing.retain(|tag| !keys.iter().any(|k| same_tag_key(&tag.key, k)));
}

fn u32_of(value: i64, what: &str) -> Result<u32> {
    u32::try_from(value)
        .map_err(|_| StoreError::Backend(format!("stored {what} {value} is out of range")))
}

/// Maps a unique violation on insert to `AlreadyExists`.
fn insert_err(entity: Entity, name: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |e| {
        if is_unique_violation(&e) {
            StoreError::exists(entity, name)
        } else {
            e.into()
        }
    }
}

/// How a principal kind is stored, and named in errors and quotas.
struct PrincipalSql {
    table: &'static str,
    /// `SELECT 1` of the principal by name key (a constant, so it can be
    /// run on any executor).
    exists_sql: &'static str,
    entity: Entity,
    /// What a missing inline policy of this kind is.
    inline_entity: Entity,
    /// The quota named when too many policies are attached.
    attached_quota: &'static str,
}

fn principal_sql(kind: PrincipalKind) -> PrincipalSql {
    match kind {
        PrincipalKind::User => PrincipalSql {
            table: "users",
            exists_sql: "SELECT 1 FROM users WHERE name_key = $1",
            entity: Entity::User,
            inline_entity: Entity::UserPolicy,
            attached_quota: "PoliciesPerUser",
        },
        PrincipalKind::Role => PrincipalSql {
            table: "roles",
            exists_sql: "SELECT 1 FROM roles WHERE name_key = $1",
            entity: Entity::Role,
            inline_entity: Entity::RolePolicy,
            attached_quota: "PoliciesPerRole",
        },
    }
}

/// The path of a policy ARN (`…:policy/a/b/name` → `/a/b/`).
fn policy_path_of(arn: &str) -> String {
    let resource = arn.splitn(6, ':').nth(5).unwrap_or("");
    let after = resource.strip_prefix("policy").unwrap_or(resource);
    match after.rfind('/') {
        Some(i) => after[..=i].to_owned(),
        None => "/".to_owned(),
    }
}

fn version_number(version_id: &str) -> u64 {
    version_id
        .strip_prefix('v')
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

impl SqlStore {
    pub(crate) async fn open(config: StoreConfig) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let sealer = Sealer::new(&config.master_key)?;
        let (pool, backend, location) = match config.database_url.as_deref() {
            Some(url) if is_postgres_url(url) => {
                let (pool, location) = connect_postgres(url).await?;
                (pool, Backend::Postgres, location)
            }
            Some(url) if url.starts_with("sqlite:") => {
                let path = sqlite_path_of(url, &config.data_dir)?;
                let (pool, location) = connect_sqlite(&path).await?;
                (pool, Backend::Sqlite, location)
            }
            Some(url) => return Err(unsupported_url(url)),
            None => {
                std::fs::create_dir_all(&config.data_dir).map_err(|e| {
                    StoreError::Config(format!(
                        "cannot create data directory {}: {e}; check --data-dir",
                        config.data_dir.display()
                    ))
                })?;
                let (pool, location) = connect_sqlite(&config.data_dir.join(SQLITE_FILE)).await?;
                (pool, Backend::Sqlite, location)
            }
        };
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        };
        migrator.run(&pool).await.map_err(|e| {
            StoreError::Backend(format!(
                "cannot apply database migrations to {location}: {e}"
            ))
        })?;
        let store = Self {
            pool,
            backend,
            account: config.account_id,
            clock: config.clock,
            sealer,
            location,
        };
        store.check_master_key().await?;
        tracing::info!(backend = ?store.backend, location = %store.location, "store opened");
        Ok(store)
    }

    /// Refuses a master key other than the one the store was created with,
    /// at open rather than at the first decryption.
    async fn check_master_key(&self) -> Result<()> {
        let sealed = self.sealer.seal(KEY_CHECK_AAD, KEY_CHECK_PLAINTEXT)?;
        // Concurrent first opens (replicas) race here; the first insert wins
        // and everyone verifies against it.
        sqlx::query(
            "INSERT INTO store_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(KEY_CHECK)
        .bind(sealed)
        .execute(&self.pool)
        .await?;
        let stored: Vec<u8> = sqlx::query_scalar("SELECT value FROM store_meta WHERE key = $1")
            .bind(KEY_CHECK)
            .fetch_one(&self.pool)
            .await?;
        match self.sealer.open(KEY_CHECK_AAD, &stored) {
            Ok(plain) if plain.expose() == KEY_CHECK_PLAINTEXT => Ok(()),
            _ => Err(StoreError::Crypto(format!(
                "the master key does not match the one the store at {} was created with (or the key check is corrupted); use the original IRSA_MASTER_KEY / --master-key-file",
                self.location
            ))),
        }
    }

    fn now(&self) -> i64 {
        self.clock.unix_seconds()
    }

    /// Starts a mutation. Writers are serialised so read-check-write
    /// sequences (limits, uniqueness) are atomic on both backends.
    async fn begin_write(&self) -> Result<Transaction<'static, Any>> {
        match self.backend {
            Backend::Sqlite => Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?),
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("UPDATE store_lock SET counter = counter + 1 WHERE id = 1")
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
    }

    // ------------------------------------------------------------ rows

    fn user_from(row: &AnyRow) -> Result<User> {
        Ok(User {
            name: row.try_get("name")?,
            path: row.try_get("path")?,
            id: row.try_get("id")?,
            arn: row.try_get("arn")?,
            create_date: to_time(row.try_get("created")?)?,
            tags: json_list(&row.try_get::<String, _>("tags")?, "tags")?,
            permissions_boundary: row.try_get("permissions_boundary")?,
        })
    }

    fn role_from(row: &AnyRow) -> Result<Role> {
        let last_used = match opt_time(row.try_get("last_used")?)? {
            Some(date) => Some(RoleLastUsed {
                date,
                region: row.try_get("last_used_region")?,
            }),
            None => None,
        };
        Ok(Role {
            name: row.try_get("name")?,
            path: row.try_get("path")?,
            id: row.try_get("id")?,
            arn: row.try_get("arn")?,
            assume_role_policy_document: row.try_get("trust_policy")?,
            max_session_duration: u32_of(
                row.try_get("max_session_duration")?,
                "max session duration",
            )?,
            description: row.try_get("description")?,
            permissions_boundary: row.try_get("permissions_boundary")?,
            tags: json_list(&row.try_get::<String, _>("tags")?, "tags")?,
            create_date: to_time(row.try_get("created")?)?,
            last_used,
        })
    }

    fn policy_from(row: &AnyRow) -> Result<ManagedPolicy> {
        Ok(ManagedPolicy {
            name: row.try_get("name")?,
            path: row.try_get("path")?,
            id: row.try_get("id")?,
            arn: row.try_get("arn")?,
            description: row.try_get("description")?,
            tags: json_list(&row.try_get::<String, _>("tags")?, "tags")?,
            create_date: to_time(row.try_get("created")?)?,
            update_date: to_time(row.try_get("updated")?)?,
            default_version_id: row.try_get("default_version")?,
            attachment_count: u32_of(row.try_get("attachment_count")?, "attachment count")?,
            permissions_boundary_usage_count: u32_of(
                row.try_get("boundary_usage_count")?,
                "permissions boundary usage count",
            )?,
        })
    }

    fn provider_from(row: &AnyRow) -> Result<OidcProvider> {
        Ok(OidcProvider {
            url: row.try_get("url")?,
            arn: row.try_get("arn")?,
            client_ids: json_list(&row.try_get::<String, _>("client_ids")?, "client ids")?,
            thumbprints: json_list(&row.try_get::<String, _>("thumbprints")?, "thumbprints")?,
            tags: json_list(&row.try_get::<String, _>("tags")?, "tags")?,
            create_date: to_time(row.try_get("created")?)?,
        })
    }

    fn access_key_from(row: &AnyRow) -> Result<AccessKey> {
        let owner_key: String = row.try_get("owner_key")?;
        let owner = if owner_key == ROOT_OWNER {
            KeyOwner::Root
        } else {
            let name: Option<String> = row.try_get("user_name")?;
            KeyOwner::User(name.unwrap_or(owner_key))
        };
        let last_used = match opt_time(row.try_get("last_used")?)? {
            Some(date) => Some(LastUsed {
                date,
                service: row.try_get("last_used_service")?,
                region: row.try_get("last_used_region")?,
            }),
            None => None,
        };
        Ok(AccessKey {
            id: row.try_get("id")?,
            owner,
            status: AccessKeyStatus::parse(&row.try_get::<String, _>("status")?),
            create_date: to_time(row.try_get("created")?)?,
            last_used,
        })
    }

    fn access_key_secret_from(&self, row: &AnyRow) -> Result<AccessKeyWithSecret> {
        let key = Self::access_key_from(row)?;
        let sealed: Vec<u8> = row.try_get("secret_sealed")?;
        let plain = self
            .sealer
            .open(&format!("access-key:{}", key.id), &sealed)?;
        let secret = String::from_utf8(plain.expose().to_vec()).map_err(|_| {
            StoreError::Crypto(format!("access key {} has a corrupted secret", key.id))
        })?;
        Ok(AccessKeyWithSecret {
            key,
            secret: secret.into(),
        })
    }

    fn server_key_from(&self, row: &AnyRow) -> Result<ServerKey> {
        let purpose: String = row.try_get("purpose")?;
        let key_id: String = row.try_get("key_id")?;
        let sealed: Vec<u8> = row.try_get("secret_sealed")?;
        let secret = self
            .sealer
            .open(&format!("server-key:{purpose}:{key_id}"), &sealed)?;
        Ok(ServerKey {
            algorithm: row.try_get("algorithm")?,
            secret,
            public: row.try_get("public")?,
            created: to_time(row.try_get("created")?)?,
            not_before: to_time(row.try_get("not_before")?)?,
            retire_after: opt_time(row.try_get("retire_after")?)?,
            expires: opt_time(row.try_get("expires")?)?,
            active: row.try_get::<i64, _>("active")? != 0,
            purpose,
            key_id,
        })
    }

    // ------------------------------------------------------- helpers

    async fn exists<'e, E>(executor: E, sql: &'e str, key: &str) -> Result<bool>
    where
        E: Executor<'e, Database = Any>,
    {
        let row = sqlx::query(sql)
            .bind(key.to_owned())
            .fetch_optional(executor)
            .await?;
        Ok(row.is_some())
    }

    /// The name key of an existing user or role (`NotFound` otherwise).
    async fn principal_key<'e, E>(executor: E, kind: PrincipalKind, name: &str) -> Result<String>
    where
        E: Executor<'e, Database = Any>,
    {
        let PrincipalSql {
            exists_sql, entity, ..
        } = principal_sql(kind);
        let key = name_key(name);
        if Self::exists(executor, exists_sql, &key).await? {
            Ok(key)
        } else {
            Err(StoreError::not_found(entity, name))
        }
    }

    /// The row of a user or role.
    async fn principal_row(&self, kind: PrincipalKind, name: &str) -> Result<AnyRow> {
        let PrincipalSql { table, entity, .. } = principal_sql(kind);
        let sql = format!("SELECT * FROM {table} WHERE name_key = $1");
        sqlx::query(&sql)
            .bind(name_key(name))
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found(entity, name))
    }

    /// One page of users or roles, each row read by `from_row`.
    async fn principal_page<T>(
        &self,
        kind: PrincipalKind,
        query: &ListQuery,
        from_row: fn(&AnyRow) -> Result<T>,
    ) -> Result<Page<T>> {
        let limit = query.limit();
        let table = principal_sql(kind).table;
        let sql = format!(
            "SELECT * FROM {table} WHERE name_key > $1 AND substr(path, 1, length($2)) = $2 \
             ORDER BY name_key LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(query.marker.clone().unwrap_or_default())
            .bind(query.path_prefix.clone().unwrap_or_else(|| "/".to_owned()))
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
            .await?;
        let keyed = rows
            .iter()
            .map(|row| Ok((row.try_get::<String, _>("name_key")?, from_row(row)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::page(keyed, limit, |(key, _)| key.clone()).map(|(_, item)| item))
    }

    /// Starts creating a user or role: the write lock is held and the name
    /// is free. Returns the transaction and the name key.
    async fn begin_create(
        &self,
        kind: PrincipalKind,
        name: &str,
        tags: &[Tag],
    ) -> Result<(Transaction<'static, Any>, String)> {
        let PrincipalSql {
            exists_sql, entity, ..
        } = principal_sql(kind);
        check_tag_count(entity, tags.len())?;
        let key = name_key(name);
        let mut tx = self.begin_write().await?;
        if Self::exists(&mut *tx, exists_sql, &key).await? {
            return Err(StoreError::exists(entity, name));
        }
        Ok((tx, key))
    }

    /// Read-modify-write of a `tags` column under the write lock.
    async fn modify_tags(
        &self,
        table: &str,
        key_column: &str,
        key: &str,
        entity: Entity,
        display: &str,
        change: impl FnOnce(&mut Vec<Tag>) + Send,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let sql = format!("SELECT tags FROM {table} WHERE {key_column} = $1");
        let text: Option<String> = sqlx::query_scalar(&sql)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(text) = text else {
            return Err(StoreError::not_found(entity, display));
        };
        let mut tags: Vec<Tag> = json_list(&text, "tags")?;
        change(&mut tags);
        check_tag_count(entity, tags.len())?;
        let sql = format!("UPDATE {table} SET tags = $1 WHERE {key_column} = $2");
        sqlx::query(&sql)
            .bind(tags_json(&tags)?)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Runs one UPDATE under the write lock; zero rows → `NotFound`.
    async fn update_one<'q>(
        &self,
        query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
        entity: Entity,
        display: &str,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = query.execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(entity, display));
        }
        tx.commit().await?;
        Ok(())
    }

    fn page<T>(mut items: Vec<T>, limit: u32, key_of: impl Fn(&T) -> String) -> Page<T> {
        let limit = limit as usize;
        if items.len() > limit {
            items.truncate(limit);
            let marker = items.last().map(key_of);
            Page { items, marker }
        } else {
            Page {
                items,
                marker: None,
            }
        }
    }

    async fn load_policy(&self, arn: &str) -> Result<ManagedPolicy> {
        let sql = format!("{POLICY_SELECT} WHERE p.arn = $1");
        let row = sqlx::query(&sql)
            .bind(arn)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Self::policy_from(&row),
            None => Err(StoreError::not_found(Entity::Policy, arn)),
        }
    }

    /// `(owner_key, user display name)`; checks that the user exists.
    async fn owner_key_checked<'e, E>(executor: E, owner: &KeyOwner) -> Result<String>
    where
        E: Executor<'e, Database = Any>,
    {
        match owner {
            KeyOwner::Root => Ok(ROOT_OWNER.to_owned()),
            KeyOwner::User(name) => Self::principal_key(executor, PrincipalKind::User, name).await,
        }
    }

    async fn insert_server_key_tx(
        &self,
        tx: &mut Transaction<'static, Any>,
        key: NewServerKey,
    ) -> Result<ServerKey> {
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM server_keys WHERE purpose = $1 AND key_id = $2")
                .bind(&key.purpose)
                .bind(&key.key_id)
                .fetch_optional(&mut **tx)
                .await?;
        if exists.is_some() {
            return Err(StoreError::exists(Entity::ServerKey, key.key_id));
        }
        let now = self.now();
        let not_before = key.not_before.map_or(now, OffsetDateTime::unix_timestamp);
        let sealed = self.sealer.seal(
            &format!("server-key:{}:{}", key.purpose, key.key_id),
            key.secret.expose(),
        )?;
        sqlx::query(
            "INSERT INTO server_keys (purpose, key_id, algorithm, secret_sealed, public, created, not_before, retire_after, expires, active) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1)",
        )
        .bind(&key.purpose)
        .bind(&key.key_id)
        .bind(&key.algorithm)
        .bind(sealed)
        .bind(key.public.clone())
        .bind(now)
        .bind(not_before)
        .bind(key.retire_after.map(OffsetDateTime::unix_timestamp))
        .bind(key.expires.map(OffsetDateTime::unix_timestamp))
        .execute(&mut **tx)
        .await
        .map_err(insert_err(Entity::ServerKey, &key.key_id))?;
        Ok(ServerKey {
            purpose: key.purpose,
            key_id: key.key_id,
            algorithm: key.algorithm,
            secret: key.secret,
            public: key.public,
            created: to_time(now)?,
            not_before: to_time(not_before)?,
            retire_after: key.retire_after,
            expires: key.expires,
            active: true,
        })
    }
}

async fn connect_sqlite(path: &Path) -> Result<(AnyPool, String)> {
    let location = path.display().to_string();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Config(format!("cannot open SQLite database at {location}: cannot create {}: {e}; check --data-dir", dir.display()))
        })?;
    }
    // Percent-encode what the URL parser would otherwise take as syntax.
    let mut encoded = String::with_capacity(location.len());
    for c in location.chars() {
        match c {
            '%' => encoded.push_str("%25"),
            '?' => encoded.push_str("%3F"),
            '#' => encoded.push_str("%23"),
            _ => encoded.push(c),
        }
    }
    let url = format!("sqlite://{encoded}?mode=rwc");
    let pool = AnyPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // WAL for concurrent readers, FULL sync so a commit survives
                // power loss, a busy timeout so writers queue instead of failing.
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA synchronous = FULL").await?;
                conn.execute("PRAGMA busy_timeout = 30000").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                Ok(())
            })
        })
        .connect(&url)
        .await
        .map_err(|e| {
            StoreError::Config(format!(
                "cannot open SQLite database at {location}: {e}; check --data-dir"
            ))
        })?;
    Ok((pool, location))
}

/// How long the first connection at start may take before PostgreSQL is
/// reported unreachable.
const POSTGRES_STARTUP_TIMEOUT: Duration = Duration::from_secs(2);

async fn connect_postgres(url: &str) -> Result<(AnyPool, String)> {
    let location = redact_url(url);
    let failure = |e: sqlx::Error| {
        if matches!(e, sqlx::Error::Configuration(_)) {
            return unsupported_url(url);
        }
        let e = e.to_string().replace(url, &location);
        StoreError::Unavailable(format!("cannot connect to PostgreSQL at {location}: {e}; check --database-url and that the server is running"))
    };
    // The pool retries a refused connection until its acquire timeout (sized
    // to ride out a database restart under load) and then only says "timed
    // out"; at start one bounded attempt reports the real cause at once.
    match tokio::time::timeout(
        POSTGRES_STARTUP_TIMEOUT,
        <sqlx::AnyConnection as sqlx::Connection>::connect(url),
    )
    .await
    {
        Ok(Ok(probe)) => {
            // Closing is a courtesy to the server; the pool opens its own.
            let _ = sqlx::Connection::close(probe).await;
        }
        Ok(Err(e)) => return Err(failure(e)),
        Err(_) => {
            return Err(StoreError::Unavailable(format!(
                "cannot connect to PostgreSQL at {location}: no answer within {} s; check --database-url and that the server is running",
                POSTGRES_STARTUP_TIMEOUT.as_secs()
            )))
        }
    }
    let pool = AnyPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
        .map_err(failure)?;
    Ok((pool, location))
}

const ACCESS_KEY_SELECT: &str =
    "SELECT ak.id, ak.owner_key, ak.secret_sealed, ak.status, ak.created, ak.last_used, \
     ak.last_used_service, ak.last_used_region, u.name AS user_name \
     FROM access_keys ak LEFT JOIN users u ON u.name_key = ak.owner_key";
/// A policy row with its two usage counts: attachments (AttachmentCount)
/// and users plus roles that have it as their permissions boundary
/// (PermissionsBoundaryUsageCount).
const POLICY_SELECT: &str = "SELECT p.*, \
     (SELECT COUNT(*) FROM attachments a WHERE a.policy_arn = p.arn) AS attachment_count, \
     (SELECT COUNT(*) FROM users u WHERE u.permissions_boundary = p.arn) \
     + (SELECT COUNT(*) FROM roles r WHERE r.permissions_boundary = p.arn) AS boundary_usage_count \
     FROM policies p";

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    fn account_id(&self) -> &AccountId {
        &self.account
    }

    fn clock(&self) -> &SharedClock {
        &self.clock
    }

    async fn ping(&self) -> Result<()> {
        let expected = match self.backend {
            Backend::Sqlite => SQLITE_MIGRATOR.iter().count(),
            Backend::Postgres => POSTGRES_MIGRATOR.iter().count(),
        };
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&self.pool)
                .await
                .map_err(|e| {
                    StoreError::Unavailable(format!(
                        "store at {} is not reachable: {e}",
                        self.location
                    ))
                })?;
        if usize::try_from(applied).unwrap_or(0) < expected {
            return Err(StoreError::Unavailable(format!(
                "store at {} has {applied} of {expected} migrations applied",
                self.location
            )));
        }
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    // ------------------------------------------- users and roles (principals)

    async fn create_user(&self, user: NewUser) -> Result<User> {
        let (mut tx, key) = self
            .begin_create(PrincipalKind::User, &user.name, &user.tags)
            .await?;
        let now = self.now();
        let record = User {
            id: generate_id(IdPrefix::User),
            arn: Arn::iam_user(&self.account, &user.path, &user.name).to_string(),
            create_date: to_time(now)?,
            name: user.name,
            path: user.path,
            tags: user.tags,
            permissions_boundary: user.permissions_boundary,
        };
        sqlx::query(
            "INSERT INTO users (name_key, name, path, id, arn, created, tags, permissions_boundary) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&key)
        .bind(&record.name)
        .bind(&record.path)
        .bind(&record.id)
        .bind(&record.arn)
        .bind(now)
        .bind(tags_json(&record.tags)?)
        .bind(record.permissions_boundary.clone())
        .execute(&mut *tx)
        .await
        .map_err(insert_err(Entity::User, &record.name))?;
        tx.commit().await?;
        Ok(record)
    }

    async fn create_role(&self, role: NewRole) -> Result<Role> {
        let (mut tx, key) = self
            .begin_create(PrincipalKind::Role, &role.name, &role.tags)
            .await?;
        let now = self.now();
        let record = Role {
            id: generate_id(IdPrefix::Role),
            arn: Arn::iam_role(&self.account, &role.path, &role.name).to_string(),
            create_date: to_time(now)?,
            name: role.name,
            path: role.path,
            assume_role_policy_document: role.assume_role_policy_document,
            max_session_duration: role.max_session_duration,
            description: role.description,
            permissions_boundary: role.permissions_boundary,
            tags: role.tags,
            last_used: None,
        };
        sqlx::query(
            "INSERT INTO roles (name_key, name, path, id, arn, trust_policy, max_session_duration, description, \
             permissions_boundary, tags, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&key)
        .bind(&record.name)
        .bind(&record.path)
        .bind(&record.id)
        .bind(&record.arn)
        .bind(&record.assume_role_policy_document)
        .bind(i64::from(record.max_session_duration))
        .bind(record.description.clone())
        .bind(record.permissions_boundary.clone())
        .bind(tags_json(&record.tags)?)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(insert_err(Entity::Role, &record.name))?;
        tx.commit().await?;
        Ok(record)
    }

    async fn get_user(&self, name: &str) -> Result<User> {
        Self::user_from(&self.principal_row(PrincipalKind::User, name).await?)
    }

    async fn get_role(&self, name: &str) -> Result<Role> {
        Self::role_from(&self.principal_row(PrincipalKind::Role, name).await?)
    }

    async fn list_users(&self, query: &ListQuery) -> Result<Page<User>> {
        self.principal_page(PrincipalKind::User, query, Self::user_from)
            .await
    }

    async fn list_roles(&self, query: &ListQuery) -> Result<Page<Role>> {
        self.principal_page(PrincipalKind::Role, query, Self::role_from)
            .await
    }

    async fn delete_principal(&self, kind: PrincipalKind, name: &str) -> Result<()> {
        let PrincipalSql { table, entity, .. } = principal_sql(kind);
        let mut tx = self.begin_write().await?;
        let key = Self::principal_key(&mut *tx, kind, name).await?;
        let mut conflicts = Vec::new();
        if kind == PrincipalKind::User {
            conflicts.push((
                "SELECT 1 FROM access_keys WHERE owner_key = $1".to_owned(),
                "Cannot delete entity, must delete access keys first.",
            ));
        }
        // `kind.as_str()` is one of a few fixed words, not input.
        let kind_name = kind.as_str();
        conflicts.push((
            format!("SELECT 1 FROM inline_policies WHERE principal_kind = '{kind_name}' AND principal_key = $1"),
            "Cannot delete entity, must delete policies first.",
        ));
        conflicts.push((
            format!("SELECT 1 FROM attachments WHERE principal_kind = '{kind_name}' AND principal_key = $1"),
            "Cannot delete entity, must detach all policies first.",
        ));
        for (sql, message) in conflicts {
            if Self::exists(&mut *tx, &sql, &key).await? {
                return Err(StoreError::DeleteConflict {
                    entity,
                    message: message.to_owned(),
                });
            }
        }
        let sql = format!("DELETE FROM {table} WHERE name_key = $1");
        sqlx::query(&sql).bind(&key).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn tag_principal(&self, kind: PrincipalKind, name: &str, tags: Vec<Tag>) -> Result<()> {
        let PrincipalSql { table, entity, .. } = principal_sql(kind);
        self.modify_tags(table, "name_key", &name_key(name), entity, name, |t| {
            merge_tags(t, tags);
        })
        .await
    }

    async fn untag_principal(
        &self,
        kind: PrincipalKind,
        name: &str,
        keys: &[String],
    ) -> Result<()> {
        let PrincipalSql { table, entity, .. } = principal_sql(kind);
        self.modify_tags(table, "name_key", &name_key(name), entity, name, |t| {
            remove_tags(t, keys);
        })
        .await
    }

    async fn set_permissions_boundary(
        &self,
        kind: PrincipalKind,
        name: &str,
        arn: Option<String>,
    ) -> Result<()> {
        let PrincipalSql { table, entity, .. } = principal_sql(kind);
        let sql = format!("UPDATE {table} SET permissions_boundary = $1 WHERE name_key = $2");
        let query = sqlx::query(&sql).bind(arn).bind(name_key(name));
        self.update_one(query, entity, name).await
    }

    async fn update_user(&self, name: &str, update: UserUpdate) -> Result<User> {
        let old_key = name_key(name);
        let mut tx = self.begin_write().await?;
        let Some(row) = sqlx::query("SELECT * FROM users WHERE name_key = $1")
            .bind(&old_key)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Err(StoreError::not_found(Entity::User, name));
        };
        let mut user = Self::user_from(&row)?;
        if let Some(new_name) = update.new_name {
            let new_key = name_key(&new_name);
            if new_key != old_key
                && Self::exists(
                    &mut *tx,
                    "SELECT 1 FROM users WHERE name_key = $1",
                    &new_key,
                )
                .await?
            {
                return Err(StoreError::exists(Entity::User, new_name));
            }
            user.name = new_name;
        }
        if let Some(new_path) = update.new_path {
            user.path = new_path;
        }
        user.arn = Arn::iam_user(&self.account, &user.path, &user.name).to_string();
        let new_key = name_key(&user.name);
        sqlx::query(
            "UPDATE users SET name_key = $1, name = $2, path = $3, arn = $4 WHERE name_key = $5",
        )
        .bind(&new_key)
        .bind(&user.name)
        .bind(&user.path)
        .bind(&user.arn)
        .bind(&old_key)
        .execute(&mut *tx)
        .await
        .map_err(insert_err(Entity::User, &user.name))?;
        if new_key != old_key {
            sqlx::query("UPDATE access_keys SET owner_key = $1 WHERE owner_key = $2")
                .bind(&new_key)
                .bind(&old_key)
                .execute(&mut *tx)
                .await?;
            for table in ["inline_policies", "attachments"] {
                let sql = format!("UPDATE {table} SET principal_key = $1 WHERE principal_kind = 'user' AND principal_key = $2");
                sqlx::query(&sql)
                    .bind(&new_key)
                    .bind(&old_key)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(user)
    }

    async fn update_role(&self, name: &str, update: RoleUpdate) -> Result<Role> {
        let key = name_key(name);
        let mut tx = self.begin_write().await?;
        let Some(row) = sqlx::query("SELECT * FROM roles WHERE name_key = $1")
            .bind(&key)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Err(StoreError::not_found(Entity::Role, name));
        };
        let mut role = Self::role_from(&row)?;
        if let Some(description) = update.description {
            role.description = Some(description);
        }
        if let Some(max) = update.max_session_duration {
            role.max_session_duration = max;
        }
        sqlx::query(
            "UPDATE roles SET description = $1, max_session_duration = $2 WHERE name_key = $3",
        )
        .bind(role.description.clone())
        .bind(i64::from(role.max_session_duration))
        .bind(&key)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(role)
    }

    async fn update_assume_role_policy(&self, name: &str, document: String) -> Result<()> {
        let query = sqlx::query("UPDATE roles SET trust_policy = $1 WHERE name_key = $2")
            .bind(document)
            .bind(name_key(name));
        self.update_one(query, Entity::Role, name).await
    }

    async fn record_role_use(&self, name: &str, region: &str) -> Result<()> {
        let done = sqlx::query(
            "UPDATE roles SET last_used = $1, last_used_region = $2 WHERE name_key = $3",
        )
        .bind(self.now())
        .bind(region)
        .bind(name_key(name))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(Entity::Role, name));
        }
        Ok(())
    }

    // ------------------------------------------------------ access keys

    async fn create_access_key(&self, key: NewAccessKey) -> Result<AccessKeyWithSecret> {
        let id = key.id.unwrap_or_else(|| generate_id(IdPrefix::AccessKey));
        let secret = key.secret.unwrap_or_else(generate_secret_access_key);
        let mut tx = self.begin_write().await?;
        let owner_key = Self::owner_key_checked(&mut *tx, &key.owner).await?;
        if let KeyOwner::User(_) = &key.owner {
            let count: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM access_keys WHERE owner_key = $1")
                    .bind(&owner_key)
                    .fetch_one(&mut *tx)
                    .await?;
            if usize::try_from(count).unwrap_or(usize::MAX) >= MAX_ACCESS_KEYS_PER_USER {
                return Err(StoreError::LimitExceeded {
                    entity: Entity::AccessKey,
                    message: format!(
                        "Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS_PER_USER}"
                    ),
                });
            }
        }
        if Self::exists(&mut *tx, "SELECT 1 FROM access_keys WHERE id = $1", &id).await? {
            return Err(StoreError::exists(Entity::AccessKey, id));
        }
        let now = self.now();
        let sealed = self
            .sealer
            .seal(&format!("access-key:{id}"), secret.expose().as_bytes())?;
        sqlx::query(
            "INSERT INTO access_keys (id, owner_key, secret_sealed, status, created) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(&owner_key)
        .bind(sealed)
        .bind(key.status.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(insert_err(Entity::AccessKey, &id))?;
        tx.commit().await?;
        Ok(AccessKeyWithSecret {
            key: AccessKey {
                id,
                owner: key.owner,
                status: key.status,
                create_date: to_time(now)?,
                last_used: None,
            },
            secret,
        })
    }

    async fn get_access_key(&self, id: &str) -> Result<AccessKeyWithSecret> {
        let sql = format!("{ACCESS_KEY_SELECT} WHERE ak.id = $1");
        match sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        {
            Some(row) => self.access_key_secret_from(&row),
            None => Err(StoreError::not_found(Entity::AccessKey, id)),
        }
    }

    async fn list_access_keys(&self, owner: &KeyOwner) -> Result<Vec<AccessKey>> {
        let owner_key = Self::owner_key_checked(&self.pool, owner).await?;
        let sql = format!("{ACCESS_KEY_SELECT} WHERE ak.owner_key = $1 ORDER BY ak.created, ak.id");
        let rows = sqlx::query(&sql)
            .bind(owner_key)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::access_key_from).collect()
    }

    async fn update_access_key_status(
        &self,
        owner: &KeyOwner,
        id: &str,
        status: AccessKeyStatus,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let owner_key = Self::owner_key_checked(&mut *tx, owner).await?;
        let done =
            sqlx::query("UPDATE access_keys SET status = $1 WHERE id = $2 AND owner_key = $3")
                .bind(status.as_str())
                .bind(id)
                .bind(owner_key)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(Entity::AccessKey, id));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn delete_access_key(&self, owner: &KeyOwner, id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let owner_key = Self::owner_key_checked(&mut *tx, owner).await?;
        let done = sqlx::query("DELETE FROM access_keys WHERE id = $1 AND owner_key = $2")
            .bind(id)
            .bind(owner_key)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(Entity::AccessKey, id));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn record_access_key_use(&self, id: &str, service: &str, region: &str) -> Result<()> {
        // A single statement is atomic on its own; no need for the write lock.
        let done = sqlx::query(
            "UPDATE access_keys SET last_used = $1, last_used_service = $2, last_used_region = $3 WHERE id = $4",
        )
        .bind(self.now())
        .bind(service)
        .bind(region)
        .bind(id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(Entity::AccessKey, id));
        }
        Ok(())
    }

    // -------------------------------------------------- inline policies

    async fn put_inline_policy(
        &self,
        kind: PrincipalKind,
        principal: &str,
        policy_name: &str,
        document: String,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let principal_key = Self::principal_key(&mut *tx, kind, principal).await?;
        sqlx::query(
            "INSERT INTO inline_policies (principal_kind, principal_key, name_key, name, document) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (principal_kind, principal_key, name_key) DO UPDATE SET name = excluded.name, document = excluded.document",
        )
        .bind(kind.as_str())
        .bind(principal_key)
        .bind(name_key(policy_name))
        .bind(policy_name)
        .bind(document)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_inline_policy(
        &self,
        kind: PrincipalKind,
        principal: &str,
        policy_name: &str,
    ) -> Result<InlinePolicy> {
        let principal_key = Self::principal_key(&self.pool, kind, principal).await?;
        let row = sqlx::query(
            "SELECT name, document FROM inline_policies WHERE principal_kind = $1 AND principal_key = $2 AND name_key = $3",
        )
        .bind(kind.as_str())
        .bind(principal_key)
        .bind(name_key(policy_name))
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(InlinePolicy {
                name: row.try_get("name")?,
                document: row.try_get("document")?,
            }),
            None => Err(StoreError::not_found(
                principal_sql(kind).inline_entity,
                policy_name,
            )),
        }
    }

    async fn list_inline_policies(
        &self,
        kind: PrincipalKind,
        principal: &str,
    ) -> Result<Vec<String>> {
        let principal_key = Self::principal_key(&self.pool, kind, principal).await?;
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM inline_policies WHERE principal_kind = $1 AND principal_key = $2 ORDER BY name_key",
        )
        .bind(kind.as_str())
        .bind(principal_key)
        .fetch_all(&self.pool)
        .await?;
        Ok(names)
    }

    async fn delete_inline_policy(
        &self,
        kind: PrincipalKind,
        principal: &str,
        policy_name: &str,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let principal_key = Self::principal_key(&mut *tx, kind, principal).await?;
        let done = sqlx::query("DELETE FROM inline_policies WHERE principal_kind = $1 AND principal_key = $2 AND name_key = $3")
            .bind(kind.as_str())
            .bind(principal_key)
            .bind(name_key(policy_name))
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(
                principal_sql(kind).inline_entity,
                policy_name,
            ));
        }
        tx.commit().await?;
        Ok(())
    }

    // ------------------------------------------------------ attachments

    async fn attach_policy(
        &self,
        kind: PrincipalKind,
        principal: &str,
        policy_arn: &str,
    ) -> Result<()> {
        let parsed: Arn = policy_arn.parse().map_err(|e| {
            StoreError::InvalidInput(format!("invalid policy ARN {policy_arn}: {e}"))
        })?;
        if parsed.service() != "iam" || parsed.resource_type() != "policy" {
            return Err(StoreError::InvalidInput(format!(
                "{policy_arn} is not a policy ARN"
            )));
        }
        let mut tx = self.begin_write().await?;
        let principal_key = Self::principal_key(&mut *tx, kind, principal).await?;
        let policy_name = if parsed.account() == "aws" {
            parsed.resource_name().to_owned()
        } else {
            let name: Option<String> =
                sqlx::query_scalar("SELECT name FROM policies WHERE arn = $1")
                    .bind(policy_arn)
                    .fetch_optional(&mut *tx)
                    .await?;
            name.ok_or_else(|| StoreError::not_found(Entity::Policy, policy_arn))?
        };
        let attached: Vec<String> = sqlx::query_scalar(
            "SELECT policy_arn FROM attachments WHERE principal_kind = $1 AND principal_key = $2",
        )
        .bind(kind.as_str())
        .bind(&principal_key)
        .fetch_all(&mut *tx)
        .await?;
        if attached.iter().any(|a| a == policy_arn) {
            return Ok(());
        }
        if attached.len() >= MAX_ATTACHED_POLICIES {
            let quota = principal_sql(kind).attached_quota;
            return Err(StoreError::LimitExceeded {
                entity: Entity::Attachment,
                message: format!("Cannot exceed quota for {quota}: {MAX_ATTACHED_POLICIES}"),
            });
        }
        sqlx::query("INSERT INTO attachments (principal_kind, principal_key, policy_arn, policy_name) VALUES ($1, $2, $3, $4)")
            .bind(kind.as_str())
            .bind(&principal_key)
            .bind(policy_arn)
            .bind(policy_name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn detach_policy(
        &self,
        kind: PrincipalKind,
        principal: &str,
        policy_arn: &str,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let principal_key = Self::principal_key(&mut *tx, kind, principal).await?;
        let done = sqlx::query("DELETE FROM attachments WHERE principal_kind = $1 AND principal_key = $2 AND policy_arn = $3")
            .bind(kind.as_str())
            .bind(principal_key)
            .bind(policy_arn)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(Entity::Attachment, policy_arn));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_attached_policies(
        &self,
        kind: PrincipalKind,
        principal: &str,
        path_prefix: Option<&str>,
    ) -> Result<Vec<AttachedPolicy>> {
        let principal_key = Self::principal_key(&self.pool, kind, principal).await?;
        let rows = sqlx::query("SELECT policy_name, policy_arn FROM attachments WHERE principal_kind = $1 AND principal_key = $2")
            .bind(kind.as_str())
            .bind(principal_key)
            .fetch_all(&self.pool)
            .await?;
        let mut attached = rows
            .iter()
            .map(|row| {
                Ok(AttachedPolicy {
                    policy_name: row.try_get("policy_name")?,
                    policy_arn: row.try_get("policy_arn")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if let Some(prefix) = path_prefix {
            attached.retain(|a| policy_path_of(&a.policy_arn).starts_with(prefix));
        }
        attached.sort_by(|a, b| {
            (a.policy_name.to_lowercase(), &a.policy_arn)
                .cmp(&(b.policy_name.to_lowercase(), &b.policy_arn))
        });
        Ok(attached)
    }

    async fn list_entities_for_policy(&self, policy_arn: &str) -> Result<PolicyEntities> {
        let is_aws_managed = policy_arn.starts_with("arn:aws:iam::aws:policy/");
        if !is_aws_managed
            && !Self::exists(
                &self.pool,
                "SELECT 1 FROM policies WHERE arn = $1",
                policy_arn,
            )
            .await?
        {
            return Err(StoreError::not_found(Entity::Policy, policy_arn));
        }
        let mut entities = PolicyEntities::default();
        for kind in PrincipalKind::ALL {
            let table = principal_sql(kind).table;
            let sql = format!(
                "SELECT t.name, t.id FROM attachments a JOIN {table} t ON t.name_key = a.principal_key \
                 WHERE a.principal_kind = $1 AND a.policy_arn = $2 ORDER BY t.name_key"
            );
            let rows = sqlx::query(&sql)
                .bind(kind.as_str())
                .bind(policy_arn)
                .fetch_all(&self.pool)
                .await?;
            let list = rows
                .iter()
                .map(|r| Ok((r.try_get("name")?, r.try_get("id")?)))
                .collect::<Result<Vec<(String, String)>>>()?;
            match kind {
                PrincipalKind::User => entities.users = list,
                PrincipalKind::Role => entities.roles = list,
            }
        }
        Ok(entities)
    }

    async fn policy_usage(&self, policy_arn: &str) -> Result<PolicyUsage> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM attachments WHERE policy_arn = $1) AS attachment_count, \
             (SELECT COUNT(*) FROM users WHERE permissions_boundary = $1) \
             + (SELECT COUNT(*) FROM roles WHERE permissions_boundary = $1) AS boundary_usage_count",
        )
        .bind(policy_arn)
        .fetch_one(&self.pool)
        .await?;
        Ok(PolicyUsage {
            attachments: u32_of(row.try_get("attachment_count")?, "attachment count")?,
            boundaries: u32_of(
                row.try_get("boundary_usage_count")?,
                "permissions boundary usage count",
            )?,
        })
    }

    async fn account_counts(&self) -> Result<AccountCounts> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM users) AS users, \
             (SELECT COUNT(*) FROM roles) AS roles, \
             (SELECT COUNT(*) FROM policies) AS policies, \
             (SELECT COUNT(*) FROM oidc_providers) AS oidc_providers, \
             (SELECT COUNT(*) FROM attachments) AS attachments, \
             (SELECT COUNT(*) FROM access_keys WHERE owner_key = $1) AS root_access_keys",
        )
        .bind(ROOT_OWNER)
        .fetch_one(&self.pool)
        .await?;
        let count = |column: &str| -> Result<u32> { u32_of(row.try_get(column)?, column) };
        Ok(AccountCounts {
            users: count("users")?,
            roles: count("roles")?,
            policies: count("policies")?,
            oidc_providers: count("oidc_providers")?,
            attachments: count("attachments")?,
            root_access_keys: count("root_access_keys")?,
        })
    }

    // ------------------------------------------------- managed policies

    async fn create_policy(&self, policy: NewPolicy) -> Result<ManagedPolicy> {
        check_tag_count(Entity::Policy, policy.tags.len())?;
        let key = name_key(&policy.name);
        let mut tx = self.begin_write().await?;
        if Self::exists(&mut *tx, "SELECT 1 FROM policies WHERE name_key = $1", &key).await? {
            return Err(StoreError::exists(Entity::Policy, policy.name));
        }
        let now = self.now();
        let record = ManagedPolicy {
            id: generate_id(IdPrefix::ManagedPolicy),
            arn: Arn::iam_policy(&self.account, &policy.path, &policy.name).to_string(),
            create_date: to_time(now)?,
            update_date: to_time(now)?,
            default_version_id: "v1".to_owned(),
            attachment_count: 0,
            permissions_boundary_usage_count: 0,
            name: policy.name,
            path: policy.path,
            description: policy.description,
            tags: policy.tags,
        };
        sqlx::query(
            "INSERT INTO policies (name_key, name, path, id, arn, description, tags, created, updated, default_version, next_version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, 'v1', 2)",
        )
        .bind(&key)
        .bind(&record.name)
        .bind(&record.path)
        .bind(&record.id)
        .bind(&record.arn)
        .bind(record.description.clone())
        .bind(tags_json(&record.tags)?)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(insert_err(Entity::Policy, &record.name))?;
        sqlx::query("INSERT INTO policy_versions (policy_arn, version_id, document, created) VALUES ($1, 'v1', $2, $3)")
            .bind(&record.arn)
            .bind(policy.document)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn get_policy(&self, arn: &str) -> Result<ManagedPolicy> {
        self.load_policy(arn).await
    }

    async fn list_policies(
        &self,
        query: &ListQuery,
        filter: PolicyListFilter,
    ) -> Result<Page<ManagedPolicy>> {
        let limit = query.limit();
        // Only fixed SQL fragments are spliced in; values stay bound.
        let usage = match filter {
            PolicyListFilter::All => "",
            PolicyListFilter::Attached => {
                "AND EXISTS (SELECT 1 FROM attachments a WHERE a.policy_arn = p.arn)"
            }
            PolicyListFilter::UsedAsBoundary => {
                "AND (EXISTS (SELECT 1 FROM users u WHERE u.permissions_boundary = p.arn) \
                 OR EXISTS (SELECT 1 FROM roles r WHERE r.permissions_boundary = p.arn))"
            }
        };
        let sql = format!(
            "{POLICY_SELECT} WHERE p.name_key > $1 AND substr(p.path, 1, length($2)) = $2 \
             {usage} ORDER BY p.name_key LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(query.marker.clone().unwrap_or_default())
            .bind(query.path_prefix.clone().unwrap_or_else(|| "/".to_owned()))
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
            .await?;
        let policies = rows
            .iter()
            .map(Self::policy_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::page(policies, limit, |p| name_key(&p.name)))
    }

    async fn delete_policy(&self, arn: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        if !Self::exists(&mut *tx, "SELECT 1 FROM policies WHERE arn = $1", arn).await? {
            return Err(StoreError::not_found(Entity::Policy, arn));
        }
        // A permissions boundary counts as an attachment here, as in IAM
        // (it would otherwise point at a policy that no longer exists).
        if Self::exists(
            &mut *tx,
            "SELECT 1 FROM attachments WHERE policy_arn = $1 \
             UNION ALL SELECT 1 FROM users WHERE permissions_boundary = $1 \
             UNION ALL SELECT 1 FROM roles WHERE permissions_boundary = $1",
            arn,
        )
        .await?
        {
            return Err(StoreError::DeleteConflict {
                entity: Entity::Policy,
                message: "Cannot delete a policy attached to entities.".to_owned(),
            });
        }
        let versions: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM policy_versions WHERE policy_arn = $1")
                .bind(arn)
                .fetch_one(&mut *tx)
                .await?;
        if versions > 1 {
            return Err(StoreError::DeleteConflict {
                entity: Entity::Policy,
                message: "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.".to_owned(),
            });
        }
        sqlx::query("DELETE FROM policy_versions WHERE policy_arn = $1")
            .bind(arn)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM policies WHERE arn = $1")
            .bind(arn)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn tag_policy(&self, arn: &str, tags: Vec<Tag>) -> Result<()> {
        self.modify_tags("policies", "arn", arn, Entity::Policy, arn, |t| {
            merge_tags(t, tags);
        })
        .await
    }

    async fn untag_policy(&self, arn: &str, keys: &[String]) -> Result<()> {
        self.modify_tags("policies", "arn", arn, Entity::Policy, arn, |t| {
            remove_tags(t, keys);
        })
        .await
    }

    async fn create_policy_version(
        &self,
        arn: &str,
        document: String,
        set_as_default: bool,
    ) -> Result<PolicyVersion> {
        let mut tx = self.begin_write().await?;
        let next: Option<i64> =
            sqlx::query_scalar("SELECT next_version FROM policies WHERE arn = $1")
                .bind(arn)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(next) = next else {
            return Err(StoreError::not_found(Entity::Policy, arn));
        };
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM policy_versions WHERE policy_arn = $1")
                .bind(arn)
                .fetch_one(&mut *tx)
                .await?;
        if usize::try_from(count).unwrap_or(usize::MAX) >= MAX_POLICY_VERSIONS {
            return Err(StoreError::LimitExceeded {
                entity: Entity::PolicyVersion,
                message: format!(
                    "A managed policy can have up to {MAX_POLICY_VERSIONS} versions. Before you create a new version, you must delete an existing version."
                ),
            });
        }
        let now = self.now();
        let version_id = format!("v{next}");
        sqlx::query("INSERT INTO policy_versions (policy_arn, version_id, document, created) VALUES ($1, $2, $3, $4)")
            .bind(arn)
            .bind(&version_id)
            .bind(&document)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE policies SET next_version = $1, updated = $2 WHERE arn = $3")
            .bind(next + 1)
            .bind(now)
            .bind(arn)
            .execute(&mut *tx)
            .await?;
        if set_as_default {
            sqlx::query("UPDATE policies SET default_version = $1 WHERE arn = $2")
                .bind(&version_id)
                .bind(arn)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(PolicyVersion {
            version_id,
            document,
            is_default: set_as_default,
            create_date: to_time(now)?,
        })
    }

    async fn get_policy_version(&self, arn: &str, version_id: &str) -> Result<PolicyVersion> {
        let default = self.load_policy(arn).await?.default_version_id;
        let row = sqlx::query("SELECT document, created FROM policy_versions WHERE policy_arn = $1 AND version_id = $2")
            .bind(arn)
            .bind(version_id)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(PolicyVersion {
                version_id: version_id.to_owned(),
                document: row.try_get("document")?,
                is_default: default == version_id,
                create_date: to_time(row.try_get("created")?)?,
            }),
            None => Err(StoreError::not_found(Entity::PolicyVersion, version_id)),
        }
    }

    async fn list_policy_versions(&self, arn: &str) -> Result<Vec<PolicyVersion>> {
        let default = self.load_policy(arn).await?.default_version_id;
        let rows = sqlx::query(
            "SELECT version_id, document, created FROM policy_versions WHERE policy_arn = $1",
        )
        .bind(arn)
        .fetch_all(&self.pool)
        .await?;
        let mut versions = rows
            .iter()
            .map(|row| {
                let version_id: String = row.try_get("version_id")?;
                Ok(PolicyVersion {
                    is_default: version_id == default,
                    document: row.try_get("document")?,
                    create_date: to_time(row.try_get("created")?)?,
                    version_id,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        versions.sort_by_key(|v| std::cmp::Reverse(version_number(&v.version_id)));
        Ok(versions)
    }

    async fn delete_policy_version(&self, arn: &str, version_id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let default: Option<String> =
            sqlx::query_scalar("SELECT default_version FROM policies WHERE arn = $1")
                .bind(arn)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(default) = default else {
            return Err(StoreError::not_found(Entity::Policy, arn));
        };
        if default == version_id {
            return Err(StoreError::DeleteConflict {
                entity: Entity::PolicyVersion,
                message: "Cannot delete the default version of a policy.".to_owned(),
            });
        }
        let done =
            sqlx::query("DELETE FROM policy_versions WHERE policy_arn = $1 AND version_id = $2")
                .bind(arn)
                .bind(version_id)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(Entity::PolicyVersion, version_id));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn set_default_policy_version(&self, arn: &str, version_id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        if !Self::exists(&mut *tx, "SELECT 1 FROM policies WHERE arn = $1", arn).await? {
            return Err(StoreError::not_found(Entity::Policy, arn));
        }
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM policy_versions WHERE policy_arn = $1 AND version_id = $2",
        )
        .bind(arn)
        .bind(version_id)
        .fetch_optional(&mut *tx)
        .await?;
        if found.is_none() {
            return Err(StoreError::not_found(Entity::PolicyVersion, version_id));
        }
        sqlx::query("UPDATE policies SET default_version = $1, updated = $2 WHERE arn = $3")
            .bind(version_id)
            .bind(self.now())
            .bind(arn)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    // --------------------------------------------------- OIDC providers

    async fn create_oidc_provider(&self, provider: NewOidcProvider) -> Result<OidcProvider> {
        check_tag_count(Entity::OidcProvider, provider.tags.len())?;
        check_provider_lists(provider.client_ids.len(), provider.thumbprints.len())?;
        let (url, key) = normalize_provider_url(&provider.url);
        let mut tx = self.begin_write().await?;
        if let Some(row) = sqlx::query("SELECT url FROM oidc_providers WHERE url_key = $1")
            .bind(&key)
            .fetch_optional(&mut *tx)
            .await?
        {
            // Named by the existing URL, so an http/https clash says which one is there.
            let existing: String = row.try_get("url")?;
            return Err(StoreError::exists(Entity::OidcProvider, existing));
        }
        let now = self.now();
        let mut client_ids = Vec::new();
        for id in provider.client_ids {
            if !client_ids.contains(&id) {
                client_ids.push(id);
            }
        }
        let record = OidcProvider {
            arn: Arn::oidc_provider(&self.account, &key).to_string(),
            url,
            client_ids,
            thumbprints: provider.thumbprints,
            tags: provider.tags,
            create_date: to_time(now)?,
        };
        sqlx::query(
            "INSERT INTO oidc_providers (url_key, url, arn, client_ids, thumbprints, tags, created) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&key)
        .bind(&record.url)
        .bind(&record.arn)
        .bind(list_json(&record.client_ids)?)
        .bind(list_json(&record.thumbprints)?)
        .bind(tags_json(&record.tags)?)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(insert_err(Entity::OidcProvider, &record.url))?;
        tx.commit().await?;
        Ok(record)
    }

    async fn get_oidc_provider(&self, arn: &str) -> Result<OidcProvider> {
        match sqlx::query("SELECT * FROM oidc_providers WHERE arn = $1")
            .bind(arn)
            .fetch_optional(&self.pool)
            .await?
        {
            Some(row) => Self::provider_from(&row),
            None => Err(StoreError::not_found(Entity::OidcProvider, arn)),
        }
    }

    async fn find_oidc_provider_by_url(&self, url: &str) -> Result<OidcProvider> {
        let (normalised, key) = normalize_provider_url(url);
        let found = match sqlx::query("SELECT * FROM oidc_providers WHERE url_key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?
        {
            Some(row) => Some(Self::provider_from(&row)?),
            None => None,
        };
        // An http `iss` must not find the https provider of the same host (or back).
        match found {
            Some(provider) if provider.url == normalised => Ok(provider),
            _ => Err(StoreError::not_found(Entity::OidcProvider, normalised)),
        }
    }

    async fn list_oidc_providers(&self) -> Result<Vec<OidcProvider>> {
        let rows = sqlx::query("SELECT * FROM oidc_providers ORDER BY url_key")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::provider_from).collect()
    }

    async fn delete_oidc_provider(&self, arn: &str) -> Result<()> {
        let query = sqlx::query("DELETE FROM oidc_providers WHERE arn = $1").bind(arn);
        self.update_one(query, Entity::OidcProvider, arn).await
    }

    async fn add_client_id(&self, arn: &str, client_id: &str) -> Result<()> {
        self.modify_provider_list(arn, "client_ids", |ids| {
            if !ids.iter().any(|i| i == client_id) {
                ids.push(client_id.to_owned());
            }
        })
        .await
    }

    async fn remove_client_id(&self, arn: &str, client_id: &str) -> Result<()> {
        self.modify_provider_list(arn, "client_ids", |ids| ids.retain(|i| i != client_id))
            .await
    }

    async fn update_thumbprints(&self, arn: &str, thumbprints: Vec<String>) -> Result<()> {
        self.modify_provider_list(arn, "thumbprints", |list| *list = thumbprints)
            .await
    }

    async fn tag_oidc_provider(&self, arn: &str, tags: Vec<Tag>) -> Result<()> {
        self.modify_tags(
            "oidc_providers",
            "arn",
            arn,
            Entity::OidcProvider,
            arn,
            |t| merge_tags(t, tags),
        )
        .await
    }

    async fn untag_oidc_provider(&self, arn: &str, keys: &[String]) -> Result<()> {
        self.modify_tags(
            "oidc_providers",
            "arn",
            arn,
            Entity::OidcProvider,
            arn,
            |t| {
                remove_tags(t, keys);
            },
        )
        .await
    }

    // ---------------------------------------------------------- key ring

    async fn insert_server_key(&self, key: NewServerKey) -> Result<ServerKey> {
        let mut tx = self.begin_write().await?;
        let inserted = self.insert_server_key_tx(&mut tx, key).await?;
        tx.commit().await?;
        Ok(inserted)
    }

    async fn insert_server_key_if_absent(&self, key: NewServerKey) -> Result<ServerKey> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "SELECT * FROM server_keys WHERE purpose = $1 AND active = 1 AND (expires IS NULL OR expires > $2) \
             ORDER BY created DESC, key_id DESC LIMIT 1",
        )
        .bind(&key.purpose)
        .bind(self.now())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = row {
            return self.server_key_from(&row);
        }
        let inserted = self.insert_server_key_tx(&mut tx, key).await?;
        tx.commit().await?;
        Ok(inserted)
    }

    async fn list_server_keys(&self, purpose: &str) -> Result<Vec<ServerKey>> {
        let rows = sqlx::query(
            "SELECT * FROM server_keys WHERE purpose = $1 ORDER BY created, not_before, key_id",
        )
        .bind(purpose)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| self.server_key_from(r)).collect()
    }

    async fn retire_server_key(
        &self,
        purpose: &str,
        key_id: &str,
        retire_after: Option<OffsetDateTime>,
    ) -> Result<()> {
        let at = retire_after.map_or_else(|| self.now(), OffsetDateTime::unix_timestamp);
        let query = sqlx::query("UPDATE server_keys SET active = 0, retire_after = $1 WHERE purpose = $2 AND key_id = $3")
            .bind(at)
            .bind(purpose)
            .bind(key_id);
        self.update_one(query, Entity::ServerKey, key_id).await
    }

    async fn delete_server_key(&self, purpose: &str, key_id: &str) -> Result<()> {
        let query = sqlx::query("DELETE FROM server_keys WHERE purpose = $1 AND key_id = $2")
            .bind(purpose)
            .bind(key_id);
        self.update_one(query, Entity::ServerKey, key_id).await
    }

    // ------------------------------------------------- account settings

    async fn get_account_setting(&self, name: &str) -> Result<Option<String>> {
        let value: Option<String> =
            sqlx::query_scalar("SELECT value FROM account_settings WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(value)
    }

    async fn set_account_setting(&self, name: &str, value: &str) -> Result<Option<String>> {
        let mut tx = self.begin_write().await?;
        let previous: Option<String> =
            sqlx::query_scalar("SELECT value FROM account_settings WHERE name = $1")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        sqlx::query(
            "INSERT INTO account_settings (name, value, updated) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated = excluded.updated",
        )
        .bind(name)
        .bind(value)
        .bind(self.now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(previous)
    }

    // --------------------------------------------------- bucket policies

    async fn put_bucket_policy(&self, bucket: &str, document: String) -> Result<BucketPolicy> {
        let updated = self.now();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO bucket_policies (bucket, document, updated) VALUES ($1, $2, $3) \
             ON CONFLICT (bucket) DO UPDATE SET document = excluded.document, updated = excluded.updated",
        )
        .bind(bucket)
        .bind(&document)
        .bind(updated)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(BucketPolicy {
            bucket: bucket.to_owned(),
            document,
            updated: to_time(updated)?,
        })
    }

    async fn get_bucket_policy(&self, bucket: &str) -> Result<Option<BucketPolicy>> {
        let row =
            sqlx::query("SELECT bucket, document, updated FROM bucket_policies WHERE bucket = $1")
                .bind(bucket)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|row| {
            Ok(BucketPolicy {
                bucket: row.try_get("bucket")?,
                document: row.try_get("document")?,
                updated: to_time(row.try_get("updated")?)?,
            })
        })
        .transpose()
    }

    async fn delete_bucket_policy(&self, bucket: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM bucket_policies WHERE bucket = $1")
            .bind(bucket)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(deleted > 0)
    }
}

fn check_provider_lists(client_ids: usize, thumbprints: usize) -> Result<()> {
    if client_ids > MAX_CLIENT_IDS {
        return Err(StoreError::LimitExceeded {
            entity: Entity::OidcProvider,
            message: format!(
                "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}"
            ),
        });
    }
    if thumbprints > MAX_THUMBPRINTS {
        return Err(StoreError::LimitExceeded {
            entity: Entity::OidcProvider,
            message: format!(
                "Cannot exceed quota for ThumbprintsPerOpenIdConnectProvider: {MAX_THUMBPRINTS}"
            ),
        });
    }
    Ok(())
}

impl SqlStore {
    async fn modify_provider_list(
        &self,
        arn: &str,
        column: &str,
        change: impl FnOnce(&mut Vec<String>) + Send,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let sql = format!("SELECT {column} FROM oidc_providers WHERE arn = $1");
        let text: Option<String> = sqlx::query_scalar(&sql)
            .bind(arn)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(text) = text else {
            return Err(StoreError::not_found(Entity::OidcProvider, arn));
        };
        let mut list: Vec<String> = json_list(&text, column)?;
        change(&mut list);
        if column == "client_ids" {
            check_provider_lists(list.len(), 0)?;
        } else {
            check_provider_lists(0, list.len())?;
        }
        let sql = format!("UPDATE oidc_providers SET {column} = $1 WHERE arn = $2");
        sqlx::query(&sql)
            .bind(list_json(&list)?)
            .bind(arn)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
