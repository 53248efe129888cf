//! What every handler shares, and how the server gets it at start-up.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::{Config, StartError};
use crate::password::Passwords;
use crate::store::Store;
use crate::{throttle, token};

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
    /// Whether every request is logged ([`crate::config::Config::log_requests`]).
    pub log_requests: bool,
    /// Requests in flight, in all and per address (load shedding past them).
    pub slots: crate::slots::Slots,
    /// The key that binds the token page's pre-sign-in form tokens to their cookie: random at
    /// each start, so forms older than the process are refused (and simply shown again).
    pub form_key: [u8; 32],
    /// Whether the token page's cookies are `Secure` with the `__Host-` prefix (see
    /// [`crate::config::Config::plain_http_cookies`]).
    pub secure_cookies: bool,
}

/// The demo user created when no user was configured and none exists yet.
#[derive(Clone, Debug)]
pub struct DemoUser {
    /// Its username.
    pub username: String,
    /// Its password, generated at random; shown once, stored only as a hash.
    pub password: String,
}

/// Creates a password user, or gives an existing one this password. A password that is the
/// user's already changes nothing (a restart with the same `--user` keeps every token); a new
/// one ends everything the old one opened, refresh tokens and web sessions (ASVS 5 V7.4.3: a
/// password is reset because it may be known to someone else).
fn set_password(
    store: &Store,
    passwords: &Passwords,
    username: &str,
    password: &str,
    now: time::OffsetDateTime,
) -> Result<(), StartError> {
    let existing = store.read(|r| r.find_user(username))?;
    let same = existing
        .as_ref()
        .filter(|u| !u.sso)
        .and_then(|u| u.password_hash.as_deref())
        .is_some_and(|stored| crate::password::matches(stored, password).unwrap_or(false));
    if same {
        return Ok(());
    }
    let hash = passwords
        .hash_blocking(password.to_owned())
        .map_err(StartError)?;
    let name = username.to_owned();
    let existed = existing.is_some();
    // One transaction: the new password is never in force while the old one's tokens live.
    let (refresh, sessions) = store.write_blocking(move |tx| {
        let id = tx.upsert_user(&name, Some(&hash), false)?;
        if existed {
            tx.end_credentials_of(id, now)
        } else {
            Ok((0, 0))
        }
    })?;
    if existed {
        tracing::info!(
            user = username,
            refresh,
            sessions,
            "a new password: the user's refresh tokens and web sessions were ended"
        );
    }
    Ok(())
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
        set_password(&store, &passwords, username, password, config.clock.now())?;
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
    let mut form_key = [0u8; 32];
    getrandom::fill(&mut form_key).map_err(|e| StartError(format!("CSPRNG: {e}")))?;
    let state = AppState {
        store,
        clock: config.clock.clone(),
        throttle: throttle::LoginThrottle::new(config.max_failed_logins),
        passwords,
        body_limit: config.body_limit,
        log_requests: config.log_requests,
        slots: crate::slots::Slots::new(
            config.max_in_flight.max(1),
            config.max_in_flight_per_address.max(1),
        ),
        form_key,
        secure_cookies: !config.plain_http_cookies,
    };
    Ok((Arc::new(state), demo))
}
