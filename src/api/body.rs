//! Request bodies are read strictly, the same way across the API: a body that is not
//! `application/json` is refused (415), one that is not JSON (400), one over
//! [`MAX_BYTES`] (413, by the payload limit before the handler runs), and a field the
//! endpoint does not know (422, naming it). Nothing is guessed, nothing silently dropped:
//! a misspelt key must not quietly fall back to a default.

use actix_web::HttpRequest;
use actix_web::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The largest body an endpoint that reads raw bytes accepts (the `PayloadConfig`).
pub const MAX_BYTES: usize = 256 * 1024;

/// Refuses a body that is not declared `application/json` (parameters such as
/// `; charset=utf-8` are fine).
pub fn require_json(req: &HttpRequest) -> Result<()> {
    let ct = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else if essence.is_empty() {
        Err(Error::UnsupportedMediaType(
            "send the body as JSON with `Content-Type: application/json`".into(),
        ))
    } else {
        Err(Error::UnsupportedMediaType(format!(
            "`{essence}` is not read here: send the body as JSON with `Content-Type: application/json`"
        )))
    }
}

/// `parent.key`, or `key` at the top: how an error names a place inside a body
/// (`parameters.0.label`).
pub fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// A PATCH applied to `current` (what a GET shows, as the input type serialises it):
/// the changed keys replace theirs, and a key `current` does not have is a 422 naming
/// it (`what` says of what: "is not a rule setting"). The caller parses the result
/// whole, so a value is checked as strictly as in a PUT.
pub fn patched(
    current: &impl serde::Serialize,
    changes: Map<String, Value>,
    what: &str,
) -> Result<Map<String, Value>> {
    let Ok(Value::Object(mut m)) = serde_json::to_value(current) else {
        return Err(Error::Internal(format!(
            "{what}: the stored value did not serialise"
        )));
    };
    for (k, v) in changes {
        if !m.contains_key(&k) {
            return Err(Error::invalid(&k, format!("is not a {what}")));
        }
        m.insert(k, v);
    }
    Ok(m)
}

/// The dotted path of the first key or string holding U+0000, if any.
fn nul_at(m: &Map<String, Value>) -> Option<String> {
    fn walk(v: &Value, path: String) -> Option<String> {
        match v {
            Value::String(s) if s.contains('\0') => Some(path),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, v)| walk(v, child_path(&path, &i.to_string()))),
            Value::Object(m) => m.iter().find_map(|(k, v)| {
                let at = child_path(&path, k);
                if k.contains('\0') {
                    Some(at)
                } else {
                    walk(v, at)
                }
            }),
            _ => None,
        }
    }
    m.iter().find_map(|(k, v)| {
        if k.contains('\0') {
            Some(k.clone())
        } else {
            walk(v, k.clone())
        }
    })
}

fn not_json(e: &serde_json::Error) -> Error {
    Error::BadRequest(format!("the body is not valid JSON: {e}"))
}

/// The body as a JSON object.
pub fn object(req: &HttpRequest, body: &[u8]) -> Result<Map<String, Value>> {
    require_json(req)?;
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => {
            // PostgreSQL cannot store U+0000 and SQLite would: refused alike on both.
            if let Some(at) = nul_at(&m) {
                return Err(Error::invalid(
                    &at,
                    "may not contain the NUL character (\\u0000)",
                ));
            }
            Ok(m)
        }
        Ok(_) => Err(Error::BadRequest("the body must be a JSON object".into())),
        Err(e) => Err(not_json(&e)),
    }
}

/// The body as `T`, whose `#[serde(deny_unknown_fields)]` makes an unknown key a 422;
/// an empty body is `T::default()` (for endpoints whose every field is optional).
pub fn parse_or_default<T: DeserializeOwned + Default>(
    req: &HttpRequest,
    body: &[u8],
) -> Result<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse(req, body)
}

/// The body as `T`, whose `#[serde(deny_unknown_fields)]` makes an unknown key a 422
/// naming it, as is a value of the wrong shape (under `body` when serde names no key).
pub fn parse<T: DeserializeOwned>(req: &HttpRequest, body: &[u8]) -> Result<T> {
    let m = object(req, body)?;
    serde_json::from_value(Value::Object(m)).map_err(|e| {
        let msg = e.to_string();
        // serde names an unknown key as "unknown field `tiket`, expected …".
        let field = msg
            .strip_prefix("unknown field `")
            .and_then(|r| r.split('`').next())
            .unwrap_or("body");
        Error::invalid(field, msg.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Body {
        ticket: String,
    }

    fn json_req() -> HttpRequest {
        TestRequest::default()
            .insert_header((CONTENT_TYPE, "application/json; charset=utf-8"))
            .to_http_request()
    }

    #[test]
    fn strict_reading() {
        let ok: Body = parse_or_default(&json_req(), br#"{"ticket":"IN2"}"#).unwrap();
        assert_eq!(ok.ticket, "IN2");
        let empty: Body =
            parse_or_default(&TestRequest::default().to_http_request(), b" ").unwrap();
        assert_eq!(empty.ticket, "");
        let unknown = parse_or_default::<Body>(&json_req(), br#"{"tiket":"IN2"}"#).unwrap_err();
        match unknown {
            Error::Validation(f) => assert!(f.get("tiket").is_some(), "{f}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_or_default::<Body>(&json_req(), b"{nope"),
            Err(Error::BadRequest(_))
        ));
        let text = TestRequest::default()
            .insert_header((CONTENT_TYPE, "text/plain"))
            .to_http_request();
        assert!(matches!(
            parse_or_default::<Body>(&text, br#"{"ticket":"IN2"}"#),
            Err(Error::UnsupportedMediaType(_))
        ));
    }
}
