//! `token-conformance verify DIR --key PUBFILE`: checks a bundle's signature, then every file
//! against the manifest, and says what the bundle attests.

use std::collections::BTreeMap;
use std::path::Path;

use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::Value;

use super::{FORMAT, MANIFEST, SIGNATURE, files_under, keys, sha256_hex};
use crate::error::Exit;

/// What kind of thing is wrong with a bundle: each asks the reader for something else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Something was changed, added or removed after signing (exit 1).
    Changed,
    /// It cannot be read as a bundle at all (exit 2).
    Malformed,
    /// The manifest names another signing key than the one given (exit 1): most likely an old
    /// or another vendor's key, not a change, so nothing is said about tampering.
    OtherKey,
}

/// One thing wrong with a bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file it concerns, relative to the bundle.
    pub file: String,
    /// What is wrong.
    pub message: String,
    /// What kind of problem it is.
    pub kind: Kind,
}

impl Problem {
    fn changed(file: &str, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            message: message.into(),
            kind: Kind::Changed,
        }
    }

    fn malformed(file: &str, message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Malformed,
            ..Self::changed(file, message)
        }
    }

    /// The exit code that a list of problems calls for.
    pub fn exit(problems: &[Self]) -> Exit {
        if problems.iter().any(|p| p.kind == Kind::Malformed) {
            Exit::Error
        } else if problems.is_empty() {
            Exit::Success
        } else {
            Exit::Failures
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

/// What a verified bundle attests.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The manifest.
    pub manifest: Value,
    /// How many files it lists, all checked.
    pub files: usize,
    /// The fingerprint of the key that signed it.
    pub signer: String,
}

impl Verified {
    fn text(&self, key: &str) -> &str {
        self.manifest
            .pointer(key)
            .and_then(Value::as_str)
            .unwrap_or("?")
    }

    /// A few lines for people: what was tested, by which harness, and the verdict.
    pub fn describe(&self) -> String {
        let count = |k: &str| {
            self.manifest
                .pointer(&format!("/counts/{k}"))
                .and_then(Value::as_u64)
                .unwrap_or(0)
        };
        format!(
            "bundle verified: {} files match the manifest, signed by key {}\n\
             target:   {}\n\
             contract: {} {} (sha256 {})\n\
             harness:  token-conformance {}\n\
             run:      {} to {}\n\
             verdict:  {} ({}/{} MUST cases passed; {} passed, {} failed, {} warned, {} skipped)\n",
            self.files,
            self.signer,
            self.text("/target"),
            self.text("/contract/title"),
            self.text("/contract/version"),
            self.text("/contract/sha256"),
            self.text("/harness/version"),
            self.text("/started_at"),
            self.text("/ended_at"),
            self.text("/verdict/text"),
            count("must_passed"),
            count("must_total"),
            count("passed"),
            count("failed"),
            count("warned"),
            count("skipped"),
        )
    }
}

/// A path a manifest may list: relative, `/`-separated, nothing that leaves the bundle.
fn safe(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// Checks the bundle in `dir` against `key`. Every problem is reported, not only the first;
/// the signature is checked before the manifest is read, so nothing unsigned is believed.
pub fn verify(dir: &Path, key: &VerifyingKey) -> Result<Verified, Vec<Problem>> {
    if !dir.is_dir() {
        return Err(vec![Problem::malformed(
            &dir.display().to_string(),
            "is not a directory",
        )]);
    }
    let manifest_bytes = std::fs::read(dir.join(MANIFEST)).map_err(|e| {
        vec![Problem::malformed(
            MANIFEST,
            format!("cannot read it ({e}): this is not a result bundle"),
        )]
    })?;
    check_signature(dir, key, &manifest_bytes).map_err(|p| vec![p])?;
    let manifest: Value = serde_json::from_slice(&manifest_bytes).map_err(|e| {
        vec![Problem::malformed(
            MANIFEST,
            format!("signed, but not JSON: {e}"),
        )]
    })?;
    if manifest.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(vec![Problem::malformed(
            MANIFEST,
            format!("signed, but not of format {FORMAT}"),
        )]);
    }
    let listed = listed_files(&manifest)?;
    let problems = check_files(dir, &listed);
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Verified {
        files: listed.len(),
        signer: keys::fingerprint(key),
        manifest,
    })
}

fn check_signature(dir: &Path, key: &VerifyingKey, manifest: &[u8]) -> Result<(), Problem> {
    let sig = std::fs::read(dir.join(SIGNATURE)).map_err(|e| {
        Problem::changed(
            SIGNATURE,
            format!("cannot read it ({e}): the bundle is not signed, or its signature was removed"),
        )
    })?;
    let sig = <[u8; 64]>::try_from(sig.as_slice()).map_err(|_| {
        Problem::changed(
            SIGNATURE,
            format!(
                "is {} bytes, not the 64 of an Ed25519 signature: it was changed",
                sig.len()
            ),
        )
    })?;
    key.verify_strict(manifest, &Signature::from_bytes(&sig))
        .map_err(|_| {
            if let Some(problem) = other_key(key, manifest) {
                return problem;
            }
            Problem::changed(
                MANIFEST,
                format!(
                    "the signature in {SIGNATURE} does not match {MANIFEST} under key {}: one of \
                     them was changed after signing, or another key signed them",
                    keys::fingerprint(key)
                ),
            )
        })
}

/// When the signature does not hold and the manifest names a signer other than `key`: the
/// bundle was signed by another key, which is what a customer holding an old or another
/// vendor's public key sees. The claim is unsigned (under `key`), so it is reported as what the
/// bundle says, and the exit stays 1; but it speaks of keys, not of tampering, which a matching
/// key with a failing signature still does.
fn other_key(key: &VerifyingKey, manifest: &[u8]) -> Option<Problem> {
    let manifest: Value = serde_json::from_slice(manifest).ok()?;
    let named = manifest.get("signer")?.as_str()?;
    let given = keys::fingerprint(key);
    (named != given).then(|| Problem {
        file: MANIFEST.to_owned(),
        message: format!(
            "signed by key {named}; the key you gave is {given}: verify with the public key \
             {named}, from whoever published the bundle"
        ),
        kind: Kind::OtherKey,
    })
}

/// The manifest's `files`: path to SHA-256.
fn listed_files(manifest: &Value) -> Result<BTreeMap<String, String>, Vec<Problem>> {
    let Some(files) = manifest.get("files").and_then(Value::as_object) else {
        return Err(vec![Problem::malformed(MANIFEST, "has no `files` object")]);
    };
    let mut out = BTreeMap::new();
    let mut problems = Vec::new();
    for (path, digest) in files {
        match digest.as_str() {
            Some(d) if safe(path) && path != MANIFEST && path != SIGNATURE => {
                out.insert(path.clone(), d.to_owned());
            }
            _ => problems.push(Problem::malformed(
                MANIFEST,
                format!("lists `{path}`, which is not a file a bundle can hold, or has no digest"),
            )),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

fn check_files(dir: &Path, listed: &BTreeMap<String, String>) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (path, want) in listed {
        match std::fs::read(dir.join(path)) {
            Ok(bytes) => {
                let got = sha256_hex(&bytes);
                if &got != want {
                    problems.push(Problem::changed(
                        path,
                        format!("was changed: its SHA-256 is {got}, the manifest says {want}"),
                    ));
                }
            }
            Err(e) => problems.push(Problem::changed(
                path,
                format!("is listed in the manifest but cannot be read ({e}): it was removed"),
            )),
        }
    }
    match files_under(dir) {
        Ok(present) => {
            for path in present {
                if path != MANIFEST && path != SIGNATURE && !listed.contains_key(&path) {
                    problems.push(Problem::changed(
                        &path,
                        "is not in the manifest: it was added after signing",
                    ));
                }
            }
        }
        Err(e) => problems.push(Problem::malformed(
            ".",
            format!("cannot list the bundle: {e}"),
        )),
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::safe;

    #[test]
    fn only_paths_inside_the_bundle_are_listed() {
        for ok in ["report.json", "snapshots/a.snap", "cases/x/y.yaml"] {
            assert!(safe(ok), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "./a",
            "a\\b",
            "a/",
        ] {
            assert!(!safe(bad), "{bad}");
        }
    }
}
