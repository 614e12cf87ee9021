//! irsa's service gateway: the I/O front that puts AWS's IAM in front of a
//! store that has none.
//!
//! For every request, whatever the service:
//!
//! 1. read the head (bounded header count/size, header read timeout, one
//!    task per connection so a slow client blocks nobody);
//! 2. authenticate it with the shared core ([`irsa_auth::Authenticator`]);
//! 3. classify it into IAM checks (a pure, per-service function: for S3,
//!    [`irsa_s3::classify`]);
//! 4. authorize every check with [`irsa_auth::Authorizer`], the resource's
//!    policy included;
//! 5. answer locally or re-sign for the upstream with the gateway's own key
//!    and stream the body both ways, verifying it on the way
//!    ([`body`]: the payload hash, aws-chunked signatures and checksums;
//!    a body that turns out bad aborts the upstream request, so no object
//!    appears).
//!
//! Steps 1, 2, 4 and 5 live in [`Pipeline`] and know no service; a service
//! plugs in as a [`Front`] (S3: [`S3Front`]). A DynamoDB front would be a
//! second `Front` using the same pipeline.

pub mod body;
mod bucket_policies;
pub mod error;
mod front;
pub mod metrics;
mod oversized;
mod pipeline;
mod s3;
pub mod server;
pub mod upstream;

pub use bucket_policies::{BucketPolicies, LoadedBucketPolicy, BUCKET_POLICY_CACHE_TTL};
pub use front::{ConnectionInfo, Front};
pub use metrics::GatewayMetrics;
pub use pipeline::{signed_request, Pipeline};
pub use s3::{auth_context, IamChecks, S3Front, S3FrontConfig};
pub use server::{serve, ServerOptions};
pub use upstream::{sign_s3, S3Credentials, Upstream, UpstreamConfig, UpstreamError};
