//! `proxy`: its flags, and a session from start to reports. The listener, forwarding and
//! judgement are the library's (`token_conformance::proxy`); this module resolves the target,
//! says where to connect, stops the session on Ctrl-C or SIGTERM (the reference server's
//! signal handling), and writes the reports.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use clap::Args;
use token_conformance::duration::Span;
use token_conformance::error::{BadValue, Error, ErrorKind, Exit, Place};
use token_conformance::proxy::{self, Model, Options, Upstream};
use token_conformance::report::{self, ReportFlags, Style, console, coverage};
use token_conformance::target::{Secret, Settings, Target};

use super::report_errors;

/// `proxy`'s flags.
#[derive(Clone, Debug, Args)]
pub struct ProxyArgs {
    /// A target profile (YAML, the keys of the target flags); flags override it. Only the
    /// target's address, TLS, headers, lifespans, tolerance and timeout are used.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// The target's settings.
    #[command(flatten)]
    pub settings: Settings,
    /// The OpenAPI document; default: the contract built into this binary.
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,
    /// Where clients connect.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,
    /// Answer a server finding that fails the target with 502 in the contract's Error shape
    /// (naming the check) instead of the target's response. Client findings are never blocked.
    #[arg(long)]
    pub enforce: bool,
    /// SHOULD server findings fail too (the exit code, and `--enforce`).
    #[arg(long)]
    pub strict: bool,
    /// Stop after N exchanges.
    #[arg(long, value_name = "N", conflicts_with = "duration")]
    pub requests: Option<u64>,
    /// Stop after this long (`90s`, `10m`).
    #[arg(long, value_name = "DURATION", value_parser = parse_span)]
    pub duration: Option<Span>,
    /// `--junit`, `--json`, `--markdown`, written on exit.
    #[command(flatten)]
    pub reports: ReportFlags,
    /// Write every judged exchange as HAR 1.2, redacted, as it happens.
    #[arg(long, value_name = "PATH")]
    pub har: Option<PathBuf>,
    /// The most tokens the model tracks; past it, the oldest are forgotten.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub model_capacity: usize,
    /// Exchanges without findings kept whole in the reports (with findings: ten times as many).
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    pub keep: usize,
}

/// The target settings the proxy has no use for: it logs in as nobody, asks no control
/// protocol, and forwards what clients send as they send it. Hidden from its help (still
/// accepted, so a profile's flags written for `run` keep working).
const UNUSED_SETTINGS: [&str; 9] = [
    "username",
    "password",
    "sso_username",
    "other_user_id",
    "other_username",
    "control_url",
    "capabilities",
    "rate",
    "max_response_bytes",
];

/// `proxy --help`: the flags the proxy uses, and what `--target` means to it.
pub fn help(cmd: clap::Command) -> clap::Command {
    let cmd = UNUSED_SETTINGS
        .iter()
        .fold(cmd, |cmd, id| cmd.mut_arg(*id, |a| a.hide(true)));
    cmd.mut_arg("base_url", |a| {
        a.help("Base URL of the implementation the proxy forwards to")
    })
}

fn parse_span(s: &str) -> Result<Span, BadValue> {
    Span::parse(s).map_err(|e| BadValue::new(e.to_string()))
}

/// The target, from the flags and profile; the proxy logs in as nobody, so no credentials are
/// needed.
fn resolve(args: &ProxyArgs) -> Result<Target, Error> {
    let mut flags = args.settings.clone();
    flags.username.get_or_insert_with(|| "-".to_owned());
    if flags.password.is_none() {
        flags.password = Some(Secret::new(String::new()));
    }
    Target::resolve(args.profile.as_deref(), &flags, |k| std::env::var(k).ok())
}

/// `proxy`: serves until Ctrl-C, SIGTERM, `--requests` or `--duration`, then writes the
/// reports. `out` takes the console lines, from every connection.
pub async fn proxy(
    args: &ProxyArgs,
    out: Arc<Mutex<dyn Write + Send>>,
    err: &mut dyn Write,
) -> io::Result<Exit> {
    match session(args, out).await {
        Ok(exit) => Ok(exit),
        Err(Failed::Proxy(e)) => report_errors(err, &[e]),
        Err(Failed::Io(e)) => Err(e),
    }
}

/// A session's failure: the library's (reported, with its exit code), or the console's.
enum Failed {
    Proxy(Error),
    Io(io::Error),
}

impl From<Error> for Failed {
    fn from(e: Error) -> Self {
        Self::Proxy(e)
    }
}

impl From<token_conformance::run::RunError> for Failed {
    fn from(e: token_conformance::run::RunError) -> Self {
        Self::Proxy(e.into())
    }
}

impl From<io::Error> for Failed {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<proxy::ServeError> for Failed {
    fn from(e: proxy::ServeError) -> Self {
        match e {
            proxy::ServeError::Setup(e) => Self::Proxy(e),
            proxy::ServeError::Console(e) => Self::Io(e),
        }
    }
}

/// Writes `text` to the shared console.
fn say(out: &Mutex<dyn Write + Send>, text: &str) -> io::Result<()> {
    let mut out = out
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    out.write_all(text.as_bytes())?;
    out.flush()
}

async fn session(args: &ProxyArgs, out: Arc<Mutex<dyn Write + Send>>) -> Result<Exit, Failed> {
    // The handlers go in before any client is told to connect: until then a SIGTERM would
    // kill the process before it wrote any report.
    let shutdown = reference_server::shutdown_signal();
    let spec = Arc::new(token_conformance::load::spec(args.spec.as_deref())?);
    let target = resolve(args)?;
    // A target that is not there is said before any client is told to connect.
    if let Err(cause) = Upstream::new(&target)?.connect().await {
        return Err(token_conformance::run::RunError::Unreachable {
            url: target.base_url.clone(),
            cause,
        })?;
    }
    let har = args
        .har
        .as_deref()
        .map(|p| {
            let side = report::har::Side::Proxy {
                base_url: target.base_url.clone(),
            };
            report::har::HarWriter::create(p, side).map_err(|e| {
                Error::new(ErrorKind::Usage, format!("cannot write the HAR: {e}"))
                    .at(Place::file(p))
            })
        })
        .transpose()?;
    let model = Arc::new(Model::new(
        Arc::clone(&spec),
        &target,
        args.model_capacity,
        args.keep,
        har,
    ));
    let options = Options {
        listen: args.listen,
        enforce: args.enforce,
        strict: args.strict,
        requests: args.requests,
        duration: args.duration.map(Span::to_std),
    };
    let style = Style::detect();
    let base = target.base_url.clone();
    let hello = Arc::clone(&out);
    let report = proxy::serve(
        Arc::clone(&model),
        &target,
        options,
        style,
        Arc::clone(&out),
        shutdown,
        move |addr| {
            say(
                &hello,
                &format!(
                    "token-conformance {} proxy: http://{addr} → {base}{}\n",
                    env!("CARGO_PKG_VERSION"),
                    if args.enforce { " (enforcing)" } else { "" }
                ),
            )
        },
    )
    .await?;
    model
        .finish_har()
        .map_err(|e| Error::new(ErrorKind::Usage, format!("cannot finish the HAR: {e}")))?;
    let coverage = coverage::coverage(&spec, &report);
    let exit = report.exit(args.strict);
    say(
        &out,
        &format!(
            "{}{}",
            console::details(&report, model.redactor(), style),
            console::coverage_line(&report, &coverage)
        ),
    )?;
    report::files::write(&args.reports, &report, &coverage, exit, model.redactor())?;
    Ok(exit)
}

#[cfg(test)]
mod tests {
    use clap::Args as _;

    use super::*;

    /// `proxy --help` offers only what the proxy uses, and says what `--target` is to it.
    #[test]
    fn the_help_offers_only_the_flags_the_proxy_uses() {
        let cmd = help(Settings::document(ProxyArgs::augment_args(
            clap::Command::new("proxy"),
        )));
        let text = cmd.clone().render_long_help().to_string();
        for unused in [
            "--username",
            "--password",
            "--sso-username",
            "--other-user-id",
            "--other-username",
            "--control-url",
            "--capability",
            "--rate",
            "--max-response-bytes",
            "in-process",
        ] {
            assert!(!text.contains(unused), "{unused} in:\n{text}");
        }
        for used in [
            "--target",
            "--header",
            "--ca-file",
            "--tolerance",
            "--timeout",
        ] {
            assert!(text.contains(used), "{used} missing:\n{text}");
        }
        // Still accepted, so a profile's flags written for `run` keep working.
        assert!(
            cmd.try_get_matches_from(["proxy", "--username", "u"])
                .is_ok()
        );
    }
}
