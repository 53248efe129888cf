//! `token.unique` and `token.entropy`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use super::{CheckInfo, Context, Finding, Findings};

/// Every issued token is new.
pub(crate) const UNIQUE: CheckInfo = CheckInfo::must(
    "token.unique",
    "Every token value issued during the run is unique: a value issued twice is one an attacker can guess.",
)
.because(&["rfc6749#10.10"]);
/// Tokens carry enough entropy.
pub(crate) const ENTROPY: CheckInfo = CheckInfo::should(
    "token.entropy",
    "Token values carry at least 128 bits by a length and alphabet estimate.",
);

/// Every token value issued during the run, with where it was first seen.
#[derive(Debug, Default)]
pub struct IssuedTokens {
    seen: Mutex<HashMap<String, String>>,
    /// A proxy's record: digests of the values, never the values, and at most a capacity.
    digests: Option<Mutex<Digests>>,
}

#[derive(Debug)]
struct Digests {
    /// The digests, with no place: a proxy's record holds nothing per token but 16 bytes.
    places: std::collections::HashSet<super::ledger::Key>,
    order: VecDeque<super::ledger::Key>,
    capacity: usize,
    total: usize,
}

impl IssuedTokens {
    /// A record that keeps a digest of each value (not the value, nor where it was seen) and
    /// the latest `capacity` of them: uniqueness is judged against those; a value's near
    /// neighbours cannot be.
    pub(crate) fn digests_only(capacity: usize) -> Self {
        Self {
            seen: Mutex::default(),
            digests: Some(Mutex::new(Digests {
                places: std::collections::HashSet::with_capacity(capacity.max(1)),
                order: VecDeque::with_capacity(capacity.max(1)),
                capacity: capacity.max(1),
                total: 0,
            })),
        }
    }

    /// How many distinct values were issued.
    pub fn len(&self) -> usize {
        match &self.digests {
            Some(d) => d.lock().unwrap_or_else(PoisonError::into_inner).total,
            None => self.lock().len(),
        }
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
    pub(crate) fn record(&self, value: &str, place: &str) -> Option<String> {
        if let Some(d) = &self.digests {
            let k = super::ledger::key(value);
            let mut d = d.lock().unwrap_or_else(PoisonError::into_inner);
            if d.places.contains(&k) {
                return Some("in an earlier exchange".to_owned());
            }
            if d.places.len() >= d.capacity
                && let Some(old) = d.order.pop_front()
            {
                d.places.remove(&old);
            }
            d.places.insert(k);
            d.order.push_back(k);
            d.total += 1;
            return None;
        }
        let mut map = self.lock();
        if let Some(first) = map.get(value) {
            return Some(first.clone());
        }
        map.insert(value.to_owned(), place.to_owned());
        None
    }

    /// Whether another value issued in the run differs from `value` in two characters or
    /// fewer (a counter's neighbours): a value near it may then be one of them.
    pub(crate) fn crowded(&self, value: &str) -> bool {
        self.lock()
            .keys()
            .filter(|v| v.as_str() != value)
            .any(|v| differences(v, value).is_some_and(|d| d <= 2))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Bits a character can carry at most: the smallest alphabet that spells the value (hex, the
/// base64 alphabets, or anything printable).
fn bits_per_char(value: &str) -> f64 {
    if value.chars().all(|c| c.is_ascii_hexdigit()) {
        4.0
    } else if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_+/=".contains(c))
    {
        6.0
    } else {
        6.5
    }
}

/// Whether character `i` follows from those before it: the fourth of four equal characters,
/// or the fifth of five in one arithmetic step (`abcde`, `13579`). Shorter patterns occur in
/// random values too often to count against them.
fn predictable(c: &[char], i: usize) -> bool {
    let code = |k: usize| i64::from(u32::from(c[k]));
    let run = i >= 3 && (1..=3).all(|k| c[i - k] == c[i]);
    let step = i >= 4 && {
        let d = code(i) - code(i - 1);
        d != 0 && (1..=3).all(|k| code(i - k) - code(i - k - 1) == d)
    };
    run || step
}

/// The smallest block the value repeats, if it repeats one at least twice.
fn period(c: &[char]) -> Option<usize> {
    (1..=c.len() / 2).find(|&p| (p..c.len()).all(|i| c[i] == c[i - p]))
}

/// An estimate of the bits of entropy in a value, from the value itself: its length and
/// alphabet, less what repeats (a block repeated, a run of one character, a counting run).
pub(crate) fn entropy_bits(value: &str) -> f64 {
    let per = bits_per_char(value);
    let chars: Vec<char> = value.trim_end_matches('=').chars().collect();
    let chars = match period(&chars) {
        Some(p) => &chars[..p],
        None => &chars[..],
    };
    let free = (0..chars.len()).filter(|&i| !predictable(chars, i)).count();
    free as f64 * per
}

/// In how many places two values of the same length differ.
fn differences(a: &str, b: &str) -> Option<usize> {
    (a.chars().count() == b.chars().count())
        .then(|| a.chars().zip(b.chars()).filter(|(x, y)| x != y).count())
}

/// `token.unique`.
pub fn unique(cx: &Context<'_>, out: &mut Findings) {
    for token in cx.tokens.iter().filter(|t| t.is_new) {
        if let Some(first) = cx.issued.record(&token.value, cx.x.place) {
            out.push(Finding::new(
                UNIQUE,
                format!(
                    "this {} value was already issued earlier ({first})",
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
                        "this {} carries about {bits:.0} bits, by its length, alphabet and repetitions",
                        token.kind.name()
                    ),
                )
                .values(
                    "at least 128 bits",
                    format!("{} characters", token.value.chars().count()),
                ),
            );
            continue;
        }
        // A value a few characters away from an earlier one is a counter, not random.
        let per = bits_per_char(&token.value);
        let nearest = cx
            .issued
            .values()
            .into_iter()
            .filter(|v| *v != token.value)
            .filter_map(|v| differences(&v, &token.value))
            .min();
        if let Some(d) = nearest.filter(|d| (*d as f64) * per < 128.0) {
            out.push(
                Finding::new(
                    ENTROPY,
                    format!(
                        "this {} differs from a value issued earlier in only {d} of {} characters",
                        token.kind.name(),
                        token.value.chars().count()
                    ),
                )
                .values(
                    "at least 128 bits of difference",
                    format!("about {:.0} bits", d as f64 * per),
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_is_estimated_from_the_value_not_its_length() {
        assert!(entropy_bits("short") < 128.0);
        assert_eq!(entropy_bits(&"z".repeat(43)), 6.0, "one character repeated");
        assert_eq!(
            entropy_bits(&"ab12".repeat(16)),
            16.0,
            "a block repeated (in hex)"
        );
        assert_eq!(
            entropy_bits("Q3zzzz"),
            30.0,
            "the fourth of a run of four is free"
        );
        let counting: String = ('A'..='Z').chain('a'..='z').collect();
        assert!(entropy_bits(&counting) < 64.0, "a counting run");
        let counter = format!("tok{:040}", 7);
        assert!(entropy_bits(&counter) < 128.0, "{counter}");
        // Real random values keep their estimate, including the shortest that carry 128 bits.
        for v in [
            "EWBWdWrX20cY8EpwxWSTlI98pRyV1rhmXcevEUHG5Lc",
            "mnuM-jp7uAOLWsG7ojs6rY-wweh2JVfKmNtWyPgVs-RdIysp4QyEHJtdd5Q5fECWEOsGVYxZ0eHy37j_lqoPcQ",
            "6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b",
            "q3Zp0Lr-7Xw9Yb2Tn8Kc4A",
        ] {
            assert!(entropy_bits(v) >= 128.0, "{v}: {}", entropy_bits(v));
        }
    }

    #[test]
    fn a_digest_record_finds_repeats_within_its_capacity() {
        let issued = IssuedTokens::digests_only(2);
        assert_eq!(issued.record("value-a", "exchange 1"), None);
        assert!(issued.record("value-a", "exchange 2").is_some());
        issued.record("value-b", "exchange 3");
        issued.record("value-c", "exchange 4");
        assert_eq!(
            issued.record("value-a", "exchange 5"),
            None,
            "forgotten past the capacity"
        );
        assert_eq!(issued.len(), 4);
        assert!(issued.values().is_empty(), "no value is kept");
    }

    #[test]
    fn near_copies_differ_in_few_places() {
        assert_eq!(differences("abcdef", "abcdeg"), Some(1));
        assert_eq!(differences("abc", "abcd"), None);
    }
}
