//! `reference-server`: runs the reference implementation, or `conf` to read or set a lifespan.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser as _;
use reference_server::cli::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Conf(args)) = &cli.command {
        return match reference_server::cli::conf(args) {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        };
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .init();
    let config = cli.serve.config();
    let test_control = config.test_control;
    let server = match reference_server::spawn(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(demo) = server.demo_user() {
        // Shown once, on stdout rather than in the log; only its hash is stored.
        println!(
            "Created demo user {} with password {} (shown only now).",
            demo.username, demo.password
        );
    }
    tracing::info!(addr = %server.addr(), test_control, "reference server listening");
    if test_control {
        tracing::warn!("test-control protocol is mounted under /conformance/v1/: test use only");
    }
    reference_server::shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    ExitCode::SUCCESS
}
