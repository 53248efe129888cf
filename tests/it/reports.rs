//! Reports and snapshots of a whole run: the JUnit file parses as JUnit, the JSON report
//! validates against its schema, the Markdown report has its sections, and no report, snapshot
//! or console output contains any password or token value the run used.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::path::Path;
use std::sync::Arc;

use clap::Parser;
use serde_json::Value;
use token_conformance::report::{Redactor, ReportFlags, Style, console, coverage};
use token_conformance::run::{self, Options, Report};
use token_conformance::spec::Spec;
use token_conformance::target::{Settings, Target};

#[derive(Parser)]
struct Wrapper {
    #[command(flatten)]
    reports: ReportFlags,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs every case against an in-process reference server; returns the report and the password.
async fn full_run() -> (Report, Arc<Spec>, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let server = reference_server::embedded::start().await.unwrap();
    let spec = Arc::new(Spec::load(&root().join("specs/token-auth.openapi.yaml")).unwrap());
    // The written cases and the probes generated from the contract, as `run` loads them.
    let mut cases = token_conformance::case::load_dir(&root().join("cases"), &spec).unwrap();
    cases.extend(token_conformance::generate::cases(&spec).unwrap());
    let settings = Settings::local(
        &server.base_url,
        &server.control_url,
        &server.username,
        &server.password,
    );
    let target = Target::resolve(None, &settings, |_| None).unwrap();
    let report = run::run(
        Arc::clone(&spec),
        &cases,
        target,
        &Options::default(),
        &|_| {},
    )
    .await
    .unwrap();
    let password = server.password.clone();
    server.stop().await;
    (report, spec, password, dir)
}

/// Every token value in any recorded body, found structurally (not through the redactor).
fn token_values(report: &Report) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("refresh_token" | "api_access_token", Value::String(s))
                            if s.len() > 20 =>
                        {
                            out.push(s.clone())
                        }
                        _ => walk(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for s in report.cases().iter().flat_map(|c| &c.steps) {
        if let Some(r) = s.response()
            && let Ok(v) = serde_json::from_str::<Value>(&r.body)
        {
            walk(&v, &mut out);
        }
    }
    out.sort();
    out.dedup();
    out
}

#[tokio::test]
async fn no_report_snapshot_or_log_holds_a_secret() {
    let (mut report, spec, password, dir) = full_run().await;
    let tokens = token_values(&report);
    // The pool's own values (regenerated between cases) never show in a case's responses.
    assert!(
        tokens.len() > 30,
        "the run's bodies show only {} tokens",
        tokens.len()
    );
    assert!(report.meta.tokens_issued >= tokens.len());

    let out = dir.path();
    let paths = |name: &str| out.join(name).to_str().unwrap().to_owned();
    let args = Wrapper::parse_from([
        "x",
        "--junit",
        &paths("r.xml"),
        "--json",
        &paths("r.json"),
        "--markdown",
        &paths("r.md"),
    ])
    .reports;
    let redactor = Redactor::for_report(&report, &spec.secret_fields, [password.clone()]);
    let snapshots = out.join("snaps");
    let store = token_conformance::snapshot::SnapshotStore::Dir(snapshots.clone());
    token_conformance::snapshot::apply_snapshots(&mut report, &store, true, &redactor).unwrap();
    let cov = coverage::coverage(&spec, &report);
    token_conformance::report::files::write(&args, &report, &cov, report.exit(false), &redactor)
        .unwrap();
    let console = console::details(&report, &redactor, Style { color: false });

    let mut texts = vec![("console".to_owned(), console)];
    for entry in std::fs::read_dir(out)
        .unwrap()
        .chain(std::fs::read_dir(&snapshots).unwrap())
    {
        let p = entry.unwrap().path();
        if p.is_file() && !p.to_string_lossy().contains("db.sqlite") {
            texts.push((
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            ));
        }
    }
    assert!(
        texts.len() >= 4 + 30,
        "reports and snapshots: {}",
        texts.len()
    );
    // Also what no body parser finds: a value the pool lent, sent only in a request (a
    // multipart dialect with `name=refresh_token` unquoted). Anything that looks like a token
    // value (a long run of its alphabet with many distinct characters, not a fill such as
    // `aaaa…` or `tc…-uuuu…`) is one.
    let looks_like_a_token = regex::Regex::new(r"[A-Za-z0-9_-]{40,}").unwrap();
    for (name, text) in &texts {
        assert!(!text.contains(&password), "{name} holds the password");
        for t in &tokens {
            assert!(!text.contains(t.as_str()), "{name} holds a token value");
        }
        for m in looks_like_a_token.find_iter(text) {
            let distinct: std::collections::BTreeSet<char> = m.as_str().chars().collect();
            assert!(
                distinct.len() < 16,
                "{name} holds what looks like a token value, {} characters long",
                m.as_str().len()
            );
        }
    }
    // Redacted, not dropped: the JSON report still shows that a token was there.
    let json = std::fs::read_to_string(out.join("r.json")).unwrap();
    assert!(json.contains("<redacted>"));
}

#[tokio::test]
async fn json_report_validates_and_junit_parses_as_junit() {
    let (report, spec, password, dir) = full_run().await;
    let redactor = Redactor::for_report(&report, &spec.secret_fields, [password.clone()]);
    let cov = coverage::coverage(&spec, &report);

    let json = token_conformance::report::json::render(
        &report,
        &cov,
        token_conformance::error::Exit::Success,
        &redactor,
    );
    let errors = common::schema_errors("report.schema.json", &json);
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(
        json["suite"]["cases"].as_array().unwrap().len(),
        report.cases().len()
    );

    // JUnit: well-formed XML with the structure JUnit consumers read.
    let xml = token_conformance::report::junit::render(&report, &redactor);
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut suites, mut suite_tests, mut testcases) = (0, None, 0);
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                match e.name().as_ref() {
                    b"testsuites" => suites += 1,
                    b"testsuite" => {
                        let tests = e.try_get_attribute("tests").unwrap().unwrap();
                        suite_tests = Some(String::from_utf8(tests.value.to_vec()).unwrap());
                        let ts = e.try_get_attribute("timestamp").unwrap().unwrap();
                        let ts = String::from_utf8(ts.value.to_vec()).unwrap();
                        assert!(
                            time::OffsetDateTime::parse(
                                &ts,
                                &time::format_description::well_known::Rfc3339
                            )
                            .is_ok(),
                            "the suite's timestamp is RFC 3339: {ts}"
                        );
                    }
                    b"testcase" => {
                        testcases += 1;
                        assert!(e.try_get_attribute("name").unwrap().is_some());
                        assert!(e.try_get_attribute("classname").unwrap().is_some());
                    }
                    _ => {}
                }
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(suites, 1);
    assert_eq!(testcases, report.cases().len());
    assert_eq!(suite_tests, Some(report.cases().len().to_string()));
    drop(dir);
}

fn run_bin(args: &[&str]) -> (i32, String) {
    let o = common::command(root()).args(args).output().unwrap();
    (o.status.code().unwrap_or(-1), common::text(&o))
}

/// The JSON report and the badge of the failing run below say so too: exit code 1, no
/// "conforms", a red badge whose MUST total counts the skipped case with the two that ran.
fn failing_json_and_badge(dir: &Path) {
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["meta"]["exit_code"], 1, "{json:#}");
    assert_eq!(json["meta"]["verdict"]["conforms"], false, "{json:#}");
    assert_eq!(
        json["meta"]["verdict"]["text"],
        "does not conform: 1 case failed"
    );
    let badge = std::fs::read_to_string(dir.join("badge.svg")).unwrap();
    assert!(
        badge.contains("fill=\"#e05d44\"") && badge.contains("1/3 MUST · 1 case failed"),
        "{badge}"
    );
}

#[test]
fn reports_from_the_binary_show_failures_skips_and_coverage() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("report.md");
    let xml = dir.path().join("report.xml");
    // One case that passes, one that fails (it expects a real token's answer for a made-up
    // one), one that needs the clock the run is told the target lacks.
    let cases = dir.path().join("cases/area");
    std::fs::create_dir_all(&cases).unwrap();
    let validate = |id: &str, status: u16| {
        format!(
            "id: area.{id}\ntitle: {id}\nrequirement: r-{id}\nsource: vendor-page\nsteps:\n  - call: validateRefreshToken\n    body: {{refresh_token: made-up, user_id: 1}}\n    expect: {{status: {status}}}\n"
        )
    };
    std::fs::write(cases.join("passes.yaml"), validate("passes", 401)).unwrap();
    std::fs::write(cases.join("fails.yaml"), validate("fails", 200)).unwrap();
    std::fs::write(
        cases.join("skips.yaml"),
        "id: area.skips\ntitle: skips\nrequirement: r\nsource: vendor-page\nsteps:\n  - advance_clock: 1s\n",
    )
    .unwrap();
    let (code, out) = run_bin(&[
        "run",
        "--cases",
        dir.path().join("cases").to_str().unwrap(),
        "--no-generated",
        "--capability",
        "users",
        "--markdown",
        md.to_str().unwrap(),
        "--junit",
        xml.to_str().unwrap(),
        "--json",
        dir.path().join("report.json").to_str().unwrap(),
        "--badge",
        dir.path().join("badge.svg").to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    failing_json_and_badge(dir.path());
    let text = std::fs::read_to_string(&md).unwrap();
    for entry in [
        "| Cases | 1 passed, 1 failed, 0 warned, 1 skipped |",
        "## Failures",
        "### `area.fails`: fails",
        "`expect.status`: expected status 200, got 401",
        "- `area.skips`: the target does not offer clock",
    ] {
        assert!(text.contains(entry), "markdown lacks {entry}:\n{text}");
    }
    assert!(!text.contains("### `area.passes`"), "{text}");
    let junit = std::fs::read_to_string(&xml).unwrap();
    assert!(junit.contains("type=\"expect.status\""), "{junit}");
    assert!(junit.contains("<skipped"), "{junit}");

    // A coverage floor a run does not reach fails an otherwise clean run; the full suite
    // reaches every provokable response.
    let (code, out) = run_bin(&[
        "run",
        "--tag",
        "smoke",
        "--min-coverage",
        "99",
        "--markdown",
        md.to_str().unwrap(),
        "--junit",
        xml.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("is under --min-coverage 99%"), "{out}");
    let md = std::fs::read_to_string(md).unwrap();
    for section in [
        "# Token Authentication API conformance report",
        "## Verdict per requirement",
        "## Warnings",
        "## Skipped",
        "## Coverage",
        "| `createRefreshToken` |",
    ] {
        assert!(md.contains(section), "markdown lacks {section}:\n{md}");
    }
    let (code, out) = run_bin(&["run", "--min-coverage", "100"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn partitions_are_disjoint_and_cover_every_case() {
    let mut seen = Vec::new();
    for k in 1..=3 {
        let (code, out) = run_bin(&["run", "-v", "--partition", &format!("{k}/3")]);
        assert_eq!(code, 0, "{out}");
        seen.extend(out.lines().filter_map(|l| {
            l.strip_prefix("PASS ")
                .map(|r| r.split_whitespace().next().unwrap().to_owned())
        }));
    }
    let (_, listing) = run_bin(&["list"]);
    let total = listing.lines().filter(|l| l.contains(" tags: ")).count();
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "a case ran in two partitions");
    assert_eq!(seen.len(), total, "partitions missed cases");
    let (code, out) = run_bin(&["run", "--partition", "4/3"]);
    assert_eq!(code, 2, "{out}");
}

#[test]
fn drift_from_a_snapshot_fails_with_a_diff() {
    let dir = tempfile::tempdir().unwrap();
    let snaps = dir.path().join("snaps");
    let (code, out) = run_bin(&[
        "run",
        "--filter",
        "refresh-token.validate.unknown",
        "--snapshots",
        snaps.to_str().unwrap(),
        "--update-snapshots",
    ]);
    assert_eq!(code, 0, "{out}");
    let file = snaps.join("refresh-token.validate.unknown.snap");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("Refresh token provided is invalid.", "Something else."),
    )
    .unwrap();
    let (code, out) = run_bin(&[
        "run",
        "--filter",
        "refresh-token.validate.unknown",
        "--snapshots",
        snaps.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("[snapshot.drift]"), "{out}");
    assert!(out.contains("-   \"detail\": \"Something else.\""), "{out}");
    assert!(
        out.contains("+   \"detail\": \"Refresh token provided is invalid.\""),
        "{out}"
    );
    assert!(
        snaps
            .join("refresh-token.validate.unknown.snap.new")
            .is_file()
    );
}

/// A run of part of the suite never says "conforms": the verdict says what ran and which MUST
/// cases did not, in the console and every report, and the reports name what shaped it.
#[test]
fn a_partial_run_says_what_it_did_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("report.md");
    let xml = dir.path().join("report.xml");
    let json = dir.path().join("report.json");
    let (code, out) = run_bin(&[
        "run",
        "--filter",
        "refresh-token.regen",
        "--markdown",
        md.to_str().unwrap(),
        "--junit",
        xml.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "no failures: {out}");
    let verdict = out.lines().find(|l| l.starts_with("verdict: ")).unwrap();
    let shape = regex::Regex::new(
        r"^verdict: no failures in 4 of \d+ cases; \d+ MUST cases not run: access-token.create, ",
    )
    .unwrap();
    assert!(shape.is_match(verdict), "{verdict}");
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(!text.contains("**conforms**"), "{text}");
    // The report's head, as a vendor publishes it, kept as a golden file (volatile values out).
    let head: String = text
        .lines()
        .take_while(|l| !l.starts_with("## "))
        .collect::<Vec<_>>()
        .join("\n");
    let head =
        regex::Regex::new(r"127\.0\.0\.1:\d+|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ|\d+\.\d+\.\d+ \|")
            .unwrap()
            .replace_all(&head, "[volatile]")
            .into_owned();
    // The suite's size changes with every case added; the golden keeps the sentence.
    let head = regex::Regex::new(r"4 of (\d+) cases[;)]|(\d+) MUST cases|and (\d+) more")
        .unwrap()
        .replace_all(&head, |c: &regex::Captures<'_>| {
            let n = c.iter().skip(1).flatten().next().unwrap();
            let whole = c.get(0).unwrap();
            let at = n.start() - whole.start();
            format!("{}[n]{}", &c[0][..at], &c[0][at + n.len()..])
        })
        .into_owned();
    let mut settings = insta::Settings::clone_current();
    // The golden files stay in tests/snapshots/, where they were before the test binaries
    // were merged (insta looks beside the source file by default).
    settings.set_snapshot_path(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots"),
    );
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!("markdown-head-partial-run", head));
    assert!(text.contains("## MUST cases not run"), "{text}");
    assert!(
        text.contains("- `access-token.create`: left out by --filter refresh-token.regen"),
        "{text}"
    );
    let junit = std::fs::read_to_string(&xml).unwrap();
    assert!(
        junit.contains("name=\"verdict\" value=\"no failures in 4 of "),
        "{junit}"
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["meta"]["verdict"]["conforms"], false);
    assert_eq!(
        report["meta"]["shaping"]["selection"][0],
        "--filter refresh-token.regen"
    );
}
