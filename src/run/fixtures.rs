//! What a run sets up once for all its cases: how far the target's clock is from the
//! harness's, an SSO user, and another user's id. Each comes from the profile where the
//! vendor has one, else from the control protocol, else the cases that need it are skipped
//! (or, for another user's id, use the next id).

use crate::duration::Span;
use crate::run::control::Control;
use crate::run::error::RunError;
use crate::target::{Capability, Target};

/// The run's fixtures.
#[derive(Clone, Debug, Default)]
pub struct Fixtures {
    /// The target's clock minus the harness's, when the control protocol tells it.
    pub clock_offset: Option<Span>,
    /// A user who signs in through SSO.
    pub sso_username: Option<String>,
    /// A user other than the profile's.
    pub other_user_id: Option<i64>,
}

/// Sets up the fixtures the selected cases need.
pub async fn prepare(
    target: &Target,
    control: Option<&Control>,
    run_id: &str,
    needs_sso: bool,
) -> Result<Fixtures, RunError> {
    let mut f = Fixtures {
        sso_username: target.sso_username.clone(),
        other_user_id: target.other_user_id,
        clock_offset: None,
    };
    let Some(control) = control else {
        return Ok(f);
    };
    let error = |cause| RunError::Control {
        url: target.control_url.clone().unwrap_or_default(),
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
        if f.other_user_id.is_none() {
            let name = format!("token-conformance-other-{run_id}@example.invalid");
            let password = format!("{run_id}-{}", std::process::id());
            let answer = control
                .create_user(&name, Some(&password), false)
                .await
                .map_err(error)?;
            f.other_user_id = answer.get("user_id").and_then(serde_json::Value::as_i64);
        }
    }
    Ok(f)
}
