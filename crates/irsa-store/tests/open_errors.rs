//! Opening a store with bad configuration fails with one clear line.

// Integration tests: unwrap is how a test fails (clippy.toml only covers #[test] fns).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use irsa_core::{AccountId, TestClock};
use irsa_store::{load_master_key, MasterKey, MasterKeySource, StoreConfig, StoreError};

fn config(data_dir: &std::path::Path, url: Option<&str>, key: MasterKey) -> StoreConfig {
    StoreConfig {
        database_url: url.map(str::to_owned),
        data_dir: data_dir.to_path_buf(),
        master_key: key,
        account_id: AccountId::default(),
        clock: Arc::new(TestClock::at_unix(1_750_000_000)),
    }
}

fn one_line(e: &StoreError) -> String {
    let s = e.to_string();
    assert!(!s.contains('\n'), "multi-line error: {s}");
    s
}

#[tokio::test]
async fn unwritable_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    // A regular file where a directory is expected cannot be created into,
    // even as root.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let data_dir = blocker.join("data");
    let err = irsa_store::open(config(&data_dir, None, MasterKey::generate().unwrap()))
        .await
        .unwrap_err();
    let msg = one_line(&err);
    assert!(msg.starts_with("cannot create data directory"), "{msg}");
    assert!(msg.ends_with("check --data-dir"), "{msg}");
    let err = load_master_key(&MasterKeySource::default(), &data_dir, None).unwrap_err();
    assert!(one_line(&err).contains("check --data-dir"), "{err}");
}

#[tokio::test]
async fn malformed_database_urls() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "mysql://db/x",
        "not a url",
        "postgres://user:hunter2@[::1/db",
    ] {
        let err = irsa_store::open(config(
            dir.path(),
            Some(url),
            MasterKey::generate().unwrap(),
        ))
        .await
        .unwrap_err();
        let msg = one_line(&err);
        assert!(msg.starts_with("invalid --database-url"), "{url}: {msg}");
        assert!(!msg.contains("hunter2"), "password leaked: {msg}");
    }
}

#[tokio::test]
async fn unreachable_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let url = "postgres://irsa:hunter2@127.0.0.1:1/irsa";
    let err = irsa_store::open(config(
        dir.path(),
        Some(url),
        MasterKey::generate().unwrap(),
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let msg = one_line(&err);
    assert!(
        msg.starts_with("cannot connect to PostgreSQL at postgres://irsa:***@127.0.0.1:1/irsa"),
        "{msg}"
    );
    assert!(!msg.contains("hunter2"), "{msg}");
}

#[tokio::test]
async fn sqlite_defaults_and_generated_key_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("irsa-data");
    let key = load_master_key(&MasterKeySource::default(), &data_dir, None).unwrap();
    let store = irsa_store::open(config(&data_dir, None, key))
        .await
        .unwrap();
    store
        .create_user(irsa_store::NewUser::named("u"))
        .await
        .unwrap();
    store.close().await;
    assert!(data_dir.join(irsa_store::SQLITE_FILE).exists());
    assert!(data_dir.join(irsa_store::MASTER_KEY_FILE).exists());

    let key = load_master_key(&MasterKeySource::default(), &data_dir, None).unwrap();
    let store = irsa_store::open(config(&data_dir, None, key))
        .await
        .unwrap();
    store.get_user("u").await.unwrap();
    store.close().await;

    // Losing the key file is refused rather than silently replaced.
    std::fs::remove_file(data_dir.join(irsa_store::MASTER_KEY_FILE)).unwrap();
    let err = load_master_key(&MasterKeySource::default(), &data_dir, None).unwrap_err();
    assert!(
        one_line(&err).contains("is missing but the database"),
        "{err}"
    );
}

#[tokio::test]
async fn sqlite_url_and_journal_settings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub dir").join("custom.db");
    let url = format!("sqlite://{}", path.display());
    let store = irsa_store::open(config(
        dir.path(),
        Some(&url),
        MasterKey::generate().unwrap(),
    ))
    .await
    .unwrap();
    store.ping().await.unwrap();
    store.close().await;
    assert!(path.exists());
    // WAL mode is persistent in the file header: check it from outside.
    sqlx::any::install_default_drivers();
    let raw = sqlx::AnyPool::connect(&url).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    raw.close().await;
}
