//! Technicians fire webhooks from the ticket page (issue 10, items 6–8), over real HTTP
//! to a real receiver with the app's own worker: the Actions menu, the dialog's prompts
//! and "Show request", firing with and without htmx, the live status fragment from
//! queued/sending to delivered or retrying, and every refusal enforced on the server
//! and written to the audit log.

use std::time::Duration;

use diesel::prelude::*;
use hookdesk::db::schema::deliveries;
use serde_json::{Value, json};

use crate::buttons_support::{ROLE, delivery_count, disable, fire_audits, plain_ticket, setup};
use crate::db_tests;
use crate::helpers::TestApp;
use crate::receiver::Reply;

db_tests!(spawn = crate::buttons_support::buttons_app;
    a_technician_fires_from_the_ticket_and_watches_it_delivered,
    a_503_answer_shows_retrying_with_the_error_and_the_next_attempt,
    refusals_on_the_page_are_enforced_on_the_server_and_audited,
);

fn fire_path(ticket: i64, webhook: i64) -> String {
    format!("/tickets/{ticket}/webhooks/{webhook}/fire")
}

/// Posts the fire form as a browser without htmx would.
async fn fire_form(
    app: &TestApp,
    client: &reqwest::Client,
    ticket: i64,
    webhook: i64,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    app.post_form_with(client, &fire_path(ticket, webhook), fields)
        .await
}

/// An htmx request (with the session's CSRF token as htmx sends it).
async fn htmx_post(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let token = app.csrf_of(client).await;
    client
        .post(app.url(path))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", token)
        .form(fields)
        .send()
        .await
        .unwrap()
}

async fn htmx_get(app: &TestApp, client: &reqwest::Client, path: &str) -> reqwest::Response {
    client
        .get(app.url(path))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap()
}

/// The newest delivery's id.
fn latest_delivery(app: &TestApp) -> i64 {
    app.with_conn(|c| {
        deliveries::table
            .select(deliveries::id)
            .order(deliveries::id.desc())
            .first(c)
            .unwrap()
    })
}

fn attr(html: &str, css: &str, name: &str) -> Option<String> {
    let doc = scraper::Html::parse_fragment(html);
    let sel = scraper::Selector::parse(css).unwrap();
    doc.select(&sel)
        .next()
        .and_then(|e| e.value().attr(name).map(str::to_string))
}

fn exists(html: &str, css: &str) -> bool {
    let doc = scraper::Html::parse_fragment(html);
    let sel = scraper::Selector::parse(css).unwrap();
    doc.select(&sel).next().is_some()
}

/// Polls the status fragment until it settles or shows `until` (at most 15 s); returns
/// every stage seen, in order without repeats, and the last fragment.
pub async fn poll_status(
    app: &TestApp,
    client: &reqwest::Client,
    ticket: i64,
    delivery: i64,
    until: &str,
) -> (Vec<String>, String) {
    let path = format!("/tickets/{ticket}/deliveries/{delivery}");
    let mut seen: Vec<String> = Vec::new();
    let mut last = String::new();
    for _ in 0..150 {
        let resp = htmx_get(app, client, &path).await;
        assert_eq!(resp.status(), 200);
        last = resp.text().await.unwrap();
        let stage = attr(&last, ".delivery-status", "data-stage").unwrap();
        let polling = attr(&last, ".delivery-status", "hx-trigger");
        let settled = matches!(stage.as_str(), "delivered" | "failed" | "cancelled");
        // The fragment asks for itself again until it is settled, then stops.
        assert_eq!(polling.is_some(), !settled, "{last}");
        if seen.last() != Some(&stage) {
            seen.push(stage.clone());
        }
        if settled || stage == until {
            return (seen, last);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("delivery {delivery} never reached {until}: saw {seen:?}; last: {last}");
}

async fn a_technician_fires_from_the_ticket_and_watches_it_delivered(app: TestApp) {
    // The receiver takes a moment to answer, so the live status is seen sending.
    let s = setup(&app, Reply::Delay(Duration::from_millis(2000), 200)).await;
    let (t, w) = (s.ticket.id, s.webhook);
    let tess = app.client_as("tess", &["Technician", ROLE]).await;

    // The ticket page offers it in the Actions menu and as a button.
    let page = app
        .get_with(&tess, &format!("/tickets/{t}"))
        .await
        .text()
        .await
        .unwrap();
    let item = format!("#actions-menu a[data-webhook='{w}']");
    assert!(exists(&page, &item), "{page}");
    assert_eq!(
        attr(&page, &item, "hx-get").as_deref(),
        Some(fire_path(t, w).as_str())
    );
    assert!(exists(&page, &format!("a[data-webhook-button='{w}']")));
    assert!(exists(&page, "dialog#fire-dialog"));
    assert!(exists(&page, "section#deliveries"));

    // The dialog: labelled prompts, defaults from the ticket, the read-only one shown
    // but not sent, the multi-line one a textarea.
    let dialog = htmx_get(&app, &tess, &fire_path(t, w)).await;
    assert_eq!(dialog.status(), 200);
    let dialog = dialog.text().await.unwrap();
    assert!(!dialog.contains("<html"), "a fragment for htmx");
    assert_eq!(
        attr(&dialog, "input[name='param.customer_ref']", "value"),
        Some(format!("REF-{t}"))
    );
    assert!(dialog.contains("<label for=\"param-customer_ref\">Customer reference</label>"));
    assert!(dialog.contains("<label for=\"param-note\">Note</label>"));
    assert!(exists(&dialog, "textarea#param-note[readonly]"));
    assert!(!exists(&dialog, "[name='param.note']"), "{dialog}");
    assert!(dialog.contains("from tess name"), "{dialog}");
    // Without htmx the same URL is a page of its own.
    let full = app.get_with(&tess, &fire_path(t, w)).await;
    assert_eq!(full.status(), 200);
    assert!(full.text().await.unwrap().contains("id=\"fire-form\""));

    // "Show request": the exact request, secrets hidden, nothing queued.
    let preview = htmx_post(
        &app,
        &tess,
        &format!("/tickets/{t}/webhooks/{w}/preview"),
        &[("param.customer_ref", "CUST-9")],
    )
    .await;
    assert_eq!(preview.status(), 200);
    let preview = preview.text().await.unwrap();
    let shown_body = crate::webhooks::text_of(&preview, "#fire-preview-body").unwrap();
    assert!(shown_body.contains(r#""ref":"CUST-9""#), "{preview}");
    let shown_request = crate::webhooks::text_of(&preview, "#fire-preview-request").unwrap();
    assert!(shown_request.contains(&s.rx.url("/vendor")), "{preview}");
    assert!(shown_request.contains("X-Desk-Key: ••••"), "{preview}");
    assert_eq!(
        crate::webhooks::text_of(&preview, "#fire-preview-description"),
        Some(format!(
            "Sent {} to the vendor as CUST-9",
            s.ticket.display_id
        ))
    );
    assert!(!preview.contains("xoxb-very-secret-token"));
    assert!(!preview.contains("desk-key-secret-value"));
    assert_eq!(delivery_count(&app), 0, "a preview queues nothing");

    // Fire, as a browser without htmx posts the form.
    let resp = fire_form(&app, &tess, t, w, &[("param.customer_ref", "CUST-9")]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        resp.headers()["location"].to_str().unwrap(),
        format!("/tickets/{t}#deliveries")
    );
    let id = latest_delivery(&app);
    let (seen, last) = poll_status(&app, &tess, t, id, "delivered").await;
    assert_eq!(
        seen.last().map(String::as_str),
        Some("delivered"),
        "{seen:?}"
    );
    assert!(seen.contains(&"sending".to_string()), "{seen:?}");
    let order = ["queued", "sending", "delivered"];
    let ranks: Vec<usize> = seen
        .iter()
        .map(|s| order.iter().position(|o| o == s).unwrap())
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert_eq!(
        crate::webhooks::text_of(&last, ".http-status").as_deref(),
        Some("200")
    );

    // The receiver got the typed value and the read-only default.
    let got = s.rx.wait_for(1).await;
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["ref"], "CUST-9");
    assert_eq!(body["note"], "from tess name");
    assert_eq!(body["ticket"], json!(t));

    // The history has the action description; the panel lists the delivery.
    let page = app
        .get_with(&tess, &format!("/tickets/{t}"))
        .await
        .text()
        .await
        .unwrap();
    let history = crate::webhooks::text_of(&page, "#history").unwrap();
    assert!(
        history.contains(&format!(
            "Sent {} to the vendor as CUST-9",
            s.ticket.display_id
        )),
        "{history}"
    );
    assert!(
        exists(
            &page,
            &format!("#deliveries .delivery-status[data-delivery='{id}'][data-stage='delivered']")
        ),
        "{page}"
    );
    let d = app.with_conn(|c| hookdesk::delivery::queue::Delivery::get(c, id).unwrap());
    assert_eq!(d.trigger, "manual");
    assert_eq!(d.actor_name, "tess name");
    assert!(d.actor_id.is_some());

    // From the dialog (htmx): the answer shows the live status, and brings the panel
    // and the history along out of band; the response's start is summarised.
    s.rx.set_reply(Reply::Full {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: br#"{"vendor_ticket": "V-1001"}"#.to_vec(),
    });
    let resp = htmx_post(
        &app,
        &tess,
        &fire_path(t, w),
        &[("param.customer_ref", "CUST-10")],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let fired = resp.text().await.unwrap();
    let id2 = latest_delivery(&app);
    assert!(
        exists(&fired, "#fire-dialog-body #fired-status .delivery-status"),
        "{fired}"
    );
    assert!(exists(&fired, "section#deliveries[hx-swap-oob]"), "{fired}");
    assert!(exists(&fired, "section#history[hx-swap-oob]"), "{fired}");
    assert!(fired.contains("CUST-10"), "history out of band: {fired}");
    let (_, last) = poll_status(&app, &tess, t, id2, "delivered").await;
    assert_eq!(
        crate::webhooks::text_of(&last, ".response-summary").as_deref(),
        Some(r#"{"vendor_ticket": "V-1001"}"#)
    );

    // Audited as this technician.
    let audits = fire_audits(&app);
    assert_eq!(audits.len(), 2, "{audits:?}");
    assert!(audits.iter().all(|a| a.0 == "tess" && a.1 == "success"));
    assert!(audits[0].2.contains("Send to vendor"), "{audits:?}");
}

async fn a_503_answer_shows_retrying_with_the_error_and_the_next_attempt(app: TestApp) {
    let s = setup(&app, Reply::Status(503)).await;
    let (t, w) = (s.ticket.id, s.webhook);
    let tess = app.client_as("tess", &["Technician", ROLE]).await;
    let resp = fire_form(&app, &tess, t, w, &[("param.customer_ref", "CUST-5")]).await;
    assert_eq!(resp.status(), 303);
    s.rx.wait_for(1).await;
    let id = latest_delivery(&app);
    let (seen, last) = poll_status(&app, &tess, t, id, "retrying").await;
    assert_eq!(
        seen.last().map(String::as_str),
        Some("retrying"),
        "{seen:?}"
    );
    // Still polling: the next attempt is a minute away.
    assert!(attr(&last, ".delivery-status", "hx-trigger").is_some());
    assert_eq!(
        crate::webhooks::text_of(&last, ".http-status").as_deref(),
        Some("503")
    );
    let error = crate::webhooks::text_of(&last, ".delivery-error").unwrap();
    assert!(error.contains("attempt 1 of 2 failed"), "{error}");
    assert!(error.contains("503"), "{error}");
    assert!(last.contains("next attempt at"), "{last}");
    assert_eq!(s.rx.received().len(), 1, "the retry waits for its time");
}

async fn refusals_on_the_page_are_enforced_on_the_server_and_audited(app: TestApp) {
    let s = setup(&app, Reply::Status(200)).await;
    let (t, w) = (s.ticket.id, s.webhook);
    let tess = app.client_as("tess", &["Technician", ROLE]).await;
    let rita = app.client_as("rita", &["Technician"]).await;

    // Without a granted role: not offered, and refused when crafted.
    let page = app
        .get_with(&rita, &format!("/tickets/{t}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!exists(&page, &format!("[data-webhook='{w}']")));
    assert!(page.contains("No webhook you may fire on this ticket."));
    assert_eq!(app.get_with(&rita, &fire_path(t, w)).await.status(), 403);
    let resp = fire_form(&app, &rita, t, w, &[("param.customer_ref", "X")]).await;
    assert_eq!(resp.status(), 403);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("None of your roles may fire webhook “Send to vendor”")
    );
    // An htmx request hears why in a toast.
    let resp = htmx_post(&app, &rita, &fire_path(t, w), &[]).await;
    assert_eq!(resp.status(), 403);
    let toast: Value =
        serde_json::from_str(resp.headers()["hx-trigger"].to_str().unwrap()).unwrap();
    assert_eq!(
        toast["hookdesk:toast"]["message"],
        "None of your roles may fire webhook “Send to vendor”."
    );
    // An administrator is no exception: the Administrator role is not granted.
    let resp = fire_form(&app, &app.client, t, w, &[]).await;
    assert_eq!(resp.status(), 403);

    // A changed read-only parameter, an unknown one: 422, naming it.
    let resp = fire_form(&app, &tess, t, w, &[("param.note", "something else")]).await;
    assert_eq!(resp.status(), 422);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("parameter `note` is read-only and cannot be changed")
    );
    let resp = fire_form(&app, &tess, t, w, &[("param.bogus", "1")]).await;
    assert_eq!(resp.status(), 422);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("has no parameter `bogus`")
    );
    // "Show request" follows the same rules, in place.
    let resp = htmx_post(
        &app,
        &tess,
        &format!("/tickets/{t}/webhooks/{w}/preview"),
        &[("param.note", "something else")],
    )
    .await;
    let shown = resp.text().await.unwrap();
    assert!(shown.contains("is read-only"), "{shown}");

    // A ticket of a type the webhook does not act on, one that fails its conditions.
    let request = plain_ticket(&app, "Service Request", "Open");
    let closed = plain_ticket(&app, "Incident", "Closed");
    for (ticket, why) in [
        (&request, "does not act on Service Request tickets"),
        (&closed, "does not meet the “Select tickets” conditions"),
    ] {
        let page = app
            .get_with(&tess, &format!("/tickets/{}", ticket.id))
            .await
            .text()
            .await
            .unwrap();
        assert!(!exists(&page, &format!("[data-webhook='{w}']")), "{why}");
        let resp = fire_form(&app, &tess, ticket.id, w, &[]).await;
        assert_eq!(resp.status(), 422, "{why}");
        assert!(resp.text().await.unwrap().contains(why), "{why}");
    }

    // A disabled webhook.
    disable(&app, w).await;
    let resp = fire_form(&app, &tess, t, w, &[]).await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("is disabled"));

    // Nothing went out; each refusal is in the audit log, with its reason.
    assert_eq!(delivery_count(&app), 0);
    assert!(s.rx.received().is_empty());
    let audits = fire_audits(&app);
    let by = |who: &str| audits.iter().filter(|a| a.0 == who).count();
    assert_eq!(by("rita"), 2, "{audits:?}");
    assert_eq!(by("admin"), 1, "{audits:?}");
    assert_eq!(by("tess"), 5, "{audits:?}");
    assert!(audits.iter().all(|a| a.1 == "failure"), "{audits:?}");
    for why in [
        "None of your roles",
        "read-only",
        "has no parameter",
        "Service Request",
        "conditions",
        "is disabled",
    ] {
        assert!(
            audits.iter().any(|a| a.3.contains(why)),
            "{why}: {audits:?}"
        );
    }
    assert!(audits[0].2.contains("Send to vendor"), "{audits:?}");
}
