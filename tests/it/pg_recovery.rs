//! PostgreSQL cuts every connection (a restart, a failover, an administrator's
//! `pg_terminate_backend`): the server keeps running, the next API calls succeed on new
//! connections, and the worker goes on delivering — nothing queued is lost.

use diesel::RunQueryDsl;

use crate::buttons_support::{ROLE, buttons_app, fire_as, setup, token};
use crate::helpers::{Backend, TestApp};
use crate::receiver::Reply;

/// Ends every other session on the app's database, as a restart would: each backend
/// has exited (its socket closed) when this returns, as before a restarted server takes
/// connections again.
fn cut_every_connection(app: &TestApp) -> usize {
    app.with_conn(|c| {
        diesel::sql_query(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .execute(c)
        .unwrap()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_recovers_when_postgres_cuts_its_connections() {
    let Some(app) = buttons_app(Backend::Postgres).await else {
        eprintln!("skipped: HOOKDESK_TEST_DATABASE_URL is not set");
        return;
    };
    let s = setup(&app, Reply::Status(200)).await;
    let (t, w) = (s.ticket.display_id.clone(), s.webhook);
    app.create_user("tess", &["Technician", ROLE]);
    let tess = token(&app, "tess");
    assert_eq!(fire_as(&app, &tess, &t, w, "before").await, 202);
    s.rx.wait_for(1).await;

    let cut = cut_every_connection(&app);
    assert!(
        cut >= 2,
        "the pool and the worker's listener had sessions: {cut}"
    );

    // Every call after the cut is answered as before, on new connections.
    for i in 0..10 {
        assert_eq!(
            fire_as(&app, &tess, &t, w, &format!("after-{i}")).await,
            202
        );
    }
    let got = s.rx.wait_for(11).await;
    let mut refs: Vec<String> = got
        .iter()
        .map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["ref"].to_string())
        .collect();
    refs.sort();
    refs.dedup();
    assert_eq!(refs.len(), 11, "each firing arrived once: {refs:?}");
    let resp = app.get("/healthz").await;
    assert_eq!(resp.status(), 200);
}
