//! S3's flexible checksums (`x-amz-checksum-*`): CRC32, CRC32C, CRC64NVME,
//! SHA1 and SHA256 of the decoded object bytes, sent base64-encoded in a
//! header or an aws-chunked trailer.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha1::Sha1;
use sha2::{Digest as _, Sha256};

use crate::SigV4Error;

/// A checksum algorithm S3 accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgorithm {
    /// Every algorithm, in S3's documentation order.
    pub const ALL: [Self; 5] = [
        Self::Crc32,
        Self::Crc32c,
        Self::Crc64Nvme,
        Self::Sha1,
        Self::Sha256,
    ];

    /// S3's name, as in `x-amz-checksum-algorithm` and error messages
    /// (`CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`, `SHA256`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    /// The header (or trailer) that carries it, e.g. `x-amz-checksum-crc32`.
    pub fn header_name(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The algorithm a header or trailer name carries (case-insensitive).
    pub fn from_header_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.header_name().eq_ignore_ascii_case(name.trim()))
    }

    /// Digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Crc32 | Self::Crc32c => 4,
            Self::Crc64Nvme => 8,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }
}

impl fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A checksum the client sent: the algorithm and the decoded digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedChecksum {
    algorithm: ChecksumAlgorithm,
    digest: Vec<u8>,
}

impl ExpectedChecksum {
    /// Parses a base64 value sent in `algorithm`'s header (`trailer` says it
    /// came as an aws-chunked trailer, for S3's message). A value that is
    /// not base64 of the right length is S3's `InvalidRequest`.
    pub fn parse(
        algorithm: ChecksumAlgorithm,
        value: &str,
        trailer: bool,
    ) -> Result<Self, SigV4Error> {
        let invalid = || SigV4Error::InvalidChecksum {
            header: if trailer {
                format!("{} trailing", algorithm.header_name())
            } else {
                algorithm.header_name().to_owned()
            },
        };
        let digest = STANDARD.decode(value.trim()).map_err(|_| invalid())?;
        if digest.len() != algorithm.digest_len() {
            return Err(invalid());
        }
        Ok(Self { algorithm, digest })
    }

    pub fn algorithm(&self) -> ChecksumAlgorithm {
        self.algorithm
    }

    /// The value as the client sent it (canonical base64).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.digest)
    }
}

#[derive(Clone)]
enum State {
    Crc(crc_fast::Digest),
    Sha1(Sha1),
    Sha256(Sha256),
}

/// An incremental checksum of body bytes.
#[derive(Clone)]
pub struct Checksummer {
    algorithm: ChecksumAlgorithm,
    state: State,
}

impl fmt::Debug for Checksummer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checksummer")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl Checksummer {
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        let state = match algorithm {
            ChecksumAlgorithm::Crc32 => {
                State::Crc(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32IsoHdlc))
            }
            ChecksumAlgorithm::Crc32c => {
                State::Crc(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi))
            }
            ChecksumAlgorithm::Crc64Nvme => {
                State::Crc(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Nvme))
            }
            ChecksumAlgorithm::Sha1 => State::Sha1(Sha1::new()),
            ChecksumAlgorithm::Sha256 => State::Sha256(Sha256::new()),
        };
        Self { algorithm, state }
    }

    pub fn algorithm(&self) -> ChecksumAlgorithm {
        self.algorithm
    }

    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Crc(d) => d.update(data),
            State::Sha1(d) => d.update(data),
            State::Sha256(d) => d.update(data),
        }
    }

    /// The digest of everything fed so far (big-endian for CRCs, as S3
    /// encodes them).
    pub fn digest(&self) -> Vec<u8> {
        match &self.state {
            State::Crc(d) => {
                let value = d.finalize().to_be_bytes();
                value[8 - self.algorithm.digest_len()..].to_vec()
            }
            State::Sha1(d) => d.clone().finalize().to_vec(),
            State::Sha256(d) => d.clone().finalize().to_vec(),
        }
    }

    /// The digest, base64-encoded as S3 sends it.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.digest())
    }

    /// Compares with what the client sent: S3's `BadDigest` when it
    /// differs.
    pub fn verify(&self, expected: &ExpectedChecksum) -> Result<(), SigV4Error> {
        if expected.algorithm != self.algorithm || expected.digest != self.digest() {
            return Err(SigV4Error::BadDigest {
                algorithm: expected.algorithm,
            });
        }
        Ok(())
    }
}

/// The one `x-amz-checksum-*` header of a request, if any. Two of them are
/// S3's `InvalidRequest`.
pub fn header_checksum(headers: &[(&str, &[u8])]) -> Result<Option<ExpectedChecksum>, SigV4Error> {
    let mut found: Option<ExpectedChecksum> = None;
    for (name, value) in headers {
        let Some(algorithm) = ChecksumAlgorithm::from_header_name(name) else {
            continue;
        };
        if found.is_some() {
            return Err(SigV4Error::InvalidRequest(
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
                    .to_owned(),
            ));
        }
        let value = std::str::from_utf8(value).map_err(|_| SigV4Error::InvalidChecksum {
            header: algorithm.header_name().to_owned(),
        })?;
        found = Some(ExpectedChecksum::parse(algorithm, value, false)?);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(algorithm: ChecksumAlgorithm, data: &[u8]) -> String {
        let mut c = Checksummer::new(algorithm);
        c.update(data);
        c.to_base64()
    }

    /// The catalogue "check" values (CRC of "123456789") and the FIPS
    /// SHA test vector for "abc".
    #[test]
    fn known_answers() {
        let check = |a, expected: &[u8]| {
            let mut c = Checksummer::new(a);
            c.update(b"1234");
            c.update(b"56789");
            assert_eq!(c.digest(), expected, "{a}");
        };
        check(ChecksumAlgorithm::Crc32, &0xcbf4_3926_u32.to_be_bytes());
        check(ChecksumAlgorithm::Crc32c, &0xe306_9283_u32.to_be_bytes());
        check(
            ChecksumAlgorithm::Crc64Nvme,
            &0xae8b_1486_0a79_9888_u64.to_be_bytes(),
        );
        assert_eq!(
            hex::encode(
                {
                    let mut c = Checksummer::new(ChecksumAlgorithm::Sha1);
                    c.update(b"abc");
                    c
                }
                .digest()
            ),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        // S3's documented examples: CRC32 of "abc" is NSRBwg==, the empty
        // body's SHA256 is 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=.
        assert_eq!(b64(ChecksumAlgorithm::Crc32, b"abc"), "NSRBwg==");
        assert_eq!(
            b64(ChecksumAlgorithm::Sha256, b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn names_round_trip() {
        for a in ChecksumAlgorithm::ALL {
            assert_eq!(
                ChecksumAlgorithm::from_header_name(a.header_name()),
                Some(a)
            );
            assert_eq!(
                ChecksumAlgorithm::from_header_name(&a.header_name().to_ascii_uppercase()),
                Some(a)
            );
            assert_eq!(Checksummer::new(a).digest().len(), a.digest_len());
        }
        assert_eq!(
            ChecksumAlgorithm::from_header_name("x-amz-checksum-md5"),
            None
        );
    }

    #[test]
    fn mismatches_and_bad_values() {
        let mut c = Checksummer::new(ChecksumAlgorithm::Crc32);
        c.update(b"abc");
        let good = ExpectedChecksum::parse(ChecksumAlgorithm::Crc32, "NSRBwg==", false).unwrap();
        c.verify(&good).unwrap();
        let bad = ExpectedChecksum::parse(ChecksumAlgorithm::Crc32, "AAAAAA==", true).unwrap();
        let err = c.verify(&bad).unwrap_err();
        assert_eq!(err.s3_code(), "BadDigest");
        assert_eq!(err.s3_status(), 400);
        assert_eq!(
            err.s3_message(),
            "The CRC32 you specified did not match the calculated checksum."
        );
        // Wrong length, not base64.
        for value in ["AAAA", "NSRBwg", "!!!!", "AAAAAAAAAAA="] {
            let err = ExpectedChecksum::parse(ChecksumAlgorithm::Crc32, value, false).unwrap_err();
            assert_eq!(err.s3_code(), "InvalidRequest", "{value}");
            assert_eq!(
                err.s3_message(),
                "Value for x-amz-checksum-crc32 header is invalid."
            );
        }
        let err = ExpectedChecksum::parse(ChecksumAlgorithm::Sha1, "AAAA", true).unwrap_err();
        assert_eq!(
            err.s3_message(),
            "Value for x-amz-checksum-sha1 trailing header is invalid."
        );
    }

    #[test]
    fn one_checksum_header_at_most() {
        let none: Vec<(&str, &[u8])> = vec![("host", b"x")];
        assert_eq!(header_checksum(&none).unwrap(), None);
        let one: Vec<(&str, &[u8])> = vec![("X-Amz-Checksum-CRC32", b"NSRBwg==")];
        assert_eq!(
            header_checksum(&one).unwrap().unwrap().algorithm(),
            ChecksumAlgorithm::Crc32
        );
        let two: Vec<(&str, &[u8])> = vec![
            ("x-amz-checksum-crc32", b"NSRBwg=="),
            ("x-amz-checksum-sha1", b"qZk+NkcGgWq6PiVxeFDCbJzQ2J0="),
        ];
        assert_eq!(
            header_checksum(&two).unwrap_err().s3_code(),
            "InvalidRequest"
        );
    }
}
