//! The only module that speaks SQL.
//!
//! Invariants:
//! - Only the SHA-256 digest of a token is stored (see [`crate::token::digest`]), never the value;
//!   passwords only as argon2id PHC strings.
//! - One transaction per API operation: a check and the change it allows (e.g. "the refresh token
//!   is active" and "mint an access token from it") happen in the same transaction, so two
//!   concurrent regenerations of one token cannot both succeed.
//! - Writes go through one writer thread, which commits every operation waiting for it in one
//!   `IMMEDIATE` transaction (group commit), each inside its own savepoint so that one failing
//!   operation undoes only itself. The database is in WAL mode with `synchronous=FULL`, and an
//!   operation's result is handed back only after its transaction's COMMIT: an answer is sent
//!   only once its change is on disk.
//! - Reads use their own connections (WAL readers never wait for the writer), kept in a small
//!   pool, with cached prepared statements and a short busy timeout.
//! - A storage fault (a full disk, a read-only or locked database, an I/O error) is a
//!   [`StoreError::Unavailable`]: answered 503 with Retry-After, never a token made valid by it,
//!   and the next operation tries again, so the server recovers by itself when the fault clears.
//! - Lifespans are read from the `settings` table inside the transaction that creates a token,
//!   so `reference-server conf` run against a live server's database applies to the next token.
//! - Instants are stored as microseconds since the Unix epoch, the precision the API publishes.
//! - Active access tokens found by validation are kept in memory (see `cache.rs`), emptied
//!   after every transaction that revokes or deletes one, before its answers go out.
//! - Revoked and expired rows are deleted [`PURGE_RETENTION`] after they died ([`Store::purge`]),
//!   so the file stays bounded under churn.

mod cache;
mod queries;
mod writer;

pub use queries::{Reader, Tx};

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration as StdDuration;

use rusqlite::Connection;
use time::{Duration, OffsetDateTime};

use crate::token::TokenStatus;

/// How long revoked and expired rows are kept before [`Store::purge`] deletes them. After it, a
/// token that died that long ago answers "invalid" rather than "expired or revoked".
pub const PURGE_RETENTION: Duration = Duration::days(30);

/// Errors of the storage layer. Their text is logged, never sent to a client.
#[derive(Debug, Clone)]
pub enum StoreError {
    /// The storage cannot serve now (a full disk, a read-only or locked database, an I/O
    /// error, the writer's queue full); the operation may be tried again.
    Unavailable(String),
    /// Anything else.
    Internal(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unavailable(m) => write!(f, "storage unavailable: {m}"),
            Self::Internal(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode::{
            CannotOpen, DatabaseBusy, DatabaseLocked, DiskFull, ReadOnly, SystemIoFailure,
        };
        match e.sqlite_error_code() {
            Some(
                DiskFull | ReadOnly | DatabaseBusy | DatabaseLocked | SystemIoFailure | CannotOpen,
            ) => Self::Unavailable(format!("database: {e}")),
            _ => Self::Internal(format!("database: {e}")),
        }
    }
}

/// A configurable lifespan: which one, and how it is spelled in `_conf`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LifespanKey {
    /// `.authentication.token.refresh_token_lifespan`, in days.
    RefreshTokenDays,
    /// `.authentication.token.access_token_lifespan`, in hours.
    AccessTokenHours,
}

impl LifespanKey {
    /// Both keys, in a fixed order.
    pub const ALL: [Self; 2] = [Self::RefreshTokenDays, Self::AccessTokenHours];

    /// The `_conf` key.
    pub fn conf_key(self) -> &'static str {
        match self {
            Self::RefreshTokenDays => ".authentication.token.refresh_token_lifespan",
            Self::AccessTokenHours => ".authentication.token.access_token_lifespan",
        }
    }

    /// Parses a `_conf` key.
    pub fn from_conf_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.conf_key() == key)
    }

    /// The vendor's default: 60 days, 24 hours.
    pub fn default_value(self) -> i64 {
        match self {
            Self::RefreshTokenDays => 60,
            Self::AccessTokenHours => 24,
        }
    }

    /// The largest value accepted: 100 years either way, far past any real use, and small
    /// enough that an expiry never leaves the range of dates the server can write.
    pub fn max_value(self) -> i64 {
        match self {
            Self::RefreshTokenDays => 36_500,
            Self::AccessTokenHours => 876_000,
        }
    }

    /// The unit, for messages.
    pub fn unit(self) -> &'static str {
        match self {
            Self::RefreshTokenDays => "days",
            Self::AccessTokenHours => "hours",
        }
    }

    pub(super) fn to_duration(self, value: i64) -> Duration {
        match self {
            Self::RefreshTokenDays => Duration::days(value),
            Self::AccessTokenHours => Duration::hours(value),
        }
    }
}

/// A switch an administrator turns with `conf`, stored in the `settings` table as 0 or 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeatureFlag {
    /// `.feature_flags.enable_swagger`: Swagger UI at `/openapi/api_authentication/ui/`
    /// (off by default, as on the vendor's servers).
    EnableSwagger,
}

impl FeatureFlag {
    /// Every flag.
    pub const ALL: [Self; 1] = [Self::EnableSwagger];

    /// The `_conf` key.
    pub fn conf_key(self) -> &'static str {
        match self {
            Self::EnableSwagger => ".feature_flags.enable_swagger",
        }
    }

    /// Parses a `_conf` key.
    pub fn from_conf_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.conf_key() == key)
    }
}

/// A signed-in session of the web page: whose, and the token its forms must carry.
#[derive(Clone, Debug)]
pub struct WebSession {
    /// The signed-in user.
    pub user: User,
    /// The CSRF token of this session's forms.
    pub csrf: String,
}

/// A user account.
#[derive(Clone, Debug)]
pub struct User {
    /// The numeric id sent as `user_id`.
    pub id: i64,
    /// The login name (an e-mail address).
    pub username: String,
    /// The argon2id PHC string; `None` for SSO users, who have no password here.
    pub password_hash: Option<String>,
    /// Whether the user logs in through SSO and so cannot use createRefreshToken.
    pub sso: bool,
}

/// A refresh token as stored (without its value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshTokenRow {
    /// Row id, internal.
    pub id: i64,
    /// Owner.
    pub user_id: i64,
    /// The name the user gave it.
    pub name: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it expires.
    pub expires_at: OffsetDateTime,
    /// When an access token was last minted from it.
    pub last_used_at: Option<OffsetDateTime>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

impl RefreshTokenRow {
    /// Its status at `now`.
    pub fn status(&self, now: OffsetDateTime) -> TokenStatus {
        TokenStatus::at(now, self.expires_at, self.revoked_at)
    }
}

/// An API access token as stored (without its value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessTokenRow {
    /// Row id, internal.
    pub id: i64,
    /// Owner.
    pub user_id: i64,
    /// The refresh token it was minted from.
    pub refresh_token_id: i64,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it expires.
    pub expires_at: OffsetDateTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

impl AccessTokenRow {
    /// Its status at `now`.
    pub fn status(&self, now: OffsetDateTime) -> TokenStatus {
        TokenStatus::at(now, self.expires_at, self.revoked_at)
    }
}

/// Why an operation on a refresh token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No such token, or it belongs to another user.
    Invalid,
    /// The token exists but is expired or revoked (as the operation requires).
    ExpiredOrRevoked,
}

/// The database. Cheap to share behind an `Arc`. Reads run on the caller's thread (they are
/// short index probes and never wait for the writer); writes are queued to the writer thread.
pub struct Store {
    path: PathBuf,
    writer: writer::Writer,
    readers: Mutex<Vec<Connection>>,
    active: std::sync::Arc<cache::ActiveAccess>,
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

fn open_writer(path: &Path) -> Result<Connection, StoreError> {
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
        let active = std::sync::Arc::new(cache::ActiveAccess::default());
        Ok(Self {
            path: path.to_owned(),
            writer: writer::Writer::start(conn, std::sync::Arc::clone(&active))?,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::digest;
    use time::macros::datetime;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("t.db")).expect("open");
        (dir, store)
    }

    fn user(s: &Store, name: &'static str) -> i64 {
        s.write_blocking(move |tx| tx.upsert_user(name, Some("x"), false))
            .expect("user")
    }

    async fn user_async(s: &Store, name: &'static str) -> i64 {
        s.write(move |tx| tx.upsert_user(name, Some("x"), false))
            .await
            .expect("user")
    }

    #[test]
    fn regeneration_revokes_old_token_and_its_access_tokens() {
        let (_dir, s) = store();
        let uid = user(&s, "a@example.com");
        let now = datetime!(2030-01-01 0:00 UTC);
        let old = s
            .write_blocking(move |tx| tx.create_refresh_token(uid, "n", &digest("r1"), now))
            .expect("create");
        assert_eq!(old.expires_at - old.created_at, Duration::days(60));
        let at = s
            .write_blocking(move |tx| {
                tx.create_access_token(&digest("r1"), uid, &digest("a1"), now)
            })
            .expect("db")
            .expect("active");
        let new = s
            .write_blocking(move |tx| {
                tx.regenerate_refresh_token(&digest("r1"), uid, &digest("r2"), now)
            })
            .expect("db")
            .expect("regen");
        assert_eq!(new.name, "n");
        let at_after = s
            .read(|r| r.find_access_token(&digest("a1"), uid))
            .expect("db")
            .expect("exists");
        assert_eq!(at_after.id, at.id);
        assert_eq!(at_after.status(now), TokenStatus::Revoked);
        assert_eq!(
            s.write_blocking(move |tx| {
                tx.regenerate_refresh_token(&digest("r1"), uid, &digest("r3"), now)
            })
            .expect("db"),
            Err(Refusal::ExpiredOrRevoked)
        );
    }

    #[test]
    fn lifespan_setting_applies_to_new_tokens_only() {
        let (_dir, s) = store();
        let uid = user(&s, "a@example.com");
        let now = datetime!(2030-01-01 0:00 UTC);
        let before = s
            .write_blocking(move |tx| tx.create_refresh_token(uid, "n", &digest("r1"), now))
            .expect("c");
        s.write_blocking(|tx| tx.set_lifespan(LifespanKey::RefreshTokenDays, 180))
            .expect("set");
        let after = s
            .write_blocking(move |tx| tx.create_refresh_token(uid, "n", &digest("r2"), now))
            .expect("c");
        assert_eq!(before.expires_at - before.created_at, Duration::days(60));
        assert_eq!(after.expires_at - after.created_at, Duration::days(180));
        assert!(
            s.write_blocking(|tx| tx.set_lifespan(LifespanKey::AccessTokenHours, 0))
                .is_err()
        );
    }

    #[test]
    fn tokens_of_another_user_are_invalid() {
        let (_dir, s) = store();
        let a = user(&s, "a@example.com");
        let b = user(&s, "b@example.com");
        let now = datetime!(2030-01-01 0:00 UTC);
        s.write_blocking(move |tx| tx.create_refresh_token(a, "n", &digest("r1"), now))
            .expect("c");
        assert!(
            s.read(|r| r.find_refresh_token(&digest("r1"), b))
                .expect("db")
                .is_none()
        );
        assert_eq!(
            s.write_blocking(move |tx| tx.create_access_token(
                &digest("r1"),
                b,
                &digest("a1"),
                now
            ))
            .expect("db"),
            Err(Refusal::Invalid)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_commit_together_and_a_failing_one_undoes_only_itself() {
        let (_dir, s) = store();
        let s = std::sync::Arc::new(s);
        let uid = user_async(&s, "a@example.com").await;
        let now = datetime!(2030-01-01 0:00 UTC);
        let mut tasks = Vec::new();
        for i in 0..200u32 {
            let s = std::sync::Arc::clone(&s);
            tasks.push(tokio::spawn(async move {
                s.write(move |tx| {
                    let row = tx.create_refresh_token(uid, "n", &digest(&format!("t{i}")), now)?;
                    if i % 10 == 0 {
                        // Fails after its insert: the savepoint takes the insert back.
                        return Err(StoreError::Internal("refused".into()));
                    }
                    Ok(row)
                })
                .await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            ok += usize::from(t.await.expect("join").is_ok());
        }
        assert_eq!(ok, 180);
        let (refresh, _) = s.read(|r| r.count_active(now)).expect("count");
        assert_eq!(refresh, 180, "the failing operations kept nothing");
    }

    #[tokio::test]
    async fn a_full_disk_is_unavailable_and_the_store_recovers() {
        let (_dir, s) = store();
        let uid = user_async(&s, "a@example.com").await;
        let now = datetime!(2030-01-01 0:00 UTC);
        let pages: i64 = s.read(|r| r.page_count()).expect("pages");
        s.configure(&format!("PRAGMA max_page_count = {pages}"))
            .await
            .expect("pragma");
        let mut saw_full = false;
        for i in 0..200 {
            let name = "n".repeat(200);
            match s
                .write(move |tx| {
                    tx.create_refresh_token(uid, &name, &digest(&format!("f{i}")), now)
                })
                .await
            {
                Err(StoreError::Unavailable(_)) => {
                    saw_full = true;
                    break;
                }
                Err(e) => panic!("{e}"),
                Ok(_) => {}
            }
        }
        assert!(saw_full, "the disk never filled");
        s.configure("PRAGMA max_page_count = 1073741823")
            .await
            .expect("pragma");
        s.write(move |tx| tx.create_refresh_token(uid, "after", &digest("after"), now))
            .await
            .expect("recovers once there is room");
    }

    #[tokio::test]
    async fn purge_deletes_what_died_before_the_cutoff() {
        let (_dir, s) = store();
        let uid = user_async(&s, "a@example.com").await;
        let t0 = datetime!(2030-01-01 0:00 UTC);
        for (name, at) in [("old", t0), ("new", t0 + Duration::days(100))] {
            s.write(move |tx| {
                tx.create_refresh_token(uid, name, &digest(name), at)?;
                tx.create_access_token(&digest(name), uid, &digest(&format!("{name}-a")), at)?
                    .ok();
                Ok(())
            })
            .await
            .expect("create");
        }
        // An access token that outlives its refresh token (a lifespan of 200 days).
        s.write(move |tx| {
            tx.set_lifespan(LifespanKey::AccessTokenHours, 24 * 200)?;
            tx.create_refresh_token(uid, "parent", &digest("parent"), t0)?;
            tx.create_access_token(&digest("parent"), uid, &digest("long"), t0)?
                .ok();
            Ok(())
        })
        .await
        .expect("create");
        // The old refresh token expired at t0 + 60d, its access token at t0 + 1d; the new one
        // lives, and so does the long access token, which keeps its expired parent.
        let (refresh, access) = s.purge(t0 + Duration::days(95)).await.expect("purge");
        assert_eq!((refresh, access), (1, 1));
        assert!(
            s.read(|r| r.find_refresh_token(&digest("new"), uid))
                .expect("db")
                .is_some()
        );
        assert!(
            s.read(|r| r.find_access_token(&digest("long"), uid))
                .expect("db")
                .is_some(),
            "a live access token is never purged"
        );
        // Once it has died too, both go (and by then "new" and its access token have died too).
        assert_eq!(
            s.purge(t0 + Duration::days(201)).await.expect("purge"),
            (2, 2)
        );
    }

    /// Every way a live access token dies reaches the cache before the answer that killed it:
    /// validated (so kept), then revoked, regenerated away, or revoked with its refresh token,
    /// it is never found active again.
    #[tokio::test]
    async fn the_cache_never_outlives_a_revocation() {
        let (_dir, s) = store();
        let uid = user_async(&s, "a@example.com").await;
        let now = OffsetDateTime::now_utc();
        let mint = |refresh: &'static str, access: &'static str| {
            s.write(move |tx| tx.create_access_token(&digest(refresh), uid, &digest(access), now))
        };
        let active = |access: &'static str| {
            s.access_token(&digest(access), uid, now)
                .expect("db")
                .is_some_and(|r| r.status(now) == TokenStatus::Active)
        };
        for name in ["r1", "r2", "r3"] {
            s.write(move |tx| tx.create_refresh_token(uid, name, &digest(name), now))
                .await
                .expect("refresh");
        }
        let _ = mint("r1", "a1").await.expect("mint");
        assert!(active("a1") && active("a1"), "found, then kept");
        s.write(move |tx| tx.revoke_access_tokens(&digest("r1"), uid, now))
            .await
            .expect("revoke")
            .expect("active refresh token");
        assert!(!active("a1"), "revoked");

        let _ = mint("r2", "a2").await.expect("mint");
        assert!(active("a2"));
        s.write(move |tx| tx.regenerate_refresh_token(&digest("r2"), uid, &digest("r2b"), now))
            .await
            .expect("regen")
            .expect("active refresh token");
        assert!(!active("a2"), "regenerated away");

        let _ = mint("r3", "a3").await.expect("mint");
        assert!(active("a3"));
        s.write(move |tx| tx.revoke_refresh_token(&digest("r3"), now))
            .await
            .expect("admin revoke");
        assert!(!active("a3"), "revoked with its refresh token");
    }

    /// Validations racing a revocation: once the revocation has answered, no validation that
    /// starts after it finds the token active.
    #[test]
    fn validations_racing_a_revocation_never_see_it_undone() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let (_dir, s) = store();
        let uid = user(&s, "a@example.com");
        let now = OffsetDateTime::now_utc();
        for round in 0..50 {
            let (refresh, access) = (format!("r{round}"), format!("a{round}"));
            let (r, a) = (digest(&refresh), digest(&access));
            s.write_blocking(move |tx| {
                tx.create_refresh_token(uid, "n", &r, now)?;
                tx.create_access_token(&r, uid, &a, now)?.ok();
                Ok(())
            })
            .expect("tokens");
            let revoked = AtomicBool::new(false);
            std::thread::scope(|scope| {
                for _ in 0..4 {
                    // Each reader goes on until it has read 20 times after the revocation
                    // answered, so every round checks something, however the threads run.
                    scope.spawn(|| {
                        let (mut before, mut after_reads) = (0_u32, 0_u32);
                        while after_reads < 20 {
                            let after = revoked.load(Ordering::SeqCst);
                            let row = s.access_token(&a, uid, now).expect("db").expect("row");
                            if after {
                                assert_ne!(row.status(now), TokenStatus::Active, "round {round}");
                                after_reads += 1;
                            } else {
                                before += 1;
                                assert!(before < 1_000_000, "the revocation never answered");
                            }
                        }
                    });
                }
                s.write_blocking(move |tx| tx.revoke_access_tokens(&r, uid, now))
                    .expect("revoke")
                    .expect("active");
                revoked.store(true, Ordering::SeqCst);
            });
        }
    }
}
