//! Built-in AWS managed policies (read-only): `arn:aws:iam::aws:policy/NAME`.
//! Identity policies may attach them, so authorization reads them here.

pub const AWS_POLICY_PREFIX: &str = "arn:aws:iam::aws:policy/";

/// Built-in AWS managed policies (read-only), written for irsa's own
/// actions and the services IRSA tutorials use.
pub const AWS_MANAGED: &[(&str, &str, &str)] = &[
    (
        "AdministratorAccess",
        "ANPAIWMBCKSKIEE64ZLYK",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    ),
    (
        "ReadOnlyAccess",
        "ANPAILL3HVNFSB6DCOWYQ",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:Get*","iam:List*","sts:GetCallerIdentity","s3:Get*","s3:List*","dynamodb:Describe*","dynamodb:Get*","dynamodb:List*","dynamodb:Query","dynamodb:Scan","dynamodb:BatchGetItem"],"Resource":"*"}]}"#,
    ),
    (
        "AmazonS3ReadOnlyAccess",
        "ANPAIZTJ4DXE7G6AGAE6M",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"*"}]}"#,
    ),
];

/// The document of a built-in AWS managed policy.
pub fn aws_managed_document(arn: &str) -> Option<&'static str> {
    let name = arn.strip_prefix(AWS_POLICY_PREFIX)?;
    AWS_MANAGED
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, d)| *d)
}
