//! The IAM policy language: parse and validate policy documents, evaluate
//! requests against them, and explain every decision.
//!
//! Pure: no I/O, no clock of its own (the request context carries the time).
//!
//! ```
//! use irsa_policy::*;
//! let trust = Policy::parse(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
//!   "Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/example.com"},
//!   "Action":"sts:AssumeRoleWithWebIdentity",
//!   "Condition":{"StringEquals":{"example.com:sub":"system:serviceaccount:default:app"}}}}"#,
//!   PolicyKind::Trust).unwrap();
//! let ctx = RequestContext::new(
//!     RequestPrincipal::web_identity("arn:aws:iam::123456789012:oidc-provider/example.com", "123456789012"),
//!     "sts:AssumeRoleWithWebIdentity",
//!     "arn:aws:iam::123456789012:role/app",
//!     time::OffsetDateTime::UNIX_EPOCH,
//! ).with("example.com:sub", "system:serviceaccount:default:app");
//! let set = PolicySet::trust(PolicySource::new("trust", &trust), true);
//! assert_eq!(evaluate(&ctx, &set), Decision::Allow);
//! ```
//!
//! The account root is not special-cased: callers that let root bypass
//! identity policies (IAM calls) or refuse it (`Roles may not be assumed by
//! root accounts.`) do so before evaluating.

mod bucket;
mod condition;
mod context;
mod error;
mod eval;
mod json;
pub mod limits;
mod pattern;
mod policy;
mod principal;

pub use bucket::BucketPolicyError;
pub use condition::{ConditionBlock, ConditionEntry, ConditionOperator, Operator, SetQualifier};
pub use context::{ContextValues, PrincipalKind, RequestContext, RequestPrincipal};
pub use error::PolicyError;
pub use eval::{
    evaluate, evaluate_outcome, evaluate_with_trace, Decision, DenyReason, Mismatch, Outcome,
    PolicyRole, PolicySet, PolicySource, PolicyTrace, StatementRef, StatementTrace, Trace,
};
pub use limits::{minified_len, SizeLimit};
pub use policy::{Effect, Policy, PolicyKind, Statement, Version};
pub use principal::{AwsPrincipal, PrincipalMatch, Principals};
