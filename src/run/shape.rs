//! What shaped a run's verdict besides the target's answers: the selection flags, the MUST
//! cases of the suite that did not run and why, the lifespans and tolerance assumed.

use crate::case::Case;
use crate::spec::TokenKind;
use crate::target::Target;

use super::{CaseResult, NotRun, Options, Shaping, Verdict, selected};

/// The selection flags of a run, as a user would write them.
pub(super) fn selection(opts: &Options) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(f) = &opts.filter {
        out.push(format!("--filter {f}"));
    }
    out.extend(opts.tags.iter().map(|t| format!("--tag {t}")));
    if let Some((k, n)) = opts.partition {
        out.push(format!("--partition {k}/{n}"));
    }
    out
}

/// The MUST cases of the suite that did not run: left out by the selection, or skipped.
pub(super) fn not_run(suite: &[Case], results: &[CaseResult], opts: &Options) -> Vec<NotRun> {
    let left_out = selection(opts).join(" ");
    let mut out: Vec<NotRun> = suite
        .iter()
        .filter(|c| c.severity == crate::case::Severity::Must && !selected(c, opts))
        .map(|c| NotRun {
            id: c.id.clone(),
            why: format!("left out by {left_out}"),
        })
        .collect();
    out.extend(
        results
            .iter()
            .filter(|r| r.severity == crate::case::Severity::Must && r.verdict == Verdict::Skipped)
            .map(|r| NotRun {
                id: r.id.clone(),
                why: r.skip_reason.clone().unwrap_or_default(),
            }),
    );
    // Selected and without a result: Ctrl-C stopped the run before it finished.
    out.extend(
        suite
            .iter()
            .filter(|c| c.severity == crate::case::Severity::Must && selected(c, opts))
            .filter(|c| !results.iter().any(|r| r.id == c.id))
            .map(|c| NotRun {
                id: c.id.clone(),
                why: "the run was interrupted before it".to_owned(),
            }),
    );
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// What shaped the run's verdict besides the target's answers.
pub(super) fn shaping(target: &Target, opts: &Options) -> Shaping {
    Shaping::new(target, selection(opts))
}

impl Shaping {
    /// What shapes a verdict on `target` besides its answers: the `selection` of cases (empty
    /// for the whole suite, or for traffic), the lifespans and tolerance assumed, and the
    /// control protocol's capabilities.
    pub fn new(target: &Target, selection: Vec<String>) -> Self {
        Self {
            selection,
            refresh_lifespan: format!(
                "{} (from {})",
                TokenKind::Refresh.lifespan_text(target.refresh_lifespan),
                target.refresh_lifespan_from
            ),
            access_lifespan: format!(
                "{} (from {})",
                TokenKind::Access.lifespan_text(target.access_lifespan),
                target.access_lifespan_from
            ),
            tolerance: target.tolerance.to_string(),
            capabilities: target
                .capabilities
                .iter()
                .map(|c| c.name().to_owned())
                .collect(),
        }
    }
}
