//! Ticket and form pages over real HTTP: create, edit, notes, delete, live filters,
//! multi-line rows in place, form administration and role checks; and one Chromium run
//! of a technician creating a ticket with form values and adding a row in place.

use fantoccini::Locator;
use hookdesk::tickets::{Form, Ticket, events};

use crate::browser::{browser_login, start_browser};
use crate::db_tests;
use crate::helpers::{Backend, PASSWORD, TestApp, spawn_app};
use crate::tickets_api::{form_id, make_forms};

db_tests!(
    technician_creates_edits_and_notes_a_ticket,
    rows_are_added_edited_and_removed_in_place,
    administrators_manage_forms,
);

fn text_of(html: &str, css: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(css).unwrap();
    doc.select(&sel)
        .next()
        .unwrap_or_else(|| panic!("no {css} in page"))
        .text()
        .collect::<String>()
}

async fn technician_creates_edits_and_notes_a_ticket(app: TestApp) {
    make_forms(&app);
    let tech = app.client_as("tess", &["Technician"]).await;

    let page = app.get_with(&tech, "/tickets/new?type=IN").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("name=\"forms.inventory.serial\""));
    assert!(html.contains("London office"));

    // Every field type rejects bad input beside the field, and nothing is saved.
    let resp = app
        .post_form_with(
            &tech,
            "/tickets",
            &[
                ("type", "IN"),
                ("subject", ""),
                ("status", "Open"),
                ("priority", "P2"),
                ("forms.inventory.serial", ""),
                ("forms.inventory.cost", "lots"),
                ("forms.inventory.bought", "someday"),
                ("forms.inventory.location", "MARS"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    assert_eq!(text_of(&html, "#subject-error"), "is required");
    assert_eq!(
        text_of(&html, "#form-inventory-serial-error"),
        "is required"
    );
    assert_eq!(
        text_of(&html, "#form-inventory-cost-error"),
        "“lots” is not a number"
    );
    assert!(text_of(&html, "#form-inventory-bought-error").contains("is not a date"));
    assert!(text_of(&html, "#form-inventory-location-error").contains("not one of the options"));
    assert!(html.contains("value=\"lots\""), "typed values are kept");
    assert_eq!(
        app.with_conn(|c| hookdesk::tickets::query::count(c).unwrap()),
        0
    );

    let resp = app
        .post_form_with(
            &tech,
            "/tickets",
            &[
                ("type", "IN"),
                ("subject", "Printer jams"),
                ("status", "Open"),
                ("priority", "P2"),
                ("assignee", ""),
                ("forms.inventory.serial", "SN-9"),
                ("forms.inventory.cost", "42"),
                ("forms.inventory.warranty", "false"),
                ("forms.inventory.warranty", "true"),
                ("forms.inventory.location", "PAR"),
                ("forms.inventory.bought", "2026-01-02"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    let html = app.get_with(&tech, &loc).await.text().await.unwrap();
    assert_eq!(text_of(&html, "#display-id"), "IN1");
    assert_eq!(
        text_of(&html, "[data-field='inventory.location']"),
        "Paris office"
    );
    assert_eq!(text_of(&html, "[data-field='inventory.warranty']"), "Yes");
    assert_eq!(text_of(&html, "[data-field='inventory.cost']"), "42");
    assert!(html.contains("Created Incident IN1"));
    let id: i64 = loc.rsplit('/').next().unwrap().parse().unwrap();

    // Edit: untick the checkbox and change the status.
    let edit = app
        .get_with(&tech, &format!("/tickets/{id}/edit"))
        .await
        .text()
        .await
        .unwrap();
    assert!(edit.contains("value=\"SN-9\""));
    let resp = app
        .post_form_with(
            &tech,
            &format!("/tickets/{id}"),
            &[
                ("subject", "Printer jams"),
                ("status", "Pending"),
                ("priority", "P2"),
                ("assignee", ""),
                ("forms.inventory.serial", "SN-9"),
                ("forms.inventory.cost", "42"),
                ("forms.inventory.warranty", "false"),
                ("forms.inventory.location", "PAR"),
                ("forms.inventory.bought", "2026-01-02"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let html = app
        .get_with(&tech, &format!("/tickets/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(text_of(&html, "#ticket-status"), "Pending");
    assert!(
        html.contains(
            r#"Inventory › Warranty</strong>: <span class="change-old">Yes</span> → <span class="change-new">No</span>"#
        ),
        "{html}"
    );

    // Notes: empty refused beside the field; a real one lands in the history.
    let resp = app
        .post_form_with(&tech, &format!("/tickets/{id}/notes"), &[("note", " ")])
        .await;
    assert_eq!(resp.status(), 422);
    assert_eq!(
        text_of(&resp.text().await.unwrap(), "#note-error"),
        "is required"
    );
    let resp = app
        .post_form_with(
            &tech,
            &format!("/tickets/{id}/notes"),
            &[("note", "Toner replaced")],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let html = app
        .get_with(&tech, &format!("/tickets/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Toner replaced"));

    // Live filters: the fragment and the URL to keep them.
    let resp = tech
        .get(app.url("/tickets?q=printer&status=Pending"))
        .header("HX-Request", "true")
        .header("HX-Target", "ticket-results")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["hx-push-url"],
        "/tickets?q=printer&status=Pending"
    );
    let frag = resp.text().await.unwrap();
    assert!(frag.contains("IN1") && !frag.contains("<html"));
    let none = app
        .get_with(&tech, "/tickets?status=Closed")
        .await
        .text()
        .await
        .unwrap();
    assert!(none.contains("No tickets match."));

    // Technicians may not delete tickets; administrators may.
    let resp = app
        .post_form_with(&tech, &format!("/tickets/{id}/delete"), &[])
        .await;
    assert_eq!(resp.status(), 403);
    assert!(!html.contains("Delete ticket"));
    app.login_admin().await;
    let admin_html = app
        .get(&format!("/tickets/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(admin_html.contains("data-confirm=\"Delete IN1"));
    let resp = app.post_form(&format!("/tickets/{id}/delete"), &[]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(app.get(&format!("/tickets/{id}")).await.status(), 404);
    // The history went with the ticket; the audit log keeps who deleted it.
    let audited: Vec<(String, String)> = app.with_conn(|c| {
        use diesel::prelude::*;
        use hookdesk::db::schema::audit_log;
        audit_log::table
            .filter(audit_log::action.eq("ticket.delete"))
            .select((audit_log::actor_name, audit_log::target))
            .load(c)
            .unwrap()
    });
    assert_eq!(audited, [("admin".to_string(), "IN1".to_string())]);

    let ev = app.with_conn(|c| events::for_ticket(c, id).unwrap());
    let types: Vec<&str> = ev.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "ticket.created",
            "ticket.updated",
            "ticket.status_changed",
            "ticket.note_added",
            "ticket.deleted"
        ]
    );
}

async fn rows_are_added_edited_and_removed_in_place(app: TestApp) {
    make_forms(&app);
    let tech = app.client_as("tess", &["Technician"]).await;
    let p = app.with_conn(|c| {
        let u = hookdesk::auth::User::find_by_username(c, "tess")
            .unwrap()
            .unwrap();
        hookdesk::auth::User::principal(c, u.id).unwrap()
    });
    let t = app.with_conn(|c| {
        Ticket::create(
            c,
            &p,
            &hookdesk::tickets::TicketInput {
                ticket_type: "IN".into(),
                subject: "Rows".into(),
                forms: [(
                    "inventory".to_string(),
                    serde_json::json!({ "serial": "1" }),
                )]
                .into(),
                ..Default::default()
            },
            &hookdesk::tickets::events::NoRules,
        )
        .unwrap()
    });
    let fid = form_id(&app, "Linked assets");
    let base = format!("/tickets/{}/forms/{fid}/rows", t.id);
    let csrf = app.csrf_of(&tech).await;
    let post = |path: String, fields: Vec<(&'static str, &'static str)>| {
        let tech = tech.clone();
        let csrf = csrf.clone();
        let url = app.url(&path);
        async move {
            tech.post(url)
                .header("HX-Request", "true")
                .header("X-CSRF-Token", csrf)
                .form(&fields)
                .send()
                .await
                .unwrap()
        }
    };

    // A row missing its required asset: the section comes back with the error.
    let resp = post(
        base.clone(),
        vec![("asset", ""), ("requestdate", "2025-04-23")],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let frag = resp.text().await.unwrap();
    assert!(frag.contains("is required") && !frag.contains("<html"));

    let resp = post(
        base.clone(),
        vec![("asset", "P2425"), ("requestdate", "2025-04-23")],
    )
    .await;
    let frag = resp.text().await.unwrap();
    assert!(frag.contains("P2425"));
    assert!(frag.contains("hx-swap-oob"), "the history is refreshed too");
    assert!(frag.contains("<strong>Linked assets</strong>: "), "{frag}");
    let row_id: i64 = {
        let doc = scraper::Html::parse_fragment(&frag);
        let sel = scraper::Selector::parse("tr[data-row]").unwrap();
        doc.select(&sel)
            .next()
            .unwrap()
            .value()
            .attr("data-row")
            .unwrap()
            .parse()
            .unwrap()
    };

    let edit = tech
        .get(app.url(&format!("{base}/{row_id}/edit")))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(edit.contains("Save row") && edit.contains("value=\"P2425\""));
    let frag = post(
        format!("{base}/{row_id}"),
        vec![("asset", "FH6354"), ("requestdate", "2025-04-30")],
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(frag.contains("FH6354") && !frag.contains("P2425</td>"));

    let frag = post(format!("{base}/{row_id}/delete"), vec![])
        .await
        .text()
        .await
        .unwrap();
    assert!(frag.contains("No rows yet."));

    let v =
        app.with_conn(|c| hookdesk::tickets::payload::ticket_json(c, t.id, true, false).unwrap());
    assert_eq!(v["forms"]["linkedassets"], serde_json::json!([]));
    let h = v["history"].as_array().unwrap();
    assert_eq!(h.len(), 4);
    assert_eq!(
        h[1]["changes"]["linkedassets"]["new"],
        serde_json::json!([{ "asset": "P2425", "requestdate": "2025-04-23" }])
    );
    assert_eq!(h[2]["changes"]["linkedassets"]["new"][0]["asset"], "FH6354");
    let ev = app.with_conn(|c| events::for_ticket(c, t.id).unwrap());
    assert_eq!(
        ev.iter()
            .filter(|e| e.event_type == "ticket.updated")
            .count(),
        3
    );
}

async fn administrators_manage_forms(app: TestApp) {
    app.login_admin().await;
    let tech = app.client_as("tess", &["Technician"]).await;
    assert_eq!(app.get_with(&tech, "/admin/forms").await.status(), 403);
    let resp = app
        .post_form_with(
            &tech,
            "/admin/forms",
            &[("name", "Sneaky"), ("ticket_types", "IN")],
        )
        .await;
    assert_eq!(resp.status(), 403);

    let resp = app.post_form("/admin/forms", &[("name", "Status")]).await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    assert!(text_of(&html, "#name-error").contains("ticket field name"));
    assert!(text_of(&html, "#ticket_types-error").contains("at least one"));

    let resp = app
        .post_form(
            "/admin/forms",
            &[
                ("name", "Linked assets"),
                ("ticket_types", "IN"),
                ("ticket_types", "SR"),
                ("multi_line", "on"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    let fields = format!("{loc}/fields");
    let resp = app
        .post_form(
            &fields,
            &[
                ("field_name", "Kind"),
                ("field_type", "select"),
                ("options", ""),
            ],
        )
        .await;
    assert_eq!(resp.status(), 422);
    assert_eq!(
        text_of(&resp.text().await.unwrap(), "#options-error"),
        "a single select needs options"
    );
    for (name, kind) in [("Asset", "text"), ("Request date", "date")] {
        let resp = app
            .post_form(
                &fields,
                &[
                    ("field_name", name),
                    ("field_type", kind),
                    ("required", "on"),
                ],
            )
            .await;
        assert_eq!(resp.status(), 303);
    }
    let resp = app
        .post_form(&fields, &[("field_name", "asset"), ("field_type", "text")])
        .await;
    assert_eq!(resp.status(), 422, "duplicate field name");

    // Reorder: move "Request date" up.
    let id = form_id(&app, "Linked assets");
    let f = app.with_conn(|c| Form::fields(c, id).unwrap());
    assert_eq!(f[0].name, "Asset");
    let resp = app
        .post_form(
            &format!("{loc}/fields/{}/move", f[1].id),
            &[("direction", "up")],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let f = app.with_conn(|c| Form::fields(c, id).unwrap());
    assert_eq!(f[0].name, "Request date");
    let html = app.get(&loc).await.text().await.unwrap();
    assert!(html.contains("ticket.linkedassets[].requestdate"));
    let list = app.get("/admin/forms").await.text().await.unwrap();
    assert!(list.contains("ticket.linkedassets") && list.contains("Multi-line"));

    // Values on a ticket make the delete warn, and deleting removes them.
    let tok = crate::tickets_api::token_for(&app, "sys", &["Technician"], false);
    let (s, _) = crate::tickets_api::api(
        &app,
        reqwest::Method::POST,
        &tok,
        "/api/v1/tickets",
        Some(serde_json::json!({ "type": "SR", "subject": "x", "forms": { "linkedassets": [ { "asset": "A", "requestdate": "2026-01-01" } ] } })),
    )
    .await;
    assert_eq!(s, 201);
    let html = app.get(&loc).await.text().await.unwrap();
    assert!(html.contains("1 ticket(s) hold values of this form."));
    let resp = app.post_form(&format!("{loc}/delete"), &[]).await;
    assert_eq!(resp.status(), 303);
    assert!(app.with_conn(|c| Form::list(c).unwrap()).is_empty());
    let audit = app
        .get("/admin/audit?action=form.")
        .await
        .text()
        .await
        .unwrap();
    assert!(audit.contains("form.delete") && audit.contains("form.field_move"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_technician_creates_ticket_and_adds_a_row() {
    let Some((_driver, b)) = start_browser().await else {
        eprintln!("skipped: chromedriver not installed");
        return;
    };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    make_forms(&app);
    app.create_user("tess", &["Technician"]);
    browser_login(&app, &b, "tess", PASSWORD).await;

    b.goto(&app.url("/tickets/new")).await.unwrap();
    b.find(Locator::Css("#subject"))
        .await
        .unwrap()
        .send_keys("Screen flickers")
        .await
        .unwrap();
    b.find(Locator::Css("#form-inventory-serial"))
        .await
        .unwrap()
        .send_keys("SN-77")
        .await
        .unwrap();
    b.find(Locator::Css("#form-inventory-cost"))
        .await
        .unwrap()
        .send_keys("19.5")
        .await
        .unwrap();
    b.find(Locator::Css("#form-inventory-warranty"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.find(Locator::Css("#form-inventory-location option[value='LON']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.find(Locator::Css("#ticket-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let id_el = b
        .wait()
        .for_element(Locator::Css("#display-id"))
        .await
        .unwrap();
    assert_eq!(id_el.text().await.unwrap(), "IN1");
    let url = b.current_url().await.unwrap();

    // Add a linked asset in place: htmx swaps the section, the page does not reload.
    let fid = form_id(&app, "Linked assets");
    b.find(Locator::Css(&format!("#new-{fid}-asset")))
        .await
        .unwrap()
        .send_keys("P2425")
        .await
        .unwrap();
    b.find(Locator::Css(&format!(
        "#form-{fid} .add-row button[type=submit]"
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let cell = b
        .wait()
        .for_element(Locator::XPath(&format!(
            "//section[@id='form-{fid}']//td[text()='P2425']"
        )))
        .await
        .unwrap();
    assert_eq!(cell.text().await.unwrap(), "P2425");
    assert_eq!(b.current_url().await.unwrap(), url);
    b.wait()
        .for_element(Locator::XPath(
            "//section[@id='history']//strong[text()='Linked assets']",
        ))
        .await
        .unwrap();

    let v = app.with_conn(|c| {
        let t = Ticket::find(c, "IN1").unwrap();
        hookdesk::tickets::payload::ticket_json(c, t.id, false, false).unwrap()
    });
    assert_eq!(v["forms"]["inventory"]["serial"], "SN-77");
    assert_eq!(v["forms"]["inventory"]["cost"], 19.5);
    assert_eq!(v["forms"]["inventory"]["warranty"], true);
    assert_eq!(v["forms"]["inventory"]["location"], "London office");
    assert_eq!(v["forms"]["linkedassets"][0]["asset"], "P2425");
    b.close().await.unwrap();
}
