//! The harness's verdicts on whole implementations, one binary (each test binary links the
//! whole tree): the suite case by case against the reference server with its snapshots
//! (`conformance.rs`), the self-test's faulty and conformant variants (`self_test.rs`), and the
//! interoperability zoo on real stacks (`interop.rs`). Every trial's name starts with its file's:
//! `cargo test --test verdicts -- self_test::` runs the self-test alone.

#![allow(clippy::unwrap_used)]

#[path = "../self_test/catalogue.rs"]
mod catalogue;
#[path = "../self_test/fields.rs"]
mod fields;
#[path = "../self_test/mutant.rs"]
mod mutant;

mod conformance;
mod interop;
mod self_test;

use std::path::Path;
use std::sync::Arc;

use libtest_mimic::Arguments;
use token_conformance::case;
use token_conformance::spec::Spec;

fn main() {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let spec = Arc::new(
        Spec::load(&root.join("specs/token-auth.openapi.yaml")).expect("the contract loads"),
    );
    let written = case::load_dir(&root.join("cases"), &spec);
    let generated = token_conformance::generate::cases(&spec);
    let cases = match written.and_then(|mut w| {
        generated.map(|g| {
            w.extend(g);
            w
        })
    }) {
        Ok(c) => Arc::new(c),
        Err(errors) => {
            for e in errors {
                eprintln!("{e}");
            }
            std::process::exit(2);
        }
    };
    let mut trials = conformance::trials(&spec, &cases);
    let (self_test, tally) = self_test::trials(&spec, &cases);
    let (interop, write) = interop::trials(&spec, &cases);
    trials.extend(self_test);
    trials.extend(interop);
    let conclusion = libtest_mimic::run(&args, trials);
    tally();
    write();
    conclusion.exit();
}
