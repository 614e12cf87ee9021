//! Object tags: the `x-amz-tagging` header, the PutObjectTagging body, and
//! the `s3:RequestObjectTag/…` / `s3:ExistingObjectTag/…` condition keys.

use crate::error::{S3Error, S3ErrorCode};
use crate::xml;

/// Largest PutObjectTagging body the gateway buffers (10 tags fit in ~5 KiB).
pub const TAGGING_BODY_LIMIT: usize = 64 * 1024;
/// S3's limit on tags per object.
pub const MAX_TAGS: usize = 10;
const MAX_TAG_KEY_CHARS: usize = 128;
const MAX_TAG_VALUE_CHARS: usize = 256;

/// One object tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

impl Tag {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }
}

fn invalid_tag(message: impl Into<String>) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidTag, message)
}

/// S3's tag rules: at most 10, keys 1–128 characters, values up to 256, no
/// duplicate keys, no `aws:` prefix.
fn validate(tags: &[Tag]) -> Result<(), S3Error> {
    if tags.len() > MAX_TAGS {
        return Err(S3Error::new(
            S3ErrorCode::InvalidTag,
            "Object tags cannot be greater than 10",
        ));
    }
    for (i, tag) in tags.iter().enumerate() {
        let key_chars = tag.key.chars().count();
        if key_chars == 0 || key_chars > MAX_TAG_KEY_CHARS {
            return Err(invalid_tag("The TagKey you have provided is invalid"));
        }
        if tag.value.chars().count() > MAX_TAG_VALUE_CHARS {
            return Err(invalid_tag("The TagValue you have provided is invalid"));
        }
        if tag.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(invalid_tag("Your TagKey cannot be prefixed with aws:"));
        }
        if tags[..i].iter().any(|t| t.key == tag.key) {
            return Err(invalid_tag(
                "Cannot provide multiple Tags with the same key",
            ));
        }
    }
    Ok(())
}

/// Parses the `x-amz-tagging` header (`k1=v1&k2=v2`, URL query encoded).
pub fn parse_tagging_header(value: &str) -> Result<Vec<Tag>, S3Error> {
    let tags: Vec<Tag> = form_urlencoded::parse(value.as_bytes())
        .map(|(k, v)| Tag::new(k, v))
        .collect();
    validate(&tags)?;
    Ok(tags)
}

/// Parses a PutObjectTagging body:
/// `<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag>…</TagSet></Tagging>`.
pub fn parse_tagging_xml(body: &[u8]) -> Result<Vec<Tag>, S3Error> {
    if body.len() > TAGGING_BODY_LIMIT {
        return Err(S3Error::from_code(S3ErrorCode::MaxMessageLengthExceeded));
    }
    let malformed = || S3Error::from_code(S3ErrorCode::MalformedXML);
    let root = xml::parse(body).map_err(|_| malformed())?;
    if root.name != "Tagging" {
        return Err(malformed());
    }
    let tag_set = root.child("TagSet").ok_or_else(malformed)?;
    let mut tags = Vec::new();
    for tag in tag_set.children_named("Tag") {
        let key = tag.child("Key").ok_or_else(malformed)?;
        let value = tag.child("Value").ok_or_else(malformed)?;
        tags.push(Tag::new(key.text.clone(), value.text.clone()));
    }
    validate(&tags)?;
    Ok(tags)
}

/// Condition keys for tags a request sets: `s3:RequestObjectTag/<k>` (one
/// per tag) and the multi-valued `s3:RequestObjectTagKeys`.
pub(crate) fn request_tag_keys(tags: &[Tag]) -> Vec<(String, crate::ConditionValues)> {
    let mut keys: Vec<(String, crate::ConditionValues)> = tags
        .iter()
        .map(|t| {
            (
                format!("s3:RequestObjectTag/{}", t.key),
                crate::ConditionValues::Single(t.value.clone()),
            )
        })
        .collect();
    keys.push((
        "s3:RequestObjectTagKeys".to_owned(),
        crate::ConditionValues::Multi(tags.iter().map(|t| t.key.clone()).collect()),
    ));
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_form() {
        let tags = parse_tagging_header("team=a%20b&env=prod&empty=").unwrap();
        assert_eq!(
            tags,
            vec![
                Tag::new("team", "a b"),
                Tag::new("env", "prod"),
                Tag::new("empty", "")
            ]
        );
        assert!(parse_tagging_header("").unwrap().is_empty());
        for bad in [
            "a=1&a=2",
            "aws:x=1",
            "=v",
            &format!("{}=v", "k".repeat(129)),
            &format!("k={}", "v".repeat(257)),
            &(0..11)
                .map(|i| format!("k{i}=v"))
                .collect::<Vec<_>>()
                .join("&"),
        ] {
            assert_eq!(
                parse_tagging_header(bad).unwrap_err().code(),
                S3ErrorCode::InvalidTag,
                "{bad}"
            );
        }
    }

    #[test]
    fn xml_body() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>
  <Tag><Key>team</Key><Value>a &amp; b</Value></Tag>
  <Tag><Key> sp </Key><Value></Value></Tag>
</TagSet></Tagging>"#;
        assert_eq!(
            parse_tagging_xml(body).unwrap(),
            vec![Tag::new("team", "a & b"), Tag::new(" sp ", "")]
        );
        let empty = parse_tagging_xml(b"<Tagging><TagSet/></Tagging>").unwrap();
        assert!(empty.is_empty());
        for bad in [
            &b"<Tagging/>"[..],
            b"<Other><TagSet/></Other>",
            b"<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>",
            b"<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag>",
        ] {
            assert_eq!(
                parse_tagging_xml(bad).unwrap_err().code(),
                S3ErrorCode::MalformedXML
            );
        }
        let dup = b"<Tagging><TagSet><Tag><Key>k</Key><Value>1</Value></Tag><Tag><Key>k</Key><Value>2</Value></Tag></TagSet></Tagging>";
        assert_eq!(
            parse_tagging_xml(dup).unwrap_err().code(),
            S3ErrorCode::InvalidTag
        );
        let huge = vec![b' '; TAGGING_BODY_LIMIT + 1];
        assert_eq!(
            parse_tagging_xml(&huge).unwrap_err().code(),
            S3ErrorCode::MaxMessageLengthExceeded
        );
    }
}
