//! The tests that drive outside tools, one binary: headless Chromium through WebDriver
//! (`browser.rs`) and Schemathesis (`fuzz.rs`). Each is a libtest-mimic trial, so that a missing
//! tool is reported as an ignored test whose name says why (a failure under
//! `TOKEN_CONFORMANCE_REQUIRE_TOOLS`, as `.ci/run` sets it).

#[path = "../common/mod.rs"]
mod common;

mod browser;
mod fuzz;

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    libtest_mimic::run(&args, vec![browser::trial(), fuzz::trial()]).exit();
}
