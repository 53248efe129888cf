//! Reading one case file: the file format (`CaseFile`, `StepFile`) and the step-by-step
//! checks against the contract that make a mistake a load error with file:line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;

use super::model::{
    Action, Body, Borrow, Call, Case, ClockTarget, CreateUser, Expect, Outcome, SetLifespans,
    Statuses, Step,
};
use super::validate::{check_matcher, check_reads, check_templates};
use crate::duration::Span;
use crate::encoding::Encoding;
use crate::error::{Error, ErrorKind, Place, Problem, did_you_mean};
use crate::source::Source;
use crate::spec::Severity;
use crate::spec::Spec;
use crate::target::Need;

/// A step as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StepFile {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    call: Option<Spanned<String>>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    encoding: Option<Encoding>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    raw_body: Option<String>,
    #[serde(default)]
    body_size: Option<usize>,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    expect: Option<Expect>,
    #[serde(default)]
    capture: BTreeMap<String, String>,
    #[serde(default)]
    advance_clock: Option<Span>,
    #[serde(default)]
    set_lifespans: Option<SetLifespans>,
    #[serde(default)]
    create_user: Option<CreateUser>,
    #[serde(default)]
    revoke_refresh_token: Option<String>,
    #[serde(default)]
    borrow_refresh_token: Option<Borrow>,
    #[serde(default)]
    advance_clock_to: Option<ClockTarget>,
}

/// The case file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CaseFile {
    id: String,
    title: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    severity: Severity,
    requirement: String,
    /// What a MUST case rests on: one source or a list (`crate::source::Source`).
    #[serde(default)]
    source: OneOrMany<String>,
    #[serde(default)]
    needs: Vec<Need>,
    steps: Vec<Spanned<StepFile>>,
}

/// One value or a list of them, as YAML allows either.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        Self::Many(Vec::new())
    }
}

impl<T> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            Self::One(t) => vec![t],
            Self::Many(v) => v,
        }
    }
}

pub(super) fn case_error(file: &Path, line: Option<u64>, message: impl Into<String>) -> Error {
    let place = match line {
        Some(l) => Place::line(file, l),
        None => Place::file(file),
    };
    Error::new(ErrorKind::Case, message).at(place)
}

/// Parses one case file and checks it against the contract.
pub fn parse(text: &str, file: &Path, spec: &Spec) -> Result<Case, Error> {
    let raw: CaseFile = crate::yaml::parse(text, file, ErrorKind::Case)?;
    if raw.id.trim().is_empty() || raw.id.contains(char::is_whitespace) {
        return Err(case_error(
            file,
            Some(1),
            format!("case id `{}` must be non-empty without spaces", raw.id),
        ));
    }
    if raw.steps.is_empty() {
        return Err(case_error(file, None, "a case needs at least one step"));
    }
    let source_line = text
        .lines()
        .position(|l| l.starts_with("source:"))
        .map_or(1, |i| u64::try_from(i).unwrap_or(0) + 1);
    let sources = raw
        .source
        .into_vec()
        .iter()
        .map(|s| Source::parse(s))
        .collect::<Result<Vec<Source>, _>>()
        .map_err(|e| case_error(file, Some(source_line), e.message).hint_if(e.hint))?;
    if sources.contains(&Source::Case) {
        return Err(case_error(
            file,
            Some(source_line),
            "`case` is what the engine's expectation checks point to, not a case's own source",
        )
        .hint("name vendor-page, an RFC's MUST, or client:NAME"));
    }
    if raw.severity == Severity::Must && !sources.iter().any(Source::is_concrete) {
        return Err(case_error(file, Some(1), "a MUST case names no source").hint(
            "give `source:` (vendor-page, an RFC's MUST such as rfc9110#15.6.2, or a real client \
             such as client:allie-sdk), or make it `severity: should`: a MUST rests on what \
             every conformant implementation must do",
        ));
    }
    let mut needs: BTreeSet<Need> = raw.needs.into_iter().collect();
    // A template naming the SSO user needs one; no declaration can forget it.
    if text.contains("sso.username") {
        needs.insert(Need::SsoUser);
    }
    if text.contains("other.username") || text.contains("other.password") {
        needs.insert(Need::OtherAccount);
    }
    let mut steps = Vec::new();
    let mut captured: BTreeSet<String> = BTreeSet::new();
    for (i, spanned) in raw.steps.into_iter().enumerate() {
        let line = spanned.referenced.line();
        let step = step(spanned.value, i + 1, line, file, spec, &mut captured)?;
        if let Some(c) = step.action.needs() {
            needs.insert(Need::Capability(c));
        }
        steps.push(step);
    }
    Ok(Case {
        id: raw.id,
        title: raw.title,
        tags: raw.tags,
        severity: raw.severity,
        requirement: raw.requirement,
        sources,
        needs,
        steps,
        file: file.to_owned(),
        generated: false,
    })
}

pub(super) fn step(
    s: StepFile,
    index: usize,
    line: u64,
    file: &Path,
    spec: &Spec,
    captured: &mut BTreeSet<String>,
) -> Result<Step, Error> {
    let err = |m: String| case_error(file, Some(line), m);
    one_action(&s, index).map_err(|Problem { message: m, hint }| err(m).hint_if(hint))?;
    let name = s.name.clone();
    let action = match s.call.clone() {
        Some(op) => call(s, op, index, file, line, spec, captured)?,
        None => other_action(s, index, spec, captured)
            .map_err(|Problem { message: m, hint }| err(m).hint_if(hint))?,
    };
    let label = match (&name, &action) {
        (Some(n), _) => format!("step {index}: {n}"),
        (None, Action::Call(c)) => format!("step {index}: {}", c.operation),
        (None, Action::AdvanceClock(s)) => format!("step {index}: advance clock {s}"),
        (None, Action::SetLifespans(_)) => format!("step {index}: set lifespans"),
        (None, Action::CreateUser(_)) => format!("step {index}: create user"),
        (None, Action::RevokeRefreshToken(_)) => format!("step {index}: revoke refresh token"),
        (None, Action::BorrowRefreshToken(_)) => format!("step {index}: borrow a refresh token"),
        (None, Action::AdvanceClockTo(t)) => {
            format!("step {index}: move the clock to {} {}", t.at, t.offset)
        }
    };
    let reads = super::validate::reads_of(&action);
    Ok(Step {
        index,
        label,
        line,
        action,
        reads,
    })
}

pub(super) const ACTIONS: &str = "call, advance_clock, advance_clock_to, set_lifespans, create_user, revoke_refresh_token, borrow_refresh_token";

/// A step does exactly one thing; `(message, hint)` when it does none or several.
pub(super) fn one_action(s: &StepFile, index: usize) -> Result<(), Problem> {
    let actions = [
        s.call.is_some(),
        s.advance_clock.is_some(),
        s.set_lifespans.is_some(),
        s.create_user.is_some(),
        s.revoke_refresh_token.is_some(),
        s.borrow_refresh_token.is_some(),
        s.advance_clock_to.is_some(),
    ];
    match actions.iter().filter(|a| **a).count() {
        1 => Ok(()),
        0 => Err(Problem::of(
            format!("step {index} does nothing"),
            format!("give one of: {ACTIONS}"),
        )),
        _ => Err(Problem::of(
            format!("step {index} has more than one action"),
            format!("one step does one of: {ACTIONS}"),
        )),
    }
}

/// A `call:` step, checked against the operation the contract documents.
pub(super) fn call(
    s: StepFile,
    op: Spanned<String>,
    index: usize,
    file: &Path,
    line: u64,
    spec: &Spec,
    captured: &mut BTreeSet<String>,
) -> Result<Action, Error> {
    let err = |m: String| case_error(file, Some(line), m);
    let operation = spec.operation(&op.value).map_err(|e| {
        let mut out = err(e.message.clone());
        out.hint = e.hint;
        out.place = Some(Place::line(file, op.referenced.line()));
        out
    })?;
    let encoding = s.encoding.unwrap_or_default();
    if s.content_type.is_none()
        && !operation
            .request_types
            .iter()
            .any(|t| t == encoding.media_type())
    {
        return Err(err(format!(
            "step {index} sends {} to {}, which the contract does not document it taking",
            encoding.media_type(),
            operation.id
        ))
        .hint("to send an undocumented type on purpose, give content_type"));
    }
    if let Some(fields) = &s.body {
        misspelled_field(fields, operation).map_err(|Problem { message: m, hint }| {
            err(format!("step {index}: {m}")).hint_if(hint)
        })?;
    }
    let body = body(s.body, s.raw_body, s.body_size).ok_or_else(|| {
        err(format!(
            "step {index} gives more than one of body, raw_body, body_size"
        ))
    })?;
    let Some(expect) = s.expect else {
        return Err(err(format!(
            "step {index} calls {} but expects nothing",
            op.value
        ))
        .hint("add `expect:` with at least a status"));
    };
    let outcomes = outcomes(&expect, operation, captured, s.method.is_some())
        .map_err(|p| err(format!("step {index}{}", p.message)).hint_if(p.hint))?;
    check_reads(
        operation, &body, &s.headers, &outcomes, &s.capture, captured,
    )
    .map_err(|p| err(format!("step {index}: {}", p.message)).hint_if(p.hint))?;
    captured.extend(s.capture.keys().cloned());
    let method =
        match s.method {
            Some(m) => Some(method_name(&m, operation).map_err(
                |Problem { message: m, hint }| err(format!("step {index}: {m}")).hint_if(hint),
            )?),
            None => None,
        };
    Ok(Action::Call(Box::new(Call {
        operation: operation.id.clone(),
        method,
        encoding,
        headers: s.headers,
        body,
        content_type: s.content_type,
        outcomes,
        capture: s.capture,
    })))
}

/// The methods a `method:` may name: those HTTP defines for requests to a resource.
pub(super) const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
];

/// `method:` upper-cased, when it is an HTTP method other than the operation's own.
pub(super) fn method_name(m: &str, operation: &crate::spec::Operation) -> Result<String, Problem> {
    let upper = m.to_ascii_uppercase();
    if !METHODS.contains(&upper.as_str()) {
        return Err(Problem::of(
            format!("`method: {m}` is not an HTTP method"),
            format!("one of {}", METHODS.join(", ")),
        ));
    }
    if upper == operation.method {
        return Err(Problem::of(
            format!("`method: {m}` is the method {} documents", operation.id),
            Some("leave `method` out to call the operation as documented".to_owned()),
        ));
    }
    Ok(upper)
}

/// A body field the operation does not declare but that is one typo away from one it does.
/// Fields far from any declared one pass: cases send unknown fields on purpose (they must be
/// ignored).
pub(super) fn misspelled_field(
    fields: &serde_json::Map<String, Value>,
    operation: &crate::spec::Operation,
) -> Result<(), Problem> {
    let declared = &operation.request_fields;
    for name in fields.keys().filter(|k| !declared.contains(k)) {
        if let Some(best) = did_you_mean(name, declared.iter().map(String::as_str)) {
            return Err(Problem::of(
                format!("{} takes no field `{name}`", operation.id),
                format!("did you mean `{best}`?"),
            ));
        }
    }
    Ok(())
}

/// The request body of a call; `None` when more than one kind is given.
pub(super) fn body(
    fields: Option<serde_json::Map<String, Value>>,
    raw: Option<String>,
    size: Option<usize>,
) -> Option<Body> {
    match (fields, raw, size) {
        (None, None, None) => Some(Body::Fields(serde_json::Map::new())),
        (Some(f), None, None) => Some(Body::Fields(f)),
        (None, Some(r), None) => Some(Body::Raw(r)),
        (None, None, Some(n)) => Some(Body::Size(n)),
        _ => None,
    }
}

/// The outcomes of an `expect:`, each with a documented status and matchers that check
/// something; the error is `(message after "step N", hint)`.
pub(super) fn outcomes(
    expect: &Expect,
    operation: &crate::spec::Operation,
    captured: &BTreeSet<String>,
    other_method: bool,
) -> Result<Vec<Outcome>, Problem> {
    if !expect.one_of.is_empty()
        && (expect.status.is_some()
            || expect.refused.is_some()
            || !expect.body.is_empty()
            || !expect.headers.is_empty())
    {
        return Err(Problem::of(
            ": `expect` has both `one_of` and its own status/body",
            Some("put every alternative inside one_of".into()),
        ));
    }
    let outcomes = expect.outcomes();
    for outcome in &outcomes {
        let statuses = match (&outcome.status, &outcome.refused) {
            (Some(s), None) => s,
            (None, Some(r)) => {
                if let Some(s) = r.0.iter().find(|s| !(400..500).contains(*s)) {
                    return Err(Problem::of(
                        format!(": `refused: {s}` names a status that is not a refusal (4xx)"),
                        Some(
                            "a refusal prefers 4xx statuses; expect other answers with `status`"
                                .into(),
                        ),
                    ));
                }
                r
            }
            (Some(_), Some(_)) => {
                return Err(Problem::of(
                    ": an outcome has both `status` and `refused`",
                    Some("`refused` already accepts every 4xx; give one of them".into()),
                ));
            }
            // The contract documents no answer to another method: any but a 5xx will do.
            (None, None) if other_method => &Statuses(Vec::new()),
            (None, None) => {
                return Err(Problem::of(
                    ": every expected outcome needs a status (or `refused`)",
                    None,
                ));
            }
        };
        let documented = |s: &u16| other_method || operation.documents(*s);
        if let Some(status) = statuses.0.iter().find(|s| !documented(s)) {
            let documented: Vec<String> = operation.responses.keys().map(u16::to_string).collect();
            return Err(Problem::of(
                format!(
                    " expects {status} from {}, which the contract does not document",
                    operation.id
                ),
                Some(format!("documented: {}", documented.join(", "))),
            ));
        }
        for (what, m) in outcome.body.iter().chain(&outcome.headers) {
            check_matcher(m, what, captured)
                .map_err(|p| Problem::of(format!(": {}", p.message), p.hint))?;
        }
        for (name, m) in &outcome.when {
            if !captured.contains(name) {
                let hint = did_you_mean(name, captured.iter().map(String::as_str))
                    .map(|b| format!("did you mean `{b}`?"));
                return Err(Problem::of(
                    format!(": `when` names capture `{name}`, which no earlier step captures"),
                    hint,
                ));
            }
            check_matcher(m, name, captured)
                .map_err(|p| Problem::of(format!(": {}", p.message), p.hint))?;
        }
    }
    Ok(outcomes)
}

/// A step other than a call.
pub(super) fn other_action(
    s: StepFile,
    index: usize,
    spec: &Spec,
    captured: &mut BTreeSet<String>,
) -> Result<Action, Problem> {
    let at = |m: String| Problem::of(format!("step {index}: {m}"), None);
    let texts = s
        .advance_clock_to
        .as_ref()
        .map(|t| t.at.as_str())
        .into_iter()
        .chain(
            s.create_user
                .iter()
                .flat_map(|u| std::iter::once(u.username.as_str()).chain(u.password.as_deref())),
        )
        .chain(s.revoke_refresh_token.as_deref());
    check_templates(texts, captured)
        .map_err(|p| Problem::of(format!("step {index}: {}", p.message), p.hint))?;
    let call_only = s.encoding.is_some()
        || s.method.is_some()
        || !s.headers.is_empty()
        || s.body.is_some()
        || s.raw_body.is_some()
        || s.body_size.is_some()
        || s.content_type.is_some()
        || s.expect.is_some()
        || !s.capture.is_empty();
    if call_only {
        return Err(at(
            "encoding, headers, body, expect and capture go with `call`".into(),
        ));
    }
    if let Some(span) = s.advance_clock {
        return Ok(Action::AdvanceClock(span));
    }
    if let Some(l) = s.set_lifespans {
        if l == SetLifespans::default() {
            return Err(at("set_lifespans sets nothing".into()));
        }
        if l.refresh_token_days == Some(0) || l.access_token_hours == Some(0) {
            return Err(at("a lifespan must be at least 1".into()));
        }
        return Ok(Action::SetLifespans(l));
    }
    if let Some(u) = s.create_user {
        if !u.sso && u.password.is_none() {
            return Err(at("create_user needs a password unless sso is true".into()));
        }
        if let Some(c) = &u.capture_id {
            captured.insert(c.clone());
        }
        return Ok(Action::CreateUser(u));
    }
    if let Some(b) = s.borrow_refresh_token {
        return borrow(b, index, spec, captured);
    }
    if let Some(t) = s.advance_clock_to {
        return Ok(Action::AdvanceClockTo(t));
    }
    s.revoke_refresh_token
        .map(Action::RevokeRefreshToken)
        .ok_or_else(|| Problem::of(format!("step {index} does nothing"), None))
}

/// A `borrow_refresh_token` step: its captures read fields of a refresh token object.
pub(super) fn borrow(
    b: Borrow,
    index: usize,
    spec: &Spec,
    captured: &mut BTreeSet<String>,
) -> Result<Action, Problem> {
    if let Some((name, source)) = b.capture.iter().find(|(_, src)| !src.starts_with("body.")) {
        return Err(Problem::of(
            format!(
                "step {index}: borrow_refresh_token captures `{name}` from `{source}`; write body.FIELD"
            ),
            None,
        ));
    }
    // A lent token is a refresh token object, as the contract's answers show one.
    let object = spec
        .operations
        .values()
        .flat_map(|o| o.responses.values())
        .find(|d| {
            d.token
                .as_ref()
                .is_some_and(|t| t.kind == crate::spec::TokenKind::Refresh)
        });
    for (name, source) in &b.capture {
        let path = source.trim_start_matches("body.");
        if let Some(Problem { message: m, hint }) = object.and_then(|d| d.path_problem(path)) {
            return Err(Problem::of(
                format!(
                    "step {index}: borrow_refresh_token captures `{name}` from `{source}`: {m}"
                ),
                hint,
            ));
        }
    }
    captured.extend(b.capture.keys().cloned());
    Ok(Action::BorrowRefreshToken(b))
}
