//! Coverage: which documented (operation, status) pairs a run exercised.

use crate::run::RunReport;
use crate::spec::Spec;

/// One documented response and whether the run saw it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Pair {
    /// operationId.
    pub operation: String,
    /// Status.
    pub status: u16,
    /// Seen in a response.
    pub exercised: bool,
}

/// The coverage of a run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Coverage {
    /// Every documented pair, by operation then status.
    pub pairs: Vec<Pair>,
    /// How many were exercised.
    pub exercised: usize,
    /// How many are documented.
    pub documented: usize,
    /// exercised / documented, in percent.
    pub percent: f64,
}

/// Computes the coverage of `report` against `spec`.
pub fn coverage(spec: &Spec, report: &RunReport) -> Coverage {
    let pairs: Vec<Pair> = spec
        .operations
        .values()
        .flat_map(|op| {
            op.responses.keys().map(|status| Pair {
                operation: op.id.clone(),
                status: *status,
                exercised: report.exercised.contains(&(op.id.clone(), *status)),
            })
        })
        .collect();
    let exercised = pairs.iter().filter(|p| p.exercised).count();
    let documented = pairs.len();
    let percent = if documented == 0 {
        100.0
    } else {
        exercised as f64 * 100.0 / documented as f64
    };
    Coverage {
        pairs,
        exercised,
        documented,
        percent,
    }
}
