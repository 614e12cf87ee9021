//! The AWS Query protocol layer of irsa: decoding of STS/IAM requests
//! (form body or query string) into typed, validated per-operation requests,
//! XML/JSON response encoding, the one error type with AWS's code table, and
//! stateless sealed session tokens; and the service itself
//! ([`AwsApi`]: authentication, authorization and the STS/IAM operations
//! against the store).

// Modules other crates reach by path; the rest are private and what other
// crates need of them is re-exported below.
pub mod authorize;
pub mod explain;
pub mod metrics;
pub mod model;
pub mod protocol;
pub mod web_identity;

mod auth;
mod error;
mod iam;
mod lookups;
mod outbound;
mod service;
mod sts;

pub use error::{ApiError, DenialReason, ErrorCode, Fault, PolicyKind};
pub use irsa_auth::session_token;
pub use irsa_auth::{Caller, CallerKind};
pub use irsa_auth::{
    KeyRing, SessionClaims, SessionKey, SessionTokenError, SESSION_TOKEN_KEY_PURPOSE,
};
pub use model::{decode_request, route, service_of, Request};
pub use outbound::{OutboundAlg, OutboundSignerError, OutboundTokenSigner};
pub use protocol::query::{parse_query, Params, QueryRequest};
pub use protocol::response::{Node, ResponseFormat};
pub use service::{
    store_error, AwsApi, ExtensionAction, HttpRequest, HttpResponse, RequestInfo,
    WebIdentityVerifier,
};

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
