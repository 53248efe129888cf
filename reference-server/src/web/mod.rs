//! The token page at `/account/auth`, as the vendor's users meet it: sign in (with a password,
//! or with a one-time link for SSO users), see your refresh tokens, create, regenerate and
//! revoke them. Server-rendered HTML that works without JavaScript.
//!
//! Security:
//! - Sign-in goes through [`crate::api::login`]: the same throttle as createRefreshToken, and
//!   unknown users cost what known ones cost.
//! - The session is a random cookie (see [`guard`] for its flags); the database holds only its
//!   digest. It ends after 30 minutes without a request, 8 hours after sign-in at the latest,
//!   or on sign-out; a password sign-in ends the account's other sessions. A replayed cookie
//!   signs no one in.
//! - Every form that changes state must come from this page (`Sec-Fetch-Site`, `Origin`) and
//!   carry a CSRF token: the session's own once signed in; before, a token bound to a cookie
//!   nonce with an HMAC ([`guard`]).
//! - Token values appear once, in the body of the answer that created them; never in a URL,
//!   a redirect or a log. Forms name tokens by row id, and only among the signed-in user's.
//! - Headers: a Content-Security-Policy with no inline script or style, `X-Frame-Options:
//!   DENY`, `Referrer-Policy: same-origin`, `Cache-Control: no-store` (the policy layer).

mod guard;
mod html;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::map_response;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use time::{Duration, OffsetDateTime};

use crate::body::{Fields, read_fields};
use crate::error::ApiError;
use crate::peer::Peer;
use crate::state::AppState;
use crate::store::{Refusal, Store, StoreError, User, WebSession};
use crate::token;
use guard::{Cookie, Cookies, form_mac, same_origin, same_secret};

/// How long a one-time sign-in link works.
pub const SIGN_IN_LINK_LIFETIME: Duration = Duration::minutes(10);

/// How long a session lasts after sign-in at most.
pub const SESSION_LIFETIME: Duration = Duration::hours(8);

/// How long a session lasts without a request.
pub const SESSION_IDLE: Duration = Duration::minutes(30);

/// The page's path; everything else of it lives under it.
pub const PAGE: &str = "/account/auth";

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
        (header::REFERRER_POLICY, "same-origin"),
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
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "That form was sent in a way this page does not read.".to_owned(),
                None,
            ),
            ApiError::NotFound => (
                StatusCode::NOT_FOUND,
                "There is no such page.".to_owned(),
                None,
            ),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "This page does not take that kind of request.".to_owned(),
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

/// The signed-in session, if the request carries a live one; it lives [`SESSION_IDLE`] longer
/// (never past [`SESSION_LIFETIME`] from its start).
async fn session(
    app: &AppState,
    cookies: &Cookies,
    headers: &HeaderMap,
) -> Result<Option<WebSession>, WebError> {
    let Some(value) = cookies.get(headers, Cookie::Session) else {
        return Ok(None);
    };
    let digest = token::digest(value);
    let now = app.clock.now();
    let Some(session) = app.store.read(|r| r.web_session(&digest, now))? else {
        return Ok(None);
    };
    let until = now.saturating_add(SESSION_IDLE);
    app.store
        .write(move |tx| tx.touch_web_session(&digest, until, SESSION_LIFETIME))
        .await?;
    Ok(Some(session))
}

/// The signed-in session, and the form's fields once its CSRF token is checked.
async fn signed_in_form(
    app: &AppState,
    cookies: &Cookies,
    headers: &HeaderMap,
    body: Body,
) -> Result<(WebSession, Fields), WebError> {
    same_origin(headers)?;
    let Some(session) = session(app, cookies, headers).await? else {
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

/// The fields of a form shown before sign-in, once its token is checked against its cookie.
async fn pre_session_form(
    app: &AppState,
    cookies: &Cookies,
    headers: &HeaderMap,
    body: Body,
) -> Result<Fields, WebError> {
    same_origin(headers)?;
    let fields = read_fields(headers, body, app.body_limit).await?;
    let sent = fields.text("form").unwrap_or_default();
    match cookies.get(headers, Cookie::Form) {
        Some(nonce) if same_secret(sent, &form_mac(&app.form_key, nonce)) => Ok(fields),
        _ => Err(csrf_refused()),
    }
}

fn csrf_refused() -> WebError {
    WebError::new(
        StatusCode::FORBIDDEN,
        "This form has expired or did not come from this page. Reload the page and try again.",
    )
}

/// The pre-sign-in form token for this browser: the MAC of the nonce in its cookie, or of a
/// new nonce (with its cookie).
fn form_token(
    app: &AppState,
    cookies: &Cookies,
    headers: &HeaderMap,
) -> Result<(String, Option<HeaderValue>), WebError> {
    if let Some(nonce) = cookies.get(headers, Cookie::Form) {
        return Ok((form_mac(&app.form_key, nonce), None));
    }
    let nonce = new_secret()?;
    let c = cookies.set(Cookie::Form, &nonce, 3600);
    Ok((form_mac(&app.form_key, &nonce), Some(c)))
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

/// The cookie policy of a request.
fn cookies_of(app: &AppState, peer: Option<&Extension<Peer>>) -> Cookies {
    Cookies::for_request(app, peer.map(|p| p.0))
}

/// `GET /account/auth`: the tokens when signed in, the sign-in form otherwise.
async fn page(
    State(app): State<Arc<AppState>>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
) -> WebResult {
    let cookies = cookies_of(&app, peer.as_ref());
    match session(&app, &cookies, &headers).await? {
        Some(s) => tokens_page(&app, &s, StatusCode::OK, None),
        None => {
            let (form, cookie) = form_token(&app, &cookies, &headers)?;
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

/// How a session was started.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SignedInWith {
    /// A password: the account's other sessions end (whoever knew the old password, or held
    /// a session from before, is out).
    Password,
    /// A one-time link.
    Link,
}

/// Starts a session for `user` and sends the browser to the page.
async fn start_session(
    app: &AppState,
    cookies: &Cookies,
    user: &User,
    with: SignedInWith,
) -> WebResult {
    let value = new_secret()?;
    let csrf = new_secret()?;
    let digest = token::digest(&value);
    let (now, user_id) = (app.clock.now(), user.id);
    app.store
        .write(move |tx| {
            if with == SignedInWith::Password {
                tx.end_web_sessions_of(user_id)?;
            }
            tx.create_web_session(
                &digest,
                user_id,
                &csrf,
                now,
                now.saturating_add(SESSION_IDLE),
            )
        })
        .await?;
    let session = cookies.set(Cookie::Session, &value, SESSION_LIFETIME.whole_seconds());
    Ok(see_page([session, cookies.set(Cookie::Form, "", 0)]))
}

/// `POST /account/auth/sign-in`: username and password, through the API's login.
async fn sign_in(
    State(app): State<Arc<AppState>>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    body: Body,
) -> WebResult {
    let cookies = cookies_of(&app, peer.as_ref());
    let fields = pre_session_form(&app, &cookies, &headers, body).await?;
    let (form, _) = form_token(&app, &cookies, &headers)?;
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
    match crate::api::login(&app, peer.map(|p| p.0.ip), &username, password).await {
        Ok(user) => start_session(&app, &cookies, &user, SignedInWith::Password).await,
        Err(e) => Ok(retry(e.into())),
    }
}

/// `POST /account/auth/sign-out`.
async fn sign_out(
    State(app): State<Arc<AppState>>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    body: Body,
) -> WebResult {
    let cookies = cookies_of(&app, peer.as_ref());
    let clear = cookies.set(Cookie::Session, "", 0);
    let Some(value) = cookies.get(&headers, Cookie::Session).map(str::to_owned) else {
        return Ok(see_page([clear]));
    };
    signed_in_form(&app, &cookies, &headers, body).await?;
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
async fn sso_page(
    State(app): State<Arc<AppState>>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    uri: Uri,
) -> WebResult {
    let cookies = cookies_of(&app, peer.as_ref());
    let link = link_param(&uri).ok_or_else(link_refused)?;
    let digest = token::digest(&link);
    let now = app.clock.now();
    let user = app
        .store
        .read(|r| r.sign_in_link(&digest, now))?
        .ok_or_else(link_refused)?;
    let (form, cookie) = form_token(&app, &cookies, &headers)?;
    let r = html::page_response(
        StatusCode::OK,
        &html::sso_page(&form, &user.username, &link),
    );
    Ok(with_cookies(r, cookie))
}

/// `POST /account/auth/sso`: uses the link, once, and signs its user in.
async fn sso_sign_in(
    State(app): State<Arc<AppState>>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    body: Body,
) -> WebResult {
    let cookies = cookies_of(&app, peer.as_ref());
    let fields = pre_session_form(&app, &cookies, &headers, body).await?;
    let link = fields.text("link").map_err(|_| link_refused())?;
    let digest = token::digest(link);
    let now = app.clock.now();
    let user = app
        .store
        .write(move |tx| tx.use_sign_in_link(&digest, now))
        .await?
        .ok_or_else(link_refused)?;
    start_session(&app, &cookies, &user, SignedInWith::Link).await
}

/// `POST /account/auth/tokens`: a new refresh token, shown once.
async fn create_token(
    State(app): State<Arc<AppState>>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    body: Body,
) -> WebResult {
    let cookies = cookies_of(&app, peer.as_ref());
    let (session, fields) = signed_in_form(&app, &cookies, &headers, body).await?;
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
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    body: Body,
) -> WebResult {
    let cookies = cookies_of(&app, peer.as_ref());
    let (session, fields) = signed_in_form(&app, &cookies, &headers, body).await?;
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
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    body: Body,
) -> WebResult {
    let cookies = cookies_of(&app, peer.as_ref());
    let (session, fields) = signed_in_form(&app, &cookies, &headers, body).await?;
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
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    body: Body,
) -> WebResult {
    let cookies = cookies_of(&app, peer.as_ref());
    let (session, fields) = signed_in_form(&app, &cookies, &headers, body).await?;
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
