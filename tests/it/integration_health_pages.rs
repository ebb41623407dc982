//! Integration health in the pages and the API: alert policies are validated like any
//! other input, pausing and discarding are audited and refused when they make no sense,
//! held deliveries are a status of their own in the log, keep-order refuses batching,
//! a disabled webhook says it creates nothing, and Hookdesk's system user is marked and
//! cannot be changed.

use diesel::prelude::*;
use hookdesk::db::schema::{audit_log, deliveries};
use reqwest::Method;
use serde_json::json;

use crate::helpers::TestApp;
use crate::queue::request;
use crate::rules_world::world;
use crate::tickets_api::api;

crate::db_tests!(spawn = crate::rules_world::loopback_worker_app;
    alert_policies_are_checked_saved_and_audited,
    pause_hold_discard_and_resume_from_the_pages_and_the_api,
    keep_order_webhooks_and_disabled_webhooks_say_what_they_do,
);
crate::db_tests!(the_system_user_is_marked_and_cannot_be_changed);

/// The message of a field error in a JSON error answer.
fn field_error(v: &serde_json::Value, field: &str) -> Option<String> {
    v["error"]["fields"]
        .as_array()?
        .iter()
        .find(|f| f["field"] == field)
        .and_then(|f| f["message"].as_str().map(str::to_owned))
}

fn audited(app: &TestApp, action: &str) -> Vec<(String, String)> {
    app.with_conn(|c| {
        audit_log::table
            .filter(audit_log::action.eq(action))
            .order(audit_log::id.asc())
            .select((audit_log::outcome, audit_log::detail))
            .load(c)
            .unwrap()
    })
}

async fn alert_policies_are_checked_saved_and_audited(app: TestApp) {
    let w = world(app).await;
    let put = |body: serde_json::Value| {
        let w = &w;
        async move {
            api(
                &w.app,
                Method::PUT,
                &w.admin,
                "/api/v1/alerts/default",
                Some(body),
            )
            .await
        }
    };
    // Off by default.
    let (s, v) = api(
        &w.app,
        Method::GET,
        &w.admin,
        "/api/v1/alerts/default",
        None,
    )
    .await;
    assert_eq!((s, v["enabled"].clone()), (200, json!(false)), "{v}");
    let (s, v) = put(json!({"enabled": true, "grup": "Ops"})).await;
    assert_eq!(s, 422, "{v}");
    assert!(field_error(&v, "grup").is_some(), "{v}");
    let (s, v) = put(json!({"enabled": true, "assignee": "nobody", "priority": "P9"})).await;
    assert_eq!(s, 422, "{v}");
    assert!(field_error(&v, "assignee").is_some(), "{v}");
    assert!(field_error(&v, "priority").is_some(), "{v}");
    let (s, v) = put(json!({"enabled": true, "on_breaker_open": false, "on_gone": false})).await;
    assert_eq!(s, 422, "nothing would open an alert: {v}");
    let r = w
        .app
        .client
        .put(w.app.url("/api/v1/alerts/default"))
        .bearer_auth(&w.admin)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let (s, v) =
        put(json!({"enabled": true, "group": "Ops", "assignee": "tess", "priority": "high"})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["priority"].as_str(), v["assignee"].as_str()),
        (Some("P2"), Some("tess"))
    );
    assert!(audited(&w.app, "alerts.default")[0].1.contains("for tess"));

    // A connection follows the default until given its own.
    let path = format!("/api/v1/connections/{}/alerts", w.connection);
    let (_, v) = api(&w.app, Method::GET, &w.admin, &path, None).await;
    assert_eq!(v["follows_default"], true);
    assert_eq!(v["policy"]["group"], "Ops");
    let (s, v) = api(
        &w.app,
        Method::PUT,
        &w.admin,
        &path,
        Some(json!({"follows_default": false})),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert!(field_error(&v, "policy").is_some(), "{v}");

    // The page: its own policy, a bad number is a field error and nothing is saved.
    let page = format!("/admin/connections/{}/alerts", w.connection);
    let html = w.app.get(&page).await.text().await.unwrap();
    assert!(
        html.contains("Follow the default (Incident P2 for tess"),
        "{html}"
    );
    let bad = w
        .app
        .post_form(
            &page,
            &[
                ("follows", "own"),
                ("enabled", "on"),
                ("on_breaker_open", "on"),
                ("failed_threshold", "0"),
                ("failed_window_minutes", "lots"),
                ("ticket_type", "Problem"),
                ("priority", "P1"),
                ("group", "Vendors"),
                ("assignee", ""),
                ("note_every_minutes", "10"),
            ],
        )
        .await;
    assert_eq!(bad.status(), 422);
    let html = bad.text().await.unwrap();
    assert!(html.contains("failed_window_minutes-error"), "{html}");
    assert!(html.contains("value=\"Vendors\""), "what was typed stays");
    let (_, v) = api(&w.app, Method::GET, &w.admin, &path, None).await;
    assert_eq!(v["follows_default"], true, "nothing saved");
    let ok = w
        .app
        .post_form(
            &page,
            &[
                ("follows", "own"),
                ("enabled", "on"),
                ("on_breaker_open", "on"),
                ("failed_threshold", "5"),
                ("failed_window_minutes", "10"),
                ("ticket_type", "Problem"),
                ("priority", "P1"),
                ("group", "Vendors"),
                ("assignee", ""),
                ("note_every_minutes", "10"),
            ],
        )
        .await;
    assert_eq!(ok.status(), 303);
    let (_, v) = api(&w.app, Method::GET, &w.admin, &path, None).await;
    assert_eq!(v["follows_default"], false);
    assert_eq!(v["policy"]["group"], "Vendors");
    assert_eq!(v["policy"]["on_gone"], false, "an unticked box is off");
    let conn_page = w
        .app
        .get(&format!("/admin/connections/{}", w.connection))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        conn_page
            .contains("Problem P1 for Vendors when breaker opens, more than 5 failed in 10 min"),
        "{conn_page}"
    );
    assert_eq!(audited(&w.app, "connection.alerts").len(), 1);
    // Technicians cannot read or change any of it.
    let (s, _) = api(&w.app, Method::GET, &w.tech, &path, None).await;
    assert_eq!(s, 403);
}

fn queue_two(w: &crate::rules_world::World) -> Vec<i64> {
    w.app.with_conn(|c| {
        (0..2)
            .map(|i| {
                let n = hookdesk::delivery::queue::NewDelivery::new(
                    hookdesk::delivery::queue::Trigger::Rule,
                    Some(w.connection),
                    request(&w.rx.url("/p"), &format!("{{\"n\":{i}}}")),
                );
                hookdesk::delivery::queue::enqueue(c, &n, 3, hookdesk::db::now())
                    .unwrap()
                    .0
            })
            .collect()
    })
}

async fn pause_hold_discard_and_resume_from_the_pages_and_the_api(app: TestApp) {
    let w = world(app).await;
    let c = w.connection;
    // Discarding what is not held is refused, and the refusal audited.
    let (s, v) = api(
        &w.app,
        Method::POST,
        &w.admin,
        &format!("/api/v1/connections/{c}/discard-held"),
        None,
    )
    .await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(audited(&w.app, "connection.discard_held")[0].0, "failure");
    // Paused from the page.
    let r = w
        .app
        .post_form(&format!("/admin/connections/{c}/pause"), &[])
        .await;
    assert_eq!(r.status(), 303);
    let (s, _) = api(
        &w.app,
        Method::POST,
        &w.admin,
        &format!("/api/v1/connections/{c}/pause"),
        None,
    )
    .await;
    assert_eq!(s, 409, "already paused");
    let ids = queue_two(&w);
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert!(w.rx.received().is_empty(), "held");
    // The log shows them as held, with the reason, and offers the status as a filter.
    let html = w
        .app
        .get(&format!("/admin/log?connection={c}&status=held"))
        .await
        .text()
        .await
        .unwrap();
    for id in &ids {
        assert!(html.contains(&format!("id=\"delivery-{id}\"")), "{html}");
    }
    assert!(html.contains("data-status=\"held\""));
    assert!(html.contains("Held: connection paused by admin"), "{html}");
    assert!(
        html.contains("name=\"status\" value=\"held\" checked"),
        "a status of its own in the filter"
    );
    let page = w
        .app
        .get(&format!("/admin/connections/{c}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("2 deliveries are held"), "{page}");
    assert!(page.contains("Discard held deliveries"));
    // Discarded through the API: cancelled, kept in the log, audited with the count.
    let (s, v) = api(
        &w.app,
        Method::POST,
        &w.admin,
        &format!("/api/v1/connections/{c}/discard-held"),
        None,
    )
    .await;
    assert_eq!((s, v["discarded"].clone()), (200, json!(2)), "{v}");
    let rows: Vec<(String, Option<String>)> = w.app.with_conn(|db| {
        deliveries::table
            .filter(deliveries::id.eq_any(&ids))
            .select((deliveries::status, deliveries::last_error))
            .load(db)
            .unwrap()
    });
    for (status, err) in rows {
        assert_eq!(status, "cancelled");
        assert_eq!(err.as_deref(), Some("discarded while held, by boss"));
    }
    assert!(
        audited(&w.app, "connection.discard_held")
            .iter()
            .any(|(o, d)| o == "success" && d == "2 held deliveries discarded")
    );
    // More arrive while paused; Resume through the API sends them.
    queue_two(&w);
    let (s, v) = api(
        &w.app,
        Method::POST,
        &w.admin,
        &format!("/api/v1/connections/{c}/resume"),
        None,
    )
    .await;
    assert_eq!((s, v["released"].clone()), (200, json!(2)), "{v}");
    assert_eq!(v["connection"]["held"], false);
    w.rx.wait_for(2).await;
    assert!(audited(&w.app, "connection.pause").len() == 1);
    assert!(
        audited(&w.app, "connection.resume")[0]
            .1
            .contains("2 waiting")
    );
}

async fn keep_order_webhooks_and_disabled_webhooks_say_what_they_do(app: TestApp) {
    let w = world(app).await;
    let (s, v) = api(
        &w.app,
        Method::PATCH,
        &w.admin,
        &format!("/api/v1/webhooks/{}", w.webhook),
        Some(json!({"keep_order": true, "batch_mode": "same_event_type"})),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert!(
        field_error(&v, "keep_order").unwrap().contains("batching"),
        "{v}"
    );
    let (s, v) = api(
        &w.app,
        Method::PATCH,
        &w.admin,
        &format!("/api/v1/webhooks/{}", w.webhook),
        Some(json!({"keep_order": true, "status": "disabled"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["keep_order"], true);
    let html = w
        .app
        .get(&format!("/admin/webhooks/{}", w.webhook))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"disabled-notice\""), "{html}");
    assert!(html.contains("it creates no deliveries at all"));
    assert!(
        html.contains("name=\"keep_order\" aria-describedby=\"keep_order-hint\" checked"),
        "{html}"
    );
}

async fn the_system_user_is_marked_and_cannot_be_changed(app: TestApp) {
    app.login_admin().await;
    let sys = app.with_conn(|c| hookdesk::auth::system_user::get_or_create(c).unwrap());
    let again = app.with_conn(|c| hookdesk::auth::system_user::get_or_create(c).unwrap());
    assert_eq!(sys.id, again.id, "one system user");
    assert!(sys.system && !sys.active);
    let html = app.get("/admin/users").await.text().await.unwrap();
    assert!(html.contains(">system</span>"), "{html}");
    let r = app
        .post_form(
            &format!("/admin/users/{}", sys.id),
            &[
                ("display_name", "Mine now"),
                ("email", ""),
                ("roles", "Administrator"),
            ],
        )
        .await;
    assert_eq!(r.status(), 409, "{}", r.text().await.unwrap());
    let r = app
        .post_form(
            &format!("/admin/users/{}/active", sys.id),
            &[("active", "true")],
        )
        .await;
    assert_eq!(r.status(), 409);
    // It cannot sign in.
    let c = crate::helpers::client();
    let r = app.try_login_with(&c, &sys.username, "!").await;
    assert_eq!(r.status(), 401);
}
