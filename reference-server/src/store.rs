//! The only module that speaks SQL.
//!
//! Invariants:
//! - Only the SHA-256 digest of a token is stored (see [`crate::token::digest`]), never the value;
//!   passwords only as argon2id PHC strings.
//! - One transaction per API operation: a check and the change it allows (e.g. "the refresh token
//!   is active" and "mint an access token from it") happen in the same `IMMEDIATE` transaction,
//!   so two concurrent regenerations of one token cannot both succeed.
//! - The database is in WAL mode with `synchronous=FULL`: a response is sent only after its
//!   transaction is durable.
//! - Lifespans are read from the `settings` table inside the transaction that creates a token,
//!   so `reference-server conf` run against a live server's database applies to the next token.
//! - Instants are stored as microseconds since the Unix epoch, the precision the API publishes.

use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration as StdDuration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use time::{Duration, OffsetDateTime};

use crate::clock::{from_micros, to_micros};
use crate::token::TokenStatus;

/// Errors of the storage layer. Their text is logged, never sent to a client.
#[derive(Debug)]
pub struct StoreError(String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self(format!("database: {e}"))
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

    fn to_duration(self, value: i64) -> Duration {
        match self {
            Self::RefreshTokenDays => Duration::days(value),
            Self::AccessTokenHours => Duration::hours(value),
        }
    }
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

/// The database. Cheap to share behind an `Arc`; every method blocks, so async callers use
/// `spawn_blocking`.
pub struct Store {
    conn: Mutex<Connection>,
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
";

const REFRESH_COLUMNS: &str = "id, user_id, name, created_at, expires_at, last_used_at, revoked_at";
const ACCESS_COLUMNS: &str = "id, user_id, refresh_token_id, created_at, expires_at, revoked_at";

fn refresh_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RefreshTokenRow> {
    Ok(RefreshTokenRow {
        id: r.get(0)?,
        user_id: r.get(1)?,
        name: r.get(2)?,
        created_at: from_micros(r.get(3)?),
        expires_at: from_micros(r.get(4)?),
        last_used_at: r.get::<_, Option<i64>>(5)?.map(from_micros),
        revoked_at: r.get::<_, Option<i64>>(6)?.map(from_micros),
    })
}

fn access_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AccessTokenRow> {
    Ok(AccessTokenRow {
        id: r.get(0)?,
        user_id: r.get(1)?,
        refresh_token_id: r.get(2)?,
        created_at: from_micros(r.get(3)?),
        expires_at: from_micros(r.get(4)?),
        revoked_at: r.get::<_, Option<i64>>(5)?.map(from_micros),
    })
}

impl Store {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)
            .map_err(|e| StoreError(format!("cannot open database {}: {e}", path.display())))?;
        conn.busy_timeout(StdDuration::from_secs(10))?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError(format!(
                "database {} refused WAL mode (journal_mode is {mode})",
                path.display()
            )));
        }
        conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-done transaction behind (rusqlite
        // rolls back on drop), so the connection is still sound.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Creates a user, or updates the password and SSO flag of an existing one.
    pub fn upsert_user(
        &self,
        username: &str,
        password_hash: Option<&str>,
        sso: bool,
    ) -> Result<i64, StoreError> {
        let conn = self.conn();
        let id = conn.query_row(
            "INSERT INTO users (username, password_hash, sso) VALUES (?1, ?2, ?3)
             ON CONFLICT(username) DO UPDATE SET password_hash = excluded.password_hash,
                                                 sso = excluded.sso
             RETURNING id",
            params![username, password_hash, sso],
            |r| r.get(0),
        )?;
        Ok(id)
    }

    /// Looks a user up by username, ignoring ASCII case.
    pub fn find_user(&self, username: &str) -> Result<Option<User>, StoreError> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT id, username, password_hash, sso FROM users WHERE username = ?1",
                [username],
                |r| {
                    Ok(User {
                        id: r.get(0)?,
                        username: r.get(1)?,
                        password_hash: r.get(2)?,
                        sso: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// How many users can log in with a password.
    pub fn count_password_users(&self) -> Result<i64, StoreError> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*) FROM users WHERE password_hash IS NOT NULL",
            [],
            |r| r.get(0),
        )?)
    }

    /// The current value of a lifespan setting.
    pub fn lifespan(&self, key: LifespanKey) -> Result<i64, StoreError> {
        lifespan_in(&self.conn(), key)
    }

    /// Sets a lifespan; it applies to tokens created afterwards.
    pub fn set_lifespan(&self, key: LifespanKey, value: i64) -> Result<(), StoreError> {
        if !(1..=key.max_value()).contains(&value) {
            return Err(StoreError(format!(
                "{} must be between 1 and {} {}",
                key.conf_key(),
                key.max_value(),
                key.unit()
            )));
        }
        self.conn().execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key.conf_key(), value],
        )?;
        Ok(())
    }

    /// Stores a new refresh token for `user_id`; the lifespan in force now decides its expiry.
    pub fn create_refresh_token(
        &self,
        user_id: i64,
        name: &str,
        digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<RefreshTokenRow, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row = insert_refresh(&tx, user_id, name, digest, now)?;
        tx.commit()?;
        Ok(row)
    }

    /// The refresh token with this digest, if it exists and belongs to `user_id`.
    pub fn find_refresh_token(
        &self,
        digest: &[u8; 32],
        user_id: i64,
    ) -> Result<Option<RefreshTokenRow>, StoreError> {
        find_refresh(&self.conn(), digest, user_id)
    }

    /// Replaces a refresh token with a new one of the same name and a full lifespan. The old one
    /// is revoked, and so is every access token minted from it. Active and expired tokens can be
    /// regenerated; revoked ones cannot.
    pub fn regenerate_refresh_token(
        &self,
        old_digest: &[u8; 32],
        user_id: i64,
        new_digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Result<RefreshTokenRow, Refusal>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(old) = find_refresh(&tx, old_digest, user_id)? else {
            return Ok(Err(Refusal::Invalid));
        };
        if old.revoked_at.is_some() {
            return Ok(Err(Refusal::ExpiredOrRevoked));
        }
        let at = to_micros(now);
        tx.execute(
            "UPDATE refresh_tokens SET revoked_at = ?1 WHERE id = ?2",
            params![at, old.id],
        )?;
        tx.execute(
            "UPDATE access_tokens SET revoked_at = ?1
             WHERE refresh_token_id = ?2 AND revoked_at IS NULL",
            params![at, old.id],
        )?;
        let new = insert_refresh(&tx, user_id, &old.name, new_digest, now)?;
        tx.commit()?;
        Ok(Ok(new))
    }

    /// Mints an access token from an active refresh token and records the refresh token's use.
    pub fn create_access_token(
        &self,
        refresh_digest: &[u8; 32],
        user_id: i64,
        access_digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Result<AccessTokenRow, Refusal>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let refresh = match active_refresh(&tx, refresh_digest, user_id, now)? {
            Ok(r) => r,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let lifespan = LifespanKey::AccessTokenHours
            .to_duration(lifespan_in(&tx, LifespanKey::AccessTokenHours)?);
        let (created, expires) = (to_micros(now), to_micros(now + lifespan));
        let row = tx.query_row(
            &format!(
                "INSERT INTO access_tokens (user_id, refresh_token_id, digest, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) RETURNING {ACCESS_COLUMNS}"
            ),
            params![user_id, refresh.id, &digest_blob(access_digest), created, expires],
            access_row,
        )?;
        tx.execute(
            "UPDATE refresh_tokens SET last_used_at = ?1 WHERE id = ?2",
            params![created, refresh.id],
        )?;
        tx.commit()?;
        Ok(Ok(row))
    }

    /// The access token with this digest, if it exists and belongs to `user_id`.
    pub fn find_access_token(
        &self,
        digest: &[u8; 32],
        user_id: i64,
    ) -> Result<Option<AccessTokenRow>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                &format!(
                    "SELECT {ACCESS_COLUMNS} FROM access_tokens WHERE digest = ?1 AND user_id = ?2"
                ),
                params![&digest_blob(digest), user_id],
                access_row,
            )
            .optional()?)
    }

    /// Revokes every unrevoked access token minted from an active refresh token; returns how many.
    pub fn revoke_access_tokens(
        &self,
        refresh_digest: &[u8; 32],
        user_id: i64,
        now: OffsetDateTime,
    ) -> Result<Result<usize, Refusal>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let refresh = match active_refresh(&tx, refresh_digest, user_id, now)? {
            Ok(r) => r,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let n = tx.execute(
            "UPDATE access_tokens SET revoked_at = ?1
             WHERE refresh_token_id = ?2 AND revoked_at IS NULL",
            params![to_micros(now), refresh.id],
        )?;
        tx.commit()?;
        Ok(Ok(n))
    }

    /// Revokes one refresh token (the admin interface's action); its access tokens go with it.
    /// Returns whether a token was revoked.
    pub fn revoke_refresh_token(
        &self,
        digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let at = to_micros(now);
        let id: Option<i64> = tx
            .query_row(
                "UPDATE refresh_tokens SET revoked_at = ?1
                 WHERE digest = ?2 AND revoked_at IS NULL RETURNING id",
                params![at, &digest_blob(digest)],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = id {
            tx.execute(
                "UPDATE access_tokens SET revoked_at = ?1
                 WHERE refresh_token_id = ?2 AND revoked_at IS NULL",
                params![at, id],
            )?;
        }
        tx.commit()?;
        Ok(id.is_some())
    }
}

impl Store {
    /// How many refresh tokens and access tokens are active at `now`: not revoked, not expired.
    pub fn count_active(&self, now: OffsetDateTime) -> Result<(i64, i64), StoreError> {
        let conn = self.conn();
        let at = to_micros(now);
        let count = |table: &str| -> Result<i64, StoreError> {
            Ok(conn.query_row(
                &format!(
                    "SELECT COUNT(*) FROM {table} WHERE revoked_at IS NULL AND expires_at > ?1"
                ),
                [at],
                |r| r.get(0),
            )?)
        };
        Ok((count("refresh_tokens")?, count("access_tokens")?))
    }
}

fn digest_blob(d: &[u8; 32]) -> &[u8] {
    d.as_slice()
}

fn lifespan_in(conn: &Connection, key: LifespanKey) -> Result<i64, StoreError> {
    let stored: Option<i64> = conn
        .query_row(
            "SELECT value FROM settings WHERE key = ?1",
            [key.conf_key()],
            |r| r.get(0),
        )
        .optional()?;
    Ok(stored.unwrap_or(key.default_value()))
}

fn find_refresh(
    conn: &Connection,
    digest: &[u8; 32],
    user_id: i64,
) -> Result<Option<RefreshTokenRow>, StoreError> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE digest = ?1 AND user_id = ?2"
            ),
            params![&digest_blob(digest), user_id],
            refresh_row,
        )
        .optional()?)
}

fn active_refresh(
    conn: &Connection,
    digest: &[u8; 32],
    user_id: i64,
    now: OffsetDateTime,
) -> Result<Result<RefreshTokenRow, Refusal>, StoreError> {
    Ok(match find_refresh(conn, digest, user_id)? {
        None => Err(Refusal::Invalid),
        Some(r) if r.status(now) != TokenStatus::Active => Err(Refusal::ExpiredOrRevoked),
        Some(r) => Ok(r),
    })
}

fn insert_refresh(
    conn: &Connection,
    user_id: i64,
    name: &str,
    digest: &[u8; 32],
    now: OffsetDateTime,
) -> Result<RefreshTokenRow, StoreError> {
    let lifespan = LifespanKey::RefreshTokenDays
        .to_duration(lifespan_in(conn, LifespanKey::RefreshTokenDays)?);
    Ok(conn.query_row(
        &format!(
            "INSERT INTO refresh_tokens (user_id, digest, name, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING {REFRESH_COLUMNS}"
        ),
        params![
            user_id,
            &digest_blob(digest),
            name,
            to_micros(now),
            to_micros(now + lifespan)
        ],
        refresh_row,
    )?)
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

    #[test]
    fn regeneration_revokes_old_token_and_its_access_tokens() {
        let (_dir, s) = store();
        let uid = s
            .upsert_user("a@example.com", Some("x"), false)
            .expect("user");
        let now = datetime!(2030-01-01 0:00 UTC);
        let old = s
            .create_refresh_token(uid, "n", &digest("r1"), now)
            .expect("create");
        assert_eq!(old.expires_at - old.created_at, Duration::days(60));
        let at = s
            .create_access_token(&digest("r1"), uid, &digest("a1"), now)
            .expect("db")
            .expect("active");
        let new = s
            .regenerate_refresh_token(&digest("r1"), uid, &digest("r2"), now)
            .expect("db")
            .expect("regen");
        assert_eq!(new.name, "n");
        let at_after = s
            .find_access_token(&digest("a1"), uid)
            .expect("db")
            .expect("exists");
        assert_eq!(at_after.id, at.id);
        assert_eq!(at_after.status(now), TokenStatus::Revoked);
        assert_eq!(
            s.regenerate_refresh_token(&digest("r1"), uid, &digest("r3"), now)
                .expect("db"),
            Err(Refusal::ExpiredOrRevoked)
        );
    }

    #[test]
    fn lifespan_setting_applies_to_new_tokens_only() {
        let (_dir, s) = store();
        let uid = s
            .upsert_user("a@example.com", Some("x"), false)
            .expect("user");
        let now = datetime!(2030-01-01 0:00 UTC);
        let before = s
            .create_refresh_token(uid, "n", &digest("r1"), now)
            .expect("c");
        s.set_lifespan(LifespanKey::RefreshTokenDays, 180)
            .expect("set");
        let after = s
            .create_refresh_token(uid, "n", &digest("r2"), now)
            .expect("c");
        assert_eq!(before.expires_at - before.created_at, Duration::days(60));
        assert_eq!(after.expires_at - after.created_at, Duration::days(180));
        assert!(s.set_lifespan(LifespanKey::AccessTokenHours, 0).is_err());
    }

    #[test]
    fn tokens_of_another_user_are_invalid() {
        let (_dir, s) = store();
        let a = s
            .upsert_user("a@example.com", Some("x"), false)
            .expect("user");
        let b = s
            .upsert_user("b@example.com", Some("x"), false)
            .expect("user");
        let now = datetime!(2030-01-01 0:00 UTC);
        s.create_refresh_token(a, "n", &digest("r1"), now)
            .expect("c");
        assert!(
            s.find_refresh_token(&digest("r1"), b)
                .expect("db")
                .is_none()
        );
        assert_eq!(
            s.create_access_token(&digest("r1"), b, &digest("a1"), now)
                .expect("db"),
            Err(Refusal::Invalid)
        );
    }
}
