//! `identity`: every ownership check holds in every encoding the operation takes and in every
//! form `user_id` may arrive in (a JSON number, a JSON string of digits, a form field, a
//! multipart part): a real token sent with another user's id is refused, and nothing changes.

use serde_json::{Value, json};

use super::{Gen, Probe};
use crate::case::Encoding;

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
    }
}
