//! The SQL itself: [`Reader`] for what read connections may do, [`Tx`] for what a write does
//! inside its transaction. Every statement is a cached prepared statement.

use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

use super::{
    AccessTokenRow, FeatureFlag, LifespanKey, RefreshTokenRow, Refusal, StoreError, User,
    WebSession,
};
use crate::clock::{from_micros, to_micros};
use crate::token::TokenStatus;

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

/// Queries both readers and writes use.
fn find_user(conn: &Connection, username: &str) -> Result<Option<User>, StoreError> {
    let mut st = conn
        .prepare_cached("SELECT id, username, password_hash, sso FROM users WHERE username = ?1")?;
    Ok(st.query_row([username], user_row).optional()?)
}

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        username: r.get(1)?,
        password_hash: r.get(2)?,
        sso: r.get(3)?,
    })
}

fn feature_flag(conn: &Connection, flag: FeatureFlag) -> Result<bool, StoreError> {
    let mut st = conn.prepare_cached("SELECT value FROM settings WHERE key = ?1")?;
    let stored: Option<i64> = st.query_row([flag.conf_key()], |r| r.get(0)).optional()?;
    Ok(stored.unwrap_or(0) != 0)
}

/// A sign-in link's user, if the link exists, is unused and has not expired at `now`.
fn usable_link(
    conn: &Connection,
    digest: &[u8; 32],
    now: OffsetDateTime,
) -> Result<Option<User>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT u.id, u.username, u.password_hash, u.sso FROM sign_in_links l
         JOIN users u ON u.id = l.user_id
         WHERE l.digest = ?1 AND l.used_at IS NULL AND l.expires_at > ?2",
    )?;
    Ok(st
        .query_row(params![digest.as_slice(), to_micros(now)], user_row)
        .optional()?)
}

/// When a token created at `now` with `lifespan` expires; an error, never a panic, when that
/// is past what a date can hold (a test clock moved to the year 9999).
fn expiry(now: OffsetDateTime, lifespan: time::Duration) -> Result<OffsetDateTime, StoreError> {
    now.checked_add(lifespan).ok_or_else(|| {
        StoreError::Internal(format!(
            "a token created at {now} with a lifespan of {lifespan} would expire past the last representable date"
        ))
    })
}

fn lifespan(conn: &Connection, key: LifespanKey) -> Result<i64, StoreError> {
    let mut st = conn.prepare_cached("SELECT value FROM settings WHERE key = ?1")?;
    let stored: Option<i64> = st.query_row([key.conf_key()], |r| r.get(0)).optional()?;
    Ok(stored.unwrap_or(key.default_value()))
}

fn find_refresh(
    conn: &Connection,
    digest: &[u8; 32],
    user_id: i64,
) -> Result<Option<RefreshTokenRow>, StoreError> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE digest = ?1 AND user_id = ?2"
    ))?;
    Ok(st
        .query_row(params![digest.as_slice(), user_id], refresh_row)
        .optional()?)
}

fn find_access(
    conn: &Connection,
    digest: &[u8; 32],
    user_id: i64,
) -> Result<Option<AccessTokenRow>, StoreError> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {ACCESS_COLUMNS} FROM access_tokens WHERE digest = ?1 AND user_id = ?2"
    ))?;
    Ok(st
        .query_row(params![digest.as_slice(), user_id], access_row)
        .optional()?)
}

/// What a read connection may do.
pub struct Reader<'c> {
    conn: &'c Connection,
}

impl<'c> Reader<'c> {
    pub(super) fn new(conn: &'c Connection) -> Self {
        Self { conn }
    }

    /// A user by username, ignoring ASCII case.
    pub fn find_user(&self, username: &str) -> Result<Option<User>, StoreError> {
        find_user(self.conn, username)
    }

    /// How many users can log in with a password.
    pub fn count_password_users(&self) -> Result<i64, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM users WHERE password_hash IS NOT NULL")?;
        Ok(st.query_row([], |r| r.get(0))?)
    }

    /// The current value of a lifespan setting.
    pub fn lifespan(&self, key: LifespanKey) -> Result<i64, StoreError> {
        lifespan(self.conn, key)
    }

    /// The refresh token with this digest, if it exists and belongs to `user_id`.
    pub fn find_refresh_token(
        &self,
        digest: &[u8; 32],
        user_id: i64,
    ) -> Result<Option<RefreshTokenRow>, StoreError> {
        find_refresh(self.conn, digest, user_id)
    }

    /// The access token with this digest, if it exists and belongs to `user_id`.
    pub fn find_access_token(
        &self,
        digest: &[u8; 32],
        user_id: i64,
    ) -> Result<Option<AccessTokenRow>, StoreError> {
        find_access(self.conn, digest, user_id)
    }

    /// Whether a feature flag is on.
    pub fn feature_flag(&self, flag: FeatureFlag) -> Result<bool, StoreError> {
        feature_flag(self.conn, flag)
    }

    /// The web session with this cookie digest, if it exists and has not expired at `now`.
    pub fn web_session(
        &self,
        digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<WebSession>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT u.id, u.username, u.password_hash, u.sso, s.csrf FROM web_sessions s
             JOIN users u ON u.id = s.user_id
             WHERE s.digest = ?1 AND s.expires_at > ?2",
        )?;
        Ok(st
            .query_row(params![digest.as_slice(), to_micros(now)], |r| {
                Ok(WebSession {
                    user: user_row(r)?,
                    csrf: r.get(4)?,
                })
            })
            .optional()?)
    }

    /// The user a sign-in link would sign in, if it is still usable at `now` (without using it).
    pub fn sign_in_link(
        &self,
        digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<User>, StoreError> {
        usable_link(self.conn, digest, now)
    }

    /// A user's refresh tokens, newest first, at most `limit`: the web page's list.
    pub fn refresh_tokens_of(
        &self,
        user_id: i64,
        limit: usize,
    ) -> Result<Vec<RefreshTokenRow>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE user_id = ?1
             ORDER BY created_at DESC, id DESC LIMIT ?2"
        ))?;
        let rows = st.query_map(
            params![user_id, i64::try_from(limit).unwrap_or(i64::MAX)],
            refresh_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many of a user's refresh tokens are not revoked and have names that start with
    /// `prefix`: what revoking them by name would end.
    pub fn unrevoked_named_from(&self, user_id: i64, prefix: &str) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT COUNT(*) FROM refresh_tokens WHERE user_id = ?1 AND revoked_at IS NULL
                 AND substr(name, 1, length(?2)) = ?2",
            )?
            .query_row(params![user_id, prefix], |r| r.get(0))?)
    }

    /// The database's size in pages.
    pub fn page_count(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?)
    }

    /// How many refresh tokens and access tokens are active at `now`.
    pub fn count_active(&self, now: OffsetDateTime) -> Result<(i64, i64), StoreError> {
        let at = to_micros(now);
        let count = |sql: &str| -> Result<i64, StoreError> {
            Ok(self
                .conn
                .prepare_cached(sql)?
                .query_row([at], |r| r.get(0))?)
        };
        Ok((
            count(
                "SELECT COUNT(*) FROM refresh_tokens WHERE revoked_at IS NULL AND expires_at > ?1",
            )?,
            count(
                "SELECT COUNT(*) FROM access_tokens WHERE revoked_at IS NULL AND expires_at > ?1",
            )?,
        ))
    }
}

/// What a write may do, inside the writer's transaction.
pub struct Tx<'c> {
    pub(super) conn: &'c Connection,
}

impl<'c> Tx<'c> {
    pub(super) fn new(conn: &'c Connection) -> Self {
        Self { conn }
    }

    /// Creates a user, or updates the password and SSO flag of an existing one.
    pub fn upsert_user(
        &self,
        username: &str,
        password_hash: Option<&str>,
        sso: bool,
    ) -> Result<i64, StoreError> {
        let mut st = self.conn.prepare_cached(
            "INSERT INTO users (username, password_hash, sso) VALUES (?1, ?2, ?3)
             ON CONFLICT(username) DO UPDATE SET password_hash = excluded.password_hash,
                                                 sso = excluded.sso
             RETURNING id",
        )?;
        Ok(st.query_row(params![username, password_hash, sso], |r| r.get(0))?)
    }

    /// Sets a lifespan; it applies to tokens created afterwards.
    pub fn set_lifespan(&self, key: LifespanKey, value: i64) -> Result<(), StoreError> {
        if !(1..=key.max_value()).contains(&value) {
            return Err(StoreError::Internal(format!(
                "{} must be between 1 and {} {}",
                key.conf_key(),
                key.max_value(),
                key.unit()
            )));
        }
        self.conn
            .prepare_cached(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![key.conf_key(), value])?;
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
        let lifespan = LifespanKey::RefreshTokenDays
            .to_duration(lifespan(self.conn, LifespanKey::RefreshTokenDays)?);
        let mut st = self.conn.prepare_cached(&format!(
            "INSERT INTO refresh_tokens (user_id, digest, name, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING {REFRESH_COLUMNS}"
        ))?;
        Ok(st.query_row(
            params![
                user_id,
                digest.as_slice(),
                name,
                to_micros(now),
                to_micros(expiry(now, lifespan)?)
            ],
            refresh_row,
        )?)
    }

    fn active_refresh(
        &self,
        digest: &[u8; 32],
        user_id: i64,
        now: OffsetDateTime,
    ) -> Result<Result<RefreshTokenRow, Refusal>, StoreError> {
        Ok(match find_refresh(self.conn, digest, user_id)? {
            None => Err(Refusal::Invalid),
            Some(r) if r.status(now) != TokenStatus::Active => Err(Refusal::ExpiredOrRevoked),
            Some(r) => Ok(r),
        })
    }

    fn revoke_children(&self, refresh_id: i64, at: i64) -> Result<usize, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "UPDATE access_tokens SET revoked_at = ?1
                 WHERE refresh_token_id = ?2 AND revoked_at IS NULL",
            )?
            .execute(params![at, refresh_id])?)
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
        match find_refresh(self.conn, old_digest, user_id)? {
            None => Ok(Err(Refusal::Invalid)),
            Some(old) => self.regenerate(old, new_digest, now),
        }
    }

    /// [`Tx::regenerate_refresh_token`] for the web page, which names a token by its row id
    /// (it never holds the value) and only among the signed-in user's own.
    pub fn regenerate_refresh_token_by_id(
        &self,
        id: i64,
        user_id: i64,
        new_digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Result<RefreshTokenRow, Refusal>, StoreError> {
        match self.refresh_by_id(id, user_id)? {
            None => Ok(Err(Refusal::Invalid)),
            Some(old) => self.regenerate(old, new_digest, now),
        }
    }

    fn refresh_by_id(&self, id: i64, user_id: i64) -> Result<Option<RefreshTokenRow>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE id = ?1 AND user_id = ?2"
        ))?;
        Ok(st.query_row(params![id, user_id], refresh_row).optional()?)
    }

    fn regenerate(
        &self,
        old: RefreshTokenRow,
        new_digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Result<RefreshTokenRow, Refusal>, StoreError> {
        if old.revoked_at.is_some() {
            return Ok(Err(Refusal::ExpiredOrRevoked));
        }
        let at = to_micros(now);
        self.conn
            .prepare_cached("UPDATE refresh_tokens SET revoked_at = ?1 WHERE id = ?2")?
            .execute(params![at, old.id])?;
        self.revoke_children(old.id, at)?;
        Ok(Ok(self.create_refresh_token(
            old.user_id,
            &old.name,
            new_digest,
            now,
        )?))
    }

    /// Revokes one of a user's refresh tokens by row id (the web page's action), and every
    /// access token minted from it. Refused as invalid if it is not theirs, and as expired or
    /// revoked if it is revoked already.
    pub fn revoke_refresh_token_by_id(
        &self,
        id: i64,
        user_id: i64,
        now: OffsetDateTime,
    ) -> Result<Result<RefreshTokenRow, Refusal>, StoreError> {
        let Some(row) = self.refresh_by_id(id, user_id)? else {
            return Ok(Err(Refusal::Invalid));
        };
        if row.revoked_at.is_some() {
            return Ok(Err(Refusal::ExpiredOrRevoked));
        }
        let at = to_micros(now);
        self.conn
            .prepare_cached("UPDATE refresh_tokens SET revoked_at = ?1 WHERE id = ?2")?
            .execute(params![at, id])?;
        self.revoke_children(id, at)?;
        Ok(Ok(RefreshTokenRow {
            revoked_at: Some(from_micros(at)),
            ..row
        }))
    }

    /// Revokes every one of a user's refresh tokens whose name starts with `prefix` (the web
    /// page's clean-up of a test run's tokens), and every access token minted from them; how
    /// many refresh tokens it revoked.
    pub fn revoke_refresh_tokens_named_from(
        &self,
        user_id: i64,
        prefix: &str,
        now: OffsetDateTime,
    ) -> Result<usize, StoreError> {
        let ids: Vec<i64> = self
            .conn
            .prepare_cached(
                "SELECT id FROM refresh_tokens WHERE user_id = ?1 AND revoked_at IS NULL
                 AND substr(name, 1, length(?2)) = ?2",
            )?
            .query_map(params![user_id, prefix], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let at = to_micros(now);
        for id in &ids {
            self.conn
                .prepare_cached("UPDATE refresh_tokens SET revoked_at = ?1 WHERE id = ?2")?
                .execute(params![at, id])?;
            self.revoke_children(*id, at)?;
        }
        Ok(ids.len())
    }

    /// Turns a feature flag on or off.
    pub fn set_feature_flag(&self, flag: FeatureFlag, on: bool) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![flag.conf_key(), i64::from(on)])?;
        Ok(())
    }

    /// Starts a web session: the cookie's digest, its CSRF token, until `expires`.
    pub fn create_web_session(
        &self,
        digest: &[u8; 32],
        user_id: i64,
        csrf: &str,
        now: OffsetDateTime,
        expires: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO web_sessions (digest, user_id, csrf, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                digest.as_slice(),
                user_id,
                csrf,
                to_micros(now),
                to_micros(expires)
            ])?;
        Ok(())
    }

    /// Ends a web session (sign-out): its cookie no longer signs anyone in.
    pub fn end_web_session(&self, digest: &[u8; 32]) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached("DELETE FROM web_sessions WHERE digest = ?1")?
            .execute([digest.as_slice()])?
            > 0)
    }

    /// Extends a live session to `until`, never past `lifetime` from its start.
    pub fn touch_web_session(
        &self,
        digest: &[u8; 32],
        until: OffsetDateTime,
        lifetime: time::Duration,
    ) -> Result<(), StoreError> {
        let lifetime = i64::try_from(lifetime.whole_microseconds()).unwrap_or(i64::MAX);
        self.conn
            .prepare_cached(
                "UPDATE web_sessions SET expires_at = MIN(?2, created_at + ?3) WHERE digest = ?1",
            )?
            .execute(params![digest.as_slice(), to_micros(until), lifetime])?;
        Ok(())
    }

    /// Ends every session of `user_id`.
    pub fn end_web_sessions_of(&self, user_id: i64) -> Result<usize, StoreError> {
        Ok(self
            .conn
            .prepare_cached("DELETE FROM web_sessions WHERE user_id = ?1")?
            .execute([user_id])?)
    }

    /// Stores a one-time sign-in link for `user_id`, usable until `expires`.
    pub fn create_sign_in_link(
        &self,
        digest: &[u8; 32],
        user_id: i64,
        now: OffsetDateTime,
        expires: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO sign_in_links (digest, user_id, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                digest.as_slice(),
                user_id,
                to_micros(now),
                to_micros(expires)
            ])?;
        Ok(())
    }

    /// Uses a sign-in link: its user if it was usable at `now`, and it is never usable again.
    pub fn use_sign_in_link(
        &self,
        digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<User>, StoreError> {
        let Some(user) = usable_link(self.conn, digest, now)? else {
            return Ok(None);
        };
        self.conn
            .prepare_cached("UPDATE sign_in_links SET used_at = ?1 WHERE digest = ?2")?
            .execute(params![to_micros(now), digest.as_slice()])?;
        Ok(Some(user))
    }

    /// Mints an access token from an active refresh token and records the refresh token's use.
    pub fn create_access_token(
        &self,
        refresh_digest: &[u8; 32],
        user_id: i64,
        access_digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Result<AccessTokenRow, Refusal>, StoreError> {
        let refresh = match self.active_refresh(refresh_digest, user_id, now)? {
            Ok(r) => r,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let lifespan = LifespanKey::AccessTokenHours
            .to_duration(lifespan(self.conn, LifespanKey::AccessTokenHours)?);
        let (created, expires) = (to_micros(now), to_micros(expiry(now, lifespan)?));
        let row = self
            .conn
            .prepare_cached(&format!(
                "INSERT INTO access_tokens (user_id, refresh_token_id, digest, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) RETURNING {ACCESS_COLUMNS}"
            ))?
            .query_row(
                params![user_id, refresh.id, access_digest.as_slice(), created, expires],
                access_row,
            )?;
        self.conn
            .prepare_cached("UPDATE refresh_tokens SET last_used_at = ?1 WHERE id = ?2")?
            .execute(params![created, refresh.id])?;
        Ok(Ok(row))
    }

    /// Revokes every unrevoked access token minted from an active refresh token; returns how many.
    pub fn revoke_access_tokens(
        &self,
        refresh_digest: &[u8; 32],
        user_id: i64,
        now: OffsetDateTime,
    ) -> Result<Result<usize, Refusal>, StoreError> {
        let refresh = match self.active_refresh(refresh_digest, user_id, now)? {
            Ok(r) => r,
            Err(refusal) => return Ok(Err(refusal)),
        };
        Ok(Ok(self.revoke_children(refresh.id, to_micros(now))?))
    }

    /// Revokes one refresh token (the admin interface's action); its access tokens go with it.
    /// Returns whether a token was revoked.
    pub fn revoke_refresh_token(
        &self,
        digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let at = to_micros(now);
        let id: Option<i64> = self
            .conn
            .prepare_cached(
                "UPDATE refresh_tokens SET revoked_at = ?1
                 WHERE digest = ?2 AND revoked_at IS NULL RETURNING id",
            )?
            .query_row(params![at, digest.as_slice()], |r| r.get(0))
            .optional()?;
        if let Some(id) = id {
            self.revoke_children(id, at)?;
        }
        Ok(id.is_some())
    }

    /// Deletes what died before `cutoff`: access tokens revoked or expired then, then the
    /// refresh tokens revoked or expired then that have no access token left. An access token
    /// still alive (a long access lifespan can outlive its refresh token) keeps its refresh
    /// token's row until it dies too, so purging never changes a live token's answer.
    pub fn purge(&self, cutoff: OffsetDateTime) -> Result<(usize, usize), StoreError> {
        let at = to_micros(cutoff);
        let dead = "((revoked_at IS NOT NULL AND revoked_at < ?1) OR expires_at < ?1)";
        let access = self
            .conn
            .prepare_cached(&format!("DELETE FROM access_tokens WHERE {dead}"))?
            .execute([at])?;
        let refresh = self
            .conn
            .prepare_cached(&format!(
                "DELETE FROM refresh_tokens WHERE {dead} AND NOT EXISTS
                 (SELECT 1 FROM access_tokens a WHERE a.refresh_token_id = refresh_tokens.id)"
            ))?
            .execute([at])?;
        // Sessions and sign-in links past their expiry are of no use to anyone.
        for table in ["web_sessions", "sign_in_links"] {
            self.conn
                .prepare_cached(&format!("DELETE FROM {table} WHERE expires_at < ?1"))?
                .execute([at])?;
        }
        Ok((refresh, access))
    }
}
