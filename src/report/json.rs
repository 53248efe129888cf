//! The JSON report: every case, step, check and verdict, secrets redacted. Its shape is
//! `docs/report.schema.json`.

use serde_json::{Value, json};

use crate::run::RunReport;

use super::coverage::Coverage;
use super::redact::Redactor;

/// The format tag of this shape.
pub(crate) const FORMAT: &str = "token-conformance-report/1";

fn redact_all(v: &mut Value, r: &Redactor) {
    match v {
        Value::String(s) => *s = r.text(s),
        Value::Array(items) => items.iter_mut().for_each(|i| redact_all(i, r)),
        Value::Object(map) => map.values_mut().for_each(|i| redact_all(i, r)),
        _ => {}
    }
}

/// Every step's request body redacted by its structure: the values of the contract's secret
/// fields whatever they are (a near miss of a password is no known secret, but it sits in the
/// password's field), as the HAR does.
fn redact_request_bodies(v: &mut Value, r: &Redactor) {
    let steps = v
        .get_mut("cases")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get_mut("steps").and_then(Value::as_array_mut))
        .flatten();
    for step in steps {
        if let Some(Value::String(body)) = step.pointer_mut("/request/body") {
            *body = super::har::redact_body(body, r);
        }
    }
}

/// The report as a JSON value.
pub fn render(
    report: &RunReport,
    coverage: &Coverage,
    exit: crate::error::Exit,
    redactor: &Redactor,
) -> Value {
    let mut v = json!({
        "format": FORMAT,
        "target": report.target,
        "contract": {"title": report.spec_title, "version": report.spec_version},
        "harness_version": report.harness_version,
        "started_at": report.started_at,
        "millis": report.millis,
        "exit_code": exit.code(),
        "verdict": {
            "text": report.verdict_text(),
            "conforms": matches!(report.conformance(), crate::run::Conformance::Conforms { .. }),
            "not_run": report.not_run,
        },
        "suite_cases": report.suite_cases,
        "shaping": report.shaping,
        "summary": report.summary(),
        "requests": report.requests(),
        "requests_sent": report.requests_sent,
        "tokens_issued": report.tokens_issued,
        "stopped_answering": report.stopped_answering,
        "run_id": report.run_id,
        "without_control": {"ran": report.without_control().1, "without": report.without_control().0},
        "leftovers": report.leftovers,
        "coverage": coverage,
        "cases": report.cases,
    });
    if let (Some(t), Some(obj)) = (&report.traffic, v.as_object_mut()) {
        obj.insert("traffic".into(), json!(t));
    }
    redact_request_bodies(&mut v, redactor);
    redact_all(&mut v, redactor);
    v
}
