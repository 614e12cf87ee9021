//! The admission handler over real TLS, with AdmissionReview JSON as kube-apiserver
//! sends it (v1 and v1beta1), bad input, metrics and certificate reload.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use futures::future::BoxFuture;
use http::StatusCode;
use irsa_webhook::tls::{load_certified_key, server_config, spawn_reloader, ReloadingCert};
use irsa_webhook::{
    router, serve_tls, AdmissionState, Annotations, LookupError, Metrics, MutationConfig,
    ServiceAccountLookup, StaticLookup,
};
use rustls::pki_types::CertificateDer;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use common::{fixture, https, pki, write_pki, TestPki};

const ROLE: &str = "arn:aws:iam::123456789012:role/app";

fn annotations(pairs: &[(&str, &str)]) -> Annotations {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn lookup() -> StaticLookup {
    StaticLookup::new()
        .with(
            "default",
            "app",
            annotations(&[("eks.amazonaws.com/role-arn", ROLE)]),
        )
        .with(
            "team-a",
            "app",
            annotations(&[
                ("eks.amazonaws.com/role-arn", ROLE),
                ("eks.amazonaws.com/sts-regional-endpoints", "true"),
                ("irsa.dev/sts-endpoint-url", "http://irsa.team-a:8080"),
            ]),
        )
        .with("default", "plain", BTreeMap::new())
        .with(
            "default",
            "bad",
            annotations(&[
                ("eks.amazonaws.com/role-arn", ROLE),
                ("eks.amazonaws.com/token-expiration", "tomorrow"),
                ("eks.amazonaws.com/sts-regional-endpoints", "perhaps"),
            ]),
        )
}

#[derive(Debug)]
struct FailingLookup;

impl ServiceAccountLookup for FailingLookup {
    fn lookup<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<Annotations>, LookupError>> {
        Box::pin(async { Err(LookupError::Api("connection refused".into())) })
    }
}

struct Server {
    addr: SocketAddr,
    ca: CertificateDer<'static>,
    metrics: Arc<Metrics>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
    pki: TestPki,
    resolver: Arc<ReloadingCert>,
}

impl Server {
    async fn start(lookup: Arc<dyn ServiceAccountLookup>, config: MutationConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pki = pki();
        let (cert, key) = write_pki(&pki, dir.path());
        let resolver = Arc::new(ReloadingCert::new(load_certified_key(&cert, &key).unwrap()));
        let tls = server_config(Arc::clone(&resolver)).unwrap();
        let metrics = Arc::new(Metrics::new());
        let state = AdmissionState {
            config: Arc::new(config),
            lookup,
            metrics: Arc::clone(&metrics),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_tls(
            listener,
            tls,
            router(state, 64 * 1024),
            async move {
                let _ = stopped.await;
            },
        ));
        Server {
            addr,
            ca: pki.ca_der.clone(),
            metrics,
            stop: Some(stop),
            task,
            _dir: dir,
            pki,
            resolver,
        }
    }

    async fn post(&self, content_type: Option<&str>, body: Vec<u8>) -> common::HttpsResponse {
        https(self.addr, &self.ca, "POST", "/mutate", content_type, body).await
    }

    async fn review(&self, review: &Value) -> Value {
        let response = self
            .post(
                Some("application/json"),
                serde_json::to_vec(review).unwrap(),
            )
            .await;
        assert_eq!(
            response.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&response.body)
        );
        assert_eq!(response.content_type.as_deref(), Some("application/json"));
        response.json()
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("server stops")
            .unwrap();
    }
}

fn patched_object(request: &Value, response: &Value) -> Value {
    assert_eq!(response["response"]["patchType"], json!("JSONPatch"));
    let patch = base64::engine::general_purpose::STANDARD
        .decode(response["response"]["patch"].as_str().unwrap())
        .unwrap();
    let patch: json_patch::Patch = serde_json::from_slice(&patch).unwrap();
    let mut object = request["request"]["object"].clone();
    json_patch::patch(&mut object, &patch).unwrap();
    object
}

fn env(pod: &Value) -> Vec<(String, String)> {
    pod["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn v1_pod_review_is_mutated_over_tls() {
    let server = Server::start(
        Arc::new(lookup()),
        MutationConfig {
            region: Some("eu-west-1".into()),
            ..MutationConfig::default()
        },
    )
    .await;
    let request = fixture("admission_v1_pod.json");
    let response = server.review(&request).await;
    assert_eq!(response["apiVersion"], json!("admission.k8s.io/v1"));
    assert_eq!(response["kind"], json!("AdmissionReview"));
    assert_eq!(response["response"]["uid"], request["request"]["uid"]);
    assert_eq!(response["response"]["allowed"], json!(true));
    let pod = patched_object(&request, &response);
    // Everything the apiserver sent is still there.
    let mut stripped = pod.clone();
    let volumes = stripped["spec"]["volumes"].as_array_mut().unwrap();
    assert_eq!(volumes.pop().unwrap()["name"], json!("aws-iam-token"));
    let container = &mut stripped["spec"]["containers"][0];
    container.as_object_mut().unwrap().remove("env");
    assert_eq!(
        container["volumeMounts"]
            .as_array_mut()
            .unwrap()
            .pop()
            .unwrap()["mountPath"],
        json!("/var/run/secrets/eks.amazonaws.com/serviceaccount")
    );
    assert_eq!(stripped, request["request"]["object"]);
    assert_eq!(
        env(&pod),
        vec![
            ("AWS_DEFAULT_REGION".to_owned(), "eu-west-1".to_owned()),
            ("AWS_REGION".to_owned(), "eu-west-1".to_owned()),
            ("AWS_ROLE_ARN".to_owned(), ROLE.to_owned()),
            (
                "AWS_WEB_IDENTITY_TOKEN_FILE".to_owned(),
                "/var/run/secrets/eks.amazonaws.com/serviceaccount/token".to_owned()
            ),
        ]
    );
    assert_eq!(server.metrics.mutations.get(), 1);
    server.stop().await;
}

#[tokio::test]
async fn v1beta1_review_is_echoed_in_v1beta1_with_endpoint_injection() {
    let server = Server::start(Arc::new(lookup()), MutationConfig::default()).await;
    let request = fixture("admission_v1beta1_pod.json");
    let response = server.review(&request).await;
    assert_eq!(response["apiVersion"], json!("admission.k8s.io/v1beta1"));
    assert_eq!(
        response["response"]["uid"],
        json!("9b0f1c8e-7d7e-4a8e-b6f4-2a3c4d5e6f70")
    );
    let pod = patched_object(&request, &response);
    let env = env(&pod);
    assert_eq!(
        env[0],
        (
            "AWS_STS_REGIONAL_ENDPOINTS".to_owned(),
            "regional".to_owned()
        )
    );
    assert!(env.contains(&(
        "AWS_ENDPOINT_URL_STS".to_owned(),
        "http://irsa.team-a:8080".to_owned()
    )));
    server.stop().await;
}

#[tokio::test]
async fn bad_input_is_answered_without_5xx() {
    let server = Server::start(Arc::new(lookup()), MutationConfig::default()).await;
    let pod_review = fixture("admission_v1_pod.json");
    let body = serde_json::to_vec(&pod_review).unwrap();

    // Wrong or missing content type: 415.
    for ct in [Some("text/plain"), Some("application/yaml"), None] {
        let r = server.post(ct, body.clone()).await;
        assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}");
    }
    // A charset parameter is fine.
    let r = server
        .post(Some("application/json; charset=utf-8"), body.clone())
        .await;
    assert_eq!(r.status, StatusCode::OK);

    // Undecodable: allowed=false with a message, uid echoed when readable.
    let r = server
        .post(Some("application/json"), b"{not json".to_vec())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["response"]["allowed"], json!(false));
    assert!(v["response"]["status"]["message"]
        .as_str()
        .unwrap()
        .contains("cannot decode"));
    let half = json!({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {"uid": "u-1", "kind": 7}});
    let v = server.review(&half).await;
    assert_eq!(v["apiVersion"], json!("admission.k8s.io/v1beta1"));
    assert_eq!(v["response"]["uid"], json!("u-1"));
    assert_eq!(v["response"]["allowed"], json!(false));
    let wrong_version = json!({"apiVersion": "admission.k8s.io/v2", "kind": "AdmissionReview", "request": pod_review["request"]});
    let v = server.review(&wrong_version).await;
    assert_eq!(v["response"]["allowed"], json!(false));
    assert!(v["response"]["status"]["message"]
        .as_str()
        .unwrap()
        .contains("admission.k8s.io/v2"));

    // Another kind, or an UPDATE: allowed, untouched.
    let v = server
        .review(&fixture("admission_v1_deployment.json"))
        .await;
    assert_eq!(v["response"]["allowed"], json!(true));
    assert_eq!(v["response"].get("patch"), None);
    let mut update = pod_review.clone();
    update["request"]["operation"] = json!("UPDATE");
    let v = server.review(&update).await;
    assert_eq!(
        (v["response"]["allowed"].clone(), v["response"].get("patch")),
        (json!(true), None)
    );

    // Malformed annotations: mutated with defaults, and warnings say why.
    let mut bad = pod_review.clone();
    bad["request"]["object"]["spec"]["serviceAccountName"] = json!("bad");
    let v = server.review(&bad).await;
    let pod = patched_object(&bad, &v);
    assert_eq!(
        pod["spec"]["volumes"][1]["projected"]["sources"][0]["serviceAccountToken"]
            ["expirationSeconds"],
        json!(86400)
    );
    assert_eq!(
        v["response"]["warnings"].as_array().unwrap().len(),
        2,
        "{v}"
    );

    // SA without role, unknown SA, pod without containers: allowed, no patch.
    for (sa, containers) in [("plain", true), ("missing", true), ("app", false)] {
        let mut review = pod_review.clone();
        review["request"]["object"]["spec"]["serviceAccountName"] = json!(sa);
        if !containers {
            review["request"]["object"]["spec"]["containers"] = json!([]);
        }
        let v = server.review(&review).await;
        assert_eq!(v["response"]["allowed"], json!(true), "{sa}");
        assert_eq!(v["response"].get("patch"), None, "{sa}");
    }

    // Over the size limit: a clear 413.
    let mut huge = pod_review.clone();
    huge["request"]["object"]["metadata"]["annotations"] = json!({"big": "x".repeat(100 * 1024)});
    let r = server
        .post(Some("application/json"), serde_json::to_vec(&huge).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);

    // Metrics and health over the same TLS port.
    let health = https(server.addr, &server.ca, "GET", "/healthz", None, Vec::new()).await;
    assert_eq!(
        (health.status, health.body.as_slice()),
        (StatusCode::OK, b"ok".as_slice())
    );
    let metrics = https(server.addr, &server.ca, "GET", "/metrics", None, Vec::new()).await;
    let text = String::from_utf8(metrics.body).unwrap();
    for line in [
        "irsa_webhook_requests_total{outcome=\"rejected\"} 3",
        "irsa_webhook_requests_total{outcome=\"ignored\"} 2",
        "irsa_webhook_skips_total{reason=\"no_role_arn\"} 1",
        "irsa_webhook_skips_total{reason=\"no_service_account\"} 1",
        "irsa_webhook_skips_total{reason=\"no_containers\"} 1",
        "irsa_webhook_mutations_total 2",
        "irsa_webhook_request_duration_seconds_count",
    ] {
        assert!(text.contains(line), "{line} missing in\n{text}");
    }
    server.stop().await;
}

#[tokio::test]
async fn lookup_failure_allows_the_pod_with_a_warning() {
    let server = Server::start(Arc::new(FailingLookup), MutationConfig::default()).await;
    let v = server.review(&fixture("admission_v1_pod.json")).await;
    assert_eq!(v["response"]["allowed"], json!(true));
    assert_eq!(v["response"].get("patch"), None);
    let warning = v["response"]["warnings"][0].as_str().unwrap();
    assert!(warning.contains("default/app"), "{warning}");
    server.stop().await;
}

#[tokio::test]
async fn certificate_is_reloaded_when_files_change() {
    let server = Server::start(Arc::new(lookup()), MutationConfig::default()).await;
    let first = https(server.addr, &server.ca, "GET", "/healthz", None, Vec::new()).await;
    assert_eq!(first.server_cert, server.pki.leaf_der);

    // Rotate: a new CA and leaf written over the watched files.
    let dir = tempfile::tempdir().unwrap();
    let old = server.pki.clone_pems();
    let (cert, key) = write_pki(&old, dir.path());
    let reloader = spawn_reloader(
        Arc::clone(&server.resolver),
        cert.clone(),
        key.clone(),
        Duration::from_millis(50),
    );
    tokio::time::sleep(Duration::from_millis(120)).await;
    let rotated = pki();
    // Different sizes or mtimes trigger the reload; write the key first like a rotation would.
    std::fs::write(&key, &rotated.key_pem).unwrap();
    std::fs::write(&cert, &rotated.cert_pem).unwrap();
    let mut seen = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Until the reload, verification against the new CA fails (the task panics).
        let (addr, ca) = (server.addr, rotated.ca_der.clone());
        let attempt =
            tokio::spawn(
                async move { https(addr, &ca, "GET", "/healthz", None, Vec::new()).await },
            );
        if let Ok(Ok(r)) = tokio::time::timeout(Duration::from_secs(5), attempt).await {
            seen = Some(r.server_cert);
            break;
        }
    }
    assert_eq!(seen.as_ref(), Some(&rotated.leaf_der));
    // A broken rewrite keeps the current certificate.
    std::fs::write(&cert, "garbage").unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = https(
        server.addr,
        &rotated.ca_der,
        "GET",
        "/healthz",
        None,
        Vec::new(),
    )
    .await;
    assert_eq!(after.server_cert, rotated.leaf_der);
    reloader.abort();
    server.stop().await;
}

trait ClonePems {
    fn clone_pems(&self) -> TestPki;
}

impl ClonePems for TestPki {
    fn clone_pems(&self) -> TestPki {
        TestPki {
            ca_der: self.ca_der.clone(),
            cert_pem: self.cert_pem.clone(),
            key_pem: self.key_pem.clone(),
            leaf_der: self.leaf_der.clone(),
        }
    }
}
