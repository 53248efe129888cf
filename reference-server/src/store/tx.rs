//! [`Tx`]: what a write does inside its transaction. Every statement is a cached prepared
//! statement.

use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

use super::rows::{
    ACCESS_COLUMNS, REFRESH_COLUMNS, access_row, expiry, find_refresh, lifespan, refresh_row,
    usable_link,
};
use super::{AccessTokenRow, FeatureFlag, LifespanKey, RefreshTokenRow, Refusal, StoreError, User};
use crate::clock::{from_micros, to_micros};
use crate::token::TokenStatus;

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

    /// Ends everything a user's old password opened: their refresh tokens and the access tokens
    /// minted from them are revoked at `now`, their web sessions deleted. Returns how many
    /// refresh tokens and sessions ended.
    pub fn end_credentials_of(
        &self,
        user_id: i64,
        now: OffsetDateTime,
    ) -> Result<(usize, usize), StoreError> {
        let at = to_micros(now);
        let refresh = self
            .conn
            .prepare_cached(
                "UPDATE refresh_tokens SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL",
            )?
            .execute(params![at, user_id])?;
        self.conn
            .prepare_cached(
                "UPDATE access_tokens SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL",
            )?
            .execute(params![at, user_id])?;
        Ok((refresh, self.end_web_sessions_of(user_id)?))
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
