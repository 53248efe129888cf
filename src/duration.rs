//! Durations as people write them in flags, profiles and cases: `1s`, `250ms`, `24h`, `61d`,
//! `1h30m`, `0.5s`, and `-2h` where a step moves a clock back.

use std::fmt;

/// Where a lifespan the harness judges expiry by came from, named in every message about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LifespanFrom {
    /// Nothing set it: the vendor page's default (30 days, 12 hours).
    VendorDefault,
    /// A `run` flag, named.
    Flag(&'static str),
    /// The profile file.
    Profile,
    /// The target said so through the control protocol.
    ControlProtocol,
    /// A case's `set_lifespans` step changed it.
    CaseStep,
}

impl fmt::Display for LifespanFrom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::VendorDefault => f.write_str("the vendor's default"),
            Self::Flag(name) => write!(f, "--{name}"),
            Self::Profile => f.write_str("the profile"),
            Self::ControlProtocol => f.write_str("the target's control protocol"),
            Self::CaseStep => f.write_str("the case's set_lifespans step"),
        }
    }
}

/// A signed duration with microsecond precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    micros: i64,
}

impl Span {
    /// From microseconds.
    pub const fn from_micros(micros: i64) -> Self {
        Self { micros }
    }

    /// From whole seconds.
    pub const fn from_secs(secs: i64) -> Self {
        Self {
            micros: secs.saturating_mul(1_000_000),
        }
    }

    /// In microseconds.
    pub(crate) fn micros(self) -> i64 {
        self.micros
    }

    /// In seconds, with the fraction.
    pub(crate) fn as_secs_f64(self) -> f64 {
        self.micros as f64 / 1e6
    }

    /// As a std duration (negative spans become zero).
    pub fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_micros(u64::try_from(self.micros).unwrap_or(0))
    }

    /// As a `time` duration.
    pub(crate) fn to_time(self) -> time::Duration {
        time::Duration::microseconds(self.micros)
    }

    /// Parses `1h30m`, `250ms`, `-2d`, `0.5s`. A bare number is refused: the unit is the part
    /// people get wrong.
    pub fn parse(text: &str) -> Result<Self, SpanError> {
        let t = text.trim();
        let (negative, mut rest) = match t.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, t),
        };
        if rest.is_empty() {
            return Err(SpanError(format!(
                "`{text}` is not a duration (try 1s, 500ms, 24h, 61d)"
            )));
        }
        let mut total: f64 = 0.0;
        while !rest.is_empty() {
            let num_end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            let (num, after) = rest.split_at(num_end);
            let unit_end = after
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(after.len());
            let (unit, next) = after.split_at(unit_end);
            let value: f64 = num.parse().map_err(|_| {
                SpanError(format!(
                    "`{text}` is not a duration (try 1s, 500ms, 24h, 61d)"
                ))
            })?;
            let scale = match unit {
                "us" | "µs" => 1.0,
                "ms" => 1e3,
                "s" => 1e6,
                "m" | "min" => 60e6,
                "h" => 3600e6,
                "d" => 86_400e6,
                "" => {
                    return Err(SpanError(format!(
                        "`{text}` needs a unit: us, ms, s, m, h or d"
                    )));
                }
                other => {
                    return Err(SpanError(format!(
                        "`{other}` in `{text}` is not a unit (us, ms, s, m, h, d)"
                    )));
                }
            };
            total += value * scale;
            rest = next;
        }
        if !total.is_finite() || total.abs() > 1e17 {
            return Err(SpanError(format!("`{text}` is too long a duration")));
        }
        #[allow(clippy::cast_possible_truncation)]
        let micros = total.round() as i64;
        Ok(Self {
            micros: if negative { -micros } else { micros },
        })
    }
}

impl Span {
    /// This span written in the largest unit `like` is a whole number of (days, hours,
    /// minutes, seconds), so that two spans compared read in one unit: `12h` against `24h`,
    /// not `12h` against `1d`.
    pub(crate) fn in_units_of(self, like: Span) -> String {
        let unit = [
            ("d", 86_400_000_000_i64),
            ("h", 3_600_000_000),
            ("m", 60_000_000),
            ("s", 1_000_000),
        ]
        .into_iter()
        .find(|(_, size)| like.micros != 0 && like.micros % size == 0);
        let Some((name, size)) = unit else {
            return self.to_string();
        };
        if self.micros % size == 0 {
            format!("{}{name}", self.micros / size)
        } else {
            #[allow(clippy::cast_precision_loss)]
            let value = self.micros as f64 / size as f64;
            let text = format!("{value:.6}");
            format!("{}{name}", text.trim_end_matches('0').trim_end_matches('.'))
        }
    }
}

impl fmt::Display for Span {
    /// The units that add up to it, largest first, in the form `parse` reads: `61d`, `24h1s`,
    /// `4h33m59s`, `300ms`, `1s500ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.micros;
        if m == 0 {
            return f.write_str("0s");
        }
        if m < 0 {
            f.write_str("-")?;
        }
        let mut rest = m.unsigned_abs();
        for (unit, size) in [
            ("d", 86_400_000_000),
            ("h", 3_600_000_000),
            ("m", 60_000_000),
            ("s", 1_000_000),
        ] {
            if rest >= size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        match rest {
            0 => Ok(()),
            r if r.is_multiple_of(1_000) => write!(f, "{}ms", r / 1_000),
            r => write!(f, "{r}us"),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for Span {
    type Err = SpanError;
    fn from_str(s: &str) -> Result<Self, SpanError> {
        Self::parse(s)
    }
}

/// A text that is not a duration, and why, in words for the person who wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpanError(String);

impl fmt::Display for SpanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SpanError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!(Span::parse("1s").expect("ok").micros(), 1_000_000);
        assert_eq!(Span::parse("250ms").expect("ok").micros(), 250_000);
        assert_eq!(Span::parse("1h30m").expect("ok"), Span::from_secs(5400));
        assert_eq!(Span::parse("-2d").expect("ok"), Span::from_secs(-172_800));
        assert_eq!(Span::parse("0.5s").expect("ok").micros(), 500_000);
        assert!(Span::parse("10").is_err());
        assert!(Span::parse("3 weeks").is_err());
        assert!(Span::parse("").is_err());
    }

    #[test]
    fn displays_compactly() {
        assert_eq!(Span::from_secs(86_401).to_string(), "1d1s");
        assert_eq!(Span::from_secs(86_400 * 61).to_string(), "61d");
        assert_eq!(Span::from_secs(16_439).to_string(), "4h33m59s");
        assert_eq!(Span::from_micros(1500).to_string(), "1500us");
        assert_eq!(Span::from_micros(-300_000).to_string(), "-300ms");
        for s in ["1d1s", "1h30m", "250ms", "61d", "1s500ms"] {
            assert_eq!(Span::parse(s).expect("parses").to_string(), s, "round trip");
        }
    }
}
