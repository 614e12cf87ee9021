//! Load generator for STS over loopback: AssumeRoleWithWebIdentity with real
//! token verification (rotating through many distinct pre-minted tokens so
//! no per-token cache can stand in for the signature check), or
//! GetCallerIdentity signed with root keys. Not part of the test suite.
//!
//! Each of `--concurrency` workers holds one keep-alive HTTP/1.1 connection
//! and sends its requests back to back (closed loop, like wrk). Reports
//! requests/s, p50/p90/p99/max latency and the number of non-200 answers.
//!
//! Reproduce (2-core machine: server on core 0, load generator on core 1):
//!
//! ```sh
//! export CARGO_TARGET_DIR=/work/targets/perf
//! cargo build --profile bench -p irsa            # the server binary
//! cargo build --profile bench -p irsa-server --example load
//! LOAD=$CARGO_TARGET_DIR/release/examples/load
//! IRSA=$CARGO_TARGET_DIR/release/irsa
//!
//! # irsa: spawns `taskset -c 0 irsa serve` (SQLite in a temp dir) trusting an
//! # in-process HTTPS issuer (RSA-2048, or --key es256), sets up the OIDC
//! # provider and role through IAM, then drives it.
//! taskset -c 1 $LOAD --spawn-irsa $IRSA --action web-identity --requests 200000
//! taskset -c 1 $LOAD --spawn-irsa $IRSA --action caller-identity --requests 200000
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
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use irsa_core::{Clock, SystemClock};
use irsa_oidc::SigningKeyType;
use issuer::{assume_body, HttpsIssuer};

const ACCOUNT: &str = "123456789012";
const ROOT_KEY_ID: &str = "AKIALOADTESTROOTKEY2";
const ROOT_SECRET: &str = "loadtestloadtestloadtestloadtestloadtest";

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Action {
    WebIdentity,
    CallerIdentity,
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
}

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

/// The OIDC provider and a role trusting every namespace's `app` account.
async fn setup(config: &aws_config::SdkConfig, issuer: &HttpsIssuer) -> String {
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
    if let Err(e) = iam
        .create_role()
        .role_name("load")
        .assume_role_policy_document(issuer.trust_policy(ACCOUNT, "system:serviceaccount:*:app"))
        .send()
        .await
    {
        println!("CreateRole: {}", aws_sdk_iam::error::DisplayErrorContext(e));
    }
    format!("arn:aws:iam::{ACCOUNT}:role/load")
}

/// A POST with `body`; GetCallerIdentity requests carry a SigV4 signature
/// computed once (valid for the 15-minute skew window).
struct Prepared {
    headers: http::HeaderMap,
    bodies: Vec<Bytes>,
}

fn prepare(action: Action, endpoint: &str, args: &Args, bodies: Vec<String>) -> Prepared {
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
    if let Action::CallerIdentity = action {
        let body = "Action=GetCallerIdentity&Version=2011-06-15";
        let identity: Identity = Credentials::new(
            &args.access_key_id,
            &args.secret_access_key,
            None,
            None,
            "load",
        )
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
            bodies: vec![Bytes::from_static(body.as_bytes())],
        };
    }
    Prepared {
        headers: req.headers().clone(),
        bodies: bodies.into_iter().map(Bytes::from).collect(),
    }
}

#[derive(Default)]
struct WorkerResult {
    latencies_us: Vec<u32>,
    errors: usize,
    first_error: Option<String>,
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
    total: usize,
    measure_from: usize,
    measuring_since: Arc<std::sync::OnceLock<Instant>>,
) -> WorkerResult {
    let mut sender = connect(addr).await;
    let mut out = WorkerResult::default();
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= total {
            return out;
        }
        if i == measure_from {
            let _ = measuring_since.set(Instant::now());
        }
        // Servers that close after each answer (HTTP/1.0) get a new connection.
        if sender.is_closed() || sender.ready().await.is_err() {
            sender = connect(addr).await;
        }
        let body = prepared.bodies[i % prepared.bodies.len()].clone();
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
        if status != Some(http::StatusCode::OK) {
            out.errors += 1;
            out.first_error.get_or_insert_with(|| {
                format!(
                    "{status:?}: {}",
                    bytes
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default()
                )
            });
            if status.is_none() {
                sender = connect(addr).await;
            }
        }
        if i >= measure_from {
            out.latencies_us
                .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
        }
    }
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
    let (_server, endpoint, id, secret) = match (&args.spawn_irsa, &args.endpoint) {
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
    let config = sdk_config(&endpoint, &id, &secret);
    let args = Args {
        access_key_id: id,
        secret_access_key: secret,
        ..args
    };

    let bodies = match args.action {
        Action::WebIdentity => {
            let role_arn = setup(&config, &issuer).await;
            let now = SystemClock.unix_seconds();
            let minted = Instant::now();
            let bodies: Vec<String> = (0..args.tokens)
                .map(|i| {
                    assume_body(
                        &role_arn,
                        "load",
                        &issuer.token(&format!("ns-{i}"), "app", now),
                    )
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
        Action::CallerIdentity => Vec::new(),
    };
    let prepared = Arc::new(prepare(args.action, &endpoint, &args, bodies));

    let total = args.warmup + args.requests;
    let next = Arc::new(AtomicUsize::new(0));
    // The clock starts when the first measured request is handed out.
    let started = Instant::now();
    let measuring_since = Arc::new(std::sync::OnceLock::new());
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| {
            tokio::spawn(worker(
                addr,
                prepared.clone(),
                next.clone(),
                total,
                args.warmup,
                measuring_since.clone(),
            ))
        })
        .collect();
    let mut latencies = Vec::with_capacity(args.requests);
    let mut errors = 0;
    let mut first_error = None;
    for w in workers {
        let r = w.await.unwrap();
        latencies.extend(r.latencies_us);
        errors += r.errors;
        first_error = first_error.or(r.first_error);
    }
    let measured = measuring_since.get().copied().unwrap_or(started).elapsed();
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
    println!(
        "  {rate:.0} requests/s; latency ms p50 {:.2} p90 {:.2} p99 {:.2} max {:.2}; errors {errors}",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.90),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
    );
    if let Some(e) = first_error {
        let short: String = e.chars().take(400).collect();
        println!("  first error: {short}");
    }
}
