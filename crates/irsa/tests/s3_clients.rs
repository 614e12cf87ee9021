//! The S3 gateway with the clients people use, as a pod would use them:
//! role credentials from AssumeRoleWithWebIdentity (the SDKs' own
//! web-identity provider), then the `aws` CLI (`s3 cp` of 100 MiB so
//! multipart upload and the default checksums run, `s3 ls`, `s3api`,
//! `s3 presign`) and boto3 with its default configuration — allowed calls,
//! calls the role's policy does not allow, a bucket policy that grants and
//! one that denies. The real binary in front of the Garage `scripts/test`
//! starts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{client_available, ShellSandbox};

/// The shell script the test runs; `@…@` placeholders are filled in.
const SCRIPT: &str = r#"
set -euo pipefail
trap 'kill $(jobs -p) 2>/dev/null || true; wait' EXIT
irsa serve --listen @STS@ --issuer-url http://@STS@ --allow-insecure-issuer \
    --s3-listen @S3@ --s3-upstream @UPSTREAM@ >server.log 2>&1 &
until curl -sf http://@STS@/readyz >/dev/null; do sleep 0.2; done

# The account root sets up the provider, the role, its policy and two buckets.
export AWS_SHARED_CREDENTIALS_FILE=./irsa-data/root-credentials AWS_PROFILE=irsa-root
export AWS_DEFAULT_REGION=us-east-1 AWS_ENDPOINT_URL=http://@STS@ AWS_ENDPOINT_URL_S3=http://@S3@
aws iam create-open-id-connect-provider --url http://@STS@ --client-id-list sts.amazonaws.com >/dev/null
aws iam create-role --role-name app --assume-role-policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/@STS@"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"@STS@:sub":"system:serviceaccount:default:app"}}}]}' >/dev/null
aws iam put-role-policy --role-name app --policy-name data --policy-document '{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":["s3:ListBucket","s3:ListBucketMultipartUploads"],"Resource":"arn:aws:s3:::@DATA@"},
  {"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject","s3:AbortMultipartUpload","s3:ListMultipartUploadParts"],"Resource":"arn:aws:s3:::@DATA@/*"}]}'
aws s3 mb s3://@DATA@ >/dev/null
aws s3 mb s3://@SHARED@ >/dev/null
echo "shared content" > shared.txt
aws s3 cp shared.txt s3://@SHARED@/shared.txt >/dev/null
# A bucket policy that grants the role what its own policy does not …
aws s3api put-bucket-policy --bucket @SHARED@ --policy '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/app"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::@SHARED@/*"}]}'
# … and one that denies what the role's policy allows.
aws s3api put-bucket-policy --bucket @DATA@ --policy '{"Version":"2012-10-17","Statement":[{"Sid":"NoSecrets","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::@DATA@/secret/*"}]}'
aws s3api get-bucket-policy --bucket @DATA@ --query Policy --output text | grep -q NoSecrets
echo "root: setup done"

irsa token issue --data-dir ./irsa-data --issuer-url http://@STS@ --allow-insecure-issuer \
    --namespace default --service-account app --output token
unset AWS_PROFILE AWS_SHARED_CREDENTIALS_FILE AWS_ENDPOINT_URL
export AWS_ROLE_ARN=arn:aws:iam::123456789012:role/app AWS_WEB_IDENTITY_TOKEN_FILE=token
export AWS_ENDPOINT_URL_STS=http://@STS@

# aws CLI: 100 MiB up and down (multipart, default checksums), listing, s3api.
head -c 104857600 /dev/urandom > big.bin
aws s3 cp big.bin s3://@DATA@/big.bin --only-show-errors
aws s3 cp s3://@DATA@/big.bin big.back --only-show-errors
cmp big.bin big.back && echo "cli: 100 MiB round trip ok"
aws s3 ls s3://@DATA@/ | grep -q ' big.bin$' && echo "cli: ls ok"
test "$(aws s3api head-object --bucket @DATA@ --key big.bin --query ContentLength --output text)" = 104857600 && echo "cli: head-object ok"
echo "top secret" > secret.txt
aws s3 cp secret.txt s3://@DATA@/secret/a.txt --only-show-errors
aws s3 cp s3://@SHARED@/shared.txt shared.back --only-show-errors && cmp shared.txt shared.back && echo "cli: bucket policy grant ok"
if aws s3api get-object --bucket @DATA@ --key secret/a.txt secret.back >/dev/null 2>deny-secret.err; then echo "cli: secret readable (wrong)"; fi
if aws s3 ls s3://@SHARED@/ 2>deny-list.err; then echo "cli: shared listable (wrong)"; fi
if aws s3 rb s3://@DATA@ 2>deny-rb.err; then echo "cli: bucket deleted (wrong)"; fi

# Presigned URLs (SigV4; the CLI's default for s3 presign is SigV2).
mkdir -p "$HOME/.aws" && printf '[default]\ns3 =\n    signature_version = s3v4\n' > "$HOME/.aws/config"
aws s3 cp secret.txt s3://@DATA@/secret.txt --only-show-errors
url="$(aws s3 presign s3://@DATA@/secret.txt --expires-in 300)"
test "$(curl -sf "$url")" = "top secret" && echo "cli: presigned GET ok"

# boto3, default configuration.
python3 - <<'PY'
import boto3, botocore
s3 = boto3.client("s3")
s3.put_object(Bucket="@DATA@", Key="boto/hello.txt", Body=b"hello from boto3")
body = s3.get_object(Bucket="@DATA@", Key="boto/hello.txt")["Body"].read()
assert body == b"hello from boto3", body
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="@DATA@", Prefix="boto/")["Contents"]]
assert keys == ["boto/hello.txt"], keys
s3.upload_file("big.bin", "@DATA@", "boto/big.bin")
print("boto3: put/get/list/upload_file ok")
for call in (lambda: s3.get_object(Bucket="@DATA@", Key="secret/a.txt"),
             lambda: s3.list_objects_v2(Bucket="@SHARED@"),
             lambda: s3.delete_bucket(Bucket="@DATA@")):
    try:
        call()
        print("boto3: allowed (wrong)")
    except botocore.exceptions.ClientError as e:
        err = e.response["Error"]
        print("boto3 denied:", err["Code"], err["Message"])
PY
"#;

#[test]
fn aws_cli_and_boto3_through_the_s3_gateway() {
    if !client_available("aws", &["--version"])
        || !client_available("python3", &["-c", "import boto3"])
        || !client_available("curl", &["--version"])
    {
        return;
    }
    let Some(upstream) = support::s3_upstream() else {
        return;
    };
    let sandbox = ShellSandbox::new();
    let work = &sandbox.work;
    let sts = format!("127.0.0.1:{}", support::free_port());
    let s3 = format!("127.0.0.1:{}", support::free_port());
    let nanos = support::unique_suffix();
    let data = format!("data-{nanos}");
    let shared = format!("shared-{nanos}");
    let script = SCRIPT
        .replace("@STS@", &sts)
        .replace("@S3@", &s3)
        .replace("@UPSTREAM@", &upstream.url)
        .replace("@DATA@", &data)
        .replace("@SHARED@", &shared);

    let mut command = sandbox.bash(&script, 600);
    command
        .env("IRSA_S3_UPSTREAM_ACCESS_KEY_ID", &upstream.access_key_id)
        .env(
            "IRSA_S3_UPSTREAM_SECRET_ACCESS_KEY",
            &upstream.secret_access_key,
        );
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let server_log = std::fs::read_to_string(work.join("server.log")).unwrap_or_default();
    assert!(
        output.status.success(),
        "client run failed ({})\nstdout:\n{stdout}\nstderr:\n{stderr}\nserver log:\n{server_log}",
        output.status
    );
    assert!(
        !stdout.contains("(wrong)"),
        "a call that must be denied was allowed:\n{stdout}"
    );
    for line in [
        "root: setup done",
        "cli: 100 MiB round trip ok",
        "cli: ls ok",
        "cli: head-object ok",
        "cli: bucket policy grant ok",
        "cli: presigned GET ok",
        "boto3: put/get/list/upload_file ok",
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "missing {line:?}:\n{stdout}\nstderr:\n{stderr}"
        );
    }
    let role_session = "User: arn:aws:sts::123456789012:assumed-role/app/";
    let read = |name: &str| std::fs::read_to_string(work.join(name)).unwrap_or_default();
    let secret_err = read("deny-secret.err");
    assert!(
        secret_err.contains("AccessDenied")
            && secret_err.contains(role_session)
            && secret_err.contains(&format!(
                "is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::{data}/secret/a.txt\" with an explicit deny in a resource-based policy"
            )),
        "bucket-policy deny:\n{secret_err}"
    );
    let list_err = read("deny-list.err");
    assert!(
        list_err.contains("AccessDenied")
            && list_err.contains(&format!(
                "is not authorized to perform: s3:ListBucket on resource: \"arn:aws:s3:::{shared}\" because no identity-based policy allows the s3:ListBucket action"
            )),
        "identity deny:\n{list_err}"
    );
    assert!(
        read("deny-rb.err").contains("AccessDenied"),
        "rb:\n{}",
        read("deny-rb.err")
    );
    let boto_denied: Vec<&str> = stdout
        .lines()
        .filter(|l| {
            l.starts_with(
                "boto3 denied: AccessDenied User: arn:aws:sts::123456789012:assumed-role/app/",
            )
        })
        .collect();
    assert_eq!(boto_denied.len(), 3, "boto3 denials:\n{stdout}");
}
