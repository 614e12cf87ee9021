//! "The newest key that may sign, created on first use": the one rule every
//! key ring in the store follows (session-token sealing keys, the built-in
//! issuer's signing keys, outbound token keys). Replicas racing to create
//! the first key agree on one through `insert_server_key_if_absent`.

use time::OffsetDateTime;

use crate::{NewServerKey, ServerKey, Store, StoreError};

impl ServerKey {
    /// Whether the key may sign/seal something new at `now`: active, not
    /// expired, already valid and not retired.
    pub fn can_sign_at(&self, now: OffsetDateTime) -> bool {
        self.active
            && self.expires.is_none_or(|e| e > now)
            && self.not_before <= now
            && self.retire_after.is_none_or(|r| r > now)
    }

    /// Whether what the key signed is still accepted at `now`.
    pub fn can_verify_at(&self, now: OffsetDateTime) -> bool {
        self.expires.is_none_or(|e| e > now)
    }
}

/// A key ring as read from the store, and the time it is current at.
#[derive(Debug, Clone)]
pub struct SigningRing {
    /// Every key of the purpose, oldest first.
    pub keys: Vec<ServerKey>,
    /// The store clock's time when the ring was read (after any key was
    /// generated): the time at which [`SigningRing::signer`] may sign.
    pub now: OffsetDateTime,
}

impl SigningRing {
    /// The key that signs now (see [`current_signer`]).
    pub fn signer(&self) -> Option<&ServerKey> {
        current_signer(&self.keys, self.now)
    }
}

/// Every key of `purpose`, after making sure one of them can sign now (the
/// store's clock): when none can, `generate` makes a new key, which is
/// inserted unless another process inserted one first.
pub async fn keys_with_signer<E>(
    store: &dyn Store,
    purpose: &str,
    generate: impl FnOnce() -> Result<NewServerKey, E>,
) -> Result<SigningRing, KeyRingError<E>> {
    let now = store.clock().now_utc();
    let listed = store.list_server_keys(purpose).await?;
    if listed.iter().any(|k| k.can_sign_at(now)) {
        return Ok(SigningRing { keys: listed, now });
    }
    let fresh = generate().map_err(KeyRingError::Generate)?;
    let stored = store.insert_server_key_if_absent(fresh).await?;
    tracing::info!(purpose, key_id = %stored.key_id, "key ring has a new signing key");
    let keys = store.list_server_keys(purpose).await?;
    // Read the clock again: generating a key (RSA) can take long enough for
    // the new key's `not_before`, stamped by the store, to pass the `now`
    // read before it.
    Ok(SigningRing {
        keys,
        now: store.clock().now_utc(),
    })
}

/// The key that signs now: the newest one that [can sign](ServerKey::can_sign_at).
pub fn current_signer(keys: &[ServerKey], now: OffsetDateTime) -> Option<&ServerKey> {
    keys.iter()
        .filter(|k| k.can_sign_at(now))
        .max_by_key(|k| k.created)
}

#[derive(Debug, thiserror::Error)]
pub enum KeyRingError<E> {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot generate a key: {0}")]
    Generate(E),
}
