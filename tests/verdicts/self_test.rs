//! The self-test: the whole suite (written and generated cases), run against a catalogue of
//! faulty implementations and of conformant variants, each with its verdict written down and
//! attributed to the case that must give it.
//!
//! - A MUST fault is caught when each `(case, check)` pair it lists fails: the check fails, with
//!   MUST severity, in a case whose id matches the pattern (`*` matches any text). The run exits
//!   1, and the target never stops answering.
//! - A SHOULD departure is caught when each pair it lists warns, nothing fails, and the run
//!   exits 0 (1 under `--strict`).
//! - A conformant variant (another valid form of the contract, among them a server built the
//!   way Django REST framework builds one, and one that answers every mistyped credential with
//!   401) passes: exit 0, every case the mode can run ran (none skipped but those needing what
//!   the target lacks), warnings only from the checks it lists.
//!
//! Each entry is a libtest-mimic trial (`cargo test --test verdicts -- self_test::` runs them all, `self_test::conformant` the conformant variants runs the
//! revocation entries); the run ends with `faults caught: N/N; conformant variants passed:
//! M/M`. `SELF_TEST_EXPLAIN=1` prints, for each entry, every failing and warning (case, check)
//! pair, to write a new entry's attribution from.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::catalogue::{CATALOGUE, Entry, Expect};
use crate::mutant;
use libtest_mimic::{Failed, Trial};
use token_conformance::case::{Case, Severity};
use token_conformance::duration::Span;
use token_conformance::error::Exit;
use token_conformance::run::{self, Options, Report, Verdict};
use token_conformance::spec::Spec;
use token_conformance::target::{Need, Secret, Settings, Target};

/// Runs the whole suite against one entry.
async fn run(spec: &Arc<Spec>, cases: &[Case], entry: &Entry) -> Report {
    let base = mutant::start(entry.mode).await;
    let settings = Settings {
        base_url: Some(base.clone()),
        username: Some(mutant::USER.to_owned()),
        password: Some(Secret::new(mutant::PASSWORD)),
        control_url: (!entry.plain).then(|| format!("{base}/conformance/v1")),
        // A vendor names its SSO account and a second account in the profile when it has no
        // control protocol.
        sso_username: entry.plain.then(|| mutant::SSO_USER.to_owned()),
        other_username: entry.plain.then(|| mutant::OTHER_USER.to_owned()),
        other_password: entry.plain.then(|| Secret::new(mutant::OTHER_PASSWORD)),
        timeout: Some(Span::from_secs(2)),
        ..Settings::default()
    };
    let target = Target::resolve(None, &settings, |_| None).unwrap();
    run::run(
        Arc::clone(spec),
        cases,
        target,
        &Options::default(),
        &|_| {},
    )
    .await
    .unwrap_or_else(|e| panic!("{}: the run stopped: {e}", entry.name))
}

/// Whether `id` matches `pattern`, where `*` matches any text.
fn matches(pattern: &str, id: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = id.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// Every (case, check) pair of findings of one severity.
fn pairs(report: &Report, severity: Severity) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = report
        .cases()
        .iter()
        .flat_map(|c| {
            c.steps
                .iter()
                .flat_map(|s| &s.findings)
                .filter(move |f| f.severity == severity)
                .map(move |f| (c.id.clone(), f.check))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The pairs of `expected` that no finding gives.
fn missing(expected: &[(&str, &str)], found: &[(String, &'static str)]) -> Vec<String> {
    expected
        .iter()
        .filter(|(case, check)| !found.iter().any(|(c, k)| k == check && matches(case, c)))
        .map(|(case, check)| format!("[{check}] in {case}"))
        .collect()
}

fn listed(found: &[(String, &'static str)]) -> String {
    let v: Vec<String> = found.iter().map(|(c, k)| format!("{c} [{k}]")).collect();
    v.join(", ")
}

/// How many cases the entry's run must skip: those needing a capability the mode lacks.
fn expected_skips(entry: &Entry, cases: &[Case]) -> usize {
    if !entry.plain {
        return 0;
    }
    cases
        .iter()
        .filter(|c| c.needs.iter().any(|n| matches!(n, Need::Capability(_))))
        .count()
}

/// That a conformant variant's run covered the whole selection: "no MUST failure" holds as
/// well for a run that ran nothing. Every case of the suite has its result, each one that ran
/// recorded its steps, only cases needing a capability the mode lacks were skipped, and the
/// verdict is "conforms"; for a plain deployment, whose verdict cannot be, it names exactly
/// the MUST cases it could not run.
fn every_case_ran(entry: &Entry, cases: &[Case], report: &Report) -> Result<(), String> {
    let mut selected: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    let mut reported: Vec<&str> = report.cases().iter().map(|c| c.id.as_str()).collect();
    selected.sort_unstable();
    reported.sort_unstable();
    if reported != selected {
        return Err(format!(
            "{} case results for a selection of {}",
            reported.len(),
            selected.len()
        ));
    }
    let needs_capability = |id: &str| {
        cases
            .iter()
            .any(|c| c.id == id && c.needs.iter().any(|n| matches!(n, Need::Capability(_))))
    };
    let mut unexplained = Vec::new();
    let mut skipped_must = Vec::new();
    for c in report.cases() {
        match c.verdict {
            Verdict::Skipped
                if entry.plain && needs_capability(&c.id) && c.severity == Severity::Must =>
            {
                skipped_must.push(c.id.as_str());
            }
            Verdict::Skipped if entry.plain && needs_capability(&c.id) => {}
            Verdict::Skipped => unexplained.push(format!("{} skipped", c.id)),
            _ if c.steps.is_empty() => unexplained.push(format!("{} ran no step", c.id)),
            _ => {}
        }
    }
    if !unexplained.is_empty() {
        return Err(unexplained.join(", "));
    }
    let suite = report.suite().ok_or("a run's report is a suite's")?;
    let mut not_run: Vec<&str> = suite.not_run.iter().map(|n| n.id.as_str()).collect();
    not_run.sort_unstable();
    skipped_must.sort_unstable();
    if not_run != skipped_must {
        return Err(format!(
            "not run: {not_run:?}; the MUST cases skipped for a capability: {skipped_must:?}"
        ));
    }
    let conforms = report.conforms();
    if conforms == entry.plain {
        return Err(format!("the verdict: {}", report.verdict_text()));
    }
    Ok(())
}

/// Whether the entry's expected verdict holds; the reason when it does not.
fn judge(entry: &Entry, cases: &[Case], report: &Report) -> Result<(), String> {
    let failing = pairs(report, Severity::Must);
    let warning = pairs(report, Severity::Should);
    if report.meta.stopped_answering {
        return Err("the target was judged to have stopped answering".into());
    }
    let blamed: Vec<String> = failing
        .iter()
        .chain(&warning)
        .filter(|(_, k)| entry.never.contains(k))
        .map(|(c, k)| format!("{c} [{k}]"))
        .collect();
    if !blamed.is_empty() {
        return Err(format!("found what it must not: {}", blamed.join(", ")));
    }

    match entry.expect {
        Expect::Fails(expected) => {
            let absent = missing(expected, &failing);
            if !absent.is_empty() {
                return Err(format!(
                    "expected {} to fail; failed: [{}]",
                    absent.join(", "),
                    listed(&failing)
                ));
            }
            if report.exit(false) != Exit::Failures {
                return Err(format!("the run exits {:?}, not 1", report.exit(false)));
            }
        }
        Expect::Warns(expected) => {
            if !failing.is_empty() {
                return Err(format!(
                    "a SHOULD departure turned into MUST failures: [{}]",
                    listed(&failing)
                ));
            }
            let absent = missing(expected, &warning);
            if !absent.is_empty() {
                return Err(format!(
                    "expected {} to warn; warned: [{}]",
                    absent.join(", "),
                    listed(&warning)
                ));
            }
            if report.exit(false) != Exit::Success || report.exit(true) != Exit::Failures {
                return Err("a SHOULD departure exits 0, and 1 under --strict".into());
            }
        }
        Expect::Passes(allowed) => {
            if !failing.is_empty() {
                return Err(format!(
                    "a conformant variant failed: [{}]",
                    listed(&failing)
                ));
            }
            let extra: Vec<(String, &'static str)> = warning
                .into_iter()
                .filter(|(c, k)| !allowed.iter().any(|(p, a)| a == k && matches(p, c)))
                .collect();
            if !extra.is_empty() {
                return Err(format!("a conformant variant warned: [{}]", listed(&extra)));
            }
            let skipped = report.suite().unwrap().summary().skipped;
            let want = expected_skips(entry, cases);
            if skipped != want {
                return Err(format!("{skipped} cases were skipped, not {want}"));
            }
            if report.exit(false) != Exit::Success {
                return Err(format!("the run exits {:?}, not 0", report.exit(false)));
            }
            every_case_ran(entry, cases, report)?;
        }
    }
    Ok(())
}

/// What the trials found, for the closing line.
#[derive(Default)]
struct Tally {
    faults: AtomicUsize,
    caught: AtomicUsize,
    variants: AtomicUsize,
    passed: AtomicUsize,
}

fn trial(
    entry: &'static Entry,
    spec: Arc<Spec>,
    cases: Arc<Vec<Case>>,
    tally: Arc<Tally>,
) -> Trial {
    let kind = match entry.expect {
        Expect::Fails(_) => "must",
        Expect::Warns(_) => "should",
        Expect::Passes(_) => "conformant",
    };
    let name = format!("self_test::{kind}: {}", entry.name);
    Trial::test(name, move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failed::from(format!("runtime: {e}")))?;
        let report = rt.block_on(run(&spec, &cases, entry));
        if std::env::var_os("SELF_TEST_EXPLAIN").is_some() {
            explain(entry, &report);
        }
        let verdict = judge(entry, &cases, &report);
        let (total, good) = match entry.expect {
            Expect::Passes(_) => (&tally.variants, &tally.passed),
            _ => (&tally.faults, &tally.caught),
        };
        total.fetch_add(1, Ordering::Relaxed);
        good.fetch_add(usize::from(verdict.is_ok()), Ordering::Relaxed);
        verdict.map_err(Failed::from)
    })
    .with_kind(kind)
}

/// Every failing and warning pair of an entry's run, on stderr.
fn explain(entry: &Entry, report: &Report) {
    static OUT: Mutex<()> = Mutex::new(());
    let _guard = OUT.lock();
    let skipped = report
        .cases()
        .iter()
        .filter(|c| c.verdict == Verdict::Skipped)
        .count();
    eprintln!("== {} (skipped {skipped})", entry.name);
    if std::env::var("SELF_TEST_EXPLAIN").is_ok_and(|v| v == "2") {
        for c in report.cases() {
            for s in &c.steps {
                for f in &s.findings {
                    eprintln!(
                        "   {} {} {}: [{}] {}",
                        f.severity.name(),
                        c.id,
                        s.label,
                        f.check,
                        f.message
                    );
                }
            }
        }
    }
    for (c, k) in pairs(report, Severity::Must) {
        eprintln!("   MUST   {c} [{k}]");
    }
    for (c, k) in pairs(report, Severity::Should) {
        eprintln!("   SHOULD {c} [{k}]");
    }
}

/// One trial per catalogue entry, and what to print once they ran: how many faults were caught
/// and how many conformant variants passed.
pub fn trials(spec: &Arc<Spec>, cases: &Arc<Vec<Case>>) -> (Vec<Trial>, impl FnOnce()) {
    let tally = Arc::new(Tally::default());
    let trials = CATALOGUE
        .iter()
        .map(|e| trial(e, Arc::clone(spec), Arc::clone(cases), Arc::clone(&tally)))
        .collect();
    let summary = move || {
        let n = |a: &AtomicUsize| a.load(Ordering::Relaxed);
        if n(&tally.faults) + n(&tally.variants) > 0 {
            println!(
                "faults caught: {}/{}; conformant variants passed: {}/{}",
                n(&tally.caught),
                n(&tally.faults),
                n(&tally.passed),
                n(&tally.variants)
            );
        }
    };
    (trials, summary)
}
