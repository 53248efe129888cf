//! What a case may refer to: the templates it uses, the captures it reads and the response
//! paths its matchers name, checked against what the steps before it and the contract provide.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::model::{Action, Body, Matcher, Outcome};
use crate::error::{Problem, did_you_mean};

pub(super) fn check_matcher(
    m: &Matcher,
    what: &str,
    captured: &BTreeSet<String>,
) -> Result<(), Problem> {
    for name in [&m.same_as, &m.different_from, &m.later_than, &m.not_before]
        .into_iter()
        .flatten()
    {
        if !captured.contains(name) {
            let hint = did_you_mean(name, captured.iter().map(String::as_str))
                .map(|b| format!("did you mean `{b}`?"));
            return Err(Problem::of(
                format!("`{what}` refers to capture `{name}`, which no earlier step captures"),
                hint,
            ));
        }
    }
    let empty = m.equals.is_none()
        && m.one_of.is_none()
        && m.present.is_none()
        && m.absent.is_none()
        && m.kind.is_none()
        && m.pattern.is_none()
        && m.same_as.is_none()
        && m.different_from.is_none()
        && m.later_than.is_none()
        && m.not_before.is_none();
    if empty {
        return Err(Problem::of(
            format!("the matcher for `{what}` checks nothing"),
            None,
        ));
    }
    Ok(())
}

/// What a call reads exists: the names its templates use (in its body, headers and matchers),
/// and the fields of the answers its matchers and captures read.
pub(super) fn check_reads(
    operation: &crate::spec::Operation,
    body: &Body,
    headers: &BTreeMap<String, String>,
    outcomes: &[Outcome],
    capture: &BTreeMap<String, String>,
    captured: &BTreeSet<String>,
) -> Result<(), Problem> {
    for (name, source) in capture {
        if !(source.starts_with("body.") || source.starts_with("header.")) {
            return Err(Problem::of(
                format!("capture `{name}` reads `{source}`; write body.FIELD or header.NAME"),
                None,
            ));
        }
    }
    let mut texts: Vec<&str> = Vec::new();
    match body {
        Body::Fields(b) => b.values().for_each(|v| strings(v, &mut texts)),
        Body::Raw(raw) => texts.push(raw),
        Body::Size(_) => {}
    }
    texts.extend(headers.values().map(String::as_str));
    for o in outcomes {
        for m in o.body.values().chain(o.headers.values()) {
            m.equals
                .iter()
                .chain(m.one_of.iter().flatten())
                .for_each(|v| strings(v, &mut texts));
        }
    }
    check_templates(texts, captured)?;
    read_paths(operation, outcomes, capture)
}

/// What one matcher reads: the captures it compares with, and the templates in its values.
fn matcher_reads<'m>(m: &'m Matcher, names: &mut BTreeSet<String>, texts: &mut Vec<&'m str>) {
    for n in [&m.same_as, &m.different_from, &m.later_than, &m.not_before]
        .into_iter()
        .flatten()
    {
        names.insert(n.clone());
    }
    m.equals
        .iter()
        .chain(m.one_of.iter().flatten())
        .for_each(|v| strings(v, texts));
}

/// The captures an action reads: the names its templates use (builtins too, which no step
/// sets, so they never make a dependency), and those its matchers and `when` compare with.
pub(super) fn reads_of(action: &Action) -> BTreeSet<String> {
    let mut texts: Vec<&str> = Vec::new();
    let mut names = BTreeSet::new();
    match action {
        Action::Call(c) => {
            match &c.body {
                Body::Fields(b) => b.values().for_each(|v| strings(v, &mut texts)),
                Body::Raw(raw) => texts.push(raw),
                Body::Size(_) => {}
            }
            texts.extend(c.headers.values().map(String::as_str));
            for o in &c.outcomes {
                for m in o.body.values().chain(o.headers.values()) {
                    matcher_reads(m, &mut names, &mut texts);
                }
                for (n, m) in &o.when {
                    matcher_reads(m, &mut names, &mut texts);
                    names.insert(n.clone());
                }
            }
        }
        Action::AdvanceClockTo(t) => texts.push(&t.at),
        Action::CreateUser(u) => {
            texts.push(&u.username);
            texts.extend(u.password.as_deref());
        }
        Action::RevokeRefreshToken(t) => texts.push(t),
        Action::AdvanceClock(_) | Action::SetLifespans(_) | Action::BorrowRefreshToken(_) => {}
    }
    for text in texts {
        // Checked at load: a template that does not parse was refused before this.
        for u in crate::case::template::uses(text).unwrap_or_default() {
            names.insert(u.name);
        }
    }
    names
}

/// Every string inside a JSON value.
pub(super) fn strings<'v>(v: &'v Value, out: &mut Vec<&'v str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Object(map) => map.values().for_each(|i| strings(i, out)),
        _ => {}
    }
}

/// Every template in `texts` reads a name that exists when the step runs (a builtin, or a
/// capture of an earlier step) through filters that exist; `(message, hint)` when not.
pub(super) fn check_templates<'t>(
    texts: impl IntoIterator<Item = &'t str>,
    captured: &BTreeSet<String>,
) -> Result<(), Problem> {
    use crate::case::template::{BUILTINS, FILTERS, uses};
    for text in texts {
        let found = uses(text).map_err(|e| Problem::of(e.to_string(), None))?;
        for u in found {
            if !BUILTINS.contains(&u.name.as_str()) && !captured.contains(&u.name) {
                let known = captured
                    .iter()
                    .map(String::as_str)
                    .chain(BUILTINS.iter().copied());
                let hint = did_you_mean(&u.name, known).map(|b| format!("did you mean `{b}`?"));
                return Err(Problem::of(
                    format!(
                        "`{{{{ {} }}}}` names nothing: no earlier step captures `{}`",
                        u.name, u.name
                    ),
                    hint.or_else(|| {
                        Some("capture it in an earlier step (capture: {NAME: body.FIELD})".into())
                    }),
                ));
            }
            if let Some(f) = u.filters.iter().find(|f| !FILTERS.contains(&f.as_str())) {
                let hint = did_you_mean(f, FILTERS.iter().copied())
                    .map(|b| format!("did you mean `{b}`?"))
                    .unwrap_or_else(|| format!("the filters are {}", FILTERS.join(", ")));
                return Err(Problem::of(
                    format!("`{{{{ {} | {f} }}}}`: no filter `{f}`", u.name),
                    Some(hint),
                ));
            }
        }
    }
    Ok(())
}

/// The documented answers of `operation` that an outcome allows.
pub(super) fn docs_of<'o>(
    operation: &'o crate::spec::Operation,
    outcome: &Outcome,
) -> Vec<&'o crate::spec::ResponseDoc> {
    outcome
        .statuses()
        .filter_map(|s| operation.response(s))
        .collect()
}

/// What is wrong with a body path read from any of `docs`: the first doc's problem, when
/// every one of them has one.
pub(super) fn path_problem(docs: &[&crate::spec::ResponseDoc], path: &str) -> Option<Problem> {
    let problems: Vec<_> = docs.iter().map(|d| d.path_problem(path)).collect();
    if problems.is_empty() || problems.iter().any(Option::is_none) {
        return None;
    }
    problems.into_iter().flatten().next()
}

/// The body paths a call reads (matchers, captures) exist in the answers it expects.
pub(super) fn read_paths(
    operation: &crate::spec::Operation,
    outcomes: &[Outcome],
    capture: &BTreeMap<String, String>,
) -> Result<(), Problem> {
    for o in outcomes {
        let docs = docs_of(operation, o);
        for path in o.body.keys() {
            if let Some(Problem {
                message: m,
                hint: h,
            }) = path_problem(&docs, path)
            {
                return Err(Problem::of(format!("the matcher `{path}`: {m}"), h));
            }
        }
    }
    // A capture is taken from whatever matching outcome came, so from any of them.
    let docs: Vec<_> = outcomes
        .iter()
        .flat_map(|o| docs_of(operation, o))
        .collect();
    for (name, source) in capture {
        if let Some(path) = source.strip_prefix("body.")
            && let Some(Problem {
                message: m,
                hint: h,
            }) = path_problem(&docs, path)
        {
            return Err(Problem::of(
                format!("capture `{name}` reads `{source}`: {m}"),
                h,
            ));
        }
    }
    Ok(())
}
