//! Test-send from the webhook page and "Test connection" from the connection page, and
//! their API twins: the real request goes to a real receiver at once, the real answer is
//! shown, the delivery is on record with trigger `test`, and nothing else changes (no
//! ticket, no connection health).

use hookdesk::auth::tokens::ApiToken;
use hookdesk::auth::users::User;
use hookdesk::connections::Connection;
use hookdesk::delivery::queue::Delivery;
use hookdesk::delivery::records::AttemptRecord;
use hookdesk::tickets::{Ticket, history};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::receiver::{Receiver, Reply};
use crate::webhooks::{post, slack_connection, text_of, ticket_with_forms, webhook_form};

fn deliveries(app: &TestApp) -> Vec<Delivery> {
    use diesel::prelude::*;
    use hookdesk::db::schema::deliveries;
    app.with_conn(|c| {
        deliveries::table
            .order(deliveries::id)
            .select(Delivery::as_select())
            .load(c)
            .unwrap()
    })
}

fn answer() -> Reply {
    Reply::Full {
        status: 201,
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("X-Request-Id".into(), "rq-77".into()),
        ],
        body: br#"{"result":{"number":"INC0042"}}"#.to_vec(),
    }
}

/// The webhook form with a response mapping, as the page posts it for a test-send.
fn test_form(conn: i64, ticket: &str) -> Vec<(String, String)> {
    let mut f = webhook_form(conn, &[]);
    f.extend(
        [
            ("rf_path", "result.number"),
            ("rf_target", "ticket.category"),
            ("preview_ticket", ticket),
            ("preview_param_name", "customer_ref"),
            ("preview_param", "ACME-1"),
            ("preview_param_name", "note"),
            ("preview_param", "typed but read-only"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    f
}

async fn test_send_shows_the_real_response_and_changes_no_ticket(app: TestApp) {
    app.login_admin().await;
    let rx = Receiver::start(answer()).await;
    let conn = slack_connection(&app, &rx.url("/services")).await;
    let t = ticket_with_forms(&app);
    let resp = post(
        &app,
        "/admin/webhooks/test",
        &test_form(conn, &t.display_id),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();

    // The receiver got the real request: the rendered body, the parameters, the
    // connection's credentials and the delivery's id.
    let got = rx.received();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/services"));
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["ref"], "ACME-1");
    assert_eq!(
        body["note"], "from Administrator",
        "{{actor.name}} is the display name"
    );
    assert_eq!(
        body["text"],
        format!("{}: Printer \"Big Bertha\" on fire", t.display_id)
    );
    assert_eq!(
        r.header("authorization"),
        Some("Bearer xoxb-very-secret-token")
    );
    assert_eq!(r.header("x-desk-key"), Some("desk-key-secret-value"));

    // The page shows what came back.
    assert_eq!(text_of(&html, "#test-status").as_deref(), Some("201"));
    let shown_body = text_of(&html, "#test-response-body").unwrap();
    assert!(
        shown_body.contains("\"number\": \"INC0042\""),
        "{shown_body}"
    );
    assert!(
        text_of(&html, "#test-response-headers")
            .unwrap()
            .contains("x-request-id: rq-77")
    );
    let processing = text_of(&html, "#test-response-processing").unwrap();
    assert!(
        processing.contains("result.number → ticket.category = INC0042"),
        "{processing}"
    );
    assert!(!html.contains("xoxb-very-secret-token") && !html.contains("desk-key-secret-value"));

    // On record as a test delivery, with the same id the receiver saw.
    let ds = deliveries(&app);
    assert_eq!(ds.len(), 1);
    let d = &ds[0];
    assert_eq!(
        (d.trigger.as_str(), d.status.as_str(), d.attempts),
        ("test", "succeeded", 1)
    );
    assert_eq!(d.ticket_id, Some(t.id));
    assert_eq!(d.webhook_id, None, "an unsaved form links to no webhook");
    assert_eq!(r.header("webhook-id"), Some(d.uid.as_str()));
    assert!(html.contains(&d.uid));
    let a = app.with_conn(|c| AttemptRecord::for_delivery(c, d.id).unwrap());
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].trigger, "test");
    assert_eq!(a[0].response_status, Some(201));
    assert!(
        a[0].request_headers.contains("Bearer ••••"),
        "{}",
        a[0].request_headers
    );
    assert!(!a[0].request_headers.contains("xoxb"));

    // A test never changes the ticket it was sent for.
    app.with_conn(|c| {
        assert_eq!(Ticket::get(c, t.id).unwrap().category, t.category);
        assert!(
            history::list(c, t.id)
                .unwrap()
                .iter()
                .all(|h| h.kind != "webhook_response")
        );
    });
}

async fn a_failed_test_is_shown_and_not_retried(app: TestApp) {
    app.login_admin().await;
    let rx = Receiver::start(Reply::Full {
        status: 503,
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: b"down for maintenance".to_vec(),
    })
    .await;
    let conn = slack_connection(&app, &rx.url("/services")).await;
    ticket_with_forms(&app); // the forms the body template names
    let resp = post(&app, "/admin/webhooks/test", &test_form(conn, "")).await;
    let html = resp.text().await.unwrap();
    assert_eq!(text_of(&html, "#test-status").as_deref(), Some("503"));
    assert!(text_of(&html, "#test-error").unwrap().starts_with("http:"));
    assert_eq!(
        text_of(&html, "#test-response-body").as_deref(),
        Some("down for maintenance")
    );
    let d = &deliveries(&app)[0];
    assert_eq!((d.status.as_str(), d.attempts), ("failed", 1));
    assert_eq!(d.ticket_id, None, "the sample ticket is no ticket");
    // Tests do not count towards the connection's health.
    let c = app.with_conn(|c| Connection::get(c, conn).unwrap());
    assert_eq!(c.consecutive_failures, 0);
}

async fn a_request_that_cannot_be_built_sends_nothing(app: TestApp) {
    app.login_admin().await;
    let rx = Receiver::start(answer()).await;
    let conn = slack_connection(&app, &rx.url("")).await;
    ticket_with_forms(&app);
    let resp = post(&app, "/admin/webhooks/test", &test_form(conn, "IN999999")).await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    let err = text_of(&html, "#test-result").unwrap();
    assert!(
        err.contains("Nothing was sent") && err.contains("IN999999"),
        "{err}"
    );
    let mut broken = test_form(conn, "");
    broken.retain(|(k, _)| k != "body_template");
    broken.push((
        "body_template".into(),
        "{\"a\": \"{{ticket.nope}}\"}".into(),
    ));
    let html = post(&app, "/admin/webhooks/test", &broken)
        .await
        .text()
        .await
        .unwrap();
    let err = text_of(&html, "#test-result").unwrap();
    assert!(
        err.contains("body_template") && err.contains("ticket.nope"),
        "{err}"
    );
    assert!(rx.received().is_empty());
    assert!(deliveries(&app).is_empty());
}

fn token(app: &TestApp) -> String {
    app.with_conn(|c| {
        let u = User::find_by_username(c, "admin").unwrap().unwrap();
        ApiToken::create(c, &hookdesk::audit::Actor::system("test"), u.id, "test")
            .unwrap()
            .1
    })
}

async fn the_api_test_sends_a_saved_webhook(app: TestApp) {
    app.login_admin().await;
    let rx = Receiver::start(answer()).await;
    let conn = slack_connection(&app, &rx.url("/services")).await;
    let t = ticket_with_forms(&app);
    let resp = post(&app, "/admin/webhooks", &test_form(conn, "")).await;
    assert_eq!(resp.status(), 303);
    let wid = app.with_conn(|c| hookdesk::webhooks::store::list(c).unwrap()[0].id);
    let tok = token(&app);
    let resp = app
        .client
        .post(app.url(&format!("/api/v1/webhooks/{wid}/test")))
        .bearer_auth(&tok)
        .json(&json!({"ticket": t.display_id, "params": {"customer_ref": "API-7"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["succeeded"], true);
    assert_eq!(v["status"], 201);
    assert_eq!(v["response_body"], r#"{"result":{"number":"INC0042"}}"#);
    assert_eq!(
        v["response_processing"][0],
        "result.number → ticket.category = INC0042"
    );
    assert!(v.to_string().contains("Bearer ••••"));
    assert!(!v.to_string().contains("xoxb"));
    let sent: Value = serde_json::from_slice(&rx.received()[0].body).unwrap();
    assert_eq!(sent["ref"], "API-7");
    let d = &deliveries(&app)[0];
    assert_eq!((d.webhook_id, d.trigger.as_str()), (Some(wid), "test"));
    assert_eq!(v["delivery_uid"], d.uid);

    let resp = app
        .client
        .post(app.url("/api/v1/webhooks/424242/test"))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

async fn test_connection_on_the_page_and_the_api(app: TestApp) {
    app.login_admin().await;
    let rx = Receiver::start(Reply::Status(401)).await;
    let conn = slack_connection(&app, &rx.url("/api/now")).await;
    let page = app
        .get(&format!("/admin/connections/{conn}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Test connection"));
    let resp = app
        .post_form(&format!("/admin/connections/{conn}/test"), &[])
        .await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert_eq!(text_of(&html, "#test-status").as_deref(), Some("401"));
    assert!(
        text_of(&html, ".test-summary")
            .unwrap()
            .starts_with("Failed")
    );
    let got = rx.received();
    assert_eq!(
        (got[0].method.as_str(), got[0].path.as_str()),
        ("GET", "/api/now")
    );
    assert_eq!(
        got[0].header("authorization"),
        Some("Bearer xoxb-very-secret-token")
    );
    assert_eq!(got[0].header("x-desk-key"), Some("desk-key-secret-value"));

    rx.set_reply(Reply::Status(204));
    let resp = app
        .client
        .post(app.url(&format!("/api/v1/connections/{conn}/test")))
        .bearer_auth(token(&app))
        .send()
        .await
        .unwrap();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        (v["succeeded"].clone(), v["status"].clone()),
        (json!(true), json!(204))
    );
    assert_eq!(v["request_method"], "GET");
    let ds = deliveries(&app);
    assert_eq!(ds.len(), 2);
    assert!(
        ds.iter()
            .all(|d| d.trigger == "test" && d.connection_id == Some(conn))
    );
    let c = app.with_conn(|c| Connection::get(c, conn).unwrap());
    assert_eq!(c.consecutive_failures, 0);
}

async fn a_refused_destination_is_explained(app: TestApp) {
    app.login_admin().await;
    // 10.0.0.0/8 is private and not on this app's allow-list.
    let conn = slack_connection(&app, "http://10.1.2.3/hook").await;
    let html = app
        .post_form(&format!("/admin/connections/{conn}/test"), &[])
        .await
        .text()
        .await
        .unwrap();
    let err = text_of(&html, "#test-error").unwrap();
    assert!(err.starts_with("refused_by_policy:"), "{err}");
    assert!(err.contains("10.1.2.3"), "{err}");
    assert_eq!(deliveries(&app)[0].status, "failed");
}

/// A connection's "Verify TLS" reaches the sender: on, a self-signed certificate is a
/// `tls` failure and nothing is read; off, the same receiver answers.
async fn verify_tls_is_the_connections_choice(app: TestApp) {
    app.login_admin().await;
    let rx = crate::tls_receiver::TlsReceiver::start().await;
    let conn = slack_connection(&app, &rx.url("/hook")).await;
    let path = format!("/admin/connections/{conn}/test");
    let html = app.post_form(&path, &[]).await.text().await.unwrap();
    let err = text_of(&html, "#test-error").unwrap_or_default();
    assert!(err.starts_with("tls:"), "{err}");
    assert_eq!(rx.answered(), 0);

    app.with_conn(|c| {
        use diesel::prelude::*;
        use hookdesk::db::schema::connections;
        diesel::update(connections::table.find(conn))
            .set(connections::verify_tls.eq(false))
            .execute(c)
            .unwrap();
    });
    let html = app.post_form(&path, &[]).await.text().await.unwrap();
    assert_eq!(
        text_of(&html, "#test-status").as_deref(),
        Some("200"),
        "{html}"
    );
    assert_eq!(text_of(&html, "#test-response-body").as_deref(), Some("ok"));
    assert_eq!(rx.answered(), 1);
}

crate::db_tests!(
    spawn = crate::responses::loopback_app;
    test_send_shows_the_real_response_and_changes_no_ticket,
    a_failed_test_is_shown_and_not_retried,
    a_request_that_cannot_be_built_sends_nothing,
    the_api_test_sends_a_saved_webhook,
    test_connection_on_the_page_and_the_api,
    a_refused_destination_is_explained,
    verify_tls_is_the_connections_choice,
);
