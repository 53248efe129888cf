//! The cases and the reference server's accepted snapshots, built into the binary (by
//! `build.rs`) so that an installed `token-conformance` needs no checkout.

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

/// The place built-in cases are reported at, as if read from a checkout.
pub(crate) const CASES_DIR: &str = "cases";

/// The built-in snapshot of a case, if there is one.
pub fn snapshot(case_id: &str) -> Option<&'static str> {
    let name = format!("{case_id}.snap");
    SNAPSHOTS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// Writes the built-in cases (with their README and editor schema) under `dir`; returns how many
/// files it wrote. Refuses to overwrite a file that exists.
pub fn export(dir: &std::path::Path) -> std::io::Result<usize> {
    for (rel, _) in CASES {
        let path = dir.join(rel);
        if path.exists() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} exists; export into an empty directory", path.display()),
            ));
        }
    }
    for (rel, text) in CASES {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)?;
    }
    Ok(CASES.len())
}
