//! Table tests for every condition operator, qualifier and IfExists.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use irsa_policy::{
    evaluate, ContextValues, Decision, Policy, PolicyKind, PolicySet, PolicySource, RequestContext,
    RequestPrincipal,
};
use time::OffsetDateTime;

/// `Some(values)` sets the key (single value if one element and `multi` false).
#[derive(Clone)]
enum Ctx {
    Absent,
    One(&'static str),
    Many(&'static [&'static str]),
}

fn ctx_with(key: &str, v: &Ctx) -> RequestContext {
    let mut c = RequestContext::new(
        RequestPrincipal::user(
            "arn:aws:iam::123456789012:user/Bob",
            "123456789012",
            "Bob",
            "AIDAEXAMPLEEXAMPLE1",
        ),
        "s3:GetObject",
        "arn:aws:s3:::bucket/key",
        OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
    )
    .with("aws:PrincipalTag/team", "red");
    match v {
        Ctx::Absent => {}
        Ctx::One(s) => c.insert(key, *s),
        Ctx::Many(vs) => c.insert(key, ContextValues::multi(vs.iter().copied())),
    }
    c
}

fn holds(operator: &str, key: &str, values: &str, v: &Ctx) -> bool {
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{{"{operator}":{{"{key}":{values}}}}}}}}}"#
    );
    let policy =
        Policy::parse(&doc, PolicyKind::Identity).unwrap_or_else(|e| panic!("{doc}: {e:?}"));
    let sources = [PolicySource::new("p", &policy)];
    evaluate(&ctx_with(key, v), &PolicySet::identity(&sources)) == Decision::Allow
}

use Ctx::{Absent, Many, One};

#[allow(clippy::type_complexity)]
fn run(table: &[(&str, &str, &str, Ctx, bool)]) {
    for (op, key, values, v, want) in table {
        let v = v.clone();
        let got = holds(op, key, values, &v);
        let shown = match &v {
            Absent => "absent".to_owned(),
            One(s) => format!("{s:?}"),
            Many(vs) => format!("{vs:?}"),
        };
        assert_eq!(got, *want, "{op} {key} {values} with {shown}");
    }
}

#[test]
fn string_operators() {
    run(&[
        ("StringEquals", "aws:k", r#""abc""#, One("abc"), true),
        ("StringEquals", "aws:k", r#""abc""#, One("ABC"), false),
        ("StringEquals", "aws:k", r#"["x","abc"]"#, One("abc"), true),
        ("StringEquals", "aws:k", r#""a*""#, One("abc"), false),
        ("StringEquals", "aws:k", r#""abc""#, Absent, false),
        ("StringNotEquals", "aws:k", r#""abc""#, One("abd"), true),
        (
            "StringNotEquals",
            "aws:k",
            r#"["abd","abc"]"#,
            One("abc"),
            false,
        ),
        ("StringNotEquals", "aws:k", r#""abc""#, Absent, true),
        (
            "StringEqualsIgnoreCase",
            "aws:k",
            r#""ABC""#,
            One("abc"),
            true,
        ),
        (
            "StringEqualsIgnoreCase",
            "aws:k",
            r#""ABC""#,
            One("abd"),
            false,
        ),
        (
            "StringNotEqualsIgnoreCase",
            "aws:k",
            r#""ABC""#,
            One("abc"),
            false,
        ),
        (
            "StringNotEqualsIgnoreCase",
            "aws:k",
            r#""ABC""#,
            One("x"),
            true,
        ),
        (
            "StringLike",
            "aws:k",
            r#""home/*""#,
            One("home/bob/x"),
            true,
        ),
        ("StringLike", "aws:k", r#""home/?""#, One("home/ab"), false),
        ("StringLike", "aws:k", r#""Home/*""#, One("home/x"), false),
        ("StringNotLike", "aws:k", r#""home/*""#, One("work/x"), true),
        (
            "StringNotLike",
            "aws:k",
            r#""home/*""#,
            One("home/x"),
            false,
        ),
        ("StringNotLike", "aws:k", r#""home/*""#, Absent, true),
        // Key names are case-insensitive, values are not.
        ("StringEquals", "AWS:K", r#""abc""#, One("abc"), true),
        // Variables.
        (
            "StringEquals",
            "aws:k",
            r#""${aws:username}""#,
            One("Bob"),
            true,
        ),
        (
            "StringEquals",
            "aws:k",
            r#""${aws:PrincipalTag/team}-x""#,
            One("red-x"),
            true,
        ),
        (
            "StringEquals",
            "aws:k",
            r#""${aws:nothere}""#,
            One(""),
            false,
        ),
        (
            "StringEquals",
            "aws:k",
            r#""${aws:nothere, 'dflt'}""#,
            One("dflt"),
            true,
        ),
        ("StringLike", "aws:k", r#""${*}""#, One("x"), false),
        ("StringLike", "aws:k", r#""${*}""#, One("*"), true),
    ]);
}

#[test]
fn numeric_operators() {
    run(&[
        ("NumericEquals", "s3:max-keys", "10", One("10"), true),
        ("NumericEquals", "s3:max-keys", r#""10""#, One("10.0"), true),
        ("NumericEquals", "s3:max-keys", "10", One("11"), false),
        ("NumericNotEquals", "s3:max-keys", "10", One("11"), true),
        ("NumericNotEquals", "s3:max-keys", "10", Absent, true),
        ("NumericLessThan", "s3:max-keys", "10", One("9"), true),
        ("NumericLessThan", "s3:max-keys", "10", One("10"), false),
        (
            "NumericLessThanEquals",
            "s3:max-keys",
            "10",
            One("10"),
            true,
        ),
        ("NumericGreaterThan", "s3:max-keys", "10", One("10.5"), true),
        ("NumericGreaterThan", "s3:max-keys", "10", One("-3"), false),
        (
            "NumericGreaterThanEquals",
            "s3:max-keys",
            "10",
            One("10"),
            true,
        ),
        ("NumericLessThan", "s3:max-keys", "10", One("abc"), false),
        (
            "NumericLessThan",
            "s3:max-keys",
            r#""ten""#,
            One("1"),
            false,
        ),
        ("NumericLessThan", "s3:max-keys", "10", Absent, false),
    ]);
}

#[test]
fn date_operators() {
    // The context's aws:CurrentTime is 2023-11-14T22:13:20Z (epoch 1700000000).
    run(&[
        (
            "DateGreaterThan",
            "aws:CurrentTime",
            r#""2023-01-01T00:00:00Z""#,
            Absent,
            true,
        ),
        (
            "DateLessThan",
            "aws:CurrentTime",
            r#""2023-01-01T00:00:00Z""#,
            Absent,
            false,
        ),
        (
            "DateLessThan",
            "aws:CurrentTime",
            r#""2024-01-01""#,
            Absent,
            true,
        ),
        ("DateEquals", "aws:EpochTime", "1700000000", Absent, true),
        (
            "DateEquals",
            "aws:CurrentTime",
            r#""1700000000""#,
            Absent,
            true,
        ),
        (
            "DateNotEquals",
            "aws:CurrentTime",
            r#""2023-11-14T22:13:20Z""#,
            Absent,
            false,
        ),
        (
            "DateLessThanEquals",
            "aws:CurrentTime",
            r#""2023-11-14T22:13:20Z""#,
            Absent,
            true,
        ),
        (
            "DateGreaterThanEquals",
            "aws:CurrentTime",
            r#""2023-11-14T23:13:20+01:00""#,
            Absent,
            true,
        ),
        (
            "DateGreaterThan",
            "aws:TokenIssueTime",
            r#""2020-01-01T00:00:00Z""#,
            One("2021-06-01T00:00:00Z"),
            true,
        ),
        (
            "DateGreaterThan",
            "aws:TokenIssueTime",
            r#""2020-01-01T00:00:00Z""#,
            One("not a date"),
            false,
        ),
        (
            "DateGreaterThan",
            "aws:TokenIssueTime",
            r#""2020-01-01T00:00:00Z""#,
            One("1500000000"),
            false,
        ),
    ]);
}

#[test]
fn bool_binary_null() {
    run(&[
        ("Bool", "aws:SecureTransport", "true", One("true"), true),
        (
            "Bool",
            "aws:SecureTransport",
            r#""true""#,
            One("TRUE"),
            true,
        ),
        ("Bool", "aws:SecureTransport", "true", One("false"), false),
        ("Bool", "aws:SecureTransport", "false", Absent, false),
        ("BoolIfExists", "aws:SecureTransport", "false", Absent, true),
        ("Bool", "aws:SecureTransport", "true", One("yes"), false),
        (
            "BinaryEquals",
            "aws:k",
            r#""QmluYXJ5""#,
            One("QmluYXJ5"),
            true,
        ),
        (
            "BinaryEquals",
            "aws:k",
            r#""QmluYXJ5""#,
            One("QmluYXJ6"),
            false,
        ),
        ("Null", "aws:k", "true", Absent, true),
        ("Null", "aws:k", "true", One("x"), false),
        ("Null", "aws:k", "false", One("x"), true),
        ("Null", "aws:k", "false", Absent, false),
        ("Null", "aws:k", "false", Many(&[]), false),
    ]);
}

#[test]
fn ip_operators() {
    run(&[
        (
            "IpAddress",
            "aws:SourceIp",
            r#""203.0.113.0/24""#,
            One("203.0.113.7"),
            true,
        ),
        (
            "IpAddress",
            "aws:SourceIp",
            r#""203.0.113.0/24""#,
            One("198.51.100.7"),
            false,
        ),
        (
            "IpAddress",
            "aws:SourceIp",
            r#"["10.0.0.0/8","203.0.113.0/24"]"#,
            One("10.1.2.3"),
            true,
        ),
        (
            "IpAddress",
            "aws:SourceIp",
            r#""2001:DB8:1234:5678::/64""#,
            One("2001:db8:1234:5678::9"),
            true,
        ),
        (
            "IpAddress",
            "aws:SourceIp",
            r#""2001:DB8:1234:5678::/64""#,
            One("203.0.113.7"),
            false,
        ),
        (
            "IpAddress",
            "aws:SourceIp",
            r#""203.0.113.0/24""#,
            One("garbage"),
            false,
        ),
        (
            "IpAddress",
            "aws:SourceIp",
            r#""203.0.113.0/24""#,
            Absent,
            false,
        ),
        (
            "NotIpAddress",
            "aws:SourceIp",
            r#""203.0.113.0/24""#,
            One("198.51.100.7"),
            true,
        ),
        (
            "NotIpAddress",
            "aws:SourceIp",
            r#""203.0.113.0/24""#,
            One("203.0.113.7"),
            false,
        ),
        (
            "NotIpAddress",
            "aws:SourceIp",
            r#""203.0.113.0/24""#,
            Absent,
            true,
        ),
    ]);
}

#[test]
fn arn_operators() {
    let acct_role = "arn:aws:iam::123456789012:role/app";
    let _ = acct_role;
    run(&[
        (
            "ArnEquals",
            "aws:SourceArn",
            r#""arn:aws:sns:us-east-1:123456789012:topic""#,
            One("arn:aws:sns:us-east-1:123456789012:topic"),
            true,
        ),
        (
            "ArnLike",
            "aws:SourceArn",
            r#""arn:aws:sns:*:123456789012:*""#,
            One("arn:aws:sns:eu-west-1:123456789012:t"),
            true,
        ),
        (
            "ArnLike",
            "aws:SourceArn",
            r#""arn:aws:sns:*:123456789012:*""#,
            One("arn:aws:sns:eu-west-1:999999999999:t"),
            false,
        ),
        // `*` does not cross segments.
        (
            "ArnLike",
            "aws:SourceArn",
            r#""arn:aws:iam::*:role/x""#,
            One("arn:aws:iam::1:2:role/x"),
            false,
        ),
        (
            "ArnLike",
            "aws:SourceArn",
            r#""arn:aws:s3:::b/*""#,
            One("arn:aws:s3:::b/a:b:c"),
            true,
        ),
        (
            "ArnLike",
            "aws:SourceArn",
            r#""arn:aws:s3:::b/*""#,
            One("not-an-arn"),
            false,
        ),
        (
            "ArnNotEquals",
            "aws:SourceArn",
            r#""arn:aws:s3:::b""#,
            One("arn:aws:s3:::c"),
            true,
        ),
        (
            "ArnNotLike",
            "aws:SourceArn",
            r#""arn:aws:s3:::b*""#,
            One("arn:aws:s3:::bucket"),
            false,
        ),
        (
            "ArnNotLike",
            "aws:SourceArn",
            r#""arn:aws:s3:::b*""#,
            Absent,
            true,
        ),
        (
            "ArnLike",
            "aws:PrincipalArn",
            r#""arn:aws:iam::123456789012:user/*""#,
            Absent,
            true,
        ),
    ]);
}

#[test]
fn if_exists() {
    run(&[
        (
            "StringEqualsIfExists",
            "ec2:InstanceType",
            r#""t2.micro""#,
            Absent,
            true,
        ),
        (
            "StringEqualsIfExists",
            "ec2:InstanceType",
            r#""t2.micro""#,
            One("t2.micro"),
            true,
        ),
        (
            "StringEqualsIfExists",
            "ec2:InstanceType",
            r#""t2.micro""#,
            One("m5.large"),
            false,
        ),
        (
            "StringNotEqualsIfExists",
            "ec2:InstanceType",
            r#""t2.micro""#,
            One("t2.micro"),
            false,
        ),
        ("NumericLessThanIfExists", "s3:max-keys", "10", Absent, true),
        (
            "IpAddressIfExists",
            "aws:SourceIp",
            r#""10.0.0.0/8""#,
            Absent,
            true,
        ),
        (
            "ArnLikeIfExists",
            "aws:SourceArn",
            r#""arn:aws:s3:::x""#,
            Absent,
            true,
        ),
        (
            "DateLessThanIfExists",
            "aws:TokenIssueTime",
            r#""2020-01-01""#,
            Absent,
            true,
        ),
    ]);
}

#[test]
fn set_qualifiers() {
    let allowed = r#"["red","blue"]"#;
    run(&[
        (
            "ForAllValues:StringEquals",
            "aws:TagKeys",
            allowed,
            Many(&["red"]),
            true,
        ),
        (
            "ForAllValues:StringEquals",
            "aws:TagKeys",
            allowed,
            Many(&["red", "blue"]),
            true,
        ),
        (
            "ForAllValues:StringEquals",
            "aws:TagKeys",
            allowed,
            Many(&["red", "green"]),
            false,
        ),
        // Documented: ForAllValues is true for a missing key or an empty set.
        (
            "ForAllValues:StringEquals",
            "aws:TagKeys",
            allowed,
            Absent,
            true,
        ),
        (
            "ForAllValues:StringEquals",
            "aws:TagKeys",
            allowed,
            Many(&[]),
            true,
        ),
        (
            "ForAnyValue:StringEquals",
            "aws:TagKeys",
            allowed,
            Many(&["green", "blue"]),
            true,
        ),
        (
            "ForAnyValue:StringEquals",
            "aws:TagKeys",
            allowed,
            Many(&["green"]),
            false,
        ),
        // Documented: ForAnyValue is false for a missing key or an empty set.
        (
            "ForAnyValue:StringEquals",
            "aws:TagKeys",
            allowed,
            Absent,
            false,
        ),
        (
            "ForAnyValue:StringEquals",
            "aws:TagKeys",
            allowed,
            Many(&[]),
            false,
        ),
        (
            "ForAnyValue:StringEqualsIfExists",
            "aws:TagKeys",
            allowed,
            Absent,
            true,
        ),
        (
            "ForAllValues:StringLike",
            "aws:TagKeys",
            r#""r*""#,
            Many(&["red", "rose"]),
            true,
        ),
        // Negated with qualifiers: per value "matches none of the values".
        (
            "ForAnyValue:StringNotEquals",
            "aws:TagKeys",
            allowed,
            Many(&["red", "green"]),
            true,
        ),
        (
            "ForAnyValue:StringNotEquals",
            "aws:TagKeys",
            allowed,
            Many(&["red", "blue"]),
            false,
        ),
        (
            "ForAllValues:StringNotEquals",
            "aws:TagKeys",
            allowed,
            Many(&["green", "pink"]),
            true,
        ),
        (
            "ForAllValues:StringNotEquals",
            "aws:TagKeys",
            allowed,
            Many(&["green", "red"]),
            false,
        ),
        // Unqualified operator on a multi-valued key: any value (positive), none (negated).
        (
            "StringEquals",
            "aws:TagKeys",
            allowed,
            Many(&["green", "red"]),
            true,
        ),
        (
            "StringNotEquals",
            "aws:TagKeys",
            allowed,
            Many(&["green", "red"]),
            false,
        ),
        (
            "StringNotEquals",
            "aws:TagKeys",
            allowed,
            Many(&["green"]),
            true,
        ),
        (
            "ForAllValues:StringEqualsIgnoreCase",
            "aws:TagKeys",
            allowed,
            Many(&["RED", "Blue"]),
            true,
        ),
    ]);
}

#[test]
fn multiple_keys_and_operators_are_anded() {
    let doc = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{
        "StringEquals":{"aws:a":"1","aws:b":["2","3"]},
        "Bool":{"aws:SecureTransport":"true"}}}}"#;
    let policy = Policy::parse(doc, PolicyKind::Identity).unwrap();
    let sources = [PolicySource::new("p", &policy)];
    let set = PolicySet::identity(&sources);
    let base = ctx_with("aws:x", &Absent);
    let full = base
        .clone()
        .with("aws:a", "1")
        .with("aws:b", "3")
        .with("aws:SecureTransport", true);
    assert_eq!(evaluate(&full, &set), Decision::Allow);
    let wrong_b = full.clone().with("aws:b", "4");
    assert_eq!(evaluate(&wrong_b, &set), Decision::ImplicitDeny);
    let insecure = full.clone().with("aws:SecureTransport", false);
    assert_eq!(evaluate(&insecure, &set), Decision::ImplicitDeny);
    let mut no_a = full;
    no_a.remove("aws:a");
    assert_eq!(evaluate(&no_a, &set), Decision::ImplicitDeny);
}

#[test]
fn variables_are_literal_in_2008_version() {
    for (version, want) in [("2012-10-17", true), ("2008-10-17", false)] {
        let doc = format!(
            r#"{{"Version":"{version}","Statement":{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/${{aws:username}}/*"}}}}"#
        );
        let policy = Policy::parse(&doc, PolicyKind::Identity).unwrap();
        let sources = [PolicySource::new("p", &policy)];
        let mut ctx = ctx_with("aws:x", &Absent);
        ctx = RequestContext::new(
            ctx.principal().clone(),
            "s3:GetObject",
            "arn:aws:s3:::bucket/Bob/file",
            ctx.now(),
        );
        assert_eq!(
            evaluate(&ctx, &PolicySet::identity(&sources)).is_allowed(),
            want,
            "{version}"
        );
    }
    // In 2008-10-17 the text itself matches.
    let doc = r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/${aws:username}"}}"#;
    let policy = Policy::parse(doc, PolicyKind::Identity).unwrap();
    let sources = [PolicySource::new("p", &policy)];
    let ctx = RequestContext::new(
        RequestPrincipal::root("123456789012"),
        "s3:GetObject",
        "arn:aws:s3:::bucket/${aws:username}",
        OffsetDateTime::UNIX_EPOCH,
    );
    assert!(evaluate(&ctx, &PolicySet::identity(&sources)).is_allowed());
}
