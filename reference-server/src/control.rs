//! The optional test-control protocol (`specs/conformance-control.openapi.yaml`), mounted only
//! with `--test-control`: lets a harness read and move the clock, set the two lifespans, create
//! users, and revoke a refresh token as an administrator would. Never enable it in production:
//! anyone who can reach it can create users.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use axum::Router;
use axum::routing::{get, post};

use crate::body::read_json_object;
use crate::clock::format_api;
use crate::error::ApiError;
use crate::respond::{json as json_body, json_with};
use crate::state::AppState;
use crate::store::LifespanKey;

/// The control protocol's routes, under `/conformance/v1/`.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/conformance/v1/", get(discovery))
        .route("/conformance/v1/clock", get(get_clock).post(set_clock))
        .route("/conformance/v1/clock/advance", post(advance_clock))
        .route(
            "/conformance/v1/lifespans",
            get(get_lifespans).post(set_lifespans),
        )
        .route("/conformance/v1/users", post(create_user))
        .route(
            "/conformance/v1/revokeRefreshToken",
            post(revoke_refresh_token),
        )
}

/// The capabilities this server offers, as listed by `GET /conformance/v1/`.
pub const CAPABILITIES: [&str; 4] = ["clock", "lifespans", "users", "revoke_refresh_token"];

/// The longest clock move accepted in one call: 100 years, so arithmetic never overflows.
const MAX_ADVANCE_SECONDS: f64 = 100.0 * 366.0 * 86_400.0;

fn field<'a>(map: &'a Map<String, Value>, name: &str) -> Result<&'a Value, ApiError> {
    map.get(name)
        .filter(|v| !v.is_null())
        .ok_or_else(|| ApiError::BadRequest(format!("Missing required field(s): {name}.")))
}

fn string<'a>(map: &'a Map<String, Value>, name: &str) -> Result<&'a str, ApiError> {
    field(map, name)?
        .as_str()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::BadRequest(format!("Field '{name}' must be a non-empty string.")))
}

/// `GET /conformance/v1/`
pub async fn discovery() -> Response {
    json_body(&json!({
        "protocol": "token-conformance-control",
        "version": 1,
        "capabilities": CAPABILITIES,
    }))
}

fn clock_body(now: OffsetDateTime) -> Response {
    json_body(&json!({ "now": format_api(now) }))
}

/// `GET /conformance/v1/clock`
pub async fn get_clock(State(app): State<Arc<AppState>>) -> Response {
    clock_body(app.clock.now())
}

/// `POST /conformance/v1/clock`: `{"now": "<RFC 3339>"}`.
pub async fn set_clock(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let map = read_json_object(&headers, body, app.body_limit).await?;
    let raw = string(&map, "now")?;
    let at = OffsetDateTime::parse(raw, &Rfc3339).map_err(|_| {
        ApiError::BadRequest("Field 'now' must be an RFC 3339 date-time with an offset.".into())
    })?;
    app.clock.set(at);
    tracing::warn!(now = %format_api(app.clock.now()), "test control: clock set");
    Ok(clock_body(app.clock.now()))
}

/// `POST /conformance/v1/clock/advance`: `{"seconds": N}`.
pub async fn advance_clock(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let map = read_json_object(&headers, body, app.body_limit).await?;
    let seconds = field(&map, "seconds")?
        .as_f64()
        .filter(|s| s.is_finite() && s.abs() <= MAX_ADVANCE_SECONDS)
        .ok_or_else(|| {
            ApiError::BadRequest("Field 'seconds' must be a number of at most 100 years.".into())
        })?;
    app.clock.advance(time::Duration::seconds_f64(seconds));
    tracing::warn!(seconds, "test control: clock advanced");
    Ok(clock_body(app.clock.now()))
}

async fn lifespans_body(app: Arc<AppState>) -> Result<Response, ApiError> {
    let (days, hours) = app.store.read(|r| {
        Ok((
            r.lifespan(LifespanKey::RefreshTokenDays)?,
            r.lifespan(LifespanKey::AccessTokenHours)?,
        ))
    })?;
    Ok(json_body(&json!({
        "refresh_token_lifespan_days": days,
        "access_token_lifespan_hours": hours,
    })))
}

/// `GET /conformance/v1/lifespans`
pub async fn get_lifespans(State(app): State<Arc<AppState>>) -> Result<Response, ApiError> {
    lifespans_body(app).await
}

/// `POST /conformance/v1/lifespans`: either or both of the two fields; the others keep their value.
pub async fn set_lifespans(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let map = read_json_object(&headers, body, app.body_limit).await?;
    let mut changes = Vec::new();
    for (name, key) in [
        ("refresh_token_lifespan_days", LifespanKey::RefreshTokenDays),
        ("access_token_lifespan_hours", LifespanKey::AccessTokenHours),
    ] {
        let Some(v) = map.get(name).filter(|v| !v.is_null()) else {
            continue;
        };
        let value = v
            .as_i64()
            .filter(|n| (1..=key.max_value()).contains(n))
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "Field '{name}' must be a whole number from 1 to {}.",
                    key.max_value()
                ))
            })?;
        changes.push((key, value));
    }
    if changes.is_empty() {
        return Err(ApiError::BadRequest(
            "Give refresh_token_lifespan_days, access_token_lifespan_hours, or both.".into(),
        ));
    }
    app.store
        .write(move |tx| {
            for (key, value) in changes {
                tx.set_lifespan(key, value)?;
            }
            Ok(())
        })
        .await?;
    lifespans_body(app).await
}

/// `POST /conformance/v1/users`: `{"username": ..., "password": ..., "sso": false}`.
/// An existing user of that name is updated.
pub async fn create_user(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let map = read_json_object(&headers, body, app.body_limit).await?;
    let username = string(&map, "username")?.to_owned();
    let sso = match map.get("sso") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ApiError::BadRequest(
                "Field 'sso' must be a boolean.".into(),
            ));
        }
    };
    let password = if sso {
        None
    } else {
        Some(string(&map, "password")?.to_owned())
    };
    let hash = match password {
        Some(p) => Some(app.passwords.hash(p).await?),
        None => None,
    };
    let name = username.clone();
    let id = app
        .store
        .write(move |tx| tx.upsert_user(&name, hash.as_deref(), sso))
        .await?;
    Ok(json_with(
        StatusCode::CREATED,
        &json!({ "user_id": id, "username": username, "sso": sso }),
    ))
}

/// `POST /conformance/v1/revokeRefreshToken`: `{"refresh_token": ...}`, as an admin would in the
/// web UI. Its access tokens are revoked with it.
pub async fn revoke_refresh_token(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let map = read_json_object(&headers, body, app.body_limit).await?;
    let digest = crate::token::digest(string(&map, "refresh_token")?);
    let now = app.clock.now();
    let revoked = app
        .store
        .write(move |tx| tx.revoke_refresh_token(&digest, now))
        .await?;
    Ok(json_body(&json!({ "revoked": revoked })))
}
