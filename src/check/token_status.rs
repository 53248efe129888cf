//! `token_status.known`, `token_status.uppercase`, `token_status.agrees`, `token_status.cascade`.
//!
//! The allowed words come from the contract's enum for the status field, and the word of each
//! state from its `x-states`.

use super::ledger::Expected;
use super::{CheckInfo, Context, Finding, Findings};
use crate::spec::{Severity, States};

/// token_status is one of the documented values.
pub(crate) const KNOWN: CheckInfo = CheckInfo::must(
    "token_status.known",
    "`token_status` is ACTIVE, EXPIRED or REVOKED.",
)
.because(&["vendor-page"]);
/// token_status is upper case.
pub(crate) const UPPERCASE: CheckInfo = CheckInfo::should(
    "token_status.uppercase",
    "`token_status` is in upper case, as every real server sends.",
);
/// token_status agrees with what the case knows.
pub(crate) const AGREES: CheckInfo = CheckInfo::must(
    "token_status.agrees",
    "`token_status` agrees with what the case knows of the token (revoked, expired, active).",
)
.because(&[
    "vendor-page",
    "client:allie-sdk",
    "client:alation-ai-agent-sdk",
]);
/// Access tokens of a regenerated refresh token are reported revoked.
pub(crate) const CASCADE: CheckInfo = CheckInfo::should(
    "token_status.cascade",
    "Access tokens minted from a regenerated refresh token are no longer reported ACTIVE.",
);

/// The reported status word, with the values the contract allows for it.
fn reported<'a>(cx: &'a Context<'_>) -> Option<(&'a str, &'a [String])> {
    let field = cx.documented?.token.as_ref()?.status.as_deref()?;
    let word = cx.json()?.get(field)?.as_str()?;
    Some((word, cx.enum_values(field).unwrap_or_default()))
}

/// `token_status.known`.
pub fn known(cx: &Context<'_>, out: &mut Findings) {
    let Some((word, allowed)) = reported(cx) else {
        return;
    };
    if !allowed.iter().any(|a| a == word) {
        let canonical: Vec<&str> = allowed
            .iter()
            .filter(|a| !a.chars().any(|c| c.is_ascii_lowercase()))
            .map(String::as_str)
            .collect();
        out.push(
            Finding::new(KNOWN, "`token_status` is not one of the three values")
                .values(either(&canonical), word),
        );
    }
}

/// "A, B or C".
fn either(words: &[&str]) -> String {
    match words.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => (*last).to_owned(),
        None => String::new(),
    }
}

/// `token_status.uppercase`.
pub fn uppercase(cx: &Context<'_>, out: &mut Findings) {
    let Some((word, allowed)) = reported(cx) else {
        return;
    };
    if allowed.iter().any(|a| a == word) && word.chars().any(|c| c.is_ascii_lowercase()) {
        out.push(
            Finding::new(UPPERCASE, "`token_status` is not in upper case")
                .values(word.to_ascii_uppercase(), word),
        );
    }
}

/// Which words are right for what the case expects, and the check that judges a mismatch.
fn judgement(expected: Expected, s: &States) -> (Vec<&str>, CheckInfo) {
    match expected {
        Expected::Active => (vec![&s.active], AGREES),
        Expected::Expired => (vec![&s.expired], AGREES),
        Expected::Revoked(Severity::Must) => (vec![&s.revoked], AGREES),
        Expected::Revoked(Severity::Should) => (vec![&s.revoked, &s.expired], CASCADE),
        Expected::Dead => (vec![&s.expired, &s.revoked], AGREES),
    }
}

/// Compares the reported status with the ledger's expectation; reports through `check` only.
fn compare(cx: &Context<'_>, check: CheckInfo, out: &mut Findings) {
    let (Some((word, allowed)), Some(states)) =
        (reported(cx), cx.documented.and_then(|d| d.states.as_ref()))
    else {
        return;
    };
    if !allowed.iter().any(|a| a == word) {
        return;
    }
    for token in cx.tokens {
        let Some(expected) = cx.ledger.expected(&token.value, cx.x.tolerance) else {
            continue;
        };
        let (right, judge) = judgement(expected, states);
        if judge != check || right.iter().any(|r| r.eq_ignore_ascii_case(word)) {
            continue;
        }
        out.push(
            Finding::new(
                check,
                format!(
                    "`token_status` of this {} contradicts what the earlier exchanges did to it",
                    token.kind.name()
                ),
            )
            .values(right.join(" or "), word),
        );
    }
}

/// `token_status.agrees`.
pub fn agrees(cx: &Context<'_>, out: &mut Findings) {
    compare(cx, AGREES, out);
}

/// `token_status.cascade`.
pub fn cascade(cx: &Context<'_>, out: &mut Findings) {
    compare(cx, CASCADE, out);
}
