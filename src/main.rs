//! `token-conformance`: clap -> one library call -> an exit code.
//!
//! Exit codes: 0 every MUST check passed; 1 a conformance failure; 2 a usage, profile, spec or
//! case error; 3 the target is unreachable or stopped answering.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use token_conformance::cli::{self, Embedded, RunArgs, Sources};

/// Contract tests and a conformance harness for the Token Authentication API.
#[derive(Debug, Parser)]
#[command(name = "token-conformance", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the cases against a target (default: the bundled reference server, in-process).
    Run(Box<RunArgs>),
    /// List the cases with their tags and needed capabilities.
    List(Sources),
    /// Check the cases against the contract.
    Lint(Sources),
    /// Run the bundled reference server (same flags as `reference-server`).
    Serve(reference_server::cli::ServeArgs),
}

/// Starts the reference server on an ephemeral loopback port with a fresh database, the
/// control protocol, and a generated user.
async fn embedded() -> Result<(reference_server::Running, Embedded, tempfile::TempDir), String> {
    let dir = tempfile::Builder::new()
        .prefix("token-conformance-")
        .tempdir()
        .map_err(|e| format!("cannot make a temporary directory: {e}"))?;
    let username = "conformance@example.com".to_owned();
    let password = reference_server::token::generate(24).map_err(|e| format!("CSPRNG: {e}"))?;
    let config = reference_server::Config {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        users: vec![(username.clone(), password.clone())],
        test_control: true,
        ..reference_server::Config::new(dir.path().join("reference.db"))
    };
    let server = reference_server::spawn(config)
        .await
        .map_err(|e| e.to_string())?;
    let base_url = format!("http://{}", server.addr());
    let e = Embedded {
        control_url: format!("{base_url}/conformance/v1"),
        base_url,
        username,
        password,
    };
    Ok((server, e, dir))
}

async fn run(args: &RunArgs) -> u8 {
    if !args.sources.cases.is_dir() {
        return cli::report_errors(&[cli::no_cases(&args.sources.cases)]);
    }
    if !args.wants_embedded() {
        return cli::run(args, None).await;
    }
    match embedded().await {
        Ok((server, e, _dir)) => {
            let code = cli::run(args, Some(e)).await;
            server.shutdown().await;
            code
        }
        Err(e) => {
            eprintln!("error: cannot start the embedded reference server: {e}");
            2
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = match cli.command {
        Command::Run(args) => runtime.block_on(run(&args)),
        Command::List(sources) => match cli::list(&sources) {
            Ok(text) => {
                print!("{text}");
                0
            }
            Err(errors) => cli::report_errors(&errors),
        },
        Command::Lint(sources) => match cli::lint(&sources) {
            Ok(text) => {
                print!("{text}");
                0
            }
            Err(errors) => cli::report_errors(&errors),
        },
        Command::Serve(args) => runtime.block_on(serve(args)),
    };
    ExitCode::from(code)
}

async fn serve(args: reference_server::cli::ServeArgs) -> u8 {
    let server = match reference_server::spawn(args.config()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    if let Some(demo) = server.demo_user() {
        println!(
            "Created demo user {} with password {} (shown only now).",
            demo.username, demo.password
        );
    }
    println!("reference server listening on http://{}", server.addr());
    reference_server::shutdown_signal().await;
    server.shutdown().await;
    0
}
