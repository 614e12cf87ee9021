//! Small XML helpers over quick-xml: escaping for the documents we write and
//! a bounded element tree for the small bodies we read (Tagging, Delete,
//! an upstream DeleteResult).

use std::borrow::Cow;

use quick_xml::events::Event;
use quick_xml::Reader;

/// What S3 puts before every XML document it sends.
pub(crate) const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// S3's response namespace.
pub(crate) const S3_NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Escapes text for element content (`&`, `<`, `>`, `"`, `'`), and `\r`
/// as a character reference: a parser would turn a literal CR into LF, and
/// object keys must survive byte-exact.
pub(crate) fn escape(text: &str) -> Cow<'_, str> {
    let escaped = quick_xml::escape::escape(text);
    if escaped.contains('\r') {
        Cow::Owned(escaped.replace('\r', "&#13;"))
    } else {
        escaped
    }
}

/// Bounds that keep a hostile body from costing more than its size.
const MAX_DEPTH: usize = 8;

/// One element: its local name (namespace prefix dropped), its children,
/// and its text content exactly as sent (entities resolved, never trimmed:
/// object keys may start or end with spaces).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Element {
    pub name: String,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// Why a body is not the XML we accept; callers map it to `MalformedXML`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XmlError(pub String);

fn local_name(raw: &[u8]) -> Result<String, XmlError> {
    let name =
        std::str::from_utf8(raw).map_err(|_| XmlError("element name is not UTF-8".into()))?;
    Ok(name.rsplit(':').next().unwrap_or(name).to_owned())
}

/// Parses `body` into its root element. Rejects DTDs (no entity games),
/// mismatched tags, unknown entities, more than one root, and nesting
/// deeper than a few levels.
pub(crate) fn parse(body: &[u8]) -> Result<Element, XmlError> {
    let text = std::str::from_utf8(body).map_err(|_| XmlError("body is not UTF-8".into()))?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| XmlError(format!("not well-formed: {e}")))?;
        match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err(XmlError("content after the root element".into()));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError("nesting too deep".into()));
                }
                stack.push(Element {
                    name: local_name(start.name().as_ref())?,
                    ..Element::default()
                });
            }
            Event::Empty(empty) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError("nesting too deep".into()));
                }
                let element = Element {
                    name: local_name(empty.name().as_ref())?,
                    ..Element::default()
                };
                attach(&mut stack, &mut root, element)?;
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| XmlError("unbalanced end tag".into()))?;
                attach(&mut stack, &mut root, element)?;
            }
            Event::Text(t) => {
                let decoded = t.decode().map_err(|e| XmlError(format!("bad text: {e}")))?;
                push_text(&mut stack, &decoded)?;
            }
            Event::CData(c) => {
                let decoded = c
                    .decode()
                    .map_err(|e| XmlError(format!("bad CDATA: {e}")))?;
                push_text(&mut stack, &decoded)?;
            }
            Event::GeneralRef(r) => {
                let char_ref = r
                    .resolve_char_ref()
                    .map_err(|e| XmlError(format!("bad character reference: {e}")))?;
                let resolved = if let Some(ch) = char_ref {
                    ch.to_string()
                } else {
                    let name = r
                        .decode()
                        .map_err(|e| XmlError(format!("bad entity: {e}")))?;
                    quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or_else(|| XmlError(format!("unknown entity &{name};")))?
                        .to_owned()
                };
                push_text(&mut stack, &resolved)?;
            }
            Event::DocType(_) => return Err(XmlError("DTDs are not accepted".into())),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError("unclosed element".into()));
    }
    root.ok_or_else(|| XmlError("no root element".into()))
}

fn attach(
    stack: &mut [Element],
    root: &mut Option<Element>,
    element: Element,
) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(parent) => {
            parent.children.push(element);
            Ok(())
        }
        None if root.is_none() => {
            *root = Some(element);
            Ok(())
        }
        None => Err(XmlError("more than one root element".into())),
    }
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(current) => {
            current.text.push_str(text);
            Ok(())
        }
        // Whitespace around the root is fine; anything else is not XML.
        None if text.trim().is_empty() => Ok(()),
        None => Err(XmlError("text outside the root element".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_text_exact_and_resolves_entities() {
        let root = parse(
            b"<?xml version=\"1.0\"?>\n<a xmlns=\"x\"><b> sp &amp; &lt;&#233;&#x41; </b><c/><d><![CDATA[<x>]]></d></a>",
        )
        .unwrap();
        assert_eq!(root.name, "a");
        assert_eq!(root.child("b").unwrap().text, " sp & <\u{e9}A ");
        assert!(root.child("c").unwrap().text.is_empty());
        assert_eq!(root.child("d").unwrap().text, "<x>");
    }

    #[test]
    fn rejects_bad_documents() {
        for bad in [
            &b"<a><b></a>"[..],
            b"<a>",
            b"",
            b"<a/><b/>",
            b"<a>&foo;</a>",
            b"<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
            b"text<a/>",
            b"<a><b><c><d><e><f><g><h><i/></h></g></f></e></d></c></b></a>",
            b"\xff<a/>",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn drops_namespace_prefixes() {
        let root =
            parse(b"<s3:Delete xmlns:s3=\"x\"><s3:Quiet>true</s3:Quiet></s3:Delete>").unwrap();
        assert_eq!(root.name, "Delete");
        assert_eq!(root.child("Quiet").unwrap().text, "true");
    }
}
