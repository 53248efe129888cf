//! What a check is (its id, severity and summary) and what it reports (findings).

use crate::source::Source;
use crate::spec::Severity;

use super::Context;

/// A check's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckInfo {
    /// Stable id, e.g. `schema.body`.
    pub id: &'static str,
    /// MUST or SHOULD.
    pub severity: Severity,
    /// One line: what it verifies.
    pub summary: &'static str,
    /// Whether a SHOULD case turns its findings into warnings. A few checks stay MUST in any
    /// case: they guard against what no severity makes acceptable (a crash on bad input).
    pub demotable: bool,
    /// What a MUST rests on ([`crate::source::Source`]'s spelling): the vendor's page, an
    /// RFC's MUST, a real client. `case` for the engine's expectation checks, whose source is
    /// the case's. A test fails a MUST check without one.
    pub sources: &'static [&'static str],
}

impl CheckInfo {
    /// A MUST check.
    pub const fn must(id: &'static str, summary: &'static str) -> Self {
        Self {
            id,
            severity: Severity::Must,
            summary,
            demotable: true,
            sources: &[],
        }
    }

    /// The same check, resting on these sources (see [`CheckInfo::sources`]).
    pub const fn because(self, sources: &'static [&'static str]) -> Self {
        Self { sources, ..self }
    }

    /// The same check, MUST even in a SHOULD case.
    pub const fn in_every_case(self) -> Self {
        Self {
            demotable: false,
            ..self
        }
    }

    /// A SHOULD check.
    pub const fn should(id: &'static str, summary: &'static str) -> Self {
        Self {
            id,
            severity: Severity::Should,
            summary,
            demotable: true,
            sources: &[],
        }
    }
}

/// The signature every response check has.
pub type CheckFn = fn(&Context<'_>, &mut Findings);

/// One thing a check found wrong.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// The check's id.
    pub check: &'static str,
    /// Its effective severity (a SHOULD case makes every finding SHOULD).
    pub severity: Severity,
    /// The failure text.
    pub message: String,
    /// What was expected, when it is a value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What was found, when it is a value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// Whether a SHOULD case may turn it into a warning.
    #[serde(skip)]
    pub demotable: bool,
    /// What the requirement rests on, for a MUST finding: the check's sources, or for the
    /// engine's expectation checks the case's (filled in when the case records the step).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
}

impl Finding {
    /// A finding of `check` with a message.
    pub fn new(check: CheckInfo, message: impl Into<String>) -> Self {
        Self {
            check: check.id,
            severity: check.severity,
            message: message.into(),
            expected: None,
            actual: None,
            demotable: check.demotable,
            // The table's spellings are checked by a test, so none is dropped here.
            sources: check
                .sources
                .iter()
                .filter_map(|s| Source::parse(s).ok())
                .collect(),
        }
    }

    /// What a MUST finding rests on, as reports print it beside the finding:
    /// ` (source: vendor-page, client:allie-sdk)`, or nothing for a warning.
    pub fn source_note(&self) -> String {
        if self.severity == Severity::Should || self.sources.is_empty() {
            return String::new();
        }
        format!(" (source: {})", crate::source::list(&self.sources))
    }

    /// Adds expected and actual values.
    pub fn values(mut self, expected: impl Into<String>, actual: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self.actual = Some(actual.into());
        self
    }
}

/// The findings of one response, in the order the checks reported them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Findings(Vec<Finding>);

impl Findings {
    /// Adds a finding.
    pub fn push(&mut self, f: Finding) {
        self.0.push(f);
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The findings, in order.
    pub(crate) fn into_vec(self) -> Vec<Finding> {
        self.0
    }
}
