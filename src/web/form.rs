//! `HtmlForm<T>`: a url-encoded form extractor that, unlike `web::Form`, reads repeated
//! keys (`roles=a&roles=b`) into a `Vec`, as checkbox groups and multi-selects send them.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use crate::error::Error;

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
        let bytes = Bytes::from_request(req, payload);
        Box::pin(async move {
            let body = bytes.await?;
            serde_html_form::from_bytes::<T>(&body)
                .map(HtmlForm)
                .map_err(|e| Error::BadRequest(format!("malformed form: {e}")).into())
        })
    }
}

/// A checkbox is sent as `name=on` when ticked and not at all otherwise.
pub fn checked(v: &Option<String>) -> bool {
    v.as_deref()
        .is_some_and(|s| !s.is_empty() && s != "false" && s != "0")
}
