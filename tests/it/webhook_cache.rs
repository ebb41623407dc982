//! Firing reads webhook definitions from a per-process cache (`webhooks::cache`). What a
//! user would notice if it went stale: an edit that the next firing ignores, a renamed
//! role that locks its holders out, a deleted webhook that still fires, or — in a process
//! serving two databases — one database's webhook sent with the other's definition.

use hookdesk::audit::Actor;
use hookdesk::auth::roles::{Role, RoleInput};
use serde_json::{Value, json};

use crate::buttons_support::{ROLE, buttons_app, fire_as, setup, token};
use crate::db_tests;
use crate::helpers::{Backend, TestApp};
use crate::receiver::Reply;
use crate::webhooks::{BODY, webhook_form};

db_tests!(spawn = crate::buttons_support::buttons_app;
    edits_renames_and_deletes_reach_the_next_firing,
);

async fn edits_renames_and_deletes_reach_the_next_firing(app: TestApp) {
    let s = setup(&app, Reply::Status(200)).await;
    let (t, w) = (s.ticket.display_id.clone(), s.webhook);
    app.create_user("tess", &["Technician", ROLE]);
    let tess = token(&app, "tess");

    assert_eq!(fire_as(&app, &tess, &t, w, "A-1").await, 202);
    let got = s.rx.wait_for(1).await;
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["ref"], "A-1");

    // The body template is edited on the webhook's page: the next firing sends the new one.
    let conn_id = app.with_conn(|c| {
        hookdesk::webhooks::store::get(c, w)
            .unwrap()
            .connection_id
            .unwrap()
    });
    let edited = BODY.replace(r#""ref":"#, r#""edited": true, "ref":"#);
    let form = webhook_form(
        conn_id,
        &[
            ("name", "Send to vendor"),
            ("roles", ROLE),
            ("show_as_button", "on"),
            ("body_template", &edited),
        ],
    );
    let resp = crate::webhooks::post(&app, &format!("/admin/webhooks/{w}"), &form).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    assert_eq!(fire_as(&app, &tess, &t, w, "A-2").await, 202);
    let got = s.rx.wait_for(2).await;
    let body: Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(body["ref"], "A-2");
    assert_eq!(body["edited"], true, "the edit reached the firing: {body}");

    // The role the webhook grants is renamed: its holders may still fire it.
    app.with_conn(|c| {
        let (role, _) = Role::list(c)
            .unwrap()
            .into_iter()
            .find(|(r, _)| r.name == ROLE)
            .unwrap();
        Role::update(
            c,
            &Actor::system("test"),
            role.id,
            &RoleInput {
                name: "Vendor team".into(),
                description: role.description.clone(),
            },
        )
        .unwrap();
    });
    assert_eq!(fire_as(&app, &tess, &t, w, "A-3").await, 202);
    s.rx.wait_for(3).await;

    // Deleted: no longer fires.
    let resp = crate::webhooks::post(&app, &format!("/admin/webhooks/{w}/delete"), &[]).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    assert_eq!(fire_as(&app, &tess, &t, w, "A-4").await, 404);
    assert_eq!(s.rx.received().len(), 3);
}

/// Two databases served by one process, each with its own webhook #1: each firing sends
/// its own database's definition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_databases_in_one_process_keep_their_own_definitions() {
    let a = buttons_app(Backend::Sqlite).await.unwrap();
    let b = buttons_app(Backend::Sqlite).await.unwrap();
    let sa = setup(&a, Reply::Status(200)).await;
    let sb = setup(&b, Reply::Status(200)).await;
    assert_eq!(
        sa.webhook, sb.webhook,
        "both databases number their webhook alike"
    );
    // B's webhook says something else.
    let conn_b = b.with_conn(|c| {
        hookdesk::webhooks::store::get(c, sb.webhook)
            .unwrap()
            .connection_id
            .unwrap()
    });
    let form = webhook_form(
        conn_b,
        &[
            ("name", "Send to vendor"),
            ("roles", ROLE),
            ("show_as_button", "on"),
            (
                "body_template",
                r#"{"database": "B", "ref": "{{param.customer_ref}}"}"#,
            ),
        ],
    );
    let resp = crate::webhooks::post(&b, &format!("/admin/webhooks/{}", sb.webhook), &form).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    for app in [&a, &b] {
        app.create_user("tess", &["Technician", ROLE]);
    }
    let (ta, tb) = (token(&a, "tess"), token(&b, "tess"));
    for round in 1..=2 {
        let r = format!("R-{round}");
        assert_eq!(
            fire_as(&a, &ta, &sa.ticket.display_id, sa.webhook, &r).await,
            202
        );
        assert_eq!(
            fire_as(&b, &tb, &sb.ticket.display_id, sb.webhook, &r).await,
            202
        );
        let got_a = sa.rx.wait_for(round).await;
        let got_b = sb.rx.wait_for(round).await;
        let body_a: Value = serde_json::from_slice(&got_a[round - 1].body).unwrap();
        let body_b: Value = serde_json::from_slice(&got_b[round - 1].body).unwrap();
        assert_eq!(body_a["ref"], r.as_str());
        assert!(
            body_a.get("database").is_none(),
            "A sent B's body: {body_a}"
        );
        assert_eq!(body_b, json!({"database": "B", "ref": r}));
    }
}
