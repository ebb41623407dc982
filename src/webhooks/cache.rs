//! Webhook definitions as the hot paths read them — a rule's action, a technician's fire,
//! a replay, the worker's response processing — from a per-process cache checked against
//! the webhooks version (`db::versioned`) instead of six statements per firing.
//!
//! The writes that bump the version (`db::versioned`, invariant 1): webhook create,
//! update, clone and delete (`store::delete_children`, which each of them passes), reseal
//! (`store::reseal_all`), and a role's rename or delete (`auth::roles`: a webhook carries
//! its roles' names). Migration `000015_definition_versions` seeds the version.
//!
//! Pages and the API's reads still go to [`store`](super::store): they are rare, and
//! they show exactly what is stored.

use std::sync::Arc;

use super::Webhook;
use crate::db::DbConn;
use crate::db::versioned::Versioned;
use crate::error::Result;

static WEBHOOKS: Versioned<i64, Webhook> = Versioned::new("webhooks.version");

/// Webhook `id` as stored now.
pub fn get(conn: &mut DbConn, id: i64) -> Result<Arc<Webhook>> {
    WEBHOOKS.get(conn, id, |c| super::store::get(c, id))
}

/// Marks every cached webhook definition stale; call inside the write that changes one.
pub fn bump(c: &mut DbConn) -> Result<()> {
    WEBHOOKS.bump(c)
}
