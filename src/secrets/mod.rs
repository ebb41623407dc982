//! Secrets at rest: every password, token, secret header value and signing secret is
//! sealed with XChaCha20-Poly1305 under one master key before it reaches the database.
//!
//! A sealed value is text, `v1:<base64 nonce>:<base64 ciphertext>`, so it fits a `TEXT`
//! column on both backends. The nonce is 24 random bytes (XChaCha's extended nonce makes
//! random nonces safe for any realistic number of values). Decrypted values only ever
//! live in `config::Secret`, whose `Debug` and `Display` are redacted.

pub mod key;
pub mod rekey;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

pub use crate::config::Secret;
use crate::error::{Error, Result};

/// Length of the master key in bytes.
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const PREFIX: &str = "v1";

/// Holds the master key and seals / opens values with it. Shared as `Arc<SecretBox>`.
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(<key redacted>)")
    }
}

impl SecretBox {
    pub fn new(key: &[u8; KEY_LEN]) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(key)),
        }
    }

    /// A fresh random master key.
    pub fn generate_key() -> [u8; KEY_LEN] {
        let mut k = [0u8; KEY_LEN];
        rand::rng().fill_bytes(&mut k);
        k
    }

    /// Parses a key given as base64 of 32 bytes (surrounding whitespace ignored).
    pub fn key_from_base64(text: &str) -> std::result::Result<[u8; KEY_LEN], String> {
        let bytes = B64
            .decode(text.trim())
            .map_err(|e| format!("not valid base64 ({e})"))?;
        <[u8; KEY_LEN]>::try_from(bytes.as_slice())
            .map_err(|_| format!("must be {KEY_LEN} bytes, got {}", bytes.len()))
    }

    pub fn from_base64(text: &str) -> std::result::Result<Self, String> {
        Self::key_from_base64(text).map(|k| Self::new(&k))
    }

    /// Encrypts `plain` under a fresh nonce.
    pub fn seal(&self, plain: &Secret) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plain.0.as_bytes())
            .map_err(|_| Error::Internal("encryption failed".into()))?;
        Ok(format!("{PREFIX}:{}:{}", B64.encode(nonce), B64.encode(ct)))
    }

    /// Decrypts a value made by `seal` under the same key. A wrong key or a tampered value
    /// is an error, never garbage.
    pub fn open(&self, sealed: &str) -> Result<Secret> {
        let bad =
            || Error::Internal("a stored secret cannot be decrypted with the current key".into());
        let mut parts = sealed.splitn(3, ':');
        let (Some(PREFIX), Some(n), Some(c)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let nonce = B64.decode(n).map_err(|_| bad())?;
        if nonce.len() != NONCE_LEN {
            return Err(bad());
        }
        let ct = B64.decode(c).map_err(|_| bad())?;
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(&nonce), ct.as_slice())
            .map_err(|_| bad())?;
        String::from_utf8(plain).map(Secret).map_err(|_| bad())
    }

    /// `Some(sealed)` for `Some(plain)`.
    pub fn seal_opt(&self, plain: Option<&Secret>) -> Result<Option<String>> {
        plain.map(|p| self.seal(p)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_fresh_nonces() {
        let b = SecretBox::new(&SecretBox::generate_key());
        let s = Secret("hunter2-secret".into());
        let a = b.seal(&s).unwrap();
        let a2 = b.seal(&s).unwrap();
        assert_ne!(a, a2, "each seal uses a new nonce");
        assert!(a.starts_with("v1:"));
        assert!(!a.contains("hunter2"));
        assert_eq!(b.open(&a).unwrap(), s);
    }

    #[test]
    fn wrong_key_and_tampering_are_errors() {
        let b = SecretBox::new(&SecretBox::generate_key());
        let other = SecretBox::new(&SecretBox::generate_key());
        let sealed = b.seal(&Secret("x".into())).unwrap();
        assert!(other.open(&sealed).is_err());
        let mut tampered = sealed.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(b.open(&tampered).is_err());
        assert!(b.open("plain text").is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let s = Secret("topsecret".into());
        assert!(!format!("{s:?}").contains("topsecret"));
        assert!(!format!("{s}").contains("topsecret"));
        let b = SecretBox::new(&[7u8; KEY_LEN]);
        assert!(!format!("{b:?}").contains('7'));
    }

    #[test]
    fn key_parsing() {
        assert!(SecretBox::key_from_base64(&B64.encode([1u8; 32])).is_ok());
        assert!(SecretBox::key_from_base64(&B64.encode([1u8; 16])).is_err());
        assert!(SecretBox::key_from_base64("%%%").is_err());
    }
}
