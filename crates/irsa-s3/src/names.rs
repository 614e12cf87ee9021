//! Bucket names and object keys, validated once at the edge.

use std::fmt;

use crate::error::{S3Error, S3ErrorCode};

/// S3's limit on an object key, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// A bucket name that follows S3's rules for general purpose buckets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BucketName(String);

impl BucketName {
    /// Validates `name` with S3's naming rules: 3–63 characters of `a-z`,
    /// `0-9`, `.` and `-`; a letter or digit first and last; no `..`, `.-`
    /// or `-.`; not an IPv4 address; none of the reserved prefixes
    /// (`xn--`, `sthree-`, `amzn-s3-demo-`) or suffixes (`-s3alias`,
    /// `--ol-s3`, `.mrap`, `--x-s3`, `--table-s3`).
    pub fn parse(name: &str) -> Result<Self, S3Error> {
        if is_valid_bucket_name(name) {
            Ok(Self(name.to_owned()))
        } else {
            Err(S3Error::from_code(S3ErrorCode::InvalidBucketName).with_detail("BucketName", name))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BucketName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_valid_bucket_name(name: &str) -> bool {
    const RESERVED_PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
    const RESERVED_SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
    let bytes = name.as_bytes();
    if !(3..=63).contains(&bytes.len()) {
        return false;
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
    {
        return false;
    }
    let edge_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !edge_ok(bytes[0]) || !edge_ok(bytes[bytes.len() - 1]) {
        return false;
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return false;
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return false;
    }
    !RESERVED_PREFIXES.iter().any(|p| name.starts_with(p))
        && !RESERVED_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// An object key: the exact UTF-8 text the client named (decoded from the
/// path exactly once), 1 to 1024 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// Validates length: empty → `InvalidArgument`, over 1024 bytes →
    /// `KeyTooLongError`.
    pub fn new(key: impl Into<String>) -> Result<Self, S3Error> {
        let key = key.into();
        if key.is_empty() {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "The object key must not be empty",
            ));
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(S3Error::from_code(S3ErrorCode::KeyTooLongError)
                .with_detail("MaxSizeAllowed", MAX_KEY_BYTES.to_string())
                .with_detail("Size", key.len().to_string()));
        }
        Ok(Self(key))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One object version: what `s3:ExistingObjectTag/…` keys refer to, and
/// what the gateway asks the upstream (GetObjectTagging) for its tags.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    pub bucket: BucketName,
    pub key: ObjectKey,
    pub version_id: Option<String>,
}

impl ObjectRef {
    /// `arn:aws:s3:::bucket/key`
    pub fn arn(&self) -> String {
        object_arn(&self.bucket, &self.key)
    }
}

/// `arn:aws:s3:::bucket`
pub fn bucket_arn(bucket: &BucketName) -> String {
    format!("arn:aws:s3:::{bucket}")
}

/// `arn:aws:s3:::bucket/key` (the key as is: ARNs carry keys unencoded).
pub fn object_arn(bucket: &BucketName, key: &ObjectKey) -> String {
    format!("arn:aws:s3:::{bucket}/{key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_rules() {
        for good in [
            "abc",
            "my-bucket",
            "my.bucket.name",
            "a1b2",
            "123",
            &"a".repeat(63),
            "192.168.5",
            "xn-ok",
        ] {
            assert!(BucketName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "My-Bucket",
            "my_bucket",
            "-bucket",
            "bucket-",
            ".bucket",
            "bucket.",
            "my..bucket",
            "my.-bucket",
            "my-.bucket",
            "192.168.5.4",
            "xn--bucket",
            "sthree-bucket",
            "amzn-s3-demo-bucket",
            "bucket-s3alias",
            "bucket--ol-s3",
            "bucket.mrap",
            "bucket--x-s3",
            "bucket--table-s3",
            "bück",
            "a b",
            "",
        ] {
            let err = BucketName::parse(bad).unwrap_err();
            assert_eq!(err.code(), S3ErrorCode::InvalidBucketName, "{bad}");
            assert_eq!(err.status().as_u16(), 400);
        }
    }

    #[test]
    fn key_length_limits() {
        assert!(ObjectKey::new("k".repeat(1024)).is_ok());
        // 1024 bytes of multi-byte characters is still fine…
        assert!(ObjectKey::new("é".repeat(512)).is_ok());
        // …one byte more is not.
        let err = ObjectKey::new("k".repeat(1025)).unwrap_err();
        assert_eq!(err.code(), S3ErrorCode::KeyTooLongError);
        let err = ObjectKey::new(format!("{}x", "é".repeat(512))).unwrap_err();
        assert_eq!(err.code(), S3ErrorCode::KeyTooLongError);
        assert_eq!(
            ObjectKey::new("").unwrap_err().code(),
            S3ErrorCode::InvalidArgument
        );
    }

    #[test]
    fn arns() {
        let b = BucketName::parse("bkt").unwrap();
        let k = ObjectKey::new("dir/a b+c").unwrap();
        assert_eq!(bucket_arn(&b), "arn:aws:s3:::bkt");
        assert_eq!(object_arn(&b, &k), "arn:aws:s3:::bkt/dir/a b+c");
    }
}
