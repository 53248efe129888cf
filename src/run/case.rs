//! Runs one case: its steps in order, every response judged by the named checks and by the
//! case's expectations, captures fed to later steps.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{Map, Value};

use crate::case::{Action, Body, Call, Case, Step};
use crate::check::{
    self, CAPTURE, CONTROL, Exchange, Finding, IssuedTokens, Ledger, Lifespans, TRANSPORT,
};
use crate::duration::Span;
use crate::run::control::Control;
use crate::run::error::{ControlError, StepError, TemplateError};
use crate::run::http::{Http, Received, TransportError, encode};
use crate::run::matcher::{expect_findings, lookup};
use crate::run::result::{CaseResult, ResponseView, StepResult, Verdict};
use crate::run::template::{Scope, render, render_str};
use crate::spec::{Operation, Spec};
use crate::target::Target;

/// What every case of a run shares.
pub struct Env<'a> {
    /// The contract.
    pub spec: &'a Spec,
    /// The target.
    pub target: &'a Target,
    /// The HTTP client.
    pub http: &'a Http,
    /// The control protocol, when the target has one.
    pub control: Option<&'a Control>,
    /// Token values issued so far in the run.
    pub issued: &'a IssuedTokens,
    /// The run's id, for unique names.
    pub run_id: &'a str,
}

/// What a case's run leaves behind besides its result.
#[derive(Default)]
pub struct Traces {
    /// (operationId, status) pairs seen.
    pub exercised: Vec<(String, u16)>,
    /// Some request failed to connect at all.
    pub connect_failed: bool,
}

/// The target's profile lifespans.
pub fn profile_lifespans(t: &Target) -> Lifespans {
    Lifespans {
        refresh: t.refresh_lifespan,
        access: t.access_lifespan,
    }
}

/// What one case's steps share as it runs.
struct CaseState<'e> {
    env: &'e Env<'e>,
    unique: String,
    captures: BTreeMap<String, Value>,
    ledger: Ledger,
    moved: Span,
    lifespans_changed: bool,
    traces: Traces,
}

impl CaseState<'_> {
    /// What templates in a step can draw on.
    fn scope(&self) -> Scope<'_> {
        Scope {
            username: &self.env.target.username,
            password: self.env.target.password.expose(),
            unique: &self.unique,
            run_id: self.env.run_id,
            captures: &self.captures,
        }
    }

    fn text(&self, template: &str) -> Result<String, TemplateError> {
        render_str(template, &self.scope()).map(text_of)
    }

    fn control(&self) -> Result<&Control, ControlError> {
        self.env.control.ok_or(ControlError::Absent)
    }
}

/// Runs `case` (the `index`-th selected case) to its verdict.
pub async fn run_case(env: &Env<'_>, case: &Case, index: usize) -> (CaseResult, Traces) {
    let started = Instant::now();
    let mut state = CaseState {
        env,
        unique: format!("{}-{index}", env.run_id),
        captures: BTreeMap::new(),
        ledger: Ledger::new(profile_lifespans(env.target)),
        moved: Span::default(),
        lifespans_changed: false,
        traces: Traces::default(),
    };
    let mut result = CaseResult {
        unique: state.unique.clone(),
        ..describe(case, Verdict::Passed)
    };
    for step in &case.steps {
        let (step_result, stop) = run_step(case, step, &mut state).await;
        result.record(step_result);
        if stop {
            break;
        }
    }
    // Leave the target as the case found it, so later cases see the profile's settings.
    if let Some(problem) = restore(&mut state).await {
        result.record(StepResult::finding(
            "restore the target's clock and lifespans",
            Finding::new(CONTROL, problem),
        ));
    }
    result.millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    (result, state.traces)
}

/// Runs one step; returns its result and whether the case must stop here.
async fn run_step(case: &Case, step: &Step, state: &mut CaseState<'_>) -> (StepResult, bool) {
    let mut result = StepResult::new(step.label.clone(), step.line);
    let stop = match &step.action {
        Action::Call(call) => {
            let place = format!("{} {}", case.id, step.label);
            run_call(call, &place, state, &mut result).await
        }
        other => match control_step(other, state).await {
            Ok(()) => false,
            Err(e) => {
                result.findings.push(Finding::new(CONTROL, e.to_string()));
                true
            }
        },
    };
    (result, stop)
}

/// A result that describes `case`, with no steps yet.
fn describe(case: &Case, verdict: Verdict) -> CaseResult {
    CaseResult {
        id: case.id.clone(),
        title: case.title.clone(),
        file: case.file.display().to_string(),
        severity: case.severity,
        requirement: case.requirement.clone(),
        tags: case.tags.clone(),
        needs: case.needs.iter().map(|c| c.name().to_owned()).collect(),
        verdict,
        skip_reason: None,
        steps: Vec::new(),
        millis: 0,
        unique: String::new(),
    }
}

/// A result for a case that was not run.
pub fn skipped(case: &Case, reason: String) -> CaseResult {
    CaseResult {
        skip_reason: Some(reason),
        ..describe(case, Verdict::Skipped)
    }
}

/// A call's request after templating.
struct Rendered {
    /// The body's fields (empty for raw and filler bodies), as the checks see the request.
    fields: Map<String, Value>,
    bytes: Vec<u8>,
    headers: Vec<(String, String)>,
}

fn text_of(v: Value) -> String {
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
        Body::Raw(raw) => (
            Map::new(),
            default_type,
            text_of(render_str(raw, scope)?).into_bytes(),
        ),
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

/// Runs one call step; `place` names it ("case-id step N: ...") for the uniqueness check.
/// Returns whether the case must stop here.
async fn run_call(
    call: &Call,
    place: &str,
    state: &mut CaseState<'_>,
    result: &mut StepResult,
) -> bool {
    let env = state.env;
    let Ok(operation) = env.spec.operation(&call.operation) else {
        // Cases are checked against the spec at load time; this cannot happen.
        result.findings.push(Finding::new(
            TRANSPORT,
            format!("no operation {}", call.operation),
        ));
        return true;
    };
    result.operation = Some(operation.id.clone());
    let Some((fields, resp)) = send(call, operation, state, result).await else {
        return true;
    };
    state
        .traces
        .exercised
        .push((operation.id.clone(), resp.status));
    result.response = Some(ResponseView::from(&resp));
    let exchange = Exchange {
        spec: env.spec,
        operation,
        request: &fields,
        status: resp.status,
        headers: &resp.headers,
        body: &resp.body,
        tolerance: env.target.tolerance,
        place,
    };
    let (findings, json) = check::judge(&exchange, &mut state.ledger, env.issued);
    result.findings.extend(findings.into_vec());
    let expect = expect_findings(
        &call.outcomes,
        &resp,
        json.as_ref(),
        &state.captures,
        &state.scope(),
    );
    let stop = !expect.is_empty();
    result.findings.extend(expect);
    capture(call, &resp, json.as_ref(), state, result, stop) || stop
}

/// Renders and sends a call's request; `None` (with a finding) when no response came.
async fn send(
    call: &Call,
    operation: &Operation,
    state: &mut CaseState<'_>,
    result: &mut StepResult,
) -> Option<(Map<String, Value>, Received)> {
    let Rendered {
        fields,
        bytes,
        headers,
    } = match render_request(call, &state.scope()) {
        Ok(r) => r,
        Err(e) => {
            result.findings.push(Finding::new(CAPTURE, e.to_string()));
            return None;
        }
    };
    let url = format!("{}{}", state.env.target.base_url, operation.path);
    let (sent, received) = state
        .env
        .http
        .send(&operation.method, &url, &headers, bytes)
        .await;
    result.request = Some(sent);
    match received {
        Ok(r) => Some((fields, r)),
        Err(e) => {
            state.traces.connect_failed |=
                e.is_connect() || matches!(e, TransportError::Timeout(_));
            result.findings.push(Finding::new(TRANSPORT, e.to_string()));
            None
        }
    }
}

/// Takes the call's captures from the response; returns whether one found nothing (reported
/// only when the expectations held, since a wrong answer explains a missing value).
fn capture(
    call: &Call,
    resp: &Received,
    json: Option<&Value>,
    state: &mut CaseState<'_>,
    result: &mut StepResult,
    expectations_failed: bool,
) -> bool {
    let mut missing = false;
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
            None if !expectations_failed && !missing => {
                result.findings.push(Finding::new(
                    CAPTURE,
                    format!("capture `{name}` found nothing at {source}"),
                ));
                missing = true;
            }
            None => {}
        }
    }
    missing
}

async fn control_step(action: &Action, state: &mut CaseState<'_>) -> Result<(), StepError> {
    let control = state.control()?;
    match action {
        Action::Call(_) => Ok(()),
        Action::AdvanceClock(by) => {
            control.advance(by.as_secs_f64()).await?;
            state.moved = Span::from_micros(state.moved.micros().saturating_add(by.micros()));
            state.ledger.clock_moved(*by);
            Ok(())
        }
        Action::SetLifespans(l) => {
            let (days, hours) = control
                .set_lifespans(l.refresh_token_days, l.access_token_hours)
                .await?;
            state.lifespans_changed = true;
            state.ledger.set_lifespans(Lifespans {
                refresh: Span::from_secs(i64::from(days) * 86_400),
                access: Span::from_secs(i64::from(hours) * 3_600),
            });
            Ok(())
        }
        Action::CreateUser(u) => {
            let username = state.text(&u.username)?;
            let password = u.password.as_deref().map(|p| state.text(p)).transpose()?;
            let answer = control
                .create_user(&username, password.as_deref(), u.sso)
                .await?;
            if let Some(name) = &u.capture_id {
                let id = answer.get("user_id").cloned().ok_or_else(|| {
                    ControlError::Malformed(format!(
                        "the control protocol's user answer has no user_id: {answer}"
                    ))
                })?;
                state.captures.insert(name.clone(), id);
            }
            Ok(())
        }
        Action::RevokeRefreshToken(t) => {
            let token = state.text(t)?;
            control.revoke_refresh_token(&token).await?;
            state.ledger.admin_revoked(&token);
            Ok(())
        }
    }
}

async fn restore(state: &mut CaseState<'_>) -> Option<String> {
    let control = state.env.control?;
    let target = state.env.target;
    let mut problems = Vec::new();
    if state.moved != Span::default()
        && let Err(e) = control.advance(-state.moved.as_secs_f64()).await
    {
        problems.push(e.to_string());
    }
    if state.lifespans_changed {
        let days = u32::try_from(target.refresh_lifespan.micros() / 86_400_000_000).unwrap_or(60);
        let hours = u32::try_from(target.access_lifespan.micros() / 3_600_000_000).unwrap_or(24);
        if let Err(e) = control.set_lifespans(Some(days), Some(hours)).await {
            problems.push(e.to_string());
        }
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}
