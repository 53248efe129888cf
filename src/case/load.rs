//! Loading a directory of case files (or the built-in ones): every error collected, ids
//! that follow the files' paths.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::model::Case;
use super::parse::{case_error, parse};
use crate::error::{Error, ErrorKind, Place};
use crate::spec::Spec;

/// Every `*.yaml` case under `dir`, sorted by path, loaded and checked. All errors are
/// collected, so one run of `lint` shows every broken file.
pub fn load_dir(dir: &Path, spec: &Spec) -> Result<Vec<Case>, Vec<Error>> {
    let mut files = Vec::new();
    if let Err(e) = collect(dir, &mut files) {
        return Err(vec![
            Error::new(ErrorKind::Case, format!("cannot read the cases: {e}")).at(Place::file(dir)),
        ]);
    }
    files.sort();
    let texts = files.into_iter().map(|f| {
        let text = std::fs::read_to_string(&f)
            .map_err(|e| case_error(&f, None, format!("cannot read: {e}")));
        (f, text)
    });
    load_texts(dir, texts, spec)
}

/// The cases built into the binary, reported as if read from `cases/`.
pub fn load_builtin(spec: &Spec) -> Result<Vec<Case>, Vec<Error>> {
    let dir = Path::new(crate::builtin::CASES_DIR);
    let texts = crate::builtin::CASES
        .iter()
        .filter(|(rel, _)| rel.ends_with(".yaml"))
        .map(|(rel, text)| (dir.join(rel), Ok((*text).to_owned())));
    load_texts(dir, texts, spec)
}

/// Loads case texts found under `dir`; every error is collected.
fn load_texts(
    dir: &Path,
    texts: impl Iterator<Item = (PathBuf, Result<String, Error>)>,
    spec: &Spec,
) -> Result<Vec<Case>, Vec<Error>> {
    let mut cases: Vec<Case> = Vec::new();
    let mut errors = Vec::new();
    let mut ids: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (f, text) in texts {
        let text = match text {
            Ok(t) => t,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let id_line = id_line(&text);
        match parse(&text, &f, spec).and_then(|c| follows_path(c, dir, &f, id_line)) {
            Ok(case) => {
                if let Some(other) = ids.insert(case.id.clone(), f.clone()) {
                    errors.push(case_error(
                        &f,
                        Some(id_line),
                        format!("case id `{}` is also used by {}", case.id, other.display()),
                    ));
                } else {
                    cases.push(case);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if cases.is_empty() && errors.is_empty() {
        errors
            .push(Error::new(ErrorKind::Case, "no case files (*.yaml) found").at(Place::file(dir)));
    }
    if errors.is_empty() {
        Ok(cases)
    } else {
        Err(errors)
    }
}

/// The id a case file's path gives it: its path under the cases directory, without the
/// extension, with `/` as `.` (`access-token/create.revoked-refresh.yaml` is
/// `access-token.create.revoked-refresh`).
pub(crate) fn id_from_path(dir: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(dir).ok()?.with_extension("");
    let parts: Vec<&str> = rel.iter().map(|p| p.to_str()).collect::<Option<_>>()?;
    Some(parts.join("."))
}

/// The line of a case file's top-level `id:` key (1 when there is none to point at).
fn id_line(text: &str) -> u64 {
    text.lines()
        .position(|l| l.starts_with("id:"))
        .and_then(|i| u64::try_from(i + 1).ok())
        .unwrap_or(1)
}

/// A case's id must be the one its path gives, so ids, files and snapshots can be found from
/// one another.
fn follows_path(case: Case, dir: &Path, file: &Path, line: u64) -> Result<Case, Error> {
    match id_from_path(dir, file) {
        Some(expected) if expected != case.id => Err(case_error(
            file,
            Some(line),
            format!("case id `{}` does not follow the file's path", case.id),
        )
        .hint(format!(
            "write `id: {expected}`, or rename the file after the id"
        ))),
        _ => Ok(case),
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}
