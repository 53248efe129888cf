//! `timestamp.rfc3339` and `timestamp.fraction`.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{CheckInfo, Context, Finding, Findings};

/// Timestamps are RFC 3339 with an offset.
pub const RFC3339: CheckInfo = CheckInfo::must(
    "timestamp.rfc3339",
    "Every date-time field is RFC 3339 with a UTC offset.",
);
/// Timestamps carry a fractional second.
pub const FRACTION: CheckInfo = CheckInfo::should(
    "timestamp.fraction",
    "Every date-time field carries fractional seconds (an SDK drops values without).",
);

const EXAMPLE: &str = "e.g. 2023-05-19T15:06:35.830643Z";

/// Parses an RFC 3339 date-time with an offset.
pub fn parse(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// The string values of the documented date-time fields of the body.
fn datetimes<'a>(cx: &'a Context<'_>) -> impl Iterator<Item = (&'a str, &'a str)> {
    let fields = cx
        .documented
        .map(|d| d.datetime_fields.as_slice())
        .unwrap_or_default();
    let json = cx.json();
    fields.iter().filter_map(move |f| match json?.get(f) {
        Some(Value::String(s)) => Some((f.as_str(), s.as_str())),
        _ => None,
    })
}

/// `timestamp.rfc3339`.
pub fn rfc3339(cx: &Context<'_>, out: &mut Findings) {
    for (field, s) in datetimes(cx).filter(|(_, s)| parse(s).is_none()) {
        out.push(
            Finding::new(
                RFC3339,
                format!("`{field}` is not an RFC 3339 date-time with an offset"),
            )
            .values(EXAMPLE, s),
        );
    }
}

/// `timestamp.fraction`.
pub fn fraction(cx: &Context<'_>, out: &mut Findings) {
    for (field, s) in datetimes(cx).filter(|(_, s)| parse(s).is_some() && !s.contains('.')) {
        out.push(
            Finding::new(FRACTION, format!("`{field}` has no fractional seconds"))
                .values(EXAMPLE, s),
        );
    }
}
