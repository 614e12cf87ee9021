//! `irsa webhook` flags (upstream-compatible names, `IRSA_*` env twins) and their
//! validation, which reports every bad setting at once.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args};

use crate::mutate::{
    is_http_url, parse_bool, MutationConfig, DEFAULT_ANNOTATION_PREFIX, DEFAULT_AUDIENCE,
    DEFAULT_IRSA_ANNOTATION_PREFIX, DEFAULT_MOUNT_PATH, DEFAULT_TOKEN_EXPIRATION,
    MAX_TOKEN_EXPIRATION, MIN_TOKEN_EXPIRATION,
};
use crate::WebhookError;

/// Flags of `irsa webhook`.
#[derive(Debug, Clone, Args)]
pub struct WebhookArgs {
    /// PEM certificate (chain) served on the admission port; reloaded when it changes.
    #[arg(
        long,
        env = "IRSA_TLS_CERT",
        default_value = "/etc/webhook/certs/tls.crt"
    )]
    pub tls_cert: PathBuf,
    /// PEM private key of --tls-cert.
    #[arg(
        long,
        env = "IRSA_TLS_KEY",
        default_value = "/etc/webhook/certs/tls.key"
    )]
    pub tls_key: PathBuf,
    /// How often the certificate files are checked for changes (e.g. 10s).
    #[arg(long, env = "IRSA_TLS_RELOAD_INTERVAL", default_value = "10s")]
    pub tls_reload_interval: String,
    /// HTTPS port of /mutate, /healthz and /metrics.
    #[arg(long, env = "IRSA_PORT", default_value_t = 443)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, env = "IRSA_LISTEN_ADDRESS", default_value = "0.0.0.0")]
    pub listen_address: String,
    /// Optional plain-HTTP port serving /metrics and /healthz (for scrapers without TLS).
    #[arg(long, env = "IRSA_METRICS_PORT")]
    pub metrics_port: Option<u16>,
    /// Prefix of the ServiceAccount/pod annotations and of the skip label.
    #[arg(long, env = "IRSA_ANNOTATION_PREFIX", default_value = DEFAULT_ANNOTATION_PREFIX)]
    pub annotation_prefix: String,
    /// Prefix of irsa's own ServiceAccount annotations (`PREFIX/sts-endpoint-url`).
    #[arg(long, env = "IRSA_IRSA_ANNOTATION_PREFIX", default_value = DEFAULT_IRSA_ANNOTATION_PREFIX)]
    pub irsa_annotation_prefix: String,
    /// Default audience of the projected token.
    #[arg(long, env = "IRSA_TOKEN_AUDIENCE", default_value = DEFAULT_AUDIENCE)]
    pub token_audience: String,
    /// Where the token volume is mounted in containers.
    #[arg(long, env = "IRSA_TOKEN_MOUNT_PATH", default_value = DEFAULT_MOUNT_PATH)]
    pub token_mount_path: String,
    /// Default token lifetime in seconds (raised to at least 600).
    #[arg(long, env = "IRSA_TOKEN_EXPIRATION", default_value_t = DEFAULT_TOKEN_EXPIRATION)]
    pub token_expiration: i64,
    /// Region injected as AWS_DEFAULT_REGION and AWS_REGION (when a container sets neither).
    #[arg(long, env = "IRSA_AWS_DEFAULT_REGION")]
    pub aws_default_region: Option<String>,
    /// Inject AWS_STS_REGIONAL_ENDPOINTS=regional by default (`--sts-regional-endpoint` alone means true).
    #[arg(
        long,
        env = "IRSA_STS_REGIONAL_ENDPOINT",
        action = ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool
    )]
    pub sts_regional_endpoint: bool,
    /// AWS_ENDPOINT_URL_STS injected into pods (the irsa server), unless the
    /// ServiceAccount names its own with `IRSA_PREFIX/sts-endpoint-url`.
    #[arg(long, env = "IRSA_STS_ENDPOINT_URL")]
    pub sts_endpoint_url: Option<String>,
    /// AWS_ENDPOINT_URL_S3 injected into pods (irsa's S3 gateway), unless the
    /// ServiceAccount names its own with `IRSA_PREFIX/s3-endpoint-url`.
    #[arg(long, env = "IRSA_S3_ENDPOINT_URL")]
    pub s3_endpoint_url: Option<String>,
    /// Watch ServiceAccounts only in this namespace (default: all namespaces).
    #[arg(long, env = "IRSA_NAMESPACE")]
    pub namespace: Option<String>,
    /// How long a pod waits for its ServiceAccount to reach the cache before a direct GET (0 = no wait).
    #[arg(
        long,
        env = "IRSA_SERVICE_ACCOUNT_LOOKUP_GRACE_PERIOD",
        default_value = "100ms"
    )]
    pub service_account_lookup_grace_period: String,
    /// Timeout of the direct ServiceAccount GET.
    #[arg(
        long,
        env = "IRSA_SERVICE_ACCOUNT_LOOKUP_TIMEOUT",
        default_value = "3s"
    )]
    pub service_account_lookup_timeout: String,
    /// Use the in-cluster service account to reach the API (ignored when --kubeconfig is given).
    #[arg(
        long,
        env = "IRSA_IN_CLUSTER",
        action = ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "true",
        value_parser = go_bool
    )]
    pub in_cluster: bool,
    /// Kubeconfig file to reach the API.
    #[arg(long, env = "IRSA_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Give pods that run as non-root and have no fsGroup this fsGroup (off by default, as upstream).
    #[arg(long, env = "IRSA_NON_ROOT_FS_GROUP")]
    pub non_root_fs_group: Option<i64>,
    /// Largest accepted AdmissionReview body in bytes.
    #[arg(long, env = "IRSA_MAX_REQUEST_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_request_bytes: usize,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub mutation: MutationConfig,
    pub listen: SocketAddr,
    pub metrics_listen: Option<SocketAddr>,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    pub tls_reload_interval: Duration,
    pub namespace: Option<String>,
    pub grace_period: Duration,
    pub lookup_timeout: Duration,
    pub in_cluster: bool,
    pub kubeconfig: Option<PathBuf>,
    pub max_request_bytes: usize,
}

impl WebhookArgs {
    /// Checks every setting, including that the TLS files load; all problems are
    /// returned together in [`WebhookError::Config`].
    pub fn validate(&self) -> Result<WebhookConfig, WebhookError> {
        let mut errors = Vec::new();
        for (flag, prefix) in [
            ("--annotation-prefix", &self.annotation_prefix),
            ("--irsa-annotation-prefix", &self.irsa_annotation_prefix),
        ] {
            if !is_dns_subdomain(prefix) {
                errors.push(format!("{flag}: {prefix:?} is not a DNS subdomain"));
            }
        }
        if self.token_audience.trim().is_empty() {
            errors.push("--token-audience: must not be empty".to_owned());
        }
        let mount = self.token_mount_path.trim_end_matches('/');
        if !mount.starts_with('/')
            || mount.is_empty()
            || mount.contains(char::is_whitespace)
            || mount.contains(':')
        {
            errors.push(format!(
                "--token-mount-path: {:?} must be an absolute path other than /",
                self.token_mount_path
            ));
        }
        let token_expiration = self
            .token_expiration
            .clamp(MIN_TOKEN_EXPIRATION, MAX_TOKEN_EXPIRATION);
        if token_expiration != self.token_expiration {
            tracing::warn!(
                requested = self.token_expiration,
                used = token_expiration,
                "--token-expiration out of range [600, 2^32]; adjusted"
            );
        }
        let region = self
            .aws_default_region
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        if let Some(region) = region {
            let ok = region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                errors.push(format!(
                    "--aws-default-region: {region:?} is not a region name"
                ));
            }
        }
        let mut endpoint_url = |flag: &str, raw: Option<&str>| {
            let url = raw.map(str::trim).filter(|u| !u.is_empty())?;
            if !is_http_url(url) {
                errors.push(format!("{flag}: {url:?} is not an http(s) URL"));
            }
            Some(url.to_owned())
        };
        let sts_endpoint_url = endpoint_url("--sts-endpoint-url", self.sts_endpoint_url.as_deref());
        let s3_endpoint_url = endpoint_url("--s3-endpoint-url", self.s3_endpoint_url.as_deref());
        if let Some(ns) = &self.namespace {
            if !is_dns_label(ns) {
                errors.push(format!("--namespace: {ns:?} is not a namespace name"));
            }
        }
        let mut duration = |flag: &str, raw: &str, allow_zero: bool| match parse_duration(raw) {
            Some(d) if allow_zero || !d.is_zero() => d,
            _ => {
                errors.push(format!(
                    "{flag}: {raw:?} is not a duration (e.g. 100ms, 2s, 1m)"
                ));
                Duration::ZERO
            }
        };
        let grace_period = duration(
            "--service-account-lookup-grace-period",
            &self.service_account_lookup_grace_period,
            true,
        );
        let lookup_timeout = duration(
            "--service-account-lookup-timeout",
            &self.service_account_lookup_timeout,
            false,
        );
        let tls_reload_interval =
            duration("--tls-reload-interval", &self.tls_reload_interval, false);
        let ip: Option<IpAddr> = self.listen_address.parse().ok();
        if ip.is_none() {
            errors.push(format!(
                "--listen-address: {:?} is not an IP address",
                self.listen_address
            ));
        }
        if self.metrics_port.is_some_and(|p| p == self.port && p != 0) {
            errors.push("--metrics-port: must differ from --port".to_owned());
        }
        if self.non_root_fs_group.is_some_and(|g| g < 0) {
            errors.push("--non-root-fs-group: must not be negative".to_owned());
        }
        if self.max_request_bytes < 1024 {
            errors.push("--max-request-bytes: must be at least 1024".to_owned());
        }
        if let Err(error) = crate::tls::load_certified_key(&self.tls_cert, &self.tls_key) {
            errors.push(format!("--tls-cert/--tls-key: {error}"));
        }
        if let Some(path) = &self.kubeconfig {
            if !path.is_file() {
                errors.push(format!(
                    "--kubeconfig: {} is not a readable file",
                    path.display()
                ));
            }
        }

        let Some(ip) = ip.filter(|_| errors.is_empty()) else {
            return Err(WebhookError::Config(errors));
        };
        Ok(WebhookConfig {
            mutation: MutationConfig {
                annotation_prefix: self.annotation_prefix.clone(),
                irsa_annotation_prefix: self.irsa_annotation_prefix.clone(),
                audience: self.token_audience.trim().to_owned(),
                mount_path: mount.to_owned(),
                token_expiration,
                region: region.map(str::to_owned),
                regional_sts: self.sts_regional_endpoint,
                sts_endpoint_url,
                s3_endpoint_url,
                non_root_fs_group: self.non_root_fs_group,
            },
            listen: SocketAddr::new(ip, self.port),
            metrics_listen: self.metrics_port.map(|p| SocketAddr::new(ip, p)),
            tls_cert: self.tls_cert.clone(),
            tls_key: self.tls_key.clone(),
            tls_reload_interval,
            namespace: self.namespace.clone(),
            grace_period,
            lookup_timeout,
            in_cluster: self.in_cluster,
            kubeconfig: self.kubeconfig.clone(),
            max_request_bytes: self.max_request_bytes,
        })
    }
}

/// Boolean flag values as the upstream's flag package (pflag, strconv.ParseBool)
/// takes them; a bare flag means true (see `default_missing_value`).
fn go_bool(raw: &str) -> Result<bool, String> {
    parse_bool(raw).ok_or_else(|| {
        format!(
            "{raw:?} is not a boolean (1, t, T, true, TRUE, True, 0, f, F, false, FALSE, False)"
        )
    })
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// Parses Go-style durations as upstream flags take them: `100ms`, `2s`, `1m30s`,
/// `1.5s`, `0`.
pub fn parse_duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    if raw == "0" {
        return Some(Duration::ZERO);
    }
    let mut total = 0.0_f64;
    let mut rest = raw;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: WebhookArgs,
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("100ms"), Some(Duration::from_millis(100)));
        assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("5 parsecs"), None);
        assert_eq!(parse_duration("s"), None);
    }

    #[test]
    fn every_bad_setting_is_reported_at_once() {
        let cli = Cli::try_parse_from([
            "webhook",
            "--annotation-prefix",
            "Bad_Prefix",
            "--token-audience",
            " ",
            "--token-mount-path",
            "relative/path",
            "--aws-default-region",
            "US EAST",
            "--sts-endpoint-url",
            "ftp://x",
            "--s3-endpoint-url",
            "s3.example",
            "--namespace=-bad-",
            "--service-account-lookup-grace-period",
            "soon",
            "--listen-address",
            "localhost:80",
            "--tls-cert",
            "/nonexistent/tls.crt",
            "--tls-key",
            "/nonexistent/tls.key",
        ])
        .unwrap();
        let Err(WebhookError::Config(errors)) = cli.args.validate() else {
            panic!("expected config errors");
        };
        for flag in [
            "--annotation-prefix",
            "--token-audience",
            "--token-mount-path",
            "--aws-default-region",
            "--sts-endpoint-url",
            "--s3-endpoint-url",
            "--namespace",
            "--service-account-lookup-grace-period",
            "--listen-address",
            "--tls-cert",
        ] {
            assert!(
                errors.iter().any(|e| e.starts_with(flag)),
                "{flag} missing from {errors:#?}"
            );
        }
        assert_eq!(errors.len(), 10, "{errors:#?}");
    }

    #[test]
    fn flags_have_upstream_defaults() {
        let cli = Cli::try_parse_from(["webhook"]).unwrap();
        let a = cli.args;
        assert_eq!(a.port, 443);
        assert_eq!(a.annotation_prefix, "eks.amazonaws.com");
        assert_eq!(a.token_audience, "sts.amazonaws.com");
        assert_eq!(
            a.token_mount_path,
            "/var/run/secrets/eks.amazonaws.com/serviceaccount"
        );
        assert_eq!(a.token_expiration, 86_400);
        assert!(!a.sts_regional_endpoint);
        assert!(a.in_cluster);
        let cli = Cli::try_parse_from([
            "webhook",
            "--in-cluster=false",
            "--sts-regional-endpoint=true",
        ])
        .unwrap();
        assert!(!cli.args.in_cluster);
        assert!(cli.args.sts_regional_endpoint);
    }

    #[test]
    fn boolean_flags_parse_like_go() {
        let parse = |args: &[&str]| {
            let mut argv = vec!["webhook"];
            argv.extend_from_slice(args);
            Cli::try_parse_from(argv).map(|c| (c.args.sts_regional_endpoint, c.args.in_cluster))
        };
        assert_eq!(parse(&["--sts-regional-endpoint"]).unwrap(), (true, true));
        assert_eq!(parse(&["--in-cluster"]).unwrap(), (false, true));
        for t in ["1", "t", "T", "true", "TRUE", "True"] {
            let flag = format!("--sts-regional-endpoint={t}");
            assert_eq!(
                parse(&[&flag, "--in-cluster=false"]).unwrap(),
                (true, false),
                "{t}"
            );
        }
        for f in ["0", "f", "F", "false", "FALSE", "False"] {
            let sts = format!("--sts-regional-endpoint={f}");
            let in_cluster = format!("--in-cluster={f}");
            assert_eq!(parse(&[&sts, &in_cluster]).unwrap(), (false, false), "{f}");
        }
        // Not Go booleans.
        for bad in ["yes", "on", "tRuE", ""] {
            let flag = format!("--sts-regional-endpoint={bad}");
            assert!(parse(&[&flag]).is_err(), "{bad}");
        }
        // Go's flag package never takes the next argument as a bool's value.
        assert!(parse(&["--sts-regional-endpoint", "false"]).is_err());
        // A bare bool flag before another flag leaves that flag alone.
        let cli =
            Cli::try_parse_from(["webhook", "--sts-regional-endpoint", "--port", "8443"]).unwrap();
        assert!(cli.args.sts_regional_endpoint);
        assert_eq!(cli.args.port, 8443);
    }
}
