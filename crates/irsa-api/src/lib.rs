//! The AWS Query front of irsa: STS and IAM on one port.
//!
//! Layers, each using only those above it in this list:
//! - wire: [`protocol`] (Query decoding, XML/JSON encoding), [`model`]
//!   (typed per-operation requests), `error` (the AWS code table),
//!   `respond` (errors as documents), `http`, `metrics`;
//! - state: `lookups` (provider/role cache), `outbound_signer` (the
//!   plugged-in issuer), `context` ([`OperationContext`], [`RequestInfo`]);
//! - `auth` (authentication, via irsa-auth) and [`authorize`]
//!   (authorization: each operation's action and resource, via irsa-auth);
//! - `session` (role sessions: session policies, packed size, minting);
//! - operations: `outbound`, [`web_identity`] (with [`explain`]), `sts`, `iam`;
//! - `service` ([`AwsApi`]): decode → authenticate → authorize → dispatch →
//!   render.

// Modules other crates reach by path; the rest are private and what other
// crates need of them is re-exported below.
pub mod authorize;
pub mod explain;
pub mod model;
pub mod protocol;
pub mod web_identity;

mod auth;
mod context;
mod error;
mod http;
mod iam;
mod invalidation;
mod lookups;
mod metrics;
mod outbound;
mod outbound_signer;
mod respond;
mod service;
mod session;
mod sts;

pub use context::{OperationContext, RequestInfo};
pub use error::{ApiError, DenialReason, ErrorCode, Fault, PolicyKind};
pub use http::{HttpRequest, HttpResponse};
pub use irsa_auth::session_token;
pub use irsa_auth::{Caller, CallerKind};
pub use irsa_auth::{
    KeyRing, SessionClaims, SessionKey, SessionTokenError, SESSION_TOKEN_KEY_PURPOSE,
};
pub use metrics::ApiMetrics;
pub use model::{decode_request, route, service_of, Request};
pub use outbound_signer::{OutboundAlg, OutboundSignerError, OutboundTokenSigner};
pub use protocol::query::{parse_query, Params, QueryRequest};
pub use protocol::response::{Node, ResponseFormat};
pub use service::{AwsApi, ExtensionAction};

/// The two AWS services irsa speaks on one port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Sts,
    Iam,
}

impl Service {
    /// The Query API version clients send in `Version`.
    pub fn api_version(self) -> &'static str {
        match self {
            Service::Sts => "2011-06-15",
            Service::Iam => "2010-05-08",
        }
    }

    /// The XML namespace of responses.
    pub fn xml_namespace(self) -> &'static str {
        match self {
            Service::Sts => "https://sts.amazonaws.com/doc/2011-06-15/",
            Service::Iam => "https://iam.amazonaws.com/doc/2010-05-08/",
        }
    }

    /// The SigV4 signing name (credential scope service).
    pub fn signing_name(self) -> &'static str {
        match self {
            Service::Sts => "sts",
            Service::Iam => "iam",
        }
    }

    /// Parses a SigV4 credential-scope service name.
    pub fn from_signing_name(name: &str) -> Option<Self> {
        match name {
            "sts" => Some(Service::Sts),
            "iam" => Some(Service::Iam),
            _ => None,
        }
    }
}
