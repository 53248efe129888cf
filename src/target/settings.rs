//! [`Settings`]: every setting once, as the profile file's key and the `run` flag at once,
//! with the secrets kept out of logs ([`Secret`]).

use std::fmt;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;

use super::capability::{Capability, parse_capability};
use crate::duration::Span;
use crate::error::{Error, ErrorKind, Place};

/// Environment variable for the username.
pub const ENV_USERNAME: &str = "TOKEN_CONFORMANCE_USERNAME";

/// Environment variable for the password.
pub const ENV_PASSWORD: &str = "TOKEN_CONFORMANCE_PASSWORD";

/// A value that must never be printed: `Debug` and `Display` show `<redacted>`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
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

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
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

/// TLS options for HTTPS targets.
#[derive(Clone, Debug, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// Extra CA certificates (PEM) to trust: a staging instance's private CA.
    #[arg(long, value_name = "FILE")]
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Accept any TLS certificate (throw-away test instances only).
    #[arg(long)]
    #[serde(default)]
    pub insecure: bool,
}

/// Every setting of a target, from any layer: the profile file (YAML, these keys), the
/// environment, and the `run` flags. A field left empty by a layer is filled by the one below.
#[derive(Clone, Debug, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Base URL of the implementation (without it, and without --profile, the bundled
    /// reference server is started in-process and tested).
    #[arg(long = "target", value_name = "URL")]
    #[serde(default)]
    pub base_url: Option<String>,
    /// The user to log in as (or TOKEN_CONFORMANCE_USERNAME).
    #[arg(long, value_name = "U")]
    #[serde(default)]
    pub username: Option<String>,
    /// The environment variable that holds the username (profile only).
    #[arg(skip)]
    #[serde(default)]
    pub username_env: Option<String>,
    /// Its password (prefer TOKEN_CONFORMANCE_PASSWORD: flags show in process lists). A
    /// profile may not hold one.
    #[arg(long, value_name = "P")]
    #[serde(default)]
    pub password: Option<Secret>,
    /// The environment variable that holds the password (profile only).
    #[arg(skip)]
    #[serde(default)]
    pub password_env: Option<String>,
    /// The target's refresh token lifespan in days.
    #[arg(long = "refresh-lifespan-days", value_name = "N")]
    #[serde(default)]
    pub refresh_token_lifespan_days: Option<u32>,
    /// The target's access token lifespan in hours.
    #[arg(long = "access-lifespan-hours", value_name = "N")]
    #[serde(default)]
    pub access_token_lifespan_hours: Option<u32>,
    /// Allowed error of the run's time arithmetic, the one meaning of this setting: a token's
    /// reported lifespan against the configured one, a control-protocol clock move against the
    /// one asked, and the run's own prediction of whether a token has expired. At least 1s
    /// (the API's timestamps and a round trip are not more exact) [default: 1s].
    #[arg(long, value_name = "DURATION")]
    #[serde(default)]
    pub tolerance: Option<Span>,
    /// Per-request timeout (e.g. 10s).
    #[arg(long, value_name = "DURATION")]
    #[serde(default)]
    pub timeout: Option<Span>,
    /// Largest response body read; a larger one fails its step (default 1 MiB).
    #[arg(long, value_name = "BYTES")]
    #[serde(default)]
    pub max_response_bytes: Option<usize>,
    /// Base URL of the target's control protocol.
    #[arg(long, value_name = "URL")]
    #[serde(default)]
    pub control_url: Option<String>,
    /// A capability the control protocol offers (repeatable; default: ask it).
    #[arg(long = "capability", value_name = "NAME", value_parser = parse_capability)]
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    /// A user of the target who signs in through SSO, for the cases about SSO users (without
    /// it they need the control protocol's `users` capability).
    #[arg(long, value_name = "EMAIL")]
    #[serde(default)]
    pub sso_username: Option<String>,
    /// The id of a user other than the profile's, for the cases that send another user's
    /// `user_id` (without it: one the control protocol creates, or the next id).
    #[arg(long, value_name = "ID")]
    #[serde(default)]
    pub other_user_id: Option<i64>,
    /// A header sent on every request to the target and its control protocol, as
    /// `Name: value` (repeatable); `${VAR}` in the value is read from the environment. Values
    /// are redacted in every output, like passwords.
    #[arg(long = "header", value_name = "NAME: VALUE")]
    #[serde(default)]
    pub headers: Vec<String>,
    /// At most this many requests per second to the target.
    #[arg(long, value_name = "N")]
    #[serde(default)]
    pub rate: Option<f64>,
    /// Allow plain http:// to a host that is not this machine (the password travels in
    /// clear text).
    #[arg(long)]
    #[serde(default)]
    pub allow_plain_http: bool,
    /// TLS options.
    #[command(flatten)]
    #[serde(default)]
    pub tls: Tls,
}

impl Settings {
    /// These settings over `lower`: every field this layer leaves empty comes from `lower`.
    pub fn over(self, lower: Self) -> Self {
        Self {
            base_url: self.base_url.or(lower.base_url),
            username: self.username.or(lower.username),
            username_env: self.username_env.or(lower.username_env),
            password: self.password.or(lower.password),
            password_env: self.password_env.or(lower.password_env),
            refresh_token_lifespan_days: self
                .refresh_token_lifespan_days
                .or(lower.refresh_token_lifespan_days),
            access_token_lifespan_hours: self
                .access_token_lifespan_hours
                .or(lower.access_token_lifespan_hours),
            tolerance: self.tolerance.or(lower.tolerance),
            timeout: self.timeout.or(lower.timeout),
            max_response_bytes: self.max_response_bytes.or(lower.max_response_bytes),
            control_url: self.control_url.or(lower.control_url),
            capabilities: if self.capabilities.is_empty() {
                lower.capabilities
            } else {
                self.capabilities
            },
            sso_username: self.sso_username.or(lower.sso_username),
            other_user_id: self.other_user_id.or(lower.other_user_id),
            // Headers add up: a profile's gateway key and a flag's tracing header both go out.
            headers: lower.headers.into_iter().chain(self.headers).collect(),
            rate: self.rate.or(lower.rate),
            allow_plain_http: self.allow_plain_http || lower.allow_plain_http,
            tls: Tls {
                ca_file: self.tls.ca_file.or(lower.tls.ca_file),
                insecure: self.tls.insecure || lower.tls.insecure,
            },
        }
    }

    /// The settings of a server started for the run, with its control protocol.
    pub fn local(base_url: &str, control_url: &str, username: &str, password: &str) -> Self {
        Self {
            base_url: Some(base_url.to_owned()),
            control_url: Some(control_url.to_owned()),
            username: Some(username.to_owned()),
            password: Some(Secret::new(password)),
            ..Self::default()
        }
    }

    /// Reads a profile file. It may not hold a password.
    pub fn from_profile(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::new(ErrorKind::Profile, format!("cannot read the profile: {e}"))
                .at(Place::file(path))
        })?;
        let file: Self = crate::yaml::parse(&text, path, ErrorKind::Profile)?;
        if file.password.is_some() {
            return Err(
                Error::new(ErrorKind::Profile, "the profile holds a password")
                    .at(Place::file(path))
                    .hint(format!(
                        "keep secrets out of files: set password_env to the name of an environment \
                     variable, or set {ENV_PASSWORD}"
                    )),
            );
        }
        Ok(file)
    }

    /// The environment layer: the credentials, from the variables `lower` names (or the
    /// default ones).
    pub fn from_env(lower: &Self, env: &impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &Option<String>, default: &str| {
            env(name.as_deref().unwrap_or(default)).filter(|v| !v.is_empty())
        };
        Self {
            username: var(&lower.username_env, ENV_USERNAME),
            password: var(&lower.password_env, ENV_PASSWORD).map(Secret::new),
            ..Self::default()
        }
    }
}
