//! `text`: a name holding what each encoding treats specially (`+`, `%`, `%2B`, `&`, `=`, `;`,
//! quotes, a backslash, a run of inner spaces, non-ASCII, as long as the contract allows) comes
//! back exactly as sent from creation, validation and regeneration, in every encoding the
//! login takes. White space around a name may be trimmed (a warning). A name given twice is
//! refused, or one of the two values is used (a warning about parameter pollution), never
//! anything else.
//!
//! Every probe creates a token for the profile's own account (name fidelity needs no second
//! account), regenerates it and hands the live successor to the run's pool, so that on a plain
//! deployment it is one of the tokens the run lends rather than one more left behind
//! (`lint` counts them against what a run promises to leave).

use serde_json::{Map, Value, json};

use super::{Gen, Probe};
use crate::encoding::Encoding;
use crate::spec::{Login, Operation, TokenKind};

/// What each encoding treats specially, between two spaces of a run of three.
const SPECIAL: &str = "+ %2B % & = ; \" ' \\   é ü 漢字 😀";

pub(super) fn probes(g: &Gen<'_>, out: &mut Vec<Probe>) {
    let Some(login) = g.spec.login() else {
        return;
    };
    let Some(fields) = &login.login else {
        return;
    };
    let max = login
        .request_schema
        .get(&fields.name)
        .and_then(|f| f.max_length)
        .unwrap_or(255);
    for encoding in [Encoding::Json, Encoding::Form, Encoding::Multipart] {
        if !login
            .request_types
            .iter()
            .any(|t| t == encoding.media_type())
        {
            continue;
        }
        let name = format!("{{{{ run.name }}}} {SPECIAL} {{{{ fill({max}, \"é\") }}}}");
        let same = json!({"equals": name});
        if let Some(steps) = round_trip(
            g,
            login,
            fields,
            encoding,
            &name,
            &|status| json!({"status": status, "body": {fields.name.clone(): same.clone()}}),
        ) {
            out.push(probe(
                login,
                encoding.name().to_owned(),
                format!(
                    "A name with what {} bodies treat specially, {max} characters long, comes back exactly as sent",
                    encoding.name()
                ),
                steps,
            ));
        }
        let padded = "  {{ run.name }} padded  ";
        let trimmed = "{{ run.name }} padded";
        let expect = |status: Value| {
            json!({"one_of": [
                {"status": status.clone(), "body": {fields.name.clone(): {"equals": padded}}},
                {"status": status, "body": {fields.name.clone(): {"equals": trimmed}},
                 "warn": "the white space around the name was trimmed; the contract keeps names exactly as sent"},
            ]})
        };
        if let Some(steps) = round_trip(g, login, fields, encoding, padded, &expect) {
            out.push(probe(
                login,
                format!("{}-padded", encoding.name()),
                format!(
                    "A name with white space around it ({}) comes back as sent, or trimmed",
                    encoding.name()
                ),
                steps,
            ));
        }
    }
    if login
        .request_types
        .iter()
        .any(|t| t == Encoding::Form.media_type())
    {
        out.push(duplicate(login, fields));
    }
}

fn probe(login: &Operation, variant: String, title: String, steps: Vec<Value>) -> Probe {
    Probe {
        family: "text",
        operation: login.id.clone(),
        variant,
        title,
        requirement: "Names are stored and returned exactly as sent, up to the longest the contract allows, any Unicode, in every encoding (white space around them aside)".into(),
        severity: "must",
        needs: Vec::new(),
        steps,
    }
}

/// Create with `name` in `encoding`, validate, regenerate, validate the successor: every answer
/// judged by `expect(statuses)`.
fn round_trip(
    g: &Gen<'_>,
    login: &Operation,
    fields: &Login,
    encoding: Encoding,
    name: &str,
    expect: &dyn Fn(Value) -> Value,
) -> Option<Vec<Value>> {
    let shape = g.spec.token_shape(TokenKind::Refresh)?;
    let owner = shape.owner.as_ref()?;
    let validate = g.spec.validation(TokenKind::Refresh)?;
    let regen = g.spec.regenerate(TokenKind::Refresh)?;
    let capture = |as_name: &str| json!({as_name: format!("body.{}", shape.value), "their_id": format!("body.{owner}")});
    let mut create = json!({
        "name": format!("create it ({})", encoding.name()),
        "call": login.id,
        "encoding": encoding.name(),
        "body": Map::from_iter([
            (fields.username.clone(), json!("{{ profile.username }}")),
            (fields.password.clone(), json!("{{ profile.password }}")),
            (fields.name.clone(), json!(name)),
        ]),
        "capture": capture("theirs"),
    });
    create["expect"] = expect(json!(Gen::success(login)));
    let call = |op: &Operation, label: &str, token: &str| -> Value {
        // The same encoding where the operation takes it.
        let takes = op.request_types.iter().any(|t| t == encoding.media_type());
        let encoding = if takes { encoding } else { Encoding::Json };
        let mut step = json!({
            "name": label,
            "call": op.id,
            "encoding": encoding.name(),
            "body": Gen::naming(op, token, "{{ their_id }}"),
        });
        step["expect"] = expect(json!(Gen::success(op)));
        step
    };
    let mut regenerate = call(regen, "regenerate it", "{{ theirs }}");
    regenerate["capture"] = capture("successor");
    Some(vec![
        create,
        call(validate, "validate it", "{{ theirs }}"),
        regenerate,
        call(validate, "validate its successor", "{{ successor }}"),
    ])
}

/// The name given twice in a form body.
fn duplicate(login: &Operation, fields: &Login) -> Probe {
    let raw = format!(
        "{}={{{{ profile.username | form }}}}&{}={{{{ profile.password | form }}}}&{n}=token-conformance+{{{{ run.id }}}}+first&{n}=token-conformance+{{{{ run.id }}}}+second",
        fields.username,
        fields.password,
        n = fields.name
    );
    let steps = vec![json!({
        "name": "the name given twice",
        "call": login.id,
        "content_type": Encoding::Form.media_type(),
        "raw_body": raw,
        "expect": {"one_of": [
            {"refused": [400]},
            {"status": Gen::success(login),
             "body": {fields.name.clone(): {"one_of": [
                 "token-conformance {{ run.id }} first",
                 "token-conformance {{ run.id }} second",
             ]}},
             "warn": "took one value of a name given twice (parameter pollution); the contract prefers refusing it (400)"},
        ]},
    })];
    let mut p = probe(
        login,
        "form-duplicate-name".into(),
        format!(
            "{} refuses a name given twice, or uses one of the two values, never another",
            login.id
        ),
        steps,
    );
    p.requirement = "A known field given twice is refused (400, SHOULD); a server that uses one of the values conforms with a warning, one that uses neither does not".into();
    p
}
