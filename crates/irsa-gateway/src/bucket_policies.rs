//! Bucket policies: kept in irsa's store, read through a short cache.
//!
//! Consistency: a Put/DeleteBucketPolicy through this process replaces the
//! cached entry at once; a change made through another replica is seen
//! within [`BUCKET_POLICY_CACHE_TTL`] (the 5 s bound the docs promise).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use irsa_core::SharedClock;
use irsa_policy::{Policy, PolicyError, PolicyKind, SizeLimit};
use irsa_s3::AuthorizationRequest;
use irsa_store::Store;
use time::{Duration, OffsetDateTime};

use crate::s3::bucket_of;

/// How long a bucket's policy (or its absence) read from the store is trusted.
pub const BUCKET_POLICY_CACHE_TTL: Duration = Duration::seconds(5);

/// Bound on cached buckets, so requests for made-up bucket names cannot
/// grow memory without limit.
const CACHE_MAX: usize = 10_000;

/// A stored bucket policy, parsed.
#[derive(Debug)]
pub struct LoadedBucketPolicy {
    /// `bucket-policy:BUCKET`, as traces and audit lines name it.
    pub id: String,
    pub document: String,
    pub policy: Policy,
    /// Whether a condition names `s3:ExistingObjectTag/…` (the object's
    /// tags are fetched upstream only then), found once on load.
    pub names_existing_object_tag: bool,
}

impl LoadedBucketPolicy {
    fn new(bucket: &str, document: String, policy: Policy) -> Self {
        Self {
            id: policy_id(bucket),
            names_existing_object_tag: irsa_auth::ConditionKeys::of([&policy])
                .any_with_prefix(irsa_s3::EXISTING_OBJECT_TAG_PREFIX),
            document,
            policy,
        }
    }
}

#[derive(Debug, Clone)]
struct Cached {
    policy: Option<Arc<LoadedBucketPolicy>>,
    loaded: OffsetDateTime,
}

/// The bucket policies of the account, cached.
#[derive(Debug)]
pub struct BucketPolicies {
    store: Arc<dyn Store>,
    clock: SharedClock,
    cache: RwLock<HashMap<String, Cached>>,
    /// Bumped by local writes so a read that started before one does not
    /// put the old policy back.
    generation: AtomicU64,
}

/// The store failed (safe to log).
#[derive(Debug, Clone, thiserror::Error)]
#[error("bucket policy store unavailable: {0}")]
pub struct StoreUnavailable(pub String);

impl BucketPolicies {
    pub fn new(store: Arc<dyn Store>, clock: SharedClock) -> Self {
        Self {
            store,
            clock,
            cache: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// Validates a document as S3 does on PutBucketPolicy: a resource
    /// policy (Principal required) of at most 20 KB.
    pub fn validate(document: &str) -> Result<Policy, PolicyError> {
        Policy::parse(document, PolicyKind::Resource)
    }

    /// The bucket's policy, `None` when it has none.
    pub async fn get(
        &self,
        bucket: &str,
    ) -> Result<Option<Arc<LoadedBucketPolicy>>, StoreUnavailable> {
        let now = self.clock.now_utc();
        if let Ok(cache) = self.cache.read() {
            if let Some(entry) = cache.get(bucket) {
                if now - entry.loaded < BUCKET_POLICY_CACHE_TTL {
                    return Ok(entry.policy.clone());
                }
            }
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let stored = self
            .store
            .get_bucket_policy(bucket)
            .await
            .map_err(|e| StoreUnavailable(e.to_string()))?;
        let policy = stored.map(|stored| Arc::new(load(bucket, stored.document)));
        if self.generation.load(Ordering::SeqCst) == generation {
            self.remember(bucket, policy.clone(), now);
        }
        Ok(policy)
    }

    /// The policies of the buckets `checks` touch, by bucket name (buckets
    /// without one are absent).
    pub async fn for_checks(
        &self,
        checks: &[AuthorizationRequest],
    ) -> Result<HashMap<String, Arc<LoadedBucketPolicy>>, StoreUnavailable> {
        let mut out = HashMap::new();
        for check in checks {
            let Some(bucket) = bucket_of(&check.resource) else {
                continue;
            };
            if out.contains_key(bucket) {
                continue;
            }
            if let Some(policy) = self.get(bucket).await? {
                out.insert(bucket.to_owned(), policy);
            }
        }
        Ok(out)
    }

    /// Stores a validated policy and caches it.
    pub async fn put(
        &self,
        bucket: &str,
        document: String,
        policy: Policy,
    ) -> Result<(), StoreUnavailable> {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.store
            .put_bucket_policy(bucket, document.clone())
            .await
            .map_err(|e| StoreUnavailable(e.to_string()))?;
        let loaded = Arc::new(LoadedBucketPolicy::new(bucket, document, policy));
        self.remember(bucket, Some(loaded), self.clock.now_utc());
        Ok(())
    }

    /// Removes the policy; `false` when there was none.
    pub async fn delete(&self, bucket: &str) -> Result<bool, StoreUnavailable> {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let existed = self
            .store
            .delete_bucket_policy(bucket)
            .await
            .map_err(|e| StoreUnavailable(e.to_string()))?;
        self.remember(bucket, None, self.clock.now_utc());
        Ok(existed)
    }

    fn remember(&self, bucket: &str, policy: Option<Arc<LoadedBucketPolicy>>, now: OffsetDateTime) {
        if let Ok(mut cache) = self.cache.write() {
            if cache.len() >= CACHE_MAX && !cache.contains_key(bucket) {
                cache.retain(|_, e| now - e.loaded < BUCKET_POLICY_CACHE_TTL);
                if cache.len() >= CACHE_MAX {
                    cache.clear();
                }
            }
            cache.insert(
                bucket.to_owned(),
                Cached {
                    policy,
                    loaded: now,
                },
            );
        }
    }
}

fn policy_id(bucket: &str) -> String {
    format!("bucket-policy:{bucket}")
}

/// Parses a stored document. It was validated when it was put; one that no
/// longer parses (a stricter engine) denies everything rather than nothing.
fn load(bucket: &str, document: String) -> LoadedBucketPolicy {
    let policy = Policy::parse_with_limit(&document, PolicyKind::Resource, SizeLimit::Unlimited)
        .unwrap_or_else(|e| {
            tracing::warn!(bucket, error = %e, "stored bucket policy does not parse; it denies every request");
            deny_all()
        });
    LoadedBucketPolicy::new(bucket, document, policy)
}

fn deny_all() -> Policy {
    const DENY_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}]}"#;
    Policy::parse_with_limit(DENY_ALL, PolicyKind::Resource, SizeLimit::Unlimited)
        .unwrap_or_else(|e| unreachable!("static deny-all policy: {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn loaded(condition: &str) -> LoadedBucketPolicy {
        let document = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{condition}}}]}}"#
        );
        let policy = BucketPolicies::validate(&document).unwrap();
        LoadedBucketPolicy::new("b", document, policy)
    }

    #[test]
    fn existing_object_tag_conditions_are_found_once_on_load() {
        assert!(
            loaded(r#"{"StringEquals":{"s3:ExistingObjectTag/team":"a"}}"#)
                .names_existing_object_tag
        );
        assert!(
            loaded(r#"{"StringEquals":{"S3:EXISTINGOBJECTTAG/team":"a"}}"#)
                .names_existing_object_tag
        );
        assert!(
            !loaded(r#"{"StringEquals":{"s3:RequestObjectTag/team":"a"}}"#)
                .names_existing_object_tag
        );
        assert!(!loaded(r#"{"Bool":{"aws:SecureTransport":"false"}}"#).names_existing_object_tag);
        assert!(!load("b", "not json".to_owned()).names_existing_object_tag);
    }
}
