//! The signed-in user's refresh tokens: the list, and creating, regenerating and revoking
//! them with the API's semantics.

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use super::error::{WebError, WebResult, refused};
use super::html;
use super::session::{cookies_of, signed_in_form};
use crate::body::Fields;
use crate::error::ApiError;
use crate::peer::Peer;
use crate::state::AppState;
use crate::store::WebSession;
use crate::token;

/// Tokens listed at most.
pub(super) const LIST_LIMIT: usize = 500;

pub(super) fn tokens_page(
    app: &AppState,
    session: &WebSession,
    status: StatusCode,
    notice: Option<html::Notice<'_>>,
) -> WebResult {
    tokens_page_with(app, session, status, notice, None)
}

/// The page, with the names to revoke filled in with `prefix`.
pub(super) fn tokens_page_with(
    app: &AppState,
    session: &WebSession,
    status: StatusCode,
    notice: Option<html::Notice<'_>>,
    prefix: Option<&str>,
) -> WebResult {
    let user_id = session.user.id;
    let (rows, total) = app.store.read(|r| {
        Ok((
            r.refresh_tokens_of(user_id, LIST_LIMIT)?,
            r.refresh_token_count_of(user_id)?,
        ))
    })?;
    let list = html::TokenList {
        total: usize::try_from(total).unwrap_or(rows.len()).max(rows.len()),
        rows: &rows,
    };
    let body = html::tokens_page(
        &session.user,
        &session.csrf,
        &list,
        app.clock.now(),
        notice,
        prefix,
    );
    Ok(html::page_response(status, &body))
}

/// A new refresh token value, as the API makes them, and its digest.
pub(super) fn new_refresh_token() -> Result<(String, [u8; 32]), WebError> {
    let value = token::generate(token::REFRESH_TOKEN_BYTES)
        .map_err(|e| ApiError::Internal(format!("CSPRNG: {e}")))?;
    let digest = token::digest(&value);
    Ok((value, digest))
}

/// `POST /account/auth/tokens`: a new refresh token, shown once.
pub(super) async fn create_token(
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
pub(super) fn token_id(fields: &Fields) -> Result<i64, WebError> {
    fields
        .text("token_id")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .ok_or_else(|| WebError::new(StatusCode::BAD_REQUEST, "No token was named."))
}

/// `POST /account/auth/tokens/regenerate`: the API's regeneration, by row id.
pub(super) async fn regenerate_token(
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
pub(super) async fn revoke_token(
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
pub(super) async fn revoke_named(
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
