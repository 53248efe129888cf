//! The commands behind the binary: `run` here, `list` and `lint` in `lint.rs` (re-exported),
//! `proxy` in `proxy/`. The binary adds `serve` and the embedded default target, the only parts
//! that need the bundled reference server.

mod lint;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;

use crate::case::{self, Case};
use crate::error::{BadValue, Error, ErrorKind, Exit, Place};
use crate::report::{Redactor, Style, console};
use crate::run::{self, Options};
use crate::snapshot::{SnapshotStore, apply_snapshots};
use crate::spec::{BUNDLED_SPEC, BUNDLED_SPEC_NAME, Spec};
use crate::target::{Layer as _, Settings, Target};
pub use lint::{lint, list};

/// `--cases` and `--spec`.
#[derive(Clone, Debug, Args)]
pub struct Sources {
    /// Directory of case files (*.yaml, searched recursively); default: the cases built into
    /// this binary (`cases export DIR` writes them out to edit).
    #[arg(long, value_name = "DIR")]
    pub cases: Option<PathBuf>,
    /// The OpenAPI document; default: the contract built into this binary.
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,
    /// Leave out the probes generated from the contract (`generated.*`), running only the
    /// written cases.
    #[arg(long)]
    pub no_generated: bool,
}

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
    pub publish: crate::publish::PublishArgs,
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

/// Loads the spec named by `sources`, or the one built into the binary.
pub(crate) fn load_spec(sources: &Sources) -> Result<Spec, Error> {
    match &sources.spec {
        Some(file) => Spec::load(file),
        None => Spec::parse(BUNDLED_SPEC, Path::new(BUNDLED_SPEC_NAME)),
    }
}

/// Loads spec and cases; every case error is reported, not only the first.
pub fn load(sources: &Sources) -> Result<(Spec, Vec<Case>), Vec<Error>> {
    if let Some(dir) = sources.cases.as_deref().filter(|d| !d.is_dir()) {
        return Err(vec![no_cases(dir)]);
    }
    let spec = load_spec(sources).map_err(|e| vec![e])?;
    let mut cases = match &sources.cases {
        Some(dir) => case::load_dir(dir, &spec)?,
        None => case::load_builtin(&spec)?,
    };
    if !sources.no_generated {
        cases.extend(crate::generate::cases(&spec)?);
    }
    Ok((spec, cases))
}

/// `cases export DIR`: writes the built-in cases out to edit.
pub fn export_cases(dir: &Path) -> Exit {
    match crate::builtin::export(dir) {
        Ok(n) => {
            println!(
                "wrote {n} files to {}; run them with --cases {}",
                dir.display(),
                dir.display()
            );
            Exit::Success
        }
        Err(e) => {
            report_errors(&[
                Error::new(ErrorKind::Usage, format!("cannot export the cases: {e}"))
                    .at(Place::file(dir)),
            ])
        }
    }
}

/// Prints errors to stderr and returns the exit code they call for.
pub(crate) fn report_errors(errors: &[Error]) -> Exit {
    for e in errors {
        eprintln!("{e}");
    }
    errors.iter().map(Error::exit).max().unwrap_or(Exit::Error)
}

/// The target a run uses when none is named: a server started for the run. Its settings, and
/// whatever keeps it running until the run ends.
pub struct LocalTarget {
    /// Where it is and how to log in.
    pub settings: Settings,
    /// Dropped when the run ends, which stops the server.
    pub guard: Box<dyn Send>,
}

/// `run`: loads the cases, starts `launch`'s server when no target is named, runs the cases,
/// and reports. Returns the exit code.
pub async fn run(
    args: &RunArgs,
    launch: impl AsyncFnOnce() -> Result<LocalTarget, Box<dyn std::error::Error + Send + Sync>>,
) -> Exit {
    let (spec, cases) = match load(&args.sources) {
        Ok(x) => x,
        Err(errors) => return report_errors(&errors),
    };
    let local = if args.wants_embedded() {
        match launch().await {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("error: cannot start the embedded reference server: {e}");
                return Exit::Error;
            }
        }
    } else {
        None
    };
    let flags = match &local {
        Some(l) => l.settings.clone().over(args.settings.clone()),
        None => args.settings.clone(),
    };
    let exit = match run_with(args, spec, &cases, &flags, local.is_some()).await {
        Ok(exit) => exit,
        Err(e) => report_errors(&[e]),
    };
    drop(local);
    exit
}

/// Runs `cases` against the target the flags (over the profile and environment) name.
async fn run_with(
    args: &RunArgs,
    spec: Spec,
    cases: &[Case],
    flags: &Settings,
    embedded: bool,
) -> Result<Exit, Error> {
    let target = Target::resolve(args.profile.as_deref(), flags, |k| std::env::var(k).ok())?;
    let signer = crate::publish::signing_key(&args.publish)?;
    let opts = Options {
        har: args.har.is_some(),
        ..args.options.clone()
    };
    let style = Style::detect();
    let selected = cases.iter().filter(|c| run::selected(c, &opts)).count();
    // A selection that names nothing is a typo, not a passing run; judged without the
    // partition, whose share of a good selection may be empty.
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
    println!(
        "token-conformance {}: {selected} of {} cases against {}{}",
        env!("CARGO_PKG_VERSION"),
        cases.len(),
        target.base_url,
        if embedded {
            " (embedded reference server)"
        } else {
            ""
        }
    );
    // The password and the gateway headers' values are redacted in every output.
    let secrets: Vec<String> = std::iter::once(target.password.expose().to_owned())
        .chain(
            target
                .other_login
                .iter()
                .map(|(_, p)| p.expose().to_owned()),
        )
        .chain(target.headers.iter().map(|(_, v)| v.expose().to_owned()))
        .collect();
    let print = move |r: &run::CaseResult| println!("{}", console::progress_line(r, style));
    let spec = Arc::new(spec);
    let mut report = run::run(Arc::clone(&spec), cases, target, &opts, &print).await?;
    let redactor = Redactor::for_report(&report, &spec.secret_fields, secrets);
    if let Some(store) = snapshot_store(args, embedded) {
        apply_snapshots(&mut report, &store, args.update_snapshots, &redactor)?;
    }
    print!("{}", console::details(&report, &redactor, style));
    let coverage = crate::report::coverage::coverage(&spec, &report);
    print!("{}", console::coverage_line(&report, &coverage));
    let exit = judge_coverage(args, &coverage, report.exit(args.strict));
    write_reports(&args.reports, &report, &coverage, exit, &redactor)?;
    if let (Some(p), run::Body::Suite(suite)) = (&args.har, &report.body) {
        crate::report::har::write(p, &suite.recorded, &redactor).map_err(|e| {
            Error::new(ErrorKind::Usage, format!("cannot write the HAR: {e}")).at(Place::file(p))
        })?;
    }
    let finished = crate::publish::Finished {
        report: &report,
        coverage: &coverage,
        exit,
        strict: args.strict,
        redactor: &redactor,
    };
    let sources = crate::publish::Sources {
        spec: args.sources.spec.as_deref(),
        cases: args.sources.cases.as_deref(),
    };
    crate::publish::publish(&args.publish, &finished, &sources, signer.as_ref(), &|k| {
        std::env::var(k).ok()
    })?;
    Ok(exit)
}

/// Fails an otherwise passing run under `--min-coverage`.
fn judge_coverage(
    args: &RunArgs,
    coverage: &crate::report::coverage::Coverage,
    exit: Exit,
) -> Exit {
    match args.min_coverage {
        Some(min) if coverage.percent + 1e-9 < min && exit == Exit::Success => {
            println!(
                "coverage {:.1}% is under --min-coverage {min}%",
                coverage.percent
            );
            Exit::Failures
        }
        _ => exit,
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

/// Where the reports go, for `run` and `proxy` alike.
#[derive(Clone, Debug, Default, Args)]
pub struct ReportFlags {
    /// Write a JUnit XML report.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Write the JSON report (shape: docs/report.schema.json).
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Write a Markdown report.
    #[arg(long, value_name = "PATH")]
    pub markdown: Option<PathBuf>,
}

/// Writes the reports the flags ask for.
pub fn write_reports(
    args: &ReportFlags,
    report: &run::Report,
    coverage: &crate::report::coverage::Coverage,
    exit: Exit,
    redactor: &Redactor,
) -> Result<(), Error> {
    let write = |path: &Path, text: String| {
        std::fs::write(path, text).map_err(|e| {
            Error::new(ErrorKind::Usage, format!("cannot write the report: {e}"))
                .at(Place::file(path))
        })
    };
    if let Some(p) = &args.junit {
        write(p, crate::report::junit::render(report, redactor))?;
    }
    if let Some(p) = &args.json {
        let v = crate::report::json::render(report, coverage, exit, redactor);
        write(p, serde_json::to_string_pretty(&v).unwrap_or_default())?;
    }
    if let Some(p) = &args.markdown {
        write(
            p,
            crate::report::markdown::render(report, coverage, redactor),
        )?;
    }
    Ok(())
}

/// An error for a missing cases directory, with the usual fix.
fn no_cases(dir: &Path) -> Error {
    Error::new(ErrorKind::Usage, "no cases directory")
        .at(Place::file(dir))
        .hint("give --cases an existing directory, or leave it out to run the built-in cases")
}
