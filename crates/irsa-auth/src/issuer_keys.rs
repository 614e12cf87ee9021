//! The built-in issuer's key rings in the store: the key that signs
//! service-account tokens and the keys that sign outbound
//! (GetWebIdentityToken) tokens, each ring following irsa-store's
//! [key-ring rules](irsa_store::key_ring). Here they are turned into
//! irsa-oidc signing keys, rotated, pruned and published. The served issuer
//! (irsa-server: routes and the upkeep timer) and the `irsa` CLI (`token
//! issue`, `issuer rotate`) both use this module.

use std::time::Duration;

use irsa_oidc::{PublicKey, SigningKey, SigningKeyType, MAX_TOKEN_LIFETIME};
use irsa_store::key_ring::{self, keys_with_signer, KeyRingError};
use irsa_store::{NewServerKey, ServerKey, Store, StoreError};
use time::OffsetDateTime;

/// Key-ring purpose of the issuer's service-account signing keys.
pub const SIGNING_KEY_PURPOSE: &str = "issuer-signing";
/// Key-ring purpose of the RS256 outbound keys.
pub const OUTBOUND_RS256_KEY_PURPOSE: &str = "outbound-rs256";
/// Key-ring purpose of the ES384 outbound keys.
pub const OUTBOUND_ES384_KEY_PURPOSE: &str = "outbound-es384";
/// Every outbound key ring with the key type it holds: the issuer's JWKS
/// publishes them all, and key upkeep rotates them.
pub const OUTBOUND_KEY_RINGS: [(&str, SigningKeyType); 2] = [
    (OUTBOUND_RS256_KEY_PURPOSE, SigningKeyType::Rsa2048),
    (OUTBOUND_ES384_KEY_PURPOSE, SigningKeyType::EcdsaP384),
];

/// How long after `exp` verifiers still accept a token (AWS STS: 5 minutes).
pub const EXPIRY_LEEWAY: Duration = Duration::from_secs(300);

/// How long a retired signing key stays published: every token it can have
/// signed has expired by then.
pub const RETIRED_KEY_KEPT_FOR: Duration =
    Duration::from_secs(MAX_TOKEN_LIFETIME.as_secs() + EXPIRY_LEEWAY.as_secs());

/// Problems with the issuer's key rings.
#[derive(Debug, thiserror::Error)]
pub enum IssuerKeyError {
    #[error("issuer key ring: {0}")]
    Store(#[from] StoreError),
    #[error("cannot generate an issuer signing key: {0}")]
    Generate(String),
    #[error("issuer signing key {key_id} in the key ring is unusable: {reason}")]
    BadKey { key_id: String, reason: String },
    /// Every key of the ring is retired or not yet valid, and another
    /// process keeps the ring from getting a new one.
    #[error("key ring {0} has no key that may sign now")]
    NoSigner(String),
}

/// A signing key as the store keeps it (private key sealed by the store).
pub fn to_server_key(purpose: &str, key: &SigningKey) -> NewServerKey {
    NewServerKey {
        purpose: purpose.to_owned(),
        key_id: key.kid().to_owned(),
        algorithm: key.alg().as_str().to_owned(),
        secret: key.pkcs8_der().clone(),
        public: Some(key.public_key().spki_der()),
        not_before: None,
        retire_after: None,
        expires: None,
    }
}

/// The signing key a stored key holds.
pub fn to_signing_key(key: &ServerKey) -> Result<SigningKey, IssuerKeyError> {
    SigningKey::from_pkcs8_der(key.secret.expose()).map_err(|err| IssuerKeyError::BadKey {
        key_id: key.key_id.clone(),
        reason: err.to_string(),
    })
}

fn generate(purpose: &str, kind: SigningKeyType) -> Result<NewServerKey, IssuerKeyError> {
    SigningKey::generate(kind)
        .map(|key| to_server_key(purpose, &key))
        .map_err(|err| IssuerKeyError::Generate(err.to_string()))
}

/// The key of the `purpose` ring that signs now (the store's key-ring rule:
/// the newest key that may sign, a new `kind` key when none may). Replicas
/// starting together agree on one.
pub async fn current_key(
    store: &dyn Store,
    purpose: &str,
    kind: SigningKeyType,
) -> Result<ServerKey, IssuerKeyError> {
    let ring = keys_with_signer(store, purpose, || generate(purpose, kind))
        .await
        .map_err(|err| match err {
            KeyRingError::Store(err) => IssuerKeyError::Store(err),
            KeyRingError::Generate(err) => err,
        })?;
    ring.signer()
        .cloned()
        .ok_or_else(|| IssuerKeyError::NoSigner(purpose.to_owned()))
}

/// The key that signs new service-account tokens, created on first use.
pub async fn signing_key(
    store: &dyn Store,
    kind: SigningKeyType,
) -> Result<SigningKey, IssuerKeyError> {
    to_signing_key(&current_key(store, SIGNING_KEY_PURPOSE, kind).await?)
}

/// Adds a new service-account signing key, which signs from now on; the
/// previous ones are retired and stay published so their tokens verify.
pub async fn rotate(store: &dyn Store, kind: SigningKeyType) -> Result<ServerKey, IssuerKeyError> {
    rotate_ring(store, SIGNING_KEY_PURPOSE, kind).await
}

async fn rotate_ring(
    store: &dyn Store,
    purpose: &str,
    kind: SigningKeyType,
) -> Result<ServerKey, IssuerKeyError> {
    Ok(key_ring::rotate(store, generate(purpose, kind)?).await?)
}

/// What one [`maintain`] pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maintenance {
    /// kid of the key that now signs, when the pass rotated.
    pub rotated: Option<String>,
    /// kids of the outbound (GetWebIdentityToken) keys that now sign.
    pub outbound_rotated: Vec<String>,
    /// kids deleted from the key rings.
    pub pruned: Vec<String>,
}

/// One pass of key-ring upkeep at `now`: rotates when the signing key is
/// older than `rotation_period`, and deletes retired keys once every token
/// they can have signed has expired ([`RETIRED_KEY_KEPT_FOR`] after they
/// were retired). Until then they stay in the JWKS. The outbound key rings
/// get the same upkeep once they exist (federation enabled).
pub async fn maintain(
    store: &dyn Store,
    kind: SigningKeyType,
    rotation_period: Option<Duration>,
    now: OffsetDateTime,
) -> Result<Maintenance, IssuerKeyError> {
    let (rotated, mut pruned) =
        maintain_ring(store, SIGNING_KEY_PURPOSE, kind, rotation_period, now).await?;
    let mut report = Maintenance {
        rotated,
        ..Maintenance::default()
    };
    for (purpose, kind) in OUTBOUND_KEY_RINGS {
        let (rotated, more) = maintain_ring(store, purpose, kind, rotation_period, now).await?;
        report.outbound_rotated.extend(rotated);
        pruned.extend(more);
    }
    report.pruned = pruned;
    Ok(report)
}

/// [`maintain`] for one key-ring purpose: (rotated kid, pruned kids).
async fn maintain_ring(
    store: &dyn Store,
    purpose: &str,
    kind: SigningKeyType,
    rotation_period: Option<Duration>,
    now: OffsetDateTime,
) -> Result<(Option<String>, Vec<String>), IssuerKeyError> {
    let mut rotated = None;
    if let Some(period) = rotation_period {
        let keys = store.list_server_keys(purpose).await?;
        let newest_active = keys.iter().filter(|k| k.active).max_by_key(|k| k.created);
        if newest_active.is_some_and(|k| k.created + period <= now) {
            rotated = Some(rotate_ring(store, purpose, kind).await?.key_id);
        }
    }
    let pruned = key_ring::prune_retired(store, purpose, RETIRED_KEY_KEPT_FOR, now).await?;
    Ok((rotated, pruned))
}

/// The public keys to publish: every key of the issuer's rings not yet
/// expired, oldest first.
pub async fn published_keys(
    store: &dyn Store,
    now: OffsetDateTime,
) -> Result<Vec<PublicKey>, IssuerKeyError> {
    let mut keys = store.list_server_keys(SIGNING_KEY_PURPOSE).await?;
    // GetWebIdentityToken's keys are published by the same issuer.
    for (purpose, _) in OUTBOUND_KEY_RINGS {
        keys.extend(store.list_server_keys(purpose).await?);
    }
    let mut out = Vec::new();
    for key in keys.iter().filter(|k| k.can_verify_at(now)) {
        let public = match &key.public {
            Some(spki) => {
                PublicKey::from_spki_der(spki).map_err(|reason| IssuerKeyError::BadKey {
                    key_id: key.key_id.clone(),
                    reason,
                })?
            }
            None => to_signing_key(key)?.public_key().clone(),
        };
        out.push(public);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    async fn temp_store(dir: &std::path::Path) -> Arc<dyn Store> {
        crate::test_support::temp_store(dir, Arc::new(irsa_core::SystemClock)).await
    }

    async fn published_kids(store: &dyn Store, now: OffsetDateTime) -> Vec<String> {
        published_keys(store, now)
            .await
            .unwrap()
            .iter()
            .map(|k| k.kid().to_owned())
            .collect()
    }

    #[tokio::test]
    async fn automatic_rotation_and_pruning_follow_the_clock() {
        let dir = tempfile::tempdir().unwrap();
        let clock = irsa_core::TestClock::at_unix(1_800_000_000);
        let store = crate::test_support::temp_store(dir.path(), Arc::new(clock.clone())).await;
        let kind = SigningKeyType::EcdsaP256;
        let period = Some(Duration::from_secs(24 * 3600));
        let now = || irsa_core::Clock::now_utc(&clock);
        let first = signing_key(store.as_ref(), kind).await.unwrap();

        // Younger than the period: nothing happens.
        clock.advance(Duration::from_secs(24 * 3600 - 1));
        let pass = maintain(store.as_ref(), kind, period, now()).await.unwrap();
        assert_eq!(pass, Maintenance::default());
        // Rotation off: an old key keeps signing.
        clock.advance(Duration::from_secs(1));
        let pass = maintain(store.as_ref(), kind, None, now()).await.unwrap();
        assert_eq!(pass, Maintenance::default());

        // Old enough: a new key signs, the old one is still published.
        let pass = maintain(store.as_ref(), kind, period, now()).await.unwrap();
        let second = pass.rotated.clone().expect("rotated");
        assert!(pass.pruned.is_empty());
        assert_ne!(second, first.kid());
        assert_eq!(
            signing_key(store.as_ref(), kind).await.unwrap().kid(),
            second
        );
        assert_eq!(
            published_kids(store.as_ref(), now()).await,
            [first.kid().to_owned(), second.clone()]
        );

        // A token signed just before retirement lives 48 h (+5 min leeway):
        // the old key stays published until then, then goes.
        let keep = RETIRED_KEY_KEPT_FOR.as_secs();
        clock.advance(Duration::from_secs(keep - 1));
        let pass = maintain(
            store.as_ref(),
            kind,
            Some(Duration::from_secs(365 * 86_400)),
            now(),
        )
        .await
        .unwrap();
        assert_eq!(pass, Maintenance::default());
        assert_eq!(published_kids(store.as_ref(), now()).await.len(), 2);
        clock.advance(Duration::from_secs(1));
        let pass = maintain(store.as_ref(), kind, None, now()).await.unwrap();
        assert_eq!(pass.pruned, [first.kid().to_owned()]);
        assert_eq!(pass.rotated, None);
        assert_eq!(
            published_kids(store.as_ref(), now()).await,
            std::slice::from_ref(&second)
        );
        assert_eq!(
            signing_key(store.as_ref(), kind).await.unwrap().kid(),
            second
        );

        // The signing key itself is never pruned, however old.
        clock.advance(Duration::from_secs(400 * 86_400));
        let pass = maintain(store.as_ref(), kind, None, now()).await.unwrap();
        assert_eq!(pass, Maintenance::default());
        assert_eq!(published_kids(store.as_ref(), now()).await, [second]);
        store.close().await;
    }

    #[tokio::test]
    async fn key_ring_bootstrap_rotation_and_publication() {
        let dir = tempfile::tempdir().unwrap();
        let store = temp_store(dir.path()).await;
        let first = signing_key(store.as_ref(), SigningKeyType::EcdsaP256)
            .await
            .unwrap();
        let again = signing_key(store.as_ref(), SigningKeyType::Rsa2048)
            .await
            .unwrap();
        assert_eq!(first.kid(), again.kid(), "the existing key is reused");
        assert_eq!(first.alg().as_str(), "ES256");

        let second = rotate(store.as_ref(), SigningKeyType::EcdsaP256)
            .await
            .unwrap();
        let second = to_signing_key(&second).unwrap();
        assert_ne!(second.kid(), first.kid());
        let now_signing = signing_key(store.as_ref(), SigningKeyType::EcdsaP256)
            .await
            .unwrap();
        assert_eq!(now_signing.kid(), second.kid());

        let now = irsa_core::Clock::now_utc(&irsa_core::SystemClock);
        let mut published: Vec<String> = published_keys(store.as_ref(), now)
            .await
            .unwrap()
            .iter()
            .map(|k| k.kid().to_owned())
            .collect();
        published.sort_unstable();
        // Keys created in the same second have no defined order.
        let mut expected = vec![first.kid().to_owned(), second.kid().to_owned()];
        expected.sort_unstable();
        assert_eq!(published, expected);
        store.close().await;
    }
}
