//! Response encoding: a small tree of struct/list/scalar nodes rendered as
//! AWS Query XML (`<{Action}Response xmlns=…><{Action}Result>…`) or, for
//! clients sending `Accept: application/json` (aws-iam-authenticator), as
//! `{"{Action}Response":{"{Action}Result":{…},"ResponseMetadata":{"RequestId":…}}}`.
//!
//! XML: lists are `<Name><member>…</member></Name>`, timestamps ISO 8601
//! UTC with second precision (`2026-11-23T14:00:00Z`).
//! JSON: lists are arrays, integers and booleans are JSON numbers/booleans,
//! timestamps are epoch seconds (numbers), as STS's JSON answers carry them.

use irsa_core::SecretString;
use serde_json::{Map, Value};
use std::fmt::Write as _;
use time::OffsetDateTime;

use crate::Service;

/// A response value.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Str(String),
    /// Text that is a secret (secret access key, session token): rendered
    /// like `Str`, printed as `***` by `Debug`.
    Secret(SecretString),
    Int(i64),
    Bool(bool),
    Timestamp(OffsetDateTime),
    /// Members in output order.
    Struct(Vec<(String, Node)>),
    List(Vec<Node>),
}

impl Node {
    /// An empty structure; add members with [`Node::with`].
    pub fn object() -> Self {
        Node::Struct(Vec::new())
    }

    /// Adds a member to a structure (no-op on other nodes).
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Node>) -> Self {
        if let Node::Struct(members) = &mut self {
            members.push((name.into(), value.into()));
        }
        self
    }

    /// Adds a member when `value` is `Some` (AWS omits absent members).
    #[must_use]
    pub fn with_opt<V: Into<Node>>(self, name: impl Into<String>, value: Option<V>) -> Self {
        match value {
            Some(v) => self.with(name, v),
            None => self,
        }
    }

    pub fn list<I, V>(items: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<Node>,
    {
        Node::List(items.into_iter().map(Into::into).collect())
    }

    pub fn timestamp(at: OffsetDateTime) -> Self {
        Node::Timestamp(at)
    }
}

impl From<&str> for Node {
    fn from(v: &str) -> Self {
        Node::Str(v.to_owned())
    }
}
impl From<String> for Node {
    fn from(v: String) -> Self {
        Node::Str(v)
    }
}
impl From<&String> for Node {
    fn from(v: &String) -> Self {
        Node::Str(v.clone())
    }
}
impl From<SecretString> for Node {
    fn from(v: SecretString) -> Self {
        Node::Secret(v)
    }
}
impl From<&SecretString> for Node {
    fn from(v: &SecretString) -> Self {
        Node::Secret(v.clone())
    }
}
impl From<i64> for Node {
    fn from(v: i64) -> Self {
        Node::Int(v)
    }
}
impl From<i32> for Node {
    fn from(v: i32) -> Self {
        Node::Int(i64::from(v))
    }
}
impl From<u32> for Node {
    fn from(v: u32) -> Self {
        Node::Int(i64::from(v))
    }
}
impl From<bool> for Node {
    fn from(v: bool) -> Self {
        Node::Bool(v)
    }
}
impl From<OffsetDateTime> for Node {
    fn from(v: OffsetDateTime) -> Self {
        Node::Timestamp(v)
    }
}

/// The `Credentials` structure of AssumeRole*, GetSessionToken and
/// GetFederationToken results, members in AWS's order.
pub fn credentials_node(
    access_key_id: &str,
    secret_access_key: &SecretString,
    session_token: SecretString,
    expiration: OffsetDateTime,
) -> Node {
    Node::object()
        .with("AccessKeyId", access_key_id)
        .with("SecretAccessKey", secret_access_key)
        .with("SessionToken", session_token)
        .with("Expiration", expiration)
}

/// The encoding a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseFormat {
    #[default]
    Xml,
    Json,
}

impl ResponseFormat {
    /// JSON only when the `Accept` header asks for `application/json`.
    pub fn from_accept(accept: Option<&str>) -> Self {
        let wants_json = accept.is_some_and(|a| {
            a.split(',').any(|part| {
                part.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            })
        });
        if wants_json {
            ResponseFormat::Json
        } else {
            ResponseFormat::Xml
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ResponseFormat::Xml => "text/xml",
            ResponseFormat::Json => "application/json",
        }
    }
}

/// Formats a timestamp as AWS does in XML: `2026-11-23T14:00:00Z`.
pub fn format_timestamp(at: OffsetDateTime) -> String {
    let mut out = String::with_capacity(20);
    push_timestamp(&mut out, at);
    out
}

fn push_timestamp(out: &mut String, at: OffsetDateTime) {
    // Writing to a String cannot fail.
    let _ = irsa_core::write_utc_timestamp(out, at, false);
}

/// Escapes text for XML element content and attribute values. Tab, LF and
/// CR become character references so parsers keep them verbatim; other
/// characters XML 1.0 forbids (C0 controls, U+FFFE, U+FFFF) become U+FFFD,
/// because no escape makes them legal and clients' parsers would fail.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_xml_escaped(&mut out, text);
    out
}

/// Whether `text` holds a byte XML text cannot carry as is: markup
/// characters, controls, or 0xEF (which leads U+FFFE/U+FFFF, so any text
/// with it takes the careful path).
fn needs_escaping(text: &str) -> bool {
    irsa_core::bytes::has_control_or_any(text.as_bytes(), *b"&<>\"'\xEF")
}

/// [`xml_escape`] appending to `out` (no intermediate allocation).
fn push_xml_escaped(out: &mut String, text: &str) {
    // Fast path: most values (ids, ARNs, session tokens) need no escaping.
    if !needs_escaping(text) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// Percent-encodes a policy document as IAM returns documents
/// (`GetRolePolicy`, `GetPolicyVersion`, `AssumeRolePolicyDocument`…).
/// Everything but RFC 3986 unreserved characters is escaped, spaces as
/// `%20`: botocore and the aws CLI decode with `unquote`, which would keep a
/// `+` as is.
pub fn encode_policy_document(document: &str) -> String {
    let mut out = String::with_capacity(document.len() * 3 / 2);
    for b in document.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 0x0F)]));
        }
    }
    out
}

/// A JSON string literal.
pub fn json_string(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

/// Renders a successful response as XML. `result` is the content of
/// `<{Action}Result>`; `None` for operations without output (e.g. DeleteRole),
/// which AWS answers with `ResponseMetadata` only.
pub fn to_xml(service: Service, action: &str, result: Option<&Node>, request_id: &str) -> String {
    // Room for an AssumeRole* answer (its session token is most of it)
    // without growing.
    let mut out = String::with_capacity(2048);
    out.push('<');
    out.push_str(action);
    out.push_str("Response xmlns=\"");
    out.push_str(service.xml_namespace());
    out.push_str("\">");
    if let Some(result) = result {
        let name = format!("{action}Result");
        write_xml(&mut out, &name, result);
    }
    out.push_str("<ResponseMetadata><RequestId>");
    push_xml_escaped(&mut out, request_id);
    out.push_str("</RequestId></ResponseMetadata></");
    out.push_str(action);
    out.push_str("Response>");
    out
}

fn write_xml(out: &mut String, name: &str, node: &Node) {
    match node {
        Node::List(items) if items.is_empty() => {
            out.push('<');
            out.push_str(name);
            out.push_str("/>");
            return;
        }
        _ => {}
    }
    out.push('<');
    out.push_str(name);
    out.push('>');
    match node {
        Node::Str(s) => push_xml_escaped(out, s),
        Node::Secret(s) => push_xml_escaped(out, s.expose()),
        Node::Int(i) => {
            // Writing to a String cannot fail.
            let _ = write!(out, "{i}");
        }
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Timestamp(t) => push_timestamp(out, *t),
        Node::Struct(members) => {
            for (member, value) in members {
                write_xml(out, member, value);
            }
        }
        Node::List(items) => {
            for item in items {
                write_xml(out, "member", item);
            }
        }
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Renders a successful response as JSON (same structure as the XML).
pub fn to_json(action: &str, result: Option<&Node>, request_id: &str) -> String {
    let mut inner = Map::new();
    if let Some(result) = result {
        inner.insert(format!("{action}Result"), json_value(result));
    }
    let mut meta = Map::new();
    meta.insert("RequestId".to_owned(), Value::String(request_id.to_owned()));
    inner.insert("ResponseMetadata".to_owned(), Value::Object(meta));
    let mut outer = Map::new();
    outer.insert(format!("{action}Response"), Value::Object(inner));
    Value::Object(outer).to_string()
}

fn json_value(node: &Node) -> Value {
    match node {
        Node::Str(s) => Value::String(s.clone()),
        Node::Secret(s) => Value::String(s.expose().to_owned()),
        Node::Int(i) => Value::from(*i),
        Node::Bool(b) => Value::Bool(*b),
        Node::Timestamp(t) => Value::from(t.unix_timestamp()),
        Node::Struct(members) => Value::Object(
            members
                .iter()
                .map(|(k, v)| (k.clone(), json_value(v)))
                .collect(),
        ),
        Node::List(items) => Value::Array(items.iter().map(json_value).collect()),
    }
}

/// Renders in the requested format: (content type, body).
pub fn render(
    service: Service,
    action: &str,
    result: Option<&Node>,
    request_id: &str,
    format: ResponseFormat,
) -> (&'static str, String) {
    let body = match format {
        ResponseFormat::Xml => to_xml(service, action, result, request_id),
        ResponseFormat::Json => to_json(action, result, request_id),
    };
    (format.content_type(), body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::events::Event;
    use time::macros::datetime;

    const RID: &str = "c6104cbe-af31-11e0-8154-cbc7ccf896c7";

    fn caller_identity() -> Node {
        Node::object()
            .with("UserId", "AROAEXAMPLEEXAMPLEXX:s")
            .with("Account", "123456789012")
            .with("Arn", "arn:aws:sts::123456789012:assumed-role/app/s")
    }

    #[test]
    fn sts_xml_exact() {
        let xml = to_xml(
            Service::Sts,
            "GetCallerIdentity",
            Some(&caller_identity()),
            RID,
        );
        assert_eq!(
            xml,
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><UserId>AROAEXAMPLEEXAMPLEXX:s</UserId><Account>123456789012</Account><Arn>arn:aws:sts::123456789012:assumed-role/app/s</Arn></GetCallerIdentityResult><ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
        );
    }

    #[test]
    fn iam_lists_timestamps_and_empty_results() {
        let result = Node::object()
            .with(
                "Tags",
                Node::list([Node::object().with("Key", "team").with("Value", "a")]),
            )
            .with("ClientIDList", Node::list(["sts.amazonaws.com", "other"]))
            .with("Empty", Node::list(Vec::<Node>::new()))
            .with("CreateDate", datetime!(2026-11-23 14:00:00 UTC))
            .with("MaxSessionDuration", 3600_i64)
            .with("IsTruncated", false)
            .with_opt("Marker", None::<String>);
        let xml = to_xml(Service::Iam, "ListThings", Some(&result), RID);
        assert!(xml.starts_with("<ListThingsResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><ListThingsResult>"));
        assert!(xml.contains("<Tags><member><Key>team</Key><Value>a</Value></member></Tags>"));
        assert!(xml.contains(
            "<ClientIDList><member>sts.amazonaws.com</member><member>other</member></ClientIDList>"
        ));
        assert!(xml.contains("<Empty/>"));
        assert!(xml.contains("<CreateDate>2026-11-23T14:00:00Z</CreateDate>"));
        assert!(xml.contains(
            "<MaxSessionDuration>3600</MaxSessionDuration><IsTruncated>false</IsTruncated>"
        ));
        assert!(!xml.contains("Marker"));
        let none = to_xml(Service::Iam, "DeleteRole", None, RID);
        assert_eq!(
            none,
            format!("<DeleteRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><ResponseMetadata><RequestId>{RID}</RequestId></ResponseMetadata></DeleteRoleResponse>")
        );
    }

    #[test]
    fn credentials_render_but_never_debug_print() {
        let secret = SecretString::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        let node = Node::object().with(
            "Credentials",
            credentials_node(
                "ASIAEXAMPLEEXAMPLEXX",
                &secret,
                SecretString::new("tok&en"),
                datetime!(2026-11-23 15:00:00 UTC),
            ),
        );
        let xml = to_xml(Service::Sts, "AssumeRole", Some(&node), RID);
        assert!(xml.contains("<Credentials><AccessKeyId>ASIAEXAMPLEEXAMPLEXX</AccessKeyId><SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY</SecretAccessKey><SessionToken>tok&amp;en</SessionToken><Expiration>2026-11-23T15:00:00Z</Expiration></Credentials>"), "{xml}");
        let json: Value = serde_json::from_str(&to_json("AssumeRole", Some(&node), RID)).unwrap();
        assert_eq!(
            json["AssumeRoleResponse"]["AssumeRoleResult"]["Credentials"]["SessionToken"],
            "tok&en"
        );
        let debug = format!("{node:?}");
        assert!(
            !debug.contains("wJalr") && !debug.contains("tok&en"),
            "{debug}"
        );
    }

    #[test]
    fn timestamps_are_utc() {
        let t = datetime!(2026-11-23 16:00:05 +02:00);
        assert_eq!(format_timestamp(t), "2026-11-23T14:00:05Z");
    }

    #[test]
    fn escaping() {
        assert_eq!(
            xml_escape("<a & 'b' \"c\">"),
            "&lt;a &amp; &apos;b&apos; &quot;c&quot;&gt;"
        );
        assert_eq!(xml_escape("a\tb\nc\rd"), "a&#9;b&#10;c&#13;d");
        assert_eq!(
            xml_escape("x\u{0}y\u{1b}z\u{FFFF}"),
            "x\u{FFFD}y\u{FFFD}z\u{FFFD}"
        );
        assert_eq!(xml_escape("é日本"), "é日本");
    }

    /// The chunked check finds a special byte at every position of texts
    /// longer and shorter than its chunk, so long plain runs cannot hide one.
    #[test]
    fn escaping_is_detected_at_every_position() {
        for len in [1, 31, 32, 33, 64, 95, 700] {
            let plain = "A".repeat(len);
            assert!(!needs_escaping(&plain));
            for at in 0..len {
                for special in ["&", "<", ">", "\"", "'", "\n", "\u{1}", "\u{FFFF}"] {
                    let text = format!("{}{special}{}", &plain[..at], &plain[at..]);
                    assert!(needs_escaping(&text), "{special:?} at {at} of {len}");
                    assert_ne!(xml_escape(&text), text, "{special:?} at {at} of {len}");
                }
            }
        }
    }

    /// Every escaped string survives a real XML parser unchanged (modulo the
    /// documented replacement of illegal characters).
    #[test]
    fn escaped_text_round_trips_through_a_parser() {
        let nasty = "<script>&amp;\"'</script>\t\n\r end ]]> %20 +";
        let result = Node::object().with("Value", nasty);
        let xml = to_xml(Service::Sts, "Echo", Some(&result), "r<1>");
        let mut reader = quick_xml::Reader::from_str(&xml);
        let mut texts = Vec::new();
        let mut current = String::new();
        loop {
            match reader.read_event().unwrap() {
                Event::Text(t) => current.push_str(&t.decode().unwrap()),
                Event::GeneralRef(r) => {
                    let name = r.decode().unwrap();
                    let resolved = match name.as_ref() {
                        "amp" => "&".to_owned(),
                        "lt" => "<".to_owned(),
                        "gt" => ">".to_owned(),
                        "quot" => "\"".to_owned(),
                        "apos" => "'".to_owned(),
                        other => {
                            let n = other.strip_prefix('#').unwrap().parse::<u32>().unwrap();
                            char::from_u32(n).unwrap().to_string()
                        }
                    };
                    current.push_str(&resolved);
                }
                Event::End(_) if !current.is_empty() => {
                    texts.push(std::mem::take(&mut current));
                }
                Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(texts, vec![nasty.to_owned(), "r<1>".to_owned()]);
    }

    #[test]
    fn json_shape() {
        let body = to_json("GetCallerIdentity", Some(&caller_identity()), RID);
        let v: Value = serde_json::from_str(&body).unwrap();
        let r = &v["GetCallerIdentityResponse"];
        assert_eq!(
            r["GetCallerIdentityResult"]["Arn"],
            "arn:aws:sts::123456789012:assumed-role/app/s"
        );
        assert_eq!(r["GetCallerIdentityResult"]["Account"], "123456789012");
        assert_eq!(r["ResponseMetadata"]["RequestId"], RID);
        let result = Node::object()
            .with("Expiration", datetime!(2026-11-23 14:00:00 UTC))
            .with("PackedPolicySize", 6_i64)
            .with("Tags", Node::list(["a", "b"]))
            .with("Quoted", "\"\n\u{1}");
        let v: Value = serde_json::from_str(&to_json("X", Some(&result), RID)).unwrap();
        let r = &v["XResponse"]["XResult"];
        assert_eq!(r["Expiration"], 1_795_442_400_i64);
        assert_eq!(r["PackedPolicySize"], 6);
        assert_eq!(r["Tags"], serde_json::json!(["a", "b"]));
        assert_eq!(r["Quoted"], "\"\n\u{1}");
    }

    #[test]
    fn policy_documents_are_percent_encoded() {
        let doc = "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Action\": \"s3:Get*\"}]}\né+";
        let encoded = encode_policy_document(doc);
        assert!(
            encoded.starts_with("%7B%22Version%22%3A%20%222012-10-17%22%2C%20"),
            "{encoded}"
        );
        assert!(encoded.ends_with("%0A%C3%A9%2B"));
        assert!(encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~%".contains(&b)));
        // Decoding with the Query decoder (a superset of unquote) gives the document back.
        let params =
            crate::protocol::query::parse_query(format!("D={encoded}").as_bytes()).unwrap();
        assert_eq!(params["D"], doc);
    }

    #[test]
    fn accept_negotiation() {
        assert_eq!(ResponseFormat::from_accept(None), ResponseFormat::Xml);
        assert_eq!(
            ResponseFormat::from_accept(Some("*/*")),
            ResponseFormat::Xml
        );
        assert_eq!(
            ResponseFormat::from_accept(Some("application/json")),
            ResponseFormat::Json
        );
        assert_eq!(
            ResponseFormat::from_accept(Some("text/html, Application/JSON; q=0.9")),
            ResponseFormat::Json
        );
        assert_eq!(
            ResponseFormat::from_accept(Some("application/jsonx")),
            ResponseFormat::Xml
        );
        let (ct, body) = render(
            Service::Sts,
            "GetCallerIdentity",
            None,
            RID,
            ResponseFormat::Json,
        );
        assert_eq!(ct, "application/json");
        assert!(body.starts_with("{\"GetCallerIdentityResponse\""));
    }
}
