//! [`Store`]: the database file opened, its schema, the pool of read connections, the writer,
//! and the cache of active access tokens.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration as StdDuration;

use rusqlite::Connection;
use time::{Duration, OffsetDateTime};

use super::types::{AccessTokenRow, StoreError};
use super::{Reader, Tx};
use crate::token::TokenStatus;

/// How long revoked and expired rows are kept before [`Store::purge`] deletes them. After it, a
/// token that died that long ago answers "invalid" rather than "expired or revoked".
pub const PURGE_RETENTION: Duration = Duration::days(30);

/// The database. Cheap to share behind an `Arc`. Reads run on the caller's thread (they are
/// short index probes and never wait for the writer); writes are queued to the writer thread.
pub struct Store {
    path: PathBuf,
    writer: super::writer::Writer,
    readers: Mutex<Vec<Connection>>,
    active: std::sync::Arc<super::cache::ActiveAccess>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT,
    sso           INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id),
    digest        BLOB NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
);
CREATE TABLE IF NOT EXISTS access_tokens (
    id               INTEGER PRIMARY KEY,
    user_id          INTEGER NOT NULL REFERENCES users(id),
    refresh_token_id INTEGER NOT NULL REFERENCES refresh_tokens(id),
    digest           BLOB NOT NULL UNIQUE,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    revoked_at       INTEGER
);
CREATE INDEX IF NOT EXISTS access_tokens_by_refresh ON access_tokens(refresh_token_id);
CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS web_sessions (
    digest     BLOB PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    csrf       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sign_in_links (
    digest     BLOB PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
";
/// Read connections kept idle at most; more are opened while busy, and dropped after.
const IDLE_READERS: usize = 8;

/// Creates the database file, if it is missing, readable and writable by its owner only:
/// SQLite would create it 0644 (less the umask), and it holds password hashes and session
/// digests. SQLite gives the `-wal` and `-shm` files it creates the database's own mode, so
/// they are private too. An existing file keeps the mode its owner gave it (see
/// [`readable_by_others`] for the warning).
fn create_private(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Internal(format!(
            "cannot open database {}: {e}",
            path.display()
        ))),
    }
}

/// Whether users other than the file's owner may read it (`None` where that cannot be told:
/// no such file, or not a Unix system).
pub fn readable_by_others(path: &Path) -> Option<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).ok()?.permissions().mode();
        Some(mode & 0o044 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    if readable_by_others(path) == Some(true) {
        tracing::warn!(
            database = %path.display(),
            "the database is readable by other users of this machine (it holds password \
             hashes and session digests): chmod 600 it and its -wal and -shm files"
        );
    }
    create_private(path)?;
    let conn = Connection::open(path).map_err(|e| {
        StoreError::Internal(format!("cannot open database {}: {e}", path.display()))
    })?;
    // Long enough for a `conf` in another process, short enough to answer 503 quickly while
    // another process holds the database locked.
    conn.busy_timeout(StdDuration::from_secs(2))?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Internal(format!(
            "database {} refused WAL mode (journal_mode is {mode})",
            path.display()
        )));
    }
    conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

impl Store {
    /// Opens (creating if needed) the database at `path`, and starts its writer thread.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = open_writer(path)?;
        let active = std::sync::Arc::new(super::cache::ActiveAccess::default());
        Ok(Self {
            path: path.to_owned(),
            writer: super::writer::Writer::start(conn, std::sync::Arc::clone(&active))?,
            readers: Mutex::new(Vec::new()),
            active,
        })
    }

    fn reader(&self) -> Result<Connection, StoreError> {
        let idle = self
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        if let Some(c) = idle {
            return Ok(c);
        }
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(StdDuration::from_millis(250))?;
        conn.execute_batch("PRAGMA query_only=ON;")?;
        Ok(conn)
    }

    /// Runs a read on a read connection, on this thread.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Reader<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.reader()?;
        let result = f(&Reader::new(&conn));
        let mut idle = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    /// The access token with this digest, if it exists and belongs to `user_id`: from the cache
    /// of active tokens when it is there and still active at `now`, else from the database.
    pub fn access_token(
        &self,
        digest: &[u8; 32],
        user_id: i64,
        now: OffsetDateTime,
    ) -> Result<Option<AccessTokenRow>, StoreError> {
        if let Some(row) = self.active.get(digest, user_id, now) {
            return Ok(Some(row));
        }
        let epoch = self.active.epoch();
        let row = self.read(|r| r.find_access_token(digest, user_id))?;
        if let Some(row) = row
            .as_ref()
            .filter(|r| r.status(now) == TokenStatus::Active)
        {
            self.active.keep(epoch, *digest, row.clone());
        }
        Ok(row)
    }

    /// Runs a write in the writer's next transaction; resolves once it is committed.
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.writer
            .submit(f)?
            .await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("the writer thread stopped".into())))
    }

    /// [`Store::write`] for a thread that is not async (start-up, the `conf` command).
    pub fn write_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.writer
            .submit(f)?
            .blocking_recv()
            .unwrap_or_else(|_| Err(StoreError::Unavailable("the writer thread stopped".into())))
    }

    /// Runs SQL on the writer's connection outside any transaction: maintenance, and the tests
    /// that stand in for a full disk (`PRAGMA max_page_count`) or a read-only file
    /// (`PRAGMA query_only`).
    pub async fn configure(&self, sql: &str) -> Result<(), StoreError> {
        self.writer
            .configure(sql.to_owned())?
            .await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("the writer thread stopped".into())))
    }

    /// Deletes the rows that died (revoked, or expired) before `cutoff`, access tokens first;
    /// returns how many refresh and access tokens went.
    pub async fn purge(&self, cutoff: OffsetDateTime) -> Result<(usize, usize), StoreError> {
        self.write(move |tx| tx.purge(cutoff)).await
    }
}
