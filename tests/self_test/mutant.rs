//! The mutant: a small, independent, in-memory implementation of the Token Authentication API
//! and of the control protocol, written for the self-test only. Correct by default; each
//! [`Fault`] is one departure from the contract, each [`Variant`] one of the other valid forms
//! of it. Nothing here is the reference server's code, and no switch reaches production code.

// Handlers answer early with a ready Response; boxing it would only obscure them.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use reference_server::body::{Fields, read_fields};

/// One departure from the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Token operations accept any user_id.
    IgnoresUserId,
    /// revokeAPIAccessTokens revokes every access token of the user.
    RevokesAllOfTheUser,
    /// revokeAPIAccessTokens answers 200 and revokes nothing.
    RevokeDoesNothing,
    /// Regeneration leaves the old value valid.
    RegenKeepsOld,
    /// Regeneration hands back the same value.
    RegenSameValue,
    /// Regeneration copies the old token's timestamps.
    RegenStaleTimestamps,
    /// Regeneration refuses an expired token.
    RegenRefusesExpired,
    /// Regeneration accepts a revoked token.
    RegenAcceptsRevoked,
    /// createAPIAccessToken mints from a revoked or expired refresh token.
    MintsFromDead,
    /// revokeAPIAccessTokens accepts a dead refresh token.
    RevokeAcceptsDead,
    /// validateRefreshToken answers 200 ACTIVE for a dead token.
    ValidatesDeadAsActive,
    /// Tokens are refused an hour before their reported expiry.
    ExpiresEarly,
    /// Tokens are accepted for an hour after their reported expiry.
    ExpiresLate,
    /// Expiry is judged by the wall clock, not the movable one.
    ClockNotUsedForExpiry,
    /// The clock acknowledges a move but does not move.
    ClockDoesNotMove,
    /// Lifespan changes are acknowledged but not applied.
    LifespansIgnored,
    /// The lifespans answer reports values other than those asked.
    LifespansMisreported,
    /// A lifespan change rewrites the expiry of existing tokens.
    LifespansApplyToOld,
    /// SSO users get a refresh token.
    SsoLetIn,
    /// An unknown user gets another answer than a wrong password.
    UnknownUserDiffers,
    /// An empty password logs in.
    EmptyPasswordLogsIn,
    /// A live access token in TOKEN stands in for the password.
    TokenHeaderAuthenticates,
    /// A user_id that is not a number crashes the handler.
    BadUserIdCrashes,
    /// Malformed JSON crashes the handler.
    MalformedJsonCrashes,
    /// A known form field given twice is accepted (the last wins).
    DuplicateFieldAccepted,
    /// validateRefreshToken answers 201.
    ValidateAnswers201,
    /// RefreshToken bodies lack `name`.
    BodyLacksName,
    /// `user_id` is answered as a string.
    UserIdAsString,
    /// Timestamps have no offset.
    TimestampWithoutOffset,
    /// `token_status` says VALID.
    StatusWordUnknown,
    /// Access tokens live 23 hours while 24 are configured.
    WrongAccessLifespan,
    /// Errors are plain text.
    ErrorsPlainText,
    /// Errors lack `detail`.
    ErrorsWithoutDetail,
    /// Success answers are text/html.
    HtmlContentType,
    /// Token values count up.
    CounterTokens,
    /// Every access token has the same value.
    ReusedAccessToken,
    /// last_used_at is never set.
    LastUsedNeverSet,
    /// Regeneration does not revoke the old value's access tokens.
    NoCascadeOnRegen,
    /// Unknown request fields are refused.
    UnknownFieldsRefused,
    /// Form bodies get 415.
    FormRefused,
    /// Multipart bodies get 415.
    MultipartRefused,
    /// A user_id sent as a JSON string is refused.
    UserIdStringRefused,
    /// Names are cut to 100 characters.
    NamesTruncated,
    /// Non-ASCII characters in names become `?`.
    NamesAsciiOnly,
    /// A second token with the same name is refused.
    DuplicateNameRefused,
    /// revokeAPIAccessTokens answers 204 with no body.
    RevokeAnswers204,
    /// Failed logins are never throttled.
    NeverThrottles,
    /// Bodies of any size are read.
    NoBodyLimit,
    /// `created_at` is a local time two hours ahead, written as UTC.
    LocalTimeAsUtc,
    /// No Cache-Control header.
    NoCacheControl,
    /// `token_status` in lower case.
    LowerCaseStatus,
    /// Timestamps without fractional seconds.
    NoFraction,
    /// Errors lack `code`.
    ErrorsWithoutCode,
    /// Token values of 16 characters.
    ShortTokens,
    /// regenRefreshToken never answers a form body.
    RegenHangsOnForm,
    /// validateAPIAccessToken answers a body that is not JSON.
    ValidateBodyNotJson,
}

/// One of the other valid forms of the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// Regeneration answers 201.
    Regen201,
    /// A dead token is answered 200 with EXPIRED or REVOKED.
    DeadAnswered200,
    /// Success answers are text/json.
    TextJson,
    /// Bodies carry fields the contract does not name.
    ExtraFields,
    /// Timestamps carry a +02:00 offset.
    NonUtcOffset,
    /// Keys in reverse order.
    KeysReversed,
    /// last_used_at is left out of RefreshToken bodies.
    NoLastUsedAt,
}

/// What the mutant departs from, if anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Correct.
    Correct,
    /// One fault.
    Fault(Fault),
    /// One valid variant.
    Variant(Variant),
}

/// The profile's user.
pub const USER: &str = "ci@example.com";
/// Its password.
pub const PASSWORD: &str = "mutant-pass-7";
/// An SSO user the profile can name.
pub const SSO_USER: &str = "sso@example.com";

struct User {
    id: i64,
    name: String,
    password: Option<String>,
}

#[derive(Clone)]
struct Token {
    user: i64,
    name: String,
    created: OffsetDateTime,
    expires: OffsetDateTime,
    last_used: Option<OffsetDateTime>,
    revoked: bool,
    parent: Option<String>,
}

struct Inner {
    users: Vec<User>,
    refresh: HashMap<String, Token>,
    access: HashMap<String, Token>,
    offset: Duration,
    refresh_days: i64,
    access_hours: i64,
    failures: HashMap<String, u32>,
    counter: u64,
}

/// The mutant's shared state.
pub struct Mutant {
    mode: Mode,
    inner: Mutex<Inner>,
}

type Shared = State<Arc<Mutant>>;

impl Mutant {
    fn has(&self, f: Fault) -> bool {
        self.mode == Mode::Fault(f)
    }

    fn is(&self, v: Variant) -> bool {
        self.mode == Mode::Variant(v)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + self.lock().offset
    }

    /// The instant expiry is judged at.
    fn judge_now(&self) -> OffsetDateTime {
        let now = if self.has(Fault::ClockNotUsedForExpiry) {
            OffsetDateTime::now_utc()
        } else {
            self.now()
        };
        match self.mode {
            Mode::Fault(Fault::ExpiresEarly) => now + Duration::hours(1),
            Mode::Fault(Fault::ExpiresLate) => now - Duration::hours(1),
            _ => now,
        }
    }

    fn alive(&self, t: &Token) -> bool {
        !t.revoked && self.judge_now() < t.expires
    }

    fn new_value(&self, bytes: usize) -> String {
        let mut inner = self.lock();
        inner.counter += 1;
        if self.has(Fault::CounterTokens) {
            return format!("tok{:040}", inner.counter);
        }
        if self.has(Fault::ShortTokens) {
            return reference_server::token::generate(12).unwrap_or_default();
        }
        reference_server::token::generate(bytes).unwrap_or_default()
    }

    fn stamp(&self, t: OffsetDateTime) -> String {
        let t = if self.is(Variant::NonUtcOffset) {
            t.to_offset(time::macros::offset!(+2))
        } else {
            t.to_offset(time::UtcOffset::UTC)
        };
        let with_fraction = !self.has(Fault::NoFraction);
        let date = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        let fraction = if with_fraction {
            format!(".{:06}", t.microsecond())
        } else {
            String::new()
        };
        let zone = if self.has(Fault::TimestampWithoutOffset) {
            String::new()
        } else if self.is(Variant::NonUtcOffset) {
            "+02:00".to_owned()
        } else {
            "Z".to_owned()
        };
        format!("{date}{fraction}{zone}")
    }

    fn word(&self, t: &Token) -> &'static str {
        let w = if t.revoked {
            "REVOKED"
        } else if self.judge_now() >= t.expires {
            "EXPIRED"
        } else {
            "ACTIVE"
        };
        match self.mode {
            Mode::Fault(Fault::StatusWordUnknown) => "VALID",
            Mode::Fault(Fault::LowerCaseStatus) => match w {
                "REVOKED" => "revoked",
                "EXPIRED" => "expired",
                _ => "active",
            },
            _ => w,
        }
    }

    fn user_value(&self, id: i64) -> Value {
        if self.has(Fault::UserIdAsString) {
            json!(id.to_string())
        } else {
            json!(id)
        }
    }

    fn refresh_body(&self, value: &str, t: &Token) -> Vec<(&'static str, Value)> {
        let created = if self.has(Fault::LocalTimeAsUtc) {
            t.created + Duration::hours(2)
        } else {
            t.created
        };
        let expires = if self.has(Fault::LocalTimeAsUtc) {
            t.expires + Duration::hours(2)
        } else {
            t.expires
        };
        let mut b = vec![
            ("user_id", self.user_value(t.user)),
            ("created_at", json!(self.stamp(created))),
            ("token_expires_at", json!(self.stamp(expires))),
            ("token_status", json!(self.word(t))),
        ];
        if !self.is(Variant::NoLastUsedAt) {
            b.push((
                "last_used_at",
                t.last_used.map_or(Value::Null, |l| json!(self.stamp(l))),
            ));
        }
        if !self.has(Fault::BodyLacksName) {
            b.push(("name", json!(t.name)));
        }
        b.push(("refresh_token", json!(value)));
        b
    }

    fn access_body(&self, value: &str, t: &Token) -> Vec<(&'static str, Value)> {
        vec![
            ("user_id", self.user_value(t.user)),
            ("created_at", json!(self.stamp(t.created))),
            ("token_expires_at", json!(self.stamp(t.expires))),
            ("token_status", json!(self.word(t))),
            ("api_access_token", json!(value)),
        ]
    }

    /// A JSON answer, keys in the order given (or reversed), with the variant's extras.
    fn answer(&self, status: u16, mut fields: Vec<(&'static str, Value)>) -> Response {
        if self.is(Variant::ExtraFields) {
            fields.push(("x_request_id", json!("mutant-7")));
        }
        if self.is(Variant::KeysReversed) {
            fields.reverse();
        }
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}:{v}", json!(k)))
            .collect();
        let content_type = if self.has(Fault::HtmlContentType) {
            "text/html"
        } else if self.is(Variant::TextJson) {
            "text/json"
        } else {
            "application/json"
        };
        self.raw(status, content_type, format!("{{{}}}", body.join(",")))
    }

    fn raw(&self, status: u16, content_type: &'static str, body: String) -> Response {
        let mut r = (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            body,
        )
            .into_response();
        if !self.has(Fault::NoCacheControl) {
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        r
    }

    fn error(&self, status: u16, detail: &str) -> Response {
        if self.has(Fault::ErrorsPlainText) {
            return self.raw(status, "text/plain", detail.to_owned());
        }
        let mut fields = vec![];
        if self.has(Fault::ErrorsWithoutDetail) {
            fields.push(("error", json!(detail)));
        } else {
            fields.push(("detail", json!(detail)));
        }
        if !self.has(Fault::ErrorsWithoutCode) {
            fields.push(("code", json!(format!("{status}000"))));
        }
        // Errors are JSON whatever the success answers' content type.
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}:{v}", json!(k)))
            .collect();
        self.raw(
            status,
            "application/json",
            format!("{{{}}}", body.join(",")),
        )
    }
}

const INVALID: &str = "Refresh token provided is invalid.";
const DEAD: &str = "Refresh token provided is expired or revoked.";
const ACCESS_INVALID: &str = "API Access Token provided is invalid.";
const ACCESS_DEAD: &str = "API Access Token provided is expired or revoked.";

/// Starts the mutant on an ephemeral loopback port; returns its base URL.
pub async fn start(mode: Mode) -> String {
    let mutant = Arc::new(Mutant {
        mode,
        inner: Mutex::new(Inner {
            users: vec![
                User {
                    id: 1,
                    name: USER.into(),
                    password: Some(PASSWORD.into()),
                },
                User {
                    id: 2,
                    name: SSO_USER.into(),
                    password: None,
                },
            ],
            refresh: HashMap::new(),
            access: HashMap::new(),
            offset: Duration::ZERO,
            refresh_days: 60,
            access_hours: 24,
            failures: HashMap::new(),
            counter: 0,
        }),
    });
    let app = Router::new()
        .route("/integration/v1/createRefreshToken/", post(create_refresh))
        .route(
            "/integration/v1/validateRefreshToken/",
            post(validate_refresh),
        )
        .route("/integration/v1/regenRefreshToken/", post(regen))
        .route("/integration/v1/createAPIAccessToken/", post(mint))
        .route(
            "/integration/v1/validateAPIAccessToken/",
            post(validate_access),
        )
        .route("/integration/v1/revokeAPIAccessTokens/", post(revoke))
        .route("/conformance/v1/", get(discovery))
        .route("/conformance/v1/clock", get(clock))
        .route("/conformance/v1/clock/advance", post(advance))
        .route("/conformance/v1/lifespans", post(lifespans))
        .route("/conformance/v1/users", post(users))
        .route("/conformance/v1/revokeRefreshToken", post(admin_revoke))
        .with_state(mutant);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// Reads the request's fields as the mutant's switches say.
async fn fields(m: &Mutant, headers: &HeaderMap, body: Body) -> Result<Fields, Response> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let refused = (m.has(Fault::FormRefused) && media.starts_with("application/x-www-form"))
        || (m.has(Fault::MultipartRefused) && media.starts_with("multipart/"));
    if refused {
        return Err(m.error(415, "Unsupported content type."));
    }
    let limit = if m.has(Fault::NoBodyLimit) {
        8 << 20
    } else {
        16 * 1024
    };
    let bytes = axum::body::to_bytes(body, 8 << 20)
        .await
        .map_err(|_| m.error(413, "Too large."))?;
    if m.has(Fault::MalformedJsonCrashes)
        && media.starts_with("application/json")
        && serde_json::from_slice::<Value>(&bytes).is_err()
    {
        return Err(m.raw(500, "text/plain", "Internal Server Error".into()));
    }
    if m.has(Fault::DuplicateFieldAccepted) && media.starts_with("application/x-www-form") {
        // The last value of a repeated field wins, as a naive parser does.
        let mut last: HashMap<String, String> = HashMap::new();
        for (k, v) in form_urlencoded::parse(&bytes) {
            last.insert(k.into_owned(), v.into_owned());
        }
        let re: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(last.iter())
            .finish();
        return read_fields(headers, Body::from(re), limit)
            .await
            .map_err(|e| e.into_response());
    }
    let parsed = read_fields(headers, Body::from(bytes.clone()), limit)
        .await
        .map_err(|e| e.into_response())?;
    if m.has(Fault::UnknownFieldsRefused)
        && let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&bytes)
        && map.keys().any(|k| {
            ![
                "refresh_token",
                "api_access_token",
                "user_id",
                "username",
                "password",
                "name",
            ]
            .contains(&k.as_str())
        })
    {
        return Err(m.error(400, "Unknown field."));
    }
    Ok(parsed)
}

fn user_id(m: &Mutant, f: &Fields) -> Result<i64, Response> {
    f.user_id().map_err(|e| {
        if m.has(Fault::BadUserIdCrashes) {
            m.raw(500, "text/plain", "Internal Server Error".into())
        } else {
            e.into_response()
        }
    })
}

/// The request's token (by `field`), and the user_id it was sent with.
async fn token_request(
    m: &Mutant,
    headers: &HeaderMap,
    body: Body,
    field: &str,
) -> Result<(String, i64), Response> {
    let is_json_string = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let f = fields(m, headers, body).await?;
    f.require(&[field, "user_id"])
        .map_err(|e| e.into_response())?;
    let value = f.text(field).map_err(|e| e.into_response())?.to_owned();
    if m.has(Fault::UserIdStringRefused) && is_json_string && f.text("user_id").is_ok() {
        return Err(m.error(400, "Field 'user_id' must be an integer."));
    }
    let uid = user_id(m, &f)?;
    Ok((value, uid))
}

fn owner_ok(m: &Mutant, t: &Token, uid: i64) -> bool {
    m.has(Fault::IgnoresUserId) || t.user == uid
}

async fn create_refresh(State(m): Shared, headers: HeaderMap, body: Body) -> Response {
    let f = match fields(&m, &headers, body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Err(e) = f.require_with(&["username", "password", "name"], &["password"]) {
        return e.into_response();
    }
    let (Ok(username), Ok(password), Ok(name)) = (
        f.text("username"),
        f.text_or_empty("password"),
        f.text("name"),
    ) else {
        return m.error(400, "Fields must be strings.");
    };
    let key = username.to_lowercase();
    let locked = m.lock().failures.get(&key).copied().unwrap_or(0) >= 10;
    if locked && !m.has(Fault::NeverThrottles) {
        let mut r = m.error(
            429,
            "Too many failed login attempts; try again in 60 seconds.",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(60));
        return r;
    }
    let token_header = headers
        .get("token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let found = {
        let inner = m.lock();
        inner
            .users
            .iter()
            .find(|u| u.name.eq_ignore_ascii_case(username))
            .map(|u| (u.id, u.password.clone()))
    };
    let Some((uid, stored)) = found else {
        m.lock()
            .failures
            .entry(key)
            .and_modify(|n| *n += 1)
            .or_insert(1);
        return if m.has(Fault::UnknownUserDiffers) {
            m.error(404, "No such user.")
        } else {
            m.error(401, "Invalid username or password.")
        };
    };
    let Some(stored) = stored else {
        if !m.has(Fault::SsoLetIn) {
            return m.error(403, "SSO users create refresh tokens at /account/auth.");
        }
        return issue_refresh(&m, uid, name);
    };
    let header_lets_in = m.has(Fault::TokenHeaderAuthenticates)
        && token_header.is_some_and(|t| m.lock().access.get(&t).is_some_and(|a| a.user == uid));
    let ok = stored == password
        || (password.is_empty() && m.has(Fault::EmptyPasswordLogsIn))
        || header_lets_in;
    if !ok {
        m.lock()
            .failures
            .entry(key)
            .and_modify(|n| *n += 1)
            .or_insert(1);
        return m.error(401, "Invalid username or password.");
    }
    if m.has(Fault::DuplicateNameRefused) && m.lock().refresh.values().any(|t| t.name == name) {
        return m.error(400, "A token with this name exists.");
    }
    issue_refresh(&m, uid, name)
}

fn issue_refresh(m: &Mutant, uid: i64, name: &str) -> Response {
    let mut name: String = name.to_owned();
    if m.has(Fault::NamesTruncated) {
        name = name.chars().take(100).collect();
    }
    if m.has(Fault::NamesAsciiOnly) {
        name = name
            .chars()
            .map(|c| if c.is_ascii() { c } else { '?' })
            .collect();
    }
    let value = m.new_value(64);
    let now = m.now();
    let days = m.lock().refresh_days;
    let t = Token {
        user: uid,
        name,
        created: now,
        expires: now + Duration::days(days),
        last_used: None,
        revoked: false,
        parent: None,
    };
    m.lock().refresh.insert(value.clone(), t.clone());
    m.answer(201, m.refresh_body(&value, &t))
}

/// Looks a refresh token up for an operation: `Err` is the refusal.
fn find_refresh(m: &Mutant, value: &str, uid: i64, dead_ok: bool) -> Result<Token, Response> {
    let t = m.lock().refresh.get(value).cloned();
    match t {
        Some(t) if owner_ok(m, &t, uid) => {
            if m.alive(&t) || dead_ok {
                Ok(t)
            } else {
                Err(m.error(401, DEAD))
            }
        }
        _ => Err(m.error(401, INVALID)),
    }
}

async fn validate_refresh(State(m): Shared, headers: HeaderMap, body: Body) -> Response {
    let (value, uid) = match token_request(&m, &headers, body, "refresh_token").await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let dead_ok = m.has(Fault::ValidatesDeadAsActive) || m.is(Variant::DeadAnswered200);
    match find_refresh(&m, &value, uid, dead_ok) {
        Ok(mut t) => {
            if m.has(Fault::ValidatesDeadAsActive) {
                t.revoked = false;
                t.expires = t.expires.max(m.judge_now() + Duration::hours(1));
            }
            let status = if m.has(Fault::ValidateAnswers201) {
                201
            } else {
                200
            };
            m.answer(status, m.refresh_body(&value, &t))
        }
        Err(r) => r,
    }
}

async fn regen(State(m): Shared, headers: HeaderMap, body: Body) -> Response {
    let form = headers.get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes()
            .starts_with(b"application/x-www-form-urlencoded")
    });
    if m.has(Fault::RegenHangsOnForm) && form {
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    }
    let (old, uid) = match token_request(&m, &headers, body, "refresh_token").await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let t = match find_refresh(&m, &old, uid, true) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let expired = m.judge_now() >= t.expires;
    if (t.revoked && !m.has(Fault::RegenAcceptsRevoked))
        || (expired && m.has(Fault::RegenRefusesExpired))
    {
        return m.error(401, DEAD);
    }
    let value = if m.has(Fault::RegenSameValue) {
        old.clone()
    } else {
        m.new_value(64)
    };
    let now = m.now();
    let days = m.lock().refresh_days;
    let new = Token {
        created: if m.has(Fault::RegenStaleTimestamps) {
            t.created
        } else {
            now
        },
        expires: if m.has(Fault::RegenStaleTimestamps) {
            t.expires
        } else {
            now + Duration::days(days)
        },
        last_used: None,
        revoked: false,
        ..t.clone()
    };
    {
        let mut inner = m.lock();
        if !m.has(Fault::RegenKeepsOld)
            && !m.has(Fault::RegenSameValue)
            && let Some(o) = inner.refresh.get_mut(&old)
        {
            o.revoked = true;
        }
        if !m.has(Fault::NoCascadeOnRegen) {
            for a in inner
                .access
                .values_mut()
                .filter(|a| a.parent.as_deref() == Some(&old))
            {
                a.revoked = true;
            }
        }
        inner.refresh.insert(value.clone(), new.clone());
    }
    let status = if m.is(Variant::Regen201) { 201 } else { 200 };
    m.answer(status, m.refresh_body(&value, &new))
}

async fn mint(State(m): Shared, headers: HeaderMap, body: Body) -> Response {
    let (refresh, uid) = match token_request(&m, &headers, body, "refresh_token").await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let t = match find_refresh(&m, &refresh, uid, m.has(Fault::MintsFromDead)) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let value = if m.has(Fault::ReusedAccessToken) {
        "the-same-access-token-for-everyone-0123456789abcdefgh".to_owned()
    } else {
        m.new_value(32)
    };
    let now = m.now();
    let hours = m.lock().access_hours;
    let lifespan = if m.has(Fault::WrongAccessLifespan) {
        hours - 1
    } else {
        hours
    };
    let a = Token {
        user: t.user,
        name: String::new(),
        created: now,
        expires: now + Duration::hours(lifespan),
        last_used: None,
        revoked: false,
        parent: Some(refresh.clone()),
    };
    {
        let mut inner = m.lock();
        if !m.has(Fault::LastUsedNeverSet)
            && let Some(r) = inner.refresh.get_mut(&refresh)
        {
            r.last_used = Some(now);
        }
        inner.access.insert(value.clone(), a.clone());
    }
    m.answer(201, m.access_body(&value, &a))
}

async fn validate_access(State(m): Shared, headers: HeaderMap, body: Body) -> Response {
    if m.has(Fault::ValidateBodyNotJson) {
        return m.raw(
            200,
            "application/json",
            "{\"user_id\": 1, \"created_at\"".into(),
        );
    }
    let (value, uid) = match token_request(&m, &headers, body, "api_access_token").await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let t = m.lock().access.get(&value).cloned();
    match t {
        Some(t) if owner_ok(&m, &t, uid) => {
            if m.alive(&t) || m.is(Variant::DeadAnswered200) {
                m.answer(200, m.access_body(&value, &t))
            } else {
                m.error(401, ACCESS_DEAD)
            }
        }
        _ => m.error(401, ACCESS_INVALID),
    }
}

async fn revoke(State(m): Shared, headers: HeaderMap, body: Body) -> Response {
    let (refresh, uid) = match token_request(&m, &headers, body, "refresh_token").await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let t = match find_refresh(&m, &refresh, uid, m.has(Fault::RevokeAcceptsDead)) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if !m.has(Fault::RevokeDoesNothing) {
        let mut inner = m.lock();
        let all = m.has(Fault::RevokesAllOfTheUser);
        for a in inner.access.values_mut() {
            if a.parent.as_deref() == Some(&refresh) || (all && a.user == t.user) {
                a.revoked = true;
            }
        }
    }
    if m.has(Fault::RevokeAnswers204) {
        return m.raw(204, "application/json", String::new());
    }
    m.answer(
        200,
        vec![("detail", json!("Successfully revoked API access tokens."))],
    )
}

async fn discovery() -> Response {
    axum::Json(
        json!({"protocol": "token-conformance-control", "version": 1,
        "capabilities": ["clock", "lifespans", "users", "revoke_refresh_token"]}),
    )
    .into_response()
}

fn clock_answer(m: &Mutant) -> Response {
    let now = m.now().to_offset(time::UtcOffset::UTC);
    let text = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    axum::Json(json!({ "now": text })).into_response()
}

async fn clock(State(m): Shared) -> Response {
    clock_answer(&m)
}

async fn advance(State(m): Shared, axum::Json(body): axum::Json<Value>) -> Response {
    let secs = body.get("seconds").and_then(Value::as_f64).unwrap_or(0.0);
    if !m.has(Fault::ClockDoesNotMove) {
        m.lock().offset += Duration::seconds_f64(secs);
    }
    clock_answer(&m)
}

async fn lifespans(State(m): Shared, axum::Json(body): axum::Json<Value>) -> Response {
    let days = body
        .get("refresh_token_lifespan_days")
        .and_then(Value::as_i64);
    let hours = body
        .get("access_token_lifespan_hours")
        .and_then(Value::as_i64);
    let (now_days, now_hours) = {
        let mut inner = m.lock();
        if !m.has(Fault::LifespansIgnored) {
            if let Some(d) = days {
                inner.refresh_days = d;
            }
            if let Some(h) = hours {
                inner.access_hours = h;
            }
        }
        if m.has(Fault::LifespansApplyToOld) {
            let (d, h) = (inner.refresh_days, inner.access_hours);
            for t in inner.refresh.values_mut() {
                t.expires = t.created + Duration::days(d);
            }
            for t in inner.access.values_mut() {
                t.expires = t.created + Duration::hours(h);
            }
        }
        (inner.refresh_days, inner.access_hours)
    };
    // Ignored changes are still acknowledged as if applied; misreported ones are applied but
    // answered wrong.
    let (d, h) = if m.has(Fault::LifespansIgnored) {
        (days.unwrap_or(now_days), hours.unwrap_or(now_hours))
    } else if m.has(Fault::LifespansMisreported) {
        (now_days + 1, now_hours + 1)
    } else {
        (now_days, now_hours)
    };
    axum::Json(json!({"refresh_token_lifespan_days": d, "access_token_lifespan_hours": h}))
        .into_response()
}

async fn users(State(m): Shared, axum::Json(body): axum::Json<Value>) -> Response {
    let name = body
        .get("username")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let sso = body.get("sso").and_then(Value::as_bool).unwrap_or(false);
    let password = body
        .get("password")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut inner = m.lock();
    let id = i64::try_from(inner.users.len()).unwrap_or(0) + 1;
    inner.users.push(User {
        id,
        name: name.clone(),
        password: if sso { None } else { password },
    });
    (
        StatusCode::CREATED,
        axum::Json(json!({"user_id": id, "username": name, "sso": sso})),
    )
        .into_response()
}

async fn admin_revoke(State(m): Shared, axum::Json(body): axum::Json<Value>) -> Response {
    let value = body
        .get("refresh_token")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut inner = m.lock();
    let revoked = match inner.refresh.get_mut(&value) {
        Some(t) if !t.revoked => {
            t.revoked = true;
            true
        }
        _ => false,
    };
    for a in inner
        .access
        .values_mut()
        .filter(|a| a.parent.as_deref() == Some(&value))
    {
        a.revoked = true;
    }
    axum::Json(json!({ "revoked": revoked })).into_response()
}
