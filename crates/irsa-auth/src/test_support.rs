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
    SessionClaims::new(
        "ASIAEXAMPLEEXAMPLE12".into(),
        SecretString::new("secret".to_owned()),
        SessionPrincipal::Root,
        AccountId::default(),
        now,
        now + 3600,
    )
}
