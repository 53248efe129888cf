//! `token-conformance`: clap -> one command of `cli/` -> a named exit code.

mod cli;

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::{CommandFactory as _, FromArgMatches as _, Subcommand};
use cli::run::{LocalTarget, RunArgs};
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
    Proxy(Box<cli::proxy::ProxyArgs>),
    /// List the cases with their tags and needed capabilities.
    List(cli::Sources),
    /// Check the cases against the contract.
    Lint(cli::Sources),
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
    /// when everything matches, 1 when anything was changed (or another key signed it), 2 when it
    /// is malformed.
    Verify {
        /// The bundle's directory.
        #[arg(value_name = "DIR")]
        dir: std::path::PathBuf,
        /// The signer's public key (conformance.pub).
        #[arg(long, value_name = "PUBFILE")]
        key: std::path::PathBuf,
    },
    /// Print the completion script for SHELL, e.g. `token-conformance completions bash >
    /// /usr/share/bash-completion/completions/token-conformance`.
    Completions {
        /// The shell.
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `token-conformance man >
    /// /usr/share/man/man1/token-conformance.1`; or, with --out, write one page per command.
    Man {
        /// Write token-conformance.1 and a page per command (token-conformance-run.1, ...)
        /// into DIR instead, and name each file written.
        #[arg(long, value_name = "DIR")]
        out: Option<std::path::PathBuf>,
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

/// The status of a process killed by SIGPIPE, which Unix tools end with on a closed pipe.
const BROKEN_PIPE: u8 = 141;

/// The command line as clap knows it: the settings' declared defaults and environment
/// variables in the help of both commands that take them, the proxy's without the settings it
/// does not use. The completions and the man page are made from the same.
fn command() -> clap::Command {
    Cli::command()
        .mut_subcommand("run", Settings::document)
        .mut_subcommand("proxy", |c| cli::proxy::help(Settings::document(c)))
}

fn main() -> ExitCode {
    let cli = Cli::from_arg_matches(&command().get_matches()).unwrap_or_else(|e| e.exit());
    let Ok(runtime) = tokio::runtime::Runtime::new() else {
        eprintln!("error: cannot start the async runtime");
        return Exit::Error.into();
    };
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    let done = match cli.command {
        Command::Run(args) => runtime.block_on(cli::run::run(&args, embedded, &mut out, &mut err)),
        Command::Proxy(args) => {
            let console: Arc<Mutex<dyn std::io::Write + Send>> = Arc::new(Mutex::new(out));
            runtime.block_on(cli::proxy::proxy(&args, console, &mut err))
        }
        Command::List(sources) => cli::lint::list(&sources, &mut out, &mut err),
        Command::Lint(sources) => cli::lint::lint(&sources, &mut out, &mut err),
        Command::Serve(server) => Ok(runtime.block_on(cli::serve::serve(*server))),
        Command::Cases(CasesCommand::Export { dir }) => {
            cli::cases::export(&dir, &mut out, &mut err)
        }
        Command::Keygen { out: dir } => cli::bundle::keygen(&dir, &mut out, &mut err),
        Command::Verify { dir, key } => cli::bundle::verify(&dir, &key, &mut out, &mut err),
        Command::Completions { shell } => cli::packaging::completions(shell, command(), &mut out),
        Command::Man { out: dir } => {
            cli::packaging::man(command(), dir.as_deref(), &mut out, &mut err)
        }
    };
    match done {
        Ok(exit) => exit.into(),
        // A closed pipe (`token-conformance run | head -3`) ends the program quietly, with the
        // status of a process killed by SIGPIPE, as Unix tools do: Rust ignores the signal, so
        // the write fails, and ripgrep maps this error the same way.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::from(BROKEN_PIPE),
        Err(e) => {
            let _ = writeln!(err, "error: cannot write the output: {e}");
            Exit::Error.into()
        }
    }
}
