//! The command line, shared by the `reference-server` binary and `token-conformance serve`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{
    Config, DEFAULT_BODY_LIMIT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
    DEFAULT_MAX_FAILED_LOGINS,
};
use crate::peer::Cidr;
use crate::store::{FeatureFlag, LifespanKey, Store};

/// The environment variable that `--listen` defaults to.
pub const LISTEN_ENV: &str = "REFERENCE_SERVER_LISTEN";
/// The environment variable that `--db` defaults to, for the server and every command.
pub const DB_ENV: &str = "REFERENCE_SERVER_DB";
/// The environment variable that `sso-link --base-url` defaults to.
pub const BASE_URL_ENV: &str = "REFERENCE_SERVER_BASE_URL";

/// The environment variable that may hold password users, one `EMAIL:PASSWORD` per line.
pub const USERS_ENV: &str = "REFERENCE_SERVER_USERS";

/// `reference-server`: the reference implementation of the Token Authentication API.
#[derive(Debug, Parser)]
#[command(
    name = "reference-server",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Maintenance commands; without one, the server runs.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Server options.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Reads or sets a lifespan, like the vendor's `_conf`.
    Conf(ConfArgs),
    /// Deletes tokens revoked or expired longer ago than the retention (the server also does
    /// this by itself every hour, with the default retention).
    Purge(PurgeArgs),
    /// Prints a one-time sign-in link for an SSO user (the stand-in for the identity
    /// provider): it works once, within 10 minutes.
    SsoLink(SsoLinkArgs),
}

/// Flags of the server itself.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on. A container sets the variable to 0.0.0.0:8080, so that flags
    /// given to the image keep it reachable.
    #[arg(long, env = LISTEN_ENV, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// SQLite database file; created if missing, and all state survives restarts. A container
    /// sets the variable to a file on its volume, for the server and its commands alike.
    #[arg(long, env = DB_ENV, default_value = "token-auth.db", value_name = "PATH")]
    pub db: PathBuf,
    /// A password user to create or update, as EMAIL:PASSWORD (repeatable). Other processes
    /// on this machine can read a command line: prefer --user-file or REFERENCE_SERVER_USERS.
    #[arg(long = "user", value_name = "EMAIL:PASSWORD", value_parser = parse_user)]
    pub users: Vec<(String, String)>,
    /// A file of password users to create or update, one EMAIL:PASSWORD per line (blank lines
    /// and lines starting with # are skipped). The environment variable
    /// REFERENCE_SERVER_USERS may hold the same lines.
    #[arg(long = "user-file", value_name = "PATH")]
    pub user_file: Option<PathBuf>,
    /// An SSO user, who cannot create refresh tokens through the API (repeatable).
    #[arg(long = "sso-user", value_name = "EMAIL")]
    pub sso_users: Vec<String>,
    /// Mount the test-control protocol under /conformance/v1/ (clock, lifespans, users).
    /// For test deployments only: anyone who reaches it can create users.
    #[arg(long)]
    pub test_control: bool,
    /// Largest accepted request body, in bytes.
    #[arg(long, default_value_t = DEFAULT_BODY_LIMIT, value_name = "BYTES")]
    pub body_limit: usize,
    /// Failed logins one account may have from one address (or browser) before each further
    /// failure locks that pair out (a minute, doubling to an hour). Past 100 failures (or N,
    /// if higher) from addresses and browsers the account has not signed in from, all of
    /// those are refused; where it signed in before keeps its own allowance.
    #[arg(long, default_value_t = DEFAULT_MAX_FAILED_LOGINS, value_name = "N")]
    pub max_failed_logins: u32,
    /// Log one line per request (method, path, status, time; never a body). Errors are
    /// logged without it.
    #[arg(long)]
    pub log_requests: bool,
    /// A reverse proxy in front of the server, as an address block (10.0.0.0/8, ::1/128;
    /// repeatable): its X-Forwarded-For and X-Forwarded-Proto are believed, for the login
    /// throttle and the cookies. From anyone else they are ignored.
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    pub trusted_proxies: Vec<Cidr>,
    /// Open connections at most (fewer if the process may not open that many files); when all
    /// are taken, the oldest that has not sent a request makes room for a newcomer.
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS, value_name = "N")]
    pub max_connections: usize,
    /// Open connections from one network at most: an IPv4 /24 or an IPv6 /64 (a trusted
    /// proxy's are not counted).
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, value_name = "N")]
    pub max_connections_per_address: usize,
    /// The token page's cookies without `Secure` and the `__Host-` prefix: only for serving
    /// the page over plain HTTP to other machines (browsers accept secure cookies from
    /// http://localhost and http://127.0.0.1).
    #[arg(long)]
    pub plain_http_cookies: bool,
}

impl ServeArgs {
    /// The server configuration these flags describe (with the users of `--user-file` and of
    /// [`USERS_ENV`]): an error says which file or variable, and which line, is wrong.
    pub fn config(&self) -> Result<Config, String> {
        let mut users = self.users.clone();
        if let Ok(text) = std::env::var(USERS_ENV) {
            users.extend(parse_users(&text, USERS_ENV)?);
        }
        if let Some(path) = &self.user_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            users.extend(parse_users(&text, &path.display().to_string())?);
        }
        Ok(Config {
            listen: self.listen,
            users,
            sso_users: self.sso_users.clone(),
            test_control: self.test_control,
            body_limit: self.body_limit,
            max_failed_logins: self.max_failed_logins,
            log_requests: self.log_requests,
            trusted_proxies: self.trusted_proxies.clone(),
            max_connections: self.max_connections.max(1),
            max_connections_per_address: self.max_connections_per_address.max(1),
            plain_http_cookies: self.plain_http_cookies,
            ..Config::new(self.db.clone())
        })
    }
}

/// `EMAIL:PASSWORD` lines from `source`; blank lines and `#` comments skipped.
fn parse_users(text: &str, source: &str) -> Result<Vec<(String, String)>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, l)| parse_user(l).map_err(|e| format!("{source}:{}: {e}", i + 1)))
        .collect()
}

/// `conf KEY [-s VALUE] --db PATH`.
#[derive(Debug, Clone, Args)]
pub struct ConfArgs {
    /// `.authentication.token.refresh_token_lifespan` (days),
    /// `.authentication.token.access_token_lifespan` (hours) or
    /// `.feature_flags.enable_swagger` (true or false).
    #[arg(value_name = "KEY")]
    pub key: String,
    /// The new value; without it, the current value is printed.
    #[arg(short = 's', long = "set", value_name = "VALUE")]
    pub set: Option<String>,
    /// The server's database.
    #[arg(long, env = DB_ENV, default_value = "token-auth.db", value_name = "PATH")]
    pub db: PathBuf,
}

/// `purge [--retention-days N] --db PATH`.
#[derive(Debug, Clone, Args)]
pub struct PurgeArgs {
    /// Keep tokens that died fewer than this many days ago. Until purged, a dead token is
    /// refused as "expired or revoked"; after, as "invalid".
    #[arg(long, default_value_t = crate::store::PURGE_RETENTION.whole_days(), value_name = "DAYS",
          value_parser = clap::value_parser!(i64).range(0..=36_500))]
    pub retention_days: i64,
    /// The server's database.
    #[arg(long, env = DB_ENV, default_value = "token-auth.db", value_name = "PATH")]
    pub db: PathBuf,
}

/// `sso-link EMAIL [--base-url URL] --db PATH`.
#[derive(Debug, Clone, Args)]
pub struct SsoLinkArgs {
    /// The SSO user (created with `--sso-user`).
    #[arg(value_name = "EMAIL")]
    pub email: String,
    /// Where the server is reached, for the link.
    #[arg(long, env = BASE_URL_ENV, default_value = "http://127.0.0.1:8080", value_name = "URL")]
    pub base_url: String,
    /// The server's database.
    #[arg(long, env = DB_ENV, default_value = "token-auth.db", value_name = "PATH")]
    pub db: PathBuf,
}

fn parse_user(raw: &str) -> Result<(String, String), String> {
    match raw.split_once(':') {
        Some((user, pass)) if !user.trim().is_empty() && !pass.is_empty() => {
            Ok((user.trim().to_owned(), pass.to_owned()))
        }
        _ => Err("expected EMAIL:PASSWORD, both non-empty".to_owned()),
    }
}

/// How the process ends, as its exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The server stopped when told to, or the command did its job.
    Success = 0,
    /// Bad flags or configuration, a server that could not start, or a command that failed:
    /// the message on stderr says which.
    Error = 2,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        Self::from(e as u8)
    }
}

/// Runs the command line: a maintenance command, or the server.
pub async fn run(cli: Cli) -> Exit {
    let job: Box<dyn FnOnce() -> Result<String, String> + Send> = match &cli.command {
        Some(Command::Conf(args)) => {
            let args = args.clone();
            Box::new(move || conf(&args))
        }
        Some(Command::Purge(args)) => {
            let args = args.clone();
            Box::new(move || purge(&args))
        }
        Some(Command::SsoLink(args)) => {
            let args = args.clone();
            Box::new(move || sso_link(&args))
        }
        None => return serve(&cli.serve).await,
    };
    // The store's synchronous calls may not block the async runtime's threads.
    match tokio::task::spawn_blocking(job)
        .await
        .unwrap_or_else(|e| Err(format!("the command failed: {e}")))
    {
        Ok(line) => {
            println!("{line}");
            Exit::Success
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Error
        }
    }
}

/// Runs the server with these flags until ctrl-c or SIGTERM, logging to stderr. The demo
/// user's password, when one is created, goes to stdout once and nowhere else.
pub async fn serve(args: &ServeArgs) -> Exit {
    use std::io::IsTerminal as _;
    // A second call (the harness's `serve` inside a process that logs already) is harmless.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .try_init();
    let config = match args.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Error;
        }
    };
    let test_control = config.test_control;
    let shutdown = crate::shutdown_signal();
    let server = match crate::spawn(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Error;
        }
    };
    if let Some(demo) = server.demo_user() {
        println!(
            "Created demo user {} with password {} (shown only now).",
            demo.username, demo.password
        );
    }
    // The address goes to stdout once, for people and for scripts that start the server on
    // port 0; the log says only what stdout does not.
    println!("reference server listening on http://{}", server.addr());
    if test_control {
        tracing::warn!("test-control protocol is mounted under /conformance/v1/: test use only");
    }
    shutdown.await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Exit::Success
}

/// Runs `conf`: prints the value, or sets it and prints the new value.
pub fn conf(args: &ConfArgs) -> Result<String, String> {
    if let Some(flag) = FeatureFlag::from_conf_key(&args.key) {
        return conf_flag(args, flag);
    }
    let key = LifespanKey::from_conf_key(&args.key).ok_or_else(|| {
        let known: Vec<&str> = LifespanKey::ALL
            .iter()
            .map(|k| k.conf_key())
            .chain(FeatureFlag::ALL.iter().map(|f| f.conf_key()))
            .collect();
        format!(
            "unknown key '{}'; known keys: {}",
            args.key,
            known.join(", ")
        )
    })?;
    let value = match &args.set {
        None => None,
        Some(raw) => Some(raw.trim().parse::<i64>().map_err(|_| {
            format!(
                "{} takes a whole number of {}, not '{raw}'",
                key.conf_key(),
                key.unit()
            )
        })?),
    };
    let store = open_existing(&args.db)?;
    if let Some(value) = value {
        store
            .write_blocking(move |tx| tx.set_lifespan(key, value))
            .map_err(|e| e.to_string())?;
    }
    let value = store.read(|r| r.lifespan(key)).map_err(|e| e.to_string())?;
    Ok(format!("{} = {value} ({})", key.conf_key(), key.unit()))
}

fn conf_flag(args: &ConfArgs, flag: FeatureFlag) -> Result<String, String> {
    let on = match args.set.as_deref().map(str::trim) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            return Err(format!(
                "{} takes true or false, not '{other}'",
                flag.conf_key()
            ));
        }
    };
    let store = open_existing(&args.db)?;
    if let Some(on) = on {
        store
            .write_blocking(move |tx| tx.set_feature_flag(flag, on))
            .map_err(|e| e.to_string())?;
    }
    let on = store
        .read(|r| r.feature_flag(flag))
        .map_err(|e| e.to_string())?;
    Ok(format!("{} = {on}", flag.conf_key()))
}

/// Runs `sso-link`: stores a one-time link for an SSO user and prints it.
pub fn sso_link(args: &SsoLinkArgs) -> Result<String, String> {
    let store = open_existing(&args.db)?;
    let email = args.email.trim().to_owned();
    let user = store
        .read(|r| r.find_user(&email))
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user {email} in {}", args.db.display()))?;
    if !user.sso {
        return Err(format!(
            "{email} signs in with a password; sign-in links are for SSO users"
        ));
    }
    let link = crate::sign_in_link::new(&store, user.id).map_err(|e| e.to_string())?;
    Ok(format!(
        "{}/account/auth/sso?link={link}\n(works once, for {} minutes)",
        args.base_url.trim_end_matches('/'),
        crate::sign_in_link::LIFETIME.whole_minutes()
    ))
}

/// Runs `purge`: deletes what died before the retention, and says how much went.
pub fn purge(args: &PurgeArgs) -> Result<String, String> {
    let store = open_existing(&args.db)?;
    let cutoff = time::OffsetDateTime::now_utc() - time::Duration::days(args.retention_days);
    let (refresh, access) = store
        .write_blocking(move |tx| tx.purge(cutoff))
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "purged {refresh} refresh token(s) and {access} access token(s) dead for over {} day(s)",
        args.retention_days
    ))
}

/// Opens the database a server runs with; a typo in `--db` must not silently create an empty
/// database and work on that.
fn open_existing(db: &std::path::Path) -> Result<Store, String> {
    if !db.is_file() {
        return Err(format!(
            "no database at {} (give the --db the server runs with)",
            db.display()
        ));
    }
    Store::open(db).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_flag_splits_at_first_colon() {
        assert_eq!(
            parse_user("a@b.c:pa:ss").expect("ok"),
            ("a@b.c".to_owned(), "pa:ss".to_owned())
        );
        assert!(parse_user("nocolon").is_err());
        assert!(parse_user(":pw").is_err());
    }
}
