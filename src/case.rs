//! The YAML case format and its loader.
//!
//! A case is one file under `cases/`: an id, a title, tags, a severity, the requirement it
//! tests, the capabilities it needs, and ordered steps. The format is documented in
//! `cases/README.md` and described for editors by `cases/case.schema.json`.
//!
//! Loading is strict: unknown keys and duplicate keys are errors, every error names the file
//! and line, misspelled keys and operationIds get a "did you mean".

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_saphyr::Spanned;

use crate::duration::Span;
use crate::error::{Error, ErrorKind, Place, did_you_mean};
use crate::spec::Spec;
use crate::target::{Capability, Need};

pub use crate::spec::Severity;

/// How a step encodes its request body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// `application/json`.
    #[default]
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// `multipart/form-data`.
    Multipart,
}

impl Encoding {
    /// The name used in case files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Form => "form",
            Self::Multipart => "multipart",
        }
    }

    /// Its media type.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Form => "application/x-www-form-urlencoded",
            Self::Multipart => "multipart/form-data",
        }
    }
}

/// JSON types a matcher can require.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JsonType {
    /// A string.
    String,
    /// An integer.
    Integer,
    /// Any number.
    Number,
    /// true or false.
    Boolean,
    /// null.
    Null,
    /// An object.
    Object,
    /// An array.
    Array,
}

impl JsonType {
    /// Whether `v` is of this type.
    pub fn matches(self, v: &Value) -> bool {
        match self {
            Self::String => v.is_string(),
            Self::Integer => v.is_i64() || v.is_u64(),
            Self::Number => v.is_number(),
            Self::Boolean => v.is_boolean(),
            Self::Null => v.is_null(),
            Self::Object => v.is_object(),
            Self::Array => v.is_array(),
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Null => "null",
            Self::Object => "object",
            Self::Array => "array",
        }
    }
}

/// A regular expression, compiled once when the case is loaded.
#[derive(Clone, Debug)]
pub struct Pattern(pub regex::Regex);

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        regex::Regex::new(&s)
            .map(Pattern)
            .map_err(|e| serde::de::Error::custom(format!("pattern `{s}` does not compile: {e}")))
    }
}

/// `Some(value)` even for `null`, so `equals: null` means "is null", not "no matcher".
fn some_value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// What one field must be. Several keys in one matcher must all hold.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    /// Equal to this value (strings are templates).
    #[serde(default, deserialize_with = "some_value")]
    pub equals: Option<Value>,
    /// Equal to one of these values.
    #[serde(default)]
    pub one_of: Option<Vec<Value>>,
    /// Present (any value, null included) when true; absent when false.
    #[serde(default)]
    pub present: Option<bool>,
    /// Absent when true.
    #[serde(default)]
    pub absent: Option<bool>,
    /// Of this JSON type.
    #[serde(default, rename = "type")]
    pub kind: Option<JsonType>,
    /// A string matching this regular expression (unanchored; anchor it yourself).
    #[serde(default)]
    pub pattern: Option<Pattern>,
    /// Equal to an earlier capture.
    #[serde(default)]
    pub same_as: Option<String>,
    /// Different from an earlier capture.
    #[serde(default)]
    pub different_from: Option<String>,
    /// A date-time strictly later than an earlier capture's.
    #[serde(default)]
    pub later_than: Option<String>,
    /// A date-time no earlier than an earlier capture's.
    #[serde(default)]
    pub not_before: Option<String>,
    /// Absence is fine; when present, the other keys apply.
    #[serde(default)]
    pub optional: bool,
    /// `should`: what the matcher wants is what the contract prefers, not what it requires
    /// (the wording of an error's `detail`, say); a mismatch is a warning (`expect.preferred`).
    #[serde(default)]
    pub severity: Severity,
}

/// A status or a set of statuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statuses(pub Vec<u16>);

impl<'de> Deserialize<'de> for Statuses {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let one = |v: &Value| {
            v.as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .filter(|n| (100..=599).contains(n))
        };
        let list = match &v {
            Value::Array(items) => items.iter().map(one).collect::<Option<Vec<u16>>>(),
            other => one(other).map(|s| vec![s]),
        };
        match list {
            Some(l) if !l.is_empty() => Ok(Self(l)),
            _ => Err(serde::de::Error::custom(format!(
                "status must be an HTTP status code or a list of them, not {v}"
            ))),
        }
    }
}

/// One acceptable outcome of a step.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// Acceptable statuses.
    #[serde(default)]
    pub status: Option<Statuses>,
    /// A refusal: any 4xx is conformant (a 2xx or 5xx fails), these statuses are the ones the
    /// contract prefers (another 4xx is a warning), and the request must change nothing (the
    /// case's tokens are checked afterwards). Instead of `status`.
    #[serde(default)]
    pub refused: Option<Statuses>,
    /// Matchers on body fields, by dotted path (`detail`, `a.b`).
    #[serde(default)]
    pub body: BTreeMap<String, Matcher>,
    /// Matchers on headers, by name (case-insensitive).
    #[serde(default)]
    pub headers: BTreeMap<String, Matcher>,
    /// This outcome conforms, but is not what the contract prefers: when it is the one that
    /// matches, the step warns (`expect.preferred`) with this text.
    #[serde(default)]
    pub warn: Option<String>,
}

impl Outcome {
    /// The statuses this outcome names: those it accepts, or those a refusal prefers.
    pub fn statuses(&self) -> impl Iterator<Item = u16> + '_ {
        self.status
            .iter()
            .chain(&self.refused)
            .flat_map(|s| s.0.iter().copied())
    }

    /// Whether this outcome is a refusal of the request's input.
    pub fn is_refusal(&self) -> bool {
        self.refused.is_some()
    }
}

/// What a call step expects: one outcome, or any of several where the contract allows two.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Acceptable statuses.
    #[serde(default)]
    pub status: Option<Statuses>,
    /// A refusal, with the statuses the contract prefers (see [`Outcome::refused`]).
    #[serde(default)]
    pub refused: Option<Statuses>,
    /// Matchers on body fields.
    #[serde(default)]
    pub body: BTreeMap<String, Matcher>,
    /// Matchers on headers.
    #[serde(default)]
    pub headers: BTreeMap<String, Matcher>,
    /// Alternatives: the step passes when any one of them matches (the first that does
    /// decides the warnings).
    #[serde(default)]
    pub one_of: Vec<Outcome>,
}

impl Expect {
    /// The alternatives, as a list (a plain expectation is a list of one).
    pub fn outcomes(&self) -> Vec<Outcome> {
        if self.one_of.is_empty() {
            vec![Outcome {
                status: self.status.clone(),
                refused: self.refused.clone(),
                body: self.body.clone(),
                headers: self.headers.clone(),
                warn: None,
            }]
        } else {
            self.one_of.clone()
        }
    }
}

/// Lifespans to set through the control protocol.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SetLifespans {
    /// Refresh token lifespan in days.
    #[serde(default)]
    pub refresh_token_days: Option<u32>,
    /// Access token lifespan in hours.
    #[serde(default)]
    pub access_token_hours: Option<u32>,
}

/// A user to create through the control protocol.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Username (a template).
    pub username: String,
    /// Password (a template); not for SSO users.
    #[serde(default)]
    pub password: Option<String>,
    /// An SSO user.
    #[serde(default)]
    pub sso: bool,
    /// Capture the new user's id under this name.
    #[serde(default)]
    pub capture_id: Option<String>,
}

/// A step as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepFile {
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

/// A refresh token of the profile's user, lent by the run's pool for one case.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Borrow {
    /// Captures from the token object: name -> `body.FIELD`.
    pub capture: BTreeMap<String, String>,
}

/// A point to move the target's clock to: a date-time (a template, usually a captured
/// `token_expires_at`) plus an offset.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockTarget {
    /// The date-time.
    pub at: String,
    /// Added to it (`-1s`, `1s`).
    #[serde(default)]
    pub offset: Span,
}

/// The request body of a call.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    /// Fields, encoded per the step's encoding; string values are templates.
    Fields(serde_json::Map<String, Value>),
    /// These exact bytes (a template), for malformed bodies.
    Raw(String),
    /// This many bytes of filler, for size limits.
    Size(usize),
}

/// A call to an operation.
#[derive(Clone, Debug)]
pub struct Call {
    /// The operationId.
    pub operation: String,
    /// A method other than the one the contract documents, sent to the operation's path: the
    /// contract says nothing of the answer, so only what holds of every request is judged.
    pub method: Option<String>,
    /// The body encoding.
    pub encoding: Encoding,
    /// Extra request headers (values are templates).
    pub headers: BTreeMap<String, String>,
    /// The body.
    pub body: Body,
    /// Overrides the encoding's content type (`""` sends none).
    pub content_type: Option<String>,
    /// The acceptable outcomes (one, or the alternatives of `one_of`), resolved at load time.
    pub outcomes: Vec<Outcome>,
    /// Captures: name -> `body.PATH` or `header.NAME`.
    pub capture: BTreeMap<String, String>,
}

impl Call {
    /// Whether some acceptable outcome allows `status` (an outcome without a status allows
    /// any; a refusal allows every 4xx).
    pub fn accepts_status(&self, status: u16) -> bool {
        self.outcomes.iter().any(|o| match (&o.status, &o.refused) {
            (Some(s), _) => s.0.contains(&status),
            (None, Some(_)) => (400..500).contains(&status),
            (None, None) => true,
        })
    }

    /// The statuses the step names, in order, without repeats.
    pub fn expected_statuses(&self) -> Vec<u16> {
        let mut out: Vec<u16> = Vec::new();
        for s in self.outcomes.iter().flat_map(Outcome::statuses) {
            if !out.contains(&s) {
                out.push(s);
            }
        }
        out
    }

    /// Whether every outcome of the step is a refusal of its input.
    pub fn expects_refusal(&self) -> bool {
        !self.outcomes.is_empty() && self.outcomes.iter().all(Outcome::is_refusal)
    }
}

/// What a step does.
#[derive(Clone, Debug)]
pub enum Action {
    /// Call an operation of the API.
    Call(Box<Call>),
    /// Move the target's clock (capability `clock`).
    AdvanceClock(Span),
    /// Set lifespans (capability `lifespans`).
    SetLifespans(SetLifespans),
    /// Create a user (capability `users`).
    CreateUser(CreateUser),
    /// Revoke a refresh token as an admin (capability `revoke_refresh_token`); a template.
    RevokeRefreshToken(String),
    /// Borrow a refresh token from the run's pool.
    BorrowRefreshToken(Borrow),
    /// Move the target's clock to a date-time (capability `clock`).
    AdvanceClockTo(ClockTarget),
}

impl Action {
    /// The capability this step needs, if any.
    pub fn needs(&self) -> Option<Capability> {
        match self {
            Self::Call(_) | Self::BorrowRefreshToken(_) => None,
            Self::AdvanceClock(_) | Self::AdvanceClockTo(_) => Some(Capability::Clock),
            Self::SetLifespans(_) => Some(Capability::Lifespans),
            Self::CreateUser(_) => Some(Capability::Users),
            Self::RevokeRefreshToken(_) => Some(Capability::RevokeRefreshToken),
        }
    }
}

/// One step, with its place in the file.
#[derive(Clone, Debug)]
pub struct Step {
    /// 1-based index in the case.
    pub index: usize,
    /// A short label ("step 3: createAPIAccessToken" when unnamed).
    pub label: String,
    /// Line in the file.
    pub line: u64,
    /// What it does.
    pub action: Action,
}

/// The case file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    id: String,
    title: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    severity: Severity,
    requirement: String,
    #[serde(default)]
    needs: Vec<Need>,
    steps: Vec<Spanned<StepFile>>,
}

/// A loaded, checked case.
#[derive(Clone, Debug)]
pub struct Case {
    /// Stable id, e.g. `refresh.create.success`.
    pub id: String,
    /// One line saying what it shows.
    pub title: String,
    /// Tags for `--tag`.
    pub tags: Vec<String>,
    /// MUST or SHOULD.
    pub severity: Severity,
    /// The requirement it tests (a reference into the contract or docs/decisions.md).
    pub requirement: String,
    /// What it needs of the target: declared, plus what its steps need.
    pub needs: BTreeSet<Need>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// The file it came from (for a generated case, the contract it was generated from).
    pub file: PathBuf,
    /// Generated from the contract (`generated.*`), not written in a case file.
    pub generated: bool,
}

impl Case {
    /// Whether the case changes state that other cases see (clock, lifespans) and so must run
    /// alone.
    pub fn is_exclusive(&self) -> bool {
        self.needs.iter().any(|c| c.is_global())
    }

    /// How many refresh tokens it borrows from the run's pool.
    pub fn borrows(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s.action, Action::BorrowRefreshToken(_)))
            .count()
    }
}

fn case_error(file: &Path, line: Option<u64>, message: impl Into<String>) -> Error {
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
    let mut needs: BTreeSet<Need> = raw.needs.into_iter().collect();
    // A template naming the SSO user needs one; no declaration can forget it.
    if text.contains("sso.username") {
        needs.insert(Need::SsoUser);
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
        needs,
        steps,
        file: file.to_owned(),
        generated: false,
    })
}

fn step(
    s: StepFile,
    index: usize,
    line: u64,
    file: &Path,
    spec: &Spec,
    captured: &mut BTreeSet<String>,
) -> Result<Step, Error> {
    let err = |m: String| case_error(file, Some(line), m);
    one_action(&s, index).map_err(|(m, hint)| err(m).hint(hint))?;
    let name = s.name.clone();
    let action = match s.call.clone() {
        Some(op) => call(s, op, index, file, line, spec, captured)?,
        None => other_action(s, index, spec, captured).map_err(err)?,
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
    Ok(Step {
        index,
        label,
        line,
        action,
    })
}

const ACTIONS: &str = "call, advance_clock, advance_clock_to, set_lifespans, create_user, revoke_refresh_token, borrow_refresh_token";

/// A step does exactly one thing; `(message, hint)` when it does none or several.
fn one_action(s: &StepFile, index: usize) -> Result<(), (String, String)> {
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
        0 => Err((
            format!("step {index} does nothing"),
            format!("give one of: {ACTIONS}"),
        )),
        _ => Err((
            format!("step {index} has more than one action"),
            format!("one step does one of: {ACTIONS}"),
        )),
    }
}

/// A `call:` step, checked against the operation the contract documents.
fn call(
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
        misspelled_field(fields, operation)
            .map_err(|(m, hint)| err(format!("step {index}: {m}")).hint(hint))?;
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
    let outcomes =
        outcomes(&expect, operation, captured, s.method.is_some()).map_err(|(m, hint)| {
            let e = err(format!("step {index}{m}"));
            match hint {
                Some(h) => e.hint(h),
                None => e,
            }
        })?;
    let with_hint = |m: String, hint: Option<String>| {
        let e = err(format!("step {index}: {m}"));
        match hint {
            Some(h) => e.hint(h),
            None => e,
        }
    };
    check_reads(
        operation, &body, &s.headers, &outcomes, &s.capture, captured,
    )
    .map_err(|(m, h)| with_hint(m, h))?;
    captured.extend(s.capture.keys().cloned());
    let method = match s.method {
        Some(m) => Some(
            method_name(&m, operation)
                .map_err(|(m, hint)| err(format!("step {index}: {m}")).hint(hint))?,
        ),
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
const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
];

/// `method:` upper-cased, when it is an HTTP method other than the operation's own.
fn method_name(m: &str, operation: &crate::spec::Operation) -> Result<String, (String, String)> {
    let upper = m.to_ascii_uppercase();
    if !METHODS.contains(&upper.as_str()) {
        return Err((
            format!("`method: {m}` is not an HTTP method"),
            format!("one of {}", METHODS.join(", ")),
        ));
    }
    if upper == operation.method {
        return Err((
            format!("`method: {m}` is the method {} documents", operation.id),
            "leave `method` out to call the operation as documented".into(),
        ));
    }
    Ok(upper)
}

/// A body field the operation does not declare but that is one typo away from one it does.
/// Fields far from any declared one pass: cases send unknown fields on purpose (they must be
/// ignored).
fn misspelled_field(
    fields: &serde_json::Map<String, Value>,
    operation: &crate::spec::Operation,
) -> Result<(), (String, String)> {
    let declared = &operation.request_fields;
    for name in fields.keys().filter(|k| !declared.contains(k)) {
        if let Some(best) = did_you_mean(name, declared.iter().map(String::as_str)) {
            return Err((
                format!("{} takes no field `{name}`", operation.id),
                format!("did you mean `{best}`?"),
            ));
        }
    }
    Ok(())
}

/// The request body of a call; `None` when more than one kind is given.
fn body(
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
fn outcomes(
    expect: &Expect,
    operation: &crate::spec::Operation,
    captured: &BTreeSet<String>,
    other_method: bool,
) -> Result<Vec<Outcome>, (String, Option<String>)> {
    if !expect.one_of.is_empty()
        && (expect.status.is_some()
            || expect.refused.is_some()
            || !expect.body.is_empty()
            || !expect.headers.is_empty())
    {
        return Err((
            ": `expect` has both `one_of` and its own status/body".into(),
            Some("put every alternative inside one_of".into()),
        ));
    }
    let outcomes = expect.outcomes();
    for outcome in &outcomes {
        let statuses = match (&outcome.status, &outcome.refused) {
            (Some(s), None) => s,
            (None, Some(r)) => {
                if let Some(s) = r.0.iter().find(|s| !(400..500).contains(*s)) {
                    return Err((
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
                return Err((
                    ": an outcome has both `status` and `refused`".into(),
                    Some("`refused` already accepts every 4xx; give one of them".into()),
                ));
            }
            // The contract documents no answer to another method: any but a 5xx will do.
            (None, None) if other_method => &Statuses(Vec::new()),
            (None, None) => {
                return Err((
                    ": every expected outcome needs a status (or `refused`)".into(),
                    None,
                ));
            }
        };
        let documented = |s: &u16| other_method || operation.documents(*s);
        if let Some(status) = statuses.0.iter().find(|s| !documented(s)) {
            let documented: Vec<String> = operation.responses.keys().map(u16::to_string).collect();
            return Err((
                format!(
                    " expects {status} from {}, which the contract does not document",
                    operation.id
                ),
                Some(format!("documented: {}", documented.join(", "))),
            ));
        }
        for (what, m) in outcome.body.iter().chain(&outcome.headers) {
            check_matcher(m, what, captured).map_err(|m| (format!(": {m}"), None))?;
        }
    }
    Ok(outcomes)
}

/// A step other than a call.
fn other_action(
    s: StepFile,
    index: usize,
    spec: &Spec,
    captured: &mut BTreeSet<String>,
) -> Result<Action, String> {
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
    check_templates(texts, captured).map_err(|(m, hint)| match hint {
        Some(h) => format!("step {index}: {m} ({h})"),
        None => format!("step {index}: {m}"),
    })?;
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
        return Err(format!(
            "step {index}: encoding, headers, body, expect and capture go with `call`"
        ));
    }
    if let Some(span) = s.advance_clock {
        return Ok(Action::AdvanceClock(span));
    }
    if let Some(l) = s.set_lifespans {
        if l == SetLifespans::default() {
            return Err(format!("step {index}: set_lifespans sets nothing"));
        }
        if l.refresh_token_days == Some(0) || l.access_token_hours == Some(0) {
            return Err(format!("step {index}: a lifespan must be at least 1"));
        }
        return Ok(Action::SetLifespans(l));
    }
    if let Some(u) = s.create_user {
        if !u.sso && u.password.is_none() {
            return Err(format!(
                "step {index}: create_user needs a password unless sso is true"
            ));
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
        .ok_or_else(|| format!("step {index} does nothing"))
}

fn check_matcher(m: &Matcher, what: &str, captured: &BTreeSet<String>) -> Result<(), String> {
    for name in [&m.same_as, &m.different_from, &m.later_than, &m.not_before]
        .into_iter()
        .flatten()
    {
        if !captured.contains(name) {
            let hint = did_you_mean(name, captured.iter().map(String::as_str))
                .map(|b| format!(" (did you mean `{b}`?)"))
                .unwrap_or_default();
            return Err(format!(
                "`{what}` refers to capture `{name}`, which no earlier step captures{hint}"
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
        return Err(format!("the matcher for `{what}` checks nothing"));
    }
    Ok(())
}

/// What a call reads exists: the names its templates use (in its body, headers and matchers),
/// and the fields of the answers its matchers and captures read.
fn check_reads(
    operation: &crate::spec::Operation,
    body: &Body,
    headers: &BTreeMap<String, String>,
    outcomes: &[Outcome],
    capture: &BTreeMap<String, String>,
    captured: &BTreeSet<String>,
) -> Result<(), (String, Option<String>)> {
    for (name, source) in capture {
        if !(source.starts_with("body.") || source.starts_with("header.")) {
            return Err((
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

/// A `borrow_refresh_token` step: its captures read fields of a refresh token object.
fn borrow(
    b: Borrow,
    index: usize,
    spec: &Spec,
    captured: &mut BTreeSet<String>,
) -> Result<Action, String> {
    if let Some((name, source)) = b.capture.iter().find(|(_, src)| !src.starts_with("body.")) {
        return Err(format!(
            "step {index}: borrow_refresh_token captures `{name}` from `{source}`; write body.FIELD"
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
        if let Some((m, hint)) = object.and_then(|d| d.path_problem(path)) {
            let hint = hint.map(|h| format!(" ({h})")).unwrap_or_default();
            return Err(format!(
                "step {index}: borrow_refresh_token captures `{name}` from `{source}`: {m}{hint}"
            ));
        }
    }
    captured.extend(b.capture.keys().cloned());
    Ok(Action::BorrowRefreshToken(b))
}

/// Every string inside a JSON value.
fn strings<'v>(v: &'v Value, out: &mut Vec<&'v str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Object(map) => map.values().for_each(|i| strings(i, out)),
        _ => {}
    }
}

/// Every template in `texts` reads a name that exists when the step runs (a builtin, or a
/// capture of an earlier step) through filters that exist; `(message, hint)` when not.
fn check_templates<'t>(
    texts: impl IntoIterator<Item = &'t str>,
    captured: &BTreeSet<String>,
) -> Result<(), (String, Option<String>)> {
    use crate::run::template::{BUILTINS, FILTERS, uses};
    for text in texts {
        let found = uses(text).map_err(|e| (e.to_string(), None))?;
        for u in found {
            if !BUILTINS.contains(&u.name.as_str()) && !captured.contains(&u.name) {
                let known = captured
                    .iter()
                    .map(String::as_str)
                    .chain(BUILTINS.iter().copied());
                let hint = did_you_mean(&u.name, known).map(|b| format!("did you mean `{b}`?"));
                return Err((
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
                return Err((
                    format!("`{{{{ {} | {f} }}}}`: no filter `{f}`", u.name),
                    Some(hint),
                ));
            }
        }
    }
    Ok(())
}

/// The documented answers of `operation` that an outcome allows.
fn docs_of<'o>(
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
fn path_problem(
    docs: &[&crate::spec::ResponseDoc],
    path: &str,
) -> Option<(String, Option<String>)> {
    let problems: Vec<_> = docs.iter().map(|d| d.path_problem(path)).collect();
    if problems.is_empty() || problems.iter().any(Option::is_none) {
        return None;
    }
    problems.into_iter().flatten().next()
}

/// The body paths a call reads (matchers, captures) exist in the answers it expects.
fn read_paths(
    operation: &crate::spec::Operation,
    outcomes: &[Outcome],
    capture: &BTreeMap<String, String>,
) -> Result<(), (String, Option<String>)> {
    for o in outcomes {
        let docs = docs_of(operation, o);
        for path in o.body.keys() {
            if let Some((m, h)) = path_problem(&docs, path) {
                return Err((format!("the matcher `{path}`: {m}"), h));
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
            && let Some((m, h)) = path_problem(&docs, path)
        {
            return Err((format!("capture `{name}` reads `{source}`: {m}"), h));
        }
    }
    Ok(())
}

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
pub fn id_from_path(dir: &Path, file: &Path) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{BUNDLED_SPEC, BUNDLED_SPEC_NAME};

    fn spec() -> Spec {
        Spec::parse(BUNDLED_SPEC, Path::new(BUNDLED_SPEC_NAME)).expect("spec")
    }

    const GOOD: &str = "\
id: refresh.create
title: Create
tags: [smoke]
requirement: createRefreshToken answers 201
steps:
  - call: createRefreshToken
    encoding: form
    body:
      username: '{{ profile.username }}'
      password: '{{ profile.password }}'
      name: '{{ run.unique }}'
    expect:
      status: 201
      body:
        token_status: {equals: ACTIVE}
        last_used_at: {equals: null}
    capture:
      refresh: body.refresh_token
  - advance_clock: 25h
  - call: validateRefreshToken
    body: {refresh_token: '{{ refresh }}', user_id: 1}
    expect:
      one_of:
        - status: 401
        - status: 200
          body:
            token_status: {one_of: [EXPIRED, REVOKED]}
            refresh_token: {same_as: refresh}
";

    /// A case author's slips are the case's errors, found at load time with the line and a
    /// suggestion, never a run's failure of the target.
    #[test]
    fn template_capture_and_matcher_slips_are_case_errors() {
        let cases = [
            (
                GOOD.replace(
                    "refresh_token: '{{ refresh }}'",
                    "refresh_token: '{{ refesh }}'",
                ),
                "`{{ refesh }}` names nothing",
                Some("did you mean `refresh`?"),
            ),
            (
                GOOD.replace("refresh: body.refresh_token", "refresh: body.refresh_tokn"),
                "capture `refresh` reads `body.refresh_tokn`: the answer declares no field `refresh_tokn`",
                Some("did you mean `refresh_token`?"),
            ),
            (
                GOOD.replace(
                    "token_status: {equals: ACTIVE}",
                    "token_stauts: {equals: ACTIVE}",
                ),
                "the matcher `token_stauts`: the answer declares no field `token_stauts`",
                Some("did you mean `token_status`?"),
            ),
            (
                GOOD.replace("'{{ run.unique }}'", "'{{ refresh }}'"),
                "`{{ refresh }}` names nothing: no earlier step captures `refresh`",
                None,
            ),
            (
                GOOD.replace("'{{ run.unique }}'", "'{{ run.unique | shout }}'"),
                "no filter `shout`",
                None,
            ),
        ];
        for (text, message, hint) in cases {
            let e = parse(&text, Path::new("slip.yaml"), &spec()).expect_err(message);
            assert!(e.to_string().contains(message), "{e}");
            assert!(e.place.as_ref().is_some_and(|p| p.line.is_some()), "{e}");
            if let Some(h) = hint {
                assert_eq!(e.hint.as_deref(), Some(h), "{e}");
            }
        }
        // An error's `detail`, misspelt: the Error schema is what a refusal answers.
        let detail = GOOD.replace(
            "        - status: 401\n",
            "        - status: 401\n          body: {detial: {type: string}}\n",
        );
        let e = parse(&detail, Path::new("slip.yaml"), &spec()).expect_err("detial");
        assert_eq!(e.hint.as_deref(), Some("did you mean `detail`?"), "{e}");
    }

    #[test]
    fn a_good_case_loads_with_its_needs() {
        let c = parse(GOOD, Path::new("good.yaml"), &spec()).expect("loads");
        assert_eq!(c.steps.len(), 3);
        assert_eq!(c.steps[1].line, 19);
        assert!(c.needs.contains(&Need::Capability(Capability::Clock)));
        assert!(c.is_exclusive());
        let Action::Call(call) = &c.steps[0].action else {
            panic!("call")
        };
        assert_eq!(call.encoding, Encoding::Form);
        assert_eq!(
            call.outcomes[0].body["last_used_at"].equals,
            Some(Value::Null)
        );
        let Action::Call(v) = &c.steps[2].action else {
            panic!("call")
        };
        assert_eq!(v.outcomes.len(), 2);
    }

    fn error_of(text: &str) -> Error {
        parse(text, Path::new("bad.yaml"), &spec()).expect_err("should fail")
    }

    #[test]
    fn misspelled_keys_and_operations_get_suggestions_with_lines() {
        let e = error_of(&GOOD.replace("      status: 201", "      stauts: 201"));
        assert_eq!(e.place.as_ref().and_then(|p| p.line), Some(13), "{e}");
        assert_eq!(e.hint.as_deref(), Some("did you mean `status`?"), "{e}");

        let e = error_of(&GOOD.replace("call: createRefreshToken", "call: createRefreshTokn"));
        assert_eq!(e.place.as_ref().and_then(|p| p.line), Some(6), "{e}");
        assert_eq!(
            e.hint.as_deref(),
            Some("did you mean `createRefreshToken`?"),
            "{e}"
        );

        let e = error_of(&GOOD.replace("encoding: form", "encoding: xml"));
        assert!(e.message.contains("xml"), "{e}");
    }

    #[test]
    fn semantic_mistakes_are_errors() {
        for (from, to, needle) in [
            (
                "      status: 201",
                "      status: 204",
                "does not document",
            ),
            (
                "same_as: refresh",
                "same_as: refesh",
                "did you mean `refresh`",
            ),
            (
                "  - advance_clock: 25h",
                "  - advance_clock: 25",
                "needs a unit",
            ),
            ("  - advance_clock: 25h", "  - {}", "does nothing"),
            (
                "title: Create\n",
                "title: Create\ntitle: Again\n",
                "duplicate",
            ),
            (
                "        token_status: {equals: ACTIVE}",
                "        token_status: {}",
                "checks nothing",
            ),
            (
                "      refresh: body.refresh_token",
                "      refresh: refresh_token",
                "body.FIELD",
            ),
            (
                "      name: '{{ run.unique }}'",
                "      nmae: '{{ run.unique }}'",
                "did you mean `name`",
            ),
        ] {
            assert!(GOOD.contains(from), "{from}");
            let e = error_of(&GOOD.replace(from, to));
            assert!(
                e.to_string()
                    .to_lowercase()
                    .contains(&needle.to_lowercase()),
                "{from}: {e}"
            );
            assert_eq!(e.kind, ErrorKind::Case);
        }
    }

    #[test]
    fn ids_follow_file_paths() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir(dir.path().join("area")).expect("mkdir");
        let good = GOOD.replace("id: refresh.create", "id: area.create.form");
        std::fs::write(dir.path().join("area/create.form.yaml"), &good).expect("write");
        assert_eq!(load_dir(dir.path(), &spec()).expect("loads").len(), 1);
        std::fs::write(dir.path().join("area/other.yaml"), &good).expect("write");
        let errors = load_dir(dir.path(), &spec()).expect_err("id off its path");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(
            errors[0].hint.as_deref(),
            Some("write `id: area.other`, or rename the file after the id")
        );
        // The place is the `id:` line, wherever it stands.
        let late = format!("# a comment first\n{good}");
        std::fs::write(dir.path().join("area/other.yaml"), late).expect("write");
        let errors = load_dir(dir.path(), &spec()).expect_err("id off its path");
        assert_eq!(errors[0].place.as_ref().and_then(|p| p.line), Some(2));
    }

    /// The editor schema in `cases/` accepts every shipped case and refuses what the loader refuses.
    #[test]
    fn editor_schema_agrees_with_the_loader() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let schema: Value = serde_json::from_str(
            &std::fs::read_to_string(root.join("cases/case.schema.json")).expect("schema"),
        )
        .expect("schema is JSON");
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft7)
            .build(&schema)
            .expect("schema compiles");
        let cases = load_dir(&root.join("cases"), &spec()).expect("shipped cases load");
        assert!(cases.len() >= 30);
        for c in &cases {
            let text = std::fs::read_to_string(&c.file).expect("read");
            let doc: Value = crate::yaml::parse(&text, &c.file, ErrorKind::Case).expect("yaml");
            let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{}: {errors:?}", c.file.display());
        }
        for bad in [
            GOOD.replace("      status: 201", "      stauts: 201"),
            GOOD.replace(
                "  - advance_clock: 25h",
                "  - advance_clock: 25h\n    call: validateRefreshToken",
            ),
            GOOD.replace("encoding: form", "encoding: xml"),
        ] {
            let doc: Value =
                crate::yaml::parse(&bad, Path::new("b.yaml"), ErrorKind::Case).expect("yaml");
            assert!(!validator.is_valid(&doc), "schema accepts: {bad}");
            assert!(
                parse(&bad, Path::new("b.yaml"), &spec()).is_err(),
                "loader accepts: {bad}"
            );
        }
    }
}

/// Property tests: whatever the text of a case file, loading it gives a case or an error,
/// never a panic.
#[cfg(test)]
mod properties {
    use super::*;
    use crate::spec::{BUNDLED_SPEC, BUNDLED_SPEC_NAME};
    use proptest::prelude::*;
    use std::sync::LazyLock;

    static SPEC: LazyLock<Spec> =
        LazyLock::new(|| Spec::parse(BUNDLED_SPEC, Path::new(BUNDLED_SPEC_NAME)).expect("spec"));

    /// The built-in case files, as starting points for mutations.
    fn real_cases() -> Vec<&'static str> {
        crate::builtin::CASES
            .iter()
            .filter(|(path, _)| path.ends_with(".yaml"))
            .map(|(_, text)| *text)
            .collect()
    }

    /// Pieces of YAML and of the case language that mutations splice in.
    const PIECES: &[&str] = &[
        "",
        " ",
        "\n",
        "\t",
        ":",
        "- ",
        "{",
        "}",
        "[",
        "]",
        "'",
        "\"",
        "#",
        "&a",
        "*a",
        "!!str",
        "{{",
        "}}",
        "{{ run.unique }}",
        "{{ nope }}",
        "| string",
        "status: ",
        "body:",
        "expect:",
        "call: ",
        "steps:",
        "id: ",
        "null",
        "~",
        "-1",
        "1e999",
        "99999999999999999999",
        "😀",
        "\u{0}",
        "\r",
        "advance_clock: ",
        "25h",
        "capture:",
        "matches: '('",
        "later_than: ",
    ];

    /// One mutation: cut a range, splice in a piece, or duplicate a range.
    fn mutate(text: &str, at: usize, len: usize, piece: &str, kind: u8) -> String {
        let chars: Vec<char> = text.chars().collect();
        let at = at % (chars.len() + 1);
        let end = (at + len).min(chars.len());
        let (head, tail) = (&chars[..at], &chars[end..]);
        let middle: String = match kind % 3 {
            0 => String::new(),
            1 => piece.to_owned(),
            _ => chars[at..end].iter().chain(&chars[at..end]).collect(),
        };
        head.iter().collect::<String>() + &middle + &tail.iter().collect::<String>()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn any_text_loads_or_errs(text in any::<String>()) {
            let _ = parse(&text, Path::new("cases/x.yaml"), &SPEC);
        }

        #[test]
        fn mutated_real_cases_load_or_err(
            which in any::<prop::sample::Index>(),
            edits in prop::collection::vec(
                (any::<usize>(), 0usize..40, prop::sample::select(PIECES), any::<u8>()),
                1..6,
            ),
        ) {
            let cases = real_cases();
            let mut text = which.get(&cases).to_string();
            for (at, len, piece, kind) in edits {
                text = mutate(&text, at, len, piece, kind);
            }
            if let Err(e) = parse(&text, Path::new("cases/x.yaml"), &SPEC) {
                // An error always says where.
                prop_assert!(e.to_string().contains("cases/x.yaml"), "{e}");
            }
        }
    }
}
