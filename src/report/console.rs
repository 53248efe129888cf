//! The console report, in two lengths. The default ([`brief`]) tells a failing run's story in
//! a screenful or two: a line per failed case, the findings grouped by check with the first
//! example of each (request and response, secrets redacted), the skipped cases grouped by what
//! would run them, and the verdict; however many cases fail, it stays within
//! [`BRIEF_LINES`] lines. The verbose one (`-v`: [`progress_line`] per case as it finishes,
//! then [`details`]) shows every failure and warning in full. Colour only on a terminal, and
//! never with `NO_COLOR`.

use std::fmt::Write as _;

use crate::case::Severity;
use crate::check::Finding;
use crate::run::{Body, CaseResult, Party, Report, StepResult, Suite, TrafficLog, Verdict, plural};

use super::coverage::Coverage;
use super::redact::Redactor;

/// Console styling.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    /// Use ANSI colours.
    pub color: bool,
}

impl Style {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset.
    pub fn detect() -> Self {
        use std::io::IsTerminal as _;
        Self {
            color: std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn verdict(self, v: Verdict) -> String {
        let code = match v {
            Verdict::Passed => "32",
            Verdict::Warned => "33",
            Verdict::Failed => "31;1",
            Verdict::Skipped => "36",
        };
        self.paint(code, v.label())
    }
}

/// The progress line for one finished case.
pub fn progress_line(r: &CaseResult, style: Style) -> String {
    let detail = match (&r.verdict, &r.skip_reason) {
        (Verdict::Skipped, Some(why)) => format!("({why})"),
        _ => format!("({}, {} ms)", plural(r.requests(), "request"), r.millis),
    };
    format!(
        "{} {}  {}",
        style.verdict(r.verdict),
        r.id,
        style.paint("2", &detail)
    )
}

fn step_detail(out: &mut String, s: &StepResult, redactor: &Redactor, style: Style) {
    for f in &s.findings {
        let sev = match f.severity {
            Severity::Must => style.paint("31", "MUST"),
            Severity::Should => style.paint("33", "SHOULD"),
        };
        let _ = writeln!(
            out,
            "    [{}] {sev} {}{}",
            f.check,
            redactor.text(&f.message),
            style.paint("2", &f.source_note())
        );
        expected_actual(out, f, redactor);
    }
    step_exchange(out, s, redactor);
}

/// A finding's expected and actual values, when it has them.
fn expected_actual(out: &mut String, f: &Finding, redactor: &Redactor) {
    if let (Some(e), Some(a)) = (&f.expected, &f.actual) {
        let _ = writeln!(out, "      expected: {}", redactor.text(e));
        let _ = writeln!(out, "      actual:   {}", redactor.text(a));
    }
}

/// A step's request and response, redacted.
fn step_exchange(out: &mut String, s: &StepResult, redactor: &Redactor) {
    if let Some(req) = s.request() {
        let _ = writeln!(
            out,
            "    request:  {} {}",
            req.method,
            redactor.text(&req.url)
        );
        for (k, v) in req.headers.iter() {
            let _ = writeln!(out, "              {k}: {}", redactor.text(v));
        }
        if !req.body.is_empty() {
            // By structure first: a near miss of a password is no known secret, but it sits
            // in the password's field.
            let body = crate::report::har::redact_body(&req.body, redactor);
            let _ = writeln!(out, "              {body}");
        }
    }
    if let Some(resp) = s.response() {
        let _ = writeln!(out, "    response: {} ({} ms)", resp.status, resp.millis);
        for (k, v) in resp.headers.iter() {
            if ["content-type", "cache-control", "retry-after"].contains(&k.as_str()) {
                let _ = writeln!(out, "              {k}: {}", redactor.text(v));
            }
        }
        if !resp.body.is_empty() {
            let _ = writeln!(out, "              {}", redactor.text(&resp.body));
        }
    }
}

/// The verbose closing text (`-v`): for a suite, every failure and warning in detail, then
/// the summary; for traffic, what it held (its findings were printed as they happened,
/// [`exchange_lines`]).
pub fn details(report: &Report, redactor: &Redactor, style: Style) -> String {
    match &report.body {
        Body::Suite(suite) => suite_details(report, suite, redactor, style),
        Body::Traffic(traffic) => traffic_details(traffic),
    }
}

/// The lines [`brief`] keeps to, whatever the run: a failing run's point fits a screenful or
/// two, and `-v` and the reports hold the rest.
pub const BRIEF_LINES: usize = 190;

/// The default closing text. For a suite: a line per failed case, the findings grouped by
/// check with the first example of each, the skipped cases grouped by what would run them,
/// and the summary with the verdict, within [`BRIEF_LINES`] lines (what does not fit is
/// counted, and `-v`, `--json` and `--markdown` named for it). For traffic, as [`details`].
pub fn brief(report: &Report, redactor: &Redactor, style: Style) -> String {
    let Body::Suite(suite) = &report.body else {
        return details(report, redactor, style);
    };
    let mut out = String::new();
    let mut summary_text = String::new();
    summary(&mut summary_text, report, suite, style);
    let skipped = skipped_groups(suite, Some(SKIPPED_IDS_SHOWN));
    // What is left for the failed cases and their findings once the skipped groups and the
    // summary are said.
    let budget = BRIEF_LINES.saturating_sub(lines(&summary_text) + lines(&skipped));
    failures_brief(&mut out, suite, redactor, style, budget);
    out.push_str(&skipped);
    out.push_str(&summary_text);
    out
}

/// Checks the brief console names; the rest are counted.
const GROUPS_LISTED: usize = 30;

/// Skipped cases named per reason in the brief console; the rest are counted.
const SKIPPED_IDS_SHOWN: usize = 6;

/// Failed cases listed one per line before the brief console counts the rest instead.
const FAILED_LINES_ALL: usize = 100;

/// When more cases failed than [`FAILED_LINES_ALL`], how many are listed.
const FAILED_LINES_SOME: usize = 40;

fn lines(text: &str) -> usize {
    text.lines().count()
}

/// Where the whole of what the brief console leaves out is.
const ELSEWHERE: &str =
    "`-v` prints them all, as do the reports (`--json PATH`, `--markdown PATH`)";

/// The failed cases, a line each, then the findings by check with an example each, within
/// `budget` lines.
fn failures_brief(
    out: &mut String,
    suite: &Suite,
    redactor: &Redactor,
    style: Style,
    budget: usize,
) {
    let failed: Vec<&CaseResult> = suite
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::Failed)
        .collect();
    let groups = by_check(suite);
    if failed.is_empty() && groups.is_empty() {
        return;
    }
    let mut text = failed_list(&failed, style);
    let _ = writeln!(text, "\nfindings by check, with the first of each:");
    // Every group is owed its head line, and the section a closing note; examples go to the
    // groups with the most findings while the budget lasts, and past it the groups are counted.
    // Two notes at most: the examples left out, the checks left out.
    let mut room = budget.saturating_sub(lines(&text) + 2);
    let listed = groups.len().min(GROUPS_LISTED);
    let mut untold = 0;
    // Exchanges already shown, by where they are (case id, step label): one wrong field fails
    // several checks on the same answer, which is printed once.
    let mut shown: Vec<(&str, &str)> = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        if i == listed || room == 0 {
            let more = groups.len() - i;
            let checks = if more == 1 { "check" } else { "checks" };
            let _ = writeln!(text, "  … and {more} more {checks}: {ELSEWHERE}");
            break;
        }
        let _ = writeln!(
            text,
            "  [{}] {} {} in {}: {}",
            g.check,
            match g.severity {
                Severity::Must => style.paint("31", "MUST"),
                Severity::Should => style.paint("33", "SHOULD"),
            },
            plural(g.count, "finding"),
            plural(g.cases, "case"),
            redactor.text(&g.finding.message)
        );
        room -= 1;
        // What this group may take, leaving a line for each later head.
        let spare = room.saturating_sub(listed - i - 1);
        let first = format!("    first in {} — {}\n", g.case.id, g.place());
        let mut example = first.clone();
        expected_actual(&mut example, g.finding, redactor);
        let place = (g.case.id.as_str(), g.step.label.as_str());
        if shown.contains(&place) {
            let _ = writeln!(example, "    (request and response as above)");
        } else {
            step_exchange(&mut example, g.step, redactor);
        }
        if lines(&example) <= spare {
            shown.push(place);
            room -= lines(&example);
            text.push_str(&example);
        } else {
            untold += 1;
            if spare >= 1 {
                room -= 1;
                text.push_str(&first);
            }
        }
    }
    if untold > 0 {
        let _ = writeln!(
            text,
            "  (the request and response of {}: {ELSEWHERE})",
            plural(untold, "more check")
        );
    }
    out.push_str(&text);
}

/// The failed cases, a line each; past [`FAILED_LINES_ALL`], the first
/// [`FAILED_LINES_SOME`] and a count.
fn failed_list(failed: &[&CaseResult], style: Style) -> String {
    let mut text = String::new();
    if failed.is_empty() {
        return text;
    }
    let shown = if failed.len() > FAILED_LINES_ALL {
        FAILED_LINES_SOME
    } else {
        failed.len()
    };
    let _ = writeln!(text, "\n{} failed:", plural(failed.len(), "case"));
    for c in &failed[..shown] {
        let _ = writeln!(text, "{}", failed_line(c, style));
    }
    if shown < failed.len() {
        // More than FAILED_LINES_ALL failed, so "cases" is always plural here.
        let _ = writeln!(
            text,
            "… and {} more failed cases: {ELSEWHERE}",
            failed.len() - shown
        );
    }
    text
}

/// One failed case in a line: its id, title and the checks that failed it.
pub fn failed_line(c: &CaseResult, style: Style) -> String {
    let mut checks: Vec<&str> = Vec::new();
    for f in c.steps.iter().flat_map(|s| &s.findings) {
        if f.severity == Severity::Must && !checks.contains(&f.check) {
            checks.push(f.check);
        }
    }
    format!(
        "{} {} — {}  {}",
        style.verdict(c.verdict),
        c.id,
        c.title,
        style.paint("2", &format!("[{}]", checks.join(", ")))
    )
}

/// The findings of one check across a suite, with the first of them.
struct Group<'r> {
    check: &'static str,
    severity: Severity,
    count: usize,
    cases: usize,
    case: &'r CaseResult,
    step: &'r StepResult,
    finding: &'r Finding,
}

impl Group<'_> {
    /// `step 2: createRefreshToken (cases/x.yaml:14)`.
    fn place(&self) -> String {
        if self.step.line > 0 {
            format!(
                "{} ({}:{})",
                self.step.label, self.case.file, self.step.line
            )
        } else {
            format!("{} ({})", self.step.label, self.case.file)
        }
    }
}

/// The suite's findings grouped by check and severity: MUST before SHOULD, then the most
/// frequent first.
fn by_check(suite: &Suite) -> Vec<Group<'_>> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    for c in &suite.cases {
        let mut seen_in_case: Vec<(&str, Severity)> = Vec::new();
        for st in &c.steps {
            for f in &st.findings {
                let first_in_case = !seen_in_case.contains(&(f.check, f.severity));
                if first_in_case {
                    seen_in_case.push((f.check, f.severity));
                }
                match groups
                    .iter_mut()
                    .find(|g| g.check == f.check && g.severity == f.severity)
                {
                    Some(g) => {
                        g.count += 1;
                        g.cases += usize::from(first_in_case);
                    }
                    None => groups.push(Group {
                        check: f.check,
                        severity: f.severity,
                        count: 1,
                        cases: 1,
                        case: c,
                        step: st,
                        finding: f,
                    }),
                }
            }
        }
    }
    groups.sort_by(|a, b| {
        (a.severity != Severity::Must)
            .cmp(&(b.severity != Severity::Must))
            .then(b.count.cmp(&a.count))
            .then(a.check.cmp(b.check))
    });
    groups
}

/// The coverage line that follows the details.
pub fn coverage_line(report: &Report, coverage: &Coverage) -> String {
    match report.body {
        Body::Suite(_) => format!(
            "coverage: {} of {} documented responses exercised ({:.1}%); {} left out as not provokable (no request to a correct server can bring them about)\n",
            coverage.exercised, coverage.documented, coverage.percent, coverage.excluded
        ),
        Body::Traffic(_) => format!(
            "coverage: {} of {} documented responses exercised ({:.1}%)\n",
            coverage.exercised, coverage.documented, coverage.percent
        ),
    }
}

/// What a proxy's traffic held: the verdict and the counts.
fn traffic_details(traffic: &TrafficLog) -> String {
    let t = &traffic.counts;
    format!(
        "{} exchanges ({} judged, {} passed through); tokens tracked {}, issued {}\nverdict: {}\n",
        t.exchanges,
        t.judged,
        t.passed_through,
        t.tokens_tracked,
        t.tokens_issued,
        traffic.verdict_text(),
    )
}

/// The lines a proxy prints for one exchange's findings as it happens, `head` naming the
/// exchange (`exchange 3 POST /path → 200`): the target's failures in red, the rest in
/// yellow.
pub fn exchange_lines<'f>(
    head: &str,
    findings: impl IntoIterator<Item = (Party, &'f Finding)>,
    redactor: &Redactor,
    style: Style,
) -> String {
    let mut out = String::new();
    for (party, f) in findings {
        let mut line = format!(
            "{head}: {} {} {}: {}",
            party.name(),
            f.severity.name(),
            f.check,
            f.message
        );
        if let (Some(e), Some(a)) = (&f.expected, &f.actual) {
            let _ = write!(line, " (expected {e}, got {a})");
        }
        let line = redactor.text(&line);
        let code = match (party, f.severity) {
            (Party::Server, Severity::Must) => "31",
            _ => "33",
        };
        let _ = writeln!(out, "{}", style.paint(code, &line));
    }
    out
}

/// Every failure and warning of a suite in detail, then the summary.
fn suite_details(whole: &Report, report: &Suite, redactor: &Redactor, style: Style) -> String {
    let mut out = String::new();
    for c in report
        .cases
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Failed | Verdict::Warned))
    {
        let _ = writeln!(
            out,
            "\n{} {} — {}",
            style.verdict(c.verdict),
            style.paint("1", &c.id),
            c.title
        );
        let _ = writeln!(
            out,
            "  {} ({} case, requirement: {})",
            c.file,
            c.severity.name(),
            c.requirement
        );
        for s in c.steps.iter().filter(|s| !s.findings.is_empty()) {
            let place = if s.line > 0 {
                format!("{}:{}", c.file, s.line)
            } else {
                c.file.clone()
            };
            let _ = writeln!(out, "  {} ({place})", s.label);
            step_detail(&mut out, s, redactor, style);
        }
    }
    out.push_str(&skipped_groups(report, None));
    grouped(&mut out, report, redactor);
    summary(&mut out, whole, report, style);
    out
}

/// The skipped cases grouped by what would run them, each reason said once; with `shown`, at
/// most that many ids per reason, and the rest counted.
fn skipped_groups(report: &Suite, shown: Option<usize>) -> String {
    let mut out = String::new();
    let skipped: Vec<&CaseResult> = report
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::Skipped)
        .collect();
    if skipped.is_empty() {
        return out;
    }
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for c in skipped {
        let why = c.skip_reason.as_deref().unwrap_or("");
        match groups.iter_mut().find(|(w, _)| *w == why) {
            Some((_, ids)) => ids.push(&c.id),
            None => groups.push((why, vec![&c.id])),
        }
    }
    let _ = writeln!(out, "\nskipped, by what would run them:");
    for (why, ids) in groups {
        let list = match shown {
            Some(n) if ids.len() > n => {
                format!("{} and {} more", ids[..n].join(", "), ids.len() - n)
            }
            _ => ids.join(", "),
        };
        let _ = writeln!(out, "  {why}:\n    {}: {list}", plural(ids.len(), "case"));
    }
    out
}

/// The closing lines: what ran, what it cost, what it left, the verdict counts.
fn summary(out: &mut String, whole: &Report, report: &Suite, style: Style) {
    let meta = &whole.meta;
    let s = report.summary();
    let generated = match report.cases.iter().filter(|c| c.generated).count() {
        0 => String::new(),
        n => format!(" ({n} generated from the contract)"),
    };
    let _ = writeln!(
        out,
        "\n{}{generated}, {} by the cases ({} in all), {} issued, {:.1} s against {}",
        plural(report.cases.len(), "case"),
        plural(report.requests(), "request"),
        meta.requests_sent,
        plural(meta.tokens_issued, "token"),
        meta.millis as f64 / 1000.0,
        meta.target
    );
    let (without, ran) = report.without_control();
    let _ = writeln!(
        out,
        "{without} of {ran} cases ran without the control protocol"
    );
    for line in report.leftovers.lines(&report.run_id) {
        let _ = writeln!(out, "{}", style.paint("33", &line));
    }
    if meta.stopped_answering {
        let _ = writeln!(
            out,
            "{}",
            style.paint("31;1", "the target stopped answering during the run")
        );
    }
    let _ = writeln!(
        out,
        "{} passed, {} failed, {} warned, {} skipped",
        s.passed, s.failed, s.warned, s.skipped
    );
    if let Some(problem) = meta
        .interrupted
        .as_ref()
        .and_then(|i| i.not_put_back.as_deref())
    {
        let _ = writeln!(
            out,
            "{}",
            style.paint(
                "31;1",
                &format!("the target's clock and lifespans could not be put back: {problem}; put them back by hand (reference-server conf, or the control protocol)")
            )
        );
    }
    let colour = match report.conformance() {
        _ if meta.interrupted.is_some() => "33;1",
        crate::run::Conformance::Conforms { .. } => "32;1",
        crate::run::Conformance::DoesNotConform { .. } => "31;1",
        crate::run::Conformance::Incomplete { .. } => "33;1",
    };
    let _ = writeln!(
        out,
        "{}",
        style.paint(colour, &format!("verdict: {}", whole.verdict_text()))
    );
}

/// For a run with failures: the failed cases, and their MUST findings grouped by check, each
/// with its count and the first place and message, so one wrong setting that failed thirty
/// steps reads as one line.
fn grouped(out: &mut String, report: &Suite, redactor: &Redactor) {
    let failed: Vec<&str> = report
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::Failed)
        .map(|c| c.id.as_str())
        .collect();
    if failed.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nfailed: {}", failed.join(", "));
    let mut by_check: Vec<(&str, usize, String, String)> = Vec::new();
    for c in &report.cases {
        for st in &c.steps {
            for f in st.findings.iter().filter(|f| f.severity == Severity::Must) {
                match by_check.iter_mut().find(|(k, ..)| *k == f.check) {
                    Some(entry) => entry.1 += 1,
                    None => by_check.push((
                        f.check,
                        1,
                        format!("{} {}", c.id, st.label),
                        redactor.text(&f.message),
                    )),
                }
            }
        }
    }
    by_check.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let _ = writeln!(out, "findings by check:");
    for (check, n, first, message) in by_check {
        let _ = writeln!(out, "  [{check}] {n}×, first in {first}: {message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::CheckInfo;
    use crate::run::{Leftovers, Meta, Shaping, StepResult};

    /// A failed case whose one step fails `check` with a whole exchange behind it.
    fn failed(i: usize, check: &'static str) -> CaseResult {
        let mut step = StepResult::finding(
            "step 1: createRefreshToken",
            Finding::new(CheckInfo::must(check, "s"), format!("finding {i}")).values("a", "b"),
        );
        step.line = 6;
        step.exchange = Some(std::sync::Arc::new(crate::wire::Exchange {
            started: time::OffsetDateTime::UNIX_EPOCH,
            elapsed: std::time::Duration::from_millis(1),
            request: crate::wire::Request {
                method: "POST".into(),
                url: "http://127.0.0.1:1/integration/v1/createRefreshToken/".into(),
                headers: Vec::new(),
                body: bytes::Bytes::new(),
            },
            response: Ok(crate::wire::Response {
                status: 201,
                headers: vec![("content-type".into(), "application/json".into())],
                body: bytes::Bytes::from_static(b"{}"),
            }),
        }));
        CaseResult {
            id: format!("case.{i:03}"),
            title: "t".into(),
            file: "cases/x.yaml".into(),
            severity: Severity::Must,
            requirement: "r".into(),
            sources: Vec::new(),
            tags: Vec::new(),
            needs: Vec::new(),
            verdict: Verdict::Failed,
            skip_reason: None,
            stopped: None,
            steps: vec![step],
            millis: 1,
            unique: String::new(),
            used_control: false,
            generated: false,
        }
    }

    fn report(cases: Vec<CaseResult>) -> Report {
        Report {
            meta: Meta {
                target: "http://127.0.0.1:1".into(),
                spec_title: "T".into(),
                spec_version: "1".into(),
                harness_version: "0".into(),
                started_at: "2026-01-01T00:00:00Z".into(),
                millis: 1,
                exercised: Default::default(),
                tokens_issued: 0,
                requests_sent: 0,
                stopped_answering: false,
                shaping: Shaping::default(),
                interrupted: None,
            },
            body: Body::Suite(Suite {
                suite_cases: cases.len(),
                cases,
                not_run: Vec::new(),
                run_id: "tc00000000".into(),
                leftovers: Leftovers::default(),
                recorded: Vec::new(),
                issued: Vec::new(),
            }),
        }
    }

    #[test]
    fn the_brief_console_keeps_its_bound_however_many_checks_fail() {
        // 300 failed cases, each by a check of its own: 300 groups that cannot all be said.
        let cases: Vec<CaseResult> = (0..300)
            .map(|i| failed(i, Box::leak(format!("check.{i:03}").into_boxed_str())))
            .collect();
        let text = brief(&report(cases), &Redactor::default(), Style { color: false });
        let lines = text.lines().count();
        assert!(lines <= BRIEF_LINES, "{lines} lines:\n{text}");
        assert!(text.contains("… and 260 more failed cases: `-v`"), "{text}");
        assert!(
            text.contains("  … and 270 more checks: `-v` prints them all"),
            "{text}"
        );
        // The first check is shown whole.
        assert!(
            text.contains("  [check.000] MUST 1 finding in 1 case: finding 0"),
            "{text}"
        );
        assert!(text.contains("    response: 201 (1 ms)"), "{text}");
        assert!(
            text.ends_with("verdict: does not conform: 300 cases failed\n"),
            "{text}"
        );
    }

    #[test]
    fn a_few_failures_are_listed_whole_each_example_once() {
        // Two checks failing the same step: its exchange is printed once.
        let mut case = failed(1, "check.a");
        let again = Finding::new(CheckInfo::must("check.b", "s"), "another");
        case.steps[0].findings.push(again);
        let text = brief(
            &report(vec![case]),
            &Redactor::default(),
            Style { color: false },
        );
        assert!(
            text.contains("\n1 case failed:\nFAIL case.001 — t  [check.a, check.b]\n"),
            "{text}"
        );
        assert_eq!(text.matches("    response: 201").count(), 1, "{text}");
        assert!(
            text.contains("    (request and response as above)"),
            "{text}"
        );
    }
}
