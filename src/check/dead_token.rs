//! `dead_token.refused` and `dead_token.unusable`.

use super::ledger::Expected;
use super::{CheckInfo, Context, Finding, Findings};
use crate::spec::Severity;

/// A dead token is refused, not answered 200 with a dead status.
pub(crate) const REFUSED: CheckInfo = CheckInfo::should(
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
                        cx.x.status()
                    ),
                )
                .values("401", format!("{} {word}", cx.x.status())),
            );
        }
    }
}

/// A dead token does nothing.
pub(crate) const UNUSABLE: CheckInfo = CheckInfo::must(
    "dead_token.unusable",
    "A token revoked (by regeneration, revokeAPIAccessTokens or an administrator), or reported or known expired, mints, regenerates and revokes nothing: the call is refused. Regeneration may renew an expired token that is not revoked.",
)
.because(&["vendor-page"]);

/// `dead_token.unusable`.
pub fn unusable(cx: &Context<'_>, out: &mut Findings) {
    let op = cx.x.operation;
    let Some(req) = op.request_token.as_ref().filter(|_| cx.success()) else {
        return;
    };
    if op.effects.is_empty() {
        return;
    }
    let Some(value) = cx.x.fields.get(&req.value).and_then(|v| v.as_str()) else {
        return;
    };
    let renews = op.issues() == Some(req.kind);
    let severity = match cx.ledger.expected(value, cx.x.tolerance) {
        Some(Expected::Revoked(s)) => s,
        Some(Expected::Dead) => Severity::Must,
        Some(Expected::Expired) if !renews => Severity::Must,
        _ => return,
    };
    let mut f = Finding::new(
        UNUSABLE,
        format!(
            "this {} is no longer usable, and {} accepted it",
            req.kind.name(),
            op.id
        ),
    )
    .values("a refusal (401)", cx.x.status().to_string());
    f.severity = severity;
    out.push(f);
}
