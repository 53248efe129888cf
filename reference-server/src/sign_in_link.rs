//! One-time sign-in links for SSO users: made by `reference-server sso-link`, used on the token
//! page. Only a link's digest is stored.

use time::{Duration, OffsetDateTime};

use crate::store::{Store, StoreError};
use crate::token;

/// How long a one-time sign-in link works.
pub const LIFETIME: Duration = Duration::minutes(10);

/// Creates a one-time sign-in link for `user_id` (the `sso-link` command); returns the secret
/// that goes into the link.
pub fn new(store: &Store, user_id: i64) -> Result<String, StoreError> {
    let secret = token::generate(32).map_err(|e| StoreError::Internal(format!("CSPRNG: {e}")))?;
    let digest = token::digest(&secret);
    // The real clock: this runs in another process, which cannot see a test clock's offset.
    let now = OffsetDateTime::now_utc();
    store
        .write_blocking(move |tx| tx.create_sign_in_link(&digest, user_id, now, now + LIFETIME))?;
    Ok(secret)
}
