//! The interoperability zoo (`interop/`): the whole suite, written and generated cases, against
//! independent implementations on the stacks vendors build with (Django REST framework,
//! FastAPI, Express, Python's `http.server`), each started the way its users start it
//! (`interop/<member>/start PORT`, a real process on loopback) and run as a plain deployment
//! (no control protocol, a second account for the password probes). The self-test's conformant
//! variants join them. Every member and variant must pass (exit 0, no MUST failure); every
//! slip planted in a member (`INTEROP_SLIP`) must be caught (exit 1) on a case the faithful
//! member passes.
//!
//! A member that is not set up (`interop/<member>/setup`, which `.ci/run` calls) is reported
//! ignored, unless `TOKEN_CONFORMANCE_REQUIRE_TOOLS` is set. `INTEROP_WRITE=1 cargo test --test
//! verdicts -- interop::` writes `INTEROP.md`, the matrix of what this run found (Bowtie's report, for this
//! API): implementations × checks, and slips × members with the case and check that caught each.

use crate::{catalogue, mutant};

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use libtest_mimic::{Failed, Trial};
use token_conformance::case::{Case, Severity};
use token_conformance::check::CheckInfo;
use token_conformance::duration::Span;
use token_conformance::error::Exit;
use token_conformance::run::{self, Options, Report};
use token_conformance::spec::Spec;
use token_conformance::target::{Secret, Settings, Target};

/// The slips every member plants, each behind `INTEROP_SLIP=<name>` and marked `SLIP <name>:`
/// in its code: the faults a vendor's engineer plausibly makes on these stacks. A slip is
/// caught by a MUST failure, except those listed in [`SHOULD_SLIPS`].
const SLIPS: &[(&str, &str)] = &[
    (
        "wrong-password-403",
        "a wrong password or unknown user answered 403 (DRF's AuthenticationFailed on a view without an authentication class)",
    ),
    ("validate-ignores-user", "validation ignores `user_id`"),
    (
        "revoke-all-user-tokens",
        "revokeAPIAccessTokens reaches the user's other refresh tokens",
    ),
    (
        "regen-keeps-old",
        "regeneration leaves the old value active",
    ),
    (
        "mint-from-revoked",
        "an access token minted from a revoked refresh token",
    ),
    (
        "access-lifespan-days",
        "the access lifespan in days instead of hours",
    ),
    ("bigint-500", "a 500 on a 30-digit `user_id`"),
    (
        "names-nfc",
        "names normalised to NFC before they are stored",
    ),
    (
        "names-unquoted",
        "a name percent-decoded once more, in case a client encoded it",
    ),
    (
        "user-enumeration",
        "an unknown user answered otherwise than a wrong password",
    ),
    (
        "dead-access-active",
        "a dead access token validated as ACTIVE",
    ),
    (
        "trims-password",
        "white space around a password trimmed (DRF's CharField default)",
    ),
];

/// The slips the contract only discourages (SHOULD): caught by a warning the faithful member
/// does not give. NIST SP 800-63B-4 lets a verifier trim white space around a password.
const SHOULD_SLIPS: &[&str] = &["trims-password"];

/// Checks whose findings say the run could not judge, not that the target broke a rule: a slip
/// caught only by these is not caught.
const NO_VERDICT: &[&str] = &["transport", "setup"];

/// The accounts every member seeds.
const USER: &str = "alice@example.com";
const PASSWORD: &str = "alice-Secret-1";
const OTHER: &str = "bob@example.com";
const OTHER_PASSWORD: &str = "bob-Secret-2";
const SSO: &str = "sso.user@example.com";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A member of the zoo: a directory of `interop/` with a `start` script.
#[derive(Clone, Debug)]
struct Member {
    name: String,
    dir: PathBuf,
    /// What its README's title says it is.
    stack: String,
}

/// Every directory of `interop/` with a `start` script, with its stack as `interop/README.md`'s
/// table gives it (a member missing from the table says so).
fn members() -> Vec<Member> {
    let index = std::fs::read_to_string(root().join("interop/README.md")).unwrap_or_default();
    let stack_of = |name: &str| {
        index
            .lines()
            .find_map(|l| l.strip_prefix(&format!("| `{name}` | ")))
            .map_or_else(
                || "(not in interop/README.md)".to_owned(),
                |rest| rest.trim_end_matches(" |").trim().to_owned(),
            )
    };
    let mut out: Vec<Member> = std::fs::read_dir(root().join("interop"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("start").is_file())
        .map(|dir| {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            let stack = stack_of(&name);
            Member { name, dir, stack }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// A member's server, in its own process group so that what its start script runs (gunicorn
/// workers, uvicorn) goes with it: stopped with SIGTERM, as a service manager does.
struct Running {
    child: Child,
    log: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// Why a member could not be started: not set up (ignored unless tools are required), or
/// broken (a failure either way).
enum NotStarted {
    NotSetUp(String),
    Broken(String),
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Starts `member` with `slip` (empty: faithful) and waits until it accepts connections.
fn start(member: &Member, slip: &str) -> Result<(Running, u16), NotStarted> {
    use std::os::unix::process::CommandExt as _;
    let logs = root().join("target").join("interop");
    std::fs::create_dir_all(&logs).unwrap();
    let label = if slip.is_empty() { "faithful" } else { slip };
    let log = logs.join(format!("{}-{label}.log", member.name));
    let port = free_port();
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(member.dir.join("start"))
        .arg(port.to_string())
        .env("INTEROP_SLIP", slip)
        // A member may lower its password hasher's cost for a test deployment (Django's own
        // advice for tests); nothing it answers depends on it.
        .env("INTEROP_FAST_HASHING", "1")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .process_group(0)
        .spawn()
        .map_err(|e| NotStarted::Broken(format!("{}/start: {e}", member.name)))?;
    let mut running = Running { child, log };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        // Listening, and ours: a member that could not bind and exited leaves the port to
        // whoever took it.
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && matches!(running.child.try_wait(), Ok(None))
        {
            return Ok((running, port));
        }
        if let Ok(Some(status)) = running.child.try_wait() {
            let said = tail(&running.log);
            // A start script whose dependencies are missing stops at once: not set up.
            let missing = ["No such file", "not found", "Cannot find module"]
                .iter()
                .any(|m| said.contains(m));
            let why = format!(
                "{}/start {port} exited ({status}) before it listened:\n{said}",
                member.name
            );
            return Err(if missing {
                NotStarted::NotSetUp(why)
            } else {
                NotStarted::Broken(why)
            });
        }
        if Instant::now() > deadline {
            return Err(NotStarted::Broken(format!(
                "{} did not listen on {port} within 60 s:\n{}",
                member.name,
                tail(&running.log)
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The suite, run as a vendor runs it against a plain deployment: the profile's account, a
/// second account and an SSO user, no control protocol. A self-test variant is run as the
/// self-test runs it, with its control protocol.
async fn run_suite(spec: &Arc<Spec>, cases: &[Case], base: &str, member: bool) -> Report {
    let settings = if member {
        Settings {
            base_url: Some(base.to_owned()),
            username: Some(USER.to_owned()),
            password: Some(Secret::new(PASSWORD)),
            other_username: Some(OTHER.to_owned()),
            other_password: Some(Secret::new(OTHER_PASSWORD)),
            sso_username: Some(SSO.to_owned()),
            timeout: Some(Span::from_secs(10)),
            ..Settings::default()
        }
    } else {
        Settings {
            base_url: Some(base.to_owned()),
            username: Some(mutant::USER.to_owned()),
            password: Some(Secret::new(mutant::PASSWORD)),
            control_url: Some(format!("{base}/conformance/v1")),
            timeout: Some(Span::from_secs(2)),
            ..Settings::default()
        }
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
    .unwrap_or_else(|e| panic!("the run stopped: {e}"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// What one implementation's run showed, for the matrix.
#[derive(Clone, Debug, Default)]
struct Row {
    /// Per check id: (MUST findings, SHOULD findings).
    checks: BTreeMap<&'static str, (usize, usize)>,
    /// The failing (case, check) pairs, sorted.
    failing: Vec<(String, &'static str)>,
    /// The warning (case, check) pairs, sorted.
    warning: Vec<(String, &'static str)>,
    /// The first message of each SHOULD check, for the warnings section.
    first_warning: BTreeMap<&'static str, (String, String)>,
    passed: usize,
    warned: usize,
    failed: usize,
    skipped: usize,
    exit: Option<Exit>,
    verdict: String,
}

fn row(report: &Report) -> Row {
    let mut r = Row {
        exit: Some(report.exit(false)),
        verdict: report.verdict_text(),
        ..Row::default()
    };
    let s = report.suite().unwrap().summary();
    (r.passed, r.warned, r.failed, r.skipped) = (s.passed, s.warned, s.failed, s.skipped);
    for c in report.cases() {
        for st in &c.steps {
            for f in &st.findings {
                let entry = r.checks.entry(f.check).or_default();
                match f.severity {
                    Severity::Must => {
                        entry.0 += 1;
                        r.failing.push((c.id.clone(), f.check));
                    }
                    Severity::Should => {
                        entry.1 += 1;
                        r.warning.push((c.id.clone(), f.check));
                        r.first_warning
                            .entry(f.check)
                            .or_insert_with(|| (c.id.clone(), f.message.clone()));
                    }
                }
            }
        }
    }
    r.failing.sort();
    r.failing.dedup();
    r.warning.sort();
    r.warning.dedup();
    r
}

/// Everything the trials found, by implementation and slip.
#[derive(Default)]
struct Found {
    /// (implementation, slip or "" for faithful) -> its row.
    rows: BTreeMap<(String, String), Row>,
}

/// The verdict a faithful member or a conformant variant must get.
fn must_pass(r: &Row) -> Result<(), String> {
    if r.failed > 0 || r.exit != Some(Exit::Success) {
        let pairs: Vec<String> = r
            .failing
            .iter()
            .map(|(c, k)| format!("{c} [{k}]"))
            .collect();
        return Err(format!(
            "a conformant implementation failed ({:?}): {}",
            r.exit,
            pairs.join(", ")
        ));
    }
    Ok(())
}

fn member_trial(
    member: Member,
    slip: &'static str,
    spec: Arc<Spec>,
    cases: Arc<Vec<Case>>,
    found: Arc<Mutex<Found>>,
) -> Trial {
    let label = if slip.is_empty() { "faithful" } else { slip };
    let name = format!("interop::{}: {label}", member.name);
    let required = std::env::var_os("TOKEN_CONFORMANCE_REQUIRE_TOOLS").is_some();
    let ready = member_ready(&member);
    let trial = Trial::test(name, move || {
        let r = run_member(&member, slip, &spec, &cases)?;
        let verdict = if slip.is_empty() {
            must_pass(&r)
        } else if SHOULD_SLIPS.contains(&slip) {
            // Caught by a warning the faithful member does not give.
            let faithful = run_member(&member, "", &spec, &cases)?;
            let new: Vec<&(String, &str)> = r
                .warning
                .iter()
                .filter(|p| !faithful.warning.contains(p))
                .collect();
            if new.is_empty() {
                Err(format!(
                    "the SHOULD slip `{slip}` gave no warning the faithful member does not"
                ))
            } else {
                Ok(())
            }
        } else if r.exit == Some(Exit::Failures)
            && r.failing.iter().any(|(_, k)| !NO_VERDICT.contains(k))
        {
            Ok(())
        } else {
            Err(format!(
                "the slip `{slip}` was not caught: the run exits {:?} ({})",
                r.exit, r.verdict
            ))
        };
        found
            .lock()
            .unwrap()
            .rows
            .insert((member.name.clone(), slip.to_owned()), r);
        verdict.map_err(Failed::from)
    })
    .with_kind(if slip.is_empty() { "member" } else { "slip" });
    // A member that is not set up here is not the harness's failure, unless CI says it must be.
    trial.with_ignored_flag(!ready && !required)
}

/// Starts `member` with `slip`, runs the suite against it, stops it: what the run showed. A
/// member that died during the run is the trial's failure, not a verdict.
fn run_member(
    member: &Member,
    slip: &str,
    spec: &Arc<Spec>,
    cases: &[Case],
) -> Result<Row, Failed> {
    let (mut server, port) = match start(member, slip) {
        Ok(s) => s,
        Err(NotStarted::NotSetUp(why) | NotStarted::Broken(why)) => return Err(why.into()),
    };
    let base = format!("http://127.0.0.1:{port}");
    let report = runtime().block_on(run_suite(spec, cases, &base, true));
    if let Ok(Some(status)) = server.child.try_wait() {
        return Err(format!(
            "{} ({slip}) exited during the run ({status}):\n{}",
            member.name,
            tail(&server.log)
        )
        .into());
    }
    drop(server);
    Ok(row(&report))
}

/// Whether `member/setup` has been run (its start script finds what it needs): a venv, the
/// node modules, or nothing to install.
fn member_ready(member: &Member) -> bool {
    let d = &member.dir;
    let needs_venv = d.join("requirements.txt").is_file();
    let needs_node = d.join("package.json").is_file();
    (!needs_venv || d.join(".venv/bin/python").is_file())
        && (!needs_node || d.join("node_modules").is_dir())
}

fn variant_trial(
    entry: &'static catalogue::Entry,
    spec: Arc<Spec>,
    cases: Arc<Vec<Case>>,
    found: Arc<Mutex<Found>>,
) -> Trial {
    Trial::test(format!("interop::variant: {}", entry.name), move || {
        let report = runtime().block_on(async {
            let base = mutant::start(entry.mode).await;
            run_suite(&spec, &cases, &base, false).await
        });
        let r = row(&report);
        let verdict = must_pass(&r);
        found
            .lock()
            .unwrap()
            .rows
            .insert((format!("variant: {}", entry.name), String::new()), r);
        verdict.map_err(Failed::from)
    })
    .with_kind("variant")
}

/// Every member plants every slip, where a reader can find it, and the index names its stack.
fn slips_are_planted(members: &[Member]) -> Result<(), Failed> {
    let mut missing = Vec::new();
    for m in members {
        if m.stack.starts_with("(not in") {
            missing.push(format!("{}: its row in interop/README.md", m.name));
        }
        let mut text = String::new();
        collect_sources(&m.dir, &mut text);
        for (slip, _) in SLIPS {
            if !text.contains(&format!("SLIP {slip}:")) {
                missing.push(format!("{}: {slip}", m.name));
            }
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("slips not marked `SLIP <name>:` in: {}", missing.join(", ")).into())
    }
}

fn collect_sources(dir: &Path, out: &mut String) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            if !name.starts_with('.') && name != "node_modules" && name != "__pycache__" {
                collect_sources(&p, out);
            }
        } else if ["py", "js"]
            .iter()
            .any(|x| p.extension().is_some_and(|e| e == *x))
        {
            out.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
        }
    }
}

fn cell(counts: Option<&(usize, usize)>) -> String {
    match counts {
        None | Some((0, 0)) => "pass".into(),
        Some((m, _)) if *m > 0 => format!("**FAIL** {m}"),
        Some((_, w)) => format!("warn {w}"),
    }
}

/// `INTEROP.md` from what the trials found.
fn render(members: &[Member], found: &Found) -> String {
    let implementations: Vec<String> = members
        .iter()
        .map(|m| m.name.clone())
        .chain(
            found
                .rows
                .keys()
                .filter(|(i, _)| i.starts_with("variant: "))
                .map(|(i, _)| i.clone()),
        )
        .filter(|i| found.rows.contains_key(&(i.clone(), String::new())))
        .collect();
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Interoperability matrix\n\n\
         Generated by `INTEROP_WRITE=1 cargo test --test verdicts -- interop::` (token-conformance {}): the whole\n\
         suite against each member of `interop/`, an independent implementation on a real stack\n\
         run as a plain deployment (no control protocol; a second account and an SSO user), and\n\
         against the self-test's conformant variants (this project's own Rust, with the control\n\
         protocol). Every implementation must pass; every slip must be caught in every member.\n\
         Counts are findings (a case may give several).\n",
        env!("CARGO_PKG_VERSION")
    );
    implementations_table(&mut md, members, found, &implementations);
    checks_table(&mut md, found, &implementations);
    slips_table(&mut md, members, found);
    warnings_left(&mut md, members, found);
    md
}

fn implementations_table(md: &mut String, members: &[Member], found: &Found, all: &[String]) {
    let _ = writeln!(md, "## Implementations\n");
    let _ = writeln!(
        md,
        "| implementation | stack | verdict | passed | warned | failed | skipped |\n|---|---|---|---|---|---|---|"
    );
    for i in all {
        let r = &found.rows[&(i.clone(), String::new())];
        let stack = members
            .iter()
            .find(|m| &m.name == i)
            .map_or("this project's Rust (self-test)", |m| m.stack.as_str());
        // The verdict without its list of the cases not run (the skipped column counts them).
        let verdict = r.verdict.split(": ").next().unwrap_or_default();
        let _ = writeln!(
            md,
            "| {i} | {stack} | {verdict} | {} | {} | {} | {} |",
            r.passed, r.warned, r.failed, r.skipped
        );
    }
}

fn checks_table(md: &mut String, found: &Found, all: &[String]) {
    let _ = writeln!(md, "\n## Implementations × checks\n");
    let _ = writeln!(
        md,
        "`pass`: no finding; `warn N`: N SHOULD findings; `FAIL N`: N MUST findings.\n"
    );
    let head: Vec<&str> = all
        .iter()
        .map(|i| i.trim_start_matches("variant: "))
        .collect();
    let _ = writeln!(
        md,
        "| check | severity | {} |\n|---|---|{}",
        head.join(" | "),
        "---|".repeat(head.len())
    );
    for c in token_conformance::check::all() {
        let CheckInfo { id, severity, .. } = c;
        let cells: Vec<String> = all
            .iter()
            .map(|i| cell(found.rows[&(i.clone(), String::new())].checks.get(id)))
            .collect();
        let _ = writeln!(
            md,
            "| `{id}` | {} | {} |",
            severity.name(),
            cells.join(" | ")
        );
    }
}

fn slips_table(md: &mut String, members: &[Member], found: &Found) {
    let _ = writeln!(md, "\n## Slips × members\n");
    let _ = writeln!(
        md,
        "Each slip is planted in every member (`INTEROP_SLIP=<name>`, marked `SLIP <name>:` in its\n\
         code). A cell names the cases whose MUST check caught it (the faithful member passes them\n\
         all); concurrency may add cases that shared the slip's damage.\n"
    );
    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    let _ = writeln!(
        md,
        "| slip | {} |\n|---|{}",
        names.join(" | "),
        "---|".repeat(names.len())
    );
    for (slip, what) in SLIPS {
        let cells: Vec<String> = members
            .iter()
            .map(
                |m| match found.rows.get(&(m.name.clone(), (*slip).to_owned())) {
                    None => "not run".into(),
                    Some(r) if SHOULD_SLIPS.contains(slip) => warned_by(r, found, &m.name),
                    Some(r) if r.failing.is_empty() => "**missed**".into(),
                    Some(r) => caught_by(r),
                },
            )
            .collect();
        let _ = writeln!(md, "| `{slip}`: {what} | {} |", cells.join(" | "));
    }
}

fn warnings_left(md: &mut String, members: &[Member], found: &Found) {
    let _ = writeln!(md, "\n## Warnings each member is left with\n");
    let _ = writeln!(
        md,
        "What each faithful member does that the contract allows but does not prefer (its\n\
         framework's defaults), with the first example.\n"
    );
    for m in members {
        let Some(r) = found.rows.get(&(m.name.clone(), String::new())) else {
            continue;
        };
        let _ = writeln!(md, "### {} ({})\n", m.name, m.stack);
        if r.first_warning.is_empty() {
            let _ = writeln!(md, "None.\n");
            continue;
        }
        for (check, (case, message)) in &r.first_warning {
            let n = r.checks.get(check).map_or(0, |c| c.1);
            let _ = writeln!(
                md,
                "- `{check}` ×{n}, first in `{case}`: {}",
                one_line(message)
            );
        }
        md.push('\n');
    }
}

/// The cases that caught a slip, with their checks: at most three shown, written cases (a
/// sequence made for the fault) before generated probes.
fn caught_by(r: &Row) -> String {
    let mut by_case: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (case, check) in &r.failing {
        by_case.entry(case).or_default().push(check);
    }
    let mut ordered: Vec<(&&str, &Vec<&str>)> = by_case.iter().collect();
    ordered.sort_by_key(|(case, _)| (case.starts_with("generated."), **case));
    let shown: Vec<String> = ordered
        .iter()
        .take(3)
        .map(|(case, checks)| format!("`{case}` [{}]", checks.join(", ")))
        .collect();
    let more = by_case.len().saturating_sub(3);
    let mut s = shown.join("<br>");
    if more > 0 {
        let _ = write!(s, "<br>and {more} more");
    }
    s
}

/// The cases that warned about a SHOULD slip where the faithful member gives no warning.
fn warned_by(r: &Row, found: &Found, member: &str) -> String {
    let faithful = found.rows.get(&(member.to_owned(), String::new()));
    let new: Vec<String> = r
        .warning
        .iter()
        .filter(|p| faithful.is_none_or(|f| !f.warning.contains(p)))
        .take(3)
        .map(|(c, k)| format!("`{c}` [{k}] (SHOULD)"))
        .collect();
    if new.is_empty() {
        "**missed**".into()
    } else {
        new.join("<br>")
    }
}

fn one_line(text: &str) -> String {
    let flat = text.replace('\n', " ").replace('|', "\\|");
    if flat.chars().count() > 160 {
        format!("{}…", flat.chars().take(160).collect::<String>())
    } else {
        flat
    }
}

/// One trial per member and slip, one per conformant variant of the self-test, and what to do
/// once they ran: write `INTEROP.md` when `INTEROP_WRITE` is set.
pub fn trials(spec: &Arc<Spec>, cases: &Arc<Vec<Case>>) -> (Vec<Trial>, impl FnOnce()) {
    let (spec, cases) = (Arc::clone(spec), Arc::clone(cases));
    let found = Arc::new(Mutex::new(Found::default()));
    let members = members();
    let mut trials = Vec::new();
    let planted = members.clone();
    trials.push(Trial::test(
        "interop::every member plants every slip",
        move || slips_are_planted(&planted),
    ));
    for m in &members {
        for slip in std::iter::once("").chain(SLIPS.iter().map(|(s, _)| *s)) {
            trials.push(member_trial(
                m.clone(),
                slip,
                Arc::clone(&spec),
                Arc::clone(&cases),
                Arc::clone(&found),
            ));
        }
    }
    for entry in catalogue::CATALOGUE
        .iter()
        .filter(|e| matches!(e.expect, catalogue::Expect::Passes(_)) && !e.plain)
    {
        trials.push(variant_trial(
            entry,
            Arc::clone(&spec),
            Arc::clone(&cases),
            Arc::clone(&found),
        ));
    }
    let write = move || {
        if std::env::var_os("INTEROP_WRITE").is_some() {
            let found = found.lock().unwrap();
            let text = render(&members, &found);
            std::fs::write(root().join("INTEROP.md"), text).unwrap();
            println!("wrote INTEROP.md");
        }
    };
    (trials, write)
}
