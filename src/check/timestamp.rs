//! `timestamp.rfc3339`, `timestamp.fraction` and `timestamp.skew`.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{CheckInfo, Context, Finding, Findings};

/// Timestamps are RFC 3339 with an offset.
pub(crate) const RFC3339: CheckInfo = CheckInfo::must(
    "timestamp.rfc3339",
    "Every date-time field is RFC 3339 with a UTC offset: the vendor's page calls them timezone aware.",
)
.because(&["vendor-page"]);
/// Timestamps carry a fractional second.
pub(crate) const FRACTION: CheckInfo = CheckInfo::should(
    "timestamp.fraction",
    "Every date-time field carries fractional seconds (an SDK drops values without).",
);

/// A new token's creation time is near the time of the request.
pub(crate) const SKEW: CheckInfo = CheckInfo::should(
    "timestamp.skew",
    "`created_at` of a token just issued lies within a minute of the time of the request.",
);

const EXAMPLE: &str = "e.g. 2023-05-19T15:06:35.830643Z";

/// How far off `created_at` may be.
const MAX_SKEW: time::Duration = time::Duration::minutes(1);

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

/// `timestamp.skew`.
pub fn skew(cx: &Context<'_>, out: &mut Findings) {
    let offset =
        cx.x.target_clock
            .map_or(time::Duration::ZERO, |o| o.to_time());
    let reference = cx.x.sent_at + offset;
    let by = if cx.x.target_clock.is_some() {
        "the control protocol's clock"
    } else {
        "the harness's clock"
    };
    for token in cx.tokens.iter().filter(|t| t.is_new) {
        let Some(created) = token.created_at else {
            continue;
        };
        let skew = created - reference;
        if skew.abs() <= MAX_SKEW {
            continue;
        }
        let way = if skew.is_positive() {
            "ahead of"
        } else {
            "behind"
        };
        // Whole half-hours off: a local time written as if it were UTC.
        let minutes = skew.abs().whole_minutes();
        let hint = if (minutes + 2) % 30 <= 4 {
            "; a local time written as UTC is the usual cause"
        } else {
            ""
        };
        let span = crate::duration::Span::from_secs(skew.abs().whole_seconds());
        out.push(
            Finding::new(
                SKEW,
                format!(
                    "`created_at` of this {} is {span} {way} the time of the request (by {by}){hint}",
                    token.kind.name()
                ),
            )
            .values(
                format!("about {}", seconds(reference)),
                seconds(created),
            ),
        );
    }
}

/// A date-time to the second, in UTC, for messages.
fn seconds(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.format(time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
    ))
    .unwrap_or_else(|_| t.to_string())
}
