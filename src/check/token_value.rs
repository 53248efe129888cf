//! `token.unique` and `token.entropy`.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::{CheckInfo, Context, Finding, Findings};

/// Every issued token is new.
pub const UNIQUE: CheckInfo = CheckInfo::must(
    "token.unique",
    "Every token value issued during the run is unique.",
);
/// Tokens carry enough entropy.
pub const ENTROPY: CheckInfo = CheckInfo::should(
    "token.entropy",
    "Token values carry at least 128 bits by a length and alphabet estimate.",
);

/// Every token value issued during the run, with where it was first seen.
#[derive(Debug, Default)]
pub struct IssuedTokens {
    seen: Mutex<HashMap<String, String>>,
}

impl IssuedTokens {
    /// How many distinct values were issued.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none were.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every value, for redaction.
    pub fn values(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Records `value` as issued at `place`; returns where it was issued before, if it was.
    pub fn record(&self, value: &str, place: &str) -> Option<String> {
        let mut map = self.lock();
        if let Some(first) = map.get(value) {
            return Some(first.clone());
        }
        map.insert(value.to_owned(), place.to_owned());
        None
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Bits of entropy a value can carry at most, by its length and the smallest alphabet that
/// spells it (hex, URL-safe or standard base64, or anything printable).
pub fn entropy_bits(value: &str) -> f64 {
    let hex = value.chars().all(|c| c.is_ascii_hexdigit());
    let b64 = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_+/=".contains(c));
    let per_char = if hex {
        4.0
    } else if b64 {
        6.0
    } else {
        6.5
    };
    value.trim_end_matches('=').chars().count() as f64 * per_char
}

/// `token.unique`.
pub fn unique(cx: &Context<'_>, out: &mut Findings) {
    for token in cx.tokens.iter().filter(|t| t.is_new) {
        if let Some(first) = cx.issued.record(&token.value, cx.x.place) {
            out.push(Finding::new(
                UNIQUE,
                format!(
                    "this {} value was already issued earlier in the run ({first})",
                    token.kind.name()
                ),
            ));
        }
    }
}

/// `token.entropy`.
pub fn entropy(cx: &Context<'_>, out: &mut Findings) {
    for token in cx.tokens.iter().filter(|t| t.is_new) {
        let bits = entropy_bits(&token.value);
        if bits < 128.0 {
            out.push(
                Finding::new(
                    ENTROPY,
                    format!(
                        "this {} can carry at most {bits:.0} bits",
                        token.kind.name()
                    ),
                )
                .values(
                    "at least 128 bits",
                    format!("{} characters", token.value.chars().count()),
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_estimates() {
        assert_eq!(entropy_bits(&"z".repeat(43)), 258.0);
        assert_eq!(entropy_bits(&"a".repeat(43)), 172.0);
        assert_eq!(entropy_bits(&"ab12".repeat(16)), 256.0);
        assert!(entropy_bits("short") < 128.0);
    }
}
