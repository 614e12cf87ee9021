//! Splitting and decoding a compact JWS without verifying it, and rendering
//! decoded tokens for humans (`irsa token decode`). Pure: no I/O, time is a
//! parameter.

use std::fmt;
use std::fmt::Write as _;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

/// Shortest token STS accepts (`WebIdentityToken` length constraint).
pub const MIN_TOKEN_LEN: usize = 4;
/// Longest token STS accepts.
pub const MAX_TOKEN_LEN: usize = 20_000;

/// Which part of the compact JWS a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    Header,
    Claims,
    Signature,
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Segment::Header => "header",
            Segment::Claims => "claims",
            Segment::Signature => "signature",
        })
    }
}

/// Why a string is not a decodable JWT. Messages never quote the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("token length {0} is outside the allowed range of 4 to 20000 characters")]
    Length(usize),
    #[error("token is not a JWT: expected 3 dot-separated segments, found {0}")]
    Segments(usize),
    #[error("token {0} segment is empty")]
    Empty(Segment),
    #[error("token {0} segment is not valid base64url")]
    Base64(Segment),
    #[error("token {0} segment is not valid UTF-8")]
    Utf8(Segment),
    #[error("token {0} segment is not a JSON object")]
    NotObject(Segment),
    #[error("token {segment} segment is not valid JSON: {reason}")]
    Json { segment: Segment, reason: String },
}

/// A JWS split and decoded, not verified.
#[derive(Clone, PartialEq)]
pub struct DecodedJwt {
    /// The header members the verifier reads.
    checked_header: CheckedHeader,
    /// The whole header, as a map built on first use (tools, explanations).
    header: JsonObject,
    /// The claims irsa checks, read when the token is decoded.
    checked: CheckedClaims,
    /// Every claim, as a map built on first use (tools, explanations).
    /// Shared with the [`crate::VerifiedToken`] made from it (no copy).
    claims: Arc<JsonObject>,
    signature: Vec<u8>,
    /// `BASE64URL(header) "." BASE64URL(claims)`: the bytes the signature covers.
    signing_input: String,
}

/// The header members the verifier reads (see [`CheckedClaims`]).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
struct CheckedHeader {
    #[serde(deserialize_with = "present")]
    alg: Option<Value>,
    #[serde(deserialize_with = "present")]
    kid: Option<Value>,
}

/// The claims the verifier and STS read, taken from the claims JSON in one
/// pass that skips everything else without building it (a Kubernetes
/// token's nested `kubernetes.io` object is most of its claims). A JSON
/// `null` stays `Some(Value::Null)`, so it is told apart from an absent
/// claim; a repeated checked claim makes the token malformed (RFC 7519
/// allows rejecting duplicate claim names, and it leaves no doubt about
/// which value was checked).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub(crate) struct CheckedClaims {
    #[serde(deserialize_with = "present")]
    pub(crate) iss: Option<Value>,
    #[serde(deserialize_with = "present")]
    pub(crate) sub: Option<Value>,
    #[serde(deserialize_with = "present")]
    pub(crate) aud: Option<Value>,
    #[serde(deserialize_with = "present")]
    pub(crate) exp: Option<Value>,
    #[serde(deserialize_with = "present")]
    pub(crate) nbf: Option<Value>,
    #[serde(deserialize_with = "present")]
    pub(crate) iat: Option<Value>,
    #[serde(deserialize_with = "present")]
    pub(crate) amr: Option<Value>,
    #[serde(deserialize_with = "present")]
    pub(crate) azp: Option<Value>,
    // Literal names (serde needs literals); a test ties them to the
    // constants in `verifier`.
    #[serde(rename = "https://aws.amazon.com/roles", deserialize_with = "present")]
    pub(crate) roles: Option<Value>,
    #[serde(rename = "https://aws.amazon.com/tags", deserialize_with = "present")]
    pub(crate) tags: Option<Value>,
    #[serde(
        rename = "https://aws.amazon.com/source_identity",
        deserialize_with = "present"
    )]
    pub(crate) source_identity: Option<Value>,
    /// Only whether it is there (its content is never read here).
    #[serde(rename = "https://sts.amazonaws.com/", deserialize_with = "seen")]
    pub(crate) sts_namespace: bool,
}

/// A claim that is present, `null` included.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    <Value as serde::Deserialize>::deserialize(deserializer).map(Some)
}

/// A claim that is present, whatever its value; skipped without building it.
fn seen<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    <serde::de::IgnoredAny as serde::Deserialize>::deserialize(deserializer).map(|_| true)
}

/// A header or claims segment as JSON text, and the map of all its members
/// built from it when first asked for: the verifier never needs it.
#[derive(Clone)]
pub(crate) struct JsonObject {
    json: Box<str>,
    map: std::sync::OnceLock<Map<String, Value>>,
}

impl JsonObject {
    fn new(json: Box<str>) -> Self {
        Self {
            json,
            map: std::sync::OnceLock::new(),
        }
    }

    pub(crate) fn map(&self) -> &Map<String, Value> {
        // `decode` accepted this text as a JSON object, so parsing it
        // again cannot fail; an empty map is the unreachable fallback.
        self.map
            .get_or_init(|| serde_json::from_str(&self.json).unwrap_or_default())
    }
}

impl PartialEq for JsonObject {
    fn eq(&self, other: &Self) -> bool {
        self.json == other.json
    }
}

// Claims may carry personal data; Debug shows only the header.
impl fmt::Debug for DecodedJwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodedJwt")
            .field("header", self.header.map())
            .field("claims", &format_args!("{} bytes", self.claims.json.len()))
            .finish_non_exhaustive()
    }
}

impl DecodedJwt {
    /// The whole header (built on first call).
    pub fn header(&self) -> &Map<String, Value> {
        self.header.map()
    }
    /// Every claim (built on first call).
    pub fn claims(&self) -> &Map<String, Value> {
        self.claims.map()
    }
    /// The claims the verifier checks.
    pub(crate) fn checked(&self) -> &CheckedClaims {
        &self.checked
    }
    /// The claims, shared.
    pub(crate) fn shared_claims(&self) -> &Arc<JsonObject> {
        &self.claims
    }
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }
    pub fn signing_input(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }
    /// The header's `alg`, if it is a string.
    pub fn alg(&self) -> Option<&str> {
        self.checked_header.alg.as_ref().and_then(Value::as_str)
    }
    /// The header's `kid`, if it is a string.
    pub fn kid(&self) -> Option<&str> {
        self.checked_header.kid.as_ref().and_then(Value::as_str)
    }
    /// `iss`, if it is a string.
    pub fn issuer(&self) -> Option<&str> {
        self.checked.iss.as_ref().and_then(Value::as_str)
    }
    /// A claim that is a string.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims().get(name).and_then(Value::as_str)
    }
}

/// Splits and decodes a compact JWS. Surrounding whitespace (a token file's
/// trailing newline) is ignored; everything else must be exact.
pub fn decode(token: &str) -> Result<DecodedJwt, JwtError> {
    let token = token.trim();
    // Tokens are ASCII (base64url and dots): count bytes then, not chars.
    let len = if token.is_ascii() {
        token.len()
    } else {
        token.chars().count()
    };
    if !(MIN_TOKEN_LEN..=MAX_TOKEN_LEN).contains(&len) {
        return Err(JwtError::Length(len));
    }
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(JwtError::Segments(parts.len()));
    }
    let (checked_header, header) = decode_checked(parts[0], Segment::Header)?;
    let (checked, claims) = decode_checked(parts[1], Segment::Claims)?;
    let signature = decode_b64(parts[2], Segment::Signature)?;
    let signing_input_len = parts[0].len() + 1 + parts[1].len();
    Ok(DecodedJwt {
        checked_header,
        header: JsonObject::new(header),
        checked,
        claims: Arc::new(JsonObject::new(claims)),
        signature,
        signing_input: token[..signing_input_len].to_owned(),
    })
}

fn decode_b64(segment: &str, which: Segment) -> Result<Vec<u8>, JwtError> {
    if segment.is_empty() {
        return Err(JwtError::Empty(which));
    }
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| JwtError::Base64(which))
}

fn decode_text(segment: &str, which: Segment) -> Result<String, JwtError> {
    String::from_utf8(decode_b64(segment, which)?).map_err(|_| JwtError::Utf8(which))
}

/// A header or claims segment: the members `T` reads, and the JSON text
/// for the map of all members. Errors say whether the segment is not JSON
/// or JSON that is not an object.
fn decode_checked<T: serde::de::DeserializeOwned>(
    segment: &str,
    which: Segment,
) -> Result<(T, Box<str>), JwtError> {
    let text = decode_text(segment, which)?;
    // serde reads a struct from a JSON array too: only an object goes to
    // the typed parse.
    if !text
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('{')
    {
        return match serde_json::from_str::<Value>(&text) {
            Ok(_) => Err(JwtError::NotObject(which)),
            Err(e) => Err(json_error(which, &e)),
        };
    }
    match serde_json::from_str::<T>(&text) {
        Ok(checked) => Ok((checked, text.into_boxed_str())),
        Err(e) => Err(json_error(which, &e)),
    }
}

fn json_error(which: Segment, e: &serde_json::Error) -> JwtError {
    JwtError::Json {
        segment: which,
        // serde_json's message names line/column, not content.
        reason: e.to_string(),
    }
}

/// Base64url without padding, as JOSE uses everywhere.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding.
pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

// ---------------------------------------------------------------------------
// Rendering for `irsa token decode`.

/// Claims whose values are NumericDate seconds.
const TIME_CLAIMS: [&str; 4] = ["exp", "iat", "nbf", "auth_time"];

/// A compact duration: "45s", "59m", "3h", "2h5m", "4d3h".
pub fn humanize_seconds(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        (seconds % 86_400) / 3600,
        (seconds % 3600) / 60,
        seconds % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m"),
        (0, _, 0) => format!("{h}h"),
        (0, _, _) => format!("{h}h{m}m"),
        (_, 0, _) => format!("{d}d"),
        _ => format!("{d}d{h}h"),
    }
}

/// How a time claim relates to `now`, e.g. "expires in 59m", "expired 3h ago",
/// "issued 2m ago", "valid since 2m ago", "not valid for another 5m".
pub fn relative_time(claim: &str, at: i64, now: i64) -> String {
    // Claims are attacker-chosen: i128 so extreme values cannot overflow.
    let delta = i128::from(at) - i128::from(now);
    let span = humanize_seconds(u64::try_from(delta.unsigned_abs()).unwrap_or(u64::MAX));
    match (claim, delta >= 0) {
        ("exp", true) => format!("expires in {span}"),
        ("exp", false) => format!("expired {span} ago"),
        ("nbf", true) => format!("not valid for another {span}"),
        ("nbf", false) => format!("valid since {span} ago"),
        ("iat", true) => format!("issued {span} in the future"),
        ("iat", false) => format!("issued {span} ago"),
        (_, true) => format!("in {span}"),
        (_, false) => format!("{span} ago"),
    }
}

/// RFC 3339 UTC for a Unix time, or `None` when out of range.
pub fn format_unix(at: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(at).ok()?;
    t.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// Whole seconds of a finite NumericDate within ±10^15 s.
pub(crate) fn f64_to_seconds(f: f64) -> Option<i64> {
    if f.is_finite() && f.abs() < 1e15 {
        // Range checked above, so the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation)]
        Some(f.trunc() as i64)
    } else {
        None
    }
}

/// A NumericDate claim in whole seconds; `None` unless it is a number in range.
pub(crate) fn numeric_date(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n
            .as_i64()
            // Fractional NumericDates are legal; whole seconds are enough here.
            .or_else(|| n.as_f64().and_then(f64_to_seconds)),
        _ => None,
    }
}

/// The time claims of a token (plus `kubernetes.io.warnafter`) with their
/// human and relative forms.
pub fn time_claims(jwt: &DecodedJwt, now: i64) -> Vec<(String, i64, String, String)> {
    let mut out = Vec::new();
    for name in TIME_CLAIMS {
        if let Some(at) = jwt.claims().get(name).and_then(numeric_date) {
            out.push((
                name.to_owned(),
                at,
                format_unix(at).unwrap_or_else(|| "out of range".to_owned()),
                relative_time(name, at, now),
            ));
        }
    }
    if let Some(at) = jwt
        .claims()
        .get("kubernetes.io")
        .and_then(|k| k.get("warnafter"))
        .and_then(numeric_date)
    {
        out.push((
            "kubernetes.io.warnafter".to_owned(),
            at,
            format_unix(at).unwrap_or_else(|| "out of range".to_owned()),
            relative_time("warnafter", at, now),
        ));
    }
    out
}

/// Multi-line human rendering: header, claims (pretty JSON) and time claims.
pub fn render_human(jwt: &DecodedJwt, now: i64) -> String {
    let pretty = |m: &Map<String, Value>| {
        serde_json::to_string_pretty(m).unwrap_or_else(|_| "{}".to_owned())
    };
    let mut out = String::new();
    out.push_str("Header:\n");
    out.push_str(&pretty(jwt.header()));
    out.push_str("\nClaims:\n");
    out.push_str(&pretty(jwt.claims()));
    out.push('\n');
    let times = time_claims(jwt, now);
    if !times.is_empty() {
        out.push_str("Times:\n");
        for (name, at, utc, rel) in times {
            let _ = writeln!(out, "  {name:<24} {at}  {utc}  ({rel})");
        }
    }
    let _ = writeln!(
        out,
        "Signature: {} bytes (not verified)",
        jwt.signature.len()
    );
    out
}

/// JSON rendering for scripts: `{header, claims, times: {exp: {unix, utc,
/// relative}}, expired, signature_bytes, verified: false}`.
pub fn render_json(jwt: &DecodedJwt, now: i64) -> Value {
    let mut times = Map::new();
    for (name, at, utc, rel) in time_claims(jwt, now) {
        times.insert(
            name,
            serde_json::json!({"unix": at, "utc": utc, "relative": rel}),
        );
    }
    let expired = jwt
        .claims()
        .get("exp")
        .and_then(numeric_date)
        .map(|exp| exp <= now);
    serde_json::json!({
        "header": jwt.header(),
        "claims": jwt.claims(),
        "times": times,
        "expired": expired,
        "signature_bytes": jwt.signature.len(),
        "verified": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: &Value) -> String {
        b64url(serde_json::to_string(v).unwrap().as_bytes())
    }

    fn token(h: &Value, c: &Value) -> String {
        format!("{}.{}.{}", enc(h), enc(c), b64url(b"sig"))
    }

    #[test]
    fn decodes_a_well_formed_token() {
        let t = token(
            &serde_json::json!({"alg":"RS256","kid":"k1"}),
            &serde_json::json!({"sub":"x","exp":10}),
        );
        let d = decode(&format!("{t}\n")).unwrap();
        assert_eq!(d.alg(), Some("RS256"));
        assert_eq!(d.kid(), Some("k1"));
        assert_eq!(d.claim_str("sub"), Some("x"));
        assert_eq!(d.signature(), b"sig");
        let dot2 = t.rfind('.').unwrap();
        assert_eq!(d.signing_input(), &t.as_bytes()[..dot2]);
        assert_eq!(d.header()["kid"], "k1");
        // A header member of the wrong type is not there for the verifier,
        // but tools still show it.
        let odd = token(
            &serde_json::json!({"alg": 256, "typ": "JWT"}),
            &serde_json::json!({}),
        );
        let d = decode(&odd).unwrap();
        assert_eq!(d.alg(), None);
        assert_eq!(d.header()["alg"], 256);
        assert_eq!(d.header()["typ"], "JWT");
        // Which alg would have been used? Neither.
        let twice = format!("{}.e30.c2ln", b64url(br#"{"alg":"none","alg":"RS256"}"#));
        assert!(matches!(
            decode(&twice),
            Err(JwtError::Json {
                segment: Segment::Header,
                ..
            })
        ));
    }

    #[test]
    fn precise_errors_for_garbage() {
        assert_eq!(decode("abc"), Err(JwtError::Length(3)));
        assert_eq!(decode(&"a".repeat(20_001)), Err(JwtError::Length(20_001)));
        assert_eq!(decode("abcd"), Err(JwtError::Segments(1)));
        assert_eq!(decode("a.b.c.d"), Err(JwtError::Segments(4)));
        assert_eq!(
            decode("!!!!.e30.c2ln"),
            Err(JwtError::Base64(Segment::Header))
        );
        assert_eq!(decode("e30..c2ln"), Err(JwtError::Empty(Segment::Claims)));
        assert_eq!(
            decode("e30.e30.@@"),
            Err(JwtError::Base64(Segment::Signature))
        );
        let not_utf8 = b64url(&[0xff, 0xfe, 0x7b]);
        assert_eq!(
            decode(&format!("e30.{not_utf8}.c2ln")),
            Err(JwtError::Utf8(Segment::Claims))
        );
        let arr = b64url(b"[1,2]");
        assert_eq!(
            decode(&format!("{arr}.e30.c2ln")),
            Err(JwtError::NotObject(Segment::Header))
        );
        let bad = b64url(b"{\"a\":");
        assert!(matches!(
            decode(&format!("e30.{bad}.c2ln")),
            Err(JwtError::Json {
                segment: Segment::Claims,
                ..
            })
        ));
        // padding is not base64url-no-pad
        assert_eq!(
            decode("e30=.e30.c2ln"),
            Err(JwtError::Base64(Segment::Header))
        );
    }

    #[test]
    fn checked_claims_are_read_and_the_rest_is_kept_for_later() {
        let claims = serde_json::json!({
            "iss": "https://issuer.example", "sub": null, "aud": ["a", "b"], "exp": 10,
            "kubernetes.io": {"namespace": "ns", "pod": {"name": "p", "uid": "u"}},
            crate::verifier::ROLES_CLAIM: "arn:aws:iam::1:role/r",
            crate::verifier::TAGS_CLAIM: {"principal_tags": {}},
            crate::verifier::SOURCE_IDENTITY_CLAIM: "me",
            crate::verifier::STS_CLAIMS_NAMESPACE: null,
        });
        let d = decode(&token(&serde_json::json!({"alg": "RS256"}), &claims)).unwrap();
        let checked = d.checked();
        assert_eq!(d.issuer(), Some("https://issuer.example"));
        // A null claim is present (and wrong), not missing.
        assert_eq!(checked.sub, Some(Value::Null));
        assert_eq!(checked.aud, Some(serde_json::json!(["a", "b"])));
        assert_eq!(checked.exp, Some(serde_json::json!(10)));
        assert_eq!(checked.nbf, None);
        // The serde names are the constants the verifier documents.
        assert_eq!(
            checked.roles,
            Some(serde_json::json!("arn:aws:iam::1:role/r"))
        );
        assert_eq!(
            checked.tags,
            Some(serde_json::json!({"principal_tags": {}}))
        );
        assert_eq!(checked.source_identity, Some(serde_json::json!("me")));
        assert!(checked.sts_namespace);
        // Every claim, nested ones included, is still there for tools.
        assert_eq!(&Value::Object(d.claims().clone()), &claims);
        assert_eq!(d.claim_str("kubernetes.io"), None);
        assert_eq!(d.claims()["kubernetes.io"]["pod"]["uid"], "u");
    }

    #[test]
    fn claims_that_are_not_one_object_or_repeat_a_checked_claim_are_malformed() {
        let h = b64url(br#"{"alg":"RS256"}"#);
        for (claims, want) in [
            ("[1,2]", Some(JwtError::NotObject(Segment::Claims))),
            ("\"sub\"", Some(JwtError::NotObject(Segment::Claims))),
            ("{\"sub\":", None),
            ("{\"sub\":\"a\"} x", None),
            // Which `sub` would have been checked? Neither.
            (r#"{"sub":"a","sub":"b"}"#, None),
        ] {
            let got = decode(&format!("{h}.{}.c2ln", b64url(claims.as_bytes()))).unwrap_err();
            match want {
                Some(want) => assert_eq!(got, want, "{claims}"),
                None => assert!(
                    matches!(
                        got,
                        JwtError::Json {
                            segment: Segment::Claims,
                            ..
                        }
                    ),
                    "{claims}: {got:?}"
                ),
            }
        }
        // Repeated claims that are not checked keep JSON's last-one-wins.
        let d = decode(&format!("{h}.{}.c2ln", b64url(br#"{"jti":"a","jti":"b"}"#))).unwrap();
        assert_eq!(d.claim_str("jti"), Some("b"));
        assert!(!d.checked().sts_namespace);
        // A name is matched after JSON unescaping: `\/` cannot hide it.
        let d = decode(&format!(
            "{h}.{}.c2ln",
            b64url(br#"{"https:\/\/sts.amazonaws.com\/":{}}"#)
        ))
        .unwrap();
        assert!(d.checked().sts_namespace);
    }

    proptest::proptest! {
        /// What the verifier reads in its typed pass is what the map of
        /// every member says, for any mix of members, value types and
        /// repeats; decoding fails only when a member it reads repeats.
        #[test]
        fn the_typed_pass_agrees_with_the_map(
            members in proptest::collection::vec((0..MEMBER_NAMES.len(), 0..MEMBER_VALUES.len()), 0..8)
        ) {
            let object = format!(
                "{{{}}}",
                members
                    .iter()
                    .map(|&(n, v)| format!("{:?}:{}", MEMBER_NAMES[n], MEMBER_VALUES[v]))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            // The same object as header and as claims.
            let segment = b64url(object.as_bytes());
            let token = format!("{segment}.{segment}.c2ln");
            let read_twice = |names: &[&str]| {
                names.iter().any(|name| {
                    members.iter().filter(|&&(n, _)| MEMBER_NAMES[n] == *name).count() > 1
                })
            };
            match decode(&token) {
                Ok(d) => {
                    let str_member = |map: &Map<String, Value>, name: &str| {
                        map.get(name).and_then(Value::as_str).map(str::to_owned)
                    };
                    proptest::prop_assert_eq!(d.alg().map(str::to_owned), str_member(d.header(), "alg"));
                    proptest::prop_assert_eq!(d.kid().map(str::to_owned), str_member(d.header(), "kid"));
                    proptest::prop_assert_eq!(d.issuer().map(str::to_owned), str_member(d.claims(), "iss"));
                    proptest::prop_assert_eq!(&d.checked().sub, &d.claims().get("sub").cloned());
                    proptest::prop_assert_eq!(&d.checked().aud, &d.claims().get("aud").cloned());
                    proptest::prop_assert_eq!(
                        d.checked().sts_namespace,
                        d.claims().contains_key(crate::verifier::STS_CLAIMS_NAMESPACE)
                    );
                }
                Err(e) => {
                    proptest::prop_assert!(matches!(e, JwtError::Json { .. }), "{e:?}");
                    proptest::prop_assert!(read_twice(&["alg", "kid", "iss", "sub", "aud", crate::verifier::STS_CLAIMS_NAMESPACE]), "{object}");
                }
            }
        }
    }

    const MEMBER_NAMES: [&str; 8] = [
        "iss",
        "sub",
        "alg",
        "kid",
        "aud",
        "jti",
        "x",
        "https://sts.amazonaws.com/",
    ];
    const MEMBER_VALUES: [&str; 7] = ["\"a\"", "\"b\"", "1", "null", "[\"a\"]", "{}", "true"];

    #[test]
    fn humanized_relative_times() {
        assert_eq!(relative_time("exp", 1000 + 59 * 60, 1000), "expires in 59m");
        assert_eq!(
            relative_time("exp", 1000, 1000 + 3 * 3600),
            "expired 3h ago"
        );
        assert_eq!(relative_time("iat", 880, 1000), "issued 2m ago");
        assert_eq!(relative_time("nbf", 1300, 1000), "not valid for another 5m");
        // Fuzzing found this overflow (fuzz/artifacts/jwt_decode).
        assert!(relative_time("exp", i64::MIN, i64::MAX).starts_with("expired "));
        assert!(relative_time("exp", i64::MAX, i64::MIN).starts_with("expires in "));
        assert_eq!(humanize_seconds(45), "45s");
        assert_eq!(humanize_seconds(7500), "2h5m");
        assert_eq!(humanize_seconds(3 * 86_400 + 3600), "3d1h");
    }

    #[test]
    fn renders_times_for_humans_and_scripts() {
        let t = token(
            &serde_json::json!({"alg":"RS256"}),
            &serde_json::json!({"exp": 1_700_003_540, "iat": 1_700_000_000,
                "kubernetes.io": {"warnafter": 1_700_000_600}}),
        );
        let d = decode(&t).unwrap();
        let human = render_human(&d, 1_700_000_000);
        assert!(human.contains("expires in 59m"), "{human}");
        assert!(human.contains("2023-11-14T22:13:20Z"), "{human}");
        assert!(human.contains("kubernetes.io.warnafter"), "{human}");
        let json = render_json(&d, 1_700_010_000);
        assert_eq!(json["expired"], Value::Bool(true));
        assert_eq!(json["times"]["exp"]["relative"], "expired 1h47m ago");
        assert_eq!(json["verified"], Value::Bool(false));
    }
}
