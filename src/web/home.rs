//! The start page.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::page::PageCtx;
use crate::error::Error;
use crate::http::extract::Authenticated;

#[derive(Template)]
#[template(path = "home.html", blocks = ["content"])]
struct Home {
    ctx: PageCtx,
}

pub async fn home(
    req: HttpRequest,
    session: Session,
    auth: Authenticated,
) -> Result<HttpResponse, Error> {
    crate::page_or_fragment!(
        &req,
        Home {
            ctx: PageCtx::new(&auth, &session, "home"),
        }
    )
}
