//! Redacted snapshots of each case's responses, in insta's `.snap` format so that
//! `cargo insta review` can accept or reject them.
//!
//! A snapshot keeps, per step, the status, the headers that matter, and the body, with every
//! volatile or secret value replaced by a stable placeholder: token values by
//! `[refresh_token N]` / `[api_access_token N]` (numbered in order of appearance, so "the same
//! token again" stays visible), user ids by `[user_id N]`, timestamps by `[timestamp]`, the
//! case's unique name by `[unique]`, the run's id (in token names) by `[run]`, and retry delays
//! by `[n]`. A snapshot never contains a
//! password or a token value.
//!
//! insta reports only by panicking and reads its settings once per process, which fits the
//! `cargo test` harness but not a CLI run against a foreign target; this module is the CLI's
//! Result-returning comparison, writing the same format.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, ErrorKind, Place};
use crate::report::Redactor;
use crate::run::CaseResult;

/// Headers kept in snapshots.
const HEADERS: [&str; 3] = ["content-type", "cache-control", "retry-after"];

struct Placeholders<'r> {
    by_value: HashMap<String, String>,
    counts: HashMap<String, usize>,
    redactor: &'r Redactor,
}

impl Placeholders<'_> {
    fn name(&mut self, kind: &str, value: &str) -> String {
        if let Some(p) = self.by_value.get(value) {
            return p.clone();
        }
        let n = self.counts.entry(kind.to_owned()).or_insert(0);
        *n += 1;
        let p = format!("[{kind} {n}]");
        self.by_value.insert(value.to_owned(), p.clone());
        p
    }
}

fn is_timestamp(s: &str) -> bool {
    s.len() >= 20 && crate::check::parse_timestamp(s).is_some()
}

/// Replaces digits before " seconds" (retry delays in messages).
fn seconds(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(" seconds") {
        let head = &rest[..i];
        let digits = head.len() - head.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            out.push_str(&head[..head.len() - digits]);
            out.push_str("[n]");
        } else {
            out.push_str(head);
        }
        out.push_str(" seconds");
        rest = &rest[i + " seconds".len()..];
    }
    out.push_str(rest);
    out
}

/// Replaces the case's unique name, then the run's id it starts with (`<run id>-<index>`).
/// A token name the run gave (`token-conformance <run id> ...`) becomes `[token name]` whole:
/// which case created a token a case borrowed depends on scheduling, and the cases that give
/// names check them with their own matchers.
fn volatile(s: &str, unique: &str) -> String {
    let text = s.replace(unique, "[unique]");
    let Some((run_id, _)) = unique.rsplit_once('-').filter(|(r, _)| !r.is_empty()) else {
        return text;
    };
    // White space around a name is the padded-name probe's; the pool lends its token on.
    if text
        .trim_start()
        .starts_with(&format!("token-conformance {run_id} "))
    {
        return "[token name]".to_owned();
    }
    text.replace(run_id, "[run]")
}

fn scrub(v: &mut Value, key: Option<&str>, ph: &mut Placeholders, unique: &str) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                scrub(child, Some(k.as_str()), ph, unique);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| scrub(i, key, ph, unique)),
        Value::Number(n) if key == Some("user_id") => {
            *v = Value::String(ph.name("user_id", &n.to_string()))
        }
        Value::String(s) => {
            let replaced = match key {
                Some(k) if ph.redactor.is_secret_field(k) => Some(ph.name(k, s)),
                Some("user_id") => Some(ph.name("user_id", s.trim())),
                _ if ph.by_value.contains_key(s.as_str()) => ph.by_value.get(s.as_str()).cloned(),
                _ if is_timestamp(s) => Some("[timestamp]".to_owned()),
                _ => None,
            };
            *s = match replaced {
                Some(r) => r,
                None if !unique.is_empty() => seconds(&volatile(s, unique)),
                None => seconds(s),
            };
        }
        _ => {}
    }
}

/// The snapshot text of one case.
pub fn render(case: &CaseResult, redactor: &Redactor) -> String {
    let mut ph = Placeholders {
        by_value: HashMap::new(),
        counts: HashMap::new(),
        redactor,
    };
    let mut out = String::new();
    for step in &case.steps {
        let _ = writeln!(out, "# {}", step.label);
        let Some(resp) = step.response() else {
            if step.exchange.is_some() {
                let _ = writeln!(out, "(no response)");
            }
            continue;
        };
        let _ = writeln!(out, "{}", resp.status);
        for name in HEADERS {
            if let Some((_, v)) = resp
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
            {
                let v = if name == "retry-after" && v.chars().all(|c| c.is_ascii_digit()) {
                    "[n]"
                } else {
                    v
                };
                let _ = writeln!(out, "{name}: {v}");
            }
        }
        match serde_json::from_str::<Value>(&resp.body) {
            Ok(mut json) => {
                scrub(&mut json, None, &mut ph, &case.unique);
                let pretty =
                    serde_json::to_string_pretty(&json).expect("a JSON value always serialises");
                let _ = writeln!(out, "{pretty}");
            }
            Err(_) if resp.body.is_empty() => {}
            Err(_) => {
                let mut text = resp.body.clone();
                for (value, p) in &ph.by_value {
                    text = text.replace(value.as_str(), p);
                }
                if !case.unique.is_empty() {
                    text = volatile(&text, &case.unique);
                }
                let _ = writeln!(out, "{}", seconds(&text));
            }
        }
        out.push('\n');
    }
    // Belt and braces: whatever slipped past the placeholders goes through the redactor.
    redactor.text(out.trim_end())
}

/// The file of a case's snapshot in `dir`.
pub fn path(dir: &Path, case_id: &str) -> PathBuf {
    dir.join(format!("{case_id}.snap"))
}

/// The whole `.snap` file for `text`.
pub(crate) fn file_text(case: &CaseResult, text: &str) -> String {
    format!(
        "---\nsource: {}\nexpression: {}\n---\n{text}\n",
        case.file, case.id
    )
}

/// The contents of a `.snap` file, without its header.
pub(crate) fn contents(file: &str) -> &str {
    let body = file
        .strip_prefix("---\n")
        .map_or(file, |rest| match rest.find("\n---\n") {
            Some(i) => &rest[i + "\n---\n".len()..],
            None => rest,
        });
    body.trim_end()
}

/// How a case's snapshot compares with the one on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// The same.
    Same,
    /// No snapshot on disk yet.
    Missing,
    /// Different; a readable diff (old `-`, new `+`).
    Changed(String),
}

/// Compares `text` with the snapshot of `case_id` in `dir`.
pub(crate) fn compare(dir: &Path, case_id: &str, text: &str) -> Comparison {
    compare_with(
        std::fs::read_to_string(path(dir, case_id)).ok().as_deref(),
        text,
    )
}

/// Compares `text` with an accepted `.snap` file's text, if there is one.
fn compare_with(accepted: Option<&str>, text: &str) -> Comparison {
    let Some(file) = accepted else {
        return Comparison::Missing;
    };
    let old = contents(file);
    if old == text.trim_end() {
        Comparison::Same
    } else {
        Comparison::Changed(diff(old, text.trim_end()))
    }
}

/// Writes the snapshot, as `.snap` (accepted) or `.snap.new` (pending review).
pub fn write(dir: &Path, case: &CaseResult, text: &str, pending: bool) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let mut p = path(dir, &case.id);
    if pending {
        p = p.with_extension("snap.new");
    }
    std::fs::write(&p, file_text(case, text))?;
    Ok(p)
}

/// A line diff (longest common subsequence), showing changed lines with two lines of context.
pub fn diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            ops.push(('+', b[j]));
            j += 1;
        } else {
            ops.push(('-', a[i]));
            i += 1;
        }
    }
    let near = |k: usize| {
        ops[k.saturating_sub(2)..(k + 3).min(ops.len())]
            .iter()
            .any(|(c, _)| *c != ' ')
    };
    let mut out = String::new();
    let mut skipped = false;
    for (k, (c, line)) in ops.iter().enumerate() {
        if *c != ' ' || near(k) {
            let _ = writeln!(out, "{c} {line}");
            skipped = false;
        } else if !skipped {
            out.push_str("  ...\n");
            skipped = true;
        }
    }
    out
}

/// Where the reference server's accepted snapshots live in a checkout.
pub const DEFAULT_SNAPSHOTS: &str = "snapshots";

/// Where a run's accepted snapshots are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotStore {
    /// A directory of `.snap` files; drift is written beside them as `.snap.new`.
    Dir(std::path::PathBuf),
    /// The reference server's snapshots built into the binary (compared only).
    BuiltIn,
}

impl SnapshotStore {
    /// Which snapshots a run compares with: `flag` (`--snapshots DIR`); for the embedded
    /// reference server running the built-in cases (`reference`), a checkout's `snapshots/`
    /// (so drift can be reviewed, and where `update` writes) or else the built-in ones.
    /// Another target's snapshots are only the ones the flag names.
    pub fn choose(flag: Option<&Path>, reference: bool, update: bool) -> Option<Self> {
        if let Some(dir) = flag {
            return Some(Self::Dir(dir.to_owned()));
        }
        if !reference {
            return None;
        }
        let checkout = Path::new(DEFAULT_SNAPSHOTS);
        if checkout.is_dir() || update {
            Some(Self::Dir(checkout.to_owned()))
        } else {
            Some(Self::BuiltIn)
        }
    }
}

/// Compares (or writes) every run case's snapshot; drift becomes a `snapshot.drift` finding.
/// Traffic has no snapshots: what a client sends is not the suite's to fix.
pub fn apply_snapshots(
    report: &mut crate::run::Report,
    store: &SnapshotStore,
    update: bool,
    redactor: &Redactor,
) -> Result<(), Error> {
    let crate::run::Body::Suite(suite) = &mut report.body else {
        return Ok(());
    };
    for case in suite
        .cases
        .iter_mut()
        .filter(|c| c.verdict != crate::run::Verdict::Skipped)
    {
        let text = render(case, redactor);
        let problem = match store {
            SnapshotStore::Dir(dir) => compare_in(dir, case, &text, update)?,
            SnapshotStore::BuiltIn => compare_builtin(case, &text),
        };
        if let Some(message) = problem {
            let finding = crate::check::Finding::new(crate::check::SNAPSHOT_DRIFT, message);
            case.record(crate::run::StepResult::finding("snapshot", finding));
        }
    }
    Ok(())
}

/// Compares with (or writes) the snapshot in `dir`; the drift message, if any.
fn compare_in(
    dir: &Path,
    case: &CaseResult,
    text: &str,
    update: bool,
) -> Result<Option<String>, Error> {
    let io = |e: std::io::Error| {
        Error::new(ErrorKind::Usage, format!("cannot write snapshots: {e}")).at(Place::file(dir))
    };
    if update {
        write(dir, case, text, false).map_err(io)?;
        return Ok(None);
    }
    let file = path(dir, &case.id);
    let message = match compare(dir, &case.id, text) {
        Comparison::Same => return Ok(None),
        Comparison::Missing => format!(
            "no snapshot {} yet (review the new one, or run with --update-snapshots)",
            file.display()
        ),
        Comparison::Changed(diff) => {
            format!("the responses differ from {}:\n{diff}", file.display())
        }
    };
    let pending = write(dir, case, text, true).map_err(io)?;
    let sep = if message.ends_with('\n') { "" } else { " " };
    Ok(Some(format!(
        "{message}{sep}(pending: {}; accept with `cargo insta review` or --update-snapshots)",
        pending.display()
    )))
}

/// Compares with the built-in snapshot; the drift message, if any.
fn compare_builtin(case: &CaseResult, text: &str) -> Option<String> {
    match compare_with(crate::builtin::snapshot(&case.id), text) {
        Comparison::Same => None,
        Comparison::Missing => Some(format!(
            "no built-in snapshot of {} (give --snapshots DIR --update-snapshots to write one)",
            case.id
        )),
        Comparison::Changed(diff) => Some(format!(
            "the responses differ from the built-in snapshot of {}:\n{diff}(run from a checkout, or give --snapshots DIR, to keep the new one for review)",
            case.id
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Severity;
    use crate::run::{StepResult, Verdict};
    use crate::wire;

    fn case_with(bodies: &[&str]) -> CaseResult {
        CaseResult {
            id: "x.y".into(),
            title: "t".into(),
            file: "cases/x.yaml".into(),
            severity: Severity::Must,
            requirement: "r".into(),
            sources: Vec::new(),
            stopped: None,
            tags: vec![],
            needs: vec![],
            verdict: Verdict::Passed,
            skip_reason: None,
            steps: bodies
                .iter()
                .enumerate()
                .map(|(i, b)| StepResult {
                    label: format!("step {}: op", i + 1),
                    line: 1,
                    operation: None,
                    exchange: Some(std::sync::Arc::new(wire::Exchange {
                        started: time::OffsetDateTime::UNIX_EPOCH,
                        elapsed: std::time::Duration::from_millis(3),
                        request: wire::Request {
                            method: "POST".into(),
                            url: "http://localhost/op".into(),
                            headers: vec![],
                            body: bytes::Bytes::new(),
                        },
                        response: Ok(wire::Response {
                            status: 200,
                            headers: vec![
                                ("content-type".into(), "application/json".into()),
                                ("retry-after".into(), "57".into()),
                            ],
                            body: bytes::Bytes::copy_from_slice(b.as_bytes()),
                        }),
                    })),
                    findings: vec![],
                })
                .collect(),
            millis: 1,
            unique: "tc1-3".into(),
            used_control: false,
            generated: false,
        }
    }

    #[test]
    fn volatile_and_secret_values_become_stable_placeholders() {
        let c = case_with(&[
            r#"{"user_id": 12, "created_at": "2026-11-28T02:10:46.588497Z", "name": "tc1-3 x token-conformance tc1 a.b", "refresh_token": "SECRETSECRET"}"#,
            r#"{"refresh_token": "SECRETSECRET", "api_access_token": "OTHERSECRET", "detail": "try again in 57 seconds."}"#,
        ]);
        let redactor = Redactor::with_fields(
            ["refresh_token", "api_access_token"],
            ["hunter2-password".to_owned()],
        );
        let text = render(&c, &redactor);
        assert!(text.contains("\"user_id\": \"[user_id 1]\""), "{text}");
        assert!(text.contains("\"created_at\": \"[timestamp]\""), "{text}");
        assert!(
            text.contains("\"name\": \"[unique] x token-conformance [run] a.b\""),
            "{text}"
        );
        assert_eq!(text.matches("[refresh_token 1]").count(), 2, "{text}");
        assert!(text.contains("[api_access_token 1]"), "{text}");
        assert!(text.contains("try again in [n] seconds."), "{text}");
        assert!(text.contains("retry-after: [n]"), "{text}");
        assert!(!text.contains("SECRET"), "{text}");
        let named = case_with(&[r#"{"name": "token-conformance tc1 a.b Zoë"}"#]);
        let text = render(&named, &redactor);
        assert!(text.contains("\"name\": \"[token name]\""), "{text}");
    }

    #[test]
    fn compare_finds_drift_with_a_readable_diff() {
        let dir = tempfile::tempdir().expect("tmp");
        let c = case_with(&[r#"{"detail": "a"}"#]);
        let text = render(&c, &Redactor::default());
        assert_eq!(compare(dir.path(), &c.id, &text), Comparison::Missing);
        write(dir.path(), &c, &text, false).expect("write");
        assert_eq!(compare(dir.path(), &c.id, &text), Comparison::Same);
        let changed = render(&case_with(&[r#"{"detail": "b"}"#]), &Redactor::default());
        let Comparison::Changed(d) = compare(dir.path(), &c.id, &changed) else {
            panic!("drift")
        };
        assert!(
            d.contains("-   \"detail\": \"a\"") && d.contains("+   \"detail\": \"b\""),
            "{d}"
        );
    }
}
