//! Walks every registered route and proves the guards hold for each: CSRF and origin on
//! every state-changing route, no anonymous access to protected routes, and 403 for a
//! Technician on every admin route.

use actix_web::http::Method;
use hookdesk::http::routes::{Access, RouteInfo, table};

use crate::db_tests;
use crate::helpers::{TestApp, client, csrf_from};

db_tests!(every_route_is_guarded);

/// A concrete path for a pattern: every `{param}` becomes `1`.
fn concrete(pattern: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for ch in pattern.chars() {
        match ch {
            '{' => {
                if depth == 0 {
                    out.push('1');
                }
                depth += 1;
            }
            '}' => depth -= 1,
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

fn method(m: &Method) -> reqwest::Method {
    reqwest::Method::from_bytes(m.as_str().as_bytes()).unwrap()
}

async fn send(
    app: &TestApp,
    c: &reqwest::Client,
    r: &RouteInfo,
    csrf: Option<&str>,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = c.request(method(&r.method), app.url(&concrete(r.path)));
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    if r.method != Method::GET {
        let mut form = vec![("probe", "1")];
        if let Some(t) = csrf {
            form.push(("csrf_token", t));
        }
        req = req.form(&form);
    }
    req.send().await.unwrap()
}

async fn every_route_is_guarded(app: TestApp) {
    let routes = table().infos();
    assert!(routes.len() >= 20, "the table lists every route");
    let mut seen = std::collections::HashSet::new();
    for r in &routes {
        assert!(
            seen.insert((r.method.clone(), r.path)),
            "duplicate route {} {}",
            r.method,
            r.path
        );
    }

    let admin = client();
    app.login_with(&admin, "admin", crate::helpers::ADMIN_PASSWORD)
        .await;
    let tech = app.client_as("tech", &["Technician"]).await;
    let tech_csrf = app.csrf_of(&tech).await;
    let anon = client();
    let anon_csrf = csrf_from(&app.get_with(&anon, "/login").await.text().await.unwrap());
    let admin_csrf = app.csrf_of(&admin).await;
    let tech_token = {
        let r = app
            .post_form_with(&tech, "/account/tokens", &[("name", "probe")])
            .await;
        let html = r.text().await.unwrap();
        let doc = scraper::Html::parse_document(&html);
        let sel = scraper::Selector::parse("#new-token").unwrap();
        doc.select(&sel).next().unwrap().text().collect::<String>()
    };

    let mut checked = 0;
    for r in &routes {
        let what = format!("{} {}", r.method, r.path);
        // The API takes bearer tokens, and machines post to the echo receiver: neither
        // has a form token, but both refuse a browser's foreign origin.
        let is_api = r.path.starts_with("/api/") || r.access == Access::Receiver;

        if r.method != Method::GET {
            if !is_api {
                // Signed in, but no token: refused.
                let resp = send(&app, &admin, r, None, &[]).await;
                assert_eq!(resp.status(), 403, "{what} without CSRF token");
                let resp = send(&app, &admin, r, Some("not-the-token"), &[]).await;
                assert_eq!(resp.status(), 403, "{what} with a wrong CSRF token");
            }
            // The right token (or a bearer token) from a foreign origin: refused.
            let auth = format!("Bearer {tech_token}");
            let resp = send(
                &app,
                &admin,
                r,
                Some(&admin_csrf),
                &[
                    ("origin", "https://attacker.example"),
                    ("authorization", &auth),
                ],
            )
            .await;
            assert_eq!(resp.status(), 403, "{what} from a foreign Origin");
            let resp = send(
                &app,
                &admin,
                r,
                Some(&admin_csrf),
                &[("sec-fetch-site", "cross-site"), ("authorization", &auth)],
            )
            .await;
            assert_eq!(resp.status(), 403, "{what} with Sec-Fetch-Site: cross-site");
        }

        match r.access {
            Access::Public | Access::Receiver => {}
            Access::User | Access::Technician | Access::Admin => {
                let resp = send(&app, &anon, r, Some(&anon_csrf), &[]).await;
                assert_eq!(resp.status(), 303, "{what} anonymous");
                let loc = resp.headers()["location"].to_str().unwrap();
                assert!(
                    loc.starts_with("/login"),
                    "{what} anonymous goes to login, not {loc}"
                );
            }
            Access::Api | Access::ApiAdmin => {
                let resp = send(&app, &anon, r, None, &[]).await;
                assert_eq!(resp.status(), 401, "{what} anonymous");
                let body: serde_json::Value = resp.json().await.unwrap();
                assert_eq!(body["error"]["code"], "unauthenticated", "{what}");
                // A session cookie is not an API credential.
                let resp = send(&app, &admin, r, None, &[]).await;
                assert_eq!(resp.status(), 401, "{what} with only a cookie");
            }
        }

        match r.access {
            Access::Admin => {
                let resp = send(&app, &tech, r, Some(&tech_csrf), &[]).await;
                assert_eq!(resp.status(), 403, "{what} as Technician");
            }
            Access::ApiAdmin => {
                let auth = format!("Bearer {tech_token}");
                let resp = send(&app, &anon, r, None, &[("authorization", &auth)]).await;
                assert_eq!(resp.status(), 403, "{what} as Technician");
            }
            _ => {}
        }
        checked += 1;
    }
    assert_eq!(checked, routes.len());

    // And the guards do not lock out the rightful users: every admin GET page opens.
    for r in routes
        .iter()
        .filter(|r| r.method == Method::GET && r.access == Access::Admin)
    {
        if r.path.contains('{') {
            continue;
        }
        let resp = app.get_with(&admin, r.path).await;
        assert_eq!(resp.status(), 200, "GET {} as admin", r.path);
    }
}

#[test]
fn concrete_paths() {
    assert_eq!(
        concrete("/admin/users/{id:\\d+}/active"),
        "/admin/users/1/active"
    );
    assert_eq!(concrete("/static/{path:.*}"), "/static/1");
}
