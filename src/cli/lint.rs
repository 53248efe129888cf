//! `list` and `lint`: what the suite holds, and how it loads against the contract.

use std::io::{self, Write};

use token_conformance::error::Exit;

use super::{Sources, report_errors};

/// `list`: every case with its tags and needed capabilities.
pub fn list(sources: &Sources, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Exit> {
    match sources.load() {
        Ok((_, cases)) => {
            write!(out, "{}", token_conformance::lint::list(&cases))?;
            Ok(Exit::Success)
        }
        Err(errors) => report_errors(err, &errors),
    }
}

/// `lint`: how the cases load against the contract, and what they leave untested; fails when
/// they break a promise about the accounts they log in with.
pub fn lint(sources: &Sources, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Exit> {
    match sources.load() {
        Ok((spec, cases)) => {
            let (text, errors) = token_conformance::lint::lint(&spec, &cases);
            write!(out, "{text}")?;
            if errors.is_empty() {
                Ok(Exit::Success)
            } else {
                report_errors(err, &errors)
            }
        }
        Err(errors) => report_errors(err, &errors),
    }
}
