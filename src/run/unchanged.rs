//! After a request the case expects refused (`refused:`), whether it changed nothing. What a
//! refused request could have changed is what the operation changes when it succeeds, as its
//! `x-token-effects` say: the token the request names (revoked, replaced, minted from) and,
//! where the operation revokes them, that token's access tokens. Each of those the case holds
//! and expects alive is validated again, and must still be usable, with the same owner,
//! creation and expiry, and, where the target's validation leaves it alone, the same last use.
//! An operation without effects (a validation) changes nothing when it succeeds, so nothing is
//! checked after its refusals. A request naming a value near a token (a probe of a near miss)
//! names, for this purpose, every held token of its kind: a server that took the near value
//! for the token would have changed that one.
//!
//! These requests are the run's own (like the pool's): they are not steps, so they add nothing
//! to the case's snapshot, and only this check judges them.

use serde_json::{Map, Value};

use crate::check::{Finding, Held, REFUSAL_UNCHANGED, TRANSPORT, parse_timestamp};
use crate::duration::Span;
use crate::run::case::CaseState;
use crate::spec::{Effect, Operation, Spec, TokenKind, TokenShape};

/// The canonical word of the active state, from the contract's `x-states` on the answer of the
/// operation that validates `kind`.
fn active_word(spec: &Spec, kind: TokenKind) -> Option<&str> {
    let op = spec.validation(kind)?;
    op.responses
        .values()
        .find_map(|d| d.states.as_ref())
        .map(|s| s.active.as_str())
}

/// What changed between two token objects of one token; empty when nothing did. `used` says
/// whether the last-use field counts: only when the target's own validation leaves it alone.
fn changes(
    shape: &TokenShape,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
    tolerance: Span,
    used: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    let show = |v: Option<&Value>| v.map_or_else(|| "(absent)".to_owned(), Value::to_string);
    if let Some(owner) = &shape.owner
        && before.get(owner) != after.get(owner)
    {
        out.push(format!(
            "`{owner}` changed from {} to {}",
            show(before.get(owner)),
            show(after.get(owner))
        ));
    }
    let times = [shape.created.as_ref(), shape.expires.as_ref()];
    for field in times.into_iter().flatten() {
        let at = |m: &Map<String, Value>| {
            m.get(field)
                .and_then(Value::as_str)
                .and_then(parse_timestamp)
        };
        if let (Some(a), Some(b)) = (at(before), at(after))
            && (b - a).abs() > tolerance.to_time()
        {
            out.push(format!(
                "`{field}` moved from {} to {}",
                show(before.get(field)),
                show(after.get(field))
            ));
        }
    }
    if let Some(field) = shape.used.as_ref().filter(|_| used) {
        let at = |m: &Map<String, Value>| match m.get(field) {
            Some(Value::String(s)) => parse_timestamp(s).map(Some),
            Some(Value::Null) => Some(None),
            _ => None,
        };
        // A millisecond absorbs a server that writes fewer digits in one answer than another.
        let moved = match (at(before), at(after)) {
            (Some(Some(a)), Some(Some(b))) => (b - a).abs() > time::Duration::milliseconds(1),
            (Some(a), Some(b)) => a.is_some() != b.is_some(),
            _ => false,
        };
        if moved {
            out.push(format!(
                "`{field}` moved from {} to {}: something was minted from it",
                show(before.get(field)),
                show(after.get(field))
            ));
        }
    }
    out
}

/// The held tokens a refused request of `op` with these fields could have changed.
fn exposed(state: &CaseState<'_>, op: &Operation, request: &Map<String, Value>) -> Vec<Held> {
    let Some(token) = op.request_token.as_ref().filter(|_| !op.effects.is_empty()) else {
        return Vec::new();
    };
    let named = request.get(&token.value).and_then(Value::as_str);
    let ledger = &state.ledger;
    let held = ledger.held_alive(state.env.target.tolerance);
    let is_named = |h: &Held| {
        h.kind == token.kind && named.is_none_or(|n| !ledger.knows(n) || n.trim() == h.value)
    };
    let named_values: Vec<String> = held
        .iter()
        .filter(|h| is_named(h))
        .map(|h| h.value.clone())
        .collect();
    let (_, children) = effects_on(op, &token.value);
    held.into_iter()
        .filter(|h| {
            is_named(h) || (children && h.parent.as_ref().is_some_and(|p| named_values.contains(p)))
        })
        .collect()
}

/// Whether a successful call of `op` revokes the token in request field `field`, and the
/// access tokens minted from it.
fn effects_on(op: &Operation, field: &str) -> (bool, bool) {
    let (mut itself, mut children) = (false, false);
    for e in &op.effects {
        match e {
            Effect::Revoke { field: f, .. } => itself |= f == field,
            Effect::RevokeAccessTokensOf { field: f, .. } => children |= f == field,
            Effect::Issues(_) => {}
        }
    }
    (itself, children)
}

/// Validates the tokens a refused request of `op` could have changed; the findings, for the
/// step that sent it.
pub(super) async fn check(
    state: &mut CaseState<'_>,
    op: &Operation,
    request: &Map<String, Value>,
) -> Vec<Finding> {
    let env = state.env;
    let tolerance = env.target.tolerance;
    let api = env.api();
    let operation = &op.id;
    let mut out = Vec::new();
    for held in exposed(state, op, request) {
        let (value, kind, before) = (held.value, held.kind, held.body);
        let Some(shape) = env.spec.token_shape(kind) else {
            continue;
        };
        let answer = match api.validate(kind, shape, &before).await {
            Ok(a) => a,
            Err(e) => {
                out.push(Finding::new(
                    TRANSPORT,
                    format!("could not check the case's tokens after the refusal: {e}"),
                ));
                break;
            }
        };
        let what = format!("the {} the case holds", kind.name());
        let after = match answer.body {
            Some(b) if answer.ok() => b,
            _ => {
                out.push(Finding::new(
                    REFUSAL_UNCHANGED,
                    format!(
                        "after {operation} refused the request, {what} is refused ({}): the refused request revoked or replaced it",
                        answer.status
                    ),
                ).values("still usable", answer.status.to_string()));
                continue;
            }
        };
        let word = shape
            .status
            .as_ref()
            .and_then(|f| after.get(f))
            .and_then(Value::as_str);
        let active = active_word(env.spec, kind);
        if let (Some(word), Some(active)) = (word, active)
            && !word.eq_ignore_ascii_case(active)
        {
            out.push(
                Finding::new(
                    REFUSAL_UNCHANGED,
                    format!("after {operation} refused the request, {what} is reported `{word}`"),
                )
                .values(active, word),
            );
        }
        let used = held.use_current && env.fixtures.validation_leaves_last_use;
        for change in changes(shape, &before, &after, tolerance, used) {
            out.push(Finding::new(
                REFUSAL_UNCHANGED,
                format!("after {operation} refused the request, {what} is not as it was: {change}"),
            ));
        }
        state.ledger.reread(&value, after);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shape() -> TokenShape {
        TokenShape {
            kind: TokenKind::Refresh,
            value: "refresh_token".into(),
            owner: Some("user_id".into()),
            created: Some("created_at".into()),
            expires: Some("token_expires_at".into()),
            status: Some("token_status".into()),
            used: Some("last_used_at".into()),
            name: None,
        }
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn owner_times_and_last_use_are_compared() {
        let before = obj(
            json!({"user_id": 1, "created_at": "2026-01-01T00:00:00.000000Z",
            "token_expires_at": "2026-03-02T00:00:00.000000Z", "last_used_at": null}),
        );
        let same = obj(
            json!({"user_id": 1, "created_at": "2026-01-01T00:00:00.000Z",
            "token_expires_at": "2026-03-02T00:00:00Z", "last_used_at": null, "extra": 5}),
        );
        assert!(changes(&shape(), &before, &same, Span::from_secs(1), true).is_empty());
        let minted = obj(json!({"user_id": 1, "created_at": "2026-01-01T00:00:00Z",
            "token_expires_at": "2026-03-02T00:00:00Z", "last_used_at": "2026-01-02T00:00:00Z"}));
        let c = changes(&shape(), &before, &minted, Span::from_secs(1), true);
        assert_eq!(c.len(), 1, "{c:?}");
        assert!(c[0].contains("last_used_at"), "{c:?}");
        assert!(
            changes(&shape(), &before, &minted, Span::from_secs(1), false).is_empty(),
            "a target whose validation moves the last use gives no evidence"
        );
        let renewed = obj(json!({"user_id": 2, "created_at": "2026-01-01T00:00:00Z",
            "token_expires_at": "2026-04-02T00:00:00Z", "last_used_at": null}));
        let c = changes(&shape(), &before, &renewed, Span::from_secs(1), true);
        assert_eq!(c.len(), 2, "{c:?}");
    }
}
