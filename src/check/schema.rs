//! `schema.body`.

use serde_json::Value;

use super::{Exchange, Finding, SCHEMA_BODY};
use crate::spec::ResponseDoc;

/// How many violations one finding lists.
const LIMIT: usize = 5;

pub(super) fn check(x: &Exchange<'_>, doc: &ResponseDoc, json: &Value, out: &mut Vec<Finding>) {
    let errors = x.spec.validate(doc, json, LIMIT);
    if !errors.is_empty() {
        let pointer = doc
            .schema_pointer
            .as_deref()
            .unwrap_or("the documented schema");
        out.push(Finding::new(
            SCHEMA_BODY,
            format!(
                "the {} body does not match {pointer}: {}",
                x.status,
                errors.join("; ")
            ),
        ));
    }
}
