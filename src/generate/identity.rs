//! `identity`: every ownership check holds in every encoding the operation takes and in every
//! form `user_id` may arrive in (a JSON number, a JSON string of digits, a form field, a
//! multipart part): a real token sent with another user's id is refused, and nothing changes.
//! An operation that changes nothing (a validation) is first called by the owner, as clients
//! do: a server that keeps what it has seen (a cache) must check the owner there too.
//! Given twice in JSON (another user's id, then the owner's), the id is best refused (400); a
//! server that takes the last value conforms with a warning about parameter pollution, as long
//! as it answers for the owner, the value it took.

use serde_json::{Value, json};

use super::{Gen, Probe};
use crate::encoding::Encoding;
use crate::spec::Operation;

/// The forms: (variant, encoding, filters after `other_user`).
const FORMS: &[(&str, Encoding, &str)] = &[
    ("json-number", Encoding::Json, ""),
    ("json-string", Encoding::Json, " | string"),
    ("form", Encoding::Form, ""),
    ("multipart", Encoding::Multipart, ""),
];

pub(super) fn probes(g: &Gen<'_>, out: &mut Vec<Probe>) {
    for (op, kind) in g.token_operations() {
        let (Some(plain), Some(rich), Some(token)) =
            (g.hold(kind), g.hold_for(op, kind), &op.request_token)
        else {
            continue;
        };
        let Some(owner) = &token.owner else {
            continue;
        };
        for (i, (variant, encoding, filters)) in FORMS.iter().enumerate() {
            if !op.request_types.iter().any(|t| t == encoding.media_type()) {
                continue;
            }
            // One form also holds what a refusal could revoke beside the token (its access
            // tokens); the others need not pay for minting them.
            let held = if i == 0 { &rich } else { &plain };
            let mut body = Gen::naming(op, held.value, held.owner);
            let other = format!("{{{{ user_id | other_user{filters} }}}}");
            body.insert(owner.clone(), Value::String(other));
            let mut steps = held.steps.clone();
            if op.effects.is_empty() {
                steps.push(json!({
                    "name": "its owner uses it first",
                    "call": op.id,
                    "encoding": encoding.name(),
                    "body": Gen::naming(op, held.value, held.owner),
                    "expect": {"status": Gen::success(op)},
                }));
            }
            steps.push(json!({
                "name": format!("a real {} with another user's {owner} ({variant})", kind.name()),
                "call": op.id,
                "encoding": encoding.name(),
                "body": body,
                "expect": {"refused": [401]},
            }));
            out.push(Probe {
                family: "identity",
                operation: op.id.clone(),
                variant: (*variant).to_owned(),
                title: format!(
                    "{} refuses a real {} sent with another user's {owner} ({variant})",
                    op.id,
                    kind.name()
                ),
                requirement: format!(
                    "{}: a token sent with another user's {owner} is refused, in every encoding and every form {owner} takes, and nothing changes",
                    op.id
                ),
                severity: "must",
                needs: Vec::new(),
                steps,
            });
        }
        if op
            .request_types
            .iter()
            .any(|t| t == Encoding::Json.media_type())
        {
            out.push(duplicate(op, owner, &plain.steps, plain.value));
        }
    }
}

/// `user_id` given twice in one JSON object: another user's, then the owner's.
fn duplicate(op: &Operation, owner: &str, setup: &[Value], value: &str) -> Probe {
    let field = op.request_token.as_ref().map_or("", |t| t.value.as_str());
    let capture = value.trim_start_matches("{{ ").trim_end_matches(" }}");
    let raw = format!(
        "{{{}: {{{{ {capture} | json }}}}, {o}: {{{{ user_id | other_user }}}}, {o}: {{{{ user_id }}}}}}",
        json!(field),
        o = json!(owner)
    );
    // Took a value: it must be one of those sent, and only the owner's can be served.
    let answers_for = op
        .responses
        .iter()
        .filter(|(s, _)| (200..300).contains(*s))
        .find_map(|(_, d)| d.token.as_ref()?.owner.clone());
    let mut took = json!({
        "status": Gen::success(op),
        "warn": format!("took one of two values of `{owner}` given twice (parameter pollution); the contract prefers refusing it (400)"),
    });
    if let Some(o) = answers_for {
        took["body"] = json!({o: {"same_as": "user_id"}});
    }
    let mut steps = setup.to_vec();
    steps.push(json!({
        "name": format!("`{owner}` given twice: another user's, then the owner's"),
        "call": op.id,
        "content_type": Encoding::Json.media_type(),
        "raw_body": raw,
        "expect": {"one_of": [{"refused": [400]}, took]},
    }));
    Probe {
        family: "identity",
        operation: op.id.clone(),
        variant: "json-duplicate".into(),
        title: format!(
            "{} refuses `{owner}` given twice, or answers for the value it took",
            op.id
        ),
        requirement: format!(
            "{}: a known field given twice is best refused (400); taking one value is parameter pollution (a warning), acting for a value not sent is a failure",
            op.id
        ),
        severity: "must",
        needs: Vec::new(),
        steps,
    }
}
