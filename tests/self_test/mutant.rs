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

use crate::fields::{self, Body as Parsed, Id, IdParsing, Parsing, Style};

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
    /// Regeneration answers 500 and does nothing (so the run's pool cannot clean a token).
    RegenFails500,
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
    // Near misses of a credential.
    /// Token values are compared without regard to case (a case-insensitive collation).
    TokenCaseInsensitive,
    /// Only the first 40 characters of a token value are compared (a truncating column).
    TokenPrefixMatch,
    /// An access token is taken where a refresh token is asked for (one table for both).
    AccessTokenAsRefresh,
    /// Passwords are compared without regard to case.
    PasswordCaseInsensitive,
    /// A password that starts with the user's is taken (a hash of its first bytes only).
    PasswordPrefix,
    // Identity in every form.
    /// The owner is checked only when `user_id` is a JSON number.
    OwnerUncheckedForStrings,
    /// The owner is not checked in multipart bodies.
    OwnerUncheckedInMultipart,
    // Text fidelity.
    /// A form body's name is percent-decoded twice (`%2B` becomes `+`).
    NamesDecodedTwice,
    /// Runs of spaces inside a name are collapsed to one.
    NamesInnerSpacesCollapsed,
    /// `&` in a name is stored HTML-escaped.
    NamesHtmlEscaped,
    /// Names are stored in Unicode's composed normal form (NFC), as a sanitiser or a database
    /// collation may leave them.
    NamesNormalised,
    /// Escapes of unreserved characters in a name are decoded and the other escapes' hex
    /// upper-cased: RFC 3986's normalisation (§6.2.2), applied to a value it was not meant for.
    NamesUriNormalised,
    /// Characters outside the Basic Multilingual Plane are dropped from names, as MySQL's
    /// three-byte `utf8` does.
    NamesAstralDropped,
    /// Names longer than the contract's 255 characters are taken (a SHOULD departure).
    NamesUnbounded,
    /// A token value longer than its column (255 characters) crashes the lookup.
    LongTokenCrashes,
    /// Multipart bodies with a preamble, padding, an unquoted name or other header case are
    /// refused (a SHOULD departure).
    MultipartStrict,
    /// Validation answers from a cache of validated access tokens that revocation does not
    /// empty.
    StaleValidationCache,
    /// Validation answers a cached access token to any user who asks.
    CacheIgnoresOwner,
    /// A regenerated token gets a new name.
    RegenRenames,
    /// A name given twice is stored as both, joined by a comma.
    DuplicateNameJoined,
    // Media types.
    /// A media type with a charset parameter is refused (415).
    CharsetRefused,
    /// A quoted multipart boundary keeps its quotes, so no part is found.
    QuotedBoundaryRefused,
    // Methods and bounds.
    /// GET on an API path crashes (500).
    GetCrashes,
    /// PUT is served like POST.
    PutActsAsPost,
    /// A user_id too large for an int64 crashes (500).
    IdOverflowCrashes,
    /// A fractional user_id is cut to its integer part (7.5 is user 7).
    FractionTruncated,
    /// user_id 0 passes every ownership check (an unset id read as a wildcard).
    ZeroIsAnyUser,
    // What an operation must not touch.
    /// Minting revokes the access tokens minted before from the same refresh token.
    MintRevokesSiblings,
    /// Regeneration revokes every refresh token of the user.
    RegenRevokesUsersOthers,
    /// revokeAPIAccessTokens revokes the refresh token too.
    RevokeAlsoRevokesRefresh,
    /// Validating an access token uses it up (revokes it).
    ValidationConsumesAccess,
    // A refusal that changes something.
    /// Regeneration with another user's id revokes the token, then refuses.
    RefusedRegenStillRevokes,
    /// Minting with another user's id mints, then refuses.
    RefusedMintStillMints,
    /// revokeAPIAccessTokens with another user's id revokes, then refuses.
    RefusedRevokeStillRevokes,
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
    /// Built the way Django REST framework builds a server: the last of a repeated field wins,
    /// a number is taken as text where a string belongs, white space around values is trimmed,
    /// a blank field is 400, an unknown username with a numeric value is 401, errors carry no
    /// `code`, media types are compared as written, OPTIONS describes the endpoint.
    Lenient,
    /// Every mistyped credential (a user_id that is not an integer, a token or password that is
    /// not a string) is answered as a non-matching one: 401.
    Mistyped401,
    /// Configured for 90-day refresh tokens and 12-hour access tokens, which the control
    /// protocol reports and a profile that leaves the lifespans out takes.
    OtherLifespans,
    /// Spelled the way other stacks spell things: a failed validation is FastAPI's 422 with a
    /// list under `detail`, another method is `http.server`'s 501 in HTML, and every answer is
    /// gzip-coded although no request asked for it (RFC 9110 §12.5.3).
    OtherStacks,
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
/// A second account, which a plain deployment's profile names for the password probes.
pub const OTHER_USER: &str = "second@example.com";
/// Its password.
pub const OTHER_PASSWORD: &str = "mutant-pass-8";

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
    /// Access tokens as they were when last validated, for the cache faults.
    validated: HashMap<String, Token>,
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
        let coded = self.is(Variant::OtherStacks);
        let bytes = if coded {
            gzip(body.as_bytes())
        } else {
            body.into_bytes()
        };
        let mut r = (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            bytes,
        )
            .into_response();
        if coded {
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
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
        if status == 400 && self.is(Variant::OtherStacks) {
            // FastAPI's refusal of a failed validation.
            let list = json!({"detail": [{"type": "value_error", "loc": ["body"], "msg": detail, "input": null}]});
            return self.raw(422, "application/json", list.to_string());
        }
        let mut fields = vec![];
        if self.has(Fault::ErrorsWithoutDetail) {
            fields.push(("error", json!(detail)));
        } else {
            fields.push(("detail", json!(detail)));
        }
        // Django REST framework's errors carry `detail` alone.
        if !self.has(Fault::ErrorsWithoutCode) && !self.is(Variant::Lenient) {
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

/// The accounts every mutant starts with: the profile's, an SSO user, a second account.
fn seeded_users() -> Vec<User> {
    vec![
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
        User {
            id: 3,
            name: OTHER_USER.into(),
            password: Some(OTHER_PASSWORD.into()),
        },
    ]
}

/// Starts the mutant on an ephemeral loopback port; returns its base URL.
pub async fn start(mode: Mode) -> String {
    let mutant = Arc::new(Mutant {
        mode,
        inner: Mutex::new(Inner {
            users: seeded_users(),
            refresh: HashMap::new(),
            access: HashMap::new(),
            offset: Duration::ZERO,
            refresh_days: if mode == Mode::Variant(Variant::OtherLifespans) {
                90
            } else {
                60
            },
            access_hours: if mode == Mode::Variant(Variant::OtherLifespans) {
                12
            } else {
                24
            },
            failures: HashMap::new(),
            validated: HashMap::new(),
            counter: 0,
        }),
    });
    let app = Router::new()
        .route(
            "/integration/v1/createRefreshToken/",
            endpoint(&mutant, create_refresh),
        )
        .route(
            "/integration/v1/validateRefreshToken/",
            endpoint(&mutant, validate_refresh),
        )
        .route(
            "/integration/v1/regenRefreshToken/",
            endpoint(&mutant, regen),
        )
        .route(
            "/integration/v1/createAPIAccessToken/",
            endpoint(&mutant, mint),
        )
        .route(
            "/integration/v1/validateAPIAccessToken/",
            endpoint(&mutant, validate_access),
        )
        .route(
            "/integration/v1/revokeAPIAccessTokens/",
            endpoint(&mutant, revoke),
        )
        .route("/conformance/v1/", get(discovery))
        .route("/conformance/v1/clock", get(clock))
        .route("/conformance/v1/clock/advance", post(advance))
        .route(
            "/conformance/v1/lifespans",
            get(current_lifespans).post(lifespans),
        )
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

/// The routes of one API endpoint, with the methods the mutant's mode serves.
fn endpoint<H, T>(m: &Mutant, handler: H) -> axum::routing::MethodRouter<Arc<Mutant>>
where
    H: axum::handler::Handler<T, Arc<Mutant>> + Clone + Send + Sync + 'static,
    T: 'static,
{
    let mut r = post(handler.clone());
    if m.has(Fault::PutActsAsPost) {
        r = r.put(handler);
    }
    if m.has(Fault::GetCrashes) {
        r = r.get(crash);
    }
    if m.is(Variant::Lenient) {
        r = r.options(describe).fallback(not_allowed);
    }
    if m.is(Variant::OtherStacks) {
        r = r.fallback(not_implemented);
    }
    r
}

async fn crash() -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
}

/// What Django REST framework answers OPTIONS with: the endpoint's description.
async fn describe(State(m): Shared) -> Response {
    m.answer(
        200,
        vec![
            ("name", json!("Token endpoint")),
            ("renders", json!(["application/json"])),
        ],
    )
}

/// Django REST framework's 405, in its error shape.
async fn not_allowed(State(m): Shared, method: axum::http::Method) -> Response {
    m.error(405, &format!("Method \"{method}\" not allowed."))
}

/// What Python's `http.server` answers a method it has no handler for.
async fn not_implemented(State(m): Shared, method: axum::http::Method) -> Response {
    m.raw(
        501,
        "text/html;charset=utf-8",
        format!("<html><body><h1>Error response</h1><p>Error code: 501</p><p>Message: Unsupported method ('{method}').</p></body></html>"),
    )
}

/// `bytes` gzip-coded.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A request's body, parsed and judged as the mutant's mode says.
struct Req {
    body: Parsed,
    style: Style,
    /// A repeated form field counts with its last value (the fault of a naive parser).
    last_wins: bool,
}

impl Mutant {
    fn style(&self) -> Style {
        match self.mode {
            Mode::Variant(Variant::Lenient) => Style::Lenient,
            Mode::Variant(Variant::Mistyped401) => Style::Mistyped401,
            _ => Style::Strict,
        }
    }

    fn refuse(&self, (status, detail): fields::Refusal) -> Response {
        if status >= 500 {
            self.raw(status, "text/plain", detail)
        } else {
            self.error(status, &detail)
        }
    }

    /// Reads and parses the body; the refusal as a response.
    async fn read(&self, headers: &HeaderMap, body: Body) -> Result<Req, Response> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let media = content_type
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let refused = (self.has(Fault::FormRefused) && media.starts_with("application/x-www-form"))
            || (self.has(Fault::MultipartRefused) && media.starts_with("multipart/"));
        if refused {
            return Err(self.error(415, "Unsupported content type."));
        }
        let limit = if self.has(Fault::NoBodyLimit) {
            8 << 20
        } else {
            16 * 1024
        };
        let bytes = axum::body::to_bytes(body, 8 << 20)
            .await
            .map_err(|_| self.error(413, "Too large."))?;
        if bytes.len() > limit {
            return Err(self.error(413, "Request body is too large."));
        }
        if self.has(Fault::MalformedJsonCrashes)
            && media.starts_with("application/json")
            && serde_json::from_slice::<Value>(&bytes).is_err()
        {
            return Err(self.raw(500, "text/plain", "Internal Server Error".into()));
        }
        let parsing = Parsing {
            exact_media_type: self.is(Variant::Lenient),
            parameters_refused: self.has(Fault::CharsetRefused),
            quoted_boundary_kept: self.has(Fault::QuotedBoundaryRefused),
            strict_multipart: self.has(Fault::MultipartStrict),
        };
        let parsed =
            fields::parse(content_type.as_deref(), &bytes, parsing).map_err(|r| self.refuse(r))?;
        let known = [
            "refresh_token",
            "api_access_token",
            "user_id",
            "username",
            "password",
            "name",
        ];
        if self.has(Fault::UnknownFieldsRefused) && parsed.has_unknown(&known) {
            return Err(self.error(400, "Unknown field."));
        }
        Ok(Req {
            body: parsed,
            style: self.style(),
            last_wins: self.has(Fault::DuplicateFieldAccepted),
        })
    }

    fn id_parsing(&self) -> IdParsing {
        IdParsing {
            truncate_fractions: self.has(Fault::FractionTruncated),
            overflow_crashes: self.has(Fault::IdOverflowCrashes),
        }
    }
}

impl Req {
    fn text(&self, m: &Mutant, name: &str, credential: Option<&str>) -> Result<String, Response> {
        fields::text(&self.body, name, self.style, self.last_wins, credential)
            .map_err(|r| m.refuse(r))
    }
}

/// A user id as the request gave it: `None` when it is no user's.
type Uid = Option<i64>;

/// The request's token (by `field`), and the user_id it was sent with.
async fn token_request(
    m: &Mutant,
    headers: &HeaderMap,
    body: Body,
    field: &str,
    invalid: &str,
) -> Result<(String, Uid, Req), Response> {
    let req = m.read(headers, body).await?;
    let value = req.text(m, field, Some(invalid))?;
    if m.has(Fault::LongTokenCrashes) && value.len() > 255 {
        return Err(m.raw(
            500,
            "text/plain",
            "value too long for type character varying(255)".into(),
        ));
    }
    if m.has(Fault::UserIdStringRefused)
        && req.body.encoding == fields::Encoding::Json
        && !req.body.is_number("user_id")
        && req
            .body
            .one("user_id", req.style, true)
            .ok()
            .flatten()
            .is_some()
    {
        return Err(m.error(400, "Field 'user_id' must be an integer."));
    }
    let uid = fields::user_id(&req.body, req.style, req.last_wins, m.id_parsing(), invalid)
        .map_err(|r| {
            if m.has(Fault::BadUserIdCrashes) && r.0 == 400 {
                m.raw(500, "text/plain", "Internal Server Error".into())
            } else {
                m.refuse(r)
            }
        })?;
    let uid = match uid {
        Id::Some(n) => Some(n),
        Id::Nobody => None,
    };
    Ok((value, uid, req))
}

/// Whether the request's user id may act on `t`.
fn owner_ok(m: &Mutant, t: &Token, uid: Uid, req: &Req) -> bool {
    let unchecked = m.has(Fault::IgnoresUserId)
        || (m.has(Fault::OwnerUncheckedForStrings) && !req.body.is_number("user_id"))
        || (m.has(Fault::OwnerUncheckedInMultipart)
            && req.body.encoding == fields::Encoding::Multipart)
        || (m.has(Fault::ZeroIsAnyUser) && uid == Some(0));
    unchecked || uid == Some(t.user)
}

/// The stored key a presented value finds, as the mutant's lookup does.
fn lookup<'a>(m: &Mutant, map: &'a HashMap<String, Token>, value: &str) -> Option<&'a str> {
    if let Some((k, _)) = map.get_key_value(value) {
        return Some(k);
    }
    map.keys()
        .find(|k| {
            (m.has(Fault::TokenCaseInsensitive) && k.eq_ignore_ascii_case(value))
                || (m.has(Fault::TokenPrefixMatch)
                    && k.len() >= 40
                    && value.len() >= 40
                    && k.as_bytes()[..40] == value.as_bytes()[..40])
        })
        .map(String::as_str)
}

/// The name of a new refresh token, as the mutant reads it.
fn read_name(m: &Mutant, req: &Req) -> Result<String, Response> {
    // A server that joins a repeated field never sees it as repeated.
    match req
        .body
        .joined("name")
        .filter(|_| m.has(Fault::DuplicateNameJoined))
    {
        Some(joined) => Ok(joined),
        // Fields are validated before anyone is authenticated, as a serializer does.
        None => req.text(m, "name", None).and_then(|n| {
            if n.chars().count() > 255 && !m.has(Fault::NamesUnbounded) {
                Err(m.error(400, "Ensure this field has no more than 255 characters."))
            } else {
                Ok(n)
            }
        }),
    }
}

async fn create_refresh(State(m): Shared, headers: HeaderMap, body: Body) -> Response {
    let req = match m.read(&headers, body).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let bad_login = Some("Invalid username or password.");
    let name = read_name(&m, &req);
    let credentials = (
        req.text(&m, "username", bad_login),
        fields::password(&req.body, "password", req.style, req.last_wins),
        name,
    );
    let (username, password, name) = match credentials {
        (Ok(u), Ok(p), Ok(n)) => (u, p, n),
        (Err(r), _, _) | (_, _, Err(r)) => return r,
        (_, Err(r), _) => return m.refuse(r),
    };
    let name = stored_name(&m, &req, name);
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
            .find(|u| u.name.eq_ignore_ascii_case(&username))
            .map(|u| (u.id, u.password.clone()))
    };
    let fail = |m: &Mutant| {
        m.lock()
            .failures
            .entry(key.clone())
            .and_modify(|n| *n += 1)
            .or_insert(1);
    };
    let Some((uid, stored)) = found else {
        fail(&m);
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
        return issue_refresh(&m, uid, &name);
    };
    if !logs_in(&m, uid, &stored, &password, token_header.as_deref()) {
        fail(&m);
        return m.error(401, "Invalid username or password.");
    }
    if m.has(Fault::DuplicateNameRefused) && m.lock().refresh.values().any(|t| t.name == name) {
        return m.error(400, "A token with this name exists.");
    }
    issue_refresh(&m, uid, &name)
}

/// Whether the password (or, under a fault, something else) logs user `uid` in.
fn logs_in(m: &Mutant, uid: i64, stored: &str, password: &str, token: Option<&str>) -> bool {
    let header_lets_in = m.has(Fault::TokenHeaderAuthenticates)
        && token.is_some_and(|t| m.lock().access.get(t).is_some_and(|a| a.user == uid));
    stored == password
        || (password.is_empty() && m.has(Fault::EmptyPasswordLogsIn))
        || (m.has(Fault::PasswordCaseInsensitive) && stored.eq_ignore_ascii_case(password))
        || (m.has(Fault::PasswordPrefix) && !password.is_empty() && password.starts_with(stored))
        || header_lets_in
}

/// The name as the mutant stores it.
fn stored_name(m: &Mutant, req: &Req, name: String) -> String {
    let mut name = name;
    if m.has(Fault::NamesDecodedTwice) && req.body.encoding == fields::Encoding::Form {
        name = form_urlencoded::parse(format!("n={}", name.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or(name);
        name = percent_decode(&name);
    }
    if m.has(Fault::NamesInnerSpacesCollapsed) {
        while name.contains("  ") {
            name = name.replace("  ", " ");
        }
    }
    if m.has(Fault::NamesHtmlEscaped) {
        name = name.replace('&', "&amp;");
    }
    if m.has(Fault::NamesNormalised) {
        name = icu_normalizer::ComposingNormalizerBorrowed::new_nfc()
            .normalize(&name)
            .into_owned();
    }
    if m.has(Fault::NamesUriNormalised) {
        name = uri_normalised(&name);
    }
    if m.has(Fault::NamesAstralDropped) {
        name.retain(|c| u32::from(c) <= 0xFFFF);
    }
    name
}

/// RFC 3986 §6.2.2's normalisations of percent-encodings: an escape of an unreserved
/// character decoded, any other escape's hex digits upper-cased.
fn uri_normalised(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let escape = rest
            .get(at + 1..at + 3)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
        match escape.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(b) if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => {
                out.push(char::from(b));
                rest = &rest[at + 3..];
            }
            Some(_) => {
                out.push('%');
                out.push_str(&rest[at + 1..at + 3].to_ascii_uppercase());
                rest = &rest[at + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `%XX` decoded once more.
fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("n={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map_or_else(|| s.to_owned(), |(_, v)| v.into_owned())
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

/// Looks a refresh token up for an operation: the stored value and the token, or the refusal.
/// `on_mismatch` runs when the token exists but the owner does not match (a fault's effect).
fn find_refresh(
    m: &Mutant,
    value: &str,
    uid: Uid,
    req: &Req,
    dead_ok: bool,
    on_mismatch: &dyn Fn(&Mutant, &str),
) -> Result<(String, Token), Response> {
    let found = {
        let inner = m.lock();
        lookup(m, &inner.refresh, value)
            .map(|k| (k.to_owned(), inner.refresh[k].clone()))
            .or_else(|| {
                // One table for both kinds: an access token passes for a refresh token.
                m.has(Fault::AccessTokenAsRefresh)
                    .then(|| lookup(m, &inner.access, value))
                    .flatten()
                    .map(|k| (k.to_owned(), inner.access[k].clone()))
            })
    };
    match found {
        Some((k, t)) if owner_ok(m, &t, uid, req) => {
            if m.alive(&t) || dead_ok {
                Ok((k, t))
            } else {
                Err(m.error(401, DEAD))
            }
        }
        Some((k, _)) => {
            on_mismatch(m, &k);
            Err(m.error(401, INVALID))
        }
        None => Err(m.error(401, INVALID)),
    }
}

fn no_effect(_: &Mutant, _: &str) {}

async fn validate_refresh(State(m): Shared, headers: HeaderMap, body: Body) -> Response {
    let (value, uid, req) = match token_request(&m, &headers, body, "refresh_token", INVALID).await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let dead_ok = m.has(Fault::ValidatesDeadAsActive) || m.is(Variant::DeadAnswered200);
    match find_refresh(&m, &value, uid, &req, dead_ok, &no_effect) {
        Ok((key, mut t)) => {
            if m.has(Fault::ValidatesDeadAsActive) {
                t.revoked = false;
                t.expires = t.expires.max(m.judge_now() + Duration::hours(1));
            }
            let status = if m.has(Fault::ValidateAnswers201) {
                201
            } else {
                200
            };
            m.answer(status, m.refresh_body(&key, &t))
        }
        Err(r) => r,
    }
}

fn revoke_children(inner: &mut Inner, parent: &str) {
    for a in inner
        .access
        .values_mut()
        .filter(|a| a.parent.as_deref() == Some(parent))
    {
        a.revoked = true;
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
    if m.has(Fault::RegenFails500) {
        return m.error(500, "Internal server error.");
    }
    let (old, uid, req) = match token_request(&m, &headers, body, "refresh_token", INVALID).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let revoke_anyway = |m: &Mutant, k: &str| {
        if m.has(Fault::RefusedRegenStillRevokes)
            && let Some(t) = m.lock().refresh.get_mut(k)
        {
            t.revoked = true;
        }
    };
    let (old, t) = match find_refresh(&m, &old, uid, &req, true, &revoke_anyway) {
        Ok(x) => x,
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
        name: if m.has(Fault::RegenRenames) {
            "Regenerated token".into()
        } else {
            t.name.clone()
        },
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
        if m.has(Fault::RegenRevokesUsersOthers) {
            for r in inner.refresh.values_mut().filter(|r| r.user == t.user) {
                r.revoked = true;
            }
        }
        if !m.has(Fault::NoCascadeOnRegen) {
            revoke_children(&mut inner, &old);
        }
        inner.refresh.insert(value.clone(), new.clone());
    }
    let status = if m.is(Variant::Regen201) { 201 } else { 200 };
    m.answer(status, m.refresh_body(&value, &new))
}

/// Mints an access token from the refresh token stored under `refresh`.
fn mint_from(m: &Mutant, refresh: &str, t: &Token) -> (String, Token) {
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
        parent: Some(refresh.to_owned()),
    };
    let mut inner = m.lock();
    if m.has(Fault::MintRevokesSiblings) {
        revoke_children(&mut inner, refresh);
    }
    if !m.has(Fault::LastUsedNeverSet)
        && let Some(r) = inner.refresh.get_mut(refresh)
    {
        r.last_used = Some(now);
    }
    inner.access.insert(value.clone(), a.clone());
    (value, a)
}

async fn mint(State(m): Shared, headers: HeaderMap, body: Body) -> Response {
    let (refresh, uid, req) =
        match token_request(&m, &headers, body, "refresh_token", INVALID).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    let mint_anyway = |m: &Mutant, k: &str| {
        let t = m.lock().refresh.get(k).cloned();
        if m.has(Fault::RefusedMintStillMints)
            && let Some(t) = t
        {
            mint_from(m, k, &t);
        }
    };
    let dead_ok = m.has(Fault::MintsFromDead);
    let (refresh, t) = match find_refresh(&m, &refresh, uid, &req, dead_ok, &mint_anyway) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (value, a) = mint_from(&m, &refresh, &t);
    m.answer(201, m.access_body(&value, &a))
}

/// The answer from the validation cache of the cache faults, if it has one: the token as it
/// was cached (`StaleValidationCache`), or as it is but for anyone (`CacheIgnoresOwner`).
fn cached(m: &Mutant, value: &str, uid: Uid, req: &Req) -> Option<Response> {
    let (then, now) = {
        let inner = m.lock();
        (
            inner.validated.get(value).cloned()?,
            inner.access.get(value).cloned()?,
        )
    };
    if m.has(Fault::StaleValidationCache) && owner_ok(m, &then, uid, req) {
        return Some(m.answer(200, m.access_body(value, &then)));
    }
    if m.has(Fault::CacheIgnoresOwner) && m.alive(&now) {
        return Some(m.answer(200, m.access_body(value, &now)));
    }
    None
}

async fn validate_access(State(m): Shared, headers: HeaderMap, body: Body) -> Response {
    if m.has(Fault::ValidateBodyNotJson) {
        return m.raw(
            200,
            "application/json",
            "{\"user_id\": 1, \"created_at\"".into(),
        );
    }
    let (value, uid, req) =
        match token_request(&m, &headers, body, "api_access_token", ACCESS_INVALID).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    if let Some(answer) = cached(&m, &value, uid, &req) {
        return answer;
    }
    let found = {
        let inner = m.lock();
        lookup(&m, &inner.access, &value).map(|k| (k.to_owned(), inner.access[k].clone()))
    };
    match found {
        Some((key, t)) if owner_ok(&m, &t, uid, &req) => {
            if m.alive(&t) || m.is(Variant::DeadAnswered200) {
                if m.has(Fault::StaleValidationCache) || m.has(Fault::CacheIgnoresOwner) {
                    m.lock().validated.insert(key.clone(), t.clone());
                }
                let answer = m.answer(200, m.access_body(&key, &t));
                if m.has(Fault::ValidationConsumesAccess)
                    && let Some(a) = m.lock().access.get_mut(&key)
                {
                    a.revoked = true;
                }
                answer
            } else {
                m.error(401, ACCESS_DEAD)
            }
        }
        _ => m.error(401, ACCESS_INVALID),
    }
}

async fn revoke(State(m): Shared, headers: HeaderMap, body: Body) -> Response {
    let (refresh, uid, req) =
        match token_request(&m, &headers, body, "refresh_token", INVALID).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    let revoke_anyway = |m: &Mutant, k: &str| {
        if m.has(Fault::RefusedRevokeStillRevokes) {
            revoke_children(&mut m.lock(), k);
        }
    };
    let dead_ok = m.has(Fault::RevokeAcceptsDead);
    let (refresh, t) = match find_refresh(&m, &refresh, uid, &req, dead_ok, &revoke_anyway) {
        Ok(x) => x,
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
        if m.has(Fault::RevokeAlsoRevokesRefresh)
            && let Some(r) = inner.refresh.get_mut(&refresh)
        {
            r.revoked = true;
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

async fn current_lifespans(State(m): Shared) -> Response {
    let (d, h) = {
        let inner = m.lock();
        (inner.refresh_days, inner.access_hours)
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
