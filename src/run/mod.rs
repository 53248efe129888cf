//! Running cases against a target: selection, scheduling, and the run's report.
//!
//! Cases run concurrently (at most `jobs` at once), the steps of a case in order: first those
//! that borrow no token (among them the cases that create tokens, which seed the pool), then
//! those that borrow. Cases that change state every other case sees (the clock, the lifespans)
//! run last, one at a time, each restoring what it changed, so every result is the one a
//! serial run would give. The run then cleans up what it created (`cleanup`).

mod api;
mod call;
mod case;
mod cleanup;
mod control;
mod error;
mod fixtures;
mod http;
mod matcher;
mod pool;
mod report;
mod result;
mod shape;
mod steps;
mod unchanged;

pub use crate::case::template::TemplateError;
pub use case::{Env, Undo, run_case, skipped};
pub use cleanup::{Inventory, Leftovers, TokenPage};
pub use control::Control;
pub use error::{ApiError, ControlError, RunError, StepError};
pub use fixtures::Fixtures;
pub use http::Http;
pub use pool::Pool;
pub use report::{
    Body, Conformance, Interruption, KeptExchange, Meta, NotRun, Party, Report, Seen, Shaping,
    Started, Suite, Summary, Traffic, TrafficLog,
};
pub(crate) use report::{now_rfc3339, plural};
pub use result::{CaseResult, ResponseView, SentRequest, StepResult, Verdict};

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use clap::builder::TypedValueParser as _;

use crate::case::Case;
use crate::check::IssuedTokens;
use crate::spec::{Spec, TokenKind};
use crate::target::{Need, Secret, Target};
use crate::wire::TransportError;

/// How to run: which cases and how many at once. It is `run`'s flags as parsed, so each
/// option is declared once, here.
#[derive(Clone, Debug, clap::Args)]
pub struct Options {
    /// Cases run at once.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_JOBS,
          value_parser = clap::value_parser!(u16).range(1..=256).map(usize::from))]
    pub jobs: usize,
    /// Only cases whose id or title contains TEXT.
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// Only cases with this tag (repeatable: any of them).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Run a stable 1/N share of the cases: K/N, 1 <= K <= N.
    #[arg(long, value_name = "K/N", value_parser = parse_partition)]
    pub partition: Option<(u32, u32)>,
    /// Record every exchange, for `--har` (set by the report flags, not a flag itself).
    #[arg(skip)]
    pub har: bool,
    /// Whether the target is the reference server the command started (the embedded
    /// default), whose token page the leftovers line can link to (not a flag).
    #[arg(skip)]
    pub embedded: bool,
}

/// Cases run at once unless told otherwise (`--jobs`).
const DEFAULT_JOBS: usize = 4;

impl Default for Options {
    fn default() -> Self {
        Self {
            jobs: DEFAULT_JOBS,
            filter: None,
            tags: Vec::new(),
            partition: None,
            har: false,
            embedded: false,
        }
    }
}

/// Parses `K/N`.
fn parse_partition(s: &str) -> Result<(u32, u32), crate::error::BadValue> {
    let bad = || crate::error::BadValue::new(format!("`{s}` is not K/N with 1 <= K <= N"));
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (u32, u32) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if k >= 1 && k <= n {
        Ok((k, n))
    } else {
        Err(bad())
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
pub(crate) fn share(id: &str, n: u32) -> u32 {
    u32::try_from(share_hash(id) % u64::from(n.max(1))).unwrap_or(0)
}

/// A run identifier that makes names unique across runs against one target: eight hex digits
/// from the time and the process, so names built from it have a fixed length.
fn run_id() -> String {
    // A clock set before 1970 still gives an id: the process id varies it.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let seed = format!("{}-{}", now.as_micros(), std::process::id());
    format!("tc{:08x}", share_hash(&seed) & 0xFFFF_FFFF)
}

/// FNV-1a, the stable hash behind partitions and run ids.
fn share_hash(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Discovers the target's capabilities when the profile names a control URL but no list.
pub(crate) async fn resolve_capabilities(
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
    match &http
        .send("POST", &url, &headers, bytes::Bytes::from_static(b"{}"))
        .await
        .response
    {
        Err(
            cause @ (TransportError::Connect(_)
            | TransportError::Tls(_)
            | TransportError::Timeout(_)),
        ) => Err(RunError::Unreachable {
            url,
            cause: cause.clone(),
        }),
        // Something answered, however badly: the cases will say how.
        Ok(_) | Err(TransportError::TooLarge(_) | TransportError::Read(_)) => Ok(()),
    }
}

/// The selected cases, split: those skipped for something the target lacks (already
/// reported), the phases that may run at once, and those that must run alone.
struct Plan<'c> {
    /// Cases that borrow no token, then cases that do.
    concurrent: [Vec<(usize, &'c Case)>; 2],
    exclusive: Vec<(usize, &'c Case)>,
}

fn plan<'c>(
    chosen: Vec<&'c Case>,
    target: &Target,
    results: &mut Vec<Option<CaseResult>>,
    on_case: &(dyn Fn(&CaseResult) + Sync),
) -> Plan<'c> {
    results.resize(chosen.len(), None);
    let mut plan = Plan {
        concurrent: [Vec::new(), Vec::new()],
        exclusive: Vec::new(),
    };
    for (i, case) in chosen.into_iter().enumerate() {
        let missing: Vec<&str> = case
            .needs
            .iter()
            .filter(|n| !target.provides(**n))
            .map(|n| n.name())
            .collect();
        if !missing.is_empty() {
            let r = skipped(
                case,
                format!(
                    "the target does not offer {} ({})",
                    missing.join(", "),
                    how_to_offer(case, target)
                ),
            );
            on_case(&r);
            results[i] = Some(r);
        } else if case.is_exclusive() {
            plan.exclusive.push((i, case));
        } else {
            plan.concurrent[usize::from(case.borrows() > 0)].push((i, case));
        }
    }
    plan
}

/// How a target offers what a skipped case needs: which flag or capability, and where the
/// control protocol is described.
fn how_to_offer(case: &Case, target: &Target) -> String {
    let mut ways: Vec<&str> = case
        .needs
        .iter()
        .filter(|n| !target.provides(**n))
        .map(|n| match n {
            Need::SsoUser => "an SSO account: sso_username in the profile, or the control protocol's users capability",
            Need::OtherAccount => "a second account to try passwords on: --other-username with TOKEN_CONFORMANCE_OTHER_PASSWORD, or the control protocol's users capability",
            Need::Capability(crate::target::Capability::Clock) => "moving the target's clock",
            Need::Capability(crate::target::Capability::Lifespans) => "setting the target's lifespans",
            Need::Capability(crate::target::Capability::Users) => "an account the run makes and may try passwords on",
            Need::Capability(crate::target::Capability::RevokeRefreshToken) => "an administrator's revocation",
        })
        .collect();
    if case
        .needs
        .iter()
        .any(|n| matches!(n, Need::Capability(_)) && !target.provides(*n))
    {
        ways.push(if target.control_url.is_some() {
            "the deployment's control protocol lacks it (specs/conformance-control.openapi.yaml)"
        } else {
            "give --control-url of a deployment that implements specs/conformance-control.openapi.yaml"
        });
    }
    ways.join("; ")
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
        mut r: CaseResult,
        traces: case::Traces,
        on_case: &(dyn Fn(&CaseResult) + Sync),
    ) {
        r.used_control = traces.used_control;
        on_case(&r);
        self.exercised.extend(traces.exercised);
        self.connect_failed |= traces.connect_failed;
        self.results[i] = Some(r);
    }
}

/// Runs the planned cases: each concurrent phase `jobs` at a time, then the exclusive ones
/// alone.
async fn execute(
    env: &Env<'_>,
    plan: Plan<'_>,
    jobs: usize,
    tally: &mut Tally,
    on_case: &(dyn Fn(&CaseResult) + Sync),
) {
    use futures_util::StreamExt as _;
    for phase in plan.concurrent {
        let mut stream = futures_util::stream::iter(phase)
            .map(|(i, case)| async move { (i, run_case(env, case, i).await) })
            .buffer_unordered(jobs.max(1));
        while let Some((i, (r, traces))) = stream.next().await {
            tally.add(i, r, traces, on_case);
        }
    }
    for (i, case) in plan.exclusive {
        let (r, traces) = run_case(env, case, i).await;
        tally.add(i, r, traces, on_case);
    }
}

/// The run's pool: as many tokens as cases run at once, or as one case borrows.
fn pool(spec: &Spec, cases: &[&Case], jobs: usize, run_id: &str) -> Result<Pool, RunError> {
    let shape = spec
        .token_shape(TokenKind::Refresh)
        .cloned()
        .ok_or_else(|| {
            RunError::Setup(crate::error::Error::new(
                crate::error::ErrorKind::Spec,
                "the contract shapes no refresh token object (x-token)",
            ))
        })?;
    let most = cases.iter().map(|c| c.borrows()).max().unwrap_or(0);
    Ok(Pool::new(
        jobs.max(most),
        shape,
        format!("token-conformance {run_id} pool"),
    ))
}

/// Before any case: where cases borrow tokens, one login checks the profile's credentials
/// (refused, the run stops, exit 2, after exactly one failed login, rather than failing every
/// case that borrows a token and sending the account a wrong password each time) and gives the
/// pool its first token; then, where cases expect refusals, whether the target's validation
/// moves a token's last use.
async fn preflight(
    api: &api::Api<'_>,
    chosen: &[&Case],
    run_id: &str,
    pool: &Pool,
    issued: &IssuedTokens,
    inventory: &Inventory,
    fixtures: &mut Fixtures,
) -> Result<(), RunError> {
    // Only where the pool would log in anyway: a run of creating cases alone would keep the
    // token of this extra login.
    let borrows = chosen.iter().any(|c| c.borrows() > 0);
    let target = api.target;
    if borrows {
        match api
            .check_credentials(
                &target.username,
                target.password.expose(),
                &format!("token-conformance {run_id} pool"),
            )
            .await
        {
            Ok(token) => pool.seed(token, issued),
            Err(problem) => login_problem(problem, "the profile's")?,
        }
    }
    // The second account the profile names: checked once, like the profile's, and where no
    // other user's id was given, its id is the one the user_id probes name.
    let needs_other = chosen.iter().any(|c| c.needs.contains(&Need::OtherAccount));
    if let Some((username, password)) = target.other_login.as_ref().filter(|_| needs_other) {
        match api
            .check_credentials(
                username,
                password.expose(),
                &format!("token-conformance {run_id} second account"),
            )
            .await
        {
            Ok(token) => {
                let Some(shape) = api.spec.token_shape(TokenKind::Refresh) else {
                    return Ok(());
                };
                let owner = shape
                    .owner
                    .as_ref()
                    .and_then(|o| token.get(o))
                    .and_then(crate::check::owner_text)
                    .and_then(|t| crate::check::user_id(&t));
                if fixtures.other_user_id.is_none() {
                    fixtures.other_user_id = owner;
                }
                // The run made it, so the run accounts for it: counted as left, or revoked
                // through the control protocol, like every token a case makes.
                if let Some(value) = token.get(&shape.value).and_then(serde_json::Value::as_str) {
                    issued.record(value, "the second account's credentials check");
                    inventory.add(vec![crate::check::Fact {
                        value: value.to_owned(),
                        kind: TokenKind::Refresh,
                        origin: crate::check::Origin::Issued { by_profile: false },
                        revoked: None,
                        parent: None,
                        successor: None,
                        body: token.clone(),
                        issued: Instant::now(),
                    }]);
                }
            }
            Err(problem) => login_problem(problem, "the second account's")?,
        }
    }
    let refuses = chosen.iter().any(|c| {
        c.steps.iter().any(|s| match &s.action {
            crate::case::Action::Call(call) => call.outcomes.iter().any(|o| o.is_refusal()),
            _ => false,
        })
    });
    if refuses && borrows {
        fixtures::calibrate(fixtures, api, pool, issued).await;
    }
    Ok(())
}

/// What a failed credentials check means for the run: a refusal or a URL where the API is not
/// stops it (exit 2); anything else is left to the cases to judge.
fn login_problem(problem: api::LoginProblem, whose: &'static str) -> Result<(), RunError> {
    match problem {
        api::LoginProblem::Refused(answer) => Err(RunError::Credentials { whose, answer }),
        api::LoginProblem::NotTheApi(answer) => Err(RunError::NotTheApi { answer }),
        api::LoginProblem::Other => Ok(()),
    }
}

fn run_api<'a>(spec: &'a Spec, http: &'a Http, target: &'a Target) -> api::Api<'a> {
    api::Api { spec, http, target }
}

/// Ctrl-C, listened for from now on (the first poll installs the handler), so one pressed
/// while the run logs in is not the default death without reports: it stops the run as soon
/// as the cases would begin.
fn ctrl_c() -> std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<()>> + Send>> {
    let mut pressed = Box::pin(tokio::signal::ctrl_c());
    let _ = futures_util::FutureExt::now_or_never(&mut pressed);
    pressed
}

/// When Ctrl-C `stopped` the run: how far it got, after putting the target's clock and
/// lifespans back.
async fn interruption(stopped: bool, env: &Env<'_>, tally: &Tally) -> Option<Interruption> {
    if !stopped {
        return None;
    }
    Some(Interruption {
        not_put_back: steps::put_back(env).await.err().map(|(_, p)| p),
        done: tally.results.iter().flatten().count(),
        // A slot per selected case, filled as each finishes.
        total: tally.results.len(),
    })
}

/// What a run Ctrl-C stopped says it left: whoever pressed it wants the run to end now, not
/// after a round of revocations, so the clean-up does not run and the tokens are not counted.
fn not_cleaned_up(run_id: &str) -> Leftovers {
    Leftovers {
        problems: vec![format!(
            "skipped, as Ctrl-C stopped the run: tokens whose names start with `token-conformance {run_id}` may be left active (revoke them at /account/auth)"
        )],
        ..Leftovers::default()
    }
}

/// Runs the selected cases and returns the report. `on_case` sees each result as it finishes.
pub async fn run(
    spec: Arc<Spec>,
    cases: &[Case],
    mut target: Target,
    opts: &Options,
    on_case: &(dyn Fn(&CaseResult) + Sync),
) -> Result<Report, RunError> {
    let started = Started::now();
    let mut ctrl_c = ctrl_c();
    let cases_in_suite = cases.len();
    let http = Http::new(&target)
        .map(|h| if opts.har { h.recording() } else { h })
        .map_err(RunError::Setup)?;
    probe(&target, &spec, &http).await?;
    let control = resolve_capabilities(&mut target, &http).await?;
    let target_lifespans = fixtures::target_lifespans(&mut target, control.as_ref()).await?;
    let chosen: Vec<&Case> = cases.iter().filter(|c| selected(c, opts)).collect();
    let run_id = run_id();
    let needs_sso = chosen.iter().any(|c| c.needs.contains(&Need::SsoUser));
    let mut fixtures = fixtures::prepare(&target, control.as_ref(), &run_id, needs_sso).await?;
    fixtures.target_lifespans = target_lifespans;
    let pool = pool(&spec, &chosen, opts.jobs, &run_id)?;
    let (issued, inventory) = (IssuedTokens::default(), Inventory::default());
    preflight(
        &run_api(&spec, &http, &target),
        &chosen,
        &run_id,
        &pool,
        &issued,
        &inventory,
        &mut fixtures,
    )
    .await?;
    let env = Env {
        spec: &spec,
        target: &target,
        http: &http,
        control: control.as_ref(),
        issued: &issued,
        run_id: &run_id,
        fixtures: &fixtures,
        pool: &pool,
        inventory: &inventory,
        undo: &std::sync::Mutex::default(),
    };
    let mut tally = Tally::default();
    let plan = plan(chosen, &target, &mut tally.results, on_case);
    // Ctrl-C stops the cases where they are, and puts the target's clock and lifespans back
    // before the run ends: a shared target is never left reconfigured. The report is of the
    // cases that finished.
    let stopped = tokio::select! {
        () = execute(&env, plan, opts.jobs, &mut tally, on_case) => false,
        _ = &mut ctrl_c => true,
    };
    let interrupted = interruption(stopped, &env, &tally).await;
    // A connection failure during the run: does the target still answer at all?
    let stopped_answering = tally.connect_failed && probe(&target, &spec, &http).await.is_err();
    let mut leftovers = if stopped_answering {
        Leftovers::default()
    } else if interrupted.is_some() {
        not_cleaned_up(&run_id)
    } else {
        cleanup::clean_up(&env.api(), control.as_ref(), &pool, &inventory).await
    };
    leftovers.token_page = TokenPage::of(&target.base_url, opts.embedded);
    let mut results: Vec<CaseResult> = tally.results.into_iter().flatten().collect();
    results.sort_by(|a, b| a.id.cmp(&b.id));
    let not_run = shape::not_run(cases, &results, opts);
    let seen = Seen {
        exercised: tally.exercised,
        tokens_issued: issued.len(),
        requests_sent: http.sent(),
        stopped_answering,
    };
    let mut meta = Meta::new(&spec, &target, started, shape::shaping(&target, opts), seen);
    meta.interrupted = interrupted;
    Ok(Report {
        meta,
        body: Body::Suite(Suite {
            cases: results,
            suite_cases: cases_in_suite,
            not_run,
            run_id,
            leftovers,
            recorded: http.records(),
            issued: issued.values().into_iter().map(Secret::new).collect(),
        }),
    })
}
