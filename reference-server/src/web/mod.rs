//! The token page at `/account/auth`, as the vendor's users meet it: sign in (with a password,
//! or with a one-time link for SSO users), see your refresh tokens, create, regenerate and
//! revoke them. Server-rendered HTML that works without JavaScript.
//!
//! Security:
//! - Sign-in goes through [`crate::api::login`]: the same throttle as createRefreshToken, and
//!   unknown users cost what known ones cost. A device cookie (a random id, `HttpOnly`, 30
//!   days) goes with every sign-in: once the browser has signed in to an account, the throttle
//!   recognises it there from any address, so an account shut to strangers by others'
//!   failures stays open to its owner's browser.
//! - The session is a random cookie (see `guard.rs` for its flags); the database holds only its
//!   digest. It ends after 30 minutes without a request, 8 hours after sign-in at the latest,
//!   or on sign-out; a password sign-in ends the account's other sessions. A replayed cookie
//!   signs no one in.
//! - Every form that changes state must come from this page (`Sec-Fetch-Site`, `Origin`) and
//!   carry a CSRF token: the session's own once signed in; before, a token bound to a cookie
//!   nonce with an HMAC (`guard.rs`).
//! - Token values appear once, in the body of the answer that created them; never in a URL,
//!   a redirect or a log. Forms name tokens by row id, and only among the signed-in user's.
//! - Headers: a Content-Security-Policy with no inline script or style, `X-Frame-Options:
//!   DENY`, `Referrer-Policy: same-origin`, `Cache-Control: no-store` (the policy layer).
//!
//! Files: `sign_in.rs` (the page, password and SSO sign-in, sign-out), `tokens.rs` (the list
//! and the token actions), `session.rs` (sessions and the forms' CSRF checks), `guard.rs`
//! (cookies, form origins, the pre-sign-in HMAC), `error.rs` (what goes wrong, as a page),
//! `html.rs` (the markup), `assets.rs` (CSS and the copy button's script).

mod assets;
mod error;
mod guard;
mod html;
mod session;
mod sign_in;
mod tokens;

use std::sync::Arc;

use assets::{copy_js, style};
use axum::Router;
use axum::middleware::map_response;
use axum::routing::{get, post};
use sign_in::{page, sign_in, sign_out, sso_page, sso_sign_in};
use tokens::{create_token, regenerate_token, revoke_named, revoke_token};

use crate::respond::security_headers;
use crate::state::AppState;

/// A refusal of the policy layer (a slot, a size) on one of the page's paths, as a page with
/// the page's security headers (the policy answers before the page's own layer runs).
pub fn page_error(e: crate::error::ApiError) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    security_headers(error::WebError::from(e).into_response(), CSP)
}

/// The page's path; everything else of it lives under it.
pub const PAGE: &str = "/account/auth";

/// The page's Content-Security-Policy: nothing inline, nothing from elsewhere.
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
