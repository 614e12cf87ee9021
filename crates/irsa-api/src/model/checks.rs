//! Request rules of IAM that the service models do not express (they are
//! service-side checks in AWS): OIDC provider URLs, thumbprints and client
//! id counts. Quota errors use IAM's wording ("Cannot exceed quota for
//! ClientIdsPerOpenIdConnectProvider: 100").

use crate::error::{ApiError, ErrorCode};

/// At most this many client ids per OIDC provider.
pub const MAX_CLIENT_IDS: usize = 100;
/// At most this many thumbprints per OIDC provider.
pub const MAX_THUMBPRINTS: usize = 5;

/// A normalised OIDC provider URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderUrl {
    /// `https://host[:port]/path` with a lower-case host and no trailing slash.
    pub url: String,
    /// The URL without `https://`: the resource part of the provider ARN
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

/// Checks and normalises a provider URL: `https://` only, a host, an
/// optional numeric port, no user info, query or fragment; the host is
/// lower-cased and trailing slashes are dropped (the path keeps its case).
pub fn provider_url(url: &str) -> Result<ProviderUrl, ApiError> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid_url("the URL must not contain whitespace"));
    }
    let scheme_len = "https://".len();
    if url.len() < scheme_len || !url[..scheme_len].eq_ignore_ascii_case("https://") {
        return Err(invalid_url("the URL must begin with https://"));
    }
    let rest = &url[scheme_len..];
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
        url: format!("https://{suffix}"),
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
        let p = provider_url("https://OIDC.EKS.us-east-1.amazonaws.com/id/ABCDEF/").unwrap();
        assert_eq!(p.url, "https://oidc.eks.us-east-1.amazonaws.com/id/ABCDEF");
        assert_eq!(p.arn_suffix, "oidc.eks.us-east-1.amazonaws.com/id/ABCDEF");
        let p = provider_url("HTTPS://issuer.local:8443").unwrap();
        assert_eq!(p.arn_suffix, "issuer.local:8443");
        assert_eq!(p.url, "https://issuer.local:8443");
        assert_eq!(
            provider_url("https://token.actions.githubusercontent.com")
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
            let e = provider_url(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput, "{bad}");
            assert!(e.message.contains("Url"), "{bad}");
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
