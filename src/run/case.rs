//! Runs one case: its steps in order, every response judged by the named checks and by the
//! case's expectations, captures fed to later steps; then hands borrowed tokens back to the
//! pool and what the case learnt of its tokens to the run's inventory.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::Value;

use crate::case::template::{Crowding, Scope, TemplateError, render_str};
use crate::case::{Action, Case, Step};
use crate::check::{CONTROL, Finding, IssuedTokens, Ledger, Lifespans, Origin, SETUP};
use crate::duration::Span;
use crate::run::api::Api;
use crate::run::call::{Left, run_call, text_of};
use crate::run::cleanup::Inventory;
use crate::run::control::Control;
use crate::run::error::{ApiError, ControlError};
use crate::run::fixtures::Fixtures;
use crate::run::http::Http;
use crate::run::matcher::lookup;
use crate::run::pool::{Lent, Pool};
use crate::run::result::{CaseResult, StepResult, Verdict};
use crate::run::steps;
use crate::spec::{Spec, TokenKind};
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
    /// What the run set up for its cases.
    pub fixtures: &'a Fixtures,
    /// The refresh tokens cases borrow.
    pub pool: &'a Pool,
    /// What the cases learnt of their tokens, for the clean-up.
    pub inventory: &'a Inventory,
    /// What a case has changed on the target and not yet put back (only the cases that run
    /// alone change it): shared, so that an interrupted run can still put it back.
    pub undo: &'a std::sync::Mutex<Undo>,
}

/// The target's state a case changed: how far it moved the clock, whether it set lifespans.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Undo {
    /// How far the clock was moved.
    pub moved: Span,
    /// Whether the lifespans were set.
    pub lifespans: bool,
}

impl Env<'_> {
    /// The changes not yet put back.
    pub(crate) fn undo(&self) -> std::sync::MutexGuard<'_, Undo> {
        self.undo
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Env<'_> {
    /// The run's own client of the API.
    pub(crate) fn api(&self) -> Api<'_> {
        Api {
            spec: self.spec,
            http: self.http,
            target: self.target,
        }
    }
}

/// What a case's run leaves behind besides its result.
#[derive(Default)]
pub struct Traces {
    /// (operationId, status) pairs seen.
    pub exercised: Vec<(String, u16)>,
    /// Some request failed to connect at all.
    pub connect_failed: bool,
    /// The case used the control protocol.
    pub used_control: bool,
}

/// The target's profile lifespans.
fn profile_lifespans(t: &Target) -> Lifespans {
    Lifespans {
        refresh: t.refresh_lifespan,
        access: t.access_lifespan,
    }
}

/// What one case's steps share as it runs.
pub(super) struct CaseState<'e> {
    pub(super) env: &'e Env<'e>,
    pub(super) unique: String,
    pub(super) name: String,
    pub(super) captures: BTreeMap<String, Value>,
    pub(super) ledger: Ledger,
    pub(super) traces: Traces,
    /// Tokens lent by the pool, not yet taken by a borrow step.
    pub(super) loan: Vec<Lent>,
    /// Tokens taken by borrow steps.
    pub(super) borrowed: Vec<String>,
    /// The target did something to the case's tokens the ledger cannot know (it took a
    /// request the case expected refused, or a refusal changed a token): the borrowed tokens
    /// do not go back to the pool, so no other case inherits the damage.
    pub(super) tainted: bool,
}

/// A near miss must not land on another token of the run (a counter's neighbours).
impl Crowding for IssuedTokens {
    fn crowded(&self, value: &str) -> bool {
        IssuedTokens::crowded(self, value)
    }
}

impl<'e> CaseState<'e> {
    /// What templates in a step can draw on.
    pub(super) fn scope(&self) -> Scope<'_> {
        Scope {
            username: &self.env.target.username,
            password: self.env.target.password.expose(),
            sso_username: self.env.fixtures.sso_username.as_deref(),
            other_user_id: self.env.fixtures.other_user_id,
            other_login: self
                .env
                .fixtures
                .other_login
                .as_ref()
                .map(|(u, p)| (u.as_str(), p.expose())),
            unique: &self.unique,
            name: &self.name,
            run_id: self.env.run_id,
            captures: &self.captures,
            issued: Some(self.env.issued),
        }
    }

    pub(super) fn text(&self, template: &str) -> Result<String, TemplateError> {
        render_str(template, &self.scope()).map(text_of)
    }

    pub(super) fn control(&mut self) -> Result<&'e Control, ControlError> {
        self.traces.used_control = true;
        self.env.control.ok_or(ControlError::Absent)
    }

    /// The target's clock offset from the harness's, as far as the run knows it.
    pub(super) fn target_clock(&self) -> Option<Span> {
        self.env
            .fixtures
            .clock_offset
            .map(|o| Span::from_micros(o.micros().saturating_add(self.ledger.moved().micros())))
    }
}

/// Runs `case` (the `index`-th selected case) to its verdict.
pub async fn run_case(env: &Env<'_>, case: &Case, index: usize) -> (CaseResult, Traces) {
    let started = Instant::now();
    let mut state = CaseState {
        env,
        unique: format!("{}-{index}", env.run_id),
        name: format!("token-conformance {} {}", env.run_id, case.id),
        captures: BTreeMap::new(),
        ledger: Ledger::new(
            profile_lifespans(env.target),
            (
                env.target.refresh_lifespan_from,
                env.target.access_lifespan_from,
            ),
            &env.target.username,
        ),
        traces: Traces::default(),
        loan: Vec::new(),
        borrowed: Vec::new(),
        tainted: false,
    };
    let mut result = CaseResult {
        unique: state.unique.clone(),
        ..describe(case, Verdict::Passed)
    };
    // An SSO user the profile does not name came from the control protocol.
    state.traces.used_control |=
        case.needs.contains(&crate::target::Need::SsoUser) && env.target.sso_username.is_none();
    let api = env.api();
    let loan = match case.borrows() {
        0 => None,
        n => match env.pool.borrow(&api, env.issued, n).await {
            Ok(loan) => Some(loan),
            Err(e) => {
                let f = Finding::new(
                    SETUP,
                    format!("no refresh token to lend the case: {}", with_hint(&e)),
                );
                result.record(StepResult::finding("borrow refresh tokens", f));
                return (finish(result, started), state.traces);
            }
        },
    };
    if let Some(l) = &loan {
        state.loan = l.tokens.iter().rev().cloned().collect();
    }
    for (i, step) in case.steps.iter().enumerate() {
        let (step_result, left) = run_step(case, step, &mut state).await;
        result.record(step_result);
        if let Some(why) = ends_case(&case.steps[i + 1..], step, &left) {
            if i + 1 < case.steps.len() {
                result.stopped = Some(why);
            }
            break;
        }
    }
    // Leave the target as the case found it, so later cases see the profile's settings.
    if let Some(problem) = steps::restore(&mut state).await {
        result.record(StepResult::finding(
            "restore the target's clock and lifespans",
            Finding::new(CONTROL, problem),
        ));
    }
    hand_back(&state).await;
    drop(loan);
    (finish(result, started), state.traces)
}

fn finish(mut result: CaseResult, started: Instant) -> CaseResult {
    result.millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    result
}

/// Gives the pool back what the case borrowed (its live successors), offers it the live
/// tokens the case created for the profile's user, and tells the inventory what it learnt.
async fn hand_back(state: &CaseState<'_>) {
    let env = state.env;
    let api = env.api();
    let facts = state.ledger.facts();
    let tolerance = env.target.tolerance;
    let alive = |value: &str| {
        state
            .ledger
            .expected(value, tolerance)
            .is_none_or(|e| !e.is_dead())
    };
    for lent in &state.borrowed {
        let latest = state.ledger.latest(lent);
        if state.tainted {
            env.pool.drop_dead();
            continue;
        }
        match facts.iter().find(|f| f.value == latest) {
            // Untouched also when the case regenerated it: the successor is as fresh as a
            // cleaned token (nothing minted from it, never used), so cleaning it again would
            // only cost two requests.
            Some(f) if alive(&latest) && state.ledger.untouched(&latest) => {
                env.pool.give_back_untouched(Lent {
                    body: f.body.clone(),
                    issued: f.issued,
                });
                // The pool holds it again: the clean-up counts it there, not here.
                env.inventory
                    .retire(&latest, crate::run::pool::Returned::Kept);
            }
            Some(f) if alive(&latest) => {
                let token = Lent {
                    body: f.body.clone(),
                    issued: f.issued,
                };
                let returned = env.pool.give_back(&api, env.issued, token).await;
                if returned.accounted() {
                    env.inventory.retire(&latest, returned);
                }
            }
            _ => env.pool.drop_dead(),
        }
    }
    let borrowed_latest: Vec<String> = state
        .borrowed
        .iter()
        .map(|b| state.ledger.latest(b))
        .collect();
    // The live end of every line of tokens the case made for the profile's user.
    let mut donors: Vec<String> = facts
        .iter()
        .filter(|_| !state.tainted)
        .filter(|f| {
            f.kind == TokenKind::Refresh && f.origin == (Origin::Issued { by_profile: true })
        })
        .map(|f| state.ledger.latest(&f.value))
        .filter(|v| !borrowed_latest.contains(v) && alive(v))
        .collect();
    donors.sort();
    donors.dedup();
    for value in donors {
        let Some(f) = facts.iter().find(|f| f.value == value) else {
            continue;
        };
        let token = Lent {
            body: f.body.clone(),
            issued: f.issued,
        };
        if let Some(returned) = env.pool.donate(&api, env.issued, token).await
            && returned.accounted()
        {
            env.inventory.retire(&value, returned);
        }
    }
    env.inventory.add(facts);
}

/// Whether the steps after `step` cannot run on what it left, and why. A step's failure ends
/// the case only when a later step depends on it: it reads a capture the step did not give, or
/// it is about the tokens of an effect the step was to have (a regeneration that did not
/// happen). Everything else goes on, so one finding never hides the next (a wrong wording, a
/// mistyped input taken, a refusal with another status).
fn ends_case(later: &[Step], step: &Step, left: &Left) -> Option<String> {
    if left.broken {
        return Some(format!("{} got no usable answer", step.label));
    }
    if let Some(name) = left
        .missing
        .iter()
        .find(|n| later.iter().any(|s| s.reads.contains(*n)))
    {
        return Some(format!(
            "{} did not give `{name}`, which a later step reads",
            step.label
        ));
    }
    if left.undone && later.iter().any(|s| !s.reads.is_disjoint(&step.reads)) {
        return Some(format!(
            "{} did not do what later steps about the same tokens take as done",
            step.label
        ));
    }
    None
}

/// Runs one step; returns its result and what it leaves later steps.
async fn run_step(case: &Case, step: &Step, state: &mut CaseState<'_>) -> (StepResult, Left) {
    let mut result = StepResult::new(step.label.clone(), step.line);
    let left = match &step.action {
        Action::Call(call) => {
            let place = format!("{} {}", case.id, step.label);
            run_call(call, &place, state, &mut result).await
        }
        Action::BorrowRefreshToken(b) => match take_loan(state, &b.capture) {
            Ok(()) => Left::default(),
            Err(e) => {
                result.findings.push(Finding::new(SETUP, with_hint(&e)));
                Left::broken()
            }
        },
        other => match steps::control_step(other, state).await {
            Ok(()) => Left::default(),
            Err(e) => {
                result.findings.push(Finding::new(CONTROL, e.to_string()));
                Left::broken()
            }
        },
    };
    (result, left)
}

/// A borrow step: the next lent token enters the ledger, and its fields the captures.
fn take_loan(
    state: &mut CaseState<'_>,
    capture: &BTreeMap<String, String>,
) -> Result<(), ApiError> {
    let lent = state.loan.pop().ok_or(ApiError::OverBorrowed)?;
    let shape = state.env.pool.shape.clone();
    let value = state.env.pool.value(&lent.body).map(str::to_owned);
    for (name, source) in capture {
        let path = source.strip_prefix("body.").unwrap_or(source);
        let found = lookup(&Value::Object(lent.body.clone()), path).cloned();
        let v = found.ok_or_else(|| ApiError::LentTokenLacks(source.clone()))?;
        state.captures.insert(name.clone(), v);
    }
    state.ledger.adopt(&shape, lent.body, lent.issued);
    state.borrowed.extend(value);
    Ok(())
}

/// The error's message and, when its cause suggests one, what to do about it.
fn with_hint(e: &ApiError) -> String {
    match e.hint() {
        Some(h) => format!("{e} ({h})"),
        None => e.to_string(),
    }
}

/// A result that describes `case`, with no steps yet.
fn describe(case: &Case, verdict: Verdict) -> CaseResult {
    CaseResult {
        id: case.id.clone(),
        title: case.title.clone(),
        file: case.file.display().to_string(),
        severity: case.severity,
        requirement: case.requirement.clone(),
        sources: case.sources.clone(),
        tags: case.tags.clone(),
        needs: case.needs.iter().map(|c| c.name().to_owned()).collect(),
        verdict,
        skip_reason: None,
        stopped: None,
        steps: Vec::new(),
        millis: 0,
        unique: String::new(),
        used_control: false,
        generated: case.generated,
    }
}

/// A result for a case that was not run.
pub fn skipped(case: &Case, reason: String) -> CaseResult {
    CaseResult {
        skip_reason: Some(reason),
        ..describe(case, Verdict::Skipped)
    }
}
