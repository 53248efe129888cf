//! Running cases against a target: selection, scheduling, and the run's report.
//!
//! Cases run concurrently (at most `jobs` at once), the steps of a case in order. Cases that
//! change state every other case sees (the clock, the lifespans) run afterwards, one at a time,
//! each restoring what it changed, so every result is the one a serial run would give.

mod case;
mod control;
mod error;
mod http;
mod matcher;
mod result;
mod template;

pub use case::{Env, run_case, skipped};
pub use control::Control;
pub use error::{ControlError, RunError, StepError, TemplateError};
pub use http::{Http, Received, SentRequest, TransportError, encode};
pub use result::{CaseResult, ResponseView, RunReport, StepResult, Summary, Verdict};

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use crate::case::Case;
use crate::check::IssuedTokens;
use crate::spec::Spec;
use crate::target::Target;

/// How to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Cases at once.
    pub jobs: usize,
    /// Only cases whose id or title contains this text.
    pub filter: Option<String>,
    /// Only cases with any of these tags.
    pub tags: Vec<String>,
    /// Only the K-th of N stable shares of the cases.
    pub partition: Option<(u32, u32)>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            jobs: 4,
            filter: None,
            tags: Vec::new(),
            partition: None,
        }
    }
}

/// Whether `case` is selected by the filter and tags.
pub fn selected(case: &Case, opts: &Options) -> bool {
    let by_filter = opts.filter.as_deref().is_none_or(|f| {
        let f = f.to_lowercase();
        case.id.to_lowercase().contains(&f) || case.title.to_lowercase().contains(&f)
    });
    let by_tag = opts.tags.is_empty() || case.tags.iter().any(|t| opts.tags.contains(t));
    let by_share = opts
        .partition
        .is_none_or(|(k, n)| share(&case.id, n) == k - 1);
    by_filter && by_tag && by_share
}

/// The share (0..n) a case id falls in: FNV-1a of the id, so it is stable across runs,
/// machines and case order, and adding a case never moves another.
pub fn share(id: &str, n: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    u32::try_from(h % u64::from(n.max(1))).unwrap_or(0)
}

/// A run identifier that makes names unique across runs against one target.
fn run_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "tc{:x}{:x}",
        now.as_millis() % 0xFFFF_FFFF,
        std::process::id() % 0xFFFF
    )
}

/// Discovers the target's capabilities when the profile names a control URL but no list.
pub async fn resolve_capabilities(
    target: &mut Target,
    http: &Http,
) -> Result<Option<Control>, RunError> {
    let Some(url) = target.control_url.clone() else {
        return Ok(None);
    };
    let control = Control::new(http.clone(), url.clone());
    if target.capabilities.is_empty() {
        let caps = control
            .capabilities()
            .await
            .map_err(|cause| RunError::Control { url, cause })?;
        target.capabilities = caps.into_iter().collect();
    }
    Ok(Some(control))
}

/// Sends one harmless request to see that the target answers HTTP at all.
pub async fn probe(target: &Target, spec: &Spec, http: &Http) -> Result<(), RunError> {
    let path = spec
        .operations
        .values()
        .next()
        .map(|o| o.path.clone())
        .unwrap_or_else(|| "/".to_owned());
    let url = format!("{}{path}", target.base_url);
    let headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
    match http.send("POST", &url, &headers, b"{}".to_vec()).await.1 {
        Err(
            cause @ (TransportError::Connect(_)
            | TransportError::Tls(_)
            | TransportError::Timeout(_)),
        ) => Err(RunError::Unreachable { url, cause }),
        // Something answered, however badly: the cases will say how.
        Ok(_) | Err(TransportError::TooLarge(_) | TransportError::Read(_)) => Ok(()),
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap_or_default()
}

/// The selected cases, split: those skipped for a missing capability (already reported), those
/// that may run at once, and those that must run alone.
struct Plan<'c> {
    concurrent: Vec<(usize, &'c Case)>,
    exclusive: Vec<(usize, &'c Case)>,
}

fn plan<'c>(
    cases: &'c [Case],
    opts: &Options,
    target: &Target,
    results: &mut Vec<Option<CaseResult>>,
    on_case: &(dyn Fn(&CaseResult) + Sync),
) -> Plan<'c> {
    let chosen: Vec<&Case> = cases.iter().filter(|c| selected(c, opts)).collect();
    results.resize(chosen.len(), None);
    let mut plan = Plan {
        concurrent: Vec::new(),
        exclusive: Vec::new(),
    };
    for (i, case) in chosen.into_iter().enumerate() {
        let missing: Vec<&str> = case
            .needs
            .iter()
            .filter(|c| !target.capabilities.contains(c))
            .map(|c| c.name())
            .collect();
        if !missing.is_empty() {
            let r = skipped(
                case,
                format!("the target does not offer {}", missing.join(", ")),
            );
            on_case(&r);
            results[i] = Some(r);
        } else if case.is_exclusive() {
            plan.exclusive.push((i, case));
        } else {
            plan.concurrent.push((i, case));
        }
    }
    plan
}

/// What the cases of a run add up to as they finish.
#[derive(Default)]
struct Tally {
    results: Vec<Option<CaseResult>>,
    exercised: BTreeSet<(String, u16)>,
    connect_failed: bool,
}

impl Tally {
    fn add(
        &mut self,
        i: usize,
        r: CaseResult,
        traces: case::Traces,
        on_case: &(dyn Fn(&CaseResult) + Sync),
    ) {
        on_case(&r);
        self.exercised.extend(traces.exercised);
        self.connect_failed |= traces.connect_failed;
        self.results[i] = Some(r);
    }
}

/// Runs the planned cases: the concurrent ones `jobs` at a time, then the exclusive ones alone.
async fn execute(
    env: &Env<'_>,
    plan: Plan<'_>,
    jobs: usize,
    tally: &mut Tally,
    on_case: &(dyn Fn(&CaseResult) + Sync),
) {
    use futures_util::StreamExt as _;
    let mut stream = futures_util::stream::iter(plan.concurrent)
        .map(|(i, case)| async move { (i, run_case(env, case, i).await) })
        .buffer_unordered(jobs.max(1));
    while let Some((i, (r, traces))) = stream.next().await {
        tally.add(i, r, traces, on_case);
    }
    for (i, case) in plan.exclusive {
        let (r, traces) = run_case(env, case, i).await;
        tally.add(i, r, traces, on_case);
    }
}

/// Runs the selected cases and returns the report. `on_case` sees each result as it finishes.
pub async fn run(
    spec: Arc<Spec>,
    cases: &[Case],
    mut target: Target,
    opts: &Options,
    on_case: &(dyn Fn(&CaseResult) + Sync),
) -> Result<RunReport, RunError> {
    let started = Instant::now();
    let started_at = now_rfc3339();
    let http = Http::new(&target).map_err(RunError::Setup)?;
    probe(&target, &spec, &http).await?;
    let control = resolve_capabilities(&mut target, &http).await?;
    let issued = IssuedTokens::default();
    let run_id = run_id();
    let env = Env {
        spec: &spec,
        target: &target,
        http: &http,
        control: control.as_ref(),
        issued: &issued,
        run_id: &run_id,
    };
    let mut tally = Tally::default();
    let plan = plan(cases, opts, &target, &mut tally.results, on_case);
    execute(&env, plan, opts.jobs, &mut tally, on_case).await;
    // A connection failure during the run: does the target still answer at all?
    let stopped_answering = tally.connect_failed && probe(&target, &spec, &http).await.is_err();
    let mut cases: Vec<CaseResult> = tally.results.into_iter().flatten().collect();
    cases.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(RunReport {
        target: target.base_url.clone(),
        spec_title: spec.title.clone(),
        spec_version: spec.version.clone(),
        harness_version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at,
        millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        cases,
        exercised: tally.exercised,
        tokens_issued: issued.len(),
        stopped_answering,
    })
}
