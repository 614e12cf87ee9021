//! Fixtures the unit tests of several modules share: a throwaway SQLite
//! store and sealable session claims.

use std::sync::Arc;

use irsa_core::{AccountId, Clock, SecretString, SharedClock, TestClock};
use irsa_store::Store;

use crate::session_token::{SessionClaims, SessionPrincipal};

/// A fresh SQLite store in `dir` on `clock`.
pub(crate) async fn temp_store(dir: &std::path::Path, clock: SharedClock) -> Arc<dyn Store> {
    irsa_store::open(irsa_store::StoreConfig {
        database_url: None,
        data_dir: dir.to_path_buf(),
        master_key: irsa_store::MasterKey::from_bytes(irsa_core::SecretBytes::new(vec![7; 32]))
            .unwrap(),
        account_id: AccountId::default(),
        clock,
    })
    .await
    .unwrap()
}

/// Root-session claims issued now, valid for an hour.
pub(crate) fn session_claims(clock: &TestClock) -> SessionClaims {
    let now = clock.unix_seconds();
    SessionClaims {
        access_key_id: "ASIAEXAMPLEEXAMPLE12".into(),
        secret_access_key: SecretString::new("secret".to_owned()),
        principal: SessionPrincipal::Root,
        account: AccountId::default(),
        issued_at: now,
        expires_at: now + 3600,
        session_policy: None,
        policy_arns: Vec::new(),
        tags: Vec::new(),
        transitive_tag_keys: Vec::new(),
        source_identity: None,
        role_chained: false,
    }
}
