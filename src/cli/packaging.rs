//! `completions SHELL` and `man`: what packagers generate from the binary they built, printed
//! to standard output. From the binary rather than at build time (a `build.rs` writes into
//! cargo's hidden `OUT_DIR`, and `cargo install` installs neither): the page and the
//! completions describe exactly the commands and flags of the binary that is installed, and
//! packaging recipes already expect the pattern (Homebrew's
//! `generate_completions_from_executable`, an Arch or Debian rule running
//! `token-conformance man > token-conformance.1`).

use std::io::{self, Write};
use std::path::Path;

use clap_complete::Shell;
use token_conformance::error::Exit;

/// `completions SHELL`: the completion script for `shell`, for the command `cli`.
pub fn completions(shell: Shell, mut cli: clap::Command, out: &mut dyn Write) -> io::Result<Exit> {
    let name = cli.get_name().to_owned();
    // clap_complete panics when a write fails (a closed pipe); a buffer never fails, and the
    // write after it returns the error for main to map.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cli, name, &mut script);
    out.write_all(&script)?;
    Ok(Exit::Success)
}

/// `man [--out DIR]`: the manual page of `cli` in roff on `out`; with `dir`, one page per
/// command instead (`token-conformance.1`, `token-conformance-run.1`, ...), as git and cargo
/// install theirs, each file named on `out`.
pub fn man(
    cli: clap::Command,
    dir: Option<&Path>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<Exit> {
    let Some(dir) = dir else {
        clap_mangen::Man::new(cli).render(out)?;
        return Ok(Exit::Success);
    };
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| clap_mangen::generate_to(cli, dir))
        .and_then(|()| token_conformance::bundle::files_under(dir));
    match written {
        Ok(files) => {
            for f in files.iter().filter(|f| f.ends_with(".1")) {
                writeln!(out, "{}", dir.join(f).display())?;
            }
            Ok(Exit::Success)
        }
        Err(e) => {
            writeln!(
                err,
                "error: {}: cannot write the man pages: {e}",
                dir.display()
            )?;
            Ok(Exit::Error)
        }
    }
}
