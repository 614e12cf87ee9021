//! The signer of STS GetWebIdentityToken: the built-in issuer signs
//! outbound tokens with its own keys, one per algorithm, kept in the store's
//! key ring under their own purposes (RS256 → RSA-2048, ES384 → P-384) and
//! published in the issuer's JWKS next to its service-account keys, so any
//! OIDC verifier that trusts the issuer can check these tokens.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use irsa_api::{OutboundAlg, OutboundSignerError, OutboundTokenSigner};
use irsa_auth::issuer_keys::{current_key, OUTBOUND_KEY_RINGS};
use irsa_oidc::issuer::sign_jws;
use irsa_oidc::{SigningKey, SigningKeyType};
use irsa_store::{ServerKey, Store};
use serde_json::{json, Value};

fn purpose(alg: OutboundAlg) -> (&'static str, SigningKeyType) {
    match alg {
        OutboundAlg::Rs256 => OUTBOUND_KEY_RINGS[0],
        OutboundAlg::Es384 => OUTBOUND_KEY_RINGS[1],
    }
}

/// Signs outbound tokens as the built-in issuer.
#[derive(Debug)]
pub struct OutboundSigner {
    store: Arc<dyn Store>,
    issuer_url: String,
    /// Parsed keys by key id (parsing an RSA key costs more than a store read).
    loaded: Mutex<HashMap<String, Arc<SigningKey>>>,
}

impl OutboundSigner {
    pub fn new(store: Arc<dyn Store>, issuer_url: impl Into<String>) -> Self {
        Self {
            store,
            issuer_url: issuer_url.into(),
            loaded: Mutex::new(HashMap::new()),
        }
    }

    fn parse(&self, key: &ServerKey) -> Result<Arc<SigningKey>, OutboundSignerError> {
        if let Ok(map) = self.loaded.lock() {
            if let Some(k) = map.get(&key.key_id) {
                return Ok(Arc::clone(k));
            }
        }
        let parsed = Arc::new(
            SigningKey::from_pkcs8_der(key.secret.expose()).map_err(|e| {
                OutboundSignerError(format!(
                    "outbound signing key {} is unusable: {e}",
                    key.key_id
                ))
            })?,
        );
        if let Ok(mut map) = self.loaded.lock() {
            map.insert(key.key_id.clone(), Arc::clone(&parsed));
        }
        Ok(parsed)
    }

    /// The key of `alg` that signs now, created on first use.
    async fn key(&self, alg: OutboundAlg) -> Result<Arc<SigningKey>, OutboundSignerError> {
        let (purpose, kind) = purpose(alg);
        let key = current_key(self.store.as_ref(), purpose, kind)
            .await
            .map_err(|e| OutboundSignerError(e.to_string()))?;
        self.parse(&key)
    }
}

#[async_trait]
impl OutboundTokenSigner for OutboundSigner {
    fn issuer_url(&self) -> &str {
        &self.issuer_url
    }

    async fn prepare(&self) -> Result<(), OutboundSignerError> {
        for alg in [OutboundAlg::Rs256, OutboundAlg::Es384] {
            self.key(alg).await?;
        }
        Ok(())
    }

    async fn sign(&self, alg: OutboundAlg, claims: &Value) -> Result<String, OutboundSignerError> {
        let key = self.key(alg).await?;
        let header = json!({"alg": key.alg().as_str(), "kid": key.kid(), "typ": "JWT"});
        sign_jws(&header, claims, &key).map_err(|e| OutboundSignerError(format!("signing: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use irsa_auth::issuer_keys::{
        maintain, published_keys, signing_key, OUTBOUND_ES384_KEY_PURPOSE,
        OUTBOUND_RS256_KEY_PURPOSE, RETIRED_KEY_KEPT_FOR,
    };
    use irsa_core::SharedClock;
    use std::time::Duration;

    async fn temp_store(dir: &std::path::Path, clock: SharedClock) -> Arc<dyn Store> {
        irsa_store::open(irsa_store::StoreConfig {
            database_url: None,
            data_dir: dir.to_path_buf(),
            master_key: irsa_store::MasterKey::from_bytes(irsa_core::SecretBytes::new(vec![7; 32]))
                .unwrap(),
            account_id: irsa_core::AccountId::default(),
            clock,
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn keys_per_algorithm_are_created_once_and_published() {
        let dir = tempfile::tempdir().unwrap();
        let store = temp_store(dir.path(), Arc::new(irsa_core::SystemClock)).await;
        let signer = OutboundSigner::new(Arc::clone(&store), "https://issuer.example");
        signer.prepare().await.unwrap();
        signer.prepare().await.unwrap();
        for (purpose, alg) in [
            (OUTBOUND_RS256_KEY_PURPOSE, "RS256"),
            (OUTBOUND_ES384_KEY_PURPOSE, "ES384"),
        ] {
            let keys = store.list_server_keys(purpose).await.unwrap();
            assert_eq!(keys.len(), 1, "{purpose}");
            assert_eq!(keys[0].algorithm, alg);
        }
        let token = signer
            .sign(OutboundAlg::Es384, &json!({"sub": "x"}))
            .await
            .unwrap();
        let header = token.split('.').next().unwrap();
        let header: Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["alg"], "ES384");
        assert_eq!(header["typ"], "JWT");
        let es = store
            .list_server_keys(OUTBOUND_ES384_KEY_PURPOSE)
            .await
            .unwrap();
        assert_eq!(header["kid"], es[0].key_id.as_str());
        // The issuer's JWKS lists both outbound keys.
        let published = published_keys(
            store.as_ref(),
            irsa_core::Clock::now_utc(&irsa_core::SystemClock),
        )
        .await
        .unwrap();
        let kids: Vec<&str> = published.iter().map(irsa_oidc::PublicKey::kid).collect();
        assert!(kids.contains(&es[0].key_id.as_str()), "{kids:?}");
        let rs = store
            .list_server_keys(OUTBOUND_RS256_KEY_PURPOSE)
            .await
            .unwrap();
        assert!(kids.contains(&rs[0].key_id.as_str()), "{kids:?}");
        store.close().await;
    }

    #[tokio::test]
    async fn outbound_key_rings_rotate_and_prune_only_once_they_exist() {
        let dir = tempfile::tempdir().unwrap();
        let clock = irsa_core::TestClock::at_unix(1_800_000_000);
        let store = temp_store(dir.path(), Arc::new(clock.clone())).await;
        let kind = SigningKeyType::EcdsaP256;
        let period = Some(Duration::from_secs(24 * 3600));
        let now = || irsa_core::Clock::now_utc(&clock);
        signing_key(store.as_ref(), kind).await.unwrap();

        // Federation never enabled: no outbound key is created by upkeep.
        clock.advance(Duration::from_secs(24 * 3600));
        let pass = maintain(store.as_ref(), kind, period, now()).await.unwrap();
        assert!(pass.rotated.is_some());
        assert!(pass.outbound_rotated.is_empty());
        for (purpose, _) in OUTBOUND_KEY_RINGS {
            assert!(store.list_server_keys(purpose).await.unwrap().is_empty());
        }

        let signer = OutboundSigner::new(Arc::clone(&store), "https://i.example");
        signer.prepare().await.unwrap();
        let kid_of = |token: &str| {
            let decoded = irsa_oidc::jwt::decode(token).unwrap();
            decoded.kid().unwrap().to_owned()
        };
        let claims = serde_json::json!({"sub": "x"});
        let rs_before = kid_of(&signer.sign(OutboundAlg::Rs256, &claims).await.unwrap());
        let es_before = kid_of(&signer.sign(OutboundAlg::Es384, &claims).await.unwrap());

        clock.advance(Duration::from_secs(24 * 3600));
        let pass = maintain(store.as_ref(), kind, period, now()).await.unwrap();
        assert_eq!(pass.outbound_rotated.len(), 2);
        let rs_after = kid_of(&signer.sign(OutboundAlg::Rs256, &claims).await.unwrap());
        let es_after = kid_of(&signer.sign(OutboundAlg::Es384, &claims).await.unwrap());
        assert!(
            pass.outbound_rotated.contains(&rs_after) && pass.outbound_rotated.contains(&es_after)
        );
        assert_ne!(rs_after, rs_before);
        assert_ne!(es_after, es_before);
        // Old outbound keys stay published until their tokens expired.
        let published = published_keys(store.as_ref(), now()).await.unwrap();
        let kids: Vec<&str> = published.iter().map(irsa_oidc::PublicKey::kid).collect();
        assert!(kids.contains(&rs_before.as_str()) && kids.contains(&es_before.as_str()));
        clock.advance(RETIRED_KEY_KEPT_FOR);
        let pass = maintain(store.as_ref(), kind, None, now()).await.unwrap();
        assert!(pass.pruned.contains(&rs_before) && pass.pruned.contains(&es_before));
        let published = published_keys(store.as_ref(), now()).await.unwrap();
        let kids: Vec<&str> = published.iter().map(irsa_oidc::PublicKey::kid).collect();
        assert!(!kids.contains(&rs_before.as_str()) && kids.contains(&rs_after.as_str()));
        store.close().await;
    }
}
