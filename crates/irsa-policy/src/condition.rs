//! Condition operators, compiled at parse time and evaluated against a
//! [`RequestContext`].

use std::fmt;
use std::net::IpAddr;

use base64::Engine as _;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

use crate::context::{CtxValue, RequestContext};
use crate::error::PolicyError;
use crate::json::Json;
use crate::pattern::{ArnPattern, Syntax, Template};

/// The base operator, without set qualifier or `IfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

const OPERATORS: &[(&str, Operator)] = &[
    ("StringEquals", Operator::StringEquals),
    ("StringNotEquals", Operator::StringNotEquals),
    ("StringEqualsIgnoreCase", Operator::StringEqualsIgnoreCase),
    (
        "StringNotEqualsIgnoreCase",
        Operator::StringNotEqualsIgnoreCase,
    ),
    ("StringLike", Operator::StringLike),
    ("StringNotLike", Operator::StringNotLike),
    ("NumericEquals", Operator::NumericEquals),
    ("NumericNotEquals", Operator::NumericNotEquals),
    ("NumericLessThan", Operator::NumericLessThan),
    ("NumericLessThanEquals", Operator::NumericLessThanEquals),
    ("NumericGreaterThan", Operator::NumericGreaterThan),
    (
        "NumericGreaterThanEquals",
        Operator::NumericGreaterThanEquals,
    ),
    ("DateEquals", Operator::DateEquals),
    ("DateNotEquals", Operator::DateNotEquals),
    ("DateLessThan", Operator::DateLessThan),
    ("DateLessThanEquals", Operator::DateLessThanEquals),
    ("DateGreaterThan", Operator::DateGreaterThan),
    ("DateGreaterThanEquals", Operator::DateGreaterThanEquals),
    ("Bool", Operator::Bool),
    ("BinaryEquals", Operator::BinaryEquals),
    ("IpAddress", Operator::IpAddress),
    ("NotIpAddress", Operator::NotIpAddress),
    ("ArnEquals", Operator::ArnEquals),
    ("ArnLike", Operator::ArnLike),
    ("ArnNotEquals", Operator::ArnNotEquals),
    ("ArnNotLike", Operator::ArnNotLike),
    ("Null", Operator::Null),
];

impl Operator {
    pub fn name(self) -> &'static str {
        OPERATORS
            .iter()
            .find(|(_, op)| *op == self)
            .map_or("?", |(n, _)| n)
    }

    /// Negated operators: a value "matches" when it matches none of the
    /// policy values, and a missing key makes the condition true.
    pub fn is_negated(self) -> bool {
        matches!(
            self,
            Self::StringNotEquals
                | Self::StringNotEqualsIgnoreCase
                | Self::StringNotLike
                | Self::NumericNotEquals
                | Self::DateNotEquals
                | Self::NotIpAddress
                | Self::ArnNotEquals
                | Self::ArnNotLike
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetQualifier {
    ForAnyValue,
    ForAllValues,
}

/// A full condition operator as written, e.g. `ForAllValues:StringLikeIfExists`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionOperator {
    pub qualifier: Option<SetQualifier>,
    pub operator: Operator,
    pub if_exists: bool,
}

impl ConditionOperator {
    pub fn parse(name: &str) -> Result<Self, PolicyError> {
        let invalid = || PolicyError::InvalidConditionOperator(name.to_owned());
        let (qualifier, rest) = if let Some(r) = strip_prefix_ci(name, "ForAnyValue:") {
            (Some(SetQualifier::ForAnyValue), r)
        } else if let Some(r) = strip_prefix_ci(name, "ForAllValues:") {
            (Some(SetQualifier::ForAllValues), r)
        } else {
            (None, name)
        };
        let (base, if_exists) = match strip_suffix_ci(rest, "IfExists") {
            Some(b) => (b, true),
            None => (rest, false),
        };
        let operator = OPERATORS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(base))
            .map(|(_, op)| *op)
            .ok_or_else(invalid)?;
        if operator == Operator::Null && (if_exists || qualifier.is_some()) {
            return Err(invalid());
        }
        Ok(Self {
            qualifier,
            operator,
            if_exists,
        })
    }
}

impl fmt::Display for ConditionOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.qualifier {
            Some(SetQualifier::ForAnyValue) => f.write_str("ForAnyValue:")?,
            Some(SetQualifier::ForAllValues) => f.write_str("ForAllValues:")?,
            None => {}
        }
        f.write_str(self.operator.name())?;
        if self.if_exists {
            f.write_str("IfExists")?;
        }
        Ok(())
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn strip_suffix_ci<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len())?;
    let tail = s.get(cut..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| &s[..cut])
}

/// Parse ISO 8601 (full, without seconds, without offset, date only) or
/// epoch seconds into nanoseconds since the epoch.
pub(crate) fn parse_date(s: &str) -> Option<i128> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let secs: i64 = s.parse().ok()?;
        return OffsetDateTime::from_unix_timestamp(secs)
            .ok()
            .map(OffsetDateTime::unix_timestamp_nanos);
    }
    if !s.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp_nanos());
    }
    let no_seconds = format_description!("[year]-[month]-[day]T[hour]:[minute]Z");
    if let Ok(t) = PrimitiveDateTime::parse(s, &no_seconds) {
        return Some(t.assume_utc().unix_timestamp_nanos());
    }
    let no_offset = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    if let Ok(t) = PrimitiveDateTime::parse(s, &no_offset) {
        return Some(t.assume_utc().unix_timestamp_nanos());
    }
    let date_only = format_description!("[year]-[month]-[day]");
    if let Ok(d) = Date::parse(s, &date_only) {
        return Some(d.midnight().assume_utc().unix_timestamp_nanos());
    }
    None
}

/// An IPv4 or IPv6 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub(crate) fn parse(s: &str) -> Option<Cidr> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (s.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Cidr { addr, prefix })
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let ip = match (self.addr, ip) {
            // An IPv4-mapped IPv6 client matches IPv4 networks.
            (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            _ => ip,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.prefix))
                };
                u32::from(net) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.prefix))
                };
                u128::from(net) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// Policy values, compiled for their operator. Unparseable values (a bad
/// number, date or CIDR) never match.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Values {
    Strings(Box<[Template]>),
    Numbers(Box<[Option<f64>]>),
    Dates(Box<[Option<i128>]>),
    Bools(Box<[Option<bool>]>),
    Binary(Box<[Option<Vec<u8>>]>),
    Cidrs(Box<[Option<Cidr>]>),
    Arns(Box<[ArnPattern]>),
}

/// One `key: values` entry of an operator block.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionEntry {
    /// The key as written in the policy.
    pub key: String,
    pub(crate) key_lc: Box<str>,
    /// The values as written (JSON numbers and booleans as text).
    pub values: Vec<String>,
    pub(crate) compiled: Values,
}

/// One operator with its keys (`"StringEquals": {…}`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionBlock {
    pub operator: ConditionOperator,
    /// The operator as written.
    pub operator_name: String,
    pub entries: Vec<ConditionEntry>,
}

fn scalar_text(v: &Json) -> Result<String, PolicyError> {
    match v {
        Json::String(s) => Ok(s.clone()),
        Json::Number(n) => Ok(n.to_string()),
        Json::Bool(b) => Ok(b.to_string()),
        other => Err(PolicyError::syntax(format!(
            "condition value must be a string, number or boolean, not {}",
            other.type_name()
        ))),
    }
}

fn compile_values(op: Operator, raw: &[String], variables: bool) -> Values {
    use Operator as O;
    match op {
        O::StringEquals | O::StringNotEquals => Values::Strings(
            raw.iter()
                .map(|v| {
                    Template::compile(
                        v,
                        Syntax {
                            wildcards: false,
                            variables,
                            lowercase: false,
                        },
                    )
                })
                .collect(),
        ),
        O::StringEqualsIgnoreCase | O::StringNotEqualsIgnoreCase => Values::Strings(
            raw.iter()
                .map(|v| {
                    Template::compile(
                        v,
                        Syntax {
                            wildcards: false,
                            variables,
                            lowercase: false,
                        },
                    )
                })
                .collect(),
        ),
        O::StringLike | O::StringNotLike => Values::Strings(
            raw.iter()
                .map(|v| {
                    Template::compile(
                        v,
                        Syntax {
                            wildcards: true,
                            variables,
                            lowercase: false,
                        },
                    )
                })
                .collect(),
        ),
        O::NumericEquals
        | O::NumericNotEquals
        | O::NumericLessThan
        | O::NumericLessThanEquals
        | O::NumericGreaterThan
        | O::NumericGreaterThanEquals => Values::Numbers(
            raw.iter()
                .map(|v| v.trim().parse::<f64>().ok().filter(|n| n.is_finite()))
                .collect(),
        ),
        O::DateEquals
        | O::DateNotEquals
        | O::DateLessThan
        | O::DateLessThanEquals
        | O::DateGreaterThan
        | O::DateGreaterThanEquals => Values::Dates(raw.iter().map(|v| parse_date(v)).collect()),
        O::Bool | O::Null => Values::Bools(raw.iter().map(|v| parse_bool(v)).collect()),
        O::BinaryEquals => Values::Binary(
            raw.iter()
                .map(|v| {
                    base64::engine::general_purpose::STANDARD
                        .decode(v.trim())
                        .ok()
                })
                .collect(),
        ),
        O::IpAddress | O::NotIpAddress => {
            Values::Cidrs(raw.iter().map(|v| Cidr::parse(v)).collect())
        }
        O::ArnEquals | O::ArnLike | O::ArnNotEquals | O::ArnNotLike => Values::Arns(
            raw.iter()
                .map(|v| ArnPattern::compile(v, variables))
                .collect(),
        ),
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Parse a statement's `Condition` object.
pub(crate) fn parse_condition(
    json: &Json,
    variables: bool,
) -> Result<Vec<ConditionBlock>, PolicyError> {
    let Json::Object(ops) = json else {
        return Err(PolicyError::syntax("Condition must be an object"));
    };
    let mut blocks = Vec::with_capacity(ops.len());
    for (name, body) in ops {
        let operator = ConditionOperator::parse(name)?;
        let Json::Object(keys) = body else {
            return Err(PolicyError::syntax(format!(
                "condition operator {name} must map to an object"
            )));
        };
        let mut entries = Vec::with_capacity(keys.len());
        for (key, value) in keys {
            if key.is_empty() {
                return Err(PolicyError::syntax("empty condition key"));
            }
            if !key.contains(':') {
                return Err(PolicyError::MissingVendor);
            }
            let raw: Vec<String> = match value {
                Json::Array(items) => items.iter().map(scalar_text).collect::<Result<_, _>>()?,
                scalar => vec![scalar_text(scalar)?],
            };
            if raw.is_empty() {
                return Err(PolicyError::syntax(format!(
                    "condition key {key} has no values"
                )));
            }
            let compiled = compile_values(operator.operator, &raw, variables);
            entries.push(ConditionEntry {
                key: key.clone(),
                key_lc: key.to_lowercase().into(),
                values: raw,
                compiled,
            });
        }
        blocks.push(ConditionBlock {
            operator,
            operator_name: name.clone(),
            entries,
        });
    }
    Ok(blocks)
}

/// Does one context value match at least one policy value (positive sense)?
fn value_matches(op: Operator, values: &Values, v: &CtxValue, ctx: &RequestContext) -> bool {
    use Operator as O;
    match (op, values) {
        (
            O::StringEquals | O::StringNotEquals | O::StringLike | O::StringNotLike,
            Values::Strings(ts),
        ) => ts.iter().any(|t| t.matches(&v.text, false, ctx)),
        (O::StringEqualsIgnoreCase | O::StringNotEqualsIgnoreCase, Values::Strings(ts)) => {
            ts.iter().any(|t| t.matches(&v.text, true, ctx))
        }
        (_, Values::Numbers(ns)) => {
            let Some(x) = v.number() else { return false };
            #[allow(clippy::float_cmp)] // IAM compares numbers exactly
            ns.iter().flatten().any(|&n| match op {
                O::NumericEquals | O::NumericNotEquals => x == n,
                O::NumericLessThan => x < n,
                O::NumericLessThanEquals => x <= n,
                O::NumericGreaterThan => x > n,
                O::NumericGreaterThanEquals => x >= n,
                _ => false,
            })
        }
        (_, Values::Dates(ds)) => {
            let Some(x) = v.date() else { return false };
            ds.iter().flatten().any(|&d| match op {
                O::DateEquals | O::DateNotEquals => x == d,
                O::DateLessThan => x < d,
                O::DateLessThanEquals => x <= d,
                O::DateGreaterThan => x > d,
                O::DateGreaterThanEquals => x >= d,
                _ => false,
            })
        }
        (O::Bool, Values::Bools(bs)) => {
            let Some(x) = parse_bool(&v.text) else {
                return false;
            };
            bs.iter().flatten().any(|&b| b == x)
        }
        (_, Values::Binary(bins)) => {
            let Ok(x) = base64::engine::general_purpose::STANDARD.decode(v.text.trim()) else {
                return false;
            };
            bins.iter().flatten().any(|b| *b == x)
        }
        (_, Values::Cidrs(cs)) => {
            let Some(ip) = v.ip() else { return false };
            cs.iter().flatten().any(|c| c.contains(ip))
        }
        (_, Values::Arns(ps)) => ps.iter().any(|p| p.matches(&v.text, ctx)),
        _ => false,
    }
}

/// Evaluate one key of an operator block.
pub(crate) fn entry_holds(
    op: &ConditionOperator,
    entry: &ConditionEntry,
    ctx: &RequestContext,
) -> bool {
    let found = ctx.get_lc(&entry.key_lc).filter(|v| !v.is_empty());
    if op.operator == Operator::Null {
        let absent = found.is_none();
        return match &entry.compiled {
            Values::Bools(bs) => bs.iter().flatten().any(|&want| want == absent),
            _ => false,
        };
    }
    let Some(found) = found else {
        if op.if_exists {
            return true;
        }
        return match op.qualifier {
            Some(SetQualifier::ForAllValues) => true,
            Some(SetQualifier::ForAnyValue) => false,
            None => op.operator.is_negated(),
        };
    };
    let negated = op.operator.is_negated();
    let holds = |v: &CtxValue| value_matches(op.operator, &entry.compiled, v, ctx) != negated;
    match op.qualifier {
        // Negated single-valued operators are a NOR over values.
        None if negated => !found
            .values
            .iter()
            .any(|v| value_matches(op.operator, &entry.compiled, v, ctx)),
        None | Some(SetQualifier::ForAnyValue) => found.values.iter().any(holds),
        Some(SetQualifier::ForAllValues) => found.values.iter().all(holds),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_names() {
        let op = ConditionOperator::parse("ForAllValues:StringLikeIfExists").unwrap();
        assert_eq!(op.qualifier, Some(SetQualifier::ForAllValues));
        assert_eq!(op.operator, Operator::StringLike);
        assert!(op.if_exists);
        assert_eq!(op.to_string(), "ForAllValues:StringLikeIfExists");
        assert!(ConditionOperator::parse("StringEq").is_err());
        assert!(ConditionOperator::parse("NullIfExists").is_err());
        assert_eq!(
            ConditionOperator::parse("Foo").unwrap_err().to_string(),
            "Invalid Condition type : Foo"
        );
    }

    #[test]
    fn dates() {
        let t = parse_date("2019-07-16T12:00:00Z").unwrap();
        assert_eq!(parse_date("1563278400"), Some(t));
        assert_eq!(parse_date("2019-07-16T12:00Z"), Some(t));
        assert_eq!(parse_date("2019-07-16T12:00:00"), Some(t));
        assert_eq!(parse_date("2019-07-16T14:00:00+02:00"), Some(t));
        assert_eq!(
            parse_date("2019-07-16"),
            Some(t - 12 * 3600 * 1_000_000_000)
        );
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_date(""), None);
    }

    #[test]
    fn cidrs() {
        let c = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(c.contains("203.0.113.9".parse().unwrap()));
        assert!(!c.contains("203.0.114.9".parse().unwrap()));
        assert!(c.contains("::ffff:203.0.113.9".parse().unwrap()));
        assert!(!c.contains("2001:db8::1".parse().unwrap()));
        let c6 = Cidr::parse("2001:DB8:1234:5678::/64").unwrap();
        assert!(c6.contains("2001:db8:1234:5678::1".parse().unwrap()));
        assert!(!c6.contains("2001:db8:1234:5679::1".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.1")
            .unwrap()
            .contains("10.0.0.1".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("nonsense").is_none());
    }
}
