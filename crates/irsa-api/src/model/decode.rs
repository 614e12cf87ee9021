//! Spec-driven decoding of Query parameters into validated values.
//!
//! Order of checks, as AWS reports them: list-layout problems are
//! `InvalidQueryParameter`; a value that does not parse as its type
//! (integer, boolean, timestamp) is `InvalidParameterValue`; all constraint
//! violations (an absent required member, length, pattern, enum, range,
//! list size) are then reported together in one `ValidationError`, the
//! Smithy validation shape IAM and STS answer with:
//! "2 validation errors detected: Value null at 'roleName' failed to
//! satisfy constraint: Member must not be null; Value 'x' at
//! 'roleSessionName' failed to satisfy constraint: …". Paths are AWS's:
//! lower-camel member names, list elements as `tags.1.member.key`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use time::OffsetDateTime;

use super::spec::{Member, OperationSpec, Shape, ShapeKind};
use crate::error::{ApiError, ErrorCode};
use crate::protocol::query::{keys_with_prefix, list_presence, ListPresence, Params};
use crate::Service;

/// A decoded value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    Timestamp(OffsetDateTime),
    List(Vec<Value>),
    Struct(Fields),
}

/// Decoded members of a structure, by wire name. Typed requests take their
/// fields out of it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fields(BTreeMap<&'static str, Value>);

impl Fields {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    pub fn string(&mut self, name: &str) -> Option<String> {
        match self.0.remove(name)? {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A sensitive string, boxed so it never prints.
    pub fn secret(&mut self, name: &str) -> Option<irsa_core::SecretString> {
        self.string(name).map(irsa_core::SecretString::new)
    }

    pub fn i32(&mut self, name: &str) -> Option<i32> {
        match self.0.remove(name)? {
            Value::Int(i) => i32::try_from(i).ok(),
            _ => None,
        }
    }

    pub fn i64(&mut self, name: &str) -> Option<i64> {
        match self.0.remove(name)? {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }

    pub fn bool(&mut self, name: &str) -> Option<bool> {
        match self.0.remove(name)? {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn timestamp(&mut self, name: &str) -> Option<OffsetDateTime> {
        match self.0.remove(name)? {
            Value::Timestamp(t) => Some(t),
            _ => None,
        }
    }

    pub fn string_list(&mut self, name: &str) -> Vec<String> {
        match self.0.remove(name) {
            Some(Value::List(items)) => items
                .into_iter()
                .filter_map(|v| match v {
                    Value::Str(s) => Some(s),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    pub fn struct_list<T>(&mut self, name: &str, build: fn(&mut Fields) -> T) -> Vec<T> {
        match self.0.remove(name) {
            Some(Value::List(items)) => items
                .into_iter()
                .filter_map(|v| match v {
                    Value::Struct(mut f) => Some(build(&mut f)),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s),
            Value::Int(i) => write!(f, "{i}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Timestamp(t) => f.write_str(&crate::protocol::response::format_timestamp(*t)),
            Value::List(items) => {
                f.write_char('[')?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_char(']')
            }
            Value::Struct(fields) => {
                f.write_char('{')?;
                for (i, (k, v)) in fields.0.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}={v}")?;
                }
                f.write_char('}')
            }
        }
    }
}

/// Decodes and validates an operation's input from its parameters.
///
/// After the model's constraints, IAM's own request rule on tags: the keys
/// of one request's `Tags` are unique, compared case-insensitively
/// (`InvalidInput`, checked only once the model's constraints hold, as IAM
/// validates the shape before the content).
pub fn decode_operation(op: &OperationSpec, params: &Params) -> Result<Fields, ApiError> {
    let mut violations = Vec::new();
    let fields = decode_struct(op.input, "", "", params, &mut violations)?;
    if !violations.is_empty() {
        return Err(ApiError::validation(&violations));
    }
    if op.service == Service::Iam {
        if let Some(Value::List(tags)) = fields.get(TAGS_MEMBER) {
            let keys = tags.iter().filter_map(|tag| match tag {
                Value::Struct(f) => match f.get(TAG_KEY_MEMBER) {
                    Some(Value::Str(key)) => Some(key.as_str()),
                    _ => None,
                },
                _ => None,
            });
            super::checks::unique_tag_keys(keys)?;
        }
    }
    Ok(fields)
}

/// The error for an absent required parameter `wire_name` (e.g.
/// `RoleArn`) of an action decoded by hand (irsa's own extension actions):
/// the same `ValidationError` a generated action gives, "1 validation error
/// detected: Value null at 'roleArn' failed to satisfy constraint: Member
/// must not be null".
pub fn absent_member(wire_name: &str) -> ApiError {
    ApiError::validation(&[null_violation(&lower_first(wire_name))])
}

/// The wire names of a tagging request's tag list and of a tag's key.
const TAGS_MEMBER: &str = "Tags";
const TAG_KEY_MEMBER: &str = "Key";

fn decode_struct(
    members: &'static [Member],
    wire_prefix: &str,
    path_prefix: &str,
    params: &Params,
    violations: &mut Vec<String>,
) -> Result<Fields, ApiError> {
    let mut fields = Fields::default();
    for member in members {
        // Top-level members (most of them) need no new strings.
        let wire: Cow<'_, str> = if wire_prefix.is_empty() {
            Cow::Borrowed(member.name)
        } else {
            Cow::Owned(format!("{wire_prefix}{}", member.name))
        };
        let path = if path_prefix.is_empty() {
            lower_first(member.name)
        } else {
            format!("{path_prefix}{}", lower_first(member.name))
        };
        if let Some(value) = decode_member(member.shape, &wire, &path, params, violations)? {
            fields.0.insert(member.name, value);
        } else if member.required {
            violations.push(null_violation(&path));
        }
    }
    Ok(fields)
}

/// Decodes one value; `Ok(None)` when absent.
fn decode_member(
    shape: &'static Shape,
    wire: &str,
    path: &str,
    params: &Params,
    violations: &mut Vec<String>,
) -> Result<Option<Value>, ApiError> {
    match &shape.kind {
        ShapeKind::List(element) => {
            let len = match list_presence(params, wire)? {
                ListPresence::Absent => return Ok(None),
                ListPresence::Present { len } => len,
            };
            let mut items = Vec::with_capacity(len);
            for i in 1..=len {
                let element_wire = format!("{wire}.member.{i}");
                let element_path = format!("{path}.{i}.member");
                match decode_member(element, &element_wire, &element_path, params, violations)? {
                    Some(v) => items.push(v),
                    // An element with none of its members: null, as AWS
                    // sees a list holding nothing at that index.
                    None => violations.push(null_violation(&element_path)),
                }
            }
            let value = Value::List(items);
            check_length(shape, &value, len, path, violations);
            Ok(Some(value))
        }
        ShapeKind::Structure(members) => {
            let prefix = format!("{wire}.");
            if keys_with_prefix(params, &prefix).next().is_none() {
                return Ok(None);
            }
            let fields = decode_struct(members, &prefix, &format!("{path}."), params, violations)?;
            Ok(Some(Value::Struct(fields)))
        }
        _ => match params.get(wire) {
            Some(raw) => decode_scalar(shape, raw, wire, path, violations).map(Some),
            None => Ok(None),
        },
    }
}

fn decode_scalar(
    shape: &'static Shape,
    raw: &str,
    wire: &str,
    path: &str,
    violations: &mut Vec<String>,
) -> Result<Value, ApiError> {
    Ok(match &shape.kind {
        ShapeKind::Integer | ShapeKind::Long => {
            let parsed = raw
                .parse::<i64>()
                .ok()
                .filter(|n| matches!(shape.kind, ShapeKind::Long) || i32::try_from(*n).is_ok());
            let Some(n) = parsed else {
                return Err(invalid_value(wire, raw, "an integer"));
            };
            let v = Value::Int(n);
            check_range(shape, n, &v, path, violations);
            v
        }
        ShapeKind::Boolean => match raw.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(invalid_value(wire, raw, "true or false")),
        },
        ShapeKind::Timestamp => {
            match OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339) {
                Ok(t) => Value::Timestamp(t),
                Err(_) => return Err(invalid_value(wire, raw, "an ISO 8601 timestamp")),
            }
        }
        // Strings (lists and structures never reach here).
        _ => {
            let v = Value::Str(raw.to_owned());
            check_string(shape, raw, &v, path, violations);
            v
        }
    })
}

fn invalid_value(wire: &str, value: &str, expected: &str) -> ApiError {
    let shown: String = value.chars().take(64).collect();
    ApiError::new(
        ErrorCode::InvalidParameterValue,
        format!("Value ({shown}) for parameter {wire} is invalid. Expected {expected}."),
    )
}

fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    let mut lowered = String::with_capacity(name.len());
    if let Some(first) = chars.next() {
        lowered.push(first.to_ascii_lowercase());
        lowered.push_str(chars.as_str());
    }
    lowered
}

/// An absent required member (or list element), in AWS's words.
fn null_violation(path: &str) -> String {
    format!("Value null at '{path}' failed to satisfy constraint: Member must not be null")
}

fn violation(shape: &Shape, value: &Value, path: &str, constraint: &str) -> String {
    if shape.sensitive {
        format!("Value at '{path}' failed to satisfy constraint: {constraint}")
    } else {
        format!("Value '{value}' at '{path}' failed to satisfy constraint: {constraint}")
    }
}

fn check_string(shape: &Shape, raw: &str, value: &Value, path: &str, violations: &mut Vec<String>) {
    // AWS (Java) counts UTF-16 code units; for ASCII (tokens, ARNs,
    // names: nearly every value) that is the byte length.
    let len = if raw.is_ascii() {
        raw.len()
    } else {
        raw.encode_utf16().count()
    };
    check_length(shape, value, len, path, violations);
    if let Some(re) = shape.regex() {
        if !re.is_match(raw) {
            let pattern = shape.pattern.unwrap_or_default();
            violations.push(violation(
                shape,
                value,
                path,
                &format!("Member must satisfy regular expression pattern: {pattern}"),
            ));
        }
    }
    if !shape.enum_values.is_empty() && !shape.enum_values.contains(&raw) {
        violations.push(violation(
            shape,
            value,
            path,
            &format!(
                "Member must satisfy enum value set: [{}]",
                shape.enum_values.join(", ")
            ),
        ));
    }
}

/// Length bounds of strings and lists (AWS words both as "length").
fn check_length(
    shape: &Shape,
    value: &Value,
    len: usize,
    path: &str,
    violations: &mut Vec<String>,
) {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    if let Some(min) = shape.min {
        if len < min {
            violations.push(violation(
                shape,
                value,
                path,
                &format!("Member must have length greater than or equal to {min}"),
            ));
        }
    }
    if let Some(max) = shape.max {
        if len > max {
            violations.push(violation(
                shape,
                value,
                path,
                &format!("Member must have length less than or equal to {max}"),
            ));
        }
    }
}

fn check_range(shape: &Shape, n: i64, value: &Value, path: &str, violations: &mut Vec<String>) {
    if let Some(min) = shape.min {
        if n < min {
            violations.push(violation(
                shape,
                value,
                path,
                &format!("Member must have value greater than or equal to {min}"),
            ));
        }
    }
    if let Some(max) = shape.max {
        if n > max {
            violations.push(violation(
                shape,
                value,
                path,
                &format!("Member must have value less than or equal to {max}"),
            ));
        }
    }
}
