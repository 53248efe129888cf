//! `expiry.lifespan`.

use super::{CheckInfo, Context, Finding, Findings};
use crate::duration::Span;

/// Expiry arithmetic.
pub(crate) const LIFESPAN: CheckInfo = CheckInfo::must(
    "expiry.lifespan",
    "`token_expires_at - created_at` equals the configured lifespan within the tolerance.",
)
.because(&["vendor-page"]);

/// `expiry.lifespan`.
pub fn lifespan(cx: &Context<'_>, out: &mut Findings) {
    let tolerance = cx.x.tolerance;
    for token in cx.tokens {
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
                    LIFESPAN,
                    format!(
                        "token_expires_at - created_at of this {} is off the configured lifespan ({}, from {}) by more than {tolerance}",
                        token.kind.name(),
                        token.kind.lifespan_text(token.lifespan),
                        token.lifespan_from
                    ),
                )
                .values(
                    token.kind.lifespan_text(token.lifespan),
                    token.kind.lifespan_text(actual),
                ),
            );
        }
    }
}
