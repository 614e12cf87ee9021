//! "The newest key that may sign, created on first use": the one rule every
//! key ring in the store follows (session-token sealing keys, the built-in
//! issuer's signing keys, outbound token keys). Replicas racing to create
//! the first key agree on one through `insert_server_key_if_absent`.
//!
//! The ring's life cycle is the same for every purpose too: [`rotate`] adds
//! a newer key (which may start signing later, so that every replica knows
//! it first), [`retire_superseded`] marks older keys as no longer signing
//! once a newer one signs, and [`prune_retired`] deletes a retired key once
//! everything it made has expired. What a key is (RSA, AEAD, ...) is the
//! caller's business.

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
        .max_by_key(|k| signing_order(k))
}

/// "Newer" for signing: created later, or, created in the same second,
/// allowed to sign later (a key added to start signing in the future).
fn signing_order(key: &ServerKey) -> (OffsetDateTime, OffsetDateTime) {
    (key.created, key.not_before)
}

/// Adds `fresh` to its ring. It signs from its `not_before` (now when
/// unset) on. When it signs at once, every key that was active before is
/// retired now; otherwise a later [`retire_superseded`] pass retires them
/// once it signs.
pub async fn rotate(store: &dyn Store, fresh: NewServerKey) -> Result<ServerKey, StoreError> {
    let purpose = fresh.purpose.clone();
    let previous: Vec<ServerKey> = store
        .list_server_keys(&purpose)
        .await?
        .into_iter()
        .filter(|k| k.active)
        .collect();
    let stored = store.insert_server_key(fresh).await?;
    tracing::info!(purpose, key_id = %stored.key_id, not_before = %stored.not_before, "key ring has a new key");
    if stored.not_before <= store.clock().now_utc() {
        for key in &previous {
            retire(store, &purpose, key, &stored.key_id).await?;
        }
    }
    Ok(stored)
}

/// Retires (stops signing with, keeps for verifying) every active key that
/// the key signing now (the store's clock) supersedes. Returns their ids.
pub async fn retire_superseded(
    store: &dyn Store,
    purpose: &str,
) -> Result<Vec<String>, StoreError> {
    let now = store.clock().now_utc();
    let keys = store.list_server_keys(purpose).await?;
    let Some(signer) = current_signer(&keys, now) else {
        return Ok(Vec::new());
    };
    let mut retired = Vec::new();
    for key in keys
        .iter()
        .filter(|k| k.active && signing_order(k) < signing_order(signer))
    {
        retire(store, purpose, key, &signer.key_id).await?;
        retired.push(key.key_id.clone());
    }
    Ok(retired)
}

async fn retire(
    store: &dyn Store,
    purpose: &str,
    key: &ServerKey,
    successor: &str,
) -> Result<(), StoreError> {
    match store.retire_server_key(purpose, &key.key_id, None).await {
        // Another replica retired or pruned it first.
        Ok(()) | Err(StoreError::NotFound { .. }) => {
            tracing::info!(purpose, key_id = %key.key_id, successor, "key ring retired a key");
            Ok(())
        }
        Err(err) => Err(err),
    }
}

/// Deletes the retired keys of `purpose` that were retired at least
/// `keep_for` before `now`: what they signed or sealed has expired by then.
/// A key retired without a time cannot be judged and is kept. Returns the
/// deleted ids.
pub async fn prune_retired(
    store: &dyn Store,
    purpose: &str,
    keep_for: std::time::Duration,
    now: OffsetDateTime,
) -> Result<Vec<String>, StoreError> {
    let keys = store.list_server_keys(purpose).await?;
    let mut pruned = Vec::new();
    for key in keys.iter().filter(|k| !k.active) {
        let Some(retired) = key.retire_after else {
            continue;
        };
        if retired + keep_for > now {
            continue;
        }
        match store.delete_server_key(purpose, &key.key_id).await {
            // Another replica pruned it first.
            Ok(()) | Err(StoreError::NotFound { .. }) => {
                tracing::info!(purpose, key_id = %key.key_id, retired = %retired, "key ring pruned a retired key");
                pruned.push(key.key_id.clone());
            }
            Err(err) => return Err(err),
        }
    }
    Ok(pruned)
}

#[derive(Debug, thiserror::Error)]
pub enum KeyRingError<E> {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot generate a key: {0}")]
    Generate(E),
}
