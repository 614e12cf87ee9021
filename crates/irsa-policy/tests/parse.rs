//! Validation: the documents IAM rejects, with IAM's messages.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use irsa_policy::{limits, Policy, PolicyError, PolicyKind, SizeLimit, Version};

fn err(doc: &str, kind: PolicyKind) -> String {
    Policy::parse(doc, kind).unwrap_err().to_string()
}

const ID_OK: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"A1","Effect":"Allow","Action":["s3:GetObject","s3:List*"],"Resource":"arn:aws:s3:::b/*"}]}"#;
const TRUST_OK: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}}"#;

#[test]
fn valid_documents_parse() {
    let p = Policy::parse(ID_OK, PolicyKind::Identity).unwrap();
    assert_eq!(p.version, Version::V2012_10_17);
    assert_eq!(p.statements.len(), 1);
    assert_eq!(p.statements[0].sid.as_deref(), Some("A1"));
    assert_eq!(p.statements[0].actions, ["s3:GetObject", "s3:List*"]);
    let t = Policy::parse(TRUST_OK, PolicyKind::Trust).unwrap();
    assert!(t.statements[0].principals().is_some());
    // Absent Version is 2008-10-17.
    let p = Policy::parse(
        r#"{"Statement":{"Effect":"Deny","NotAction":"iam:*","NotResource":"*"}}"#,
        PolicyKind::Identity,
    )
    .unwrap();
    assert_eq!(p.version, Version::V2008_10_17);
    assert!(p.statements[0].not_action());
    assert!(p.statements[0].not_resource());
    // Condition values may be numbers and booleans.
    Policy::parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"NumericLessThanEquals":{"s3:max-keys":10},"Bool":{"aws:SecureTransport":true}}}}"#,
        PolicyKind::Identity,
    )
    .unwrap();
}

#[test]
fn kind_specific_principal_rules() {
    let with_principal = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}"#;
    for kind in [
        PolicyKind::Identity,
        PolicyKind::PermissionsBoundary,
        PolicyKind::Session,
    ] {
        assert_eq!(
            err(with_principal, kind),
            "Policy document should not specify a principal."
        );
    }
    let no_principal =
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}"#;
    assert_eq!(
        err(no_principal, PolicyKind::Trust),
        "Missing required field Principal"
    );
    assert_eq!(
        err(with_principal, PolicyKind::Trust),
        "Has prohibited field Resource"
    );
    let not_sts = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}}"#;
    assert_eq!(
        err(not_sts, PolicyKind::Trust),
        "AssumeRole policy may only specify STS AssumeRole actions."
    );
    assert!(Policy::parse(with_principal, PolicyKind::Resource).is_ok());
}

#[test]
fn malformed_statements() {
    let cases: &[(&str, &str)] = &[
        (r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Resource":"*"}}"#, "Policy statement must contain actions."),
        (r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}"#, "Policy statement must contain actions."),
        (r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*"}}"#, "Policy statement must contain resources."),
        (r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","NotAction":"s3:Get*","Resource":"*"}}"#, "Syntax errors in policy."),
        (r#"{"Version":"2012-10-17","Statement":{"Effect":"allow","Action":"s3:*","Resource":"*"}}"#, "Syntax errors in policy."),
        (r#"{"Version":"2012-10-17","Statement":{"Action":"s3:*","Resource":"*"}}"#, "Syntax errors in policy."),
        (r#"{"Version":"2012-10-17","Statement":[]}"#, "Syntax errors in policy."),
        (r#"{"Version":"2012-10-17"}"#, "Syntax errors in policy."),
        (r#"{"Version":"2012-10-17","Statement":"x"}"#, "Syntax errors in policy."),
        (r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Foo":1}}"#, "Syntax errors in policy."),
        (r#"{"Version":"2012-10-17","Extra":1,"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#, "Syntax errors in policy."),
        (r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":5,"Resource":"*"}}"#, "Syntax errors in policy."),
        (r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:x",null],"Resource":"*"}}"#, "Syntax errors in policy."),
        (r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"GetObject","Resource":"*"}}"#, "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
        (r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"bucket"}}"#, "Resource bucket must be in ARN format or \"*\"."),
        (r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:*:::x"}}"#, "Resource vendor must be fully qualified and cannot contain regexes."),
        (r#"{"Version":"2012-10-18","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#, "The policy failed legacy parsing"),
        (r#"{"Version":"2012-10-17","Statement":[{"Sid":"a","Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"a","Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#, "Statement IDs (SID) in a single policy must be unique."),
        (r#"{"Version":"2012-10-17","Statement":{"Sid":"a b","Effect":"Allow","Action":"s3:*","Resource":"*"}}"#, "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"),
        (r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEqualz":{"aws:x":"y"}}}}"#, "Invalid Condition type : StringEqualz"),
        (r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"nokey":"y"}}}}"#, "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
        (r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:x":{"a":1}}}}}"#, "Syntax errors in policy."),
        (r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":"x"}}}"#, "Syntax errors in policy."),
        ("[]", "Syntax errors in policy."),
        (r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#, "This policy contains invalid Json"),
        (r#"{"Version":"2012-10-17","Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#, "This policy contains invalid Json"),
        (r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Effect":"Deny","Action":"s3:*","Resource":"*"}}"#, "This policy contains invalid Json"),
    ];
    for (doc, want) in cases {
        assert_eq!(&err(doc, PolicyKind::Identity), want, "{doc}");
    }
}

#[test]
fn invalid_principals() {
    let cases = [
        (
            r#"{"AWS":"bob"}"#,
            r#"Invalid principal in policy: "AWS":"bob""#,
        ),
        (
            r#"{"AWS":"arn:aws:iam::123:root"}"#,
            r#"Invalid principal in policy: "AWS":"arn:aws:iam::123:root""#,
        ),
        (
            r#"{"Federated":"nope"}"#,
            r#"Invalid principal in policy: "Federated":"nope""#,
        ),
    ];
    for (principal, want) in cases {
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{principal},"Action":"sts:AssumeRole"}}}}"#
        );
        assert_eq!(err(&doc, PolicyKind::Trust), want);
    }
}

#[test]
fn size_limits_count_without_whitespace() {
    let pad = " ".repeat(4000);
    // Whitespace does not count against the 2048 trust limit.
    let spaced = TRUST_OK.replacen('{', &format!("{{{pad}"), 1);
    assert!(spaced.len() > limits::ROLE_TRUST_POLICY);
    Policy::parse(&spaced, PolicyKind::Trust).unwrap();
    // Characters inside strings do.
    let long_sid = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Sid":"{}","Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}}}}"#,
        "a".repeat(2100)
    );
    let e = Policy::parse(&long_sid, PolicyKind::Trust).unwrap_err();
    assert!(e.is_size_limit());
    assert_eq!(
        e.to_string(),
        "Cannot exceed quota for ACLSizePerRole: 2048"
    );
    // The same document fits an explicit bigger limit.
    Policy::parse_with_limit(&long_sid, PolicyKind::Trust, SizeLimit::InlineRolePolicies).unwrap();
    let mut stmts = Vec::new();
    for i in 0..200 {
        stmts.push(format!(
            r#"{{"Sid":"S{i}","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-{i}/*"}}"#
        ));
    }
    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        stmts.join(",")
    );
    assert_eq!(
        Policy::parse(&big, PolicyKind::Identity)
            .unwrap_err()
            .to_string(),
        "Cannot exceed quota for PolicySize: 6144"
    );
}

#[test]
fn hostile_input_is_an_error_not_a_panic() {
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    assert!(matches!(
        Policy::parse_with_limit(&deep, PolicyKind::Identity, SizeLimit::Unlimited),
        Err(PolicyError::InvalidJson { .. })
    ));
    assert!(Policy::parse(&deep, PolicyKind::Identity).is_err());
    let deep_obj = "{\"a\":".repeat(10_000) + "1" + &"}".repeat(10_000);
    assert!(
        Policy::parse_with_limit(&deep_obj, PolicyKind::Identity, SizeLimit::Unlimited).is_err()
    );
    let ten_mb = format!(r#"{{"Statement":"{}"}}"#, "x".repeat(10 * 1024 * 1024));
    assert!(matches!(
        Policy::parse(&ten_mb, PolicyKind::Identity),
        Err(PolicyError::TooLarge { .. })
    ));
    assert!(matches!(
        Policy::parse_bytes(b"{\"Version\":\"\xff\xfe\"}", PolicyKind::Identity),
        Err(PolicyError::InvalidJson { .. })
    ));
    for junk in [
        "",
        "null",
        "1",
        "\"x\"",
        "{",
        "}",
        "{\"Statement\":{}}",
        "\u{0}",
    ] {
        assert!(
            Policy::parse(junk, PolicyKind::Identity).is_err(),
            "{junk:?}"
        );
    }
}
