//! Secrets at rest: nothing in clear in any row or in the SQLite file, a wrong or
//! missing key stops startup with a clear message, and `rekey` re-encrypts everything.
//! Rotating a signing secret is audited once, from the page as from the API.

use diesel::RunQueryDsl;
use diesel::sql_types::Text;
use hookdesk::config::Secret;
use hookdesk::connections::{Auth, Connection};
use hookdesk::db::{self, DbConn};
use hookdesk::secrets::key::{default_key_file, open_secret_box};
use hookdesk::secrets::rekey::{self, NewKey};
use hookdesk::startup::Application;
use serde_json::json;

use crate::connections::{admin_token, base64_of, by_name, secret_box};
use crate::db_tests;
use crate::helpers::{Backend, TestApp, fresh_database, test_config};

db_tests!(
    database_holds_no_secret_in_clear,
    wrong_key_is_a_startup_error,
    rekey_round_trip,
    rotation_writes_one_audit_row_from_page_and_api,
);

const SECRETS: [&str; 4] = [
    "clear-pw-alpha-1",
    "clear-tok-bravo-2",
    "clear-hdr-charlie-3",
    "clear-sig-delta",
];

#[derive(diesel::QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    j: String,
}

/// Every row of every table, as text.
pub fn dump_all_rows(conn: &mut DbConn) -> String {
    let tables = db::describe_schema(conn).unwrap();
    let mut out = String::new();
    for (table, cols) in tables {
        let rows: Vec<Row> = match conn {
            DbConn::Sqlite(c) => {
                let cols: Vec<String> = cols.iter().map(|c| format!("\"{c}\"")).collect();
                diesel::sql_query(format!(
                    "SELECT json_array({}) AS j FROM \"{table}\"",
                    cols.join(", ")
                ))
                .load(c)
                .unwrap()
            }
            DbConn::Postgres(c) => diesel::sql_query(format!(
                "SELECT row_to_json(t)::text AS j FROM \"{table}\" t"
            ))
            .load(c)
            .unwrap(),
        };
        for r in rows {
            out.push_str(&table);
            out.push(' ');
            out.push_str(&r.j);
            out.push('\n');
        }
    }
    out
}

async fn store_secrets_everywhere(app: &TestApp) -> String {
    app.login_admin().await;
    let sig = format!("whsec_{}", base64_of(SECRETS[3].repeat(2).as_bytes()));
    let r = app
        .post_form(
            "/admin/connections",
            &[
                ("name", "vault"),
                ("app_type", "hookdesk"),
                ("environment", "production"),
                ("base_url", "https://vault.example.test/api/v1/tickets"),
                ("timeout_ms", "10000"),
                ("verify_tls", "on"),
                ("auth_kind", "basic"),
                ("auth_username", "mirror"),
                ("auth_secret", SECRETS[0]),
                ("header_name", "X-Hdr"),
                ("header_value", SECRETS[2]),
                ("header_secret", "0"),
                ("signing_secret", &sig),
            ],
        )
        .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let token = admin_token(app).await;
    let r = app
        .client
        .post(app.url("/api/v1/connections"))
        .bearer_auth(&token)
        .json(&json!({
            "name": "via-api",
            "base_url": "https://api.example.test/",
            "auth_kind": "bearer",
            "auth_secret": SECRETS[1],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    sig
}

async fn database_holds_no_secret_in_clear(app: TestApp) {
    let sig = store_secrets_everywhere(&app).await;
    // A generated signing secret too.
    let id = by_name(&app, "via-api").id;
    let html = app
        .post_form(&format!("/admin/connections/{id}/signing-secret"), &[])
        .await
        .text()
        .await
        .unwrap();
    let doc = scraper::Html::parse_document(&html);
    let sel = scraper::Selector::parse("#signing-secret-value").unwrap();
    let generated: String = doc.select(&sel).next().unwrap().text().collect();

    let mut needles: Vec<String> = SECRETS.iter().map(|s| s.to_string()).collect();
    needles.push(sig.clone());
    needles.push(generated.clone());
    needles.push(sig.trim_start_matches("whsec_").to_string());
    needles.push(generated.trim_start_matches("whsec_").to_string());

    let dump = app.with_conn(dump_all_rows);
    assert!(
        dump.contains("connections "),
        "the dump reads the connections table"
    );
    assert!(dump.contains("v1:"), "sealed values are there");
    for n in &needles {
        assert!(
            !dump.contains(n.as_str()),
            "{n} is stored in clear:\n{dump}"
        );
    }

    // The raw SQLite file and its write-ahead log.
    if let Some(path) = app.config.database_url.strip_prefix("sqlite://") {
        let mut bytes = std::fs::read(path).unwrap();
        if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
            bytes.extend(wal);
        }
        assert!(bytes.len() > 4096);
        for n in &needles {
            assert!(
                !bytes.windows(n.len()).any(|w| w == n.as_bytes()),
                "{n} is in the database file"
            );
        }
    }

    // No page or API answer shows them back.
    let token = admin_token(&app).await;
    let mut seen = String::new();
    for p in ["/admin/connections", "/admin/audit"] {
        seen.push_str(&app.get(p).await.text().await.unwrap());
    }
    for c in app.with_conn(Connection::list).unwrap() {
        seen.push_str(
            &app.get(&format!("/admin/connections/{}", c.id))
                .await
                .text()
                .await
                .unwrap(),
        );
        seen.push_str(
            &app.get(&format!("/admin/connections/{}/clone", c.id))
                .await
                .text()
                .await
                .unwrap(),
        );
        let r = app
            .client
            .get(app.url(&format!("/api/v1/connections/{}", c.id)))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        seen.push_str(&r.text().await.unwrap());
    }
    for n in &needles {
        assert!(!seen.contains(n.as_str()), "{n} shown back");
    }

    // Debug output of what the sender gets is redacted.
    let sb = secret_box(&app);
    let c = by_name(&app, "vault");
    let dbg = format!(
        "{:?} {:?} {:?} {:?}",
        c,
        c.resolved_auth(&sb).unwrap(),
        c.resolved_headers(&sb).unwrap(),
        c.active_signing_secrets(&sb, db::now()).unwrap()
    );
    for n in &needles {
        assert!(!dbg.contains(n.as_str()), "{n} in Debug output: {dbg}");
    }
    assert_eq!(format!("{}", Secret("x".into())), "••••");
}

async fn wrong_key_is_a_startup_error(app: TestApp) {
    store_secrets_everywhere(&app).await;
    let other = base64_of(&hookdesk::secrets::SecretBox::generate_key());
    let cfg = hookdesk::config::Config {
        secret_key: Some(Secret(other)),
        ..app.config.clone()
    };
    let err = match Application::build(cfg).await {
        Ok(_) => panic!("started with the wrong key"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("wrong secret key"), "{err}");
    assert!(err.contains("HOOKDESK_SECRET_KEY"), "{err}");

    // The key missing altogether: named as such, and no new key file is made.
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.key");
    let cfg = hookdesk::config::Config {
        secret_key: None,
        secret_key_file: Some(missing.clone()),
        ..app.config.clone()
    };
    let err = match Application::build(cfg).await {
        Ok(_) => panic!("started without a key"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("no secret key"), "{err}");
    assert!(!missing.exists());

    // The right key still works.
    assert!(Application::build(app.config.clone()).await.is_ok());
}

async fn rekey_round_trip(app: TestApp) {
    store_secrets_everywhere(&app).await;
    let id = by_name(&app, "vault").id;
    app.post_form(&format!("/admin/connections/{id}/signing-secret"), &[])
        .await;
    let old_sb = secret_box(&app);
    let now = db::now();
    let before: Vec<(Auth, Vec<Secret>)> = app
        .with_conn(Connection::list)
        .unwrap()
        .iter()
        .map(|c| {
            (
                c.resolved_auth(&old_sb).unwrap(),
                c.active_signing_secrets(&old_sb, now).unwrap(),
            )
        })
        .collect();
    let old_sealed = by_name(&app, "vault").auth_secret_sealed.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let new_file = dir.path().join("new.key");
    let msg = app
        .with_conn(|c| {
            rekey::run(
                &app.config,
                c,
                &hookdesk::audit::Actor::system("test"),
                NewKey::File(new_file.clone()),
            )
        })
        .unwrap();
    assert!(msg.contains("re-encrypted"), "{msg}");
    assert!(new_file.exists());

    // The new key opens everything and yields the same values; the old one opens nothing.
    let new_cfg = hookdesk::config::Config {
        secret_key: None,
        secret_key_file: Some(new_file.clone()),
        ..app.config.clone()
    };
    let new_sb = app.with_conn(|c| open_secret_box(&new_cfg, c)).unwrap();
    let after: Vec<(Auth, Vec<Secret>)> = app
        .with_conn(Connection::list)
        .unwrap()
        .iter()
        .map(|c| {
            (
                c.resolved_auth(&new_sb).unwrap(),
                c.active_signing_secrets(&new_sb, now).unwrap(),
            )
        })
        .collect();
    assert_eq!(before, after);
    let vault = by_name(&app, "vault");
    assert_ne!(
        vault.auth_secret_sealed.as_deref(),
        Some(old_sealed.as_str())
    );
    assert!(
        old_sb
            .open(vault.auth_secret_sealed.as_deref().unwrap())
            .is_err()
    );
    assert!(vault.resolved_headers(&new_sb).unwrap()[0].value.expose() == SECRETS[2]);
    if app.config.secret_key.is_some() {
        // Key from the environment: the old key now fails at startup.
        let err = app
            .with_conn(|c| open_secret_box(&app.config, c))
            .unwrap_err();
        assert!(format!("{err:#}").contains("wrong secret key"));
    } else {
        // Key from the default file: the file now holds the new key.
        let key_file = default_key_file(&app.config);
        assert_eq!(
            std::fs::read_to_string(&key_file).unwrap(),
            std::fs::read_to_string(&new_file).unwrap()
        );
        assert!(Application::build(app.config.clone()).await.is_ok());
    }
}

/// The binary: a wrong key stops `serve` with the message; `rekey` works from the CLI.
#[test]
fn binary_refuses_a_wrong_key_and_rekeys() {
    let (url, _g) = fresh_database(Backend::Sqlite).unwrap();
    let bin = env!("CARGO_BIN_EXE_hookdesk");
    let run = |args: &[&str], envs: &[(&str, &str)]| {
        let mut c = std::process::Command::new(bin);
        c.args(args)
            .env_remove("HOOKDESK_SECRET_KEY")
            .env_remove("HOOKDESK_NEW_SECRET_KEY")
            .env("DATABASE_URL", &url)
            .env("HOOKDESK_ADMIN_PASSWORD", "admin-password-123")
            .env("RUST_LOG", "warn");
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    // First start through the library creates the key file and the check value.
    let cfg = test_config(&url);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async { Application::build(cfg.clone()).await.map(|_| ()) })
        .unwrap();
    let key_file = default_key_file(&cfg);
    let original = std::fs::read_to_string(&key_file).unwrap();

    let wrong = base64_of(&[5u8; 32]);
    let out = run(
        &["serve", "--listen", "127.0.0.1:0"],
        &[("HOOKDESK_SECRET_KEY", &wrong)],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("wrong secret key"), "{err}");

    let out = run(&["rekey"], &[]);
    assert!(!out.status.success(), "rekey needs a new key");

    let new_key = base64_of(&[6u8; 32]);
    let out = run(&["rekey"], &[("HOOKDESK_NEW_SECRET_KEY", &new_key)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("now holds the new key"));
    assert_ne!(std::fs::read_to_string(&key_file).unwrap(), original);
    let pool = db::connect(&url, 1).unwrap();
    let sb = open_secret_box(&cfg, &mut pool.get().unwrap()).unwrap();
    let env_cfg = hookdesk::config::Config {
        secret_key: Some(Secret(new_key)),
        ..cfg.clone()
    };
    assert!(open_secret_box(&env_cfg, &mut pool.get().unwrap()).is_ok());
    drop(sb);
}

/// `(actor, client ip, outcome, detail)` of every audit row of `action`, oldest first.
fn audit_rows(app: &TestApp, action: &str) -> Vec<(String, String, String, String)> {
    use diesel::prelude::*;
    use hookdesk::db::schema::audit_log;
    app.with_conn(|c| {
        audit_log::table
            .filter(audit_log::action.eq(action))
            .order(audit_log::id.asc())
            .select((
                audit_log::actor_name,
                audit_log::client_ip,
                audit_log::outcome,
                audit_log::detail,
            ))
            .load(c)
            .unwrap()
    })
}

fn row(outcome: &str, detail: &str) -> (String, String, String, String) {
    let s = |v: &str| v.to_string();
    (s("admin"), s("127.0.0.1"), s(outcome), s(detail))
}

/// The page and the API rotate through one domain function, which writes the audit row
/// in the rotation's transaction: one row each, the same shape; a refused change none.
async fn rotation_writes_one_audit_row_from_page_and_api(app: TestApp) {
    let token = admin_token(&app).await;
    let api = |p: &str| app.client.post(app.url(p)).bearer_auth(&token);
    let r = api("/api/v1/connections")
        .json(&json!({
            "name": "rotating",
            "base_url": "https://rotating.example.test/",
            "auth_kind": "none"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = by_name(&app, "rotating").id;
    let action = "connection.signing_secret";

    app.login_admin().await;
    let page = format!("/admin/connections/{id}/signing-secret");
    assert_eq!(app.post_form(&page, &[]).await.status(), 200);
    assert_eq!(audit_rows(&app, action), [row("success", "generated")]);

    let r = api(&format!("/api/v1/connections/{id}/signing-secret"))
        .json(&json!({"grace_hours": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    let current = hookdesk::secrets::Secret(v["signing_secret"].as_str().unwrap().to_string());
    let rotated = row("success", "rotated; previous secret valid for 5 h");
    assert_eq!(
        audit_rows(&app, action),
        [row("success", "generated"), rotated.clone()]
    );

    // Out-of-range grace periods are refused by both, before anything is written.
    let r = api(&format!("/api/v1/connections/{id}/signing-secret"))
        .json(&json!({"grace_hours": 500}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = app.post_form(&page, &[("grace_hours", "999")]).await;
    assert_eq!(r.status(), 422);
    assert_eq!(audit_rows(&app, action).len(), 2);
    let sb = secret_box(&app);
    let signing = by_name(&app, "rotating")
        .active_signing_secrets(&sb, db::now())
        .unwrap();
    assert_eq!(signing[0], current, "the refused rotations changed nothing");

    // A validation error on the page's or the API's update writes no success row.
    let r = app
        .post_form(
            &format!("/admin/connections/{id}"),
            &[
                ("name", ""),
                ("app_type", "generic"),
                ("environment", "production"),
                ("base_url", "https://rotating.example.test/"),
                ("timeout_ms", "5000"),
                ("auth_kind", "none"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let r = app
        .client
        .patch(app.url(&format!("/api/v1/connections/{id}")))
        .bearer_auth(&token)
        .json(&json!({"base_url": "ftp://rotating.example.test/"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let updates = audit_rows(&app, "connection.update");
    assert!(updates.is_empty(), "{updates:?}");
    assert_eq!(audit_rows(&app, "connection.create").len(), 1);
}
