//! Webhook definitions as the hot paths read them — a rule's action, a technician's fire,
//! the worker's response processing — from a per-process cache checked against the
//! webhooks version (one `settings` row) instead of six statements per firing.
//!
//! Why it is correct:
//! 1. Every write that changes what [`store::get`](super::store::get) returns bumps
//!    [`VERSION_SETTING`] in its own transaction: webhook create, update, clone, delete
//!    and reseal (`store`), and a role's rename or delete (`auth::roles`: a webhook
//!    carries its roles' names).
//! 2. A reader reads the version first, then the definition. A definition read after
//!    version V is at least as new as V, so it may be filed under V; an older one never is.
//! 3. The version is random (seeded by migration `000015`, replaced by a UUID on every
//!    bump), so two databases never share one, and a process serving several (the test
//!    suite) keeps their definitions apart. Only the latest few versions are kept.
//!
//! Pages and the API's reads still go to [`store`](super::store): they are rare, and
//! they show exactly what is stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::Webhook;
use crate::db::DbConn;
use crate::error::Result;

/// The `settings` row whose value changes with every change to any webhook definition.
pub const VERSION_SETTING: &str = "webhooks.version";

/// Versions kept at once: one database per process in production; a few while a test
/// process runs many.
const VERSIONS_KEPT: usize = 8;

type Definitions = HashMap<i64, Arc<Webhook>>;

static CACHE: Mutex<Vec<(String, Definitions)>> = Mutex::new(Vec::new());

/// Webhook `id` as stored now, from the cache when its version is current.
pub fn get(conn: &mut DbConn, id: i64) -> Result<Arc<Webhook>> {
    let Some(version) = crate::db::settings::get(conn, VERSION_SETTING)? else {
        // A database without the row (it is seeded by migration): no caching.
        return Ok(Arc::new(super::store::get(conn, id)?));
    };
    if let Some(w) = lookup(&version, id) {
        return Ok(w);
    }
    let w = Arc::new(super::store::get(conn, id)?);
    file(version, id, w.clone());
    Ok(w)
}

/// Marks every cached definition stale, in every process. Call inside the write that
/// changes a definition (invariant 1).
pub fn bump(c: &mut DbConn) -> Result<()> {
    crate::db::settings::put(c, VERSION_SETTING, &uuid::Uuid::new_v4().to_string())
}

fn lock() -> std::sync::MutexGuard<'static, Vec<(String, Definitions)>> {
    // A panic while holding it leaves at worst entries a new version replaces.
    CACHE.lock().unwrap_or_else(PoisonError::into_inner)
}

fn lookup(version: &str, id: i64) -> Option<Arc<Webhook>> {
    lock()
        .iter()
        .find(|(v, _)| v == version)
        .and_then(|(_, defs)| defs.get(&id).cloned())
}

fn file(version: String, id: i64, w: Arc<Webhook>) {
    let mut cache = lock();
    if let Some((_, defs)) = cache.iter_mut().find(|(v, _)| *v == version) {
        defs.insert(id, w);
        return;
    }
    if cache.len() >= VERSIONS_KEPT {
        cache.remove(0);
    }
    cache.push((version, HashMap::from([(id, w)])));
}
