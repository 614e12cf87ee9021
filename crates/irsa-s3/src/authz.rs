//! What IAM must allow for a request: (action, resource, condition keys)
//! triples, every one of which must be allowed.

use irsa_core::AccountId;

use crate::names::ObjectRef;
use crate::tagging::Tag;

/// The values of one condition key. `Multi` keys are the ones policies
/// test with `ForAnyValue:`/`ForAllValues:` (`s3:RequestObjectTagKeys`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConditionValues {
    Single(String),
    Multi(Vec<String>),
}

impl ConditionValues {
    /// The values, whatever the arity.
    pub fn values(&self) -> &[String] {
        match self {
            ConditionValues::Single(v) => std::slice::from_ref(v),
            ConditionValues::Multi(v) => v,
        }
    }
}

/// How the request was authenticated, for `s3:authType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    /// SigV4 `Authorization` header: `REST-HEADER`.
    Header,
    /// Presigned URL: `REST-QUERY-STRING`.
    QueryString,
    /// Browser POST form: `POST`.
    Post,
}

impl AuthType {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::Header => "REST-HEADER",
            AuthType::QueryString => "REST-QUERY-STRING",
            AuthType::Post => "POST",
        }
    }
}

/// The value of `s3:signatureversion` for every request the gateway verifies.
pub const SIGNATURE_VERSION_V4: &str = "AWS4-HMAC-SHA256";

/// Facts about the connection and the signature that S3 condition keys
/// expose; the gateway fills it after verification. `aws:*` global keys
/// are not here: the gateway adds those itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthContext {
    /// `None` for an anonymous (unsigned) request: no `s3:authType` and no
    /// `s3:signatureversion`.
    pub auth_type: Option<AuthType>,
    /// `s3:TlsVersion` as S3 gives it (`"1.2"`, `"1.3"`); `None` over plain HTTP.
    pub tls_version: Option<String>,
    /// `s3:signatureAge` in milliseconds (now − `X-Amz-Date`).
    pub signature_age_ms: Option<u64>,
    /// `s3:ResourceAccount`: the account that owns the buckets.
    pub resource_account: Option<AccountId>,
}

impl AuthContext {
    fn keys(&self) -> Vec<(String, ConditionValues)> {
        let mut keys = Vec::new();
        if let Some(auth_type) = self.auth_type {
            keys.push(single("s3:authType", auth_type.as_str()));
            keys.push(single("s3:signatureversion", SIGNATURE_VERSION_V4));
        }
        if let Some(tls) = &self.tls_version {
            keys.push(single("s3:TlsVersion", tls));
        }
        if let Some(age) = self.signature_age_ms {
            keys.push(single("s3:signatureAge", &age.to_string()));
        }
        if let Some(account) = &self.resource_account {
            keys.push(single("s3:ResourceAccount", account.as_str()));
        }
        keys
    }
}

pub(crate) fn single(name: &str, value: &str) -> (String, ConditionValues) {
    (name.to_owned(), ConditionValues::Single(value.to_owned()))
}

/// One check: `action` on `resource` with `condition_keys` must be allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    /// `s3:GetObject`…
    pub action: &'static str,
    /// `arn:aws:s3:::bucket`, `arn:aws:s3:::bucket/key`, or `*` (ListBuckets).
    pub resource: String,
    /// S3's condition keys for this check (names in AWS's spelling;
    /// condition key names are case-insensitive).
    pub condition_keys: Vec<(String, ConditionValues)>,
    /// Set when the action supports `s3:ExistingObjectTag/<k>`: the object
    /// whose current tags those keys describe. The gateway fetches them
    /// (GetObjectTagging upstream) only when a policy that applies mentions
    /// `s3:ExistingObjectTag/`, then calls [`add_existing_object_tags`](Self::add_existing_object_tags).
    pub existing_object_tags: Option<ObjectRef>,
}

/// The prefix a gateway can search policy text for (case-insensitively)
/// to decide whether fetching existing tags is worth an upstream call.
pub const EXISTING_OBJECT_TAG_PREFIX: &str = "s3:ExistingObjectTag/";

impl AuthorizationRequest {
    pub(crate) fn new(action: &'static str, resource: String) -> Self {
        Self {
            action,
            resource,
            condition_keys: Vec::new(),
            existing_object_tags: None,
        }
    }

    /// Adds `s3:ExistingObjectTag/<k>` = value for each current tag of the
    /// object. A no-op for actions that do not support the key.
    pub fn add_existing_object_tags(&mut self, tags: &[Tag]) {
        if self.existing_object_tags.is_none() {
            return;
        }
        for tag in tags {
            self.condition_keys.push((
                format!("{EXISTING_OBJECT_TAG_PREFIX}{}", tag.key),
                ConditionValues::Single(tag.value.clone()),
            ));
        }
    }

    /// The values of condition key `name` (case-insensitive).
    pub fn condition(&self, name: &str) -> Option<&ConditionValues> {
        self.condition_keys
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    pub(crate) fn with_context(mut self, ctx: &AuthContext) -> Self {
        self.condition_keys.extend(ctx.keys());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{BucketName, ObjectKey};

    #[test]
    fn context_keys() {
        let ctx = AuthContext {
            auth_type: Some(AuthType::QueryString),
            tls_version: Some("1.3".into()),
            signature_age_ms: Some(1500),
            resource_account: Some(AccountId::default()),
        };
        let req =
            AuthorizationRequest::new("s3:GetObject", "arn:aws:s3:::b/k".into()).with_context(&ctx);
        let get = |k: &str| req.condition(k).map(|v| v.values().to_vec());
        assert_eq!(get("s3:authtype"), Some(vec!["REST-QUERY-STRING".into()]));
        assert_eq!(
            get("s3:signatureversion"),
            Some(vec!["AWS4-HMAC-SHA256".into()])
        );
        assert_eq!(get("s3:TlsVersion"), Some(vec!["1.3".into()]));
        assert_eq!(get("s3:signatureAge"), Some(vec!["1500".into()]));
        assert_eq!(get("s3:ResourceAccount"), Some(vec!["123456789012".into()]));
        let anonymous = AuthorizationRequest::new("s3:GetObject", "x".into())
            .with_context(&AuthContext::default());
        assert!(anonymous.condition_keys.is_empty());
    }

    #[test]
    fn existing_tags_only_where_supported() {
        let object = ObjectRef {
            bucket: BucketName::parse("bkt").unwrap(),
            key: ObjectKey::new("k").unwrap(),
            version_id: None,
        };
        let mut with = AuthorizationRequest::new("s3:GetObject", object.arn());
        with.existing_object_tags = Some(object);
        with.add_existing_object_tags(&[Tag::new("team", "a")]);
        assert_eq!(
            with.condition("s3:ExistingObjectTag/team"),
            Some(&ConditionValues::Single("a".into()))
        );
        let mut without = AuthorizationRequest::new("s3:DeleteObject", "arn:aws:s3:::bkt/k".into());
        without.add_existing_object_tags(&[Tag::new("team", "a")]);
        assert!(without.condition_keys.is_empty());
    }
}
