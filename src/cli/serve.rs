//! `serve`: the bundled reference server, or one of its commands, from the installed binary.
//! The one command besides `run`'s embedded default that knows the reference server.

use token_conformance::error::Exit;

/// Runs the reference server's own command line.
pub async fn serve(server: reference_server::cli::Cli) -> Exit {
    match reference_server::cli::run(server).await {
        reference_server::cli::Exit::Success => Exit::Success,
        reference_server::cli::Exit::Error => Exit::Error,
    }
}
