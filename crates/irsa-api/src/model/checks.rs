//! Request rules of IAM that the service models do not express (they are
//! service-side checks in AWS): OIDC provider URLs, thumbprints, client id
//! counts and unique tag keys. Quota errors use IAM's wording ("Cannot
//! exceed quota for ClientIdsPerOpenIdConnectProvider: 100").

use crate::error::{ApiError, ErrorCode};

/// At most this many client ids per OIDC provider.
pub const MAX_CLIENT_IDS: usize = 100;
/// At most this many thumbprints per OIDC provider.
pub const MAX_THUMBPRINTS: usize = 5;

/// A normalised OIDC provider URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderUrl {
    /// `https://host[:port]/path` (or `http://` when insecure providers are
    /// allowed) with a lower-case host and no trailing slash.
    pub url: String,
    /// The URL without its scheme: the resource part of the provider ARN
    /// (`arn:aws:iam::ACCT:oidc-provider/{arn_suffix}`) and the prefix of
    /// trust-policy condition keys (`{arn_suffix}:aud`).
    pub arn_suffix: String,
}

fn invalid_url(reason: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidInput,
        format!("Invalid value for parameter Url: {reason}"),
    )
}

/// Checks and normalises a provider URL: `https://` only (also `http://`
/// when `allow_http`, i.e. `irsa serve --allow-insecure-issuer`), a host, an
/// optional numeric port, no user info, query or fragment; the host is
/// lower-cased and trailing slashes are dropped (the path keeps its case).
pub fn provider_url(url: &str, allow_http: bool) -> Result<ProviderUrl, ApiError> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid_url("the URL must not contain whitespace"));
    }
    let has_scheme = |scheme: &str| {
        url.len() >= scheme.len() && url[..scheme.len()].eq_ignore_ascii_case(scheme)
    };
    let scheme = if has_scheme("https://") {
        "https://"
    } else if allow_http && has_scheme("http://") {
        "http://"
    } else {
        return Err(invalid_url("the URL must begin with https://"));
    };
    let rest = &url[scheme.len()..];
    if rest.contains('?') || rest.contains('#') {
        return Err(invalid_url("the URL must not have a query or fragment"));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Err(invalid_url("the URL must not contain user information"));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        return Err(invalid_url("the URL must have a valid host name"));
    }
    if let Some(port) = port {
        if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid_url("the port must be a number"));
        }
    }
    let mut suffix = host.to_ascii_lowercase();
    if let Some(port) = port {
        suffix.push(':');
        suffix.push_str(port);
    }
    suffix.push_str(path.trim_end_matches('/'));
    Ok(ProviderUrl {
        url: format!("{scheme}{suffix}"),
        arn_suffix: suffix,
    })
}

/// Thumbprints: at most five, each 40 hexadecimal characters (SHA-1).
pub fn thumbprints(list: &[String]) -> Result<(), ApiError> {
    if list.len() > MAX_THUMBPRINTS {
        return Err(quota(
            "ThumbprintsPerOpenIdConnectProvider",
            MAX_THUMBPRINTS,
        ));
    }
    for t in list {
        if t.len() != 40 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                "Invalid value for parameter ThumbprintList: a thumbprint must be 40 hexadecimal characters",
            ));
        }
    }
    Ok(())
}

/// Client ids: at most 100 per provider (after adding new ones).
pub fn client_id_count(count: usize) -> Result<(), ApiError> {
    if count > MAX_CLIENT_IDS {
        return Err(quota("ClientIdsPerOpenIdConnectProvider", MAX_CLIENT_IDS));
    }
    Ok(())
}

/// IAM's answer to two tags of one request whose keys differ at most in
/// case (IAM tag keys are case-insensitive, the case given is kept).
pub const DUPLICATE_TAG_KEYS: &str =
    "Duplicate tag keys found. Please note that Tag keys are case insensitive.";

/// The tag keys of one request are unique, compared case-insensitively
/// (Unicode lower case: keys may hold any letter); else `InvalidInput`.
pub fn unique_tag_keys<'k>(keys: impl IntoIterator<Item = &'k str>) -> Result<(), ApiError> {
    let mut seen = std::collections::HashSet::new();
    for key in keys {
        if !seen.insert(key.to_lowercase()) {
            return Err(ApiError::new(ErrorCode::InvalidInput, DUPLICATE_TAG_KEYS));
        }
    }
    Ok(())
}

/// `LimitExceeded` in IAM's words: "Cannot exceed quota for PoliciesPerRole: 10".
pub fn quota(name: &str, limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::LimitExceeded,
        format!("Cannot exceed quota for {name}: {limit}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_provider_urls() {
        let p = provider_url("https://OIDC.EKS.us-east-1.amazonaws.com/id/ABCDEF/", false).unwrap();
        assert_eq!(p.url, "https://oidc.eks.us-east-1.amazonaws.com/id/ABCDEF");
        assert_eq!(p.arn_suffix, "oidc.eks.us-east-1.amazonaws.com/id/ABCDEF");
        let p = provider_url("HTTPS://issuer.local:8443", false).unwrap();
        assert_eq!(p.arn_suffix, "issuer.local:8443");
        assert_eq!(p.url, "https://issuer.local:8443");
        assert_eq!(
            provider_url("https://token.actions.githubusercontent.com", false)
                .unwrap()
                .arn_suffix,
            "token.actions.githubusercontent.com"
        );
    }

    #[test]
    fn rejects_bad_provider_urls() {
        for bad in [
            "http://issuer.local",
            "issuer.local",
            "https://",
            "https:///path",
            "https://issuer.local/?x=1",
            "https://issuer.local/#f",
            "https://user@issuer.local",
            "https://issuer.local:port",
            "https://issuer.local:",
            "https://iss uer.local",
            "https://issuer.local/a\n",
        ] {
            let e = provider_url(bad, false).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput, "{bad}");
            assert!(e.message.contains("Url"), "{bad}");
        }
        // Allowing http relaxes only the scheme.
        for bad in [
            "ftp://issuer.local",
            "http://",
            "http://issuer.local/?x=1",
            "http://u@h",
        ] {
            assert!(provider_url(bad, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn http_provider_urls_only_when_allowed() {
        let e = provider_url("http://127.0.0.1:8080", false).unwrap_err();
        assert_eq!(
            e.message,
            "Invalid value for parameter Url: the URL must begin with https://"
        );
        let p = provider_url("HTTP://127.0.0.1:8080/Issuer/", true).unwrap();
        assert_eq!(p.url, "http://127.0.0.1:8080/Issuer");
        assert_eq!(p.arn_suffix, "127.0.0.1:8080/Issuer");
        // https stays https when http is allowed.
        let p = provider_url("https://127.0.0.1:8443", true).unwrap();
        assert_eq!(p.url, "https://127.0.0.1:8443");
    }

    #[test]
    fn tag_keys_are_unique_ignoring_case() {
        assert!(unique_tag_keys(["team", "env", "Team2"]).is_ok());
        assert!(unique_tag_keys([]).is_ok());
        for dup in [["team", "team"], ["Team", "tEAM"], ["Ärger", "ärger"]] {
            let e = unique_tag_keys(dup).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput, "{dup:?}");
            assert_eq!(e.http_status(), 400);
            assert_eq!(
                e.message,
                "Duplicate tag keys found. Please note that Tag keys are case insensitive."
            );
        }
    }

    #[test]
    fn thumbprint_rules() {
        let good = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280".to_owned();
        assert!(thumbprints(std::slice::from_ref(&good)).is_ok());
        assert!(thumbprints(&[]).is_ok());
        let e = thumbprints(&[good[..39].to_owned()]).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert!(e.message.contains("ThumbprintList"));
        assert!(thumbprints(&[format!("{}g", &good[..39])]).is_err());
        let e = thumbprints(&vec![good; 6]).unwrap_err();
        assert_eq!(e.code, ErrorCode::LimitExceeded);
        assert_eq!(
            e.message,
            "Cannot exceed quota for ThumbprintsPerOpenIdConnectProvider: 5"
        );
        assert!(client_id_count(100).is_ok());
        assert_eq!(client_id_count(101).unwrap_err().http_status(), 409);
    }
}
