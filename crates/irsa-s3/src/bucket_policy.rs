//! Bucket policy documents: the PutBucketPolicy size limit and the
//! GetBucketPolicyStatus answer (`IsPublic`, per S3's "meaning of public").

use serde_json::Value;

use crate::error::{S3Error, S3ErrorCode};
use crate::xml::{DECLARATION, S3_NAMESPACE};

/// S3's limit on a bucket policy document.
pub const BUCKET_POLICY_MAX_BYTES: usize = 20 * 1024;

/// Refuses a PutBucketPolicy body over 20 KB before it is parsed.
pub fn check_bucket_policy_size(len: usize) -> Result<(), S3Error> {
    if len > BUCKET_POLICY_MAX_BYTES {
        Err(S3Error::new(
            S3ErrorCode::MalformedPolicy,
            "Policy exceeds the maximum allowed document size.",
        ))
    } else {
        Ok(())
    }
}

/// The GetBucketPolicyStatus body.
pub fn policy_status_xml(is_public: bool) -> String {
    format!(
        "{DECLARATION}<PolicyStatus xmlns=\"{S3_NAMESPACE}\"><IsPublic>{is_public}</IsPublic></PolicyStatus>"
    )
}

/// Condition keys whose fixed values make a grant to `*` non-public
/// (S3's list, lower-cased).
const RESTRICTING_KEYS: [&str; 12] = [
    "aws:sourceip",
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceowner",
    "aws:sourceaccount",
    "aws:sourceorgid",
    "aws:principalorgid",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:userid",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
];

/// Whether a bucket policy is public as S3 defines it: some `Allow`
/// statement grants a "bad" action (`s3:Get*`, `s3:List*`, `s3:Put*`,
/// `s3:Delete*`, `s3:AbortMultipartUpload`, `s3:RestoreObject`) to a
/// wildcard principal (or through `NotPrincipal`) without a condition that
/// pins a restricting key (`aws:SourceIp` CIDRs, `aws:SourceVpc(e)`,
/// `aws:SourceArn`, `aws:SourceAccount`, `aws:PrincipalOrgID`, … ) to fixed
/// values. Errs with `MalformedPolicy` when the text is not a JSON object.
pub fn is_public_policy(policy_json: &str) -> Result<bool, S3Error> {
    let doc: Value = serde_json::from_str(policy_json)
        .map_err(|_| S3Error::from_code(S3ErrorCode::MalformedPolicy))?;
    let statements = match doc.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect::<Vec<_>>(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => return Err(S3Error::from_code(S3ErrorCode::MalformedPolicy)),
    };
    Ok(statements.into_iter().any(statement_is_public))
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::Bool(b) => vec![b.to_string()],
        Value::Number(n) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

fn statement_is_public(statement: &Value) -> bool {
    if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
        return false;
    }
    let anyone = statement.get("NotPrincipal").is_some()
        || statement.get("Principal").is_some_and(|p| match p {
            Value::Object(map) => map.values().flat_map(strings).any(|v| v.contains('*')),
            other => strings(other).iter().any(|v| v.contains('*')),
        });
    if !anyone {
        return false;
    }
    let grants_bad_action = statement.get("NotAction").is_some()
        || statement
            .get("Action")
            .is_some_and(|a| strings(a).iter().any(|action| is_bad_action(action)));
    grants_bad_action && !has_restricting_condition(statement.get("Condition"))
}

/// Whether an action pattern can match one of S3's "bad actions".
fn is_bad_action(pattern: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let (service, name) = pattern.split_once(':').unwrap_or((pattern.as_str(), ""));
    let wild = |s: &str| s.contains(['*', '?']);
    if pattern == "*" || (wild(service) && name.is_empty()) {
        return true;
    }
    if service != "s3" && !wild(service) {
        return false;
    }
    let literal_end = name.find(['*', '?']).unwrap_or(name.len());
    let literal = &name[..literal_end];
    let has_wild = literal_end < name.len();
    let matches_prefix = |bad: &str| {
        if has_wild {
            literal.starts_with(bad) || bad.starts_with(literal)
        } else {
            literal.starts_with(bad)
        }
    };
    let matches_exact = |bad: &str| {
        if has_wild {
            bad.starts_with(literal)
        } else {
            literal == bad
        }
    };
    ["get", "list", "delete", "put"]
        .into_iter()
        .any(matches_prefix)
        || ["abortmultipartupload", "restoreobject"]
            .into_iter()
            .any(matches_exact)
}

fn has_restricting_condition(condition: Option<&Value>) -> bool {
    let Some(Value::Object(blocks)) = condition else {
        return false;
    };
    blocks.iter().any(|(operator, entries)| {
        let op = operator.to_ascii_lowercase();
        // Negated, IfExists, Null and ForAllValues tests pass when the key is
        // absent or different, so they cannot keep the public out.
        let restricts = !op.contains("not")
            && !op.ends_with("ifexists")
            && op != "null"
            && !op.starts_with("forallvalues:");
        let Value::Object(entries) = entries else {
            return false;
        };
        restricts
            && entries.iter().any(|(key, values)| {
                let key = key.to_ascii_lowercase();
                let values = strings(values);
                RESTRICTING_KEYS.contains(&key.as_str())
                    && !values.is_empty()
                    && values.iter().all(|v| is_fixed_value(&key, v))
            })
    })
}

fn is_fixed_value(key: &str, value: &str) -> bool {
    if key == "aws:sourceip" {
        return !matches!(value.trim(), "0.0.0.0/0" | "::/0");
    }
    !value.contains(['*', '?'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(policy: &str) -> bool {
        is_public_policy(policy).unwrap()
    }

    #[test]
    fn status_document() {
        assert_eq!(
            policy_status_xml(true),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PolicyStatus xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><IsPublic>true</IsPublic></PolicyStatus>"
        );
        assert!(policy_status_xml(false).contains("<IsPublic>false</IsPublic>"));
    }

    #[test]
    fn size_limit() {
        assert!(check_bucket_policy_size(20 * 1024).is_ok());
        assert_eq!(
            check_bucket_policy_size(20 * 1024 + 1).unwrap_err().code(),
            S3ErrorCode::MalformedPolicy
        );
    }

    #[test]
    fn public_grants() {
        assert!(public(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#
        ));
        assert!(public(
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::1:root","*"]},"Action":["s3:*"],"Resource":"*"}}"#
        ));
        assert!(public(
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"*","Resource":"*"}]}"#
        ));
        assert!(public(
            r#"{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::1:root"},"Action":"s3:ListBucket","Resource":"*"}]}"#
        ));
        assert!(public(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","NotAction":"s3:DeleteObject","Resource":"*"}]}"#
        ));
        // Conditions that do not pin the caller down keep it public.
        assert!(public(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}"#
        ));
        assert!(public(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"StringLike":{"aws:SourceVpce":"vpce-*"}}}]}"#
        ));
        assert!(public(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"StringNotEquals":{"aws:SourceAccount":"111122223333"}}}]}"#
        ));
        assert!(public(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}}]}"#
        ));
        assert!(public(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:G*","Resource":"*"}]}"#
        ));
    }

    #[test]
    fn non_public_grants() {
        assert!(!public(
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":"s3:*","Resource":"*"}]}"#
        ));
        assert!(!public(
            r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}]}"#
        ));
        assert!(!public(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":["192.0.2.0/24"]}}}]}"#
        ));
        assert!(!public(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abc"}}}]}"#
        ));
        assert!(!public(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"ArnEquals":{"aws:SourceArn":"arn:aws:cloudfront::1:distribution/X"}}}]}"#
        ));
        // Only harmless actions granted to everyone.
        assert!(!public(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:CreateBucket","sts:AssumeRole"],"Resource":"*"}]}"#
        ));
        assert!(!public(r#"{"Statement":[]}"#));
    }

    #[test]
    fn malformed_documents() {
        for bad in ["", "[]", "{", r#"{"Statement":"x"}"#] {
            assert_eq!(
                is_public_policy(bad).unwrap_err().code(),
                S3ErrorCode::MalformedPolicy,
                "{bad}"
            );
        }
    }
}
