//! Hot-path cache for AssumeRoleWithWebIdentity: OIDC providers by the
//! token's `iss` and roles by name (with the parsed trust policy), so a
//! warm call reads nothing from the store.
//!
//! Consistency: IAM writes made through this process invalidate the entity
//! at once ([`LookupCache::after_write`], called centrally by the service).
//! Writes made by other replicas (or offline tools on the same database) are
//! seen after at most [`LOOKUP_TTL`] — IAM itself is eventually consistent.
//! Missing entities are cached for the same TTL, never longer.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use irsa_auth::Authorizer;
use irsa_oidc::{ConfigError, ProviderTrust};
use irsa_policy::{Policy, PolicyKind};
use irsa_store::{OidcProvider, Role, Store, StoreError};
use time::{Duration, OffsetDateTime};

use crate::error::{store_error, ApiError};
use crate::metrics::ApiMetrics;
use crate::protocol::query::Params;

/// How long a looked-up provider or role (or its absence) is trusted.
pub(crate) const LOOKUP_TTL: Duration = Duration::seconds(5);

/// Bound on entries per map; garbage `iss` values cannot grow memory. Well
/// above the 10,000 roles a large account has, so such an account's roles
/// all stay cached.
const MAX_ENTRIES: usize = 50_000;

/// A provider with what the verifier needs of it built once (normalised URL,
/// decoded thumbprints) rather than on every AssumeRoleWithWebIdentity.
#[derive(Debug)]
pub(crate) struct CachedProvider {
    pub provider: OidcProvider,
    /// `http://` accepted when this was built; a verifier with another
    /// setting builds its own (see [`CachedProvider::trust`]).
    allow_http: bool,
    trust: Result<ProviderTrust, ConfigError>,
}

impl CachedProvider {
    fn new(provider: OidcProvider, allow_http: bool) -> Self {
        let trust = ProviderTrust::new(
            &provider.url,
            provider.client_ids.iter().cloned(),
            provider.thumbprints.iter(),
            allow_http,
        );
        Self {
            provider,
            allow_http,
            trust,
        }
    }

    /// The provider's trust (URL, client ids, thumbprints) for a verifier
    /// that does or does not accept `http://` issuers.
    pub(crate) fn trust(&self, allow_http: bool) -> Result<Cow<'_, ProviderTrust>, ConfigError> {
        if allow_http == self.allow_http {
            return self.trust.as_ref().map(Cow::Borrowed).map_err(Clone::clone);
        }
        let fresh = Self::new(self.provider.clone(), allow_http);
        fresh.trust.map(Cow::Owned)
    }
}

/// A role with its trust policy parsed once.
#[derive(Debug)]
pub(crate) struct CachedRole {
    pub role: Role,
    pub trust: Arc<Policy>,
}

#[derive(Debug)]
struct Entry<T> {
    value: Option<Arc<T>>,
    loaded: OffsetDateTime,
}

#[derive(Debug)]
struct Map<T> {
    entries: RwLock<HashMap<String, Entry<T>>>,
    /// Bumped on invalidation: a lookup that started before it does not
    /// put its (possibly stale) answer back.
    generation: AtomicU64,
}

impl<T> Default for Map<T> {
    fn default() -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }
}

impl<T> Map<T> {
    /// `Some(answer)` when a fresh entry exists; the answer itself is
    /// `None` for a cached absence.
    #[allow(clippy::option_option)]
    fn get(&self, key: &str, now: OffsetDateTime) -> Option<Option<Arc<T>>> {
        let entries = self.entries.read().ok()?;
        let entry = entries.get(key)?;
        (now - entry.loaded < LOOKUP_TTL && now >= entry.loaded).then(|| entry.value.clone())
    }

    fn put(&self, key: String, value: Option<Arc<T>>, now: OffsetDateTime, generation: u64) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        // Refreshing an entry does not grow the map: only a new key may
        // need room (a full map used to be swept on every refresh).
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            entries.retain(|_, e| now - e.loaded < LOOKUP_TTL);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, Entry { value, loaded: now });
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn remove(&self, key: &str) {
        if let Ok(mut entries) = self.entries.write() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            entries.remove(key);
        }
    }

    fn clear(&self) {
        if let Ok(mut entries) = self.entries.write() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            entries.clear();
        }
    }
}

/// Providers by `iss`, roles by lower-cased name (IAM names are
/// case-insensitive).
#[derive(Debug, Default)]
pub(crate) struct LookupCache {
    providers: Map<CachedProvider>,
    roles: Map<CachedRole>,
}

impl LookupCache {
    /// The provider registered for the token issuer `iss` (`None`: none),
    /// with its trust built for `allow_http`.
    pub(crate) async fn provider(
        &self,
        store: &dyn Store,
        metrics: &ApiMetrics,
        now: OffsetDateTime,
        iss: &str,
        allow_http: bool,
    ) -> Result<Option<Arc<CachedProvider>>, ApiError> {
        if let Some(hit) = self.providers.get(iss, now) {
            metrics.lookup("provider", "hit");
            return Ok(hit);
        }
        metrics.lookup("provider", "miss");
        let generation = self.providers.generation();
        let found = match store.find_oidc_provider_by_url(iss).await {
            Ok(p) => Some(Arc::new(CachedProvider::new(p, allow_http))),
            Err(StoreError::NotFound { .. } | StoreError::InvalidInput(_)) => None,
            Err(e) => return Err(store_error(e)),
        };
        self.providers
            .put(iss.to_owned(), found.clone(), now, generation);
        Ok(found)
    }

    /// The role `name` with its parsed trust policy (`None`: no such role).
    pub(crate) async fn role(
        &self,
        store: &dyn Store,
        metrics: &ApiMetrics,
        authz: &Authorizer,
        now: OffsetDateTime,
        name: &str,
    ) -> Result<Option<Arc<CachedRole>>, ApiError> {
        let key = name.to_ascii_lowercase();
        if let Some(hit) = self.roles.get(&key, now) {
            metrics.lookup("role", "hit");
            return Ok(hit);
        }
        metrics.lookup("role", "miss");
        let generation = self.roles.generation();
        let found = match store.get_role(name).await {
            Ok(role) => {
                let trust = authz
                    .parse_stored(&role.assume_role_policy_document, PolicyKind::Trust)
                    .map_err(|e| ApiError::service_failure(&e))?;
                Some(Arc::new(CachedRole { role, trust }))
            }
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(store_error(e)),
        };
        self.roles.put(key, found.clone(), now, generation);
        Ok(found)
    }

    fn invalidate_role(&self, name: &str) {
        self.roles.remove(&name.to_ascii_lowercase());
    }

    fn invalidate_providers(&self) {
        self.providers.clear();
    }

    /// Called after every successful signed call: an IAM write that names a
    /// role or touches an OIDC provider drops what it may have changed.
    pub(crate) fn after_write(&self, action: &str, params: &Params) {
        if is_read_only(action) {
            return;
        }
        if let Some(name) = params.get("RoleName") {
            self.invalidate_role(name);
        }
        if action.contains("OpenIDConnectProvider") {
            self.invalidate_providers();
        }
    }
}

pub(crate) fn is_read_only(action: &str) -> bool {
    ["Get", "List", "Simulate", "Generate", "Decode"]
        .iter()
        .any(|p| action.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_invalidation_wins_races() {
        let map: Map<String> = Map::default();
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let g = map.generation();
        map.put("a".into(), Some(Arc::new("x".into())), t0, g);
        assert_eq!(map.get("a", t0).unwrap().as_deref(), Some(&"x".to_owned()));
        assert!(map.get("a", t0 + LOOKUP_TTL).is_none(), "expired");
        // A lookup that began before an invalidation does not store its answer.
        let stale = map.generation();
        map.remove("a");
        map.put("a".into(), Some(Arc::new("old".into())), t0, stale);
        assert!(map.get("a", t0).is_none());
        // Negative answers are cached too, for the TTL only.
        map.put("b".into(), None, t0, map.generation());
        assert_eq!(map.get("b", t0), Some(None));
        assert!(map.get("b", t0 + LOOKUP_TTL).is_none());
    }

    #[test]
    fn writes_invalidate_by_entity() {
        let cache = LookupCache::default();
        let t0 = OffsetDateTime::UNIX_EPOCH;
        cache
            .roles
            .put("app".into(), None, t0, cache.roles.generation());
        cache
            .roles
            .put("other".into(), None, t0, cache.roles.generation());
        cache
            .providers
            .put("https://i".into(), None, t0, cache.providers.generation());
        let mut params = Params::new();
        params.insert("RoleName".into(), "App".into());
        cache.after_write("GetRole", &params);
        assert!(cache.roles.get("app", t0).is_some(), "reads keep entries");
        cache.after_write("UpdateAssumeRolePolicy", &params);
        assert!(cache.roles.get("app", t0).is_none());
        assert!(cache.roles.get("other", t0).is_some());
        assert!(cache.providers.get("https://i", t0).is_some());
        cache.after_write("AddClientIDToOpenIDConnectProvider", &Params::new());
        assert!(cache.providers.get("https://i", t0).is_none());
    }
}
