//! The whole suite, written and generated cases, against one embedded reference server, as
//! `token-conformance run` runs it: every case concurrently, the run's own pool and clean-up,
//! the snapshots of `snapshots/` compared. It passes only when the run would exit 0 under
//! `--strict`: the reference server gives every answer the contract prefers, so a warning
//! (a SHOULD departure) is as much a change in it as a failure.
//!
//! `tests/verdicts/conformance.rs` gives each case its own server and trial, for one case at a time;
//! this is the run a user makes, in two seconds, which is why `bench/mutants.sh` uses it as the
//! test every mutant of the reference server must fail.
//!
//! `TOKEN_CONFORMANCE_SUITE_JOBS=N` runs N cases at once instead of the run's default.
//! `bench/mutants.sh` sets 1: one case at a time, no other case's write empties the reference
//! server's caches between a case's steps, so a stale answer is seen on every run, not only when
//! the schedule happens to allow it.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use token_conformance::case;
use token_conformance::error::Exit;
use token_conformance::report::{Redactor, Style, console};
use token_conformance::run::{self, Options};
use token_conformance::snapshot::{SnapshotStore, apply_snapshots};
use token_conformance::spec::Spec;
use token_conformance::target::{Settings, Target};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let spec = Arc::new(Spec::load(&root.join("specs/token-auth.openapi.yaml")).unwrap());
    let mut cases = case::load_dir(&root.join("cases"), &spec).unwrap();
    cases.extend(token_conformance::generate::cases(&spec).unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (exit, text) = runtime.block_on(async {
        let server = reference_server::embedded::start().await.unwrap();
        let settings = Settings::local(
            &server.base_url,
            &server.control_url,
            &server.username,
            &server.password,
        );
        let target = Target::resolve(None, &settings, |_| None).unwrap();
        let mut options = Options::default();
        if let Ok(jobs) = std::env::var("TOKEN_CONFORMANCE_SUITE_JOBS") {
            options.jobs = jobs
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .expect("TOKEN_CONFORMANCE_SUITE_JOBS is a positive whole number");
        }
        let mut report = run::run(Arc::clone(&spec), &cases, target, &options, &|_| {})
            .await
            .unwrap();
        let password = server.password.clone();
        server.stop().await;
        let redactor = Redactor::for_report(&report, &spec.secret_fields, [password]);
        let store = SnapshotStore::Dir(root.join("snapshots"));
        apply_snapshots(&mut report, &store, false, &redactor).unwrap();
        let text = console::details(&report, &redactor, Style { color: false });
        (report.exit(true), text)
    });
    print!("{text}");
    if exit != Exit::Success {
        eprintln!("the suite against the embedded reference server exits {exit:?}");
        std::process::exit(1);
    }
    // The test runner's own summary line, as cargo's tests end with one.
    println!("test result: ok. 1 passed; 0 failed");
}
