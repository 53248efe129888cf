//! Pointing the harness at someone else's deployment: an installed binary with no checkout,
//! gateway headers, what a run leaves active, polite traffic, and no password in clear text.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use token_conformance::case;
use token_conformance::run::{self, Options, Report};
use token_conformance::spec::{BUNDLED_SPEC, BUNDLED_SPEC_NAME, Spec};
use token_conformance::target::{Secret, Settings, Target};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common;

use common::text;

fn bin(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = common::command(dir);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn the_binary_runs_its_built_in_cases_from_any_directory() {
    let elsewhere = tempfile::tempdir().unwrap();
    let o = bin(&["run"], elsewhere.path(), &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("0 failed, 0 warned, 0 skipped"), "{out}");
    assert!(!out.contains("snapshot.drift"), "{out}");
    assert!(
        !elsewhere.path().join("snapshots").exists(),
        "a run writes nothing where it runs"
    );

    // Export, edit, run the edited copy.
    let copy = elsewhere.path().join("my-cases");
    let o = bin(&["cases", "export", "my-cases"], elsewhere.path(), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(copy.join("README.md").is_file() && copy.join("case.schema.json").is_file());
    std::fs::remove_dir_all(copy.join("bad-input")).unwrap();
    let o = bin(&["list", "--cases", "my-cases"], elsewhere.path(), &[]);
    assert!(!text(&o).contains("bad-input."), "{}", text(&o));
    let o = bin(
        &["run", "--cases", "my-cases", "--tag", "smoke"],
        elsewhere.path(),
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Never over an existing copy.
    let o = bin(&["cases", "export", "my-cases"], elsewhere.path(), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("exists"), "{}", text(&o));
}

#[test]
fn plain_http_to_another_host_is_refused_before_any_request() {
    let here = tempfile::tempdir().unwrap();
    let o = bin(
        &[
            "run",
            "--target",
            "http://staging.example.invalid",
            "--username",
            "u",
        ],
        here.path(),
        &[("TOKEN_CONFORMANCE_PASSWORD", "p")],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("clear text"), "{out}");
    assert!(out.contains("--allow-plain-http"), "{out}");
    // Refused before any request: trying the unresolvable host would have exited 3.
    assert!(!out.contains("unreachable"), "it tried to connect: {out}");
}

/// A gateway in front of a target: only requests with its key get through.
async fn gateway(key: &str) -> MockServer {
    let server = MockServer::start().await;
    let now = time::OffsetDateTime::now_utc();
    let fmt = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let token = json!({
        "user_id": 7, "created_at": fmt(now), "token_expires_at": fmt(now + time::Duration::days(60)),
        "token_status": "ACTIVE", "last_used_at": null, "name": "n",
        "refresh_token": "mnuM-jp7uAOLWsG7ojs6rY-wweh2JVfKmNtWyPgVs-RdIysp4QyEHJtdd5Q5fECWEOsGVYxZ0eHy37j_lqoPcQ"
    });
    Mock::given(method("POST"))
        .and(path("/integration/v1/createRefreshToken/"))
        .and(header("x-gateway-key", key))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("cache-control", "no-store")
                .set_body_raw(token.to_string(), "application/json"),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(header("x-gateway-key", key))
        .respond_with(ResponseTemplate::new(400).set_body_raw(
            r#"{"detail":"Missing required field(s).","code":"400000"}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(403).set_body_raw("no key", "text/plain"))
        .mount(&server)
        .await;
    server
}

const CREATE_CASE: &str = "\
id: gateway.create
title: create
requirement: r
source: vendor-page
steps:
  - call: createRefreshToken
    body: {username: '{{ profile.username }}', password: '{{ profile.password }}', name: '{{ run.name }}'}
    expect: {status: 201}
";

#[tokio::test]
async fn gateway_headers_go_on_every_request_and_never_into_a_report() {
    let key = "gw-key-5f1c29a7";
    let server = gateway(key).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("gateway")).unwrap();
    std::fs::write(dir.path().join("gateway/create.yaml"), CREATE_CASE).unwrap();
    let uri = server.uri();
    let d = dir.path().to_owned();
    let o = tokio::task::spawn_blocking(move || {
        bin(
            &[
                "run",
                "--target",
                &uri,
                "--username",
                "u@example.com",
                "--cases",
                ".",
                "--no-generated",
                "--header",
                "X-Gateway-Key: ${GATEWAY_KEY}",
                "--json",
                "r.json",
                "--markdown",
                "r.md",
            ],
            &d,
            &[
                ("GATEWAY_KEY", key),
                ("TOKEN_CONFORMANCE_PASSWORD", "pw-1234567"),
            ],
        )
    })
    .await
    .unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let received = server.received_requests().await.unwrap();
    assert!(received.len() >= 2, "the probe and the case");
    for r in &received {
        assert_eq!(
            r.headers.get("x-gateway-key").map(|v| v.as_bytes()),
            Some(key.as_bytes()),
            "{} went out without the gateway's key",
            r.url
        );
    }
    for (name, t) in [
        ("console", out),
        (
            "json",
            std::fs::read_to_string(dir.path().join("r.json")).unwrap(),
        ),
        (
            "markdown",
            std::fs::read_to_string(dir.path().join("r.md")).unwrap(),
        ),
    ] {
        assert!(!t.contains(key), "the {name} report holds the gateway key");
    }
}

/// Without its key, a gateway refuses: the one login that checks the credentials meets the
/// refusal, and the run stops there (exit 2) with what to check, rather than passing.
#[tokio::test]
async fn a_gateway_without_its_key_stops_the_run_with_what_to_check() {
    let server = gateway("gw-key-5f1c29a7").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("gateway")).unwrap();
    std::fs::write(dir.path().join("gateway/create.yaml"), CREATE_CASE).unwrap();
    let uri = server.uri();
    let d = dir.path().to_owned();
    let o = tokio::task::spawn_blocking(move || {
        bin(
            &[
                "run",
                "--target",
                &uri,
                "--username",
                "u@example.com",
                "--cases",
                ".",
            ],
            &d,
            &[("TOKEN_CONFORMANCE_PASSWORD", "pw-1234567")],
        )
    })
    .await
    .unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("credentials were refused"), "{out}");
    assert!(out.contains("--header"), "{out}");
}

/// Runs one case (YAML) against `url` with these settings.
async fn run_case(url: &str, yaml: &str, tweak: impl FnOnce(&mut Settings)) -> Report {
    let mut settings = Settings {
        base_url: Some(url.to_owned()),
        username: Some("u@example.com".into()),
        password: Some(Secret::new("pw-1234567")),
        ..Settings::default()
    };
    tweak(&mut settings);
    let target = Target::resolve(None, &settings, |_| None).unwrap();
    common::run_one(yaml, "t.yaml", target).await
}

#[tokio::test]
async fn rate_caps_requests_per_second() {
    let key = "k";
    let server = gateway(key).await;
    let five = CREATE_CASE.to_owned()
        + &"  - call: validateRefreshToken\n    body: {user_id: 1}\n    expect: {status: 400}\n"
            .repeat(5);
    let started = Instant::now();
    let report = run_case(&server.uri(), &five, |s| {
        s.headers = vec![format!("x-gateway-key: {key}")];
        s.rate = Some(10.0);
    })
    .await;
    let sent = server.received_requests().await.unwrap().len();
    assert!(sent >= 7, "the probe, six steps: {sent}");
    let floor = Duration::from_millis(100 * (sent as u64 - 1));
    assert!(
        started.elapsed() >= floor,
        "{sent} requests at 10/s took {:?}",
        started.elapsed()
    );
    assert_eq!(
        report.suite().unwrap().summary().failed,
        0,
        "{:#?}",
        report.cases()
    );
}

#[tokio::test]
async fn a_429_is_waited_out_and_warned() {
    let server = gateway("k").await;
    Mock::given(method("POST"))
        .and(path("/integration/v1/validateRefreshToken/"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_raw(
                    r#"{"detail":"slow down","code":"429000"}"#,
                    "application/json",
                ),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let case = CREATE_CASE.to_owned()
        + "  - call: validateRefreshToken\n    body: {user_id: 1}\n    expect: {status: 400}\n";
    let started = Instant::now();
    let report = run_case(&server.uri(), &case, |s| {
        s.headers = vec!["x-gateway-key: k".into()];
    })
    .await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "it did not wait"
    );
    let findings: Vec<_> = report.cases()[0]
        .steps
        .iter()
        .flat_map(|s| &s.findings)
        .collect();
    assert!(
        findings
            .iter()
            .any(|f| f.check == "rate_limited" && f.message.contains("waited 1 s")),
        "{findings:#?}"
    );
    assert_eq!(
        report.suite().unwrap().summary().warned,
        1,
        "a warning, not a failure"
    );
}

/// A 429 on a login that is not testing throttling (a client-wide throttle that earlier runs
/// from this machine tripped) is waited out, so a conforming server is not failed for it; a
/// login step that accepts 429 keeps it.
#[tokio::test]
async fn a_429_on_a_login_is_waited_out_unless_the_step_tests_throttling() {
    let server = gateway("k").await;
    let throttled_once = || {
        Mock::given(method("POST"))
            .and(path("/integration/v1/createRefreshToken/"))
            .and(body_string_contains("nobody"))
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("retry-after", "1")
                    .set_body_raw(
                        r#"{"detail":"Too many failed login attempts.","code":"429000"}"#,
                        "application/json",
                    ),
            )
            .up_to_n_times(1)
            .with_priority(1)
    };
    Mock::given(method("POST"))
        .and(path("/integration/v1/createRefreshToken/"))
        .and(body_string_contains("nobody"))
        .respond_with(ResponseTemplate::new(401).set_body_raw(
            r#"{"detail":"Invalid username or password.","code":"401000"}"#,
            "application/json",
        ))
        .with_priority(2)
        .mount(&server)
        .await;
    let login = |expect: &str| {
        format!(
            "  - call: createRefreshToken\n    body: {{username: nobody@example.invalid, \
             password: x, name: n}}\n    expect: {{status: {expect}}}\n"
        )
    };
    let gateway = |s: &mut Settings| s.headers = vec!["x-gateway-key: k".into()];
    let logins = || async {
        server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| String::from_utf8_lossy(&r.body).contains("nobody"))
            .count()
    };
    // Expecting 401: the 429 is waited out and the login sent again.
    throttled_once().mount(&server).await;
    let report = run_case(
        &server.uri(),
        &(CREATE_CASE.to_owned() + &login("401")),
        gateway,
    )
    .await;
    assert_eq!(
        report.suite().unwrap().summary().failed,
        0,
        "{:#?}",
        report.cases()
    );
    assert_eq!(
        report.suite().unwrap().summary().warned,
        1,
        "the wait is a warning"
    );
    assert_eq!(logins().await, 2, "429, waited out, then 401");
    // Accepting 429 (a throttling case): the 429 is the answer.
    throttled_once().mount(&server).await;
    let report = run_case(
        &server.uri(),
        &(CREATE_CASE.to_owned() + &login("[401, 429]")),
        gateway,
    )
    .await;
    assert_eq!(
        report.suite().unwrap().summary().failed,
        0,
        "{:#?}",
        report.cases()
    );
    assert_eq!(
        report.suite().unwrap().summary().warned,
        0,
        "nothing was waited out"
    );
    assert_eq!(logins().await, 3, "the 429 was kept, not retried");
}

/// A full run against a fresh reference server; what it left active.
async fn left_active(with_control: bool) -> (i64, i64, Report) {
    let server = reference_server::embedded::start().await.unwrap();
    let mut settings = Settings::local(
        &server.base_url,
        &server.control_url,
        &server.username,
        &server.password,
    );
    if !with_control {
        settings.control_url = None;
    }
    let spec = Arc::new(Spec::parse(BUNDLED_SPEC, Path::new(BUNDLED_SPEC_NAME)).unwrap());
    let cases = case::load_builtin(&spec).unwrap();
    let target = Target::resolve(None, &settings, |_| None).unwrap();
    let report = run::run(spec, &cases, target, &Options::default(), &|_| {})
        .await
        .unwrap();
    let (refresh, access) = server.active_tokens().unwrap();
    server.stop().await;
    (refresh, access, report)
}

#[tokio::test]
async fn a_run_leaves_at_most_jobs_plus_3_refresh_tokens_and_no_access_token() {
    let jobs = Options::default().jobs;
    let (refresh, access, report) = left_active(false).await;
    assert_eq!(report.suite().unwrap().summary().failed, 0);
    assert_eq!(access, 0, "access tokens left active on a plain deployment");
    assert!(
        refresh <= i64::try_from(jobs + 3).unwrap(),
        "{refresh} refresh tokens left active, more than --jobs + 3"
    );
    assert_eq!(
        report.suite().unwrap().leftovers.refresh_tokens,
        usize::try_from(refresh).unwrap(),
        "the report counts what the target holds"
    );
    let (refresh, access, report) = left_active(true).await;
    assert_eq!(report.suite().unwrap().summary().failed, 0);
    assert_eq!(
        (refresh, access),
        (0, 0),
        "with the control protocol, nothing is left"
    );
}

/// A wrong password is the profile's mistake: one login says so, and the run stops there
/// (exit 2), whatever the target does about failed logins. It once sent 36 for the whole
/// suite, and failed every case that borrows a token.
#[tokio::test]
async fn refused_credentials_stop_the_run_after_one_failed_login() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/integration/v1/createRefreshToken/"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(
                json!({"detail": "Invalid username or password.", "code": "401000"}),
            ),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"detail": "no"})))
        .mount(&server)
        .await;
    let spec = Arc::new(Spec::parse(BUNDLED_SPEC, Path::new(BUNDLED_SPEC_NAME)).unwrap());
    let mut cases = case::load_builtin(&spec).unwrap();
    cases.extend(token_conformance::generate::cases(&spec).unwrap());
    let settings = Settings {
        base_url: Some(server.uri()),
        username: Some("ci@example.com".into()),
        password: Some(Secret::new("the-wrong-one")),
        ..Settings::default()
    };
    let target = Target::resolve(None, &settings, |_| None).unwrap();
    let err = run::run(spec, &cases, target, &Options::default(), &|_| {})
        .await
        .expect_err("refused credentials stop the run");
    let error = token_conformance::error::Error::from(err);
    assert_eq!(
        error.exit(),
        token_conformance::error::Exit::Error,
        "exit 2"
    );
    assert!(
        error.message.contains(
            "the profile's credentials were refused: createRefreshToken answered 401 \"Invalid username or password.\""
        ),
        "{error}"
    );
    let logins = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains("the-wrong-one"))
        .count();
    assert_eq!(
        logins, 1,
        "exactly one failed login for the profile's account"
    );
}

/// The control protocol's lifespans of a target, `(days, hours)`.
async fn lifespans_of(control_url: &str) -> (u64, u64) {
    let text = reqwest::Client::new()
        .get(format!("{control_url}/lifespans"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    (
        v["refresh_token_lifespan_days"].as_u64().unwrap(),
        v["access_token_lifespan_hours"].as_u64().unwrap(),
    )
}

/// A shared target configured for 90 days and 12 hours is left at 90 days and 12 hours, by the
/// whole suite and by each case that sets lifespans alone; a profile that leaves the lifespans
/// out takes the target's; one that says otherwise is told so before anything runs.
#[tokio::test]
async fn a_target_is_left_with_the_lifespans_it_had() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = reference_server::embedded::start().await.unwrap();
    reqwest::Client::new()
        .post(format!("{}/lifespans", server.control_url))
        .header("content-type", "application/json")
        .body(
            json!({"refresh_token_lifespan_days": 90, "access_token_lifespan_hours": 12})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    let spec = Arc::new(Spec::parse(BUNDLED_SPEC, Path::new(BUNDLED_SPEC_NAME)).unwrap());
    let cases = case::load_builtin(&spec).unwrap();
    let settings = Settings::local(
        &server.base_url,
        &server.control_url,
        &server.username,
        &server.password,
    );
    for filter in [
        None,
        Some("expiry.lifespan.access"),
        Some("expiry.access.boundary"),
        Some("expiry.lifespan.refresh"),
        Some("expiry.refresh.boundary"),
    ] {
        let target = Target::resolve(None, &settings, |_| None).unwrap();
        let opts = Options {
            filter: filter.map(str::to_owned),
            ..Options::default()
        };
        let report = run::run(Arc::clone(&spec), &cases, target, &opts, &|_| {})
            .await
            .unwrap();
        assert_eq!(
            report.suite().unwrap().summary().failed,
            0,
            "{filter:?}: {:#?}",
            report.cases()
        );
        assert_eq!(
            lifespans_of(&server.control_url).await,
            (90, 12),
            "{filter:?} left the target reconfigured"
        );
    }
    // A profile that assumes 24 hours where the target says 12: one clear error, no run.
    let mut wrong = settings.clone();
    wrong.access_token_lifespan_hours = Some(24);
    let target = Target::resolve(None, &wrong, |_| None).unwrap();
    let err = run::run(spec, &cases, target, &Options::default(), &|_| {})
        .await
        .expect_err("a profile at odds with the target");
    let e = token_conformance::error::Error::from(err);
    assert_eq!(e.exit(), token_conformance::error::Exit::Error);
    assert!(
        e.message.contains("the profile assumes 24h for access tokens (from --access-lifespan-hours); the target says 12h"),
        "{e}"
    );
    server.stop().await;
}
