//! AWS Query request decoding: `application/x-www-form-urlencoded` POST
//! bodies and GET query strings into a parameter map, and the list
//! conventions (`Name.member.N`, `Name.member.N.Key`).
//!
//! Error choices (AWS common errors):
//! - broken percent-escapes or invalid UTF-8 → `MalformedQueryString`
//!   ("The query string contains a syntax error."), the code AWS documents
//!   for syntactically broken query strings;
//! - duplicated parameters, `.member.0`, non-numeric, zero-padded or too
//!   large (over 1000) list indices, gaps, and list parameters in another
//!   layout → `InvalidQueryParameter` ("does not adhere to AWS standards"):
//!   the text is well formed but breaks the Query conventions.
//! - Gaps: botocore and every AWS SDK number list members 1..N without
//!   holes; AWS's own deserializer stops at the first missing index and
//!   silently drops the rest. Silently dropping e.g. a session policy ARN is
//!   dangerous, so irsa rejects a gap and names the missing member.
//! - An empty list is sent by botocore as the bare name with an empty value
//!   (`ClientIDList=`); that is accepted.
//! - Unknown parameters are ignored, as AWS does (clients add
//!   `X-Amz-*` signing parameters to presigned requests).

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::error::{ApiError, ErrorCode};

/// Decoded Query parameters, name → value. Names are case-sensitive.
pub type Params = BTreeMap<String, String>;

/// The largest list index AWS accepts (`Name.member.1000`).
pub const MAX_LIST_INDEX: usize = 1000;

/// A decoded Query request: `Action`, `Version` and the other parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryRequest {
    pub action: String,
    /// `None` when the client sent no `Version`; routing then assumes the
    /// operation's service version.
    pub version: Option<String>,
    /// All parameters except `Action` and `Version`.
    pub params: Params,
}

impl QueryRequest {
    /// Decodes a request from its URL query string and/or form body (either
    /// may be absent or empty). A parameter present in both is a duplicate.
    pub fn decode(query_string: Option<&[u8]>, body: Option<&[u8]>) -> Result<Self, ApiError> {
        let mut params = Params::new();
        for part in [query_string, body].into_iter().flatten() {
            parse_into(part, &mut params)?;
        }
        Self::from_params(params)
    }

    /// Splits `Action` and `Version` off a parameter map.
    pub fn from_params(mut params: Params) -> Result<Self, ApiError> {
        let action = match params.remove("Action") {
            Some(a) if !a.is_empty() => a,
            _ => return Err(ApiError::missing_action()),
        };
        let version = params.remove("Version").filter(|v| !v.is_empty());
        Ok(Self {
            action,
            version,
            params,
        })
    }
}

/// Parses one `application/x-www-form-urlencoded` string into a map.
pub fn parse_query(input: &[u8]) -> Result<Params, ApiError> {
    let mut params = Params::new();
    parse_into(input, &mut params)?;
    Ok(params)
}

fn parse_into(input: &[u8], params: &mut Params) -> Result<(), ApiError> {
    let mut rest = input;
    while !rest.is_empty() {
        let end = find_any(rest, [b'&']).unwrap_or(rest.len());
        let pair = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or_default();
        if pair.is_empty() {
            continue;
        }
        let (raw_key, raw_value) = match find_any(pair, [b'=']) {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        let key = decode_component(raw_key)?;
        let key =
            String::from_utf8(key).map_err(|_| malformed("a parameter name is not valid UTF-8"))?;
        if key.is_empty() {
            continue;
        }
        let value = decode_component(raw_value)?;
        let value = String::from_utf8(value)
            .map_err(|_| malformed(&format!("the value of parameter {key} is not valid UTF-8")))?;
        if params.contains_key(&key) {
            return Err(ApiError::new(
                ErrorCode::InvalidQueryParameter,
                format!("The parameter {key} is given more than once."),
            ));
        }
        params.insert(key, value);
    }
    Ok(())
}

/// Percent-decoding with `+` as space; a `%` not followed by two hex digits
/// is an error rather than passed through, so nothing is guessed.
fn decode_component(raw: &[u8]) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hi = raw.get(i + 1).and_then(|b| hex_value(*b));
                let lo = raw.get(i + 2).and_then(|b| hex_value(*b));
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err(malformed("invalid percent-encoding")),
                }
                i += 3;
            }
            _ => {
                // Copy the run up to the next escape in one go.
                let run = find_any(&raw[i..], [b'+', b'%']).unwrap_or(raw.len() - i);
                out.extend_from_slice(&raw[i..i + run]);
                i += run;
            }
        }
    }
    Ok(out)
}

/// The first position of any of `wanted` in `bytes`. Scans 32-byte chunks
/// branch-free first (vectorised), so long runs without them (a request's
/// token is most of its body) cost little per byte.
fn find_any<const N: usize>(bytes: &[u8], wanted: [u8; N]) -> Option<usize> {
    let hit = |b: u8| wanted.iter().fold(0_u8, |seen, &w| seen | u8::from(b == w));
    let mut chunks = bytes.chunks_exact(32);
    let mut offset = 0;
    for chunk in &mut chunks {
        if chunk.iter().fold(0, |seen, &b| seen | hit(b)) != 0 {
            return chunk.iter().position(|&b| hit(b) != 0).map(|i| offset + i);
        }
        offset += 32;
    }
    let remainder = chunks.remainder();
    remainder
        .iter()
        .position(|&b| hit(b) != 0)
        .map(|i| offset + i)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn malformed(detail: &str) -> ApiError {
    ApiError::new(
        ErrorCode::MalformedQueryString,
        format!("The query string contains a syntax error: {detail}."),
    )
}

fn invalid_query_parameter(message: String) -> ApiError {
    ApiError::new(ErrorCode::InvalidQueryParameter, message)
}

/// Keys of `params` that start with `prefix`, in order.
pub fn keys_with_prefix<'a>(
    params: &'a Params,
    prefix: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    params
        .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
        .map(|(k, _)| k.as_str())
        .take_while(move |k| k.starts_with(prefix))
}

/// How a list parameter `name` (a full wire prefix such as `Tags` or
/// `ContextEntries.member.1.ContextKeyValues`) appears in the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListPresence {
    /// Neither `name` nor any `name.member.N` is present.
    Absent,
    /// Elements `name.member.1` ..= `name.member.len` (len may be 0 for `name=`).
    Present { len: usize },
}

/// Checks the members of list `name`: indices 1..=N, decimal without
/// leading zeros, at most [`MAX_LIST_INDEX`], no gaps.
pub fn list_presence(params: &Params, name: &str) -> Result<ListPresence, ApiError> {
    // Fast path for the common absent list: no key even starts with the name.
    if keys_with_prefix(params, name).next().is_none() {
        return Ok(ListPresence::Absent);
    }
    let bare = params.get(name);
    if let Some(value) = bare {
        if !value.is_empty() {
            return Err(invalid_query_parameter(format!(
                "The parameter {name} is a list; send its elements as {name}.member.N."
            )));
        }
    }
    let member_prefix = format!("{name}.member.");
    let dotted = format!("{name}.");
    let mut indices = std::collections::BTreeSet::new();
    for key in keys_with_prefix(params, &dotted) {
        let Some(rest) = key.strip_prefix(&member_prefix) else {
            return Err(invalid_query_parameter(format!(
                "The parameter {key} is not a valid element of list {name}; send elements as {name}.member.N."
            )));
        };
        let index_text = rest.split('.').next().unwrap_or_default();
        indices.insert(parse_index(name, key, index_text)?);
    }
    if indices.is_empty() {
        return Ok(if bare.is_some() {
            ListPresence::Present { len: 0 }
        } else {
            ListPresence::Absent
        });
    }
    let len = indices.len();
    if let Some(missing) = (1..=len).find(|i| !indices.contains(i)) {
        return Err(invalid_query_parameter(format!(
            "The list {name} has no element {name}.member.{missing}; elements must be numbered from 1 without gaps."
        )));
    }
    Ok(ListPresence::Present { len })
}

fn parse_index(name: &str, key: &str, text: &str) -> Result<usize, ApiError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid_query_parameter(format!(
            "The parameter {key} has an invalid list index '{text}'; indices of {name} are decimal numbers from 1."
        )));
    }
    if text == "0" {
        return Err(invalid_query_parameter(format!(
            "The parameter {key} has list index 0; indices of {name} start at 1."
        )));
    }
    if text.starts_with('0') {
        return Err(invalid_query_parameter(format!(
            "The parameter {key} has a zero-padded list index '{text}'."
        )));
    }
    match text.parse::<usize>() {
        Ok(i) if i <= MAX_LIST_INDEX => Ok(i),
        _ => Err(invalid_query_parameter(format!(
            "The parameter {key} has list index {text}, more than the maximum of {MAX_LIST_INDEX}."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Params {
        parse_query(s.as_bytes()).unwrap()
    }

    #[test]
    fn decodes_form_body() {
        let r = QueryRequest::decode(
            None,
            Some(b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fapp&RoleSessionName=a+b&Empty="),
        )
        .unwrap();
        assert_eq!(r.action, "AssumeRole");
        assert_eq!(r.version.as_deref(), Some("2011-06-15"));
        assert_eq!(r.params["RoleArn"], "arn:aws:iam::123456789012:role/app");
        assert_eq!(r.params["RoleSessionName"], "a b");
        assert_eq!(r.params["Empty"], "");
        assert!(!r.params.contains_key("Action"));
    }

    #[test]
    fn query_string_and_body_merge_but_not_duplicate() {
        let r = QueryRequest::decode(
            Some(b"Action=GetCallerIdentity"),
            Some(b"Version=2011-06-15"),
        )
        .unwrap();
        assert_eq!(r.action, "GetCallerIdentity");
        let e = QueryRequest::decode(Some(b"Action=A"), Some(b"Action=B")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidQueryParameter);
        assert!(e.message.contains("Action"));
    }

    #[test]
    fn find_any_finds_the_first_wanted_byte_anywhere() {
        for len in [0, 1, 31, 32, 33, 64, 100] {
            let plain = vec![b'a'; len];
            assert_eq!(find_any(&plain, [b'&']), None);
            for at in 0..len {
                let mut bytes = plain.clone();
                bytes[at] = b'%';
                if at + 1 < len {
                    bytes[at + 1] = b'+';
                }
                assert_eq!(find_any(&bytes, [b'+', b'%']), Some(at), "{len} {at}");
                assert_eq!(find_any(&bytes, [b'+']), (at + 1 < len).then_some(at + 1));
            }
        }
    }

    #[test]
    fn missing_action() {
        let e = QueryRequest::decode(None, Some(b"Version=2011-06-15")).unwrap_err();
        assert_eq!(e.code, ErrorCode::MissingAction);
        let e = QueryRequest::decode(None, Some(b"Action=")).unwrap_err();
        assert_eq!(e.code, ErrorCode::MissingAction);
    }

    #[test]
    fn rejects_duplicates() {
        let e = parse_query(b"RoleName=a&RoleName=b").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidQueryParameter);
        assert_eq!(e.message, "The parameter RoleName is given more than once.");
        // Same name after decoding counts as a duplicate too.
        assert!(parse_query(b"RoleName=a&Role%4Eame=b").is_err());
    }

    #[test]
    fn rejects_bad_escapes_and_invalid_utf8() {
        for bad in [&b"A=%"[..], b"A=%4", b"A=%zz", b"A%=1"] {
            let e = parse_query(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::MalformedQueryString, "{bad:?}");
            assert_eq!(e.http_status(), 404);
        }
        let e = parse_query(b"RoleSessionName=%C3%28").unwrap_err();
        assert_eq!(e.code, ErrorCode::MalformedQueryString);
        assert!(e.message.contains("RoleSessionName"), "{}", e.message);
        let e = parse_query(b"%FF=1").unwrap_err();
        assert_eq!(e.code, ErrorCode::MalformedQueryString);
        // Raw (unescaped) invalid bytes as well.
        assert!(parse_query(b"A=\xff").is_err());
        // Valid multi-byte UTF-8 passes.
        assert_eq!(p("A=%C3%A9")["A"], "é");
    }

    #[test]
    fn lists() {
        let params = p("L.member.1=a&L.member.2=b&L.member.10=x&L.member.3=c&L.member.4=d&L.member.5=e&L.member.6=f&L.member.7=g&L.member.8=h&L.member.9=i");
        assert_eq!(
            list_presence(&params, "L").unwrap(),
            ListPresence::Present { len: 10 }
        );
        assert_eq!(list_presence(&params, "M").unwrap(), ListPresence::Absent);
        assert_eq!(
            list_presence(&p("L="), "L").unwrap(),
            ListPresence::Present { len: 0 }
        );
        let tags = p("Tags.member.1.Key=k&Tags.member.1.Value=v&Tags.member.2.Key=k2");
        assert_eq!(
            list_presence(&tags, "Tags").unwrap(),
            ListPresence::Present { len: 2 }
        );
    }

    #[test]
    fn bad_list_indices() {
        for (q, needle) in [
            ("L.member.0=a", "index 0"),
            ("L.member.x=a", "invalid list index 'x'"),
            ("L.member.=a", "invalid list index ''"),
            ("L.member.01=a", "zero-padded"),
            ("L.member.1001=a", "maximum of 1000"),
            ("L.member.99999999999999999999999=a", "maximum of 1000"),
            ("L.member.1=a&L.member.3=c", "no element L.member.2"),
            ("L.member.2=a", "no element L.member.1"),
            ("L.1=a", "not a valid element"),
            ("L=a", "is a list"),
        ] {
            let e = list_presence(&p(q), "L").unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidQueryParameter, "{q}");
            assert!(e.message.contains(needle), "{q}: {}", e.message);
        }
        assert_eq!(
            list_presence(&p("L.member.1000=a"), "L").unwrap_err().code,
            ErrorCode::InvalidQueryParameter
        );
        // Exactly 1000 elements is the maximum that works.
        let mut full = Params::new();
        for i in 1..=MAX_LIST_INDEX {
            full.insert(format!("L.member.{i}"), i.to_string());
        }
        assert_eq!(
            list_presence(&full, "L").unwrap(),
            ListPresence::Present { len: 1000 }
        );
        full.insert("L.member.1001".into(), "x".into());
        assert!(list_presence(&full, "L")
            .unwrap_err()
            .message
            .contains("maximum of 1000"));
        // A sibling parameter whose name merely starts with the list's is not part of it.
        assert_eq!(
            list_presence(&p("Lx.member.5=a"), "L").unwrap(),
            ListPresence::Absent
        );
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;
    use crate::protocol::response::encode_policy_document;

    proptest! {
        /// Any map encoded as a form body decodes back to itself.
        #[test]
        fn encode_decode_round_trip(map in proptest::collection::btree_map("[A-Za-z0-9.]{1,12}", any::<String>(), 0..8)) {
            let body = map
                .iter()
                .map(|(k, v)| format!("{}={}", encode_policy_document(k), encode_policy_document(v)))
                .collect::<Vec<_>>()
                .join("&");
            prop_assert_eq!(parse_query(body.as_bytes()).unwrap(), map);
        }

        /// Arbitrary bytes never panic the decoder and every error is a 4xx.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            match QueryRequest::decode(Some(&bytes), Some(&bytes)) {
                Ok(r) => {
                    let _ = crate::model::decode_request(&r, None);
                }
                Err(e) => prop_assert!((400..500).contains(&e.http_status())),
            }
        }

        /// Arbitrary parameters for any operation decode or fail with a 4xx, never panic.
        #[test]
        fn arbitrary_params_never_panic(
            op in 0..crate::model::OPERATIONS.len(),
            pairs in proptest::collection::vec((
                prop_oneof![
                    Just("RoleName".to_owned()),
                    Just("Tags.member.1.Key".to_owned()),
                    Just("Tags.member.2.Value".to_owned()),
                    Just("ClientIDList.member.1".to_owned()),
                    Just("DurationSeconds".to_owned()),
                    Just("MaxItems".to_owned()),
                    Just("PolicyArns.member.1.arn".to_owned()),
                    "[A-Za-z.0-9]{1,30}",
                ],
                ".{0,40}",
            ), 0..12),
        ) {
            let spec = crate::model::OPERATIONS[op];
            let params: Params = pairs.into_iter().collect();
            if let Some(Err(e)) = crate::model::Request::decode(spec.name, &params) {
                prop_assert!((400..500).contains(&e.http_status()), "{:?}", e);
            }
        }
    }
}
