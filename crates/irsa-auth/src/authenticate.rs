//! Authentication: who signed a request. SigV4 (irsa-sigv4) with secrets
//! from long-term keys in the store (cached) or from temporary keys sealed
//! inside session tokens (no store read at all).
//!
//! Consistency of the key cache: a key changed through this process is
//! invalidated at once ([`Authenticator::invalidate_access_key`]); a change
//! made by another replica is seen within [`KEY_CACHE_TTL`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use irsa_core::{AccountId, Arn, SecretString, SharedClock};
use irsa_sigv4::{RequestParts, SigV4Config, VerifiedSignature};
use irsa_store::{AccessKeyStatus, KeyOwner, Store, StoreError};
use time::{Duration, OffsetDateTime};

use crate::caller::{Caller, CallerKind};
use crate::error::AuthError;
use crate::session_keys::SessionKeys;
use crate::session_token::{SessionClaims, SessionPrincipal};

/// How long a long-term key (or its absence) read from the store is trusted.
pub const KEY_CACHE_TTL: Duration = Duration::seconds(5);

/// Bound on cached keys; unknown key ids cannot grow memory without limit.
const KEY_CACHE_MAX: usize = 10_000;

/// A long-term key as authentication needs it.
#[derive(Debug, Clone)]
struct LongTermKey {
    secret: SecretString,
    kind: CallerKind,
}

#[derive(Debug)]
struct CachedKey {
    /// `None`: unknown, inactive, or its owner is gone.
    key: Option<LongTermKey>,
    loaded: OffsetDateTime,
}

/// A verified request: the caller and the signature facts.
#[derive(Debug)]
pub struct Authenticated {
    caller: Caller,
    signature: VerifiedSignature,
}

impl Authenticated {
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    pub fn into_caller(self) -> Caller {
        self.caller
    }

    /// Service, region, form and time of the verified signature.
    pub fn signature(&self) -> &VerifiedSignature {
        &self.signature
    }

    pub fn into_parts(self) -> (Caller, VerifiedSignature) {
        (self.caller, self.signature)
    }
}

/// Verifies SigV4 requests for any front.
#[derive(Debug)]
pub struct Authenticator {
    store: Arc<dyn Store>,
    clock: SharedClock,
    account: AccountId,
    session_keys: SessionKeys,
    keys: RwLock<HashMap<String, CachedKey>>,
    /// Bumped on invalidation so a lookup that started before it does not
    /// put a stale answer back.
    generation: AtomicU64,
    /// Access key id → when its use was last written (throttles the writes).
    key_use: Mutex<HashMap<String, OffsetDateTime>>,
}

impl Authenticator {
    /// Loads the session-token key ring (creating its first key if absent).
    pub async fn new(
        store: Arc<dyn Store>,
        clock: SharedClock,
        account: AccountId,
    ) -> Result<Self, AuthError> {
        let session_keys = SessionKeys::load(Arc::clone(&store), clock.clone()).await?;
        Ok(Self {
            store,
            clock,
            account,
            session_keys,
            keys: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            key_use: Mutex::new(HashMap::new()),
        })
    }

    pub fn account(&self) -> &AccountId {
        &self.account
    }

    /// The session-token keys (STS seals new sessions with them).
    pub fn session_keys(&self) -> &SessionKeys {
        &self.session_keys
    }

    /// Verifies the request's signature under `config` (which services and
    /// canonicalisation rules the front accepts) and says who signed it.
    pub async fn authenticate(
        &self,
        config: &SigV4Config,
        request: &RequestParts<'_>,
    ) -> Result<Authenticated, AuthError> {
        let parsed = config.parse(request)?;
        let access_key_id = parsed.access_key_id().to_owned();
        let region = parsed.region().to_owned();
        let (kind, secret, session) = if access_key_id.starts_with("ASIA") {
            let token = parsed
                .security_token()
                .ok_or(AuthError::MissingSessionToken)?;
            let claims = self.session_keys.open(token.expose()).await?;
            if claims.access_key_id != access_key_id
                || claims.account.as_str() != self.account.as_str()
            {
                return Err(AuthError::InvalidSessionToken);
            }
            let kind = session_caller(&claims)?;
            let secret = claims.secret_access_key.clone();
            (kind, secret, Some(claims))
        } else {
            let key = self
                .long_term_key(&access_key_id)
                .await?
                .ok_or(AuthError::UnknownAccessKey)?;
            (key.kind, key.secret, None)
        };
        let signature = config.verify(&parsed, request, &secret, self.clock.now())?;
        if session.is_none() {
            self.note_key_use(&access_key_id, signature.service(), signature.region());
        }
        Ok(Authenticated {
            caller: Caller::new(
                kind,
                self.account.as_str().to_owned(),
                access_key_id,
                session,
                region,
            ),
            signature,
        })
    }

    /// Forgets a cached long-term key (after IAM changed or deleted it here).
    pub fn invalidate_access_key(&self, access_key_id: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut keys) = self.keys.write() {
            keys.remove(access_key_id);
        }
    }

    /// Forgets every cached key of a user (renamed or deleted user).
    pub fn invalidate_user(&self, user_name: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut keys) = self.keys.write() {
            keys.retain(|_, cached| {
                !matches!(&cached.key, Some(LongTermKey { kind: CallerKind::User { name, .. }, .. }) if name == user_name)
            });
        }
    }

    /// Forgets every cached key.
    pub fn invalidate_all_keys(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut keys) = self.keys.write() {
            keys.clear();
        }
    }

    async fn long_term_key(&self, access_key_id: &str) -> Result<Option<LongTermKey>, AuthError> {
        let now = self.clock.now_utc();
        if let Ok(keys) = self.keys.read() {
            if let Some(cached) = keys.get(access_key_id) {
                if now - cached.loaded < KEY_CACHE_TTL {
                    return Ok(cached.key.clone());
                }
            }
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let key = self.load_long_term_key(access_key_id).await?;
        if let Ok(mut keys) = self.keys.write() {
            if self.generation.load(Ordering::SeqCst) == generation {
                if keys.len() >= KEY_CACHE_MAX {
                    keys.retain(|_, c| now - c.loaded < KEY_CACHE_TTL);
                    if keys.len() >= KEY_CACHE_MAX {
                        keys.clear();
                    }
                }
                keys.insert(
                    access_key_id.to_owned(),
                    CachedKey {
                        key: key.clone(),
                        loaded: now,
                    },
                );
            }
        }
        Ok(key)
    }

    async fn load_long_term_key(
        &self,
        access_key_id: &str,
    ) -> Result<Option<LongTermKey>, AuthError> {
        let key = match self.store.get_access_key(access_key_id).await {
            Ok(k) => k,
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(AuthError::store(&e)),
        };
        if key.key.status != AccessKeyStatus::Active {
            return Ok(None);
        }
        let kind = match &key.key.owner {
            KeyOwner::Root => CallerKind::Root,
            KeyOwner::User(name) => match self.store.get_user(name).await {
                Ok(u) => CallerKind::User {
                    name: u.name,
                    id: u.id,
                    arn: u.arn,
                },
                Err(StoreError::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(AuthError::store(&e)),
            },
        };
        Ok(Some(LongTermKey {
            secret: key.secret,
            kind,
        }))
    }

    /// Records the use of a long-term key off the hot path, at most once a
    /// minute per key (GetAccessKeyLastUsed).
    fn note_key_use(&self, key_id: &str, service: &str, region: &str) {
        let now = self.clock.now_utc();
        {
            let Ok(mut seen) = self.key_use.lock() else {
                return;
            };
            if seen
                .get(key_id)
                .is_some_and(|t| now - *t < Duration::seconds(60))
            {
                return;
            }
            if seen.len() > KEY_CACHE_MAX {
                seen.clear();
            }
            seen.insert(key_id.to_owned(), now);
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = Arc::clone(&self.store);
        let (key_id, service, region) = (key_id.to_owned(), service.to_owned(), region.to_owned());
        rt.spawn(async move {
            if let Err(e) = store
                .record_access_key_use(&key_id, &service, &region)
                .await
            {
                tracing::warn!(error = %e, "could not record access key use");
            }
        });
    }
}

fn session_caller(claims: &SessionClaims) -> Result<CallerKind, AuthError> {
    let name_of = |arn: &str| {
        arn.parse::<Arn>()
            .map(|a| a.resource_name().to_owned())
            .map_err(|_| AuthError::InvalidSessionToken)
    };
    Ok(match &claims.principal {
        SessionPrincipal::AssumedRole {
            role_arn,
            role_id,
            session_name,
        } => CallerKind::RoleSession {
            role_name: name_of(role_arn)?,
            role_arn: role_arn.clone(),
            role_id: role_id.clone(),
            session_name: session_name.clone(),
        },
        SessionPrincipal::User { user_arn, user_id } => CallerKind::UserSession {
            name: name_of(user_arn)?,
            id: user_id.clone(),
            arn: user_arn.clone(),
        },
        SessionPrincipal::Root => CallerKind::RootSession,
        // irsa issues no federation tokens; such a token is not ours.
        SessionPrincipal::FederatedUser { .. } => return Err(AuthError::InvalidSessionToken),
    })
}
