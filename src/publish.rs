//! Where a run's results go besides the console and the report files: GitHub Actions
//! annotations and job summary, a badge, and the signed result bundle.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::bundle::{self, CaseSource, Contract, keys};
use crate::error::{Error, ErrorKind, Exit, Place};
use crate::report::coverage::Coverage;
use crate::report::{Redactor, badge, github};
use crate::run::Report;
use crate::spec::BUNDLED_SPEC;

/// When to print GitHub Actions workflow commands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Annotations {
    /// When `GITHUB_ACTIONS=true`.
    #[default]
    Auto,
    /// Always.
    Github,
    /// Never.
    None,
}

/// `run`'s flags for publishing results.
#[derive(Clone, Debug, Default, Args)]
pub struct PublishArgs {
    /// Print a GitHub Actions annotation per failure and warning.
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = Annotations::Auto)]
    pub annotations: Annotations,
    /// Write a signed result bundle into DIR (new or empty): reports, redacted snapshots,
    /// contract, cases, manifest.json with the SHA-256 of every file, manifest.sig.
    #[arg(long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,
    /// The private key (`keygen`) that signs the bundle; without it the bundle is unsigned.
    #[arg(long, value_name = "FILE", requires = "bundle")]
    pub sign_key: Option<PathBuf>,
    /// Write an SVG badge of the verdict.
    #[arg(long, value_name = "PATH")]
    pub badge: Option<PathBuf>,
}

/// What the run read, for the bundle: the contract file (or the built-in one) and the cases
/// directory (or the built-in cases).
pub struct Sources<'a> {
    /// `--spec`.
    pub spec: Option<&'a Path>,
    /// `--cases`.
    pub cases: Option<&'a Path>,
}

/// A finished run, to publish.
pub struct Finished<'a> {
    /// The report.
    pub report: &'a Report,
    /// Its coverage.
    pub coverage: &'a Coverage,
    /// Its exit code.
    pub exit: Exit,
    /// `--strict`.
    pub strict: bool,
    /// Redacts secrets.
    pub redactor: &'a Redactor,
}

fn usage(path: &Path, message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Usage, message).at(Place::file(path))
}

/// Reads the signing key before the run, so a wrong path fails fast rather than after it.
pub fn signing_key(args: &PublishArgs) -> Result<Option<ed25519_dalek::SigningKey>, Error> {
    args.sign_key
        .as_deref()
        .map(|p| {
            keys::read_private(p).map_err(|e| {
                usage(p, e.message)
                    .hint("make a key pair with `token-conformance keygen --out DIR`")
            })
        })
        .transpose()
}

/// Appends the job summary, and writes the badge and the bundle, as the flags and the
/// environment ask; returns what the console shows (the annotations, what the bundle holds).
/// `env` reads the environment (a parameter, for tests).
pub fn publish(
    args: &PublishArgs,
    run: &Finished<'_>,
    sources: &Sources<'_>,
    signer: Option<&ed25519_dalek::SigningKey>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Error> {
    let mut console = String::new();
    let on_github = env("GITHUB_ACTIONS").as_deref() == Some("true");
    let annotate = match args.annotations {
        Annotations::Auto => on_github,
        Annotations::Github => true,
        Annotations::None => false,
    };
    if annotate {
        console.push_str(&github::annotations(
            run.report,
            run.redactor,
            &github::in_checkout,
        ));
    }
    if let Some(path) = env("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        let text = github::step_summary(run.report, run.coverage, run.redactor);
        append(&path, &text)
            .map_err(|e| usage(&path, format!("cannot append the job summary: {e}")))?;
    }
    let ended_at = crate::run::now_rfc3339();
    if let Some(path) = &args.badge {
        std::fs::write(path, badge::render(run.report, run.strict, &ended_at))
            .map_err(|e| usage(path, format!("cannot write the badge: {e}")))?;
    }
    if let Some(dir) = &args.bundle {
        console.push_str(&write_bundle(dir, run, sources, signer, ended_at)?);
    }
    Ok(console)
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(text.as_bytes())
}

fn write_bundle(
    dir: &Path,
    run: &Finished<'_>,
    sources: &Sources<'_>,
    signer: Option<&ed25519_dalek::SigningKey>,
    ended_at: String,
) -> Result<String, Error> {
    let contract = match sources.spec {
        Some(file) => Contract {
            name: file.file_name().map_or_else(
                || "contract.yaml".into(),
                |n| n.to_string_lossy().into_owned(),
            ),
            text: std::fs::read(file).map_err(|e| usage(file, format!("cannot read it: {e}")))?,
            builtin: false,
        },
        None => Contract {
            name: "token-auth.openapi.yaml".into(),
            text: BUNDLED_SPEC.as_bytes().to_vec(),
            builtin: true,
        },
    };
    let input = bundle::Input {
        report: run.report,
        coverage: run.coverage,
        exit: run.exit,
        strict: run.strict,
        redactor: run.redactor,
        contract,
        cases: sources
            .cases
            .map_or(CaseSource::BuiltIn, |d| CaseSource::Dir(d.to_owned())),
        ended_at,
    };
    let written = bundle::write(dir, &input, signer)
        .map_err(|e| usage(&e.path, format!("cannot write the bundle: {}", e.message)))?;
    Ok(match written.signer {
        Some(fp) => format!(
            "bundle: {} files in {}, signed by key {fp}\n",
            written.files,
            dir.display()
        ),
        None => format!(
            "bundle: {} files in {}, not signed (give --sign-key to sign it)\n",
            written.files,
            dir.display()
        ),
    })
}
