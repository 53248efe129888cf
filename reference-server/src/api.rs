//! The six endpoints of the Token Authentication API.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordVerifier as _};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::AppState;
use crate::clock::format_api;
use crate::error::{
    ACCESS_DEAD, ACCESS_INVALID, ApiError, BAD_CREDENTIALS, REFRESH_DEAD, REFRESH_INVALID,
};
use crate::store::{AccessTokenRow, RefreshTokenRow, Refusal};
use crate::token::{self, TokenStatus};

/// A RefreshToken as sent, fields in the order real servers send them.
#[derive(Serialize)]
struct RefreshTokenBody<'a> {
    user_id: i64,
    created_at: String,
    token_expires_at: String,
    token_status: &'static str,
    last_used_at: Option<String>,
    name: &'a str,
    refresh_token: &'a str,
}

/// An AccessToken as sent.
#[derive(Serialize)]
struct AccessTokenBody<'a> {
    user_id: i64,
    created_at: String,
    token_expires_at: String,
    token_status: &'static str,
    api_access_token: &'a str,
}

/// A JSON body with its content type; compact, as real servers send it.
pub fn json_body(value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn refresh_response(
    status: StatusCode,
    row: &RefreshTokenRow,
    value: &str,
    token_status: TokenStatus,
) -> Response {
    let body = RefreshTokenBody {
        user_id: row.user_id,
        created_at: format_api(row.created_at),
        token_expires_at: format_api(row.expires_at),
        token_status: token_status.as_str(),
        last_used_at: row.last_used_at.map(format_api),
        name: &row.name,
        refresh_token: value,
    };
    (status, json_body(&body)).into_response()
}

fn access_response(
    status: StatusCode,
    row: &AccessTokenRow,
    value: &str,
    token_status: TokenStatus,
) -> Response {
    let body = AccessTokenBody {
        user_id: row.user_id,
        created_at: format_api(row.created_at),
        token_expires_at: format_api(row.expires_at),
        token_status: token_status.as_str(),
        api_access_token: value,
    };
    (status, json_body(&body)).into_response()
}

/// Runs blocking work (SQLite, argon2) off the async workers.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("blocking task failed: {e}")))?
}

fn new_token(bytes: usize) -> Result<String, ApiError> {
    token::generate(bytes).map_err(|e| ApiError::Internal(format!("CSPRNG: {e}")))
}

fn refusal(r: Refusal) -> ApiError {
    match r {
        Refusal::Invalid => ApiError::Unauthorized(REFRESH_INVALID),
        Refusal::ExpiredOrRevoked => ApiError::Unauthorized(REFRESH_DEAD),
    }
}

/// `POST /integration/v1/createRefreshToken/`
pub async fn create_refresh_token(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let fields = crate::body::read_fields(&headers, body, app.body_limit).await?;
    fields.require(&["username", "password", "name"])?;
    let username = fields.text("username")?.to_owned();
    let password = fields.text("password")?.to_owned();
    let name = fields.text("name")?.to_owned();

    if let Err(secs) = app.throttle.check(&username) {
        return Err(ApiError::TooManyAttempts(secs));
    }
    let app2 = Arc::clone(&app);
    let lookup = username.clone();
    let user = blocking(move || Ok(app2.store.find_user(&lookup)?)).await?;
    if user.as_ref().is_some_and(|u| u.sso) {
        // SSO accounts have no password here; the vendor sends them to the web UI.
        return Err(ApiError::SsoUser);
    }
    // An unknown user is checked against a dummy hash so that the answer takes as long as for
    // a wrong password: the two must be indistinguishable.
    let hash = user
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| app.dummy_hash.clone());
    let ok = blocking(move || {
        let parsed = PasswordHash::new(&hash)
            .map_err(|e| ApiError::Internal(format!("stored password hash unreadable: {e}")))?;
        Ok(argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await?;
    let user = match user {
        Some(u) if ok => u,
        _ => {
            app.throttle.failure(&username);
            return Err(ApiError::Unauthorized(BAD_CREDENTIALS));
        }
    };
    app.throttle.success(&username);

    let value = new_token(token::REFRESH_TOKEN_BYTES)?;
    let digest = token::digest(&value);
    let now = app.clock.now();
    let app2 = Arc::clone(&app);
    let row = blocking(move || {
        Ok(app2
            .store
            .create_refresh_token(user.id, &name, &digest, now)?)
    })
    .await?;
    Ok(refresh_response(
        StatusCode::CREATED,
        &row,
        &value,
        row.status(now),
    ))
}

/// The `refresh_token` and `user_id` fields that four endpoints take.
async fn refresh_fields(
    app: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(String, i64), ApiError> {
    let fields = crate::body::read_fields(headers, body, app.body_limit).await?;
    fields.require(&["refresh_token", "user_id"])?;
    Ok((fields.text("refresh_token")?.to_owned(), fields.user_id()?))
}

/// `POST /integration/v1/validateRefreshToken/`
pub async fn validate_refresh_token(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (value, user_id) = refresh_fields(&app, &headers, body).await?;
    let digest = token::digest(&value);
    let app2 = Arc::clone(&app);
    let row = blocking(move || Ok(app2.store.find_refresh_token(&digest, user_id)?))
        .await?
        .ok_or(ApiError::Unauthorized(REFRESH_INVALID))?;
    let now = app.clock.now();
    match row.status(now) {
        TokenStatus::Active => Ok(refresh_response(
            StatusCode::OK,
            &row,
            &value,
            TokenStatus::Active,
        )),
        _ => Err(ApiError::Unauthorized(REFRESH_DEAD)),
    }
}

/// `POST /integration/v1/regenRefreshToken/`
pub async fn regen_refresh_token(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (old, user_id) = refresh_fields(&app, &headers, body).await?;
    let old_digest = token::digest(&old);
    let value = new_token(token::REFRESH_TOKEN_BYTES)?;
    let new_digest = token::digest(&value);
    let now = app.clock.now();
    let app2 = Arc::clone(&app);
    let row = blocking(move || {
        Ok(app2
            .store
            .regenerate_refresh_token(&old_digest, user_id, &new_digest, now)?)
    })
    .await?
    .map_err(refusal)?;
    Ok(refresh_response(
        StatusCode::OK,
        &row,
        &value,
        row.status(now),
    ))
}

/// `POST /integration/v1/createAPIAccessToken/`
pub async fn create_api_access_token(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (refresh, user_id) = refresh_fields(&app, &headers, body).await?;
    let refresh_digest = token::digest(&refresh);
    let value = new_token(token::ACCESS_TOKEN_BYTES)?;
    let access_digest = token::digest(&value);
    let now = app.clock.now();
    let app2 = Arc::clone(&app);
    let row = blocking(move || {
        Ok(app2
            .store
            .create_access_token(&refresh_digest, user_id, &access_digest, now)?)
    })
    .await?
    .map_err(refusal)?;
    Ok(access_response(
        StatusCode::CREATED,
        &row,
        &value,
        row.status(now),
    ))
}

/// `POST /integration/v1/validateAPIAccessToken/`
pub async fn validate_api_access_token(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let fields = crate::body::read_fields(&headers, body, app.body_limit).await?;
    fields.require(&["api_access_token", "user_id"])?;
    let value = fields.text("api_access_token")?.to_owned();
    let user_id = fields.user_id()?;
    let digest = token::digest(&value);
    let app2 = Arc::clone(&app);
    let row = blocking(move || Ok(app2.store.find_access_token(&digest, user_id)?))
        .await?
        .ok_or(ApiError::Unauthorized(ACCESS_INVALID))?;
    match row.status(app.clock.now()) {
        TokenStatus::Active => Ok(access_response(
            StatusCode::OK,
            &row,
            &value,
            TokenStatus::Active,
        )),
        _ => Err(ApiError::Unauthorized(ACCESS_DEAD)),
    }
}

/// `POST /integration/v1/revokeAPIAccessTokens/`
pub async fn revoke_api_access_tokens(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (refresh, user_id) = refresh_fields(&app, &headers, body).await?;
    let digest = token::digest(&refresh);
    let now = app.clock.now();
    let app2 = Arc::clone(&app);
    let count = blocking(move || Ok(app2.store.revoke_access_tokens(&digest, user_id, now)?))
        .await?
        .map_err(refusal)?;
    tracing::info!(count, "revoked API access tokens");
    Ok(json_body(&serde_json::json!({
        "detail": "Successfully revoked API access tokens."
    })))
}

/// `GET /openapi/api_authentication/`: the contract this server implements.
pub async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/yaml"),
        )],
        crate::OPENAPI_YAML,
    )
        .into_response()
}
