//! The GitHub Action (`action.yml`), without GitHub: its metadata parsed, its `run:` steps
//! executed as the runner would (bash with `-eo pipefail`, each input substituted into the
//! step's `env:`, `GITHUB_STEP_SUMMARY`, `GITHUB_OUTPUT` and `GITHUB_PATH` pointed at
//! temporary files) against a reference server on loopback, and its `uses:` steps, which need
//! GitHub, checked by their inputs: the files they upload exist after the run.
//!
//! The install step (`cargo install --locked` from the action's own source, a release build of
//! several minutes) is left out by the action's own `install: false`; the binary under test is
//! put on PATH instead.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::common::{BIN, KillOnDrop, command, text};

fn action() -> Value {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml")).unwrap();
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    serde_saphyr::from_str_with_options(&text, options).unwrap()
}

/// What `${{ ... }}` may name in this action, and its value here.
struct Context {
    inputs: BTreeMap<String, String>,
    runner_temp: PathBuf,
}

impl Context {
    fn value(&self, expr: &str) -> String {
        let expr = expr.trim();
        if let Some(name) = expr.strip_prefix("inputs.") {
            return self
                .inputs
                .get(name)
                .unwrap_or_else(|| panic!("no input {name}"))
                .clone();
        }
        match expr {
            "github.action_path" => env!("CARGO_MANIFEST_DIR").to_owned(),
            "runner.temp" => self.runner_temp.display().to_string(),
            _ => panic!("an expression the test does not know: {expr}"),
        }
    }

    /// `text` with every `${{ ... }}` replaced.
    fn substitute(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").unwrap() + start;
            out.push_str(&self.value(&rest[start + 3..end]));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    /// The `if:` conditions this action uses: `always()`, and `inputs.X == 'v'` or
    /// `inputs.X != 'v'`, joined by `&&`.
    fn holds(&self, condition: &str) -> bool {
        condition.split("&&").all(|term| {
            let term = term.trim();
            if term == "always()" {
                return true;
            }
            let (left, right, equal) = if let Some((l, r)) = term.split_once("==") {
                (l, r, true)
            } else if let Some((l, r)) = term.split_once("!=") {
                (l, r, false)
            } else {
                panic!("a condition the test does not know: {term}");
            };
            let right = right.trim().trim_matches('\'');
            (self.value(left) == right) == equal
        })
    }
}

/// Starts `serve` on a free loopback port with one user; its base URL.
fn server(dir: &Path, password: &str) -> (KillOnDrop, String) {
    let mut server = KillOnDrop(
        Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--user"])
            .arg(format!("ci@example.com:{password}"))
            .arg("--db")
            .arg(dir.join("server.db"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = BufReader::new(server.0.stdout.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .find_map(|l| {
            l.strip_prefix("reference server listening on ")
                .map(str::to_owned)
        })
        .expect("the server's address");
    (server, url)
}

/// The inputs: their defaults, and what a workflow's `with:` gives.
fn inputs(action: &Value, given: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut inputs: BTreeMap<String, String> = action["inputs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v["default"].as_str().unwrap_or("").to_owned()))
        .collect();
    for (k, v) in given {
        assert!(inputs.contains_key(*k), "no input {k}");
        inputs.insert((*k).to_owned(), (*v).to_owned());
    }
    inputs
}

/// Runs a `run:` step as the runner runs a bash step: the script in a file, `bash --noprofile
/// --norc -eo pipefail FILE`, in `work`, with the step's `env:` substituted over `env` (the
/// job's environment: the `GITHUB_*` files, the workflow's variables) and the binary under test
/// first on PATH.
fn run_step(step: &Value, cx: &Context, work: &Path, env: &[(&str, &OsStr)]) -> Output {
    assert_eq!(
        step["shell"], "bash",
        "composite run steps name their shell"
    );
    let script = cx.runner_temp.join("step.sh");
    std::fs::write(&script, step["run"].as_str().unwrap()).unwrap();
    let path = format!(
        "{}:{}",
        Path::new(BIN).parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
        .arg(&script)
        .current_dir(work)
        .env_clear()
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env("RUNNER_TEMP", &cx.runner_temp)
        .env("GITHUB_ACTION_PATH", env!("CARGO_MANIFEST_DIR"))
        .env("GITHUB_WORKSPACE", work)
        .envs(env.iter().copied());
    if let Some(vars) = step["env"].as_object() {
        for (k, v) in vars {
            cmd.env(k, cx.substitute(v.as_str().unwrap()));
        }
    }
    cmd.output().unwrap()
}

/// A workspace, a runner's temporary directory, and the `GITHUB_*` files, under `root`.
struct Runner {
    work: PathBuf,
    temp: PathBuf,
    summary: PathBuf,
    output: PathBuf,
    path: PathBuf,
}

impl Runner {
    fn new(root: &Path) -> Self {
        let r = Self {
            work: root.join("workspace"),
            temp: root.join("runner-temp"),
            summary: root.join("summary.md"),
            output: root.join("output"),
            path: root.join("path"),
        };
        std::fs::create_dir_all(&r.work).unwrap();
        std::fs::create_dir_all(&r.temp).unwrap();
        for f in [&r.summary, &r.output, &r.path] {
            std::fs::write(f, "").unwrap();
        }
        r
    }

    fn env(&self) -> Vec<(&'static str, &OsStr)> {
        vec![
            ("GITHUB_ACTIONS", OsStr::new("true")),
            ("GITHUB_STEP_SUMMARY", self.summary.as_os_str()),
            ("GITHUB_OUTPUT", self.output.as_os_str()),
            ("GITHUB_PATH", self.path.as_os_str()),
        ]
    }
}

const PASSWORD: &str = "an action's secret password";

/// A signing key pair in `work/keys`, the private half returned as its PEM text (as a
/// repository secret holds it) and removed from the disk.
fn signing_key(work: &Path) -> String {
    let o = command(work)
        .args(["keygen", "--out", "keys"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let pem = std::fs::read_to_string(work.join("keys/conformance.key")).unwrap();
    std::fs::remove_file(work.join("keys/conformance.key")).unwrap();
    pem
}

/// A step's id and its log, or an upload's artifact name and path.
type Named = (String, String);

/// The steps whose `if:` holds: the `run:` ones executed in order (each must succeed, with no
/// secret in its log), the `uses:` ones returned as (artifact name, path) for the caller.
fn run_steps(
    action: &Value,
    cx: &Context,
    runner: &Runner,
    env: &[(&str, &OsStr)],
) -> (Vec<Named>, Vec<Named>) {
    let (mut ran, mut uploads) = (Vec::new(), Vec::new());
    for step in action["runs"]["steps"].as_array().unwrap() {
        if let Some(condition) = step["if"].as_str()
            && !cx.holds(condition)
        {
            continue;
        }
        if let Some(uses) = step["uses"].as_str() {
            assert!(uses.starts_with("actions/upload-artifact@"), "{uses}");
            uploads.push((
                cx.substitute(step["with"]["name"].as_str().unwrap()),
                cx.substitute(step["with"]["path"].as_str().unwrap()),
            ));
            continue;
        }
        let o = run_step(step, cx, &runner.work, env);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(0), "step {:?}: {out}", step["id"]);
        assert!(!out.contains(PASSWORD), "the password in the log: {out}");
        assert!(!out.contains("PRIVATE KEY"), "the key in the log: {out}");
        ran.push((step["id"].as_str().unwrap_or("").to_owned(), out));
    }
    (ran, uploads)
}

#[test]
fn the_actions_steps_run_report_summarise_and_upload_what_exists() {
    let action = action();
    assert_eq!(action["runs"]["using"], "composite");
    let tmp = tempfile::tempdir().unwrap();
    let runner = Runner::new(tmp.path());
    let (_server, target) = server(tmp.path(), PASSWORD);
    let key_pem = signing_key(&runner.work);
    let cx = Context {
        inputs: inputs(
            &action,
            &[
                ("target", &target),
                ("username", "ci@example.com"),
                ("password-env", "STAGING_PASSWORD"),
                ("bundle-dir", "conformance-bundle"),
                ("sign-key-env", "CONFORMANCE_KEY"),
                // A short run: two written cases.
                ("args", "--no-generated --filter refresh-token.create"),
                ("install", "false"),
            ],
        ),
        runner_temp: runner.temp.clone(),
    };
    // The workflow's `env:`: the secrets, under the names the inputs give.
    let mut env = runner.env();
    env.push(("STAGING_PASSWORD", OsStr::new(PASSWORD)));
    env.push(("CONFORMANCE_KEY", OsStr::new(&key_pem)));
    let (ran, uploads) = run_steps(&action, &cx, &runner, &env);
    assert_eq!(
        ran.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        ["run"],
        "install: false leaves out the install step"
    );
    assert!(ran[0].1.contains("signed by key"), "{}", ran[0].1);

    // The outputs, the job summary, the reports, the bundle (signed, and it verifies).
    let outputs = std::fs::read_to_string(&runner.output).unwrap();
    assert!(outputs.contains("exit-code=0\n"), "{outputs}");
    assert!(
        outputs.contains("reports-dir=conformance-reports\n"),
        "{outputs}"
    );
    let summary = std::fs::read_to_string(&runner.summary).unwrap();
    assert!(summary.contains("token-conformance"), "{summary}");
    assert!(!summary.contains(PASSWORD), "{summary}");
    for report in [
        "conformance.xml",
        "conformance.json",
        "conformance.md",
        "badge.svg",
    ] {
        let report = runner.work.join("conformance-reports").join(report);
        let written = std::fs::read_to_string(&report).unwrap();
        assert!(!written.contains(PASSWORD), "{}", report.display());
    }
    assert!(
        !runner.temp.join("token-conformance-sign.key").exists(),
        "the key file outlives the step"
    );
    let o = command(&runner.work)
        .args([
            "verify",
            "conformance-bundle",
            "--key",
            "keys/conformance.pub",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // The uploads: both, each naming what exists after the run.
    assert_eq!(
        uploads.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["conformance-reports", "conformance-bundle"]
    );
    for (name, path) in &uploads {
        for p in path.lines().filter(|p| !p.trim().is_empty()) {
            let p = runner.work.join(p.trim());
            assert!(p.exists(), "{name}: {} does not exist", p.display());
        }
    }
}

/// A failing run: the step fails with the harness's exit code, after writing its outputs, so
/// the uploads (`if: always()`) still have the reports.
#[test]
fn a_refused_login_fails_the_step_with_exit_2_and_still_writes_the_outputs() {
    let action = action();
    let step = action["runs"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "run")
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let runner = Runner::new(tmp.path());
    let (_server, target) = server(tmp.path(), "the right password");
    let cx = Context {
        inputs: inputs(
            &action,
            &[("target", &target), ("username", "ci@example.com")],
        ),
        runner_temp: runner.temp.clone(),
    };
    let mut env = runner.env();
    env.push(("TOKEN_CONFORMANCE_PASSWORD", OsStr::new("a wrong password")));
    let o = run_step(step, &cx, &runner.work, &env);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let outputs = std::fs::read_to_string(&runner.output).unwrap();
    assert!(outputs.contains("exit-code=2\n"), "{outputs}");
    assert!(runner.work.join("conformance-reports").is_dir());
}
