//! Passwords: argon2id hashes with a random salt, and verification that costs the same for a
//! user who does not exist as for one who does.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};

use crate::error::ApiError;
use crate::token;

/// Hashes a password with argon2id and a fresh random salt.
pub fn hash(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("CSPRNG: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| format!("salt: {e}"))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("argon2: {e}"))
}

/// Verifies passwords off the async workers.
pub struct Passwords {
    /// The hash of a random password, checked for unknown users so that they take as long to
    /// refuse as a wrong password: the two must be indistinguishable.
    dummy: Arc<str>,
}

impl Passwords {
    /// A verifier with a fresh dummy hash.
    pub fn new() -> Result<Self, String> {
        let dummy = token::generate(18).map_err(|e| format!("CSPRNG: {e}"))?;
        Ok(Self {
            dummy: hash(&dummy)?.into(),
        })
    }

    /// Whether `password` matches `stored`; with no stored hash (an unknown user) it is
    /// checked against the dummy, and the answer is always no.
    pub async fn verify(&self, stored: Option<String>, password: String) -> Result<bool, ApiError> {
        let known = stored.is_some();
        let hash: Arc<str> = stored.map_or_else(|| Arc::clone(&self.dummy), Arc::from);
        let ok = tokio::task::spawn_blocking(move || {
            let parsed = PasswordHash::new(&hash)
                .map_err(|e| ApiError::Internal(format!("stored password hash unreadable: {e}")))?;
            Ok::<_, ApiError>(
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok(),
            )
        })
        .await
        .map_err(|e| ApiError::Internal(format!("password task failed: {e}")))??;
        Ok(ok && known)
    }
}
