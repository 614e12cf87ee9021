//! The pure pod mutation: pod JSON + ServiceAccount settings + config → JSON Patch.
//!
//! The patch is built from the pod's raw JSON and only ever *adds* at the paths it
//! changes, so fields newer than any Kubernetes type we compile against survive.

use std::collections::{BTreeMap, HashSet};

use irsa_core::{AccountId, Arn};
use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, Patch, PatchOperation};
use serde_json::{json, Map, Value};

/// Name of the projected token volume (fixed: other tools look for it).
pub const TOKEN_VOLUME_NAME: &str = "aws-iam-token";
/// File name of the token inside the mount.
pub const TOKEN_FILE_NAME: &str = "token";
/// Default token audience.
pub const DEFAULT_AUDIENCE: &str = "sts.amazonaws.com";
/// Default mount path of the token volume.
pub const DEFAULT_MOUNT_PATH: &str = "/var/run/secrets/eks.amazonaws.com/serviceaccount";
/// Default annotation prefix (upstream compatible).
pub const DEFAULT_ANNOTATION_PREFIX: &str = "eks.amazonaws.com";
/// Default prefix of irsa's own ServiceAccount annotations.
pub const DEFAULT_IRSA_ANNOTATION_PREFIX: &str = "irsa.dev";
/// Default token lifetime in seconds.
pub const DEFAULT_TOKEN_EXPIRATION: i64 = 86_400;
/// Kubernetes rejects shorter projected token lifetimes; lower values are raised.
pub const MIN_TOKEN_EXPIRATION: i64 = 600;
/// Kubernetes rejects longer projected token lifetimes (2^32 s); higher values are lowered.
pub const MAX_TOKEN_EXPIRATION: i64 = 1 << 32;

/// Webhook-wide mutation settings (from flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MutationConfig {
    /// Prefix of the upstream-compatible annotations and of the skip label.
    pub annotation_prefix: String,
    /// Prefix of irsa's own ServiceAccount annotations (`sts-endpoint-url`,
    /// `s3-endpoint-url`).
    pub irsa_annotation_prefix: String,
    /// Default token audience.
    pub audience: String,
    /// Where the token volume is mounted (Linux path).
    pub mount_path: String,
    /// Default token expiration (seconds; already clamped by config validation).
    pub token_expiration: i64,
    /// Region injected as `AWS_DEFAULT_REGION`/`AWS_REGION`, when set.
    pub region: Option<String>,
    /// Default for `AWS_STS_REGIONAL_ENDPOINTS=regional`.
    pub regional_sts: bool,
    /// Default `AWS_ENDPOINT_URL_STS` (the irsa server), when set.
    pub sts_endpoint_url: Option<String>,
    /// Default `AWS_ENDPOINT_URL_S3` (irsa's S3 gateway), when set.
    pub s3_endpoint_url: Option<String>,
    /// When set, pods that run as non-root and have no `fsGroup` get this `fsGroup`,
    /// so the token file is group-readable on kubelets that do not chown it.
    pub non_root_fs_group: Option<i64>,
}

impl Default for MutationConfig {
    fn default() -> Self {
        Self {
            annotation_prefix: DEFAULT_ANNOTATION_PREFIX.to_owned(),
            irsa_annotation_prefix: DEFAULT_IRSA_ANNOTATION_PREFIX.to_owned(),
            audience: DEFAULT_AUDIENCE.to_owned(),
            mount_path: DEFAULT_MOUNT_PATH.to_owned(),
            token_expiration: DEFAULT_TOKEN_EXPIRATION,
            region: None,
            regional_sts: false,
            sts_endpoint_url: None,
            s3_endpoint_url: None,
            non_root_fs_group: None,
        }
    }
}

impl MutationConfig {
    fn key(&self, name: &str) -> String {
        format!("{}/{name}", self.annotation_prefix)
    }

    fn irsa_key(&self, name: &str) -> String {
        format!("{}/{name}", self.irsa_annotation_prefix)
    }

    /// The pod label that makes the webhook leave a pod alone.
    pub fn skip_label(&self) -> String {
        self.key("skip-pod-identity-webhook")
    }
}

/// The raw (unvalidated) settings a ServiceAccount carries in its annotations.
/// Validation happens in [`mutate`], which turns bad values into warnings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceAccountConfig {
    pub role_arn: Option<String>,
    pub audience: Option<String>,
    pub sts_regional_endpoints: Option<String>,
    pub token_expiration: Option<String>,
    pub sts_endpoint_url: Option<String>,
    pub s3_endpoint_url: Option<String>,
}

impl ServiceAccountConfig {
    /// Reads the settings from a ServiceAccount's annotations.
    pub fn from_annotations(
        annotations: &BTreeMap<String, String>,
        config: &MutationConfig,
    ) -> Self {
        let get = |key: String| annotations.get(&key).map(|v| v.trim().to_owned());
        Self {
            role_arn: get(config.key("role-arn")),
            audience: get(config.key("audience")),
            sts_regional_endpoints: get(config.key("sts-regional-endpoints")),
            token_expiration: get(config.key("token-expiration")),
            sts_endpoint_url: get(config.irsa_key("sts-endpoint-url")),
            s3_endpoint_url: get(config.irsa_key("s3-endpoint-url")),
        }
    }
}

/// Why a pod was left unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// The pod carries the skip label.
    SkipLabel,
    /// The ServiceAccount has no role ARN annotation.
    NoRoleArn,
    /// The role ARN annotation is not an IAM role ARN.
    InvalidRoleArn,
    /// The pod has no containers (or no `spec`).
    NoContainers,
    /// Everything the webhook would add is already there.
    AlreadyMutated,
    /// A field the webhook must extend has the wrong JSON type.
    Malformed,
}

impl SkipReason {
    /// Stable label value for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::SkipLabel => "skip_label",
            SkipReason::NoRoleArn => "no_role_arn",
            SkipReason::InvalidRoleArn => "invalid_role_arn",
            SkipReason::NoContainers => "no_containers",
            SkipReason::AlreadyMutated => "already_mutated",
            SkipReason::Malformed => "malformed",
        }
    }
}

/// Result of [`mutate`].
#[derive(Debug, Clone, PartialEq)]
pub struct MutationOutcome {
    /// The patch to apply, `None` when the pod is left as is.
    pub patch: Option<Patch>,
    /// Set when `patch` is `None`.
    pub skipped: Option<SkipReason>,
    /// Problems worth telling the user (returned as admission warnings).
    pub warnings: Vec<String>,
}

impl MutationOutcome {
    fn skip(reason: SkipReason, warnings: Vec<String>) -> Self {
        Self {
            patch: None,
            skipped: Some(reason),
            warnings,
        }
    }
}

/// Settings resolved for one pod.
struct Resolved {
    role_arn: String,
    audience: String,
    expiration: i64,
    regional_sts: bool,
    sts_endpoint_url: Option<String>,
    s3_endpoint_url: Option<String>,
    token_file: String,
}

/// Computes the JSON Patch that gives `pod` its web-identity token and env.
///
/// Pure: no I/O. Unknown pod fields are never touched. A pod the webhook cannot or
/// should not change yields `patch: None` and a reason; it is never half-mutated
/// because the patch is either returned whole or not at all.
pub fn mutate(pod: &Value, sa: &ServiceAccountConfig, config: &MutationConfig) -> MutationOutcome {
    let mut warnings = Vec::new();
    let labels = pod.pointer("/metadata/labels").and_then(Value::as_object);
    if labels.is_some_and(|l| l.contains_key(&config.skip_label())) {
        return MutationOutcome::skip(SkipReason::SkipLabel, warnings);
    }
    let Some(role_arn) = sa.role_arn.as_deref().filter(|r| !r.is_empty()) else {
        return MutationOutcome::skip(SkipReason::NoRoleArn, warnings);
    };
    if let Err(problem) = validate_role_arn(role_arn) {
        warnings.push(format!(
            "{}: {problem}; pod not given AWS credentials",
            config.key("role-arn")
        ));
        return MutationOutcome::skip(SkipReason::InvalidRoleArn, warnings);
    }
    let Some(spec) = pod.get("spec").and_then(Value::as_object) else {
        warnings.push("pod has no spec; not mutated".to_owned());
        return MutationOutcome::skip(SkipReason::NoContainers, warnings);
    };
    let has_containers = spec
        .get("containers")
        .and_then(Value::as_array)
        .is_some_and(|c| !c.is_empty());
    if !has_containers {
        warnings.push("pod has no containers; not mutated".to_owned());
        return MutationOutcome::skip(SkipReason::NoContainers, warnings);
    }

    let annotations = pod
        .pointer("/metadata/annotations")
        .and_then(Value::as_object);
    let resolved = resolve(role_arn, sa, annotations, spec, config, &mut warnings);
    let skip_containers: HashSet<&str> = annotations
        .and_then(|a| a.get(&config.key("skip-containers")))
        .and_then(Value::as_str)
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();

    let mut ops = Vec::new();
    if !volume_ops(spec, &resolved, &mut ops) {
        warnings.push("pod spec.volumes is not a list; not mutated".to_owned());
        return MutationOutcome::skip(SkipReason::Malformed, warnings);
    }
    for list in ["initContainers", "containers"] {
        let Some(containers) = spec.get(list).and_then(Value::as_array) else {
            continue;
        };
        for (index, container) in containers.iter().enumerate() {
            let Some(container) = container.as_object() else {
                continue;
            };
            let name = container.get("name").and_then(Value::as_str).unwrap_or("");
            if skip_containers.contains(name) {
                continue;
            }
            let base = ["spec".to_owned(), list.to_owned(), index.to_string()];
            container_ops(container, &base, &resolved, config, &mut ops, &mut warnings);
        }
    }
    fs_group_ops(spec, config, &mut ops);

    if ops.is_empty() {
        return MutationOutcome::skip(SkipReason::AlreadyMutated, warnings);
    }
    MutationOutcome {
        patch: Some(Patch(ops)),
        skipped: None,
        warnings,
    }
}

fn validate_role_arn(role_arn: &str) -> Result<(), String> {
    let arn: Arn = role_arn
        .parse()
        .map_err(|e| format!("invalid role ARN {role_arn:?}: {e}"))?;
    if arn.service() != "iam" || arn.resource_type() != "role" || arn.resource_name().is_empty() {
        return Err(format!("{role_arn:?} is not an IAM role ARN"));
    }
    if arn.account().parse::<AccountId>().is_err() {
        return Err(format!("{role_arn:?} does not name a 12-digit account"));
    }
    Ok(())
}

fn resolve(
    role_arn: &str,
    sa: &ServiceAccountConfig,
    pod_annotations: Option<&Map<String, Value>>,
    spec: &Map<String, Value>,
    config: &MutationConfig,
    warnings: &mut Vec<String>,
) -> Resolved {
    let audience = sa
        .audience
        .clone()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| config.audience.clone());

    let regional_sts = match sa.sts_regional_endpoints.as_deref() {
        None => config.regional_sts,
        Some(raw) => parse_bool(raw).unwrap_or_else(|| {
            warnings.push(format!(
                "{}: {raw:?} is not a boolean; using {}",
                config.key("sts-regional-endpoints"),
                config.regional_sts
            ));
            config.regional_sts
        }),
    };

    // ServiceAccount value first, the pod's annotation overrides it.
    let key = config.key("token-expiration");
    let mut expiration = config.token_expiration;
    let pod_value = pod_annotations
        .and_then(|a| a.get(&key))
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
    for (source, raw) in [
        ("ServiceAccount", sa.token_expiration.clone()),
        ("pod", pod_value),
    ] {
        let Some(raw) = raw else { continue };
        match raw.trim().parse::<i64>() {
            Ok(seconds) => expiration = seconds,
            Err(_) => warnings.push(format!(
                "{source} annotation {key}: {raw:?} is not a number of seconds; ignored"
            )),
        }
    }
    let expiration = expiration.clamp(MIN_TOKEN_EXPIRATION, MAX_TOKEN_EXPIRATION);

    // The ServiceAccount's annotation overrides the flag; a bad one is ignored.
    let mut endpoint =
        |annotation: Option<&str>, name: &str, default: &Option<String>| match annotation {
            Some(url) if is_http_url(url) => Some(url.to_owned()),
            Some(url) => {
                warnings.push(format!(
                    "{}: {url:?} is not an http(s) URL; ignored",
                    config.irsa_key(name)
                ));
                default.clone()
            }
            None => default.clone(),
        };
    let sts_endpoint_url = endpoint(
        sa.sts_endpoint_url.as_deref(),
        "sts-endpoint-url",
        &config.sts_endpoint_url,
    );
    let s3_endpoint_url = endpoint(
        sa.s3_endpoint_url.as_deref(),
        "s3-endpoint-url",
        &config.s3_endpoint_url,
    );

    let windows = spec
        .get("nodeSelector")
        .and_then(Value::as_object)
        .is_some_and(|sel| {
            ["kubernetes.io/os", "beta.kubernetes.io/os"]
                .iter()
                .any(|k| sel.get(*k).and_then(Value::as_str) == Some("windows"))
        });
    let token_file = if windows {
        windows_token_path(&config.mount_path)
    } else {
        format!(
            "{}/{TOKEN_FILE_NAME}",
            config.mount_path.trim_end_matches('/')
        )
    };

    Resolved {
        role_arn: role_arn.to_owned(),
        audience,
        expiration,
        regional_sts,
        sts_endpoint_url,
        s3_endpoint_url,
        token_file,
    }
}

/// `/var/run/x` → `C:\var\run\x\token`: where kubelet on Windows puts the mount.
pub fn windows_token_path(mount_path: &str) -> String {
    let trimmed = mount_path.trim_end_matches('/');
    format!("C:{}\\{TOKEN_FILE_NAME}", trimmed.replace('/', "\\"))
}

/// Parses a boolean as Go's `strconv.ParseBool` does (upstream's flags and
/// annotations use it): `1 t T true TRUE True` and `0 f F false FALSE False`.
pub fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// A minimal check that a value looks like an absolute http(s) URL with a host.
pub fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !r.contains(char::is_whitespace)
    })
}

fn pointer(tokens: &[String], tail: &[&str]) -> PointerBuf {
    PointerBuf::from_tokens(
        tokens
            .iter()
            .map(String::as_str)
            .chain(tail.iter().copied()),
    )
}

fn add(path: PointerBuf, value: Value) -> PatchOperation {
    PatchOperation::Add(AddOperation { path, value })
}

/// Appends `items` to the array at `base/field`, creating the array when absent or null.
/// Returns false (and adds nothing) when the field exists but is not an array.
fn append_ops(
    parent: &Map<String, Value>,
    base: &[String],
    field: &str,
    items: Vec<Value>,
    ops: &mut Vec<PatchOperation>,
) -> bool {
    if items.is_empty() {
        return true;
    }
    match parent.get(field) {
        None | Some(Value::Null) => {
            ops.push(add(pointer(base, &[field]), Value::Array(items)));
            true
        }
        Some(Value::Array(_)) => {
            ops.extend(
                items
                    .into_iter()
                    .map(|item| add(pointer(base, &[field, "-"]), item)),
            );
            true
        }
        Some(_) => false,
    }
}

fn volume_ops(
    spec: &Map<String, Value>,
    resolved: &Resolved,
    ops: &mut Vec<PatchOperation>,
) -> bool {
    let exists = spec
        .get("volumes")
        .and_then(Value::as_array)
        .is_some_and(|v| {
            v.iter()
                .any(|vol| vol.get("name").and_then(Value::as_str) == Some(TOKEN_VOLUME_NAME))
        });
    if exists {
        return true;
    }
    let volume = json!({
        "name": TOKEN_VOLUME_NAME,
        "projected": {
            "sources": [{
                "serviceAccountToken": {
                    "audience": resolved.audience,
                    "expirationSeconds": resolved.expiration,
                    "path": TOKEN_FILE_NAME,
                }
            }]
        }
    });
    append_ops(spec, &["spec".to_owned()], "volumes", vec![volume], ops)
}

/// Env names the webhook sets for web identity. The upstream treats them as
/// one unit: a container that defines either has its own credentials setup.
const WEB_IDENTITY_ENV: [&str; 2] = ["AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"];
/// Either region variable set by the user means they chose a region.
const REGION_ENV: [&str; 2] = ["AWS_DEFAULT_REGION", "AWS_REGION"];
const REGIONAL_STS_ENV: &str = "AWS_STS_REGIONAL_ENDPOINTS";
const STS_ENDPOINT_ENV: &str = "AWS_ENDPOINT_URL_STS";
const S3_ENDPOINT_ENV: &str = "AWS_ENDPOINT_URL_S3";

fn container_ops(
    container: &Map<String, Value>,
    base: &[String],
    resolved: &Resolved,
    config: &MutationConfig,
    ops: &mut Vec<PatchOperation>,
    warnings: &mut Vec<String>,
) {
    let name = container.get("name").and_then(Value::as_str).unwrap_or("");
    let existing: HashSet<&str> = container
        .get("env")
        .and_then(Value::as_array)
        .map(|env| {
            env.iter()
                .filter_map(|e| e.get("name").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let defines_any = |names: &[&str]| names.iter().any(|n| existing.contains(n));
    let web_identity_defined = defines_any(&WEB_IDENTITY_ENV);
    let region_defined = defines_any(&REGION_ENV);
    let endpoints_defined = [
        (&resolved.sts_endpoint_url, STS_ENDPOINT_ENV),
        (&resolved.s3_endpoint_url, S3_ENDPOINT_ENV),
    ]
    .iter()
    .all(|(url, env)| url.is_none() || existing.contains(env));
    // As upstream: a container that already sets web identity, a region and
    // the regional-STS switch is configured by its owner; it gets nothing,
    // not even the mount (irsa's endpoint variables must be set too).
    if web_identity_defined
        && region_defined
        && existing.contains(REGIONAL_STS_ENV)
        && endpoints_defined
    {
        return;
    }

    let mut container_ops = Vec::new();
    let mounts = container.get("volumeMounts").and_then(Value::as_array);
    // Mounted by name (as upstream), or something else already sits at the
    // mount path (a second mount there would make the pod invalid).
    let mounted = mounts.is_some_and(|m| {
        m.iter().any(|mount| {
            mount.get("name").and_then(Value::as_str) == Some(TOKEN_VOLUME_NAME)
                || mount.get("mountPath").and_then(Value::as_str)
                    == Some(config.mount_path.as_str())
        })
    });
    let mut ok = true;
    if !mounted {
        let mount = json!({
            "name": TOKEN_VOLUME_NAME,
            "readOnly": true,
            "mountPath": config.mount_path,
        });
        ok &= append_ops(
            container,
            base,
            "volumeMounts",
            vec![mount],
            &mut container_ops,
        );
    }

    let mut env = Vec::new();
    let mut push = |key: &str, value: &str| {
        if !existing.contains(key) {
            env.push(json!({"name": key, "value": value}));
        }
    };
    if resolved.regional_sts {
        push(REGIONAL_STS_ENV, "regional");
    }
    if let Some(region) = &config.region {
        if !region_defined {
            push("AWS_DEFAULT_REGION", region);
            push("AWS_REGION", region);
        }
    }
    if !web_identity_defined {
        push("AWS_ROLE_ARN", &resolved.role_arn);
        push("AWS_WEB_IDENTITY_TOKEN_FILE", &resolved.token_file);
    }
    if let Some(url) = &resolved.sts_endpoint_url {
        push(STS_ENDPOINT_ENV, url);
    }
    if let Some(url) = &resolved.s3_endpoint_url {
        push(S3_ENDPOINT_ENV, url);
    }
    ok &= append_ops(container, base, "env", env, &mut container_ops);

    if ok {
        ops.extend(container_ops);
    } else {
        warnings.push(format!(
            "container {name:?} has a malformed env or volumeMounts field; not mutated"
        ));
    }
}

/// Adds `fsGroup` for non-root pods without one, when configured (off by default,
/// as upstream: kubelet ≥ 1.19 already makes the token readable for a pod whose
/// containers share one `runAsUser`, and `fsGroup` makes kubelet chown every volume).
fn fs_group_ops(spec: &Map<String, Value>, config: &MutationConfig, ops: &mut Vec<PatchOperation>) {
    let Some(gid) = config.non_root_fs_group else {
        return;
    };
    if ops.is_empty() {
        return;
    }
    let security_context = spec.get("securityContext").and_then(Value::as_object);
    if security_context.is_some_and(|sc| sc.get("fsGroup").is_some_and(|g| !g.is_null())) {
        return;
    }
    let pod_non_root = security_context.is_some_and(|sc| {
        sc.get("runAsNonRoot").and_then(Value::as_bool) == Some(true)
            || sc
                .get("runAsUser")
                .and_then(Value::as_i64)
                .is_some_and(|u| u > 0)
    });
    let containers_non_root = spec
        .get("containers")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            !cs.is_empty()
                && cs.iter().all(|c| {
                    let sc = c.get("securityContext");
                    sc.and_then(|s| s.get("runAsNonRoot"))
                        .and_then(Value::as_bool)
                        == Some(true)
                        || sc
                            .and_then(|s| s.get("runAsUser"))
                            .and_then(Value::as_i64)
                            .is_some_and(|u| u > 0)
                })
        });
    if !pod_non_root && !containers_non_root {
        return;
    }
    match spec.get("securityContext") {
        Some(Value::Object(_)) => ops.push(add(
            pointer(
                &["spec".to_owned(), "securityContext".to_owned()],
                &["fsGroup"],
            ),
            json!(gid),
        )),
        _ => ops.push(add(
            pointer(&["spec".to_owned()], &["securityContext"]),
            json!({ "fsGroup": gid }),
        )),
    }
}
