//! actix-session storage backed by the `sessions` table (see `auth::sessions`).
//! The cookie store could not revoke a session; this one can.

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;

use crate::auth::{random_token, sessions};
use crate::db::{self, DbPool};

#[derive(Clone)]
pub struct DbSessionStore {
    pool: DbPool,
}

impl DbSessionStore {
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

fn expiry(ttl: &Duration) -> chrono::NaiveDateTime {
    db::now() + chrono::Duration::seconds(ttl.whole_seconds())
}

fn new_key() -> String {
    random_token(32)
}

impl SessionStore for DbSessionStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<sessions::State>, LoadError> {
        let key = key.as_ref().to_string();
        db::run(&self.pool, move |c| sessions::load(c, &key, db::now()))
            .await
            .map_err(|e| LoadError::Other(anyhow::anyhow!(e)))
    }

    async fn save(&self, state: sessions::State, ttl: &Duration) -> Result<SessionKey, SaveError> {
        let key = new_key();
        let k = key.clone();
        let exp = expiry(ttl);
        db::run(&self.pool, move |c| sessions::insert(c, &k, &state, exp))
            .await
            .map_err(|e| SaveError::Other(anyhow::anyhow!(e)))?;
        SessionKey::try_from(key).map_err(|e| SaveError::Other(anyhow::anyhow!(e)))
    }

    async fn update(
        &self,
        key: SessionKey,
        state: sessions::State,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        let k = key.as_ref().to_string();
        let exp = expiry(ttl);
        let found = db::run(&self.pool, move |c| {
            if sessions::update(c, &k, &state, exp)? {
                return Ok(None);
            }
            // The row was ended meanwhile (logout elsewhere, password change): never
            // bring the login back; keep only the anonymous part under a new key.
            let mut anon = state;
            anon.remove(sessions::KEY_USER_ID);
            anon.remove(sessions::KEY_LOGIN_ID);
            let fresh = new_key();
            sessions::insert(c, &fresh, &anon, exp)?;
            Ok(Some(fresh))
        })
        .await
        .map_err(|e| UpdateError::Other(anyhow::anyhow!(e)))?;
        match found {
            None => Ok(key),
            Some(fresh) => {
                SessionKey::try_from(fresh).map_err(|e| UpdateError::Other(anyhow::anyhow!(e)))
            }
        }
    }

    async fn update_ttl(&self, key: &SessionKey, ttl: &Duration) -> Result<(), anyhow::Error> {
        let k = key.as_ref().to_string();
        let exp = expiry(ttl);
        match db::run(&self.pool, move |c| sessions::touch(c, &k, exp)).await {
            // Extending an idle timeout can wait for the next request: a page or API
            // call must not fail because the database was too busy to note it.
            Err(crate::error::Error::Busy(_)) => Ok(()),
            other => other.map_err(|e| anyhow::anyhow!(e)),
        }
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        let k = key.as_ref().to_string();
        db::run(&self.pool, move |c| sessions::delete(c, &k))
            .await
            .map_err(|e| anyhow::anyhow!(e))
    }
}
