//! `error.shape` and `error.code`.

use serde_json::Value;

use super::{ERROR_CODE, ERROR_SHAPE, Finding};

pub(super) fn check(json: &Value, out: &mut Vec<Finding>) {
    let Some(obj) = json.as_object() else {
        out.push(
            Finding::new(ERROR_SHAPE, "the error body is not a JSON object")
                .values(r#"{"detail": "...", "code": "..."}"#, json.to_string()),
        );
        return;
    };
    match obj.get("detail") {
        Some(Value::String(_)) => {}
        Some(other) => out.push(
            Finding::new(ERROR_SHAPE, "the error's `detail` is not a string")
                .values("a string", other.to_string()),
        ),
        None => out.push(
            Finding::new(ERROR_SHAPE, "the error body has no `detail`")
                .values(r#"{"detail": "...", "code": "..."}"#, json.to_string()),
        ),
    }
    match obj.get("code") {
        Some(Value::String(_)) => {}
        Some(other) => out.push(
            Finding::new(ERROR_SHAPE, "the error's `code` is not a string")
                .values("a string such as \"401000\"", other.to_string()),
        ),
        None => out.push(
            Finding::new(ERROR_CODE, "the error body has no `code`")
                .values("a string such as \"401000\"", "(absent)"),
        ),
    }
}
