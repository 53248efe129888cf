//! The token page at `/account/auth`, as the vendor's users meet it: sign in (with a password,
//! or with a one-time link for SSO users), see your refresh tokens, create, regenerate and
//! revoke them. Server-rendered HTML that works without JavaScript.
//!
//! Security:
//! - Sign-in goes through [`crate::api::login`]: the same throttle as createRefreshToken, and
//!   unknown users cost what known ones cost.
//! - The session is a random cookie (`HttpOnly`, `SameSite=Strict`, `Secure` when the request
//!   came over TLS, as a proxy in front says with `X-Forwarded-Proto: https`); the database
//!   holds only its digest. Signing out deletes it, so a replayed cookie signs no one in.
//! - Every form that changes state carries a CSRF token: the session's own once signed in; a
//!   double-submit cookie on the sign-in forms, before there is a session.
//! - Token values appear once, in the body of the answer that created them; never in a URL,
//!   a redirect or a log. Forms name tokens by row id, and only among the signed-in user's.
//! - Headers: a Content-Security-Policy with no inline script or style, `X-Frame-Options:
//!   DENY`, `Referrer-Policy: no-referrer`, `Cache-Control: no-store` (the policy layer).

mod html;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::middleware::map_response;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use time::{Duration, OffsetDateTime};

use crate::ClientAddr;
use crate::body::{Fields, read_fields};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{Refusal, Store, StoreError, User, WebSession};
use crate::token;

/// How long a one-time sign-in link works.
pub const SIGN_IN_LINK_LIFETIME: Duration = Duration::minutes(10);

/// How long a session lasts after sign-in.
pub const SESSION_LIFETIME: Duration = Duration::hours(8);

/// The page's path; everything else of it lives under it.
pub const PAGE: &str = "/account/auth";

const SESSION_COOKIE: &str = "tc_session";
/// The double-submit cookie of the forms shown before sign-in.
const FORM_COOKIE: &str = "tc_form";
/// Tokens listed at most.
const LIST_LIMIT: usize = 500;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The page's routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(PAGE, get(page))
        .route("/account/auth/sign-in", post(sign_in))
        .route("/account/auth/sign-out", post(sign_out))
        .route("/account/auth/sso", get(sso_page).post(sso_sign_in))
        .route("/account/auth/tokens", post(create_token))
        .route("/account/auth/tokens/regenerate", post(regenerate_token))
        .route("/account/auth/tokens/revoke", post(revoke_token))
        .route("/account/auth/tokens/revoke-named", post(revoke_named))
        .route("/account/auth/style.css", get(style))
        .route("/account/auth/copy.js", get(copy_js))
        .layer(map_response(|r| async { security_headers(r, CSP) }))
}

/// Adds the headers every page of the web interface carries.
pub fn security_headers(mut response: Response, csp: &'static str) -> Response {
    let h = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, csp),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Creates a one-time sign-in link for `user_id` (the `sso-link` command); returns the secret
/// that goes into the link. Only its digest is stored.
pub fn new_sign_in_link(store: &Store, user_id: i64) -> Result<String, StoreError> {
    let secret = token::generate(32).map_err(|e| StoreError::Internal(format!("CSPRNG: {e}")))?;
    let digest = token::digest(&secret);
    // The real clock: this runs in another process, which cannot see a test clock's offset.
    let now = OffsetDateTime::now_utc();
    store.write_blocking(move |tx| {
        tx.create_sign_in_link(&digest, user_id, now, now + SIGN_IN_LINK_LIFETIME)
    })?;
    Ok(secret)
}

/// What went wrong, as a page: its status, what to say, and for 429 and 503 when to retry.
pub(crate) struct WebError {
    status: StatusCode,
    message: String,
    retry_after: Option<u64>,
}

impl WebError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<ApiError> for WebError {
    fn from(e: ApiError) -> Self {
        let (status, message, retry_after) = match e {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m, None),
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m.to_owned(), None),
            ApiError::SsoUser => (
                StatusCode::FORBIDDEN,
                "This account signs in through SSO: use the sign-in link from your identity \
                 provider."
                    .to_owned(),
                None,
            ),
            ApiError::TooManyAttempts(s) => (
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many failed sign-ins; try again in {s} seconds."),
                Some(s),
            ),
            ApiError::Unavailable(s) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("The service is busy; try again in {s} seconds."),
                Some(s),
            ),
            ApiError::PayloadTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "That form was too large.".to_owned(),
                None,
            ),
            other => {
                tracing::error!(error = ?other, "web page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on the server.".to_owned(),
                    None,
                )
            }
        };
        Self {
            status,
            message,
            retry_after,
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let mut r = html::page_response(self.status, &html::message_page(&self.message));
        if let Some(s) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}

type WebResult = Result<Response, WebError>;

/// A cookie's value from the request, if it is there.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// Whether the request came over TLS (directly, or as the proxy in front says).
fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value for this page's cookies.
fn set_cookie(name: &str, value: &str, max_age: i64, headers: &HeaderMap) -> HeaderValue {
    let secure = if over_tls(headers) { "; Secure" } else { "" };
    let raw = format!(
        "{name}={value}; Path={PAGE}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    );
    HeaderValue::from_str(&raw).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Equal, in time that does not depend on where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn new_secret() -> Result<String, WebError> {
    token::generate(24).map_err(|e| ApiError::Internal(format!("CSPRNG: {e}")).into())
}

/// A new refresh token value, as the API makes them, and its digest.
fn new_refresh_token() -> Result<(String, [u8; 32]), WebError> {
    let value = token::generate(token::REFRESH_TOKEN_BYTES)
        .map_err(|e| ApiError::Internal(format!("CSPRNG: {e}")))?;
    let digest = token::digest(&value);
    Ok((value, digest))
}

/// The signed-in session, if the request carries a live one.
fn session(app: &AppState, headers: &HeaderMap) -> Result<Option<WebSession>, WebError> {
    let Some(value) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let digest = token::digest(value);
    let now = app.clock.now();
    Ok(app.store.read(|r| r.web_session(&digest, now))?)
}

/// The signed-in session, and the form's fields once its CSRF token is checked.
async fn signed_in_form(
    app: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(WebSession, Fields), WebError> {
    let Some(session) = session(app, headers)? else {
        return Err(WebError::new(
            StatusCode::UNAUTHORIZED,
            "You are signed out. Sign in again.",
        ));
    };
    let fields = read_fields(headers, body, app.body_limit).await?;
    let sent = fields.text("csrf").unwrap_or_default();
    if !same_secret(sent, &session.csrf) {
        return Err(csrf_refused());
    }
    Ok((session, fields))
}

/// The fields of a form shown before sign-in, once its double-submit token is checked.
async fn pre_session_form(
    app: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Fields, WebError> {
    let fields = read_fields(headers, body, app.body_limit).await?;
    let sent = fields.text("form").unwrap_or_default();
    match cookie(headers, FORM_COOKIE) {
        Some(expected) if same_secret(sent, expected) => Ok(fields),
        _ => Err(csrf_refused()),
    }
}

fn csrf_refused() -> WebError {
    WebError::new(
        StatusCode::FORBIDDEN,
        "This form has expired or did not come from this page. Reload the page and try again.",
    )
}

/// The double-submit token for this browser: the one it has, or a new one (with its cookie).
fn form_token(headers: &HeaderMap) -> Result<(String, Option<HeaderValue>), WebError> {
    if let Some(t) = cookie(headers, FORM_COOKIE) {
        return Ok((t.to_owned(), None));
    }
    let t = new_secret()?;
    let c = set_cookie(FORM_COOKIE, &t, 3600, headers);
    Ok((t, Some(c)))
}

fn with_cookies(mut r: Response, cookies: impl IntoIterator<Item = HeaderValue>) -> Response {
    for c in cookies {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

fn see_page(cookies: impl IntoIterator<Item = HeaderValue>) -> Response {
    let r = (StatusCode::SEE_OTHER, [(header::LOCATION, PAGE)]).into_response();
    with_cookies(r, cookies)
}

/// `GET /account/auth`: the tokens when signed in, the sign-in form otherwise.
async fn page(State(app): State<Arc<AppState>>, headers: HeaderMap) -> WebResult {
    match session(&app, &headers)? {
        Some(s) => tokens_page(&app, &s, StatusCode::OK, None),
        None => {
            let (form, cookie) = form_token(&headers)?;
            let r = html::page_response(StatusCode::OK, &html::sign_in_page(&form, None));
            Ok(with_cookies(r, cookie))
        }
    }
}

fn tokens_page(
    app: &AppState,
    session: &WebSession,
    status: StatusCode,
    notice: Option<html::Notice<'_>>,
) -> WebResult {
    let user_id = session.user.id;
    let tokens = app
        .store
        .read(|r| r.refresh_tokens_of(user_id, LIST_LIMIT))?;
    let body = html::tokens_page(
        &session.user,
        &session.csrf,
        &tokens,
        app.clock.now(),
        notice,
    );
    Ok(html::page_response(status, &body))
}

/// Starts a session for `user` and sends the browser to the page.
async fn start_session(app: &AppState, headers: &HeaderMap, user: &User) -> WebResult {
    let value = new_secret()?;
    let csrf = new_secret()?;
    let digest = token::digest(&value);
    let (now, user_id) = (app.clock.now(), user.id);
    app.store
        .write(move |tx| {
            tx.create_web_session(
                &digest,
                user_id,
                &csrf,
                now,
                now.saturating_add(SESSION_LIFETIME),
            )
        })
        .await?;
    let session = set_cookie(
        SESSION_COOKIE,
        &value,
        SESSION_LIFETIME.whole_seconds(),
        headers,
    );
    Ok(see_page([session, set_cookie(FORM_COOKIE, "", 0, headers)]))
}

/// `POST /account/auth/sign-in`: username and password, through the API's login.
async fn sign_in(
    State(app): State<Arc<AppState>>,
    client: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    body: Body,
) -> WebResult {
    let fields = pre_session_form(&app, &headers, body).await?;
    let (form, _) = form_token(&headers)?;
    let retry = |e: WebError| {
        let mut r = html::page_response(e.status, &html::sign_in_page(&form, Some(&e.message)));
        if let Some(s) = e.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    };
    let username = match fields.text("username") {
        Ok(u) => u.to_owned(),
        Err(e) => return Ok(retry(e.into())),
    };
    let password = fields
        .text_or_empty("password")
        .unwrap_or_default()
        .to_owned();
    match crate::api::login(&app, client.map(|c| c.0.0), &username, password).await {
        Ok(user) => start_session(&app, &headers, &user).await,
        Err(e) => Ok(retry(e.into())),
    }
}

/// `POST /account/auth/sign-out`.
async fn sign_out(State(app): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> WebResult {
    let clear = set_cookie(SESSION_COOKIE, "", 0, &headers);
    let Some(value) = cookie(&headers, SESSION_COOKIE).map(str::to_owned) else {
        return Ok(see_page([clear]));
    };
    signed_in_form(&app, &headers, body).await?;
    let digest = token::digest(&value);
    app.store
        .write(move |tx| tx.end_web_session(&digest))
        .await?;
    Ok(see_page([clear]))
}

/// The `link` parameter of the SSO page's address.
fn link_param(uri: &Uri) -> Option<String> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == "link")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

fn link_refused() -> WebError {
    WebError::new(
        StatusCode::BAD_REQUEST,
        "This sign-in link does not work: it was used already, it has expired (links work for \
         10 minutes), or it was never issued. Ask for a new one.",
    )
}

/// `GET /account/auth/sso?link=...`: asks before using the link, so that a mail scanner or a
/// browser's prefetch that opens it does not use it up.
async fn sso_page(State(app): State<Arc<AppState>>, headers: HeaderMap, uri: Uri) -> WebResult {
    let link = link_param(&uri).ok_or_else(link_refused)?;
    let digest = token::digest(&link);
    let now = app.clock.now();
    let user = app
        .store
        .read(|r| r.sign_in_link(&digest, now))?
        .ok_or_else(link_refused)?;
    let (form, cookie) = form_token(&headers)?;
    let r = html::page_response(
        StatusCode::OK,
        &html::sso_page(&form, &user.username, &link),
    );
    Ok(with_cookies(r, cookie))
}

/// `POST /account/auth/sso`: uses the link, once, and signs its user in.
async fn sso_sign_in(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> WebResult {
    let fields = pre_session_form(&app, &headers, body).await?;
    let link = fields.text("link").map_err(|_| link_refused())?;
    let digest = token::digest(link);
    let now = app.clock.now();
    let user = app
        .store
        .write(move |tx| tx.use_sign_in_link(&digest, now))
        .await?
        .ok_or_else(link_refused)?;
    start_session(&app, &headers, &user).await
}

/// `POST /account/auth/tokens`: a new refresh token, shown once.
async fn create_token(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> WebResult {
    let (session, fields) = signed_in_form(&app, &headers, body).await?;
    let name = match fields.text("name") {
        Ok(n) => n.to_owned(),
        Err(e) => {
            let message = WebError::from(e).message;
            return tokens_page(
                &app,
                &session,
                StatusCode::BAD_REQUEST,
                Some(html::Notice::Problem(&message)),
            );
        }
    };
    let (value, digest) = new_refresh_token()?;
    let (now, user_id, stored_name) = (app.clock.now(), session.user.id, name.clone());
    app.store
        .write(move |tx| tx.create_refresh_token(user_id, &stored_name, &digest, now))
        .await?;
    tokens_page(
        &app,
        &session,
        StatusCode::OK,
        Some(html::Notice::NewToken {
            verb: "Created",
            name: &name,
            value: &value,
            user_id,
        }),
    )
}

/// The `token_id` field of a token form.
fn token_id(fields: &Fields) -> Result<i64, WebError> {
    fields
        .text("token_id")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .ok_or_else(|| WebError::new(StatusCode::BAD_REQUEST, "No token was named."))
}

fn refused(r: Refusal, what: &str) -> WebError {
    match r {
        Refusal::Invalid => WebError::new(StatusCode::NOT_FOUND, "You have no such token."),
        Refusal::ExpiredOrRevoked => WebError::new(
            StatusCode::CONFLICT,
            format!("That token is revoked already; it cannot be {what}."),
        ),
    }
}

/// `POST /account/auth/tokens/regenerate`: the API's regeneration, by row id.
async fn regenerate_token(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> WebResult {
    let (session, fields) = signed_in_form(&app, &headers, body).await?;
    let id = token_id(&fields)?;
    let (value, digest) = new_refresh_token()?;
    let (now, user_id) = (app.clock.now(), session.user.id);
    let row = app
        .store
        .write(move |tx| tx.regenerate_refresh_token_by_id(id, user_id, &digest, now))
        .await?
        .map_err(|r| refused(r, "regenerated"))?;
    tokens_page(
        &app,
        &session,
        StatusCode::OK,
        Some(html::Notice::NewToken {
            verb: "Regenerated",
            name: &row.name,
            value: &value,
            user_id,
        }),
    )
}

/// `POST /account/auth/tokens/revoke`: revokes a refresh token and its access tokens.
async fn revoke_token(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> WebResult {
    let (session, fields) = signed_in_form(&app, &headers, body).await?;
    let id = token_id(&fields)?;
    let (now, user_id) = (app.clock.now(), session.user.id);
    let row = app
        .store
        .write(move |tx| tx.revoke_refresh_token_by_id(id, user_id, now))
        .await?
        .map_err(|r| refused(r, "revoked again"))?;
    let message = format!(
        "Revoked \u{201c}{}\u{201d} and every access token minted from it.",
        row.name
    );
    tokens_page(
        &app,
        &session,
        StatusCode::OK,
        Some(html::Notice::Done(&message)),
    )
}

/// `POST /account/auth/tokens/revoke-named`: revokes every token of the signed-in user whose
/// name starts with the prefix (a test run's leftovers are named `token-conformance <run id>
/// ...`). The first post asks, with the count; the one with `confirm=yes` revokes.
async fn revoke_named(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> WebResult {
    let (session, fields) = signed_in_form(&app, &headers, body).await?;
    let prefix = fields
        .text("prefix")
        .map_err(|_| {
            WebError::new(
                StatusCode::BAD_REQUEST,
                "Give the start of the names to revoke.",
            )
        })?
        .to_owned();
    let user_id = session.user.id;
    if fields.text("confirm").ok() != Some("yes") {
        let count = app
            .store
            .read(|r| r.unrevoked_named_from(user_id, &prefix))?;
        return tokens_page(
            &app,
            &session,
            StatusCode::OK,
            Some(html::Notice::ConfirmRevokeNamed {
                prefix: &prefix,
                count,
                csrf: &session.csrf,
            }),
        );
    }
    let now = app.clock.now();
    let named = prefix.clone();
    let revoked = app
        .store
        .write(move |tx| tx.revoke_refresh_tokens_named_from(user_id, &named, now))
        .await?;
    let message = format!(
        "Revoked {revoked} token(s) whose names start with \u{201c}{prefix}\u{201d}, and every access token minted from them."
    );
    tokens_page(
        &app,
        &session,
        StatusCode::OK,
        Some(html::Notice::Done(&message)),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", include_str!("style.css"))
}

async fn copy_js() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("copy.js"))
}

/// A header name this module sets, for the tests.
pub const SECURITY_HEADERS: [HeaderName; 4] = [
    header::CONTENT_SECURITY_POLICY,
    header::X_FRAME_OPTIONS,
    header::REFERRER_POLICY,
    header::X_CONTENT_TYPE_OPTIONS,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others_and_bounded() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; tc_session=abc; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "missing"), None);
        let long = format!("tc_session={}", "x".repeat(200));
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&long).expect("header"),
        );
        assert_eq!(
            cookie(&h, SESSION_COOKIE),
            None,
            "an absurd value is no cookie"
        );
    }

    #[test]
    fn cookies_are_secure_only_over_tls() {
        let mut h = HeaderMap::new();
        let plain = set_cookie(SESSION_COOKIE, "v", 60, &h);
        assert_eq!(
            plain.to_str().expect("ascii"),
            "tc_session=v; Path=/account/auth; Max-Age=60; HttpOnly; SameSite=Strict"
        );
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(
            set_cookie(SESSION_COOKIE, "v", 60, &h)
                .to_str()
                .expect("ascii")
                .ends_with("; Secure")
        );
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
        assert!(!same_secret("", "a"));
    }
}
