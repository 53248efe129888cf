//! The steps that go through the control protocol, each checked for being honoured: a clock
//! that did not move by the amount asked, lifespans other than those asked for, or a user who
//! cannot log in fail the case with a `control` finding, and the case never goes on with the
//! target's values instead of its own.

use std::time::Instant;

use crate::case::{Action, ClockTarget, CreateUser, SetLifespans};
use crate::check::{Fact, Lifespans, Origin};
use crate::duration::Span;
use crate::run::case::{CaseState, Env};
use crate::run::error::{ControlError, StepError};
use crate::spec::TokenKind;

fn span(d: time::Duration) -> Span {
    Span::from_micros(i64::try_from(d.whole_microseconds()).unwrap_or(i64::MAX))
}

/// Runs one control step.
pub(super) async fn control_step(
    action: &Action,
    state: &mut CaseState<'_>,
) -> Result<(), StepError> {
    match action {
        Action::Call(_) | Action::BorrowRefreshToken(_) => Ok(()),
        Action::AdvanceClock(by) => advance(state, *by).await,
        Action::AdvanceClockTo(t) => advance_to(state, t).await,
        Action::SetLifespans(l) => set_lifespans(state, l).await,
        Action::CreateUser(u) => create_user(state, u).await,
        Action::RevokeRefreshToken(t) => {
            let token = state.text(t)?;
            state.control()?.revoke_refresh_token(&token).await?;
            state.ledger.admin_revoked(&token);
            Ok(())
        }
    }
}

/// Moves the clock by `by`, and checks that it moved by that much.
async fn advance(state: &mut CaseState<'_>, by: Span) -> Result<(), StepError> {
    let tolerance = state.env.target.tolerance;
    let control = state.control()?;
    let before = control.now().await?;
    let started = Instant::now();
    let after = control.advance_to(by.as_secs_f64()).await?;
    let elapsed = span(time::Duration::try_from(started.elapsed()).unwrap_or(time::Duration::ZERO));
    let moved = span(after - before);
    let off = (moved.micros() - by.micros()).abs();
    let honoured = off <= elapsed.micros() + tolerance.micros();
    // Undo what really happened when the case ends, not what was asked.
    let jump = if honoured {
        by
    } else {
        Span::from_micros(moved.micros() - elapsed.micros())
    };
    {
        let mut undo = state.env.undo();
        undo.moved = Span::from_micros(undo.moved.micros().saturating_add(jump.micros()));
    }
    state.ledger.clock_moved(jump);
    if honoured {
        Ok(())
    } else {
        Err(ControlError::NotHonoured(format!(
            "the control protocol's clock moved by {moved}, not the {by} asked"
        ))
        .into())
    }
}

/// Moves the clock to a date-time (plus an offset).
async fn advance_to(state: &mut CaseState<'_>, t: &ClockTarget) -> Result<(), StepError> {
    let at_text = state.text(&t.at)?;
    let at = crate::check::parse_timestamp(&at_text).ok_or_else(|| {
        ControlError::Malformed(format!(
            "`{}` is not an RFC 3339 date-time: {at_text}",
            t.at
        ))
    })?;
    let now = state.control()?.now().await?;
    let by = span(at + t.offset.to_time() - now);
    advance(state, by).await
}

/// Sets the lifespans, and checks that the target set the ones asked for.
async fn set_lifespans(state: &mut CaseState<'_>, l: &SetLifespans) -> Result<(), StepError> {
    let control = state.control()?;
    let (days, hours) = control
        .set_lifespans(l.refresh_token_days, l.access_token_hours)
        .await?;
    state.env.undo().lifespans = true;
    let asked_days = l.refresh_token_days.unwrap_or(days);
    let asked_hours = l.access_token_hours.unwrap_or(hours);
    if (days, hours) != (asked_days, asked_hours) {
        return Err(ControlError::NotHonoured(format!(
            "the control protocol set the lifespans to {days} days and {hours} hours, not the {asked_days} days and {asked_hours} hours asked"
        ))
        .into());
    }
    let before = state.ledger.lifespans();
    state.ledger.set_lifespans(Lifespans {
        refresh: l
            .refresh_token_days
            .map_or(before.refresh, |d| Span::from_secs(i64::from(d) * 86_400)),
        access: l
            .access_token_hours
            .map_or(before.access, |h| Span::from_secs(i64::from(h) * 3_600)),
    });
    Ok(())
}

/// Creates a user; a password user must then be able to log in.
async fn create_user(state: &mut CaseState<'_>, u: &CreateUser) -> Result<(), StepError> {
    let username = state.text(&u.username)?;
    let password = u.password.as_deref().map(|p| state.text(p)).transpose()?;
    let answer = state
        .control()?
        .create_user(&username, password.as_deref(), u.sso)
        .await?;
    let id = answer.get("user_id").cloned().ok_or_else(|| {
        ControlError::Malformed(format!(
            "the control protocol's user answer has no user_id: {answer}"
        ))
    })?;
    if let Some(password) = password {
        let env = state.env;
        let token = env
            .api()
            .login(
                &username,
                &password,
                &format!("token-conformance {} user check", env.run_id),
            )
            .await
            .map_err(|e| {
                ControlError::NotHonoured(format!(
                    "the user the control protocol created cannot log in: {e}"
                ))
            })?;
        // The run revokes it at its end, with everything else it created.
        if let Some(value) = env.pool.value(&token).map(str::to_owned) {
            env.inventory.add(vec![Fact {
                value,
                kind: TokenKind::Refresh,
                origin: Origin::Issued { by_profile: false },
                revoked: None,
                parent: None,
                successor: None,
                body: token,
                issued: Instant::now(),
            }]);
        }
    }
    if let Some(name) = &u.capture_id {
        state.captures.insert(name.clone(), id);
    }
    Ok(())
}

/// Puts back the clock and lifespans the case changed; a problem, if it could not.
pub(super) async fn restore(state: &mut CaseState<'_>) -> Option<String> {
    let moved_back = put_back(state.env).await;
    match moved_back {
        Ok(back) => {
            state.ledger.clock_moved(back);
            None
        }
        Err((back, problems)) => {
            state.ledger.clock_moved(back);
            Some(problems)
        }
    }
}

/// Puts back what the run changed on the target and has not put back yet: the clock moved
/// back by as much as it was moved, the lifespans the target had when the run began (not what
/// the profile assumes). The clock move made, or with the problems.
pub(crate) async fn put_back(env: &Env<'_>) -> Result<Span, (Span, String)> {
    let Some(control) = env.control else {
        return Ok(Span::default());
    };
    let undo = *env.undo();
    let target = env.target;
    let mut problems = Vec::new();
    let mut back = Span::default();
    if undo.moved != Span::default() {
        match control.advance(-undo.moved.as_secs_f64()).await {
            Ok(_) => {
                back = Span::from_micros(-undo.moved.micros());
                env.undo().moved = Span::default();
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    if undo.lifespans {
        // What the target had when the run began, not what the profile assumes: a shared
        // target is left as it was found.
        let (days, hours) = env.fixtures.target_lifespans.unwrap_or_else(|| {
            (
                u32::try_from(target.refresh_lifespan.micros() / 86_400_000_000).unwrap_or(60),
                u32::try_from(target.access_lifespan.micros() / 3_600_000_000).unwrap_or(24),
            )
        });
        match control.set_lifespans(Some(days), Some(hours)).await {
            Ok(set) if set == (days, hours) => env.undo().lifespans = false,
            Ok((d, h)) => problems.push(format!(
                "the control protocol put the lifespans back to {d}d and {h}h, not the {days}d and {hours}h the target had"
            )),
            Err(e) => problems.push(e.to_string()),
        }
    }
    if problems.is_empty() {
        Ok(back)
    } else {
        Err((back, problems.join("; ")))
    }
}
