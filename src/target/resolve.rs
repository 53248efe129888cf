//! [`Target`]: the settings merged (file < environment < flags) and checked one concern at a
//! time.

use std::collections::BTreeSet;
use std::path::Path;

use super::capability::{Capability, Need};
use super::settings::{
    ENV_OTHER_PASSWORD, ENV_PASSWORD, ENV_USERNAME, Layer, Secret, Settings, Tls,
};
use reqwest::header::{HeaderName, HeaderValue};

use crate::duration::{LifespanFrom, Span};
use crate::error::{Error, ErrorKind, Place};

/// Why a setting with a declared default is set once the layers are merged: the bottom layer
/// is [`Layer::defaults`] (a test in `target/tests.rs` holds every declared default to it).
const DECLARED: &str = "a setting with a declared default is set by the bottom layer";

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
    /// Where the refresh token lifespan comes from, for messages and reports.
    pub refresh_lifespan_from: LifespanFrom,
    /// Where the access token lifespan comes from.
    pub access_lifespan_from: LifespanFrom,
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
    /// A second account (username, password) the profile names, for the probes that try
    /// passwords and another user's tokens.
    pub other_login: Option<(String, Secret)>,
    /// Headers sent on every request (values from `${VAR}` already read), parsed once here so
    /// that `run` and `proxy` send the same bytes and refuse the same mistakes.
    pub headers: Vec<Header>,
    /// Requests per second at most.
    pub rate: Option<f64>,
    /// TLS options.
    pub tls: Tls,
}

impl Target {
    /// Every secret the profile holds (the passwords, the headers' values), for the redactors
    /// of every output.
    pub fn secrets(&self) -> Vec<String> {
        std::iter::once(self.password.expose().to_owned())
            .chain(self.other_login.iter().map(|(_, p)| p.expose().to_owned()))
            .chain(self.headers.iter().map(|h| h.expose().to_owned()))
            .collect()
    }

    /// Whether the target can give a case what it needs: the capability, or for an SSO user,
    /// the profile's or one the control protocol can create.
    pub(crate) fn provides(&self, need: Need) -> bool {
        match need {
            Need::Capability(c) => self.capabilities.contains(&c),
            Need::SsoUser => {
                self.sso_username.is_some() || self.capabilities.contains(&Capability::Users)
            }
            Need::OtherAccount => {
                self.other_login.is_some() || self.capabilities.contains(&Capability::Users)
            }
        }
    }
}

/// A header the profile sends on every request. Its value is a secret (a gateway's key): it is
/// marked sensitive for the HTTP stack and redacted in every output.
#[derive(Clone)]
pub struct Header {
    /// Its name, as written (HTTP/1.1 sends it in lower case).
    pub name: HeaderName,
    /// Its value.
    pub value: HeaderValue,
}

impl Header {
    /// The value as text, for the redactors.
    pub(crate) fn expose(&self) -> &str {
        std::str::from_utf8(self.value.as_bytes()).expect("built from a string")
    }
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: <redacted>", self.name)
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
    let authority = rest.find(['/', '?', '#']).map_or(rest, |end| &rest[..end]);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = host_port.strip_prefix('[') {
        return v6.split_once(']').map_or(v6, |(host, _)| host);
    }
    host_port
        .split_once(':')
        .map_or(host_port, |(host, _)| host)
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
) -> Result<Vec<Header>, Error> {
    let mut out = Vec::new();
    for spec in specs {
        let bad = |why: &str| {
            origin
                .error(ErrorKind::Usage, format!("header `{spec}` {why}"))
                .hint("write it as 'Name: value'; ${VAR} takes the value from the environment")
        };
        let (name, value) = spec.split_once(':').ok_or_else(|| bad("has no `:`"))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| bad("has no valid header name"))?;
        let value = expand(value.trim(), env)
            .map_err(|var| bad(&format!("reads ${{{var}}}, which is not set")))?;
        // HTTP allows visible ASCII, tabs and (obsolete, but sent as they are) bytes above
        // 0x7f; what it refuses are the control characters, which would end the header or
        // smuggle another.
        let mut value = HeaderValue::from_bytes(value.as_bytes())
            .map_err(|_| bad("has a control character in its value"))?;
        value.set_sensitive(true);
        out.push(Header { name, value });
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
        let merged = flags
            .clone()
            .over(environment.over(file.over(Settings::defaults())));
        let origin = Origin(profile.map(Place::file));
        let headers = headers(&merged.headers, &env, &origin)?;
        let from = |flag: Option<u32>, in_file: Option<u32>, name: &'static str| {
            if flag.is_some() {
                LifespanFrom::Flag(name)
            } else if in_file.is_some() {
                LifespanFrom::Profile
            } else {
                LifespanFrom::VendorDefault
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
    pub(crate) fn lifespans_defaulted(&self) -> bool {
        self.refresh_lifespan_from == LifespanFrom::VendorDefault
            && self.access_lifespan_from == LifespanFrom::VendorDefault
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
        let other_login = other_login(&s, &username)?;
        let (refresh_lifespan, access_lifespan) = lifespans(&s, &origin)?;
        let (control_url, capabilities) = control(&s, &origin)?;
        let tolerance = tolerance(s.tolerance)?;
        Ok(Self {
            base_url,
            username,
            password,
            refresh_lifespan,
            access_lifespan,
            refresh_lifespan_from: LifespanFrom::VendorDefault,
            access_lifespan_from: LifespanFrom::VendorDefault,
            tolerance,
            timeout: s.timeout.expect(DECLARED),
            max_response_bytes: s.max_response_bytes.expect(DECLARED),
            capabilities,
            control_url,
            sso_username: s.sso_username,
            other_user_id: s.other_user_id,
            other_login,
            headers: Vec::new(),
            rate: s.rate.filter(|r| *r > 0.0),
            tls: s.tls,
        })
    }
}

/// The least tolerance, and the default.
pub(crate) const MIN_TOLERANCE: Span = Span::from_secs(1);

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

/// The second account, when one is named: its password must come with it, and it must not be
/// the profile's own (its wrong passwords would then land on the profile's account).
fn other_login(s: &Settings, profile: &str) -> Result<Option<(String, Secret)>, Error> {
    let Some(username) = s.other_username.clone() else {
        return Ok(None);
    };
    if username.eq_ignore_ascii_case(profile) {
        return Err(Error::new(
            ErrorKind::Usage,
            format!("--other-username {username} is the profile's own account"),
        )
        .hint("name a second account, dedicated to testing: it receives wrong passwords"));
    }
    let password = s.other_password.clone().ok_or_else(|| {
        let var = s
            .other_password_env
            .as_deref()
            .unwrap_or(ENV_OTHER_PASSWORD);
        Error::new(
            ErrorKind::Usage,
            format!("no password for the second account {username}: set {var}"),
        )
    })?;
    Ok(Some((username, password)))
}

/// The lifespans the target is configured with.
fn lifespans(s: &Settings, origin: &Origin) -> Result<(Span, Span), Error> {
    let days = s.refresh_token_lifespan_days.expect(DECLARED);
    let hours = s.access_token_lifespan_hours.expect(DECLARED);
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
