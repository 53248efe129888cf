//! `untouched`: a successful call changes no token but those its `x-token-effects` name. The
//! probe holds two refresh tokens of the user with an access token minted from each, calls
//! the operation on the first (or on its access token), then validates every token it holds:
//! what the effects revoke must be dead (as firmly as the effect says), everything else alive.
//! That covers the refresh token after revoking its access tokens, sibling access tokens after
//! another mint, the user's other refresh tokens after a regeneration, and the access tokens of
//! other refresh tokens after a revoke, and whatever a new operation's effects leave alone.

use serde_json::{Value, json};

use super::{Gen, Probe};
use crate::spec::{Operation, TokenKind};

pub(super) fn probes(g: &Gen<'_>, out: &mut Vec<Probe>) {
    for op in g.spec.operations.values() {
        if let Some(steps) = steps(g, op) {
            out.push(Probe {
                family: "untouched",
                operation: op.id.clone(),
                variant: "others".into(),
                title: format!(
                    "{} changes no token but those its effects name",
                    op.id
                ),
                requirement: format!(
                    "{}: after a successful call, every token the caller holds that the operation's x-token-effects do not name is unchanged",
                    op.id
                ),
                severity: "must",
                needs: Vec::new(),
                steps,
            });
        }
    }
}

/// How one held token should validate after the call.
#[derive(Clone, Copy)]
enum After {
    Alive,
    Dead(&'static str),
}

fn steps(g: &Gen<'_>, op: &Operation) -> Option<Vec<Value>> {
    let refresh = g.spec.token_shape(TokenKind::Refresh)?;
    let access = g.spec.token_shape(TokenKind::Access)?;
    let owner = refresh.owner.as_ref()?;
    let mint = g.minting(TokenKind::Access, TokenKind::Refresh)?;
    let mut steps = vec![
        json!({"borrow_refresh_token": {"capture": {
            "refresh_a": format!("body.{}", refresh.value),
            "user_id": format!("body.{owner}"),
        }}}),
        json!({"borrow_refresh_token": {"capture": {
            "refresh_b": format!("body.{}", refresh.value),
        }}}),
        g.mint_step(mint, "{{ refresh_a }}", "access_a", &access.value),
        g.mint_step(mint, "{{ refresh_b }}", "access_b", &access.value),
    ];
    let mut held = vec![
        ("refresh_a", TokenKind::Refresh, After::Alive),
        ("access_a", TokenKind::Access, After::Alive),
        ("refresh_b", TokenKind::Refresh, After::Alive),
        ("access_b", TokenKind::Access, After::Alive),
    ];
    steps.push(subject(op, &mut held)?);
    for (capture, kind, after) in held {
        steps.push(validation(g, capture, kind, after)?);
    }
    Some(steps)
}

/// The call under test, on the first token; marks in `held` what its effects revoke.
fn subject(op: &Operation, held: &mut [(&str, TokenKind, After)]) -> Option<Value> {
    Some(match (&op.request_token, &op.login) {
        (Some(t), _) => {
            let (value, kind) = match t.kind {
                TokenKind::Refresh => ("{{ refresh_a }}", TokenKind::Refresh),
                TokenKind::Access => ("{{ access_a }}", TokenKind::Access),
            };
            let (itself, children) = Gen::effects_on(op, &t.value);
            for h in held.iter_mut() {
                if h.0 == value.trim_matches(|c| c == '{' || c == '}' || c == ' ') {
                    if let Some(s) = itself {
                        h.2 = After::Dead(s);
                    }
                } else if h.0 == "access_a"
                    && kind == TokenKind::Refresh
                    && let Some(s) = children
                {
                    h.2 = After::Dead(s);
                }
            }
            json!({
                "name": format!("{} on the first token", op.id),
                "call": op.id,
                "body": Gen::naming(op, value, "{{ user_id }}"),
                "expect": {"status": Gen::success(op)},
            })
        }
        (None, Some(fields)) => json!({
            "name": format!("{} for the other account", op.id),
            "call": op.id,
            "body": {
                fields.username.clone(): "{{ other.username }}",
                fields.password.clone(): "{{ other.password }}",
                fields.name.clone(): "{{ run.name }}",
            },
            "expect": {"status": Gen::success(op)},
        }),
        (None, None) => return None,
    })
}

/// The step that validates the token in `capture` and expects it as `after` says.
fn validation(g: &Gen<'_>, capture: &str, kind: TokenKind, after: After) -> Option<Value> {
    let validate = g.spec.validation(kind)?;
    let ok = Gen::success(validate);
    let word = validate
        .responses
        .values()
        .find_map(|d| d.token.as_ref()?.status.clone());
    let states = validate.responses.values().find_map(|d| d.states.clone());
    let expect = match (after, word, states) {
        (After::Alive, _, _) => json!({"status": ok}),
        // Where the effect is a MUST the status word must say so; where it is a SHOULD,
        // `token_status.cascade` warns about an ACTIVE one.
        (After::Dead("must"), Some(word), Some(states)) => json!({"one_of": [
            {"status": [401]},
            {"status": ok, "body": {word: {"one_of": [states.expired, states.revoked]}}},
        ]}),
        (After::Dead(_), _, _) => json!({"one_of": [{"status": [401]}, {"status": ok}]}),
    };
    let what = match after {
        After::Alive => "is still alive",
        After::Dead(_) => "was revoked by the call",
    };
    Some(json!({
        "name": format!("{capture} {what}"),
        "call": validate.id,
        "body": Gen::naming(validate, &format!("{{{{ {capture} }}}}"), "{{ user_id }}"),
        "expect": expect,
    }))
}
