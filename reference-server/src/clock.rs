//! The server's clock: the system clock plus an offset that only the test-control
//! protocol can move.
//!
//! Every timestamp the server writes or compares comes from here, so a conformance harness
//! can make a token expire by advancing the clock instead of waiting 24 hours.

use std::sync::{Arc, Mutex, PoisonError};
use time::{Duration, OffsetDateTime};

/// A shareable clock. Cloning gives another handle on the same offset.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset: Arc<Mutex<Duration>>,
}

impl Clock {
    /// A clock that follows the system clock until it is moved.
    pub fn system() -> Self {
        Self::default()
    }

    /// The current time, truncated to whole microseconds (the precision the API publishes
    /// and the store keeps), so a value read back equals the value written.
    ///
    /// A clock moved to the edge of what a date can hold stays there rather than overflow: the
    /// control protocol can set any date, and nothing that reads the clock may panic.
    pub fn now(&self) -> OffsetDateTime {
        let offset = self.offset();
        let now =
            OffsetDateTime::now_utc()
                .checked_add(offset)
                .unwrap_or(if offset.is_negative() {
                    time::PrimitiveDateTime::MIN.assume_utc()
                } else {
                    time::PrimitiveDateTime::MAX.assume_utc()
                });
        truncate_to_micros(now)
    }

    /// Moves the clock so that `now()` returns `at` at this instant; it keeps ticking after.
    pub fn set(&self, at: OffsetDateTime) {
        let mut offset = self.offset.lock().unwrap_or_else(PoisonError::into_inner);
        *offset = at - OffsetDateTime::now_utc();
    }

    /// Moves the clock forward (or back, for a negative `by`).
    pub fn advance(&self, by: Duration) {
        let mut offset = self.offset.lock().unwrap_or_else(PoisonError::into_inner);
        *offset = offset.saturating_add(by);
    }

    fn offset(&self) -> Duration {
        *self.offset.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Drops the sub-microsecond part of a timestamp.
pub fn truncate_to_micros(t: OffsetDateTime) -> OffsetDateTime {
    let nanos = t.nanosecond();
    t.replace_nanosecond(nanos - nanos % 1_000).unwrap_or(t)
}

/// Microseconds since the Unix epoch: the store's representation of an instant.
pub fn to_micros(t: OffsetDateTime) -> i64 {
    // An i128 of nanoseconds divided by 1000 fits i64 for every year `time` can represent
    // without the large-dates feature; saturate rather than wrap if that ever changes.
    i64::try_from(t.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

/// The inverse of [`to_micros`].
pub fn from_micros(micros: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Formats a timestamp the way the API publishes it: RFC 3339, UTC, six fractional digits, `Z`.
pub fn format_api(t: OffsetDateTime) -> String {
    ApiTime::new(t).as_str().to_owned()
}

/// A timestamp written the way the API publishes it ([`format_api`]), held without an
/// allocation: every answer carries two or three, and `time`'s general formatter cost more
/// than the rest of a validation's own work. Serializes as that text.
#[derive(Clone, Debug)]
pub enum ApiTime {
    /// Years 0 to 9999, written digit by digit.
    Short([u8; 27]),
    /// Any other year, by the general formatter.
    Long(String),
}

impl ApiTime {
    /// `t` written out.
    pub fn new(t: OffsetDateTime) -> Self {
        let t = t.to_offset(time::UtcOffset::UTC);
        let (year, month, day) = t.to_calendar_date();
        let Some(year) = u32::try_from(year).ok().filter(|y| *y <= 9999) else {
            return Self::Long(format_general(t));
        };
        let (hour, minute, second, micro) = t.to_hms_micro();
        let mut out = *b"0000-00-00T00:00:00.000000Z";
        put_digits(&mut out[0..4], year);
        put_digits(&mut out[5..7], u32::from(u8::from(month)));
        put_digits(&mut out[8..10], u32::from(day));
        put_digits(&mut out[11..13], u32::from(hour));
        put_digits(&mut out[14..16], u32::from(minute));
        put_digits(&mut out[17..19], u32::from(second));
        put_digits(&mut out[20..26], micro);
        Self::Short(out)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        match self {
            // Digits and ASCII punctuation only: always UTF-8.
            Self::Short(bytes) => std::str::from_utf8(bytes).unwrap_or_default(),
            Self::Long(s) => s,
        }
    }
}

impl serde::Serialize for ApiTime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// `value` in decimal, zero-padded to fill `out` (`value` has no more digits than that).
fn put_digits(out: &mut [u8], value: u32) {
    let mut v = value;
    for d in out.iter_mut().rev() {
        // v % 10 < 10: the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation)]
        let digit = (v % 10) as u8;
        *d = b'0' + digit;
        v /= 10;
    }
}

/// The general formatter, for years outside 0..=9999 (which the fast path does not write).
fn format_general(t: OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    t.format(&format)
        .unwrap_or_else(|_| String::from("1970-01-01T00:00:00.000000Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_six_digits_and_z() {
        let t = time::macros::datetime!(2023-05-19 15:06:35.830643 UTC);
        assert_eq!(format_api(t), "2023-05-19T15:06:35.830643Z");
        let whole = time::macros::datetime!(2023-05-19 15:06:35 +02:00);
        assert_eq!(format_api(whole), "2023-05-19T13:06:35.000000Z");
        let early = time::macros::datetime!(0007-01-02 03:04:05.000009 UTC);
        assert_eq!(format_api(early), "0007-01-02T03:04:05.000009Z");
        let last = time::macros::datetime!(9999-12-31 23:59:59.999999 UTC);
        assert_eq!(format_api(last), "9999-12-31T23:59:59.999999Z");
        // What the fast path does not write, the general formatter does, the same way.
        let bc = time::macros::datetime!(-0001-12-31 23:59:59.5 UTC);
        assert_eq!(format_api(bc), format_general(bc));
    }

    #[test]
    fn micros_round_trip() {
        let t = time::macros::datetime!(2031-01-02 03:04:05.678901 UTC);
        assert_eq!(from_micros(to_micros(t)), t);
    }

    #[test]
    fn set_and_advance_move_now() {
        let clock = Clock::system();
        let target = time::macros::datetime!(2040-01-01 00:00:00 UTC);
        clock.set(target);
        let drift = clock.now() - target;
        assert!(
            drift >= Duration::ZERO && drift < Duration::seconds(5),
            "{drift}"
        );
        clock.advance(Duration::days(61));
        let drift = clock.now() - (target + Duration::days(61));
        assert!(
            drift >= Duration::ZERO && drift < Duration::seconds(5),
            "{drift}"
        );
    }
}
