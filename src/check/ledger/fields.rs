//! Reading a token object's fields, and the server's clock, for the ledger.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::FirstAnswer;
use crate::check::Judged;
use crate::duration::Span;
use crate::spec::TokenShape;

/// A user id as a number, when it is one: `102`, `"102"`, `" 102 "` and `102.0` are the same
/// user (a server may read a decimal's integer value, as Django REST framework does).
pub fn user_id(id: &str) -> Option<i64> {
    let id = id.trim();
    id.parse().ok().or_else(|| {
        let f: f64 = id.parse().ok()?;
        // Within i64, where every user id lies; the cast is exact for an integral value there.
        #[allow(clippy::cast_possible_truncation)]
        (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e18).then_some(f as i64)
    })
}

/// A token's owner field as text: `102` whether the body sent a number or a string.
pub(crate) fn owner_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(super) fn text(map: &Map<String, Value>, field: &str) -> Option<String> {
    match map.get(field)? {
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

pub(super) fn time_field(
    map: &Map<String, Value>,
    field: Option<&String>,
) -> Option<OffsetDateTime> {
    text(map, field?).and_then(|s| crate::check::parse_timestamp(&s))
}

/// `expires - created` of a token object, as its shape names the fields.
pub(super) fn reported_lifespan(shape: &TokenShape, body: &Map<String, Value>) -> Option<Span> {
    let created = time_field(body, shape.created.as_ref())?;
    let expires = time_field(body, shape.expires.as_ref())?;
    i64::try_from((expires - created).whole_microseconds())
        .ok()
        .map(Span::from_micros)
}

/// What a token object says of the fields later answers must repeat.
pub(crate) fn first_answer(shape: &TokenShape, body: &Map<String, Value>) -> FirstAnswer {
    FirstAnswer {
        owner: shape
            .owner
            .as_ref()
            .and_then(|f| body.get(f))
            .and_then(owner_text)
            .and_then(|o| user_id(&o)),
        created: time_field(body, shape.created.as_ref()),
        expires: time_field(body, shape.expires.as_ref()),
        name: shape
            .name
            .as_ref()
            .and_then(|f| text(body, f))
            .map(String::into_boxed_str),
    }
}

/// How old a token created at `created` is by the server's clock: its `Date` header, or the
/// harness's clock when it sends none. `None` when the creation time is unknown.
pub(super) fn age_by_server(x: &Judged<'_>, created: Option<OffsetDateTime>) -> Option<Span> {
    let now = x
        .header("date")
        .and_then(parse_http_date)
        .unwrap_or(x.sent_at);
    let age = now - created?;
    i64::try_from(age.whole_microseconds())
        .ok()
        .map(|m| Span::from_micros(m.max(0)))
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110's IMF-fixdate).
pub(crate) fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    let mut parts = s.split_ascii_whitespace().skip(1);
    let day: u8 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => time::Month::January,
        "Feb" => time::Month::February,
        "Mar" => time::Month::March,
        "Apr" => time::Month::April,
        "May" => time::Month::May,
        "Jun" => time::Month::June,
        "Jul" => time::Month::July,
        "Aug" => time::Month::August,
        "Sep" => time::Month::September,
        "Oct" => time::Month::October,
        "Nov" => time::Month::November,
        "Dec" => time::Month::December,
        _ => return None,
    };
    let year: i32 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<u8>().ok());
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next()??);
    if parts.next()? != "GMT" {
        return None;
    }
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let t = time::Time::from_hms(h, m, sec).ok()?;
    Some(time::PrimitiveDateTime::new(date, t).assume_utc())
}
