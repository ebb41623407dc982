//! `hookdesk rekey`: re-encrypts every sealed value under a new master key in one
//! transaction, and rewrites the key-check value, so the database is never half old key,
//! half new.
//!
//! Every table that stores sealed values is listed in `rekey_database`; a new one must
//! be added there.

use diesel::prelude::*;

use super::key::{CHECK_PLAIN, CHECK_SETTING, verify};
use super::{Secret, SecretBox};
use crate::audit::{self, Actor};
use crate::db::DbConn;
use crate::db::schema::settings;
use crate::error::{Error, Result};

/// Re-encrypts everything sealed under `old` with `new`, with its audit row. Returns the
/// number of values.
pub fn rekey_database(
    conn: &mut DbConn,
    actor: &Actor,
    old: &SecretBox,
    new: &SecretBox,
) -> Result<usize> {
    crate::db::write(conn, |c| {
        let check: Option<String> = settings::table
            .find(CHECK_SETTING)
            .select(settings::value)
            .first(c)
            .optional()?;
        if let Some(v) = &check {
            verify(old, v).map_err(|_| {
                Error::BadRequest("the current key does not open this database's secrets".into())
            })?;
        }
        let reseal = |sealed: &str| -> Result<String> { new.seal(&old.open(sealed)?) };
        let count = crate::connections::Connection::reseal_all(c, &reseal)?
            + crate::webhooks::store::reseal_all(c, &reseal)?
            + crate::delivery::queue::reseal_all(c, &reseal)?;
        let new_check = new.seal(&Secret(CHECK_PLAIN.into()))?;
        diesel::delete(settings::table.find(CHECK_SETTING)).execute(c)?;
        diesel::insert_into(settings::table)
            .values((
                settings::name.eq(CHECK_SETTING),
                settings::value.eq(new_check),
            ))
            .execute(c)?;
        let detail = format!("{count} secret(s) re-encrypted under the new key.");
        audit::record(
            c,
            actor,
            "secrets.rekey",
            "master key",
            audit::SUCCESS,
            &detail,
        )?;
        Ok(count)
    })
}

/// Where the new key comes from.
#[derive(Debug, Clone)]
pub enum NewKey {
    /// `HOOKDESK_NEW_SECRET_KEY`: base64 of 32 bytes.
    Base64(Secret),
    /// A key file; created with a fresh key (mode 0600) when it does not exist.
    File(std::path::PathBuf),
}

/// The whole command: open with the current key (proving it right), re-encrypt under the
/// new one, and — when the current key came from a key file — replace that file's
/// content with the new key after the commit, so the next start uses it. Returns what
/// to tell the operator.
pub fn run(
    config: &crate::config::Config,
    conn: &mut DbConn,
    actor: &Actor,
    new_key: NewKey,
) -> anyhow::Result<String> {
    use super::key::{
        KeySource, create_key_file, load_key, open_secret_box, read_key_file, replace_key_file,
    };
    let old = open_secret_box(config, conn)?;
    let (_, source) = load_key(config, false)?;
    let new_bytes = match &new_key {
        NewKey::Base64(s) => SecretBox::key_from_base64(s.expose())
            .map_err(|e| anyhow::anyhow!("HOOKDESK_NEW_SECRET_KEY is not a valid key: {e}"))?,
        NewKey::File(p) if p.exists() => read_key_file(p)?,
        NewKey::File(p) => {
            let k = SecretBox::generate_key();
            create_key_file(p, &k)
                .map_err(|e| anyhow::anyhow!("cannot create the key file {}: {e}", p.display()))?;
            k
        }
    };
    let new = SecretBox::new(&new_bytes);
    let n = rekey_database(conn, actor, &old, &new)?;
    let mut msg = format!("{n} secret(s) re-encrypted under the new key.");
    match source {
        KeySource::File(path) => {
            replace_key_file(&path, &new_bytes).map_err(|e| {
                anyhow::anyhow!(
                    "the database now uses the new key, but writing it to {} failed ({e}); \
                     start with the new key from its source",
                    path.display()
                )
            })?;
            msg.push_str(&format!(
                " The key file {} now holds the new key.",
                path.display()
            ));
        }
        KeySource::Env => {
            msg.push_str(" Set HOOKDESK_SECRET_KEY to the new key before the next start.");
        }
    }
    Ok(msg)
}
