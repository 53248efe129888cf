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
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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

#[test]
fn the_actions_steps_run_report_summarise_and_upload_what_exists() {
    let action = action();
    assert_eq!(action["runs"]["using"], "composite");
    let declared = action["inputs"].as_object().unwrap();
    for name in [
        "target",
        "profile",
        "password-env",
        "username-env",
        "bundle-dir",
        "sign-key",
        "sign-key-env",
    ] {
        assert!(declared.contains_key(name), "no input {name}");
    }

    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("workspace");
    let runner_temp = tmp.path().join("runner-temp");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&runner_temp).unwrap();
    let password = "an action's secret password";
    let (_server, target) = server(tmp.path(), password);
    // The signing key, as a repository secret holds it: its PEM text in a variable.
    let o = command(&work)
        .args(["keygen", "--out", "keys"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let key_pem = std::fs::read_to_string(work.join("keys/conformance.key")).unwrap();
    std::fs::remove_file(work.join("keys/conformance.key")).unwrap();

    // The inputs: their defaults, and what a workflow's `with:` gives.
    let mut inputs: BTreeMap<String, String> = declared
        .iter()
        .map(|(k, v)| (k.clone(), v["default"].as_str().unwrap_or("").to_owned()))
        .collect();
    for (k, v) in [
        ("target", target.as_str()),
        ("username", "ci@example.com"),
        ("password-env", "STAGING_PASSWORD"),
        ("bundle-dir", "conformance-bundle"),
        ("sign-key-env", "CONFORMANCE_KEY"),
        // A short run: two written cases.
        ("args", "--no-generated --filter refresh-token.create"),
        ("install", "false"),
    ] {
        inputs.insert(k.to_owned(), v.to_owned());
    }
    let cx = Context {
        inputs,
        runner_temp: runner_temp.clone(),
    };

    let files = ["summary.md", "output", "path"].map(|f| tmp.path().join(f));
    for f in &files {
        std::fs::write(f, "").unwrap();
    }
    let [summary, output, path_file] = &files;
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let mut ran = Vec::new();
    let mut uploads = Vec::new();
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
        let script = step["run"].as_str().expect("a run: or uses: step");
        assert_eq!(
            step["shell"], "bash",
            "composite run steps name their shell"
        );
        let script_file = runner_temp.join(format!("step-{}.sh", ran.len()));
        std::fs::write(&script_file, script).unwrap();
        // As the runner runs a bash step.
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script_file)
            .current_dir(&work)
            .env_clear()
            .env("PATH", &path)
            .env("HOME", tmp.path())
            .env("NO_COLOR", "1")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_WORKSPACE", &work)
            .env("GITHUB_ACTION_PATH", env!("CARGO_MANIFEST_DIR"))
            .env("RUNNER_TEMP", &runner_temp)
            .env("GITHUB_STEP_SUMMARY", summary)
            .env("GITHUB_OUTPUT", output)
            .env("GITHUB_PATH", path_file)
            // The workflow's `env:`: the secrets, under the names the inputs give.
            .env("STAGING_PASSWORD", password)
            .env("CONFORMANCE_KEY", &key_pem);
        if let Some(env) = step["env"].as_object() {
            for (k, v) in env {
                cmd.env(k, cx.substitute(v.as_str().unwrap()));
            }
        }
        let o = cmd.output().unwrap();
        let out = text(&o);
        assert_eq!(o.status.code(), Some(0), "step {:?}: {out}", step["id"]);
        assert!(!out.contains(password), "the password in the log: {out}");
        assert!(!out.contains("PRIVATE KEY"), "the key in the log: {out}");
        ran.push((step["id"].as_str().unwrap_or("").to_owned(), out));
    }
    assert_eq!(
        ran.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        ["run"],
        "install: false leaves out the install step"
    );
    let log = &ran[0].1;
    assert!(log.contains("signed by key"), "{log}");

    // The outputs, the job summary, the reports, the bundle (signed, and it verifies).
    let outputs = std::fs::read_to_string(output).unwrap();
    assert!(outputs.contains("exit-code=0\n"), "{outputs}");
    assert!(
        outputs.contains("reports-dir=conformance-reports\n"),
        "{outputs}"
    );
    let summary = std::fs::read_to_string(summary).unwrap();
    assert!(summary.contains("token-conformance"), "{summary}");
    assert!(!summary.contains(password), "{summary}");
    for report in [
        "conformance.xml",
        "conformance.json",
        "conformance.md",
        "badge.svg",
    ] {
        let report = work.join("conformance-reports").join(report);
        assert!(report.is_file(), "{}", report.display());
        assert!(
            !std::fs::read_to_string(&report).unwrap().contains(password),
            "{}",
            report.display()
        );
    }
    assert!(
        !runner_temp.join("token-conformance-sign.key").exists(),
        "the key file outlives the step"
    );
    let o = command(&work)
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
            assert!(work.join(p.trim()).exists(), "{name}: {p} does not exist");
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
        .unwrap()
        .clone();
    let tmp = tempfile::tempdir().unwrap();
    let (_server, target) = server(tmp.path(), "the right password");
    let declared = action["inputs"].as_object().unwrap();
    let mut inputs: BTreeMap<String, String> = declared
        .iter()
        .map(|(k, v)| (k.clone(), v["default"].as_str().unwrap_or("").to_owned()))
        .collect();
    inputs.insert("target".into(), target);
    inputs.insert("username".into(), "ci@example.com".into());
    let cx = Context {
        inputs,
        runner_temp: tmp.path().to_owned(),
    };
    let output = tmp.path().join("output");
    std::fs::write(&output, "").unwrap();
    let script = tmp.path().join("run.sh");
    std::fs::write(&script, step["run"].as_str().unwrap()).unwrap();
    let mut cmd = Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
        .arg(&script)
        .current_dir(tmp.path())
        .env_clear()
        .env(
            "PATH",
            format!(
                "{}:{}",
                Path::new(BIN).parent().unwrap().display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("NO_COLOR", "1")
        .env("GITHUB_OUTPUT", &output)
        .env("TOKEN_CONFORMANCE_PASSWORD", "a wrong password");
    for (k, v) in step["env"].as_object().unwrap() {
        cmd.env(k, cx.substitute(v.as_str().unwrap()));
    }
    let o = cmd.output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let outputs = std::fs::read_to_string(&output).unwrap();
    assert!(outputs.contains("exit-code=2\n"), "{outputs}");
}
