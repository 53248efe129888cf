//! A target: where the implementation is, how to log in, what it is configured with, and what
//! it lets the harness control.
//!
//! Every setting is one field of [`Settings`], which is at once the profile file's shape and
//! the `run` command's flags. Three layers are merged, each over the one before: the profile
//! file, the environment (credentials only), the flags. [`Target::resolve`] then checks the
//! result one concern at a time. Secrets come from the environment or flags, never the file.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;

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

/// What a case needs of a target beyond the API: a capability of the control protocol, or an
/// account the profile may name instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Need {
    /// A capability of the control protocol.
    Capability(Capability),
    /// A user who signs in through SSO: `sso_username` in the profile, or one the control
    /// protocol's `users` capability creates.
    SsoUser,
}

impl Need {
    /// The name in case files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Capability(c) => c.name(),
            Self::SsoUser => "sso_user",
        }
    }

    /// Whether cases needing it change state every other case sees, and so must run alone.
    pub fn is_global(self) -> bool {
        matches!(self, Self::Capability(c) if c.is_global())
    }
}

impl<'de> Deserialize<'de> for Need {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        if name == "sso_user" {
            return Ok(Self::SsoUser);
        }
        Capability::from_name(&name).map(Self::Capability).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown need `{name}`, expected one of `clock`, `lifespans`, `users`, `revoke_refresh_token`, `sso_user`"
            ))
        })
    }
}

fn parse_capability(s: &str) -> Result<Capability, crate::error::BadValue> {
    Capability::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = Capability::ALL.iter().map(|c| c.name()).collect();
        crate::error::BadValue::new(format!(
            "unknown capability `{s}`; known: {}",
            names.join(", ")
        ))
    })
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
    /// Where the refresh token lifespan comes from (`--refresh-lifespan-days`, the profile,
    /// the vendor's default, the target's control protocol), for messages and reports.
    pub refresh_lifespan_from: String,
    /// Where the access token lifespan comes from.
    pub access_lifespan_from: String,
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
    /// An SSO user, when the profile names one.
    pub sso_username: Option<String>,
    /// Another user's id, when the profile names one.
    pub other_user_id: Option<i64>,
    /// Headers sent on every request (values from `${VAR}` already read).
    pub headers: Vec<(String, Secret)>,
    /// Requests per second at most.
    pub rate: Option<f64>,
    /// TLS options.
    pub tls: Tls,
}

impl Target {
    /// Whether the target can give a case what it needs: the capability, or for an SSO user,
    /// the profile's or one the control protocol can create.
    pub fn provides(&self, need: Need) -> bool {
        match need {
            Need::Capability(c) => self.capabilities.contains(&c),
            Need::SsoUser => {
                self.sso_username.is_some() || self.capabilities.contains(&Capability::Users)
            }
        }
    }
}

/// Where a setting came from, for messages: the profile file when there is one.
struct Origin(Option<Place>);

impl Origin {
    fn error(&self, kind: ErrorKind, message: impl Into<String>) -> Error {
        let e = Error::new(kind, message);
        match &self.0 {
            Some(p) => e.at(p.clone()),
            None => e,
        }
    }

    fn url(&self, url: &str, what: &str, plain_ok: bool) -> Result<String, Error> {
        let u = url.trim().trim_end_matches('/');
        if !(u.starts_with("http://") || u.starts_with("https://")) || u.len() < "https://".len() {
            return Err(self.error(
                ErrorKind::Profile,
                format!("{what} `{url}` is not an http:// or https:// URL"),
            ));
        }
        if let Some(rest) = u.strip_prefix("http://")
            && !plain_ok
            && !is_loopback(host_of(rest))
        {
            return Err(self
                .error(
                    ErrorKind::Usage,
                    format!(
                        "{what} `{url}` is plain HTTP to a host that is not this machine: the password and every token would travel in clear text"
                    ),
                )
                .hint("use https://, or give --allow-plain-http (allow_plain_http: true) if the network in between is yours"));
        }
        Ok(u.to_owned())
    }
}

/// The host of a URL without its scheme: `user@host:port/path` gives `host`, `[::1]:8080`
/// gives `::1`.
fn host_of(rest: &str) -> &str {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = host_port.strip_prefix('[') {
        return v6.split(']').next().unwrap_or_default();
    }
    host_port.split(':').next().unwrap_or_default()
}

/// Whether a host is this machine: `localhost`, 127.0.0.0/8 or `::1`, judged from the name
/// alone (nothing is resolved).
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `Name: value` headers, with `${VAR}` read through `env`.
fn headers(
    specs: &[String],
    env: &impl Fn(&str) -> Option<String>,
    origin: &Origin,
) -> Result<Vec<(String, Secret)>, Error> {
    let mut out = Vec::new();
    for spec in specs {
        let bad = |why: &str| {
            origin
                .error(ErrorKind::Usage, format!("header `{spec}` {why}"))
                .hint("write it as 'Name: value'; ${VAR} takes the value from the environment")
        };
        let (name, value) = spec.split_once(':').ok_or_else(|| bad("has no `:`"))?;
        let name = name.trim();
        let valid_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !valid_name {
            return Err(bad("has no valid header name"));
        }
        let value = expand(value.trim(), env)
            .map_err(|var| bad(&format!("reads ${{{var}}}, which is not set")))?;
        if value.bytes().any(|b| b < 0x20 && b != b'\t') {
            return Err(bad("has a control character in its value"));
        }
        out.push((name.to_owned(), Secret::new(value)));
    }
    Ok(out)
}

/// Replaces every `${VAR}` with the variable's value; the name of the first one not set.
fn expand<'v>(value: &'v str, env: &impl Fn(&str) -> Option<String>) -> Result<String, &'v str> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let var = &after[..end];
        out.push_str(&env(var).ok_or(var)?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

impl Target {
    /// Resolves a target from an optional profile file, the environment (through `env`) and
    /// the flags, in rising precedence.
    pub fn resolve(
        profile: Option<&Path>,
        flags: &Settings,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let file = profile
            .map(Settings::from_profile)
            .transpose()?
            .unwrap_or_default();
        let environment = Settings::from_env(&file, &env);
        let in_file = (
            file.refresh_token_lifespan_days,
            file.access_token_lifespan_hours,
        );
        let merged = flags.clone().over(environment.over(file));
        let origin = Origin(profile.map(Place::file));
        let headers = headers(&merged.headers, &env, &origin)?;
        let from = |flag: Option<u32>, in_file: Option<u32>, name: &str| {
            if flag.is_some() {
                format!("--{name}")
            } else if in_file.is_some() {
                "the profile".to_owned()
            } else {
                "the vendor's default".to_owned()
            }
        };

        let refresh_from = from(
            flags.refresh_token_lifespan_days,
            in_file.0,
            "refresh-lifespan-days",
        );
        let access_from = from(
            flags.access_token_lifespan_hours,
            in_file.1,
            "access-lifespan-hours",
        );
        let mut target = Self::from_settings(merged, origin)?;
        target.headers = headers;
        target.refresh_lifespan_from = refresh_from;
        target.access_lifespan_from = access_from;
        Ok(target)
    }

    /// Whether the lifespans were left to the vendor's defaults (and may be taken from the
    /// target when it can say).
    pub fn lifespans_defaulted(&self) -> bool {
        self.refresh_lifespan_from == "the vendor's default"
            && self.access_lifespan_from == "the vendor's default"
    }

    fn from_settings(s: Settings, origin: Origin) -> Result<Self, Error> {
        let base_url = s.base_url.as_deref().ok_or_else(|| {
            Error::new(
                ErrorKind::Usage,
                "no target: give --target URL or base_url in --profile",
            )
        })?;
        let base_url = origin.url(base_url, "target", s.allow_plain_http)?;
        let (username, password) = credentials(&s)?;
        let (refresh_lifespan, access_lifespan) = lifespans(&s, &origin)?;
        let (control_url, capabilities) = control(&s, &origin)?;
        let tolerance = tolerance(s.tolerance)?;
        Ok(Self {
            base_url,
            username,
            password,
            refresh_lifespan,
            access_lifespan,
            refresh_lifespan_from: "the vendor's default".into(),
            access_lifespan_from: "the vendor's default".into(),
            tolerance,
            timeout: s.timeout.unwrap_or(Span::from_secs(10)),
            max_response_bytes: s.max_response_bytes.unwrap_or(1024 * 1024),
            capabilities,
            control_url,
            sso_username: s.sso_username,
            other_user_id: s.other_user_id,
            headers: Vec::new(),
            rate: s.rate.filter(|r| *r > 0.0),
            tls: s.tls,
        })
    }
}

/// The least tolerance, and the default.
pub const MIN_TOLERANCE: Span = Span::from_secs(1);

/// The tolerance, checked: one below [`MIN_TOLERANCE`] would fail conformant servers on
/// timestamps rounded to the second and on the run's own timing.
fn tolerance(given: Option<Span>) -> Result<Span, Error> {
    let t = given.unwrap_or(MIN_TOLERANCE);
    if t.micros() < MIN_TOLERANCE.micros() {
        return Err(Error::new(
            ErrorKind::Usage,
            format!(
                "tolerance {t} is less than {MIN_TOLERANCE}: the API's timestamps and a round trip are not more exact, so a conformant server could fail"
            ),
        )
        .hint("give --tolerance 1s or more"));
    }
    Ok(t)
}

/// The login user and password.
fn credentials(s: &Settings) -> Result<(String, Secret), Error> {
    let username = s.username.clone().ok_or_else(|| {
        Error::new(
            ErrorKind::Usage,
            format!("no username: give --username, set {ENV_USERNAME}, or username in the profile"),
        )
    })?;
    let password = s.password.clone().ok_or_else(|| {
        let var = s.password_env.as_deref().unwrap_or(ENV_PASSWORD);
        Error::new(
            ErrorKind::Usage,
            format!("no password: set {var} or give --password"),
        )
    })?;
    Ok((username, password))
}

/// The lifespans the target is configured with (the vendor's defaults: 60 days, 24 hours).
fn lifespans(s: &Settings, origin: &Origin) -> Result<(Span, Span), Error> {
    let days = s.refresh_token_lifespan_days.unwrap_or(60);
    let hours = s.access_token_lifespan_hours.unwrap_or(24);
    if days == 0 || hours == 0 {
        return Err(origin.error(ErrorKind::Profile, "lifespans must be at least 1"));
    }
    Ok((
        Span::from_secs(i64::from(days) * 86_400),
        Span::from_secs(i64::from(hours) * 3_600),
    ))
}

/// The control protocol's URL and the capabilities listed for it.
fn control(s: &Settings, origin: &Origin) -> Result<(Option<String>, BTreeSet<Capability>), Error> {
    let url = s
        .control_url
        .as_deref()
        .map(|u| origin.url(u, "control URL", s.allow_plain_http))
        .transpose()?;
    let capabilities: BTreeSet<Capability> = s.capabilities.iter().copied().collect();
    if !capabilities.is_empty() && url.is_none() {
        return Err(origin
            .error(
                ErrorKind::Profile,
                "capabilities are listed but there is no control_url",
            )
            .hint("the capabilities are offered through the control protocol; give its URL"));
    }
    Ok((url, capabilities))
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
        let t = Target::resolve(Some(f.path()), &Settings::default(), env).expect("ok");
        assert_eq!(t.base_url, "https://staging.example.com");
        assert_eq!(t.username, "env@example.com");
        assert_eq!(t.password.expose(), "from-env");
        assert_eq!(format!("{:?}", t.password), "<redacted>");
        assert_eq!(t.access_lifespan, Span::from_secs(7200));
        assert_eq!(t.refresh_lifespan, Span::from_secs(60 * 86_400));
        assert_eq!(t.tolerance, Span::from_secs(2));
        let o = Settings {
            username: Some("flag@example.com".into()),
            ..Settings::default()
        };
        let t = Target::resolve(Some(f.path()), &o, env).expect("ok");
        assert_eq!(t.username, "flag@example.com");
    }

    #[test]
    fn every_setting_merges_the_same_way() {
        let f = profile(
            "base_url: http://localhost\nusername: u\ncontrol_url: http://localhost/c\ncapabilities: [clock]\ntls: {insecure: true}\n",
        );
        let flags = Settings {
            password: Some(Secret::new("pw")),
            tls: Tls {
                ca_file: Some("ca.pem".into()),
                insecure: false,
            },
            ..Settings::default()
        };
        let t = Target::resolve(Some(f.path()), &flags, |_| None).expect("ok");
        assert!(
            t.tls.insecure,
            "the file's switch survives a flag layer without it"
        );
        assert_eq!(t.tls.ca_file.as_deref(), Some(Path::new("ca.pem")));
        assert_eq!(
            t.capabilities.len(),
            1,
            "an empty flag list keeps the file's"
        );
        let flags = Settings {
            capabilities: vec![Capability::Users, Capability::Lifespans],
            ..flags
        };
        let t = Target::resolve(Some(f.path()), &flags, |_| None).expect("ok");
        assert!(
            !t.capabilities.contains(&Capability::Clock),
            "flags replace the list"
        );
    }

    #[test]
    fn plain_http_to_another_host_is_refused_unless_allowed() {
        let at = |url: &str, allow: bool| {
            let s = Settings {
                base_url: Some(url.into()),
                username: Some("u".into()),
                password: Some(Secret::new("p")),
                allow_plain_http: allow,
                ..Settings::default()
            };
            Target::resolve(None, &s, |_| None)
        };
        for ok in [
            "http://localhost:8080",
            "http://127.0.0.1",
            "http://127.9.8.7:1/x",
            "http://[::1]:8080",
            "https://staging.example.com",
            "http://user@LOCALHOST/",
        ] {
            assert!(at(ok, false).is_ok(), "{ok}");
        }
        for refused in [
            "http://staging.example.com",
            "http://10.0.0.1:8080",
            "http://localhost.example.com",
            "http://127.0.0.1.nip.io",
            "http://[::2]",
        ] {
            let e = at(refused, false).expect_err(refused);
            assert!(e.message.contains("clear text"), "{e}");
            assert!(
                at(refused, true).is_ok(),
                "{refused} with --allow-plain-http"
            );
        }
    }

    #[test]
    fn headers_read_the_environment_and_add_up() {
        let f =
            profile("base_url: https://x\nusername: u\nheaders: ['X-Api-Key: ${GATEWAY_KEY}']\n");
        let flags = Settings {
            password: Some(Secret::new("p")),
            headers: vec!["X-Trace: run-${RUN}-a".into()],
            ..Settings::default()
        };
        let env = |k: &str| match k {
            "GATEWAY_KEY" => Some("k-123".to_owned()),
            "RUN" => Some("7".to_owned()),
            _ => None,
        };
        let t = Target::resolve(Some(f.path()), &flags, env).expect("ok");
        let got: Vec<(&str, &str)> = t
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.expose()))
            .collect();
        assert_eq!(got, [("X-Api-Key", "k-123"), ("X-Trace", "run-7-a")]);
        let e = Target::resolve(Some(f.path()), &flags, |_| None).expect_err("unset");
        assert!(
            e.message.contains("${GATEWAY_KEY}, which is not set"),
            "{e}"
        );
        let bad = Settings {
            headers: vec!["no colon".into()],
            ..flags
        };
        assert!(Target::resolve(Some(f.path()), &bad, env).is_err());
    }

    #[test]
    fn a_tolerance_under_a_second_is_refused_and_a_second_is_the_default() {
        let at = |t: &str| {
            let f = profile(&format!("base_url: http://localhost\nusername: u\n{t}"));
            Target::resolve(Some(f.path()), &Settings::default(), |_| Some("pw".into()))
        };
        assert_eq!(at("").expect("default").tolerance, Span::from_secs(1));
        assert_eq!(
            at("tolerance: 1s\n").expect("1s").tolerance,
            Span::from_secs(1)
        );
        let e = at("tolerance: 500ms\n").expect_err("500ms");
        assert!(e.message.contains("tolerance 500ms is less than 1s"), "{e}");
        assert_eq!(e.exit(), crate::error::Exit::Error);
    }

    #[test]
    fn a_password_in_the_file_is_refused() {
        let f = profile("base_url: http://x\nusername: u\npassword: hunter2\n");
        let e = Target::resolve(Some(f.path()), &Settings::default(), |_| None).expect_err("no");
        assert_eq!(e.kind, ErrorKind::Profile);
        assert!(e.hint.expect("hint").contains("password_env"));
    }

    #[test]
    fn typos_and_bad_urls_are_profile_errors() {
        let f = profile("base_ulr: http://x\n");
        let e = Target::resolve(Some(f.path()), &Settings::default(), |_| None).expect_err("typo");
        assert_eq!(e.hint.as_deref(), Some("did you mean `base_url`?"));
        let o = Settings {
            base_url: Some("ftp://x".into()),
            ..Settings::default()
        };
        let e = Target::resolve(None, &o, |_| None).expect_err("url");
        assert!(e.message.contains("not an http"), "{e}");
    }
}
