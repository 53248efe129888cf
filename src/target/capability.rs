//! What a target lets the harness control ([`Capability`]) and what a case needs of it
//! ([`Need`]).

use serde::Deserialize;

/// What the target lets the harness control (the control protocol's capabilities).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Read and move the server's clock.
    Clock,
    /// Set the two lifespans.
    Lifespans,
    /// Create users (including SSO users).
    Users,
    /// Revoke a refresh token as an administrator.
    RevokeRefreshToken,
}

impl Capability {
    /// All capabilities.
    pub(crate) const ALL: [Self; 4] = [
        Self::Clock,
        Self::Lifespans,
        Self::Users,
        Self::RevokeRefreshToken,
    ];

    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Clock => "clock",
            Self::Lifespans => "lifespans",
            Self::Users => "users",
            Self::RevokeRefreshToken => "revoke_refresh_token",
        }
    }

    /// From the wire name.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Whether cases needing it change state every other case sees, and so must run alone.
    pub(crate) fn is_global(self) -> bool {
        matches!(self, Self::Clock | Self::Lifespans)
    }
}

/// What a case needs of a target beyond the API: a capability of the control protocol, or an
/// account the profile may name instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Need {
    /// A capability of the control protocol.
    Capability(Capability),
    /// A user who signs in through SSO: `sso_username` in the profile, or one the control
    /// protocol's `users` capability creates.
    SsoUser,
    /// A second account the run may log in as and try wrong passwords on: `other_username` in
    /// the profile, or one the control protocol's `users` capability creates.
    OtherAccount,
}

impl Need {
    /// The name in case files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Capability(c) => c.name(),
            Self::SsoUser => "sso_user",
            Self::OtherAccount => "other_account",
        }
    }

    /// Whether cases needing it change state every other case sees, and so must run alone.
    pub(crate) fn is_global(self) -> bool {
        matches!(self, Self::Capability(c) if c.is_global())
    }
}

impl<'de> Deserialize<'de> for Need {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        match name.as_str() {
            "sso_user" => return Ok(Self::SsoUser),
            "other_account" => return Ok(Self::OtherAccount),
            _ => {}
        }
        Capability::from_name(&name).map(Self::Capability).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown need `{name}`, expected one of `clock`, `lifespans`, `users`, `revoke_refresh_token`, `sso_user`, `other_account`"
            ))
        })
    }
}

pub(super) fn parse_capability(s: &str) -> Result<Capability, crate::error::BadValue> {
    Capability::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = Capability::ALL.iter().map(|c| c.name()).collect();
        crate::error::BadValue::new(format!(
            "unknown capability `{s}`; known: {}",
            names.join(", ")
        ))
    })
}
