//! The reference implementation of the Token Authentication API.
//!
//! A complete, durable implementation of the six endpoints (`specs/token-auth.openapi.yaml`),
//! backed by one SQLite file, plus the optional test-control protocol
//! (`specs/conformance-control.openapi.yaml`) that lets a conformance harness move its clock.
//!
//! In-process use, as the harness and the tests do:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = reference_server::Config {
//!     listen: "127.0.0.1:0".parse()?,
//!     users: vec![("dev@example.com".into(), "s3cret-pass".into())],
//!     test_control: true,
//!     ..reference_server::Config::new("tokens.db")
//! };
//! let server = reference_server::spawn(config).await?;
//! println!("listening on http://{}", server.addr());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::middleware;
use tokio::sync::oneshot;

pub mod api;
pub mod body;
pub mod cli;
pub mod clock;
pub mod control;
pub mod embedded;
pub mod error;
mod multipart;
pub mod password;
pub mod peer;
pub mod policy;
pub mod respond;
pub mod serve;
pub mod state;
pub mod store;
pub mod swagger;
pub mod throttle;
pub mod token;
pub mod web;

pub use clock::Clock;
pub use error::ApiError;
pub use state::{AppState, DemoUser, prepare};
pub use store::{LifespanKey, Store};

/// The contract this server implements, served at `GET /openapi/api_authentication/`.
pub const OPENAPI_YAML: &str = include_str!("../../specs/token-auth.openapi.yaml");

/// The default limit on a request body. Every legitimate body is well under 2 KiB.
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024;

/// How long a client may take to send a request's headers before its connection is closed,
/// so connections that trickle bytes (slowloris) cannot pile up.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Open connections at most (fewer if the process may not open that many files).
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// Open connections from one address at most (a trusted proxy's are not counted).
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 256;

/// Failed logins one account may have from one address before each further failure locks
/// that pair (see [`throttle`]). High enough that a conformance run, with a few deliberate bad
/// passwords, is never locked out.
pub const DEFAULT_MAX_FAILED_LOGINS: u32 = 10;

/// How the server is set up. Its `Debug` output hides the passwords.
#[derive(Clone)]
pub struct Config {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// The SQLite file; created if missing, and all state survives restarts.
    pub db: PathBuf,
    /// Password users to create or update at start-up, as `(username, password)`.
    pub users: Vec<(String, String)>,
    /// SSO users to create at start-up.
    pub sso_users: Vec<String>,
    /// Mount the test-control protocol under `/conformance/v1/`.
    pub test_control: bool,
    /// The body limit in bytes.
    pub body_limit: usize,
    /// Failed logins before a lockout.
    pub max_failed_logins: u32,
    /// Time allowed for a request's headers.
    pub header_timeout: Duration,
    /// Log one line per request (method, path, status, time). Off by default: at tens of
    /// thousands of requests a second the log costs a tenth of the throughput and floods the
    /// terminal; errors are logged either way.
    pub log_requests: bool,
    /// The clock; tests share it to inspect or move time without HTTP.
    pub clock: Clock,
    /// Reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<peer::Cidr>,
    /// Open connections at most.
    pub max_connections: usize,
    /// Open connections from one address at most.
    pub max_connections_per_address: usize,
    /// How long a connection may sit between requests.
    pub keep_alive_idle: Duration,
    /// Requests past their body, in all, at most (503 past it).
    pub max_in_flight: usize,
    /// Requests under way from one address at most, bodies still arriving included.
    pub max_in_flight_per_address: usize,
    /// The token page's cookies without `Secure` and the `__Host-` prefix, for a page served
    /// over plain HTTP on another host than this machine (browsers take `Secure` cookies from
    /// `http://localhost` and `http://127.0.0.1` anyway).
    pub plain_http_cookies: bool,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let users: Vec<&str> = self.users.iter().map(|(u, _)| u.as_str()).collect();
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("db", &self.db)
            .field("users (passwords hidden)", &users)
            .field("sso_users", &self.sso_users)
            .field("test_control", &self.test_control)
            .field("body_limit", &self.body_limit)
            .field("max_failed_logins", &self.max_failed_logins)
            .field("log_requests", &self.log_requests)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("max_connections", &self.max_connections)
            .field(
                "max_connections_per_address",
                &self.max_connections_per_address,
            )
            .field("plain_http_cookies", &self.plain_http_cookies)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Defaults: 127.0.0.1:8080, no users, no test control, the given database.
    pub fn new(db: impl Into<PathBuf>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            db: db.into(),
            users: Vec::new(),
            sso_users: Vec::new(),
            test_control: false,
            body_limit: DEFAULT_BODY_LIMIT,
            max_failed_logins: DEFAULT_MAX_FAILED_LOGINS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            log_requests: false,
            clock: Clock::system(),
            trusted_proxies: Vec::new(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            keep_alive_idle: serve::KEEP_ALIVE_IDLE,
            max_in_flight: policy::MAX_IN_FLIGHT,
            max_in_flight_per_address: policy::MAX_IN_FLIGHT_PER_ADDRESS,
            plain_http_cookies: false,
        }
    }
}

/// Errors that stop the server from starting.
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

impl From<store::StoreError> for StartError {
    fn from(e: store::StoreError) -> Self {
        Self(e.to_string())
    }
}

/// The router: the six endpoints, the contract, and (when asked) the test-control protocol,
/// each module contributing its own routes.
pub fn app(state: Arc<AppState>, test_control: bool) -> Router {
    let mut router = api::routes()
        .merge(web::routes())
        .merge(swagger::routes(Arc::clone(&state)));
    if test_control {
        router = router.merge(control::routes());
    }
    router
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            policy::policy,
        ))
        .with_state(state)
}

/// A server running on the current tokio runtime.
pub struct Running {
    addr: SocketAddr,
    demo: Option<DemoUser>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    purger: tokio::task::JoinHandle<()>,
}

impl Running {
    /// The address it listens on (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The demo user, if one was created at this start.
    pub fn demo_user(&self) -> Option<&DemoUser> {
        self.demo.as_ref()
    }

    /// Stops accepting, lets requests in flight finish, and waits.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
        self.purger.abort();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.purger.abort();
    }
}

/// Starts the server on the current tokio runtime and returns once it is listening.
pub async fn spawn(config: Config) -> Result<Running, StartError> {
    let (state, demo) = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || prepare(&config))
            .await
            .map_err(|e| StartError(format!("start-up task failed: {e}")))??
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| StartError(format!("cannot listen on {}: {e}", config.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartError(format!("cannot read the bound address: {e}")))?;
    let (stop, stopped) = oneshot::channel::<()>();
    let purger = tokio::spawn(purge_every(Arc::clone(&state), PURGE_EVERY));
    let router = app(state, config.test_control);
    let limits = serve::Limits {
        header_timeout: config.header_timeout,
        max_connections: config.max_connections,
        max_connections_per_address: config.max_connections_per_address,
        keep_alive_idle: config.keep_alive_idle,
        trusted_proxies: Arc::new(config.trusted_proxies.clone()),
    };
    let task = tokio::spawn(serve::serve(listener, router, limits, stopped));
    Ok(Running {
        addr,
        demo,
        stop: Some(stop),
        task,
        purger,
    })
}

/// How often the server deletes rows dead for longer than [`store::PURGE_RETENTION`].
pub const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Purges dead rows now and every `every`, by the real clock (retention is housekeeping, not
/// a token's life, so the test clock does not move it).
async fn purge_every(app: Arc<AppState>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let cutoff = time::OffsetDateTime::now_utc() - store::PURGE_RETENTION;
        match app.store.purge(cutoff).await {
            Ok((refresh, access)) if refresh + access > 0 => {
                tracing::info!(refresh, access, "purged tokens dead for over the retention");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "purge failed; trying again later"),
        }
    }
}

/// Installs the handlers for ctrl-c and SIGTERM now, and returns what resolves when either
/// comes. Installing them before the server answers anyone matters: until a handler is there, a
/// SIGTERM kills the process outright, without the graceful shutdown.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let (int, term) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(int) => {},
                () = wait(term) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
