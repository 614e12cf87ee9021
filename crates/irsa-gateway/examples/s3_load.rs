//! Load run: the S3 gateway (`irsa serve --s3-listen … --s3-upstream …`,
//! release build, spawned here) against the same Garage directly, with the
//! same client, concurrency and requests, in one run. Not part of the test
//! suite; `scripts/bench-s3` starts Garage, builds and runs this.
//!
//! Client: one keep-alive HTTP/1.1 connection per worker (hyper), every
//! request signed with `aws-sigv4` as aws-sdk-rust signs in-memory bodies
//! (a signed hex SHA-256, a CRC32 checksum header on PUTs). Directly it
//! signs with Garage's key; through the gateway with role-session
//! credentials from AssumeRole (three identity policies on the role, a
//! bucket policy on the bucket), so the gateway opens a session token,
//! verifies, classifies, evaluates, re-signs and forwards every request.
//!
//! Phases (each: direct, then the gateway):
//! - 4 KiB GETs and 4 KiB PUTs at `--concurrency` for `--seconds` after
//!   `--warmup` seconds: requests/s, p50, p99;
//! - one `--large-mib` PUT with a signed SHA-256, one with
//!   `UNSIGNED-PAYLOAD`, and one GET of it: MB/s, and the gateway's RSS
//!   (before, peak sampled every 20 ms, after; VmHWM too).
//!
//! CPU seconds used by the gateway and Garage in each phase are read from
//! /proc (`--garage-pid`), so time spent per request can be compared.
//!
//! ```sh
//! eval "$(scripts/garage.sh &)"   # or scripts/bench-s3, which does all of it
//! cargo build --release -p irsa -p irsa-gateway --example s3_load
//! target/release/examples/s3_load --irsa target/release/irsa
//! ```
//! Upstream from `IRSA_TEST_S3_UPSTREAM_URL`, `_ACCESS_KEY_ID`,
//! `_SECRET_ACCESS_KEY` (what scripts/garage.sh exports).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use bytes::Bytes;
use clap::Parser;
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use irsa_gateway::{sign_s3, S3Credentials};
use irsa_sigv4::{ChecksumAlgorithm, Checksummer};
use sha2::{Digest as _, Sha256};

const ROOT_KEY_ID: &str = "AKIABENCHS3LOAD22222";
const ROOT_SECRET: &str = "bench+s3+load+root+secret+0123456789abcd";
const ACCOUNT: &str = "123456789012";
const SMALL_KEYS: usize = 256;
const UNSIGNED: &str = "UNSIGNED-PAYLOAD";

#[derive(Parser, Debug)]
#[command(about = "S3 gateway vs direct Garage: 4 KiB GET/PUT at c=N and one large PUT/GET")]
struct Args {
    /// The release `irsa` binary to spawn as the gateway.
    #[arg(long)]
    irsa: PathBuf,
    #[arg(long, env = "IRSA_TEST_S3_UPSTREAM_URL")]
    upstream: String,
    #[arg(long, env = "IRSA_TEST_S3_UPSTREAM_ACCESS_KEY_ID")]
    upstream_access_key_id: String,
    #[arg(
        long,
        env = "IRSA_TEST_S3_UPSTREAM_SECRET_ACCESS_KEY",
        hide_env_values = true
    )]
    upstream_secret_access_key: String,
    /// Garage's pid, for its CPU time per phase.
    #[arg(long)]
    garage_pid: Option<u32>,
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Measured seconds per small-object phase.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Unmeasured seconds before each small-object phase.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    #[arg(long, default_value_t = 4)]
    object_kib: usize,
    #[arg(long, default_value_t = 256)]
    large_mib: usize,
    /// Run the gateway pinned to these CPUs (taskset list), e.g. `0`.
    #[arg(long)]
    gateway_cpus: Option<String>,
    /// Run each small-object phase through the gateway first, then direct.
    #[arg(long)]
    gateway_first: bool,
    /// Skip these phases (comma-separated: get,put,large).
    #[arg(long, value_delimiter = ',')]
    skip: Vec<String>,
}

/// Where requests go and who signs them.
#[derive(Clone)]
struct Target {
    name: &'static str,
    addr: SocketAddr,
    host: String,
    key_id: String,
    secret: String,
    token: Option<String>,
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

fn spawn_gateway(args: &Args) -> (Spawned, SocketAddr, SocketAddr) {
    let dir = tempfile::tempdir().unwrap();
    let api_port = free_port();
    let s3_port = free_port();
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let mut command = match &args.gateway_cpus {
        Some(cpus) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpus).arg(&args.irsa);
            c
        }
        None => Command::new(&args.irsa),
    };
    let child = command
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{api_port}"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--account-id")
        .arg(ACCOUNT)
        .arg("--log-format")
        .arg("json")
        .arg("--s3-listen")
        .arg(format!("127.0.0.1:{s3_port}"))
        .arg("--s3-upstream")
        .arg(&args.upstream)
        .env("IRSA_ROOT_ACCESS_KEY_ID", ROOT_KEY_ID)
        .env("IRSA_ROOT_SECRET_ACCESS_KEY", ROOT_SECRET)
        .env(
            "IRSA_S3_UPSTREAM_ACCESS_KEY_ID",
            &args.upstream_access_key_id,
        )
        .env(
            "IRSA_S3_UPSTREAM_SECRET_ACCESS_KEY",
            &args.upstream_secret_access_key,
        )
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .expect("the irsa binary (and taskset, with --gateway-cpus) must be runnable");
    println!("gateway log: {}", dir.path().join("server.log").display());
    (
        Spawned { child, _dir: dir },
        SocketAddr::from(([127, 0, 0, 1], api_port)),
        SocketAddr::from(([127, 0, 0, 1], s3_port)),
    )
}

async fn wait_listening(addr: SocketAddr, log_hint: &str) {
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{addr} did not come up (see {log_hint})");
}

fn sdk_config(endpoint: String, creds: Credentials) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(creds))
        .build()
}

/// The role the load runs as: three identity policies (objects, listing,
/// guardrails), assumed by an IAM user. Returns (role ARN, credentials).
async fn role_session(api: SocketAddr, bucket: &str) -> (String, Credentials) {
    let root = Credentials::new(ROOT_KEY_ID, ROOT_SECRET, None, None, "s3-load");
    let iam = aws_sdk_iam::Client::new(&sdk_config(format!("http://{api}"), root));
    iam.create_user()
        .user_name("s3-load-caller")
        .send()
        .await
        .unwrap();
    iam.put_user_policy()
        .user_name("s3-load-caller")
        .policy_name("assume")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let key = iam
        .create_access_key()
        .user_name("s3-load-caller")
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let role = iam
        .create_role()
        .role_name("s3-load")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    let policies = [
        (
            "objects",
            format!(
                r#"{{"Version":"2012-10-17","Statement":[
                {{"Sid":"ReadWrite","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":["arn:aws:s3:::{bucket}/small/*","arn:aws:s3:::{bucket}/put/*","arn:aws:s3:::{bucket}/large/*"],
                  "Condition":{{"StringEquals":{{"aws:RequestedRegion":"us-east-1"}}}}}},
                {{"Sid":"ReadOthers","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::other-*/*"}}]}}"#
            ),
        ),
        (
            "listing",
            format!(
                r#"{{"Version":"2012-10-17","Statement":[
                {{"Sid":"List","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::{bucket}","Condition":{{"StringLike":{{"s3:prefix":["small/*","put/*",""]}}}}}},
                {{"Sid":"Buckets","Effect":"Allow","Action":["s3:ListAllMyBuckets","s3:GetBucketLocation"],"Resource":"*"}}]}}"#
            ),
        ),
        (
            "guardrails",
            format!(
                r#"{{"Version":"2012-10-17","Statement":[
                {{"Sid":"NoDeletes","Effect":"Deny","Action":["s3:DeleteObject","s3:DeleteBucket","s3:PutBucketPolicy"],"Resource":"*"}},
                {{"Sid":"NoSecrets","Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::{bucket}/secrets/*"}}]}}"#
            ),
        ),
    ];
    for (name, document) in policies {
        iam.put_role_policy()
            .role_name("s3-load")
            .policy_name(name)
            .policy_document(document)
            .send()
            .await
            .unwrap();
    }
    let caller = Credentials::new(
        key.access_key_id(),
        key.secret_access_key(),
        None,
        None,
        "s3-load",
    );
    let sts = aws_sdk_sts::Client::new(&sdk_config(format!("http://{api}"), caller));
    // A fresh role is visible to AssumeRole at once (same process), but
    // retry briefly in case the store lags.
    let mut last = None;
    for _ in 0..20 {
        match sts
            .assume_role()
            .role_arn(role.arn())
            .role_session_name("s3-load")
            .duration_seconds(3600)
            .send()
            .await
        {
            Ok(assumed) => {
                let c = assumed.credentials.unwrap();
                return (
                    role.arn().to_owned(),
                    Credentials::new(
                        c.access_key_id(),
                        c.secret_access_key(),
                        Some(c.session_token().to_owned()),
                        None,
                        "s3-load",
                    ),
                );
            }
            Err(e) => last = Some(format!("{e:?}")),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("AssumeRole failed: {last:?}");
}

/// The headers of a request signed as aws-sdk-rust signs for S3.
fn sign_headers(
    target: &Target,
    method: &str,
    path_and_query: &str,
    extra: &[(&str, &str)],
    payload_hash: &str,
) -> http::HeaderMap {
    let url = format!("http://{}{}", target.host, path_and_query);
    let mut request = http::Request::builder()
        .method(method)
        .uri(&url)
        .header("host", &target.host)
        .header("user-agent", "irsa-s3-load");
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let mut request = request.body(()).unwrap();
    let credentials = S3Credentials {
        access_key_id: &target.key_id,
        secret_access_key: &target.secret,
        session_token: target.token.as_deref(),
    };
    sign_s3(
        &credentials,
        "us-east-1",
        method,
        &url.parse().unwrap(),
        request.headers_mut(),
        payload_hash,
        SystemTime::now(),
    )
    .unwrap();
    request.into_parts().0.headers
}

type Sender<B> = hyper::client::conn::http1::SendRequest<B>;

async fn connect<B>(addr: SocketAddr) -> Sender<B>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

/// Sends one request and drains the answer: (status, body bytes).
async fn send<B>(
    sender: &mut Sender<B>,
    method: &str,
    path: &str,
    headers: http::HeaderMap,
    body: B,
) -> Result<(u16, u64, Option<Bytes>), String>
where
    B: Body + Send + 'static,
{
    sender.ready().await.map_err(|e| e.to_string())?;
    let mut request = http::Request::builder()
        .method(method)
        .uri(path)
        .body(body)
        .unwrap();
    *request.headers_mut() = headers;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut bytes = 0u64;
    let mut kept = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| e.to_string())?;
        if let Ok(data) = frame.into_data() {
            bytes += data.len() as u64;
            // Keep a little of error answers for the report.
            if status >= 300 && kept.len() < 2048 {
                kept.extend_from_slice(&data);
            }
        }
    }
    Ok((status, bytes, (status >= 300).then(|| Bytes::from(kept))))
}

fn hex_sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn crc32_base64(data: &[u8]) -> String {
    let mut crc = Checksummer::new(ChecksumAlgorithm::Crc32);
    crc.update(data);
    crc.to_base64()
}

/// A simple request with a small in-memory body; panics unless 2xx.
async fn simple(target: &Target, method: &str, path: &str, body: Bytes, extra: &[(&str, &str)]) {
    let mut sender = connect::<Full<Bytes>>(target.addr).await;
    let headers = sign_headers(target, method, path, extra, &hex_sha256(&body));
    let (status, _, text) = send(&mut sender, method, path, headers, Full::new(body))
        .await
        .unwrap();
    assert!(
        (200..300).contains(&status),
        "{} {method} {path}: {status} {:?}",
        target.name,
        text.map(|t| String::from_utf8_lossy(&t).into_owned())
    );
}

#[derive(Default)]
struct WorkerResult {
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SmallOp {
    Get,
    Put,
}

async fn small_worker(
    target: Target,
    bucket: Arc<str>,
    op: SmallOp,
    worker: usize,
    body: Bytes,
    measure_from: Instant,
    until: Instant,
) -> WorkerResult {
    let mut sender = connect::<Full<Bytes>>(target.addr).await;
    let mut out = WorkerResult::default();
    let body_hash = hex_sha256(&body);
    let body_crc = crc32_base64(&body);
    let length = body.len().to_string();
    let mut i = worker;
    loop {
        let now = Instant::now();
        if now >= until {
            return out;
        }
        let (method, path, hash, payload) = match op {
            SmallOp::Get => (
                "GET",
                format!("/{bucket}/small/{:04}", i % SMALL_KEYS),
                hex_sha256(b""),
                Bytes::new(),
            ),
            SmallOp::Put => (
                "PUT",
                format!("/{bucket}/put/{}/w{worker}-{}", target.name, i % 16),
                body_hash.clone(),
                body.clone(),
            ),
        };
        i += 1;
        let start = Instant::now();
        let headers = match op {
            SmallOp::Get => sign_headers(&target, method, &path, &[], &hash),
            SmallOp::Put => sign_headers(
                &target,
                method,
                &path,
                &[
                    ("content-length", &length),
                    ("content-type", "application/octet-stream"),
                    ("x-amz-checksum-crc32", &body_crc),
                    ("x-amz-sdk-checksum-algorithm", "CRC32"),
                ],
                &hash,
            ),
        };
        let result = send(&mut sender, method, &path, headers, Full::new(payload)).await;
        let elapsed = start.elapsed();
        match result {
            Ok((status, _, _)) if (200..300).contains(&status) => {}
            Ok((status, _, text)) => {
                out.errors += 1;
                out.first_error.get_or_insert_with(|| {
                    format!(
                        "{status} {}",
                        String::from_utf8_lossy(&text.unwrap_or_default())
                    )
                });
            }
            Err(e) => {
                out.errors += 1;
                out.first_error.get_or_insert(e);
                sender = connect(target.addr).await;
            }
        }
        if start >= measure_from {
            out.latencies_us
                .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
        }
    }
}

fn percentile_ms(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[index]) / 1000.0
}

/// CPU seconds (user + system) a process has used so far.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the `(comm)`; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on Linux.
    Some((utime + stime) / 100.0)
}

/// `VmRSS` and `VmHWM` of a process, in MiB.
fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

struct CpuMeter {
    pids: Vec<(&'static str, u32)>,
    start: Vec<Option<f64>>,
}

impl CpuMeter {
    fn start(pids: &[(&'static str, u32)]) -> Self {
        Self {
            pids: pids.to_vec(),
            start: pids.iter().map(|(_, p)| cpu_seconds(*p)).collect(),
        }
    }

    /// `name=1.23s` for each process.
    fn report(&self) -> String {
        self.pids
            .iter()
            .zip(&self.start)
            .map(|((name, pid), start)| match (start, cpu_seconds(*pid)) {
                (Some(a), Some(b)) => format!("{name} {:.1}s", b - a),
                _ => format!("{name} ?"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

struct SmallResult {
    rps: f64,
    p50: f64,
    p99: f64,
    errors: u64,
}

async fn small_phase(
    args: &Args,
    target: &Target,
    bucket: &Arc<str>,
    op: SmallOp,
    pids: &[(&'static str, u32)],
) -> SmallResult {
    let body = Bytes::from(vec![b'x'; args.object_kib * 1024]);
    let measure_from = Instant::now() + Duration::from_secs(args.warmup);
    let until = measure_from + Duration::from_secs(args.seconds);
    let load_before = loadavg();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..args.concurrency {
        tasks.spawn(small_worker(
            target.clone(),
            Arc::clone(bucket),
            op,
            worker,
            body.clone(),
            measure_from,
            until,
        ));
    }
    tokio::time::sleep_until(measure_from.into()).await;
    let cpu = CpuMeter::start(pids);
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    while let Some(result) = tasks.join_next().await {
        let result = result.unwrap();
        latencies.extend(result.latencies_us);
        errors += result.errors;
        if first_error.is_none() {
            first_error = result.first_error;
        }
    }
    latencies.sort_unstable();
    let result = SmallResult {
        rps: latencies.len() as f64 / args.seconds as f64,
        p50: percentile_ms(&latencies, 0.50),
        p99: percentile_ms(&latencies, 0.99),
        errors,
    };
    let name = if op == SmallOp::Get { "GET" } else { "PUT" };
    println!(
        "{:<7} {} {} KiB c={}: {:>8.0} req/s  p50 {:.2} ms  p99 {:.2} ms  errors {}  cpu: {}  load {} -> {}",
        target.name,
        name,
        args.object_kib,
        args.concurrency,
        result.rps,
        result.p50,
        result.p99,
        result.errors,
        cpu.report(),
        load_before,
        loadavg(),
    );
    if let Some(e) = first_error {
        println!("        first error: {e}");
    }
    result
}

/// A large body, streamed in 1 MiB frames of a fixed pattern (nothing
/// buffered on the client either).
struct PatternBody {
    chunk: Bytes,
    remaining: u64,
}

impl Body for PatternBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = self.remaining.min(self.chunk.len() as u64);
        self.remaining -= n;
        Poll::Ready(Some(Ok(Frame::data(self.chunk.slice(..n as usize)))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

fn pattern_chunk() -> Bytes {
    let chunk: Vec<u8> = (0..1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    Bytes::from(chunk)
}

struct LargeResult {
    mb_per_s: f64,
    /// Gateway VmRSS before, peak sampled, after; VmHWM after (MiB).
    rss: Option<(f64, f64, f64, f64)>,
}

/// One large PUT or GET; samples the gateway's RSS while it runs.
#[allow(clippy::too_many_arguments)]
async fn large_transfer(
    target: &Target,
    path: &str,
    method: &str,
    size: u64,
    payload_hash: &str,
    gateway_pid: Option<u32>,
    pids: &[(&'static str, u32)],
    label: &str,
) -> LargeResult {
    let before = gateway_pid.map(rss_mib);
    let peak = Arc::new(std::sync::Mutex::new(before.map_or(0.0, |b| b.0)));
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = gateway_pid.map(|pid| {
        let peak = Arc::clone(&peak);
        let sampling = Arc::clone(&sampling);
        std::thread::spawn(move || {
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                let (rss, _) = rss_mib(pid);
                if let Ok(mut p) = peak.lock() {
                    if rss > *p {
                        *p = rss;
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    });
    let cpu = CpuMeter::start(pids);
    let load_before = loadavg();
    let size_text = size.to_string();
    let extra: Vec<(&str, &str)> = if method == "PUT" {
        vec![
            ("content-length", size_text.as_str()),
            ("content-type", "application/octet-stream"),
        ]
    } else {
        Vec::new()
    };
    let headers = sign_headers(target, method, path, &extra, payload_hash);
    let mut sender = connect::<PatternBody>(target.addr).await;
    let body = PatternBody {
        chunk: pattern_chunk(),
        remaining: if method == "PUT" { size } else { 0 },
    };
    let start = Instant::now();
    let (status, bytes, text) = send(&mut sender, method, path, headers, body)
        .await
        .unwrap();
    let seconds = start.elapsed().as_secs_f64();
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    if let Some(s) = sampler {
        let _ = s.join();
    }
    assert!(
        (200..300).contains(&status),
        "{} {method} {path}: {status} {:?}",
        target.name,
        text.map(|t| String::from_utf8_lossy(&t).into_owned())
    );
    if method == "GET" {
        assert_eq!(bytes, size, "{} GET returned {bytes} bytes", target.name);
    }
    let mb_per_s = size as f64 / 1e6 / seconds;
    let rss = gateway_pid.zip(before).map(|(pid, before)| {
        let (after, hwm) = rss_mib(pid);
        let peak = peak.lock().map_or(f64::NAN, |p| *p);
        (before.0, peak, after, hwm)
    });
    println!(
        "{:<7} {label}: {:.1} s, {:>6.0} MB/s  cpu: {}  load {} -> {}{}",
        target.name,
        seconds,
        mb_per_s,
        cpu.report(),
        load_before,
        loadavg(),
        rss.map(|(b, p, a, h)| format!(
            "  gateway RSS {b:.1} -> peak {p:.1} -> {a:.1} MiB (VmHWM {h:.1})"
        ))
        .unwrap_or_default(),
    );
    LargeResult { mb_per_s, rss }
}

fn ratio(gateway: f64, direct: f64) -> String {
    if direct > 0.0 && gateway.is_finite() {
        format!("{:.2}×", gateway / direct)
    } else {
        "-".to_owned()
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    let upstream_addr: SocketAddr = args
        .upstream
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("--upstream must be http://IP:PORT");
    let (gateway, api_addr, s3_addr) = spawn_gateway(&args);
    let gateway_pid = gateway.child.id();
    let log_hint = "the gateway log above";
    wait_listening(api_addr, log_hint).await;
    wait_listening(s3_addr, log_hint).await;

    let mut pids = vec![("gateway", gateway_pid)];
    if let Some(pid) = args.garage_pid {
        pids.push(("garage", pid));
    }
    pids.push(("client", std::process::id()));

    let bucket: Arc<str> = Arc::from(format!(
        "s3-load-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    ));
    let root = Target {
        name: "root",
        addr: s3_addr,
        host: s3_addr.to_string(),
        key_id: ROOT_KEY_ID.to_owned(),
        secret: ROOT_SECRET.to_owned(),
        token: None,
    };
    // Created through the gateway, so it belongs to the gateway's Garage key
    // (the key the direct client uses).
    simple(&root, "PUT", &format!("/{bucket}"), Bytes::new(), &[]).await;
    let (role_arn, session) = role_session(api_addr, &bucket).await;
    let bucket_policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Sid":"RoleReadsWrites","Effect":"Allow","Principal":{{"AWS":"{role_arn}"}},"Action":["s3:GetObject","s3:PutObject","s3:ListBucket"],"Resource":["arn:aws:s3:::{bucket}","arn:aws:s3:::{bucket}/*"]}},
        {{"Sid":"V4Only","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::{bucket}/*","Condition":{{"StringNotEquals":{{"s3:signatureversion":"AWS4-HMAC-SHA256"}}}}}},
        {{"Sid":"BlockedRange","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::{bucket}/*","Condition":{{"IpAddress":{{"aws:SourceIp":"203.0.113.0/24"}}}}}}]}}"#
    );
    simple(
        &root,
        "PUT",
        &format!("/{bucket}?policy"),
        Bytes::from(bucket_policy),
        &[("content-type", "application/json")],
    )
    .await;

    let direct = Target {
        name: "direct",
        addr: upstream_addr,
        host: upstream_addr.to_string(),
        key_id: args.upstream_access_key_id.clone(),
        secret: args.upstream_secret_access_key.clone(),
        token: None,
    };
    let via_gateway = Target {
        name: "gateway",
        addr: s3_addr,
        host: s3_addr.to_string(),
        key_id: session.access_key_id().to_owned(),
        secret: session.secret_access_key().to_owned(),
        token: session.session_token().map(str::to_owned),
    };

    // The objects the GET phases read (written directly: same bytes for both).
    let small = Bytes::from(vec![b'g'; args.object_kib * 1024]);
    {
        let mut sender = connect::<Full<Bytes>>(direct.addr).await;
        for i in 0..SMALL_KEYS {
            let path = format!("/{bucket}/small/{i:04}");
            let headers = sign_headers(&direct, "PUT", &path, &[], &hex_sha256(&small));
            let (status, _, text) =
                send(&mut sender, "PUT", &path, headers, Full::new(small.clone()))
                    .await
                    .unwrap();
            assert_eq!(status, 200, "seeding {path}: {text:?}");
        }
    }
    // Both can read and write before anything is measured.
    simple(
        &via_gateway,
        "PUT",
        &format!("/{bucket}/put/check"),
        small.clone(),
        &[],
    )
    .await;
    simple(
        &via_gateway,
        "GET",
        &format!("/{bucket}/small/0000"),
        Bytes::new(),
        &[],
    )
    .await;

    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    println!(
        "{cpus} CPUs ({cpu_model}); load average at the start: {}; gateway pid {gateway_pid}{}",
        loadavg(),
        args.gateway_cpus
            .as_ref()
            .map(|c| format!(" pinned to CPUs {c}"))
            .unwrap_or_default()
    );

    let mut rows: Vec<String> = Vec::new();
    let skip = |name: &str| args.skip.iter().any(|s| s == name);
    let mut small_row = |label: String, d: &SmallResult, g: &SmallResult| {
        let added = g.p99 - d.p99;
        rows.push(format!(
            "| {label} | {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms | {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms | {} | {:+.2} ms | ≥0.8× {}, ≤2 ms {} | {}/{} |",
            d.rps, d.p50, d.p99, g.rps, g.p50, g.p99,
            ratio(g.rps, d.rps), added,
            verdict(g.rps >= 0.8 * d.rps), verdict(added <= 2.0),
            d.errors, g.errors,
        ));
    };
    for (name, op) in [("get", SmallOp::Get), ("put", SmallOp::Put)] {
        if skip(name) {
            continue;
        }
        // Garage's background work after a write phase slows the phase
        // that follows: --gateway-first swaps the order to expose that.
        let (d, g) = if args.gateway_first {
            let g = small_phase(&args, &via_gateway, &bucket, op, &pids).await;
            (small_phase(&args, &direct, &bucket, op, &pids).await, g)
        } else {
            let d = small_phase(&args, &direct, &bucket, op, &pids).await;
            (
                d,
                small_phase(&args, &via_gateway, &bucket, op, &pids).await,
            )
        };
        let label = format!(
            "{} {} KiB, c={}, {} s",
            name.to_uppercase(),
            args.object_kib,
            args.concurrency,
            args.seconds
        );
        small_row(label, &d, &g);
    }
    let mut rss_lines = Vec::new();
    if !skip("large") {
        let size = args.large_mib as u64 * 1024 * 1024;
        // The signed hash of the whole body, computed once (both sides send
        // the same bytes).
        let chunk = pattern_chunk();
        let mut hasher = Sha256::new();
        let mut left = size;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            hasher.update(&chunk[..n]);
            left -= n as u64;
        }
        let full_hash = hex::encode(hasher.finalize());
        let empty_hash = hex_sha256(b"");
        let mib = args.large_mib;
        for (label, hash) in [
            (
                format!("PUT {mib} MiB (signed SHA-256)"),
                full_hash.as_str(),
            ),
            (format!("PUT {mib} MiB (UNSIGNED-PAYLOAD)"), UNSIGNED),
        ] {
            let mut results = Vec::new();
            for (target, pid) in [(&direct, None), (&via_gateway, Some(gateway_pid))] {
                let path = format!("/{bucket}/large/{}", target.name);
                results.push(
                    large_transfer(target, &path, "PUT", size, hash, pid, &pids, &label).await,
                );
            }
            push_large_row(&mut rows, &mut rss_lines, &label, &results);
        }
        let label = format!("GET {mib} MiB");
        let mut results = Vec::new();
        for (target, pid) in [(&direct, None), (&via_gateway, Some(gateway_pid))] {
            let path = format!("/{bucket}/large/{}", target.name);
            results.push(
                large_transfer(target, &path, "GET", size, &empty_hash, pid, &pids, &label).await,
            );
        }
        push_large_row(&mut rows, &mut rss_lines, &label, &results);
    }

    println!();
    println!(
        "Load average at the end: {}. Direct = the client to Garage; gateway = the same client to irsa's S3 gateway (role session, 3 identity policies + bucket policy) in front of the same Garage.",
        loadavg()
    );
    println!();
    println!("| workload | direct | gateway | ratio | added p99 | targets | errors d/g |");
    println!("|---|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
    for line in rss_lines {
        println!("{line}");
    }
    drop(gateway);
}

fn push_large_row(
    rows: &mut Vec<String>,
    rss_lines: &mut Vec<String>,
    label: &str,
    results: &[LargeResult],
) {
    let (d, g) = (&results[0], &results[1]);
    rows.push(format!(
        "| {label} | {:.0} MB/s | {:.0} MB/s | {} | | ≥0.9× {} | |",
        d.mb_per_s,
        g.mb_per_s,
        ratio(g.mb_per_s, d.mb_per_s),
        verdict(g.mb_per_s >= 0.9 * d.mb_per_s),
    ));
    if let Some((before, peak, after, hwm)) = g.rss {
        rss_lines.push(format!(
            "gateway RSS during {label}: {before:.1} MiB before, {peak:.1} MiB peak (sampled every 20 ms), {after:.1} MiB after, VmHWM {hwm:.1} MiB"
        ));
    }
}
