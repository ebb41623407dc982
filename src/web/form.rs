//! `HtmlForm<T>`: a url-encoded form extractor that, unlike `web::Form`, reads repeated
//! keys (`roles=a&roles=b`) into a `Vec`, as checkbox groups and multi-selects send them.
//!
//! It reads as strictly as the API reads JSON (`api::body`): a body that is not
//! `application/x-www-form-urlencoded` is refused (415) rather than read as an empty
//! form, and a value holding U+0000 is refused naming its field (422), because
//! PostgreSQL cannot store it and SQLite would, so the two backends would disagree.
//! No page posts `multipart/form-data` (no form has an `enctype`, htmx sends url-encoded).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

pub struct HtmlForm<T>(pub T);

impl<T> HtmlForm<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for HtmlForm<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("?").to_string());
        let bytes = Bytes::from_request(req, payload);
        Box::pin(async move {
            let body = bytes.await?;
            read(content_type.as_deref(), &body)
                .map(HtmlForm)
                .map_err(Into::into)
        })
    }
}

/// The form in `body`, sent with the `Content-Type` header `content_type`.
fn read<T: DeserializeOwned>(content_type: Option<&str>, body: &[u8]) -> Result<T> {
    // An empty body without a type has nothing to misread (a bare POST to an action),
    // as an empty JSON body is the defaults in the API.
    if content_type.is_some() || !body.is_empty() {
        require_urlencoded(content_type.unwrap_or(""))?;
    }
    if let Some((name, _)) =
        url::form_urlencoded::parse(body).find(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return Err(if name.contains('\0') {
            Error::BadRequest(
                "a form field's name may not contain the NUL character (U+0000)".into(),
            )
        } else {
            Error::invalid(&name, "may not contain the NUL character (U+0000)")
        });
    }
    serde_html_form::from_bytes::<T>(body)
        .map_err(|e| Error::BadRequest(format!("malformed form: {e}")))
}

/// Refuses a body that is not declared url-encoded (parameters such as
/// `; charset=utf-8` are fine).
fn require_urlencoded(content_type: &str) -> Result<()> {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Ok(())
    } else {
        let what = if essence.is_empty() {
            "a body without a `Content-Type`".to_string()
        } else {
            format!("`{essence}`")
        };
        Err(Error::UnsupportedMediaType(format!(
            "{what} is not read here: send the form as \
             `Content-Type: application/x-www-form-urlencoded`"
        )))
    }
}

/// A checkbox is sent as `name=on` when ticked and not at all otherwise.
pub fn checked(v: &Option<String>) -> bool {
    v.as_deref()
        .is_some_and(|s| !s.is_empty() && s != "false" && s != "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Role {
        name: String,
    }

    const FORM: &str = "application/x-www-form-urlencoded";

    #[test]
    fn only_url_encoded_forms_are_read() {
        let ok: Role = read(
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            b"name=a",
        )
        .unwrap();
        assert_eq!(ok.name, "a");
        for ct in [
            Some("application/json"),
            Some("multipart/form-data; boundary=x"),
            Some("text/plain"),
            None,
        ] {
            assert!(
                matches!(
                    read::<Role>(ct, b"name=a"),
                    Err(Error::UnsupportedMediaType(_))
                ),
                "{ct:?}"
            );
        }
        #[derive(Debug, serde::Deserialize)]
        struct Nothing {}
        assert!(read::<Nothing>(None, b"").is_ok());
    }

    #[test]
    fn a_nul_is_refused_naming_its_field() {
        match read::<Role>(Some(FORM), b"name=a%00b") {
            Err(Error::Validation(f)) => assert!(f.get("name").is_some(), "{f}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            read::<Role>(Some(FORM), b"name=a&x%00=1"),
            Err(Error::BadRequest(_))
        ));
    }
}
