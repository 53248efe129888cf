//! JSON answers, compact as real servers send them, with their content type. Shared by the
//! API, the control protocol and the error type, so none of them imports another.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A 200 JSON answer.
pub fn json(value: &impl Serialize) -> Response {
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

/// A JSON answer with another status.
pub fn json_with(status: StatusCode, value: &impl Serialize) -> Response {
    (status, json(value)).into_response()
}
