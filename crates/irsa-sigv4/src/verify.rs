//! Step 2: recompute the signature with the secret and compare it.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::time::{Duration, SystemTime};

use hmac::{Hmac, Mac};
use irsa_core::SecretString;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::canonical::{canonical_request, sha256_hex, string_to_sign, EMPTY_SHA256};
use crate::parse::{format_amz_date, SignatureForm};
use crate::{ParsedSignature, Payload, RequestParts, SigV4Config, SigV4Error};

const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// A request whose signature was verified. Only [`SigV4Config::verify`] makes
/// one, so holding it proves the check happened.
#[derive(Debug, Clone)]
pub struct VerifiedSignature {
    access_key_id: String,
    region: String,
    service: String,
    security_token: Option<SecretString>,
    request_time: SystemTime,
    form: SignatureForm,
}

impl VerifiedSignature {
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }
    pub fn region(&self) -> &str {
        &self.region
    }
    pub fn service(&self) -> &str {
        &self.service
    }
    pub fn security_token(&self) -> Option<&SecretString> {
        self.security_token.as_ref()
    }
    pub fn request_time(&self) -> SystemTime {
        self.request_time
    }
    pub fn form(&self) -> SignatureForm {
        self.form
    }
}

/// Where secrets come from, for callers that can look them up synchronously.
pub trait SecretLookup {
    /// The secret access key for `parsed`'s access key id (and security
    /// token, for temporary credentials). Unknown or inactive keys are
    /// [`SigV4Error::InvalidClientTokenId`].
    fn secret_for(&self, parsed: &ParsedSignature) -> Result<SecretString, SigV4Error>;
}

impl<S: BuildHasher> SecretLookup for HashMap<String, SecretString, S> {
    fn secret_for(&self, parsed: &ParsedSignature) -> Result<SecretString, SigV4Error> {
        self.get(parsed.access_key_id())
            .cloned()
            .ok_or(SigV4Error::InvalidClientTokenId)
    }
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &[u8]) -> Result<[u8; 32], SigV4Error> {
    // HMAC takes keys of any length; the error branch cannot happen.
    let mut mac = HmacSha256::new_from_slice(key).map_err(|_| SigV4Error::SignatureDoesNotMatch)?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().into())
}

/// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
fn signing_key(
    secret: &SecretString,
    date: &str,
    region: &str,
    service: &str,
) -> Result<Zeroizing<[u8; 32]>, SigV4Error> {
    let mut k_secret = Zeroizing::new(Vec::with_capacity(4 + secret.expose().len()));
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret.expose().as_bytes());
    let k_date = Zeroizing::new(hmac(&k_secret, date.as_bytes())?);
    let k_region = Zeroizing::new(hmac(&*k_date, region.as_bytes())?);
    let k_service = Zeroizing::new(hmac(&*k_region, service.as_bytes())?);
    Ok(Zeroizing::new(hmac(&*k_service, b"aws4_request")?))
}

impl SigV4Config {
    /// Checks the request time against `now`: the allowed skew both ways
    /// and, for presigned requests, `X-Amz-Expires`.
    pub fn check_time(&self, parsed: &ParsedSignature, now: SystemTime) -> Result<(), SigV4Error> {
        let t = parsed.request_time;
        let skew_minutes = self.max_skew.as_secs() / 60;
        let latest = now.checked_add(self.max_skew).unwrap_or(now);
        if t > latest {
            return Err(SigV4Error::SignatureNotYetCurrent {
                request_time: parsed.amz_date.clone(),
                latest: format_amz_date(latest),
                now: format_amz_date(now),
                skew_minutes,
            });
        }
        if let Some(expires) = parsed.expires {
            let deadline = t.checked_add(expires).unwrap_or(t);
            if now > deadline {
                return Err(SigV4Error::PresignedExpired);
            }
        }
        if parsed.form == SignatureForm::Header || self.presigned_within_skew {
            let earliest = now
                .checked_sub(self.max_skew)
                .unwrap_or(SystemTime::UNIX_EPOCH);
            if t < earliest {
                return Err(SigV4Error::SignatureExpired {
                    request_time: parsed.amz_date.clone(),
                    earliest: format_amz_date(earliest),
                    now: format_amz_date(now),
                    skew_minutes,
                });
            }
        }
        Ok(())
    }

    /// The payload hash the client must have signed, and for presigned
    /// requests without an explicit hash, `UNSIGNED-PAYLOAD` as a second
    /// candidate (S3-style presigners sign that instead of the body).
    fn payload_hashes(
        &self,
        parsed: &ParsedSignature,
        request: &RequestParts<'_>,
    ) -> Result<(String, Option<&'static str>), SigV4Error> {
        let actual = || match request.payload {
            Payload::Bytes([]) => EMPTY_SHA256.to_owned(),
            Payload::Bytes(body) => sha256_hex(body),
            Payload::Sha256Hex(h) => h.to_ascii_lowercase(),
        };
        let claimed = match parsed.form {
            SignatureForm::Header => request.first_header("x-amz-content-sha256"),
            SignatureForm::Presigned => parsed.content_sha256.as_deref(),
        };
        match claimed {
            None if parsed.form == SignatureForm::Presigned && self.allow_unsigned_payload => {
                Ok((actual(), Some(UNSIGNED_PAYLOAD)))
            }
            None => Ok((actual(), None)),
            Some(UNSIGNED_PAYLOAD) if self.allow_unsigned_payload => {
                Ok((UNSIGNED_PAYLOAD.into(), None))
            }
            Some(claimed)
                if claimed.len() == 64
                    && claimed.bytes().all(|b| b.is_ascii_hexdigit())
                    && claimed.eq_ignore_ascii_case(&actual()) =>
            {
                Ok((claimed.to_owned(), None))
            }
            // A hash that is not the body's, streaming modes, or a refused
            // UNSIGNED-PAYLOAD: the body is not what was signed.
            Some(_) => Err(SigV4Error::SignatureDoesNotMatch),
        }
    }

    fn signature_matches(
        parsed: &ParsedSignature,
        request: &RequestParts<'_>,
        key: &[u8; 32],
        payload_hash: &str,
    ) -> Result<bool, SigV4Error> {
        let creq = canonical_request(
            request.method,
            request.path,
            request.query,
            parsed.form == SignatureForm::Presigned,
            &request.headers,
            &parsed.signed_headers,
            payload_hash,
        );
        let sts = string_to_sign(&parsed.amz_date, &parsed.scope.to_scope_string(), &creq);
        let expected = Zeroizing::new(hex::encode(hmac(key, sts.as_bytes())?));
        Ok(bool::from(
            expected.as_bytes().ct_eq(parsed.signature.as_bytes()),
        ))
    }

    /// Verifies `parsed` against `request` with the secret access key,
    /// checking time first.
    pub fn verify(
        &self,
        parsed: &ParsedSignature,
        request: &RequestParts<'_>,
        secret: &SecretString,
        now: SystemTime,
    ) -> Result<VerifiedSignature, SigV4Error> {
        self.check_time(parsed, now)?;
        let (payload_hash, fallback) = self.payload_hashes(parsed, request)?;
        let key = signing_key(
            secret,
            &parsed.scope.date,
            &parsed.scope.region,
            &parsed.scope.service,
        )?;
        let mut ok = Self::signature_matches(parsed, request, &key, &payload_hash)?;
        if let (false, Some(fallback)) = (ok, fallback) {
            ok = Self::signature_matches(parsed, request, &key, fallback)?;
        }
        if !ok {
            return Err(SigV4Error::SignatureDoesNotMatch);
        }
        Ok(VerifiedSignature {
            access_key_id: parsed.access_key_id.clone(),
            region: parsed.scope.region.clone(),
            service: parsed.scope.service.clone(),
            security_token: parsed.security_token.clone(),
            request_time: parsed.request_time,
            form: parsed.form,
        })
    }

    /// parse → lookup → verify in one call, for synchronous secret sources.
    pub fn verify_request(
        &self,
        lookup: &impl SecretLookup,
        request: &RequestParts<'_>,
        now: SystemTime,
    ) -> Result<VerifiedSignature, SigV4Error> {
        let parsed = self.parse(request)?;
        let secret = lookup.secret_for(&parsed)?;
        self.verify(&parsed, request, &secret, now)
    }
}

/// The default allowed clock skew, 15 minutes as in AWS.
pub const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(15 * 60);

#[cfg(test)]
mod tests {
    use super::*;

    /// Signing key example from the AWS SigV4 documentation
    /// ("Examples of how to derive a signing key").
    #[test]
    fn signing_key_matches_the_documented_example() {
        let secret = SecretString::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        let key = signing_key(&secret, "20120215", "us-east-1", "iam").unwrap();
        assert_eq!(
            hex::encode(*key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }
}
