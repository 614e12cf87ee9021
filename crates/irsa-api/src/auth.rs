//! Authentication: SigV4 with long-term keys from the store, or temporary
//! keys sealed inside session tokens (no database read for those).

use irsa_core::{Arn, SecretString};
use irsa_sigv4::{Payload, RequestParts, SigV4Error};
use irsa_store::{AccessKeyStatus, KeyOwner, StoreError};

use crate::error::{ApiError, ErrorCode};
use crate::service::{store_error, AwsApi, HttpRequest};
use crate::session_token::{open_at, SessionClaims, SessionPrincipal, SessionTokenError};
use crate::Service;

/// Who signed the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerKind {
    /// The account root with its long-term key.
    Root,
    /// An IAM user with a long-term key.
    User {
        name: String,
        id: String,
        arn: String,
    },
    /// A role session (AssumeRole*).
    RoleSession {
        role_name: String,
        role_arn: String,
        /// `AROA…`
        role_id: String,
        session_name: String,
    },
    /// GetSessionToken credentials of an IAM user.
    UserSession {
        name: String,
        id: String,
        arn: String,
    },
    /// GetSessionToken credentials of the root.
    RootSession,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub kind: CallerKind,
    pub account: String,
    /// The access key id that signed (`AKIA…` or `ASIA…`).
    pub access_key_id: String,
    /// The opened session token, for temporary credentials.
    pub session: Option<SessionClaims>,
    /// Region of the SigV4 credential scope.
    pub region: String,
}

impl Caller {
    pub fn is_root(&self) -> bool {
        matches!(self.kind, CallerKind::Root | CallerKind::RootSession)
    }

    /// The ARN GetCallerIdentity reports (and AccessDenied messages name).
    pub fn arn(&self) -> String {
        match &self.kind {
            CallerKind::Root | CallerKind::RootSession => {
                format!("arn:aws:iam::{}:root", self.account)
            }
            CallerKind::User { arn, .. } | CallerKind::UserSession { arn, .. } => arn.clone(),
            CallerKind::RoleSession {
                role_name,
                session_name,
                ..
            } => format!(
                "arn:aws:sts::{}:assumed-role/{role_name}/{session_name}",
                self.account
            ),
        }
    }

    /// `UserId` of GetCallerIdentity (`aws:userid`).
    pub fn user_id(&self) -> String {
        match &self.kind {
            CallerKind::Root | CallerKind::RootSession => self.account.clone(),
            CallerKind::User { id, .. } | CallerKind::UserSession { id, .. } => id.clone(),
            CallerKind::RoleSession {
                role_id,
                session_name,
                ..
            } => format!("{role_id}:{session_name}"),
        }
    }

    /// The IAM user name, for users and their GetSessionToken sessions.
    pub fn user_name(&self) -> Option<&str> {
        match &self.kind {
            CallerKind::User { name, .. } | CallerKind::UserSession { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// Maps a SigV4 failure onto the API error of the same code.
pub fn sigv4_error(e: &SigV4Error) -> ApiError {
    let code = ErrorCode::from_code(e.code()).unwrap_or(ErrorCode::SignatureDoesNotMatch);
    ApiError::new(code, e.message())
}

/// Authenticates a signed request: the caller and the service of the credential scope.
pub async fn authenticate(
    api: &AwsApi,
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
    let parsed = irsa_sigv4::parse(&parts).map_err(|e| sigv4_error(&e))?;
    let access_key_id = parsed.access_key_id().to_owned();
    let account = api.account().as_str().to_owned();
    let region = parsed.region().to_owned();
    let (kind, secret, session): (CallerKind, SecretString, Option<SessionClaims>) =
        if access_key_id.starts_with("ASIA") {
            let token = parsed
                .security_token()
                .ok_or_else(ApiError::invalid_client_token_id)?;
            let opened = open_at(token.expose(), &api.key_ring(), api.clock().as_ref());
            let claims = match opened {
                // Maybe sealed under a key another replica added since we loaded the ring.
                Err(SessionTokenError::Invalid) if api.refresh_key_ring().await => {
                    open_at(token.expose(), &api.key_ring(), api.clock().as_ref())?
                }
                other => other?,
            };
            if claims.access_key_id != access_key_id || claims.account.as_str() != account {
                return Err(ApiError::invalid_client_token_id());
            }
            let kind = match &claims.principal {
                SessionPrincipal::AssumedRole {
                    role_arn,
                    role_id,
                    session_name,
                } => {
                    let role_name = role_arn
                        .parse::<Arn>()
                        .map(|a| a.resource_name().to_owned())
                        .map_err(|_| ApiError::invalid_client_token_id())?;
                    CallerKind::RoleSession {
                        role_name,
                        role_arn: role_arn.clone(),
                        role_id: role_id.clone(),
                        session_name: session_name.clone(),
                    }
                }
                SessionPrincipal::User { user_arn, user_id } => {
                    let name = user_arn
                        .parse::<Arn>()
                        .map(|a| a.resource_name().to_owned())
                        .map_err(|_| ApiError::invalid_client_token_id())?;
                    CallerKind::UserSession {
                        name,
                        id: user_id.clone(),
                        arn: user_arn.clone(),
                    }
                }
                SessionPrincipal::Root => CallerKind::RootSession,
                // irsa issues no federation tokens; such a token is not ours.
                SessionPrincipal::FederatedUser { .. } => {
                    return Err(ApiError::invalid_client_token_id())
                }
            };
            let secret = claims.secret_access_key.clone();
            (kind, secret, Some(claims))
        } else {
            let key = match api.store().get_access_key(&access_key_id).await {
                Ok(k) => k,
                Err(StoreError::NotFound { .. }) => return Err(ApiError::invalid_client_token_id()),
                Err(e) => return Err(store_error(e)),
            };
            if key.key.status != AccessKeyStatus::Active {
                return Err(ApiError::invalid_client_token_id());
            }
            let kind = match &key.key.owner {
                KeyOwner::Root => CallerKind::Root,
                KeyOwner::User(name) => match api.store().get_user(name).await {
                    Ok(u) => CallerKind::User {
                        name: u.name,
                        id: u.id,
                        arn: u.arn,
                    },
                    Err(StoreError::NotFound { .. }) => {
                        return Err(ApiError::invalid_client_token_id())
                    }
                    Err(e) => return Err(store_error(e)),
                },
            };
            (kind, key.secret, None)
        };
    let verified = irsa_sigv4::verify(&parsed, &parts, &secret, api.clock().now())
        .map_err(|e| sigv4_error(&e))?;
    if session.is_none() {
        api.note_key_use(&access_key_id, verified.service(), verified.region());
    }
    let service = Service::from_signing_name(verified.service());
    Ok((
        Caller {
            kind,
            account,
            access_key_id,
            session,
            region,
        },
        service,
    ))
}
