"""boto3 against a running irsa: the same flow as walkthrough.sh.

Usage: walkthrough_boto3.py ENDPOINT ROOT_KEY_ID ROOT_SECRET
"""
import json
import sys

import boto3
from botocore.exceptions import ClientError

ENDPOINT, ROOT_ID, ROOT_SECRET = sys.argv[1:4]
ACCOUNT = "123456789012"


def client(service, key_id, secret, token=None):
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        aws_session_token=token,
    )


def expect_error(code, call, **kwargs):
    try:
        call(**kwargs)
    except ClientError as err:
        got = err.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {err}"
        return err
    raise AssertionError(f"expected {code}, call succeeded")


iam = client("iam", ROOT_ID, ROOT_SECRET)
sts = client("sts", ROOT_ID, ROOT_SECRET)
assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"

iam.create_user(UserName="boto-user")
key = iam.create_access_key(UserName="boto-user")["AccessKey"]
user_iam = client("iam", key["AccessKeyId"], key["SecretAccessKey"])
user_sts = client("sts", key["AccessKeyId"], key["SecretAccessKey"])
expect_error("AccessDenied", user_iam.list_roles)

policy = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["iam:ListRoles", "sts:AssumeRole"], "Resource": "*"}],
}
iam.put_user_policy(UserName="boto-user", PolicyName="roles", PolicyDocument=json.dumps(policy))
user_iam.list_roles()
got = iam.get_user_policy(UserName="boto-user", PolicyName="roles")["PolicyDocument"]
assert got == policy, got

trust = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}],
}
iam.create_role(RoleName="boto-role", AssumeRolePolicyDocument=json.dumps(trust), MaxSessionDuration=7200)
expect_error(
    "ValidationError",
    user_sts.assume_role,
    RoleArn=f"arn:aws:iam::{ACCOUNT}:role/boto-role",
    RoleSessionName="too-long",
    DurationSeconds=7201,
)
creds = user_sts.assume_role(
    RoleArn=f"arn:aws:iam::{ACCOUNT}:role/boto-role", RoleSessionName="boto-session"
)["Credentials"]
session = client("sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
arn = session.get_caller_identity()["Arn"]
assert arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/boto-role/boto-session", arn

token = creds["SessionToken"]
tampered = token[:10] + ("B" if token[10] == "A" else "A") + token[11:]
bad = client("sts", creds["AccessKeyId"], creds["SecretAccessKey"], tampered)
expect_error("InvalidClientTokenId", bad.get_caller_identity)

# The IAM half of the IRSA walkthrough, and paginated lists.
host = "oidc.boto.example.com/id/CLUSTER2"
provider_arn = iam.create_open_id_connect_provider(
    Url=f"https://{host}", ClientIDList=["sts.amazonaws.com"], ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"]
)["OpenIDConnectProviderArn"]
assert provider_arn == f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}", provider_arn
read = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::bucket/*"}],
}
policy_arn = iam.create_policy(PolicyName="boto-read", PolicyDocument=json.dumps(read))["Policy"]["Arn"]
irsa_trust = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{host}:aud": "sts.amazonaws.com", f"{host}:sub": "system:serviceaccount:default:app"}},
    }],
}
iam.create_role(RoleName="boto-irsa", AssumeRolePolicyDocument=json.dumps(irsa_trust))
iam.attach_role_policy(RoleName="boto-irsa", PolicyArn=policy_arn)
assert iam.get_role(RoleName="boto-irsa")["Role"]["AssumeRolePolicyDocument"] == irsa_trust
version = iam.get_policy_version(PolicyArn=policy_arn, VersionId="v1")["PolicyVersion"]
assert version["Document"] == read and version["IsDefaultVersion"], version
for n in range(12):
    iam.create_role(RoleName=f"page-{n:02d}", Path="/paged/", AssumeRolePolicyDocument=json.dumps(trust))
names = [
    role["RoleName"]
    for page in iam.get_paginator("list_roles").paginate(PathPrefix="/paged/", PaginationConfig={"PageSize": 5})
    for role in page["Roles"]
]
assert names == [f"page-{n:02d}" for n in range(12)], names
expect_error("NoSuchEntity", iam.get_role, RoleName="missing")
# Two access keys per user, as in IAM.
iam.create_access_key(UserName="boto-user")
expect_error("LimitExceeded", iam.create_access_key, UserName="boto-user")

print("boto3 walkthrough passed")
