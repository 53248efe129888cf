//! Coverage: which documented (operation, status) pairs a run exercised. Pairs no request to
//! a correct server can provoke (`x-not-provokable` in the contract: a 500, a gateway's 429)
//! are listed apart, with why, and left out of the percentage.

use crate::run::Report;
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
    /// Why no request to a correct server provokes it, when none can.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_provokable: Option<String>,
}

/// The coverage of a run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Coverage {
    /// Every documented pair, by operation then status.
    pub pairs: Vec<Pair>,
    /// How many provokable pairs were exercised.
    pub exercised: usize,
    /// How many documented pairs a correct server can be made to answer.
    pub documented: usize,
    /// How many documented pairs are left out as not provokable.
    pub excluded: usize,
    /// exercised / documented, in percent.
    pub percent: f64,
}

/// The documented pairs, each with its exclusion reason.
pub fn pairs(spec: &Spec) -> Vec<Pair> {
    spec.operations
        .values()
        .flat_map(|op| {
            op.responses.iter().map(|(status, doc)| Pair {
                operation: op.id.clone(),
                status: *status,
                exercised: false,
                not_provokable: doc.not_provokable.clone(),
            })
        })
        .collect()
}

/// Computes the coverage of `report` against `spec`. A status that is an alternative to
/// another (`x-alternative-to`) counts with it: exercising either exercises both.
pub fn coverage(spec: &Spec, report: &Report) -> Coverage {
    let seen = |op: &str, status: u16| report.meta.exercised.contains(&(op.to_owned(), status));
    let pairs: Vec<Pair> = pairs(spec)
        .into_iter()
        .filter_map(|p| {
            let op = spec.operations.get(&p.operation)?;
            if op
                .response(p.status)
                .is_some_and(|d| d.alternative_to.is_some())
            {
                return None;
            }
            let alternatives = op
                .responses
                .iter()
                .filter(|(_, d)| d.alternative_to == Some(p.status))
                .map(|(s, _)| *s);
            let exercised = seen(&p.operation, p.status)
                || alternatives.into_iter().any(|s| seen(&p.operation, s));
            Some(Pair { exercised, ..p })
        })
        .collect();
    let provokable = pairs.iter().filter(|p| p.not_provokable.is_none());
    let (mut documented, mut exercised) = (0, 0);
    for p in provokable {
        documented += 1;
        exercised += usize::from(p.exercised);
    }
    let percent = if documented == 0 {
        100.0
    } else {
        exercised as f64 * 100.0 / documented as f64
    };
    Coverage {
        excluded: pairs.len() - documented,
        pairs,
        exercised,
        documented,
        percent,
    }
}

/// The excluded pairs, grouped by reason: `reason: op status, op status`.
pub(crate) fn exclusions(pairs: &[Pair]) -> Vec<String> {
    let mut by_reason: Vec<(String, Vec<String>)> = Vec::new();
    for p in pairs {
        let Some(reason) = &p.not_provokable else {
            continue;
        };
        let pair = format!("{} {}", p.operation, p.status);
        match by_reason.iter_mut().find(|(r, _)| r == reason) {
            Some((_, list)) => list.push(pair),
            None => by_reason.push((reason.clone(), vec![pair])),
        }
    }
    by_reason
        .into_iter()
        .map(|(reason, list)| format!("{reason}: {}", list.join(", ")))
        .collect()
}
