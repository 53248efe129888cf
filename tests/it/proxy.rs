//! The validating proxy with real clients, started the way users start it (the binary, real
//! HTTP on loopback): the vendor's Python SDK through it to the reference server; a client's
//! lifecycle through it to the self-test's faulty implementations, whose stateful faults it
//! must report with the right check; malformed requests, reported as the client's while the
//! server's answers pass untouched; `--enforce`; an unreachable target; and its HAR.

#![allow(clippy::unwrap_used)]

use crate::{common, mutant};

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
    answer(r).await
}

/// An answer's status and JSON body (null when it has none), gzip undone as clients undo it
/// (reqwest is built here without its gzip feature).
async fn answer(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let gzip = r
        .headers()
        .get("content-encoding")
        .is_some_and(|c| c.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let mut bytes = r.bytes().await.unwrap().to_vec();
    if gzip {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut plain)
            .unwrap();
        bytes = plain;
    }
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

/// How many calls `lifecycle` makes: the proxy is told to stop after as many.
const LIFECYCLE_CALLS: usize = 14;

/// A client's token lifecycle, including the calls a careless client makes after a token is
/// dead (the old value after regeneration) and one with another user's id. Returns the status
/// of every call it made, in order.
async fn lifecycle(base: &str) -> Vec<u16> {
    let client = http_client();
    let c = &client;
    let statuses = Mutex::new(Vec::new());
    let statuses = &statuses;
    let post = |op: &'static str, body: Value| async move {
        let (status, answer) = post_json(c, &format!("{base}/integration/v1/{op}/"), &body).await;
        statuses.lock().unwrap().push(status);
        answer
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
    statuses.lock().unwrap().clone()
}

/// What a conformant target answers to `lifecycle`, call by call: `2` for a 2xx, `4` for a 4xx.
/// The first eight calls succeed; the rest use a dead token (the revoked access token, the
/// regenerated refresh token, an access token regeneration revoked) or another user's id.
/// A variant that answers a dead token's validation with 200 and its status says so there.
fn conformant_answers(mode: Mode) -> [u16; LIFECYCLE_CALLS] {
    if mode == Mode::Variant(Variant::DeadAnswered200) {
        [2, 2, 2, 2, 2, 2, 2, 2, 2, 4, 4, 4, 2, 4]
    } else {
        [2, 2, 2, 2, 2, 4, 2, 2, 4, 4, 4, 4, 4, 4]
    }
}

/// What the lifecycle through a proxy to a mutant showed: the proxy's exit code, its findings,
/// the statuses the client got, and what the proxy printed.
struct Through {
    code: i32,
    found: Vec<(String, String, String)>,
    statuses: Vec<u16>,
    out: String,
}

/// Runs the lifecycle through a proxy (with `args`) to a mutant.
async fn through(mode: Mode, args: &[&str]) -> Through {
    let base = mutant::start(mode).await;
    let dir = tempfile::tempdir().unwrap();
    let calls = LIFECYCLE_CALLS.to_string();
    let mut all = vec![
        "--requests",
        calls.as_str(),
        "--json",
        "r.json",
        "--markdown",
        "r.md",
    ];
    all.extend_from_slice(args);
    let proxy = Proxy::start(dir.path(), &base, &all);
    let statuses = lifecycle(&proxy.url()).await;
    assert_eq!(statuses.len(), LIFECYCLE_CALLS, "{statuses:?}");
    let (code, out) = tokio::task::spawn_blocking(move || proxy.finish())
        .await
        .unwrap();
    let r = report(dir.path());
    // The proxy's JSON report has the shape the schema gives `run`'s, with a traffic body.
    let errors = common::schema_errors("report.schema.json", &r);
    assert!(errors.is_empty(), "{errors:#?}");
    // Every call the client made was judged, and each with the status the client got.
    assert_eq!(r["traffic"]["judged"], LIFECYCLE_CALLS, "{mode:?}: {out}");
    let seen: Vec<u64> = r["traffic"]["kept_exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["response"]["status"].as_u64().unwrap())
        .collect();
    let sent: Vec<u64> = statuses.iter().map(|s| u64::from(*s)).collect();
    assert_eq!(seen, sent, "{mode:?}: the report's statuses");
    // The Markdown speaks of exchanges and whose findings they are, never of cases.
    let md = std::fs::read_to_string(dir.path().join("r.md")).unwrap();
    for word in [" case", "the run created", "without the control protocol"] {
        assert!(!md.contains(word), "{mode:?}: {word:?} in:\n{md}");
    }
    if r["traffic"]["failing"].as_u64() > Some(0) {
        assert!(md.contains("— the server's MUST `"), "{mode:?}:\n{md}");
    }
    Through {
        code,
        found: findings(&r),
        statuses,
        out,
    }
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
        let Through {
            code, found, out, ..
        } = through(Mode::Fault(fault), &[]).await;
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
    // Every conformant variant of the self-test's catalogue, each told what a vendor's profile
    // would tell the proxy: the configured lifespans where they are not the defaults.
    let modes: [(Mode, &[&str]); 12] = [
        (Mode::Correct, &[]),
        (Mode::Variant(Variant::Regen201), &[]),
        (Mode::Variant(Variant::DeadAnswered200), &[]),
        (Mode::Variant(Variant::TextJson), &[]),
        (Mode::Variant(Variant::ExtraFields), &[]),
        (Mode::Variant(Variant::NonUtcOffset), &[]),
        (Mode::Variant(Variant::KeysReversed), &[]),
        (Mode::Variant(Variant::NoLastUsedAt), &[]),
        (Mode::Variant(Variant::Lenient), &[]),
        (Mode::Variant(Variant::Mistyped401), &[]),
        (
            Mode::Variant(Variant::OtherLifespans),
            &[
                "--refresh-lifespan-days",
                "90",
                "--access-lifespan-hours",
                "12",
            ],
        ),
        // Every answer gzip-coded: the proxy judges them decoded.
        (Mode::Variant(Variant::OtherStacks), &[]),
    ];
    let mut wrong = Vec::new();
    for (mode, args) in modes {
        let t = through(mode, args).await;
        let failures: Vec<_> = t.found.iter().filter(|(_, _, s)| s == "MUST").collect();
        let classes: Vec<u16> = t.statuses.iter().map(|s| s / 100).collect();
        if !failures.is_empty() || t.code != 0 || classes != conformant_answers(mode) {
            wrong.push(format!(
                "{mode:?}: exit {}, statuses {:?}, {failures:?}\n{}",
                t.code, t.statuses, t.out
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
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

/// Raw requests to validateRefreshToken that break the contract, each with the check that must
/// name it as the client's.
fn malformed() -> Vec<(String, &'static str)> {
    let path = "/integration/v1/validateRefreshToken/";
    let post = |content_type: &str, body: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    vec![
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
        // A key given twice in a JSON body: which one the target reads is the target's guess.
        (
            post(
                "application/json",
                "{\"refresh_token\":\"a\",\"user_id\":1,\"refresh_token\":\"b\"}",
            ),
            "request.body",
        ),
        // A blank token, in a JSON body with its charset.
        (
            post(
                "application/json; charset=utf-8",
                "{\"refresh_token\":\"  \",\"user_id\":1}",
            ),
            "request.body",
        ),
    ]
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
            "7",
            "--json",
            "r.json",
            "--har",
            "r.har",
            "--markdown",
            "r.md",
            "--junit",
            "r.xml",
            "--strict",
        ],
    );
    let requests = malformed();
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
    // The reports speak of exchanges and of whose finding each is, never of cases or of what
    // a run created.
    let md = std::fs::read_to_string(dir.path().join("r.md")).unwrap();
    for word in [" case", "the run created", "without the control protocol"] {
        assert!(
            !md.contains(word),
            "{word:?} in the proxy's Markdown:\n{md}"
        );
    }
    let clients = md.find("## The clients' findings").unwrap();
    let target = md.find("## The target's findings").unwrap();
    assert!(
        md[target..clients].contains("None."),
        "no server finding: {md}"
    );
    assert!(
        md[clients..].contains(
            "- exchange 1: POST /integration/v1/validateRefreshToken/ → 400 — the client's SHOULD `request.body`"
        ),
        "{md}"
    );
    let xml = std::fs::read_to_string(dir.path().join("r.xml")).unwrap();
    assert!(!xml.contains("file=\"\""), "{xml}");
    assert!(!xml.contains(" case"), "{xml}");
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
    // Said as `run` says it, with its hint.
    let text = common::text(&out);
    assert!(
        text.contains("cannot connect to 127.0.0.1") && text.contains("is the target running"),
        "{text}"
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
            "--json",
            "run.json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
    let text = std::fs::read_to_string(dir.path().join("run.har")).unwrap();
    let har: Value = serde_json::from_str(&text).unwrap();
    let entries = har["log"]["entries"].as_array().unwrap();
    // Every request the run sent, its own (pool, probes, clean-up) and the case's.
    let run: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("run.json")).unwrap())
            .unwrap();
    assert_eq!(
        u64::try_from(entries.len()).unwrap(),
        run["meta"]["requests_sent"].as_u64().unwrap()
    );
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

/// One request as the target received it: its request line, its headers as written (name case
/// and all), and its body.
#[derive(Debug)]
struct Received {
    line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    /// The values of the headers named `name` (in any case).
    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// The requests in what one connection sent (bodies by `Content-Length`, which is all the
/// proxy sends for the requests these tests make).
fn requests_in(mut bytes: &[u8]) -> Vec<Received> {
    let mut out = Vec::new();
    while let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let line = lines.next().unwrap().to_owned();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap();
                (k.to_owned(), v.trim().to_owned())
            })
            .collect();
        let mut r = Received {
            line,
            headers,
            body: Vec::new(),
        };
        assert!(r.all("transfer-encoding").is_empty(), "{r:?}");
        let length: usize = r
            .all("content-length")
            .first()
            .map_or(0, |v| v.parse().unwrap());
        let rest = &bytes[end + 4..];
        r.body = rest[..length].to_vec();
        bytes = &rest[length..];
        out.push(r);
    }
    out
}

/// What one connection sent.
type Recording = Arc<Mutex<Vec<u8>>>;

/// A front before a target that records every byte clients send it, connection by connection,
/// and passes everything on unchanged both ways: what the target received, in the bytes it
/// received it. Over TLS when given an acceptor, as a vendor's instance is.
struct Recorder {
    port: u16,
    received: Arc<Mutex<Vec<Recording>>>,
    tasks: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Recorder {
    async fn start(backend: std::net::SocketAddr, tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received: Arc<Mutex<Vec<Recording>>> = Arc::default();
        let tasks: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (rec, spawned) = (Arc::clone(&received), Arc::clone(&tasks));
        let accept = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let log = Arc::new(Mutex::new(Vec::new()));
                rec.lock().unwrap().push(Arc::clone(&log));
                let tls = tls.clone();
                let task = tokio::spawn(async move {
                    match tls {
                        None => pipe(tcp, backend, log).await,
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(tcp).await {
                                pipe(stream, backend, log).await;
                            }
                        }
                    }
                });
                spawned.lock().unwrap().push(task.abort_handle());
            }
        });
        tasks.lock().unwrap().push(accept.abort_handle());
        Self {
            port,
            received,
            tasks,
        }
    }

    /// The target dies: nothing listens any more, and every open connection is dropped.
    fn kill(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    /// Every request the target received, connection by connection, in order.
    fn requests(&self) -> Vec<Received> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .flat_map(|c| requests_in(&c.lock().unwrap()))
            .collect()
    }
}

/// Copies `client` to `backend` (recording it) and back, until either side closes.
async fn pipe<S>(client: S, backend: std::net::SocketAddr, log: Recording)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let Ok(server) = tokio::net::TcpStream::connect(backend).await else {
        return;
    };
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut server_read, mut server_write) = server.into_split();
    let up = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    log.lock().unwrap().extend_from_slice(&buf[..n]);
                    if server_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = server_write.shutdown().await;
    };
    let down = async {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::join!(up, down);
}

/// A private CA's PEM and an acceptor for `localhost` with a certificate it signed.
fn private_tls() -> (String, tokio_rustls::TlsAcceptor) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose,
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        )
        .unwrap();
    (ca.pem(), tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// A recording front before `server`, over TLS with a private CA (its PEM written to `dir`)
/// or plain; the front, the target URL to give the proxy, and the flags that trust it.
async fn recorded(
    server: &reference_server::embedded::Instance,
    tls: bool,
    dir: &Path,
) -> (Recorder, String, Vec<&'static str>) {
    if tls {
        let (ca, acceptor) = private_tls();
        std::fs::write(dir.join("ca.pem"), ca).unwrap();
        let front = Recorder::start(server.addr(), Some(acceptor)).await;
        let target = format!("https://localhost:{}", front.port);
        (front, target, vec!["--ca-file", "ca.pem"])
    } else {
        let front = Recorder::start(server.addr(), None).await;
        let target = format!("http://127.0.0.1:{}", front.port);
        (front, target, vec![])
    }
}

/// What the target receives for a client's request: the request line, every header as the
/// client wrote it (name case kept, `TOKEN` included), the body byte for byte; `Host` names
/// the target and the profile's `--header` is added; nothing else is added.
async fn the_target_receives_the_clients_request(tls: bool) {
    let server = reference_server::embedded::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (front, target, mut args) = recorded(&server, tls, dir.path()).await;
    args.extend([
        "--header",
        "X-Gateway-Key: gw-secret-4711",
        "--requests",
        "1",
        "--json",
        "r.json",
    ]);
    let proxy = Proxy::start(dir.path(), &target, &args);
    let body = json!({"username": server.username, "password": server.password, "name": "through"})
        .to_string();
    // The `TOKEN` header of other vendor APIs, which these endpoints ignore, and headers in
    // the case a client happens to write them.
    let token = "an-access-token-for-other-apis-0123456789";
    let request = format!(
        "POST /integration/v1/createRefreshToken/?trace=on HTTP/1.1\r\nHost: client.example\r\nX-Client-Trace: Keep-This-Case\r\nTOKEN: {token}\r\ncontent-TYPE: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let addr = proxy.addr.clone();
    let answer = tokio::task::spawn_blocking(move || raw(&addr, &request))
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 201 "), "{answer}");
    let (code, out) = tokio::task::spawn_blocking(move || proxy.finish())
        .await
        .unwrap();
    assert_eq!(code, 0, "{out}");
    // The target got it (the proxy's probe at start is a connection without a request).
    let got = front.requests();
    assert_eq!(got.len(), 1, "{got:#?}");
    let got = &got[0];
    assert_eq!(
        got.line,
        "POST /integration/v1/createRefreshToken/?trace=on HTTP/1.1"
    );
    let authority = target.split("://").nth(1).unwrap();
    assert_eq!(got.all("host"), [authority], "{got:#?}");
    for (name, value) in [
        ("X-Client-Trace", "Keep-This-Case"),
        ("TOKEN", token),
        ("content-TYPE", "application/json"),
        ("Content-Length", body.len().to_string().as_str()),
    ] {
        assert!(
            got.headers.iter().any(|(k, v)| k == name && v == value),
            "{name}: {value} as the client wrote it: {got:#?}"
        );
    }
    assert_eq!(got.all("x-gateway-key"), ["gw-secret-4711"], "{got:#?}");
    // `Connection` is the client's hop only: a proxy removes it (RFC 9110 §7.6.1).
    assert!(got.all("connection").is_empty(), "{got:#?}");
    let mut names: Vec<String> = got
        .headers
        .iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "content-length",
            "content-type",
            "host",
            "token",
            "x-client-trace",
            "x-gateway-key"
        ],
        "nothing else added: {got:#?}"
    );
    assert_eq!(got.body, body.as_bytes());
    // The gateway's key is a secret in the reports too.
    let json = std::fs::read_to_string(dir.path().join("r.json")).unwrap();
    assert!(!json.contains("gw-secret-4711"));
    assert_eq!(report(dir.path())["traffic"]["judged"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_target_receives_the_clients_request_with_host_and_profile_headers() {
    the_target_receives_the_clients_request(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn over_tls_the_target_receives_the_clients_request_too() {
    the_target_receives_the_clients_request(true).await;
}

/// POSTs `body` as `content_type` with extra `headers`; the answer's status and JSON body.
async fn post_raw(
    client: &reqwest::Client,
    url: &str,
    content_type: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, Value) {
    let mut r = client.post(url).header("content-type", content_type);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    answer(r.body(body).send().await.unwrap()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn form_and_multipart_clients_give_no_finding_and_coded_bodies_are_not_read() {
    use flate2::write::GzEncoder;
    let server = reference_server::embedded::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(
        dir.path(),
        &server.base_url,
        &["--requests", "4", "--json", "r.json"],
    );
    let client = http_client();
    let url = |op: &str| format!("{}/integration/v1/{op}/", proxy.url());
    // A browser's form, then a multipart body as `requests.post(files=...)` writes it.
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("username", &server.username)
        .append_pair("password", &server.password)
        .append_pair("name", "form client")
        .finish();
    let (status, login) = post_raw(
        &client,
        &url("createRefreshToken"),
        "application/x-www-form-urlencoded",
        &[],
        form.into_bytes(),
    )
    .await;
    assert_eq!(status, 201, "{login}");
    let boundary = "----client-boundary-31";
    let mut multipart = String::new();
    for (name, value) in [
        (
            "refresh_token",
            login["refresh_token"].as_str().unwrap().to_owned(),
        ),
        ("user_id", login["user_id"].to_string()),
    ] {
        multipart.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    multipart.push_str(&format!("--{boundary}--\r\n"));
    let (status, _) = post_raw(
        &client,
        &url("validateRefreshToken"),
        &format!("multipart/form-data; boundary={boundary}"),
        &[],
        multipart.into_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    // A gzip-coded JSON body: the proxy does not read it (whether the target takes it is the
    // target's business), so it is no client finding, whatever the target answers. Once as
    // gzip, once with a coding nobody knows.
    let plain = json!({"refresh_token": login["refresh_token"], "user_id": login["user_id"]});
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(plain.to_string().as_bytes()).unwrap();
    let coded = gz.finish().unwrap();
    for coding in ["gzip", "x-unheard-of"] {
        let (status, _) = post_raw(
            &client,
            &url("validateRefreshToken"),
            "application/json",
            &[("content-encoding", coding)],
            coded.clone(),
        )
        .await;
        assert!((200..500).contains(&status), "{coding}: {status}");
    }
    let (code, out) = tokio::task::spawn_blocking(move || proxy.finish())
        .await
        .unwrap();
    assert_eq!(code, 0, "{out}");
    let r = report(dir.path());
    assert_eq!(r["traffic"]["judged"], 4, "{r:#}");
    assert_eq!(r["traffic"]["client_findings"], 0, "{out}");
    let client_side: Vec<_> = findings(&r)
        .into_iter()
        .filter(|(_, c, _)| c.starts_with("request."))
        .collect();
    assert!(client_side.is_empty(), "{client_side:#?}\n{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn duration_ends_the_session_and_writes_the_reports() {
    let server = reference_server::embedded::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let proxy = Proxy::start(
        dir.path(),
        &server.base_url,
        &["--duration", "2s", "--json", "r.json"],
    );
    let (status, _) = post_json(
        &http_client(),
        &format!("{}/integration/v1/createRefreshToken/", proxy.url()),
        &json!({"username": server.username, "password": server.password, "name": "d"}),
    )
    .await;
    assert_eq!(status, 201);
    // It stops by itself (`finish` waits for that, and fails after 30 s), and not before the
    // duration: a lower bound, which a slow machine cannot break.
    let (code, out) = tokio::task::spawn_blocking(move || proxy.finish())
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(code, 0, "{out}");
    let r = report(dir.path());
    assert_eq!(r["traffic"]["exchanges"], 1, "{r:#}");
    assert!(
        r["meta"]["millis"].as_u64().unwrap() >= 2000,
        "{}",
        r["meta"]["millis"]
    );
}

/// A session whose target dies after one login; the second request goes to the contract's
/// path or, with `off_contract`, to one outside it. Either way the proxy answers for the
/// target that is gone, in the contract's Error shape, and exits 3.
async fn target_dies_mid_session(off_contract: bool) {
    let server = reference_server::embedded::start().await.unwrap();
    let front = Recorder::start(server.addr(), None).await;
    let dir = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(
        dir.path(),
        &format!("http://127.0.0.1:{}", front.port),
        &["--requests", "2", "--json", "r.json"],
    );
    let client = http_client();
    let url = |op: &str| format!("{}/integration/v1/{op}/", proxy.url());
    let (status, login) = post_json(
        &client,
        &url("createRefreshToken"),
        &json!({"username": server.username, "password": server.password, "name": "dies"}),
    )
    .await;
    assert_eq!(status, 201);
    front.kill();
    let (status, err) = if off_contract {
        let r = client
            .get(format!("{}/openapi/api_authentication/", proxy.url()))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (
            status,
            serde_json::from_slice(&r.bytes().await.unwrap()).unwrap(),
        )
    } else {
        let body = json!({"refresh_token": login["refresh_token"], "user_id": login["user_id"]});
        post_json(&client, &url("validateRefreshToken"), &body).await
    };
    assert_eq!(
        (status, err["code"].as_str()),
        (502, Some("transport")),
        "{err}"
    );
    let (code, out) = tokio::task::spawn_blocking(move || proxy.finish())
        .await
        .unwrap();
    assert_eq!(code, 3, "the target stopped answering: {out}");
    let r = report(dir.path());
    assert_eq!(r["traffic"]["unanswered"], 1, "{r:#}");
    let labels: Vec<_> = findings(&r)
        .into_iter()
        .map(|(l, c, s)| (l.split(':').next().unwrap().to_owned(), c, s))
        .collect();
    let (judged, want) = if off_contract {
        // Unjudged, so no finding: but the exit code still says the target went away.
        (1, vec![])
    } else {
        (
            2,
            vec![(
                "exchange 2".to_owned(),
                "transport".to_owned(),
                "MUST".to_owned(),
            )],
        )
    };
    assert_eq!(r["traffic"]["judged"], judged, "{r:#}");
    assert_eq!(labels, want, "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_that_dies_mid_session_is_a_transport_finding_and_exit_3() {
    target_dies_mid_session(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_that_dies_under_an_unjudged_path_still_exits_3() {
    target_dies_mid_session(true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn paths_outside_the_contract_pass_through_unjudged() {
    let server = reference_server::embedded::start().await.unwrap();
    let front = Recorder::start(server.addr(), None).await;
    let direct = server.base_url.trim_start_matches("http://").to_owned();
    let dir = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(
        dir.path(),
        &format!("http://127.0.0.1:{}", front.port),
        &["--requests", "3", "--json", "r.json", "--har", "r.har"],
    );
    // Off the contract: the served contract, a path one letter from an operation's with a
    // body that is no JSON, and a method and path nobody documents.
    let requests = [
        "GET /openapi/api_authentication/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            .to_owned(),
        "POST /integration/v1/validateRefreshTokens/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nConnection: close\r\n\r\n{\"a\":"
            .to_owned(),
        "PUT /elsewhere?x=1 HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
            .to_owned(),
    ];
    let addr = proxy.addr.clone();
    let pairs = tokio::task::spawn_blocking(move || {
        requests
            .iter()
            .map(|r| (undated(&raw(&direct, r)), undated(&raw(&addr, r))))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for (theirs, ours) in &pairs {
        assert_eq!(ours, theirs, "the answer changed on its way through");
    }
    assert!(pairs[0].0.starts_with("HTTP/1.1 200 "), "{}", pairs[0].0);
    let (code, out) = tokio::task::spawn_blocking(move || proxy.finish())
        .await
        .unwrap();
    assert_eq!(code, 0, "{out}");
    let lines: Vec<String> = front.requests().into_iter().map(|r| r.line).collect();
    assert_eq!(
        lines,
        [
            "GET /openapi/api_authentication/ HTTP/1.1",
            "POST /integration/v1/validateRefreshTokens/ HTTP/1.1",
            "PUT /elsewhere?x=1 HTTP/1.1"
        ]
    );
    let r = report(dir.path());
    assert_eq!(r["traffic"]["exchanges"], 3, "{r:#}");
    assert_eq!(r["traffic"]["passed_through"], 3, "{r:#}");
    assert_eq!(r["traffic"]["judged"], 0, "{r:#}");
    assert_eq!(r["traffic"]["kept_exchanges"], json!([]), "{r:#}");
    let har: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.har")).unwrap()).unwrap();
    assert_eq!(har["log"]["entries"], json!([]), "only judged exchanges");
}

/// Stopped with SIGTERM (systemd, docker), the proxy lets the exchanges under way finish and
/// writes its reports, as on Ctrl-C.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_ends_the_session_with_its_reports() {
    let base = mutant::start(Mode::Correct).await;
    let dir = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(dir.path(), &base, &["--json", "r.json"]);
    assert_eq!(lifecycle(&proxy.url()).await.len(), LIFECYCLE_CALLS);
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
