//! The parts of an HTTP request SigV4 looks at.

use std::fmt;

/// The request body as far as SigV4 is concerned.
#[derive(Clone, Copy)]
pub enum Payload<'a> {
    /// The whole body; its SHA-256 is computed when needed.
    Bytes(&'a [u8]),
    /// The lower-case hex SHA-256 of the body, computed by the caller (e.g.
    /// while streaming it).
    Sha256Hex(&'a str),
    /// The body has not been read yet (S3: it streams after the headers
    /// are verified). The signature is checked against the payload hash the
    /// client claims in `x-amz-content-sha256`; the caller then checks the
    /// body as it streams, as [`crate::VerifiedSignature::payload_mode`]
    /// says ([`crate::PayloadCheck`] or the aws-chunked decoder).
    Deferred,
}

impl fmt::Debug for Payload<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Self::Sha256Hex(h) => f.debug_tuple("Sha256Hex").field(h).finish(),
            Self::Deferred => f.write_str("Deferred"),
        }
    }
}

/// An HTTP request as received: method, raw (still percent-encoded) path and
/// query, headers in arrival order (names in any case, repeated names
/// allowed) and the payload.
///
/// Behind HTTP/2 there is no `Host` header: pass the `:authority` as a
/// `host` header so it can be signed.
#[derive(Clone)]
pub struct RequestParts<'a> {
    pub method: &'a str,
    /// Path as on the wire, e.g. `/` or `/a%20b`.
    pub path: &'a str,
    /// Query string as on the wire, without the leading `?` (may be empty).
    pub query: &'a str,
    pub headers: Vec<(&'a str, &'a [u8])>,
    pub payload: Payload<'a>,
}

impl<'a> RequestParts<'a> {
    /// A request without headers; add them with [`RequestParts::header`].
    pub fn new(method: &'a str, path: &'a str, query: &'a str, payload: Payload<'a>) -> Self {
        Self {
            method,
            path,
            query,
            headers: Vec::new(),
            payload,
        }
    }

    /// Appends one header (builder style).
    #[must_use]
    pub fn header(mut self, name: &'a str, value: &'a [u8]) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Every value of the header `name` (case-insensitive), in order.
    pub fn header_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a [u8]> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The first value of the header `name`, trimmed, if it is UTF-8.
    pub(crate) fn first_header(&self, name: &str) -> Option<&'a str> {
        self.header_values(name)
            .next()
            .and_then(|v| std::str::from_utf8(v).ok())
            .map(str::trim)
    }
}

// Header values (Authorization, session tokens) stay out of Debug output.
impl fmt::Debug for RequestParts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| *n).collect();
        f.debug_struct("RequestParts")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query_len", &self.query.len())
            .field("header_names", &names)
            .field("payload", &self.payload)
            .finish()
    }
}
