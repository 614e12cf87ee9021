//! `irsa issuer keys` and `irsa issuer serve`: static discovery documents
//! for clusters that bring their own service-account signing key.

use std::fmt::Write as _;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use irsa_oidc::issuer::{CACHE_CONTROL, DISCOVERY_PATH, JWKS_CONTENT_TYPE, JWKS_PATH};
use irsa_oidc::{discovery_document, jwks_document, normalize_issuer_url, PublicKey};
use serde_json::Value;

#[derive(Debug, Clone, clap::Args)]
pub struct KeysArgs {
    /// PEM public key file (kube-apiserver --service-account-key-file); repeat to publish old and new keys.
    #[arg(long = "public-key", required = true)]
    pub public_keys: Vec<PathBuf>,
    /// The cluster's --service-account-issuer URL.
    #[arg(long)]
    pub issuer_url: String,
    /// Directory to write .well-known/openid-configuration and openid/v1/jwks into.
    #[arg(long)]
    pub out: PathBuf,
    /// Allow a plain http:// issuer URL (development only).
    #[arg(long)]
    pub allow_insecure_issuer: bool,
}

/// Reads every key file; errors name the file. Types may mix (RSA and EC
/// P-256/P-384/P-521), as kube-apiserver accepts several
/// `--service-account-key-file`s: each key is published with its own `kid`,
/// `kty` and `alg`. A key given twice is published once.
pub fn read_public_keys(files: &[PathBuf]) -> anyhow::Result<Vec<PublicKey>> {
    let mut keys: Vec<PublicKey> = Vec::new();
    for path in files {
        let name = path.display().to_string();
        let data = std::fs::read(path).with_context(|| format!("{name}: cannot read"))?;
        for key in irsa_oidc::parse_public_keys_pem(&name, &data)? {
            if !keys.iter().any(|k| k.kid() == key.kid()) {
                keys.push(key);
            }
        }
    }
    Ok(keys)
}

/// Writes the two documents; returns a summary to print.
pub fn keys(args: &KeysArgs) -> anyhow::Result<String> {
    let issuer = normalize_issuer_url(&args.issuer_url, args.allow_insecure_issuer)
        .context("--issuer-url")?;
    let keys = read_public_keys(&args.public_keys)?;
    let discovery = discovery_document(&issuer, &keys);
    let jwks = jwks_document(&keys);
    let discovery_path = args.out.join(DISCOVERY_PATH.trim_start_matches('/'));
    let jwks_path = args.out.join(JWKS_PATH.trim_start_matches('/'));
    write_json(&discovery_path, &discovery)?;
    write_json(&jwks_path, &jwks)?;
    let mut out = format!(
        "wrote {}\nwrote {}\nissuer {issuer}\n",
        discovery_path.display(),
        jwks_path.display()
    );
    for key in &keys {
        let _ = writeln!(out, "  kid {} ({})", key.kid(), key.alg().as_str());
    }
    let _ = writeln!(
        out,
        "serve {DISCOVERY_PATH} as application/json and {JWKS_PATH} as {JWKS_CONTENT_TYPE} under {issuer}"
    );
    Ok(out)
}

fn write_json(path: &Path, value: &Value) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
    }
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("{}: cannot write", path.display()))
}

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Directory written by `irsa issuer keys`.
    #[arg(long)]
    pub dir: PathBuf,
    /// Address to listen on (host:port).
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub listen: String,
}

#[derive(Debug, Clone)]
struct Documents {
    dir: PathBuf,
}

/// The issuer URL's path recorded in the discovery document ("" for none).
fn issuer_path(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join(DISCOVERY_PATH.trim_start_matches('/'));
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{}: cannot read (run `irsa issuer keys` first)",
            path.display()
        )
    })?;
    let doc: Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    let Some(issuer) = doc.get("issuer").and_then(Value::as_str) else {
        bail!("{}: has no \"issuer\"", path.display());
    };
    let rest = issuer.split_once("://").map_or(issuer, |(_, r)| r);
    Ok(rest
        .find('/')
        .map_or("", |i| rest[i..].trim_end_matches('/'))
        .to_owned())
}

/// Routes for the documents in `dir`, at the root and (when the issuer URL
/// has a path) under that path, so either kind of proxy in front works.
pub fn router(dir: &Path) -> anyhow::Result<Router> {
    let prefix = issuer_path(dir)?;
    let mut app = Router::new()
        .route(DISCOVERY_PATH, get(discovery))
        .route(JWKS_PATH, get(jwks));
    if !prefix.is_empty() {
        app = app
            .route(&format!("{prefix}{DISCOVERY_PATH}"), get(discovery))
            .route(&format!("{prefix}{JWKS_PATH}"), get(jwks));
    }
    Ok(app.with_state(Documents {
        dir: dir.to_path_buf(),
    }))
}

// Files are re-read per request so that regenerating them needs no restart.
fn file_response(docs: &Documents, relative: &str, content_type: &'static str) -> Response {
    let path = docs.dir.join(relative.trim_start_matches('/'));
    match std::fs::read(&path) {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, CACHE_CONTROL),
            ],
            body,
        )
            .into_response(),
        Err(err) => {
            tracing::warn!(file = %path.display(), error = %err, "cannot read issuer document");
            (StatusCode::NOT_FOUND, "not found\n").into_response()
        }
    }
}

async fn discovery(State(docs): State<Documents>) -> Response {
    file_response(&docs, DISCOVERY_PATH, "application/json")
}

async fn jwks(State(docs): State<Documents>) -> Response {
    file_response(&docs, JWKS_PATH, JWKS_CONTENT_TYPE)
}

/// Serves the documents until `shutdown` resolves.
pub async fn serve(
    args: &ServeArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr: SocketAddr = args
        .listen
        .parse()
        .with_context(|| format!("--listen: {:?} is not a host:port address", args.listen))?;
    let app = router(&args.dir)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr().unwrap_or(addr);
    println!(
        "serving issuer documents from {} on http://{local}",
        args.dir.display()
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("server error")
}

#[cfg(test)]
mod tests {
    use super::*;
    use irsa_oidc::{SigningKey, SigningKeyType};

    fn pem(label: &str, der: &[u8]) -> String {
        pem::encode(&pem::Pem::new(label, der.to_vec()))
    }

    #[test]
    fn keys_writes_documents_with_kubernetes_kids() {
        let dir = tempfile::tempdir().unwrap();
        let old = SigningKey::generate(SigningKeyType::Rsa2048).unwrap();
        let new = SigningKey::generate(SigningKeyType::Rsa2048).unwrap();
        let old_pub = dir.path().join("old.pub");
        let new_pub = dir.path().join("sa.pub");
        std::fs::write(&old_pub, pem("PUBLIC KEY", &old.public_key().spki_der())).unwrap();
        std::fs::write(&new_pub, pem("PUBLIC KEY", &new.public_key().spki_der())).unwrap();
        let out = dir.path().join("out");
        let summary = keys(&KeysArgs {
            public_keys: vec![new_pub.clone(), old_pub.clone(), new_pub.clone()],
            issuer_url: "https://oidc.example/cluster/".into(),
            out: out.clone(),
            allow_insecure_issuer: false,
        })
        .unwrap();
        assert!(summary.contains(new.kid()), "{summary}");
        let jwks: Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("openid/v1/jwks")).unwrap())
                .unwrap();
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(
            kids,
            vec![new.kid(), old.kid()],
            "duplicates dropped, order kept"
        );
        let disco: Value = serde_json::from_str(
            &std::fs::read_to_string(out.join(".well-known/openid-configuration")).unwrap(),
        )
        .unwrap();
        assert_eq!(disco["issuer"], "https://oidc.example/cluster");
        assert_eq!(
            disco["jwks_uri"],
            "https://oidc.example/cluster/openid/v1/jwks"
        );
        assert_eq!(issuer_path(&out).unwrap(), "/cluster");
    }

    #[test]
    fn bad_key_files_and_urls_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let rsa = SigningKey::generate(SigningKeyType::Rsa2048).unwrap();
        let ec = SigningKey::generate(SigningKeyType::EcdsaP256).unwrap();
        let garbage = dir.path().join("garbage.pub");
        std::fs::write(&garbage, "hello").unwrap();
        let private = dir.path().join("sa.key");
        std::fs::write(&private, pem("PRIVATE KEY", rsa.pkcs8_der().expose())).unwrap();
        let rsa_pub = dir.path().join("rsa.pub");
        std::fs::write(&rsa_pub, pem("PUBLIC KEY", &rsa.public_key().spki_der())).unwrap();
        let ec_pub = dir.path().join("ec.pub");
        std::fs::write(&ec_pub, pem("PUBLIC KEY", &ec.public_key().spki_der())).unwrap();

        let err = read_public_keys(std::slice::from_ref(&garbage))
            .unwrap_err()
            .to_string();
        assert!(err.contains("garbage.pub: not a PEM file"), "{err}");
        let err = read_public_keys(&[private]).unwrap_err().to_string();
        assert!(err.contains("sa.key: contains a private key"), "{err}");
        // Mixed types are fine: each key keeps its own type and alg.
        let mixed = read_public_keys(&[rsa_pub.clone(), ec_pub]).unwrap();
        let kinds: Vec<(&str, &str)> = mixed
            .iter()
            .map(|k| (k.material().kty(), k.alg().as_str()))
            .collect();
        assert_eq!(kinds, [("RSA", "RS256"), ("EC", "ES256")]);
        assert_eq!(mixed[1].kid(), ec.kid());
        let err = read_public_keys(&[dir.path().join("nope.pub")]).unwrap_err();
        assert!(
            format!("{err:#}").contains("nope.pub: cannot read"),
            "{err:#}"
        );

        let err = keys(&KeysArgs {
            public_keys: vec![rsa_pub],
            issuer_url: "https://oidc.example/?x=1".into(),
            out: dir.path().join("out"),
            allow_insecure_issuer: false,
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("query"), "{err:#}");
        assert!(!dir.path().join("out").exists());
    }
}
