//! Table-driven operation specs: for each operation its input members with
//! the constraints botocore's service models define (required, min/max
//! length or range, pattern, enum values). The tables themselves are
//! generated (see `tools/gen_model.py`); this module is their vocabulary.

use std::sync::OnceLock;

use regex::Regex;

use crate::Service;

/// The kind of a shape, with its element or member specs.
#[derive(Debug)]
pub enum ShapeKind {
    String,
    Integer,
    Long,
    Boolean,
    Timestamp,
    List(&'static Shape),
    Structure(&'static [Member]),
}

/// A shape of the service model with its constraints. `min`/`max` bound the
/// length of strings (in UTF-16 units, as AWS counts), the element count of
/// lists and the value of numbers.
#[derive(Debug)]
pub struct Shape {
    pub name: &'static str,
    pub kind: ShapeKind,
    pub min: Option<i64>,
    pub max: Option<i64>,
    /// The model's (Java-syntax) regular expression; the whole value must match.
    pub pattern: Option<&'static str>,
    pub enum_values: &'static [&'static str],
    /// Values of sensitive shapes are never echoed in error messages.
    pub sensitive: bool,
    pub(crate) regex: OnceLock<Option<Regex>>,
}

/// A member of a structure or operation input, by its wire name.
#[derive(Debug)]
pub struct Member {
    pub name: &'static str,
    pub required: bool,
    pub shape: &'static Shape,
}

/// One operation: name, service and input members.
#[derive(Debug)]
pub struct OperationSpec {
    pub name: &'static str,
    pub service: Service,
    pub input: &'static [Member],
}

impl Shape {
    /// The compiled pattern, or `None` when the shape has none. A pattern
    /// that does not translate is logged and not enforced (a test checks
    /// that every pattern of the tables compiles).
    pub fn regex(&self) -> Option<&Regex> {
        let pattern = self.pattern?;
        self.regex
            .get_or_init(|| match compile_java_pattern(pattern) {
                Ok(re) => Some(re),
                Err(error) => {
                    tracing::warn!(shape = self.name, %error, "model pattern does not compile; not enforced");
                    None
                }
            })
            .as_ref()
    }
}

/// Compiles a service-model (Java) pattern as a full-match Rust regex.
pub fn compile_java_pattern(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("^(?:{})$", java_to_rust_regex(pattern)))
}

/// Translates the Java regex dialect of the models to the `regex` crate's:
/// `\uXXXX` → `\x{XXXX}` (the models also write supplementary code points
/// as `\u10000`/`\u10FFFF`, meaning U+10000/U+10FFFF, so a longer hex run
/// that is still a code point is taken whole); `\w` and `\d` are ASCII in
/// Java but Unicode in Rust, so they become explicit ASCII classes (a
/// nested class is valid inside a class too).
pub fn java_to_rust_regex(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && i + 1 < chars.len() {
            match chars[i + 1] {
                'u' => {
                    let run: String = chars[i + 2..]
                        .iter()
                        .take(6)
                        .take_while(|c| c.is_ascii_hexdigit())
                        .collect();
                    let take = if run.len() > 4
                        && u32::from_str_radix(&run, 16).is_ok_and(|v| v <= 0x10_FFFF)
                    {
                        run.len()
                    } else {
                        run.len().min(4)
                    };
                    out.push_str("\\x{");
                    out.push_str(&run[..take]);
                    out.push('}');
                    i += 2 + take;
                    continue;
                }
                'w' => {
                    out.push_str("[0-9A-Za-z_]");
                    i += 2;
                    continue;
                }
                'd' => {
                    out.push_str("[0-9]");
                    i += 2;
                    continue;
                }
                other => {
                    out.push('\\');
                    out.push(other);
                    i += 2;
                    continue;
                }
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translation() {
        assert_eq!(java_to_rust_regex(r"[\w+=,.@-]*"), r"[[0-9A-Za-z_]+=,.@-]*");
        assert_eq!(
            java_to_rust_regex(r"[\u0009\u000A\u0020-\u00FF\u10000-\u10FFFF]+"),
            r"[\x{0009}\x{000A}\x{0020}-\x{00FF}\x{10000}-\x{10FFFF}]+"
        );
        assert_eq!(
            java_to_rust_regex(r"\u002F[\u0021-\u007F]*"),
            r"\x{002F}[\x{0021}-\x{007F}]*"
        );
    }

    #[test]
    fn session_name_pattern_is_ascii_only() {
        let re = compile_java_pattern(r"[\w+=,.@-]*").unwrap();
        assert!(re.is_match("my-session_1+=,.@"));
        assert!(!re.is_match("sessión"));
        assert!(!re.is_match("a b"));
        assert!(!re.is_match("a\nb"));
    }

    #[test]
    fn full_match_only() {
        let re = compile_java_pattern(r"[\w]+").unwrap();
        assert!(re.is_match("abc"));
        assert!(!re.is_match("abc!"));
        let path = compile_java_pattern(r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)").unwrap();
        assert!(path.is_match("/"));
        assert!(path.is_match("/a/b/"));
        assert!(!path.is_match("/a"));
        assert!(!path.is_match("x/"));
    }

    #[test]
    fn supplementary_planes() {
        let re = compile_java_pattern(
            r"[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+",
        )
        .unwrap();
        assert!(re.is_match("arn:aws:iam::123456789012:role/é😀"));
        assert!(!re.is_match("a\u{1}b"));
    }
}
