//! `error.shape` and `error.code`: how a refusal is spelled. A framework's own refusal (Django
//! REST framework's field map, FastAPI's list under `detail`, Express's HTML page) is a
//! conformant refusal, so both are SHOULDs; what clients need of a 401 is `body.json`'s.

use serde_json::Value;

use super::context::Body;
use super::{CheckInfo, Context, Finding, Findings};

/// 4xx answers have the Error shape.
pub(crate) const SHAPE: CheckInfo = CheckInfo::should(
    "error.shape",
    "A 4xx is JSON (its Content-Type and its body): an object with a string `detail`, and `code`, when present, a string.",
);
/// 4xx bodies carry a string code.
pub(crate) const CODE: CheckInfo = CheckInfo::should(
    "error.code",
    "A 4xx body carries a string `code`, as real servers send.",
);

const SHAPED: &str = r#"{"detail": "...", "code": "..."}"#;

/// The JSON body of a 4xx answer.
fn error_body<'a>(cx: &'a Context<'_>) -> Option<&'a Value> {
    cx.json().filter(|_| cx.client_error())
}

/// `error.shape`.
pub fn shape(cx: &Context<'_>, out: &mut Findings) {
    if !cx.client_error() {
        return;
    }
    match cx.x.header("content-type") {
        Some(raw) if super::content_type::essence(raw).1 => {}
        raw => out.push(
            Finding::new(SHAPE, "the error's Content-Type is not a JSON media type")
                .values("application/json", raw.unwrap_or("(none)")),
        ),
    }
    if let Body::NotJson(complaint) = cx.body {
        out.push(
            Finding::new(SHAPE, format!("the error body is not JSON: {complaint}"))
                .values(SHAPED, cx.body_start()),
        );
    }
    let Some(json) = error_body(cx) else { return };
    let Some(obj) = json.as_object() else {
        out.push(
            Finding::new(SHAPE, "the error body is not a JSON object")
                .values(SHAPED, json.to_string()),
        );
        return;
    };
    match obj.get("detail") {
        Some(Value::String(_)) => {}
        Some(other) => out.push(
            Finding::new(SHAPE, "the error's `detail` is not a string")
                .values("a string", other.to_string()),
        ),
        None => out.push(
            Finding::new(SHAPE, "the error body has no `detail`").values(SHAPED, json.to_string()),
        ),
    }
    if let Some(other) = obj.get("code").filter(|c| !c.is_string()) {
        out.push(
            Finding::new(SHAPE, "the error's `code` is not a string")
                .values("a string such as \"401000\"", other.to_string()),
        );
    }
}

/// `error.code`.
pub fn code(cx: &Context<'_>, out: &mut Findings) {
    let Some(obj) = error_body(cx).and_then(Value::as_object) else {
        return;
    };
    if !obj.contains_key("code") {
        out.push(
            Finding::new(CODE, "the error body has no `code`")
                .values("a string such as \"401000\"", "(absent)"),
        );
    }
}
