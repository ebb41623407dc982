//! What goes wrong when a template is saved (`TemplateError`) or rendered (`RenderError`).

use std::fmt;

/// A template that cannot be saved. Every message is written for the administrator who
/// typed the template, and says where the problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// Broken placeholder syntax, invalid JSON or ill-formed XML, with 1-based position.
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// A placeholder in a place the kind of template cannot fill safely.
    Misplaced { message: String },
    /// Placeholders that name nothing this webhook knows; `known` lists what it does.
    Unknown {
        names: Vec<String>,
        known: Vec<String>,
    },
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Syntax {
                line,
                column,
                message,
            } => write!(f, "line {line}, column {column}: {message}"),
            TemplateError::Misplaced { message } => f.write_str(message),
            TemplateError::Unknown { names, known } => {
                let names: Vec<String> = names.iter().map(|n| format!("{{{{{n}}}}}")).collect();
                let plural = if names.len() == 1 { "" } else { "s" };
                write!(
                    f,
                    "unknown placeholder{plural} {}; known names: {}",
                    names.join(", "),
                    known.join(", ")
                )
            }
        }
    }
}

impl std::error::Error for TemplateError {}

/// A render that must not be sent: the values would break the request's framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderError {
    /// A header value would hold a line break or another control character, which could
    /// smuggle extra headers into the request.
    HeaderControlCharacter { placeholder: String },
    /// A URL value of `.` or `..` filling a path segment, which would move the request
    /// to another path.
    UrlDotSegment { placeholder: String },
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::HeaderControlCharacter { placeholder } => write!(
                f,
                "the value of {{{{{placeholder}}}}} contains a line break or control character, \
                 which a header value cannot hold"
            ),
            RenderError::UrlDotSegment { placeholder } => write!(
                f,
                "the value of {{{{{placeholder}}}}} is `.` or `..`, which would change the \
                 URL's path"
            ),
        }
    }
}

impl std::error::Error for RenderError {}

impl From<TemplateError> for crate::error::Error {
    fn from(e: TemplateError) -> Self {
        crate::error::Error::BadRequest(e.to_string())
    }
}

impl From<RenderError> for crate::error::Error {
    fn from(e: RenderError) -> Self {
        crate::error::Error::BadRequest(e.to_string())
    }
}
