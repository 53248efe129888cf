//! `token-conformance`: clap -> one library call -> a named exit code.

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _, Subcommand};
use token_conformance::cli::{self, LocalTarget, RunArgs, Sources};
use token_conformance::error::Exit;
use token_conformance::target::Settings;

/// Contract tests and a conformance harness for the Token Authentication API.
#[derive(Debug, clap::Parser)]
#[command(name = "token-conformance", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the cases against a target (default: the bundled reference server, in-process).
    Run(Box<RunArgs>),
    /// A validating proxy in front of a target: real clients' traffic passes through
    /// unchanged and is judged by the same checks as `run`, across calls. Exits 0 when the
    /// traffic showed no server failure, 1 when it did, 2 for a usage or profile error, 3 when
    /// the target cannot be reached.
    Proxy(Box<token_conformance::proxy::ProxyArgs>),
    /// List the cases with their tags and needed capabilities.
    List(Sources),
    /// Check the cases against the contract.
    Lint(Sources),
    /// Run the bundled reference server, or one of its commands (`serve conf`, `serve purge`,
    /// `serve sso-link`): everything `reference-server` does, from the installed binary.
    Serve(Box<reference_server::cli::Cli>),
    /// The built-in cases.
    #[command(subcommand)]
    Cases(CasesCommand),
    /// Write a new Ed25519 key pair for signing result bundles: DIR/conformance.key (private,
    /// mode 0600) and DIR/conformance.pub.
    Keygen {
        /// Where the two files go (created if needed; existing keys are never overwritten).
        #[arg(long, value_name = "DIR")]
        out: std::path::PathBuf,
    },
    /// Check a result bundle (`run --bundle`): its signature and every file's digest. Exits 0
    /// when everything matches, 1 when anything was changed, 2 when it is malformed.
    Verify {
        /// The bundle's directory.
        #[arg(value_name = "DIR")]
        dir: std::path::PathBuf,
        /// The signer's public key (conformance.pub).
        #[arg(long, value_name = "PUBFILE")]
        key: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum CasesCommand {
    /// Write the built-in cases (with their README and editor schema) into DIR, to edit and
    /// run with --cases DIR.
    Export {
        /// An empty or new directory.
        #[arg(value_name = "DIR")]
        dir: std::path::PathBuf,
    },
}

/// The default target: a throw-away reference server, the one part of the harness that knows
/// the bundled implementation.
async fn embedded() -> Result<LocalTarget, Box<dyn std::error::Error + Send + Sync>> {
    let i = reference_server::embedded::start().await?;
    Ok(LocalTarget {
        settings: Settings::local(&i.base_url, &i.control_url, &i.username, &i.password),
        guard: Box::new(i),
    })
}

/// A closed pipe (`token-conformance run | head -3`) ends the program quietly, with the exit
/// status of a process killed by SIGPIPE, as Unix tools do: Rust ignores the signal, so the
/// write fails, and `println!` panics with a backtrace unless this hook takes the panic.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_broken_pipe();
    // The settings' declared defaults and environment variables, in the help of both
    // commands that take them.
    let command = Cli::command()
        .mut_subcommand("run", Settings::document)
        .mut_subcommand("proxy", Settings::document);
    let cli = Cli::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit());
    let Ok(runtime) = tokio::runtime::Runtime::new() else {
        eprintln!("error: cannot start the async runtime");
        return Exit::Error.into();
    };
    let exit = match cli.command {
        Command::Run(args) => runtime.block_on(cli::run(&args, embedded)),
        Command::Proxy(args) => runtime.block_on(token_conformance::proxy::proxy(&args)),
        Command::List(sources) => cli::list(&sources),
        Command::Lint(sources) => cli::lint(&sources),
        Command::Serve(server) => match runtime.block_on(reference_server::cli::run(*server)) {
            reference_server::cli::Exit::Success => Exit::Success,
            reference_server::cli::Exit::Error => Exit::Error,
        },
        Command::Cases(CasesCommand::Export { dir }) => cli::export_cases(&dir),
        Command::Keygen { out } => token_conformance::publish::keygen(&out),
        Command::Verify { dir, key } => token_conformance::publish::verify(&dir, &key),
    };
    exit.into()
}
