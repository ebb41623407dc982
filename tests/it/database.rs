//! The database layer: backend selection, both migration trees, and their agreement.

use hookdesk::db::{self, Backend as DbBackend};

use crate::helpers::{Backend, fresh_database};

#[test]
fn backend_is_chosen_from_the_url_scheme() {
    assert_eq!(
        DbBackend::from_url("sqlite://hookdesk.db").unwrap(),
        DbBackend::Sqlite("hookdesk.db".into())
    );
    assert_eq!(
        DbBackend::from_url("sqlite:///var/lib/hd.db").unwrap(),
        DbBackend::Sqlite("/var/lib/hd.db".into())
    );
    assert_eq!(
        DbBackend::from_url("./data/hd.db").unwrap(),
        DbBackend::Sqlite("./data/hd.db".into())
    );
    assert_eq!(
        DbBackend::from_url("/abs/hd.db").unwrap(),
        DbBackend::Sqlite("/abs/hd.db".into())
    );
    for pg in [
        "postgres://u@h/db",
        "postgresql://u:p@h:5432/db?sslmode=disable",
    ] {
        assert_eq!(
            DbBackend::from_url(pg).unwrap(),
            DbBackend::Postgres(pg.into())
        );
    }
    for bad in [
        "mysql://root@localhost/db",
        "redis://x",
        "http://example.test/db",
    ] {
        let err = DbBackend::from_url(bad).unwrap_err().to_string();
        assert!(
            err.contains("unsupported database URL scheme"),
            "{bad}: {err}"
        );
    }
    assert!(DbBackend::from_url("  ").is_err());
}

#[test]
fn a_bad_url_fails_at_once_with_the_real_reason() {
    // A server that is not there: the driver's message, not a generic pool timeout.
    let started = std::time::Instant::now();
    let Err(err) = db::connect("postgres://nobody@127.0.0.1:1/none", 2) else {
        panic!("connecting to a closed port must fail");
    };
    let err = err.to_string();
    assert!(err.contains("cannot open the database"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

fn migrate_fresh(backend: Backend) -> Option<(db::DbPool, crate::helpers::DbGuard)> {
    let (url, guard) = fresh_database(backend)?;
    let pool = db::connect(&url, 2).unwrap();
    db::run_migrations(&mut pool.get().unwrap()).unwrap();
    Some((pool, guard))
}

fn up_down_up(backend: Backend) {
    let Some((pool, _g)) = migrate_fresh(backend) else {
        eprintln!("skipped: HOOKDESK_TEST_DATABASE_URL is not set");
        return;
    };
    let mut c = pool.get().unwrap();
    let first = db::describe_schema(&mut c).unwrap();
    assert!(first.contains_key("users") && first.contains_key("sessions"));
    db::revert_all_migrations(&mut c).unwrap();
    assert!(
        db::describe_schema(&mut c).unwrap().is_empty(),
        "down left tables behind"
    );
    let applied = db::run_migrations(&mut c).unwrap();
    assert!(applied > 0);
    assert_eq!(db::describe_schema(&mut c).unwrap(), first);
}

/// Several nodes started at once on one fresh PostgreSQL database all come up: their
/// migrations take turns instead of racing to create the same tables.
#[test]
fn nodes_migrating_at_once_all_succeed_on_postgres() {
    let Some((url, _g)) = fresh_database(Backend::Postgres) else {
        eprintln!("skipped: HOOKDESK_TEST_DATABASE_URL is not set");
        return;
    };
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
    let nodes: Vec<_> = (0..4)
        .map(|_| {
            let (url, barrier) = (url.clone(), barrier.clone());
            std::thread::spawn(move || {
                let pool = db::connect(&url, 1).unwrap();
                let mut c = pool.get().unwrap();
                barrier.wait();
                db::run_migrations(&mut c)
            })
        })
        .collect();
    let applied: Vec<usize> = nodes
        .into_iter()
        .map(|n| n.join().unwrap().expect("every node's migrations succeed"))
        .collect();
    assert_eq!(
        applied.iter().filter(|n| **n > 0).count(),
        1,
        "one node applied them, the others found nothing to do: {applied:?}"
    );
}

#[test]
fn migrations_up_down_up_sqlite() {
    up_down_up(Backend::Sqlite);
}

#[test]
fn migrations_up_down_up_postgres() {
    up_down_up(Backend::Postgres);
}

#[test]
fn both_migration_trees_produce_the_same_tables_and_columns() {
    let names = |dir: &str| {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names("migrations/sqlite"),
        names("migrations/postgres"),
        "the migration trees must have identical folder names"
    );
    let Some((pg, _g)) = migrate_fresh(Backend::Postgres) else {
        eprintln!("skipped: HOOKDESK_TEST_DATABASE_URL is not set");
        return;
    };
    let (lite, _g2) = migrate_fresh(Backend::Sqlite).unwrap();
    let a = db::describe_schema(&mut lite.get().unwrap()).unwrap();
    let b = db::describe_schema(&mut pg.get().unwrap()).unwrap();
    assert_eq!(a, b);
}

#[test]
fn sqlite_connections_get_the_pragmas() {
    use diesel::RunQueryDsl;
    use diesel::sql_types::{BigInt, Text};
    #[derive(diesel::QueryableByName)]
    struct S {
        #[diesel(sql_type = Text)]
        journal_mode: String,
    }
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        v: i64,
    }
    let (pool, _g) = migrate_fresh(Backend::Sqlite).unwrap();
    let mut c = pool.get().unwrap();
    let jm: S = diesel::sql_query("PRAGMA journal_mode")
        .get_result(&mut *c)
        .unwrap();
    assert_eq!(jm.journal_mode, "wal");
    let fk: N = diesel::sql_query("SELECT foreign_keys AS v FROM pragma_foreign_keys")
        .get_result(&mut *c)
        .unwrap();
    assert_eq!(fk.v, 1);
    let sync: N = diesel::sql_query("SELECT synchronous AS v FROM pragma_synchronous")
        .get_result(&mut *c)
        .unwrap();
    assert_eq!(sync.v, 1, "synchronous=NORMAL");
    let bt: N = diesel::sql_query("SELECT timeout AS v FROM pragma_busy_timeout")
        .get_result(&mut *c)
        .unwrap();
    assert!(bt.v >= 5000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness() {
    let app = crate::helpers::spawn_app(Backend::Sqlite).await.unwrap();
    let r = app.get("/healthz").await;
    assert_eq!(r.status(), 200);
    let r = app.get("/readyz").await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["database"], "ok");
}
