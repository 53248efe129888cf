//! Every case as a cargo test (libtest-mimic, `harness = false`): one trial per case file, run
//! against the reference server started in-process, its redacted responses compared with the
//! committed snapshots in `snapshots/` through insta (`cargo insta review` accepts changes).
//!
//! The cases generated from the contract (`generated.*`) run the same way.
//! `cargo test --test verdicts -- conformance::regen` runs the matching cases; SHOULD cases are marked
//! `[should]`. Each trial gets its own server and database, so trials are independent and
//! the clock-moving cases cannot disturb the others.

use std::path::Path;
use std::sync::Arc;

use libtest_mimic::{Failed, Trial};
use token_conformance::case::{Case, Severity};
use token_conformance::report::{Redactor, Style, console};
use token_conformance::run::{self, Options, Verdict};
use token_conformance::snapshot;
use token_conformance::spec::Spec;
use token_conformance::target::{Settings, Target};

/// One trial per case, each against a fresh embedded reference server.
pub fn trials(spec: &Arc<Spec>, cases: &[Case]) -> Vec<Trial> {
    cases
        .iter()
        .cloned()
        .map(|case| {
            let spec = Arc::clone(spec);
            let kind = match case.severity {
                Severity::Must => "must",
                Severity::Should => "should",
            };
            Trial::test(format!("conformance::{}", case.id), move || {
                run_case(&spec, case)
            })
            .with_kind(kind)
        })
        .collect()
}

fn run_case(spec: &Arc<Spec>, case: Case) -> Result<(), Failed> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let (text, id) = rt.block_on(async {
        let server = reference_server::embedded::start()
            .await
            .map_err(|e| e.to_string())?;
        let settings = Settings::local(
            &server.base_url,
            &server.control_url,
            &server.username,
            &server.password,
        );
        let target = Target::resolve(None, &settings, |_| None).map_err(|e| e.to_string())?;
        let id = case.id.clone();
        let report = run::run(
            Arc::clone(spec),
            &[case],
            target,
            &Options::default(),
            &|_| {},
        )
        .await
        .map_err(|e| e.to_string())?;
        let password = server.password.clone();
        server.stop().await;
        let redactor = Redactor::for_report(&report, &spec.secret_fields, [password]);
        let result = report.cases().first().ok_or("the case did not run")?;
        match result.verdict {
            Verdict::Passed | Verdict::Warned => {}
            Verdict::Failed | Verdict::Skipped => {
                return Err(console::details(&report, &redactor, Style { color: false }));
            }
        }
        Ok::<_, String>((snapshot::render(result, &redactor), id))
    })?;
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(id.as_str(), text));
    Ok(())
}
