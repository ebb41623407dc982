//! The route table's mechanism: who may reach a route (`Access`), the table that
//! records it beside each handler, and the guard it wraps around every resource, which
//! authenticates and authorises before any extractor reads the body. The handler's typed
//! extractor (`AdminUser`, …) checks again, so neither can be forgotten alone. The list
//! itself is `routes::table`.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::{Next, from_fn};
use actix_web::{FromRequest, Handler, Responder, Route, web};

use super::extract::{ApiUser, Authenticated, Need, require};
use crate::error::Error;

/// Who may reach a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (login page, health, static files).
    Public,
    /// Any signed-in user.
    User,
    /// Technicians and administrators.
    Technician,
    /// Administrators.
    Admin,
    /// A bearer token of any active user.
    Api,
    /// A bearer token of an administrator.
    ApiAdmin,
    /// Anyone, as an outside system sending a webhook: no session and no CSRF token
    /// (machines post here), but a browser's foreign `Origin` is still refused. The
    /// built-in echo receiver only.
    Receiver,
}

#[derive(Debug, Clone)]
pub struct RouteInfo {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
}

#[derive(Default)]
pub struct RouteTable {
    entries: Vec<(RouteInfo, Route)>,
}

impl RouteTable {
    pub(super) fn add<F, Args>(
        &mut self,
        method: Method,
        path: &'static str,
        access: Access,
        handler: F,
    ) where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let route = web::method(method.clone()).to(handler);
        self.entries.push((
            RouteInfo {
                method,
                path,
                access,
            },
            route,
        ));
    }
    pub(super) fn get<F, Args>(&mut self, path: &'static str, access: Access, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(Method::GET, path, access, handler);
    }
    pub(super) fn post<F, Args>(&mut self, path: &'static str, access: Access, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(Method::POST, path, access, handler);
    }
    pub(super) fn patch<F, Args>(&mut self, path: &'static str, access: Access, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(Method::PATCH, path, access, handler);
    }
    pub(super) fn put<F, Args>(&mut self, path: &'static str, access: Access, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(Method::PUT, path, access, handler);
    }
    pub(super) fn delete<F, Args>(&mut self, path: &'static str, access: Access, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(Method::DELETE, path, access, handler);
    }

    pub fn infos(&self) -> Vec<RouteInfo> {
        self.entries.iter().map(|(i, _)| i.clone()).collect()
    }

    /// Registers one resource per path holding all its methods, in table order, so a
    /// POST is never shadowed by a GET-only resource of the same path.
    pub fn register(self, cfg: &mut web::ServiceConfig) {
        type Group = (&'static str, Vec<(Method, Access)>, Vec<Route>);
        let mut by_path: Vec<Group> = Vec::new();
        for (info, route) in self.entries {
            match by_path.iter_mut().find(|(p, _, _)| *p == info.path) {
                Some((_, acc, routes)) => {
                    acc.push((info.method, info.access));
                    routes.push(route);
                }
                None => by_path.push((info.path, vec![(info.method, info.access)], vec![route])),
            }
        }
        for (path, accesses, routes) in by_path {
            let mut res = web::resource(path);
            for r in routes {
                res = res.route(r);
            }
            let accesses = std::rc::Rc::new(accesses);
            cfg.service(res.wrap(from_fn(move |req, next| {
                let accesses = accesses.clone();
                async move { guard(req, next, &accesses).await }
            })));
        }
    }
}

/// Authenticates and authorises by the table before the handler runs. The loaded user
/// is cached in the request, so the handler's extractor does not load it again.
async fn guard<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
    accesses: &[(Method, Access)],
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    // A method not in the table falls through to the resource's 405.
    let access = accesses
        .iter()
        .find(|(m, _)| m == req.method())
        .map(|(_, a)| *a)
        .unwrap_or(Access::Public);
    if let Err(e) = check(&req, access).await {
        return Ok(req.error_response(e).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

async fn check(req: &ServiceRequest, access: Access) -> Result<(), Error> {
    let http = req.request().clone();
    match access {
        Access::Public | Access::Receiver => Ok(()),
        Access::User => Authenticated::load(http).await.map(|_| ()),
        Access::Technician => require(
            &Authenticated::load(http).await?.principal,
            Need::Technician,
        ),
        Access::Admin => require(&Authenticated::load(http).await?.principal, Need::Admin),
        Access::Api => ApiUser::load(http).await.map(|_| ()),
        Access::ApiAdmin => require(&ApiUser::load(http).await?.0, Need::ApiAdmin),
    }
}
