//! What the queries share: the columns read, rows mapped to the store's types, and the
//! lookups both reads and writes make.

use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

use super::{AccessTokenRow, FeatureFlag, LifespanKey, RefreshTokenRow, StoreError, User};
use crate::clock::{from_micros, to_micros};

pub(super) const REFRESH_COLUMNS: &str =
    "id, user_id, name, created_at, expires_at, last_used_at, revoked_at";

pub(super) const ACCESS_COLUMNS: &str =
    "id, user_id, refresh_token_id, created_at, expires_at, revoked_at";

pub(super) fn refresh_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RefreshTokenRow> {
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

pub(super) fn access_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AccessTokenRow> {
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
pub(super) fn find_user(conn: &Connection, username: &str) -> Result<Option<User>, StoreError> {
    let mut st = conn
        .prepare_cached("SELECT id, username, password_hash, sso FROM users WHERE username = ?1")?;
    Ok(st.query_row([username], user_row).optional()?)
}

pub(super) fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        username: r.get(1)?,
        password_hash: r.get(2)?,
        sso: r.get(3)?,
    })
}

pub(super) fn feature_flag(conn: &Connection, flag: FeatureFlag) -> Result<bool, StoreError> {
    let mut st = conn.prepare_cached("SELECT value FROM settings WHERE key = ?1")?;
    let stored: Option<i64> = st.query_row([flag.conf_key()], |r| r.get(0)).optional()?;
    Ok(stored.unwrap_or(0) != 0)
}

/// A sign-in link's user, if the link exists, is unused and has not expired at `now`.
pub(super) fn usable_link(
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
pub(super) fn expiry(
    now: OffsetDateTime,
    lifespan: time::Duration,
) -> Result<OffsetDateTime, StoreError> {
    now.checked_add(lifespan).ok_or_else(|| {
        StoreError::Internal(format!(
            "a token created at {now} with a lifespan of {lifespan} would expire past the last representable date"
        ))
    })
}

pub(super) fn lifespan(conn: &Connection, key: LifespanKey) -> Result<i64, StoreError> {
    let mut st = conn.prepare_cached("SELECT value FROM settings WHERE key = ?1")?;
    let stored: Option<i64> = st.query_row([key.conf_key()], |r| r.get(0)).optional()?;
    Ok(stored.unwrap_or(key.default_value()))
}

pub(super) fn find_refresh(
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

pub(super) fn find_access(
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
