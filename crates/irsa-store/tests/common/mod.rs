//! Test harness: one fresh store per test, on SQLite (temp dir) or on
//! PostgreSQL (a fresh database per test under `IRSA_TEST_DATABASE_URL`).

use std::sync::Arc;

use irsa_core::{AccountId, TestClock};
use irsa_store::{MasterKey, Store, StoreConfig, StoreError};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, Connection, Executor};

pub const START: u64 = 1_750_000_000;

pub struct Harness {
    pub store: Arc<dyn Store>,
    pub dir: tempfile::TempDir,
    /// `None` for the default SQLite location.
    pub url: Option<String>,
    pub key: MasterKey,
    pub clock: TestClock,
}

impl Harness {
    pub fn config(&self, key: MasterKey) -> StoreConfig {
        StoreConfig {
            database_url: self.url.clone(),
            data_dir: self.dir.path().to_path_buf(),
            master_key: key,
            account_id: AccountId::default(),
            clock: Arc::new(self.clock.clone()),
        }
    }

    /// Opens the same database again (e.g. after `store.close()`).
    pub async fn reopen(&self, key: MasterKey) -> Result<Arc<dyn Store>, StoreError> {
        irsa_store::open(self.config(key)).await
    }

    /// A raw connection to the database, bypassing the store.
    pub async fn raw(&self) -> sqlx::AnyPool {
        let url = match &self.url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}",
                self.dir.path().join(irsa_store::SQLITE_FILE).display()
            ),
        };
        AnyPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap()
    }
}

async fn build(url: Option<String>) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    let clock = TestClock::at_unix(START);
    let config = StoreConfig {
        database_url: url.clone(),
        data_dir: dir.path().to_path_buf(),
        master_key: key.clone(),
        account_id: AccountId::default(),
        clock: Arc::new(clock.clone()),
    };
    let store = irsa_store::open(config).await.unwrap();
    Harness {
        store,
        dir,
        url,
        key,
        clock,
    }
}

pub async fn sqlite() -> Harness {
    build(None).await
}

/// A harness on a fresh PostgreSQL database, or `None` (with a notice) when
/// `IRSA_TEST_DATABASE_URL` is unset outside CI. In CI it must be set.
pub async fn postgres() -> Option<Harness> {
    let Some(admin_url) = std::env::var("IRSA_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "IRSA_TEST_DATABASE_URL is not set but CI=true: the PostgreSQL conformance tests must run in CI"
        );
        eprintln!("skipping PostgreSQL conformance test: set IRSA_TEST_DATABASE_URL=postgres://… to run it");
        return None;
    };
    sqlx::any::install_default_drivers();
    let db = format!(
        "irsa_test_{}",
        irsa_core::generate_id(irsa_core::IdPrefix::User).to_lowercase()
    );
    let mut admin = AnyConnection::connect(&admin_url).await.unwrap();
    admin
        .execute(format!("CREATE DATABASE {db}").as_str())
        .await
        .unwrap();
    admin.close().await.unwrap();
    Some(build(Some(with_database(&admin_url, &db))).await)
}

/// Replaces the database name in a PostgreSQL URL.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{host_part}/{db}{query}")
}
