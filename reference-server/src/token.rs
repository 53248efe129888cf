//! Token values, their digests, and the status a token has at a given instant.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

/// Random bytes in an access token: 32 bytes, 43 URL-safe base64 characters, as real servers send.
pub const ACCESS_TOKEN_BYTES: usize = 32;
/// Random bytes in a refresh token: 64 bytes, 86 characters, the length of the vendor's sample.
pub const REFRESH_TOKEN_BYTES: usize = 64;

/// A fresh token value from the operating system's CSPRNG, URL-safe base64 without padding.
pub fn generate(bytes: usize) -> Result<String, getrandom::Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// The digest the store keeps instead of the token.
///
/// A plain SHA-256 is enough here (unlike for passwords): token values carry at least 256 bits
/// of randomness, so there is nothing to brute-force, and a fast digest keeps lookups cheap.
pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The three values of `token_status`, written in upper case as real servers do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenStatus {
    /// Usable.
    Active,
    /// Past `token_expires_at`.
    Expired,
    /// Revoked by regeneration or by `revokeAPIAccessTokens`.
    Revoked,
}

impl TokenStatus {
    /// The status of a token that expires at `expires_at` and was revoked at `revoked_at`, at `now`.
    /// Revocation wins over expiry: a token revoked and then expired reports `REVOKED`.
    pub fn at(
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
        revoked_at: Option<OffsetDateTime>,
    ) -> Self {
        if revoked_at.is_some() {
            Self::Revoked
        } else if now >= expires_at {
            Self::Expired
        } else {
            Self::Active
        }
    }

    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Expired => "EXPIRED",
            Self::Revoked => "REVOKED",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn tokens_are_url_safe_and_long_enough() {
        let a = generate(ACCESS_TOKEN_BYTES).expect("csprng");
        let r = generate(REFRESH_TOKEN_BYTES).expect("csprng");
        assert_eq!(a.len(), 43);
        assert_eq!(r.len(), 86);
        assert!(
            r.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(a, generate(ACCESS_TOKEN_BYTES).expect("csprng"));
    }

    #[test]
    fn status_prefers_revoked_then_expired() {
        let exp = datetime!(2030-01-01 0:00 UTC);
        let before = datetime!(2029-12-31 23:59:59.999999 UTC);
        assert_eq!(TokenStatus::at(before, exp, None), TokenStatus::Active);
        assert_eq!(TokenStatus::at(exp, exp, None), TokenStatus::Expired);
        assert_eq!(
            TokenStatus::at(exp, exp, Some(before)),
            TokenStatus::Revoked
        );
    }
}
