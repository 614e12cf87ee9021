//! The Query front's use of the shared authenticator: a buffered STS/IAM
//! request → the verified caller and the service its scope names.

use std::sync::LazyLock;

use irsa_auth::{Authenticator, Caller};
use irsa_sigv4::{Payload, RequestParts, SigV4Config};

use crate::error::ApiError;
use crate::http::HttpRequest;
use crate::Service;

/// STS and IAM, any region, the non-S3 canonical rules.
static QUERY_SIGV4: LazyLock<SigV4Config> = LazyLock::new(SigV4Config::default);

/// Authenticates a signed request: the caller and the service of the credential scope.
pub(crate) async fn authenticate(
    authenticator: &Authenticator,
    request: &HttpRequest<'_>,
) -> Result<(Caller, Option<Service>), ApiError> {
    let mut parts = RequestParts::new(
        request.method,
        request.path,
        request.query,
        Payload::Bytes(request.body),
    );
    for (name, value) in request.headers {
        parts = parts.header(name.as_str(), value.as_bytes());
    }
    let authenticated = authenticator.authenticate(&QUERY_SIGV4, &parts).await?;
    let service = Service::from_signing_name(authenticated.signature().service());
    Ok((authenticated.into_caller(), service))
}
