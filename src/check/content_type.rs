//! `content_type.json`, `content_type.application_json` and `body.json`.

use super::context::Body;
use super::{CheckInfo, Context, Finding, Findings};

/// The Content-Type is a JSON media type.
pub const JSON: CheckInfo = CheckInfo::must(
    "content_type.json",
    "Responses with a documented body have a JSON Content-Type.",
);
/// The Content-Type is exactly application/json.
pub(crate) const EXACT: CheckInfo = CheckInfo::should(
    "content_type.application_json",
    "The Content-Type is application/json (not text/json or another JSON type).",
);
/// The body parses as JSON.
pub(crate) const BODY_JSON: CheckInfo =
    CheckInfo::must("body.json", "A documented JSON body parses as JSON.");

/// The media type's essence, lower-cased, and whether it is a JSON type at all.
fn essence(raw: &str) -> (String, bool) {
    let essence = raw
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let json =
        essence == "application/json" || essence == "text/json" || essence.ends_with("+json");
    (essence, json)
}

/// `content_type.json`.
pub fn json(cx: &Context<'_>, out: &mut Findings) {
    if !cx.wants_json() {
        return;
    }
    match cx.x.header("content-type") {
        None => out.push(
            Finding::new(JSON, "the response has no Content-Type")
                .values("application/json", "(none)"),
        ),
        Some(raw) if !essence(raw).1 => out.push(
            Finding::new(JSON, "the Content-Type is not a JSON media type")
                .values("application/json", raw),
        ),
        Some(_) => {}
    }
}

/// `content_type.application_json`.
pub(crate) fn exact(cx: &Context<'_>, out: &mut Findings) {
    let Some(raw) = cx.x.header("content-type").filter(|_| cx.wants_json()) else {
        return;
    };
    let (essence, json) = essence(raw);
    if json && essence != "application/json" {
        out.push(
            Finding::new(
                EXACT,
                "the Content-Type is a JSON type other than application/json",
            )
            .values("application/json", raw),
        );
    }
}

/// `body.json`.
pub(crate) fn body_json(cx: &Context<'_>, out: &mut Findings) {
    if let Body::NotJson(complaint) = cx.body {
        let body = cx.x.body;
        let shown = String::from_utf8_lossy(&body[..body.len().min(120)]).into_owned();
        out.push(
            Finding::new(BODY_JSON, format!("the body is not JSON: {complaint}"))
                .values("a JSON document", shown),
        );
    }
}
