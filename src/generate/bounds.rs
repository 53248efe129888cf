//! `bounds`: every integer field of a request at its edges (0, -1, the largest int64 and one
//! past it, thirty digits, an exponent, a fraction) is never a 5xx, and never a 2xx for a value
//! that is not the owner's id. The owner's own id written another way (`7.0`, `007`) may be
//! taken as it, or refused. The rest of the request is well-formed, with a real token, so the
//! field alone decides; nothing may change. The digit strings go in JSON, where a string field
//! takes the same path a form field does (text to integer); the `identity` family sends ids
//! in every encoding.

use serde_json::{Map, Value, json};

use super::{Gen, Probe};
use crate::encoding::Encoding;
use crate::spec::Operation;

/// JSON literals that are no user's id: (variant, the literal, what it is).
const NOT_AN_ID: &[(&str, &str, &str)] = &[
    ("zero", "0", "0"),
    ("minus-one", "-1", "-1"),
    ("int64-max", "9223372036854775807", "the largest int64"),
    (
        "int64-max-plus-one",
        "9223372036854775808",
        "one past the largest int64",
    ),
    (
        "thirty-digits",
        "\"123456789012345678901234567890\"",
        "thirty digits",
    ),
    (
        "exponent",
        "{{ user_id | exponent }}",
        "a number with an exponent",
    ),
    (
        "fraction",
        "{{ user_id | fraction }}",
        "the owner's id plus a half",
    ),
];

/// The owner's id written another way: (variant, the literal, what it is).
const OWNER: &[(&str, &str, &str)] = &[
    (
        "owner-decimal",
        "{{ user_id | decimal }}",
        "the owner's id as a decimal",
    ),
    (
        "owner-leading-zeros",
        "\"{{ user_id | leading_zeros }}\"",
        "the owner's id with leading zeros",
    ),
];

pub(super) fn probes(g: &Gen<'_>, out: &mut Vec<Probe>) {
    for (op, kind) in g.token_operations() {
        let Some(held) = g.hold(kind) else { continue };
        let owner = op.request_token.as_ref().and_then(|t| t.owner.clone());
        let naming = Gen::naming(op, held.value, held.owner);
        for (field, _) in op.request_schema.iter().filter(|(_, s)| s.integer) {
            let is_owner = owner.as_deref() == Some(field.as_str());
            let refused = json!({"refused": [400, 401]});
            let either = json!({"one_of": [{"status": Gen::success(op)}, refused.clone()]});
            // A field that is not the owner's id has no value that must be refused.
            let wrong = if is_owner { refused } else { either.clone() };
            let mut add = |variant: &str, what: &str, step: Value, expect: &Value| {
                let mut step = step;
                step["name"] = json!(format!("`{field}` is {what}"));
                step["call"] = json!(op.id);
                step["expect"] = expect.clone();
                let mut steps = held.steps.clone();
                steps.push(step);
                out.push(probe(op, field, variant, what, steps));
            };
            for (variant, literal, what) in NOT_AN_ID {
                add(variant, what, raw_json(&naming, field, literal), &wrong);
            }
            if is_owner {
                for (variant, literal, what) in OWNER {
                    add(variant, what, raw_json(&naming, field, literal), &either);
                }
            }
        }
    }
}

fn probe(op: &Operation, field: &str, variant: &str, what: &str, steps: Vec<Value>) -> Probe {
    Probe {
        family: "bounds",
        operation: op.id.clone(),
        variant: if field == "user_id" {
            variant.to_owned()
        } else {
            format!("{}-{variant}", super::kebab(field))
        },
        title: format!(
            "{} answers `{field}` as {what} without a server error",
            op.id
        ),
        requirement: format!(
            "{}: an integer field at its edges is never a 5xx, and never a 2xx for a value that is not the owner's id",
            op.id
        ),
        severity: "must",
        needs: Vec::new(),
        steps,
    }
}

/// A JSON body written by hand: the fields of `naming`, and `field` as the literal `literal`
/// (a number serde cannot hold, an exponent, a template that gives one).
fn raw_json(naming: &Map<String, Value>, field: &str, literal: &str) -> Value {
    let mut parts: Vec<String> = naming
        .iter()
        .filter(|(k, _)| k.as_str() != field)
        .map(|(k, v)| {
            let template = v.as_str().unwrap_or_default();
            let inner = template
                .trim_start_matches("{{")
                .trim_end_matches("}}")
                .trim();
            format!("{}: {{{{ {inner} | json }}}}", json!(k))
        })
        .collect();
    parts.push(format!("{}: {literal}", json!(field)));
    json!({"content_type": Encoding::Json.media_type(), "raw_body": format!("{{{}}}", parts.join(", "))})
}
