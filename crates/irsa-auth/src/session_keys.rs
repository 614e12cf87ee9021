//! The session-token key ring as a running server holds it: loaded from
//! the store (its first key created if absent), reloaded at most every
//! [`RELOAD_AFTER`] when a token names a key it does not hold (another
//! replica rotated), and used to seal and open session tokens.

use std::sync::{Arc, RwLock};

use irsa_core::{SecretBytes, SecretString, SharedClock};
use irsa_store::key_ring::{current_signer, keys_with_signer};
use irsa_store::{NewServerKey, Store};
use time::{Duration, OffsetDateTime};

use crate::error::AuthError;
use crate::session_token::{
    open_at, seal, KeyRing, SessionClaims, SessionKey, SessionTokenError, KEY_LEN,
};

/// Purpose of the session-token keys in the store's key ring.
pub const SESSION_TOKEN_KEY_PURPOSE: &str = "session-token";

/// How often a miss may trigger a reload from the store.
pub const RELOAD_AFTER: Duration = Duration::seconds(30);

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
                    *g = (Arc::new(ring), now);
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
