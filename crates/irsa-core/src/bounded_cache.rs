//! A size-bounded map for caches of checks already made (opened session
//! tokens, verified JWT signatures). Each entry carries what it was checked
//! against; readers decide whether it still holds, and when the map is full
//! entries that no longer hold go first.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;

/// At most `max` entries. When an insert finds the map full it keeps only
/// the entries `still_useful` approves and, if that frees nothing, starts
/// over empty: a flood of new keys costs re-checks, never memory.
#[derive(Debug)]
pub struct BoundedCache<K, V> {
    max: usize,
    entries: RwLock<HashMap<K, V>>,
}

impl<K: Eq + Hash, V> BoundedCache<K, V> {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// `read` applied to the entry for `key`, if there is one.
    pub fn get<Q, R>(&self, key: &Q, read: impl FnOnce(&V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let entries = self.entries.read().ok()?;
        entries.get(key).map(read)
    }

    /// Adds or replaces the entry for `key`, making room as described above.
    pub fn insert(&self, key: K, value: V, still_useful: impl Fn(&V) -> bool) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if entries.len() >= self.max && !entries.contains_key(&key) {
            entries.retain(|_, v| still_useful(v));
            if entries.len() >= self.max {
                entries.clear();
            }
        }
        entries.insert(key, value);
    }

    pub fn len(&self) -> usize {
        self.entries.read().map_or(0, |e| e.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_holds_more_than_its_bound_and_evicts_what_no_longer_holds_first() {
        let cache = BoundedCache::new(3);
        cache.insert("a", 1, |_| true);
        cache.insert("b", 2, |_| true);
        cache.insert("c", 3, |_| true);
        assert_eq!(cache.get("b", |v| *v), Some(2));
        // Full: odd values are still useful, so only "b" goes.
        cache.insert("d", 4, |v| v % 2 == 1);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get("b", |v| *v), None);
        assert_eq!(cache.get("a", |v| *v), Some(1));
        assert_eq!(cache.get("d", |v| *v), Some(4));
        // Replacing an entry needs no room.
        cache.insert("a", 10, |_| false);
        assert_eq!(cache.get("a", |v| *v), Some(10));
        assert_eq!(cache.len(), 3);
        // Full and everything still useful: starts over.
        cache.insert("e", 5, |_| true);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get("e", |v| *v), Some(5));
    }
}
