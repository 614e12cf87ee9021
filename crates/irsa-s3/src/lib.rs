//! The pure half of irsa's S3 gateway.
//!
//! Given a request's method, host, raw path, raw query and headers,
//! [`classify`] says which S3 operation it is, which bucket and key it
//! addresses (path-style or virtual-hosted, the key decoded exactly once),
//! and [`S3Request::authorization`] lists the IAM checks — (action,
//! resource, condition keys) — that must all be allowed. Anything the
//! gateway does not support is a 501 `NotImplemented` error from
//! `classify`, so it can never be forwarded unauthorized.
//!
//! Also here: S3's error codes and `<Error>` document ([`S3Error`]), AWS's
//! AccessDenied wording ([`access_denied_message`]), the DeleteObjects
//! body and result, object tag parsing, and bucket policy status.
//!
//! No I/O, no clock, no async: the gateway feeds it bytes and facts.

mod address;
mod authz;
mod bucket_policy;
mod classify;
mod delete_objects;
mod denial;
mod error;
mod names;
mod tagging;
mod xml;

pub use address::{resolve_target, Addressing, AddressingConfig, RequestInput, Target};
pub use authz::{
    AuthContext, AuthType, AuthorizationRequest, ConditionValues, EXISTING_OBJECT_TAG_PREFIX,
    SIGNATURE_VERSION_V4,
};
pub use bucket_policy::{
    check_bucket_policy_size, is_public_policy, policy_status_xml, BUCKET_POLICY_MAX_BYTES,
};
pub use classify::{classify, BodyHandling, CopySource, Operation, S3Request};
pub use delete_objects::{
    merge_delete_result, DeleteObjectEntry, DeleteObjectsRequest, DELETE_OBJECTS_BODY_LIMIT,
    MAX_DELETE_OBJECTS,
};
pub use denial::{access_denied, access_denied_message, DenialReason, PolicyType};
pub use error::{S3Error, S3ErrorCode};
pub use names::{bucket_arn, object_arn, BucketName, ObjectKey, ObjectRef, MAX_KEY_BYTES};
pub use tagging::{parse_tagging_header, parse_tagging_xml, Tag, MAX_TAGS, TAGGING_BODY_LIMIT};
