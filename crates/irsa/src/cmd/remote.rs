//! A small signed AWS Query client for the binary's commands that talk to a
//! running irsa (`irsa explain --endpoint`, `irsa token issue --endpoint`).
//!
//! Requests are form-encoded POSTs signed with SigV4 (the `aws-sigv4`
//! crate, service `sts`), answered as JSON (`Accept: application/json`).
//! Credentials come from, in order: `AWS_ACCESS_KEY_ID` /
//! `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`; the root credentials file
//! in `--data-dir`; the `AWS_PROFILE` (or `default`) profile of
//! `~/.aws/credentials` (or `AWS_SHARED_CREDENTIALS_FILE`).

use std::fmt;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use irsa_core::{Clock, SecretString, SystemClock};
use serde_json::Value;

/// Region the requests are signed for (irsa accepts any).
pub const DEFAULT_REGION: &str = "us-east-1";

/// Where credentials were found (shown in errors, never the secret).
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub session_token: Option<SecretString>,
    pub source: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Why a call failed.
#[derive(Debug)]
pub enum RemoteError {
    /// The server answered with an AWS error.
    Aws {
        status: u16,
        code: String,
        message: String,
    },
    /// No usable credentials.
    Credentials(String),
    /// Connection, TLS or an answer that is not an AWS response.
    Transport(String),
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteError::Aws {
                status,
                code,
                message,
            } => write!(f, "{code} (HTTP {status}): {message}"),
            RemoteError::Credentials(m) => write!(f, "no credentials: {m}"),
            RemoteError::Transport(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for RemoteError {}

/// Looks up credentials as the module docs describe. `env` reads the
/// environment (tests pass their own).
pub fn resolve_credentials(
    data_dir: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Credentials, RemoteError> {
    let non_empty = |name: &str| env(name).filter(|v| !v.is_empty());
    if let (Some(id), Some(secret)) = (
        non_empty("AWS_ACCESS_KEY_ID"),
        non_empty("AWS_SECRET_ACCESS_KEY"),
    ) {
        return Ok(Credentials {
            access_key_id: id,
            secret_access_key: SecretString::new(secret),
            session_token: non_empty("AWS_SESSION_TOKEN").map(SecretString::new),
            source: "environment".to_owned(),
        });
    }
    if let Some(dir) = data_dir {
        let path = dir.join(irsa_server::bootstrap::ROOT_CREDENTIALS_FILE);
        if path.exists() {
            let (id, secret) = irsa_server::bootstrap::read_credentials_file(&path)
                .map_err(|e| RemoteError::Credentials(format!("{}: {e}", path.display())))?;
            return Ok(Credentials {
                access_key_id: id,
                secret_access_key: secret,
                session_token: None,
                source: path.display().to_string(),
            });
        }
    }
    let file = non_empty("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|h| Path::new(&h).join(".aws").join("credentials")));
    let profile = non_empty("AWS_PROFILE").unwrap_or_else(|| "default".to_owned());
    if let Some(file) = file {
        if let Ok(text) = std::fs::read_to_string(&file) {
            if let Some(c) = profile_credentials(&text, &profile) {
                return Ok(Credentials {
                    source: format!("{} [{profile}]", file.display()),
                    ..c
                });
            }
        }
    }
    Err(RemoteError::Credentials(
        "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, pass --data-dir of the server, or configure a profile in ~/.aws/credentials".to_owned(),
    ))
}

/// The keys of `[profile]` in an `~/.aws/credentials` file.
fn profile_credentials(text: &str, profile: &str) -> Option<Credentials> {
    let mut in_profile = false;
    let (mut id, mut secret, mut token) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_profile = name.trim() == profile;
            continue;
        }
        if !in_profile {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim().to_owned();
            match k.trim() {
                "aws_access_key_id" => id = Some(v),
                "aws_secret_access_key" => secret = Some(v),
                "aws_session_token" => token = Some(v),
                _ => {}
            }
        }
    }
    Some(Credentials {
        access_key_id: id?,
        secret_access_key: SecretString::new(secret?),
        session_token: token.map(SecretString::new),
        source: String::new(),
    })
}

/// `application/x-www-form-urlencoded` with RFC 3986 escaping, as SigV4 clients send.
fn form_encode(pairs: &[(&str, &str)]) -> String {
    fn escape(s: &str, out: &mut String) {
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                out.push(char::from(b));
            } else {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        escape(k, &mut out);
        out.push('=');
        escape(v, &mut out);
    }
    out
}

/// A signed Query client for one endpoint.
#[derive(Debug, Clone)]
pub struct Remote {
    endpoint: String,
    region: String,
    credentials: Credentials,
    client: reqwest::Client,
}

impl Remote {
    pub fn new(endpoint: &str, credentials: Credentials) -> Result<Remote, RemoteError> {
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(RemoteError::Transport(format!(
                "endpoint {endpoint} must start with http:// or https://"
            )));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| RemoteError::Transport(format!("cannot set up HTTP: {e}")))?;
        Ok(Remote {
            endpoint,
            region: DEFAULT_REGION.to_owned(),
            credentials,
            client,
        })
    }

    /// Calls `action` with `params` (Version is added) and returns the JSON
    /// response document; AWS errors come back as [`RemoteError::Aws`].
    pub async fn call(&self, action: &str, params: &[(&str, &str)]) -> Result<Value, RemoteError> {
        let mut pairs = vec![("Action", action), ("Version", "2011-06-15")];
        pairs.extend_from_slice(params);
        let body = form_encode(&pairs);
        let url = format!("{}/", self.endpoint);
        let host = url
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or_default())
            .unwrap_or_default()
            .to_owned();
        let content_type = "application/x-www-form-urlencoded; charset=utf-8";
        let base_headers = [("host", host.as_str()), ("content-type", content_type)];
        let identity = aws_credential_types::Credentials::new(
            &self.credentials.access_key_id,
            self.credentials.secret_access_key.expose(),
            self.credentials
                .session_token
                .as_ref()
                .map(|t| t.expose().to_owned()),
            None,
            "irsa-cli",
        )
        .into();
        let signing_params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("sts")
            .time(SystemClock.now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| RemoteError::Transport(format!("cannot sign: {e}")))?
            .into();
        let signable = SignableRequest::new(
            "POST",
            &url,
            base_headers.iter().copied(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .map_err(|e| RemoteError::Transport(format!("cannot sign: {e}")))?;
        let (instructions, _) = sign(signable, &signing_params)
            .map_err(|e| RemoteError::Transport(format!("cannot sign: {e}")))?
            .into_parts();
        let mut request = self
            .client
            .post(&url)
            .header("content-type", content_type)
            .header("accept", "application/json");
        for (name, value) in instructions.headers() {
            request = request.header(name, value);
        }
        let response =
            request.body(body).send().await.map_err(|e| {
                RemoteError::Transport(format!("cannot reach {}: {e}", self.endpoint))
            })?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| RemoteError::Transport(format!("reading the answer: {e}")))?;
        let json: Option<Value> = serde_json::from_str(&text).ok();
        if status == 200 {
            return json.ok_or_else(|| {
                RemoteError::Transport(format!(
                    "{} answered HTTP 200 with something that is not JSON",
                    self.endpoint
                ))
            });
        }
        let error = json.as_ref().and_then(|j| j.get("Error"));
        match error {
            Some(e) => Err(RemoteError::Aws {
                status,
                code: e
                    .get("Code")
                    .and_then(Value::as_str)
                    .unwrap_or("Unknown")
                    .to_owned(),
                message: e
                    .get("Message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            }),
            None => Err(RemoteError::Transport(format!(
                "{} answered HTTP {status}: {}",
                self.endpoint,
                text.chars().take(200).collect::<String>()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_escapes_like_sigv4() {
        assert_eq!(
            form_encode(&[("Action", "X"), ("RoleArn", "arn:aws:iam::1:role/a b+c")]),
            "Action=X&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fa%20b%2Bc"
        );
    }

    #[test]
    fn credentials_in_order_env_data_dir_profile() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("credentials"),
            "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = s1\n\n[other]\naws_access_key_id=AKIAOTHER\naws_secret_access_key=s2\naws_session_token=t\n",
        )
        .unwrap();
        let file = dir.path().join("credentials").display().to_string();
        let env = |vars: Vec<(&'static str, String)>| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.clone())
            }
        };
        let profile_env = env(vec![
            ("AWS_SHARED_CREDENTIALS_FILE", file.clone()),
            ("AWS_PROFILE", "other".into()),
        ]);
        let c = resolve_credentials(None, &profile_env).unwrap();
        assert_eq!(c.access_key_id, "AKIAOTHER");
        assert_eq!(c.session_token.unwrap().expose(), "t");
        let default_env = env(vec![("AWS_SHARED_CREDENTIALS_FILE", file.clone())]);
        assert_eq!(
            resolve_credentials(None, &default_env)
                .unwrap()
                .access_key_id,
            "AKIADEFAULT"
        );

        let data = tempfile::tempdir().unwrap();
        std::fs::write(
            data.path()
                .join(irsa_server::bootstrap::ROOT_CREDENTIALS_FILE),
            "[irsa-root]\naws_access_key_id = AKIAROOT\naws_secret_access_key = r\n",
        )
        .unwrap();
        assert_eq!(
            resolve_credentials(Some(data.path()), &default_env)
                .unwrap()
                .access_key_id,
            "AKIAROOT"
        );
        let full = env(vec![
            ("AWS_SHARED_CREDENTIALS_FILE", file),
            ("AWS_ACCESS_KEY_ID", "AKIAENV".into()),
            ("AWS_SECRET_ACCESS_KEY", "e".into()),
        ]);
        assert_eq!(
            resolve_credentials(Some(data.path()), &full)
                .unwrap()
                .access_key_id,
            "AKIAENV"
        );
        let nothing = env(vec![]);
        assert!(matches!(
            resolve_credentials(None, &nothing),
            Err(RemoteError::Credentials(_))
        ));
    }
}
