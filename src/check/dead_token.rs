//! `dead_token.refused`.

use super::ledger::Expected;
use super::{CheckInfo, Context, Finding, Findings};

/// A dead token is refused, not answered 200 with a dead status.
pub const REFUSED: CheckInfo = CheckInfo::should(
    "dead_token.refused",
    "A dead token is refused with 401, not answered 2xx with EXPIRED or REVOKED (clients that look only at the status take any 2xx as valid).",
);

/// `dead_token.refused`.
pub fn refused(cx: &Context<'_>, out: &mut Findings) {
    let Some(doc) = cx.documented.filter(|_| cx.success()) else {
        return;
    };
    let (Some(states), Some(field)) = (
        doc.states.as_ref(),
        doc.token.as_ref().and_then(|t| t.status.as_deref()),
    ) else {
        return;
    };
    let Some(word) = cx
        .json()
        .and_then(|j| j.get(field))
        .and_then(|w| w.as_str())
    else {
        return;
    };
    let reports_dead =
        word.eq_ignore_ascii_case(&states.expired) || word.eq_ignore_ascii_case(&states.revoked);
    for token in cx.tokens.iter().filter(|t| !t.is_new) {
        let dead = cx
            .ledger
            .expected(&token.value, cx.x.tolerance)
            .is_some_and(Expected::is_dead);
        if dead && reports_dead {
            out.push(
                Finding::new(
                    REFUSED,
                    format!(
                        "this {} is no longer usable, and {} answered {} with `{word}` instead of refusing it",
                        token.kind.name(),
                        cx.x.operation.id,
                        cx.x.status
                    ),
                )
                .values("401", format!("{} {word}", cx.x.status)),
            );
        }
    }
}
