//! One call step of a case: its request rendered from the templates, sent (waiting out a
//! bounded Retry-After), judged by the checks and the case's expectations, followed up when it
//! was a refusal, and its captures taken for later steps.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::case::template::TemplateError;
use crate::case::template::{Scope, render, render_str};
use crate::case::{Body, Call};
use crate::check::{
    self, CAPTURE, CLIENT_ERROR_KEPT, EXPECT_STATUS, Finding, Judged, RATE_LIMITED, TRANSPORT,
};
use crate::encoding::{decode, encode};
use crate::run::case::CaseState;
use crate::run::matcher::{Against, expect_findings, lookup};
use crate::run::result::StepResult;
use crate::run::unchanged;
use crate::spec::Operation;
use crate::wire::{self, TransportError};

/// A call's request after templating.
struct Rendered {
    /// The body's fields (empty for raw and filler bodies), as the checks see the request.
    fields: Map<String, Value>,
    bytes: Vec<u8>,
    headers: Vec<(String, String)>,
}

pub(super) fn text_of(v: Value) -> String {
    match v {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

fn render_request(call: &Call, scope: &Scope<'_>) -> Result<Rendered, TemplateError> {
    let default_type = encode(call.encoding, &Map::new()).0;
    let (fields, content_type, bytes) = match &call.body {
        Body::Fields(f) => {
            let fields = match render(&Value::Object(f.clone()), scope)? {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            let (ct, bytes) = encode(call.encoding, &fields);
            (fields, ct, bytes)
        }
        Body::Raw(raw) => {
            let bytes = text_of(render_str(raw, scope)?).into_bytes();
            let ct = call.content_type.as_deref().unwrap_or(&default_type);
            (decode(ct, &bytes), default_type.clone(), bytes)
        }
        Body::Size(n) => (Map::new(), default_type, vec![b'a'; *n]),
    };
    let mut headers = Vec::new();
    let ct = call.content_type.clone().unwrap_or(content_type);
    if !ct.is_empty() {
        headers.push(("Content-Type".to_owned(), ct));
    }
    for (k, v) in &call.headers {
        headers.push((k.clone(), text_of(render_str(v, scope)?)));
    }
    Ok(Rendered {
        fields,
        bytes,
        headers,
    })
}

/// What a step leaves the steps after it.
#[derive(Debug, Default)]
pub(super) struct Left {
    /// Nothing usable came back (no answer, or no request could be made): the case stops.
    pub(super) broken: bool,
    /// Captures the step should have set and did not.
    pub(super) missing: Vec<String>,
    /// The step was to do what its operation's effects say (a success was expected) and its
    /// answer says it did not: later steps about the same tokens would judge a premise that
    /// does not hold.
    pub(super) undone: bool,
}

impl Left {
    /// Nothing usable came back.
    pub(super) fn broken() -> Self {
        Self {
            broken: true,
            ..Self::default()
        }
    }
}

/// Runs one call step; `place` names it ("case-id step N: ...") for the uniqueness check.
/// Returns what it leaves later steps.
pub(super) async fn run_call(
    call: &Call,
    place: &str,
    state: &mut CaseState<'_>,
    result: &mut StepResult,
) -> Left {
    let env = state.env;
    let Ok(operation) = env.spec.operation(&call.operation) else {
        // Cases are checked against the spec at load time; this cannot happen.
        result.findings.push(Finding::new(
            TRANSPORT,
            format!("no operation {}", call.operation),
        ));
        return Left::broken();
    };
    result.operation = Some(operation.id.clone());
    let target_clock = state.target_clock();
    let (fields, x) = match send(call, operation, state, result).await {
        Sent::Exchanged(fields, x) => (fields, x),
        Sent::NotApplicable => return Left::default(),
        Sent::Failed => return Left::broken(),
    };
    let Some(resp) = answer(&x, state, result) else {
        return Left::broken();
    };
    if call.method.is_none() {
        state
            .traces
            .exercised
            .push((operation.id.clone(), resp.status));
    }
    let expected = {
        let scope = state.scope();
        let known = crate::run::matcher::Known {
            captures: &state.captures,
            scope: &scope,
        };
        crate::run::matcher::expected_statuses(&call.outcomes, &known)
    };
    let judging = Judged {
        spec: env.spec,
        operation,
        request: &x.request,
        response: resp,
        body: &resp.body,
        other_method: call.method.is_some(),
        fields: &fields,
        tolerance: env.target.tolerance,
        place,
        expected: &expected,
        sent_at: x.started,
        target_clock,
    };
    let (findings, json) = check::judge(&judging, &mut state.ledger, env.issued);
    result.findings.extend(findings.into_vec());
    let scope = state.scope();
    let against = Against {
        resp,
        json: json.as_ref(),
        enums: operation.response(resp.status).map(|d| &d.enum_fields),
        captures: &state.captures,
        scope: &scope,
    };
    let expectations = expect_findings(&call.outcomes, &against);
    let unmatched = expectations.matched.is_none();
    add_one_cause(&mut result.findings, expectations.findings);
    let refused = expectations
        .matched
        .and_then(|i| call.outcomes.get(i))
        .is_some_and(crate::case::Outcome::is_refusal);
    if refused {
        let changed = unchanged::check(state, operation, &fields).await;
        state.tainted |= !changed.is_empty();
        result.findings.extend(changed);
    }
    let refusal_taken = (200..300).contains(&resp.status)
        && !expected.is_empty()
        && expected.iter().all(|s| (400..500).contains(s));
    state.tainted |= refusal_taken;
    Left {
        broken: false,
        missing: capture(call, resp, json.as_ref(), state, result, unmatched),
        undone: unmatched && undone(call, operation, resp.status),
    }
}

/// The exchange's response; when none came, the `transport` finding instead, and a note that
/// the target may have stopped answering (the run asks it once more at its end).
fn answer<'x>(
    x: &'x wire::Exchange,
    state: &mut CaseState<'_>,
    result: &mut StepResult,
) -> Option<&'x wire::Response> {
    match &x.response {
        Ok(r) => Some(r),
        Err(e) => {
            state.traces.connect_failed |=
                e.is_connect() || matches!(e, TransportError::Timeout(_));
            result.findings.push(Finding::new(TRANSPORT, e.to_string()));
            None
        }
    }
}

/// Adds to the step's findings (`said`, the response's checks') those of its expectations
/// that say something more: a refusal expected and a 2xx or 5xx answered is
/// `client_error.kept`'s finding, which says what the target did (accepted it, crashed on it)
/// and why a client cares; the outcome's `expect.status` would say the same with less. One
/// cause, one finding.
fn add_one_cause(said: &mut Vec<Finding>, expectations: Vec<Finding>) {
    let kept = said.iter().any(|f| f.check == CLIENT_ERROR_KEPT.id);
    said.extend(
        expectations
            .into_iter()
            .filter(|f| !(kept && f.check == EXPECT_STATUS.id)),
    );
}

/// Whether a call whose expectations failed did not do what its operation's effects say: a
/// success was expected, the operation has effects, and the answer is not a success.
fn undone(call: &Call, operation: &Operation, status: u16) -> bool {
    let expected_success = call
        .outcomes
        .iter()
        .all(|o| !o.is_refusal() && o.statuses().all(|s| (200..300).contains(&s)));
    expected_success && !operation.effects.is_empty() && !(200..300).contains(&status)
}

/// What came of sending a call's request.
enum Sent {
    /// The request went out: its fields, and the exchange (the step holds it too), answered
    /// or not.
    Exchanged(Map<String, Value>, Arc<wire::Exchange>),
    /// The step's request cannot be made for this target (a filter found nothing to change);
    /// nothing was sent and nothing is judged.
    NotApplicable,
    /// No request could be made (the finding is recorded).
    Failed,
}

/// Renders and sends a call's request.
async fn send(
    call: &Call,
    operation: &Operation,
    state: &mut CaseState<'_>,
    result: &mut StepResult,
) -> Sent {
    let Rendered {
        fields,
        bytes,
        headers,
    } = match render_request(call, &state.scope()) {
        Ok(r) => r,
        Err(TemplateError::NotApplicable(why)) => {
            result.label = format!("{} (not applicable: {why})", result.label);
            return Sent::NotApplicable;
        }
        Err(e) => {
            result.findings.push(Finding::new(CAPTURE, e.to_string()));
            return Sent::Failed;
        }
    };
    let url = format!("{}{}", state.env.target.base_url, operation.path);
    let http = state.env.http;
    // A 429 is kept only where it is under test: a login step that accepts it. Any other 429
    // (a client-wide login throttle tripped by earlier runs from this machine, a gateway's rate
    // limit) and every 503 are waited out, politely, and the request sent again.
    let keep_429 = operation.login.is_some() && call.accepts_status(429);
    let method = call.method.as_deref().unwrap_or(&operation.method);
    let (x, waited) = http
        .send_patiently(method, &url, &headers, bytes, keep_429)
        .await;
    for (status, secs) in waited {
        result.findings.push(Finding::new(
            RATE_LIMITED,
            format!(
                "{} answered {status}; the run waited {secs} s (Retry-After) and sent it again",
                operation.id
            ),
        ));
    }
    result.exchange = Some(Arc::clone(&x));
    Sent::Exchanged(fields, x)
}

/// Takes the call's captures from the response; returns those that found nothing (a finding
/// only when the expectations held, since a wrong answer explains a missing value).
fn capture(
    call: &Call,
    resp: &wire::Response,
    json: Option<&Value>,
    state: &mut CaseState<'_>,
    result: &mut StepResult,
    expectations_failed: bool,
) -> Vec<String> {
    let mut missing = Vec::new();
    for (name, source) in &call.capture {
        let value = if let Some(path) = source.strip_prefix("body.") {
            json.and_then(|j| lookup(j, path)).cloned()
        } else if let Some(h) = source.strip_prefix("header.") {
            resp.header(h).map(|v| Value::String(v.to_owned()))
        } else {
            None
        };
        match value {
            Some(v) => {
                state.captures.insert(name.clone(), v);
            }
            None => {
                if !expectations_failed && missing.is_empty() {
                    result.findings.push(Finding::new(
                        CAPTURE,
                        format!("capture `{name}` found nothing at {source}"),
                    ));
                }
                missing.push(name.clone());
            }
        }
    }
    missing
}
