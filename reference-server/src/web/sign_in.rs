//! Signing in and out: the page itself, the password form, and the SSO one-time links.

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};

use super::error::{WebError, WebResult, link_refused};
use super::guard::Cookie;
use super::html;
use super::session::{
    REVOKE_PARAM, SignedInWith, cookies_of, form_token, new_secret, pre_session_form,
    revoke_prefix, see_page, session, signed_in_form, start_session, with_cookies,
};
use super::tokens::tokens_page_with;
use crate::peer::Peer;
use crate::state::AppState;
use crate::throttle::Client;
use crate::token;

/// `GET /account/auth`: the tokens when signed in, the sign-in form otherwise. `?revoke=PREFIX`
/// fills in the names to revoke (only fills in: a GET changes nothing), after the sign-in if
/// there is one first.
pub(super) async fn page(
    State(app): State<Arc<AppState>>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    uri: Uri,
) -> WebResult {
    let cookies = cookies_of(&app, peer.as_ref());
    let revoke = uri.query().and_then(|q| {
        let v = form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == REVOKE_PARAM)?
            .1;
        revoke_prefix(Some(&v))
    });
    match session(&app, &cookies, &headers).await? {
        Some(s) => tokens_page_with(&app, &s, StatusCode::OK, None, revoke.as_deref()),
        None => {
            let (form, cookie) = form_token(&app, &cookies, &headers)?;
            let r = html::page_response(
                StatusCode::OK,
                &html::sign_in_page(&form, None, revoke.as_deref()),
            );
            Ok(with_cookies(r, cookie))
        }
    }
}

/// `POST /account/auth/sign-in`: username and password, through the API's login.
pub(super) async fn sign_in(
    State(app): State<Arc<AppState>>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    body: Body,
) -> WebResult {
    let cookies = cookies_of(&app, peer.as_ref());
    let fields = pre_session_form(&app, &cookies, &headers, body).await?;
    let (form, _) = form_token(&app, &cookies, &headers)?;
    let revoke = revoke_prefix(fields.text(REVOKE_PARAM).ok());
    let retry = |e: WebError| {
        let page = html::sign_in_page(&form, Some(&e.message), revoke.as_deref());
        let mut r = html::page_response(e.status, &page);
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
    // The browser's device id, or a new one: sent with every sign-in, so that the throttle
    // knows this browser by it once it has signed in to the account.
    let (device, new_device) = match cookies.get(&headers, Cookie::Device) {
        Some(d) => (d.to_owned(), None),
        None => {
            let d = new_secret()?;
            let c = cookies.set(Cookie::Device, &d, DEVICE_COOKIE_SECS);
            (d, Some(c))
        }
    };
    let client = Client {
        ip: peer.map(|p| p.0.ip),
        device: Some(token::digest(&device)),
    };
    match crate::api::login(&app, client, &username, password).await {
        Ok(user) => {
            let r = start_session(
                &app,
                &cookies,
                &user,
                SignedInWith::Password,
                revoke.as_deref(),
            )
            .await?;
            Ok(with_cookies(r, new_device))
        }
        Err(e) => Ok(retry(e.into())),
    }
}

/// How long the device cookie lives: as long as the throttle recognises a sign-in.
#[allow(clippy::cast_possible_wrap)] // 30 days in seconds
const DEVICE_COOKIE_SECS: i64 = crate::throttle::KNOWN_FOR.as_secs() as i64;

/// `POST /account/auth/sign-out`.
pub(super) async fn sign_out(
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
pub(super) fn link_param(uri: &Uri) -> Option<String> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == "link")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// `GET /account/auth/sso?link=...`: asks before using the link, so that a mail scanner or a
/// browser's prefetch that opens it does not use it up.
pub(super) async fn sso_page(
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
pub(super) async fn sso_sign_in(
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
    start_session(&app, &cookies, &user, SignedInWith::Link, None).await
}
