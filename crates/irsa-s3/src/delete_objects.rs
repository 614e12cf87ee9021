//! DeleteObjects: the `<Delete>` body (parsed so each key can be
//! authorized, re-rendered with only the allowed keys for the upstream) and
//! the `<DeleteResult>` (the upstream's entries plus an `AccessDenied`
//! error per denied key).

use crate::error::{push_element, S3Error, S3ErrorCode};
use crate::names::ObjectKey;
use crate::xml::{self, Element, DECLARATION, S3_NAMESPACE};

/// S3's limit on objects in one DeleteObjects request.
pub const MAX_DELETE_OBJECTS: usize = 1000;
/// Largest DeleteObjects body the gateway buffers: 1000 entries with
/// ~2 KiB each, far above what SDKs send for 1000 ordinary keys.
pub const DELETE_OBJECTS_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// One `<Object>` of the request, every field kept so the forwarded body
/// asks the upstream for exactly what the client asked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteObjectEntry {
    pub key: String,
    pub version_id: Option<String>,
    /// Conditional delete fields (newer SDKs): passed through as sent.
    pub etag: Option<String>,
    pub last_modified_time: Option<String>,
    pub size: Option<String>,
}

/// A parsed `<Delete>` body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteObjectsRequest {
    pub objects: Vec<DeleteObjectEntry>,
    /// `<Quiet>true</Quiet>`: the result lists only errors.
    pub quiet: bool,
}

fn malformed() -> S3Error {
    S3Error::from_code(S3ErrorCode::MalformedXML)
}

fn optional_text(object: &Element, name: &str) -> Option<String> {
    object.child(name).map(|e| e.text.clone())
}

impl DeleteObjectsRequest {
    /// Parses `<Delete><Object><Key>…</Key><VersionId>…</VersionId></Object>…<Quiet>true</Quiet></Delete>`.
    /// Over [`DELETE_OBJECTS_BODY_LIMIT`] → `MaxMessageLengthExceeded`;
    /// no objects, more than [`MAX_DELETE_OBJECTS`], or anything else that
    /// is not that shape → `MalformedXML`; a key over 1024 bytes →
    /// `KeyTooLongError`.
    pub fn parse(body: &[u8]) -> Result<Self, S3Error> {
        if body.len() > DELETE_OBJECTS_BODY_LIMIT {
            return Err(S3Error::from_code(S3ErrorCode::MaxMessageLengthExceeded));
        }
        let root = xml::parse(body).map_err(|_| malformed())?;
        if root.name != "Delete" {
            return Err(malformed());
        }
        let mut request = DeleteObjectsRequest::default();
        for child in &root.children {
            match child.name.as_str() {
                "Object" => {
                    if request.objects.len() == MAX_DELETE_OBJECTS {
                        return Err(malformed());
                    }
                    let key = child.child("Key").ok_or_else(malformed)?.text.clone();
                    ObjectKey::new(key.clone())?;
                    request.objects.push(DeleteObjectEntry {
                        key,
                        version_id: optional_text(child, "VersionId"),
                        etag: optional_text(child, "ETag"),
                        last_modified_time: optional_text(child, "LastModifiedTime"),
                        size: optional_text(child, "Size"),
                    });
                }
                "Quiet" => {
                    request.quiet = match child.text.trim() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(malformed()),
                    };
                }
                _ => return Err(malformed()),
            }
        }
        if request.objects.is_empty() {
            return Err(malformed());
        }
        Ok(request)
    }

    /// The `<Delete>` body for the upstream with only the entries whose
    /// index `include` accepts (the allowed ones). The caller recomputes
    /// `Content-MD5` / `x-amz-checksum-*` and `Content-Length` for it.
    pub fn to_xml(&self, include: impl Fn(usize) -> bool) -> String {
        let mut out = String::from(DECLARATION);
        out.push_str("<Delete xmlns=\"");
        out.push_str(S3_NAMESPACE);
        out.push_str("\">");
        for (index, entry) in self.objects.iter().enumerate() {
            if !include(index) {
                continue;
            }
            out.push_str("<Object>");
            push_element(&mut out, "Key", &entry.key);
            for (name, value) in [
                ("VersionId", &entry.version_id),
                ("ETag", &entry.etag),
                ("LastModifiedTime", &entry.last_modified_time),
                ("Size", &entry.size),
            ] {
                if let Some(value) = value {
                    push_element(&mut out, name, value);
                }
            }
            out.push_str("</Object>");
        }
        if self.quiet {
            out.push_str("<Quiet>true</Quiet>");
        }
        out.push_str("</Delete>");
        out
    }
}

fn render_element(out: &mut String, element: &Element) {
    if element.children.is_empty() {
        push_element(out, &element.name, &element.text);
        return;
    }
    out.push('<');
    out.push_str(&element.name);
    out.push('>');
    for child in &element.children {
        render_element(out, child);
    }
    out.push_str("</");
    out.push_str(&element.name);
    out.push('>');
}

/// The `<DeleteResult>` for the client: the upstream's `<Deleted>` and
/// `<Error>` entries (`upstream` is its 200 body; `None` when no key was
/// allowed and nothing was forwarded), then one
/// `<Error><Key/>[<VersionId/>]<Code>AccessDenied</Code><Message>Access Denied</Message></Error>`
/// per denied entry. An upstream body that is not a `DeleteResult` → 500.
pub fn merge_delete_result(
    upstream: Option<&[u8]>,
    denied: &[&DeleteObjectEntry],
) -> Result<String, S3Error> {
    let mut out = String::from(DECLARATION);
    out.push_str("<DeleteResult xmlns=\"");
    out.push_str(S3_NAMESPACE);
    out.push_str("\">");
    if let Some(body) = upstream {
        let bad_upstream = || {
            S3Error::new(
                S3ErrorCode::InternalError,
                "The storage backend returned an unreadable DeleteObjects result.",
            )
        };
        let root = xml::parse(body).map_err(|_| bad_upstream())?;
        if root.name != "DeleteResult" {
            return Err(bad_upstream());
        }
        for entry in &root.children {
            render_element(&mut out, entry);
        }
    }
    for entry in denied {
        out.push_str("<Error>");
        push_element(&mut out, "Key", &entry.key);
        if let Some(version) = &entry.version_id {
            push_element(&mut out, "VersionId", version);
        }
        push_element(&mut out, "Code", S3ErrorCode::AccessDenied.as_str());
        push_element(
            &mut out,
            "Message",
            S3ErrorCode::AccessDenied.default_message(),
        );
        out.push_str("</Error>");
    }
    out.push_str("</DeleteResult>");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?>
<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Object><Key>a b+c</Key></Object>
  <Object><Key>x &amp; y</Key><VersionId>v1</VersionId></Object>
  <Object><Key> lead</Key><ETag>"e"</ETag></Object>
  <Quiet>true</Quiet>
</Delete>"#;

    #[test]
    fn parses_entries_exactly() {
        let req = DeleteObjectsRequest::parse(BODY).unwrap();
        assert!(req.quiet);
        let keys: Vec<_> = req.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["a b+c", "x & y", " lead"]);
        assert_eq!(req.objects[1].version_id.as_deref(), Some("v1"));
        assert_eq!(req.objects[2].etag.as_deref(), Some("\"e\""));
    }

    #[test]
    fn subset_round_trips() {
        let req = DeleteObjectsRequest::parse(BODY).unwrap();
        let xml = req.to_xml(|i| i != 0);
        let again = DeleteObjectsRequest::parse(xml.as_bytes()).unwrap();
        assert!(again.quiet);
        assert_eq!(again.objects, req.objects[1..].to_vec());
        // Characters XML parsers would otherwise normalise survive too.
        let tricky = DeleteObjectsRequest {
            objects: vec![DeleteObjectEntry {
                key: "cr\r\nlf\ttab <&>'\"".into(),
                ..DeleteObjectEntry::default()
            }],
            quiet: false,
        };
        let again = DeleteObjectsRequest::parse(tricky.to_xml(|_| true).as_bytes()).unwrap();
        assert_eq!(again, tricky);
    }

    #[test]
    fn limits_and_shape() {
        let many = |n: usize| {
            let objects = "<Object><Key>k</Key></Object>".repeat(n);
            format!("<Delete>{objects}</Delete>")
        };
        assert_eq!(
            DeleteObjectsRequest::parse(many(1000).as_bytes())
                .unwrap()
                .objects
                .len(),
            1000
        );
        assert_eq!(
            DeleteObjectsRequest::parse(many(1001).as_bytes())
                .unwrap_err()
                .code(),
            S3ErrorCode::MalformedXML
        );
        for bad in [
            "<Delete></Delete>",
            "<Delete><Quiet>true</Quiet></Delete>",
            "<Delete><Object><VersionId>v</VersionId></Object></Delete>",
            "<Delete><Object><Key>k</Key></Object><Quiet>yes</Quiet></Delete>",
            "<Delete><Object><Key>k</Key></Object><Extra/></Delete>",
            "<Remove><Object><Key>k</Key></Object></Remove>",
            "<Delete><Object><Key>k</Key></Object>",
        ] {
            assert_eq!(
                DeleteObjectsRequest::parse(bad.as_bytes())
                    .unwrap_err()
                    .code(),
                S3ErrorCode::MalformedXML,
                "{bad}"
            );
        }
        let long = format!(
            "<Delete><Object><Key>{}</Key></Object></Delete>",
            "k".repeat(1025)
        );
        assert_eq!(
            DeleteObjectsRequest::parse(long.as_bytes())
                .unwrap_err()
                .code(),
            S3ErrorCode::KeyTooLongError
        );
        let huge = vec![b' '; DELETE_OBJECTS_BODY_LIMIT + 1];
        assert_eq!(
            DeleteObjectsRequest::parse(&huge).unwrap_err().code(),
            S3ErrorCode::MaxMessageLengthExceeded
        );
    }

    #[test]
    fn merges_upstream_and_denied() {
        let upstream = br#"<?xml version="1.0" encoding="UTF-8"?>
<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Deleted><Key>a&amp;b</Key></Deleted><Error><Key>c</Key><Code>InternalError</Code><Message>m</Message></Error></DeleteResult>"#;
        let denied = DeleteObjectEntry {
            key: "secret<1>".into(),
            version_id: Some("v9".into()),
            ..DeleteObjectEntry::default()
        };
        let merged = merge_delete_result(Some(upstream), &[&denied]).unwrap();
        assert_eq!(
            merged,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Deleted><Key>a&amp;b</Key></Deleted><Error><Key>c</Key><Code>InternalError</Code><Message>m</Message></Error><Error><Key>secret&lt;1&gt;</Key><VersionId>v9</VersionId><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>"
        );
        let only_denied = merge_delete_result(None, &[&denied]).unwrap();
        assert!(only_denied.contains("<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Error><Key>secret&lt;1&gt;</Key>"));
        assert_eq!(
            merge_delete_result(Some(b"<Error/>"), &[])
                .unwrap_err()
                .code(),
            S3ErrorCode::InternalError
        );
    }
}
