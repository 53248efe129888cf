//! What every request goes through before and after its handler.
//!
//! - **Slots.** One address may have at most [`MAX_IN_FLIGHT_PER_ADDRESS`] requests under way;
//!   past it, 503 at once. A request takes one of the [`MAX_IN_FLIGHT`] global slots only once
//!   its whole body has arrived (read here, under the size limit and the body timeout), so
//!   clients that declare a body and never send it hold their own address's slots, not
//!   everyone's. Past the global slots, 503 at once instead of a queue.
//! - **Time.** A handler that takes longer than [`REQUEST_TIMEOUT`] is answered 503.
//! - **Answers.** `Cache-Control: no-store` on every response (bodies carry tokens, and errors
//!   must not be cached either), and with `--log-requests` one log line with method, path,
//!   status and time. Bodies are never logged: they carry passwords and tokens.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};

use crate::error::ApiError;
use crate::peer::Peer;
use crate::state::AppState;

/// Requests past their body, in all, at most.
pub const MAX_IN_FLIGHT: usize = 1024;

/// Requests under way from one address at most, bodies still arriving included.
pub const MAX_IN_FLIGHT_PER_ADDRESS: usize = 128;

/// How long a handler may take before the request is answered 503.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The global slots and the per-address counts.
pub struct Slots {
    global: tokio::sync::Semaphore,
    per_address: Mutex<HashMap<IpAddr, usize>>,
    per_address_max: usize,
}

impl Default for Slots {
    fn default() -> Self {
        Self::new(MAX_IN_FLIGHT, MAX_IN_FLIGHT_PER_ADDRESS)
    }
}

/// A request counted against its address until dropped.
struct AddressSlot<'s> {
    slots: &'s Slots,
    ip: IpAddr,
}

impl Drop for AddressSlot<'_> {
    fn drop(&mut self) {
        let mut map = self
            .slots
            .per_address
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

impl Slots {
    /// `global` slots, and `per_address` requests under way per address.
    pub fn new(global: usize, per_address: usize) -> Self {
        Self {
            global: tokio::sync::Semaphore::new(global),
            per_address: Mutex::new(HashMap::new()),
            per_address_max: per_address,
        }
    }

    fn address(&self, ip: IpAddr) -> Option<AddressSlot<'_>> {
        let mut map = self
            .per_address
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let n = map.entry(ip).or_insert(0);
        if *n >= self.per_address_max {
            return None;
        }
        *n += 1;
        Some(AddressSlot { slots: self, ip })
    }
}

/// The error as the part of the server the request was for answers it: a page for the token
/// page, the Error shape for everything else.
fn refusal(path: &str, e: ApiError) -> Response {
    if path.starts_with(crate::web::PAGE) {
        crate::web::page_error(e).into_response()
    } else {
        e.into_response()
    }
}

/// The layer every request goes through (see the module's documentation).
pub async fn policy(State(app): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let mut response = admit_and_run(&app, &path, request, next).await;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if app.log_requests {
        tracing::info!(
            %method,
            path = %path.chars().take(200).collect::<String>(),
            status = response.status().as_u16(),
            micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "request"
        );
    }
    response
}

async fn admit_and_run(app: &AppState, path: &str, request: Request, next: Next) -> Response {
    // In-process requests (the tests, the harness's embedded server) have no address.
    let peer = request.extensions().get::<Peer>().copied();
    let _address = match peer {
        Some(p) => match app.slots.address(p.ip) {
            Some(slot) => Some(slot),
            None => return refusal(path, ApiError::Unavailable(1)),
        },
        None => None,
    };
    let (parts, body) = request.into_parts();
    let bytes = match crate::body::read_limited(&parts.headers, body, app.body_limit).await {
        Ok(b) => b,
        Err(e) => return refusal(path, e),
    };
    let request = Request::from_parts(parts, Body::from(bytes));
    let Ok(_slot) = app.slots.global.try_acquire() else {
        return refusal(path, ApiError::Unavailable(1));
    };
    tokio::time::timeout(REQUEST_TIMEOUT, next.run(request))
        .await
        .unwrap_or_else(|_| refusal(path, ApiError::Unavailable(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_cannot_take_more_than_its_share() {
        let slots = Slots::new(10, 2);
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let first = slots.address(a).expect("first");
        let _second = slots.address(a).expect("second");
        assert!(slots.address(a).is_none());
        assert!(
            slots.address(b).is_some(),
            "another address is not affected"
        );
        drop(first);
        assert!(
            slots.address(a).is_some(),
            "a finished request frees its slot"
        );
    }
}
