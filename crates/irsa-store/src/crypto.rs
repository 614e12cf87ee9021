//! Encryption at rest: AES-256-GCM under a 32-byte master key, with the
//! record's identity as associated data so sealed values cannot be swapped
//! between rows.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use irsa_core::{SecretBytes, SecretString};
use zeroize::Zeroizing;

use crate::StoreError;

/// Length of a master key in bytes.
pub const MASTER_KEY_LEN: usize = 32;
/// File name of the generated master key inside the data directory.
pub const MASTER_KEY_FILE: &str = "master-key";
/// Environment variable [`master_key_from_env`] reads.
pub const MASTER_KEY_ENV: &str = "IRSA_MASTER_KEY";

/// First byte of every sealed value, so the format can evolve.
const SEAL_VERSION: u8 = 1;

/// The 32-byte key everything sensitive in the store is sealed under.
/// Prints as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey(SecretBytes);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

impl MasterKey {
    /// A key from raw bytes; must be exactly 32 bytes.
    pub fn from_bytes(bytes: SecretBytes) -> Result<Self, StoreError> {
        if bytes.len() == MASTER_KEY_LEN {
            Ok(Self(bytes))
        } else {
            Err(StoreError::Config(format!(
                "master key must be {MASTER_KEY_LEN} bytes, got {}",
                bytes.len()
            )))
        }
    }

    /// A key from its base64 text (standard alphabet, padding optional,
    /// surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<Self, StoreError> {
        let trimmed = text.trim();
        let padded;
        let input = if trimmed.len().is_multiple_of(4) {
            trimmed
        } else {
            padded = format!("{trimmed}{}", "=".repeat(4 - trimmed.len() % 4));
            &padded
        };
        let bytes = STANDARD.decode(input).map_err(|_| {
            StoreError::Config(
                "master key is not valid base64 (expected base64 of 32 random bytes, e.g. `openssl rand -base64 32`)"
                    .to_owned(),
            )
        })?;
        Self::from_bytes(SecretBytes::from(bytes))
    }

    /// A fresh random key from the OS RNG.
    pub fn generate() -> Result<Self, StoreError> {
        let mut bytes = vec![0u8; MASTER_KEY_LEN];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| StoreError::Crypto("the OS random number generator failed".to_owned()))?;
        Ok(Self(SecretBytes::from(bytes)))
    }

    /// The key as base64 text (what the key file and `IRSA_MASTER_KEY` hold).
    pub fn to_base64(&self) -> SecretString {
        SecretString::new(STANDARD.encode(self.0.expose()))
    }

    fn aead_key(&self) -> Result<LessSafeKey, StoreError> {
        let unbound = UnboundKey::new(&AES_256_GCM, self.0.expose())
            .map_err(|_| StoreError::Crypto("invalid master key".to_owned()))?;
        Ok(LessSafeKey::new(unbound))
    }
}

/// Seals and opens values under the master key.
pub(crate) struct Sealer {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(***)")
    }
}

impl Sealer {
    pub(crate) fn new(master: &MasterKey) -> Result<Self, StoreError> {
        Ok(Self {
            key: master.aead_key()?,
            rng: SystemRandom::new(),
        })
    }

    /// `version || nonce || ciphertext+tag`; `aad` names the record.
    pub(crate) fn seal(&self, aad: &str, plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| StoreError::Crypto("the OS random number generator failed".to_owned()))?;
        let mut in_out = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_bytes()),
                &mut in_out,
            )
            .map_err(|_| StoreError::Crypto("sealing failed".to_owned()))?;
        // `in_out` now holds only ciphertext and tag; the plaintext copy was
        // encrypted in place.
        let mut out = Vec::with_capacity(1 + NONCE_LEN + in_out.len());
        out.push(SEAL_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&in_out);
        Ok(out)
    }

    pub(crate) fn open(&self, aad: &str, sealed: &[u8]) -> Result<SecretBytes, StoreError> {
        let undecryptable = || {
            StoreError::Crypto(format!(
                "cannot decrypt {aad}: the master key does not match the one the data was sealed with, or the data is corrupted"
            ))
        };
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != SEAL_VERSION {
            return Err(undecryptable());
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&sealed[1..=NONCE_LEN]);
        // Decrypted in place: wipe the buffer when done.
        let mut in_out = Zeroizing::new(sealed[1 + NONCE_LEN..].to_vec());
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_bytes()),
                &mut in_out,
            )
            .map_err(|_| undecryptable())?;
        Ok(SecretBytes::new(plain.to_vec()))
    }
}

/// Reads `IRSA_MASTER_KEY` from the process environment. This is the only
/// place the library reads the environment; servers usually pass the value
/// they parsed with their flags instead.
pub fn master_key_from_env() -> Option<SecretString> {
    std::env::var(MASTER_KEY_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(SecretString::new)
}

/// Where the master key comes from, in order of precedence.
#[derive(Debug, Clone, Default)]
pub struct MasterKeySource {
    /// Base64 text, e.g. the value of `IRSA_MASTER_KEY`.
    pub key_text: Option<SecretString>,
    /// A file holding the base64 text (or the raw 32 bytes): `--master-key-file`.
    pub key_file: Option<PathBuf>,
}

/// Loads the master key for a store.
///
/// 1. `source.key_text` if set, else 2. `source.key_file` if set;
/// 3. otherwise, for SQLite (`database_url` `None` or `sqlite:`), the file
///    `<data_dir>/master-key`, generated once (mode 0600, created atomically,
///    never overwritten). If that file is missing but the database already
///    exists, this is an error rather than a fresh key that cannot read it.
///
/// For PostgreSQL a key must be given, so every replica shares it.
pub fn load_master_key(
    source: &MasterKeySource,
    data_dir: &Path,
    database_url: Option<&str>,
) -> Result<MasterKey, StoreError> {
    if let Some(text) = &source.key_text {
        return MasterKey::from_base64(text.expose())
            .map_err(|e| StoreError::Config(format!("{MASTER_KEY_ENV}: {e}")));
    }
    if let Some(path) = &source.key_file {
        return read_key_file(path);
    }
    let is_postgres = database_url
        .is_some_and(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"));
    if is_postgres {
        return Err(StoreError::Config(
            "PostgreSQL requires a shared master key: set IRSA_MASTER_KEY or --master-key-file"
                .to_owned(),
        ));
    }
    let path = data_dir.join(MASTER_KEY_FILE);
    if path.exists() {
        return read_key_file(&path);
    }
    let db_path = match database_url {
        Some(url) => crate::sql::sqlite_path_of(url, data_dir)?,
        None => data_dir.join(crate::SQLITE_FILE),
    };
    if db_path.exists() {
        return Err(StoreError::Crypto(format!(
            "master key file {} is missing but the database {} already exists; restore the key file or set IRSA_MASTER_KEY / --master-key-file",
            path.display(),
            db_path.display()
        )));
    }
    generate_key_file(&path)
}

fn read_key_file(path: &Path) -> Result<MasterKey, StoreError> {
    let bytes = std::fs::read(path).map_err(|e| {
        StoreError::Config(format!(
            "cannot read master key file {}: {e}; check --master-key-file",
            path.display()
        ))
    })?;
    let bytes = SecretBytes::from(bytes);
    if bytes.len() == MASTER_KEY_LEN && std::str::from_utf8(bytes.expose()).is_err() {
        return MasterKey::from_bytes(bytes);
    }
    let text = std::str::from_utf8(bytes.expose()).map_err(|_| {
        StoreError::Config(format!(
            "master key file {} holds neither base64 text nor 32 raw bytes",
            path.display()
        ))
    })?;
    MasterKey::from_base64(text)
        .map_err(|e| StoreError::Config(format!("master key file {}: {e}", path.display())))
}

/// Writes a fresh key to a temporary file, then hard-links it into place:
/// the link fails if another process won the race, and a crash never leaves
/// a half-written key under the final name.
fn generate_key_file(path: &Path) -> Result<MasterKey, StoreError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| unwritable(dir, &e))?;
    let key = MasterKey::generate()?;
    let tmp = dir.join(format!(".master-key.tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(key.to_base64().expose().as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()
    };
    let linked = write().and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            tracing::info!(path = %path.display(), "generated a new master key");
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key_file(path),
        Err(e) => Err(unwritable(dir, &e)),
    }
}

fn unwritable(dir: &Path, e: &std::io::Error) -> StoreError {
    StoreError::Config(format!(
        "cannot write the master key into {}: {e}; check --data-dir",
        dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trips_and_binds_aad() {
        let key = MasterKey::generate().unwrap();
        let sealer = Sealer::new(&key).unwrap();
        let boxed = sealer.seal("access-key:AKIA1", b"secret").unwrap();
        assert!(!boxed.windows(6).any(|w| w == b"secret"));
        assert_eq!(
            sealer.open("access-key:AKIA1", &boxed).unwrap().expose(),
            b"secret"
        );
        assert!(matches!(
            sealer.open("access-key:AKIA2", &boxed),
            Err(StoreError::Crypto(_))
        ));
        let other = Sealer::new(&MasterKey::generate().unwrap()).unwrap();
        assert!(matches!(
            other.open("access-key:AKIA1", &boxed),
            Err(StoreError::Crypto(_))
        ));
        // Truncated or tampered data is refused, not a panic.
        assert!(sealer.open("access-key:AKIA1", &boxed[..5]).is_err());
        let mut flipped = boxed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(sealer.open("access-key:AKIA1", &flipped).is_err());
    }

    #[test]
    fn base64_parsing_and_debug() {
        let key = MasterKey::generate().unwrap();
        let text = key.to_base64();
        assert_eq!(
            MasterKey::from_base64(&format!(" {}\n", text.expose())).unwrap(),
            key
        );
        assert_eq!(
            MasterKey::from_base64(text.expose().trim_end_matches('=')).unwrap(),
            key
        );
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        assert!(MasterKey::from_base64("not base64!").is_err());
        assert_eq!(format!("{key:?}"), "MasterKey(***)");
    }

    #[test]
    fn key_file_generated_once_with_0600() {
        let dir = tempfile::tempdir().unwrap();
        let source = MasterKeySource::default();
        let first = load_master_key(&source, dir.path(), None).unwrap();
        let second = load_master_key(&source, dir.path(), None).unwrap();
        assert_eq!(first, second);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(MASTER_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Only the key file remains; no temporary files left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(MASTER_KEY_FILE)]);
    }

    #[test]
    fn explicit_sources_win_and_postgres_requires_one() {
        let dir = tempfile::tempdir().unwrap();
        let key = MasterKey::generate().unwrap();
        let from_text = MasterKeySource {
            key_text: Some(key.to_base64()),
            key_file: None,
        };
        let pg = Some("postgres://db/irsa");
        assert_eq!(load_master_key(&from_text, dir.path(), pg).unwrap(), key);
        let err = load_master_key(&MasterKeySource::default(), dir.path(), pg).unwrap_err();
        assert_eq!(
            err.to_string(),
            "PostgreSQL requires a shared master key: set IRSA_MASTER_KEY or --master-key-file"
        );
        let file = dir.path().join("k");
        std::fs::write(&file, key.to_base64().expose()).unwrap();
        let from_file = MasterKeySource {
            key_text: None,
            key_file: Some(file),
        };
        assert_eq!(load_master_key(&from_file, dir.path(), pg).unwrap(), key);
        let missing = MasterKeySource {
            key_text: None,
            key_file: Some(dir.path().join("nope")),
        };
        assert!(load_master_key(&missing, dir.path(), pg)
            .unwrap_err()
            .to_string()
            .starts_with("cannot read master key file"));
    }

    #[test]
    fn missing_key_file_with_existing_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(crate::SQLITE_FILE), b"").unwrap();
        let err = load_master_key(&MasterKeySource::default(), dir.path(), None).unwrap_err();
        assert!(matches!(err, StoreError::Crypto(_)), "{err}");
        assert!(!dir.path().join(MASTER_KEY_FILE).exists());
    }
}
