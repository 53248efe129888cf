//! `reference-server`: clap -> one library call -> a named exit code (`cli::Exit`).

use std::process::ExitCode;

use clap::Parser as _;

#[tokio::main]
async fn main() -> ExitCode {
    reference_server::cli::run(reference_server::cli::Cli::parse())
        .await
        .into()
}
