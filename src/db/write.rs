//! The one write path. Every transaction that writes goes through [`write`].
//!
//! Why: SQLite in WAL mode lets a deferred transaction (`BEGIN`) read, and when it later
//! wants to write it must upgrade to the write lock. If another connection committed a
//! write in between, SQLite refuses the upgrade *at once* with `SQLITE_BUSY` — the busy
//! timeout does not help, because waiting could never make the stale snapshot current.
//! That surfaced as random `database is locked` 500s as soon as the worker was busy.
//! `BEGIN IMMEDIATE` takes the write lock before the first read, waiting up to the busy
//! timeout for it, so a transaction that starts always finishes. PostgreSQL orders
//! writers with row locks and needs a plain transaction.
//!
//! Rules (`docs/ARCHITECTURE.md` repeats them):
//! 1. A transaction that writes is opened by [`write`] (or its variants here, which
//!    share its code) and nothing else; clippy's
//!    `disallowed-methods` refuses `Connection::transaction` outside this module.
//! 2. Reads never take the write lock; a request that reads and then writes does the read
//!    inside the write transaction (or re-checks it there).
//! 3. A single autocommit statement (an `INSERT` or `UPDATE` on its own) is its own
//!    implicit immediate transaction on SQLite and waits on the busy timeout like one.
//! 4. A writer that still cannot get the lock within the busy timeout fails with
//!    [`Error::Busy`](crate::error::Error::Busy): a 503 with `Retry-After`, never a 500,
//!    and nothing half-written.
//! 5. Within one process, SQLite writers queue on [`WRITERS`] before `BEGIN IMMEDIATE`.
//!    SQLite's busy handler waits by sleeping (1, 2, 5, 10… ms) and retrying, so with
//!    many writers the lock sat free while they all slept: the API's write rate was set
//!    by those sleeps, not by the work. A waiter on the mutex is woken the moment the
//!    writer before it commits. The mutex is only a queue: the write lock is still
//!    SQLite's (other processes, and a waiter that gives up on the queue after
//!    [`QUEUE_PATIENCE`], fall back to the busy timeout), so correctness never rests on it.
//! 6. WAL checkpoints run outside the queue ([`checkpoint_now_and_then`]).
//! 7. The worker's claims and outcome records ([`write_first`]) pass the queued API
//!    writers: they wait for at most the writer holding the lock and one more, instead of
//!    every request queued before them. Each of a delivery's two short writes used to
//!    wait behind all 16 clients' requests, so delivery fell ever further behind intake;
//!    finishing accepted work first keeps the queue short. Ordinary writers still go in
//!    arrival order among themselves.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::DbConn;

/// Runs `f` in a write transaction: `BEGIN IMMEDIATE` on SQLite, `BEGIN` on PostgreSQL.
/// Commits when `f` returns `Ok`, rolls back otherwise. Called inside another write it
/// becomes a savepoint of that transaction, which already holds the lock.
pub fn write<T, E>(conn: &mut DbConn, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
where
    E: From<DieselError>,
{
    write_as(conn, false, f)
}

/// [`write`] for the worker's claims and outcome records, which pass the API's queued
/// writers (rule 7).
pub fn write_first<T, E>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<DieselError>,
{
    write_as(conn, true, f)
}

/// [`write`] for a step whose failure fails its caller anyway: inside a transaction it
/// runs in it as it is, without the savepoint [`write`] would make there. A savepoint
/// is two more statements (`SAVEPOINT`, `RELEASE`) and, on PostgreSQL, two round
/// trips; it only earns them where an error is caught and the transaction goes on.
pub fn write_joined<T, E>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<DieselError>,
{
    if nested(conn)? {
        f(conn)
    } else {
        write_as(conn, false, f)
    }
}

fn write_as<T, E>(
    conn: &mut DbConn,
    first: bool,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<DieselError>,
{
    let nested = nested(conn)?;
    match conn {
        DbConn::Sqlite(s) if !nested => {
            // Rules 5 and 7. Held until the commit or rollback (the guard's scope).
            let queued = if first {
                WRITERS.try_lock_for(QUEUE_PATIENCE)
            } else {
                let gate = GATE.try_lock_for(QUEUE_PATIENCE);
                let w = WRITERS.try_lock_for(QUEUE_PATIENCE);
                drop(gate);
                w
            };
            AnsiTransactionManager::begin_transaction_sql(s, "BEGIN IMMEDIATE")?;
            let out = match f(conn) {
                Ok(v) => {
                    commit(conn)?;
                    Ok(v)
                }
                Err(e) => {
                    rollback(conn)?;
                    Err(e)
                }
            };
            drop(queued);
            checkpoint_now_and_then(conn);
            out
        }
        // PostgreSQL, or a savepoint inside a transaction that holds the lock already.
        _ =>
        {
            #[expect(clippy::disallowed_methods, reason = "this is the one write path")]
            diesel::Connection::transaction(conn, f)
        }
    }
}

/// The queue of this process's SQLite writers (rule 5). One for every database the process
/// opens: in production that is one; a test process with several databases only queues
/// their writers together.
static WRITERS: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

/// Rule 7: ordinary writers pass this gate one at a time before they wait on [`WRITERS`],
/// so at most one of them is ever waiting there beside the worker's.
static GATE: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

/// How long a writer waits in the queue before it goes to SQLite's own lock wait: long
/// enough for a queue of slow transactions, short enough that a writer that somehow holds
/// the queue while waiting for another database never stalls the others for long.
const QUEUE_PATIENCE: Duration = Duration::from_secs(2);

/// Commits between two WAL checkpoints (rule 6).
const CHECKPOINT_EVERY: u64 = 256;
static COMMITS: AtomicU64 = AtomicU64::new(0);

/// Rule 6: SQLite's automatic checkpoint (turned off in `sqlite_pragmas`) ran inside the
/// `COMMIT` that crossed 1,000 WAL pages, with its file syncs, while that writer still
/// held the queue, so every writer behind it waited on the disk. Here every
/// [`CHECKPOINT_EVERY`]th commit checkpoints *after* leaving the queue, `PASSIVE`: it
/// copies what no reader still needs and never blocks a writer. A failure is only
/// logged; the next one catches up.
fn checkpoint_now_and_then(conn: &mut DbConn) {
    if COMMITS.fetch_add(1, Ordering::Relaxed) % CHECKPOINT_EVERY != CHECKPOINT_EVERY - 1 {
        return;
    }
    if let DbConn::Sqlite(s) = conn
        && let Err(e) =
            diesel::connection::SimpleConnection::batch_execute(s, "PRAGMA wal_checkpoint(PASSIVE)")
    {
        tracing::warn!(error = %e, "WAL checkpoint failed; the next one will catch up");
    }
}

/// Whether `conn` is inside a transaction already.
fn nested(conn: &mut DbConn) -> Result<bool, DieselError> {
    match conn {
        DbConn::Sqlite(s) => in_transaction(s),
        DbConn::Postgres(p) => in_transaction(p),
    }
}

/// Whether the backend connection is inside a transaction already.
fn in_transaction<C>(c: &mut C) -> Result<bool, DieselError>
where
    C: diesel::Connection<TransactionManager = AnsiTransactionManager>,
{
    Ok(AnsiTransactionManager::transaction_manager_status_mut(c)
        .transaction_depth()?
        .is_some())
}

fn commit(conn: &mut DbConn) -> Result<(), DieselError> {
    match conn {
        DbConn::Sqlite(s) => AnsiTransactionManager::commit_transaction(s),
        DbConn::Postgres(p) => AnsiTransactionManager::commit_transaction(p),
    }
}

fn rollback(conn: &mut DbConn) -> Result<(), DieselError> {
    match conn {
        DbConn::Sqlite(s) => AnsiTransactionManager::rollback_transaction(s),
        DbConn::Postgres(p) => AnsiTransactionManager::rollback_transaction(p),
    }
}

/// How many writes gave up waiting for the lock since start (logged with each one).
static BUSY_TOTAL: AtomicU64 = AtomicU64::new(0);

/// True when `e` means "another writer held the lock for longer than we wait": SQLite's
/// `SQLITE_BUSY` ("database is locked"), PostgreSQL's serialization failure, deadlock or
/// lock timeout.
pub fn is_busy(e: &DieselError) -> bool {
    let DieselError::DatabaseError(kind, info) = e else {
        return false;
    };
    matches!(kind, DatabaseErrorKind::SerializationFailure) || {
        let m = info.message();
        m.contains("database is locked")
            || m.contains("database is busy")
            || m.contains("deadlock detected")
            || m.contains("lock timeout")
    }
}

/// Counts and logs one write that gave up: each is a user told to try again, so they
/// must show in the logs with a running total.
pub fn note_busy(e: &DieselError) {
    let n = BUSY_TOTAL.fetch_add(1, Ordering::Relaxed) + 1;
    tracing::warn!(busy_total = n, error = %e, "write lock not obtained within the busy timeout");
}

/// Writes that gave up waiting for the lock since start.
pub fn busy_total() -> u64 {
    BUSY_TOTAL.load(Ordering::Relaxed)
}
