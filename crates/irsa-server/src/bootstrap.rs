//! Opening the store and making sure the account has a root access key.

use std::io::Write;
use std::path::{Path, PathBuf};

use irsa_core::{AccountId, SecretString};
use irsa_store::{AccessKeyStatus, KeyOwner, NewAccessKey, Store, StoreError};

use crate::config::{RootCredentialsSource, ServeConfig};
use crate::ServeError;

/// File (in the data dir) holding generated root credentials, in the
/// `~/.aws/credentials` format.
pub const ROOT_CREDENTIALS_FILE: &str = "root-credentials";

/// Profile name used inside the root credentials file.
pub const ROOT_PROFILE: &str = "irsa-root";

/// The root access key in force, for logging and tests. The secret stays in
/// the store and the credentials file.
#[derive(Debug, Clone)]
pub struct RootCredentials {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    /// Set when this start generated the key (it is printed once).
    pub newly_generated: bool,
    pub file: Option<PathBuf>,
}

/// Loads the master key named by the configuration.
pub fn master_key(config: &ServeConfig) -> Result<irsa_store::MasterKey, ServeError> {
    use crate::config::{Database, MasterKeySource};
    let source = match &config.master_key {
        MasterKeySource::Env(text) => irsa_store::MasterKeySource {
            key_text: Some(text.clone()),
            key_file: None,
        },
        MasterKeySource::File(path) => irsa_store::MasterKeySource {
            key_text: None,
            key_file: Some(path.clone()),
        },
        MasterKeySource::DataDir => irsa_store::MasterKeySource::default(),
    };
    let url = match &config.database {
        Database::EmbeddedSqlite => None,
        Database::Postgres(url) => Some(url.expose()),
    };
    irsa_store::load_master_key(&source, &config.data_dir, url).map_err(ServeError::Store)
}

/// Makes sure the root access key exists in the store, importing the
/// configured one or generating one on first start.
pub async fn ensure_root_credentials(
    store: &dyn Store,
    config: &ServeConfig,
) -> Result<RootCredentials, ServeError> {
    match &config.root_credentials {
        RootCredentialsSource::Provided {
            access_key_id,
            secret_access_key,
        } => {
            match store.get_access_key(access_key_id).await {
                Ok(existing) => {
                    if existing.key.owner != KeyOwner::Root {
                        return Err(ServeError::Bootstrap(format!(
                            "IRSA_ROOT_ACCESS_KEY_ID {access_key_id} already belongs to an IAM user; choose another id"
                        )));
                    }
                    if existing.secret != *secret_access_key {
                        return Err(ServeError::Bootstrap(format!(
                            "IRSA_ROOT_ACCESS_KEY_ID {access_key_id} is stored with a different secret; delete the old root key or use a new key id"
                        )));
                    }
                }
                Err(StoreError::NotFound { .. }) => {
                    store
                        .create_access_key(NewAccessKey {
                            owner: KeyOwner::Root,
                            id: Some(access_key_id.clone()),
                            secret: Some(secret_access_key.clone()),
                            status: AccessKeyStatus::Active,
                        })
                        .await
                        .map_err(ServeError::Store)?;
                }
                Err(err) => return Err(ServeError::Store(err)),
            }
            Ok(RootCredentials {
                access_key_id: access_key_id.clone(),
                secret_access_key: secret_access_key.clone(),
                newly_generated: false,
                file: None,
            })
        }
        RootCredentialsSource::GenerateOnce => {
            let file = config.data_dir.join(ROOT_CREDENTIALS_FILE);
            let keys = store
                .list_access_keys(&KeyOwner::Root)
                .await
                .map_err(ServeError::Store)?;
            if let Some(key) = keys.iter().find(|k| k.status == AccessKeyStatus::Active) {
                let with_secret = store
                    .get_access_key(&key.id)
                    .await
                    .map_err(ServeError::Store)?;
                // Another replica (PostgreSQL) may have generated the key.
                if !file.exists() {
                    write_credentials_file(
                        &file,
                        &config.account_id,
                        &key.id,
                        &with_secret.secret,
                    )?;
                }
                return Ok(RootCredentials {
                    access_key_id: key.id.clone(),
                    secret_access_key: with_secret.secret,
                    newly_generated: false,
                    file: Some(file),
                });
            }
            let created = store
                .create_access_key(NewAccessKey {
                    owner: KeyOwner::Root,
                    id: None,
                    secret: None,
                    status: AccessKeyStatus::Active,
                })
                .await
                .map_err(ServeError::Store)?;
            write_credentials_file(&file, &config.account_id, &created.key.id, &created.secret)?;
            Ok(RootCredentials {
                access_key_id: created.key.id,
                secret_access_key: created.secret,
                newly_generated: true,
                file: Some(file),
            })
        }
    }
}

/// Writes the credentials file atomically with mode 0600.
fn write_credentials_file(
    path: &Path,
    account: &AccountId,
    access_key_id: &str,
    secret: &SecretString,
) -> Result<(), ServeError> {
    let fail = |err: std::io::Error| {
        ServeError::Bootstrap(format!(
            "cannot write root credentials to {}: {err}",
            path.display()
        ))
    };
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let tmp = dir.join(format!(
        ".{ROOT_CREDENTIALS_FILE}.tmp-{}",
        std::process::id()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(fail)?;
    let body = format!(
        "# Root credentials of irsa account {account}. Use with: aws --profile {ROOT_PROFILE} …\n\
         [{ROOT_PROFILE}]\n\
         aws_access_key_id = {access_key_id}\n\
         aws_secret_access_key = {}\n",
        secret.expose()
    );
    file.write_all(body.as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(fail)?;
    Ok(())
}

/// Reads `aws_access_key_id` / `aws_secret_access_key` back from a
/// credentials file written by [`ensure_root_credentials`].
pub fn read_credentials_file(path: &Path) -> std::io::Result<(String, SecretString)> {
    let text = std::fs::read_to_string(path)?;
    let value = |name: &str| {
        text.lines()
            .filter_map(|line| line.split_once('='))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim().to_owned())
    };
    match (value("aws_access_key_id"), value("aws_secret_access_key")) {
        (Some(id), Some(secret)) => Ok((id, SecretString::new(secret))),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "credentials file lacks aws_access_key_id or aws_secret_access_key",
        )),
    }
}
