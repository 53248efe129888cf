//! What every request goes through before and after its handler.
//!
//! - **Slots** ([`crate::slots`]). One address may have at most
//!   [`MAX_IN_FLIGHT_PER_ADDRESS`](crate::slots::MAX_IN_FLIGHT_PER_ADDRESS) requests under
//!   way; past it, 503 at once. A request takes one of the
//!   [`MAX_IN_FLIGHT`](crate::slots::MAX_IN_FLIGHT) global slots only once its whole body has
//!   arrived (read here, under the size limit and the body timeout), so
//!   clients that declare a body and never send it hold their own address's slots, not
//!   everyone's. Past the global slots, 503 at once instead of a queue.
//! - **Time.** A handler that takes longer than [`REQUEST_TIMEOUT`] is answered 503.
//! - **Answers.** `Cache-Control: no-store` on every response (bodies carry tokens, and errors
//!   must not be cached either) and `X-Content-Type-Options: nosniff` (a JSON answer or a
//!   refusal is never to be run as a script or rendered as a page), and with `--log-requests`
//!   one log line with the client's address, method, path, status and time. Bodies are never
//!   logged: they carry passwords and tokens.

use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};

use crate::error::ApiError;
use crate::peer::Peer;
use crate::state::AppState;

/// How long a handler may take before the request is answered 503.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The error as the part of the server the request was for answers it: a page for the token
/// page, the Error shape for everything else.
fn refusal(page: bool, e: ApiError) -> Response {
    if page {
        crate::web::page_error(e).into_response()
    } else {
        e.into_response()
    }
}

/// The layer every request goes through (see the module's documentation), as the router
/// runs it.
pub async fn policy(State(app): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<Peer>().copied();
    guard(&app, peer, request, |request| next.run(request)).await
}

/// What [`policy`] does around `handler`, for a request from `peer` (`None`: in-process).
/// The accept loop calls it directly for the API's operations (`dispatch.rs`), the router
/// through [`policy`] for everything else.
pub(crate) async fn guard<B, F, H>(
    app: &AppState,
    peer: Option<Peer>,
    request: axum::http::Request<B>,
    handler: H,
) -> Response
where
    B: HttpBody<Data = Bytes> + Send + Unpin + 'static,
    H: FnOnce(Request) -> F,
    F: Future<Output = Response>,
{
    // What the log line needs, taken only when there is one: validation is most of the
    // traffic, and a clock read and a copy of the path are a measurable part of it.
    let logged = app.log_requests.then(|| {
        (
            Instant::now(),
            request.uri().path().chars().take(200).collect::<String>(),
            request.method().clone(),
        )
    });
    let page = request.uri().path().starts_with(crate::web::PAGE);
    let mut response = admit_and_run(app, page, peer, request, handler).await;
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some((started, path, method)) = logged {
        tracing::info!(
            client = %peer.map_or_else(|| "in-process".to_owned(), |p| p.ip.to_string()),
            %method,
            %path,
            status = response.status().as_u16(),
            micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "request"
        );
    }
    response
}

async fn admit_and_run<B, F, H>(
    app: &AppState,
    page: bool,
    peer: Option<Peer>,
    request: axum::http::Request<B>,
    handler: H,
) -> Response
where
    B: HttpBody<Data = Bytes> + Send + Unpin + 'static,
    H: FnOnce(Request) -> F,
    F: Future<Output = Response>,
{
    // In-process requests (the tests, the harness's embedded server) have no address.
    let _address = match peer {
        Some(p) => match app.slots.address(p.ip) {
            Some(slot) => Some(slot),
            None => return refusal(page, ApiError::Unavailable(1)),
        },
        None => None,
    };
    let (parts, body) = request.into_parts();
    let bytes = match crate::body::read_limited(&parts.headers, body, app.body_limit).await {
        Ok(b) => b,
        Err(e) => return refusal(page, e),
    };
    let request = Request::from_parts(parts, Body::from(bytes));
    let Some(_slot) = app.slots.global() else {
        return refusal(page, ApiError::Unavailable(1));
    };
    let work = pin!(handler(request));
    crate::deadline::within(REQUEST_TIMEOUT, work)
        .await
        .unwrap_or_else(|| refusal(page, ApiError::Unavailable(1)))
}
