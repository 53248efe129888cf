//! The `token-conformance` binary as CI pipelines and people use it: exit codes, the embedded
//! default target, a separately started reference server, broken input.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Output, Stdio};

use crate::common;

use common::{BIN, KillOnDrop, text};

fn run(args: &[&str]) -> Output {
    run_with_password(args, None)
}

/// Runs the binary from the repository root, with the password (if any) in the environment.
fn run_with_password(args: &[&str], password: Option<&str>) -> Output {
    let mut cmd = common::command(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
    cmd.args(args);
    if let Some(p) = password {
        cmd.env("TOKEN_CONFORMANCE_PASSWORD", p);
        // The second account `serve` makes has the same password with `-2`.
        cmd.env("TOKEN_CONFORMANCE_OTHER_PASSWORD", format!("{p}-2"));
    }
    cmd.output().unwrap()
}

#[test]
fn run_without_a_target_tests_the_embedded_reference_server_and_exits_0() {
    let o = run(&["run"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("(embedded reference server)"), "{out}");
    let summary = out
        .lines()
        .find(|l| l.ends_with(" skipped") && l.contains(" passed, "))
        .unwrap();
    assert!(
        summary.ends_with("0 failed, 0 warned, 0 skipped"),
        "{summary}"
    );
    assert!(
        out.lines().last().unwrap().starts_with("coverage: "),
        "{out}"
    );
}

/// `token-conformance serve` on a port it picks, with the control protocol: the process and
/// its base URL. The second account's password is the profile's with `-2`.
fn serve(dir: &std::path::Path, password: &str) -> (KillOnDrop, String) {
    serve_with(dir, password, &format!("{password}-2"))
}

/// `serve`, with the second account's password given.
fn serve_with(dir: &std::path::Path, password: &str, second: &str) -> (KillOnDrop, String) {
    // Port 0: the server binds a free port itself and prints its address.
    let mut server = KillOnDrop(
        Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--test-control",
                "--user",
            ])
            .arg(format!("ci@example.com:{password}"))
            // A second account and an SSO user, as a vendor's deployment has them.
            .arg("--user")
            .arg(format!("second@example.com:{second}"))
            .args(["--sso-user", "okta@example.com"])
            .arg("--db")
            .arg(dir.join("s.db"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(server.0.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("reference server listening on ")
        .unwrap_or_else(|| panic!("the server did not print its address: {first}"))
        .to_owned();
    (server, url)
}

#[test]
fn run_against_a_separately_started_reference_server_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let password = "separate-server-pass-42";
    let (server, url) = serve(dir.path(), password);
    let control = format!("{url}/conformance/v1");
    let o = run_with_password(
        &[
            "run",
            "--target",
            &url,
            "--control-url",
            &control,
            "--username",
            "ci@example.com",
        ],
        Some(password),
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("0 failed, 0 warned, 0 skipped"), "{out}");
    assert!(
        !out.contains(password),
        "the password leaked into the output"
    );

    // Without the control protocol, the cases that need it are skipped, never passed; with a
    // second account and an SSO user named, the rest run.
    let o = run_with_password(
        &[
            "run",
            "--target",
            &url,
            "--username",
            "ci@example.com",
            "--other-username",
            "second@example.com",
            "--sso-username",
            "okta@example.com",
            // A line per case, the skipped ones with their reason.
            "-v",
        ],
        Some(password),
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("SKIP expiry.access.default  (the target does not offer clock (moving the target's clock; give --control-url"),
        "{out}"
    );
    assert!(!out.contains(" 0 skipped"), "{out}");
    // Everything that does not depend on time, configuration, an administrator or a second
    // account ran.
    let skipped: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("SKIP "))
        .filter(|l| !l.contains("(the target does not offer users "))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert!(!out.contains("other_account"), "{out}");
    for id in &skipped {
        assert!(
            id.starts_with("expiry.")
                || [
                    "dead-token.expired",
                    "dead-token.admin-revoked",
                    "refresh-token.regen.timestamps",
                ]
                .contains(id),
            "{id} is skipped without the control protocol, though it needs neither time nor configuration"
        );
    }
    let line = out
        .lines()
        .find(|l| l.ends_with(" cases ran without the control protocol"))
        .unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        words[0], words[2],
        "every case that ran, ran without it: {line}"
    );
    assert!(out.contains("left active: this API cannot revoke"), "{out}");
    drop(server);
}

/// Near misses of the second account's password (a character dropped, the case swapped) are
/// no known secret, but they sit in the password's field: no report or console shows them, even
/// for a password too short for the text redaction to learn them.
#[test]
fn near_misses_of_a_short_second_password_never_show() {
    let dir = tempfile::tempdir().unwrap();
    let password = "near-miss-pass-42";
    let short = "Sh0rt-7x";
    let (server, url) = serve_with(dir.path(), password, short);
    let json = dir.path().join("r.json");
    let o = common::command(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(["run", "--target", &url, "--username", "ci@example.com"])
        .args([
            "--other-username",
            "second@example.com",
            "--filter",
            "password-",
        ])
        .arg("--json")
        .arg(&json)
        .env("TOKEN_CONFORMANCE_PASSWORD", password)
        .env("TOKEN_CONFORMANCE_OTHER_PASSWORD", short)
        .output()
        .unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let report = std::fs::read_to_string(&json).unwrap();
    assert!(report.contains("password-truncated"), "{report}");
    for shown in [&out, &report] {
        // Every near miss keeps most of the password: no piece of it may show.
        assert!(!shown.contains("Sh0rt"), "{shown}");
        assert!(!shown.contains("sH0RT"), "{shown}");
    }
    drop(server);
}

/// `--target` given with the API's own path finds no API at the login's URL: a setup error
/// (exit 2) whose hint says what `--target` is, after one request, not 200 failed cases.
#[test]
fn a_target_with_the_apis_path_is_a_setup_error() {
    let dir = tempfile::tempdir().unwrap();
    let password = "api-path-pass-42";
    let (server, url) = serve(dir.path(), password);
    let o = run_with_password(
        &[
            "run",
            "--target",
            &format!("{url}/integration/v1"),
            "--username",
            "ci@example.com",
        ],
        Some(password),
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains("the target does not answer the API's first login"),
        "{out}"
    );
    assert!(
        out.contains("--target is the deployment's base URL"),
        "{out}"
    );
    assert!(!out.contains("FAIL "), "{out}");
    drop(server);
}

#[test]
fn an_unreachable_target_exits_3() {
    // The discard port: privileged, so no test's ephemeral bind can take it, and nothing
    // listens there.
    let o = run(&[
        "run",
        "--target",
        "http://127.0.0.1:9",
        "--username",
        "u",
        "--password",
        "p",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(out.contains("target unreachable"), "{out}");
}

#[test]
fn results_do_not_depend_on_concurrency() {
    // Each run compares every case with the committed snapshots, so equal exit codes with no
    // drift mean equal responses, serial or not.
    for jobs in ["1", "32"] {
        let o = run(&["run", "--jobs", jobs]);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(0), "--jobs {jobs}: {out}");
        assert!(!out.contains("snapshot.drift"), "--jobs {jobs}: {out}");
    }
}

/// `token-conformance run | head -1`: the closed pipe ends it quietly, with SIGPIPE's status.
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    use std::io::Read as _;
    let mut cmd = common::command(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
    let mut child = cmd
        .arg("run")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0_u8; 16];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(status.code(), Some(141), "{status}");
}

/// In GitHub Actions (`GITHUB_ACTIONS=true`), each failure is a workflow command on the case
/// file and line, and the job summary is appended to the file `GITHUB_STEP_SUMMARY` names,
/// after what earlier steps wrote there. `--annotations none` turns the commands off.
#[test]
fn in_github_actions_failures_are_annotated_on_their_line_and_summarised() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("cases")).unwrap();
    std::fs::write(
        dir.path().join("cases/wrong.yaml"),
        "id: wrong\ntitle: expects 400 from a good create\nrequirement: r\nsource: vendor-page\nsteps:\n  - call: createRefreshToken\n    \
         body: {username: '{{ profile.username }}', password: '{{ profile.password }}', name: n}\n    \
         expect: {status: 400}\n",
    )
    .unwrap();
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "an earlier step's summary\n").unwrap();
    let github = |extra: &[&str]| {
        common::command(dir.path())
            .args(["run", "--cases", "cases", "--no-generated"])
            .args(extra)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary)
            .output()
            .unwrap()
    };
    let o = github(&[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.lines().any(|l| l.starts_with(
            "::error file=cases/wrong.yaml,line=6,title=client_error.kept::wrong: step 1"
        )),
        "{out}"
    );
    let written = std::fs::read_to_string(&summary).unwrap();
    assert!(
        written.starts_with("an earlier step's summary\n## token-conformance: does not conform"),
        "{written}"
    );
    assert!(
        written.contains("| `wrong` | `client_error.kept`"),
        "{written}"
    );
    let o = github(&["--annotations", "none"]);
    assert!(!text(&o).contains("::error"), "{}", text(&o));
}
