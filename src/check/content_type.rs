//! `content_type.json`, `content_type.application_json` and `body.json`.

use super::context::Body;
use super::{CheckInfo, Context, Finding, Findings};

/// The Content-Type of a success is a JSON media type.
pub const JSON: CheckInfo = CheckInfo::must(
    "content_type.json",
    "A success whose status documents a body has a JSON Content-Type (an error's is `error.shape`'s).",
)
.because(&["vendor-page"]);
/// The Content-Type is exactly application/json.
pub(crate) const EXACT: CheckInfo = CheckInfo::should(
    "content_type.application_json",
    "The Content-Type is application/json (not text/json or another JSON type).",
);
/// The bodies clients parse are JSON.
pub(crate) const BODY_JSON: CheckInfo = CheckInfo::must(
    "body.json",
    "The bodies clients parse are JSON: a success's documented body, and a 401's, which is an object (clients call .json().get(\"detail\") on it). Other errors' bodies are `error.shape`'s.",
)
.because(&["client:allie-sdk"]);

/// The media type's essence, lower-cased, and whether it is a JSON type at all.
pub(crate) fn essence(raw: &str) -> (String, bool) {
    let essence = crate::encoding::essence(raw);
    let json =
        essence == "application/json" || essence == "text/json" || essence.ends_with("+json");
    (essence, json)
}

/// `content_type.json`.
pub fn json(cx: &Context<'_>, out: &mut Findings) {
    if !cx.wants_json() || !cx.success() {
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
    let unauthorized = cx.x.status() == 401;
    if !cx.success() && !unauthorized {
        return;
    }
    match cx.body {
        Body::NotJson(complaint) => out.push(
            Finding::new(BODY_JSON, format!("the body is not JSON: {complaint}"))
                .values("a JSON document", cx.body_start()),
        ),
        Body::Json(v) if unauthorized && !v.is_object() => out.push(
            Finding::new(BODY_JSON, "the 401 body is not a JSON object")
                .values(r#"{"detail": "..."}"#, v.to_string()),
        ),
        _ => {}
    }
}
