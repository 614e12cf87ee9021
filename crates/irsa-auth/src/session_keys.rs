//! The session-token key ring as a running server holds it: loaded from
//! the store (its first key created if absent), reloaded at most every
//! [`RELOAD_AFTER`] when a token names a key it does not hold (another
//! replica rotated) and on every [`SessionKeys::upkeep`] pass, and used to
//! seal and open session tokens.
//!
//! Rotation ([`rotate`], `irsa session-keys rotate`) adds a key that starts
//! sealing [`ACTIVATION_DELAY`] later: every replica reloads within
//! [`RELOAD_AFTER`] + [`UPKEEP_EVERY`], so each can open tokens sealed with
//! the new key before any replica seals one. The keys it replaces keep
//! opening tokens until every session they sealed has expired.

use std::sync::{Arc, RwLock};

use irsa_core::{SecretBytes, SecretString, SharedClock};
use irsa_store::key_ring::{self, current_signer, keys_with_signer};
use irsa_store::{NewServerKey, ServerKey, Store};
use time::{Duration, OffsetDateTime};

use crate::error::AuthError;
use crate::session_token::{
    open_at, seal, KeyRing, SessionClaims, SessionKey, SessionTokenError, KEY_LEN,
};

/// Purpose of the session-token keys in the store's key ring.
pub const SESSION_TOKEN_KEY_PURPOSE: &str = "session-token";

/// How often a miss may trigger a reload from the store.
pub const RELOAD_AFTER: Duration = Duration::seconds(30);

/// How often a server runs [`SessionKeys::upkeep`].
pub const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

/// How long after [`rotate`] the new key starts sealing: longer than the
/// slowest replica's reload (`RELOAD_AFTER` + `UPKEEP_EVERY` = 45 s).
pub const ACTIVATION_DELAY: Duration = Duration::seconds(90);

/// The longest session STS seals (GetSessionToken's 129,600 s) plus the
/// 5-minute clock-skew allowance: how long a replaced key keeps opening
/// tokens before upkeep deletes it.
pub const RETIRED_KEY_KEPT_FOR: std::time::Duration = std::time::Duration::from_secs(129_600 + 300);

#[derive(Debug)]
pub struct SessionKeys {
    store: Arc<dyn Store>,
    clock: SharedClock,
    ring: RwLock<(Arc<KeyRing>, OffsetDateTime)>,
}

impl SessionKeys {
    pub async fn load(store: Arc<dyn Store>, clock: SharedClock) -> Result<Self, AuthError> {
        let now = clock.now_utc();
        let ring = load_ring(store.as_ref()).await?;
        Ok(Self {
            store,
            clock,
            ring: RwLock::new((Arc::new(ring), now)),
        })
    }

    /// The ring in use.
    pub fn ring(&self) -> Arc<KeyRing> {
        match self.ring.read() {
            Ok(g) => Arc::clone(&g.0),
            Err(poisoned) => Arc::clone(&poisoned.into_inner().0),
        }
    }

    /// Seals session claims with the current key.
    pub fn seal(&self, claims: &SessionClaims) -> Result<SecretString, AuthError> {
        seal(claims, self.ring().current())
            .map(SecretString::new)
            .map_err(|e| AuthError::Internal(e.to_string()))
    }

    /// Opens a session token, reloading the ring once if the token was
    /// sealed under a key this process has not seen yet.
    pub async fn open(&self, token: &str) -> Result<SessionClaims, AuthError> {
        let opened = open_at(token, &self.ring(), self.clock.as_ref());
        let opened = match opened {
            Err(SessionTokenError::Invalid) if self.reload().await => {
                open_at(token, &self.ring(), self.clock.as_ref())
            }
            other => other,
        };
        opened.map_err(|e| match e {
            SessionTokenError::Expired => AuthError::ExpiredSessionToken,
            SessionTokenError::Invalid => AuthError::InvalidSessionToken,
            SessionTokenError::InvalidKey(_) | SessionTokenError::Seal => {
                AuthError::Internal(e.to_string())
            }
        })
    }

    /// Reloads the ring from the store, at most every [`RELOAD_AFTER`].
    /// True when reloaded.
    pub async fn reload(&self) -> bool {
        let now = self.clock.now_utc();
        let last = match self.ring.read() {
            Ok(g) => g.1,
            Err(poisoned) => poisoned.into_inner().1,
        };
        if now - last < RELOAD_AFTER {
            return false;
        }
        match load_ring(self.store.as_ref()).await {
            Ok(ring) => {
                if let Ok(mut g) = self.ring.write() {
                    // An unchanged ring stays the same `Arc`: what was
                    // opened with it (the authenticator's opened sessions)
                    // stays valid.
                    if !g.0.same_keys(&ring) {
                        g.0 = Arc::new(ring);
                    }
                    g.1 = now;
                }
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not reload the session-token key ring");
                false
            }
        }
    }
}

/// What one [`SessionKeys::upkeep`] pass changed in the store.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SessionKeyUpkeep {
    /// Keys that stopped sealing because a newer key seals now.
    pub retired: Vec<String>,
    /// Retired keys deleted because every session they sealed has expired.
    pub pruned: Vec<String>,
}

impl SessionKeys {
    /// One upkeep pass: reloads the ring (at most every [`RELOAD_AFTER`]) so
    /// a key added by [`rotate`] is known, and seals once it is due; retires
    /// keys a newer one replaced and deletes those whose sessions have all
    /// expired. Failures are logged; the next pass retries.
    pub async fn upkeep(&self) -> SessionKeyUpkeep {
        self.reload().await;
        let store = self.store.as_ref();
        let mut pass = SessionKeyUpkeep::default();
        match key_ring::retire_superseded(store, SESSION_TOKEN_KEY_PURPOSE).await {
            Ok(retired) => pass.retired = retired,
            Err(e) => tracing::warn!(error = %e, "session-token key upkeep could not retire keys"),
        }
        let now = self.clock.now_utc();
        match key_ring::prune_retired(store, SESSION_TOKEN_KEY_PURPOSE, RETIRED_KEY_KEPT_FOR, now)
            .await
        {
            Ok(pruned) => pass.pruned = pruned,
            Err(e) => tracing::warn!(error = %e, "session-token key upkeep could not prune keys"),
        }
        pass
    }
}

/// Adds a new session-token key that starts sealing `activate_in` from now
/// (the store's clock; [`ACTIVATION_DELAY`] unless the operator knows every
/// replica reloads sooner); returns it. The keys it replaces are retired by
/// the first upkeep pass after that and keep opening tokens for
/// [`RETIRED_KEY_KEPT_FOR`].
pub async fn rotate(store: &dyn Store, activate_in: Duration) -> Result<ServerKey, AuthError> {
    let mut fresh = new_session_key().map_err(|e| AuthError::Internal(e.to_string()))?;
    fresh.not_before = Some(store.clock().now_utc() + activate_in);
    key_ring::rotate(store, fresh)
        .await
        .map_err(|e| AuthError::Unavailable(e.to_string()))
}

fn new_session_key() -> Result<NewServerKey, SessionTokenError> {
    let fresh = SessionKey::generate(format!("st-{:016x}", rand::random::<u64>()))?;
    Ok(NewServerKey {
        purpose: SESSION_TOKEN_KEY_PURPOSE.to_owned(),
        key_id: fresh.id().to_owned(),
        algorithm: "XChaCha20-Poly1305".to_owned(),
        secret: SecretBytes::new(fresh.secret().expose().to_vec()),
        public: None,
        not_before: None,
        retire_after: None,
        expires: None,
    })
}

async fn load_ring(store: &dyn Store) -> Result<KeyRing, AuthError> {
    let ring = keys_with_signer(store, SESSION_TOKEN_KEY_PURPOSE, new_session_key)
        .await
        .map_err(|e| AuthError::Unavailable(e.to_string()))?;
    let now = ring.now;
    let sealable: Vec<_> = ring
        .keys
        .into_iter()
        .filter(|k| k.secret.len() == KEY_LEN)
        .collect();
    let current = current_signer(&sealable, now)
        .ok_or_else(|| AuthError::Internal("no usable session-token key".to_owned()))?;
    let to_key = |k: &irsa_store::ServerKey| {
        SessionKey::new(k.key_id.clone(), k.secret.clone())
            .map_err(|e| AuthError::Internal(e.to_string()))
    };
    // The current key seals; every unexpired key opens.
    let mut keys = vec![to_key(current)?];
    for k in sealable.iter().rev() {
        if k.key_id != current.key_id && k.can_verify_at(now) {
            if let Ok(key) = to_key(k) {
                keys.push(key);
            }
        }
    }
    KeyRing::new(keys).map_err(|e| AuthError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration as StdDuration;

    use irsa_core::{Clock, TestClock};

    use super::*;
    use crate::test_support::{session_claims as claims, temp_store};

    #[tokio::test]
    async fn rotation_seals_with_the_new_key_only_after_every_replica_knows_it() {
        let dir = tempfile::tempdir().unwrap();
        let clock = TestClock::at_unix(1_800_000_000);
        let store = temp_store(dir.path(), Arc::new(clock.clone())).await;
        let shared: irsa_core::SharedClock = Arc::new(clock.clone());
        let a = SessionKeys::load(Arc::clone(&store), shared.clone())
            .await
            .unwrap();
        let b = SessionKeys::load(Arc::clone(&store), shared).await.unwrap();
        let first = a.ring().current().id().to_owned();
        assert_eq!(
            b.ring().current().id(),
            first,
            "replicas share the first key"
        );
        let old_token = a.seal(&claims(&clock)).unwrap();

        let fresh = rotate(store.as_ref(), ACTIVATION_DELAY).await.unwrap();
        assert_eq!(fresh.not_before, clock.now_utc() + ACTIVATION_DELAY);
        // Every replica reloads within RELOAD_AFTER + UPKEEP_EVERY and then
        // holds the new key, but nobody seals with it yet.
        clock.advance(StdDuration::from_secs(45));
        for keys in [&a, &b] {
            assert_eq!(keys.upkeep().await, SessionKeyUpkeep::default());
            assert_eq!(keys.ring().current().id(), first);
            assert!(
                keys.ring().get(&fresh.key_id).is_some(),
                "knows the new key"
            );
        }

        // Due: the next pass on A seals with it and retires the first key;
        // B (no pass yet) still seals with the first key, and each opens the
        // other's tokens.
        clock.advance(StdDuration::from_secs(45));
        let pass = a.upkeep().await;
        assert_eq!(pass.retired, std::slice::from_ref(&first));
        assert_eq!(a.ring().current().id(), fresh.key_id);
        assert_eq!(b.ring().current().id(), first);
        let from_a = a.seal(&claims(&clock)).unwrap();
        let from_b = b.seal(&claims(&clock)).unwrap();
        assert!(b.open(from_a.expose()).await.is_ok());
        assert!(a.open(from_b.expose()).await.is_ok());
        assert!(a.open(old_token.expose()).await.is_ok());
        clock.advance(StdDuration::from_secs(30));
        b.upkeep().await;
        assert_eq!(b.ring().current().id(), fresh.key_id);

        // The retired key opens tokens until every session it sealed can
        // have expired, then upkeep deletes it and the ring forgets it.
        clock.advance(
            RETIRED_KEY_KEPT_FOR
                .checked_sub(StdDuration::from_secs(31))
                .unwrap(),
        );
        assert!(a.upkeep().await.pruned.is_empty());
        assert!(a.ring().get(&first).is_some());
        clock.advance(StdDuration::from_secs(1));
        assert_eq!(a.upkeep().await.pruned, std::slice::from_ref(&first));
        clock.advance(StdDuration::from_secs(30));
        a.upkeep().await;
        assert!(a.ring().get(&first).is_none());
        assert_eq!(a.ring().current().id(), fresh.key_id);
        store.close().await;
    }
}
