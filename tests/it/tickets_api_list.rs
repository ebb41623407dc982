//! Ticket API listing (filters, cursor pagination) and display-id uniqueness under
//! concurrent creates; on SQLite and PostgreSQL.

use serde_json::{Value, json};

use crate::db_tests;
use crate::helpers::TestApp;
use crate::tickets_api::*;

db_tests!(
    api_lists_with_filters_and_cursor,
    concurrent_creates_get_unique_display_ids,
);

async fn api_lists_with_filters_and_cursor(app: TestApp) {
    let tok = token_for(&app, "sys", &["Technician"], false);
    app.create_user("tess", &["Technician"]);
    for (ty, subject, prio, assignee) in [
        ("IN", "Printer jams", "P1", Some("tess")),
        ("SR", "New laptop", "P3", None),
        ("IN", "VPN drops", "P2", Some("tess")),
        ("CH", "Patch servers", "P3", None),
        ("PR", "printer driver crashes", "P4", None),
    ] {
        let (s, _) = api(
            &app,
            reqwest::Method::POST,
            &tok,
            "/api/v1/tickets",
            Some(json!({ "type": ty, "subject": subject, "priority": prio, "assignee": assignee })),
        )
        .await;
        assert_eq!(s, 201);
    }
    let list = |q: &'static str| {
        let app = &app;
        let tok = tok.clone();
        async move {
            let (s, b) = api(
                app,
                reqwest::Method::GET,
                &tok,
                &format!("/api/v1/tickets?{q}"),
                None,
            )
            .await;
            assert_eq!(s, 200, "{q}: {b}");
            let ids: Vec<String> = b["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["displayid"].as_str().unwrap().to_string())
                .collect();
            (ids, b["next_cursor"].clone())
        }
    };
    assert_eq!(list("").await.0, ["PR1", "CH1", "IN2", "SR1", "IN1"]);
    assert_eq!(list("type=Incident").await.0, ["IN2", "IN1"]);
    assert_eq!(list("q=PRINTER").await.0, ["PR1", "IN1"]);
    assert_eq!(list("q=sr1").await.0, ["SR1"]);
    assert_eq!(list("priority=P3").await.0, ["CH1", "SR1"]);
    assert_eq!(list("assignee=tess").await.0, ["IN2", "IN1"]);
    assert_eq!(list("assignee=none&type=SR").await.0, ["SR1"]);
    assert_eq!(list("status=Open&priority=P1%20Critical").await.0, ["IN1"]);
    let (page1, next) = list("limit=2").await;
    assert_eq!(page1, ["PR1", "CH1"]);
    let cursor = next.as_i64().unwrap();
    let (s, b) = api(
        &app,
        reqwest::Method::GET,
        &tok,
        &format!("/api/v1/tickets?limit=2&before={cursor}"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(b["items"][0]["displayid"], "IN2");
    assert_eq!(b["items"][1]["displayid"], "SR1");
    let (s, b) = api(
        &app,
        reqwest::Method::GET,
        &tok,
        "/api/v1/tickets?status=Asleep",
        None,
    )
    .await;
    assert_eq!(s, 422, "{b}");
}

async fn concurrent_creates_get_unique_display_ids(app: TestApp) {
    let tok = token_for(&app, "sys", &["Technician"], true);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let client = app.client.clone();
        let url = app.url("/api/v1/tickets");
        let tok = tok.clone();
        let ty = if i % 2 == 0 { "Incident" } else { "Change" };
        tasks.push(tokio::spawn(async move {
            let resp = client
                .post(url)
                .bearer_auth(tok)
                .json(&json!({ "type": ty, "subject": format!("Concurrent {i}") }))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 201);
            let v: Value = resp.json().await.unwrap();
            v["displayid"].as_str().unwrap().to_string()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.sort();
    let mut expected: Vec<String> = (1..=20)
        .flat_map(|n| [format!("IN{n}"), format!("CH{n}")])
        .collect();
    expected.sort();
    assert_eq!(ids, expected);
    let created: i64 = app.with_conn(|c| {
        use diesel::prelude::*;
        hookdesk::db::schema::events::table
            .filter(hookdesk::db::schema::events::event_type.eq("ticket.created"))
            .count()
            .get_result(c)
            .unwrap()
    });
    assert_eq!(created, 40);
}
