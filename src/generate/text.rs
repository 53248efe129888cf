//! `text`: a name holding what encodings and frameworks treat specially comes back code point
//! for code point from creation, validation and regeneration, in every encoding the login
//! takes, as long as the contract allows. White space around a name may be trimmed (a
//! warning). A name given twice is refused, or one of the two values is used (a warning about
//! parameter pollution), never anything else. In JSON, the same characters written as escapes
//! (`\u00e9`, a surrogate pair, `\/`) come back as the characters they stand for.
//!
//! The name is built from [`PIECES`], each there for a way real stacks change text: a form
//! decoded twice, RFC 3986's normalisations applied to a value, Unicode normalisation (NFC,
//! NFKC), white space collapsed, astral characters cut in UTF-16 or MySQL's utf8mb3, invisible
//! format characters stripped by a sanitiser. A mismatch names the first code point that
//! differs (the matcher's message).
//!
//! Every probe creates a token for the profile's own account (name fidelity needs no second
//! account), regenerates it and hands the live successor to the run's pool, so that on a plain
//! deployment it is one of the tokens the run lends rather than one more left behind
//! (`lint` counts them against what a run promises to leave).

use serde_json::{Map, Value, json};

use super::{Gen, Probe};
use crate::encoding::Encoding;
use crate::spec::{Login, Operation, TokenKind};

/// What real stacks change in text, each piece with what changes it. The name holds them all,
/// a space between each two. No lone `%` (the padded names have one): a decoder that gives up
/// on a lone `%` and keeps the text as it came (`decodeURIComponent` in a `try`) would leave
/// every other piece as sent.
const PIECES: &[(&str, &str)] = &[
    ("+", "a form decoder's space"),
    (
        "%2B %2b",
        "a value percent-decoded twice, or its hex digits upper-cased",
    ),
    (
        "%41 %7E",
        "RFC 3986's normalisation: escapes of unreserved characters decoded",
    ),
    ("& = ;", "a form's separators"),
    ("\" ' \\", "quotes and a backslash, escaped or stripped"),
    ("a   b", "inner white space collapsed"),
    ("a\u{a0}b", "a no-break space taken for a space or removed"),
    (
        "\u{e9} e\u{301}",
        "é composed and decomposed: Unicode normalisation (NFC or NFD)",
    ),
    (
        "\u{212b} \u{fb01}",
        "the angstrom sign and the fi ligature: NFC and NFKC change them",
    ),
    ("\u{fc} 漢字", "non-ASCII and CJK text"),
    (
        "😀 𝄞",
        "astral characters: cut by UTF-16 or by MySQL's three-byte utf8",
    ),
    (
        "👩\u{200d}💻 a\u{200f}b",
        "a zero-width joiner and a right-to-left mark",
    ),
];

/// The pieces, a space between each two.
fn special() -> String {
    PIECES
        .iter()
        .map(|(piece, _)| *piece)
        .collect::<Vec<_>>()
        .join(" ")
}

/// JSON's escapes, written into the JSON body's name after the pieces: the same characters
/// written another way (a surrogate pair for an astral character, `\/`, `\u0041`).
const ESCAPED: &str = r#"\u00e9 e\u0301 \ud83d\ude00 \/ \u0041"#;
/// What [`ESCAPED`] stands for.
const UNESCAPED: &str = "\u{e9} e\u{301} 😀 / A";

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
        let name = format!(
            "{{{{ run.name }}}} {} {{{{ fill({max}, \"é\") }}}}",
            special()
        );
        let create = create_step(login, fields, encoding, &name);
        let same = json!({"equals": name});
        if let Some(steps) = round_trip(
            g,
            create,
            encoding,
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
        out.extend(padded(g, login, fields, encoding));
    }
    if login
        .request_types
        .iter()
        .any(|t| t == Encoding::Form.media_type())
    {
        out.push(duplicate(login, fields));
    }
}

/// A name with white space around it comes back as sent, or trimmed (a warning).
fn padded(g: &Gen<'_>, login: &Operation, fields: &Login, encoding: Encoding) -> Option<Probe> {
    // The lone `%` is here, away from the other pieces (see PIECES). In JSON the name also
    // carries JSON's escapes, in a body written by hand (here rather than in a probe of
    // its own: one token more would break what a run promises to leave on a plain
    // deployment; and here because `fill` pads a whole text, which in a hand-written
    // body is the body).
    let json = encoding == Encoding::Json;
    let tail = if json {
        format!(" {UNESCAPED}")
    } else {
        String::new()
    };
    let padded = &format!("  {{{{ run.name }}}} 100% padded{tail}  ");
    let trimmed = &format!("{{{{ run.name }}}} 100% padded{tail}");
    let expect = |status: Value| {
        json!({"one_of": [
            {"status": status.clone(), "body": {fields.name.clone(): {"equals": padded}}},
            {"status": status, "body": {fields.name.clone(): {"equals": trimmed}},
             "warn": "the white space around the name was trimmed; the contract keeps names exactly as sent"},
        ]})
    };
    let create = if json {
        escaped_create(login, fields)
    } else {
        create_step(login, fields, encoding, padded)
    };
    let steps = round_trip(g, create, encoding, &expect)?;
    Some(probe(
        login,
        format!("{}-padded", encoding.name()),
        format!(
            "A name with white space around it ({}{}) comes back as sent, or trimmed",
            encoding.name(),
            if json {
                ", partly written with JSON's escapes"
            } else {
                ""
            }
        ),
        steps,
    ))
}

/// Creates the padded token in a JSON body written by hand, its name ending in [`ESCAPED`],
/// which a JSON encoder would not write but every JSON parser reads.
fn escaped_create(login: &Operation, fields: &Login) -> Value {
    // `run.name` is plain text (no quote, no backslash): it sits inside the JSON string as it
    // is rendered.
    let raw = format!(
        "{{{}: {{{{ profile.username | json }}}}, {}: {{{{ profile.password | json }}}}, {}: \"  {{{{ run.name }}}} 100% padded {ESCAPED}  \"}}",
        json!(fields.username),
        json!(fields.password),
        json!(fields.name),
    );
    json!({
        "name": "create it (json, written by hand with escapes)",
        "call": login.id,
        "content_type": Encoding::Json.media_type(),
        "raw_body": raw,
    })
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

/// Creates a token named `name` for the profile's account, in `encoding`.
fn create_step(login: &Operation, fields: &Login, encoding: Encoding, name: &str) -> Value {
    json!({
        "name": format!("create it ({})", encoding.name()),
        "call": login.id,
        "encoding": encoding.name(),
        "body": Map::from_iter([
            (fields.username.clone(), json!("{{ profile.username }}")),
            (fields.password.clone(), json!("{{ profile.password }}")),
            (fields.name.clone(), json!(name)),
        ]),
    })
}

/// `create`, then validate, regenerate, validate the successor (in `encoding` where each
/// operation takes it): every answer judged by `expect(statuses)`.
fn round_trip(
    g: &Gen<'_>,
    mut create: Value,
    encoding: Encoding,
    expect: &dyn Fn(Value) -> Value,
) -> Option<Vec<Value>> {
    let login = g.spec.login()?;
    let shape = g.spec.token_shape(TokenKind::Refresh)?;
    let owner = shape.owner.as_ref()?;
    let validate = g.spec.validation(TokenKind::Refresh)?;
    let regen = g.spec.regenerate(TokenKind::Refresh)?;
    let capture = |as_name: &str| json!({as_name: format!("body.{}", shape.value), "their_id": format!("body.{owner}")});
    create["capture"] = capture("theirs");
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
