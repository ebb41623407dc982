//! `settings` within one `db::run` call: read once, the call's own writes seen, a rolled
//! back write not, and a change by anyone else seen by the next call.

use hookdesk::db::{self, settings};
use hookdesk::error::Error;

use crate::db_tests;
use crate::helpers::TestApp;

db_tests!(a_call_reads_settings_once_and_sees_its_own_writes);

async fn a_call_reads_settings_once_and_sees_its_own_writes(app: TestApp) {
    app.with_conn(|c| db::write(c, |c| settings::put(c, "scope.test", "before")).unwrap());
    let pool = app.pool.clone();
    let seen = db::run(&app.pool, move |c| {
        let first = settings::get(c, "scope.test")?;
        // Another connection changes it while this call runs: the call keeps the value
        // it read first, as if it had run a moment earlier.
        std::thread::spawn(move || {
            let mut other = pool.get().unwrap();
            db::write(&mut other, |o| settings::put(o, "scope.test", "by another")).unwrap();
        })
        .join()
        .unwrap();
        let same = settings::get(c, "scope.test")?;
        // The call's own write is seen at once, and a rolled-back one is not.
        db::write(c, |c| settings::put(c, "scope.test", "mine"))?;
        let mine = settings::get(c, "scope.test")?;
        let undone: Result<(), Error> = db::write(c, |c| {
            settings::put(c, "scope.test", "undone")?;
            Err(Error::Internal("roll back".into()))
        });
        assert!(undone.is_err());
        let after_rollback = settings::get(c, "scope.test")?;
        Ok((first, same, mine, after_rollback))
    })
    .await
    .unwrap();
    let v = |s: &str| Some(s.to_owned());
    assert_eq!(seen.0, v("before"));
    assert_eq!(seen.1, v("before"), "read once per call");
    assert_eq!(seen.2, v("mine"), "the call's own write");
    assert_eq!(seen.3, v("mine"), "a rolled-back write is not seen");

    // The next call reads the table again.
    app.with_conn(|c| db::write(c, |c| settings::put(c, "scope.test", "later")).unwrap());
    let next = db::run(&app.pool, |c| settings::get(c, "scope.test"))
        .await
        .unwrap();
    assert_eq!(next, v("later"));
}
