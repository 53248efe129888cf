//! The case model: what a loaded case is (its steps, calls, expectations and matchers).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::duration::Span;
use crate::encoding::Encoding;
use crate::spec::Severity;
use crate::target::{Capability, Need};

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
    /// The outcome applies only when these earlier captures match (by capture name): a
    /// mistyped `user_id` of `true` that a lax framework reads as 1 may succeed only where the
    /// owner's id is 1.
    #[serde(default)]
    pub when: BTreeMap<String, Matcher>,
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
    pub(crate) fn is_refusal(&self) -> bool {
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
    pub(crate) fn outcomes(&self) -> Vec<Outcome> {
        if self.one_of.is_empty() {
            vec![Outcome {
                status: self.status.clone(),
                refused: self.refused.clone(),
                body: self.body.clone(),
                headers: self.headers.clone(),
                warn: None,
                when: BTreeMap::new(),
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
    pub(crate) fn accepts_status(&self, status: u16) -> bool {
        self.outcomes.iter().any(|o| match (&o.status, &o.refused) {
            (Some(s), _) => s.0.contains(&status),
            (None, Some(_)) => (400..500).contains(&status),
            (None, None) => true,
        })
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
    /// The captures its templates and matchers read: a later step that reads what a failed
    /// step should have given depends on it.
    pub reads: BTreeSet<String>,
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
    /// What the requirement rests on, for a MUST case (the vendor's page, an RFC's MUST, a
    /// real client); a SHOULD case may name none.
    pub sources: Vec<crate::source::Source>,
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
    pub(crate) fn is_exclusive(&self) -> bool {
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
