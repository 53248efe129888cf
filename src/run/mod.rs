//! Running cases against a target: selection, scheduling, and the run's report.
//!
//! Cases run concurrently (at most `jobs` at once), the steps of a case in order. Cases that
//! change state every other case sees (the clock, the lifespans) run afterwards, one at a time,
//! each restoring what it changed, so every result is the one a serial run would give.

mod case;
mod control;
mod http;
mod matcher;
mod result;
mod template;

pub use case::{Env, run_case, skipped};
pub use control::Control;
pub use http::{Http, Received, SentRequest, TransportError, encode};
pub use result::{CaseResult, ResponseView, RunReport, StepResult, Summary, Verdict};

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use crate::case::Case;
use crate::check::IssuedTokens;
use crate::error::{Error, ErrorKind};
use crate::spec::Spec;
use crate::target::{Capability, Target};

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
) -> Result<Option<Control>, Error> {
    let Some(url) = target.control_url.clone() else {
        return Ok(None);
    };
    let control = Control::new(http.clone(), url.clone());
    if target.capabilities.is_empty() {
        let caps = control.capabilities().await.map_err(|e| {
            Error::new(
                ErrorKind::Unreachable,
                format!("control protocol at {url}: {e}"),
            )
        })?;
        target.capabilities = caps.into_iter().collect();
    }
    Ok(Some(control))
}

/// Sends one harmless request to see that the target answers HTTP at all.
pub async fn probe(target: &Target, spec: &Spec, http: &Http) -> Result<(), String> {
    let path = spec
        .operations
        .values()
        .next()
        .map(|o| o.path.clone())
        .unwrap_or_else(|| "/".to_owned());
    let url = format!("{}{path}", target.base_url);
    let headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
    match http.send("POST", &url, &headers, b"{}".to_vec()).await.1 {
        Err(e @ (TransportError::Connect(_) | TransportError::Timeout(_))) => {
            Err(format!("{url}: {e}"))
        }
        // Something answered, however badly: the cases will say how.
        Ok(_) | Err(TransportError::TooLarge(_) | TransportError::Read(_)) => Ok(()),
    }
}

/// Runs the selected cases and returns the report. `on_case` sees each result as it finishes.
pub async fn run(
    spec: Arc<Spec>,
    cases: &[Case],
    mut target: Target,
    opts: &Options,
    on_case: &(dyn Fn(&CaseResult) + Sync),
) -> Result<RunReport, Error> {
    let started = Instant::now();
    let started_at = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap_or_default();
    let http = Http::new(&target)?;
    probe(&target, &spec, &http).await.map_err(|e| {
        let hint = if e.contains("certificate") {
            "the target's certificate is not trusted: give --ca-file with its CA (or --insecure for a throw-away instance)"
        } else {
            "is the target running, and is --target right?"
        };
        Error::new(ErrorKind::Unreachable, e).hint(hint)
    })?;
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

    let chosen: Vec<(usize, &Case)> = cases
        .iter()
        .filter(|c| selected(c, opts))
        .enumerate()
        .collect();
    let mut results: Vec<Option<CaseResult>> = vec![None; chosen.len()];
    let mut exercised = BTreeSet::new();
    let mut connect_failed = false;
    let mut concurrent = Vec::new();
    let mut exclusive = Vec::new();
    for (i, case) in &chosen {
        let missing: Vec<Capability> = case
            .needs
            .iter()
            .copied()
            .filter(|c| !target.capabilities.contains(c))
            .collect();
        if !missing.is_empty() {
            let names: Vec<&str> = missing.iter().map(|c| c.name()).collect();
            let r = skipped(
                case,
                format!("the target does not offer {}", names.join(", ")),
            );
            on_case(&r);
            results[*i] = Some(r);
        } else if case.is_exclusive() {
            exclusive.push((*i, *case));
        } else {
            concurrent.push((*i, *case));
        }
    }

    {
        use futures_util::StreamExt as _;
        let env = &env;
        let mut stream = futures_util::stream::iter(concurrent)
            .map(|(i, case)| async move { (i, run_case(env, case, i).await) })
            .buffer_unordered(opts.jobs.max(1));
        while let Some((i, (r, traces))) = stream.next().await {
            on_case(&r);
            exercised.extend(traces.exercised);
            connect_failed |= traces.connect_failed;
            results[i] = Some(r);
        }
    }
    for (i, case) in exclusive {
        let (r, traces) = run_case(&env, case, i).await;
        on_case(&r);
        exercised.extend(traces.exercised);
        connect_failed |= traces.connect_failed;
        results[i] = Some(r);
    }
    // A connection failure during the run: does the target still answer at all?
    let stopped_answering = connect_failed && probe(&target, &spec, &http).await.is_err();
    let mut cases: Vec<CaseResult> = results.into_iter().flatten().collect();
    cases.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(RunReport {
        target: target.base_url.clone(),
        spec_title: spec.title.clone(),
        spec_version: spec.version.clone(),
        harness_version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at,
        millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        cases,
        exercised,
        tokens_issued: issued.len(),
        stopped_answering,
    })
}
