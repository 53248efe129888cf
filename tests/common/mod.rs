//! Helpers shared by the binary's end-to-end tests.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use token_conformance::case;
use token_conformance::run::{self, Options, Report};
use token_conformance::spec::{BUNDLED_SPEC, BUNDLED_SPEC_NAME, Spec};
use token_conformance::target::Target;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_token-conformance");

/// The binary, run in `dir`, with no colour and no credentials from the test's environment.
pub fn command(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("TOKEN_CONFORMANCE_USERNAME")
        .env_remove("TOKEN_CONFORMANCE_PASSWORD")
        .env_remove("TOKEN_CONFORMANCE_OTHER_PASSWORD")
        // Run inside GitHub Actions, the binary would annotate the real job and append to its
        // summary; the tests that want that set these themselves.
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY");
    cmd
}

/// Standard output then standard error, as one text.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A child process killed when dropped: a failing test leaves no server behind.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs one case (YAML, named as if read from `file`) against `target`, with the bundled contract
/// and default options.
pub async fn run_one(yaml: &str, file: &str, target: Target) -> Report {
    let spec = Spec::parse(BUNDLED_SPEC, Path::new(BUNDLED_SPEC_NAME)).unwrap();
    let case = case::parse(yaml, Path::new(file), &spec).unwrap();
    run::run(
        Arc::new(spec),
        &[case],
        target,
        &Options::default(),
        &|_| {},
    )
    .await
    .unwrap()
}

/// What is wrong with `value` by the JSON Schema (draft 7) in `docs/NAME`, formats checked:
/// at most five lines, each with the JSON location.
pub fn schema_errors(name: &str, value: &serde_json::Value) -> Vec<String> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs")
        .join(name);
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    validator
        .iter_errors(value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .take(5)
        .collect()
}
