//! Every manifest in `deploy/` parses into its Kubernetes type, and the pieces fit
//! together (names, selectors, ports, secret, flags).
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::Parser;
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Deserialize;
use serde_yaml::Value;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

#[derive(Default)]
struct Manifests {
    namespaces: Vec<Namespace>,
    service_accounts: Vec<ServiceAccount>,
    cluster_roles: Vec<ClusterRole>,
    bindings: Vec<ClusterRoleBinding>,
    deployments: Vec<Deployment>,
    pdbs: Vec<PodDisruptionBudget>,
    services: Vec<Service>,
    webhooks: Vec<MutatingWebhookConfiguration>,
    certificates: Vec<Value>,
    issuers: Vec<Value>,
}

fn load() -> (Manifests, BTreeSet<String>) {
    let mut manifests = Manifests::default();
    let mut files = BTreeSet::new();
    for entry in std::fs::read_dir(deploy_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name == "kustomization.yaml" || path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        files.insert(name.clone());
        let text = std::fs::read_to_string(&path).unwrap();
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value = Value::deserialize(document).unwrap();
            let kind = value["kind"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: no kind"))
                .to_owned();
            macro_rules! parse {
                ($list:ident) => {
                    manifests.$list.push(
                        serde_yaml::from_value(value.clone())
                            .unwrap_or_else(|e| panic!("{name}: {kind}: {e}")),
                    )
                };
            }
            match kind.as_str() {
                "Namespace" => parse!(namespaces),
                "ServiceAccount" => parse!(service_accounts),
                "ClusterRole" => parse!(cluster_roles),
                "ClusterRoleBinding" => parse!(bindings),
                "Deployment" => parse!(deployments),
                "PodDisruptionBudget" => parse!(pdbs),
                "Service" => parse!(services),
                "MutatingWebhookConfiguration" => parse!(webhooks),
                "Certificate" => manifests.certificates.push(value),
                "Issuer" => manifests.issuers.push(value),
                other => panic!("{name}: unexpected kind {other}"),
            }
        }
    }
    (manifests, files)
}

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: irsa_webhook::WebhookArgs,
}

#[test]
fn manifests_parse_and_fit_together() {
    let (m, files) = load();
    assert_eq!(m.namespaces.len(), 1);
    let ns = m.namespaces[0].metadata.name.clone().unwrap();

    // kustomization lists exactly the manifest files.
    let kustomization: Value = serde_yaml::from_str(
        &std::fs::read_to_string(deploy_dir().join("kustomization.yaml")).unwrap(),
    )
    .unwrap();
    let listed: BTreeSet<String> = kustomization["resources"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, files);
    assert_eq!(kustomization["namespace"].as_str(), Some(ns.as_str()));

    // Deployment: 2 replicas, runs `irsa webhook` with flags the binary accepts.
    let [deployment] = m.deployments.as_slice() else {
        panic!("one Deployment")
    };
    let spec = deployment.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(2));
    let template = &spec.template;
    let pod_labels = template.metadata.as_ref().unwrap().labels.clone().unwrap();
    assert!(pod_labels.contains_key("eks.amazonaws.com/skip-pod-identity-webhook"));
    let pod_spec = template.spec.as_ref().unwrap();
    let sa_name = pod_spec.service_account_name.clone().unwrap();
    let container = &pod_spec.containers[0];
    let args = container.args.clone().unwrap();
    assert_eq!(args[0], "webhook");
    let cli = Cli::try_parse_from(args.iter().map(String::as_str)).unwrap();
    let https_port = container
        .ports
        .as_ref()
        .unwrap()
        .iter()
        .find(|p| p.name.as_deref() == Some("https"))
        .unwrap()
        .container_port;
    assert_eq!(i32::from(cli.args.port), https_port);
    let cert_mount = container
        .volume_mounts
        .as_ref()
        .unwrap()
        .iter()
        .find(|vm| cli.args.tls_cert.starts_with(&vm.mount_path))
        .expect("a mount holds the TLS cert");
    let cert_volume = pod_spec
        .volumes
        .as_ref()
        .unwrap()
        .iter()
        .find(|v| v.name == cert_mount.name)
        .unwrap();
    let secret_name = cert_volume
        .secret
        .as_ref()
        .unwrap()
        .secret_name
        .clone()
        .unwrap();
    let selector = spec.selector.match_labels.clone().unwrap();
    assert!(selector.iter().all(|(k, v)| pod_labels.get(k) == Some(v)));

    // PDB and Service select the pods.
    let [pdb] = m.pdbs.as_slice() else {
        panic!("one PDB")
    };
    let pdb_spec = pdb.spec.as_ref().unwrap();
    assert_eq!(
        pdb_spec.selector.as_ref().unwrap().match_labels.as_ref(),
        Some(&selector)
    );
    assert_eq!(pdb_spec.min_available, Some(IntOrString::Int(1)));
    let [service] = m.services.as_slice() else {
        panic!("one Service")
    };
    let service_spec = service.spec.as_ref().unwrap();
    assert!(service_spec
        .selector
        .as_ref()
        .unwrap()
        .iter()
        .all(|(k, v)| pod_labels.get(k) == Some(v)));
    let service_name = service.metadata.name.clone().unwrap();

    // RBAC: get/list/watch serviceaccounts for the webhook's ServiceAccount.
    assert_eq!(
        m.service_accounts[0].metadata.name.as_deref(),
        Some(sa_name.as_str())
    );
    let role = &m.cluster_roles[0];
    let rbac_rule = &role.rules.as_ref().unwrap()[0];
    assert_eq!(
        rbac_rule.resources.as_deref(),
        Some(&["serviceaccounts".to_owned()][..])
    );
    let verbs: BTreeSet<&str> = rbac_rule.verbs.iter().map(String::as_str).collect();
    assert_eq!(verbs, BTreeSet::from(["get", "list", "watch"]));
    let binding = &m.bindings[0];
    assert_eq!(binding.role_ref.name, role.metadata.name.clone().unwrap());
    let subject = &binding.subjects.as_ref().unwrap()[0];
    assert_eq!(
        (subject.name.as_str(), subject.namespace.as_deref()),
        (sa_name.as_str(), Some(ns.as_str()))
    );

    // Webhook configuration.
    let [config] = m.webhooks.as_slice() else {
        panic!("one MutatingWebhookConfiguration")
    };
    let webhook = &config.webhooks.as_ref().unwrap()[0];
    assert_eq!(
        webhook.admission_review_versions,
        vec!["v1".to_owned(), "v1beta1".to_owned()]
    );
    assert_eq!(webhook.failure_policy.as_deref(), Some("Ignore"));
    assert_eq!(webhook.reinvocation_policy.as_deref(), Some("IfNeeded"));
    assert_eq!(webhook.side_effects, "None");
    let svc = webhook.client_config.service.as_ref().unwrap();
    assert_eq!(
        (svc.name.as_str(), svc.namespace.as_str()),
        (service_name.as_str(), ns.as_str())
    );
    assert_eq!(svc.path.as_deref(), Some("/mutate"));
    let service_port = service_spec
        .ports
        .as_ref()
        .unwrap()
        .iter()
        .find(|p| Some(p.port) == svc.port)
        .expect("webhook port is a Service port");
    assert_eq!(
        service_port.target_port,
        Some(IntOrString::String("https".into()))
    );
    let expression = &webhook
        .object_selector
        .as_ref()
        .unwrap()
        .match_expressions
        .as_ref()
        .unwrap()[0];
    assert_eq!(
        expression.key,
        "eks.amazonaws.com/skip-pod-identity-webhook"
    );
    assert_eq!(expression.operator, "DoesNotExist");
    let webhook_rule = &webhook.rules.as_ref().unwrap()[0];
    assert_eq!(
        webhook_rule.operations.as_deref(),
        Some(&["CREATE".to_owned()][..])
    );
    assert_eq!(
        webhook_rule.resources.as_deref(),
        Some(&["pods".to_owned()][..])
    );

    // cert-manager: the Certificate covers the Service DNS name and fills the
    // Secret the Deployment mounts; the CA is injected into the webhook config.
    let [certificate] = m.certificates.as_slice() else {
        panic!("one Certificate")
    };
    assert_eq!(
        certificate["apiVersion"].as_str(),
        Some("cert-manager.io/v1")
    );
    assert_eq!(
        certificate["spec"]["secretName"].as_str(),
        Some(secret_name.as_str())
    );
    let dns: Vec<&str> = certificate["spec"]["dnsNames"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert!(
        dns.contains(&format!("{service_name}.{ns}.svc").as_str()),
        "{dns:?}"
    );
    let issuer_name = certificate["spec"]["issuerRef"]["name"].as_str().unwrap();
    assert!(m
        .issuers
        .iter()
        .any(|i| i["metadata"]["name"].as_str() == Some(issuer_name)));
    let cert_name = certificate["metadata"]["name"].as_str().unwrap();
    let inject = config
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("cert-manager.io/inject-ca-from"))
        .unwrap();
    assert_eq!(inject, &format!("{ns}/{cert_name}"));
}
