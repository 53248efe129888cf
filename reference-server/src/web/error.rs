//! What goes wrong on the page, as a page: [`WebError`] and the refusals the forms share.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::html;
use crate::error::ApiError;
use crate::store::{Refusal, StoreError};

/// What went wrong, as a page: its status, what to say, and for 429 and 503 when to retry.
pub(crate) struct WebError {
    pub(super) status: StatusCode,
    pub(super) message: String,
    pub(super) retry_after: Option<u64>,
}

impl WebError {
    pub(super) fn new(status: StatusCode, message: impl Into<String>) -> Self {
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

pub(super) type WebResult = Result<Response, WebError>;

pub(super) fn csrf_refused() -> WebError {
    WebError::new(
        StatusCode::FORBIDDEN,
        "This form has expired or did not come from this page. Reload the page and try again.",
    )
}

pub(super) fn link_refused() -> WebError {
    WebError::new(
        StatusCode::BAD_REQUEST,
        "This sign-in link does not work: it was used already, it has expired (links work for \
         10 minutes), or it was never issued. Ask for a new one.",
    )
}

pub(super) fn refused(r: Refusal, what: &str) -> WebError {
    match r {
        Refusal::Invalid => WebError::new(StatusCode::NOT_FOUND, "You have no such token."),
        Refusal::ExpiredOrRevoked => WebError::new(
            StatusCode::CONFLICT,
            format!("That token is revoked already; it cannot be {what}."),
        ),
    }
}
