//! What every handler shares, and how the server gets it at start-up.

use std::sync::Arc;

use crate::error::ApiError;
use crate::password::{self, Passwords};
use crate::store::{Store, StoreError};
use crate::{Config, StartError, THROTTLE_LOCKOUT, THROTTLE_WINDOW, clock::Clock, throttle, token};

/// What every handler shares.
pub struct AppState {
    /// The database. Handlers reach it through [`AppState::on_store`].
    pub store: Store,
    /// The (movable) clock.
    pub clock: Clock,
    /// Failed-login throttling.
    pub throttle: throttle::LoginThrottle,
    /// Password verification.
    pub passwords: Passwords,
    /// Request body limit in bytes.
    pub body_limit: usize,
}

impl AppState {
    /// Runs `f` on the store off the async workers (SQLite blocks) and turns a storage error
    /// into an internal error.
    pub async fn on_store<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let app = Arc::clone(self);
        tokio::task::spawn_blocking(move || f(&app.store))
            .await
            .map_err(|e| ApiError::Internal(format!("blocking task failed: {e}")))?
            .map_err(ApiError::from)
    }
}

/// The demo user created when no user was configured and none exists yet.
#[derive(Clone, Debug)]
pub struct DemoUser {
    /// Its username.
    pub username: String,
    /// Its password, generated at random; shown once, stored only as a hash.
    pub password: String,
}

/// Opens the database, creates the configured users, and builds the shared state.
/// Returns the demo user's credentials when one was created.
pub fn prepare(config: &Config) -> Result<(Arc<AppState>, Option<DemoUser>), StartError> {
    let store = Store::open(&config.db)?;
    for (username, password) in &config.users {
        let hash = password::hash(password).map_err(StartError)?;
        store.upsert_user(username, Some(&hash), false)?;
    }
    for username in &config.sso_users {
        store.upsert_user(username, None, true)?;
    }
    let mut demo = None;
    if config.users.is_empty() && store.count_password_users()? == 0 {
        let password = token::generate(18).map_err(|e| StartError(format!("CSPRNG: {e}")))?;
        let username = "demo@example.com".to_owned();
        let hash = password::hash(&password).map_err(StartError)?;
        store.upsert_user(&username, Some(&hash), false)?;
        demo = Some(DemoUser { username, password });
    }
    let state = AppState {
        store,
        clock: config.clock.clone(),
        throttle: throttle::LoginThrottle::new(
            config.max_failed_logins,
            THROTTLE_WINDOW,
            THROTTLE_LOCKOUT,
        ),
        passwords: Passwords::new().map_err(StartError)?,
        body_limit: config.body_limit,
    };
    Ok((Arc::new(state), demo))
}
