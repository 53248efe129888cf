//! What every handler shares, and how the server gets it at start-up.

use std::sync::Arc;

use crate::password::Passwords;
use crate::store::Store;
use crate::{Config, StartError, clock::Clock, throttle, token};

/// What every handler shares.
pub struct AppState {
    /// The database: [`Store::read`] on the caller's thread, [`Store::write`] through the
    /// writer's group commit.
    pub store: Store,
    /// The (movable) clock.
    pub clock: Clock,
    /// Failed-login throttling.
    pub throttle: throttle::LoginThrottle,
    /// Password verification.
    pub passwords: Passwords,
    /// Request body limit in bytes.
    pub body_limit: usize,
    /// Whether every request is logged ([`crate::Config::log_requests`]).
    pub log_requests: bool,
    /// Requests in flight (load shedding past its size).
    pub in_flight: tokio::sync::Semaphore,
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
    let passwords = Passwords::new().map_err(StartError)?;
    let upsert = |username: &str, hash: Option<String>, sso: bool| {
        let username = username.to_owned();
        store.write_blocking(move |tx| tx.upsert_user(&username, hash.as_deref(), sso))
    };
    for (username, password) in &config.users {
        let hash = passwords
            .hash_blocking(password.clone())
            .map_err(StartError)?;
        upsert(username, Some(hash), false)?;
    }
    for username in &config.sso_users {
        upsert(username, None, true)?;
    }
    let mut demo = None;
    if config.users.is_empty() && store.read(|r| r.count_password_users())? == 0 {
        let password = token::generate(18).map_err(|e| StartError(format!("CSPRNG: {e}")))?;
        let username = "demo@example.com".to_owned();
        let hash = passwords
            .hash_blocking(password.clone())
            .map_err(StartError)?;
        upsert(&username, Some(hash), false)?;
        demo = Some(DemoUser { username, password });
    }
    let state = AppState {
        store,
        clock: config.clock.clone(),
        throttle: throttle::LoginThrottle::new(config.max_failed_logins),
        passwords,
        body_limit: config.body_limit,
        log_requests: config.log_requests,
        in_flight: tokio::sync::Semaphore::new(crate::MAX_IN_FLIGHT),
    };
    Ok((Arc::new(state), demo))
}
