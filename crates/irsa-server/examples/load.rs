//! Load generator for STS over loopback: AssumeRoleWithWebIdentity with real
//! token verification (rotating through many distinct pre-minted tokens so
//! no per-token cache can stand in for the signature check), or
//! GetCallerIdentity signed with root keys (a cached long-term key) or with
//! session credentials (GetSessionToken). Not part of the test suite.
//!
//! Each of `--concurrency` workers holds one keep-alive HTTP/1.1 connection
//! and sends its requests back to back (closed loop, like wrk). Reports
//! requests/s, p50/p90/p99/max latency and the number of unexpected answers,
//! plus one tab-separated `result` line for scripts (`scripts/bench`).
//!
//! Reproduce (2-core machine: server on core 0, load generator on core 1;
//! `scripts/bench` does all of this and prints one table):
//!
//! ```sh
//! cargo build --release -p irsa
//! cargo build --release -p irsa-server --example load
//! LOAD=target/release/examples/load
//! IRSA=target/release/irsa
//!
//! # irsa: spawns `taskset -c 0 irsa serve` (SQLite in a temp dir) trusting an
//! # in-process HTTPS issuer (RSA-2048, or --key es256), sets up the OIDC
//! # provider and role through IAM, then drives it.
//! taskset -c 1 $LOAD --spawn-irsa $IRSA --action web-identity --requests 200000
//! taskset -c 1 $LOAD --spawn-irsa $IRSA --action caller-identity --requests 200000
//! taskset -c 1 $LOAD --spawn-irsa $IRSA --action caller-identity-session --requests 200000
//!
//! # Bad input under load: every 10th token is wrong-audience, forged
//! # (published kid, another key's signature), expired or alg=none; all must
//! # fail and every good one must pass (exit status 1 otherwise).
//! taskset -c 1 $LOAD --spawn-irsa $IRSA --bad-every 10
//! # A flood of tokens with unknown kids for 25 s: all fail, and the
//! # server's `irsa_oidc_key_cache_events_total{event="fetch"}` grows by at
//! # most one per 10 s (plus the first fetch).
//! taskset -c 1 $LOAD --spawn-irsa $IRSA --action unknown-kid-flood --seconds 25
//! # Many roles and providers: tokens spread over 10,000 roles, 10,000
//! # providers registered (one real, the rest decoys).
//! taskset -c 1 $LOAD --spawn-irsa $IRSA --roles 10000 --providers 10000 --tokens 10000
//!
//! # moto (accepts any token): pip install 'moto[server]'
//! taskset -c 0 moto_server -p 5000 &
//! taskset -c 1 $LOAD --endpoint http://127.0.0.1:5000 --action web-identity --requests 5000
//! taskset -c 1 $LOAD --endpoint http://127.0.0.1:5000 --action caller-identity --requests 5000
//! ```
//!
//! The spawned server logs (one audit line per AssumeRoleWithWebIdentity at
//! the default `info`) go to `server.log` in its temp dir; set `IRSA_LOG`
//! to change the level.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "../tests/common/issuer.rs"]
mod issuer;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine as _;
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use irsa_core::{Clock, SystemClock};
use irsa_oidc::{ObjectRef, ServiceAccountToken, SigningKey, SigningKeyType};
use issuer::{assume_body, HttpsIssuer};

const ACCOUNT: &str = "123456789012";
const ROOT_KEY_ID: &str = "AKIALOADTESTROOTKEY2";
const ROOT_SECRET: &str = "loadtestloadtestloadtestloadtestloadtest";

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Action {
    WebIdentity,
    /// Signed with a long-term key (the root's; cached by the server).
    CallerIdentity,
    /// Signed with GetSessionToken credentials (no store read).
    CallerIdentitySession,
    /// AssumeRoleWithWebIdentity with tokens whose `kid` is not published.
    UnknownKidFlood,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Key {
    Rs256,
    Es256,
}

#[derive(Debug, Parser)]
struct Args {
    /// Spawn `taskset -c <server-cpu> PATH serve` and drive it.
    #[arg(long, conflicts_with = "endpoint")]
    spawn_irsa: Option<PathBuf>,
    /// Drive a server that is already running (e.g. moto_server).
    #[arg(long)]
    endpoint: Option<String>,
    /// Access key for --endpoint (moto accepts any).
    #[arg(long, default_value = "AKIAIOSFODNN7EXAMPLE")]
    access_key_id: String,
    #[arg(long, default_value = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")]
    secret_access_key: String,
    #[arg(long, value_enum, default_value = "web-identity")]
    action: Action,
    #[arg(long, value_enum, default_value = "rs256")]
    key: Key,
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Measured requests (after the warm-up).
    #[arg(long, default_value_t = 100_000)]
    requests: usize,
    /// Unmeasured requests first (JWKS fetch, connection setup, caches).
    #[arg(long, default_value_t = 2_000)]
    warmup: usize,
    /// Distinct tokens, used in turn.
    #[arg(long, default_value_t = 1_000)]
    tokens: usize,
    #[arg(long, default_value_t = 0)]
    server_cpu: usize,
    /// Web identity: every Nth token is a negative case (0: none).
    #[arg(long, default_value_t = 0)]
    bad_every: usize,
    /// Roles to create; tokens are spread over them.
    #[arg(long, default_value_t = 1)]
    roles: usize,
    /// OIDC providers to register (one real, the rest decoys).
    #[arg(long, default_value_t = 1)]
    providers: usize,
    /// Run the measured phase for this long instead of `--requests`.
    #[arg(long)]
    seconds: Option<u64>,
    /// With --endpoint: the server's process id, to report its CPU time
    /// per request (with --spawn-irsa the spawned server's is used).
    #[arg(long)]
    server_pid: Option<u32>,
}

/// The server whose CPU time is measured, and its CPU ticks when the
/// measured phase began.
static SERVER_PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
static SERVER_CPU_AT_START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

/// User plus system CPU time of a process (all its threads) in clock ticks,
/// from /proc/PID/stat. CPU time per request does not move when other work
/// on the machine takes cycles away, unlike requests per second.
fn server_cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count from after its ')'.
    let after_name = &stat[stat.rfind(')')? + 2..];
    let mut fields = after_name.split(' ');
    // utime and stime are fields 14 and 15; after the name we start at 3.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second (`getconf CLK_TCK`); 100 on every Linux we run on.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// What a request must get back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Ok,
    /// Must be refused; the index into [`BAD_KINDS`].
    Refused(usize),
}

const BAD_KINDS: [&str; 5] = [
    "wrong audience",
    "forged signature under a published kid",
    "expired",
    "alg none",
    "unknown kid",
];
const UNKNOWN_KID: usize = 4;

struct Spawned {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_irsa(bin: &Path, cpu: usize, ca_pem: &str) -> (Spawned, String) {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let child = Command::new("taskset")
        .arg("-c")
        .arg(cpu.to_string())
        .arg(bin)
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--oidc-ca-file")
        .arg(&ca)
        .arg("--log-format")
        .arg("json")
        .env("IRSA_ROOT_ACCESS_KEY_ID", ROOT_KEY_ID)
        .env_remove("IRSA_WORKER_THREADS")
        .env("IRSA_ROOT_SECRET_ACCESS_KEY", ROOT_SECRET)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .expect("taskset and the irsa binary must be runnable");
    println!("server log: {}", dir.path().join("server.log").display());
    (
        Spawned { child, _dir: dir },
        format!("http://127.0.0.1:{port}"),
    )
}

async fn wait_healthy(addr: SocketAddr) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server at {addr} did not come up");
}

fn sdk_config(endpoint: &str, id: &str, secret: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(Credentials::new(
                id, secret, None, None, "load",
            )),
        )
        .build()
}

/// The OIDC provider (and decoys) and roles `load-0..N` trusting every
/// namespace's `app` account. Returns the role ARNs.
async fn setup(args: &Args, config: &aws_config::SdkConfig, issuer: &HttpsIssuer) -> Vec<String> {
    let iam = aws_sdk_iam::Client::new(config);
    // Reported, not fatal: moto needs neither to answer.
    if let Err(e) = iam
        .create_open_id_connect_provider()
        .url(&issuer.url)
        .client_id_list("sts.amazonaws.com")
        .send()
        .await
    {
        println!(
            "CreateOpenIDConnectProvider: {}",
            aws_sdk_iam::error::DisplayErrorContext(e)
        );
    }
    let started = Instant::now();
    let policy = issuer.trust_policy(ACCOUNT, "system:serviceaccount:*:app");
    let mut failures = 0;
    // 32 creations in flight keep the server busy without queueing forever.
    for chunk in (0..args.roles.max(args.providers))
        .collect::<Vec<_>>()
        .chunks(32)
    {
        let mut tasks = tokio::task::JoinSet::new();
        for &i in chunk {
            let iam = iam.clone();
            let policy = policy.clone();
            let (role, decoy) = (i < args.roles, i + 1 < args.providers);
            tasks.spawn(async move {
                let mut ok = true;
                if role {
                    ok &= iam
                        .create_role()
                        .role_name(format!("load-{i}"))
                        .assume_role_policy_document(policy)
                        .send()
                        .await
                        .is_ok();
                }
                if decoy {
                    ok &= iam
                        .create_open_id_connect_provider()
                        .url(format!("https://decoy-{i}.issuer.example"))
                        .client_id_list("sts.amazonaws.com")
                        .thumbprint_list("0000000000000000000000000000000000000000")
                        .send()
                        .await
                        .is_ok();
                }
                ok
            });
        }
        while let Some(done) = tasks.join_next().await {
            if !done.unwrap_or(false) {
                failures += 1;
            }
        }
    }
    println!(
        "set up {} roles and {} providers in {:.1?} ({failures} failed)",
        args.roles,
        args.providers,
        started.elapsed()
    );
    (0..args.roles)
        .map(|i| format!("arn:aws:iam::{ACCOUNT}:role/load-{i}"))
        .collect()
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The claims of a good token for `namespace`, issued at `now`.
fn claims(issuer: &HttpsIssuer, namespace: &str, audience: &str, now: i64) -> serde_json::Value {
    ServiceAccountToken {
        issuer: issuer.url.clone(),
        audiences: vec![audience.to_owned()],
        namespace: namespace.to_owned(),
        service_account: ObjectRef {
            name: "app".to_owned(),
            uid: "6f0e2d5a-9c5b-4a57-8a59-1f5e0c7c1e11".to_owned(),
        },
        pod: None,
        node: None,
        expiration_seconds: 3600,
        warn_after: None,
    }
    .claims(now)
}

/// A token that must be refused, of kind `BAD_KINDS[kind]`.
fn bad_token(
    issuer: &HttpsIssuer,
    other_keys: &[SigningKey],
    kind: usize,
    i: usize,
    now: i64,
) -> String {
    let namespace = format!("ns-{i}");
    let other = &other_keys[i % other_keys.len()];
    match kind {
        0 => issuer.service_account_token(&namespace, "app", "not-sts.example", now),
        1 => {
            // The published kid, signed by a key the issuer never published.
            let header =
                serde_json::json!({"alg": issuer.key.alg().as_str(), "kid": issuer.key.kid()});
            let forged = SigningKey::generate(SigningKeyType::Rsa2048).unwrap();
            let claims = claims(issuer, &namespace, "sts.amazonaws.com", now);
            irsa_oidc::issuer::sign_jws(&header, &claims, &forged).unwrap()
        }
        // Expired an hour ago (beyond any clock-skew allowance).
        2 => issuer.token(&namespace, "app", now - 2 * 3600),
        3 => {
            let header = serde_json::json!({"alg": "none", "kid": issuer.key.kid(), "typ": "JWT"});
            let claims = claims(issuer, &namespace, "sts.amazonaws.com", now);
            format!(
                "{}.{}.",
                b64url(header.to_string().as_bytes()),
                b64url(claims.to_string().as_bytes())
            )
        }
        _ => irsa_oidc::issuer::mint(&claims(issuer, &namespace, "sts.amazonaws.com", now), other)
            .unwrap(),
    }
}

/// The request bodies for the web-identity actions, with what each must get.
fn web_identity_bodies(
    args: &Args,
    issuer: &HttpsIssuer,
    role_arns: &[String],
) -> Vec<(String, Expect)> {
    let now = SystemClock.unix_seconds();
    let minted = Instant::now();
    // Cheap EC keys stand for "a key the issuer never published".
    let other_keys: Vec<SigningKey> = (0..16)
        .map(|_| SigningKey::generate(SigningKeyType::EcdsaP256).unwrap())
        .collect();
    let mut forged_rsa: Option<String> = None;
    let bodies: Vec<(String, Expect)> = (0..args.tokens)
        .map(|i| {
            let role_arn = &role_arns[i % role_arns.len()];
            let expect = match args.action {
                Action::UnknownKidFlood => Expect::Refused(UNKNOWN_KID),
                _ if args.bad_every > 0 && i % args.bad_every == args.bad_every - 1 => {
                    Expect::Refused((i / args.bad_every) % 4)
                }
                _ => Expect::Ok,
            };
            let token = match expect {
                Expect::Ok => issuer.token(&format!("ns-{i}"), "app", now),
                // RSA key generation is slow: one forged token serves them all.
                Expect::Refused(1) => forged_rsa
                    .get_or_insert_with(|| bad_token(issuer, &other_keys, 1, i, now))
                    .clone(),
                Expect::Refused(kind) => bad_token(issuer, &other_keys, kind, i, now),
            };
            (assume_body(role_arn, "load", &token), expect)
        })
        .collect();
    println!(
        "minted {} distinct {:?} tokens in {:.1?}",
        bodies.len(),
        args.key,
        minted.elapsed()
    );
    bodies
}

/// Session credentials from GetSessionToken, signed with the root key.
async fn session_credentials(config: &aws_config::SdkConfig) -> (String, String, String) {
    let sts = aws_sdk_sts::Client::new(config);
    let out = sts.get_session_token().send().await.unwrap();
    let c = out.credentials().unwrap();
    (
        c.access_key_id().to_owned(),
        c.secret_access_key().to_owned(),
        c.session_token().to_owned(),
    )
}

/// A POST with `body`; GetCallerIdentity requests carry a SigV4 signature
/// computed once (valid for the 15-minute skew window).
struct Prepared {
    headers: http::HeaderMap,
    bodies: Vec<(Bytes, Expect)>,
}

fn prepare(
    endpoint: &str,
    args: &Args,
    session: Option<(String, String, String)>,
    bodies: Vec<(String, Expect)>,
) -> Prepared {
    let host = endpoint.trim_start_matches("http://").to_owned();
    let mut req = http::Request::builder()
        .method("POST")
        .uri(format!("{endpoint}/"))
        .header("host", &host)
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(())
        .unwrap();
    if let Action::CallerIdentity | Action::CallerIdentitySession = args.action {
        let body = "Action=GetCallerIdentity&Version=2011-06-15";
        let identity: Identity = match session {
            Some((id, secret, token)) => Credentials::new(id, secret, Some(token), None, "load"),
            None => Credentials::new(
                &args.access_key_id,
                &args.secret_access_key,
                None,
                None,
                "load",
            ),
        }
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("sts")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let uri = req.uri().to_string();
        let signable = SignableRequest::new(
            "POST",
            uri,
            req.headers()
                .iter()
                .map(|(n, v)| (n.as_str(), v.to_str().unwrap())),
            SignableBody::Bytes(body.as_bytes()),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        instructions.apply_to_request_http1x(&mut req);
        return Prepared {
            headers: req.headers().clone(),
            bodies: vec![(Bytes::from_static(body.as_bytes()), Expect::Ok)],
        };
    }
    Prepared {
        headers: req.headers().clone(),
        bodies: bodies
            .into_iter()
            .map(|(body, expect)| (Bytes::from(body), expect))
            .collect(),
    }
}

#[derive(Default)]
struct WorkerResult {
    latencies_us: Vec<u32>,
    /// Good requests that did not get 200.
    errors: usize,
    first_error: Option<String>,
    /// Negative cases refused / accepted, by kind.
    refused: [usize; BAD_KINDS.len()],
    accepted: [usize; BAD_KINDS.len()],
    /// The first refusal's body per kind (the error code shows which check).
    refusal: [Option<String>; BAD_KINDS.len()],
}

/// When the measured phase ends.
#[derive(Clone, Copy)]
enum Stop {
    After(usize),
    At(Instant),
}

async fn connect(addr: SocketAddr) -> hyper::client::conn::http1::SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

async fn worker(
    addr: SocketAddr,
    prepared: Arc<Prepared>,
    next: Arc<AtomicUsize>,
    stop: Arc<std::sync::OnceLock<Stop>>,
    measure_from: usize,
    measuring_since: Arc<std::sync::OnceLock<Instant>>,
) -> WorkerResult {
    let mut sender = connect(addr).await;
    let mut out = WorkerResult::default();
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        match stop.get() {
            Some(Stop::After(total)) if i >= *total => return out,
            Some(Stop::At(deadline)) if Instant::now() >= *deadline => return out,
            _ => {}
        }
        if i == measure_from {
            let _ = measuring_since.set(Instant::now());
            if let Some(cpu) = SERVER_PID.get().and_then(|&pid| server_cpu_ticks(pid)) {
                let _ = SERVER_CPU_AT_START.set(cpu);
            }
        }
        // Servers that close after each answer (HTTP/1.0) get a new connection.
        if sender.is_closed() || sender.ready().await.is_err() {
            sender = connect(addr).await;
        }
        let (body, expect) = prepared.bodies[i % prepared.bodies.len()].clone();
        let mut req = http::Request::builder()
            .method("POST")
            .uri("/")
            .body(Full::new(body))
            .unwrap();
        *req.headers_mut() = prepared.headers.clone();
        let start = Instant::now();
        let (status, bytes) = match sender.send_request(req).await {
            Ok(response) => {
                let status = response.status();
                let bytes = response
                    .into_body()
                    .collect()
                    .await
                    .map(http_body_util::Collected::to_bytes);
                (Some(status), bytes.ok())
            }
            Err(err) => {
                out.first_error.get_or_insert_with(|| err.to_string());
                (None, None)
            }
        };
        let elapsed = start.elapsed();
        let text = || {
            format!(
                "{status:?}: {}",
                bytes
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default()
            )
        };
        match (expect, status) {
            (Expect::Ok, Some(http::StatusCode::OK)) => {}
            (Expect::Ok, _) => {
                out.errors += 1;
                out.first_error.get_or_insert_with(text);
            }
            (Expect::Refused(kind), Some(http::StatusCode::OK)) => out.accepted[kind] += 1,
            (Expect::Refused(kind), Some(_)) => {
                out.refused[kind] += 1;
                out.refusal[kind].get_or_insert_with(text);
            }
            (Expect::Refused(_), None) => out.errors += 1,
        }
        if status.is_none() {
            sender = connect(addr).await;
        }
        if i >= measure_from {
            out.latencies_us
                .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
        }
    }
}

/// `irsa_oidc_key_cache_events_total{event="EVENT"}` from `/metrics`.
async fn key_cache_event(addr: SocketAddr, event: &str) -> Option<u64> {
    let mut sender = connect(addr).await;
    let req = http::Request::builder()
        .uri("/metrics")
        .header("host", addr.to_string())
        .body(Full::new(Bytes::new()))
        .unwrap();
    let body = sender
        .send_request(req)
        .await
        .ok()?
        .into_body()
        .collect()
        .await
        .ok()?
        .to_bytes();
    let needle = format!("irsa_oidc_key_cache_events_total{{event=\"{event}\"}} ");
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|line| line.strip_prefix(&needle)?.trim().parse().ok())
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[index]) / 1000.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    let key_type = match args.key {
        Key::Rs256 => SigningKeyType::Rsa2048,
        Key::Es256 => SigningKeyType::EcdsaP256,
    };
    let issuer = HttpsIssuer::start(key_type).await;
    let (server, endpoint, id, secret) = match (&args.spawn_irsa, &args.endpoint) {
        (Some(bin), None) => {
            let (server, endpoint) = spawn_irsa(bin, args.server_cpu, &issuer.ca_pem);
            (
                Some(server),
                endpoint,
                ROOT_KEY_ID.to_owned(),
                ROOT_SECRET.to_owned(),
            )
        }
        (None, Some(endpoint)) => (
            None,
            endpoint.trim_end_matches('/').to_owned(),
            args.access_key_id.clone(),
            args.secret_access_key.clone(),
        ),
        _ => panic!("give --spawn-irsa PATH or --endpoint URL"),
    };
    let addr: SocketAddr = endpoint
        .trim_start_matches("http://")
        .parse()
        .expect("endpoint must be http://IP:PORT");
    wait_healthy(addr).await;
    if let Some(pid) = server.as_ref().map(|s| s.child.id()).or(args.server_pid) {
        let _ = SERVER_PID.set(pid);
    }
    let config = sdk_config(&endpoint, &id, &secret);
    let args = Args {
        access_key_id: id,
        secret_access_key: secret,
        ..args
    };

    let (bodies, session) = match args.action {
        Action::WebIdentity | Action::UnknownKidFlood => {
            let role_arns = setup(&args, &config, &issuer).await;
            (web_identity_bodies(&args, &issuer, &role_arns), None)
        }
        Action::CallerIdentity => (Vec::new(), None),
        Action::CallerIdentitySession => (Vec::new(), Some(session_credentials(&config).await)),
    };
    let prepared = Arc::new(prepare(&endpoint, &args, session, bodies));
    let fetches_before = key_cache_event(addr, "fetch").await;

    let next = Arc::new(AtomicUsize::new(0));
    // With --seconds the deadline is set once the warm-up is over.
    let stop = Arc::new(std::sync::OnceLock::new());
    if args.seconds.is_none() {
        let _ = stop.set(Stop::After(args.warmup + args.requests));
    }
    // The clock starts when the first measured request is handed out.
    let started = Instant::now();
    let measuring_since = Arc::new(std::sync::OnceLock::new());
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| {
            tokio::spawn(worker(
                addr,
                prepared.clone(),
                next.clone(),
                stop.clone(),
                args.warmup,
                measuring_since.clone(),
            ))
        })
        .collect();
    if let Some(seconds) = args.seconds {
        while measuring_since.get().is_none() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let _ = stop.set(Stop::At(Instant::now() + Duration::from_secs(seconds)));
    }
    let mut latencies = Vec::with_capacity(args.requests);
    let mut errors = 0;
    let mut first_error = None;
    let mut refused = [0; BAD_KINDS.len()];
    let mut accepted = [0; BAD_KINDS.len()];
    let mut refusal: [Option<String>; BAD_KINDS.len()] = Default::default();
    for w in workers {
        let mut r = w.await.unwrap();
        latencies.extend(r.latencies_us);
        errors += r.errors;
        first_error = first_error.or(r.first_error);
        for kind in 0..BAD_KINDS.len() {
            refused[kind] += r.refused[kind];
            accepted[kind] += r.accepted[kind];
            if refusal[kind].is_none() {
                refusal[kind] = r.refusal[kind].take();
            }
        }
    }
    let measured = measuring_since.get().copied().unwrap_or(started).elapsed();
    let server_cpu_end = SERVER_PID.get().and_then(|&pid| server_cpu_ticks(pid));
    let whole_run = started.elapsed();
    latencies.sort_unstable();
    #[allow(clippy::cast_precision_loss)]
    let rate = latencies.len() as f64 / measured.as_secs_f64();
    println!(
        "{:?} against {endpoint}: concurrency {}, {} measured requests (+{} warm-up) in {:.2?}",
        args.action,
        args.concurrency,
        latencies.len(),
        args.warmup,
        measured
    );
    let (p50, p99) = (percentile(&latencies, 0.50), percentile(&latencies, 0.99));
    println!(
        "  {rate:.0} requests/s; latency ms p50 {p50:.2} p90 {:.2} p99 {p99:.2} max {:.2}; errors {errors}",
        percentile(&latencies, 0.90),
        percentile(&latencies, 1.0),
    );
    // Server CPU microseconds per measured request ("-" when unknown).
    let cpu_us = match (SERVER_CPU_AT_START.get(), server_cpu_end) {
        (Some(&start), Some(end)) if !latencies.is_empty() => {
            #[allow(clippy::cast_precision_loss)]
            let us = (end - start) as f64 / CLOCK_TICKS_PER_SECOND * 1e6 / latencies.len() as f64;
            println!("  server CPU {us:.1} µs per request (user + system, all threads)");
            format!("{us:.1}")
        }
        _ => "-".to_owned(),
    };
    if let Some(e) = first_error {
        let short: String = e.chars().take(400).collect();
        println!("  first error: {short}");
    }
    let mut failed = errors > 0;
    for (kind, name) in BAD_KINDS.iter().enumerate() {
        if refused[kind] + accepted[kind] == 0 {
            continue;
        }
        let code = refusal[kind]
            .as_deref()
            .and_then(|body| Some(body.split("<Code>").nth(1)?.split('<').next()?.to_owned()))
            .unwrap_or_default();
        println!(
            "  negative case {name:?}: {} refused ({code}), {} ACCEPTED",
            refused[kind], accepted[kind]
        );
        failed |= accepted[kind] > 0;
    }
    if let Action::UnknownKidFlood = args.action {
        let after = key_cache_event(addr, "fetch").await;
        let rate_limited = key_cache_event(addr, "rate_limited").await.unwrap_or(0);
        if let (Some(before), Some(after)) = (fetches_before, after) {
            // One fetch when the flood starts, then at most one per 10 s.
            let allowed = whole_run.as_secs() / 10 + 1;
            let fetched = after - before;
            println!(
                "  JWKS fetches during {whole_run:.1?} of unknown kids: {fetched} (at most {allowed} allowed); {rate_limited} refetches rate-limited"
            );
            failed |= fetched > allowed;
        } else {
            println!("  no irsa_oidc_key_cache_events_total on /metrics (not irsa?)");
        }
    }
    println!(
        "result\t{:?}\t{rate:.0}\t{p50:.2}\t{p99:.2}\t{errors}\t{cpu_us}",
        args.action
    );
    if failed {
        std::process::exit(1);
    }
}
