//! `IssueServiceAccountToken`: an irsa-specific Query action (SigV4-signed,
//! like every other call) that mints a Kubernetes-shaped projected
//! service-account token with the built-in issuer; `irsa token issue
//! --endpoint` calls it. Authorized as `irsa:IssueServiceAccountToken` on
//! the issuer's OIDC provider ARN with the condition keys
//! `irsa:Namespace` and `irsa:ServiceAccount`: root always, others need an
//! Allow.
//!
//! It is served in front of the STS/IAM endpoint so the generated API
//! model stays botocore's; any other action goes on to it unchanged.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use irsa_api::protocol::response::render;
use irsa_api::service::RequestInfo;
use irsa_api::{
    ApiError, ErrorCode, HttpRequest, Node, Params, QueryRequest, ResponseFormat, Service,
};
use irsa_core::SecretString;

use crate::issuer::{self, TokenFields};
use crate::middleware::RequestId;
use crate::AppState;

/// The Query action.
pub const ACTION: &str = "IssueServiceAccountToken";
/// The IAM action policies name.
pub const IAM_ACTION: &str = "irsa:IssueServiceAccountToken";

/// POST `/`: this action, or the STS/IAM endpoint for anything else.
pub async fn handle(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let limit = state.config.body_limit;
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_default();
        let error = ApiError::request_too_large(limit);
        let format = response_format(&parts.headers);
        let (content_type, text) = error.render(Service::Sts, format, &request_id);
        return respond(error.http_status(), content_type, text);
    };
    let query = parts.uri.query().unwrap_or("");
    let is_ours = QueryRequest::decode(
        (!query.is_empty()).then_some(query.as_bytes()),
        (!bytes.is_empty()).then_some(&bytes[..]),
    )
    .is_ok_and(|q| q.action == ACTION);
    if !is_ours {
        let request = Request::from_parts(parts, Body::from(bytes));
        return crate::aws::handle(State(state), request).await;
    }
    let request_id = parts
        .extensions
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let format = response_format(&parts.headers);
    let http = HttpRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query,
        headers: &parts.headers,
        body: &bytes,
        request_id: &request_id,
        source_ip: parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip()),
        secure_transport: state.config.tls.is_some(),
    };
    let (status, (content_type, text)) = match issue(&state, &http).await {
        Ok(node) => (
            200,
            render(Service::Sts, ACTION, Some(&node), &request_id, format),
        ),
        Err(error) => (
            error.http_status(),
            error.render(Service::Sts, format, &request_id),
        ),
    };
    respond(status, content_type, text)
}

fn response_format(headers: &http::HeaderMap) -> ResponseFormat {
    ResponseFormat::from_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()))
}

fn respond(status: u16, content_type: &'static str, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, Body::from(body)).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The token fields from the parameters (`Audiences.member.N`, default
/// `sts.amazonaws.com`; `ExpirationSeconds` default 3600).
pub fn fields(params: &Params) -> Result<TokenFields, ApiError> {
    let required = |name: &str| {
        params
            .get(name)
            .cloned()
            .ok_or_else(|| ApiError::missing_parameter(name))
    };
    let mut audiences: Vec<String> = (1..)
        .map_while(|i| params.get(&format!("Audiences.member.{i}")).cloned())
        .collect();
    if audiences.is_empty() {
        audiences.push("sts.amazonaws.com".to_owned());
    }
    let expiration_seconds = match params.get("ExpirationSeconds") {
        None => 3600,
        Some(v) => v.parse().map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidParameterValue,
                format!("Value '{v}' for ExpirationSeconds is not an integer."),
            )
        })?,
    };
    Ok(TokenFields {
        namespace: required("Namespace")?,
        service_account: required("ServiceAccount")?,
        service_account_uid: params.get("ServiceAccountUid").cloned(),
        audiences,
        expiration_seconds,
        pod_name: params.get("PodName").cloned(),
        pod_uid: params.get("PodUid").cloned(),
        node_name: params.get("NodeName").cloned(),
    })
}

fn param_name(field: &str) -> String {
    match field {
        "namespace" => "Namespace",
        "service-account" => "ServiceAccount",
        "expiration" => "ExpirationSeconds",
        "audience" => "Audiences",
        "pod-uid" => "PodUid",
        "pod-name" => "PodName",
        other => other,
    }
    .to_owned()
}

async fn issue(state: &AppState, http: &HttpRequest<'_>) -> Result<Node, ApiError> {
    let api = &state.api;
    let (caller, _) = irsa_api::auth::authenticate(api, http).await?;
    let q = QueryRequest::decode(
        (!http.query.is_empty()).then_some(http.query.as_bytes()),
        Some(http.body),
    )?;
    let Some(issuer_config) = &state.config.issuer else {
        return Err(ApiError::new(
            ErrorCode::InvalidAction,
            "IssueServiceAccountToken needs the built-in issuer: start irsa serve with --issuer-url",
        ));
    };
    let fields = fields(&q.params)?;
    let provider = irsa_core::Arn::oidc_provider(
        api.account(),
        issuer_config
            .url
            .split_once("://")
            .map_or(issuer_config.url.as_str(), |(_, rest)| rest),
    )
    .to_string();
    if !caller.is_root() {
        let info = RequestInfo {
            request_id: http.request_id.to_owned(),
            source_ip: http.source_ip,
            secure_transport: http.secure_transport,
            region: caller.region.clone(),
        };
        let loaded = irsa_api::authorize::load_policies(api, &caller).await?;
        let mut ctx = irsa_api::authorize::context(
            api,
            &caller,
            IAM_ACTION,
            &provider,
            &info,
            &loaded.principal_tags,
        );
        ctx.insert("irsa:Namespace", fields.namespace.as_str());
        ctx.insert("irsa:ServiceAccount", fields.service_account.as_str());
        let decision = loaded.evaluate(&ctx, None);
        if !decision.is_allowed() {
            let reason = loaded.denial_reason(&ctx, decision);
            return Err(ApiError::not_authorized(
                &caller.arn(),
                IAM_ACTION,
                &provider,
                reason,
            ));
        }
    }
    let request = fields
        .request(&issuer_config.url, param_name)
        .map_err(|problems| ApiError::new(ErrorCode::InvalidParameterValue, problems.join("; ")))?;
    let key = issuer::signing_key(state.store.as_ref(), issuer_config.key_type)
        .await
        .map_err(|err| ApiError::service_failure(&err))?;
    let now = state.clock.unix_seconds();
    let token = request
        .mint(&key, now)
        .map_err(|err| ApiError::service_failure(&err))?;
    tracing::info!(
        caller = %caller.arn(),
        subject = %request.subject(),
        kid = %key.kid(),
        "issued a service-account token"
    );
    let expires = time::OffsetDateTime::from_unix_timestamp(now + request.expiration_seconds)
        .map_err(|err| ApiError::service_failure(&err))?;
    Ok(Node::object()
        .with("Token", Node::Secret(SecretString::new(token)))
        .with("ExpirationTimestamp", Node::timestamp(expires)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_become_token_fields() {
        let mut params = Params::new();
        assert_eq!(
            fields(&params).unwrap_err().code,
            ErrorCode::MissingParameter
        );
        params.insert("Namespace".into(), "default".into());
        params.insert("ServiceAccount".into(), "demo".into());
        let f = fields(&params).unwrap();
        assert_eq!(f.audiences, ["sts.amazonaws.com"]);
        assert_eq!(f.expiration_seconds, 3600);
        params.insert("Audiences.member.1".into(), "a".into());
        params.insert("Audiences.member.2".into(), "b".into());
        params.insert("ExpirationSeconds".into(), "600".into());
        let f = fields(&params).unwrap();
        assert_eq!(f.audiences, ["a", "b"]);
        assert_eq!(f.expiration_seconds, 600);
        params.insert("ExpirationSeconds".into(), "soon".into());
        assert_eq!(
            fields(&params).unwrap_err().code,
            ErrorCode::InvalidParameterValue
        );
        params.insert("ExpirationSeconds".into(), "60".into());
        let problems = fields(&params)
            .unwrap()
            .request("https://issuer.example", param_name)
            .unwrap_err();
        assert!(
            problems[0].starts_with("ExpirationSeconds: 60 s"),
            "{problems:?}"
        );
    }
}
