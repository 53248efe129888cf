//! Errors that stop a run before any verdict: bad usage, a broken profile, spec or case file
//! (exit code 2), or a target that cannot be reached (exit code 3). Conformance failures are not
//! errors; they are verdicts (see [`crate::check`]). [`Exit`] names the four exit codes.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where in a file something is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<u64>,
}

impl Place {
    /// A whole file.
    pub fn file(file: &Path) -> Self {
        Self {
            file: file.to_owned(),
            line: None,
        }
    }

    /// A line of a file.
    pub fn line(file: &Path, line: u64) -> Self {
        Self {
            file: file.to_owned(),
            line: Some(line),
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.file.display()),
            None => write!(f, "{}", self.file.display()),
        }
    }
}

/// The process exit codes, the same for every command. Assertion failures (1) are kept apart
/// from errors that stopped the run (2, 3) and from a person stopping it (130), so a pipeline
/// can tell "not conformant" from "could not judge".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Success: every MUST check passed (warnings allowed unless `--strict`), or the command did its job.
    Success = 0,
    /// At least one conformance failure.
    Failures = 1,
    /// A usage, profile, spec or case error.
    Error = 2,
    /// The target is unreachable or stopped answering.
    Unreachable = 3,
    /// Stopped by Ctrl-C (SIGINT): 128 + the signal's number, as shells report a process the
    /// signal ended, though this one ended on its own, with its reports written.
    Interrupted = 130,
}

impl Exit {
    /// The numeric code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        Self::from(e.code())
    }
}

/// What kind of input was wrong; decides the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Flags or arguments.
    Usage,
    /// The target profile.
    Profile,
    /// The OpenAPI document.
    Spec,
    /// A case file.
    Case,
    /// The target did not answer at all.
    Unreachable,
}

/// An error with a title, an optional place, and an optional hint on what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// What kind of input was wrong.
    pub kind: ErrorKind,
    /// One line saying what is wrong.
    pub message: String,
    /// Where, when the error is in a file.
    pub place: Option<Place>,
    /// What to do about it ("did you mean ...?").
    pub hint: Option<String>,
}

impl Error {
    /// An error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            place: None,
            hint: None,
        }
    }

    /// Adds the place.
    pub fn at(mut self, place: Place) -> Self {
        self.place = Some(place);
        self
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a hint when there is one.
    #[must_use]
    pub(crate) fn hint_if(mut self, hint: Option<String>) -> Self {
        if hint.is_some() {
            self.hint = hint;
        }
        self
    }

    /// The exit code this error calls for.
    pub fn exit(&self) -> Exit {
        match self.kind {
            ErrorKind::Unreachable => Exit::Unreachable,
            _ => Exit::Error,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ErrorKind::Usage => "usage error",
            ErrorKind::Profile => "profile error",
            ErrorKind::Spec => "spec error",
            ErrorKind::Case => "case error",
            ErrorKind::Unreachable => "target unreachable",
        };
        match &self.place {
            Some(place) => write!(f, "{what}: {place}: {}", self.message)?,
            None => write!(f, "{what}: {}", self.message)?,
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (levenshtein(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        let ops = [
            "createRefreshToken",
            "validateRefreshToken",
            "regenRefreshToken",
        ];
        assert_eq!(
            did_you_mean("createRefreshTokn", ops),
            Some("createRefreshToken")
        );
        assert_eq!(
            did_you_mean("validaterefreshtoken", ops),
            Some("validateRefreshToken")
        );
        assert_eq!(did_you_mean("deleteEverything", ops), None);
        assert_eq!(did_you_mean("stauts", ["status", "body"]), Some("status"));
    }

    #[test]
    fn display_has_place_and_hint() {
        let e = Error::new(ErrorKind::Case, "unknown key `stauts`")
            .at(Place::line(Path::new("cases/a.yaml"), 14))
            .hint("did you mean `status`?");
        assert_eq!(
            e.to_string(),
            "case error: cases/a.yaml:14: unknown key `stauts`\n  hint: did you mean `status`?"
        );
        assert_eq!(e.exit(), Exit::Error);
    }
}

/// What is wrong with part of a document, before the loader places it: a message and, when
/// there is one, a hint. The loader adds the file and line and makes it an [`Error`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl Problem {
    /// A problem, with a hint or none.
    pub fn of(message: impl Into<String>, hint: impl Into<Option<String>>) -> Self {
        Self {
            message: message.into(),
            hint: hint.into(),
        }
    }
}

/// A flag's value that is not what the flag takes, said for the person who wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadValue(String);

impl std::fmt::Display for BadValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadValue {}

impl BadValue {
    /// A bad value, and what is wrong with it.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}
