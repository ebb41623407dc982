//! Accounts, roles, passwords, login throttling, API tokens and server-side sessions.

pub mod login;
pub mod password;
pub mod roles;
pub mod sessions;
pub mod system_user;
pub mod tokens;
pub mod users;

pub use users::User;

/// Built-in role names. They cannot be renamed or deleted.
pub const ADMINISTRATOR: &str = "Administrator";
pub const TECHNICIAN: &str = "Technician";

/// An authenticated user together with the names of their roles.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Principal {
    pub user: User,
    pub roles: Vec<String>,
}

impl Principal {
    /// Folds the rows of a user left-joined to their roles (one row per role, or one
    /// row without a role) into the principal; `None` for no rows. Role names sorted.
    pub fn from_rows(rows: impl IntoIterator<Item = (User, Option<String>)>) -> Option<Self> {
        let mut user = None;
        let mut roles = Vec::new();
        for (u, role) in rows {
            user.get_or_insert(u);
            roles.extend(role);
        }
        roles.sort();
        roles.dedup();
        Some(Principal { user: user?, roles })
    }
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
    pub fn is_admin(&self) -> bool {
        self.has_role(ADMINISTRATOR)
    }
    /// Administrators may do everything technicians may.
    pub fn is_technician(&self) -> bool {
        self.is_admin() || self.has_role(TECHNICIAN)
    }
}

/// A random URL-safe string with `bytes` bytes of entropy.
pub fn random_token(bytes: usize) -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// SHA-256 hex digest, for high-entropy secrets (tokens, session ids) that need no
/// slow hash: guessing them is already infeasible.
pub fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}
