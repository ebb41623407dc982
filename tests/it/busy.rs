//! Writes under contention. A write that cannot get SQLite's write lock within the busy
//! timeout is answered 503 with `Retry-After` (JSON code `busy`; a page that says to try
//! again), never a 500, and writes nothing — SQLite only: the lock is held by another
//! connection to the same file, as a long writer would; PostgreSQL has no database-wide
//! write lock to hold. And a read-then-write checked again under the lock (both backends).

use diesel::Connection;
use diesel::connection::SimpleConnection;
use serde_json::json;

use crate::helpers::{Backend, csrf_from, spawn_app_with};
use crate::tickets_api::token_for;

/// Takes the database's write lock on a connection of its own until dropped.
struct LockHolder(diesel::SqliteConnection);

impl LockHolder {
    fn take(database_url: &str) -> Self {
        let path = database_url.trim_start_matches("sqlite://");
        let mut c = diesel::SqliteConnection::establish(path).unwrap();
        c.batch_execute("BEGIN IMMEDIATE").unwrap();
        Self(c)
    }
}

impl Drop for LockHolder {
    fn drop(&mut self) {
        let _ = self.0.batch_execute("ROLLBACK");
    }
}

fn ticket_count(app: &crate::helpers::TestApp) -> usize {
    app.with_conn(|c| {
        hookdesk::tickets::query::list(c, &Default::default())
            .unwrap()
            .0
            .len()
    })
}

#[tokio::test]
async fn a_write_that_waits_too_long_is_a_503_that_writes_nothing() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.db_busy_timeout_ms = 300)
        .await
        .unwrap();
    let token = token_for(&app, "sys", &["Technician"], false);
    let api = |body: serde_json::Value| {
        app.client
            .post(app.url("/api/v1/tickets"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let ticket = json!({"type": "Incident", "subject": "Printer jams"});
    // A first call records the token's use, so the locked call below is refused at the
    // ticket's own write.
    assert_eq!(api(ticket.clone()).await.unwrap().status(), 201);
    app.login_admin().await;
    let csrf = csrf_from(&app.get("/tickets/new").await.text().await.unwrap());

    let lock = LockHolder::take(&app.config.database_url);
    let r = api(json!({"type": "Incident", "subject": "while locked"}))
        .await
        .unwrap();
    let status = r.status();
    let retry_after = r.headers().get("retry-after").cloned();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(status, 503, "{v}");
    assert_eq!(retry_after.unwrap(), "1");
    assert_eq!(v["error"]["code"], "busy", "{v}");

    let page = app
        .client
        .post(app.url("/tickets"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("type", "IN"),
            ("subject", "from the page while locked"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 503);
    assert_eq!(page.headers()["retry-after"], "1");
    let html = page.text().await.unwrap();
    assert!(html.contains("try again"), "{html}");
    drop(lock);

    // Nothing of the refused writes is left, and the same request now goes through.
    assert_eq!(ticket_count(&app), 1);
    let r = api(json!({"type": "Incident", "subject": "after"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(ticket_count(&app), 2);
}

/// Eight administrators create the same user at once: one succeeds, the others are told
/// the name is taken (the check is repeated under the write lock, after the slow password
/// hash), and nobody gets a 5xx.
async fn the_same_username_created_at_once_is_one_user(app: crate::helpers::TestApp) {
    app.login_admin().await;
    let page = app.get("/admin/users/new").await.text().await.unwrap();
    let csrf = csrf_from(&page);
    let posts = (0..8).map(|_| {
        app.client
            .post(app.url("/admin/users"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("username", "twin"),
                ("display_name", "Twin"),
                ("email", "twin@example.test"),
                ("password", "twin-password-1"),
                ("roles", "Technician"),
            ])
            .send()
    });
    let statuses: Vec<u16> = futures_util::future::join_all(posts)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 303).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 303 || *s == 422),
        "{statuses:?}"
    );
    let twins = app.with_conn(|c| {
        hookdesk::auth::User::list(c)
            .unwrap()
            .into_iter()
            .filter(|(u, _)| u.username == "twin")
            .count()
    });
    assert_eq!(twins, 1);
}

crate::db_tests!(the_same_username_created_at_once_is_one_user);
