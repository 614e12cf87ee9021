//! What the signature says about the body (`x-amz-content-sha256`), and the
//! incremental check of a body that is streamed after the headers verified.

use std::fmt;

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

use crate::checksum::{header_checksum, Checksummer, ExpectedChecksum};
use crate::{RequestParts, SigV4Error};

pub(crate) const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
const STREAMING_SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/// How the body is protected, from `x-amz-content-sha256` (or its absence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadMode {
    /// The body must hash to this SHA-256 (lower-case hex). The signature
    /// covers the hash; the body itself is checked with [`PayloadCheck`].
    Sha256(String),
    /// `UNSIGNED-PAYLOAD`: the body is not signed.
    Unsigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: aws-chunked, every chunk signed.
    StreamingSigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks, then
    /// trailers with their own signature.
    StreamingSignedTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: aws-chunked without chunk
    /// signatures; trailers (a checksum) unsigned.
    StreamingUnsignedTrailer,
}

impl PayloadMode {
    /// The mode a `x-amz-content-sha256` value names: a SHA-256 (64 hex
    /// digits, any case) or one of the keywords; `None` otherwise.
    /// (The ECDSA streaming modes of SigV4a are not supported.)
    pub fn from_header_value(value: &str) -> Option<Self> {
        Some(match value {
            UNSIGNED_PAYLOAD => Self::Unsigned,
            STREAMING_SIGNED => Self::StreamingSigned,
            STREAMING_SIGNED_TRAILER => Self::StreamingSignedTrailer,
            STREAMING_UNSIGNED_TRAILER => Self::StreamingUnsignedTrailer,
            hash if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Self::Sha256(hash.to_ascii_lowercase())
            }
            _ => return None,
        })
    }

    /// The body is aws-chunked (`Content-Encoding: aws-chunked`).
    pub fn is_streaming(&self) -> bool {
        matches!(
            self,
            Self::StreamingSigned | Self::StreamingSignedTrailer | Self::StreamingUnsignedTrailer
        )
    }

    /// The aws-chunked body ends with trailers.
    pub fn has_trailer(&self) -> bool {
        matches!(
            self,
            Self::StreamingSignedTrailer | Self::StreamingUnsignedTrailer
        )
    }

    /// The value as it goes into `x-amz-content-sha256`.
    pub fn as_header_value(&self) -> &str {
        match self {
            Self::Sha256(hash) => hash,
            Self::Unsigned => UNSIGNED_PAYLOAD,
            Self::StreamingSigned => STREAMING_SIGNED,
            Self::StreamingSignedTrailer => STREAMING_SIGNED_TRAILER,
            Self::StreamingUnsignedTrailer => STREAMING_UNSIGNED_TRAILER,
        }
    }
}

/// Checks a body that is not aws-chunked while it streams: its SHA-256
/// against the signed `x-amz-content-sha256` (S3's
/// `XAmzContentSHA256Mismatch`) and its `x-amz-checksum-*` header, if any
/// (S3's `BadDigest`). Feed every body byte to [`PayloadCheck::update`],
/// then call [`PayloadCheck::finish`] before committing anything.
#[derive(Clone)]
pub struct PayloadCheck {
    sha256: Option<([u8; 32], Sha256)>,
    checksum: Option<(ExpectedChecksum, Checksummer)>,
    length: u64,
}

impl fmt::Debug for PayloadCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PayloadCheck")
            .field("checks_sha256", &self.sha256.is_some())
            .field(
                "checksum",
                &self.checksum.as_ref().map(|(e, _)| e.algorithm()),
            )
            .field("length", &self.length)
            .finish()
    }
}

impl PayloadCheck {
    /// A check for a body that must hash to `sha256` (if given) and match
    /// `checksum` (if given).
    pub fn new(sha256: Option<&PayloadMode>, checksum: Option<ExpectedChecksum>) -> Self {
        let sha256 = match sha256 {
            Some(PayloadMode::Sha256(hex_hash)) => {
                let mut expected = [0_u8; 32];
                // A PayloadMode::Sha256 always holds 64 hex digits; an
                // impossible failure leaves zeros, which no body matches.
                let _ = hex::decode_to_slice(hex_hash, &mut expected);
                Some((expected, Sha256::new()))
            }
            _ => None,
        };
        Self {
            sha256,
            checksum: checksum.map(|e| {
                let c = Checksummer::new(e.algorithm());
                (e, c)
            }),
            length: 0,
        }
    }

    /// The check a verified request's body needs: its payload mode and the
    /// request's `x-amz-checksum-*` header. Streaming modes are checked by
    /// the aws-chunked decoder instead, so they are refused here.
    pub fn for_request(mode: &PayloadMode, request: &RequestParts<'_>) -> Result<Self, SigV4Error> {
        if mode.is_streaming() {
            return Err(SigV4Error::InvalidRequest(
                "An aws-chunked body is checked by its decoder.".to_owned(),
            ));
        }
        Ok(Self::new(Some(mode), header_checksum(&request.headers)?))
    }

    /// Whether anything is checked at all.
    pub fn is_noop(&self) -> bool {
        self.sha256.is_none() && self.checksum.is_none()
    }

    pub fn update(&mut self, data: &[u8]) {
        self.length = self.length.saturating_add(data.len() as u64);
        if let Some((_, hasher)) = &mut self.sha256 {
            hasher.update(data);
        }
        if let Some((_, c)) = &mut self.checksum {
            c.update(data);
        }
    }

    /// Bytes fed so far.
    pub fn len(&self) -> u64 {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The verdict on the whole body.
    pub fn finish(self) -> Result<(), SigV4Error> {
        if let Some((expected, hasher)) = self.sha256 {
            let actual: [u8; 32] = hasher.finalize().into();
            if !bool::from(actual.ct_eq(&expected)) {
                return Err(SigV4Error::ContentSha256Mismatch);
            }
        }
        if let Some((expected, c)) = self.checksum {
            c.verify(&expected)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::ChecksumAlgorithm;
    use crate::Payload;

    #[test]
    fn modes_parse_and_print() {
        for v in [
            UNSIGNED_PAYLOAD,
            STREAMING_SIGNED,
            STREAMING_SIGNED_TRAILER,
            STREAMING_UNSIGNED_TRAILER,
        ] {
            assert_eq!(
                PayloadMode::from_header_value(v).unwrap().as_header_value(),
                v
            );
        }
        let upper = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
        assert_eq!(
            PayloadMode::from_header_value(upper),
            Some(PayloadMode::Sha256(upper.to_ascii_lowercase()))
        );
        for bad in [
            "",
            "unsigned-payload",
            "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
            &upper[1..],
        ] {
            assert_eq!(PayloadMode::from_header_value(bad), None, "{bad}");
        }
        assert!(PayloadMode::StreamingSigned.is_streaming());
        assert!(!PayloadMode::StreamingSigned.has_trailer());
        assert!(PayloadMode::StreamingUnsignedTrailer.has_trailer());
        assert!(!PayloadMode::Unsigned.is_streaming());
    }

    #[test]
    fn body_hash_is_checked_incrementally() {
        let body = b"hello, world";
        let mode = PayloadMode::Sha256(hex::encode(Sha256::digest(body)));
        let mut check = PayloadCheck::new(Some(&mode), None);
        check.update(b"hello,");
        check.update(b" world");
        assert_eq!(check.len(), 12);
        check.clone().finish().unwrap();
        check.update(b"!");
        let err = check.finish().unwrap_err();
        assert_eq!(err, SigV4Error::ContentSha256Mismatch);
        assert_eq!(err.s3_code(), "XAmzContentSHA256Mismatch");
        assert_eq!(err.s3_status(), 400);
        assert_eq!(
            err.s3_message(),
            "The provided 'x-amz-content-sha256' header does not match what was computed."
        );
        let unsigned = PayloadCheck::new(Some(&PayloadMode::Unsigned), None);
        assert!(unsigned.is_noop());
        unsigned.finish().unwrap();
    }

    #[test]
    fn header_checksum_is_checked_too() {
        let req = RequestParts::new("PUT", "/b/k", "", Payload::Deferred)
            .header("x-amz-checksum-crc32", b"NSRBwg==");
        let mut check = PayloadCheck::for_request(&PayloadMode::Unsigned, &req).unwrap();
        check.update(b"abc");
        check.clone().finish().unwrap();
        check.update(b"d");
        assert_eq!(
            check.finish().unwrap_err(),
            SigV4Error::BadDigest {
                algorithm: ChecksumAlgorithm::Crc32
            }
        );
        assert!(PayloadCheck::for_request(&PayloadMode::StreamingSigned, &req).is_err());
    }
}
