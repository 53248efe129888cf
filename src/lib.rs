//! token-conformance: a contract-test and conformance harness for the Token Authentication API.

pub mod case;
pub mod check;
pub mod cli;
pub mod duration;
pub mod error;
pub mod report;
pub mod run;
pub mod spec;
pub mod target;
pub mod yaml;
