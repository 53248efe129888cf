//! What every command starts from: the contract (a file, or the one built in) and the cases
//! (a directory, or the ones built in, and the probes generated from the contract).

use std::path::Path;

use crate::case::{self, Case};
use crate::error::{Error, ErrorKind, Place};
use crate::spec::{BUNDLED_SPEC, BUNDLED_SPEC_NAME, Spec};

/// Loads the contract in `file`, or the one built into the binary.
pub fn spec(file: Option<&Path>) -> Result<Spec, Error> {
    match file {
        Some(file) => Spec::load(file),
        None => Spec::parse(BUNDLED_SPEC, Path::new(BUNDLED_SPEC_NAME)),
    }
}

/// Loads the contract and the cases (of `cases`, or the built-in ones), with the probes
/// generated from the contract unless `generated` is false. Every case error is returned, not
/// only the first.
pub fn suite(
    spec_file: Option<&Path>,
    cases: Option<&Path>,
    generated: bool,
) -> Result<(Spec, Vec<Case>), Vec<Error>> {
    if let Some(dir) = cases.filter(|d| !d.is_dir()) {
        return Err(vec![no_cases(dir)]);
    }
    let spec = spec(spec_file).map_err(|e| vec![e])?;
    let mut all = match cases {
        Some(dir) => case::load_dir(dir, &spec)?,
        None => case::load_builtin(&spec)?,
    };
    if generated {
        all.extend(crate::generate::cases(&spec)?);
    }
    Ok((spec, all))
}

/// Writes the built-in cases (with their README and editor schema) into `dir`; how many files.
pub fn export_cases(dir: &Path) -> Result<usize, Error> {
    crate::builtin::export(dir).map_err(|e| {
        Error::new(ErrorKind::Usage, format!("cannot export the cases: {e}")).at(Place::file(dir))
    })
}

/// An error for a missing cases directory, with the usual fix.
fn no_cases(dir: &Path) -> Error {
    Error::new(ErrorKind::Usage, "no cases directory")
        .at(Place::file(dir))
        .hint("give --cases an existing directory, or leave it out to run the built-in cases")
}
