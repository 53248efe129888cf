//! The harness's end-to-end tests, one binary (each test binary links the whole tree, so one
//! binary instead of ten is ten times less linking): the binary's commands as users run them,
//! reports and bundles, the proxy in front of real clients, TLS, deployments without a control
//! protocol, broken servers, and the documents' examples. `cargo test --test it proxy::` runs
//! one file's tests.

#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;
// The self-test's implementation, which the proxy's tests put behind it (not every fault).
#[path = "../self_test/fields.rs"]
#[allow(dead_code)]
mod fields;
#[path = "../self_test/mutant.rs"]
#[allow(dead_code)]
mod mutant;

mod action;
mod broken_servers;
mod bundle;
mod cli;
mod commands;
mod console;
mod container;
mod control_contract;
mod deployment;
mod docs;
mod proxy;
mod readme;
mod reports;
mod tls;
