//! `keygen` and `verify`: the keys that sign result bundles, and checking a bundle.

use std::io::{self, Write};
use std::path::Path;

use token_conformance::bundle::{self, keys};
use token_conformance::error::Exit;

/// `keygen --out DIR`.
pub fn keygen(dir: &Path, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Exit> {
    // The key is read back from what was written, so its fingerprint is the file's.
    match keys::write_pair(dir).and_then(|(private, public)| {
        let fp = keys::fingerprint(&keys::read_public(&public)?);
        Ok((private, public, fp))
    }) {
        Ok((private, public, fp)) => {
            writeln!(
                out,
                "wrote {} (private: keep it secret, sign with --sign-key) and {} (public: publish it), key {fp}",
                private.display(),
                public.display()
            )?;
            Ok(Exit::Success)
        }
        Err(e) => {
            writeln!(err, "error: {e}")?;
            Ok(Exit::Error)
        }
    }
}

/// `verify DIR --key PUBFILE`: 0 when the signature and every file match, 1 when something was
/// changed, added or removed, 2 when the bundle or the key cannot be read as such.
pub fn verify(
    dir: &Path,
    key: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<Exit> {
    let key = match keys::read_public(key) {
        Ok(k) => k,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(Exit::Error);
        }
    };
    match bundle::verify(dir, &key) {
        Ok(v) => {
            write!(out, "{}", v.describe())?;
            Ok(Exit::Success)
        }
        Err(problems) => {
            for p in &problems {
                writeln!(err, "{}: {p}", dir.display())?;
            }
            let exit = bundle::Problem::exit(&problems);
            let other_key = problems.iter().all(|p| p.kind == bundle::Kind::OtherKey);
            writeln!(
                err,
                "{}",
                if exit == Exit::Error {
                    "the bundle is malformed: nothing it says can be trusted"
                } else if other_key {
                    // Most often an old or another vendor's key: nothing was found changed,
                    // and nothing can be checked until the right key is given.
                    "the bundle was not checked: it names another signing key than the one given"
                } else {
                    "the bundle was changed after it was signed: nothing it says can be trusted"
                }
            )?;
            Ok(exit)
        }
    }
}
