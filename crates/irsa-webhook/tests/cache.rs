//! The ServiceAccount cache against an in-process fake API server that serves
//! list and watch, and `run` end to end (kubeconfig → fake API, TLS → handler).
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use http::StatusCode;
use irsa_webhook::{Metrics, ServiceAccountCache, ServiceAccountLookup};
use serde_json::json;

use common::{fixture, free_port, https, pki, service_account, write_pki, FakeApi};

const ROLE: &str = "arn:aws:iam::123456789012:role/app";

async fn wait_cached(cache: &ServiceAccountCache, count: usize) {
    for _ in 0..500 {
        if cache.len() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("cache never reached {count} entries");
}

fn start(
    api: &FakeApi,
    namespace: Option<&str>,
    grace: Duration,
) -> (
    ServiceAccountCache,
    Arc<Metrics>,
    tokio::task::JoinHandle<()>,
) {
    let metrics = Arc::new(Metrics::new());
    let (cache, task) = ServiceAccountCache::start(
        api.client(),
        namespace.map(str::to_owned),
        grace,
        Duration::from_secs(2),
        Arc::clone(&metrics),
    );
    (cache, metrics, task)
}

#[tokio::test]
async fn listed_service_account_is_a_cache_hit() {
    let api = FakeApi::start().await;
    api.add(service_account(
        "default",
        "app",
        &[("eks.amazonaws.com/role-arn", ROLE)],
    ));
    let (cache, metrics, task) = start(&api, None, Duration::from_millis(100));
    wait_cached(&cache, 1).await;
    let found = cache.lookup("default", "app").await.unwrap().unwrap();
    assert_eq!(
        found.get("eks.amazonaws.com/role-arn").map(String::as_str),
        Some(ROLE)
    );
    assert_eq!(
        metrics
            .sa_cache_hits
            .with_label_values(&["immediate"])
            .get(),
        1
    );
    assert_eq!(metrics.sa_cache_misses.get(), 0);
    assert_eq!(
        api.gets.load(Ordering::SeqCst),
        0,
        "no direct GET for a cached SA"
    );
    task.abort();
}

#[tokio::test]
async fn service_account_created_after_the_pod_arrives_is_found_by_waiting() {
    let api = FakeApi::start().await;
    let (cache, metrics, task) = start(&api, None, Duration::from_secs(5));
    api.wait_for_watch().await;
    let cache = Arc::new(cache);
    let pending = {
        let cache = Arc::clone(&cache);
        tokio::spawn(async move { cache.lookup("default", "late").await })
    };
    // The pod is waiting; now the ServiceAccount appears on the watch.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!pending.is_finished());
    api.add(service_account(
        "default",
        "late",
        &[("eks.amazonaws.com/role-arn", ROLE)],
    ));
    let found = tokio::time::timeout(Duration::from_secs(3), pending)
        .await
        .expect("lookup finishes well before the grace period")
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        found.get("eks.amazonaws.com/role-arn").map(String::as_str),
        Some(ROLE)
    );
    assert_eq!(metrics.sa_cache_misses.get(), 1);
    assert_eq!(
        metrics
            .sa_cache_hits
            .with_label_values(&["after_wait"])
            .get(),
        1
    );
    assert_eq!(api.gets.load(Ordering::SeqCst), 0);
    task.abort();
}

#[tokio::test]
async fn after_the_grace_period_a_direct_get_is_the_fallback() {
    let api = FakeApi::start().await;
    api.add_hidden(service_account(
        "default",
        "unseen",
        &[("eks.amazonaws.com/role-arn", ROLE)],
    ));
    let (cache, metrics, task) = start(&api, None, Duration::from_millis(150));
    api.wait_for_watch().await;
    let started = std::time::Instant::now();
    let found = cache.lookup("default", "unseen").await.unwrap().unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "waited the grace period first"
    );
    assert_eq!(
        found.get("eks.amazonaws.com/role-arn").map(String::as_str),
        Some(ROLE)
    );
    assert_eq!(
        metrics
            .sa_cache_fallbacks
            .with_label_values(&["found"])
            .get(),
        1
    );
    // A ServiceAccount that does not exist anywhere.
    assert_eq!(cache.lookup("default", "nobody").await.unwrap(), None);
    assert_eq!(
        metrics
            .sa_cache_fallbacks
            .with_label_values(&["not_found"])
            .get(),
        1
    );
    assert_eq!(api.gets.load(Ordering::SeqCst), 2);
    assert_eq!(metrics.sa_cache_misses.get(), 2);
    task.abort();
}

#[tokio::test]
async fn namespace_scoped_cache_does_not_wait_for_other_namespaces() {
    let api = FakeApi::start().await;
    api.add(service_account(
        "team-a",
        "app",
        &[("eks.amazonaws.com/role-arn", ROLE)],
    ));
    api.add(service_account(
        "team-b",
        "app",
        &[("eks.amazonaws.com/role-arn", ROLE)],
    ));
    let (cache, metrics, task) = start(&api, Some("team-a"), Duration::from_secs(10));
    wait_cached(&cache, 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(cache.len(), 1, "only team-a is watched");
    assert!(cache.lookup("team-a", "app").await.unwrap().is_some());
    let started = std::time::Instant::now();
    assert!(cache.lookup("team-b", "app").await.unwrap().is_some());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no grace wait outside the watched namespace"
    );
    assert_eq!(
        metrics
            .sa_cache_fallbacks
            .with_label_values(&["found"])
            .get(),
        1
    );
    task.abort();
}

#[tokio::test]
async fn an_unreachable_api_server_is_an_error_not_a_crash() {
    // Nothing listens on this port.
    let url = format!("http://127.0.0.1:{}", free_port());
    let client = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
    let metrics = Arc::new(Metrics::new());
    let (cache, task) = ServiceAccountCache::start(
        client,
        None,
        Duration::from_millis(50),
        Duration::from_secs(2),
        Arc::clone(&metrics),
    );
    let result = cache.lookup("default", "app").await;
    assert!(result.is_err(), "{result:?}");
    assert_eq!(
        metrics
            .sa_cache_fallbacks
            .with_label_values(&["error"])
            .get(),
        1
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!task.is_finished(), "the watch keeps retrying");
    task.abort();
}

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: irsa_webhook::WebhookArgs,
}

#[tokio::test]
async fn run_serves_admission_reviews_end_to_end() {
    let api = FakeApi::start().await;
    api.add(service_account(
        "default",
        "app",
        &[("eks.amazonaws.com/role-arn", ROLE)],
    ));
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let (cert, key) = write_pki(&pki, dir.path());
    let kubeconfig = api.kubeconfig(dir.path());
    let port = free_port();
    let metrics_port = free_port();
    let cli = Cli::try_parse_from([
        "webhook".to_owned(),
        format!("--port={port}"),
        format!("--metrics-port={metrics_port}"),
        "--listen-address=127.0.0.1".to_owned(),
        format!("--tls-cert={}", cert.display()),
        format!("--tls-key={}", key.display()),
        format!("--kubeconfig={}", kubeconfig.display()),
        "--service-account-lookup-grace-period=3s".to_owned(),
        "--sts-endpoint-url=https://irsa.example:8443".to_owned(),
    ])
    .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(irsa_webhook::run(cli.args, async move {
        let _ = stopped.await;
    }));
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut up = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(up, "webhook listens");
    api.wait_for_watch().await;

    let request = fixture("admission_v1_pod.json");
    let body = serde_json::to_vec(&request).unwrap();
    let r = https(
        addr,
        &pki.ca_der,
        "POST",
        "/mutate",
        Some("application/json"),
        body,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["response"]["patchType"], json!("JSONPatch"));

    // A pod whose ServiceAccount is created while the review is in flight.
    let mut late = request.clone();
    late["request"]["object"]["spec"]["serviceAccountName"] = json!("late");
    let body = serde_json::to_vec(&late).unwrap();
    let ca = pki.ca_der.clone();
    let pending = tokio::spawn(async move {
        https(addr, &ca, "POST", "/mutate", Some("application/json"), body).await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    api.add(service_account(
        "default",
        "late",
        &[("eks.amazonaws.com/role-arn", ROLE)],
    ));
    let v = pending.await.unwrap().json();
    assert_eq!(v["response"]["patchType"], json!("JSONPatch"), "{v}");
    let patch = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        v["response"]["patch"].as_str().unwrap(),
    )
    .unwrap();
    let patch: json_patch::Patch = serde_json::from_slice(&patch).unwrap();
    let mut pod = late["request"]["object"].clone();
    json_patch::patch(&mut pod, &patch).unwrap();
    let env = pod["spec"]["containers"][0]["env"].as_array().unwrap();
    assert!(env
        .contains(&json!({"name": "AWS_ENDPOINT_URL_STS", "value": "https://irsa.example:8443"})));

    // Plain-HTTP metrics port.
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", metrics_port))
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(
        &mut stream,
        b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut text = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut text)
        .await
        .unwrap();
    assert!(text.contains("irsa_webhook_mutations_total 2"), "{text}");
    assert!(
        text.contains("irsa_webhook_sa_cache_hits_total{path=\"after_wait\"} 1"),
        "{text}"
    );

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), server)
        .await
        .expect("run returns after shutdown")
        .unwrap()
        .unwrap();
}
