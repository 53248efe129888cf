//! JSON answers, compact as real servers send them, with their content type. Shared by the
//! API, the control protocol and the error type, so none of them imports another.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A 200 JSON answer.
pub fn json(value: &impl Serialize) -> Response {
    // Room for a token's answer from the start, rather than growing into it.
    let mut bytes = Vec::with_capacity(256);
    match serde_json::to_writer(&mut bytes, value) {
        Ok(()) => (
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

/// A JSON answer with another status.
pub fn json_with(status: StatusCode, value: &impl Serialize) -> Response {
    (status, json(value)).into_response()
}

/// Adds the headers every page of the web interface (the token page, Swagger UI) carries,
/// with its own Content-Security-Policy.
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
