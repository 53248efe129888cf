//! A target profile: where the implementation is, how to log in, what it is configured with,
//! and what it lets the harness control. Read from a YAML file, overridden by flags; secrets
//! come from environment variables, never from the file.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::duration::Span;
use crate::error::{Error, ErrorKind, Place};

/// Environment variable for the username.
pub const ENV_USERNAME: &str = "TOKEN_CONFORMANCE_USERNAME";
/// Environment variable for the password.
pub const ENV_PASSWORD: &str = "TOKEN_CONFORMANCE_PASSWORD";

/// A value that must never be printed: `Debug` and `Display` show `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

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
    pub const ALL: [Self; 4] = [
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
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Whether cases needing it change state every other case sees, and so must run alone.
    pub fn is_global(self) -> bool {
        matches!(self, Self::Clock | Self::Lifespans)
    }
}

/// TLS options for HTTPS targets.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// A PEM file of extra CA certificates to trust (a staging instance's private CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate. For throw-away test instances only.
    #[serde(default)]
    pub insecure: bool,
}

/// The profile file's shape.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    base_url: Option<String>,
    username: Option<String>,
    username_env: Option<String>,
    password_env: Option<String>,
    /// Present only to refuse it with a helpful message.
    password: Option<serde::de::IgnoredAny>,
    refresh_token_lifespan_days: Option<u32>,
    access_token_lifespan_hours: Option<u32>,
    tolerance: Option<Span>,
    timeout: Option<Span>,
    max_response_bytes: Option<usize>,
    capabilities: Option<Vec<Capability>>,
    control_url: Option<String>,
    tls: Option<Tls>,
}

/// A fully resolved target.
#[derive(Clone, Debug)]
pub struct Target {
    /// Base URL, without a trailing slash.
    pub base_url: String,
    /// The login user.
    pub username: String,
    /// Its password.
    pub password: Secret,
    /// The refresh token lifespan the target is configured with.
    pub refresh_lifespan: Span,
    /// The access token lifespan the target is configured with.
    pub access_lifespan: Span,
    /// Allowed difference in expiry arithmetic.
    pub tolerance: Span,
    /// Per-request timeout.
    pub timeout: Span,
    /// Largest response body read; a larger one fails its step.
    pub max_response_bytes: usize,
    /// What the control protocol offers (empty without one).
    pub capabilities: BTreeSet<Capability>,
    /// The control protocol's base URL, without a trailing slash.
    pub control_url: Option<String>,
    /// TLS options.
    pub tls: Tls,
}

/// Flag values that override the profile (all optional).
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--target`.
    pub base_url: Option<String>,
    /// `--username`.
    pub username: Option<String>,
    /// `--password`.
    pub password: Option<String>,
    /// `--refresh-lifespan-days`.
    pub refresh_lifespan_days: Option<u32>,
    /// `--access-lifespan-hours`.
    pub access_lifespan_hours: Option<u32>,
    /// `--tolerance`.
    pub tolerance: Option<Span>,
    /// `--timeout`.
    pub timeout: Option<Span>,
    /// `--control-url`.
    pub control_url: Option<String>,
    /// `--capability` (repeatable); replaces the profile's list.
    pub capabilities: Option<Vec<Capability>>,
    /// `--insecure`.
    pub insecure: bool,
    /// `--ca-file`.
    pub ca_file: Option<PathBuf>,
}

fn trim_url(url: &str, what: &str, place: Option<&Place>) -> Result<String, Error> {
    let u = url.trim().trim_end_matches('/');
    if !(u.starts_with("http://") || u.starts_with("https://")) || u.len() < "https://".len() {
        let mut e = Error::new(
            ErrorKind::Profile,
            format!("{what} `{url}` is not an http:// or https:// URL"),
        );
        if let Some(p) = place {
            e = e.at(p.clone());
        }
        return Err(e);
    }
    Ok(u.to_owned())
}

impl Target {
    /// Resolves a target from an optional profile file, the environment (through `env`) and
    /// flags, in rising precedence.
    pub fn resolve(
        profile: Option<&Path>,
        overrides: &Overrides,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let (file, place) = match profile {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Error::new(ErrorKind::Profile, format!("cannot read the profile: {e}"))
                        .at(Place::file(path))
                })?;
                let parsed: ProfileFile = crate::yaml::parse(&text, path, ErrorKind::Profile)?;
                (parsed, Some(Place::file(path)))
            }
            None => (ProfileFile::default(), None),
        };
        let in_profile = |msg: String| {
            let e = Error::new(ErrorKind::Profile, msg);
            match &place {
                Some(p) => e.at(p.clone()),
                None => e,
            }
        };
        if file.password.is_some() {
            return Err(
                in_profile("the profile holds a password".into()).hint(format!(
                    "keep secrets out of files: set password_env to the name of an environment \
                 variable, or set {ENV_PASSWORD}"
                )),
            );
        }
        let base_url = overrides
            .base_url
            .clone()
            .or(file.base_url)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Usage,
                    "no target: give --target URL or base_url in --profile",
                )
            })?;
        let base_url = trim_url(&base_url, "target", place.as_ref())?;

        let from_env = |name: &Option<String>, default: &str| -> Option<String> {
            env(name.as_deref().unwrap_or(default)).filter(|v| !v.is_empty())
        };
        let username = overrides
            .username
            .clone()
            .or_else(|| from_env(&file.username_env, ENV_USERNAME))
            .or(file.username)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Usage,
                    format!("no username: give --username, set {ENV_USERNAME}, or username in the profile"),
                )
            })?;
        let password = overrides
            .password
            .clone()
            .or_else(|| from_env(&file.password_env, ENV_PASSWORD))
            .map(Secret::new)
            .ok_or_else(|| {
                let var = file
                    .password_env
                    .clone()
                    .unwrap_or_else(|| ENV_PASSWORD.to_owned());
                Error::new(
                    ErrorKind::Usage,
                    format!("no password: set {var} or give --password"),
                )
            })?;
        let days = overrides
            .refresh_lifespan_days
            .or(file.refresh_token_lifespan_days)
            .unwrap_or(60);
        let hours = overrides
            .access_lifespan_hours
            .or(file.access_token_lifespan_hours)
            .unwrap_or(24);
        if days == 0 || hours == 0 {
            return Err(in_profile("lifespans must be at least 1".into()));
        }
        let control_url = overrides
            .control_url
            .clone()
            .or(file.control_url)
            .map(|u| trim_url(&u, "control URL", place.as_ref()))
            .transpose()?;
        let capabilities: BTreeSet<Capability> = overrides
            .capabilities
            .clone()
            .or(file.capabilities)
            .unwrap_or_default()
            .into_iter()
            .collect();
        if !capabilities.is_empty() && control_url.is_none() {
            return Err(
                in_profile("capabilities are listed but there is no control_url".into()).hint(
                    "the capabilities are offered through the control protocol; give its URL",
                ),
            );
        }
        let mut tls = file.tls.unwrap_or_default();
        tls.insecure |= overrides.insecure;
        if let Some(ca) = &overrides.ca_file {
            tls.ca_file = Some(ca.clone());
        }
        Ok(Self {
            base_url,
            username,
            password,
            refresh_lifespan: Span::from_secs(i64::from(days) * 86_400),
            access_lifespan: Span::from_secs(i64::from(hours) * 3_600),
            tolerance: overrides
                .tolerance
                .or(file.tolerance)
                .unwrap_or(Span::from_secs(1)),
            timeout: overrides
                .timeout
                .or(file.timeout)
                .unwrap_or(Span::from_secs(10)),
            max_response_bytes: file.max_response_bytes.unwrap_or(1024 * 1024),
            capabilities,
            control_url,
            tls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn profile(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("tmp");
        f.write_all(text.as_bytes()).expect("write");
        f
    }

    #[test]
    fn flags_beat_env_beat_file() {
        let f = profile(
            "base_url: https://staging.example.com/\nusername: file@example.com\npassword_env: MY_PW\naccess_token_lifespan_hours: 2\ntolerance: 2s\n",
        );
        let env = |k: &str| match k {
            "MY_PW" => Some("from-env".to_owned()),
            ENV_USERNAME => Some("env@example.com".to_owned()),
            _ => None,
        };
        let t = Target::resolve(Some(f.path()), &Overrides::default(), env).expect("ok");
        assert_eq!(t.base_url, "https://staging.example.com");
        assert_eq!(t.username, "env@example.com");
        assert_eq!(t.password.expose(), "from-env");
        assert_eq!(format!("{:?}", t.password), "<redacted>");
        assert_eq!(t.access_lifespan, Span::from_secs(7200));
        assert_eq!(t.refresh_lifespan, Span::from_secs(60 * 86_400));
        assert_eq!(t.tolerance, Span::from_secs(2));
        let o = Overrides {
            username: Some("flag@example.com".into()),
            ..Overrides::default()
        };
        let t = Target::resolve(Some(f.path()), &o, env).expect("ok");
        assert_eq!(t.username, "flag@example.com");
    }

    #[test]
    fn a_password_in_the_file_is_refused() {
        let f = profile("base_url: http://x\nusername: u\npassword: hunter2\n");
        let e = Target::resolve(Some(f.path()), &Overrides::default(), |_| None).expect_err("no");
        assert_eq!(e.kind, ErrorKind::Profile);
        assert!(e.hint.expect("hint").contains("password_env"));
    }

    #[test]
    fn typos_and_bad_urls_are_profile_errors() {
        let f = profile("base_ulr: http://x\n");
        let e = Target::resolve(Some(f.path()), &Overrides::default(), |_| None).expect_err("typo");
        assert_eq!(e.hint.as_deref(), Some("did you mean `base_url`?"));
        let o = Overrides {
            base_url: Some("ftp://x".into()),
            ..Overrides::default()
        };
        let e = Target::resolve(None, &o, |_| None).expect_err("url");
        assert!(e.message.contains("not an http"), "{e}");
    }
}
