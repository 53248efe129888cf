//! Signed-in sessions and the forms' guards: reading a session (and keeping it alive while
//! used), checking a form's CSRF token before or after sign-in, starting a session.

use axum::Extension;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use time::Duration;

use super::PAGE;
use super::error::{WebError, WebResult, csrf_refused};
use super::guard::{Cookie, Cookies, form_mac, same_origin, same_secret};
use crate::body::{Fields, read_fields};
use crate::error::ApiError;
use crate::peer::Peer;
use crate::state::AppState;
use crate::store::{User, WebSession};
use crate::token;

/// How long a session lasts after sign-in at most.
pub const SESSION_LIFETIME: Duration = Duration::hours(8);

/// How long a session lasts without a request.
pub const SESSION_IDLE: Duration = Duration::minutes(30);

pub(super) fn new_secret() -> Result<String, WebError> {
    token::generate(24).map_err(|e| ApiError::Internal(format!("CSPRNG: {e}")).into())
}

/// The signed-in session, if the request carries a live one; it lives [`SESSION_IDLE`] longer
/// (never past [`SESSION_LIFETIME`] from its start).
pub(super) async fn session(
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
pub(super) async fn signed_in_form(
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
pub(super) async fn pre_session_form(
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

/// The pre-sign-in form token for this browser: the MAC of the nonce in its cookie, or of a
/// new nonce (with its cookie).
pub(super) fn form_token(
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

pub(super) fn with_cookies(
    mut r: Response,
    cookies: impl IntoIterator<Item = HeaderValue>,
) -> Response {
    for c in cookies {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

pub(super) fn see_page(cookies: impl IntoIterator<Item = HeaderValue>) -> Response {
    see_page_revoking(None, cookies)
}

/// The query parameter that fills in the names to revoke (`/account/auth?revoke=PREFIX`): a
/// run's closing lines link to the page with their prefix, through the sign-in if need be.
pub(super) const REVOKE_PARAM: &str = "revoke";

/// A redirect to the page; with `revoke`, to the page with those names filled in.
pub(super) fn see_page_revoking(
    revoke: Option<&str>,
    cookies: impl IntoIterator<Item = HeaderValue>,
) -> Response {
    let location = match revoke {
        Some(prefix) => format!(
            "{PAGE}?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair(REVOKE_PARAM, prefix)
                .finish()
        ),
        None => PAGE.to_owned(),
    };
    // Percent-encoded, so always a valid header value.
    let location = HeaderValue::from_str(&location).unwrap_or(HeaderValue::from_static(PAGE));
    let r = (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
    with_cookies(r, cookies)
}

/// The names to revoke a request asks the page to fill in: `revoke` of its query or form, when
/// it is one the form would take.
pub(super) fn revoke_prefix(value: Option<&str>) -> Option<String> {
    value
        .filter(|v| !v.is_empty() && v.chars().count() <= 255)
        .map(str::to_owned)
}

/// The cookie policy of a request.
pub(super) fn cookies_of(app: &AppState, peer: Option<&Extension<Peer>>) -> Cookies {
    Cookies::for_request(app, peer.map(|p| p.0))
}

/// How a session was started.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum SignedInWith {
    /// A password: the account's other sessions end (whoever knew the old password, or held
    /// a session from before, is out).
    Password,
    /// A one-time link.
    Link,
}

/// Starts a session for `user` and sends the browser to the page.
pub(super) async fn start_session(
    app: &AppState,
    cookies: &Cookies,
    user: &User,
    with: SignedInWith,
    revoke: Option<&str>,
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
    Ok(see_page_revoking(
        revoke,
        [session, cookies.set(Cookie::Form, "", 0)],
    ))
}
