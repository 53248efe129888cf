//! `timestamp.rfc3339` and `timestamp.fraction`.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Finding, TIMESTAMP_FRACTION, TIMESTAMP_RFC3339};
use crate::spec::ResponseDoc;

/// Parses an RFC 3339 date-time with an offset.
pub fn parse(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

pub(super) fn check(doc: &ResponseDoc, json: &Value, out: &mut Vec<Finding>) {
    for field in &doc.datetime_fields {
        let Some(Value::String(s)) = json.get(field) else {
            continue;
        };
        if parse(s).is_none() {
            out.push(
                Finding::new(
                    TIMESTAMP_RFC3339,
                    format!("`{field}` is not an RFC 3339 date-time with an offset"),
                )
                .values("e.g. 2023-05-19T15:06:35.830643Z", s.clone()),
            );
        } else if !s.contains('.') {
            out.push(
                Finding::new(
                    TIMESTAMP_FRACTION,
                    format!("`{field}` has no fractional seconds"),
                )
                .values("e.g. 2023-05-19T15:06:35.830643Z", s.clone()),
            );
        }
    }
}
