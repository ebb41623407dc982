//! The tickets domain directly: events roll back with their change (and the change with
//! its event), the pinned whole-ticket JSON shape and placeholder names, webhook hooks,
//! demo data, and the OpenAPI document.

use diesel::connection::SimpleConnection;
use hookdesk::auth::User;
use hookdesk::db::DbConn;
use hookdesk::tickets::{
    ChangeActor, Ticket, TicketInput, TicketPatch, demo, events, history, payload,
};
use serde_json::json;

use crate::db_tests;
use crate::helpers::{Backend, TestApp, spawn_app};
use crate::tickets_api::make_forms;

db_tests!(
    events_and_changes_commit_or_roll_back_together,
    ticket_json_shape_and_placeholders,
    webhook_hooks_record_their_own_history,
    demo_fills_only_an_empty_database,
);

fn principal(app: &TestApp, username: &str, roles: &[&str]) -> hookdesk::auth::Principal {
    let u = app.create_user(username, roles);
    app.with_conn(|c| User::principal(c, u.id).unwrap())
}

fn counts(c: &mut DbConn) -> (i64, i64, i64) {
    use diesel::prelude::*;
    use hookdesk::db::schema::{events, ticket_history, tickets};
    (
        tickets::table.count().get_result(c).unwrap(),
        events::table.count().get_result(c).unwrap(),
        ticket_history::table.count().get_result(c).unwrap(),
    )
}

/// Makes every insert into `events` fail, as a full disk or a bug would.
fn break_events(c: &mut DbConn) {
    match c {
        DbConn::Sqlite(s) => s
            .batch_execute(
                "CREATE TRIGGER events_fail BEFORE INSERT ON events \
                 BEGIN SELECT RAISE(ABORT, 'events are broken'); END;",
            )
            .unwrap(),
        DbConn::Postgres(p) => p
            .batch_execute(
                "CREATE FUNCTION events_fail() RETURNS trigger AS $$ \
                 BEGIN RAISE EXCEPTION 'events are broken'; END; $$ LANGUAGE plpgsql; \
                 CREATE TRIGGER events_fail BEFORE INSERT ON events \
                 FOR EACH ROW EXECUTE FUNCTION events_fail();",
            )
            .unwrap(),
    }
}

fn repair_events(c: &mut DbConn) {
    match c {
        DbConn::Sqlite(s) => s.batch_execute("DROP TRIGGER events_fail;").unwrap(),
        DbConn::Postgres(p) => p
            .batch_execute("DROP TRIGGER events_fail ON events; DROP FUNCTION events_fail();")
            .unwrap(),
    }
}

fn input(subject: &str) -> TicketInput {
    TicketInput {
        ticket_type: "Incident".into(),
        subject: subject.into(),
        ..Default::default()
    }
}

async fn events_and_changes_commit_or_roll_back_together(app: TestApp) {
    let p = principal(&app, "tess", &["Technician"]);
    let admin = principal(&app, "boss", &["Administrator"]);
    app.with_conn(|c| {
        let t =
            Ticket::create(c, &p, &input("First"), &hookdesk::tickets::events::NoRules).unwrap();
        assert_eq!(counts(c), (1, 1, 1));

        // A change that fails validation leaves no event.
        let bad = TicketPatch {
            status: Some("Nope".into()),
            ..Default::default()
        };
        assert!(Ticket::update(c, &p, t.id, &bad, &hookdesk::tickets::events::NoRules).is_err());
        assert_eq!(counts(c), (1, 1, 1));

        // An event that cannot be written takes its change with it.
        break_events(c);
        assert!(
            Ticket::create(c, &p, &input("Second"), &hookdesk::tickets::events::NoRules).is_err()
        );
        let ok = TicketPatch {
            subject: Some("Renamed".into()),
            ..Default::default()
        };
        assert!(Ticket::update(c, &p, t.id, &ok, &hookdesk::tickets::events::NoRules).is_err());
        assert!(
            Ticket::add_note(
                c,
                &p,
                t.id,
                "hello",
                false,
                &hookdesk::tickets::events::NoRules
            )
            .is_err()
        );
        assert!(
            Ticket::delete(
                c,
                &admin,
                &hookdesk::audit::Actor::system("test"),
                t.id,
                &hookdesk::tickets::events::NoRules
            )
            .is_err()
        );
        assert_eq!(counts(c), (1, 1, 1));
        assert_eq!(Ticket::get(c, t.id).unwrap().subject, "First");
        repair_events(c);

        // The failed create gave its number back: the next Incident is IN2.
        let t2 =
            Ticket::create(c, &p, &input("Third"), &hookdesk::tickets::events::NoRules).unwrap();
        assert_eq!(t2.display_id, "IN2");
        let ch = Ticket::update(c, &p, t.id, &ok, &hookdesk::tickets::events::NoRules).unwrap();
        assert_eq!(ch["subject"], json!({ "old": "First", "new": "Renamed" }));
        assert_eq!(counts(c), (2, 3, 3));
        let ev = events::for_ticket(c, t.id).unwrap();
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[1].event_type, "ticket.updated");
        assert_eq!(ev[1].actor_id, Some(p.user.id));
    });
}

async fn ticket_json_shape_and_placeholders(app: TestApp) {
    make_forms(&app);
    let p = principal(&app, "tess", &["Technician"]);
    app.with_conn(|c| {
        let mut inp = input("Printer jams");
        inp.priority = "P2".into();
        inp.assignee = Some("tess".into());
        inp.category = "Hardware".into();
        inp.requester_name = "Robin".into();
        inp.requester_email = "robin@example.com".into();
        inp.forms.insert(
            "Inventory".into(),
            json!({ "serial": "SN-1", "cost": 3, "location": "LON" }),
        );
        inp.forms.insert(
            "Linked assets".into(),
            json!([{ "asset": "P2425", "request date": "2025-04-23" }]),
        );
        let t = Ticket::create(c, &p, &inp, &hookdesk::tickets::events::NoRules).unwrap();
        let mut v = payload::ticket_json(c, t.id, false, false).unwrap();
        let created = v["createdat"].as_str().unwrap().to_string();
        assert!(created.ends_with('Z') && created.len() == 20, "{created}");
        v["createdat"] = json!("T");
        v["updatedat"] = json!("T");
        assert_eq!(
            v,
            json!({
                "id": t.id,
                "displayid": "IN1",
                "type": "Incident",
                "subject": "Printer jams",
                "description": "",
                "status": "Open",
                "priority": "P2 High",
                "category": "Hardware",
                "assignedgroup": "",
                "assignee": "tess name",
                "assigneeusername": "tess",
                "requestername": "Robin",
                "requesteremail": "robin@example.com",
                "createdat": "T",
                "createdby": "tess name",
                "updatedat": "T",
                "updatedby": "tess name",
                "forms": {
                    "inventory": { "serial": "SN-1", "cost": 3, "warranty": false, "location": "London office", "bought": null },
                    "linkedassets": [ { "asset": "P2425", "requestdate": "2025-04-23" } ]
                }
            })
        );
        let ids = payload::ticket_json(c, t.id, true, true).unwrap();
        assert_eq!(ids["priority"], "P2");
        assert_eq!(ids["assignee"], p.user.id);
        assert_eq!(ids["forms"]["inventory"]["location"], "LON");
        assert_eq!(ids["history"][0]["kind"], "field_change");

        let tv = payload::template_values(c, t.id).unwrap();
        assert_eq!(tv["ticket.id"], json!(t.id));
        assert_eq!(tv["ticket.displayid"], "IN1");
        assert_eq!(tv["ticket.priority"], "P2 High");
        assert_eq!(tv["ticket.priority.id"], "P2");
        assert_eq!(tv["ticket.inventory.cost"], json!(3));
        assert_eq!(tv["ticket.inventory.warranty"], json!(false));
        assert_eq!(tv["ticket.inventory.location"], "London office");
        assert_eq!(tv["ticket.inventory.location.id"], "LON");
        assert_eq!(tv["ticket.inventory.bought"], json!(null));
        assert_eq!(
            tv["ticket.linkedassets"],
            json!([{ "asset": "P2425", "requestdate": "2025-04-23" }])
        );
        let names = payload::template_names(c, Some(t.kind())).unwrap();
        let mut keys: Vec<String> = tv.keys().cloned().collect();
        keys.sort();
        assert_eq!(names, keys, "every value has a name and every name a value");
        let problem = payload::template_names(c, Some(hookdesk::tickets::TicketType::Problem)).unwrap();
        assert!(!problem.iter().any(|n| n.starts_with("ticket.inventory")));
        assert!(problem.contains(&"ticket.subject".to_string()));
        let sample = payload::sample_template_values();
        assert_eq!(sample["ticket.linkedassets"][1]["asset"], "FH6354");
    });
}

async fn webhook_hooks_record_their_own_history(app: TestApp) {
    let p = principal(&app, "tess", &["Technician"]);
    app.with_conn(|c| {
        let t = Ticket::create(
            c,
            &p,
            &input("Sync me"),
            &hookdesk::tickets::events::NoRules,
        )
        .unwrap();
        let actor = ChangeActor::user(&p);
        history::record_webhook_fired(c, t.id, &actor, "Sent to ServiceNow").unwrap();
        let ch = Ticket::apply_webhook_response(
            c,
            &ChangeActor::system("webhook"),
            t.id,
            &hookdesk::tickets::ResponseOrigin {
                webhook_name: "ServiceNow".into(),
                ..Default::default()
            },
            &TicketPatch {
                category: Some("INC0012".into()),
                ..Default::default()
            },
            &hookdesk::tickets::events::NoRules,
        )
        .unwrap();
        assert_eq!(ch["category"], json!({ "old": "", "new": "INC0012" }));
        let h = history::list(c, t.id).unwrap();
        let kinds: Vec<&str> = h.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["field_change", "webhook_fired", "webhook_response"]);
        assert_eq!(h[1].body, "Sent to ServiceNow");
        let ev = events::for_ticket(c, t.id).unwrap();
        let types: Vec<&str> = ev.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(types, ["ticket.created", "webhook.response_processed"]);
        assert_eq!(ev[1].payload_json()["webhook"], "ServiceNow");
        assert_eq!(ev[1].actor_id, None);
    });
}

async fn demo_fills_only_an_empty_database(app: TestApp) {
    app.with_conn(|c| {
        let s = demo::fill(c, &hookdesk::audit::Actor::system("test")).unwrap();
        assert!(s.password.is_some());
        assert_eq!(s.forms, 4);
        assert_eq!(s.tickets, 36);
        let (tickets, events, history) = counts(c);
        assert_eq!(tickets, 36);
        assert!(events > 36 && history > 36);
        let (all, _) = hookdesk::tickets::query::list(
            c,
            &hookdesk::tickets::query::TicketFilter {
                ticket_type: "CH".into(),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(all.len(), 9);
        let v = payload::ticket_json(c, all[0].id, true, false).unwrap();
        assert!(v["forms"]["linkedassets"].is_array());
        assert!(v["forms"]["changeplan"]["risk"].is_string());
        let again = demo::fill(c, &hookdesk::audit::Actor::system("test")).unwrap_err();
        assert!(
            again.to_string().contains("already holds 36 ticket(s)"),
            "{again}"
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_lists_every_api_route() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let resp = app.get("/api/v1/openapi.json").await;
    assert_eq!(resp.status(), 200);
    let doc: serde_json::Value = resp.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let routes = hookdesk::http::routes::table().infos();
    let api: Vec<_> = routes
        .iter()
        .filter(|r| r.path.starts_with("/api/"))
        .collect();
    assert!(api.len() >= 9);
    for r in api {
        // `{key}` and `{id:\d+}` alike become `{key}` / `{id}` in OpenAPI.
        let mut path = String::new();
        let mut skip = false;
        for ch in r.path.chars() {
            match ch {
                ':' if path.contains('{') && !path.ends_with('}') => skip = true,
                '}' => {
                    skip = false;
                    path.push('}');
                }
                c if !skip => path.push(c),
                _ => {}
            }
        }
        let item = paths
            .get(&path)
            .unwrap_or_else(|| panic!("{path} missing from the OpenAPI document"));
        let m = r.method.as_str().to_ascii_lowercase();
        assert!(
            item.get(&m).is_some(),
            "{m} {path} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[test]
fn demo_command_prints_the_technician_password_and_refuses_a_second_run() {
    let (url, _g) = crate::helpers::fresh_database(Backend::Sqlite).unwrap();
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_hookdesk"))
            .arg("demo")
            .env("DATABASE_URL", &url)
            .env("HOOKDESK_ADMIN_PASSWORD", crate::helpers::ADMIN_PASSWORD)
            .env("RUST_LOG", "warn")
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success());
    let out = String::from_utf8_lossy(&first.stdout);
    assert!(
        out.contains("Demo data added: 4 form(s), 36 ticket(s)."),
        "{out}"
    );
    assert!(
        out.contains("Technician user tech with password: "),
        "{out}"
    );
    let second = run();
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("only fills an empty one"), "{err}");
}
