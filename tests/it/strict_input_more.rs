//! Requests are read strictly, continued from `strict_input`: the connections API reads
//! only JSON, page forms only url-encoded forms without a NUL, a grace period that is
//! not a number rotates nothing, a preset the form cannot read saves nothing, and
//! test-send refuses parameters a real fire would refuse. Each refusal is a 4xx naming
//! what was wrong, and nothing is saved, rotated or sent.

use hookdesk::connections::Connection;
use serde_json::{Value, json};

use crate::connections::{admin_token, by_name, secret_box};
use crate::helpers::TestApp;
use crate::receiver::{Receiver, Reply};
use crate::webhooks::{post, slack_connection, text_of, ticket_with_forms, webhook_form};

crate::db_tests!(
    spawn = crate::responses::loopback_app;
    the_connections_api_reads_only_json,
    page_forms_must_be_url_encoded,
    a_nul_in_a_page_form_is_refused_naming_its_field,
    a_grace_period_that_is_not_a_number_rotates_nothing,
    a_preset_the_form_cannot_read_saves_nothing,
    test_send_refuses_unknown_and_changed_read_only_params,
);

/// Sends `body` as `content_type` with the admin's bearer token.
async fn api_raw(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    content_type: &str,
    body: impl ToString,
) -> (u16, Value) {
    let resp = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, v)
}

fn connection_count(app: &TestApp) -> usize {
    app.with_conn(Connection::list).unwrap().len()
}

async fn the_connections_api_reads_only_json(app: TestApp) {
    let token = admin_token(&app).await;
    let post = reqwest::Method::POST;
    let created = json!({"name": "plain", "base_url": "https://plain.example.test/"});

    // JSON text sent as something else used to be read anyway.
    for ct in ["text/plain", "application/x-www-form-urlencoded"] {
        let (s, v) = api_raw(
            &app,
            &token,
            post.clone(),
            "/api/v1/connections",
            ct,
            &created.to_string(),
        )
        .await;
        assert_eq!(s, 415, "{ct}: {v}");
        assert_eq!(v["error"]["code"], "unsupported_media_type");
    }
    assert_eq!(connection_count(&app), 0, "nothing was created");

    let (s, v) = api_raw(
        &app,
        &token,
        post.clone(),
        "/api/v1/connections",
        "application/json; charset=utf-8",
        &created.to_string(),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().unwrap();

    let (s, v) = api_raw(
        &app,
        &token,
        reqwest::Method::PATCH,
        &format!("/api/v1/connections/{id}"),
        "text/plain",
        r#"{"timeout_ms": 3000}"#,
    )
    .await;
    assert_eq!(s, 415, "{v}");
    assert_eq!(
        by_name(&app, "plain").timeout_ms,
        10_000,
        "nothing was changed"
    );

    let rotate = format!("/api/v1/connections/{id}/signing-secret");
    let (s, v) = api_raw(
        &app,
        &token,
        post.clone(),
        &rotate,
        "text/plain",
        r#"{"grace_hours": 1}"#,
    )
    .await;
    assert_eq!(s, 415, "{v}");
    assert_eq!(v["error"]["code"], "unsupported_media_type");
    // A misspelt key is named, not taken as "no grace period given".
    let (s, v) = api_raw(
        &app,
        &token,
        post,
        &rotate,
        "application/json",
        r#"{"grace_hour": 1}"#,
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["error"]["fields"][0]["field"], "grace_hour", "{v}");
    assert!(
        !by_name(&app, "plain").signing_secret_set(),
        "no secret was generated"
    );
}

/// POSTs `body` to a page as `content_type`, with the session's CSRF token in the
/// header (as htmx sends it), so only the body's type is in question.
async fn page_raw(app: &TestApp, path: &str, content_type: &str, body: &str) -> (u16, String) {
    let token = app.csrf_of(&app.client).await;
    let resp = app
        .client
        .post(app.url(path))
        .header("x-csrf-token", token)
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn role_names(app: &TestApp) -> Vec<String> {
    use diesel::prelude::*;
    use hookdesk::db::schema::roles;
    app.with_conn(|c| roles::table.select(roles::name).load(c).unwrap())
}

fn role_exists(app: &TestApp, name: &str) -> bool {
    role_names(app).iter().any(|n| n == name)
}

async fn page_forms_must_be_url_encoded(app: TestApp) {
    app.login_admin().await;
    let refused = [
        ("application/json", r#"{"name": "Auditors"}"#.to_string()),
        (
            "multipart/form-data; boundary=xyz",
            "--xyz\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nAuditors\r\n--xyz--\r\n"
                .to_string(),
        ),
        ("text/plain", "name=Auditors".to_string()),
    ];
    for (ct, body) in refused {
        let (s, html) = page_raw(&app, "/admin/roles", ct, &body).await;
        assert_eq!(s, 415, "{ct}: {html}");
        assert!(html.contains("application/x-www-form-urlencoded"), "{html}");
        assert!(!role_exists(&app, "Auditors"), "{ct} created a role");
    }
    // A charset parameter is fine.
    let (s, html) = page_raw(
        &app,
        "/admin/roles",
        "application/x-www-form-urlencoded; charset=UTF-8",
        "name=Auditors",
    )
    .await;
    assert_eq!(s, 303, "{html}");
    assert!(role_exists(&app, "Auditors"));
    // The account and sign-in forms read the same way: a NUL is refused naming its field.
    for (path, field) in [("/account/tokens", "name"), ("/login", "username")] {
        let body = format!("{field}=a%00b&password=x");
        let (s, html) = page_raw(&app, path, "application/x-www-form-urlencoded", &body).await;
        assert_eq!(s, 422, "{path}: {html}");
        assert!(html.contains("may not contain the NUL character"), "{html}");
    }
}

async fn a_nul_in_a_page_form_is_refused_naming_its_field(app: TestApp) {
    app.login_admin().await;
    let before = role_names(&app);
    // PostgreSQL cannot store U+0000 (it was a 500 there) and SQLite kept it.
    let resp = app.post_form("/admin/roles", &[("name", "a\0b")]).await;
    let status = resp.status().as_u16();
    let html = resp.text().await.unwrap();
    assert_eq!(status, 422, "{html}");
    assert!(
        html.contains("name: may not contain the NUL character"),
        "{html}"
    );
    assert_eq!(role_names(&app), before, "nothing was saved");

    // The same for an htmx request: a toast with the message, still a 4xx.
    let token = app.csrf_of(&app.client).await;
    let resp = app
        .client
        .post(app.url("/admin/roles"))
        .header("HX-Request", "true")
        .header("x-csrf-token", token)
        .form(&[("name", "ok"), ("description", "x\0y")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("description"));
    assert_eq!(role_names(&app), before, "nothing was saved");
}

async fn a_grace_period_that_is_not_a_number_rotates_nothing(app: TestApp) {
    let token = admin_token(&app).await;
    let (s, v) = api_raw(
        &app,
        &token,
        reqwest::Method::POST,
        "/api/v1/connections",
        "application/json",
        r#"{"name": "rotating", "base_url": "https://rotating.example.test/"}"#,
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().unwrap();
    app.login_admin().await;
    let page = format!("/admin/connections/{id}/signing-secret");
    assert_eq!(app.post_form(&page, &[]).await.status(), 200);
    let sb = secret_box(&app);
    let now = hookdesk::db::now();
    let before = by_name(&app, "rotating")
        .active_signing_secrets(&sb, now)
        .unwrap();
    assert_eq!(before.len(), 1);

    // It used to become 24 hours and rotate.
    let resp = app.post_form(&page, &[("grace_hours", "abc")]).await;
    let status = resp.status().as_u16();
    let html = resp.text().await.unwrap();
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("grace_hours"), "{html}");
    let c = by_name(&app, "rotating");
    assert_eq!(c.active_signing_secrets(&sb, now).unwrap(), before);
    assert!(
        c.previous_signing_secret_sealed.is_none(),
        "nothing rotated"
    );

    // A number still rotates.
    assert_eq!(
        app.post_form(&page, &[("grace_hours", "2")]).await.status(),
        200
    );
    assert_eq!(
        by_name(&app, "rotating")
            .active_signing_secrets(&sb, now)
            .unwrap()
            .len(),
        2
    );
}

/// The webhook form with the Microsoft Teams preset and its fields as the page sends
/// them, `colour` as given.
fn teams_form(conn: i64, title: &str, colour: &str) -> Vec<(String, String)> {
    let mut f = webhook_form(conn, &[("preset", "microsoft_teams")]);
    for (k, v) in [
        ("microsoft_teams.title", title),
        ("microsoft_teams.text", "{{ticket.description}}"),
        ("microsoft_teams.colour", colour),
        ("microsoft_teams.facts", "Status: {{ticket.status}}"),
        ("microsoft_teams.button_label", "Open"),
        ("microsoft_teams.ticket_url", "{{ticket.url}}"),
    ] {
        f.push(("preset_key".into(), k.into()));
        f.push(("preset_value".into(), v.into()));
    }
    f
}

fn webhooks(app: &TestApp) -> Vec<hookdesk::webhooks::Webhook> {
    app.with_conn(|c| hookdesk::webhooks::store::list(c).unwrap())
}

async fn a_preset_the_form_cannot_read_saves_nothing(app: TestApp) {
    app.login_admin().await;
    ticket_with_forms(&app);
    let conn = slack_connection(&app, "https://hooks.slack.example/x").await;

    // An unknown preset used to be saved as Generic.
    let resp = post(
        &app,
        "/admin/webhooks",
        &webhook_form(conn, &[("preset", "fax")]),
    )
    .await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    let shown = text_of(&html, "#preset-error").unwrap_or_else(|| panic!("{html}"));
    assert!(shown.contains("fax"), "{shown}");
    assert!(webhooks(&app).is_empty(), "nothing was saved");

    // A colour Teams does not know used to throw every Teams field away, saving the
    // preset's defaults instead.
    let resp = post(
        &app,
        "/admin/webhooks",
        &teams_form(conn, "Typed title", "purple"),
    )
    .await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    let shown = text_of(&html, "#preset-colour-error").unwrap_or_else(|| panic!("{html}"));
    assert!(shown.contains("purple"), "{shown}");
    assert!(
        html.contains("Typed title"),
        "the form shown again keeps the title"
    );
    assert!(webhooks(&app).is_empty(), "nothing was saved");

    // A field the preset does not have is named too.
    let mut f = teams_form(conn, "Typed title", "good");
    f.push(("preset_key".into(), "microsoft_teams.subtitle".into()));
    f.push(("preset_value".into(), "x".into()));
    let resp = post(&app, "/admin/webhooks", &f).await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    let shown = text_of(&html, "#preset-error").unwrap_or_else(|| panic!("{html}"));
    assert!(shown.contains("subtitle"), "{shown}");
    assert!(webhooks(&app).is_empty(), "nothing was saved");

    // Saving a good one, then an edit with a bad colour changes nothing.
    let resp = post(
        &app,
        "/admin/webhooks",
        &teams_form(conn, "Typed title", "good"),
    )
    .await;
    assert_eq!(resp.status(), 303);
    let saved = webhooks(&app).remove(0);
    let resp = post(
        &app,
        &format!("/admin/webhooks/{}", saved.id),
        &teams_form(conn, "Changed title", "purple"),
    )
    .await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    assert!(text_of(&html, "#preset-colour-error").is_some(), "{html}");
    let now = webhooks(&app).remove(0);
    assert_eq!(now.preset, saved.preset, "the edit saved nothing");
    assert_eq!(now.updated_at, saved.updated_at);

    // Test-send and the preview read the form the same way: nothing is sent or built
    // from a preset the form could not read.
    let resp = post(
        &app,
        "/admin/webhooks/test",
        &teams_form(conn, "Typed title", "purple"),
    )
    .await;
    let html = resp.text().await.unwrap();
    let shown = text_of(&html, "#test-result").unwrap_or_else(|| panic!("{html}"));
    assert!(
        shown.contains("Nothing was sent") && shown.contains("purple"),
        "{shown}"
    );
    assert_eq!(delivery_count(&app), 0);
    let resp = post(
        &app,
        "/admin/webhooks/preview",
        &webhook_form(conn, &[("preset", "fax")]),
    )
    .await;
    let html = resp.text().await.unwrap();
    assert!(html.contains("fax"), "{html}");
}

async fn test_send_refuses_unknown_and_changed_read_only_params(app: TestApp) {
    app.login_admin().await;
    ticket_with_forms(&app);
    let rx = Receiver::start(Reply::Status(200)).await;
    let conn = slack_connection(&app, &rx.url("/in")).await;
    // Parameters `customer_ref` and `note` (read-only, "from {{actor.name}}").
    let resp = post(&app, "/admin/webhooks", &webhook_form(conn, &[])).await;
    assert_eq!(resp.status(), 303);
    let id = webhooks(&app)[0].id;
    let token = admin_token(&app).await;
    let path = format!("/api/v1/webhooks/{id}/test");
    let send = |params: Value| {
        api_raw(
            &app,
            &token,
            reqwest::Method::POST,
            &path,
            "application/json",
            json!({ "params": params }).to_string(),
        )
    };

    // A misspelt name used to be dropped and the test sent without it.
    let (s, v) = send(json!({"custmer_ref": "ACME-1"})).await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(
        v["error"]["fields"][0]["field"], "params.custmer_ref",
        "{v}"
    );
    // A read-only value used to be replaced by its default silently.
    let (s, v) = send(json!({"customer_ref": "ACME-1", "note": "forged"})).await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["error"]["fields"][0]["field"], "params.note", "{v}");
    assert!(rx.received().is_empty(), "nothing was sent");
    assert_eq!(delivery_count(&app), 0, "nothing was recorded");

    // As for a real fire, a read-only value equal to its default is fine.
    let (s, v) = send(json!({"customer_ref": "ACME-1", "note": "from Administrator"})).await;
    assert_eq!((s, &v["succeeded"]), (200, &json!(true)), "{v}");
    assert_eq!(rx.received().len(), 1);

    // The page's test-send says what is wrong in its panel and sends nothing.
    let mut f = webhook_form(conn, &[]);
    f.extend([
        ("preview_param_name".to_string(), "custmer_ref".to_string()),
        ("preview_param".to_string(), "ACME-1".to_string()),
    ]);
    let resp = post(&app, "/admin/webhooks/test", &f).await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    let shown = text_of(&html, "#test-result").unwrap_or_else(|| panic!("{html}"));
    assert!(shown.contains("Nothing was sent"), "{shown}");
    assert!(shown.contains("params.custmer_ref"), "{shown}");
    assert_eq!(rx.received().len(), 1, "nothing more was sent");
    assert_eq!(delivery_count(&app), 1);
}

fn delivery_count(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    use hookdesk::db::schema::deliveries;
    app.with_conn(|c| deliveries::table.count().get_result(c).unwrap())
}
