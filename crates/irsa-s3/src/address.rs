//! Where a request points: path-style (`/bucket/key`) or virtual-hosted
//! (`bucket.s3.example.com/key`), and the exact key it names.

use http::{HeaderMap, Method};

use crate::error::{S3Error, S3ErrorCode};
use crate::names::{BucketName, ObjectKey};

/// The gateway's addressing settings: the `--s3-domain` list. A request
/// whose host is `BUCKET.DOMAIN` is virtual-hosted; any other host (the
/// domain itself, an IP address, `localhost`…) is path-style.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressingConfig {
    domains: Vec<String>,
}

impl AddressingConfig {
    /// Domains are matched case-insensitively, without port; a leading dot
    /// and a port given here are ignored. Longer domains win when several match.
    pub fn new<I, S>(domains: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut domains: Vec<String> = domains
            .into_iter()
            .map(|d| {
                let d = d
                    .as_ref()
                    .trim()
                    .trim_start_matches('.')
                    .to_ascii_lowercase();
                strip_port(&d).to_owned()
            })
            .filter(|d| !d.is_empty())
            .collect();
        domains.sort_by_key(|d| std::cmp::Reverse(d.len()));
        domains.dedup();
        Self { domains }
    }

    pub fn domains(&self) -> &[String] {
        &self.domains
    }
}

/// How the request named its bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    PathStyle,
    VirtualHosted,
}

/// The parts of an HTTP request classification looks at.
#[derive(Debug, Clone, Copy)]
pub struct RequestInput<'a> {
    pub method: &'a Method,
    /// The `Host` header (or the HTTP/2 `:authority`), port included or not.
    pub host: Option<&'a str>,
    /// The raw path as sent, still percent-encoded, starting with `/`.
    pub path: &'a str,
    /// The raw query string without `?`, still percent-encoded.
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
}

impl<'a> RequestInput<'a> {
    /// Reads the pieces from `http` request parts: the host from the `Host`
    /// header, else from the URI's authority (HTTP/2).
    pub fn from_parts(parts: &'a http::request::Parts) -> Self {
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| parts.uri.authority().map(http::uri::Authority::as_str));
        Self {
            method: &parts.method,
            host,
            path: parts.uri.path(),
            query: parts.uri.query(),
            headers: &parts.headers,
        }
    }
}

/// The bucket and key a request addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub addressing: Addressing,
    pub bucket: Option<BucketName>,
    pub key: Option<ObjectKey>,
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // IPv6 literal: never a virtual host; keep as is.
        return host;
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Finds the bucket and key of a request.
pub fn resolve_target(
    config: &AddressingConfig,
    host: Option<&str>,
    raw_path: &str,
) -> Result<Target, S3Error> {
    let path = raw_path
        .strip_prefix('/')
        .ok_or_else(|| S3Error::from_code(S3ErrorCode::InvalidURI))?;
    if let Some(bucket) = host.and_then(|h| virtual_host_bucket(config, h)) {
        let bucket = BucketName::parse(&bucket)?;
        let key = decode_key(path)?;
        return Ok(Target {
            addressing: Addressing::VirtualHosted,
            bucket: Some(bucket),
            key,
        });
    }
    if path.is_empty() {
        return Ok(Target {
            addressing: Addressing::PathStyle,
            bucket: None,
            key: None,
        });
    }
    let (raw_bucket, raw_key) = match path.split_once('/') {
        Some((bucket, key)) => (bucket, key),
        None => (path, ""),
    };
    let bucket_bytes = percent_decode_strict(raw_bucket)?;
    let bucket_text =
        String::from_utf8(bucket_bytes).map_err(|_| S3Error::from_code(S3ErrorCode::InvalidURI))?;
    let bucket = BucketName::parse(&bucket_text)?;
    Ok(Target {
        addressing: Addressing::PathStyle,
        bucket: Some(bucket),
        key: decode_key(raw_key)?,
    })
}

fn virtual_host_bucket(config: &AddressingConfig, host: &str) -> Option<String> {
    let host = strip_port(host.trim())
        .trim_end_matches('.')
        .to_ascii_lowercase();
    config.domains.iter().find_map(|domain| {
        host.strip_suffix(domain.as_str())
            .and_then(|rest| rest.strip_suffix('.'))
            .filter(|bucket| !bucket.is_empty())
            .map(str::to_owned)
    })
}

/// Decodes a raw key: empty means "no key" (a bucket-level request).
fn decode_key(raw: &str) -> Result<Option<ObjectKey>, S3Error> {
    if raw.is_empty() {
        return Ok(None);
    }
    let bytes = percent_decode_strict(raw)?;
    let key = String::from_utf8(bytes).map_err(|_| {
        S3Error::new(
            S3ErrorCode::InvalidURI,
            "Couldn't parse the specified URI: the key is not UTF-8.",
        )
    })?;
    ObjectKey::new(key).map(Some)
}

/// Percent-decodes exactly once. `+` stays `+` (it is a space only in
/// query strings); a `%` not followed by two hex digits is `InvalidURI`
/// rather than passed through, so the gateway and the upstream cannot
/// disagree about the key.
pub(crate) fn percent_decode_strict(raw: &str) -> Result<Vec<u8>, S3Error> {
    let bytes = raw.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%' {
            let valid = bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
            if !valid {
                return Err(S3Error::from_code(S3ErrorCode::InvalidURI));
            }
        }
    }
    Ok(percent_encoding::percent_decode(bytes).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> AddressingConfig {
        AddressingConfig::new(["s3.example.com", ".S3.Local:9000"])
    }

    fn key_of(t: &Target) -> Option<&str> {
        t.key.as_ref().map(ObjectKey::as_str)
    }

    #[test]
    fn path_style() {
        let t = resolve_target(&cfg(), Some("localhost:8080"), "/").unwrap();
        assert_eq!(
            (t.addressing, t.bucket, t.key),
            (Addressing::PathStyle, None, None)
        );
        for path in ["/bkt", "/bkt/"] {
            let t = resolve_target(&cfg(), Some("localhost"), path).unwrap();
            assert_eq!(t.bucket.unwrap().as_str(), "bkt");
            assert!(t.key.is_none(), "{path}");
        }
        let t = resolve_target(&cfg(), Some("127.0.0.1:3900"), "/bkt/a/b.txt").unwrap();
        assert_eq!(key_of(&t), Some("a/b.txt"));
        // The configured domain itself is path-style.
        let t = resolve_target(&cfg(), Some("s3.example.com"), "/bkt/k").unwrap();
        assert_eq!(t.addressing, Addressing::PathStyle);
        assert_eq!(key_of(&t), Some("k"));
        // No host at all (HTTP/1.0) is path-style too.
        let t = resolve_target(&cfg(), None, "/bkt/k").unwrap();
        assert_eq!(t.bucket.unwrap().as_str(), "bkt");
    }

    #[test]
    fn virtual_hosted() {
        let t = resolve_target(&cfg(), Some("my.bkt.s3.example.com"), "/dir/k").unwrap();
        assert_eq!(t.addressing, Addressing::VirtualHosted);
        assert_eq!(key_of(&t), Some("dir/k"));
        assert_eq!(t.bucket.unwrap().as_str(), "my.bkt");
        let t = resolve_target(&cfg(), Some("BKT.S3.LOCAL:9000"), "/").unwrap();
        assert_eq!(t.bucket.unwrap().as_str(), "bkt");
        assert!(t.key.is_none());
        // A key that looks like a bucket path stays a key.
        let t = resolve_target(&cfg(), Some("bkt.s3.local"), "//other/k").unwrap();
        assert_eq!(key_of(&t), Some("/other/k"));
        let err = resolve_target(&cfg(), Some("Bad_Name.s3.example.com"), "/").unwrap_err();
        assert_eq!(err.code(), S3ErrorCode::InvalidBucketName);
        // A host that merely ends with the domain text is not under it.
        let t = resolve_target(&cfg(), Some("evils3.example.com"), "/bkt/k").unwrap();
        assert_eq!(t.addressing, Addressing::PathStyle);
    }

    #[test]
    fn keys_are_decoded_exactly_once_and_byte_exact() {
        let cases = [
            ("/bkt/a%20b", "a b"),
            ("/bkt/a+b", "a+b"),
            ("/bkt/a%2Bb", "a+b"),
            ("/bkt/~tilde=eq", "~tilde=eq"),
            ("/bkt/a%2Fb", "a/b"),
            ("/bkt/a%252F", "a%2F"),
            ("/bkt/../x", "../x"),
            ("/bkt/./", "./"),
            ("/bkt/dir//k", "dir//k"),
            ("/bkt/%E6%97%A5%E6%9C%AC", "日本"),
            ("/bkt/日本", "日本"),
            ("/bkt/%20lead%20", " lead "),
            ("/bkt/q%3Fx", "q?x"),
        ];
        for (path, key) in cases {
            let t = resolve_target(&cfg(), Some("h"), path).unwrap();
            assert_eq!(key_of(&t), Some(key), "{path}");
        }
    }

    #[test]
    fn bad_paths() {
        for (path, code) in [
            ("bkt/k", S3ErrorCode::InvalidURI),
            ("/bkt/a%zz", S3ErrorCode::InvalidURI),
            ("/bkt/a%2", S3ErrorCode::InvalidURI),
            ("/bkt/%FF", S3ErrorCode::InvalidURI),
            ("/Bkt/k", S3ErrorCode::InvalidBucketName),
            ("/b/k", S3ErrorCode::InvalidBucketName),
        ] {
            assert_eq!(
                resolve_target(&cfg(), Some("h"), path).unwrap_err().code(),
                code,
                "{path}"
            );
        }
    }

    #[test]
    fn key_length_is_checked_after_decoding() {
        let exact = format!("/bkt/{}", "%41".repeat(1024));
        let t = resolve_target(&cfg(), Some("h"), &exact).unwrap();
        assert_eq!(t.key.unwrap().as_str().len(), 1024);
        let over = format!("/bkt/{}", "a".repeat(1025));
        assert_eq!(
            resolve_target(&cfg(), Some("h"), &over).unwrap_err().code(),
            S3ErrorCode::KeyTooLongError
        );
    }
}
