//! `token.unique` and `token.entropy`.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::ledger::Seen;
use super::{Exchange, Finding, TOKEN_ENTROPY, TOKEN_UNIQUE};

/// Every token value issued during the run, with where it was first seen.
#[derive(Debug, Default)]
pub struct IssuedTokens {
    seen: Mutex<HashMap<String, String>>,
}

impl IssuedTokens {
    /// How many distinct values were issued.
    pub fn len(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether none were.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every value, for redaction.
    pub fn values(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
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

pub(super) fn check(
    _x: &Exchange<'_>,
    seen: &[Seen],
    issued: &IssuedTokens,
    where_: &str,
    out: &mut Vec<Finding>,
) {
    for token in seen.iter().filter(|t| t.is_new) {
        {
            let mut map = issued.seen.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(first) = map.get(&token.value) {
                out.push(Finding::new(
                    TOKEN_UNIQUE,
                    format!(
                        "this {} value was already issued earlier in the run ({first})",
                        token.kind.name()
                    ),
                ));
            } else {
                map.insert(token.value.clone(), where_.to_owned());
            }
        }
        let bits = entropy_bits(&token.value);
        if bits < 128.0 {
            out.push(
                Finding::new(
                    TOKEN_ENTROPY,
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
