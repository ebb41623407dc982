//! argon2id password hashing with the OWASP parameters (m=19456 KiB, t=2, p=1).

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{Error, Result};

/// Longer passwords are refused before hashing, so a huge body cannot burn CPU.
pub const MAX_PASSWORD_BYTES: usize = 1024;
pub const MIN_PASSWORD_CHARS: usize = 10;

fn hasher() -> Result<Argon2<'static>> {
    let params = Params::new(19_456, 2, 1, None)
        .map_err(|e| Error::Internal(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Checks length limits and returns the PHC hash string.
pub fn hash(password: &str) -> Result<String> {
    validate(password)?;
    let h = hasher()?
        .hash_password(password.as_bytes())
        .map_err(|e| Error::Internal(format!("argon2 hash: {e}")))?;
    Ok(h.to_string())
}

/// Rules for a new password, as a field error on `password`.
pub fn validate(password: &str) -> Result<()> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::invalid(
            "password",
            format!("must be at most {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::invalid(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Constant-work verification; an over-long or malformed input simply fails.
pub fn verify(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let Ok(h) = hasher() else { return false };
    h.verify_password(password.as_bytes(), &parsed).is_ok()
}

/// A hash of a random password, verified against when the username is unknown so
/// that unknown users and wrong passwords take the same time.
pub fn dummy_hash() -> Result<String> {
    hash(&super::random_token(24))
}

/// A readable generated password (for the first administrator).
pub fn generate() -> String {
    super::random_token(18)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery", &h));
        assert!(!verify("wrong horse battery", &h));
    }

    #[test]
    fn too_long_refused_before_hashing() {
        let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        let err = hash(&long).unwrap_err();
        assert!(matches!(err, Error::Validation(_)));
        assert!(!verify(&long, "$argon2id$v=19$m=19456,t=2,p=1$AAAA$AAAA"));
    }

    #[test]
    fn too_short_refused() {
        assert!(hash("short").is_err());
    }
}
