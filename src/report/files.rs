//! The report files a command writes on request (`--junit`, `--json`, `--markdown`), for
//! `run` and `proxy` alike.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::error::{Error, ErrorKind, Exit, Place};
use crate::run::Report;

use super::coverage::Coverage;
use super::redact::Redactor;

/// Where the reports go.
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
pub fn write(
    args: &ReportFlags,
    report: &Report,
    coverage: &Coverage,
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
        write(p, super::junit::render(report, redactor))?;
    }
    if let Some(p) = &args.json {
        let v = super::json::render(report, coverage, exit, redactor);
        write(
            p,
            serde_json::to_string_pretty(&v).expect("a serde_json::Value always serialises"),
        )?;
    }
    if let Some(p) = &args.markdown {
        write(p, super::markdown::render(report, coverage, redactor))?;
    }
    Ok(())
}
