//! The gateway's per-request decision work, without the network: a
//! GetObject signed with role-session credentials (a sealed session token)
//! is verified, classified and authorized exactly through the public APIs
//! the S3 front calls — [`signed_request`] + [`Pipeline::authenticate`]
//! (irsa-auth's Authenticator over irsa-sigv4), `irsa_s3::classify` +
//! `S3Request::authorization` with [`auth_context`], and
//! [`Pipeline::authorize`] (irsa-auth's Authorizer over irsa-policy) of the
//! [`IamChecks`] with the bucket's policy from [`BucketPolicies::for_checks`]. The role has three identity policies; the bucket has
//! a policy with an Allow for the role and a Deny with a condition.
//!
//! The clock is fixed at the signing time, so the caches (keys, policies,
//! bucket policy) stay warm: this is the steady-state cost per request.
//! With the wall clock each cache is reloaded from the store every 5 s,
//! which amortises to nothing at any real request rate.
//!
//! Groups: `verify`, `classify`, `evaluate` (the split), `total` (all
//! three, in the gateway's order), plus `resign` (signing the forwarded
//! request for the upstream with `Upstream::sign`) for comparison.
//!
//! Run: `cargo bench -p irsa-gateway --bench request`.

// Bench code: setup failures are bugs of the bench.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use http::{HeaderMap, Method};
use irsa_auth::{Authenticator, Authorizer, Caller, RequestFacts, SessionClaims, SessionPrincipal};
use irsa_core::{AccountId, SecretString, SharedClock, TestClock};
use irsa_gateway::{
    auth_context, sign_s3, signed_request, BucketPolicies, ConnectionInfo, GatewayMetrics,
    IamChecks, Pipeline, S3Credentials, Upstream, UpstreamConfig,
};
use irsa_s3::{AddressingConfig, AuthorizationRequest, RequestInput};
use irsa_sigv4::{SigV4Config, VerifiedSignature};
use irsa_store::{MasterKey, NewRole, PrincipalKind, StoreConfig};

const ACCOUNT: &str = "123456789012";
const BUCKET: &str = "bench-bucket";
const KEY: &str = "team-a/reports/2026/12/05/report-0001.csv";
const HOST: &str = "127.0.0.1:9000";
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const SESSION_KEY_ID: &str = "ASIAQ3EGBENCHSESSION";
const SESSION_SECRET: &str = "bEnChSeCrEtAcCeSsKeY/0123456789abcdefGHIJ";

/// Three identity policies of the kind a workload role carries: object
/// access under a prefix (with a condition), listing with `s3:prefix`, and
/// an explicit deny elsewhere.
const IDENTITY_POLICIES: [(&str, &str); 3] = [
    (
        "objects",
        r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"ReadWriteTeam","Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:GetObjectTagging"],
             "Resource":["arn:aws:s3:::bench-bucket/team-a/*","arn:aws:s3:::bench-bucket/shared/*"],
             "Condition":{"Bool":{"aws:SecureTransport":["true","false"]},"StringEquals":{"aws:RequestedRegion":"us-east-1"}}},
            {"Sid":"ReadOthers","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::other-*/*"}]}"#,
    ),
    (
        "listing",
        r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"ListTeam","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::bench-bucket",
             "Condition":{"StringLike":{"s3:prefix":["team-a/*","shared/*",""]}}},
            {"Sid":"Buckets","Effect":"Allow","Action":["s3:ListAllMyBuckets","s3:GetBucketLocation"],"Resource":"*"}]}"#,
    ),
    (
        "guardrails",
        r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"NoDeletes","Effect":"Deny","Action":["s3:DeleteObject","s3:DeleteBucket","s3:PutBucketPolicy"],"Resource":"*"},
            {"Sid":"NoSecrets","Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::bench-bucket/secrets/*"}]}"#,
    ),
];

/// The bucket's policy: the role may read, nobody may use a non-v4
/// signature, and an IP-conditioned deny that does not match loopback.
fn bucket_policy(role_arn: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Sid":"RoleReads","Effect":"Allow","Principal":{{"AWS":"{role_arn}"}},"Action":["s3:GetObject","s3:ListBucket"],
              "Resource":["arn:aws:s3:::{BUCKET}","arn:aws:s3:::{BUCKET}/*"]}},
            {{"Sid":"V4Only","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::{BUCKET}/*",
              "Condition":{{"StringNotEquals":{{"s3:signatureversion":"AWS4-HMAC-SHA256"}}}}}},
            {{"Sid":"BlockedRange","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::{BUCKET}/*",
              "Condition":{{"IpAddress":{{"aws:SourceIp":"203.0.113.0/24"}}}}}}]}}"#
    )
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    pipeline: Pipeline,
    bucket_policies: BucketPolicies,
    addressing: AddressingConfig,
    sigv4: SigV4Config,
    connection: ConnectionInfo,
    /// The client's signed GetObject.
    parts: http::request::Parts,
    _data: tempfile::TempDir,
}

/// A GetObject as aws-sdk-rust sends it, signed at `now` with the session.
fn signed_get_object(now: SystemTime, token: &str) -> http::request::Parts {
    let uri: http::Uri = format!("http://{HOST}/{BUCKET}/{KEY}?x-id=GetObject")
        .parse()
        .unwrap();
    let mut request = http::Request::builder()
        .method("GET")
        .uri(uri.clone())
        .header("host", HOST)
        .header("user-agent", "aws-sdk-rust/1.3.9 os/linux lang/rust/1.91.0")
        .header(
            "x-amz-user-agent",
            "aws-sdk-rust/1.3.9 api/s3/1.110.0 os/linux lang/rust/1.91.0 m/E",
        )
        .header(
            "amz-sdk-invocation-id",
            "0b6b1a4e-5d1c-4b2f-9f0e-0e7f0f6c3a11",
        )
        .header("amz-sdk-request", "attempt=1; max=3")
        .header("x-amz-checksum-mode", "ENABLED")
        .body(())
        .unwrap();
    let credentials = S3Credentials {
        access_key_id: SESSION_KEY_ID,
        secret_access_key: SESSION_SECRET,
        session_token: Some(token),
    };
    sign_s3(
        &credentials,
        "us-east-1",
        "GET",
        &uri,
        request.headers_mut(),
        EMPTY_SHA256,
        now,
    )
    .unwrap();
    request.into_parts().0
}

fn fixture() -> Fixture {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let now = SystemTime::now();
    let clock: SharedClock = Arc::new(TestClock::new(now));
    let account: AccountId = ACCOUNT.parse().unwrap();
    let data = tempfile::tempdir().unwrap();
    let (pipeline, bucket_policies, token) = runtime.block_on(async {
        let store = irsa_store::open(StoreConfig {
            database_url: None,
            data_dir: data.path().to_path_buf(),
            master_key: MasterKey::generate().unwrap(),
            account_id: account.clone(),
            clock: clock.clone(),
        })
        .await
        .unwrap();
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"sts:AssumeRole"}}]}}"#
        );
        let role = store
            .create_role(NewRole::new("bench-workload", trust))
            .await
            .unwrap();
        for (name, document) in IDENTITY_POLICIES {
            store
                .put_inline_policy(PrincipalKind::Role, &role.name, name, document.to_owned())
                .await
                .unwrap();
        }
        let bucket_policies = BucketPolicies::new(Arc::clone(&store), clock.clone());
        let text = bucket_policy(&role.arn);
        let parsed = BucketPolicies::validate(&text).unwrap();
        bucket_policies.put(BUCKET, text, parsed).await.unwrap();

        let authenticator = Authenticator::new(Arc::clone(&store), clock.clone(), account.clone())
            .await
            .unwrap();
        let issued = now.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        let issued = i64::try_from(issued).unwrap();
        let claims = SessionClaims::new(
            SESSION_KEY_ID.to_owned(),
            SecretString::new(SESSION_SECRET),
            SessionPrincipal::AssumedRole {
                role_arn: role.arn.clone(),
                role_id: role.id.clone(),
                session_name: "bench-session".to_owned(),
            },
            account.clone(),
            issued,
            issued + 3600,
        );
        let token = authenticator.session_keys().seal(&claims).unwrap();
        let upstream = Upstream::new(UpstreamConfig {
            endpoint: "http://127.0.0.1:3900".to_owned(),
            access_key_id: "GK0123456789abcdef01234567".to_owned(),
            secret_access_key: SecretString::new("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
            region: "us-east-1".to_owned(),
            connect_timeout: Duration::from_secs(2),
        })
        .unwrap();
        let pipeline = Pipeline {
            authenticator: Arc::new(authenticator),
            authorizer: Arc::new(Authorizer::new(Arc::clone(&store), clock.clone())),
            upstream,
            metrics: GatewayMetrics::new("s3"),
            clock: clock.clone(),
            account: account.clone(),
        };
        (pipeline, bucket_policies, token.expose().to_owned())
    });
    let parts = signed_get_object(now, &token);
    Fixture {
        runtime,
        pipeline,
        bucket_policies,
        addressing: AddressingConfig::new(&["s3.localhost".to_owned()]),
        sigv4: SigV4Config::s3(),
        connection: ConnectionInfo {
            peer: SocketAddr::from(([127, 0, 0, 1], 50_000)),
            secure_transport: false,
            tls_version: None,
        },
        parts,
        _data: data,
    }
}

impl Fixture {
    /// Verify: parse, open the session token, check the signature, and
    /// prepare the payload check.
    fn verify(&self) -> (Caller, VerifiedSignature) {
        let signed = signed_request(&self.parts);
        let authenticated = self
            .runtime
            .block_on(self.pipeline.authenticate(&self.sigv4, &signed))
            .unwrap();
        let (caller, signature) = authenticated.into_parts();
        black_box(signature.payload_check(&signed).unwrap());
        (caller, signature)
    }

    /// Classify: operation, bucket, key, and the IAM checks with their
    /// condition keys.
    fn classify(&self, signature: &VerifiedSignature) -> Vec<AuthorizationRequest> {
        let request =
            irsa_s3::classify(&self.addressing, &RequestInput::from_parts(&self.parts)).unwrap();
        let context = auth_context(&self.pipeline, &self.connection, Some(signature));
        request.authorization(&context).unwrap()
    }

    /// Evaluate: the bucket policy (cached), the caller's policies
    /// (cached), and every check through irsa-policy. Panics unless allowed
    /// (a bench of a denial would measure something else).
    fn evaluate(
        &self,
        caller: &Caller,
        signature: &VerifiedSignature,
        checks: &[AuthorizationRequest],
    ) {
        let facts: RequestFacts = Pipeline::facts(&self.connection, signature.region());
        let policies = self
            .runtime
            .block_on(self.bucket_policies.for_checks(checks))
            .unwrap();
        assert!(policies.contains_key(BUCKET));
        let prepared = IamChecks::new(checks);
        let iam_checks = prepared.with_bucket_policies(&policies, self.pipeline.account.as_str());
        let verdicts = self
            .runtime
            .block_on(self.pipeline.authorize(caller, &facts, &iam_checks))
            .unwrap();
        assert!(
            verdicts.iter().all(irsa_auth::Verdict::is_allowed),
            "{verdicts:?}"
        );
    }
}

fn bench(c: &mut Criterion) {
    let fx = fixture();
    // The whole path once, so a broken fixture fails before measuring.
    let (caller, signature) = fx.verify();
    let checks = fx.classify(&signature);
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].action, "s3:GetObject");
    assert_eq!(checks[0].resource, format!("arn:aws:s3:::{BUCKET}/{KEY}"));
    fx.evaluate(&caller, &signature, &checks);

    let mut group =
        c.benchmark_group("s3 GetObject, role session, 3 identity policies + bucket policy");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify", |b| b.iter(|| fx.verify()));
    group.bench_function("classify", |b| {
        b.iter(|| fx.classify(black_box(&signature)));
    });
    group.bench_function("evaluate", |b| {
        b.iter(|| fx.evaluate(&caller, &signature, black_box(&checks)));
    });
    group.bench_function("total", |b| {
        b.iter(|| {
            let (caller, signature) = fx.verify();
            let checks = fx.classify(&signature);
            fx.evaluate(&caller, &signature, &checks);
        });
    });
    let mut forwarded = HeaderMap::new();
    for name in ["user-agent", "x-amz-user-agent", "x-amz-checksum-mode"] {
        if let Some(value) = fx.parts.headers.get(name) {
            forwarded.insert(name, value.clone());
        }
    }
    let path = format!("/{BUCKET}/{KEY}");
    group.bench_function("resign for upstream", |b| {
        b.iter(|| {
            fx.pipeline
                .upstream
                .sign(
                    &Method::GET,
                    &path,
                    forwarded.clone(),
                    EMPTY_SHA256,
                    SystemTime::now(),
                )
                .unwrap()
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
