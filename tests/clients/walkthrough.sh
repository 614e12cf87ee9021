#!/usr/bin/env bash
# The aws CLI against a running irsa: root key from the generated credentials
# file, an IAM user that is denied then allowed, a role assumed by the user,
# and a tampered session token refused.
# Usage: walkthrough.sh ENDPOINT DATA_DIR
set -euo pipefail
ENDPOINT="$1"
DATA_DIR="$2"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

export AWS_CONFIG_FILE=/dev/null
export AWS_DEFAULT_REGION=us-east-1
export AWS_SHARED_CREDENTIALS_FILE="$DATA_DIR/root-credentials"
export AWS_PROFILE=irsa-root
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
aws() { command aws --endpoint-url "$ENDPOINT" --output json "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_error() { # CODE, command...
    local code="$1"; shift
    if "$@" >"$WORK/out" 2>"$WORK/err"; then fail "expected $code from: $*"; fi
    grep -q "($code)" "$WORK/err" || fail "expected $code, got: $(cat "$WORK/err")"
}

arn=$(aws sts get-caller-identity --query Arn --output text)
[[ "$arn" == "arn:aws:iam::123456789012:root" ]] || fail "root identity: $arn"

aws iam create-user --user-name cli-user >/dev/null
aws iam create-access-key --user-name cli-user > "$WORK/key.json"
USER_KEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["AccessKey"]["AccessKeyId"])' "$WORK/key.json")
USER_SECRET=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["AccessKey"]["SecretAccessKey"])' "$WORK/key.json")
as_user() (
    unset AWS_PROFILE
    export AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_ACCESS_KEY_ID="$USER_KEY" AWS_SECRET_ACCESS_KEY="$USER_SECRET"
    "$@"
)

arn=$(as_user aws sts get-caller-identity --query Arn --output text)
[[ "$arn" == "arn:aws:iam::123456789012:user/cli-user" ]] || fail "user identity: $arn"
expect_error AccessDenied as_user aws iam list-roles

cat > "$WORK/policy.json" <<'JSON'
{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:ListRoles", "sts:AssumeRole"], "Resource": "*"}]}
JSON
aws iam put-user-policy --user-name cli-user --policy-name roles --policy-document "file://$WORK/policy.json"
as_user aws iam list-roles >/dev/null

cat > "$WORK/trust.json" <<'JSON'
{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]}
JSON
aws iam create-role --role-name cli-role --assume-role-policy-document "file://$WORK/trust.json" >/dev/null
doc=$(aws iam get-role --role-name cli-role --query Role.AssumeRolePolicyDocument.Statement[0].Principal.AWS --output text)
[[ "$doc" == "arn:aws:iam::123456789012:root" ]] || fail "trust policy round trip: $doc"

as_user aws sts assume-role --role-arn arn:aws:iam::123456789012:role/cli-role --role-session-name cli-session > "$WORK/session.json"
read -r SID SSECRET STOKEN < <(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["Credentials"]; print(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])' "$WORK/session.json")
as_session() (
    unset AWS_PROFILE
    export AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_ACCESS_KEY_ID="$SID" AWS_SECRET_ACCESS_KEY="$SSECRET" AWS_SESSION_TOKEN="$1"
    "${@:2}"
)
arn=$(as_session "$STOKEN" aws sts get-caller-identity --query Arn --output text)
[[ "$arn" == "arn:aws:sts::123456789012:assumed-role/cli-role/cli-session" ]] || fail "session identity: $arn"

TAMPERED="${STOKEN:0:20}$( [[ "${STOKEN:20:1}" == "A" ]] && echo B || echo A )${STOKEN:21}"
expect_error InvalidClientTokenId as_session "$TAMPERED" aws sts get-caller-identity

# The IAM half of the IRSA walkthrough: a managed policy from a file, an OIDC
# provider with a thumbprint, a role trusting one service account, the
# attachment; every document read back equal to what was sent.
ISSUER_HOST="oidc.cli.example.com/id/CLUSTER1"
cat > "$WORK/app-read.json" <<'JSON'
{"Version": "2012-10-17", "Statement": [{"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket", "dynamodb:GetItem"], "Resource": "*"}]}
JSON
POLICY_ARN=$(aws iam create-policy --policy-name app-read --policy-document "file://$WORK/app-read.json" --query Policy.Arn --output text)
[[ "$POLICY_ARN" == "arn:aws:iam::123456789012:policy/app-read" ]] || fail "policy arn: $POLICY_ARN"
PROVIDER_ARN=$(aws iam create-open-id-connect-provider --url "https://$ISSUER_HOST" \
    --client-id-list sts.amazonaws.com --thumbprint-list 9e99a48a9960b14926bb7f3b02e22da2b0ab7280 \
    --query OpenIDConnectProviderArn --output text)
[[ "$PROVIDER_ARN" == "arn:aws:iam::123456789012:oidc-provider/$ISSUER_HOST" ]] || fail "provider arn: $PROVIDER_ARN"
expect_error EntityAlreadyExists aws iam create-open-id-connect-provider --url "https://$ISSUER_HOST" --client-id-list sts.amazonaws.com
cat > "$WORK/irsa-trust.json" <<JSON
{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": "$PROVIDER_ARN"}, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": {"$ISSUER_HOST:aud": "sts.amazonaws.com", "$ISSUER_HOST:sub": "system:serviceaccount:default:app"}}}]}
JSON
aws iam create-role --role-name irsa-app --assume-role-policy-document "file://$WORK/irsa-trust.json" >/dev/null
aws iam attach-role-policy --role-name irsa-app --policy-arn "$POLICY_ARN"

same_json() { # FILE, JSON text
    python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.loads(sys.argv[2]); sys.exit(0 if a == b else 1)' "$1" "$2" \
        || fail "document differs from $1: $2"
}
same_json "$WORK/irsa-trust.json" "$(aws iam get-role --role-name irsa-app --query Role.AssumeRolePolicyDocument)"
same_json "$WORK/app-read.json" "$(aws iam get-policy-version --policy-arn "$POLICY_ARN" --version-id v1 --query PolicyVersion.Document)"
attached=$(aws iam list-attached-role-policies --role-name irsa-app --query 'AttachedPolicies[0].PolicyArn' --output text)
[[ "$attached" == "$POLICY_ARN" ]] || fail "attached: $attached"
clients=$(aws iam get-open-id-connect-provider --open-id-connect-provider-arn "$PROVIDER_ARN" --query 'ClientIDList[0]' --output text)
[[ "$clients" == "sts.amazonaws.com" ]] || fail "client ids: $clients"
expect_error DeleteConflict aws iam delete-role --role-name irsa-app
expect_error DeleteConflict aws iam delete-policy --policy-arn "$POLICY_ARN"
expect_error MalformedPolicyDocument aws iam create-policy --policy-name bad --policy-document '{"Version":"2012-10-17","Statement":[]}'
expect_error InvalidInput aws iam create-open-id-connect-provider --url "http://$ISSUER_HOST" --client-id-list sts.amazonaws.com

echo "aws CLI walkthrough passed"
