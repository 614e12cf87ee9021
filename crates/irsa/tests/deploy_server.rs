//! `deploy/server/`, the manifests for `irsa serve` in a cluster: every file
//! parses into its Kubernetes type, the pieces fit together (selectors,
//! ports, certificate names, Secret keys documented), and the container's
//! own arguments and environment start the real binary: STS and the S3
//! gateway answer over HTTPS with a certificate for the Services' names, on
//! PostgreSQL, in front of the Garage `scripts/test` starts.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on setup failures

mod reliability;
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Deserialize;
use serde_yaml::Value;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

#[derive(Default)]
struct Manifests {
    deployments: Vec<Deployment>,
    services: Vec<Service>,
    pdbs: Vec<PodDisruptionBudget>,
    service_accounts: Vec<ServiceAccount>,
    certificates: Vec<Value>,
}

fn load() -> Manifests {
    let dir = deploy_dir().join("server");
    let kustomization: Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap())
            .unwrap();
    let mut listed: Vec<&str> = kustomization["resources"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    listed.sort_unstable();
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_str().unwrap().to_owned())
        .filter(|n| {
            Path::new(n).extension().is_some_and(|e| e == "yaml") && n != "kustomization.yaml"
        })
        .collect();
    on_disk.sort_unstable();
    assert_eq!(listed, on_disk, "kustomization.yaml lists every manifest");

    let mut manifests = Manifests::default();
    for name in on_disk {
        let text = std::fs::read_to_string(dir.join(&name)).unwrap();
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value = Value::deserialize(document).unwrap();
            let kind = value["kind"].as_str().unwrap().to_owned();
            match kind.as_str() {
                "Deployment" => manifests.deployments.push(typed(&name, &kind, &value)),
                "Service" => manifests.services.push(typed(&name, &kind, &value)),
                "PodDisruptionBudget" => manifests.pdbs.push(typed(&name, &kind, &value)),
                "ServiceAccount" => manifests.service_accounts.push(typed(&name, &kind, &value)),
                "Certificate" => manifests.certificates.push(value),
                "Issuer" => {}
                other => panic!("{name}: unexpected kind {other}"),
            }
        }
    }
    manifests
}

fn typed<T: serde::de::DeserializeOwned>(file: &str, kind: &str, value: &Value) -> T {
    serde_yaml::from_value(value.clone()).unwrap_or_else(|e| panic!("{file}: {kind}: {e}"))
}

fn container(deployment: &Deployment) -> &Container {
    &deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
}

/// The container's environment: name → the Secret key it comes from.
fn secret_env(container: &Container) -> BTreeMap<String, (String, String)> {
    container
        .env
        .iter()
        .flatten()
        .filter_map(|e| {
            let r = e.value_from.as_ref()?.secret_key_ref.as_ref()?;
            Some((e.name.clone(), (r.name.clone(), r.key.clone())))
        })
        .collect()
}

#[test]
fn server_manifests_fit_together() {
    let m = load();
    assert_eq!(m.deployments.len(), 1);
    let deployment = &m.deployments[0];
    let spec = deployment.spec.as_ref().unwrap();
    let pod_labels = spec
        .template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .clone()
        .unwrap();
    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(
        pod.service_account_name.as_deref(),
        m.service_accounts[0].metadata.name.as_deref()
    );
    let c = container(deployment);
    let port_names: Vec<&str> = c
        .ports
        .iter()
        .flatten()
        .filter_map(|p| p.name.as_deref())
        .collect();

    // Each Service selects the pods and targets a named container port.
    let mut service_hosts = Vec::new();
    for service in &m.services {
        let selector = service.spec.as_ref().unwrap().selector.clone().unwrap();
        for (k, v) in &selector {
            assert_eq!(pod_labels.get(k), Some(v), "Service selector {k}");
        }
        for port in service.spec.as_ref().unwrap().ports.iter().flatten() {
            match &port.target_port {
                Some(IntOrString::String(name)) => {
                    assert!(port_names.contains(&name.as_str()), "targetPort {name}");
                }
                other => panic!("targetPort must name a container port: {other:?}"),
            }
        }
        let name = service.metadata.name.clone().unwrap();
        service_hosts.push(format!("{name}.irsa-system.svc"));
    }
    let pdb_selector = m.pdbs[0]
        .spec
        .as_ref()
        .unwrap()
        .selector
        .as_ref()
        .unwrap()
        .match_labels
        .clone()
        .unwrap();
    for (k, v) in &pdb_selector {
        assert_eq!(pod_labels.get(k), Some(v), "PDB selector {k}");
    }

    // The certificate covers every Service name; its Secret is the mounted one.
    let certificate = &m.certificates[0];
    let dns: Vec<&str> = certificate["spec"]["dnsNames"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for host in &service_hosts {
        assert!(dns.contains(&host.as_str()), "certificate lacks {host}");
    }
    let secret_name = certificate["spec"]["secretName"].as_str().unwrap();
    assert!(pod.volumes.iter().flatten().any(|v| v
        .secret
        .as_ref()
        .and_then(|s| s.secret_name.as_deref())
        == Some(secret_name)));

    // Every Secret key the container reads is documented in deploy/README.md.
    let readme = std::fs::read_to_string(deploy_dir().join("README.md")).unwrap();
    for (variable, (secret, key)) in secret_env(c) {
        assert_eq!(secret, "irsa-server", "{variable}");
        assert!(
            readme.contains(&format!("--from-literal={key}=")),
            "deploy/README.md does not say how to create the Secret key {key}"
        );
    }
}

/// The Secret's values for this machine: a fresh PostgreSQL database, a
/// master key, root credentials and the Garage key.
fn secret_values(
    database_url: String,
    upstream: &support::S3Upstream,
) -> BTreeMap<&'static str, String> {
    use base64::Engine;
    let master_key: [u8; 32] = rand::random();
    BTreeMap::from([
        ("database-url", database_url),
        (
            "master-key",
            base64::engine::general_purpose::STANDARD.encode(master_key),
        ),
        ("root-access-key-id", "AKIADEPLOYSERVERTEST".to_owned()),
        (
            "root-secret-access-key",
            "deploy-server-test-secret-0123456789abcd".to_owned(),
        ),
        ("s3-upstream-access-key-id", upstream.access_key_id.clone()),
        (
            "s3-upstream-secret-access-key",
            upstream.secret_access_key.clone(),
        ),
    ])
}

/// `curl` over HTTPS to a Service name (resolved to 127.0.0.1), trusting
/// only the test CA; returns (status, body).
fn curl(host: &str, port: u16, path: &str, ca: &Path) -> Option<(u16, String)> {
    let output = Command::new("curl")
        .args(["-s", "-m", "5", "-w", "\n%{http_code}", "--cacert"])
        .arg(ca)
        .arg("--resolve")
        .arg(format!("{host}:{port}:127.0.0.1"))
        .arg(format!("https://{host}:{port}{path}"))
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n')?;
    Some((status.trim().parse().ok()?, body.to_owned()))
}

#[tokio::test]
async fn server_deployment_args_start_the_real_binary() {
    if !support::client_available("curl", &["--version"]) {
        return;
    }
    let Some(upstream) = support::s3_upstream() else {
        return;
    };
    let Some(database_url) = reliability::fresh_postgres_database("deploy").await else {
        return;
    };
    let m = load();
    let c = container(&m.deployments[0]).clone();
    let dir = tempfile::tempdir().unwrap();

    // The certificate cert-manager would issue, from the manifest's names.
    let dns: Vec<String> = m.certificates[0]["spec"]["dnsNames"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let pair = rcgen::generate_simple_self_signed(dns).unwrap();
    let tls_dir = dir.path().join("tls");
    std::fs::create_dir(&tls_dir).unwrap();
    std::fs::write(tls_dir.join("tls.crt"), pair.cert.pem()).unwrap();
    std::fs::write(tls_dir.join("tls.key"), pair.signing_key.serialize_pem()).unwrap();

    // The container's arguments, with this machine's ports and paths.
    let sts_port = support::free_port();
    let s3_port = support::free_port();
    let args: Vec<String> = c
        .args
        .clone()
        .unwrap()
        .into_iter()
        .map(|arg| {
            let arg = arg
                .replace("0.0.0.0:8443", &format!("127.0.0.1:{sts_port}"))
                .replace("0.0.0.0:9443", &format!("127.0.0.1:{s3_port}"))
                .replace("/etc/irsa/tls", tls_dir.to_str().unwrap())
                .replace("/tmp/irsa-data", dir.path().join("data").to_str().unwrap());
            match arg.strip_prefix("--s3-upstream=") {
                Some(_) => format!("--s3-upstream={}", upstream.url),
                None => arg,
            }
        })
        .collect();
    let values = secret_values(database_url, &upstream);
    let mut command = support::irsa();
    command.args(&args);
    for (variable, (_, key)) in secret_env(&c) {
        command.env(variable, &values[key.as_str()]);
    }
    let log = dir.path().join("server.log");
    let mut child = command
        .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
        .stderr(Stdio::from(
            std::fs::File::create(dir.path().join("server.err")).unwrap(),
        ))
        .spawn()
        .unwrap();

    let ca = tls_dir.join("tls.crt");
    let deadline = Instant::now() + Duration::from_secs(60);
    let ready = loop {
        if let Some((200, _)) = curl("irsa.irsa-system.svc", sts_port, "/readyz", &ca) {
            break true;
        }
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // The gateway answers over HTTPS under its Service name; an unsigned
    // ListBuckets is the anonymous caller, refused in S3's shape.
    let s3 = curl("irsa-s3.irsa-system.svc", s3_port, "/", &ca);
    let _ = child.kill();
    let _ = child.wait();
    let stderr = std::fs::read_to_string(dir.path().join("server.err")).unwrap_or_default();
    assert!(
        ready,
        "irsa serve with the Deployment's args did not become ready:\n{stderr}"
    );
    let (status, body) = s3.expect("the S3 gateway answered over HTTPS");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
}
