//! `reference-server`: clap -> one library call -> an exit code.

use std::process::ExitCode;

use clap::Parser as _;

#[tokio::main]
async fn main() -> ExitCode {
    ExitCode::from(reference_server::cli::run(reference_server::cli::Cli::parse()).await)
}
