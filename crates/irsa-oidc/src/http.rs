//! Bounded HTTPS GETs for discovery and JWKS documents.

use std::time::Duration;

use reqwest::header::{HeaderMap, ACCEPT, CACHE_CONTROL};

/// Why a fetch failed. Messages are for operators (logs, `irsa explain`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("TLS certificate matched no configured thumbprint")]
    Thumbprint,
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("response body exceeds the limit of {0} bytes")]
    TooLarge(usize),
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("redirect refused: {0}")]
    Redirect(String),
    #[error("{0}")]
    Network(String),
}

/// Limits for one GET.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub total: Duration,
    pub max_body: usize,
}

pub(crate) struct Fetched {
    pub body: Vec<u8>,
    pub max_age: Option<u64>,
}

fn classify(e: &reqwest::Error) -> FetchError {
    // The rustls error sits deep in the source chain; its Debug form survives.
    let debug = format!("{e:?}");
    if debug.contains("ThumbprintMismatch") {
        return FetchError::Thumbprint;
    }
    if e.is_redirect() {
        return FetchError::Redirect(chain(e));
    }
    if e.is_timeout() {
        return FetchError::Timeout(Duration::ZERO);
    }
    FetchError::Network(chain(e))
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

/// `max-age` from Cache-Control (`no-store`/`no-cache` count as 0).
pub(crate) fn max_age(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get(CACHE_CONTROL)?.to_str().ok()?;
    let mut out = None;
    for directive in value.split(',') {
        let d = directive.trim().to_ascii_lowercase();
        if d == "no-store" || d == "no-cache" {
            return Some(0);
        }
        if let Some(v) = d.strip_prefix("max-age=") {
            out = v.trim_matches('"').parse().ok();
        }
    }
    out
}

/// GET `url` with an overall deadline and a body cap enforced while
/// streaming, so a 50 MB (or endless, or trickling) body costs at most
/// `max_body` bytes and `total` time.
pub(crate) async fn get(
    client: &reqwest::Client,
    url: &str,
    limits: Limits,
) -> Result<Fetched, FetchError> {
    let work = async {
        let mut resp = client
            .get(url)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| classify(&e))?;
        if !resp.status().is_success() {
            return Err(FetchError::Status(resp.status().as_u16()));
        }
        if resp
            .content_length()
            .is_some_and(|n| n > limits.max_body as u64)
        {
            return Err(FetchError::TooLarge(limits.max_body));
        }
        let max_age = max_age(resp.headers());
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| classify(&e))? {
            if body.len() + chunk.len() > limits.max_body {
                return Err(FetchError::TooLarge(limits.max_body));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched { body, max_age })
    };
    match tokio::time::timeout(limits.total, work).await {
        Ok(Err(FetchError::Timeout(_))) | Err(_) => Err(FetchError::Timeout(limits.total)),
        Ok(other) => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn parses_max_age() {
        let mut h = HeaderMap::new();
        assert_eq!(max_age(&h), None);
        h.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        );
        assert_eq!(max_age(&h), Some(3600));
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        assert_eq!(max_age(&h), Some(0));
        h.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=junk"));
        assert_eq!(max_age(&h), None);
    }
}
