//! Table tests of the pure mutation: every patch is applied to the original pod
//! with a JSON Patch library and the result compared with the expected pod.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::collections::BTreeMap;

use irsa_webhook::mutate::{windows_token_path, MAX_TOKEN_EXPIRATION};
use irsa_webhook::{mutate, MutationConfig, MutationOutcome, ServiceAccountConfig, SkipReason};
use serde_json::{json, Value};

const ROLE: &str = "arn:aws:iam::123456789012:role/app";
const TOKEN_FILE: &str = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token";

fn sa(pairs: &[(&str, &str)]) -> ServiceAccountConfig {
    let annotations: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    ServiceAccountConfig::from_annotations(&annotations, &MutationConfig::default())
}

fn role_sa() -> ServiceAccountConfig {
    sa(&[("eks.amazonaws.com/role-arn", ROLE)])
}

fn apply(pod: &Value, outcome: &MutationOutcome) -> Value {
    let patch = outcome.patch.as_ref().expect("a patch");
    let mut patched = pod.clone();
    json_patch::patch(&mut patched, &patch.0).expect("patch applies");
    patched
}

fn mutated(
    pod: &Value,
    sa: &ServiceAccountConfig,
    config: &MutationConfig,
) -> (Value, Vec<String>) {
    let outcome = mutate(pod, sa, config);
    assert_eq!(outcome.skipped, None, "unexpected skip: {outcome:?}");
    let patched = apply(pod, &outcome);
    // Idempotent: a second pass over the mutated pod changes nothing.
    let again = mutate(&patched, sa, config);
    assert_eq!(again.patch, None, "second pass must not patch: {again:?}");
    assert_eq!(again.skipped, Some(SkipReason::AlreadyMutated));
    (patched, outcome.warnings)
}

#[allow(clippy::needless_pass_by_value)] // call sites pass json!(…) literals
fn pod(spec: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "app-7d9f8-", "namespace": "default", "labels": {"app": "web"}},
        "spec": spec,
    })
}

fn env_of(pod: &Value, list: &str, index: usize) -> Vec<(String, String)> {
    pod["spec"][list][index]["env"]
        .as_array()
        .map(|env| {
            env.iter()
                .map(|e| {
                    (
                        e["name"].as_str().unwrap().to_owned(),
                        e["value"].as_str().unwrap_or("<from>").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn token_volume(audience: &str, expiration: i64) -> Value {
    json!({
        "name": "aws-iam-token",
        "projected": {"sources": [{"serviceAccountToken": {
            "audience": audience, "expirationSeconds": expiration, "path": "token"
        }}]}
    })
}

fn token_mount() -> Value {
    json!({"name": "aws-iam-token", "readOnly": true, "mountPath": "/var/run/secrets/eks.amazonaws.com/serviceaccount"})
}

#[test]
fn basic_pod_gets_volume_mount_and_env_and_unknown_fields_survive() {
    let original = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "app-", "namespace": "default", "futureMeta": 1},
        "spec": {
            "serviceAccountName": "app",
            "futureSpecField": {"a": [1, 2]},
            "containers": [{
                "name": "app",
                "image": "busybox",
                "futureContainerField": {"x": true},
                "resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}]
            }]
        }
    });
    let (patched, warnings) = mutated(&original, &role_sa(), &MutationConfig::default());
    assert!(warnings.is_empty());
    let expected = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "app-", "namespace": "default", "futureMeta": 1},
        "spec": {
            "serviceAccountName": "app",
            "futureSpecField": {"a": [1, 2]},
            "volumes": [token_volume("sts.amazonaws.com", 86400)],
            "containers": [{
                "name": "app",
                "image": "busybox",
                "futureContainerField": {"x": true},
                "resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}],
                "volumeMounts": [token_mount()],
                "env": [
                    {"name": "AWS_ROLE_ARN", "value": ROLE},
                    {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": TOKEN_FILE}
                ]
            }]
        }
    });
    assert_eq!(patched, expected);
}

#[test]
fn existing_arrays_are_appended_to_and_user_env_wins() {
    let original = pod(json!({
        "volumes": [{"name": "data", "emptyDir": {}}],
        "containers": [{
            "name": "app",
            "env": [
                {"name": "AWS_ROLE_ARN", "value": "arn:aws:iam::111111111111:role/mine"},
                {"name": "AWS_REGION", "value": "eu-west-1"},
                {"name": "FROM_FIELD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
            ],
            "volumeMounts": [{"name": "data", "mountPath": "/data"}]
        }]
    }));
    let config = MutationConfig {
        region: Some("us-west-2".into()),
        regional_sts: true,
        ..MutationConfig::default()
    };
    let (patched, _) = mutated(&original, &role_sa(), &config);
    let mut expected = original.clone();
    expected["spec"]["volumes"] =
        json!([{"name": "data", "emptyDir": {}}, token_volume("sts.amazonaws.com", 86400)]);
    expected["spec"]["containers"][0]["volumeMounts"] =
        json!([{"name": "data", "mountPath": "/data"}, token_mount()]);
    expected["spec"]["containers"][0]["env"] = json!([
        {"name": "AWS_ROLE_ARN", "value": "arn:aws:iam::111111111111:role/mine"},
        {"name": "AWS_REGION", "value": "eu-west-1"},
        {"name": "FROM_FIELD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"}
    ]);
    assert_eq!(patched, expected);
}

#[test]
fn existing_token_volume_is_not_added_twice() {
    let original = pod(json!({
        "volumes": [token_volume("custom", 3600)],
        "containers": [{"name": "app"}]
    }));
    let (patched, _) = mutated(&original, &role_sa(), &MutationConfig::default());
    assert_eq!(
        patched["spec"]["volumes"],
        json!([token_volume("custom", 3600)])
    );
    assert_eq!(
        patched["spec"]["containers"][0]["volumeMounts"],
        json!([token_mount()])
    );
}

#[test]
fn init_containers_are_mutated_too_and_skip_containers_are_not() {
    let mut original = pod(json!({
        "initContainers": [{"name": "init"}, {"name": "istio-init"}],
        "containers": [{"name": "app"}, {"name": "sidecar"}, {"name": "istio-proxy"}]
    }));
    original["metadata"]["annotations"] =
        json!({"eks.amazonaws.com/skip-containers": "sidecar, istio-proxy,istio-init"});
    let (patched, _) = mutated(&original, &role_sa(), &MutationConfig::default());
    let expected_env = pairs(&[
        ("AWS_ROLE_ARN", ROLE),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", TOKEN_FILE),
    ]);
    assert_eq!(env_of(&patched, "initContainers", 0), expected_env);
    assert_eq!(
        patched["spec"]["initContainers"][0]["volumeMounts"],
        json!([token_mount()])
    );
    assert_eq!(
        patched["spec"]["initContainers"][1],
        json!({"name": "istio-init"})
    );
    assert_eq!(env_of(&patched, "containers", 0), expected_env);
    assert_eq!(patched["spec"]["containers"][1], json!({"name": "sidecar"}));
    assert_eq!(
        patched["spec"]["containers"][2],
        json!({"name": "istio-proxy"})
    );
}

#[test]
fn skip_label_no_role_and_invalid_role_leave_the_pod_alone() {
    let mut labelled = pod(json!({"containers": [{"name": "app"}]}));
    labelled["metadata"]["labels"]["eks.amazonaws.com/skip-pod-identity-webhook"] = json!("true");
    let outcome = mutate(&labelled, &role_sa(), &MutationConfig::default());
    assert_eq!(
        (outcome.patch, outcome.skipped),
        (None, Some(SkipReason::SkipLabel))
    );

    let plain = pod(json!({"containers": [{"name": "app"}]}));
    let outcome = mutate(&plain, &sa(&[]), &MutationConfig::default());
    assert_eq!(
        (outcome.patch, outcome.skipped),
        (None, Some(SkipReason::NoRoleArn))
    );
    assert!(outcome.warnings.is_empty());

    for bad in [
        "not-an-arn",
        "arn:aws:iam::123456789012:user/bob",
        "arn:aws:s3:::bucket",
        "arn:aws:iam::12345:role/short-account",
    ] {
        let outcome = mutate(
            &plain,
            &sa(&[("eks.amazonaws.com/role-arn", bad)]),
            &MutationConfig::default(),
        );
        assert_eq!(outcome.patch, None, "{bad}");
        assert_eq!(outcome.skipped, Some(SkipReason::InvalidRoleArn), "{bad}");
        assert_eq!(outcome.warnings.len(), 1, "{bad}");
        assert!(
            outcome.warnings[0].contains("role-arn"),
            "{:?}",
            outcome.warnings
        );
    }
    // A role with a path is fine.
    let outcome = mutate(
        &plain,
        &sa(&[(
            "eks.amazonaws.com/role-arn",
            "arn:aws-cn:iam::123456789012:role/team/app",
        )]),
        &MutationConfig::default(),
    );
    assert!(outcome.patch.is_some());
}

#[test]
fn windows_pods_get_a_windows_token_path() {
    let original = pod(json!({
        "nodeSelector": {"kubernetes.io/os": "windows"},
        "containers": [{"name": "app"}]
    }));
    let (patched, _) = mutated(&original, &role_sa(), &MutationConfig::default());
    assert_eq!(
        env_of(&patched, "containers", 0)[1],
        (
            "AWS_WEB_IDENTITY_TOKEN_FILE".to_owned(),
            r"C:\var\run\secrets\eks.amazonaws.com\serviceaccount\token".to_owned()
        )
    );
    // The mount itself keeps the Linux-style path; kubelet maps it.
    assert_eq!(
        patched["spec"]["containers"][0]["volumeMounts"],
        json!([token_mount()])
    );
    assert_eq!(windows_token_path("/a/b/"), r"C:\a\b\token");
}

#[test]
fn token_expiration_from_sa_then_pod_clamped() {
    let cases: &[(Option<&str>, Option<&str>, i64, usize)] = &[
        (None, None, 86400, 0),
        (Some("7200"), None, 7200, 0),
        (Some("7200"), Some("3600"), 3600, 0),
        (None, Some("1200"), 1200, 0),
        (Some("100"), None, 600, 0),
        (Some("7200"), Some("60"), 600, 0),
        (Some("-5"), None, 600, 0),
        (Some("99999999999999"), None, MAX_TOKEN_EXPIRATION, 0),
        (Some("abc"), None, 86400, 1),
        (Some("7200"), Some("soon"), 7200, 1),
        (Some("1h"), Some("x"), 86400, 2),
    ];
    for &(sa_value, pod_value, expected, warning_count) in cases {
        let mut annotations = vec![("eks.amazonaws.com/role-arn", ROLE)];
        if let Some(v) = sa_value {
            annotations.push(("eks.amazonaws.com/token-expiration", v));
        }
        let mut original = pod(json!({"containers": [{"name": "app"}]}));
        if let Some(v) = pod_value {
            original["metadata"]["annotations"] = json!({"eks.amazonaws.com/token-expiration": v});
        }
        let (patched, warnings) = mutated(&original, &sa(&annotations), &MutationConfig::default());
        assert_eq!(
            patched["spec"]["volumes"][0],
            token_volume("sts.amazonaws.com", expected),
            "sa={sa_value:?} pod={pod_value:?}"
        );
        assert_eq!(warnings.len(), warning_count, "{warnings:?}");
    }
}

#[test]
fn audience_annotation_and_config_default() {
    let original = pod(json!({"containers": [{"name": "app"}]}));
    let with_aud = sa(&[
        ("eks.amazonaws.com/role-arn", ROLE),
        ("eks.amazonaws.com/audience", "irsa"),
    ]);
    let (patched, _) = mutated(&original, &with_aud, &MutationConfig::default());
    assert_eq!(patched["spec"]["volumes"][0], token_volume("irsa", 86400));
    let config = MutationConfig {
        audience: "my-aud".into(),
        token_expiration: 3600,
        ..MutationConfig::default()
    };
    let (patched, _) = mutated(&original, &role_sa(), &config);
    assert_eq!(patched["spec"]["volumes"][0], token_volume("my-aud", 3600));
}

#[test]
fn regional_sts_endpoint_rules() {
    let original = pod(json!({"containers": [{"name": "app"}]}));
    let on = MutationConfig {
        regional_sts: true,
        ..MutationConfig::default()
    };
    let off = MutationConfig::default();
    let regional = (
        "AWS_STS_REGIONAL_ENDPOINTS".to_owned(),
        "regional".to_owned(),
    );
    let cases: &[(Option<&str>, &MutationConfig, bool, usize)] = &[
        (None, &off, false, 0),
        (None, &on, true, 0),
        (Some("true"), &off, true, 0),
        (Some("false"), &on, false, 0),
        (Some("yes"), &off, false, 1),
        (Some("maybe"), &on, true, 1),
    ];
    for &(annotation, config, expect, warning_count) in cases {
        let mut annotations = vec![("eks.amazonaws.com/role-arn", ROLE)];
        if let Some(v) = annotation {
            annotations.push(("eks.amazonaws.com/sts-regional-endpoints", v));
        }
        let (patched, warnings) = mutated(&original, &sa(&annotations), config);
        let env = env_of(&patched, "containers", 0);
        assert_eq!(env.contains(&regional), expect, "{annotation:?} {config:?}");
        if expect {
            assert_eq!(env[0], regional, "regional endpoint env comes first");
        }
        assert_eq!(warnings.len(), warning_count, "{warnings:?}");
    }
}

#[test]
fn region_is_added_only_when_configured_and_unset() {
    let original = pod(json!({"containers": [
        {"name": "plain"},
        {"name": "has-default", "env": [{"name": "AWS_DEFAULT_REGION", "value": "eu-central-1"}]},
        {"name": "has-region", "env": [{"name": "AWS_REGION", "value": "ap-south-1"}]}
    ]}));
    let config = MutationConfig {
        region: Some("us-east-2".into()),
        ..MutationConfig::default()
    };
    let (patched, _) = mutated(&original, &role_sa(), &config);
    assert_eq!(
        env_of(&patched, "containers", 0),
        pairs(&[
            ("AWS_DEFAULT_REGION", "us-east-2"),
            ("AWS_REGION", "us-east-2"),
            ("AWS_ROLE_ARN", ROLE),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", TOKEN_FILE)
        ])
    );
    assert_eq!(
        env_of(&patched, "containers", 1),
        pairs(&[
            ("AWS_DEFAULT_REGION", "eu-central-1"),
            ("AWS_ROLE_ARN", ROLE),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", TOKEN_FILE)
        ])
    );
    assert_eq!(
        env_of(&patched, "containers", 2),
        pairs(&[
            ("AWS_REGION", "ap-south-1"),
            ("AWS_ROLE_ARN", ROLE),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", TOKEN_FILE)
        ])
    );
    // Without a configured region nothing region-related is added.
    let (patched, _) = mutated(&original, &role_sa(), &MutationConfig::default());
    assert_eq!(
        env_of(&patched, "containers", 0),
        pairs(&[
            ("AWS_ROLE_ARN", ROLE),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", TOKEN_FILE)
        ])
    );
}

#[test]
fn sts_endpoint_injection() {
    let original = pod(json!({"containers": [
        {"name": "app"},
        {"name": "own", "env": [{"name": "AWS_ENDPOINT_URL_STS", "value": "http://mine:1"}]}
    ]}));
    let config = MutationConfig {
        sts_endpoint_url: Some("https://irsa.irsa-system.svc:8443".into()),
        ..MutationConfig::default()
    };
    let endpoint = |p: &Value, i: usize| {
        env_of(p, "containers", i)
            .into_iter()
            .find(|(k, _)| k == "AWS_ENDPOINT_URL_STS")
            .map(|(_, v)| v)
    };
    // From the flag.
    let (patched, _) = mutated(&original, &role_sa(), &config);
    assert_eq!(
        endpoint(&patched, 0).as_deref(),
        Some("https://irsa.irsa-system.svc:8443")
    );
    assert_eq!(endpoint(&patched, 1).as_deref(), Some("http://mine:1"));
    // The ServiceAccount's irsa annotation overrides the flag.
    let custom = sa(&[
        ("eks.amazonaws.com/role-arn", ROLE),
        ("irsa.dev/sts-endpoint-url", "http://irsa.dev-ns:8080"),
    ]);
    let (patched, _) = mutated(&original, &custom, &config);
    assert_eq!(
        endpoint(&patched, 0).as_deref(),
        Some("http://irsa.dev-ns:8080")
    );
    // An invalid annotation is reported and the flag used.
    let bad = sa(&[
        ("eks.amazonaws.com/role-arn", ROLE),
        ("irsa.dev/sts-endpoint-url", "irsa:8080"),
    ]);
    let (patched, warnings) = mutated(&original, &bad, &config);
    assert_eq!(
        endpoint(&patched, 0).as_deref(),
        Some("https://irsa.irsa-system.svc:8443")
    );
    assert_eq!(warnings.len(), 1);
    // Neither flag nor annotation: no endpoint variable.
    let (patched, _) = mutated(&original, &role_sa(), &MutationConfig::default());
    assert_eq!(endpoint(&patched, 0), None);
}

#[test]
fn custom_prefixes_and_mount_path() {
    let config = MutationConfig {
        annotation_prefix: "example.com".into(),
        irsa_annotation_prefix: "irsa.example.com".into(),
        mount_path: "/aws/token-dir".into(),
        ..MutationConfig::default()
    };
    let annotations: BTreeMap<String, String> = [
        (
            "eks.amazonaws.com/role-arn",
            "arn:aws:iam::123456789012:role/ignored",
        ),
        ("example.com/role-arn", ROLE),
        ("irsa.example.com/sts-endpoint-url", "http://irsa:8080"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let sa_config = ServiceAccountConfig::from_annotations(&annotations, &config);
    let mut original = pod(json!({"containers": [{"name": "app"}, {"name": "skip-me"}]}));
    original["metadata"]["annotations"] = json!({"example.com/skip-containers": "skip-me"});
    let (patched, _) = mutated(&original, &sa_config, &config);
    assert_eq!(
        env_of(&patched, "containers", 0),
        pairs(&[
            ("AWS_ROLE_ARN", ROLE),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/aws/token-dir/token"),
            ("AWS_ENDPOINT_URL_STS", "http://irsa:8080")
        ])
    );
    assert_eq!(
        patched["spec"]["containers"][0]["volumeMounts"][0]["mountPath"],
        json!("/aws/token-dir")
    );
    assert_eq!(patched["spec"]["containers"][1], json!({"name": "skip-me"}));
    // The skip label follows the prefix.
    original["metadata"]["labels"]["example.com/skip-pod-identity-webhook"] = json!("");
    assert_eq!(
        mutate(&original, &sa_config, &config).skipped,
        Some(SkipReason::SkipLabel)
    );
}

#[test]
fn already_mutated_pod_is_not_patched() {
    let original = pod(json!({
        "volumes": [token_volume("sts.amazonaws.com", 86400)],
        "containers": [{
            "name": "app",
            "volumeMounts": [token_mount()],
            "env": [
                {"name": "AWS_ROLE_ARN", "value": ROLE},
                {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": TOKEN_FILE}
            ]
        }]
    }));
    let outcome = mutate(&original, &role_sa(), &MutationConfig::default());
    assert_eq!(outcome.patch, None);
    assert_eq!(outcome.skipped, Some(SkipReason::AlreadyMutated));
}

#[test]
fn a_different_volume_at_the_mount_path_is_not_shadowed() {
    let original = pod(json!({"containers": [{
        "name": "app",
        "volumeMounts": [{"name": "own", "mountPath": "/var/run/secrets/eks.amazonaws.com/serviceaccount"}]
    }]}));
    let (patched, _) = mutated(&original, &role_sa(), &MutationConfig::default());
    assert_eq!(
        patched["spec"]["containers"][0]["volumeMounts"],
        original["spec"]["containers"][0]["volumeMounts"]
    );
    assert_eq!(env_of(&patched, "containers", 0).len(), 2);
}

#[test]
fn pods_without_containers_are_allowed_unchanged_with_a_warning() {
    for original in [
        pod(json!({})),
        pod(json!({"containers": []})),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {}}),
    ] {
        let outcome = mutate(&original, &role_sa(), &MutationConfig::default());
        assert_eq!(outcome.patch, None);
        assert_eq!(outcome.skipped, Some(SkipReason::NoContainers));
        assert_eq!(outcome.warnings.len(), 1);
    }
}

#[test]
fn ten_thousand_env_vars() {
    let env: Vec<Value> = (0..10_000)
        .map(|i| json!({"name": format!("VAR_{i}"), "value": i.to_string()}))
        .collect();
    let original = pod(json!({"containers": [{"name": "app", "env": env}]}));
    let (patched, _) = mutated(&original, &role_sa(), &MutationConfig::default());
    let env = patched["spec"]["containers"][0]["env"].as_array().unwrap();
    assert_eq!(env.len(), 10_002);
    assert_eq!(env[9_999], json!({"name": "VAR_9999", "value": "9999"}));
    assert_eq!(env[10_000]["name"], json!("AWS_ROLE_ARN"));
}

#[test]
fn malformed_fields_never_half_mutate() {
    let original = pod(json!({"volumes": "oops", "containers": [{"name": "app"}]}));
    let outcome = mutate(&original, &role_sa(), &MutationConfig::default());
    assert_eq!(
        (outcome.patch, outcome.skipped),
        (None, Some(SkipReason::Malformed))
    );

    // A container with a non-list env keeps its fields; the others are mutated.
    let original =
        pod(json!({"containers": [{"name": "bad", "env": "oops"}, {"name": "good", "env": null}]}));
    let outcome = mutate(&original, &role_sa(), &MutationConfig::default());
    let patched = apply(&original, &outcome);
    assert_eq!(
        patched["spec"]["containers"][0],
        json!({"name": "bad", "env": "oops"})
    );
    assert_eq!(env_of(&patched, "containers", 1).len(), 2);
    assert_eq!(outcome.warnings.len(), 1);
}

#[test]
fn fs_group_only_when_opted_in_and_non_root() {
    let config = MutationConfig {
        non_root_fs_group: Some(65534),
        ..MutationConfig::default()
    };
    // Pod-level runAsNonRoot: fsGroup added to the existing securityContext.
    let original = pod(
        json!({"securityContext": {"runAsNonRoot": true, "futureSc": 1}, "containers": [{"name": "app"}]}),
    );
    let (patched, _) = mutated(&original, &role_sa(), &config);
    assert_eq!(
        patched["spec"]["securityContext"],
        json!({"runAsNonRoot": true, "futureSc": 1, "fsGroup": 65534})
    );
    // Every container non-root, no pod securityContext: one is created.
    let original = pod(json!({"containers": [
        {"name": "a", "securityContext": {"runAsUser": 1000}},
        {"name": "b", "securityContext": {"runAsNonRoot": true}}
    ]}));
    let (patched, _) = mutated(&original, &role_sa(), &config);
    assert_eq!(
        patched["spec"]["securityContext"],
        json!({"fsGroup": 65534})
    );
    // An existing fsGroup is kept; root pods and the default config are untouched.
    let original = pod(
        json!({"securityContext": {"runAsUser": 1000, "fsGroup": 2000}, "containers": [{"name": "app"}]}),
    );
    let (patched, _) = mutated(&original, &role_sa(), &config);
    assert_eq!(patched["spec"]["securityContext"]["fsGroup"], json!(2000));
    let original = pod(json!({"containers": [{"name": "a", "securityContext": {"runAsUser": 0}}]}));
    let (patched, _) = mutated(&original, &role_sa(), &config);
    assert_eq!(patched["spec"].get("securityContext"), None);
    let original =
        pod(json!({"securityContext": {"runAsNonRoot": true}, "containers": [{"name": "app"}]}));
    let (patched, _) = mutated(&original, &role_sa(), &MutationConfig::default());
    assert_eq!(
        patched["spec"]["securityContext"],
        json!({"runAsNonRoot": true})
    );
}

// ---------------------------------------------------------------------------
// The upstream webhook's container rules, one test per rule; the cases are
// those of its handler testdata (pod in, expected containers out).

fn env_names(pod: &Value, list: &str, index: usize) -> Vec<String> {
    env_of(pod, list, index)
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

/// rawPodSkip: AWS_ROLE_ARN set by the user; AWS_WEB_IDENTITY_TOKEN_FILE is
/// not added either, but the region and the mount are.
#[test]
fn user_role_arn_means_neither_web_identity_variable_is_added() {
    let mut original = pod(json!({"containers": [
        {"name": "sidecar", "image": "amazonlinux"},
        {"name": "app", "image": "amazonlinux",
         "env": [{"name": "AWS_ROLE_ARN", "value": "already-defined"}]}
    ]}));
    original["metadata"]["annotations"] = json!({"eks.amazonaws.com/skip-containers": "sidecar"});
    let config = MutationConfig {
        region: Some("us-west-2".into()),
        ..MutationConfig::default()
    };
    let (patched, _) = mutated(&original, &role_sa(), &config);
    assert_eq!(
        patched["spec"]["containers"][0],
        json!({"name": "sidecar", "image": "amazonlinux"}),
        "a skipped container gets nothing"
    );
    assert_eq!(
        env_of(&patched, "containers", 1),
        pairs(&[
            ("AWS_ROLE_ARN", "already-defined"),
            ("AWS_DEFAULT_REGION", "us-west-2"),
            ("AWS_REGION", "us-west-2"),
        ])
    );
    assert_eq!(
        patched["spec"]["containers"][1]["volumeMounts"],
        json!([token_mount()])
    );
    assert_eq!(
        patched["spec"]["volumes"],
        json!([token_volume("sts.amazonaws.com", 86400)])
    );
}

/// The other half of the unit: a user's token file alone keeps AWS_ROLE_ARN out.
#[test]
fn user_token_file_means_neither_web_identity_variable_is_added() {
    let original = pod(json!({"containers": [{"name": "app", "env": [
        {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": "/mine/token"}
    ]}]}));
    let config = MutationConfig {
        regional_sts: true,
        sts_endpoint_url: Some("https://irsa.example".into()),
        s3_endpoint_url: Some("https://s3.irsa.example".into()),
        ..MutationConfig::default()
    };
    let (patched, _) = mutated(&original, &role_sa(), &config);
    assert_eq!(
        env_of(&patched, "containers", 0),
        pairs(&[
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/mine/token"),
            ("AWS_STS_REGIONAL_ENDPOINTS", "regional"),
            ("AWS_ENDPOINT_URL_STS", "https://irsa.example"),
            ("AWS_ENDPOINT_URL_S3", "https://s3.irsa.example"),
        ])
    );
    assert_eq!(
        patched["spec"]["containers"][0]["volumeMounts"],
        json!([token_mount()])
    );
}

/// rawPodHasAll: web identity, a region and AWS_STS_REGIONAL_ENDPOINTS all
/// set by the user: the container is left exactly as it is (no mount),
/// while the pod still gets the token volume.
#[test]
fn fully_configured_container_is_left_alone() {
    let user_env = json!([
        {"name": "AWS_REGION", "value": "cn-northwest-1"},
        {"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"},
        {"name": "AWS_ROLE_ARN", "value": "arn:aws-cn:iam::111122223333:role/s3-reader"}
    ]);
    let original = pod(json!({"containers": [
        {"name": "app", "image": "amazonlinux", "env": user_env}
    ]}));
    let mut annotations = BTreeMap::new();
    annotations.insert(
        "eks.amazonaws.com/role-arn".to_owned(),
        "arn:aws-cn:iam::111122223333:role/s3-reader".to_owned(),
    );
    annotations.insert(
        "eks.amazonaws.com/token-expiration".to_owned(),
        "3600".to_owned(),
    );
    let sa_config =
        ServiceAccountConfig::from_annotations(&annotations, &MutationConfig::default());
    let config = MutationConfig {
        region: Some("cn-north-1".into()),
        regional_sts: true,
        ..MutationConfig::default()
    };
    let (patched, _) = mutated(&original, &sa_config, &config);
    assert_eq!(
        patched["spec"]["containers"][0],
        original["spec"]["containers"][0]
    );
    assert_eq!(
        patched["spec"]["volumes"],
        json!([token_volume("sts.amazonaws.com", 3600)])
    );

    // irsa's own endpoint variable still missing: then it and the mount are added.
    let with_endpoint = MutationConfig {
        sts_endpoint_url: Some("https://irsa.example".into()),
        ..config
    };
    let (patched, _) = mutated(&original, &sa_config, &with_endpoint);
    assert_eq!(
        env_names(&patched, "containers", 0),
        [
            "AWS_REGION",
            "AWS_STS_REGIONAL_ENDPOINTS",
            "AWS_ROLE_ARN",
            "AWS_ENDPOINT_URL_STS"
        ]
    );
    assert_eq!(
        patched["spec"]["containers"][0]["volumeMounts"],
        json!([token_mount()])
    );
}

/// rawPodHasSTS: region and regional STS set by the user, web identity not:
/// only the web identity variables and the mount are added.
#[test]
fn user_region_and_regional_sts_are_kept_and_web_identity_added() {
    let original = pod(json!({"containers": [{"name": "app", "env": [
        {"name": "AWS_REGION", "value": "cn-northwest-1"},
        {"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "legacy"}
    ]}]}));
    let config = MutationConfig {
        region: Some("cn-north-1".into()),
        regional_sts: true,
        ..MutationConfig::default()
    };
    let (patched, _) = mutated(&original, &role_sa(), &config);
    assert_eq!(
        env_of(&patched, "containers", 0),
        pairs(&[
            ("AWS_REGION", "cn-northwest-1"),
            ("AWS_STS_REGIONAL_ENDPOINTS", "legacy"),
            ("AWS_ROLE_ARN", ROLE),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", TOKEN_FILE),
        ])
    );
    assert_eq!(
        patched["spec"]["containers"][0]["volumeMounts"],
        json!([token_mount()])
    );
}

/// rawPodNeedsSTS: nothing set, everything configured: env in upstream's order.
#[test]
fn empty_container_gets_every_variable_in_upstream_order() {
    let original = pod(json!({"containers": [{"name": "app"}]}));
    let config = MutationConfig {
        region: Some("cn-north-1".into()),
        regional_sts: true,
        ..MutationConfig::default()
    };
    let (patched, _) = mutated(&original, &role_sa(), &config);
    assert_eq!(
        env_names(&patched, "containers", 0),
        [
            "AWS_STS_REGIONAL_ENDPOINTS",
            "AWS_DEFAULT_REGION",
            "AWS_REGION",
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE"
        ]
    );
}

/// rawPodHasVolumeMount: the pod already has a volume called aws-iam-token
/// and the container mounts it (elsewhere): neither is added again; env is.
#[test]
fn existing_volume_and_mount_by_name_are_kept() {
    let original = pod(json!({
        "containers": [{"name": "app", "volumeMounts": [
            {"name": "aws-iam-token", "mountPath": "/path/to/token"}
        ]}],
        "volumes": [{"name": "aws-iam-token", "hostPath": {"path": "/path/to/token"}}]
    }));
    let (patched, _) = mutated(&original, &role_sa(), &MutationConfig::default());
    assert_eq!(patched["spec"]["volumes"], original["spec"]["volumes"]);
    assert_eq!(
        patched["spec"]["containers"][0]["volumeMounts"],
        original["spec"]["containers"][0]["volumeMounts"]
    );
    assert_eq!(
        env_of(&patched, "containers", 0),
        pairs(&[
            ("AWS_ROLE_ARN", ROLE),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", TOKEN_FILE)
        ])
    );
}

/// rawPodWithInitContainer: every init container is mutated, including a
/// native sidecar (restartPolicy Always); skip-containers applies to them too.
#[test]
fn init_containers_and_native_sidecars_are_mutated() {
    let mut original = pod(json!({
        "initContainers": [
            {"name": "initcontainer"},
            {"name": "sidecar", "restartPolicy": "Always"},
            {"name": "skipped-init", "env": [{"name": "X", "value": "1"}]}
        ],
        "containers": [{"name": "app"}]
    }));
    original["metadata"]["annotations"] =
        json!({"eks.amazonaws.com/skip-containers": "skipped-init"});
    let config = MutationConfig {
        region: Some("us-west-2".into()),
        ..MutationConfig::default()
    };
    let (patched, _) = mutated(&original, &role_sa(), &config);
    let expected = [
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ];
    for index in 0..2 {
        assert_eq!(env_names(&patched, "initContainers", index), expected);
        assert_eq!(
            patched["spec"]["initContainers"][index]["volumeMounts"],
            json!([token_mount()])
        );
    }
    assert_eq!(
        patched["spec"]["initContainers"][1]["restartPolicy"],
        "Always"
    );
    assert_eq!(
        patched["spec"]["initContainers"][2],
        original["spec"]["initContainers"][2]
    );
    assert_eq!(env_names(&patched, "containers", 0), expected);
}

/// rawPodMinTokenExpiration / rawPodHasTokenExpiration: the pod annotation
/// overrides the ServiceAccount's; 0 is raised to 600.
#[test]
fn pod_token_expiration_overrides_and_is_raised_to_600() {
    for (pod_value, expected) in [("3600", 3600), ("0", 600), ("-5", 600)] {
        let mut original = pod(json!({"containers": [{"name": "app"}]}));
        original["metadata"]["annotations"] =
            json!({"eks.amazonaws.com/token-expiration": pod_value});
        let sa_config = sa(&[
            ("eks.amazonaws.com/role-arn", ROLE),
            ("eks.amazonaws.com/token-expiration", "7200"),
        ]);
        let (patched, _) = mutated(&original, &sa_config, &MutationConfig::default());
        assert_eq!(
            patched["spec"]["volumes"],
            json!([token_volume("sts.amazonaws.com", expected)]),
            "{pod_value}"
        );
    }
}

/// betaWindowsPodWithoutVolumes: the beta OS label also means Windows.
#[test]
fn beta_windows_node_selector_gets_a_windows_path() {
    let original = pod(json!({
        "containers": [{"name": "app"}],
        "nodeSelector": {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "windows"}
    }));
    let (patched, _) = mutated(&original, &role_sa(), &MutationConfig::default());
    assert_eq!(
        env_of(&patched, "containers", 0),
        pairs(&[
            ("AWS_ROLE_ARN", ROLE),
            (
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                r"C:\var\run\secrets\eks.amazonaws.com\serviceaccount\token"
            )
        ])
    );
}

#[test]
fn s3_endpoint_injection() {
    let original = pod(json!({"containers": [
        {"name": "app"},
        {"name": "own", "env": [{"name": "AWS_ENDPOINT_URL_S3", "value": "http://mine:9000"}]}
    ]}));
    let config = MutationConfig {
        s3_endpoint_url: Some("https://s3.irsa-system.svc:9443".into()),
        ..MutationConfig::default()
    };
    let endpoint = |p: &Value, i: usize| {
        env_of(p, "containers", i)
            .into_iter()
            .find(|(k, _)| k == "AWS_ENDPOINT_URL_S3")
            .map(|(_, v)| v)
    };
    // From the flag, never over the container's own value.
    let (patched, _) = mutated(&original, &role_sa(), &config);
    assert_eq!(
        endpoint(&patched, 0).as_deref(),
        Some("https://s3.irsa-system.svc:9443")
    );
    assert_eq!(endpoint(&patched, 1).as_deref(), Some("http://mine:9000"));
    assert!(!env_names(&patched, "containers", 0).contains(&"AWS_ENDPOINT_URL_STS".to_owned()));
    // The ServiceAccount's irsa annotation overrides the flag, and works without it.
    let custom = sa(&[
        ("eks.amazonaws.com/role-arn", ROLE),
        ("irsa.dev/s3-endpoint-url", "http://garage.storage:3900"),
    ]);
    for base in [&config, &MutationConfig::default()] {
        let (patched, _) = mutated(&original, &custom, base);
        assert_eq!(
            endpoint(&patched, 0).as_deref(),
            Some("http://garage.storage:3900")
        );
    }
    // An invalid annotation is reported and the flag used.
    let bad = sa(&[
        ("eks.amazonaws.com/role-arn", ROLE),
        ("irsa.dev/s3-endpoint-url", "garage:3900"),
    ]);
    let (patched, warnings) = mutated(&original, &bad, &config);
    assert_eq!(
        endpoint(&patched, 0).as_deref(),
        Some("https://s3.irsa-system.svc:9443")
    );
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].starts_with("irsa.dev/s3-endpoint-url"),
        "{warnings:?}"
    );
    // Neither: no variable.
    let (patched, _) = mutated(&original, &role_sa(), &MutationConfig::default());
    assert_eq!(endpoint(&patched, 0), None);
}
