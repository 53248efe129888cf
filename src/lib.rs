//! token-conformance: a contract-test and conformance harness for the Token Authentication API.
//!
//! A case is a YAML file of steps; the harness checks it against the contract when it loads,
//! then runs it over HTTP and judges every response with the named checks of `CHECKS.md`.
//!
//! ```
//! use std::path::Path;
//! use token_conformance::{case, spec::{Spec, BUNDLED_SPEC, BUNDLED_SPEC_NAME}};
//!
//! let spec = Spec::parse(BUNDLED_SPEC, Path::new(BUNDLED_SPEC_NAME))?;
//! let case = case::parse(
//!     "id: smoke\n\
//!      title: a refresh token can be created\n\
//!      requirement: createRefreshToken answers 201\n\
//!      source: vendor-page\n\
//!      steps:\n  \
//!        - call: createRefreshToken\n    \
//!          body: {username: '{{ profile.username }}', password: '{{ profile.password }}', name: ci}\n    \
//!          expect: {status: 201, body: {token_status: {equals: ACTIVE}}}\n",
//!     Path::new("smoke.yaml"),
//!     &spec,
//! )?;
//! assert_eq!(case.steps.len(), 1);
//! // A misspelled operationId is caught at load time, with a suggestion.
//! let typo = case::parse(
//!     "id: t\ntitle: t\nrequirement: r\nsource: vendor-page\nsteps:\n  - call: createRefreshTokn\n    expect: {status: 201}\n",
//!     Path::new("typo.yaml"),
//!     &spec,
//! ).unwrap_err();
//! assert_eq!(typo.hint.as_deref(), Some("did you mean `createRefreshToken`?"));
//! // Running it: token_conformance::run::run(spec, &[case], target, &options, &on_case).await
//! # Ok::<(), token_conformance::error::Error>(())
//! ```

mod builtin;
pub mod bundle;
pub mod case;
pub mod check;
pub mod coding;
pub mod duration;
pub mod encoding;
pub mod error;
pub mod generate;
pub mod lint;
pub mod load;
pub mod proxy;
pub mod publish;
pub mod report;
pub mod run;
pub mod snapshot;
pub mod source;
pub mod spec;
pub mod target;
pub mod transport;
pub mod wire;
mod yaml;

#[cfg(test)]
mod layering {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    /// Every `.rs` file under `dir`.
    fn rust_files(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).expect("src is readable") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                out.extend(rust_files(&p));
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
        out
    }

    /// Whether `f` is the binary's (`main.rs` and its commands in `cli/`), not the library's.
    fn in_binary(f: &Path) -> bool {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        f == src.join("main.rs") || f.starts_with(src.join("cli"))
    }

    /// The engine talks to implementations over HTTP only: nothing in `src/` but the binary
    /// may use the bundled reference server (ARCHITECTURE.md).
    #[test]
    fn the_engine_speaks_only_http_to_implementations() {
        let files = rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
        assert!(files.len() > 20);
        for f in files.iter().filter(|f| !in_binary(f)) {
            let text = std::fs::read_to_string(f).expect("readable");
            assert!(
                !text.contains(concat!("reference", "_server")),
                "{} uses the reference server",
                f.display()
            );
        }
    }

    /// The library returns values and writes to the `Write` it is given: only the binary
    /// prints, so a closed pipe is an `io::Error` its `main` maps, never a panic.
    #[test]
    fn only_the_binary_prints() {
        let files = rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
        // Spelt in pieces, so that this test does not find itself.
        let printing = [
            concat!("print", "ln!"),
            concat!("eprint", "ln!"),
            concat!("print", "!("),
            concat!("eprint", "!("),
        ];
        let mut found = Vec::new();
        for f in files.iter().filter(|f| !in_binary(f)) {
            let text = std::fs::read_to_string(f).expect("readable");
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                if printing.iter().any(|p| code.contains(p)) {
                    found.push(format!("{}:{}", f.display(), n + 1));
                }
            }
        }
        assert!(found.is_empty(), "the library prints: {found:#?}");
    }

    /// The top-level modules of the harness and of the reference server form no circle: each
    /// uses only modules below it, so a newcomer can read them bottom up (the harness's order
    /// is in ARCHITECTURE.md). Mentions of `crate::X` in code outside tests count; comments do
    /// not; `lib.rs` only wires.
    #[test]
    fn the_modules_form_no_circle() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        // The harness's `cli/` is the binary's: its `crate::` names the binary's crate.
        let crates = [
            (root.join("src"), &["cli"][..]),
            (root.join("reference-server").join("src"), &[][..]),
        ];
        for (src, binary) in crates {
            let left = on_a_circle(&src, binary);
            assert!(
                left.is_empty(),
                "{}: modules on a circle: {left:#?}",
                src.display()
            );
        }
    }

    /// The top-level modules a line of code names as `crate::X` or `crate::{X, ...}`.
    fn crate_uses(line: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let names: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group
                    .split('}')
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .collect(),
                None => vec![rest],
            };
            for n in names {
                let n: String = n
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !n.is_empty() {
                    out.push(n);
                }
            }
        }
        out
    }

    /// The modules under `src` that lie on a circle of `crate::` uses, with what they use;
    /// the `binary`'s modules left out.
    fn on_a_circle(src: &Path, binary: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
        let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for f in rust_files(src) {
            let rel = f.strip_prefix(src).expect("under src");
            let top = rel.components().next().expect("a component");
            let top = top
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned();
            if top == "main"
                || top == "lib"
                || binary.contains(&top.as_str())
                || rel.ends_with("tests.rs")
            {
                continue;
            }
            let text = std::fs::read_to_string(&f).expect("readable");
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let deps = uses.entry(top.clone()).or_default();
            for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                deps.extend(crate_uses(line).into_iter().filter(|n| *n != top));
            }
        }
        // Peel off modules that use nothing left; what cannot be peeled lies on a circle.
        let mut left = uses.clone();
        loop {
            let leaves: Vec<String> = left
                .iter()
                .filter(|(_, d)| d.iter().all(|m| !left.contains_key(m)))
                .map(|(m, _)| m.clone())
                .collect();
            if leaves.is_empty() {
                break;
            }
            for m in leaves {
                left.remove(&m);
            }
        }
        assert!(uses.len() > 12, "{uses:?}");
        left
    }
}
