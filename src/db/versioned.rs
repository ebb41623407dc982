//! A per-process cache of definitions that change rarely and are read on every ticket
//! change or firing (webhooks, forms), checked against a version row in `settings`
//! instead of reading the definitions again.
//!
//! Why it is correct:
//! 1. Every write that changes what the cache holds bumps the version row in its own
//!    transaction ([`Versioned::bump`]); the owning module lists those writes.
//! 2. A reader reads the version first, then the definition. A definition read after
//!    version V is at least as new as V, so it may be filed under V; an older one never is.
//! 3. Versions are random (seeded by migration, replaced by a UUID on every bump), so two
//!    databases never share one, and a process serving several (the test suite) keeps
//!    their definitions apart. Only the latest few versions are kept.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::DbConn;
use crate::error::Result;

/// Versions kept at once: one database per process in production; a few while a test
/// process runs many.
const VERSIONS_KEPT: usize = 8;

type Entries<K, V> = Vec<(String, HashMap<K, Arc<V>>)>;

pub struct Versioned<K, V> {
    /// The `settings` row whose value changes with every change to what is cached.
    setting: &'static str,
    entries: Mutex<Entries<K, V>>,
}

impl<K: Eq + Hash + Clone, V> Versioned<K, V> {
    pub const fn new(setting: &'static str) -> Self {
        Self {
            setting,
            entries: Mutex::new(Vec::new()),
        }
    }

    /// The definition under `key` as stored now: from the cache when its version is
    /// current, else from `load` (and filed).
    pub fn get(
        &self,
        conn: &mut DbConn,
        key: K,
        load: impl FnOnce(&mut DbConn) -> Result<V>,
    ) -> Result<Arc<V>> {
        let Some(version) = super::settings::get(conn, self.setting)? else {
            // A database without the row (they are seeded by migration): no caching.
            return Ok(Arc::new(load(conn)?));
        };
        if let Some(v) = self.lookup(&version, &key) {
            return Ok(v);
        }
        let v = Arc::new(load(conn)?);
        self.file(version, key, v.clone());
        Ok(v)
    }

    /// Marks every cached definition stale, in every process. Call inside the write
    /// that changes a definition (invariant 1).
    pub fn bump(&self, c: &mut DbConn) -> Result<()> {
        super::settings::put(c, self.setting, &uuid::Uuid::new_v4().to_string())
    }

    fn lock(&self) -> MutexGuard<'_, Entries<K, V>> {
        // A panic while holding it leaves at worst entries a new version replaces.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lookup(&self, version: &str, key: &K) -> Option<Arc<V>> {
        self.lock()
            .iter()
            .find(|(v, _)| v == version)
            .and_then(|(_, defs)| defs.get(key).cloned())
    }

    fn file(&self, version: String, key: K, value: Arc<V>) {
        let mut entries = self.lock();
        if let Some((_, defs)) = entries.iter_mut().find(|(v, _)| *v == version) {
            defs.insert(key, value);
            return;
        }
        if entries.len() >= VERSIONS_KEPT {
            entries.remove(0);
        }
        entries.push((version, HashMap::from([(key, value)])));
    }
}
