//! Where the master key comes from, and the check that it is the right one.
//!
//! The key is `HOOKDESK_SECRET_KEY` (base64 of 32 bytes) or a key file. With neither, a
//! key file is created on first start (mode 0600) — but only while the database holds no
//! secrets yet: once a key-check value exists, a missing key is a startup error rather
//! than a silent new key that could never open the stored secrets.
//!
//! The check value is a known plaintext sealed under the key and kept in `settings`.
//! Opening it at startup turns a wrong key into a clear message before the server
//! listens, instead of a 500 the first time a secret is needed.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use super::{KEY_LEN, Secret, SecretBox};
use crate::config::Config;
use crate::db::{Backend, DbConn, settings};

/// The `settings` row holding the sealed known plaintext.
pub const CHECK_SETTING: &str = "secret_key_check";
pub(crate) const CHECK_PLAIN: &str = "hookdesk secret key check v1";

/// Where the key in use came from (said in error messages; `rekey` rewrites a file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Env,
    File(PathBuf),
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Env => f.write_str("HOOKDESK_SECRET_KEY"),
            KeySource::File(p) => write!(f, "key file {}", p.display()),
        }
    }
}

/// The key file used when `secret_key_file` is unset: `<database file>.key` beside a
/// SQLite database, `hookdesk.key` in the working directory otherwise.
pub fn default_key_file(config: &Config) -> PathBuf {
    if let Some(p) = &config.secret_key_file {
        return p.clone();
    }
    match Backend::from_url(&config.database_url) {
        Ok(Backend::Sqlite(path)) if !path.is_empty() && !path.starts_with(":memory:") => {
            let mut s = path.into_bytes();
            s.extend_from_slice(b".key");
            PathBuf::from(String::from_utf8_lossy(&s).into_owned())
        }
        _ => PathBuf::from("hookdesk.key"),
    }
}

/// Reads a key file (base64 text).
pub fn read_key_file(path: &Path) -> anyhow::Result<[u8; KEY_LEN]> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the key file {}", path.display()))?;
    SecretBox::key_from_base64(&text)
        .map_err(|e| anyhow::anyhow!("the key file {} is not a valid key: {e}", path.display()))
}

/// Writes `key` to a new file readable by its owner only. Fails if the file exists.
pub fn create_key_file(path: &Path, key: &[u8; KEY_LEN]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    writeln!(f, "{}", B64.encode(key))?;
    f.sync_all()
}

/// Replaces the key file's content atomically (write beside it, then rename).
pub fn replace_key_file(path: &Path, key: &[u8; KEY_LEN]) -> std::io::Result<()> {
    let tmp = path.with_extension("key.new");
    let _ = std::fs::remove_file(&tmp);
    create_key_file(&tmp, key)?;
    std::fs::rename(&tmp, path)
}

/// The configured key, creating the key file when allowed. `may_create` is false once
/// the database holds a check value.
pub fn load_key(config: &Config, may_create: bool) -> anyhow::Result<([u8; KEY_LEN], KeySource)> {
    if let Some(k) = &config.secret_key {
        let key = SecretBox::key_from_base64(k.expose())
            .map_err(|e| anyhow::anyhow!("HOOKDESK_SECRET_KEY is not a valid key: {e}"))?;
        return Ok((key, KeySource::Env));
    }
    let path = default_key_file(config);
    if path.exists() {
        warn_if_readable_by_others(&path);
        return Ok((read_key_file(&path)?, KeySource::File(path)));
    }
    if !may_create {
        bail!(
            "no secret key: this database holds secrets sealed with a master key, but \
             HOOKDESK_SECRET_KEY is unset and the key file {} does not exist. Start with the \
             original key (HOOKDESK_SECRET_KEY or secret_key_file).",
            path.display()
        );
    }
    let key = SecretBox::generate_key();
    match create_key_file(&path, &key) {
        Ok(()) => {
            tracing::info!(path = %path.display(), "created the secret key file; back it up with the database");
            Ok((key, KeySource::File(path)))
        }
        // Another process created it between our check and our write: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok((read_key_file(&path)?, KeySource::File(path)))
        }
        Err(e) => Err(anyhow::anyhow!(
            "cannot create the key file {}: {e}",
            path.display()
        )),
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::metadata(path)
        && m.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "the secret key file is readable by other users; chmod 600 it");
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// Loads the key and proves it opens this database's check value (storing one on first
/// start). The error names the problem and the key's source.
pub fn open_secret_box(config: &Config, conn: &mut DbConn) -> anyhow::Result<SecretBox> {
    let existing = settings::get(conn, CHECK_SETTING)?;
    let (key, source) = load_key(config, existing.is_none())?;
    let sb = SecretBox::new(&key);
    let stored = match existing {
        Some(v) => v,
        None => {
            let sealed = sb.seal(&Secret(CHECK_PLAIN.into()))?;
            settings::get_or_init(conn, CHECK_SETTING, || sealed)?
        }
    };
    verify(&sb, &stored).with_context(|| {
        format!(
            "wrong secret key: the master key from {source} does not match the key this \
             database's secrets were sealed with. Start with the original key; to change \
             keys use `hookdesk rekey`."
        )
    })?;
    Ok(sb)
}

/// True when `sb` opens the check value.
pub fn verify(sb: &SecretBox, stored_check: &str) -> anyhow::Result<()> {
    match sb.open(stored_check) {
        Ok(s) if s.expose() == CHECK_PLAIN => Ok(()),
        _ => bail!("the key-check value does not open"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_beside_sqlite_database() {
        let cfg = Config {
            database_url: "sqlite:///data/hd.db".into(),
            ..Config::default()
        };
        assert_eq!(default_key_file(&cfg), PathBuf::from("/data/hd.db.key"));
        let cfg = Config {
            database_url: "postgres://x@y/z".into(),
            ..Config::default()
        };
        assert_eq!(default_key_file(&cfg), PathBuf::from("hookdesk.key"));
    }

    #[cfg(unix)]
    #[test]
    fn created_key_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.key");
        create_key_file(&p, &[3u8; KEY_LEN]).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(read_key_file(&p).unwrap(), [3u8; KEY_LEN]);
        replace_key_file(&p, &[4u8; KEY_LEN]).unwrap();
        assert_eq!(read_key_file(&p).unwrap(), [4u8; KEY_LEN]);
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
