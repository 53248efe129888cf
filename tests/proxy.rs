//! The validating proxy with real clients, started the way users start it (the binary, real
//! HTTP on loopback): the vendor's Python SDK through it to the reference server; a client's
//! lifecycle through it to the self-test's faulty implementations, whose stateful faults it
//! must report with the right check; malformed requests, reported as the client's while the
//! server's answers pass untouched; `--enforce`; an unreachable target; and its HAR.

#![allow(clippy::unwrap_used)]

mod common;
#[allow(dead_code)]
#[path = "self_test/fields.rs"]
mod fields;
#[allow(dead_code)]
#[path = "self_test/mutant.rs"]
mod mutant;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{KillOnDrop, command};
use mutant::{Fault, Mode, Variant};
use serde_json::{Value, json};

/// A proxy process, its address, and what it printed.
struct Proxy {
    child: KillOnDrop,
    addr: String,
    out: Arc<Mutex<String>>,
}

impl Proxy {
    /// Starts `proxy --target URL --listen 127.0.0.1:0` with `args`, in `dir`.
    fn start(dir: &Path, target: &str, args: &[&str]) -> Self {
        let mut child = command(dir)
            .args(["proxy", "--target", target, "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let addr = first
            .split("http://")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_owned();
        let out = Arc::new(Mutex::new(format!("{first}\n")));
        let sink = Arc::clone(&out);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        Self {
            child: KillOnDrop(child),
            addr,
            out,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits for the proxy to stop by itself (`--requests`); its exit code and output.
    fn finish(mut self) -> (i32, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.0.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "the proxy did not stop: {}",
                self.out.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        if let Some(mut e) = self.child.0.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        std::thread::sleep(Duration::from_millis(50));
        let out = self.out.lock().unwrap().clone();
        (status.code().unwrap_or(-1), format!("{out}{err}"))
    }
}

fn report(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("r.json")).unwrap()).unwrap()
}

/// Every finding in a proxy's report: (exchange, check, severity), the server's first.
fn findings(report: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for x in report["traffic"]["kept_exchanges"].as_array().unwrap() {
        let label = format!(
            "exchange {}: {} {} → {}",
            x["number"], x["request"]["method"], x["path"], x["response"]["status"]
        );
        for party in ["server", "client"] {
            for f in x[party].as_array().unwrap() {
                out.push((
                    label.clone(),
                    f["check"].as_str().unwrap().to_owned(),
                    f["severity"].as_str().unwrap().to_owned(),
                ));
            }
        }
    }
    out
}

/// A plain HTTP client (reqwest is built without a default TLS provider).
fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// POSTs `body` as JSON; the answer's status and JSON body (null when it has none).
async fn post_json(client: &reqwest::Client, url: &str, body: &Value) -> (u16, Value) {
    let r = client
        .post(url)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let bytes = r.bytes().await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

fn tool_missing(what: &str) {
    assert!(
        std::env::var_os("TOKEN_CONFORMANCE_REQUIRE_TOOLS").is_none(),
        "{what} is required here"
    );
    println!("SKIPPED: {what} is not installed");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_vendors_sdk_through_the_proxy_shows_no_server_finding() {
    let has_sdk = std::process::Command::new("python3")
        .args(["-c", "import allie_sdk"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_sdk {
        return tool_missing("python3 with allie-sdk (pip install allie-sdk)");
    }
    let server = reference_server::embedded::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(
        dir.path(),
        &server.base_url,
        &["--requests", "6", "--json", "r.json", "--har", "r.har"],
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/allie_sdk_lifecycle.py");
    let url = proxy.url();
    let (user, password) = (server.username.clone(), server.password.clone());
    let sdk = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(script)
            .args([url.as_str(), user.as_str()])
            .env("ALLIE_PASSWORD", password)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(sdk.status.success(), "{}", common::text(&sdk));
    assert_eq!(
        String::from_utf8_lossy(&sdk.stdout).trim(),
        "refresh ACTIVE access ACTIVE revoke successful"
    );
    let (code, out) = proxy.finish();
    assert_eq!(code, 0, "{out}");
    let r = report(dir.path());
    assert_eq!(
        findings(&r),
        Vec::<(String, String, String)>::new(),
        "{out}"
    );
    assert_eq!(r["traffic"]["judged"], 6, "{r:#}");
    let ops: Vec<&str> = r["traffic"]["kept_exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops,
        [
            "createRefreshToken",
            "validateRefreshToken",
            "validateRefreshToken",
            "createAPIAccessToken",
            "validateAPIAccessToken",
            "revokeAPIAccessTokens"
        ]
    );
    // The SDK's password and tokens are nowhere in what the proxy wrote.
    let long_run = regex::Regex::new(r"[A-Za-z0-9_-]{40,}").unwrap();
    for file in ["r.json", "r.har"] {
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
        assert!(!text.contains(&server.password), "{file}");
        assert!(!long_run.is_match(&text), "{file} holds a token value");
    }
    let har: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.har")).unwrap()).unwrap();
    assert_eq!(har["log"]["entries"].as_array().unwrap().len(), 6);
    let errors = common::schema_errors("har-1.2.schema.json", &har);
    assert!(errors.is_empty(), "{errors:#?}");
}

/// A client's token lifecycle, including the calls a careless client makes after a token is
/// dead (the old value after regeneration) and one with another user's id. Returns how many
/// exchanges it made.
async fn lifecycle(base: &str) -> u64 {
    let client = http_client();
    let c = &client;
    let post = |op: &'static str, body: Value| async move {
        post_json(c, &format!("{base}/integration/v1/{op}/"), &body)
            .await
            .1
    };
    let login = post(
        "createRefreshToken",
        json!({"username": mutant::USER, "password": mutant::PASSWORD, "name": "proxy-client"}),
    )
    .await;
    let (refresh, user) = (login["refresh_token"].clone(), login["user_id"].clone());
    let rt = |t: &Value| json!({"refresh_token": t, "user_id": user});
    post("validateRefreshToken", rt(&refresh)).await;
    let access = post("createAPIAccessToken", rt(&refresh)).await;
    let at = json!({"api_access_token": access["api_access_token"], "user_id": user});
    post("validateAPIAccessToken", at.clone()).await;
    post("revokeAPIAccessTokens", rt(&refresh)).await;
    post("validateAPIAccessToken", at).await;
    let access2 = post("createAPIAccessToken", rt(&refresh)).await;
    let regen = post("regenRefreshToken", rt(&refresh)).await;
    // The old value, now dead: a conformant target refuses every one of these.
    post("validateRefreshToken", rt(&refresh)).await;
    post("createAPIAccessToken", rt(&refresh)).await;
    post("revokeAPIAccessTokens", rt(&refresh)).await;
    post("regenRefreshToken", rt(&refresh)).await;
    let at2 = json!({"api_access_token": access2["api_access_token"], "user_id": user});
    post("validateAPIAccessToken", at2).await;
    let other =
        json!({"refresh_token": regen["refresh_token"], "user_id": user.as_i64().unwrap_or(1) + 1});
    post("validateRefreshToken", other).await;
    14
}

/// Runs the lifecycle through a proxy to a mutant; the proxy's exit code and findings.
async fn through(mode: Mode, args: &[&str]) -> (i32, Vec<(String, String, String)>, String) {
    let base = mutant::start(mode).await;
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["--requests", "14", "--json", "r.json"];
    all.extend_from_slice(args);
    let proxy = Proxy::start(dir.path(), &base, &all);
    let n = lifecycle(&proxy.url()).await;
    assert_eq!(n, 14);
    let (code, out) = tokio::task::spawn_blocking(move || proxy.finish())
        .await
        .unwrap();
    let r = report(dir.path());
    // The proxy's JSON report has the shape the schema gives `run`'s, with a traffic body.
    let errors = common::schema_errors("report.schema.json", &r);
    assert!(errors.is_empty(), "{errors:#?}");
    (code, findings(&r), out)
}

#[tokio::test(flavor = "multi_thread")]
async fn stateful_faults_are_server_findings_with_the_right_check() {
    // Each fault of the self-test's catalogue that only shows across calls, and the check that
    // must name it (a MUST failure unless the contract makes it a SHOULD).
    let table = [
        (Fault::RegenKeepsOld, "token_status.agrees", "MUST"),
        (Fault::RegenKeepsOld, "dead_token.unusable", "MUST"),
        (Fault::ValidatesDeadAsActive, "token_status.agrees", "MUST"),
        (Fault::MintsFromDead, "dead_token.unusable", "MUST"),
        (Fault::RevokeAcceptsDead, "dead_token.unusable", "MUST"),
        (Fault::RegenAcceptsRevoked, "dead_token.unusable", "MUST"),
        (Fault::RevokeDoesNothing, "token_status.agrees", "MUST"),
        (Fault::IgnoresUserId, "token.owner", "MUST"),
        (Fault::NoCascadeOnRegen, "token_status.cascade", "SHOULD"),
    ];
    let mut missed = Vec::new();
    for (fault, check, severity) in table {
        let (code, found, out) = through(Mode::Fault(fault), &[]).await;
        let hit = found.iter().any(|(_, c, s)| c == check && s == severity);
        let want_code = if severity == "MUST" { 1 } else { 0 };
        if !hit || code != want_code {
            missed.push(format!("{fault:?}: want {check} ({severity}), exit {want_code}; got exit {code}, {found:?}\n{out}"));
        }
    }
    assert!(missed.is_empty(), "{}", missed.join("\n\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn conformant_implementations_give_no_server_failure() {
    let modes = [
        Mode::Correct,
        Mode::Variant(Variant::Regen201),
        Mode::Variant(Variant::DeadAnswered200),
        Mode::Variant(Variant::Lenient),
        Mode::Variant(Variant::Mistyped401),
        Mode::Variant(Variant::NonUtcOffset),
        Mode::Variant(Variant::KeysReversed),
    ];
    for mode in modes {
        let (code, found, out) = through(mode, &[]).await;
        let failures: Vec<_> = found.iter().filter(|(_, _, s)| s == "MUST").collect();
        assert!(
            failures.is_empty() && code == 0,
            "{mode:?}: exit {code}, {failures:?}\n{out}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn enforce_answers_a_server_failure_with_502_naming_the_check() {
    let base = mutant::start(Mode::Fault(Fault::ValidatesDeadAsActive)).await;
    let dir = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(dir.path(), &base, &["--enforce", "--requests", "3"]);
    let client = http_client();
    let url = |op: &str| format!("{}/integration/v1/{op}/", proxy.url());
    let (_, login) = post_json(
        &client,
        &url("createRefreshToken"),
        &json!({"username": mutant::USER, "password": mutant::PASSWORD, "name": "e"}),
    )
    .await;
    let body = json!({"refresh_token": login["refresh_token"], "user_id": login["user_id"]});
    let (regen, _) = post_json(&client, &url("regenRefreshToken"), &body).await;
    assert_eq!(regen, 200);
    let (old, err) = post_json(&client, &url("validateRefreshToken"), &body).await;
    assert_eq!(old, 502);
    assert_eq!(err["code"], "token_status.agrees", "{err}");
    assert!(
        err["detail"]
            .as_str()
            .unwrap()
            .contains("token_status.agrees"),
        "{err}"
    );
    let (code, out) = tokio::task::spawn_blocking(move || proxy.finish())
        .await
        .unwrap();
    assert_eq!(code, 1, "{out}");
}

/// One raw HTTP/1.1 exchange on a fresh connection, the whole answer as bytes.
fn raw(addr: &str, request: &str) -> Vec<u8> {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// The answer without its `date` line, which differs by the second.
fn undated(answer: &[u8]) -> String {
    String::from_utf8_lossy(answer)
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("date:"))
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_are_the_clients_and_pass_untouched() {
    let server = reference_server::embedded::start().await.unwrap();
    let direct = server.base_url.trim_start_matches("http://").to_owned();
    let dir = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(
        dir.path(),
        &server.base_url,
        // Strict: a client's finding still never fails the target.
        &[
            "--requests",
            "6",
            "--json",
            "r.json",
            "--har",
            "r.har",
            "--strict",
        ],
    );
    let path = "/integration/v1/validateRefreshToken/";
    let post = |content_type: &str, body: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let requests = [
        (post("application/json", "{\"a\": 1,"), "request.body"),
        (post("text/plain", "hello"), "request.media_type"),
        (
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            "request.method",
        ),
        // A field given twice, in a chunked body.
        (
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n1f\r\nrefresh_token=a&refresh_token=b\r\na\r\n&user_id=1\r\n0\r\n\r\n"
            ),
            "request.body",
        ),
        // A required field missing.
        (post("application/json", "{\"user_id\":1}"), "request.body"),
        // A blank token, in a JSON body with its charset.
        (
            post(
                "application/json; charset=utf-8",
                "{\"refresh_token\":\"  \",\"user_id\":1}",
            ),
            "request.body",
        ),
    ];
    for (request, _) in &requests {
        let theirs = undated(&raw(&direct, request));
        let ours = undated(&raw(&proxy.addr, request));
        assert_eq!(
            ours, theirs,
            "the answer changed on its way through:\n{request}"
        );
        assert!(theirs.starts_with("HTTP/1.1 4"), "{theirs}");
    }
    let (code, out) = tokio::task::spawn_blocking(move || proxy.finish())
        .await
        .unwrap();
    assert_eq!(code, 0, "client findings never fail the target: {out}");
    let found = findings(&report(dir.path()));
    for (i, (_, check)) in requests.iter().enumerate() {
        let label = format!("exchange {}:", i + 1);
        assert!(
            found
                .iter()
                .any(|(l, c, s)| l.starts_with(&label) && c == check && s == "SHOULD"),
            "{label} {check}: {found:#?}"
        );
    }
    assert!(
        found.iter().all(|(_, c, _)| c.starts_with("request.")),
        "only client findings: {found:#?}"
    );
    assert!(out.contains("client SHOULD request.method"), "{out}");
    let har: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.har")).unwrap()).unwrap();
    let errors = common::schema_errors("har-1.2.schema.json", &har);
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn an_unreachable_target_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = command(dir.path())
        .args([
            "proxy",
            "--target",
            &format!("http://127.0.0.1:{port}"),
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", common::text(&out));
    assert!(
        common::text(&out).contains("cannot be reached"),
        "{}",
        common::text(&out)
    );
}

#[test]
fn run_writes_every_exchange_as_har() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path())
        .args([
            "run",
            "--filter",
            "refresh-token.regen",
            "--no-generated",
            "--har",
            "run.har",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
    let text = std::fs::read_to_string(dir.path().join("run.har")).unwrap();
    let har: Value = serde_json::from_str(&text).unwrap();
    let entries = har["log"]["entries"].as_array().unwrap();
    assert!(entries.len() >= 5, "{}", entries.len());
    assert!(
        entries.iter().any(|e| e["request"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/regenRefreshToken/")),
        "the case's calls are in it"
    );
    let errors = common::schema_errors("har-1.2.schema.json", &har);
    assert!(errors.is_empty(), "{errors:#?}");
    let long_run = regex::Regex::new(r"[A-Za-z0-9_-]{40,}").unwrap();
    assert!(!long_run.is_match(&text), "a token value in the HAR");
    assert!(text.contains("<redacted>"));
}

/// Stopped with SIGTERM (systemd, docker), the proxy lets the exchanges under way finish and
/// writes its reports, as on Ctrl-C.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_ends_the_session_with_its_reports() {
    let base = mutant::start(Mode::Correct).await;
    let dir = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(dir.path(), &base, &["--json", "r.json"]);
    assert_eq!(lifecycle(&proxy.url()).await, 14);
    let pid = proxy.child.0.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let (code, out) = tokio::task::spawn_blocking(move || proxy.finish())
        .await
        .unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("no server failure in 14 exchanges judged"),
        "{out}"
    );
    let r = report(dir.path());
    assert_eq!(r["traffic"]["judged"], 14, "{r:#}");
}
