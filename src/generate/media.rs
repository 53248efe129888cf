//! `media`: every media type an operation takes is taken the same with the parameters real
//! clients send (`application/json; charset=utf-8`, a form type with `charset=UTF-8`, a quoted
//! multipart boundary): MUST, since a charset parameter has no effect on a compliant recipient
//! (RFC 8259) and .NET's and Java's clients send one. In other letter case (`Application/JSON`)
//! it should be too (RFC 9110 §8.3.1; SHOULD, as some frameworks compare exactly).
//!
//! A multipart body may also be written the other ways RFC 2046 and RFC 7578 allow: a preamble
//! and an epilogue, transport padding after a boundary, an unquoted field name, part headers in
//! other letter case and without spaces, a part with its own `Content-Type` and
//! `Content-Transfer-Encoding` (Java's HTTP clients send both). Taking it is a SHOULD: real
//! clients rarely write it so, but a standard parser reads it.
//!
//! The login is probed with a user nobody has: answered 401 like the bare type, the body was
//! read; refused as a media type (415) or as empty (400), it was not. Nothing is created.

use serde_json::{Value, json};

use super::{Gen, Probe};
use crate::encoding::BOUNDARY;
use crate::encoding::Encoding;
use crate::spec::Operation;

/// (encoding, with parameters, in other letter case).
fn spellings(e: Encoding) -> (String, String) {
    match e {
        Encoding::Json => (
            "application/json; charset=utf-8".into(),
            "Application/JSON".into(),
        ),
        Encoding::Form => (
            "application/x-www-form-urlencoded; charset=UTF-8".into(),
            "Application/X-WWW-Form-URLEncoded".into(),
        ),
        Encoding::Multipart => (
            format!("multipart/form-data; boundary=\"{BOUNDARY}\""),
            format!("Multipart/Form-Data; boundary={BOUNDARY}"),
        ),
    }
}

pub(super) fn probes(g: &Gen<'_>, out: &mut Vec<Probe>) {
    for op in g.spec.operations.values() {
        for encoding in [Encoding::Json, Encoding::Form, Encoding::Multipart] {
            if !op.request_types.iter().any(|t| t == encoding.media_type()) {
                continue;
            }
            let (params, case) = spellings(encoding);
            for (variant, content_type, severity) in [
                ("parameters", params, "must"),
                ("letter-case", case, "should"),
            ] {
                let Some(steps) = steps(g, op, encoding, &content_type) else {
                    continue;
                };
                out.push(Probe {
                    family: "media",
                    operation: op.id.clone(),
                    variant: format!("{}-{variant}", encoding.name()),
                    title: format!(
                        "{} takes `{content_type}` like `{}`",
                        op.id,
                        encoding.media_type()
                    ),
                    requirement: if severity == "must" {
                        format!(
                            "{}: a media type's parameters do not change it (MUST)",
                            op.id
                        )
                    } else {
                        format!(
                            "{}: a media type's letter case does not change it (SHOULD)",
                            op.id
                        )
                    },
                    severity,
                    needs: Vec::new(),
                    steps,
                });
            }
        }
        if op
            .request_types
            .iter()
            .any(|t| t == Encoding::Multipart.media_type())
            && let Some(steps) = dialect(g, op)
        {
            out.push(Probe {
                family: "media",
                operation: op.id.clone(),
                variant: "multipart-dialect".into(),
                title: format!(
                    "{} takes a multipart body with a preamble, transport padding, an unquoted name and part headers",
                    op.id
                ),
                requirement: format!(
                    "{}: a multipart body written any way RFC 2046 and RFC 7578 allow is read like any other (SHOULD)",
                    op.id
                ),
                severity: "should",
                needs: Vec::new(),
                steps,
            });
        }
    }
}

/// A multipart body of `fields` written the less common ways the RFCs allow.
fn dialect_body(fields: &[(String, String)]) -> String {
    let mut body = format!("This preamble is not part of the form.\r\n--{BOUNDARY} \t\r\n");
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            body.push_str(&format!("--{BOUNDARY}\r\n"));
        }
        if i == 0 {
            body.push_str(&format!("content-disposition:form-data;name={name}\r\n"));
        } else {
            body.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"\r\n\
                 Content-Type: text/plain; charset=UTF-8\r\n\
                 Content-Transfer-Encoding: 8bit\r\n"
            ));
        }
        body.push_str(&format!("\r\n{value}\r\n"));
    }
    body.push_str(&format!(
        "--{BOUNDARY}--\r\nAn epilogue, also not part of it.\r\n"
    ));
    body
}

/// The steps of the multipart dialect probe: the same call as a well-formed one, answered the
/// same.
fn dialect(g: &Gen<'_>, op: &Operation) -> Option<Vec<Value>> {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    if let Some(fields) = &op.login {
        let body = dialect_body(&[
            (
                fields.username.clone(),
                "nobody-{{ run.unique }}@example.invalid".into(),
            ),
            (fields.password.clone(), "pw-{{ run.unique }}".into()),
            (fields.name.clone(), "{{ run.name }}".into()),
        ]);
        return Some(vec![json!({
            "name": "log in as nobody, in a multipart dialect",
            "call": op.id,
            "content_type": content_type,
            "raw_body": body,
            "expect": {"status": [401]},
        })]);
    }
    let kind = op.request_token.as_ref()?.kind;
    let held = g.hold(kind)?;
    let fields: Vec<(String, String)> = Gen::naming(op, held.value, held.owner)
        .into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
        .collect();
    let mut steps = held.steps;
    steps.push(json!({
        "name": "sent in a multipart dialect",
        "call": op.id,
        "content_type": content_type,
        "raw_body": dialect_body(&fields),
        "expect": {"status": Gen::success(op)},
    }));
    Some(steps)
}

/// The steps of one probe: a call like a well-formed one in `encoding`, its type spelt
/// `content_type`, answered as the bare type would be.
fn steps(
    g: &Gen<'_>,
    op: &Operation,
    encoding: Encoding,
    content_type: &str,
) -> Option<Vec<Value>> {
    if let Some(fields) = &op.login {
        return Some(vec![json!({
            "name": format!("log in as nobody, sent as {content_type}"),
            "call": op.id,
            "encoding": encoding.name(),
            "content_type": content_type,
            "body": {
                fields.username.clone(): "nobody-{{ run.unique }}@example.invalid",
                fields.password.clone(): "pw-{{ run.unique }}",
                fields.name.clone(): "{{ run.name }}",
            },
            "expect": {"status": [401]},
        })]);
    }
    let kind = op.request_token.as_ref()?.kind;
    let held = g.hold(kind)?;
    let mut steps = held.steps;
    steps.push(json!({
        "name": format!("sent as {content_type}"),
        "call": op.id,
        "encoding": encoding.name(),
        "content_type": content_type,
        "body": Gen::naming(op, held.value, held.owner),
        "expect": {"status": Gen::success(op)},
    }));
    Some(steps)
}
