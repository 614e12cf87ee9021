//! The AWS Query endpoint (`/`): STS and IAM (and irsa's own extension
//! actions) on one port. The body limit is enforced here; the API renders
//! every answer, errors included.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use irsa_api::{ApiError, HttpRequest};

use crate::middleware::RequestId;
use crate::AppState;

pub async fn handle(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let request_id = parts
        .extensions
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let source_ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let limit = state.config.body_limit;
    let Ok(body) = axum::body::to_bytes(body, limit).await else {
        let accept = parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        let response = state
            .api
            .reject(&ApiError::request_too_large(limit), accept, &request_id);
        return respond(response.status, response.content_type, response.body);
    };
    let response = state
        .api
        .handle(HttpRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
            body: &body,
            request_id: &request_id,
            source_ip,
            secure_transport: state.config.tls.is_some(),
        })
        .await;
    respond(response.status, response.content_type, response.body)
}

fn respond(status: u16, content_type: &'static str, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, Body::from(body)).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
