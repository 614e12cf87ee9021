//! Commands that use the built-in issuer's key ring in the server's store:
//! `irsa token issue` (offline) and `irsa issuer rotate`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Parser;
use irsa_core::{Clock, SystemClock};
use irsa_oidc::{ObjectRef, ServiceAccountToken};
use irsa_server::config::{Database, ProcessEnvironment, ServeArgs};
use irsa_server::issuer;
use irsa_store::{Store, StoreConfig};

/// Where the server keeps its data: the same flags (and `IRSA_*` env) as
/// `irsa serve`, so both open the same store.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// The data directory of `irsa serve --data-dir`.
    #[arg(long, env = "IRSA_DATA_DIR", default_value = "./irsa-data")]
    pub data_dir: PathBuf,
    /// PostgreSQL URL, when the server uses PostgreSQL.
    #[arg(long, env = "IRSA_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Master key file (alternatively IRSA_MASTER_KEY).
    #[arg(long, env = "IRSA_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
}

#[derive(Parser)]
struct ServeFlags {
    #[command(flatten)]
    serve: ServeArgs,
}

/// Opens the store exactly as `irsa serve` would with these flags.
pub async fn open_store(args: &StoreArgs) -> anyhow::Result<Arc<dyn Store>> {
    // Parse through `ServeArgs` so defaults and validation stay the server's.
    let mut command_line = vec![
        "irsa".into(),
        "--data-dir".into(),
        args.data_dir.clone().into_os_string(),
    ];
    if let Some(url) = &args.database_url {
        command_line.extend(["--database-url".into(), url.into()]);
    }
    if let Some(file) = &args.master_key_file {
        command_line.extend(["--master-key-file".into(), file.clone().into_os_string()]);
    }
    let flags = ServeFlags::try_parse_from(command_line).context("store flags")?;
    let config = flags
        .serve
        .validate(&ProcessEnvironment)
        .map_err(|errors| anyhow::anyhow!("{}", errors.to_string().trim_end()))?;
    let master_key = irsa_server::bootstrap::master_key(&config)?;
    let database_url = match &config.database {
        Database::EmbeddedSqlite => None,
        Database::Postgres(url) => Some(url.expose().to_owned()),
    };
    let store = irsa_store::open(StoreConfig {
        database_url,
        data_dir: config.data_dir.clone(),
        master_key,
        account_id: config.account_id.clone(),
        clock: Arc::new(SystemClock),
    })
    .await?;
    Ok(store)
}

#[derive(Debug, Clone, clap::Args)]
pub struct IssueArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The built-in issuer's URL (the `iss`); the same as `irsa serve --issuer-url`.
    #[arg(long, env = "IRSA_ISSUER_URL")]
    pub issuer_url: String,
    /// Allow a plain http:// issuer URL (development only).
    #[arg(long, env = "IRSA_ALLOW_INSECURE_ISSUER")]
    pub allow_insecure_issuer: bool,
    /// Key type when the first signing key is created: rsa or ecdsa-p256.
    #[arg(long, env = "IRSA_ISSUER_KEY_TYPE", default_value = "rsa")]
    pub issuer_key_type: String,
    /// Namespace of the service account.
    #[arg(long)]
    pub namespace: String,
    /// Name of the service account.
    #[arg(long)]
    pub service_account: String,
    /// uid of the service account (default: random).
    #[arg(long)]
    pub service_account_uid: Option<String>,
    /// Audience (repeatable).
    #[arg(long = "audience", default_value = "sts.amazonaws.com")]
    pub audiences: Vec<String>,
    /// Lifetime in seconds (at least 600, like TokenRequest).
    #[arg(long, default_value_t = 3600)]
    pub expiration: i64,
    /// Pod the token is bound to.
    #[arg(long)]
    pub pod_name: Option<String>,
    /// uid of that pod (default: random when --pod-name is given).
    #[arg(long)]
    pub pod_uid: Option<String>,
    /// Node the pod runs on.
    #[arg(long)]
    pub node_name: Option<String>,
    /// Write the token to this file (atomically, mode 0600) instead of printing it.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

/// Shortest lifetime TokenRequest accepts.
pub const MIN_EXPIRATION: i64 = 600;
/// Longest lifetime TokenRequest accepts (2^32 s).
pub const MAX_EXPIRATION: i64 = 1 << 32;

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// The token request these flags describe; every problem at once.
pub fn token_request(
    args: &IssueArgs,
) -> anyhow::Result<(ServiceAccountToken, irsa_oidc::SigningKeyType)> {
    let mut problems = Vec::new();
    let issuer =
        issuer::check_issuer_url("issuer-url", &args.issuer_url, args.allow_insecure_issuer)
            .map_err(|p| problems.push(p))
            .ok();
    let key_type = issuer::parse_key_type("issuer-key-type", &args.issuer_key_type)
        .map_err(|p| problems.push(p))
        .ok();
    if !is_dns_label(&args.namespace) {
        problems.push(format!(
            "--namespace: {:?} is not a Kubernetes namespace name (lower-case letters, digits and '-', at most 63)",
            args.namespace
        ));
    }
    if !is_dns_subdomain(&args.service_account) {
        problems.push(format!(
            "--service-account: {:?} is not a Kubernetes object name (lower-case letters, digits, '-' and '.')",
            args.service_account
        ));
    }
    if !(MIN_EXPIRATION..=MAX_EXPIRATION).contains(&args.expiration) {
        problems.push(format!(
            "--expiration: {} s is outside {MIN_EXPIRATION}..={MAX_EXPIRATION} (TokenRequest's bounds)",
            args.expiration
        ));
    }
    if args.audiences.iter().any(|a| a.trim().is_empty()) {
        problems.push("--audience: must not be empty".to_owned());
    }
    if args.pod_uid.is_some() && args.pod_name.is_none() {
        problems.push("--pod-uid needs --pod-name".to_owned());
    }
    let (Some(issuer), Some(key_type)) = (issuer, key_type) else {
        bail!("{}", problems.join("\n  "));
    };
    if !problems.is_empty() {
        bail!("{}", problems.join("\n  "));
    }
    let uid = || uuid::Uuid::new_v4().to_string();
    let request = ServiceAccountToken {
        issuer,
        audiences: args.audiences.clone(),
        namespace: args.namespace.clone(),
        service_account: ObjectRef {
            name: args.service_account.clone(),
            uid: args.service_account_uid.clone().unwrap_or_else(uid),
        },
        pod: args.pod_name.as_ref().map(|name| ObjectRef {
            name: name.clone(),
            uid: args.pod_uid.clone().unwrap_or_else(uid),
        }),
        node: args.node_name.as_ref().map(|name| ObjectRef {
            name: name.clone(),
            uid: uid(),
        }),
        expiration_seconds: args.expiration,
        warn_after: None,
    };
    Ok((request, key_type))
}

/// Mints a token offline with the store's issuer key; returns the token.
pub async fn issue(args: &IssueArgs) -> anyhow::Result<String> {
    let (request, key_type) = token_request(args)?;
    let store = open_store(&args.store).await?;
    let key = issuer::signing_key(store.as_ref(), key_type).await;
    store.close().await;
    let key = key?;
    let token = request.mint(&key, SystemClock.unix_seconds())?;
    if let Some(path) = &args.output {
        super::write_private_atomically(path, format!("{token}\n").as_bytes())?;
    }
    Ok(token)
}

#[derive(Debug, Clone, clap::Args)]
pub struct RotateArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Type of the new key: rsa or ecdsa-p256.
    #[arg(long, env = "IRSA_ISSUER_KEY_TYPE", default_value = "rsa")]
    pub issuer_key_type: String,
}

/// Adds a new signing key; old keys stay published. Returns the summary.
pub async fn rotate(args: &RotateArgs) -> anyhow::Result<String> {
    let kind = issuer::parse_key_type("issuer-key-type", &args.issuer_key_type)
        .map_err(|p| anyhow::anyhow!(p))?;
    let store = open_store(&args.store).await?;
    let result = async {
        let key = issuer::rotate(store.as_ref(), kind).await?;
        let now = SystemClock.now_utc();
        let published = issuer::published_keys(store.as_ref(), now).await?;
        anyhow::Ok((key, published))
    }
    .await;
    store.close().await;
    let (key, published) = result?;
    let mut out = format!(
        "new signing key {} ({})\npublished keys:\n",
        key.kid(),
        key.alg().as_str()
    );
    for k in published {
        let _ = writeln!(out, "  {}", k.kid());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> IssueArgs {
        #[derive(Parser)]
        struct Wrap {
            #[command(flatten)]
            issue: IssueArgs,
        }
        let mut command_line = vec![
            "irsa",
            "--data-dir",
            "/nonexistent",
            "--issuer-url",
            "https://i.example",
        ];
        command_line.extend_from_slice(extra);
        Wrap::try_parse_from(command_line).unwrap().issue
    }

    #[test]
    fn token_request_defaults_and_problems() {
        let (req, _) = token_request(&args(&[
            "--namespace",
            "default",
            "--service-account",
            "demo",
        ]))
        .unwrap();
        assert_eq!(req.audiences, vec!["sts.amazonaws.com".to_owned()]);
        assert_eq!(req.expiration_seconds, 3600);
        assert_eq!(req.subject(), "system:serviceaccount:default:demo");
        assert!(req.pod.is_none());

        let (req, _) = token_request(&args(&[
            "--namespace",
            "ns",
            "--service-account",
            "sa",
            "--audience",
            "a",
            "--audience",
            "b",
            "--pod-name",
            "p",
            "--pod-uid",
            "u1",
            "--node-name",
            "n",
        ]))
        .unwrap();
        assert_eq!(req.audiences, vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(req.pod.unwrap().uid, "u1");
        assert_eq!(req.node.unwrap().name, "n");

        let err = token_request(&args(&[
            "--namespace",
            "Bad_NS",
            "--service-account",
            "sa",
            "--expiration",
            "599",
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("--namespace") && err.contains("--expiration"),
            "{err}"
        );

        let mut a = args(&["--namespace", "ns", "--service-account", "sa"]);
        a.issuer_url = "http://i.example".into();
        let err = token_request(&a).unwrap_err().to_string();
        assert!(err.contains("--allow-insecure-issuer"), "{err}");
        a.allow_insecure_issuer = true;
        assert!(token_request(&a).is_ok());
    }
}
