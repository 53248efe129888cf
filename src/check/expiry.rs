//! `expiry.lifespan`.

use serde_json::Value;

use super::ledger::Seen;
use super::{EXPIRY_LIFESPAN, Finding};
use crate::duration::Span;

pub(super) fn check(_json: &Value, seen: &[Seen], tolerance: Span, out: &mut Vec<Finding>) {
    for token in seen {
        let (Some(created), Some(expires)) = (token.created_at, token.expires_at) else {
            continue;
        };
        let actual = Span::from_micros(
            i64::try_from((expires - created).whole_microseconds()).unwrap_or(i64::MAX),
        );
        let diff = (actual.micros() - token.lifespan.micros()).unsigned_abs();
        if diff > tolerance.micros().unsigned_abs() {
            out.push(
                Finding::new(
                    EXPIRY_LIFESPAN,
                    format!(
                        "token_expires_at - created_at of this {} is off the configured lifespan by more than {tolerance}",
                        token.kind.name()
                    ),
                )
                .values(token.lifespan.to_string(), actual.to_string()),
            );
        }
    }
}
