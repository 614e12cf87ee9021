//! Stateless session tokens: the server's authenticated encryption of a
//! session, so any replica verifies a temporary credential without a
//! database read.
//!
//! Token text: base64url without padding (no `+`, `/`, `=`: nothing for a
//! query string or header to mangle) of
//! `version (1) | key-id length (1) | key id | nonce (24) | ciphertext+tag`,
//! where the ciphertext is XChaCha20-Poly1305 (random 192-bit nonces are
//! safe for any number of tokens per key) over a format byte and the JSON
//! claims (deflated when longer than 512 bytes, e.g. with a session policy),
//! and the version and key id are authenticated as associated data. The key
//! id travels in clear so a key ring with rotated keys still opens tokens
//! sealed under an older key.
//!
//! Compression covers the whole claims, session policy included. The only
//! secret inside (the temporary secret key) is known to whoever holds the
//! token anyway, so compression length leaks nothing new.

use std::fmt;
use std::io::{Read, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chacha20::cipher::consts::U10;
use irsa_core::{AccountId, Clock, SecretBytes, SecretString};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use zeroize::{Zeroize as _, Zeroizing};

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Required key length (256-bit keys).
pub const KEY_LEN: usize = 32;
/// Longest key id (it travels in every token).
pub const MAX_KEY_ID_LEN: usize = 64;
/// Tokens longer than this are refused before any work.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;
/// Claims JSON longer than this is deflated.
const COMPRESS_ABOVE: usize = 512;
/// First plaintext byte: how the claims JSON is stored.
const FORMAT_JSON: u8 = 0;
const FORMAT_DEFLATE: u8 = 1;
/// Cap on the inflated claims, against decompression bombs.
const MAX_CLAIMS_LEN: u64 = 64 * 1024;

/// Why a token was refused or could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionTokenError {
    /// Malformed, tampered, or sealed under a key the ring does not hold.
    #[error("the session token is invalid")]
    Invalid,
    /// Authentic but past its expiry.
    #[error("the session token is expired")]
    Expired,
    /// A key of the wrong length or with an unusable id.
    #[error("invalid session key: {0}")]
    InvalidKey(&'static str),
    /// Sealing failed (claims too large to serialize or encrypt).
    #[error("the session could not be sealed")]
    Seal,
}

/// One sealing key: an id (ASCII letters, digits, `.`, `_`, `-`; ≤ 64) and
/// 32 secret bytes.
#[derive(Clone)]
pub struct SessionKey {
    id: String,
    secret: SecretBytes,
}

impl SessionKey {
    pub fn new(id: impl Into<String>, secret: SecretBytes) -> Result<Self, SessionTokenError> {
        let id = id.into();
        if id.is_empty()
            || id.len() > MAX_KEY_ID_LEN
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return Err(SessionTokenError::InvalidKey(
                "key id must be 1-64 characters of [A-Za-z0-9._-]",
            ));
        }
        if secret.len() != KEY_LEN {
            return Err(SessionTokenError::InvalidKey(
                "key must be exactly 32 bytes",
            ));
        }
        Ok(Self { id, secret })
    }

    /// A fresh random key (for generating the first key of a ring).
    pub fn generate(id: impl Into<String>) -> Result<Self, SessionTokenError> {
        let mut bytes = vec![0_u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self::new(id, SecretBytes::from(bytes))
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key bytes, for persisting the ring.
    pub fn secret(&self) -> &SecretBytes {
        &self.secret
    }

    /// The XChaCha20-Poly1305 AEAD for one token's nonce
    /// (draft-irtf-cfrg-xchacha-03 §2.3): HChaCha20 of the key and the
    /// nonce's first 16 bytes is the key of ChaCha20-Poly1305 (RFC 8439)
    /// with nonce `0⁴ ‖ the last 8 bytes`. HChaCha20 is RustCrypto's and
    /// the AEAD aws-lc's: byte for byte the XChaCha20-Poly1305 of before
    /// (tested against RustCrypto's), several times faster on short tokens.
    fn aead(&self, nonce: &[u8; NONCE_LEN]) -> Result<(LessSafeKey, Nonce), SessionTokenError> {
        let key = self.secret.expose();
        if key.len() != KEY_LEN {
            return Err(SessionTokenError::InvalidKey("key length"));
        }
        let (prefix, suffix) = nonce.split_at(16);
        let mut subkey = chacha20::hchacha::<U10>(key.into(), prefix.into());
        let aead = UnboundKey::new(&CHACHA20_POLY1305, &subkey);
        subkey.as_mut_slice().zeroize();
        let aead = aead.map_err(|_| SessionTokenError::InvalidKey("key length"))?;
        let mut inner_nonce = [0_u8; 12];
        inner_nonce[4..].copy_from_slice(suffix);
        Ok((
            LessSafeKey::new(aead),
            Nonce::assume_unique_for_key(inner_nonce),
        ))
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionKey")
            .field("id", &self.id)
            .field("secret", &"***")
            .finish()
    }
}

/// The keys that may open tokens; the first one seals new tokens.
#[derive(Debug, Clone)]
pub struct KeyRing {
    keys: Vec<SessionKey>,
}

impl KeyRing {
    /// `keys[0]` is the current sealing key; the rest only open. Ids must be unique.
    pub fn new(keys: Vec<SessionKey>) -> Result<Self, SessionTokenError> {
        if keys.is_empty() {
            return Err(SessionTokenError::InvalidKey("the key ring is empty"));
        }
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].iter().any(|o| o.id == k.id) {
                return Err(SessionTokenError::InvalidKey(
                    "duplicate key id in the key ring",
                ));
            }
        }
        Ok(Self { keys })
    }

    /// The key new tokens are sealed with.
    /// Whether both rings hold the same keys in the same order (an id
    /// names one key for good, so ids decide).
    pub fn same_keys(&self, other: &KeyRing) -> bool {
        self.keys.len() == other.keys.len()
            && self.keys.iter().zip(&other.keys).all(|(a, b)| a.id == b.id)
    }

    pub fn current(&self) -> &SessionKey {
        &self.keys[0]
    }

    pub fn get(&self, id: &str) -> Option<&SessionKey> {
        self.keys.iter().find(|k| k.id == id)
    }
}

/// Who the session is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t")]
pub enum SessionPrincipal {
    /// AssumeRole / AssumeRoleWithWebIdentity.
    #[serde(rename = "r")]
    AssumedRole {
        #[serde(rename = "a")]
        role_arn: String,
        /// `AROA…`
        #[serde(rename = "i")]
        role_id: String,
        #[serde(rename = "s")]
        session_name: String,
    },
    /// GetFederationToken of an IAM user.
    #[serde(rename = "f")]
    FederatedUser {
        #[serde(rename = "a")]
        user_arn: String,
        #[serde(rename = "i")]
        user_id: String,
        #[serde(rename = "n")]
        name: String,
    },
    /// GetSessionToken of an IAM user.
    #[serde(rename = "u")]
    User {
        #[serde(rename = "a")]
        user_arn: String,
        /// `AIDA…`
        #[serde(rename = "i")]
        user_id: String,
    },
    /// GetSessionToken of the account's root.
    #[serde(rename = "o")]
    Root,
}

/// A session tag (`Key`/`Value`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionTag {
    #[serde(rename = "k")]
    pub key: String,
    #[serde(rename = "v")]
    pub value: String,
}

/// Everything a request signed with temporary credentials needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionClaims {
    /// `ASIA…`
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub principal: SessionPrincipal,
    pub account: AccountId,
    /// Unix seconds (`aws:TokenIssueTime`).
    pub issued_at: i64,
    /// Unix seconds; the token is refused from this instant on.
    pub expires_at: i64,
    /// Inline session policy (`Policy`), as sent.
    pub session_policy: Option<String>,
    /// Managed session policies (`PolicyArns`).
    pub policy_arns: Vec<String>,
    pub tags: Vec<SessionTag>,
    pub transitive_tag_keys: Vec<String>,
    pub source_identity: Option<String>,
    /// Came from AssumeRole called by a role session (duration capped at 1 h).
    pub role_chained: bool,
}

impl SessionClaims {
    /// A session with no session policy, tags, source identity or role
    /// chaining (what GetSessionToken issues); a grant sets those fields on
    /// the result.
    pub fn new(
        access_key_id: String,
        secret_access_key: SecretString,
        principal: SessionPrincipal,
        account: AccountId,
        issued_at: i64,
        expires_at: i64,
    ) -> Self {
        Self {
            access_key_id,
            secret_access_key,
            principal,
            account,
            issued_at,
            expires_at,
            session_policy: None,
            policy_arns: Vec::new(),
            tags: Vec::new(),
            transitive_tag_keys: Vec::new(),
            source_identity: None,
            role_chained: false,
        }
    }

    pub fn issued_at_utc(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.issued_at).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    pub fn expires_at_utc(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.expires_at).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

// The serialized form; short names keep tokens small.
#[derive(Serialize, Deserialize)]
struct Wire<S> {
    #[serde(rename = "k")]
    access_key_id: String,
    #[serde(rename = "s")]
    secret: S,
    #[serde(rename = "p")]
    principal: SessionPrincipal,
    #[serde(rename = "a")]
    account: AccountId,
    #[serde(rename = "i")]
    issued_at: i64,
    #[serde(rename = "e")]
    expires_at: i64,
    #[serde(rename = "sp", default, skip_serializing_if = "Option::is_none")]
    session_policy: Option<String>,
    #[serde(rename = "pa", default, skip_serializing_if = "Vec::is_empty")]
    policy_arns: Vec<String>,
    #[serde(rename = "t", default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<SessionTag>,
    #[serde(rename = "tt", default, skip_serializing_if = "Vec::is_empty")]
    transitive_tag_keys: Vec<String>,
    #[serde(rename = "si", default, skip_serializing_if = "Option::is_none")]
    source_identity: Option<String>,
    #[serde(rename = "c", default, skip_serializing_if = "std::ops::Not::not")]
    role_chained: bool,
}

/// [`Wire`] borrowing from the claims, for sealing without copying them;
/// serializes to the same JSON.
#[derive(Serialize)]
struct WireRef<'a> {
    #[serde(rename = "k")]
    access_key_id: &'a str,
    #[serde(rename = "s")]
    secret: &'a str,
    #[serde(rename = "p")]
    principal: &'a SessionPrincipal,
    #[serde(rename = "a")]
    account: &'a AccountId,
    #[serde(rename = "i")]
    issued_at: i64,
    #[serde(rename = "e")]
    expires_at: i64,
    #[serde(rename = "sp", skip_serializing_if = "Option::is_none")]
    session_policy: Option<&'a str>,
    #[serde(rename = "pa", skip_serializing_if = "<[String]>::is_empty")]
    policy_arns: &'a [String],
    #[serde(rename = "t", skip_serializing_if = "<[SessionTag]>::is_empty")]
    tags: &'a [SessionTag],
    #[serde(rename = "tt", skip_serializing_if = "<[String]>::is_empty")]
    transitive_tag_keys: &'a [String],
    #[serde(rename = "si", skip_serializing_if = "Option::is_none")]
    source_identity: Option<&'a str>,
    #[serde(rename = "c", skip_serializing_if = "std::ops::Not::not")]
    role_chained: bool,
}

fn header(key_id: &str) -> Vec<u8> {
    let mut h = Vec::with_capacity(2 + key_id.len());
    h.push(VERSION);
    // Key ids are at most 64 bytes, checked by SessionKey::new.
    h.push(u8::try_from(key_id.len()).unwrap_or(u8::MAX));
    h.extend_from_slice(key_id.as_bytes());
    h
}

/// Seals `session` under `key` into token text.
pub fn seal(session: &SessionClaims, key: &SessionKey) -> Result<String, SessionTokenError> {
    let wire = WireRef {
        access_key_id: &session.access_key_id,
        secret: session.secret_access_key.expose(),
        principal: &session.principal,
        account: &session.account,
        issued_at: session.issued_at,
        expires_at: session.expires_at,
        session_policy: session.session_policy.as_deref(),
        policy_arns: &session.policy_arns,
        tags: &session.tags,
        transitive_tag_keys: &session.transitive_tag_keys,
        source_identity: session.source_identity.as_deref(),
        role_chained: session.role_chained,
    };
    let json = SecretBytes::new(serde_json::to_vec(&wire).map_err(|_| SessionTokenError::Seal)?);
    // Small claims (no session policy) are stored as is: deflate's set-up
    // costs more than it saves there, and this is on every AssumeRole*.
    let mut plaintext = Vec::with_capacity(json.len() + 1);
    if json.len() > COMPRESS_ABOVE {
        plaintext.push(FORMAT_DEFLATE);
        let mut encoder =
            flate2::write::DeflateEncoder::new(plaintext, flate2::Compression::default());
        encoder
            .write_all(json.expose())
            .map_err(|_| SessionTokenError::Seal)?;
        plaintext = encoder.finish().map_err(|_| SessionTokenError::Seal)?;
    } else {
        plaintext.push(FORMAT_JSON);
        plaintext.extend_from_slice(json.expose());
    }
    let plaintext = SecretBytes::new(plaintext);

    // The thread's CSPRNG (ChaCha, seeded and periodically reseeded from
    // the OS): random 192-bit nonces need unpredictability and no repeats,
    // not a `getrandom` syscall per token (every AssumeRole* seals one).
    let mut nonce = [0_u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut nonce);
    let aad = header(&key.id);
    let (cipher, inner_nonce) = key.aead(&nonce)?;
    // The plaintext is encrypted where it lies in the token.
    let mut token = Vec::with_capacity(aad.len() + NONCE_LEN + plaintext.len() + TAG_LEN);
    token.extend_from_slice(&aad);
    token.extend_from_slice(&nonce);
    let body = token.len();
    token.extend_from_slice(plaintext.expose());
    let tag = cipher
        .seal_in_place_separate_tag(inner_nonce, Aad::from(&aad), &mut token[body..])
        .map_err(|_| SessionTokenError::Seal)?;
    token.extend_from_slice(tag.as_ref());
    Ok(URL_SAFE_NO_PAD.encode(token))
}

/// Opens a token with whichever key of the ring sealed it and checks its
/// expiry against `now`. Authenticity is checked first: a forged token is
/// `Invalid` even if its (unauthenticated) content would be expired.
pub fn open(
    token: &str,
    keys: &KeyRing,
    now: SystemTime,
) -> Result<SessionClaims, SessionTokenError> {
    use SessionTokenError::Invalid;
    // SDKs send what they were given; tolerate surrounding whitespace only.
    let token = token.trim();
    if token.len() > MAX_TOKEN_LEN {
        return Err(Invalid);
    }
    let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| Invalid)?;
    let (&version, rest) = raw.split_first().ok_or(Invalid)?;
    if version != VERSION {
        return Err(Invalid);
    }
    let (&id_len, rest) = rest.split_first().ok_or(Invalid)?;
    let id_len = usize::from(id_len);
    if rest.len() < id_len + NONCE_LEN + TAG_LEN {
        return Err(Invalid);
    }
    let (id, rest) = rest.split_at(id_len);
    let id = std::str::from_utf8(id).map_err(|_| Invalid)?;
    let key = keys.get(id).ok_or(Invalid)?;
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let nonce: &[u8; NONCE_LEN] = nonce.try_into().map_err(|_| Invalid)?;
    let (cipher, inner_nonce) = key.aead(nonce).map_err(|_| Invalid)?;
    // Zeroed when dropped, whether or not it authenticated.
    let mut decrypted = Zeroizing::new(ciphertext.to_vec());
    let plaintext_len = cipher
        .open_in_place(inner_nonce, Aad::from(&raw[..2 + id_len]), &mut decrypted)
        .map_err(|_| Invalid)?
        .len();
    decrypted.truncate(plaintext_len);
    let plaintext = SecretBytes::new(std::mem::take(&mut *decrypted));
    let (&format, payload) = plaintext.expose().split_first().ok_or(Invalid)?;
    let json = match format {
        FORMAT_JSON => SecretBytes::new(payload),
        FORMAT_DEFLATE => {
            let mut json = Vec::new();
            flate2::read::DeflateDecoder::new(payload)
                .take(MAX_CLAIMS_LEN + 1)
                .read_to_end(&mut json)
                .map_err(|_| Invalid)?;
            let json = SecretBytes::new(json);
            if json.len() as u64 > MAX_CLAIMS_LEN {
                return Err(Invalid);
            }
            json
        }
        _ => return Err(Invalid),
    };
    let wire: Wire<String> = serde_json::from_slice(json.expose()).map_err(|_| Invalid)?;
    let now = unix_seconds(now);
    if now >= wire.expires_at {
        return Err(SessionTokenError::Expired);
    }
    Ok(SessionClaims {
        access_key_id: wire.access_key_id,
        secret_access_key: SecretString::new(wire.secret),
        principal: wire.principal,
        account: wire.account,
        issued_at: wire.issued_at,
        expires_at: wire.expires_at,
        session_policy: wire.session_policy,
        policy_arns: wire.policy_arns,
        tags: wire.tags,
        transitive_tag_keys: wire.transitive_tag_keys,
        source_identity: wire.source_identity,
        role_chained: wire.role_chained,
    })
}

/// [`open`] at the clock's current time.
pub fn open_at(
    token: &str,
    keys: &KeyRing,
    clock: &dyn Clock,
) -> Result<SessionClaims, SessionTokenError> {
    open(token, keys, clock.now())
}

fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use irsa_core::{generate_id, generate_secret_access_key, IdPrefix, TestClock};

    use super::*;
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    use chacha20poly1305::{XChaCha20Poly1305, XNonce};
    use proptest::prelude::*;

    /// RustCrypto's XChaCha20-Poly1305: what tokens were sealed with
    /// before, and the reference the aws-lc path must match.
    fn reference(key: &SessionKey) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new_from_slice(key.secret.expose()).unwrap()
    }

    proptest! {
        #[test]
        fn sealing_is_the_reference_xchacha20_poly1305(
            plain in proptest::collection::vec(any::<u8>(), 0..700),
            nonce in any::<[u8; NONCE_LEN]>(),
            secret in any::<[u8; KEY_LEN]>(),
        ) {
            let key = SessionKey::new("k1", SecretBytes::from(secret.to_vec())).unwrap();
            let aad = header(key.id());
            let expected = reference(&key)
                .encrypt(XNonce::from_slice(&nonce), Payload { msg: &plain, aad: &aad })
                .unwrap();

            let (cipher, inner_nonce) = key.aead(&nonce).unwrap();
            let mut sealed = plain.clone();
            let tag = cipher
                .seal_in_place_separate_tag(inner_nonce, Aad::from(&aad), &mut sealed)
                .unwrap();
            sealed.extend_from_slice(tag.as_ref());
            prop_assert_eq!(&sealed, &expected);

            let (cipher, inner_nonce) = key.aead(&nonce).unwrap();
            let mut opened = expected.clone();
            let plaintext = cipher.open_in_place(inner_nonce, Aad::from(&aad), &mut opened).unwrap();
            prop_assert_eq!(&*plaintext, &plain[..]);
        }
    }

    const NOW: u64 = 1_795_442_400;
    const NOW_I: i64 = 1_795_442_400;

    fn key(id: &str, byte: u8) -> SessionKey {
        SessionKey::new(id, SecretBytes::new(vec![byte; KEY_LEN])).unwrap()
    }

    fn claims() -> SessionClaims {
        SessionClaims {
            access_key_id: generate_id(IdPrefix::TemporaryAccessKey),
            secret_access_key: generate_secret_access_key(),
            principal: SessionPrincipal::AssumedRole {
                role_arn: "arn:aws:iam::123456789012:role/app".into(),
                role_id: generate_id(IdPrefix::Role),
                session_name: "botocore-session-1795442400".into(),
            },
            account: "123456789012".parse().unwrap(),
            issued_at: NOW_I,
            expires_at: NOW_I + 3600,
            session_policy: None,
            policy_arns: vec!["arn:aws:iam::123456789012:policy/app-read".into()],
            tags: vec![SessionTag {
                key: "team".into(),
                value: "platform".into(),
            }],
            transitive_tag_keys: vec!["team".into()],
            source_identity: Some("alice".into()),
            role_chained: false,
        }
    }

    fn ring() -> KeyRing {
        KeyRing::new(vec![key("k2", 2), key("k1", 1)]).unwrap()
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn round_trip() {
        let c = claims();
        let token = seal(&c, ring().current()).unwrap();
        assert!(token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let opened = open(&token, &ring(), at(NOW + 10)).unwrap();
        assert_eq!(opened, c);
        assert_eq!(
            opened.secret_access_key.expose(),
            c.secret_access_key.expose()
        );
        // Same claims, fresh nonce: tokens differ.
        assert_ne!(seal(&c, ring().current()).unwrap(), token);
        // Whitespace around the token (a credentials file's newline) is tolerated.
        assert_eq!(open(&format!("{token}\n"), &ring(), at(NOW)).unwrap(), c);
    }

    #[test]
    fn all_principal_kinds_round_trip() {
        for principal in [
            SessionPrincipal::Root,
            SessionPrincipal::User {
                user_arn: "arn:aws:iam::123456789012:user/bob".into(),
                user_id: generate_id(IdPrefix::User),
            },
            SessionPrincipal::FederatedUser {
                user_arn: "arn:aws:iam::123456789012:user/bob".into(),
                user_id: generate_id(IdPrefix::User),
                name: "fed".into(),
            },
        ] {
            let mut c = claims();
            c.principal = principal;
            c.role_chained = true;
            c.session_policy = Some("{\"Version\":\"2012-10-17\"}".into());
            let token = seal(&c, ring().current()).unwrap();
            assert_eq!(open(&token, &ring(), at(NOW)).unwrap(), c);
        }
    }

    #[test]
    fn tampering_any_byte_is_invalid() {
        let token = seal(&claims(), ring().current()).unwrap();
        let raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for i in 0..raw.len() {
            for flip in [0x01_u8, 0x80] {
                let mut bad = raw.clone();
                bad[i] ^= flip;
                let bad = URL_SAFE_NO_PAD.encode(&bad);
                let err = open(&bad, &ring(), at(NOW)).unwrap_err();
                assert_eq!(err, SessionTokenError::Invalid, "byte {i}");
            }
        }
        // Truncations and extensions.
        for len in 0..raw.len() {
            let bad = URL_SAFE_NO_PAD.encode(&raw[..len]);
            assert_eq!(
                open(&bad, &ring(), at(NOW)),
                Err(SessionTokenError::Invalid),
                "len {len}"
            );
        }
        let mut longer = raw.clone();
        longer.push(0);
        assert_eq!(
            open(&URL_SAFE_NO_PAD.encode(&longer), &ring(), at(NOW)),
            Err(SessionTokenError::Invalid)
        );
        for garbage in ["", "not base64 !", "AAAA", &"A".repeat(MAX_TOKEN_LEN + 1)] {
            assert_eq!(
                open(garbage, &ring(), at(NOW)),
                Err(SessionTokenError::Invalid)
            );
        }
    }

    #[test]
    fn wrong_key_is_invalid() {
        let token = seal(&claims(), &key("k2", 9)).unwrap();
        assert_eq!(
            open(&token, &ring(), at(NOW)),
            Err(SessionTokenError::Invalid)
        );
        let token = seal(&claims(), &key("other", 2)).unwrap();
        assert_eq!(
            open(&token, &ring(), at(NOW)),
            Err(SessionTokenError::Invalid)
        );
        // Re-labelling a token with another key id of the ring breaks the AAD.
        let token = seal(&claims(), &key("k1", 1)).unwrap();
        let mut raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
        assert_eq!(&raw[..4], &[1, 2, b'k', b'1']);
        raw[3] = b'2';
        let relabelled = URL_SAFE_NO_PAD.encode(&raw);
        assert_eq!(
            open(&relabelled, &ring(), at(NOW)),
            Err(SessionTokenError::Invalid)
        );
    }

    #[test]
    fn rotation_keeps_old_tokens_valid() {
        let old_ring = KeyRing::new(vec![key("k1", 1)]).unwrap();
        let old_token = seal(&claims(), old_ring.current()).unwrap();
        let rotated = ring();
        assert_eq!(rotated.current().id(), "k2");
        assert!(open(&old_token, &rotated, at(NOW)).is_ok());
        let new_token = seal(&claims(), rotated.current()).unwrap();
        assert!(open(&new_token, &rotated, at(NOW)).is_ok());
        // The old ring cannot open tokens of the new key; retiring k1 invalidates old tokens.
        assert_eq!(
            open(&new_token, &old_ring, at(NOW)),
            Err(SessionTokenError::Invalid)
        );
        let retired = KeyRing::new(vec![key("k2", 2)]).unwrap();
        assert_eq!(
            open(&old_token, &retired, at(NOW)),
            Err(SessionTokenError::Invalid)
        );
    }

    #[test]
    fn expiry_with_test_clock() {
        let clock = TestClock::at_unix(NOW);
        let token = seal(&claims(), ring().current()).unwrap();
        assert!(open(&token, &ring(), clock.now()).is_ok());
        clock.advance(Duration::from_secs(3599));
        assert!(open(&token, &ring(), clock.now()).is_ok());
        clock.advance(Duration::from_secs(1));
        assert_eq!(
            open(&token, &ring(), clock.now()),
            Err(SessionTokenError::Expired)
        );
    }

    #[test]
    fn token_size_stays_reasonable() {
        let typical = seal(&claims(), ring().current()).unwrap();
        assert!(
            typical.len() < 1024,
            "typical token is {} chars",
            typical.len()
        );
        // A maximal 2048-char inline policy and 10 policy ARNs still fit in 2 KB.
        let mut c = claims();
        let statement = r#"{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":"arn:aws:s3:::my-bucket/*"},"#;
        let mut policy = String::from(r#"{"Version":"2012-10-17","Statement":["#);
        while policy.len() + statement.len() < 2040 {
            policy.push_str(statement);
        }
        policy.push_str("{}]}");
        c.session_policy = Some(policy);
        c.policy_arns = (0..10)
            .map(|i| format!("arn:aws:iam::123456789012:policy/p{i}"))
            .collect();
        let big = seal(&c, ring().current()).unwrap();
        assert!(big.len() < 2048, "token with policy is {} chars", big.len());
        assert_eq!(open(&big, &ring(), at(NOW)).unwrap(), c);
    }

    /// Seals raw plaintext the way `seal` does, to test what `open` accepts.
    fn seal_raw(plaintext: &[u8], key: &SessionKey) -> String {
        let aad = header(&key.id);
        let nonce = [3_u8; NONCE_LEN];
        let ct = reference(key)
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .unwrap();
        let mut token = aad;
        token.extend_from_slice(&nonce);
        token.extend_from_slice(&ct);
        URL_SAFE_NO_PAD.encode(token)
    }

    #[test]
    fn authentic_but_malformed_plaintext_is_invalid() {
        let k = ring().current().clone();
        let json = serde_json::to_vec(&Wire {
            access_key_id: "ASIA".to_owned(),
            secret: "s",
            principal: SessionPrincipal::Root,
            account: "123456789012".parse().unwrap(),
            issued_at: 0,
            expires_at: i64::MAX,
            session_policy: None,
            policy_arns: vec![],
            tags: vec![],
            transitive_tag_keys: vec![],
            source_identity: None,
            role_chained: false,
        })
        .unwrap();
        let mut good = vec![FORMAT_JSON];
        good.extend_from_slice(&json);
        assert!(open(&seal_raw(&good, &k), &ring(), at(NOW)).is_ok());
        let mut unknown_format = vec![7];
        unknown_format.extend_from_slice(&json);
        assert_eq!(
            open(&seal_raw(&unknown_format, &k), &ring(), at(NOW)),
            Err(SessionTokenError::Invalid)
        );
        assert_eq!(
            open(&seal_raw(&[], &k), &ring(), at(NOW)),
            Err(SessionTokenError::Invalid)
        );
        assert_eq!(
            open(&seal_raw(&[FORMAT_JSON, b'{'], &k), &ring(), at(NOW)),
            Err(SessionTokenError::Invalid)
        );
        assert_eq!(
            open(
                &seal_raw(&[FORMAT_DEFLATE, 0xff, 0xff], &k),
                &ring(),
                at(NOW)
            ),
            Err(SessionTokenError::Invalid)
        );
        // A deflate bomb (1 MiB of zeros) is cut off at the cap.
        let mut enc =
            flate2::write::DeflateEncoder::new(vec![FORMAT_DEFLATE], flate2::Compression::best());
        enc.write_all(&vec![b' '; 1 << 20]).unwrap();
        let bomb = enc.finish().unwrap();
        assert!(bomb.len() < 4096);
        assert_eq!(
            open(&seal_raw(&bomb, &k), &ring(), at(NOW)),
            Err(SessionTokenError::Invalid)
        );
    }

    #[test]
    fn small_claims_are_not_compressed_large_ones_are() {
        let k = ring().current().clone();
        let format_of = |token: &str| {
            let raw = URL_SAFE_NO_PAD.decode(token).unwrap();
            let (nonce_at, id_len) = (2 + usize::from(raw[1]), usize::from(raw[1]));
            let plain = reference(&k)
                .decrypt(
                    XNonce::from_slice(&raw[nonce_at..nonce_at + NONCE_LEN]),
                    Payload {
                        msg: &raw[nonce_at + NONCE_LEN..],
                        aad: &raw[..2 + id_len],
                    },
                )
                .unwrap();
            plain[0]
        };
        assert_eq!(format_of(&seal(&claims(), &k).unwrap()), FORMAT_JSON);
        let mut c = claims();
        c.session_policy = Some(format!(
            "{{\"Version\":\"2012-10-17\",\"Statement\":[{}]}}",
            "{},".repeat(300)
        ));
        let token = seal(&c, &k).unwrap();
        assert_eq!(format_of(&token), FORMAT_DEFLATE);
        assert_eq!(open(&token, &ring(), at(NOW)).unwrap(), c);
    }

    #[test]
    fn keys_are_checked_and_never_printed() {
        assert!(SessionKey::new("k", SecretBytes::new(vec![0; 16])).is_err());
        assert!(SessionKey::new("", SecretBytes::new(vec![0; 32])).is_err());
        assert!(SessionKey::new("a b", SecretBytes::new(vec![0; 32])).is_err());
        assert!(SessionKey::new("x".repeat(65), SecretBytes::new(vec![0; 32])).is_err());
        assert!(KeyRing::new(vec![]).is_err());
        assert!(KeyRing::new(vec![key("a", 1), key("a", 2)]).is_err());
        let k = SessionKey::generate("gen-1").unwrap();
        assert_eq!(k.secret().len(), KEY_LEN);
        let printed = format!("{k:?} {:?}", claims());
        assert!(!printed.contains(claims().secret_access_key.expose()));
        let c = claims();
        assert!(!format!("{c:?}").contains(c.secret_access_key.expose()));
        assert!(format!("{c:?}").contains("***"));
    }
}
