//! A write that cannot get SQLite's write lock within the busy timeout is answered 503
//! with `Retry-After` (JSON code `busy`; a page that says to try again), never a 500, and
//! writes nothing. SQLite only: the lock is held by another connection to the same file,
//! as a long writer would; PostgreSQL has no database-wide write lock to hold.

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
