//! Standard Webhooks signing secrets: `whsec_` + standard base64 (padded) of 24–64
//! random bytes. Rotation keeps the previous secret for a grace period so receivers can
//! switch over; the sender signs with every active secret.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use rand::RngCore;

use super::Connection;
use crate::audit::{self, Actor};
use crate::db::DbConn;
use crate::db::schema::connections;
use crate::error::{Error, Result};
use crate::secrets::{Secret, SecretBox};

pub const PREFIX: &str = "whsec_";
pub const MIN_BYTES: usize = 24;
pub const MAX_BYTES: usize = 64;
/// Bytes of a generated secret.
pub const GENERATED_BYTES: usize = 32;
/// Longest grace period offered for the previous secret.
pub const MAX_GRACE_HOURS: i64 = 24 * 7;

/// A new random signing secret.
pub fn generate() -> Secret {
    let mut b = [0u8; GENERATED_BYTES];
    rand::rng().fill_bytes(&mut b);
    Secret(format!("{PREFIX}{}", B64.encode(b)))
}

/// Checks a signing secret someone pasted in.
pub fn check_format(s: &str) -> std::result::Result<(), String> {
    let Some(body) = s.strip_prefix(PREFIX) else {
        return Err(format!("A signing secret starts with {PREFIX}."));
    };
    let bytes = B64
        .decode(body)
        .map_err(|_| format!("After {PREFIX} comes standard base64 (with padding)."))?;
    if !(MIN_BYTES..=MAX_BYTES).contains(&bytes.len()) {
        return Err(format!(
            "The secret must be {MIN_BYTES} to {MAX_BYTES} bytes; this one is {}.",
            bytes.len()
        ));
    }
    Ok(())
}

impl Connection {
    /// The secrets to sign with at `now`: the current one, and the previous one while
    /// its grace period lasts.
    pub fn active_signing_secrets(
        &self,
        sb: &SecretBox,
        now: NaiveDateTime,
    ) -> Result<Vec<Secret>> {
        let mut out = Vec::new();
        if let Some(s) = &self.signing_secret_sealed {
            out.push(sb.open(s)?);
        }
        if let (Some(p), Some(until)) = (
            &self.previous_signing_secret_sealed,
            self.previous_signing_expires_at,
        ) && until > now
        {
            out.push(sb.open(p)?);
        }
        Ok(out)
    }

    /// Generates a new signing secret; the current one (if any) stays valid for
    /// `grace_hours` (0 to [`MAX_GRACE_HOURS`]). Returns the connection and the new
    /// secret, which the caller shows once and never again. The page and the API both
    /// come here, so both write the same audit row.
    pub fn rotate_signing_secret(
        conn: &mut DbConn,
        sb: &SecretBox,
        actor: &Actor,
        id: i64,
        grace_hours: i64,
        now: NaiveDateTime,
    ) -> Result<(Connection, Secret)> {
        if !(0..=MAX_GRACE_HOURS).contains(&grace_hours) {
            return Err(Error::invalid("grace_hours", "From 0 to 168 hours."));
        }
        crate::db::write(conn, |c| {
            let old = Connection::get(c, id)?;
            let secret = generate();
            let sealed = sb.seal(&secret)?;
            let (previous, until) = match (&old.signing_secret_sealed, grace_hours) {
                (Some(cur), h) if h > 0 => {
                    (Some(cur.clone()), Some(now + chrono::Duration::hours(h)))
                }
                _ => (None, None),
            };
            diesel::update(connections::table.find(id))
                .set((
                    connections::signing_secret_sealed.eq(Some(sealed)),
                    connections::previous_signing_secret_sealed.eq(previous),
                    connections::previous_signing_expires_at.eq(until),
                    connections::updated_at.eq(now),
                ))
                .execute(c)?;
            let detail = if old.signing_secret_set() {
                format!("rotated; previous secret valid for {grace_hours} h")
            } else {
                "generated".to_string()
            };
            audit::record(
                c,
                actor,
                "connection.signing_secret",
                &old.name,
                audit::SUCCESS,
                &detail,
            )?;
            Ok((Connection::get(c, id)?, secret))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_well_formed() {
        let s = generate();
        assert!(s.expose().starts_with("whsec_"));
        check_format(s.expose()).unwrap();
        assert_ne!(generate(), s);
    }

    #[test]
    fn format_bounds() {
        assert!(check_format(&format!("whsec_{}", B64.encode([0u8; 24]))).is_ok());
        assert!(check_format(&format!("whsec_{}", B64.encode([0u8; 64]))).is_ok());
        assert!(check_format(&format!("whsec_{}", B64.encode([0u8; 23]))).is_err());
        assert!(check_format(&format!("whsec_{}", B64.encode([0u8; 65]))).is_err());
        assert!(check_format(&B64.encode([0u8; 32])).is_err());
        let unpadded = B64.encode([0u8; 25]).trim_end_matches('=').to_string();
        assert!(check_format(&format!("whsec_{unpadded}")).is_err());
    }
}
