//! `cache_control.no_store`.

use super::{CheckInfo, Context, Finding, Findings};

/// Responses carrying tokens are not cached.
pub(crate) const NO_STORE: CheckInfo = CheckInfo::should(
    "cache_control.no_store",
    "Responses that carry a token send `Cache-Control: no-store`.",
);

/// `cache_control.no_store`.
pub fn no_store(cx: &Context<'_>, out: &mut Findings) {
    if cx.tokens.is_empty() {
        return;
    }
    let value = cx.x.header("cache-control");
    let ok = value.is_some_and(|v| {
        v.split(',')
            .any(|d| d.trim().eq_ignore_ascii_case("no-store"))
    });
    if !ok {
        out.push(
            Finding::new(NO_STORE, "a response carrying a token may be cached")
                .values("Cache-Control: no-store", value.unwrap_or("(none)")),
        );
    }
}
