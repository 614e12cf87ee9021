//! HMAC-SHA256 signing: the derived key, and the chained signatures of
//! aws-chunked bodies (chunks and trailers).

use std::fmt;
use std::time::SystemTime;

use hmac::{Hmac, Mac};
use irsa_core::SecretString;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::canonical::EMPTY_SHA256;
use crate::parse::{format_amz_date, TERMINATOR};
use crate::SigV4Error;

type HmacSha256 = Hmac<Sha256>;

pub(crate) fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of every length, so `new_from_slice` cannot fail;
    // the fallback keeps this function total without a panic.
    match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().into()
        }
        Err(_) => [0; 32],
    }
}

/// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
/// "aws4_request"). Zeroed on drop, never printed.
#[derive(Clone)]
pub(crate) struct SigningKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl SigningKey {
    /// Derives the key of `secret` for one day (`YYYYMMDD`), region and
    /// service.
    pub(crate) fn derive(secret: &SecretString, date: &str, region: &str, service: &str) -> Self {
        let mut k_secret = Zeroizing::new(Vec::with_capacity(4 + secret.expose().len()));
        k_secret.extend_from_slice(b"AWS4");
        k_secret.extend_from_slice(secret.expose().as_bytes());
        let k_date = Zeroizing::new(hmac(&k_secret, date.as_bytes()));
        let k_region = Zeroizing::new(hmac(&*k_date, region.as_bytes()));
        let k_service = Zeroizing::new(hmac(&*k_region, service.as_bytes()));
        Self(Zeroizing::new(hmac(&*k_service, TERMINATOR.as_bytes())))
    }

    /// Lower-case hex HMAC of `string_to_sign`.
    pub(crate) fn sign_hex(&self, string_to_sign: &[u8]) -> String {
        hex::encode(hmac(&*self.0, string_to_sign))
    }

    #[cfg(test)]
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Constant-time comparison of two signatures given as hex text.
pub(crate) fn signatures_equal(expected: &str, provided: &[u8]) -> bool {
    bool::from(expected.as_bytes().ct_eq(provided))
}

const CHUNK_ALGORITHM: &str = "AWS4-HMAC-SHA256-PAYLOAD";
const TRAILER_ALGORITHM: &str = "AWS4-HMAC-SHA256-TRAILER";

/// What chains the signatures of an aws-chunked body: the signing key, the
/// request's `x-amz-date` and credential scope, and the running (previous)
/// signature, which starts as the seed signature of the request headers.
///
/// The decoder gets one from [`crate::VerifiedSignature::chunked_decoder`];
/// a gateway that forwards re-signed chunks builds its own with
/// [`ChunkSigningContext::new`] from its upstream key and the seed
/// signature of the upstream request it signed.
#[derive(Clone)]
pub struct ChunkSigningContext {
    key: SigningKey,
    amz_date: String,
    scope: String,
    previous_signature: String,
}

impl fmt::Debug for ChunkSigningContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkSigningContext")
            .field("amz_date", &self.amz_date)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl ChunkSigningContext {
    /// A context for the secret `secret`, the request time `time` (its
    /// `x-amz-date`), `region`, `service`, and the request's seed signature
    /// (the `Signature=` of its Authorization header, 64 hex digits).
    pub fn new(
        secret: &SecretString,
        time: SystemTime,
        region: &str,
        service: &str,
        seed_signature: &str,
    ) -> Result<Self, SigV4Error> {
        let amz_date = format_amz_date(time);
        let date = amz_date.get(..8).unwrap_or(&amz_date).to_owned();
        Self::from_parts(
            SigningKey::derive(secret, &date, region, service),
            amz_date,
            format!("{date}/{region}/{service}/{TERMINATOR}"),
            seed_signature,
        )
    }

    pub(crate) fn from_parts(
        key: SigningKey,
        amz_date: String,
        scope: String,
        seed_signature: &str,
    ) -> Result<Self, SigV4Error> {
        if seed_signature.len() != 64
            || !seed_signature
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(SigV4Error::IncompleteSignature(
                "The seed signature must be 64 lower-case hex digits.".to_owned(),
            ));
        }
        Ok(Self {
            key,
            amz_date,
            scope,
            previous_signature: seed_signature.to_owned(),
        })
    }

    /// The signature the next chunk or trailer chains from.
    pub fn previous_signature(&self) -> &str {
        &self.previous_signature
    }

    /// The signature of a chunk whose data hashes to `data_sha256`, chained
    /// from the previous one; does not advance the chain.
    pub(crate) fn chunk_signature(&self, data_sha256: &[u8; 32]) -> String {
        let sts = format!(
            "{CHUNK_ALGORITHM}\n{}\n{}\n{}\n{EMPTY_SHA256}\n{}",
            self.amz_date,
            self.scope,
            self.previous_signature,
            hex::encode(data_sha256)
        );
        self.key.sign_hex(sts.as_bytes())
    }

    /// The trailer signature over the canonical trailer text
    /// (`name:value\n` per trailer).
    pub(crate) fn trailer_signature(&self, canonical_trailers: &[u8]) -> String {
        let sts = format!(
            "{TRAILER_ALGORITHM}\n{}\n{}\n{}\n{}",
            self.amz_date,
            self.scope,
            self.previous_signature,
            hex::encode(Sha256::digest(canonical_trailers))
        );
        self.key.sign_hex(sts.as_bytes())
    }

    /// Moves the chain on to `signature`.
    pub(crate) fn advance(&mut self, signature: String) {
        self.previous_signature = signature;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Signing key example from the AWS SigV4 documentation
    /// ("Examples of how to derive a signing key").
    #[test]
    fn signing_key_matches_the_documented_example() {
        let secret = SecretString::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        let key = SigningKey::derive(&secret, "20120215", "us-east-1", "iam");
        assert_eq!(
            hex::encode(key.bytes()),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
        assert_eq!(format!("{key:?}"), "SigningKey(<redacted>)");
    }

    #[test]
    fn seed_signatures_must_be_lower_hex() {
        let secret = SecretString::new("s");
        let t = SystemTime::UNIX_EPOCH;
        for bad in ["", "abc", &"A".repeat(64), &"g".repeat(64), &"a".repeat(65)] {
            assert!(
                ChunkSigningContext::new(&secret, t, "r", "s3", bad).is_err(),
                "{bad}"
            );
        }
        let ctx = ChunkSigningContext::new(&secret, t, "r", "s3", &"a".repeat(64)).unwrap();
        assert_eq!(ctx.previous_signature(), "a".repeat(64));
        assert!(!format!("{ctx:?}").contains("aaaa"));
    }
}
