//! `content_type.json` and `content_type.application_json`.

use super::{CONTENT_TYPE_EXACT, CONTENT_TYPE_JSON, Exchange, Finding};

pub(super) fn check(x: &Exchange<'_>, out: &mut Vec<Finding>) {
    let Some(raw) = x.content_type else {
        out.push(
            Finding::new(CONTENT_TYPE_JSON, "the response has no Content-Type")
                .values("application/json", "(none)"),
        );
        return;
    };
    let essence = raw
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let json =
        essence == "application/json" || essence == "text/json" || essence.ends_with("+json");
    if !json {
        out.push(
            Finding::new(
                CONTENT_TYPE_JSON,
                "the Content-Type is not a JSON media type",
            )
            .values("application/json", raw),
        );
    } else if essence != "application/json" {
        out.push(
            Finding::new(
                CONTENT_TYPE_EXACT,
                "the Content-Type is a JSON type other than application/json",
            )
            .values("application/json", raw),
        );
    }
}
