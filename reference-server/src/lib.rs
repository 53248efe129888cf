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
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::middleware;
use tokio::sync::oneshot;

pub(crate) mod api;
pub(crate) mod body;
pub mod cli;
pub(crate) mod clock;
pub(crate) mod config;
mod connections;
pub(crate) mod control;
pub(crate) mod deadline;
mod dispatch;
pub mod embedded;
pub(crate) mod error;
pub(crate) mod hash_queue;
mod multipart;
pub(crate) mod password;
pub(crate) mod peer;
pub(crate) mod policy;
pub(crate) mod respond;
pub(crate) mod serve;
pub mod sign_in_link;
pub(crate) mod slots;
pub(crate) mod state;
pub mod store;
pub(crate) mod swagger;
pub(crate) mod throttle;
pub mod token;
pub(crate) mod web;

pub use clock::Clock;
pub use config::{
    Config, DEFAULT_BODY_LIMIT, DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, DEFAULT_MAX_FAILED_LOGINS, StartError,
};
pub use error::ApiError;
pub use state::{AppState, DemoUser, prepare};
pub use store::{LifespanKey, Store};
pub use swagger::OPENAPI_YAML;

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
    let router = app(Arc::clone(&state), config.test_control);
    let limits = serve::Limits {
        header_timeout: config.header_timeout,
        max_connections: config.max_connections,
        max_connections_per_address: config.max_connections_per_address,
        keep_alive_idle: config.keep_alive_idle,
        trusted_proxies: Arc::new(config.trusted_proxies.clone()),
    };
    let task = tokio::spawn(serve::serve(listener, router, state, limits, stopped));
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
