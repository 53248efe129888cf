//! [`Settings`]: every setting once, as the profile file's key and the `run` flag at once,
//! with the secrets kept out of logs ([`Secret`]).

use std::fmt;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;

use super::capability::{Capability, parse_capability};
use crate::duration::Span;
use crate::error::{Error, ErrorKind, Place};

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
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
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

/// How a setting's layer lies over the one below it: the profile file, the environment, the
/// flags, each over the one before, with the declared defaults at the bottom.
pub trait Layer: Default {
    /// This layer over `lower`: what this one leaves empty comes from `lower`.
    fn over(self, lower: Self) -> Self;
    /// The bottom layer: every declared default.
    fn defaults() -> Self {
        Self::default()
    }
}

impl<T> Layer for Option<T> {
    fn over(self, lower: Self) -> Self {
        self.or(lower)
    }
}

/// A switch is on when any layer turns it on.
impl Layer for bool {
    fn over(self, lower: Self) -> Self {
        self || lower
    }
}

/// A list given by a layer replaces the one below (`capabilities`); the lists that add up
/// instead are declared `[adds up]`.
impl<T> Layer for Vec<T> {
    fn over(self, lower: Self) -> Self {
        if self.is_empty() { lower } else { self }
    }
}

/// A list that adds up: the lower layer's entries, then this one's.
fn add_up<T>(upper: Vec<T>, lower: Vec<T>) -> Vec<T> {
    lower.into_iter().chain(upper).collect()
}

/// A declared default, parsed as the flag's own value would be. One that does not parse is a
/// mistake in this file, not in the user's input, and `the_declared_defaults_are_the_bottom_layer`
/// parses every one.
fn default_of<T: std::str::FromStr>(text: &str, setting: &str) -> T {
    text.parse()
        .unwrap_or_else(|_| panic!("the declared default of {setting}, `{text}`, does not parse"))
}

/// Adds `note` to the help of `cmd`'s flag `id`, when it has one.
fn annotate(cmd: clap::Command, id: &str, note: &str) -> clap::Command {
    if !cmd.get_arguments().any(|a| a.get_id() == id) {
        return cmd;
    }
    cmd.mut_arg(id, |a| {
        let with = |help: Option<&clap::builder::StyledStr>| match help {
            Some(h) => format!("{h} {note}"),
            None => note.to_owned(),
        };
        let long = a.get_long_help().map(|h| with(Some(h)));
        let a = a.clone().help(with(a.get_help()));
        match long {
            Some(l) => a.long_help(l),
            None => a,
        }
    })
}

/// Declares a group of settings, each once: its doc comment is the flag's help and the profile
/// key's documentation; its `#[arg]` the flag; its name the profile key; `= "text"` its
/// default (parsed like the flag, and shown in the help); `[env CONST = "VAR", named by KEY]`
/// the environment variable it is read from (or the one the profile's KEY names); `[adds up]`
/// a list whose layers add up. Generates the struct (a clap `Args` and a serde profile shape),
/// its [`Layer`], `from_env` for the settings read from the environment, and `document`, which
/// puts the defaults and variables into the flags' help.
macro_rules! settings {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$attr:meta])*
                $field:ident: $ty:ty
                $(= $default:literal)?
                $([env $env_const:ident = $env_var:literal, named by $env_key:ident])?
                $([adds $adds:ident])?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, Args, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $(
                $(#[$attr])*
                $(#[doc = ""] #[doc = concat!("[default: ", $default, "]")])?
                $(
                    #[doc = ""]
                    #[doc = concat!(
                        "[env: ", $env_var, ", or the variable `", stringify!($env_key), "` names]"
                    )]
                )?
                #[serde(default)]
                pub $field: $ty,
            )*
        }

        $($(
            #[doc = concat!(
                "The environment variable `", stringify!($field), "` is read from, unless the ",
                "profile's `", stringify!($env_key), "` names another."
            )]
            pub const $env_const: &str = $env_var;
        )?)*

        impl Layer for $name {
            fn over(self, lower: Self) -> Self {
                Self {
                    $( $field: settings!(@over $($adds)? self.$field, lower.$field), )*
                }
            }

            fn defaults() -> Self {
                Self {
                    $( $field: settings!(@default $field $($default)?), )*
                }
            }
        }

        impl $name {
            /// `cmd`'s flags for these settings, with each declared default and environment
            /// variable in their help, as clap shows its own (the flags themselves default to
            /// nothing, so that a lower layer shows through).
            pub fn document(cmd: clap::Command) -> clap::Command {
                #[allow(unused_mut)]
                let mut cmd = cmd;
                $(
                    $(
                        let note = format!("[default: {}]", $default);
                        cmd = annotate(cmd, stringify!($field), &note);
                    )?
                    $( cmd = annotate(cmd, stringify!($field), concat!("[env: ", $env_var, "]")); )?
                )*
                cmd
            }

            /// The environment layer: the settings read from the environment, from the
            /// variables `lower` names (or the declared ones). An empty variable counts as unset.
            pub fn from_env(lower: &Self, env: &impl Fn(&str) -> Option<String>) -> Self {
                #[allow(unused_mut)]
                let mut layer = Self::default();
                let _ = (lower, env);
                $($(
                    layer.$field = env(lower.$env_key.as_deref().unwrap_or($env_const))
                        .filter(|v| !v.is_empty())
                        .map(Into::into);
                )?)*
                layer
            }
        }
    };
    (@over up $upper:expr, $lower:expr) => { add_up($upper, $lower) };
    (@over $upper:expr, $lower:expr) => { Layer::over($upper, $lower) };
    (@default $field:ident $default:literal) => { Some(default_of($default, stringify!($field))) };
    (@default $field:ident) => { Layer::defaults() };
}

settings! {
    /// TLS options for HTTPS targets.
    pub struct Tls {
        /// Extra CA certificates (PEM) to trust: a staging instance's private CA.
        #[arg(long, value_name = "FILE")]
        ca_file: Option<PathBuf>,
        /// Accept any TLS certificate (throw-away test instances only).
        #[arg(long)]
        insecure: bool,
    }
}

settings! {
    /// Every setting of a target, from any layer: the profile file (YAML, these keys), the
    /// environment, and the `run` flags. A field left empty by a layer is filled by the one below.
    pub struct Settings {
        /// Base URL of the implementation (without it, and without --profile, the bundled
        /// reference server is started in-process and tested).
        #[arg(long = "target", value_name = "URL")]
        base_url: Option<String>,
        /// The user to log in as.
        #[arg(long, value_name = "U")]
        username: Option<String>
            [env ENV_USERNAME = "TOKEN_CONFORMANCE_USERNAME", named by username_env],
        /// The environment variable that holds the username (profile only).
        #[arg(skip)]
        username_env: Option<String>,
        /// Its password (prefer the environment: flags show in process lists). A profile may
        /// not hold one.
        #[arg(long, value_name = "P")]
        password: Option<Secret>
            [env ENV_PASSWORD = "TOKEN_CONFORMANCE_PASSWORD", named by password_env],
        /// The environment variable that holds the password (profile only).
        #[arg(skip)]
        password_env: Option<String>,
        /// The target's refresh token lifespan in days (the vendor's default).
        #[arg(long = "refresh-lifespan-days", value_name = "N")]
        refresh_token_lifespan_days: Option<u32> = "60",
        /// The target's access token lifespan in hours (the vendor's default).
        #[arg(long = "access-lifespan-hours", value_name = "N")]
        access_token_lifespan_hours: Option<u32> = "24",
        /// Allowed error of the run's time arithmetic, the one meaning of this setting: a token's
        /// reported lifespan against the configured one, a control-protocol clock move against the
        /// one asked, and the run's own prediction of whether a token has expired. At least 1s
        /// (the API's timestamps and a round trip are not more exact).
        #[arg(long, value_name = "DURATION")]
        tolerance: Option<Span> = "1s",
        /// Per-request timeout.
        #[arg(long, value_name = "DURATION")]
        timeout: Option<Span> = "10s",
        /// Largest response body read, in bytes; a larger one fails its step.
        #[arg(long, value_name = "BYTES")]
        max_response_bytes: Option<usize> = "1048576",
        /// Base URL of the target's control protocol.
        #[arg(long, value_name = "URL")]
        control_url: Option<String>,
        /// A capability the control protocol offers (repeatable; default: ask it). A layer's
        /// list replaces the one below.
        #[arg(long = "capability", value_name = "NAME", value_parser = parse_capability)]
        capabilities: Vec<Capability>,
        /// A user of the target who signs in through SSO, for the cases about SSO users (without
        /// it they need the control protocol's `users` capability).
        #[arg(long, value_name = "EMAIL")]
        sso_username: Option<String>,
        /// The id of a user other than the profile's, for the cases that send another user's
        /// `user_id` (without it: the second account's, one the control protocol creates, or the
        /// next id).
        #[arg(long, value_name = "ID")]
        other_user_id: Option<i64>,
        /// A second account, dedicated to testing: the probes that try near-miss passwords on
        /// an account and present another user's tokens log in with it, so that they run on a
        /// plain deployment and never touch the profile's account (without it they need the
        /// control protocol's `users`). Its password comes from the environment.
        #[arg(long, value_name = "U")]
        other_username: Option<String>,
        /// The second account's password (environment only: flags show in process lists). A
        /// profile may not hold one.
        #[arg(skip)]
        other_password: Option<Secret>
            [env ENV_OTHER_PASSWORD = "TOKEN_CONFORMANCE_OTHER_PASSWORD", named by other_password_env],
        /// The environment variable that holds the second account's password (profile only).
        #[arg(skip)]
        other_password_env: Option<String>,
        /// A header sent on every request to the target and its control protocol, as
        /// `Name: value` (repeatable); `${VAR}` in the value is read from the environment. Values
        /// are redacted in every output, like passwords. The profile's and the flags' add up.
        #[arg(long = "header", value_name = "NAME: VALUE")]
        headers: Vec<String> [adds up],
        /// At most this many requests per second to the target; 0 (or none given) sends them
        /// as fast as the cases go, without a limit.
        #[arg(long, value_name = "N")]
        rate: Option<f64>,
        /// Allow plain http:// to a host that is not this machine (the password travels in
        /// clear text).
        #[arg(long)]
        allow_plain_http: bool,
        /// TLS options.
        #[command(flatten)]
        tls: Tls,
    }
}

impl Settings {
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
    pub(crate) fn from_profile(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::new(ErrorKind::Profile, format!("cannot read the profile: {e}"))
                .at(Place::file(path))
        })?;
        let file: Self = crate::yaml::parse(&text, path, ErrorKind::Profile)?;
        if file.password.is_some() || file.other_password.is_some() {
            return Err(
                Error::new(ErrorKind::Profile, "the profile holds a password")
                    .at(Place::file(path))
                    .hint(format!(
                        "keep secrets out of files: set password_env (other_password_env) to the name \
                     of an environment variable, or set {ENV_PASSWORD} ({ENV_OTHER_PASSWORD})"
                    )),
            );
        }
        Ok(file)
    }
}
