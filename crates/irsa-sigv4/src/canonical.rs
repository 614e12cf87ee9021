//! Canonical request construction per the SigV4 specification: the generic
//! rules (normalised, double-encoded path) and S3's (path encoded once, not
//! normalised).

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

/// SHA-256 of the empty string, the payload hash of a bodiless request.
pub(crate) const EMPTY_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// RFC 3986 percent-encoding: everything but unreserved characters (and `/`
/// when `keep_slash`) becomes `%XX` with upper-case hex.
pub(crate) fn uri_encode(out: &mut String, input: &[u8], keep_slash: bool) {
    for &b in input {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
            out.push(char::from(HEX_UPPER[usize::from(b & 0x0f)]));
        }
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes one `application/x-www-form-urlencoded` component: `%XX` and
/// `+` as space (what the AWS SDK signers assume). Invalid escapes are kept
/// literally, so decoding never fails.
pub(crate) fn form_decode(input: &str) -> Vec<u8> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// Decodes `%XX` escapes of a URI path; `+` stays `+` (only queries use it
/// for spaces) and invalid escapes stay literal, so decoding never fails.
fn percent_decode(input: &str) -> Vec<u8> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// S3's canonical URI: the path with its escapes decoded, then every byte
/// but the unreserved characters and `/` encoded once (upper-case hex), with
/// no normalisation (`.`/`..` segments and `//` stay: they are part of
/// object keys). It is a function of the key alone, so clients that escape
/// differently on the wire (`~` as `%7E`, `=` raw or as `%3D`) still match.
pub(crate) fn canonical_uri_s3(raw_path: &str) -> String {
    if raw_path.is_empty() {
        return "/".to_owned();
    }
    let decoded = percent_decode(raw_path);
    let mut out = String::with_capacity(decoded.len() + 16);
    uri_encode(&mut out, &decoded, true);
    out
}

/// Splits a raw query string into decoded `(key, value)` pairs, in order.
/// Empty components (`a=1&&b=2`) are skipped; `key` without `=` has an
/// empty value.
pub(crate) fn query_pairs(raw_query: &str) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + '_ {
    raw_query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (form_decode(k), form_decode(v))
    })
}

/// The canonical URI: dot segments removed, empty segments collapsed, then
/// the path as received encoded once more (SDKs double-encode for every
/// service but S3).
pub(crate) fn canonical_uri(raw_path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in raw_path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let ends_with_slash = ["/", "/.", "/..", "/./", "/../"]
        .iter()
        .any(|suffix| raw_path.ends_with(suffix));
    let mut normalized = String::with_capacity(raw_path.len() + 1);
    for s in &segments {
        normalized.push('/');
        normalized.push_str(s);
    }
    if normalized.is_empty() || (ends_with_slash && !normalized.ends_with('/')) {
        normalized.push('/');
    }
    let mut out = String::with_capacity(normalized.len() + 8);
    uri_encode(&mut out, normalized.as_bytes(), true);
    out
}

/// The canonical query string: every parameter decoded and re-encoded per
/// RFC 3986, sorted by encoded key then value; `X-Amz-Signature` left out
/// when `exclude_signature` (presigned form).
pub(crate) fn canonical_query(raw_query: &str, exclude_signature: bool) -> String {
    let mut pairs: Vec<(String, String)> = query_pairs(raw_query)
        .filter(|(k, _)| !(exclude_signature && k.as_slice() == b"X-Amz-Signature"))
        .map(|(k, v)| {
            let mut ke = String::with_capacity(k.len());
            uri_encode(&mut ke, &k, false);
            let mut ve = String::with_capacity(v.len());
            uri_encode(&mut ve, &v, false);
            (ke, ve)
        })
        .collect();
    pairs.sort_unstable();
    let mut out = String::with_capacity(raw_query.len() + 16);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Trims surrounding whitespace and folds runs of spaces into one.
fn push_normalized_value(out: &mut Vec<u8>, value: &[u8]) {
    let start = value
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |p| p + 1);
    let mut prev_space = false;
    for &b in &value[start..end] {
        if b == b' ' {
            if !prev_space {
                out.push(b);
            }
            prev_space = true;
        } else {
            out.push(b);
            prev_space = false;
        }
    }
}

/// Builds the canonical request bytes.
///
/// `signed_headers` are lower-case names in the order the client listed
/// them; each becomes `name:value` with every occurrence's normalised value
/// joined by `,`.
pub(crate) fn canonical_request(
    method: &str,
    canonical_uri: &str,
    raw_query: &str,
    presigned: bool,
    headers: &[(&str, &[u8])],
    signed_headers: &[String],
    payload_hash: &str,
) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(256);
    out.extend_from_slice(method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_uri.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_query(raw_query, presigned).as_bytes());
    out.push(b'\n');
    for name in signed_headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        let mut first = true;
        for (_, value) in headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)) {
            if !first {
                out.push(b',');
            }
            first = false;
            push_normalized_value(&mut out, value);
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(signed_headers.join(";").as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload_hash.as_bytes());
    out
}

/// Lower-case hex SHA-256.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The string to sign for `AWS4-HMAC-SHA256`.
pub(crate) fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &[u8]) -> String {
    let mut out = String::with_capacity(128);
    let _ = write!(
        out,
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_normalisation_follows_the_spec_examples() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri("//example//"), "/example/");
        assert_eq!(canonical_uri("/example1/example2/../.."), "/");
        assert_eq!(canonical_uri("/example/.."), "/");
        assert_eq!(canonical_uri("/example/."), "/example/");
        assert_eq!(canonical_uri("/./example"), "/example");
        assert_eq!(canonical_uri("/../a/b"), "/a/b");
        assert_eq!(canonical_uri("/a/b"), "/a/b");
        // The path as received is encoded again: `%20` becomes `%2520`.
        assert_eq!(canonical_uri("/example%20space/"), "/example%2520space/");
        assert_eq!(canonical_uri("/ሴ"), "/%E1%88%B4");
        assert_eq!(canonical_uri("/a~b-c_d.e"), "/a~b-c_d.e");
    }

    #[test]
    fn s3_uri_is_encoded_once_and_not_normalised() {
        assert_eq!(canonical_uri_s3(""), "/");
        assert_eq!(canonical_uri_s3("/"), "/");
        assert_eq!(canonical_uri_s3("/b/a/../c/./d//e/"), "/b/a/../c/./d//e/");
        assert_eq!(canonical_uri_s3("/b/a%20b"), "/b/a%20b");
        assert_eq!(canonical_uri_s3("/b/a b"), "/b/a%20b");
        // `+` in a path is a plus, never a space.
        assert_eq!(canonical_uri_s3("/b/a+b"), "/b/a%2Bb");
        assert_eq!(canonical_uri_s3("/b/a%2Bb"), "/b/a%2Bb");
        // Unreserved characters are never escaped, whatever the client sent.
        assert_eq!(canonical_uri_s3("/b/%7Ea%2d%5F%2E"), "/b/~a-_.");
        // Reserved ones always are, with upper-case hex.
        assert_eq!(canonical_uri_s3("/b/k=v&x;y"), "/b/k%3Dv%26x%3By");
        assert_eq!(canonical_uri_s3("/b/%3d"), "/b/%3D");
        // A decoded `%2F` is a slash of the key.
        assert_eq!(canonical_uri_s3("/b/a%2Fb"), "/b/a/b");
        assert_eq!(canonical_uri_s3("/b/%E1%88%B4"), "/b/%E1%88%B4");
        assert_eq!(canonical_uri_s3("/b/ሴ"), "/b/%E1%88%B4");
        // Broken escapes are literal percent signs.
        assert_eq!(canonical_uri_s3("/b/100%"), "/b/100%25");
        assert_eq!(canonical_uri_s3("/b/%zz%4"), "/b/%25zz%254");
    }

    #[test]
    fn query_is_decoded_reencoded_and_sorted() {
        assert_eq!(canonical_query("", false), "");
        assert_eq!(
            canonical_query("Param2=value2&Param1=value1", false),
            "Param1=value1&Param2=value2"
        );
        assert_eq!(
            canonical_query("Param1=value2&Param1=Value1", false),
            "Param1=Value1&Param1=value2"
        );
        assert_eq!(
            canonical_query("Param-3=Value3&Param=Value2", false),
            "Param=Value2&Param-3=Value3"
        );
        assert_eq!(
            canonical_query("a=b+c&d=%7e&e=%2a", false),
            "a=b%20c&d=~&e=%2A"
        );
        assert_eq!(canonical_query("flag&x=", false), "flag=&x=");
        assert_eq!(canonical_query("&&a=1&", false), "a=1");
        assert_eq!(canonical_query("%zz=%4", false), "%25zz=%254");
        assert_eq!(canonical_query("k=%E1%88%B4", false), "k=%E1%88%B4");
        assert_eq!(
            canonical_query("X-Amz-Signature=abc&X-Amz-Date=1", true),
            "X-Amz-Date=1"
        );
        assert_eq!(
            canonical_query("X-Amz-Signature=abc&X-Amz-Date=1", false),
            "X-Amz-Date=1&X-Amz-Signature=abc"
        );
    }

    #[test]
    fn header_values_are_trimmed_and_folded() {
        let mut out = Vec::new();
        push_normalized_value(&mut out, b"  a   b \t c  ");
        assert_eq!(out, b"a b \t c");
        out.clear();
        push_normalized_value(&mut out, b"   ");
        assert_eq!(out, b"");
    }

    #[test]
    fn canonical_request_matches_the_spec_get_vanilla() {
        let headers: Vec<(&str, &[u8])> = vec![
            ("Host", b"example.amazonaws.com"),
            ("X-Amz-Date", b"20150830T123600Z"),
        ];
        let signed = vec!["host".to_string(), "x-amz-date".to_string()];
        let creq = canonical_request(
            "GET",
            &canonical_uri("/"),
            "",
            false,
            &headers,
            &signed,
            EMPTY_SHA256,
        );
        assert_eq!(
            String::from_utf8(creq.clone()).unwrap(),
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // Hash published with the AWS SigV4 test suite for get-vanilla.
        assert_eq!(
            sha256_hex(&creq),
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
    }

    #[test]
    fn repeated_headers_are_joined_with_commas() {
        let headers: Vec<(&str, &[u8])> = vec![
            ("host", b"example.amazonaws.com"),
            ("My-Header1", b"value2"),
            ("my-header1", b"  value1  with   spaces "),
        ];
        let signed = vec!["host".to_string(), "my-header1".to_string()];
        let creq = canonical_request(
            "POST",
            &canonical_uri("/"),
            "",
            false,
            &headers,
            &signed,
            EMPTY_SHA256,
        );
        let text = String::from_utf8(creq).unwrap();
        assert!(
            text.contains("\nmy-header1:value2,value1 with spaces\n"),
            "{text}"
        );
    }
}
