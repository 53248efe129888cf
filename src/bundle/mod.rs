//! The result bundle: a run's reports, redacted snapshots, contract and cases, with a manifest
//! that lists the SHA-256 of every file and an Ed25519 signature over the manifest, so that a
//! third party can check that nobody edited the results after the run (the OpenID Foundation's
//! certification packages, with modern primitives). `docs/bundle.md` describes the format and
//! `docs/bundle-manifest.schema.json` the manifest.
//!
//! A bundle is written into a new or empty directory and never partly: the files are written
//! first, the manifest after them, the signature last, so a directory with a valid signature
//! holds everything the manifest lists.

pub mod keys;
mod verify;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::error::Exit;
use crate::report::Redactor;
use crate::report::coverage::Coverage;
use crate::run::{Body, Report, Verdict};

pub use verify::{Kind, Problem, Verified, verify};

/// The manifest's file name.
pub(crate) const MANIFEST: &str = "manifest.json";
/// The signature's file name: the 64 raw bytes of an Ed25519 signature over `manifest.json`.
pub(crate) const SIGNATURE: &str = "manifest.sig";
/// The manifest's format tag.
pub(crate) const FORMAT: &str = "token-conformance-bundle/1";

/// Where the run's cases came from.
#[derive(Clone, Debug)]
pub enum CaseSource {
    /// The cases built into this binary: recorded by digest only.
    BuiltIn,
    /// A directory of case files: copied into the bundle.
    Dir(PathBuf),
}

/// The contract the run used.
#[derive(Clone, Debug)]
pub struct Contract {
    /// Its file name in the bundle (`contract/NAME`).
    pub name: String,
    /// Its text, as run.
    pub text: Vec<u8>,
    /// Whether it is the one built into this binary.
    pub builtin: bool,
}

/// Everything a bundle is made of.
pub struct Input<'a> {
    /// The run.
    pub report: &'a Report,
    /// Its coverage.
    pub coverage: &'a Coverage,
    /// The exit code the run gives.
    pub exit: Exit,
    /// Whether warnings failed the run.
    pub strict: bool,
    /// Redacts secrets from everything written.
    pub redactor: &'a Redactor,
    /// The contract.
    pub contract: Contract,
    /// The cases.
    pub cases: CaseSource,
    /// When the run ended (RFC 3339).
    pub ended_at: String,
}

/// A bundle that could not be written, and where.
#[derive(Debug)]
pub struct WriteError {
    /// The file or directory.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for WriteError {}

fn write_error(path: &Path, message: impl Into<String>) -> WriteError {
    WriteError {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// SHA-256 in lower-case hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    keys::hex(&Sha256::digest(bytes))
}

/// The digest of a set of files: the SHA-256 of their `sha256sum` listing (`HEX  PATH\n` per
/// file, sorted by path), so anyone can recompute it with coreutils.
fn set_digest(files: &BTreeMap<String, Vec<u8>>) -> String {
    let listing: String = files
        .iter()
        .map(|(path, bytes)| format!("{}  {path}\n", sha256_hex(bytes)))
        .collect();
    sha256_hex(listing.as_bytes())
}

/// The case files the run read: path relative to the cases directory, and contents.
fn case_files(source: &CaseSource) -> Result<BTreeMap<String, Vec<u8>>, WriteError> {
    match source {
        CaseSource::BuiltIn => Ok(crate::builtin::CASES
            .iter()
            .filter(|(rel, _)| rel.ends_with(".yaml"))
            .map(|(rel, text)| ((*rel).to_owned(), text.as_bytes().to_vec()))
            .collect()),
        CaseSource::Dir(dir) => {
            let mut out = BTreeMap::new();
            for rel in files_under(dir).map_err(|e| write_error(dir, e.to_string()))? {
                if rel.ends_with(".yaml") {
                    let path = dir.join(&rel);
                    let bytes = std::fs::read(&path)
                        .map_err(|e| write_error(&path, format!("cannot read it: {e}")))?;
                    out.insert(rel, bytes);
                }
            }
            Ok(out)
        }
    }
}

/// Every file under `dir`, as `/`-separated paths relative to it, sorted. Symbolic links are
/// listed as the files they are, so nothing can hide behind one.
pub fn files_under(dir: &Path) -> std::io::Result<Vec<String>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                walk(root, &path, out)?;
            } else if let Ok(rel) = path.strip_prefix(root) {
                let parts: Vec<String> = rel
                    .components()
                    .filter_map(|c| match c {
                        Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                        _ => None,
                    })
                    .collect();
                out.push(parts.join("/"));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// The files of the bundle, but the manifest and its signature.
fn contents(input: &Input<'_>) -> Result<BTreeMap<String, Vec<u8>>, WriteError> {
    let Input {
        report,
        coverage,
        exit,
        redactor,
        ..
    } = input;
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let json = crate::report::json::render(report, coverage, *exit, redactor);
    let json = serde_json::to_string_pretty(&json).expect("a JSON value always serialises") + "\n";
    files.insert("report.json".into(), json.into_bytes());
    files.insert(
        "report.junit.xml".into(),
        crate::report::junit::render(report, redactor).into_bytes(),
    );
    files.insert(
        "report.md".into(),
        crate::report::markdown::render(report, coverage, redactor).into_bytes(),
    );
    files.insert(
        "badge.svg".into(),
        crate::report::badge::render(report, input.strict, &input.ended_at).into_bytes(),
    );
    for case in report
        .cases()
        .iter()
        .filter(|c| c.verdict != Verdict::Skipped)
    {
        let text = crate::snapshot::render(case, redactor);
        files.insert(
            format!("snapshots/{}.snap", case.id),
            crate::snapshot::file_text(case, &text).into_bytes(),
        );
    }
    files.insert(
        format!("contract/{}", input.contract.name),
        input.contract.text.clone(),
    );
    if let CaseSource::Dir(_) = input.cases {
        for (rel, bytes) in case_files(&input.cases)? {
            files.insert(format!("cases/{rel}"), bytes);
        }
    }
    Ok(files)
}

/// The manifest of `files`, signed by `signer` if there is one.
fn manifest(
    input: &Input<'_>,
    files: &BTreeMap<String, Vec<u8>>,
    signer: Option<&SigningKey>,
) -> Result<Value, WriteError> {
    let report = input.report;
    let meta = &report.meta;
    let case_set = case_files(&input.cases)?;
    let listed: BTreeMap<&String, String> = files.iter().map(|(p, b)| (p, sha256_hex(b))).collect();
    // A suite's counts are of its cases; traffic's (no command bundles it yet) of exchanges.
    let (generated, selected, suite, counts) = match &report.body {
        Body::Suite(s) => {
            let (must_passed, must_total) = s.must_counts();
            let summary = s.summary();
            (
                s.cases.iter().filter(|c| c.generated).count(),
                s.cases.len(),
                s.suite_cases,
                json!({
                    "passed": summary.passed,
                    "failed": summary.failed,
                    "warned": summary.warned,
                    "skipped": summary.skipped,
                    "must_passed": must_passed,
                    "must_total": must_total,
                }),
            )
        }
        Body::Traffic(t) => (0, 0, 0, json!(t.counts)),
    };
    Ok(json!({
        "format": FORMAT,
        "harness": {"name": env!("CARGO_PKG_NAME"), "version": meta.harness_version},
        "target": input.redactor.text(&meta.target),
        "started_at": meta.started_at,
        "ended_at": input.ended_at,
        "contract": {
            "title": meta.spec_title,
            "version": meta.spec_version,
            "file": format!("contract/{}", input.contract.name),
            "builtin": input.contract.builtin,
            "sha256": sha256_hex(&input.contract.text),
        },
        "cases": {
            "source": match &input.cases {
                CaseSource::BuiltIn => "built-in",
                CaseSource::Dir(_) => "directory",
            },
            "files": case_set.len(),
            "sha256": set_digest(&case_set),
            "generated": generated,
            "selected": selected,
            "suite": suite,
        },
        "shaping": {
            "selection": meta.shaping.selection,
            "refresh_lifespan": meta.shaping.refresh_lifespan,
            "access_lifespan": meta.shaping.access_lifespan,
            "tolerance": meta.shaping.tolerance,
            "capabilities": meta.shaping.capabilities,
            "strict": input.strict,
        },
        "verdict": {
            "text": report.verdict_text(),
            "conforms": report.conforms(),
            "exit_code": input.exit.code(),
        },
        "counts": counts,
        "signer": signer.map(|k| keys::fingerprint(&k.verifying_key())),
        "files": listed,
    }))
}

/// What [`write()`] wrote.
#[derive(Debug)]
pub struct Written {
    /// Files listed in the manifest.
    pub files: usize,
    /// The signing key's fingerprint, when signed.
    pub signer: Option<String>,
}

/// Writes the bundle of a run into `dir` (new or empty), signed with `signer` if given.
pub fn write(
    dir: &Path,
    input: &Input<'_>,
    signer: Option<&SigningKey>,
) -> Result<Written, WriteError> {
    if dir.exists() {
        let mut entries =
            std::fs::read_dir(dir).map_err(|e| write_error(dir, format!("cannot read it: {e}")))?;
        if entries.next().is_some() {
            return Err(write_error(
                dir,
                "is not empty; a bundle goes into a new or empty directory, so that it holds \
                 nothing its manifest does not list",
            ));
        }
    }
    let files = contents(input)?;
    let manifest = manifest(input, &files, signer)?;
    for (rel, bytes) in &files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| write_error(parent, format!("cannot create it: {e}")))?;
        }
        std::fs::write(&path, bytes)
            .map_err(|e| write_error(&path, format!("cannot write it: {e}")))?;
    }
    let text =
        serde_json::to_string_pretty(&manifest).expect("a JSON value always serialises") + "\n";
    let path = dir.join(MANIFEST);
    std::fs::write(&path, &text)
        .map_err(|e| write_error(&path, format!("cannot write it: {e}")))?;
    if let Some(key) = signer {
        let sig = key.sign(text.as_bytes());
        let path = dir.join(SIGNATURE);
        std::fs::write(&path, sig.to_bytes())
            .map_err(|e| write_error(&path, format!("cannot write it: {e}")))?;
    }
    Ok(Written {
        files: files.len(),
        signer: signer.map(|k| keys::fingerprint(&k.verifying_key())),
    })
}
