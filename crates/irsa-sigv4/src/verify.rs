//! Step 2: recompute the signature with the secret and compare it.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::time::{Duration, SystemTime};

use irsa_core::SecretString;
use subtle::ConstantTimeEq;

use crate::aws_chunked::{AwsChunkedDecoder, ChunkedMode, ChunkedOptions};
use crate::canonical::{
    canonical_request, canonical_uri, canonical_uri_s3, sha256_hex, string_to_sign, EMPTY_SHA256,
};
use crate::parse::{format_amz_date, SignatureForm};
use crate::payload::{PayloadCheck, PayloadMode, UNSIGNED_PAYLOAD};
use crate::signing::{signatures_equal, ChunkSigningContext, SigningKey};
use crate::{ParsedSignature, Payload, RequestParts, SigV4Config, SigV4Error};

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
    payload_mode: PayloadMode,
    /// For signed aws-chunked bodies: the chain of chunk signatures starts
    /// from this request's signature.
    chunk_context: Option<ChunkSigningContext>,
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

    /// How the body is protected. For [`PayloadMode::Sha256`] the body was
    /// already compared when it was passed as [`Payload::Bytes`] or
    /// [`Payload::Sha256Hex`]; with [`Payload::Deferred`] the caller checks
    /// it with [`VerifiedSignature::payload_check`] or
    /// [`VerifiedSignature::chunked_decoder`].
    pub fn payload_mode(&self) -> &PayloadMode {
        &self.payload_mode
    }

    /// The check of a body that is not aws-chunked (SHA-256 and an
    /// `x-amz-checksum-*` header of `request`).
    ///
    /// Only for operations whose checksum headers describe the body
    /// (PutObject, UploadPart, …). On CompleteMultipartUpload they describe
    /// the assembled object, not the XML body: use
    /// `PayloadCheck::new(Some(verified.payload_mode()), None)` there.
    pub fn payload_check(&self, request: &RequestParts<'_>) -> Result<PayloadCheck, SigV4Error> {
        PayloadCheck::for_request(&self.payload_mode, request)
    }

    /// The decoder of an aws-chunked body, chained from this request's
    /// signature. S3's `InvalidRequest` when the payload mode is not
    /// aws-chunked.
    pub fn chunked_decoder(
        &self,
        options: ChunkedOptions,
    ) -> Result<AwsChunkedDecoder, SigV4Error> {
        let mode = match (&self.payload_mode, &self.chunk_context) {
            (PayloadMode::StreamingSigned, Some(ctx)) => ChunkedMode::Signed(ctx.clone()),
            (PayloadMode::StreamingSignedTrailer, Some(ctx)) => {
                ChunkedMode::SignedWithTrailer(ctx.clone())
            }
            (PayloadMode::StreamingUnsignedTrailer, _) => ChunkedMode::UnsignedWithTrailer,
            _ => {
                return Err(SigV4Error::InvalidRequest(format!(
                    "x-amz-content-sha256 {} is not an aws-chunked payload.",
                    self.payload_mode.as_header_value()
                )))
            }
        };
        AwsChunkedDecoder::new(mode, options)
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

/// What the canonical request's payload line may be, and what it means.
struct PayloadCandidates {
    /// Tried in order; the first that verifies wins.
    hashes: Vec<String>,
    mode_of_first: PayloadMode,
    /// The mode when a later candidate (presigned `UNSIGNED-PAYLOAD`) wins.
    mode_of_rest: PayloadMode,
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

    /// The generic rules: the payload line is the body's hash, a claimed
    /// hash that equals it, or `UNSIGNED-PAYLOAD`; a presigned request
    /// without a claim may have signed either the body or
    /// `UNSIGNED-PAYLOAD`.
    fn generic_payload(
        &self,
        parsed: &ParsedSignature,
        request: &RequestParts<'_>,
    ) -> Result<PayloadCandidates, SigV4Error> {
        let actual = || match request.payload {
            Payload::Bytes([]) => Some(EMPTY_SHA256.to_owned()),
            Payload::Bytes(body) => Some(sha256_hex(body)),
            Payload::Sha256Hex(h) => Some(h.to_ascii_lowercase()),
            Payload::Deferred => None,
        };
        let claimed = match parsed.form {
            SignatureForm::Header => request.first_header("x-amz-content-sha256"),
            SignatureForm::Presigned => parsed.content_sha256.as_deref(),
        };
        let unsigned = || PayloadCandidates {
            hashes: vec![UNSIGNED_PAYLOAD.to_owned()],
            mode_of_first: PayloadMode::Unsigned,
            mode_of_rest: PayloadMode::Unsigned,
        };
        let hashed = |hash: String, also_unsigned: bool| {
            let mut hashes = vec![hash.clone()];
            if also_unsigned {
                hashes.push(UNSIGNED_PAYLOAD.to_owned());
            }
            PayloadCandidates {
                hashes,
                mode_of_first: PayloadMode::Sha256(hash),
                mode_of_rest: PayloadMode::Unsigned,
            }
        };
        let presigned_unsigned_ok =
            parsed.form == SignatureForm::Presigned && self.allow_unsigned_payload;
        match claimed {
            None => match actual() {
                Some(hash) => Ok(hashed(hash, presigned_unsigned_ok)),
                None if presigned_unsigned_ok => Ok(unsigned()),
                None => Err(SigV4Error::MissingContentSha256),
            },
            Some(UNSIGNED_PAYLOAD) if self.allow_unsigned_payload => Ok(unsigned()),
            Some(claimed)
                if claimed.len() == 64 && claimed.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                match actual() {
                    Some(actual) if !claimed.eq_ignore_ascii_case(&actual) => {
                        Err(SigV4Error::SignatureDoesNotMatch)
                    }
                    _ => Ok(PayloadCandidates {
                        hashes: vec![claimed.to_owned()],
                        mode_of_first: PayloadMode::Sha256(claimed.to_ascii_lowercase()),
                        mode_of_rest: PayloadMode::Unsigned,
                    }),
                }
            }
            // Streaming modes, or a refused UNSIGNED-PAYLOAD: the body is
            // not what was signed.
            Some(_) => Err(SigV4Error::SignatureDoesNotMatch),
        }
    }

    /// S3's rules: the payload line is exactly the claimed
    /// `x-amz-content-sha256` (required in header form); a presigned URL
    /// without `X-Amz-Content-Sha256` signs `UNSIGNED-PAYLOAD`.
    fn s3_payload(
        &self,
        parsed: &ParsedSignature,
        request: &RequestParts<'_>,
    ) -> Result<PayloadCandidates, SigV4Error> {
        let claimed = match parsed.form {
            SignatureForm::Header => request
                .first_header("x-amz-content-sha256")
                .ok_or(SigV4Error::MissingContentSha256)?,
            SignatureForm::Presigned => {
                parsed.content_sha256.as_deref().unwrap_or(UNSIGNED_PAYLOAD)
            }
        };
        let mode =
            PayloadMode::from_header_value(claimed).ok_or(SigV4Error::InvalidContentSha256)?;
        if mode == PayloadMode::Unsigned && !self.allow_unsigned_payload {
            return Err(SigV4Error::SignatureDoesNotMatch);
        }
        if mode.is_streaming() && parsed.form == SignatureForm::Presigned {
            return Err(SigV4Error::InvalidRequest(format!(
                "x-amz-content-sha256 {claimed} cannot be used with a presigned URL."
            )));
        }
        Ok(PayloadCandidates {
            hashes: vec![claimed.to_owned()],
            mode_of_rest: mode.clone(),
            mode_of_first: mode,
        })
    }

    fn signature_of(
        parsed: &ParsedSignature,
        request: &RequestParts<'_>,
        key: &SigningKey,
        canonical_uri: &str,
        payload_hash: &str,
    ) -> String {
        let creq = canonical_request(
            request.method,
            canonical_uri,
            request.query,
            parsed.form == SignatureForm::Presigned,
            &request.headers,
            &parsed.signed_headers,
            payload_hash,
        );
        let sts = string_to_sign(&parsed.amz_date, &parsed.scope.to_scope_string(), &creq);
        key.sign_hex(sts.as_bytes())
    }

    /// Verifies `parsed` against `request` with the secret access key,
    /// checking time first.
    ///
    /// Under S3's rules a SHA-256 body passed as [`Payload::Bytes`] or
    /// [`Payload::Sha256Hex`] that differs from the signed
    /// `x-amz-content-sha256` is [`SigV4Error::ContentSha256Mismatch`]
    /// (after the signature verified), as S3 answers.
    pub fn verify(
        &self,
        parsed: &ParsedSignature,
        request: &RequestParts<'_>,
        secret: &SecretString,
        now: SystemTime,
    ) -> Result<VerifiedSignature, SigV4Error> {
        self.check_time(parsed, now)?;
        let payload = if parsed.s3 {
            self.s3_payload(parsed, request)?
        } else {
            self.generic_payload(parsed, request)?
        };
        // S3 signs UriEncode(key); SDK signers (aws-sigv4 in S3 mode) sign
        // the path exactly as sent. They differ only when the client escaped
        // a reserved character on the wire (`%2F`) or left one raw (`=`);
        // both identify the same key, so both are accepted.
        let uris: Vec<String> = if parsed.s3 {
            let canonical = canonical_uri_s3(request.path);
            let raw = if request.path.is_empty() {
                "/"
            } else {
                request.path
            };
            if raw == canonical {
                vec![canonical]
            } else {
                vec![canonical, raw.to_owned()]
            }
        } else {
            vec![canonical_uri(request.path)]
        };
        let key = SigningKey::derive(
            secret,
            &parsed.scope.date,
            &parsed.scope.region,
            &parsed.scope.service,
        );
        let mut matched: Option<(usize, String)> = None;
        'search: for (i, hash) in payload.hashes.iter().enumerate() {
            for uri in &uris {
                let expected = Self::signature_of(parsed, request, &key, uri, hash);
                if signatures_equal(&expected, parsed.signature.as_bytes()) {
                    matched = Some((i, expected));
                    break 'search;
                }
            }
        }
        let Some((index, seed_signature)) = matched else {
            return Err(SigV4Error::SignatureDoesNotMatch);
        };
        let payload_mode = if index == 0 {
            payload.mode_of_first
        } else {
            payload.mode_of_rest
        };
        if parsed.s3 {
            if let PayloadMode::Sha256(claimed) = &payload_mode {
                let actual = match request.payload {
                    Payload::Bytes(body) => Some(sha256_hex(body)),
                    Payload::Sha256Hex(h) => Some(h.to_ascii_lowercase()),
                    Payload::Deferred => None,
                };
                if let Some(actual) = actual {
                    if !bool::from(actual.as_bytes().ct_eq(claimed.as_bytes())) {
                        return Err(SigV4Error::ContentSha256Mismatch);
                    }
                }
            }
        }
        let chunk_context = if matches!(
            payload_mode,
            PayloadMode::StreamingSigned | PayloadMode::StreamingSignedTrailer
        ) {
            Some(ChunkSigningContext::from_parts(
                key,
                parsed.amz_date.clone(),
                parsed.scope.to_scope_string(),
                &seed_signature,
            )?)
        } else {
            None
        };
        Ok(VerifiedSignature {
            access_key_id: parsed.access_key_id.clone(),
            region: parsed.scope.region.clone(),
            service: parsed.scope.service.clone(),
            security_token: parsed.security_token.clone(),
            request_time: parsed.request_time,
            form: parsed.form,
            payload_mode,
            chunk_context,
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
