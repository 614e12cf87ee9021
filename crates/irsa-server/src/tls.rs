//! HTTPS for `irsa serve`: `--tls-cert`/`--tls-key` (PEM), or
//! `--tls-self-signed`, a throwaway pair generated once into the data dir
//! whose SHA-1 thumbprint (what IAM's OIDC provider wants) is printed.
//!
//! The TLS listener plugs into `axum::serve`, so HTTPS keeps the same
//! graceful shutdown and connection info as plain HTTP. Handshakes run in
//! their own tasks so one slow client cannot stall the accept loop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// File names of the `--tls-self-signed` pair inside the data dir.
pub const SELF_SIGNED_CERT: &str = "tls-self-signed.crt";
pub const SELF_SIGNED_KEY: &str = "tls-self-signed.key";
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS flags of `irsa serve` (apart from `ServeArgs`, like the issuer's).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, env = "IRSA_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "IRSA_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a self-signed certificate generated once into the
    /// data dir (for localhost, 127.0.0.1 and the issuer's host); prints its thumbprint.
    #[arg(long, env = "IRSA_TLS_SELF_SIGNED")]
    pub tls_self_signed: bool,
}

/// Where the certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    Files { cert: PathBuf, key: PathBuf },
    SelfSigned,
}

impl TlsArgs {
    /// `None` for plain HTTP; every problem at once.
    pub fn validate(&self) -> Result<Option<TlsSource>, Vec<String>> {
        match (&self.tls_cert, &self.tls_key, self.tls_self_signed) {
            (None, None, false) => Ok(None),
            (None, None, true) => Ok(Some(TlsSource::SelfSigned)),
            (Some(cert), Some(key), false) => Ok(Some(TlsSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            })),
            (_, _, true) => Err(vec![
                "--tls-self-signed: cannot be combined with --tls-cert/--tls-key".to_owned(),
            ]),
            (Some(_), None, false) => Err(vec!["--tls-cert: needs --tls-key".to_owned()]),
            (None, Some(_), false) => Err(vec!["--tls-key: needs --tls-cert".to_owned()]),
        }
    }
}

/// A loaded certificate, ready to serve.
#[derive(Clone)]
pub struct Tls {
    pub config: Arc<ServerConfig>,
    /// 40-hex SHA-1 of the leaf (top) certificate: IAM's thumbprint.
    pub thumbprint: String,
    pub cert_file: PathBuf,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("thumbprint", &self.thumbprint)
            .field("cert_file", &self.cert_file)
            .finish_non_exhaustive()
    }
}

pub use irsa_oidc::certificate_thumbprint as thumbprint;

/// Loads (or, for `SelfSigned`, creates once) the certificate. `hosts` are
/// the names a self-signed certificate is made for.
pub fn load(source: &TlsSource, data_dir: &Path, hosts: &[String]) -> Result<Tls, String> {
    let (cert, key) = match source {
        TlsSource::Files { cert, key } => (cert.clone(), key.clone()),
        TlsSource::SelfSigned => {
            let cert = data_dir.join(SELF_SIGNED_CERT);
            let key = data_dir.join(SELF_SIGNED_KEY);
            if !cert.exists() || !key.exists() {
                generate_self_signed(&cert, &key, hosts)?;
            }
            (cert, key)
        }
    };
    let chain = CertificateDer::pem_file_iter(&cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| format!("--tls-cert: {}: {}", cert.display(), pem_error(&e)))?;
    let Some(leaf) = chain.first() else {
        return Err(format!(
            "--tls-cert: {}: no CERTIFICATE block (expected PEM)",
            cert.display()
        ));
    };
    let thumbprint = thumbprint(leaf);
    let private = PrivateKeyDer::from_pem_file(&key)
        .map_err(|e| format!("--tls-key: {}: {}", key.display(), pem_error(&e)))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| {
            format!(
                "--tls-key: {} does not fit {}: {e}",
                key.display(),
                cert.display()
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Tls {
        config: Arc::new(config),
        thumbprint,
        cert_file: cert,
    })
}

// Parser errors could quote key material; keep the message generic.
fn pem_error(e: &rustls_pki_types::pem::Error) -> String {
    match e {
        rustls_pki_types::pem::Error::Io(io) => format!("cannot read it: {io}"),
        rustls_pki_types::pem::Error::NoItemsFound => {
            "no PEM block of the expected kind".to_owned()
        }
        _ => "not valid PEM".to_owned(),
    }
}

fn generate_self_signed(cert: &Path, key: &Path, hosts: &[String]) -> Result<(), String> {
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    for host in hosts {
        if !names.contains(host) {
            names.push(host.clone());
        }
    }
    let pair = rcgen::generate_simple_self_signed(names)
        .map_err(|e| format!("--tls-self-signed: cannot generate a certificate: {e}"))?;
    write_private(key, pair.signing_key.serialize_pem().as_bytes())
        .map_err(|e| format!("--tls-self-signed: cannot write {}: {e}", key.display()))?;
    std::fs::write(cert, pair.cert.pem())
        .map_err(|e| format!("--tls-self-signed: cannot write {}: {e}", cert.display()))?;
    tracing::info!(cert = %cert.display(), "generated a self-signed TLS certificate");
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

/// A TLS listener for `axum::serve`: completed handshakes only.
#[derive(Debug)]
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    accept_task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub fn new(listener: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        let accept_task = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(pair) => pair,
                    Err(error) => {
                        // e.g. EMFILE: back off instead of spinning.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send((stream, peer)).await;
                        }
                        Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self {
            local,
            ready,
            accept_task,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(pair) => pair,
            // The accept task never ends while the listener lives.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_combinations() {
        let args = |cert: bool, key: bool, self_signed: bool| TlsArgs {
            tls_cert: cert.then(|| PathBuf::from("c.pem")),
            tls_key: key.then(|| PathBuf::from("k.pem")),
            tls_self_signed: self_signed,
        };
        assert_eq!(args(false, false, false).validate(), Ok(None));
        assert_eq!(
            args(false, false, true).validate(),
            Ok(Some(TlsSource::SelfSigned))
        );
        assert!(matches!(
            args(true, true, false).validate(),
            Ok(Some(TlsSource::Files { .. }))
        ));
        assert!(args(true, false, false).validate().unwrap_err()[0].contains("needs --tls-key"));
        assert!(args(false, true, false).validate().unwrap_err()[0].contains("needs --tls-cert"));
        assert!(args(true, true, true).validate().unwrap_err()[0].contains("cannot be combined"));
    }

    #[test]
    fn self_signed_pair_is_made_once_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = ["issuer.test".to_owned()];
        let first = load(&TlsSource::SelfSigned, dir.path(), &hosts).unwrap();
        assert_eq!(first.thumbprint.len(), 40);
        let der = CertificateDer::pem_file_iter(dir.path().join(SELF_SIGNED_CERT))
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(first.thumbprint, thumbprint(&der));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(SELF_SIGNED_KEY))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A restart reuses the pair, so a registered thumbprint stays valid.
        let again = load(&TlsSource::SelfSigned, dir.path(), &hosts).unwrap();
        assert_eq!(again.thumbprint, first.thumbprint);

        let not_pem = dir.path().join("cert.txt");
        std::fs::write(&not_pem, "hello").unwrap();
        let err = load(
            &TlsSource::Files {
                cert: not_pem,
                key: dir.path().join(SELF_SIGNED_KEY),
            },
            dir.path(),
            &[],
        )
        .unwrap_err();
        assert!(
            err.contains("--tls-cert") && err.contains("cert.txt"),
            "{err}"
        );
        // The certificate given as the key.
        let err = load(
            &TlsSource::Files {
                cert: dir.path().join(SELF_SIGNED_CERT),
                key: dir.path().join(SELF_SIGNED_CERT),
            },
            dir.path(),
            &[],
        )
        .unwrap_err();
        assert!(
            err.contains("--tls-key") && err.contains(SELF_SIGNED_CERT),
            "{err}"
        );
    }
}
