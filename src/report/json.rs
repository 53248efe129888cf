//! The JSON report: every case, step, check and verdict, secrets redacted. Its shape is
//! `docs/report.schema.json`.

use serde_json::{Value, json};

use crate::run::{Body, Report};

use super::coverage::Coverage;
use super::redact::Redactor;

/// The format tag of this shape.
pub(crate) const FORMAT: &str = "token-conformance-report/2";

fn redact_all(v: &mut Value, r: &Redactor) {
    match v {
        Value::String(s) => *s = r.text(s),
        Value::Array(items) => items.iter_mut().for_each(|i| redact_all(i, r)),
        Value::Object(map) => map.values_mut().for_each(|i| redact_all(i, r)),
        _ => {}
    }
}

/// Every request body redacted by its structure: the values of the contract's secret fields
/// whatever they are (a near miss of a password is no known secret, but it sits in the
/// password's field), as the HAR does. A suite's are in its cases' steps, traffic's in its
/// kept exchanges.
fn redact_request_bodies(v: &mut Value, r: &Redactor) {
    let redact = |item: &mut Value| {
        if let Some(Value::String(body)) = item.pointer_mut("/request/body") {
            *body = super::har::redact_body(body, r);
        }
    };
    let steps = v
        .pointer_mut("/suite/cases")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get_mut("steps").and_then(Value::as_array_mut))
        .flatten();
    steps.for_each(redact);
    let exchanges = v
        .pointer_mut("/traffic/kept_exchanges")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten();
    exchanges.for_each(redact);
}

/// The report as a JSON value: `format`, `meta` (what every report says), and `suite` or
/// `traffic` (what it was a report of).
pub fn render(
    report: &Report,
    coverage: &Coverage,
    exit: crate::error::Exit,
    redactor: &Redactor,
) -> Value {
    let m = &report.meta;
    let mut meta = json!({
        "target": m.target,
        "contract": {"title": m.spec_title, "version": m.spec_version},
        "harness_version": m.harness_version,
        "started_at": m.started_at,
        "millis": m.millis,
        "exit_code": exit.code(),
        "verdict": {"text": report.verdict_text(), "conforms": report.conforms()},
        "shaping": m.shaping,
        "requests_sent": m.requests_sent,
        "tokens_issued": m.tokens_issued,
        "stopped_answering": m.stopped_answering,
        "coverage": coverage,
    });
    // Only when Ctrl-C stopped the run: a report without it is of a run that ended by itself.
    if let Some(i) = &m.interrupted {
        meta["interrupted"] = json!(i);
    }
    let (key, body) = match &report.body {
        Body::Suite(s) => {
            let (without, ran) = s.without_control();
            (
                "suite",
                json!({
                    "suite_cases": s.suite_cases,
                    "not_run": s.not_run,
                    "summary": s.summary(),
                    "requests": s.requests(),
                    "run_id": s.run_id,
                    "without_control": {"ran": ran, "without": without},
                    "leftovers": s.leftovers,
                    "cases": s.cases,
                }),
            )
        }
        Body::Traffic(t) => ("traffic", json!(t)),
    };
    let mut v = json!({"format": FORMAT, "meta": meta, key: body});
    redact_request_bodies(&mut v, redactor);
    redact_all(&mut v, redactor);
    v
}
