//! `irsa oidc thumbprint URL`.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use irsa_oidc::{issuer_thumbprint, ThumbprintReport, VerifierConfig};

#[derive(Debug, Clone, clap::Args)]
pub struct ThumbprintArgs {
    /// Issuer URL (https://…); its discovery document names the JWKS host.
    pub url: String,
    /// Extra trusted CA certificates (PEM), only for the "trusted" verdict.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
}

/// Connects like IAM does and returns the report.
pub async fn thumbprint(args: &ThumbprintArgs) -> anyhow::Result<ThumbprintReport> {
    let mut config = VerifierConfig::default();
    if let Some(ca) = &args.ca_file {
        let pem = std::fs::read(ca).with_context(|| format!("{}: cannot read", ca.display()))?;
        config
            .add_ca_pem(&pem)
            .with_context(|| ca.display().to_string())?;
    }
    Ok(issuer_thumbprint(&args.url, &config).await?)
}

/// The thumbprint alone on the first line (for scripts: `| head -1`), then
/// the chain for reference.
pub fn render(report: &ThumbprintReport) -> String {
    let mut out = format!("{}\n", report.thumbprint);
    let _ = writeln!(out, "issuer   {}", report.issuer);
    let _ = writeln!(out, "jwks_uri {}", report.jwks_uri);
    let _ = writeln!(out, "host     {}:{}", report.host, report.port);
    let _ = writeln!(
        out,
        "chain (leaf first; the thumbprint is of the last certificate):"
    );
    for (i, cert) in report.chain.iter().enumerate() {
        let _ = writeln!(out, "  [{i}] subject   {}", cert.subject);
        let _ = writeln!(out, "      issuer    {}", cert.issuer);
        let _ = writeln!(out, "      not after {}", cert.not_after);
        let _ = writeln!(out, "      sha1      {}", cert.sha1);
    }
    match &report.trusted_by_roots {
        Ok(()) => out.push_str("chain trusted by the Mozilla roots / --ca-file\n"),
        Err(why) => {
            let _ = writeln!(
                out,
                "chain NOT trusted by the roots ({why}); IAM relies on the thumbprint"
            );
        }
    }
    out
}
