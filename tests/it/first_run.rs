//! The first minutes of a new installation, as the pages show them: the grouped menu
//! (also on error pages), the favicon, the getting-started checklist ticked from the
//! database, the demo data button.

use crate::db_tests;
use crate::helpers::{ADMIN_PASSWORD, TestApp};
use crate::receiver::{Receiver, Reply};
use crate::webhooks::{post, preview, slack_connection, webhook_form};

db_tests!(
    the_menu_is_grouped_and_403_and_404_pages_keep_it,
    the_demo_data_is_offered_on_an_empty_installation,
);
db_tests!(spawn = crate::buttons_support::buttons_app;
    the_checklist_ticks_each_step_from_the_database,
);

fn select<'a>(doc: &'a scraper::Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    let sel = scraper::Selector::parse(css).unwrap();
    doc.select(&sel).collect()
}

/// The menu's entries in order: `(group, text)`, group empty for top-level links.
fn menu(html: &str) -> Vec<(String, String)> {
    let doc = scraper::Html::parse_document(html);
    let mut out = Vec::new();
    let top = scraper::Selector::parse("nav.mainnav > ul > li").unwrap();
    let summary = scraper::Selector::parse("summary").unwrap();
    let link = scraper::Selector::parse("a").unwrap();
    for li in doc.select(&top) {
        let group = li
            .select(&summary)
            .next()
            .map(|s| s.text().collect::<String>())
            .unwrap_or_default();
        for a in li.select(&link) {
            out.push((group.clone(), a.text().collect::<String>()));
        }
    }
    out
}

fn step_class(html: &str, step: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    select(&doc, &format!("#step-{step}"))
        .first()
        .unwrap_or_else(|| panic!("no step {step} in {html}"))
        .value()
        .attr("class")
        .unwrap()
        .to_string()
}

async fn the_menu_is_grouped_and_403_and_404_pages_keep_it(app: TestApp) {
    app.login_admin().await;
    let home = app.get("/").await.text().await.unwrap();
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(g, t)| (g.to_string(), t.to_string()))
            .collect()
    };
    let admin_menu = pairs(&[
        ("", "Dashboard"),
        ("", "Tickets"),
        ("", "Deliveries"),
        ("Configuration", "Connections"),
        ("Configuration", "Webhooks"),
        ("Configuration", "Trigger rules"),
        ("Configuration", "Forms"),
        ("Administration", "Users"),
        ("Administration", "Roles"),
        ("Administration", "Alert defaults"),
        ("Administration", "Audit log"),
    ]);
    assert_eq!(menu(&home), admin_menu);
    assert!(home.contains(r#"<link rel="icon" href="/favicon.svg""#));

    // The current page's group is marked.
    let hooks = app.get("/admin/webhooks").await.text().await.unwrap();
    assert!(hooks.contains(
        r#"<details data-nav-group class="current">
            <summary>Configuration</summary>"#
    ));
    assert!(hooks.contains(r#"<a href="/admin/webhooks" aria-current="page">Webhooks</a>"#));

    // A 404 keeps the signed-in user's menu and the sign-out form.
    let nf = app.get("/no/such/page").await;
    assert_eq!(nf.status(), 404);
    let html = nf.text().await.unwrap();
    assert_eq!(menu(&html), admin_menu);
    assert!(html.contains(r#"action="/logout""#));
    assert!(html.contains("404 · Not Found"));

    // A technician's 403 shows his own menu.
    let tech = app.client_as("tina", &["Technician"]).await;
    let denied = app.get_with(&tech, "/admin/users").await;
    assert_eq!(denied.status(), 403);
    let html = denied.text().await.unwrap();
    assert_eq!(menu(&html), pairs(&[("", "Tickets")]));
    assert!(html.contains("This page is for administrators."));

    // Nobody signed in: a 404 without a menu.
    let anon = crate::helpers::client();
    let html = app
        .get_with(&anon, "/no/such/page")
        .await
        .text()
        .await
        .unwrap();
    assert!(menu(&html).is_empty());
    assert!(!html.contains(r#"action="/logout""#));

    let icon = app.get_with(&anon, "/favicon.svg").await;
    assert_eq!(icon.status(), 200);
    assert_eq!(icon.headers()["content-type"], "image/svg+xml");
    assert!(icon.text().await.unwrap().starts_with("<svg"));
}

async fn the_demo_data_is_offered_on_an_empty_installation(app: TestApp) {
    app.login_admin().await;
    let home = app.get("/").await.text().await.unwrap();
    assert!(home.contains(r#"id="demo-offer""#), "{home}");
    assert!(home.contains("hookdesk demo"));

    let resp = app.post_form("/admin/demo", &[]).await;
    assert_eq!(resp.status(), 303);
    let home = app.get("/").await.text().await.unwrap();
    let doc = scraper::Html::parse_document(&home);
    let flash: String = select(&doc, ".flash-success")[0].text().collect();
    assert!(
        flash.starts_with("Demo data added: 4 form(s), 36 ticket(s). Technician tech can sign in with the password "),
        "{flash}"
    );
    assert!(!home.contains(r#"id="demo-offer""#), "tickets exist now");

    // A second load is refused, with the reason.
    app.post_form("/admin/demo", &[]).await;
    let home = app.get("/").await.text().await.unwrap();
    let doc = scraper::Html::parse_document(&home);
    assert_eq!(select(&doc, ".flash-error").len(), 1, "{home}");

    // Technicians are not offered (nor allowed) any of it.
    let tech = app.client_as("tina", &["Technician"]).await;
    let html = app.get_with(&tech, "/").await.text().await.unwrap();
    assert!(!html.contains("getting-started"));
    assert_eq!(
        app.post_form_with(&tech, "/admin/demo", &[]).await.status(),
        403
    );
}

async fn the_checklist_ticks_each_step_from_the_database(app: TestApp) {
    // Signing in lands an administrator on the dashboard.
    let resp = app
        .try_login_with(&app.client, "admin", ADMIN_PASSWORD)
        .await;
    assert_eq!(resp.headers()["location"], "/");
    let steps = ["password", "connection", "webhook", "grant", "fire"];
    let todo = |html: &str| -> Vec<&str> {
        steps
            .iter()
            .copied()
            .filter(|s| step_class(html, s) == "step-todo")
            .collect()
    };
    let home = app.get("/").await.text().await.unwrap();
    assert!(
        home.contains("id=\"dashboard\""),
        "the dashboard is the start page"
    );
    assert_eq!(todo(&home), steps);
    assert!(home.contains("(0 of 5 done)"));
    assert!(home.contains(r#"<a href="/admin/connections/new">Create a connection"#));

    let resp = app
        .post_form(
            "/account/password",
            &[
                ("current_password", ADMIN_PASSWORD),
                ("new_password", "a-new-admin-password-9"),
                ("confirm_password", "a-new-admin-password-9"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let home = app.get("/").await.text().await.unwrap();
    assert_eq!(todo(&home), ["connection", "webhook", "grant", "fire"]);

    let rx = Receiver::start(Reply::Status(200)).await;
    let conn = slack_connection(&app, &rx.url("/hook")).await;
    // A webhook granted to the Technician role: made, granted, not yet test-sent.
    crate::webhooks::ticket_with_forms(&app);
    crate::buttons_support::create_webhook(&app, conn, &[]).await;
    let home = app.get("/").await.text().await.unwrap();
    assert_eq!(todo(&home), ["webhook", "fire"]);

    let mut form = webhook_form(conn, &[]);
    form.push(("preview_ticket".into(), String::new()));
    let resp = post(&app, "/admin/webhooks/test", &form).await;
    assert_eq!(resp.status(), 200);
    let home = app.get("/").await.text().await.unwrap();
    assert_eq!(todo(&home), ["fire"]);
    assert!(home.contains("(4 of 5 done)"));
    assert!(!home.contains(r#"id="demo-offer""#), "a ticket exists");

    // Dismissed: gone for good.
    let resp = app.post_form("/admin/getting-started/dismiss", &[]).await;
    assert_eq!(resp.status(), 303);
    let home = app.get("/").await.text().await.unwrap();
    assert!(!home.contains("id=\"getting-started\""));
    assert!(home.contains("id=\"dashboard\""));
}

db_tests!(spawn = crate::first_run::desk_at_public_url; a_preset_links_to_the_ticket_at_the_public_url);

async fn desk_at_public_url(b: crate::helpers::Backend) -> Option<TestApp> {
    crate::helpers::spawn_app_with(b, |c| {
        c.public_url = Some("https://desk.example.com/".into());
    })
    .await
}

async fn a_preset_links_to_the_ticket_at_the_public_url(app: TestApp) {
    app.login_admin().await;
    let ticket = crate::webhooks::ticket_with_forms(&app);
    let conn = slack_connection(&app, "https://hooks.slack.example/x").await;
    let mut form = webhook_form(conn, &[("preset", "slack"), ("body_template=", "")]);
    form.push(("preview_ticket".into(), ticket.display_id.clone()));
    let resp = post(&app, "/admin/webhooks/preview", &form).await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    let link = format!("https://desk.example.com/tickets/{}", ticket.id);
    assert!(html.contains(&link), "{html}");

    // The sample ticket's link starts at the same address.
    form.retain(|(k, _)| k != "preview_ticket");
    let html = preview(&app, &form).await;
    assert!(
        html.contains("https://desk.example.com/tickets/164"),
        "{html}"
    );
}
