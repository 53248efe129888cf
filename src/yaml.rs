//! The one way this crate reads YAML: serde-saphyr with duplicate keys refused and strict
//! booleans (`yes`/`no`/`on`/`off` stay strings), errors turned into [`Error`]s that carry
//! the file, the line, and a "did you mean" for misspelled keys.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::{Error, ErrorKind, Place, did_you_mean};

/// Parses `text` (the contents of `file`) into `T`.
pub fn parse<T: DeserializeOwned>(text: &str, file: &Path, kind: ErrorKind) -> Result<T, Error> {
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options.with_snippet = false;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    serde_saphyr::from_str_with_options::<T>(text, options).map_err(|e| convert(&e, file, kind))
}

fn convert(e: &serde_saphyr::Error, file: &Path, kind: ErrorKind) -> Error {
    let place = match e.location() {
        Some(loc) if loc.line() > 0 => Place::line(file, loc.line()),
        _ => Place::file(file),
    };
    let raw = e.to_string();
    // serde-saphyr appends its own "at line X, column Y"; the place already says it.
    let message = strip_location(&raw);
    let mut err = Error::new(kind, message.clone()).at(place);
    if let Some(hint) = unknown_key_hint(&message) {
        err = err.hint(hint);
    }
    err
}

fn strip_location(raw: &str) -> String {
    let first = raw.lines().next().unwrap_or(raw).trim();
    match first.find(" at line ") {
        Some(i) => first[..i].trim_end_matches(',').to_owned(),
        None => first.to_owned(),
    }
}

/// For serde's "unknown field `x`, expected one of `a`, `b`" (or "unknown variant"), the
/// closest expected word.
fn unknown_key_hint(message: &str) -> Option<String> {
    let (what, rest) = if let Some(i) = message.find("unknown field `") {
        ("key", &message[i + "unknown field `".len()..])
    } else if let Some(i) = message.find("unknown variant `") {
        ("value", &message[i + "unknown variant `".len()..])
    } else {
        return None;
    };
    let end = rest.find('`')?;
    let word = &rest[..end];
    let tail = &rest[end + 1..];
    let expected: Vec<&str> = match tail.find("expected") {
        Some(i) => tail[i + "expected".len()..]
            .trim_start_matches(" one of")
            .split([',', ' '])
            .map(|w| w.trim().trim_matches('`'))
            .filter(|w| !w.is_empty() && *w != "or")
            .collect(),
        None => Vec::new(),
    };
    match did_you_mean(word, expected.iter().copied()) {
        Some(best) => Some(format!("did you mean `{best}`?")),
        None if !expected.is_empty() => {
            Some(format!("a {what} here is one of: {}", expected.join(", ")))
        }
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        status: u16,
        #[serde(default)]
        body: Option<String>,
    }

    #[test]
    fn unknown_key_gets_line_and_suggestion() {
        let e = parse::<Doc>(
            "status: 200\nstauts: 201\n",
            Path::new("c.yaml"),
            ErrorKind::Case,
        )
        .expect_err("unknown key");
        assert_eq!(e.place, Some(Place::line(Path::new("c.yaml"), 2)), "{e}");
        assert_eq!(e.hint.as_deref(), Some("did you mean `status`?"), "{e}");
    }

    #[test]
    fn duplicate_key_is_an_error_with_a_line() {
        let e = parse::<Doc>(
            "status: 200\nstatus: 201\n",
            Path::new("c.yaml"),
            ErrorKind::Case,
        )
        .expect_err("duplicate");
        assert!(e.message.to_lowercase().contains("duplicate"), "{e}");
        assert_eq!(e.place.and_then(|p| p.line), Some(2));
    }

    #[test]
    fn yes_is_not_a_boolean() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct B {
            flag: bool,
        }
        assert!(parse::<B>("flag: yes\n", Path::new("b.yaml"), ErrorKind::Case).is_err());
        assert!(parse::<B>("flag: true\n", Path::new("b.yaml"), ErrorKind::Case).is_ok());
    }
}
