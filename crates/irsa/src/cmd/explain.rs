//! `irsa explain`: why does my pod get AccessDenied? Runs the server's own
//! AssumeRoleWithWebIdentity decision for a role and a token and prints each
//! step — either by asking a running irsa (`--endpoint`, signed
//! `ExplainWebIdentity` call) or in-process against the server's store
//! (`--data-dir`/`--database-url`, the same flags as `irsa serve`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Parser;
use irsa_api::explain::Explanation;
use irsa_api::model::AssumeRoleWithWebIdentityRequest;
use irsa_api::RequestInfo;
use irsa_core::{SecretString, SystemClock};
use irsa_server::config::{ProcessEnvironment, ServeArgs};

use super::keyring::StoreArgs;
use super::remote::{resolve_credentials, Remote};

#[derive(Debug, Clone, clap::Args)]
pub struct ExplainArgs {
    /// The role the pod asks for (its AWS_ROLE_ARN).
    #[arg(long)]
    pub role_arn: String,
    /// The token file the pod uses (its AWS_WEB_IDENTITY_TOKEN_FILE), or - for stdin.
    #[arg(long)]
    pub token: PathBuf,
    /// Ask this running irsa (e.g. http://127.0.0.1:8080) instead of opening its store.
    #[arg(long, env = "IRSA_ENDPOINT")]
    pub endpoint: Option<String>,
    /// RoleSessionName to evaluate with (sts:RoleSessionName).
    #[arg(long)]
    pub role_session_name: Option<String>,
    /// DurationSeconds the pod asks for (default 3600).
    #[arg(long)]
    pub duration_seconds: Option<i32>,
    /// Print the explanation as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Account id of the server (in-process mode).
    #[arg(long, env = "IRSA_ACCOUNT_ID")]
    pub account_id: Option<String>,
    /// Extra CA certificates trusted for OIDC issuers, as `irsa serve --oidc-ca-file`.
    #[arg(long, env = "IRSA_OIDC_CA_FILE")]
    pub oidc_ca_file: Option<PathBuf>,
    /// Accept http:// issuers, as `irsa serve --allow-insecure-issuer`.
    #[arg(long, env = "IRSA_ALLOW_INSECURE_ISSUER")]
    pub allow_insecure_issuer: bool,
}

/// What to print and whether the role would be assumed.
#[derive(Debug)]
pub struct Report {
    pub text: String,
    pub allowed: bool,
}

#[derive(Parser)]
struct ServeFlags {
    #[command(flatten)]
    serve: ServeArgs,
}

pub async fn run(args: &ExplainArgs) -> anyhow::Result<Report> {
    let token = super::read_token(&args.token)?;
    let explanation = match &args.endpoint {
        Some(endpoint) => remote(args, endpoint, &token).await?,
        None => in_process(args, &token).await?,
    };
    let text = if args.json {
        let mut text = serde_json::to_string_pretty(&explanation)?;
        text.push('\n');
        text
    } else {
        explanation.render_human()
    };
    Ok(Report {
        text,
        allowed: explanation.outcome.allowed,
    })
}

async fn remote(args: &ExplainArgs, endpoint: &str, token: &str) -> anyhow::Result<Explanation> {
    let env = |name: &str| std::env::var(name).ok();
    let credentials = resolve_credentials(Some(&args.store.data_dir), &env)?;
    let client = Remote::new(endpoint, credentials)?;
    let duration = args.duration_seconds.map(|d| d.to_string());
    let mut params = vec![
        ("RoleArn", args.role_arn.as_str()),
        ("WebIdentityToken", token),
    ];
    if let Some(name) = &args.role_session_name {
        params.push(("RoleSessionName", name.as_str()));
    }
    if let Some(d) = &duration {
        params.push(("DurationSeconds", d.as_str()));
    }
    let body = client
        .call(irsa_api::explain::ACTION, &params)
        .await
        .with_context(|| format!("{endpoint} refused ExplainWebIdentity"))?;
    Explanation::from_response_json(&body)
        .with_context(|| format!("{endpoint} answered something that is not an explanation"))
}

async fn in_process(args: &ExplainArgs, token: &str) -> anyhow::Result<Explanation> {
    if args.store.database_url.is_none() && !args.store.data_dir.is_dir() {
        bail!(
            "{}: no such data directory (pass the server's --data-dir, or --endpoint to ask a running server)",
            args.store.data_dir.display()
        );
    }
    let mut command_line = vec![
        "irsa".into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--data-dir".into(),
        args.store.data_dir.clone().into_os_string(),
    ];
    if let Some(url) = &args.store.database_url {
        command_line.extend(["--database-url".into(), url.into()]);
    }
    if let Some(file) = &args.store.master_key_file {
        command_line.extend(["--master-key-file".into(), file.clone().into_os_string()]);
    }
    if let Some(account) = &args.account_id {
        command_line.extend(["--account-id".into(), account.into()]);
    }
    if let Some(file) = &args.oidc_ca_file {
        command_line.extend(["--oidc-ca-file".into(), file.clone().into_os_string()]);
    }
    let flags: ServeFlags = ServeFlags::try_parse_from(command_line).context("store flags")?;
    let mut config = flags
        .serve
        .validate(&ProcessEnvironment)
        .map_err(|errors| anyhow::anyhow!("{}", errors.to_string().trim_end()))?;
    config.allow_insecure_issuer = args.allow_insecure_issuer;
    // The server's own setup: same store, same verifier configuration.
    let (state, _root) = irsa_server::prepare(config, Arc::new(SystemClock))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let request = AssumeRoleWithWebIdentityRequest {
        role_arn: args.role_arn.clone(),
        role_session_name: args
            .role_session_name
            .clone()
            .unwrap_or_else(|| irsa_api::explain::DEFAULT_SESSION_NAME.to_owned()),
        web_identity_token: SecretString::new(token.to_owned()),
        provider_id: None,
        policy_arns: Vec::new(),
        policy: None,
        duration_seconds: args.duration_seconds,
    };
    let info = RequestInfo {
        request_id: "irsa-explain".to_owned(),
        source_ip: None,
        secure_transport: true,
        region: super::remote::DEFAULT_REGION.to_owned(),
    };
    state
        .api
        .explain_web_identity(&request, &info)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {}", e.code.as_str(), e.message))
}
