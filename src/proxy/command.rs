//! `token-conformance proxy`: its flags, and a session from start to reports.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use super::{Model, Options, Upstream};
use crate::cli::{ReportFlags, load_spec, report_errors, write_reports};
use crate::duration::Span;
use crate::error::{BadValue, Error, ErrorKind, Exit, Place};
use crate::report::{Style, console, coverage};
use crate::run::{Body, Meta, Report, Seen, Shaping, Started, TrafficLog};
use crate::target::{Settings, Target};

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

fn parse_span(s: &str) -> Result<Span, BadValue> {
    Span::parse(s).map_err(|e| BadValue::new(e.to_string()))
}

/// The target, from the flags and profile; the proxy logs in as nobody, so no credentials are
/// needed.
fn resolve(args: &ProxyArgs) -> Result<Target, Error> {
    let mut flags = args.settings.clone();
    flags.username.get_or_insert_with(|| "-".to_owned());
    if flags.password.is_none() {
        flags.password = Some(crate::target::Secret::new(String::new()));
    }
    Target::resolve(args.profile.as_deref(), &flags, |k| std::env::var(k).ok())
}

/// `proxy`: serves until Ctrl-C, `--requests` or `--duration`, then writes the reports.
pub async fn proxy(args: &ProxyArgs) -> Exit {
    match session(args).await {
        Ok(exit) => exit,
        Err(e) => report_errors(&[e]),
    }
}

async fn session(args: &ProxyArgs) -> Result<Exit, Error> {
    let sources = crate::cli::Sources {
        cases: None,
        spec: args.spec.clone(),
        no_generated: true,
    };
    let spec = Arc::new(load_spec(&sources)?);
    let target = resolve(args)?;
    // A target that is not there is said before any client is told to connect.
    if let Err(e) = Upstream::new(&target)?.connect().await {
        eprintln!(
            "error: the target {} cannot be reached: {e}",
            target.base_url
        );
        return Ok(Exit::Unreachable);
    }
    let har = args
        .har
        .as_deref()
        .map(|p| {
            crate::report::har::HarWriter::create(p).map_err(|e| {
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
    let started = Started::now();
    let base = target.base_url.clone();
    super::serve(Arc::clone(&model), &target, options, style, |addr| {
        println!(
            "token-conformance {} proxy: http://{addr} → {base}{}",
            env!("CARGO_PKG_VERSION"),
            if args.enforce { " (enforcing)" } else { "" }
        );
    })
    .await?;
    model
        .finish_har()
        .map_err(|e| Error::new(ErrorKind::Usage, format!("cannot finish the HAR: {e}")))?;
    let report = report(&spec, &target, &model, started);
    let coverage = coverage::coverage(&spec, &report);
    let exit = report.exit(args.strict);
    print!(
        "{}{}",
        console::details(&report, model.redactor(), style),
        console::coverage_line(&report, &coverage)
    );
    write_reports(&args.reports, &report, &coverage, exit, model.redactor())?;
    Ok(exit)
}

/// The report of a session: what the traffic held, and the exchanges kept whole.
fn report(spec: &crate::spec::Spec, target: &Target, model: &Model, started: Started) -> Report {
    let counts = model.traffic();
    let (kept_exchanges, exercised, stopped_answering) = model.take();
    let seen = Seen {
        exercised,
        tokens_issued: counts.tokens_issued,
        requests_sent: usize::try_from(counts.exchanges).unwrap_or(usize::MAX),
        stopped_answering,
    };
    Report {
        meta: Meta::new(
            spec,
            target,
            started,
            Shaping::new(target, Vec::new()),
            seen,
        ),
        body: Body::Traffic(TrafficLog {
            counts,
            kept_exchanges,
        }),
    }
}
