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
use crate::session_token::{KeyRing, SessionClaims, SessionPrincipal};

/// How long a long-term key (or its absence) read from the store is trusted.
pub const KEY_CACHE_TTL: Duration = Duration::seconds(5);

/// Bound on cached keys; unknown key ids cannot grow memory without limit.
const KEY_CACHE_MAX: usize = 10_000;

/// Bound on opened session tokens kept (only authentic ones are kept).
const SESSION_CACHE_MAX: usize = 4096;

/// A session token this process opened. Clients reuse their session
/// credentials for many calls (every SDK does), so the token is decrypted
/// and parsed once rather than on every signed request.
#[derive(Debug)]
struct OpenedSession {
    /// The key ring it was opened with: after any change of the ring
    /// (reload, rotation, pruning) the entry is not used.
    ring: Arc<KeyRing>,
    claims: SessionClaims,
}

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
    /// Session tokens already opened, by token text.
    sessions: RwLock<HashMap<Box<str>, OpenedSession>>,
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
            sessions: RwLock::new(HashMap::new()),
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
            let claims = self.open_session(token.expose()).await?;
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

    /// The claims of a session token: from the tokens this process opened
    /// with the current key ring, else opened (and kept when authentic).
    /// Expiry is checked on every use, cached or not.
    async fn open_session(&self, token: &str) -> Result<SessionClaims, AuthError> {
        let ring = self.session_keys.ring();
        if let Ok(sessions) = self.sessions.read() {
            if let Some(opened) = sessions.get(token) {
                if Arc::ptr_eq(&opened.ring, &ring) {
                    if self.clock.unix_seconds() >= opened.claims.expires_at {
                        return Err(AuthError::ExpiredSessionToken);
                    }
                    return Ok(opened.claims.clone());
                }
            }
        }
        let claims = self.session_keys.open(token).await?;
        // Kept only when no reload happened meanwhile, so an entry is always
        // tagged with the ring that opened it.
        if Arc::ptr_eq(&ring, &self.session_keys.ring()) {
            if let Ok(mut sessions) = self.sessions.write() {
                if sessions.len() >= SESSION_CACHE_MAX && !sessions.contains_key(token) {
                    let now = self.clock.unix_seconds();
                    sessions
                        .retain(|_, o| Arc::ptr_eq(&o.ring, &ring) && now < o.claims.expires_at);
                    if sessions.len() >= SESSION_CACHE_MAX {
                        sessions.clear();
                    }
                }
                sessions.insert(
                    token.into(),
                    OpenedSession {
                        ring,
                        claims: claims.clone(),
                    },
                );
            }
        }
        Ok(claims)
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
                !matches!(&cached.key, Some(LongTermKey { kind: CallerKind::User { name, .. }, .. }) if name.eq_ignore_ascii_case(user_name))
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
                // Refreshing a key does not grow the map: only a new id may
                // need room (a full map was swept on every refresh).
                if keys.len() >= KEY_CACHE_MAX && !keys.contains_key(access_key_id) {
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

#[cfg(test)]
mod tests {
    use std::time::Duration as StdDuration;

    use irsa_core::TestClock;

    use super::*;
    use crate::session_keys::RELOAD_AFTER;
    use crate::test_support::{session_claims as claims, temp_store};

    fn cached(auth: &Authenticator, token: &str) -> Option<Arc<KeyRing>> {
        let sessions = auth.sessions.read().unwrap();
        sessions.get(token).map(|o| Arc::clone(&o.ring))
    }

    #[tokio::test]
    async fn opened_sessions_are_reused_but_expire_and_follow_the_ring() {
        let dir = tempfile::tempdir().unwrap();
        let clock = TestClock::at_unix(1_800_000_000);
        let shared: SharedClock = Arc::new(clock.clone());
        let store = temp_store(dir.path(), shared.clone()).await;
        let auth = Authenticator::new(store, shared, AccountId::default())
            .await
            .unwrap();
        let sealed = auth.session_keys().seal(&claims(&clock)).unwrap();
        let token = sealed.expose();

        assert_eq!(auth.open_session(token).await.unwrap(), claims(&clock));
        let first_ring = cached(&auth, token).expect("kept once opened");
        assert_eq!(auth.open_session(token).await.unwrap(), claims(&clock));

        // A forged token is opened (and refused), never matched to the entry.
        let mut forged = token.to_owned();
        let last = forged.pop().unwrap();
        forged.push(if last == 'A' { 'B' } else { 'A' });
        assert!(matches!(
            auth.open_session(&forged).await,
            Err(AuthError::InvalidSessionToken)
        ));
        assert!(cached(&auth, &forged).is_none());

        // A reload that finds the same keys keeps the ring, and the entry.
        let reload_after = u64::try_from(RELOAD_AFTER.whole_seconds()).unwrap() + 1;
        clock.advance(StdDuration::from_secs(reload_after));
        assert!(auth.session_keys().reload().await);
        assert!(Arc::ptr_eq(&first_ring, &auth.session_keys().ring()));
        auth.open_session(token).await.unwrap();
        assert!(Arc::ptr_eq(&first_ring, &cached(&auth, token).unwrap()));

        // After a rotation the reloaded ring is new, the old entry is not
        // used, and the token is opened again with the new ring.
        crate::session_keys::rotate(auth.store.as_ref(), Duration::seconds(60))
            .await
            .unwrap();
        clock.advance(StdDuration::from_secs(reload_after));
        assert!(auth.session_keys().reload().await);
        let second_ring = auth.session_keys().ring();
        assert!(!Arc::ptr_eq(&first_ring, &second_ring));
        auth.open_session(token).await.unwrap();
        assert!(Arc::ptr_eq(&second_ring, &cached(&auth, token).unwrap()));

        // Expiry holds for a kept token.
        clock.advance(StdDuration::from_secs(3600));
        assert!(cached(&auth, token).is_some());
        assert!(matches!(
            auth.open_session(token).await,
            Err(AuthError::ExpiredSessionToken)
        ));
    }
}
