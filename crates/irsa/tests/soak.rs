//! Soak: the real binary (SQLite) under steady mixed load, measured from
//! outside. Run by `scripts/soak MINUTES [RATE]` (ignored otherwise).
//!
//! The mix, per ten requests: 3 AssumeRoleWithWebIdentity (built-in issuer),
//! 3 GetCallerIdentity, 2 IAM reads (GetUser, ListRoles), 2 IAM writes
//! (CreateUser, then DeleteUser of that user). Without a rate the capacity
//! is measured first (10 s, 16 closed-loop clients) and half of it is used.
//! Reported: requests by outcome, 5xx count, failures with the seconds of
//! the run they ended in, latency percentiles, the server's RSS and open file
//! descriptors at start, every minute and at the end, and the server's log
//! lines above INFO (panics included). Asserted: no 5xx, no failure, and once
//! the clients have closed their keep-alive connections the server holds no
//! more sockets than before the load and no other new descriptors.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Rates and percentiles over request counts: f64 precision is plenty.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

mod reliability;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reliability::{
    allow, credentials, failure, fd_kinds, free_port, iam, issue_token, root_credentials,
    rss_kb_and_fds, sts, web_identity_role, Failure, Process, Spec, ACCOUNT,
};

struct Load {
    endpoint: String,
    token: String,
    root: aws_sdk_iam::Client,
    anonymous: aws_sdk_sts::Client,
    caller: aws_sdk_sts::Client,
    next_user: AtomicU64,
}

impl Load {
    /// Request number `n` of the mix; Ok(()) or the failure.
    async fn request(&self, n: u64) -> Result<(), Failure> {
        match n % 10 {
            0..=2 => self
                .anonymous
                .assume_role_with_web_identity()
                .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/web"))
                .role_session_name("soak")
                .web_identity_token(&self.token)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| failure(&e)),
            3..=5 => self
                .caller
                .get_caller_identity()
                .send()
                .await
                .map(|_| ())
                .map_err(|e| failure(&e)),
            6 => self
                .root
                .get_user()
                .user_name("caller")
                .send()
                .await
                .map(|_| ())
                .map_err(|e| failure(&e)),
            7 => self
                .root
                .list_roles()
                .send()
                .await
                .map(|_| ())
                .map_err(|e| failure(&e)),
            _ => {
                let id = self.next_user.fetch_add(1, Ordering::SeqCst);
                let name = format!("soak-{id}");
                self.root
                    .create_user()
                    .user_name(&name)
                    .send()
                    .await
                    .map_err(|e| failure(&e))?;
                self.root
                    .delete_user()
                    .user_name(&name)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| failure(&e))
            }
        }
    }
}

struct Tally {
    started: Instant,
    ok: AtomicU64,
    server_errors: AtomicU64,
    /// Every failure: (second of the run it ended in, what it was).
    other: Mutex<Vec<(u64, String)>>,
    latencies_ms: Mutex<Vec<u32>>,
}

impl Tally {
    fn new(started: Instant) -> Tally {
        Tally {
            started,
            ok: AtomicU64::new(0),
            server_errors: AtomicU64::new(0),
            other: Mutex::new(Vec::new()),
            latencies_ms: Mutex::new(Vec::new()),
        }
    }

    fn failures(&self) -> usize {
        self.other.lock().unwrap().len()
    }

    fn record(&self, outcome: Result<(), Failure>, took: Duration) {
        let second = self.started.elapsed().as_secs();
        self.latencies_ms
            .lock()
            .unwrap()
            .push(u32::try_from(took.as_millis()).unwrap_or(u32::MAX));
        match outcome {
            Ok(()) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(Failure::Service(status, code)) if status >= 500 => {
                self.server_errors.fetch_add(1, Ordering::Relaxed);
                self.other
                    .lock()
                    .unwrap()
                    .push((second, format!("{status} {code}")));
            }
            Err(other) => self
                .other
                .lock()
                .unwrap()
                .push((second, format!("{other:?}"))),
        }
    }
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs for minutes; scripts/soak MINUTES [RATE]"]
async fn soak() {
    let seconds = env_number("IRSA_SOAK_SECONDS").unwrap_or(600);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let mut spec = Spec::sqlite(dir.path());
    spec.args = vec![
        "--issuer-url".into(),
        issuer.clone(),
        "--allow-insecure-issuer".into(),
    ];
    let server = Process::spawn_on(&spec, port);
    server.wait_ready(Duration::from_secs(60));
    let endpoint = server.endpoint();
    let (root_id, root_secret) = root_credentials(&spec.data_dir);
    let root = iam(&endpoint, credentials(&root_id, &root_secret, None));
    web_identity_role(&root, &issuer, "web", "demo").await;
    root.create_user().user_name("caller").send().await.unwrap();
    root.put_user_policy()
        .user_name("caller")
        .policy_name("p")
        .policy_document(allow(r#"["iam:GetUser"]"#))
        .send()
        .await
        .unwrap();
    let key = root
        .create_access_key()
        .user_name("caller")
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    let load = Arc::new(Load {
        token: issue_token(&spec, &issuer, "demo"),
        anonymous: sts(&endpoint, credentials("x", "x", None)),
        caller: sts(
            &endpoint,
            credentials(&key.access_key_id, &key.secret_access_key, None),
        ),
        root,
        endpoint,
        next_user: AtomicU64::new(0),
    });

    // Sockets with no load: the listener and the few connections the
    // set-up left open.
    let idle = fd_kinds(server.pid());

    let rate = if let Some(rate) = env_number("IRSA_SOAK_RATE").filter(|r| *r > 0) {
        rate
    } else {
        // Capacity: 16 clients back to back for 10 s.
        let done = Arc::new(AtomicU64::new(0));
        let until = Instant::now() + Duration::from_secs(10);
        let clients: Vec<_> = (0..16u64)
            .map(|c| {
                let load = load.clone();
                let done = done.clone();
                tokio::spawn(async move {
                    let mut n = c;
                    while Instant::now() < until {
                        let _ = load.request(n).await;
                        done.fetch_add(1, Ordering::Relaxed);
                        n += 16;
                    }
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap();
        }
        let capacity = done.load(Ordering::Relaxed) / 10;
        println!("soak: measured capacity {capacity} requests/s (16 clients, 10 s)");
        (capacity / 2).max(1)
    };
    println!(
        "soak: {seconds} s at {rate} requests/s against {}",
        load.endpoint
    );

    let pid = server.pid();
    let (rss_start, fds_start) = rss_kb_and_fds(pid);
    let at_start = fd_kinds(pid);
    println!("soak: t=0 rss={rss_start} kB fds={fds_start}");
    let started = Instant::now();
    let tally = Arc::new(Tally::new(started));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let shed = AtomicU64::new(0);
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut n = 0u64;
    let mut next_report = 60;
    let mut rss_max = rss_start;
    while started.elapsed() < Duration::from_secs(seconds) {
        ticker.tick().await;
        if in_flight.load(Ordering::SeqCst) >= 512 {
            shed.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        n += 1;
        let load = load.clone();
        let task_tally = tally.clone();
        let task_in_flight = in_flight.clone();
        in_flight.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let t = Instant::now();
            let outcome = load.request(n).await;
            task_tally.record(outcome, t.elapsed());
            task_in_flight.fetch_sub(1, Ordering::SeqCst);
        });
        if started.elapsed().as_secs() >= next_report {
            let (rss, fds) = rss_kb_and_fds(pid);
            rss_max = rss_max.max(rss);
            println!(
                "soak: t={next_report}s sent={n} ok={} 5xx={} failures={} rss={rss} kB fds={fds}",
                tally.ok.load(Ordering::Relaxed),
                tally.server_errors.load(Ordering::Relaxed),
                tally.failures(),
            );
            next_report += 60;
        }
    }
    while in_flight.load(Ordering::SeqCst) > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (rss_end, fds_end) = rss_kb_and_fds(pid);
    rss_max = rss_max.max(rss_end);
    // The clients' pools hold as many idle keep-alive connections as the
    // load's peak concurrency needed, and each is a descriptor on the
    // server too. Closing the clients shows whether anything else stayed:
    // the server must come back to its descriptors before the load.
    drop(load);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let closed = fd_kinds(pid);
    let mut latencies = tally.latencies_ms.lock().unwrap().clone();
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(0)
    };
    let other = tally.other.lock().unwrap().clone();
    // Per kind: how many, and the first and last second they ended in.
    let mut kinds = std::collections::BTreeMap::<&str, (usize, u64, u64)>::new();
    for (second, o) in &other {
        let entry = kinds.entry(o.as_str()).or_insert((0, *second, *second));
        entry.0 += 1;
        entry.1 = entry.1.min(*second);
        entry.2 = entry.2.max(*second);
    }
    report_server_log(&spec.log_file);
    println!(
        "soak: done: {n} requests in {elapsed:.0} s ({:.0}/s), ok={}, 5xx={}, other failures={} {kinds:?}, shed={}, latency ms p50={} p99={} max={}; rss start={rss_start} kB end={rss_end} kB max={rss_max} kB; fds start={fds_start} end={fds_end}; after the clients closed {closed:?}, before the load {idle:?}, at start {at_start:?}",
        n as f64 / elapsed,
        tally.ok.load(Ordering::Relaxed),
        tally.server_errors.load(Ordering::Relaxed),
        other.len(),
        shed.load(Ordering::Relaxed),
        pct(0.5),
        pct(0.99),
        latencies.last().copied().unwrap_or(0),
    );
    assert_eq!(
        tally.server_errors.load(Ordering::Relaxed),
        0,
        "5xx during the soak"
    );
    assert!(other.is_empty(), "failures during the soak: {kinds:?}");
    assert!(
        closed.sockets <= idle.sockets + 2,
        "sockets left open: {} before the load, {} after the clients closed",
        idle.sockets,
        closed.sockets
    );
    // The store's pool may have grown to its 8 connections (3 files each).
    assert!(
        closed.store_files <= 3 * 8,
        "database descriptors: {} (more than 8 pooled connections hold)",
        closed.store_files
    );
    assert!(
        closed.others <= at_start.others + 2,
        "other descriptors grew from {} to {}",
        at_start.others,
        closed.others
    );
}

/// Prints what the server logged above INFO (panics, warnings, errors),
/// counted by message, so a failure seen by the client can be matched with
/// its cause on the server.
fn report_server_log(log_file: &std::path::Path) {
    let log = std::fs::read_to_string(log_file).unwrap_or_default();
    let mut notable = std::collections::BTreeMap::<String, usize>::new();
    for line in log.lines() {
        if line.contains("panicked") || line.contains(" WARN ") || line.contains(" ERROR ") {
            // Drop the timestamp and span fields (request ids) so repeats of
            // one message count together.
            let message = line.split_once(' ').map_or(line, |(_, rest)| rest);
            let message = message.rsplit_once("}: ").map_or(message, |(_, m)| m);
            let message: String = message.chars().take(300).collect();
            *notable.entry(message).or_default() += 1;
        }
    }
    println!("soak: server log: {} lines", log.lines().count());
    for (message, count) in notable.iter().take(20) {
        println!("soak: server log ({count}x): {message}");
    }
}

/// Found by the soak: when the log cannot be written (the disk under it
/// full, its reader gone), `tracing_subscriber::fmt`'s default
/// `log_internal_errors(true)` reports the failed write with `eprintln!`,
/// which panics when stderr is that same log. The panic ends the request's
/// connection task: the client gets no response at all (hyper's
/// `IncompleteMessage`), for every request that logs. A server must keep
/// answering while its log is unwritable.
#[test]
fn requests_are_answered_while_the_log_cannot_be_written() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (reader, writer) = std::io::pipe().unwrap();
    let mut child = reliability::irsa()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        // Every request logs (the request span's outcome at DEBUG).
        .env("IRSA_LOG", "debug")
        .stdin(std::process::Stdio::null())
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(reader);
    let mut line = String::new();
    while !line.contains("serving STS and IAM") {
        line.clear();
        assert!(
            lines.read_line(&mut line).unwrap() > 0,
            "irsa serve ended before it was serving"
        );
    }
    // From here on every write to the log fails (EPIPE), as on a full disk.
    drop(lines);
    let answers: Vec<_> = (0..3)
        .map(|_| reliability::http_get(port, "/healthz").map(|(status, _)| status))
        .collect();
    let still_running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        still_running,
        "irsa serve exited when its log became unwritable"
    );
    assert_eq!(
        answers,
        vec![Some(200); 3],
        "requests must be answered while the log cannot be written"
    );
}
