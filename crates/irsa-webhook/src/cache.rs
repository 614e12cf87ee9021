//! ServiceAccount lookup: a kube-rs reflector over ServiceAccounts, a grace period for
//! pods that arrive before their ServiceAccount reached the cache, then a direct GET.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::metrics::Metrics;

/// Annotations of a ServiceAccount (all the webhook needs from it).
pub type Annotations = BTreeMap<String, String>;

/// Why a ServiceAccount could not be looked up.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("Kubernetes API error: {0}")]
    Api(String),
    #[error("Kubernetes API did not answer within {0:?}")]
    Timeout(Duration),
}

/// Finds a ServiceAccount's annotations; `Ok(None)` when it does not exist.
pub trait ServiceAccountLookup: Send + Sync + fmt::Debug {
    fn lookup<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Annotations>, LookupError>>;
}

/// A fixed in-memory set of ServiceAccounts (tests, benches, static setups).
#[derive(Debug, Default, Clone)]
pub struct StaticLookup {
    accounts: HashMap<(String, String), Annotations>,
}

impl StaticLookup {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the ServiceAccount `namespace/name`.
    #[must_use]
    pub fn with(mut self, namespace: &str, name: &str, annotations: Annotations) -> Self {
        self.accounts
            .insert((namespace.to_owned(), name.to_owned()), annotations);
        self
    }
}

impl ServiceAccountLookup for StaticLookup {
    fn lookup<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Annotations>, LookupError>> {
        let found = self
            .accounts
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned();
        Box::pin(async move { Ok(found) })
    }
}

/// The watch-backed cache.
pub struct ServiceAccountCache {
    store: Store<ServiceAccount>,
    changes: watch::Receiver<u64>,
    client: Client,
    namespace: Option<String>,
    grace: Duration,
    fallback_timeout: Duration,
    metrics: Arc<Metrics>,
}

impl fmt::Debug for ServiceAccountCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountCache")
            .field("namespace", &self.namespace)
            .field("grace", &self.grace)
            .field("cached", &self.store.len())
            .finish_non_exhaustive()
    }
}

impl ServiceAccountCache {
    /// Starts watching ServiceAccounts (all namespaces, or only `namespace`).
    /// The returned task runs until aborted; API errors are logged and retried
    /// with backoff, never fatal.
    pub fn start(
        client: Client,
        namespace: Option<String>,
        grace: Duration,
        fallback_timeout: Duration,
        metrics: Arc<Metrics>,
    ) -> (Self, JoinHandle<()>) {
        let api: Api<ServiceAccount> = match &namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        };
        let (store, writer) = reflector::store();
        let (tx, changes) = watch::channel(0_u64);
        let task = tokio::spawn(async move {
            let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()))
                .default_backoff();
            futures::pin_mut!(stream);
            while let Some(event) = stream.next().await {
                match event {
                    // The store is updated before the event reaches us, so waiters
                    // woken here see the new object.
                    Ok(_) => tx.send_modify(|generation| *generation = generation.wrapping_add(1)),
                    Err(error) => tracing::warn!(%error, "ServiceAccount watch failed; retrying"),
                }
            }
        });
        let cache = Self {
            store,
            changes,
            client,
            namespace,
            grace,
            fallback_timeout,
            metrics,
        };
        (cache, task)
    }

    /// Number of cached ServiceAccounts.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    fn watches(&self, namespace: &str) -> bool {
        self.namespace.as_deref().is_none_or(|ns| ns == namespace)
    }

    fn cached(&self, key: &ObjectRef<ServiceAccount>) -> Option<Annotations> {
        self.store
            .get(key)
            .map(|sa| sa.metadata.annotations.clone().unwrap_or_default())
    }

    async fn find(&self, namespace: &str, name: &str) -> Result<Option<Annotations>, LookupError> {
        let key = ObjectRef::new(name).within(namespace);
        let mut changes = self.changes.clone();
        changes.mark_unchanged();
        if let Some(found) = self.cached(&key) {
            self.metrics
                .sa_cache_hits
                .with_label_values(&["immediate"])
                .inc();
            return Ok(Some(found));
        }
        self.metrics.sa_cache_misses.inc();
        if self.watches(namespace) && !self.grace.is_zero() {
            let deadline = tokio::time::Instant::now() + self.grace;
            while let Ok(Ok(())) = tokio::time::timeout_at(deadline, changes.changed()).await {
                if let Some(found) = self.cached(&key) {
                    self.metrics
                        .sa_cache_hits
                        .with_label_values(&["after_wait"])
                        .inc();
                    return Ok(Some(found));
                }
            }
        }
        tracing::debug!(namespace, name, "ServiceAccount not cached; direct GET");
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), namespace);
        let fallbacks = &self.metrics.sa_cache_fallbacks;
        match tokio::time::timeout(self.fallback_timeout, api.get_opt(name)).await {
            Ok(Ok(Some(sa))) => {
                fallbacks.with_label_values(&["found"]).inc();
                Ok(Some(sa.metadata.annotations.unwrap_or_default()))
            }
            Ok(Ok(None)) => {
                fallbacks.with_label_values(&["not_found"]).inc();
                Ok(None)
            }
            Ok(Err(error)) => {
                fallbacks.with_label_values(&["error"]).inc();
                Err(LookupError::Api(error.to_string()))
            }
            Err(_) => {
                fallbacks.with_label_values(&["error"]).inc();
                Err(LookupError::Timeout(self.fallback_timeout))
            }
        }
    }
}

impl ServiceAccountLookup for ServiceAccountCache {
    fn lookup<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Annotations>, LookupError>> {
        Box::pin(self.find(namespace, name))
    }
}
