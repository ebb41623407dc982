//! The one route table. Every route is registered here with the access it requires;
//! the handler's extractor enforces it, and the route-table test walks this list to
//! prove it (CSRF, foreign origins, anonymous users, technicians on admin routes).

use actix_web::http::Method;
use actix_web::{FromRequest, Handler, Responder, Route, web};

use super::{account, assets, audit, health, home, login, roles, users};
use crate::api;

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
    fn add<F, Args>(&mut self, method: Method, path: &'static str, access: Access, handler: F)
    where
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
    fn get<F, Args>(&mut self, path: &'static str, access: Access, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(Method::GET, path, access, handler);
    }
    fn post<F, Args>(&mut self, path: &'static str, access: Access, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(Method::POST, path, access, handler);
    }

    pub fn infos(&self) -> Vec<RouteInfo> {
        self.entries.iter().map(|(i, _)| i.clone()).collect()
    }

    /// Registers one resource per path holding all its methods, in table order, so a
    /// POST is never shadowed by a GET-only resource of the same path.
    pub fn register(self, cfg: &mut web::ServiceConfig) {
        let mut by_path: Vec<(&'static str, Vec<Route>)> = Vec::new();
        for (info, route) in self.entries {
            match by_path.iter_mut().find(|(p, _)| *p == info.path) {
                Some((_, routes)) => routes.push(route),
                None => by_path.push((info.path, vec![route])),
            }
        }
        for (path, routes) in by_path {
            let mut res = web::resource(path);
            for r in routes {
                res = res.route(r);
            }
            cfg.service(res);
        }
    }
}

/// Every route of the application.
pub fn table() -> RouteTable {
    use Access::*;
    let mut t = RouteTable::default();

    t.get("/healthz", Public, health::healthz);
    t.get("/readyz", Public, health::readyz);
    t.get("/static/{path:.*}", Public, assets::asset);

    t.get("/login", Public, login::login_page);
    t.post("/login", Public, login::login_submit);
    t.post("/logout", User, login::logout);

    t.get("/", User, home::home);

    t.get("/account", User, account::account_show);
    t.post("/account/password", User, account::account_password);
    t.post("/account/tokens", User, account::token_create);
    t.post(
        "/account/tokens/{id:\\d+}/revoke",
        User,
        account::token_revoke,
    );

    t.get("/admin/users", Admin, users::users_list);
    t.post("/admin/users", Admin, users::users_create);
    t.get("/admin/users/new", Admin, users::users_new);
    t.get("/admin/users/{id:\\d+}", Admin, users::users_edit);
    t.post("/admin/users/{id:\\d+}", Admin, users::users_update);
    t.post(
        "/admin/users/{id:\\d+}/active",
        Admin,
        users::users_set_active,
    );
    t.post(
        "/admin/users/{id:\\d+}/password",
        Admin,
        users::users_reset_password,
    );

    t.get("/admin/roles", Admin, roles::roles_list);
    t.post("/admin/roles", Admin, roles::roles_create);
    t.get("/admin/roles/{id:\\d+}", Admin, roles::roles_edit);
    t.post("/admin/roles/{id:\\d+}", Admin, roles::roles_update);
    t.post("/admin/roles/{id:\\d+}/delete", Admin, roles::roles_delete);

    t.get("/admin/audit", Admin, audit::audit_list);

    t.get("/api/v1/me", Api, api::me::me_get);

    t
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    table().register(cfg);
}
