//! Builds the cases and the reference server's accepted snapshots into the binary, so that an
//! installed `token-conformance` runs the suite from any directory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Every file under `dir` whose name ends in one of `exts`.
fn collect(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, exts, out);
        } else if p.extension().is_some_and(|x| exts.iter().any(|e| x == *e)) {
            out.push(p);
        }
    }
}

/// `pub const NAME: &[(&str, &str)] = &[(relative path, include_str!(absolute path)), ...];`
fn table(name: &str, root: &Path, exts: &[&str]) -> String {
    let mut files = Vec::new();
    collect(root, exts, &mut files);
    files.sort();
    let mut out = format!(
        "/// Every file of the directory: (path under it, contents).\npub const {name}: &[(&str, &str)] = &[\n"
    );
    for f in files {
        let rel = f
            .strip_prefix(root)
            .unwrap_or(&f)
            .to_string_lossy()
            .replace('\\', "/");
        let _ = writeln!(
            out,
            "    ({rel:?}, include_str!({:?})),",
            f.display().to_string()
        );
    }
    out.push_str("];\n");
    out
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    println!("cargo::rerun-if-changed=cases");
    println!("cargo::rerun-if-changed=snapshots");
    let code = format!(
        "{}{}",
        // The cases with their README and editor schema, so `cases export` gives all three.
        table("CASES", &manifest.join("cases"), &["yaml", "md", "json"]),
        table("SNAPSHOTS", &manifest.join("snapshots"), &["snap"])
    );
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("builtin.rs");
    if let Err(e) = std::fs::write(&out, code) {
        panic!("cannot write {}: {e}", out.display());
    }
}
