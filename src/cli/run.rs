//! `run`: loads the cases, starts the embedded reference server when no target is named, runs
//! the cases, and reports.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use clap::Args;
use token_conformance::case::Case;
use token_conformance::error::{BadValue, Error, ErrorKind, Exit, Place};
use token_conformance::publish::{self, PublishArgs};
use token_conformance::report::{self, Redactor, ReportFlags, Style, console};
use token_conformance::run::{self, Body, Options};
use token_conformance::snapshot::{SnapshotStore, apply_snapshots};
use token_conformance::spec::Spec;
use token_conformance::target::{Layer as _, Settings, Target};

use super::{Sources, progress, report_errors};

/// `run`'s flags.
#[derive(Clone, Debug, Args)]
pub struct RunArgs {
    /// A target profile (YAML, the keys of the target flags); flags override it.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// The target's settings.
    #[command(flatten)]
    pub settings: Settings,
    /// Cases and spec.
    #[command(flatten)]
    pub sources: Sources,
    /// Which cases, how many at once.
    #[command(flatten)]
    pub options: Options,
    /// Warnings (SHOULD findings) fail the run too.
    #[arg(long)]
    pub strict: bool,
    /// Print a line per case as it finishes, and every failure and warning in full (request,
    /// response, expected and actual); by default a failing run prints a line per failed case
    /// and its findings grouped by check, with the first example of each.
    #[arg(short, long)]
    pub verbose: bool,
    /// Compare each case's redacted responses with the snapshots in DIR (default for the
    /// embedded reference server: `snapshots/`, when it exists).
    #[arg(long, value_name = "DIR")]
    pub snapshots: Option<PathBuf>,
    /// Write the snapshots instead of comparing (accepts every change).
    #[arg(long)]
    pub update_snapshots: bool,
    /// `--junit`, `--json`, `--markdown`.
    #[command(flatten)]
    pub reports: ReportFlags,
    /// Write every exchange (the cases' and the run's own) as HAR 1.2, redacted.
    #[arg(long, value_name = "PATH")]
    pub har: Option<PathBuf>,
    /// Fail when fewer documented (operation, status) pairs were exercised.
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent)]
    pub min_coverage: Option<f64>,
    /// Annotations, job summary, badge and signed bundle.
    #[command(flatten)]
    pub publish: PublishArgs,
}

fn parse_percent(s: &str) -> Result<f64, BadValue> {
    let v: f64 = s
        .trim_end_matches('%')
        .parse()
        .map_err(|_| BadValue::new(format!("`{s}` is not a percentage")))?;
    if (0.0..=100.0).contains(&v) {
        Ok(v)
    } else {
        Err(BadValue::new(format!("`{s}` is not between 0 and 100")))
    }
}

impl RunArgs {
    /// Whether no target was named, so the embedded reference server is the target.
    fn wants_embedded(&self) -> bool {
        self.settings.base_url.is_none() && self.profile.is_none()
    }
}

/// The target a run uses when none is named: a server started for the run. Its settings, and
/// whatever keeps it running until the run ends.
pub struct LocalTarget {
    /// Where it is and how to log in.
    pub settings: Settings,
    /// Dropped when the run ends, which stops the server.
    pub guard: Box<dyn Send>,
}

/// A run's failure: the library's (reported on stderr, with its exit code), or the console's.
enum Failed {
    Run(Error),
    Io(io::Error),
}

impl From<Error> for Failed {
    fn from(e: Error) -> Self {
        Self::Run(e)
    }
}

impl From<io::Error> for Failed {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// `run`: loads the cases, starts `launch`'s server when no target is named, runs the cases,
/// and reports. Returns the exit code.
pub async fn run(
    args: &RunArgs,
    launch: impl AsyncFnOnce() -> Result<LocalTarget, Box<dyn std::error::Error + Send + Sync>>,
    out: &mut (dyn Write + Send),
    err: &mut dyn Write,
) -> io::Result<Exit> {
    let (spec, cases) = match args.sources.load() {
        Ok(x) => x,
        Err(errors) => return report_errors(err, &errors),
    };
    let local = if args.wants_embedded() {
        match launch().await {
            Ok(l) => Some(l),
            Err(e) => {
                writeln!(
                    err,
                    "error: cannot start the embedded reference server: {e}"
                )?;
                return Ok(Exit::Error);
            }
        }
    } else {
        None
    };
    let flags = match &local {
        Some(l) => l.settings.clone().over(args.settings.clone()),
        None => args.settings.clone(),
    };
    let exit = match run_with(args, spec, &cases, &flags, local.is_some(), out).await {
        Ok(exit) => exit,
        Err(Failed::Run(e)) => report_errors(err, &[e])?,
        Err(Failed::Io(e)) => return Err(e),
    };
    // The server stops only now, after the reports.
    if let Some(l) = local {
        drop(l.guard);
    }
    Ok(exit)
}

/// A selection that names nothing is a typo, not a passing run; judged without the
/// partition, whose share of a good selection may be empty.
fn check_selection(cases: &[Case], opts: &Options) -> Result<(), Error> {
    let unshared = Options {
        partition: None,
        ..opts.clone()
    };
    let named = cases.iter().any(|c| run::selected(c, &unshared));
    if !named && (opts.filter.is_some() || !opts.tags.is_empty()) {
        let mut flags: Vec<String> = opts
            .filter
            .iter()
            .map(|f| format!("--filter {f}"))
            .collect();
        flags.extend(opts.tags.iter().map(|t| format!("--tag {t}")));
        return Err(Error::new(
            ErrorKind::Usage,
            format!("{} selects no case", flags.join(" ")),
        )
        .hint("`token-conformance list` shows every case's id and tags"));
    }
    Ok(())
}

/// Runs `cases` against the target the flags (over the profile and environment) name.
async fn run_with(
    args: &RunArgs,
    spec: Spec,
    cases: &[Case],
    flags: &Settings,
    embedded: bool,
    out: &mut (dyn Write + Send),
) -> Result<Exit, Failed> {
    let target = Target::resolve(args.profile.as_deref(), flags, |k| std::env::var(k).ok())?;
    let signer = publish::signing_key(&args.publish)?;
    let opts = Options {
        har: args.har.is_some(),
        embedded,
        ..args.options.clone()
    };
    let style = Style::detect();
    let selected = cases.iter().filter(|c| run::selected(c, &opts)).count();
    let bar = progress::Bar::new(selected);
    check_selection(cases, &opts)?;
    heading(out, selected, cases.len(), &target.base_url, embedded)?;
    // The passwords and the gateway headers' values are redacted in every output.
    let secrets = target.secrets();
    // With -v, a line per case as it finishes. A failed write is kept, not raised: the run
    // goes on to put the target back as it found it, and the error ends the command after.
    let progress = Mutex::new((out, None::<io::Error>));
    let print = |r: &run::CaseResult| {
        bar.case_done(r.verdict == run::Verdict::Failed);
        if !args.verbose {
            return;
        }
        let mut p = progress.lock().unwrap_or_else(PoisonError::into_inner);
        let (out, failed) = &mut *p;
        if failed.is_none()
            && let Err(e) = bar.suspend(|| writeln!(out, "{}", console::progress_line(r, style)))
        {
            *failed = Some(e);
        }
    };
    let spec = Arc::new(spec);
    let ran = run::run(Arc::clone(&spec), cases, target, &opts, &print).await;
    bar.finish();
    let (out, failed) = progress
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(e) = failed {
        return Err(Failed::Io(e));
    }
    let mut report = ran.map_err(Error::from)?;
    let redactor = Redactor::for_report(&report, &spec.secret_fields, secrets);
    if let Some(store) = snapshot_store(args, embedded) {
        apply_snapshots(&mut report, &store, args.update_snapshots, &redactor)?;
    }
    let closing = if args.verbose {
        console::details(&report, &redactor, style)
    } else {
        console::brief(&report, &redactor, style)
    };
    write!(out, "{closing}")?;
    let coverage = report::coverage::coverage(&spec, &report);
    write!(out, "{}", console::coverage_line(&report, &coverage))?;
    let exit = judge_coverage(args, &coverage, report.exit(args.strict), out)?;
    write_reports(args, &report, &coverage, exit, &redactor)?;
    if exit == Exit::Interrupted {
        // The reports of what ran are written; what publishes a verdict (annotations, job
        // summary, badge, signed bundle) is for runs that ended by themselves.
        return Ok(exit);
    }
    let finished = publish::Finished {
        report: &report,
        coverage: &coverage,
        exit,
        strict: args.strict,
        redactor: &redactor,
    };
    let sources = publish::Sources {
        spec: args.sources.spec.as_deref(),
        cases: args.sources.cases.as_deref(),
    };
    let text = publish::publish(&args.publish, &finished, &sources, signer.as_ref(), &|k| {
        std::env::var(k).ok()
    })?;
    write!(out, "{text}")?;
    Ok(exit)
}

/// The run's first line: what runs against what.
fn heading(
    out: &mut dyn Write,
    selected: usize,
    all: usize,
    target: &str,
    embedded: bool,
) -> io::Result<()> {
    let what = if embedded {
        " (embedded reference server)"
    } else {
        ""
    };
    writeln!(
        out,
        "token-conformance {}: {selected} of {all} cases against {target}{what}",
        env!("CARGO_PKG_VERSION"),
    )
}

/// The report files the flags ask for (`--junit`, `--json`, `--markdown`), and the HAR.
fn write_reports(
    args: &RunArgs,
    report: &run::Report,
    coverage: &report::coverage::Coverage,
    exit: Exit,
    redactor: &Redactor,
) -> Result<(), Error> {
    report::files::write(&args.reports, report, coverage, exit, redactor)?;
    if let (Some(p), Body::Suite(suite)) = (&args.har, &report.body) {
        report::har::write(p, &suite.recorded, redactor).map_err(|e| {
            Error::new(ErrorKind::Usage, format!("cannot write the HAR: {e}")).at(Place::file(p))
        })?;
    }
    Ok(())
}

/// Fails an otherwise passing run under `--min-coverage`, and says so. An interrupted run
/// keeps its exit code: its coverage is of the cases that ran.
fn judge_coverage(
    args: &RunArgs,
    coverage: &report::coverage::Coverage,
    exit: Exit,
    out: &mut dyn Write,
) -> io::Result<Exit> {
    match args.min_coverage {
        Some(min) if coverage.percent + 1e-9 < min && exit == Exit::Success => {
            writeln!(
                out,
                "coverage {:.1}% is under --min-coverage {min}%",
                coverage.percent
            )?;
            Ok(Exit::Failures)
        }
        _ => Ok(exit),
    }
}

/// Which snapshots a run compares with (see [`SnapshotStore::choose`]).
fn snapshot_store(args: &RunArgs, embedded: bool) -> Option<SnapshotStore> {
    SnapshotStore::choose(
        args.snapshots.as_deref(),
        embedded && args.sources.cases.is_none(),
        args.update_snapshots,
    )
}
