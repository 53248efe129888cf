//! The commands, one module each, private to the binary: each parses nothing (clap did), calls
//! the library, writes what the library returns to the `Write`s it is given, and returns an
//! exit code. A failed write (a closed pipe) is an `io::Error` for `main` to map.

pub mod bundle;
pub mod cases;
pub mod lint;
pub mod packaging;
pub mod progress;
pub mod proxy;
pub mod run;
pub mod serve;

use std::io::{self, Write};
use std::path::PathBuf;

use clap::Args;
use token_conformance::case::Case;
use token_conformance::error::{Error, Exit};
use token_conformance::spec::Spec;

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

impl Sources {
    /// The contract and the cases these name.
    fn load(&self) -> Result<(Spec, Vec<Case>), Vec<Error>> {
        token_conformance::load::suite(
            self.spec.as_deref(),
            self.cases.as_deref(),
            !self.no_generated,
        )
    }
}

/// Writes errors to `err` and returns the exit code they call for.
pub fn report_errors(err: &mut dyn Write, errors: &[Error]) -> io::Result<Exit> {
    for e in errors {
        writeln!(err, "{e}")?;
    }
    Ok(errors.iter().map(Error::exit).max().unwrap_or(Exit::Error))
}
