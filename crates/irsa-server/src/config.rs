//! `irsa serve` configuration: flags with `IRSA_*` env twins, validated in
//! one pass so that every problem is reported at once.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use irsa_core::{is_valid_id, AccountId, IdPrefix, SecretString};

/// Flags of `irsa serve`. Values are kept as text here and checked by
/// [`ServeArgs::validate`], so one run reports every bad setting.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (host:port).
    #[arg(long, env = "IRSA_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// Directory for the embedded database, master key and root credentials.
    #[arg(long, env = "IRSA_DATA_DIR", default_value = "./irsa-data")]
    pub data_dir: PathBuf,

    /// The 12-digit AWS account id this server impersonates.
    #[arg(long, env = "IRSA_ACCOUNT_ID", default_value = AccountId::DEFAULT)]
    pub account_id: String,

    /// `postgres://user:pass@host/db` to use PostgreSQL instead of the embedded SQLite.
    #[arg(long, env = "IRSA_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// File holding the master key (base64 of 32 bytes). Alternatively set IRSA_MASTER_KEY.
    #[arg(long, env = "IRSA_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,

    /// Log format: pretty or json.
    #[arg(long, env = "IRSA_LOG_FORMAT", default_value = "pretty")]
    pub log_format: String,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "IRSA_BODY_LIMIT", default_value = "1048576")]
    pub body_limit: String,

    /// Per-request timeout, in seconds.
    #[arg(long, env = "IRSA_REQUEST_TIMEOUT", default_value = "30")]
    pub request_timeout: String,

    /// How long to wait for in-flight requests on shutdown, in seconds.
    #[arg(long, env = "IRSA_SHUTDOWN_GRACE", default_value = "30")]
    pub shutdown_grace: String,

    /// PEM bundle of extra CAs trusted when fetching OIDC discovery and keys
    /// (besides the public roots and the providers' thumbprints).
    #[arg(long, env = "IRSA_OIDC_CA_FILE")]
    pub oidc_ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Where the database lives.
#[derive(Debug, Clone)]
pub enum Database {
    /// `<data-dir>/irsa.db`
    EmbeddedSqlite,
    /// A PostgreSQL URL; it may carry a password, so it stays secret.
    Postgres(SecretString),
}

/// Where the master key comes from.
#[derive(Debug, Clone)]
pub enum MasterKeySource {
    /// `IRSA_MASTER_KEY`
    Env(SecretString),
    /// `--master-key-file` / `IRSA_MASTER_KEY_FILE`
    File(PathBuf),
    /// Generated once into `<data-dir>/master-key` (SQLite only).
    DataDir,
}

/// Root credentials given by the operator, or none (then generated once).
#[derive(Debug, Clone)]
pub enum RootCredentialsSource {
    Provided {
        access_key_id: String,
        secret_access_key: SecretString,
    },
    GenerateOnce,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub account_id: AccountId,
    pub database: Database,
    pub master_key: MasterKeySource,
    pub root_credentials: RootCredentialsSource,
    pub log_format: LogFormat,
    pub body_limit: usize,
    pub request_timeout: Duration,
    pub shutdown_grace: Duration,
    /// The built-in OIDC issuer (`--issuer-url`), off when `None`. Its flags
    /// live in [`crate::issuer::IssuerArgs`]; the binary sets this field.
    pub issuer: Option<crate::issuer::IssuerConfig>,
    /// PEM text of the CAs from `--oidc-ca-file`.
    pub oidc_ca_pem: Option<Vec<u8>>,
    /// Accept `http://` OIDC providers (`--allow-insecure-issuer`; dev only).
    /// The binary sets it from the issuer flags.
    pub allow_insecure_issuer: bool,
    /// `--issuer-rotation-period`: rotate the built-in issuer's signing key
    /// when it is older than this (`None`: only `irsa issuer rotate`).
    /// Retired keys are pruned either way. The binary sets it.
    pub issuer_rotation_period: Option<Duration>,
    /// HTTPS (`--tls-cert`/`--tls-key` or `--tls-self-signed`); plain HTTP
    /// when `None`. The binary sets it from [`crate::tls::TlsArgs`].
    pub tls: Option<crate::tls::TlsSource>,
    /// The S3 gateway (`--s3-listen`), off when `None`. Its flags live in
    /// [`S3Args`]; the binary sets this field from [`S3Args::validate`].
    pub s3: Option<S3Config>,
}

/// Every problem found in a configuration, one line each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<String>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration ({} problem(s)):", self.0.len())?;
        for problem in &self.0 {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Read access to the process environment, injected so tests stay hermetic.
pub trait Environment {
    fn var(&self, name: &str) -> Option<String>;
    fn read_file(&self, path: &Path) -> std::io::Result<String>;
}

/// The real process environment and filesystem.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }

    fn read_file(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// Reads a secret from `NAME` or from the file named by `NAME_FILE`.
fn secret_from_env(
    env: &dyn Environment,
    name: &str,
    problems: &mut Vec<String>,
) -> Option<SecretString> {
    let direct = env.var(name);
    let file_var = format!("{name}_FILE");
    let from_file = env.var(&file_var);
    match (direct, from_file) {
        (Some(_), Some(_)) => {
            problems.push(format!("{name} and {file_var} are both set; set only one"));
            None
        }
        (Some(value), None) => Some(SecretString::new(value.trim().to_owned())),
        (None, Some(path)) => match env.read_file(Path::new(&path)) {
            Ok(text) => Some(SecretString::new(text.trim().to_owned())),
            Err(err) => {
                problems.push(format!("{file_var}: cannot read {path}: {err}"));
                None
            }
        },
        (None, None) => None,
    }
}

fn parse_positive<T: std::str::FromStr + PartialOrd + Default>(
    flag: &str,
    value: &str,
    problems: &mut Vec<String>,
) -> Option<T> {
    match value.trim().parse::<T>() {
        Ok(v) if v > T::default() => Some(v),
        _ => {
            problems.push(format!(
                "--{flag}: expected a positive whole number, got {value:?}"
            ));
            None
        }
    }
}

impl ServeArgs {
    /// Checks every setting and returns either a usable configuration or
    /// the full list of problems.
    pub fn validate(&self, env: &dyn Environment) -> Result<ServeConfig, ConfigErrors> {
        let mut problems = Vec::new();

        let listen = self.listen.parse::<SocketAddr>().ok();
        if listen.is_none() {
            problems.push(format!(
                "--listen: {:?} is not a host:port address such as 127.0.0.1:8080 or [::]:8080",
                self.listen
            ));
        }

        let account_id = self.account_id.parse::<AccountId>().ok();
        if account_id.is_none() {
            problems.push(format!(
                "--account-id: {:?} is not a 12-digit AWS account id",
                self.account_id
            ));
        }

        let database = match &self.database_url {
            None => Some(Database::EmbeddedSqlite),
            Some(url) => match check_postgres_url(url) {
                Ok(()) => Some(Database::Postgres(SecretString::new(url.clone()))),
                Err(why) => {
                    problems.push(format!("--database-url: {why}"));
                    None
                }
            },
        };

        let master_key_env = secret_from_env(env, "IRSA_MASTER_KEY", &mut problems);
        let master_key = match (master_key_env, &self.master_key_file) {
            (Some(_), Some(_)) => {
                problems.push(
                    "IRSA_MASTER_KEY and --master-key-file are both set; set only one".to_owned(),
                );
                None
            }
            (Some(key), None) => Some(MasterKeySource::Env(key)),
            (None, Some(path)) => {
                if path.is_file() {
                    Some(MasterKeySource::File(path.clone()))
                } else {
                    problems.push(format!(
                        "--master-key-file: {} does not exist or is not a file",
                        path.display()
                    ));
                    None
                }
            }
            (None, None) => {
                if matches!(database, Some(Database::Postgres(_))) {
                    problems.push(
                        "PostgreSQL needs a master key shared by all replicas: set IRSA_MASTER_KEY or --master-key-file"
                            .to_owned(),
                    );
                    None
                } else {
                    Some(MasterKeySource::DataDir)
                }
            }
        };

        let root_id = env.var("IRSA_ROOT_ACCESS_KEY_ID");
        let root_secret = secret_from_env(env, "IRSA_ROOT_SECRET_ACCESS_KEY", &mut problems);
        let root_credentials = match (root_id, root_secret) {
            (None, None) => Some(RootCredentialsSource::GenerateOnce),
            (Some(id), Some(secret)) => {
                let mut ok = true;
                if !is_valid_id(IdPrefix::AccessKey, &id) {
                    problems.push(format!(
                        "IRSA_ROOT_ACCESS_KEY_ID: {id:?} is not an access key id (AKIA followed by 16 characters of A-Z and 2-7)"
                    ));
                    ok = false;
                }
                if secret.expose().len() < 16 || secret.expose().len() > 128 {
                    problems.push(
                        "IRSA_ROOT_SECRET_ACCESS_KEY: must be 16 to 128 characters long".to_owned(),
                    );
                    ok = false;
                }
                ok.then_some(RootCredentialsSource::Provided {
                    access_key_id: id,
                    secret_access_key: secret,
                })
            }
            (Some(_), None) => {
                problems.push(
                    "IRSA_ROOT_ACCESS_KEY_ID is set but IRSA_ROOT_SECRET_ACCESS_KEY(_FILE) is not; set both or neither"
                        .to_owned(),
                );
                None
            }
            (None, Some(_)) => {
                problems.push(
                    "IRSA_ROOT_SECRET_ACCESS_KEY is set but IRSA_ROOT_ACCESS_KEY_ID is not; set both or neither"
                        .to_owned(),
                );
                None
            }
        };

        let log_format = match self.log_format.as_str() {
            "pretty" => Some(LogFormat::Pretty),
            "json" => Some(LogFormat::Json),
            other => {
                problems.push(format!(
                    "--log-format: expected pretty or json, got {other:?}"
                ));
                None
            }
        };

        let body_limit = parse_positive::<usize>("body-limit", &self.body_limit, &mut problems);
        let request_timeout =
            parse_positive::<u64>("request-timeout", &self.request_timeout, &mut problems);
        let shutdown_grace =
            parse_positive::<u64>("shutdown-grace", &self.shutdown_grace, &mut problems);

        let oidc_ca_pem = match &self.oidc_ca_file {
            None => None,
            Some(path) => match std::fs::read(path) {
                Ok(pem) if pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") => {
                    Some(pem)
                }
                Ok(_) => {
                    problems.push(format!(
                        "--oidc-ca-file: {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                        path.display()
                    ));
                    None
                }
                Err(err) => {
                    problems.push(format!(
                        "--oidc-ca-file: cannot read {}: {err}",
                        path.display()
                    ));
                    None
                }
            },
        };

        if let Err(why) = check_data_dir_writable(&self.data_dir) {
            problems.push(format!(
                "--data-dir: {} is not writable ({why}); choose another directory with --data-dir or fix its permissions",
                self.data_dir.display()
            ));
        }

        match (
            listen,
            account_id,
            database,
            master_key,
            root_credentials,
            log_format,
            body_limit,
            request_timeout,
            shutdown_grace,
        ) {
            (
                Some(listen),
                Some(account_id),
                Some(database),
                Some(master_key),
                Some(root_credentials),
                Some(log_format),
                Some(body_limit),
                Some(request_timeout),
                Some(shutdown_grace),
            ) if problems.is_empty() => Ok(ServeConfig {
                listen,
                data_dir: self.data_dir.clone(),
                account_id,
                database,
                master_key,
                root_credentials,
                log_format,
                body_limit,
                request_timeout: Duration::from_secs(request_timeout),
                shutdown_grace: Duration::from_secs(shutdown_grace),
                issuer: None,
                oidc_ca_pem,
                allow_insecure_issuer: false,
                issuer_rotation_period: None,
                tls: None,
                s3: None,
            }),
            _ => Err(ConfigErrors(problems)),
        }
    }
}

fn check_postgres_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
        .ok_or_else(|| {
            "expected a URL starting with postgres:// (e.g. postgres://irsa:secret@db:5432/irsa); leave it unset for the embedded SQLite database".to_owned()
        })?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    if host.is_empty() && !rest.contains("host=") {
        return Err("the URL has no host (e.g. postgres://irsa@localhost:5432/irsa)".to_owned());
    }
    if let Some((_, port)) = host.rsplit_once(':') {
        if !host.ends_with(']') && port.parse::<u16>().is_err() {
            return Err(format!("port {port:?} is not a number between 1 and 65535"));
        }
    }
    Ok(())
}

/// Creates the data dir if needed and proves a file can be created in it.
fn check_data_dir_writable(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let probe = dir.join(format!(".irsa-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| e.to_string())?;
    std::fs::remove_file(&probe).map_err(|e| e.to_string())
}

/// Flags of the S3 gateway: `irsa serve --s3-listen ADDR --s3-upstream URL`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct S3Args {
    /// Serve the S3 gateway on this address (host:port); off when unset.
    #[arg(long, env = "IRSA_S3_LISTEN")]
    pub s3_listen: Option<String>,

    /// The S3-compatible store behind the gateway (http(s)://host:port).
    #[arg(long, env = "IRSA_S3_UPSTREAM")]
    pub s3_upstream: Option<String>,

    /// Domain(s) for virtual-hosted requests (BUCKET.DOMAIN); repeat or
    /// comma-separate. Other hosts are path-style.
    #[arg(long = "s3-domain", env = "IRSA_S3_DOMAIN", value_delimiter = ',')]
    pub s3_domains: Vec<String>,

    /// `~/.aws/credentials`-format file with the upstream's key.
    /// Alternatively set IRSA_S3_UPSTREAM_ACCESS_KEY_ID and
    /// IRSA_S3_UPSTREAM_SECRET_ACCESS_KEY(_FILE).
    #[arg(long, env = "IRSA_S3_UPSTREAM_CREDENTIALS")]
    pub s3_upstream_credentials: Option<PathBuf>,

    /// Profile to read from --s3-upstream-credentials.
    #[arg(long, env = "IRSA_S3_UPSTREAM_PROFILE", default_value = "default")]
    pub s3_upstream_profile: String,

    /// Region the upstream expects in signatures.
    #[arg(long, env = "IRSA_S3_UPSTREAM_REGION", default_value = "us-east-1")]
    pub s3_upstream_region: String,
}

/// A validated S3 gateway configuration.
#[derive(Debug, Clone)]
pub struct S3Config {
    pub listen: SocketAddr,
    /// `http(s)://host[:port]`, without a trailing slash.
    pub upstream_url: String,
    pub domains: Vec<String>,
    pub upstream_access_key_id: String,
    pub upstream_secret_access_key: SecretString,
    pub upstream_region: String,
}

impl S3Args {
    /// `Ok(None)` when the gateway is off; otherwise the configuration or
    /// every problem found (to join the other flag groups' report).
    pub fn validate(&self, env: &dyn Environment) -> Result<Option<S3Config>, Vec<String>> {
        let mut problems = Vec::new();
        let Some(listen_text) = &self.s3_listen else {
            if self.s3_upstream.is_some() {
                problems.push(
                    "--s3-upstream is set but --s3-listen is not; set --s3-listen (e.g. 127.0.0.1:9000) to serve the S3 gateway"
                        .to_owned(),
                );
            }
            return if problems.is_empty() {
                Ok(None)
            } else {
                Err(problems)
            };
        };
        let listen = listen_text.parse::<SocketAddr>().ok();
        if listen.is_none() {
            problems.push(format!(
                "--s3-listen: {listen_text:?} is not a host:port address such as 127.0.0.1:9000"
            ));
        }
        let upstream_url = match &self.s3_upstream {
            None => {
                problems.push(
                    "--s3-listen needs --s3-upstream: the S3-compatible store to front (e.g. http://127.0.0.1:3900)"
                        .to_owned(),
                );
                None
            }
            Some(url) => match check_upstream_url(url) {
                Ok(url) => Some(url),
                Err(why) => {
                    problems.push(format!("--s3-upstream: {why}"));
                    None
                }
            },
        };
        let region = self.s3_upstream_region.trim();
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            problems.push(format!(
                "--s3-upstream-region: {:?} is not a region name such as us-east-1",
                self.s3_upstream_region
            ));
        }
        let domains: Vec<String> = self
            .s3_domains
            .iter()
            .map(|d| d.trim().trim_start_matches('.').to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        for domain in &domains {
            if domain.contains('/') || domain.contains(' ') {
                problems.push(format!(
                    "--s3-domain: {domain:?} is not a domain name such as s3.example.com"
                ));
            }
        }
        let credentials = self.upstream_credentials(env, &mut problems);
        match (listen, upstream_url, credentials) {
            (Some(listen), Some(upstream_url), Some((id, secret))) if problems.is_empty() => {
                Ok(Some(S3Config {
                    listen,
                    upstream_url,
                    domains,
                    upstream_access_key_id: id,
                    upstream_secret_access_key: secret,
                    upstream_region: region.to_owned(),
                }))
            }
            _ => Err(problems),
        }
    }

    fn upstream_credentials(
        &self,
        env: &dyn Environment,
        problems: &mut Vec<String>,
    ) -> Option<(String, SecretString)> {
        let id = env.var("IRSA_S3_UPSTREAM_ACCESS_KEY_ID");
        let secret = secret_from_env(env, "IRSA_S3_UPSTREAM_SECRET_ACCESS_KEY", problems);
        let from_env = match (id, secret) {
            (None, None) => None,
            (Some(id), Some(secret)) => Some((id.trim().to_owned(), secret)),
            (Some(_), None) => {
                problems.push("IRSA_S3_UPSTREAM_ACCESS_KEY_ID is set but IRSA_S3_UPSTREAM_SECRET_ACCESS_KEY(_FILE) is not; set both".to_owned());
                return None;
            }
            (None, Some(_)) => {
                problems.push("IRSA_S3_UPSTREAM_SECRET_ACCESS_KEY is set but IRSA_S3_UPSTREAM_ACCESS_KEY_ID is not; set both".to_owned());
                return None;
            }
        };
        match (&self.s3_upstream_credentials, from_env) {
            (Some(_), Some(_)) => {
                problems.push("--s3-upstream-credentials and IRSA_S3_UPSTREAM_ACCESS_KEY_ID are both set; set only one".to_owned());
                None
            }
            (None, Some(pair)) => Some(pair),
            (Some(path), None) => match env.read_file(path) {
                Err(err) => {
                    problems.push(format!(
                        "--s3-upstream-credentials: cannot read {}: {err}",
                        path.display()
                    ));
                    None
                }
                Ok(text) => match credentials_profile(&text, &self.s3_upstream_profile) {
                    Ok(pair) => Some(pair),
                    Err(why) => {
                        problems.push(format!(
                            "--s3-upstream-credentials: {}: {why}",
                            path.display()
                        ));
                        None
                    }
                },
            },
            (None, None) => {
                problems.push("the S3 gateway needs the upstream's key: --s3-upstream-credentials FILE (~/.aws/credentials format) or IRSA_S3_UPSTREAM_ACCESS_KEY_ID and IRSA_S3_UPSTREAM_SECRET_ACCESS_KEY".to_owned());
                None
            }
        }
    }
}

/// Checks an upstream URL: http(s), a host, no query or fragment.
fn check_upstream_url(url: &str) -> Result<String, String> {
    let trimmed = url.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"))
        .ok_or_else(|| format!("{url:?} must start with http:// or https://"))?;
    if rest.contains(['?', '#']) {
        return Err(format!("{url:?} must not have a query or fragment"));
    }
    match trimmed.parse::<http::Uri>() {
        Ok(uri) if uri.host().is_some_and(|h| !h.is_empty()) => Ok(trimmed.to_owned()),
        _ => Err(format!(
            "{url:?} is not a URL such as http://127.0.0.1:3900"
        )),
    }
}

/// Reads `aws_access_key_id` / `aws_secret_access_key` of `profile` from
/// an `~/.aws/credentials`-format text. Errors never contain the secret.
fn credentials_profile(text: &str, profile: &str) -> Result<(String, SecretString), String> {
    let mut in_profile = false;
    let mut seen_profile = false;
    let mut id = None;
    let mut secret = None;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[') {
            let Some(name) = section.strip_suffix(']') else {
                return Err(format!("line {}: unterminated [section]", number + 1));
            };
            let name = name.trim();
            let name = name.strip_prefix("profile ").unwrap_or(name).trim();
            in_profile = name == profile;
            seen_profile |= in_profile;
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: expected key = value", number + 1));
        };
        if !in_profile {
            continue;
        }
        match key.trim().to_ascii_lowercase().as_str() {
            "aws_access_key_id" => id = Some(value.trim().to_owned()),
            "aws_secret_access_key" => secret = Some(SecretString::new(value.trim().to_owned())),
            _ => {}
        }
    }
    if !seen_profile {
        return Err(format!("no [{profile}] profile"));
    }
    match (id, secret) {
        (Some(id), Some(secret)) if !id.is_empty() && !secret.expose().is_empty() => {
            Ok((id, secret))
        }
        _ => Err(format!(
            "profile [{profile}] needs aws_access_key_id and aws_secret_access_key"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::collections::HashMap;

    #[derive(Default)]
    struct FakeEnv {
        vars: HashMap<String, String>,
        files: HashMap<PathBuf, String>,
    }

    impl Environment for FakeEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.vars.get(name).cloned()
        }
        fn read_file(&self, path: &Path) -> std::io::Result<String> {
            self.files
                .get(path)
                .cloned()
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"))
        }
    }

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn args(extra: &[&str]) -> ServeArgs {
        let mut argv = vec!["irsa"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().serve
    }

    #[test]
    fn defaults_are_valid() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let cfg = args(&["--data-dir", data.to_str().unwrap()])
            .validate(&FakeEnv::default())
            .unwrap();
        assert_eq!(cfg.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(cfg.account_id.as_str(), "123456789012");
        assert!(matches!(cfg.database, Database::EmbeddedSqlite));
        assert!(matches!(cfg.master_key, MasterKeySource::DataDir));
        assert!(matches!(
            cfg.root_credentials,
            RootCredentialsSource::GenerateOnce
        ));
        assert_eq!(cfg.body_limit, 1_048_576);
        assert!(data.is_dir());
    }

    #[test]
    fn reports_every_problem_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, "x").unwrap();
        let errors = args(&[
            "--listen",
            "localhost",
            "--account-id",
            "42",
            "--database-url",
            "mysql://x",
            "--log-format",
            "xml",
            "--body-limit=-1",
            "--request-timeout",
            "0",
            "--data-dir",
            file.to_str().unwrap(),
        ])
        .validate(&FakeEnv::default())
        .unwrap_err();
        let text = errors.to_string();
        for needle in [
            "--listen",
            "--account-id",
            "--database-url",
            "--log-format",
            "--body-limit",
            "--request-timeout",
            "--data-dir",
        ] {
            assert!(text.contains(needle), "{needle} missing from:\n{text}");
        }
        assert_eq!(errors.0.len(), 7, "{text}");
    }

    #[test]
    fn postgres_requires_master_key_and_hides_url() {
        let dir = tempfile::tempdir().unwrap();
        let a = args(&[
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--database-url",
            "postgres://irsa:hunter2@db:5432/irsa",
        ]);
        let errors = a.validate(&FakeEnv::default()).unwrap_err();
        assert!(errors.to_string().contains("master key"));
        assert!(!errors.to_string().contains("hunter2"));

        let mut env = FakeEnv::default();
        env.vars.insert("IRSA_MASTER_KEY".into(), "a2V5".into());
        let cfg = a.validate(&env).unwrap();
        assert!(!format!("{cfg:?}").contains("hunter2"));
        assert!(matches!(cfg.master_key, MasterKeySource::Env(_)));
    }

    #[test]
    fn bad_postgres_urls() {
        assert!(check_postgres_url("postgres://localhost/irsa").is_ok());
        assert!(check_postgres_url("postgresql://u:p@[::1]:5432/irsa").is_ok());
        assert!(check_postgres_url("postgres:///irsa?host=/tmp").is_ok());
        assert!(check_postgres_url("postgres://h:notaport/x").is_err());
        assert!(check_postgres_url("postgres:///irsa").is_err());
        assert!(check_postgres_url("sqlite://x").is_err());
    }

    #[test]
    fn root_credentials_from_env_or_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = args(&["--data-dir", dir.path().to_str().unwrap()]);
        let mut env = FakeEnv::default();
        env.vars.insert(
            "IRSA_ROOT_ACCESS_KEY_ID".into(),
            "AKIAAAAAAAAAAAAAAAAA".into(),
        );
        env.vars.insert(
            "IRSA_ROOT_SECRET_ACCESS_KEY_FILE".into(),
            "/run/secret".into(),
        );
        env.files.insert(
            "/run/secret".into(),
            "0123456789abcdefghij0123456789abcdefghij\n".into(),
        );
        let cfg = a.validate(&env).unwrap();
        match cfg.root_credentials {
            RootCredentialsSource::Provided {
                access_key_id,
                secret_access_key,
            } => {
                assert_eq!(access_key_id, "AKIAAAAAAAAAAAAAAAAA");
                assert_eq!(secret_access_key.expose().len(), 40);
            }
            RootCredentialsSource::GenerateOnce => panic!("expected provided credentials"),
        }

        env.files.clear();
        let errors = a.validate(&env).unwrap_err();
        assert!(errors
            .to_string()
            .contains("IRSA_ROOT_SECRET_ACCESS_KEY_FILE"));

        let mut half = FakeEnv::default();
        half.vars.insert(
            "IRSA_ROOT_ACCESS_KEY_ID".into(),
            "AKIAAAAAAAAAAAAAAAAA".into(),
        );
        assert!(a
            .validate(&half)
            .unwrap_err()
            .to_string()
            .contains("set both"));

        let mut bad_id = FakeEnv::default();
        bad_id
            .vars
            .insert("IRSA_ROOT_ACCESS_KEY_ID".into(), "root".into());
        bad_id
            .vars
            .insert("IRSA_ROOT_SECRET_ACCESS_KEY".into(), "short".into());
        assert_eq!(a.validate(&bad_id).unwrap_err().0.len(), 2);
    }

    fn s3_args(extra: &[&str]) -> S3Args {
        #[derive(Parser)]
        struct S3Cli {
            #[command(flatten)]
            s3: S3Args,
        }
        let mut argv = vec!["irsa"];
        argv.extend_from_slice(extra);
        S3Cli::try_parse_from(argv).unwrap().s3
    }

    #[test]
    fn s3_gateway_is_off_by_default() {
        assert!(s3_args(&[])
            .validate(&FakeEnv::default())
            .unwrap()
            .is_none());
    }

    #[test]
    fn s3_gateway_from_flags_and_credentials_file() {
        let mut env = FakeEnv::default();
        env.files.insert(
            "/creds".into(),
            "# upstream\n[default]\naws_access_key_id = GKdefault\naws_secret_access_key = s3cr3t-default\n\n[profile garage]\naws_access_key_id=GKgarage\naws_secret_access_key=s3cr3t-garage\n".into(),
        );
        let cfg = s3_args(&[
            "--s3-listen",
            "127.0.0.1:9000",
            "--s3-upstream",
            "http://127.0.0.1:3900/",
            "--s3-domain",
            "s3.example.com,.s3.local",
            "--s3-upstream-credentials",
            "/creds",
        ])
        .validate(&env)
        .unwrap()
        .unwrap();
        assert_eq!(cfg.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(cfg.upstream_url, "http://127.0.0.1:3900");
        assert_eq!(cfg.domains, ["s3.example.com", "s3.local"]);
        assert_eq!(cfg.upstream_access_key_id, "GKdefault");
        assert_eq!(cfg.upstream_secret_access_key.expose(), "s3cr3t-default");
        assert_eq!(cfg.upstream_region, "us-east-1");
        assert!(!format!("{cfg:?}").contains("s3cr3t"));

        let garage = s3_args(&[
            "--s3-listen",
            "127.0.0.1:9000",
            "--s3-upstream",
            "https://s3.internal",
            "--s3-upstream-credentials",
            "/creds",
            "--s3-upstream-profile",
            "garage",
        ])
        .validate(&env)
        .unwrap()
        .unwrap();
        assert_eq!(garage.upstream_access_key_id, "GKgarage");
    }

    #[test]
    fn s3_gateway_credentials_from_env() {
        let mut env = FakeEnv::default();
        env.vars
            .insert("IRSA_S3_UPSTREAM_ACCESS_KEY_ID".into(), "GKenv".into());
        env.vars.insert(
            "IRSA_S3_UPSTREAM_SECRET_ACCESS_KEY".into(),
            "env-secret".into(),
        );
        let cfg = s3_args(&[
            "--s3-listen",
            "[::1]:9000",
            "--s3-upstream",
            "http://garage:3900",
            "--s3-upstream-region",
            "garage",
        ])
        .validate(&env)
        .unwrap()
        .unwrap();
        assert_eq!(cfg.upstream_access_key_id, "GKenv");
        assert_eq!(cfg.upstream_region, "garage");
    }

    #[test]
    fn s3_gateway_reports_every_problem() {
        // Upstream without listen.
        let problems = s3_args(&["--s3-upstream", "http://x:1"])
            .validate(&FakeEnv::default())
            .unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("--s3-listen"));

        // Bad listen, bad URL, no credentials at all.
        let problems = s3_args(&["--s3-listen", "nine", "--s3-upstream", "ftp://x"])
            .validate(&FakeEnv::default())
            .unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("--s3-listen"));
        assert!(problems[1].contains("--s3-upstream"));
        assert!(problems[2].contains("upstream's key"));

        // Missing file; unparseable file; file without the profile.
        let mut env = FakeEnv::default();
        env.files.insert("/bad".into(), "[default\nx".into());
        env.files.insert(
            "/other".into(),
            "[other]\naws_access_key_id = a\naws_secret_access_key = hunter2\n".into(),
        );
        for (file, needle) in [
            ("/missing", "cannot read"),
            ("/bad", "unterminated"),
            ("/other", "no [default] profile"),
        ] {
            let problems = s3_args(&[
                "--s3-listen",
                "127.0.0.1:9000",
                "--s3-upstream",
                "http://x:1",
                "--s3-upstream-credentials",
                file,
            ])
            .validate(&env)
            .unwrap_err();
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(problems[0].contains(needle), "{problems:?}");
            assert!(!problems[0].contains("hunter2"));
        }
    }
}
