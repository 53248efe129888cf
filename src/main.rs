//! `token-conformance`: the command line of the harness.

fn main() {}
