//! Commands that use the key rings in the server's store: `irsa token
//! issue` (offline) and `irsa issuer rotate` (the built-in issuer's signing
//! keys), `irsa session-keys rotate|list` (the session-token sealing keys).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Parser;
use irsa_auth::{issuer_keys, session_keys};
use irsa_core::{Clock, SystemClock};
use irsa_oidc::{ServiceAccountToken, TokenFields};
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
    /// Not used with --endpoint (the server knows its issuer).
    #[arg(long, env = "IRSA_ISSUER_URL")]
    pub issuer_url: Option<String>,
    /// Ask a running `irsa serve` (SigV4-signed `IssueServiceAccountToken`,
    /// credentials from AWS_* env, --data-dir's root credentials or ~/.aws)
    /// instead of opening its store.
    #[arg(long)]
    pub endpoint: Option<String>,
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

impl IssueArgs {
    fn fields(&self) -> TokenFields {
        TokenFields {
            namespace: self.namespace.clone(),
            service_account: self.service_account.clone(),
            service_account_uid: self.service_account_uid.clone(),
            audiences: self.audiences.clone(),
            expiration_seconds: self.expiration,
            pod_name: self.pod_name.clone(),
            pod_uid: self.pod_uid.clone(),
            node_name: self.node_name.clone(),
        }
    }
}

/// The token request these flags describe; every problem at once.
pub fn token_request(
    args: &IssueArgs,
) -> anyhow::Result<(ServiceAccountToken, irsa_oidc::SigningKeyType)> {
    let mut problems = Vec::new();
    let issuer = if let Some(url) = &args.issuer_url {
        issuer::check_issuer_url("issuer-url", url, args.allow_insecure_issuer)
            .map_err(|p| problems.push(p))
            .ok()
    } else {
        problems.push("--issuer-url is required without --endpoint".to_owned());
        None
    };
    let key_type = issuer::parse_key_type("issuer-key-type", &args.issuer_key_type)
        .map_err(|p| problems.push(p))
        .ok();
    let request = args
        .fields()
        .request(issuer.as_deref().unwrap_or_default(), |f| format!("--{f}"))
        .map_err(|p| problems.extend(p))
        .ok();
    match (request, key_type) {
        (Some(request), Some(key_type)) if problems.is_empty() => Ok((request, key_type)),
        _ => bail!("{}", problems.join("\n  ")),
    }
}

/// Mints a token offline with the store's issuer key; returns the token.
pub async fn issue(args: &IssueArgs) -> anyhow::Result<String> {
    if let Some(endpoint) = &args.endpoint {
        let token = issue_remote(args, endpoint).await?;
        if let Some(path) = &args.output {
            super::write_private_atomically(path, format!("{token}\n").as_bytes())?;
        }
        return Ok(token);
    }
    let (request, key_type) = token_request(args)?;
    let store = open_store(&args.store).await?;
    let key = issuer_keys::signing_key(store.as_ref(), key_type).await;
    store.close().await;
    let key = key?;
    let token = request.mint(&key, SystemClock.unix_seconds())?;
    if let Some(path) = &args.output {
        super::write_private_atomically(path, format!("{token}\n").as_bytes())?;
    }
    Ok(token)
}

/// `IssueServiceAccountToken` on a running server.
async fn issue_remote(args: &IssueArgs, endpoint: &str) -> anyhow::Result<String> {
    // The server checks the fields too; checking here first gives flag names.
    args.fields()
        .request("https://placeholder.invalid", |f| format!("--{f}"))
        .map_err(|p| anyhow::anyhow!("{}", p.join("\n  ")))?;
    let env = |name: &str| std::env::var(name).ok();
    let credentials = super::remote::resolve_credentials(Some(&args.store.data_dir), &env)?;
    let client = super::remote::Remote::new(endpoint, credentials)?;
    let expiration = args.expiration.to_string();
    let mut params: Vec<(String, String)> = vec![
        ("Namespace".into(), args.namespace.clone()),
        ("ServiceAccount".into(), args.service_account.clone()),
        ("ExpirationSeconds".into(), expiration),
    ];
    for (i, audience) in args.audiences.iter().enumerate() {
        params.push((format!("Audiences.member.{}", i + 1), audience.clone()));
    }
    for (name, value) in [
        ("ServiceAccountUid", &args.service_account_uid),
        ("PodName", &args.pod_name),
        ("PodUid", &args.pod_uid),
        ("NodeName", &args.node_name),
    ] {
        if let Some(value) = value {
            params.push((name.into(), value.clone()));
        }
    }
    let borrowed: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let answer = client
        .call(irsa_server::sa_token::ACTION, &borrowed)
        .await?;
    answer
        .pointer("/IssueServiceAccountTokenResponse/IssueServiceAccountTokenResult/Token")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("{endpoint} answered without a token"))
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
        let key = issuer_keys::rotate(store.as_ref(), kind).await?;
        let now = SystemClock.now_utc();
        // Also what a running server would prune: keys retired > 48 h ago.
        let pruned = issuer_keys::maintain(store.as_ref(), kind, None, now)
            .await?
            .pruned;
        let published = issuer_keys::published_keys(store.as_ref(), now).await?;
        anyhow::Ok((key, pruned, published))
    }
    .await;
    store.close().await;
    let (key, pruned, published) = result?;
    let mut out = format!("new signing key {} ({})\n", key.key_id, key.algorithm);
    for kid in pruned {
        let _ = writeln!(out, "pruned retired key {kid}");
    }
    out.push_str("published keys:\n");
    for k in published {
        let _ = writeln!(out, "  {}", k.kid());
    }
    Ok(out)
}

#[derive(Debug, Clone, clap::Args)]
pub struct RotateSessionKeyArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Seconds until the new key starts sealing. Every server reloads its
    /// key ring within 45 s; starting sooner lets a replica that has not
    /// reloaded yet refuse new sessions (InvalidClientTokenId) for up to 30 s.
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u32).range(0..=86_400))]
    pub activate_in: u32,
}

/// `irsa session-keys rotate`: adds a session-token key that running
/// servers start sealing with `--activate-in` seconds later.
pub async fn rotate_session_key(args: &RotateSessionKeyArgs) -> anyhow::Result<String> {
    let store = open_store(&args.store).await?;
    let activate_in = time::Duration::seconds(i64::from(args.activate_in));
    let result = session_keys::rotate(store.as_ref(), activate_in).await;
    store.close().await;
    let key = result.map_err(|err| anyhow::anyhow!("{err}"))?;
    Ok(format!(
        "new session-token key {} seals from {} on ({} s from now; every server loads it within 45 s);\n\
         the keys it replaces keep opening tokens for {} h after that\n",
        key.key_id,
        rfc3339(key.not_before),
        args.activate_in,
        session_keys::RETIRED_KEY_KEPT_FOR.as_secs() / 3600,
    ))
}

/// `irsa session-keys list`: the session-token keys, oldest first (ids and
/// dates only; secrets never leave the store).
pub async fn list_session_keys(args: &StoreArgs) -> anyhow::Result<String> {
    let store = open_store(args).await?;
    let listed = store
        .list_server_keys(irsa_auth::SESSION_TOKEN_KEY_PURPOSE)
        .await;
    let now = store.clock().now_utc();
    store.close().await;
    let keys = listed?;
    let signer = irsa_store::key_ring::current_signer(&keys, now).map(|k| k.key_id.clone());
    let mut out =
        String::from("KEY ID                 STATE      CREATED               SEALS FROM\n");
    for key in &keys {
        let state = if signer.as_deref() == Some(key.key_id.as_str()) {
            "sealing"
        } else if key.active && key.not_before > now {
            "pending"
        } else if key.active {
            "active"
        } else {
            "retired"
        };
        let _ = writeln!(
            out,
            "{:<22} {:<10} {:<21} {}",
            key.key_id,
            state,
            rfc3339(key.created),
            rfc3339(key.not_before)
        );
    }
    Ok(out)
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
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
        a.issuer_url = Some("http://i.example".into());
        let err = token_request(&a).unwrap_err().to_string();
        assert!(err.contains("--allow-insecure-issuer"), "{err}");
        a.allow_insecure_issuer = true;
        assert!(token_request(&a).is_ok());
    }
}
