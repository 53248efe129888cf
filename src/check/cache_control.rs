//! `cache_control.no_store`.

use super::ledger::Seen;
use super::{CACHE_NO_STORE, Exchange, Finding};

pub(super) fn check(x: &Exchange<'_>, seen: &[Seen], out: &mut Vec<Finding>) {
    if seen.is_empty() {
        return;
    }
    let ok = x.cache_control.is_some_and(|v| {
        v.split(',')
            .any(|d| d.trim().eq_ignore_ascii_case("no-store"))
    });
    if !ok {
        out.push(
            Finding::new(CACHE_NO_STORE, "a response carrying a token may be cached").values(
                "Cache-Control: no-store",
                x.cache_control.unwrap_or("(none)"),
            ),
        );
    }
}
