//! The writer thread: every write goes through it, and every write waiting when it is free
//! goes into one transaction (group commit), so that one fsync makes many operations durable.
//!
//! Each operation runs in its own savepoint: one that fails is rolled back alone, the others
//! commit. An operation's result is delivered only after COMMIT returns, so its answer leaves
//! only once its change is on disk; if COMMIT fails, every operation of the batch gets the
//! error (and none of their changes is kept).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use rusqlite::Connection;
use rusqlite::hooks::Action;
use tokio::sync::oneshot;

use super::cache::ActiveAccess;
use super::{StoreError, Tx};

/// Operations waiting for the writer at most; past it, writes are refused as unavailable
/// (503) rather than queued without bound.
const QUEUE: usize = 4096;

/// Operations in one transaction at most.
const MAX_BATCH: usize = 256;

/// What running one operation gave: whether it succeeded (so its savepoint is kept), and how
/// to hand its result over once the transaction's fate is known.
struct Done {
    ok: bool,
    deliver: Box<dyn FnOnce(Option<StoreError>) + Send>,
}

/// One operation: given the connection (or the error that kept it from running), it runs and
/// says how to deliver its result.
type Work = Box<dyn FnOnce(Result<&Connection, StoreError>) -> Done + Send>;

enum Job {
    Write(Work),
    /// SQL run alone, outside any transaction.
    Configure(String, oneshot::Sender<Result<(), StoreError>>),
}

/// The handle on the writer thread; dropping it ends the thread.
pub(super) struct Writer {
    jobs: SyncSender<Job>,
}

impl Writer {
    /// Starts the thread that owns `conn`; it empties `cache` after every transaction that
    /// changed or deleted an access token, before that transaction's answers go out.
    pub(super) fn start(
        mut conn: Connection,
        cache: Arc<ActiveAccess>,
    ) -> Result<Self, StoreError> {
        let (jobs, queue) = sync_channel(QUEUE);
        let changed = Arc::new(AtomicBool::new(false));
        let hook = Arc::clone(&changed);
        conn.update_hook(Some(
            move |action: Action, _db: &str, table: &str, _row: i64| {
                if table == "access_tokens" && action != Action::SQLITE_INSERT {
                    hook.store(true, Ordering::Relaxed);
                }
            },
        ))?;
        let after_commit = Committed { changed, cache };
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || run(&conn, &queue, &after_commit))
            .map_err(|e| StoreError::Internal(format!("cannot start the writer thread: {e}")))?;
        Ok(Self { jobs })
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        self.jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => StoreError::Unavailable("the write queue is full".into()),
            TrySendError::Disconnected(_) => {
                StoreError::Unavailable("the writer thread stopped".into())
            }
        })
    }

    /// Queues an operation; the receiver gets its result after its transaction commits.
    pub(super) fn submit<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<oneshot::Receiver<Result<T, StoreError>>, StoreError> {
        let (tx, rx) = oneshot::channel();
        let work: Work = Box::new(move |conn| {
            let result = match conn {
                // A panic in one operation fails that operation (its savepoint is rolled back)
                // and nothing else: the thread goes on with the next, so one bad request can
                // never stop every write after it.
                Ok(c) => std::panic::catch_unwind(AssertUnwindSafe(|| f(&Tx::new(c))))
                    .unwrap_or_else(|panic| {
                        let what = panic
                            .downcast_ref::<&str>()
                            .map(|s| (*s).to_owned())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_default();
                        Err(StoreError::Internal(format!("a write panicked: {what}")))
                    }),
                Err(e) => Err(e),
            };
            Done {
                ok: result.is_ok(),
                deliver: Box::new(move |commit| {
                    let _ = tx.send(match commit {
                        Some(e) => Err(e),
                        None => result,
                    });
                }),
            }
        });
        self.send(Job::Write(work))?;
        Ok(rx)
    }

    /// Queues SQL to run outside any transaction.
    pub(super) fn configure(
        &self,
        sql: String,
    ) -> Result<oneshot::Receiver<Result<(), StoreError>>, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.send(Job::Configure(sql, tx))?;
        Ok(rx)
    }
}

/// What follows a transaction's end, before its answers go out.
struct Committed {
    /// Set by the update hook when an access token was revoked or deleted.
    changed: Arc<AtomicBool>,
    cache: Arc<ActiveAccess>,
}

impl Committed {
    fn run(&self) {
        if self.changed.swap(false, Ordering::Relaxed) {
            self.cache.invalidate();
        }
    }
}

/// The thread: takes what is waiting, commits it together, repeats until the store is dropped.
fn run(conn: &Connection, queue: &Receiver<Job>, committed: &Committed) {
    while let Ok(first) = queue.recv() {
        let mut batch = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Write(w) => batch.push(w),
                Job::Configure(sql, reply) => {
                    // In order: what was queued before it commits first.
                    commit(conn, std::mem::take(&mut batch), committed);
                    let result = conn.execute_batch(&sql).map_err(StoreError::from);
                    committed.run();
                    let _ = reply.send(result);
                }
            }
            if batch.len() < MAX_BATCH {
                // Empty or disconnected alike: commit what there is.
                next = queue.try_recv().ok();
            }
        }
        commit(conn, batch, committed);
    }
}

/// Runs a batch in one transaction, each operation in its savepoint, and delivers the results.
fn commit(conn: &Connection, batch: Vec<Work>, committed: &Committed) {
    let mut rest = batch.into_iter().peekable();
    while rest.peek().is_some() {
        commit_some(conn, &mut rest, committed);
    }
}

/// Runs operations from `rest` in one transaction until it is exhausted or SQLite rolls the
/// transaction back by itself, then delivers the results of those it ran.
///
/// SQLite ends the whole transaction on some errors (a full disk, an I/O error): the changes of
/// every operation before it are gone too, so those are told so rather than told they were
/// done, and the operations after it start a transaction of their own.
fn commit_some(conn: &Connection, rest: &mut impl Iterator<Item = Work>, committed: &Committed) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let e = StoreError::from(e);
        for work in rest {
            (work(Err(e.clone())).deliver)(None);
        }
        return;
    }
    let mut delivered = Vec::new();
    for work in rest.by_ref() {
        let done = match conn.execute_batch("SAVEPOINT op") {
            Ok(()) => work(Ok(conn)),
            Err(e) => work(Err(StoreError::from(e))),
        };
        delivered.push(done.deliver);
        if conn.is_autocommit() {
            committed.run();
            let lost = StoreError::Unavailable(
                "the database rolled the transaction back after an error".into(),
            );
            for deliver in delivered {
                deliver(Some(lost.clone()));
            }
            return;
        }
        let end = if done.ok {
            "RELEASE op"
        } else {
            "ROLLBACK TO op; RELEASE op"
        };
        if let Err(e) = conn.execute_batch(end) {
            tracing::error!(error = %e, "savepoint could not end");
        }
        if delivered.len() >= MAX_BATCH {
            break;
        }
    }
    let outcome = conn.execute_batch("COMMIT").err().map(|e| {
        // A failed COMMIT leaves the transaction open on some errors: close it, keep nothing.
        let _ = conn.execute_batch("ROLLBACK");
        StoreError::from(e)
    });
    committed.run();
    for deliver in delivered {
        deliver(outcome.clone());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    /// An operation running `sql`, reporting its result (after the commit) on `out`.
    fn op(sql: &'static str, out: &mpsc::Sender<(&'static str, bool)>) -> Work {
        let out = out.clone();
        Box::new(move |conn| {
            let result = conn.and_then(|c| c.execute_batch(sql).map_err(StoreError::from));
            Done {
                ok: result.is_ok(),
                deliver: Box::new(move |commit| {
                    let _ = out.send((sql, commit.is_none() && result.is_ok()));
                }),
            }
        })
    }

    /// An operation that panics fails alone: its result is an error, its change is rolled
    /// back, and the operations queued after it still run and commit.
    #[test]
    fn a_panicking_operation_fails_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = Connection::open(dir.path().join("w.sqlite")).expect("open");
        conn.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (v INTEGER);")
            .expect("schema");
        let writer = Writer::start(conn, Arc::new(ActiveAccess::default())).expect("writer");
        let panics = writer
            .submit(|tx| -> Result<(), StoreError> {
                tx.conn.execute_batch("INSERT INTO t VALUES (1)")?;
                panic!("overflow in date arithmetic")
            })
            .expect("queued");
        let after = writer
            .submit(|tx| {
                tx.conn.execute_batch("INSERT INTO t VALUES (2)")?;
                Ok(tx
                    .conn
                    .query_row("SELECT group_concat(v) FROM t", [], |r| {
                        r.get::<_, String>(0)
                    })?)
            })
            .expect("queued");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            match panics.await.expect("answered") {
                Err(StoreError::Internal(m)) => assert!(m.contains("overflow"), "{m}"),
                other => panic!("expected an internal error, got {other:?}"),
            }
            assert_eq!(after.await.expect("answered").expect("written"), "2");
        });
    }

    /// When SQLite rolls a whole batch back (here: the disk is full), no operation of it is
    /// told it was done, and the operations after it still run in a transaction of their own.
    #[test]
    fn a_batch_rolled_back_by_sqlite_reports_every_operation_in_it_failed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = Connection::open(dir.path().join("w.sqlite")).expect("open");
        conn.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (v BLOB);")
            .expect("schema");
        let pages: i64 = conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .expect("pages");
        conn.execute_batch(&format!("PRAGMA max_page_count = {}", pages + 1))
            .expect("limit");
        let (out, results) = mpsc::channel();
        let committed = Committed {
            changed: Arc::new(AtomicBool::new(false)),
            cache: Arc::new(ActiveAccess::default()),
        };
        commit(
            &conn,
            vec![
                op("INSERT INTO t VALUES (x'01')", &out),
                op("INSERT INTO t VALUES (zeroblob(1000000))", &out),
                op("INSERT INTO t VALUES (x'03')", &out),
            ],
            &committed,
        );
        drop(out);
        let got: Vec<_> = results.iter().collect();
        assert_eq!(
            got,
            [
                ("INSERT INTO t VALUES (x'01')", false),
                ("INSERT INTO t VALUES (zeroblob(1000000))", false),
                ("INSERT INTO t VALUES (x'03')", true),
            ]
        );
        let kept: Vec<Vec<u8>> = conn
            .prepare("SELECT v FROM t")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("rows");
        assert_eq!(
            kept,
            [vec![3u8]],
            "only what was reported done is in the file"
        );
        assert!(conn.is_autocommit(), "no transaction is left open");
    }
}
