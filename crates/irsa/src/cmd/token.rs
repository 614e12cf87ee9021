//! `irsa token decode` and `irsa token verify`.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use irsa_core::SharedClock;
use irsa_oidc::{jwt, OidcVerifier, ProviderTrust, Status, VerifierConfig};

#[derive(Debug, Clone, clap::Args)]
pub struct DecodeArgs {
    /// Token file, or - to read standard input.
    pub file: PathBuf,
    /// Print JSON (header, claims, times) for scripts.
    #[arg(long)]
    pub json: bool,
}

/// Decodes without verifying; returns what to print.
pub fn decode(args: &DecodeArgs, now: i64) -> anyhow::Result<String> {
    let token = super::read_token(&args.file)?;
    let decoded = jwt::decode(&token).with_context(|| args.file.display().to_string())?;
    Ok(if args.json {
        let mut text = serde_json::to_string_pretty(&jwt::render_json(&decoded, now))?;
        text.push('\n');
        text
    } else {
        jwt::render_human(&decoded, now)
    })
}

#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// Token file, or - to read standard input.
    pub file: PathBuf,
    /// Issuer URL the token must come from (its discovery document is fetched).
    #[arg(long)]
    pub issuer: String,
    /// Accepted audience (client id); repeatable. Default: the token's own aud.
    #[arg(long = "audience")]
    pub audiences: Vec<String>,
    /// SHA-1 thumbprint (40 hex) of the issuer's top certificate, as registered in IAM; repeatable.
    #[arg(long = "thumbprint")]
    pub thumbprints: Vec<String>,
    /// Extra trusted CA certificates (PEM).
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Accept a plain http:// issuer (development only).
    #[arg(long)]
    pub allow_insecure_issuer: bool,
}

/// The outcome of `irsa token verify`.
#[derive(Debug)]
pub struct VerifyReport {
    pub valid: bool,
    pub text: String,
}

/// Verifies with irsa-oidc's verifier and explains every check.
pub async fn verify(args: &VerifyArgs, clock: SharedClock) -> anyhow::Result<VerifyReport> {
    let token = super::read_token(&args.file)?;
    let mut config = VerifierConfig {
        allow_insecure_http: args.allow_insecure_issuer,
        clock,
        ..VerifierConfig::default()
    };
    if let Some(ca) = &args.ca_file {
        let pem = std::fs::read(ca).with_context(|| format!("{}: cannot read", ca.display()))?;
        config
            .add_ca_pem(&pem)
            .with_context(|| ca.display().to_string())?;
    }
    let mut text = String::new();
    let audiences = if args.audiences.is_empty() {
        let decoded = jwt::decode(&token)?;
        let own: Vec<String> = match decoded.claims().get("aud") {
            Some(serde_json::Value::String(a)) => vec![a.clone()],
            Some(serde_json::Value::Array(list)) => list
                .iter()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        let _ = writeln!(
            text,
            "note: no --audience given; accepting the token's own aud {own:?}"
        );
        own
    } else {
        args.audiences.clone()
    };
    let provider = ProviderTrust::new(
        &args.issuer,
        audiences,
        &args.thumbprints,
        args.allow_insecure_issuer,
    )
    .context("--issuer/--thumbprint")?;
    let verifier = OidcVerifier::new(config).context("verifier setup")?;
    let result = verifier.verify(&token, &provider).await;
    for step in verifier.explain(&token, &provider, &result) {
        let mark = match step.status {
            Status::Passed => "ok  ",
            Status::Failed => "FAIL",
            Status::NotChecked => "  - ",
        };
        let _ = writeln!(text, "[{mark}] {:<31} {}", step.step.label(), step.detail);
    }
    let valid = result.is_ok();
    match &result {
        Ok(v) => {
            let _ = writeln!(
                text,
                "valid: {} (sub {}, aud {})",
                v.issuer(),
                v.subject(),
                v.audience()
            );
        }
        Err(err) => {
            let _ = writeln!(text, "invalid: {}: {}", err.code(), err.message());
        }
    }
    Ok(VerifyReport { valid, text })
}
