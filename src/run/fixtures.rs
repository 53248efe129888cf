//! What a run sets up once for all its cases: how far the target's clock is from the
//! harness's, an SSO user, and another user's id. Each comes from the profile where the
//! vendor has one, else from the control protocol, else the cases that need it are skipped
//! (or, for another user's id, use the next id).

use crate::check::IssuedTokens;
use crate::duration::{LifespanFrom, Span};
use crate::run::api::Api;
use crate::run::control::Control;
use crate::run::error::RunError;
use crate::run::pool::Pool;
use crate::spec::TokenKind;
use crate::target::{Capability, Secret, Target};

/// The run's fixtures.
#[derive(Clone, Debug, Default)]
pub struct Fixtures {
    /// The target's clock minus the harness's, when the control protocol tells it.
    pub clock_offset: Option<Span>,
    /// A user who signs in through SSO.
    pub sso_username: Option<String>,
    /// A user other than the profile's.
    pub other_user_id: Option<i64>,
    /// A second account the run made and can log in as (username, password), when the
    /// control protocol offers `users`: probes of its password never touch the profile's.
    pub other_login: Option<(String, Secret)>,
    /// The lifespans the target had when the run began (`(days, hours)`), where its control
    /// protocol says: what the run puts back after a case changed them.
    pub target_lifespans: Option<(u32, u32)>,
    /// Whether validating a refresh token leaves its last use alone on this target, so that a
    /// moved last use after a refused request shows the request minted from it (learnt once
    /// per run, before any case runs).
    pub validation_leaves_last_use: bool,
}

/// Sets up the fixtures the selected cases need.
pub(crate) async fn prepare(
    target: &Target,
    control: Option<&Control>,
    run_id: &str,
    needs_sso: bool,
) -> Result<Fixtures, RunError> {
    let mut f = Fixtures {
        sso_username: target.sso_username.clone(),
        other_user_id: target.other_user_id,
        other_login: target.other_login.clone(),
        ..Fixtures::default()
    };
    let Some(control) = control else {
        return Ok(f);
    };
    let error = |cause| RunError::Control {
        url: target
            .control_url
            .clone()
            .expect("a control client is made from the control URL"),
        cause,
    };
    let has = |c| target.capabilities.contains(&c);
    if has(Capability::Clock) {
        let local = time::OffsetDateTime::now_utc();
        let now = control.now().await.map_err(error)?;
        f.clock_offset = Some(Span::from_micros(
            i64::try_from((now - local).whole_microseconds()).unwrap_or(0),
        ));
    }
    if has(Capability::Users) {
        if f.sso_username.is_none() && needs_sso {
            let name = format!("token-conformance-sso-{run_id}@example.invalid");
            control
                .create_user(&name, None, true)
                .await
                .map_err(error)?;
            f.sso_username = Some(name);
        }
        // The profile's second account, when it names one, is the one the probes use.
        if f.other_login.is_none() {
            let name = format!("token-conformance-other-{run_id}@example.invalid");
            let password = format!("{run_id}-{}-Pw", std::process::id());
            let answer = control
                .create_user(&name, Some(&password), false)
                .await
                .map_err(error)?;
            // A profile's other user stays the one the user_id probes name.
            if f.other_user_id.is_none() {
                f.other_user_id = answer.get("user_id").and_then(serde_json::Value::as_i64);
            }
            f.other_login = Some((name, Secret::new(password)));
        }
    }
    Ok(f)
}

/// Learns whether validating a refresh token leaves its last use alone: a token just lent by
/// the pool is validated once, and its last use compared with the lent object's. Nothing but a
/// validation happens in between, so a change is the validation's own doing.
pub(crate) async fn calibrate(f: &mut Fixtures, api: &Api<'_>, pool: &Pool, issued: &IssuedTokens) {
    let Some(used) = pool.shape.used.clone() else {
        return;
    };
    let Ok(loan) = pool.borrow(api, issued, 1).await else {
        return;
    };
    let Some(lent) = loan.tokens.first().cloned() else {
        return;
    };
    drop(loan);
    if let Ok(answer) = api
        .validate(TokenKind::Refresh, &pool.shape, &lent.body)
        .await
    {
        f.validation_leaves_last_use = answer.ok()
            && lent.body.get(&used).is_some()
            && answer.body.as_ref().and_then(|b| b.get(&used)) == lent.body.get(&used);
    }
    pool.give_back_untouched(lent);
}

/// A lifespan in the unit it is set in: days for refresh tokens, hours for access tokens.
fn days_hours(target: &Target) -> (u32, u32) {
    let days = target.refresh_lifespan.micros() / 86_400_000_000;
    let hours = target.access_lifespan.micros() / 3_600_000_000;
    (
        u32::try_from(days).unwrap_or(u32::MAX),
        u32::try_from(hours).unwrap_or(u32::MAX),
    )
}

/// Reads the target's lifespans through the control protocol, where it offers them: what the
/// run restores after a case changes them. Where the profile left the lifespans to the
/// vendor's defaults and the target says otherwise, the run takes the target's and says so;
/// where the profile gave them and the target says otherwise, the run does not start, since
/// every expiry judgement would be off by the difference.
pub(crate) async fn target_lifespans(
    target: &mut Target,
    control: Option<&Control>,
) -> Result<Option<(u32, u32)>, RunError> {
    let Some(control) = control.filter(|_| target.capabilities.contains(&Capability::Lifespans))
    else {
        return Ok(None);
    };
    let (days, hours) = control
        .lifespans()
        .await
        .map_err(|cause| RunError::Control {
            url: target
                .control_url
                .clone()
                .expect("a control client is made from the control URL"),
            cause,
        })?;
    let (assumed_days, assumed_hours) = days_hours(target);
    let mut off = Vec::new();
    if assumed_hours != hours {
        off.push(format!(
            "{assumed_hours}h for access tokens (from {}); the target says {hours}h",
            target.access_lifespan_from
        ));
    }
    if assumed_days != days {
        off.push(format!(
            "{assumed_days}d for refresh tokens (from {}); the target says {days}d",
            target.refresh_lifespan_from
        ));
    }
    if !off.is_empty() && !target.lifespans_defaulted() {
        return Err(RunError::Config {
            message: format!("the profile assumes {}", off.join(", and ")),
        });
    }
    if !off.is_empty() {
        target.refresh_lifespan = Span::from_secs(i64::from(days) * 86_400);
        target.access_lifespan = Span::from_secs(i64::from(hours) * 3_600);
        target.refresh_lifespan_from = LifespanFrom::ControlProtocol;
        target.access_lifespan_from = LifespanFrom::ControlProtocol;
    }
    Ok(Some((days, hours)))
}
