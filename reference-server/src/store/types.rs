//! What the store hands out and takes: its errors, the configurable keys, and the rows.

use time::{Duration, OffsetDateTime};

use crate::token::TokenStatus;

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
