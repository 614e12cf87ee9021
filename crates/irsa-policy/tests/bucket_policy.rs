//! Bucket policies validated as S3's PutBucketPolicy does, with S3's
//! `MalformedPolicy` messages.

use irsa_policy::{Policy, PolicyError, PolicyKind};

const BUCKET: &str = "photos";

fn statement(fields: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{{{fields}}}]}}"#)
}

fn refused(doc: &str) -> String {
    match Policy::parse_bucket_policy(doc, BUCKET) {
        Ok(_) => panic!("accepted: {doc}"),
        Err(e) => {
            assert_eq!(e.to_string(), e.message());
            e.to_string()
        }
    }
}

#[test]
fn accepts_the_usual_bucket_policies() {
    let docs = [
        // Public read of objects.
        statement(
            r#""Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*""#,
        ),
        // Bucket and object actions, each with its resource.
        statement(
            r#""Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":["s3:ListBucket","s3:GetObject"],"Resource":["arn:aws:s3:::photos","arn:aws:s3:::photos/*"]"#,
        ),
        // TLS only, for everyone, with wildcards.
        statement(
            r#""Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::photos","arn:aws:s3:::photos/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}"#,
        ),
        statement(
            r#""Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/Bob","arn:aws:iam::111122223333:root"]},"NotAction":"s3:GetObject","Resource":"arn:aws:s3:::photos/*""#,
        ),
        statement(
            r#""Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:Get*","Resource":"arn:aws:s3:::photos""#,
        ),
        // No Version: 2008-10-17.
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/public/*"}}"#.to_owned(),
    ];
    for doc in &docs {
        let policy = Policy::parse_bucket_policy(doc, BUCKET)
            .unwrap_or_else(|e| panic!("{doc}: {e} ({})", e.detail()));
        assert_eq!(policy.kind, PolicyKind::Resource);
    }
}

#[test]
fn s3_malformed_policy_messages() {
    let cases: &[(&str, String)] = &[
        ("This policy contains invalid Json", r#"{"Version":"2012-10-17","Statement":["#.to_owned()),
        (
            "Policies must be valid JSON and the first byte must be '{'",
            r#"["Version"]"#.to_owned(),
        ),
        (
            "Missing required field Statement",
            r#"{"Version":"2012-10-17"}"#.to_owned(),
        ),
        (
            "Could not parse the policy: Statement is empty!",
            r#"{"Version":"2012-10-17","Statement":[]}"#.to_owned(),
        ),
        (
            "The policy must contain a valid version string",
            r#"{"Version":"2013-01-01","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}}"#.to_owned(),
        ),
        (
            "Missing required field Effect",
            statement(r#""Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*""#),
        ),
        (
            "Invalid effect: Permit",
            statement(r#""Effect":"Permit","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*""#),
        ),
        (
            "Missing required field Principal",
            statement(r#""Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*""#),
        ),
        (
            "Missing required field Action",
            statement(r#""Effect":"Allow","Principal":"*","Resource":"arn:aws:s3:::photos/*""#),
        ),
        (
            "Missing required field Resource",
            statement(r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject""#),
        ),
        (
            "Invalid principal in policy",
            statement(r#""Effect":"Allow","Principal":{"AWS":"bob"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*""#),
        ),
        (
            "Invalid principal in policy",
            statement(r#""Effect":"Allow","Principal":"bob","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*""#),
        ),
        // Another bucket, another service, a region, not an ARN.
        (
            "Policy has invalid resource",
            statement(r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*""#),
        ),
        (
            "Policy has invalid resource",
            statement(r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":["arn:aws:s3:::photos/*","arn:aws:sqs:us-east-1:111122223333:q"]"#),
        ),
        (
            "Policy has invalid resource",
            statement(r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"photos/*""#),
        ),
        (
            "Policy has invalid action",
            statement(r#""Effect":"Allow","Principal":"*","Action":"s3:GetObjekt","Resource":"arn:aws:s3:::photos/*""#),
        ),
        (
            "Policy has invalid action",
            statement(r#""Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"arn:aws:s3:::photos/*""#),
        ),
        (
            "Policy has invalid action",
            statement(r#""Effect":"Allow","Principal":"*","Action":"GetObject","Resource":"arn:aws:s3:::photos/*""#),
        ),
        // An object action on the bucket ARN, a bucket action on objects,
        // an account action anywhere.
        (
            "Action does not apply to any resource(s) in statement",
            statement(r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos""#),
        ),
        (
            "Action does not apply to any resource(s) in statement",
            statement(r#""Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:ListBucket"],"Resource":"arn:aws:s3:::photos/*""#),
        ),
        (
            "Action does not apply to any resource(s) in statement",
            statement(r#""Effect":"Allow","Principal":"*","Action":"s3:ListAllMyBuckets","Resource":["arn:aws:s3:::photos","arn:aws:s3:::photos/*"]"#),
        ),
        (
            "Policy exceeds the maximum allowed document size.",
            statement(&format!(
                r#""Sid":"{}","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*""#,
                "A".repeat(21 * 1024)
            )),
        ),
    ];
    for (message, doc) in cases {
        assert_eq!(&refused(doc), message, "{doc}");
    }
}

#[test]
fn size_errors_are_flagged() {
    let doc = statement(&format!(
        r#""Sid":"{}","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*""#,
        "A".repeat(21 * 1024)
    ));
    assert!(Policy::parse_bucket_policy(&doc, BUCKET)
        .unwrap_err()
        .is_size_limit());
}

#[test]
fn resource_policies_need_principals_and_resources() {
    // Any resource-based policy, not only S3's: IAM's messages.
    let no_principal = statement(r#""Effect":"Allow","Action":"sqs:SendMessage","Resource":"*""#);
    assert_eq!(
        Policy::parse(&no_principal, PolicyKind::Resource).unwrap_err(),
        PolicyError::MissingPrincipal
    );
    let no_resource = statement(r#""Effect":"Allow","Principal":"*","Action":"sqs:SendMessage""#);
    assert_eq!(
        Policy::parse(&no_resource, PolicyKind::Resource).unwrap_err(),
        PolicyError::MissingResources
    );
    // A role trust policy names no resources.
    let trust = statement(
        r#""Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole""#,
    );
    assert!(Policy::parse(&trust, PolicyKind::Trust).is_ok());
}
