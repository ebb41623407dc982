//! The application error and the policy for what each variant tells the user.
//!
//! Policy (the one place it is written down):
//! - `NotFound`, `Validation`, `Conflict`, `Forbidden`, `BadRequest`,
//!   `UnsupportedMediaType`, `Csrf` and `Unauthenticated` are the user's to fix: their
//!   message is shown as written here.
//! - `Busy` means another writer held the database's write lock for longer than we wait
//!   (or the pool had no free connection in time): a 503 with `Retry-After` and the
//!   message to try again — load, not a fault, and nothing was written (`db::write`).
//! - `Database`, `Pool` and `Internal` are ours: the user sees a generic message with a
//!   reference, the full chain goes to the log, and nothing internal reaches a page.
//!
//! The single conversion to an HTTP response (page, htmx toast or JSON) lives in
//! `http::error`; domain code only picks the variant.

use std::fmt;

/// A message about one input field, shown beside it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Validation problems, in the order the fields appear.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The first message for `field`, for templates.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
    /// `Ok(())` when empty, else the errors as `Error::Validation`.
    pub fn into_result(self) -> Result<(), Error> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self))
        }
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(String),
    #[error("invalid input: {0}")]
    Validation(FieldErrors),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    /// A request body in a format the endpoint does not read (not `application/json`).
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Csrf(String),
    #[error("authentication required")]
    Unauthenticated,
    #[error("the database is busy: {0}")] // starts with BUSY_PREFIX
    Busy(String),
    #[error("database error: {0}")]
    Database(diesel::result::Error),
    #[error("database pool error: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => Error::NotFound("record".into()),
            other if crate::db::is_busy(&other) => {
                crate::db::note_busy(&other);
                Error::Busy(other.to_string())
            }
            // Typed text reaches PostgreSQL with a NUL only when no check before it
            // looked (a filter, a path): the user's input, not our fault.
            other if crate::db::text::is_nul_in_text(&other) => {
                Error::BadRequest("text may not contain the NUL character (U+0000)".into())
            }
            other => Error::Database(other),
        }
    }
}

impl Error {
    /// A single-field validation error.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let mut e = FieldErrors::new();
        e.add(field, message);
        Error::Validation(e)
    }

    /// Stable machine-readable code used by the JSON API.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound(_) => "not_found",
            Error::Validation(_) => "validation_failed",
            Error::Conflict(_) => "conflict",
            Error::Forbidden(_) => "forbidden",
            Error::BadRequest(_) => "bad_request",
            Error::UnsupportedMediaType(_) => "unsupported_media_type",
            Error::Csrf(_) => "csrf_failed",
            Error::Unauthenticated => "unauthenticated",
            Error::Busy(_) => "busy",
            Error::Pool(_) => "unavailable",
            Error::Database(_) | Error::Internal(_) => "internal",
        }
    }

    /// Whether an error's text is that of [`Error::Busy`], for errors that reach the
    /// response only as text (the session middleware wraps its store's errors).
    pub fn is_busy_text(text: &str) -> bool {
        text.starts_with(BUSY_PREFIX)
    }

    /// True for errors that are ours, not the user's.
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            Error::Database(_) | Error::Pool(_) | Error::Internal(_)
        )
    }

    /// What the user may read.
    pub fn public_message(&self) -> String {
        if let Error::Busy(_) = self {
            "The server is busy right now and nothing was saved. Please try again in a moment."
                .into()
        } else if self.is_internal() {
            "Something went wrong on our side. The error has been logged.".into()
        } else {
            self.to_string()
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How the text of [`Error::Busy`] begins.
const BUSY_PREFIX: &str = "the database is busy";

#[cfg(test)]
mod tests {
    use super::Error;

    #[test]
    fn a_busy_error_is_known_by_its_text() {
        assert!(Error::is_busy_text(
            &Error::Busy("database is locked".into()).to_string()
        ));
        assert!(!Error::is_busy_text(
            &Error::Internal("database is locked".into()).to_string()
        ));
    }
}
