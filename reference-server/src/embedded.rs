//! A throw-away instance: a fresh database in a temporary directory, an ephemeral loopback
//! port, one generated user, and the test-control protocol on. It is the harness's default
//! target and what the tests start, so that every one of them starts it the same way.

use std::net::SocketAddr;

use crate::config::{Config, StartError};
use crate::{Running, spawn, token};

/// The user every throw-away instance has.
pub const USERNAME: &str = "conformance@example.com";

/// A running throw-away instance. Dropping it stops the server and deletes its database.
pub struct Instance {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The control protocol's base URL.
    pub control_url: String,
    /// The generated user's name.
    pub username: String,
    /// Its password, random for every instance.
    pub password: String,
    server: Running,
    // Dropped after the server, so the database outlives it.
    _dir: tempfile::TempDir,
}

impl Instance {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The database file.
    pub fn db(&self) -> std::path::PathBuf {
        self._dir.path().join("reference.db")
    }

    /// How many refresh and access tokens are active now: what a run left behind.
    pub fn active_tokens(&self) -> Result<(i64, i64), StartError> {
        let store = crate::Store::open(&self.db())?;
        Ok(store.read(|r| r.count_active(time::OffsetDateTime::now_utc()))?)
    }

    /// Stops the server, letting requests in flight finish, then deletes the database.
    pub async fn stop(self) {
        self.server.shutdown().await;
    }
}

/// Starts a throw-away instance on the current tokio runtime.
pub async fn start() -> Result<Instance, StartError> {
    let dir = tempfile::Builder::new()
        .prefix("token-conformance-")
        .tempdir()
        .map_err(|e| StartError(format!("cannot make a temporary directory: {e}")))?;
    let password = token::generate(24).map_err(|e| StartError(format!("CSPRNG: {e}")))?;
    let config = Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        users: vec![(USERNAME.to_owned(), password.clone())],
        test_control: true,
        ..Config::new(dir.path().join("reference.db"))
    };
    let server = spawn(config).await?;
    let base_url = format!("http://{}", server.addr());
    Ok(Instance {
        control_url: format!("{base_url}/conformance/v1"),
        base_url,
        username: USERNAME.to_owned(),
        password,
        server,
        _dir: dir,
    })
}
