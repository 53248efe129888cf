//! `cases export DIR`: the built-in cases written out to edit.

use std::io::{self, Write};
use std::path::Path;

use token_conformance::error::Exit;

/// Writes the built-in cases into `dir`.
pub fn export(dir: &Path, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Exit> {
    match token_conformance::load::export_cases(dir) {
        Ok(n) => {
            writeln!(
                out,
                "wrote {n} files to {}; run them with --cases {}",
                dir.display(),
                dir.display()
            )?;
            Ok(Exit::Success)
        }
        Err(e) => super::report_errors(err, &[e]),
    }
}
