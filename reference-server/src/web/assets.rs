//! The page's two static assets.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

pub(super) fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

pub(super) async fn style() -> Response {
    asset("text/css; charset=utf-8", include_str!("style.css"))
}

pub(super) async fn copy_js() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("copy.js"))
}
