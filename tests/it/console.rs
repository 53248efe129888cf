//! The console of `run` as a person first sees it: a failing run's point (its failed cases,
//! its findings by check with a first example, what was skipped and why, the verdict) within
//! a screenful or two, the detail behind `-v`; no progress bar where stderr is no terminal;
//! Ctrl-C ending with exit 130 and the reports of what ran.

#![allow(clippy::unwrap_used)]

use crate::{common, mutant};

use std::path::Path;
use std::process::Output;

use mutant::{Fault, Mode};

/// Runs the binary in `dir` against `base` (a mutant, with its control protocol), with `args`.
fn run_at(dir: &Path, base: &str, args: &[&str]) -> Output {
    let control = format!("{base}/conformance/v1");
    common::command(dir)
        .args([
            "run",
            "--target",
            base,
            "--control-url",
            &control,
            "--username",
            mutant::USER,
        ])
        .args(args)
        .env("TOKEN_CONFORMANCE_PASSWORD", mutant::PASSWORD)
        .output()
        .unwrap()
}

/// `run_at` against a fresh mutant in `mode`, off the runtime's threads.
async fn run_mutant(mode: Mode, dir: &Path, args: &[&str]) -> Output {
    let base = mutant::start(mode).await;
    let dir = dir.to_owned();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_at(&dir, &base, &args)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_with_many_failures_prints_its_point_in_at_most_200_lines() {
    // A status word the contract does not know fails most of the suite (5,345 lines before the
    // brief console).
    let dir = tempfile::tempdir().unwrap();
    // No --json: writing it takes most of the time of a run with this many findings.
    let o = run_mutant(Mode::Fault(Fault::StatusWordUnknown), dir.path(), &[]).await;
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    // `CONSOLE_SHOW=1 cargo test --test it console::a_run -- --nocapture` shows it.
    if std::env::var_os("CONSOLE_SHOW").is_some() {
        eprintln!("{out}");
    }
    assert_eq!(o.status.code(), Some(1), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() <= 200, "{} lines:\n{out}", lines.len());
    assert!(!out.contains(mutant::PASSWORD), "{out}");
    // Not a line per case: only the failed ones, and of those, when there are more than 100,
    // the first 40 and a count that says where the rest are.
    assert!(!lines.iter().any(|l| l.starts_with("PASS ")), "{out}");
    // The counts, from the summary: `93 passed, 161 failed, 21 warned, 0 skipped`.
    let counts: Vec<u64> = lines
        .iter()
        .find(|l| l.ends_with(" skipped"))
        .unwrap()
        .split(", ")
        .map(|c| c.split(' ').next().unwrap().parse().unwrap())
        .collect();
    let (failed, cases) = (counts[1], counts.iter().sum::<u64>());
    assert!(
        failed > 100,
        "the fault should fail more than 100 cases: {failed}"
    );
    assert!(
        lines.contains(&format!("{failed} cases failed:").as_str()),
        "{out}"
    );
    let listed = lines.iter().filter(|l| l.starts_with("FAIL ")).count();
    assert_eq!(listed, 40, "{out}");
    let more = format!(
        "… and {} more failed cases: `-v` prints them all",
        failed - 40
    );
    assert!(out.contains(&more), "{out}");
    // The findings grouped by check, the first with its example whole.
    let groups = out
        .find("findings by check, with the first of each:")
        .unwrap();
    let after = &out[groups..];
    assert!(after.contains("  [token_status.known] MUST "), "{out}");
    assert!(after.contains("      actual:   VALID"), "{out}");
    assert!(
        after.contains("    request:  POST http://127.0.0.1:"),
        "{out}"
    );
    assert!(after.contains("    response: 20"), "{out}");
    // And the verdict last but for the coverage.
    assert_eq!(
        lines[lines.len() - 2],
        format!("verdict: does not conform: {failed} cases failed"),
        "{out}"
    );

    // -v prints what the console printed before: a line per case, every failure in full.
    let o = run_mutant(Mode::Fault(Fault::StatusWordUnknown), dir.path(), &["-v"]).await;
    let verbose = String::from_utf8_lossy(&o.stdout).into_owned();
    if std::env::var_os("CONSOLE_SHOW").is_some() {
        eprintln!("-v: {} lines", verbose.lines().count());
    }
    assert_eq!(o.status.code(), Some(1), "{verbose}");
    let per_case = verbose
        .lines()
        .filter(|l| {
            ["PASS ", "FAIL ", "WARN ", "SKIP "]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .count() as u64;
    assert!(per_case >= cases, "{per_case} of {cases}");
    assert!(verbose.lines().count() > 1000, "{verbose}");
    assert!(!verbose.contains(mutant::PASSWORD));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_passing_run_is_short_and_draws_no_progress_where_stderr_is_no_terminal() {
    // The tests' stderr is a pipe: no bar, no escape codes, nothing at all on it.
    let dir = tempfile::tempdir().unwrap();
    let o = run_mutant(Mode::Correct, dir.path(), &["--filter", "refresh-token."]).await;
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{}", common::text(&o));
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.lines().count() <= 10, "{out}");
    assert!(out.contains("\nverdict: "), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_ends_the_run_with_130_and_the_reports_of_what_ran() {
    use std::io::{BufRead as _, BufReader};
    use std::process::Stdio;

    let base = mutant::start(Mode::Correct).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let (code, out) = tokio::task::spawn_blocking(move || {
        let control = format!("{base}/conformance/v1");
        // Five requests a second: the whole suite would take minutes.
        let child = common::command(&path)
            .args(["run", "--target", &base, "--control-url", &control])
            .args(["--username", mutant::USER, "--rate", "5", "-v"])
            .args(["--json", "r.json", "--junit", "r.xml", "--markdown", "r.md"])
            .env("TOKEN_CONFORMANCE_PASSWORD", mutant::PASSWORD)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut child = common::KillOnDrop(child);
        let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
        let mut out = String::new();
        // Interrupted once the first case has finished, as a person would after a while.
        for line in lines.by_ref() {
            let line = line.unwrap();
            out.push_str(&line);
            out.push('\n');
            if ["PASS ", "FAIL ", "WARN ", "SKIP "]
                .iter()
                .any(|p| line.starts_with(p))
            {
                break;
            }
        }
        let interrupt = std::process::Command::new("kill")
            .args(["-INT", &child.0.id().to_string()])
            .status()
            .unwrap();
        assert!(interrupt.success());
        for line in lines {
            out.push_str(&line.unwrap());
            out.push('\n');
        }
        let status = child.0.wait().unwrap();
        (status.code(), out)
    })
    .await
    .unwrap();
    assert_eq!(code, Some(130), "{out}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    let errors = common::schema_errors("report.schema.json", &report);
    assert!(errors.is_empty(), "{errors:#?}");
    let meta = &report["meta"];
    assert_eq!(meta["exit_code"], 130, "{meta:#}");
    assert_eq!(meta["verdict"]["conforms"], false, "{meta:#}");
    let done = meta["interrupted"]["done"].as_u64().unwrap();
    let total = meta["interrupted"]["total"].as_u64().unwrap();
    assert!(done >= 1 && done < total, "{meta:#}");
    assert_eq!(meta["interrupted"]["not_put_back"], serde_json::Value::Null);
    let said = format!("interrupted after {done} of {total} cases");
    assert!(
        meta["verdict"]["text"].as_str().unwrap().starts_with(&said),
        "{meta:#}"
    );
    assert!(out.contains(&format!("verdict: {said}")), "{out}");
    // Every case that finished is in the report, and the rest are named as not run.
    assert_eq!(
        report["suite"]["cases"].as_array().unwrap().len() as u64,
        done,
        "{out}"
    );
    let not_run = report["suite"]["not_run"].as_array().unwrap();
    assert!(
        not_run
            .iter()
            .any(|n| n["why"] == "the run was interrupted before it"),
        "{not_run:#?}"
    );
    for other in ["r.xml", "r.md"] {
        let text = std::fs::read_to_string(dir.path().join(other)).unwrap();
        assert!(text.contains(&said), "{other}: {text}");
    }
}
