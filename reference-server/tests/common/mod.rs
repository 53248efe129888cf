//! Helpers for the reference server's tests: a server with a real SQLite file, reached either
//! over real HTTP on 127.0.0.1 or in-process through `tower::ServiceExt::oneshot` on `app()`,
//! and a client that sends each of the three encodings byte for byte.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;

use reference_server::{Config, Running};
use serde_json::Value;

pub const USER: &str = "dev@example.com";
pub const PASSWORD: &str = "correct horse battery staple";
pub const SSO_USER: &str = "okta@example.com";

/// The three request encodings real clients use.
#[derive(Clone, Copy, Debug)]
pub enum Enc {
    Json,
    Form,
    Multipart,
}

pub const ENCODINGS: [Enc; 3] = [Enc::Json, Enc::Form, Enc::Multipart];

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub server: Option<Running>,
    pub base: String,
    pub http: reqwest::Client,
    /// Set for an in-process harness: requests go straight to the router.
    router: Option<axum::Router>,
    /// The in-process server's state, for the tests that reach into its store.
    pub state: Option<std::sync::Arc<reference_server::AppState>>,
}

pub fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("tokens.db")
}

pub fn config(dir: &tempfile::TempDir) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        users: vec![(USER.into(), PASSWORD.into())],
        sso_users: vec![SSO_USER.into()],
        test_control: true,
        ..Config::new(db_path(dir))
    }
}

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        // Redirects are answers to look at (the page's 303 sets its cookie), not to follow.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// [`client`] sending from `from` (a loopback address of its own: another client to the
/// server).
pub fn client_from(from: std::net::IpAddr) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .local_address(from)
        .timeout(std::time::Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

impl Harness {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let server = reference_server::spawn(config(&dir)).await.unwrap();
        let base = format!("http://{}", server.addr());
        Self {
            dir,
            server: Some(server),
            base,
            http: client(),
            router: None,
            state: None,
        }
    }

    /// [`Harness::start`] with the configuration changed by `tweak`.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(&dir);
        tweak(&mut cfg);
        let server = reference_server::spawn(cfg).await.unwrap();
        let base = format!("http://{}", server.addr());
        Self {
            dir,
            server: Some(server),
            base,
            http: client(),
            router: None,
            state: None,
        }
    }

    /// The same server without a socket: `app()` called through `oneshot`, for the tests of
    /// request parsing and answers that need no transport.
    pub async fn in_process() -> Self {
        Self::in_process_with(|_| {}).await
    }

    /// [`Harness::in_process`] with the configuration changed by `tweak`.
    pub async fn in_process_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(&dir);
        tweak(&mut cfg);
        let (state, _) = tokio::task::spawn_blocking(move || reference_server::prepare(&cfg))
            .await
            .unwrap()
            .unwrap();
        Self {
            dir,
            server: None,
            base: String::new(),
            http: client(),
            router: Some(reference_server::app(std::sync::Arc::clone(&state), true)),
            state: Some(state),
        }
    }

    /// One request, over whichever transport this harness uses.
    pub async fn exchange(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        if let Some(router) = &self.router {
            use tower::ServiceExt as _;
            let mut req = axum::http::Request::builder().method(method).uri(path);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            let resp = router
                .clone()
                .oneshot(req.body(axum::body::Body::from(body)).unwrap())
                .await
                .unwrap();
            return Reply::in_process(resp).await;
        }
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Reply::from(req.send().await.unwrap()).await
    }

    /// Stops the server and starts a new one on the same database.
    pub async fn restart(&mut self) {
        self.restart_with(|cfg| {
            cfg.users.clear();
            cfg.sso_users.clear();
        })
        .await;
    }

    /// [`Harness::restart`] with the configuration changed by `tweak` (the users of the first
    /// start included, unless `tweak` clears them).
    pub async fn restart_with(&mut self, tweak: impl FnOnce(&mut Config)) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
        let mut cfg = config(&self.dir);
        tweak(&mut cfg);
        let server = reference_server::spawn(cfg).await.unwrap();
        self.base = format!("http://{}", server.addr());
        self.server = Some(server);
    }

    pub async fn call(&self, op: &str, enc: Enc, fields: &[(&str, Value)]) -> Reply {
        self.send(op, enc, fields, &[]).await
    }

    pub async fn send(
        &self,
        op: &str,
        enc: Enc,
        fields: &[(&str, Value)],
        headers: &[(&str, &str)],
    ) -> Reply {
        let (content_type, body) = encode(enc, fields);
        let mut all = vec![("Content-Type", content_type.as_str())];
        all.extend_from_slice(headers);
        self.exchange("POST", &format!("/integration/v1/{op}/"), &all, body)
            .await
    }

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let headers: Vec<(&str, &str)> = content_type
            .map(|ct| ("Content-Type", ct))
            .into_iter()
            .collect();
        self.exchange(method, path, &headers, body).await
    }

    pub async fn control(&self, path: &str, body: Value) -> Reply {
        self.raw(
            "POST",
            &format!("/conformance/v1/{path}"),
            Some("application/json"),
            serde_json::to_vec(&body).unwrap(),
        )
        .await
    }

    /// Asks for a refresh token named `name` as `username`; the answer, whatever it is.
    pub async fn create_refresh(
        &self,
        enc: Enc,
        username: &str,
        password: &str,
        name: &str,
    ) -> Reply {
        self.call(
            "createRefreshToken",
            enc,
            &[
                ("username", username.into()),
                ("password", password.into()),
                ("name", name.into()),
            ],
        )
        .await
    }

    /// Asks for a refresh token for the test user; the answer, whatever it is.
    pub async fn login_reply(&self, name: &str) -> Reply {
        self.create_refresh(Enc::Json, USER, PASSWORD, name).await
    }

    /// Creates a refresh token for the test user and returns the body.
    pub async fn login(&self, name: &str) -> Value {
        let r = self.login_reply(name).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.json
    }

    pub async fn mint(&self, refresh: &Value) -> Value {
        let r = self
            .call("createAPIAccessToken", Enc::Json, &refresh_fields(refresh))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.json
    }
}

pub fn refresh_fields(token: &Value) -> Vec<(&'static str, Value)> {
    vec![
        ("refresh_token", token["refresh_token"].clone()),
        ("user_id", token["user_id"].clone()),
    ]
}

pub fn access_fields(token: &Value) -> Vec<(&'static str, Value)> {
    vec![
        ("api_access_token", token["api_access_token"].clone()),
        ("user_id", token["user_id"].clone()),
    ]
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The body bytes and content type of `fields` in one encoding. Form encodings send every value
/// as text, as browsers and `requests.post(data=...)` do.
pub fn encode(enc: Enc, fields: &[(&str, Value)]) -> (String, Vec<u8>) {
    match enc {
        Enc::Json => {
            let map: serde_json::Map<String, Value> = fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect();
            ("application/json".into(), serde_json::to_vec(&map).unwrap())
        }
        Enc::Form => {
            let mut s = form_urlencoded::Serializer::new(String::new());
            for (k, v) in fields {
                s.append_pair(k, &text_of(v));
            }
            (
                "application/x-www-form-urlencoded".into(),
                s.finish().into_bytes(),
            )
        }
        Enc::Multipart => {
            let boundary = "----tcboundary7MA4YWxkTrZu0gW";
            let mut body = String::new();
            for (k, v) in fields {
                body.push_str(&format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{}\r\n",
                    text_of(v)
                ));
            }
            body.push_str(&format!("--{boundary}--\r\n"));
            (
                format!("multipart/form-data; boundary={boundary}"),
                body.into_bytes(),
            )
        }
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    async fn in_process(r: axum::response::Response) -> Self {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        Self::parsed(
            status,
            headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    async fn from(r: reqwest::Response) -> Self {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        Self::parsed(status, headers, r.text().await.unwrap())
    }

    /// The body read as JSON where it is JSON (`Null` where it is not).
    fn parsed(status: u16, headers: reqwest::header::HeaderMap, text: String) -> Self {
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            text,
            json,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an error answer: status, the Error shape, a JSON content type, and the detail.
    pub fn assert_error(&self, status: u16, detail: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert_eq!(self.json["detail"], detail, "{}", self.text);
        assert_eq!(self.json["code"], format!("{status}000"));
    }
}

/// Parses an API timestamp, insisting on six fractional digits and `Z`.
pub fn ts(v: &Value) -> time::OffsetDateTime {
    let s = v.as_str().unwrap_or_else(|| panic!("not a string: {v}"));
    assert_eq!(s.len(), 27, "not YYYY-MM-DDTHH:MM:SS.ffffffZ: {s}");
    assert!(s.ends_with('Z'), "{s}");
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
}

/// `token_expires_at - created_at` of a token object.
pub fn lifespan(v: &Value) -> time::Duration {
    ts(&v["token_expires_at"]) - ts(&v["created_at"])
}

/// A child process that is killed when dropped, so that a failing test never leaves a server
/// running behind it.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for KillOnDrop {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// Starts the server binary on a free loopback port with `args` (`--listen` is added) and
/// returns it, killed when dropped, with its base URL once it listens. Its log is discarded.
pub fn spawn_server(args: &[&str], db: &std::path::Path) -> (KillOnDrop, String) {
    use std::io::BufRead as _;
    let mut child = KillOnDrop(
        std::process::Command::new(env!("CARGO_BIN_EXE_reference-server"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .arg("--db")
            .arg(db)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the server starts"),
    );
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("the server printed its address before exiting")
            .expect("stdout");
        if let Some(url) = line.strip_prefix("reference server listening on ") {
            break url.to_owned();
        }
    };
    (child, base)
}

/// A test of an outside tool as a libtest-mimic trial: run when the tool is there; when it is
/// not, a failure where `TOKEN_CONFORMANCE_REQUIRE_TOOLS` is set (CI), else an ignored trial
/// whose name says what is missing, so a local `cargo test` shows the skip in its summary.
pub fn tool_trial(
    name: &str,
    missing: Option<&str>,
    run: impl FnOnce() -> Result<(), libtest_mimic::Failed> + Send + 'static,
) -> libtest_mimic::Trial {
    match missing {
        None => libtest_mimic::Trial::test(name, run),
        Some(why) if std::env::var_os("TOKEN_CONFORMANCE_REQUIRE_TOOLS").is_some() => {
            let why = why.to_owned();
            libtest_mimic::Trial::test(name, move || {
                Err(format!("{why}, and TOKEN_CONFORMANCE_REQUIRE_TOOLS requires it").into())
            })
        }
        Some(why) => libtest_mimic::Trial::test(format!("{name} (skipped: {why})"), || Ok(()))
            .with_ignored_flag(true),
    }
}
