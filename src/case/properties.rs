//! Property tests: whatever the text of a case file, loading it gives a case or an error,
//! never a panic.

use std::path::Path;
use std::sync::LazyLock;

use proptest::prelude::*;

use super::parse::*;
use crate::spec::Spec;
use crate::spec::{BUNDLED_SPEC, BUNDLED_SPEC_NAME};

static SPEC: LazyLock<Spec> =
    LazyLock::new(|| Spec::parse(BUNDLED_SPEC, Path::new(BUNDLED_SPEC_NAME)).expect("spec"));

/// The built-in case files, as starting points for mutations.
fn real_cases() -> Vec<&'static str> {
    crate::builtin::CASES
        .iter()
        .filter(|(path, _)| path.ends_with(".yaml"))
        .map(|(_, text)| *text)
        .collect()
}

/// Pieces of YAML and of the case language that mutations splice in.
const PIECES: &[&str] = &[
    "",
    " ",
    "\n",
    "\t",
    ":",
    "- ",
    "{",
    "}",
    "[",
    "]",
    "'",
    "\"",
    "#",
    "&a",
    "*a",
    "!!str",
    "{{",
    "}}",
    "{{ run.unique }}",
    "{{ nope }}",
    "| string",
    "status: ",
    "body:",
    "expect:",
    "call: ",
    "steps:",
    "id: ",
    "null",
    "~",
    "-1",
    "1e999",
    "99999999999999999999",
    "😀",
    "\u{0}",
    "\r",
    "advance_clock: ",
    "25h",
    "capture:",
    "matches: '('",
    "later_than: ",
];

/// One mutation: cut a range, splice in a piece, or duplicate a range.
fn mutate(text: &str, at: usize, len: usize, piece: &str, kind: u8) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = at % (chars.len() + 1);
    let end = (at + len).min(chars.len());
    let (head, tail) = (&chars[..at], &chars[end..]);
    let middle: String = match kind % 3 {
        0 => String::new(),
        1 => piece.to_owned(),
        _ => chars[at..end].iter().chain(&chars[at..end]).collect(),
    };
    head.iter().collect::<String>() + &middle + &tail.iter().collect::<String>()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_text_loads_or_errs(text in any::<String>()) {
        let _ = parse(&text, Path::new("cases/x.yaml"), &SPEC);
    }

    #[test]
    fn mutated_real_cases_load_or_err(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec(
            (any::<usize>(), 0usize..40, prop::sample::select(PIECES), any::<u8>()),
            1..6,
        ),
    ) {
        let cases = real_cases();
        let mut text = which.get(&cases).to_string();
        for (at, len, piece, kind) in edits {
            text = mutate(&text, at, len, piece, kind);
        }
        if let Err(e) = parse(&text, Path::new("cases/x.yaml"), &SPEC) {
            // An error always says where.
            prop_assert!(e.to_string().contains("cases/x.yaml"), "{e}");
        }
    }
}
