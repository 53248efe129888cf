//! The one error type of the HTTP layer. Every error leaves as the API's Error shape,
//! compact JSON `{"detail": "...", "code": "..."}`; internal errors say nothing about internals.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The 401 message for an unknown token, or a token sent with another user's `user_id` (observed).
pub const REFRESH_INVALID: &str = "Refresh token provided is invalid.";
/// The 401 message for an expired or revoked refresh token (observed).
pub const REFRESH_DEAD: &str = "Refresh token provided is expired or revoked.";
/// The 401 message for an unknown access token (SDK fixture).
pub const ACCESS_INVALID: &str = "API Access Token provided is invalid.";
/// The 401 message for an expired or revoked access token (never published; decided here).
pub const ACCESS_DEAD: &str = "API Access Token provided is expired or revoked.";
/// The 401 message for a wrong password and an unknown user alike.
pub const BAD_CREDENTIALS: &str = "Invalid username or password.";

/// An error answer.
#[derive(Debug)]
pub enum ApiError {
    /// 400: the body is malformed or a field is missing or of the wrong type.
    BadRequest(String),
    /// 401, with one of the messages above.
    Unauthorized(&'static str),
    /// 403: an SSO user tried to create a refresh token.
    SsoUser,
    /// 404: no such path.
    NotFound,
    /// 405: the path exists, the method does not.
    MethodNotAllowed,
    /// 413: the body is over the limit (in bytes).
    PayloadTooLarge(usize),
    /// 415: the content type is not one of the three accepted.
    UnsupportedMediaType,
    /// 429: too many failed logins; retry after this many seconds.
    TooManyAttempts(u64),
    /// 503: the server cannot serve now (busy, or its storage faulty); retry after this many
    /// seconds.
    Unavailable(u64),
    /// 500: logged with its cause, answered without it.
    Internal(String),
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::SsoUser => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::BadRequest(m) => m.clone(),
            Self::Unauthorized(m) => (*m).to_owned(),
            Self::SsoUser => "Users who sign in through SSO cannot create a refresh token with \
                              this API; create it in the web interface at /account/auth."
                .to_owned(),
            Self::NotFound => "Not found.".to_owned(),
            Self::MethodNotAllowed => "Method not allowed; these endpoints take POST.".to_owned(),
            Self::PayloadTooLarge(limit) => {
                format!("Request body is larger than the limit of {limit} bytes.")
            }
            Self::UnsupportedMediaType => "Unsupported content type; send application/json, \
                                           application/x-www-form-urlencoded or multipart/form-data."
                .to_owned(),
            Self::TooManyAttempts(secs) => {
                format!("Too many failed login attempts; try again in {secs} seconds.")
            }
            Self::Unavailable(secs) => {
                format!("The service is busy or its storage unavailable; try again in {secs} seconds.")
            }
            Self::Internal(_) => "Internal server error.".to_owned(),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Unavailable(cause) => {
                // Ours (disk, lock, queue), never request data.
                tracing::warn!(%cause, "storage unavailable");
                Self::Unavailable(STORAGE_RETRY_SECS)
            }
            crate::store::StoreError::Internal(cause) => Self::Internal(cause),
        }
    }
}

/// How long a client is told to wait after a storage fault.
const STORAGE_RETRY_SECS: u64 = 2;

/// The Error shape, keys in the order real servers send them.
#[derive(serde::Serialize)]
struct ErrorBody {
    detail: String,
    code: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Self::Internal(cause) = &self {
            // The cause is ours (database, CSPRNG, a join error), never request data.
            tracing::error!(%cause, "internal error");
        }
        // The code is the status followed by three zeros, as in the observed "401000".
        let body = ErrorBody {
            detail: self.detail(),
            code: format!("{}000", status.as_u16()),
        };
        let mut response = crate::respond::json_with(status, &body);
        if let Self::TooManyAttempts(secs) | Self::Unavailable(secs) = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
