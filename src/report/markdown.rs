//! A conformance report a vendor can publish: target, contract and harness versions, date,
//! verdict per requirement, warnings, skipped cases and why, and the coverage matrix.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::case::Severity;
use crate::run::{Body, Meta, Party, Report, Suite, TrafficLog, Verdict};

use super::coverage::Coverage;
use super::redact::Redactor;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The report as Markdown.
pub fn render(report: &Report, coverage: &Coverage, redactor: &Redactor) -> String {
    let mut m = String::new();
    header(&mut m, report, coverage, redactor);
    match &report.body {
        Body::Suite(suite) => {
            verdicts(&mut m, suite);
            failures(&mut m, suite, redactor);
            warnings(&mut m, suite, redactor);
            skipped(&mut m, suite);
            not_run(&mut m, suite);
            leftovers(&mut m, suite);
        }
        Body::Traffic(traffic) => exchanges(&mut m, traffic, redactor),
    }
    matrix(&mut m, coverage);
    m
}

/// The title and the table of facts about the session.
fn header(m: &mut String, report: &Report, coverage: &Coverage, redactor: &Redactor) {
    let meta: &Meta = &report.meta;
    let verdict = format!("**{}**", cell(&report.verdict_text()));
    let _ = writeln!(m, "# Token Authentication API conformance report\n");
    let _ = writeln!(m, "| | |\n|---|---|");
    let _ = writeln!(m, "| Target | `{}` |", cell(&redactor.text(&meta.target)));
    let _ = writeln!(
        m,
        "| Contract | {} {} |",
        cell(&meta.spec_title),
        cell(&meta.spec_version)
    );
    let _ = writeln!(
        m,
        "| Harness | token-conformance {} |",
        meta.harness_version
    );
    let _ = writeln!(m, "| Date | {} |", meta.started_at);
    let _ = writeln!(m, "| Verdict | {verdict} |");
    match &report.body {
        Body::Suite(suite) => {
            let s = suite.summary();
            let _ = writeln!(
                m,
                "| Cases | {} passed, {} failed, {} warned, {} skipped |",
                s.passed, s.failed, s.warned, s.skipped
            );
            let (without, ran) = suite.without_control();
            let _ = writeln!(
                m,
                "| Without control protocol | {without} of {ran} cases ran without the control protocol |"
            );
        }
        Body::Traffic(traffic) => {
            let t = &traffic.counts;
            let _ = writeln!(
                m,
                "| Exchanges | {} in all: {} judged, {} passed through, {} unanswered; {} with a server finding ({} failing), {} with a client finding |",
                t.exchanges,
                t.judged,
                t.passed_through,
                t.unanswered,
                t.server_findings,
                t.failing,
                t.client_findings
            );
        }
    }
    let _ = writeln!(
        m,
        "| Selection | {} |",
        cell(&super::junit::selection(report))
    );
    let _ = writeln!(
        m,
        "| Lifespans assumed | refresh tokens {}, access tokens {} |",
        cell(&meta.shaping.refresh_lifespan),
        cell(&meta.shaping.access_lifespan)
    );
    let _ = writeln!(m, "| Tolerance | {} |", meta.shaping.tolerance);
    let _ = writeln!(
        m,
        "| Control protocol | {} |",
        cell(&super::junit::capabilities(report))
    );
    let _ = writeln!(
        m,
        "| Coverage | {} of {} documented responses exercised ({:.0}%); {} not provokable |\n",
        coverage.exercised, coverage.documented, coverage.percent, coverage.excluded
    );
}

/// What the run left active on the target, and why.
fn leftovers(m: &mut String, report: &Suite) {
    let _ = writeln!(m, "\n## Left on the target\n");
    let lines = report.leftovers.lines(&report.run_id);
    if lines.is_empty() {
        let _ = writeln!(
            m,
            "Nothing: every token the run created was revoked, or handed back clean ({} revoked through the control protocol).",
            report.leftovers.revoked_by_control
        );
    }
    for line in lines {
        let _ = writeln!(m, "- {}", cell(&line));
    }
}

/// One row per case: its verdict, level and requirement.
fn verdicts(m: &mut String, report: &Suite) {
    let _ = writeln!(m, "## Verdict per requirement\n");
    let _ = writeln!(
        m,
        "| Verdict | Level | Case | Requirement |\n|---|---|---|---|"
    );
    for c in &report.cases {
        let _ = writeln!(
            m,
            "| {} | {} | `{}` | {} |",
            c.verdict.label(),
            c.severity.name(),
            c.id,
            cell(&c.requirement)
        );
    }
}

/// Every MUST finding of every failed case.
fn failures(m: &mut String, report: &Suite, redactor: &Redactor) {
    let failed: Vec<_> = report
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::Failed)
        .collect();
    if failed.is_empty() {
        return;
    }
    let _ = writeln!(m, "\n## Failures\n");
    for c in failed {
        let _ = writeln!(m, "### `{}`: {}\n", c.id, cell(&c.title));
        for st in &c.steps {
            for f in st.findings.iter().filter(|f| f.severity == Severity::Must) {
                let _ = writeln!(
                    m,
                    "- {} — `{}`: {}{}",
                    cell(&st.label),
                    f.check,
                    cell(&redactor.text(&f.message)),
                    f.source_note()
                );
                if let (Some(e), Some(a)) = (&f.expected, &f.actual) {
                    let _ = writeln!(
                        m,
                        "  expected `{}`, got `{}`",
                        cell(&redactor.text(e)),
                        cell(&redactor.text(a))
                    );
                }
            }
        }
        m.push('\n');
    }
}

/// Every SHOULD finding.
fn warnings(m: &mut String, report: &Suite, redactor: &Redactor) {
    let _ = writeln!(m, "\n## Warnings\n");
    let mut any = false;
    for c in &report.cases {
        for st in &c.steps {
            for f in st
                .findings
                .iter()
                .filter(|f| f.severity == Severity::Should)
            {
                any = true;
                let _ = writeln!(
                    m,
                    "- `{}` {} — `{}`: {}",
                    c.id,
                    cell(&st.label),
                    f.check,
                    cell(&redactor.text(&f.message))
                );
            }
        }
    }
    if !any {
        let _ = writeln!(m, "None.");
    }
}

/// The MUST cases of the suite that did not run, and why: what the verdict does not cover.
fn not_run(m: &mut String, report: &Suite) {
    if report.not_run.is_empty() {
        return;
    }
    let _ = writeln!(m, "\n## MUST cases not run\n");
    let _ = writeln!(
        m,
        "The verdict covers none of these; a run that conforms runs them all.\n"
    );
    for n in &report.not_run {
        let _ = writeln!(m, "- `{}`: {}", n.id, cell(&n.why));
    }
}

/// The cases not run, and why.
fn skipped(m: &mut String, report: &Suite) {
    let _ = writeln!(m, "\n## Skipped\n");
    let skipped: Vec<_> = report
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::Skipped)
        .collect();
    if skipped.is_empty() {
        let _ = writeln!(m, "None.");
    }
    for c in skipped {
        let _ = writeln!(
            m,
            "- `{}`: {}",
            c.id,
            cell(c.skip_reason.as_deref().unwrap_or(""))
        );
    }
}

/// Every finding in the exchanges kept whole: the target's (its answers broke the contract),
/// then the clients' (their requests did), each party named, since only the target's can fail
/// it.
fn exchanges(m: &mut String, traffic: &TrafficLog, redactor: &Redactor) {
    for (party, heading, whose) in [
        (
            Party::Server,
            "## The target's findings",
            "Answers that broke the contract: the target's (server) findings. A MUST among them fails the target.",
        ),
        (
            Party::Client,
            "## The clients' findings",
            "Requests that broke the contract: the client's findings, warnings that never fail the target.",
        ),
    ] {
        let _ = writeln!(m, "{heading}\n\n{whose}\n");
        let mut any = false;
        for x in &traffic.kept_exchanges {
            for (_, f) in x.findings().filter(|(p, _)| *p == party) {
                any = true;
                let _ = writeln!(
                    m,
                    "- {} — the {}'s {} `{}`: {}{}",
                    cell(&x.label()),
                    party.name(),
                    f.severity.name(),
                    f.check,
                    cell(&redactor.text(&f.message)),
                    f.source_note()
                );
            }
        }
        let _ = writeln!(m, "{}", if any { "" } else { "None.\n" });
    }
}

/// The (operation, status) matrix: exercised, documented only, or not documented.
fn matrix(m: &mut String, coverage: &Coverage) {
    let _ = writeln!(m, "\n## Coverage\n");
    let statuses: BTreeSet<u16> = coverage.pairs.iter().map(|p| p.status).collect();
    let mut ops: Vec<&str> = Vec::new();
    for p in &coverage.pairs {
        if !ops.contains(&p.operation.as_str()) {
            ops.push(p.operation.as_str());
        }
    }
    let _ = write!(m, "| Operation |");
    for st in &statuses {
        let _ = write!(m, " {st} |");
    }
    let _ = write!(m, "\n|---|");
    for _ in &statuses {
        let _ = write!(m, "---|");
    }
    m.push('\n');
    for op in ops {
        let _ = write!(m, "| `{op}` |");
        for st in &statuses {
            let mark = match coverage
                .pairs
                .iter()
                .find(|p| p.operation == op && p.status == *st)
            {
                Some(p) if p.exercised => "✅",
                Some(p) if p.not_provokable.is_some() => "∅",
                Some(_) => "—",
                None => " ",
            };
            let _ = write!(m, " {mark} |");
        }
        m.push('\n');
    }
    let _ = writeln!(
        m,
        "\n✅ exercised, — documented but not exercised, ∅ not provokable, blank: not documented.\n"
    );
    for line in super::coverage::exclusions(&coverage.pairs) {
        let _ = writeln!(m, "- ∅ {}", cell(&line));
    }
}
