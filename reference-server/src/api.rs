//! The six endpoints of the Token Authentication API, their routes, and the contract endpoint.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Serialize;

use crate::body::read_fields;
use crate::clock::ApiTime;
use crate::error::{
    ACCESS_DEAD, ACCESS_INVALID, ApiError, BAD_CREDENTIALS, REFRESH_DEAD, REFRESH_INVALID,
};
use crate::password::Turn;
use crate::peer::Peer;
use crate::respond::json_with;
use crate::state::AppState;
use crate::store::{AccessTokenRow, RefreshTokenRow, Refusal};
use crate::throttle::{Client, NotNow};
use crate::token::{self, TokenStatus};

/// Where the operations live: `/integration/v1/{operationId}/`.
const PREFIX: &str = "/integration/v1/";

/// The API's six operations, each a POST to its own path. The router and the accept loop's
/// direct dispatch (`dispatch.rs`) both run them through [`Operation::run`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// `createRefreshToken`
    CreateRefreshToken,
    /// `validateRefreshToken`
    ValidateRefreshToken,
    /// `regenRefreshToken`
    RegenRefreshToken,
    /// `createAPIAccessToken`
    CreateApiAccessToken,
    /// `validateAPIAccessToken`
    ValidateApiAccessToken,
    /// `revokeAPIAccessTokens`
    RevokeApiAccessTokens,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Self; 6] = [
        Self::CreateRefreshToken,
        Self::ValidateRefreshToken,
        Self::RegenRefreshToken,
        Self::CreateApiAccessToken,
        Self::ValidateApiAccessToken,
        Self::RevokeApiAccessTokens,
    ];

    /// Its `operationId` in the contract.
    pub fn id(self) -> &'static str {
        match self {
            Self::CreateRefreshToken => "createRefreshToken",
            Self::ValidateRefreshToken => "validateRefreshToken",
            Self::RegenRefreshToken => "regenRefreshToken",
            Self::CreateApiAccessToken => "createAPIAccessToken",
            Self::ValidateApiAccessToken => "validateAPIAccessToken",
            Self::RevokeApiAccessTokens => "revokeAPIAccessTokens",
        }
    }

    /// Its path.
    pub fn path(self) -> String {
        format!("{PREFIX}{}/", self.id())
    }

    /// The operation at `path` (exactly as sent: the router does not decode paths either).
    pub fn at(path: &str) -> Option<Self> {
        let id = path.strip_prefix(PREFIX)?.strip_suffix('/')?;
        Self::ALL.into_iter().find(|op| op.id() == id)
    }

    /// Answers `request` (past the policy layer) from `client` (`None`: in-process).
    pub async fn run(self, app: &AppState, client: Option<Peer>, request: Request) -> Response {
        // Validations answer from memory and are nearly all of the traffic, so they run in
        // place. The others are boxed: their futures are kilobytes (a login waits on the
        // hashing queue and the throttle, a mint on the writer), and a future run in place
        // makes every request's future that large, which the connection then copies a few
        // times per request whatever the operation. One allocation is nothing beside a write.
        let answer = match self {
            Self::ValidateApiAccessToken => validate_api_access_token(app, request).await,
            Self::ValidateRefreshToken => validate_refresh_token(app, request).await,
            Self::CreateRefreshToken => Box::pin(create_refresh_token(app, client, request)).await,
            Self::RegenRefreshToken => Box::pin(regen_refresh_token(app, request)).await,
            Self::CreateApiAccessToken => Box::pin(create_api_access_token(app, request)).await,
            Self::RevokeApiAccessTokens => Box::pin(revoke_api_access_tokens(app, request)).await,
        };
        answer.into_response()
    }
}

/// The API's routes.
pub fn routes() -> Router<Arc<AppState>> {
    let mut router = Router::new();
    for op in Operation::ALL {
        let run = move |State(app): State<Arc<AppState>>,
                        client: Option<Extension<Peer>>,
                        request: Request| async move {
            op.run(&app, client.map(|c| c.0), request).await
        };
        router = router.route(&op.path(), post(run));
    }
    router.route("/openapi/api_authentication/", get(openapi))
}

/// A RefreshToken as sent, fields in the order real servers send them.
#[derive(Serialize)]
struct RefreshTokenBody<'a> {
    user_id: i64,
    created_at: ApiTime,
    token_expires_at: ApiTime,
    token_status: &'static str,
    last_used_at: Option<ApiTime>,
    name: &'a str,
    refresh_token: &'a str,
}

/// An AccessToken as sent.
#[derive(Serialize)]
struct AccessTokenBody<'a> {
    user_id: i64,
    created_at: ApiTime,
    token_expires_at: ApiTime,
    token_status: &'static str,
    api_access_token: &'a str,
}

fn refresh_response(
    status: StatusCode,
    row: &RefreshTokenRow,
    value: &str,
    now: time::OffsetDateTime,
) -> Response {
    json_with(
        status,
        &RefreshTokenBody {
            user_id: row.user_id,
            created_at: ApiTime::new(row.created_at),
            token_expires_at: ApiTime::new(row.expires_at),
            token_status: row.status(now).as_str(),
            last_used_at: row.last_used_at.map(ApiTime::new),
            name: &row.name,
            refresh_token: value,
        },
    )
}

fn access_response(
    status: StatusCode,
    row: &AccessTokenRow,
    value: &str,
    now: time::OffsetDateTime,
) -> Response {
    json_with(
        status,
        &AccessTokenBody {
            user_id: row.user_id,
            created_at: ApiTime::new(row.created_at),
            token_expires_at: ApiTime::new(row.expires_at),
            token_status: row.status(now).as_str(),
            api_access_token: value,
        },
    )
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
    app: &AppState,
    client: Option<Peer>,
    request: Request,
) -> Result<Response, ApiError> {
    // The request taken whole: extracting a HeaderMap would copy every header.
    let (parts, body) = request.into_parts();
    let fields = read_fields(&parts.headers, body, app.body_limit).await?;
    fields.require_with(&["username", "password", "name"], &["password"])?;
    let username = fields.text("username")?.to_owned();
    // An empty password is a wrong password (401), never a missing field: it goes through
    // the same verification, and the same throttle, as any other.
    let password = fields.text_or_empty("password")?.to_owned();
    let name = fields.text("name")?.to_owned();

    let user = login(app, Client::at(client.map(|c| c.ip)), &username, password).await?;

    let value = new_token(token::REFRESH_TOKEN_BYTES)?;
    let digest = token::digest(&value);
    let now = app.clock.now();
    let row = app
        .store
        .write(move |tx| tx.create_refresh_token(user.id, &name, &digest, now))
        .await?;
    Ok(refresh_response(StatusCode::CREATED, &row, &value, now))
}

/// Checks a username and password, under the login throttle; the user when they match.
/// Shared by the API and the web page, so a failed sign-in counts the same wherever it is.
/// Failed logins and the lockouts they begin are logged with the client's address and the
/// username as sent, never the password.
pub async fn login(
    app: &AppState,
    client: Client,
    username: &str,
    password: String,
) -> Result<crate::store::User, ApiError> {
    let attempt = app
        .throttle
        .begin(username, client)
        .await
        .map_err(|why| match why {
            NotNow::Locked(secs) => ApiError::TooManyAttempts(secs),
            // Kept waiting by the account's other logins in flight: busy, not locked.
            NotNow::Busy => ApiError::Unavailable(1),
        })?;
    let user = match app.store.read(|r| r.find_user(username)) {
        Ok(user) => user,
        Err(e) => {
            // No verdict: an unavailable store must not count against the user.
            attempt.undecided();
            return Err(e.into());
        }
    };
    if user.as_ref().is_some_and(|u| u.sso) {
        // SSO accounts have no password here; the vendor sends them to the web UI. Not a
        // failed guess, so it is not counted.
        attempt.undecided();
        return Err(ApiError::SsoUser);
    }
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let turn = Turn {
        client: client.ip.map(crate::peer::client_group),
        first: attempt.recognised(),
    };
    // An unknown user is checked against the dummy hash: the same cost and the same answer.
    match (app.passwords.verify(stored, password, turn).await, user) {
        (Ok(true), Some(u)) => {
            attempt.succeeded();
            Ok(u)
        }
        (Ok(_), _) => {
            let lockout = attempt.failed();
            let who = client
                .ip
                .map_or_else(|| "in-process".to_owned(), |ip| ip.to_string());
            // Debug formatting: a username with line breaks cannot forge log lines.
            tracing::warn!(client = %who, user = ?username, "failed login");
            if let Some(l) = lockout {
                tracing::warn!(
                    client = %who,
                    user = ?username,
                    locked = l.what,
                    seconds = l.seconds,
                    "login lockout"
                );
            }
            Err(ApiError::Unauthorized(BAD_CREDENTIALS))
        }
        (Err(e @ ApiError::Unavailable(_)), _) => {
            // Shed by the hashing queue: nothing judged, but it counts against the address.
            attempt.shed();
            Err(e)
        }
        (Err(e), _) => {
            attempt.undecided();
            Err(e)
        }
    }
}

/// The `refresh_token` and `user_id` fields that four endpoints take.
async fn refresh_fields(app: &AppState, request: Request) -> Result<(String, i64), ApiError> {
    let (parts, body) = request.into_parts();
    let fields = read_fields(&parts.headers, body, app.body_limit).await?;
    fields.require(&["refresh_token", "user_id"])?;
    Ok((fields.text("refresh_token")?.to_owned(), fields.user_id()?))
}

/// `POST /integration/v1/validateRefreshToken/`
pub async fn validate_refresh_token(
    app: &AppState,
    request: Request,
) -> Result<Response, ApiError> {
    let (value, user_id) = refresh_fields(app, request).await?;
    let digest = token::digest(&value);
    let row = app
        .store
        .read(|r| r.find_refresh_token(&digest, user_id))?
        .ok_or(ApiError::Unauthorized(REFRESH_INVALID))?;
    let now = app.clock.now();
    match row.status(now) {
        TokenStatus::Active => Ok(refresh_response(StatusCode::OK, &row, &value, now)),
        _ => Err(ApiError::Unauthorized(REFRESH_DEAD)),
    }
}

/// `POST /integration/v1/regenRefreshToken/`
pub async fn regen_refresh_token(app: &AppState, request: Request) -> Result<Response, ApiError> {
    let (old, user_id) = refresh_fields(app, request).await?;
    let old_digest = token::digest(&old);
    let value = new_token(token::REFRESH_TOKEN_BYTES)?;
    let new_digest = token::digest(&value);
    let now = app.clock.now();
    let row = app
        .store
        .write(move |tx| tx.regenerate_refresh_token(&old_digest, user_id, &new_digest, now))
        .await?
        .map_err(refusal)?;
    Ok(refresh_response(StatusCode::OK, &row, &value, now))
}

/// `POST /integration/v1/createAPIAccessToken/`
pub async fn create_api_access_token(
    app: &AppState,
    request: Request,
) -> Result<Response, ApiError> {
    let (refresh, user_id) = refresh_fields(app, request).await?;
    let refresh_digest = token::digest(&refresh);
    let value = new_token(token::ACCESS_TOKEN_BYTES)?;
    let access_digest = token::digest(&value);
    let now = app.clock.now();
    let row = app
        .store
        .write(move |tx| tx.create_access_token(&refresh_digest, user_id, &access_digest, now))
        .await?
        .map_err(refusal)?;
    Ok(access_response(StatusCode::CREATED, &row, &value, now))
}

/// `POST /integration/v1/validateAPIAccessToken/`
pub async fn validate_api_access_token(
    app: &AppState,
    request: Request,
) -> Result<Response, ApiError> {
    // The request taken whole: extracting a HeaderMap would copy every header.
    let (parts, body) = request.into_parts();
    let fields = read_fields(&parts.headers, body, app.body_limit).await?;
    fields.require(&["api_access_token", "user_id"])?;
    let value = fields.text("api_access_token")?.to_owned();
    let user_id = fields.user_id()?;
    let digest = token::digest(&value);
    let now = app.clock.now();
    let row = app
        .store
        .access_token(&digest, user_id, now)?
        .ok_or(ApiError::Unauthorized(ACCESS_INVALID))?;
    match row.status(now) {
        TokenStatus::Active => Ok(access_response(StatusCode::OK, &row, &value, now)),
        _ => Err(ApiError::Unauthorized(ACCESS_DEAD)),
    }
}

/// `POST /integration/v1/revokeAPIAccessTokens/`
pub async fn revoke_api_access_tokens(
    app: &AppState,
    request: Request,
) -> Result<Response, ApiError> {
    let (refresh, user_id) = refresh_fields(app, request).await?;
    let digest = token::digest(&refresh);
    let now = app.clock.now();
    let count = app
        .store
        .write(move |tx| tx.revoke_access_tokens(&digest, user_id, now))
        .await?
        .map_err(refusal)?;
    tracing::info!(count, "revoked API access tokens");
    Ok(json_with(
        StatusCode::OK,
        &serde_json::json!({"detail": "Successfully revoked API access tokens."}),
    ))
}

/// `GET /openapi/api_authentication/`: the contract this server implements.
pub async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/yaml"),
        )],
        crate::swagger::OPENAPI_YAML,
    )
        .into_response()
}
