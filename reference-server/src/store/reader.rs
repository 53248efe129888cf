//! [`Reader`]: what read connections may do. Every statement is a cached prepared statement.

use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

use super::rows::{
    REFRESH_COLUMNS, feature_flag, find_access, find_refresh, find_user, lifespan, refresh_row,
    usable_link, user_row,
};
use super::{
    AccessTokenRow, FeatureFlag, LifespanKey, RefreshTokenRow, StoreError, User, WebSession,
};
use crate::clock::to_micros;

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

    /// How many refresh tokens a user has, revoked or not (until purged): what the web page
    /// says its list is cut from.
    pub fn refresh_token_count_of(&self, user_id: i64) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM refresh_tokens WHERE user_id = ?1")?
            .query_row(params![user_id], |r| r.get(0))?)
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
