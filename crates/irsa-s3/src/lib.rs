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
//! Also here: S3's error codes and `<Error>` document ([`S3Error`]), the
//! DeleteObjects body and result, object tag parsing, and bucket policy
//! status. AWS's AccessDenied wording is `irsa_auth::Denial`'s (the
//! resource quoted, as S3 prints it).
//!
//! No I/O, no clock, no async: the gateway feeds it bytes and facts.
//!
//! # How the gateway uses it
//!
//! 1. `let request = classify(&config, &RequestInput::from_parts(&parts))?;`
//!    an `Err` is answered as is (`err.status()`, `err.body_for(method, ..)`)
//!    and the request is never forwarded.
//! 2. Verify the signature (irsa-sigv4), then build an [`AuthContext`]
//!    (`auth_type`, TLS version, signature age, bucket-owning account).
//! 3. By [`Operation::body_handling`]:
//!    - `Forward`: `request.authorization(&ctx)?`;
//!    - `ParseTagging`: buffer ≤ [`TAGGING_BODY_LIMIT`],
//!      `request.attach_tagging_body(parse_tagging_xml(&body)?)`, then
//!      `authorization`;
//!    - `ParseDeleteObjects`: buffer ≤ [`DELETE_OBJECTS_BODY_LIMIT`],
//!      `DeleteObjectsRequest::parse`, `delete_objects_authorization`
//!      (one check per entry, same order);
//!    - `BucketPolicy`: [`check_bucket_policy_size`], then `authorization`.
//! 4. For each [`AuthorizationRequest`]: add the `aws:*` global keys; if
//!    `existing_object_tags` is set and an applicable policy mentions
//!    [`EXISTING_OBJECT_TAG_PREFIX`], fetch the object's tags upstream and
//!    call `add_existing_object_tags`; evaluate. Any denial → 403
//!    `AccessDenied` with the denial's message (DeleteObjects: denied
//!    entries go to [`merge_delete_result`] instead).
//! 5. [`Operation::is_answered_by_gateway`] operations are answered from the
//!    store ([`policy_status_xml`], [`is_public_policy`]); the rest are
//!    forwarded.

mod address;
mod authz;
mod bucket_policy;
mod classify;
mod delete_objects;
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
pub use error::{S3Error, S3ErrorCode};
pub use names::{bucket_arn, object_arn, BucketName, ObjectKey, ObjectRef, MAX_KEY_BYTES};
pub use tagging::{parse_tagging_header, parse_tagging_xml, Tag, MAX_TAGS, TAGGING_BODY_LIMIT};
