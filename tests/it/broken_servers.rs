//! A catalogue of deliberately broken servers (wiremock), each expected to be caught by a
//! named check with a readable message. This is where mocks belong: the thing under test is
//! the harness's reaction to a broken implementation.
//!
//! The console report of each broken server is compared whole with a golden file in
//! `tests/snapshots/` (insta), so a change to any message shows as a diff to review
//! (`cargo insta review`), not as a silently passing substring match.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use serde_json::{Value, json};
use token_conformance::check::Finding;
use token_conformance::error::Exit;
use token_conformance::report::{Redactor, Style, console};
use token_conformance::run::{Report, Verdict};
use token_conformance::spec::{BUNDLED_SPEC, BUNDLED_SPEC_NAME, Spec};
use token_conformance::target::{Settings, Target};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common;

const CREATE: &str = "/integration/v1/createRefreshToken/";
const REGEN: &str = "/integration/v1/regenRefreshToken/";
const VALIDATE: &str = "/integration/v1/validateRefreshToken/";
const PASSWORD: &str = "broken-server-password";

/// A case that creates a refresh token, expecting only a 201.
const CREATE_CASE: &str = "\
id: broken.create
title: create
requirement: r
source: vendor-page
steps:
  - call: createRefreshToken
    body: {username: '{{ profile.username }}', password: '{{ profile.password }}', name: n}
    expect:
      status: 201
";

/// A timestamp, as the API writes them.
fn stamp(t: time::OffsetDateTime) -> String {
    t.format(time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    ))
    .unwrap()
}

/// A correct RefreshToken, created now.
fn good_refresh(token: &str) -> Value {
    let now = time::OffsetDateTime::now_utc();
    json!({
        "user_id": 7,
        "created_at": stamp(now),
        "token_expires_at": stamp(now + time::Duration::days(60)),
        "token_status": "ACTIVE",
        "last_used_at": null,
        "name": "n",
        "refresh_token": token,
    })
}

fn json_response(status: u16, body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("cache-control", "no-store")
        .set_body_raw(body.to_string(), "application/json")
}

const TOKEN: &str =
    "mnuM-jp7uAOLWsG7ojs6rY-wweh2JVfKmNtWyPgVs-RdIysp4QyEHJtdd5Q5fECWEOsGVYxZ0eHy37j_lqoPcQ";

/// Serves the probe and then whatever `mocks` add; runs `case_yaml`; returns the report.
async fn run_against(mocks: Vec<Mock>, case_yaml: &str, extra_profile: &str) -> Report {
    let server = MockServer::start().await;
    for m in mocks {
        m.mount(&server).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile.yaml");
    std::fs::write(
        &profile,
        format!(
            "base_url: {}\nusername: u@example.com\n{}{extra_profile}",
            server.uri(),
            if extra_profile.contains("timeout:") {
                ""
            } else {
                "timeout: 2s\n"
            }
        ),
    )
    .unwrap();
    let target = Target::resolve(Some(&profile), &Settings::default(), |k| {
        (k == "TOKEN_CONFORMANCE_PASSWORD").then(|| PASSWORD.to_owned())
    })
    .unwrap();
    common::run_one(case_yaml, "broken.yaml", target).await
}

/// The redactor a run of these tests uses.
fn redactor(report: &Report) -> Redactor {
    let spec = Spec::parse(BUNDLED_SPEC, Path::new(BUNDLED_SPEC_NAME)).unwrap();
    Redactor::for_report(report, &spec.secret_fields, [PASSWORD.to_owned()])
}

/// The console report, with what changes from run to run (ports, timings, run ids) replaced.
fn console_text(report: &Report) -> String {
    let text = console::details(report, &redactor(report), Style { color: false });
    stable(text)
}

/// `text` with what changes from run to run (ports, timings, run ids) replaced.
fn stable(text: String) -> String {
    let volatile = [
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
        (r"\(\d+ ms\)", "([n] ms)"),
        (r"\d+\.\d s against", "[t] s against"),
        (r"in all, \d+\.\d s", "in all, [t] s"),
        (r"tc[0-9a-f]+-\d+", "[unique]"),
        (r"tc[0-9a-f]{8}", "[run]"),
        (
            r"20[2-9][4-9]-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z",
            "[timestamp]",
        ),
        // The cause chain is the HTTP library's wording, which its next release may change:
        // the golden file keeps what the harness says, each test asserts the cause it provoked.
        (
            r"(could not be read|connection failed): [^\n]*",
            "$1: [cause]",
        ),
    ];
    volatile.iter().fold(text, |t, (re, to)| {
        regex::Regex::new(re)
            .unwrap()
            .replace_all(&t, *to)
            .into_owned()
    })
}

/// Compares the console report with its golden file.
fn golden(name: &str, report: &Report) {
    golden_text(name, console_text(report));
}

/// Compares `text` with its golden file.
fn golden_text(name: &str, text: String) {
    let mut settings = insta::Settings::clone_current();
    // The golden files stay in tests/snapshots/, where they were before the test binaries
    // were merged (insta looks beside the source file by default).
    settings.set_snapshot_path(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots"),
    );
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(name, text));
}

fn findings(report: &Report) -> Vec<Finding> {
    report
        .cases()
        .iter()
        .flat_map(|c| &c.steps)
        .flat_map(|s| s.findings.clone())
        .collect()
}

/// Asserts that `check` found something whose message contains `text`, and returns it.
fn caught(report: &Report, check: &str, text: &str) -> Finding {
    let all = findings(report);
    all.iter()
        .find(|f| f.check == check && f.message.contains(text))
        .cloned()
        .unwrap_or_else(|| panic!("no `{check}` finding containing {text:?}; got {all:#?}"))
}

fn create_returning(template: ResponseTemplate) -> Vec<Mock> {
    vec![
        Mock::given(method("POST"))
            .and(path(CREATE))
            .respond_with(template),
    ]
}

#[tokio::test]
async fn an_undocumented_status_is_caught() {
    let r = run_against(
        create_returning(json_response(202, &good_refresh(TOKEN))),
        CREATE_CASE,
        "",
    )
    .await;
    caught(&r, "status.documented", "createRefreshToken answered 202");
    assert_eq!(r.cases()[0].verdict, Verdict::Failed);
    assert_eq!(r.exit(false), Exit::Failures);
    golden("undocumented-status", &r);
}

#[tokio::test]
async fn a_body_off_the_schema_is_caught() {
    let mut body = good_refresh(TOKEN);
    body.as_object_mut().unwrap().remove("name");
    body["user_id"] = json!("7");
    let r = run_against(create_returning(json_response(201, &body)), CREATE_CASE, "").await;
    caught(&r, "schema.body", "\"name\" is a required property");
    golden("body-off-schema", &r);
}

#[tokio::test]
async fn a_non_json_content_type_is_caught() {
    let t = ResponseTemplate::new(201).set_body_raw(good_refresh(TOKEN).to_string(), "text/html");
    let r = run_against(create_returning(t), CREATE_CASE, "").await;
    caught(&r, "content_type.json", "not a JSON media type");
    golden("content-type-html", &r);
}

#[tokio::test]
async fn text_json_is_only_a_warning() {
    let t = ResponseTemplate::new(201)
        .insert_header("cache-control", "no-store")
        .set_body_raw(good_refresh(TOKEN).to_string(), "text/json");
    let r = run_against(create_returning(t), CREATE_CASE, "").await;
    assert_eq!(r.cases()[0].verdict, Verdict::Warned);
    assert_eq!(r.exit(false), Exit::Success);
    assert_eq!(r.exit(true), Exit::Failures, "--strict fails on warnings");
    golden("content-type-text-json", &r);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_caught() {
    let t = ResponseTemplate::new(201).set_body_raw("<html>Created</html>", "application/json");
    let r = run_against(create_returning(t), CREATE_CASE, "").await;
    caught(&r, "body.json", "the body is not JSON");
    golden("body-not-json", &r);
}

#[tokio::test]
async fn timestamps_without_an_offset_are_caught_and_without_fraction_warned() {
    let mut body = good_refresh(TOKEN);
    body["created_at"] = json!("2026-11-28 02:10:46");
    let expires = body["token_expires_at"].as_str().unwrap().to_owned();
    body["token_expires_at"] = json!(format!("{}Z", &expires[..19]));
    let r = run_against(create_returning(json_response(201, &body)), CREATE_CASE, "").await;
    caught(&r, "timestamp.rfc3339", "`created_at`");
    caught(&r, "timestamp.fraction", "`token_expires_at`");
    golden("timestamps", &r);
}

/// The same run as GitHub Actions shows it: an `error` annotation per MUST finding and a
/// `warning` per SHOULD one, on the case file and line when the file is in the checkout, and the
/// job summary; at most 50 of each kind, then a notice; secrets redacted in both.
#[tokio::test]
async fn github_annotations_and_job_summary_say_what_failed_where() {
    use token_conformance::report::github;
    let mut body = good_refresh(TOKEN);
    body["created_at"] = json!("2026-11-28 02:10:46");
    let expires = body["token_expires_at"].as_str().unwrap().to_owned();
    body["token_expires_at"] = json!(format!("{}Z", &expires[..19]));
    let mut r = run_against(create_returning(json_response(201, &body)), CREATE_CASE, "").await;
    // A message that quotes a secret, as a careless check might: redacted like everywhere.
    let mut leak = Finding::new(
        token_conformance::check::EXPECT_BODY,
        format!("the body had {TOKEN} for {PASSWORD}"),
    );
    leak.severity = token_conformance::spec::Severity::Must;
    r.suite_mut().unwrap().cases[0].steps[0].findings.push(leak);
    let redactor = redactor(&r);
    let annotations = github::annotations(&r, &redactor, &|f| f == "broken.yaml");
    assert!(!annotations.contains(TOKEN) && !annotations.contains(PASSWORD));
    golden_text("github-annotations", stable(annotations));
    let spec = Spec::parse(BUNDLED_SPEC, Path::new(BUNDLED_SPEC_NAME)).unwrap();
    let coverage = token_conformance::report::coverage::coverage(&spec, &r);
    let summary = github::step_summary(&r, &coverage, &redactor);
    assert!(!summary.contains(TOKEN) && !summary.contains(PASSWORD));
    golden_text("github-step-summary", stable(summary));
    // Sixty such cases: fifty of each kind, then what was left out; no file outside the checkout.
    let mut many = r.clone();
    many.suite_mut().unwrap().cases = (0..60)
        .map(|i| {
            let mut c = r.cases()[0].clone();
            c.id = format!("broken.create-{i:02}");
            c
        })
        .collect();
    let text = github::annotations(&many, &redactor, &|_| false);
    let count = |prefix: &str| text.lines().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(count("::error "), 50, "{text}");
    assert_eq!(count("::warning "), 50, "{text}");
    assert!(!text.contains("file="), "{text}");
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with("::notice ") && last.contains("130 more failures and 10 more warnings"),
        "{last}"
    );
}

#[tokio::test]
async fn an_unknown_token_status_is_caught_and_lower_case_warned() {
    let mut body = good_refresh(TOKEN);
    body["token_status"] = json!("VALID");
    let r = run_against(create_returning(json_response(201, &body)), CREATE_CASE, "").await;
    caught(&r, "token_status.known", "not one of the three values");
    golden("token-status-unknown", &r);

    body["token_status"] = json!("active");
    let r = run_against(create_returning(json_response(201, &body)), CREATE_CASE, "").await;
    assert_eq!(r.cases()[0].verdict, Verdict::Warned);
    golden("token-status-lower-case", &r);
}

#[tokio::test]
async fn a_wrong_lifespan_is_caught() {
    let mut body = good_refresh(TOKEN);
    let created = time::OffsetDateTime::parse(
        body["created_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    body["token_expires_at"] = json!(stamp(created + time::Duration::days(30)));
    let r = run_against(create_returning(json_response(201, &body)), CREATE_CASE, "").await;
    let f = caught(&r, "expiry.lifespan", "off the configured lifespan");
    assert_eq!(
        (f.expected.as_deref(), f.actual.as_deref()),
        (Some("60d"), Some("30d"))
    );
    golden("lifespan-30-days", &r);
    // A target configured for 30 days passes the same arithmetic.
    let r = run_against(
        create_returning(json_response(201, &body)),
        CREATE_CASE,
        "refresh_token_lifespan_days: 30\n",
    )
    .await;
    assert!(findings(&r).iter().all(|f| f.check != "expiry.lifespan"));
}

#[tokio::test]
async fn errors_off_the_error_shape_are_caught() {
    let case = CREATE_CASE.replace("status: 201", "status: 401");
    let r = run_against(
        create_returning(json_response(401, &json!({"error": "bad login"}))),
        &case,
        "",
    )
    .await;
    caught(&r, "error.shape", "no `detail`");
    golden("error-without-detail", &r);
    let r = run_against(
        create_returning(json_response(401, &json!({"detail": "bad login"}))),
        &case,
        "",
    )
    .await;
    assert_eq!(r.cases()[0].verdict, Verdict::Warned);
    golden("error-without-code", &r);
    // Clients read a 401's body with .json(): one in plain text breaks them.
    let t = ResponseTemplate::new(401).set_body_bytes("Unauthorized");
    let r = run_against(create_returning(t), &case, "").await;
    caught(&r, "body.json", "not JSON");
    caught(&r, "error.shape", "Content-Type");
    assert_eq!(r.cases()[0].verdict, Verdict::Failed);
    golden("error-plain-text", &r);
}

/// A server that keeps a connection alive after answering, then closes it when the next
/// request comes (what uvicorn does after a 500 without `Connection: close`, seen from the
/// client): the request was never answered, so it is sent again on a new connection and is
/// no case's failure.
#[tokio::test]
async fn a_connection_the_server_closed_is_no_cases_failure() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let body = good_refresh(TOKEN).to_string();
    let reply = format!(
        "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                // One answer per connection; the next request on it finds it closed.
                if sock.read(&mut buf).await.unwrap_or(0) > 0 {
                    let _ = sock.write_all(reply.as_bytes()).await;
                }
                let _ = sock.read(&mut buf).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    let r = run_at(url).await;
    assert!(
        findings(&r).iter().all(|f| f.check != "transport"),
        "{:#?}",
        findings(&r)
    );
    assert!(!r.meta.stopped_answering);
}

#[tokio::test]
async fn a_missing_cache_control_is_warned() {
    let t = ResponseTemplate::new(201)
        .set_body_raw(good_refresh(TOKEN).to_string(), "application/json");
    let r = run_against(create_returning(t), CREATE_CASE, "").await;
    caught(&r, "cache_control.no_store", "may be cached");
    golden("no-cache-control", &r);
}

#[tokio::test]
async fn a_reused_token_value_is_caught() {
    let twice = format!(
        "{CREATE_CASE}  - call: createRefreshToken\n    body: {{username: u, password: p, name: n}}\n    expect:\n      status: 201\n"
    );
    let r = run_against(
        create_returning(json_response(201, &good_refresh(TOKEN))),
        &twice,
        "",
    )
    .await;
    caught(&r, "token.unique", "already issued earlier");
    golden("reused-token", &r);
}

#[tokio::test]
async fn a_short_token_is_warned() {
    let r = run_against(
        create_returning(json_response(201, &good_refresh("abc123"))),
        CREATE_CASE,
        "",
    )
    .await;
    caught(&r, "token.entropy", "carries about 24 bits");
    golden("short-token", &r);
}

#[tokio::test]
async fn a_revoked_token_reported_active_is_caught() {
    let regen = good_refresh("second-token-value-that-is-long-enough-to-pass-entropy-checks");
    let mocks = vec![
        Mock::given(method("POST"))
            .and(path(CREATE))
            .respond_with(json_response(201, &good_refresh(TOKEN))),
        Mock::given(method("POST"))
            .and(path(REGEN))
            .respond_with(json_response(200, &regen)),
        // The broken part: the old value still validates as ACTIVE.
        Mock::given(method("POST"))
            .and(path(VALIDATE))
            .and(body_string_contains(TOKEN))
            .respond_with(json_response(200, &good_refresh(TOKEN))),
    ];
    let case = format!(
        "{CREATE_CASE}    capture: {{old: body.refresh_token}}
  - call: regenRefreshToken
    body: {{refresh_token: '{{{{ old }}}}', user_id: 7}}
    expect: {{status: [200, 201]}}
  - call: validateRefreshToken
    body: {{refresh_token: '{{{{ old }}}}', user_id: 7}}
    expect:
      one_of:
        - status: 401
        - status: 200
          body: {{token_status: {{one_of: [EXPIRED, REVOKED]}}}}
"
    );
    let r = run_against(mocks, &case, "").await;
    caught(
        &r,
        "token_status.agrees",
        "contradicts what the earlier exchanges did to it",
    );
    golden("revoked-reported-active", &r);
}

#[tokio::test]
async fn a_hanging_target_times_out_and_a_huge_body_is_refused() {
    let slow =
        json_response(201, &good_refresh(TOKEN)).set_delay(std::time::Duration::from_secs(5));
    // Had the run waited for the hang, the 201 would have come and passed: the timeout's
    // finding shows it did not.
    let r = run_against(create_returning(slow), CREATE_CASE, "timeout: 300ms\n").await;
    caught(&r, "transport", "no response within 300ms");
    golden("hanging", &r);

    let huge = ResponseTemplate::new(201).set_body_raw("x".repeat(200_000), "application/json");
    let r = run_against(
        create_returning(huge),
        CREATE_CASE,
        "max_response_bytes: 10000\n",
    )
    .await;
    golden("huge-body", &r);
}

#[tokio::test]
async fn secrets_never_reach_the_report() {
    let r = run_against(
        create_returning(json_response(202, &good_refresh(TOKEN))),
        CREATE_CASE,
        "",
    )
    .await;
    let details = console_text(&r);
    assert!(details.contains("[status.documented]"), "{details}");
    assert!(!details.contains(PASSWORD), "{details}");
    assert!(!details.contains(TOKEN), "{details}");
    assert!(details.contains("<redacted>"), "{details}");
    // JUnit carries the failing check as the failure's type.
    let spec = Spec::parse(BUNDLED_SPEC, Path::new(BUNDLED_SPEC_NAME)).unwrap();
    let redactor = Redactor::for_report(&r, &spec.secret_fields, [PASSWORD.to_owned()]);
    let xml = token_conformance::report::junit::render(&r, &redactor);
    assert!(xml.contains(r#"type="status.documented""#), "{xml}");
    assert!(!xml.contains(TOKEN) && !xml.contains(PASSWORD), "{xml}");
}

/// A TCP server that reads each request and answers with `reply` (possibly nothing) then closes.
async fn raw_server(reply: &'static [u8]) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock.write_all(reply).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

async fn run_raw(reply: &'static [u8]) -> Report {
    run_at(raw_server(reply).await).await
}

/// Runs the create case against `url` with a 2 s timeout.
async fn run_at(url: String) -> Report {
    let o = Settings {
        base_url: Some(url),
        username: Some("u".into()),
        password: Some(token_conformance::target::Secret::new(PASSWORD)),
        timeout: Some(token_conformance::duration::Span::from_secs(2)),
        ..Settings::default()
    };
    let target = Target::resolve(None, &o, |_| None).unwrap();
    common::run_one(CREATE_CASE, "broken.yaml", target).await
}

#[tokio::test]
async fn a_target_that_answers_garbage_or_drops_connections_fails_the_step() {
    let r = run_raw(b"SSH-2.0-OpenSSH_9.6\r\n").await;
    assert_eq!(r.exit(false), Exit::Failures);
    caught(&r, "transport", "could not be read");
    golden("answers-ssh", &r);

    let r = run_raw(b"").await;
    assert_eq!(r.cases()[0].verdict, Verdict::Failed);
    caught(&r, "transport", "could not be read");
    golden("closes-without-answer", &r);

    let r = run_raw(b"HTTP/1.1 201 Created\r\nContent-Length: 500\r\nContent-Type: application/json\r\n\r\n{\"user_id\"").await;
    golden("truncated-body", &r);
}

#[tokio::test]
async fn a_target_that_stops_answering_exits_3() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    // Answers the first request (the harness's probe), then goes away for good.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        if let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let body = r#"{"detail":"Missing required field(s): username.","code":"400000"}"#;
            let reply = format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(reply.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
        drop(listener);
    });
    let r = run_at(url).await;
    assert!(r.meta.stopped_answering);
    caught(&r, "transport", "connection failed");
    golden("stops-answering", &r);
    assert_eq!(r.exit(false), Exit::Unreachable);
}

#[tokio::test]
async fn answers_that_change_a_tokens_owner_name_or_times_are_caught() {
    let now = time::OffsetDateTime::now_utc();
    // The same token, an hour older in its second answer than in its first.
    let mut older = good_refresh(TOKEN);
    older["created_at"] = json!(stamp(now - time::Duration::hours(1)));
    older["token_expires_at"] = json!(stamp(
        now - time::Duration::hours(1) + time::Duration::days(60)
    ));
    // Its regeneration: another name, and another user.
    let mut renamed = good_refresh("third-token-value-that-is-long-enough-to-pass-entropy-checks");
    renamed["name"] = json!("renamed");
    renamed["user_id"] = json!(8);
    let mocks = vec![
        Mock::given(method("POST"))
            .and(path(CREATE))
            .respond_with(json_response(201, &good_refresh(TOKEN))),
        Mock::given(method("POST"))
            .and(path(VALIDATE))
            .respond_with(json_response(200, &older)),
        Mock::given(method("POST"))
            .and(path(REGEN))
            .respond_with(json_response(200, &renamed)),
    ];
    // The regeneration names no user the harness can read as a number, so only the predecessor
    // can tell that the owner changed; the last validation names user 9 and hears of user 7.
    let case = format!(
        "{CREATE_CASE}    capture: {{old: body.refresh_token}}
  - call: validateRefreshToken
    body: {{refresh_token: '{{{{ old }}}}', user_id: 7}}
    expect: {{status: 200}}
  - call: regenRefreshToken
    body: {{refresh_token: '{{{{ old }}}}', user_id: seven}}
    expect: {{status: [200, 201]}}
  - call: validateRefreshToken
    body: {{refresh_token: '{{{{ old }}}}', user_id: 9}}
    expect: {{status: [200, 401]}}
"
    );
    let r = run_against(mocks, &case, "").await;
    caught(
        &r,
        "token.stable",
        "differs from what an earlier answer said",
    );
    caught(
        &r,
        "token.name_kept",
        "another name than the one it replaces",
    );
    caught(&r, "token.owner", "another user than the one it replaces");
    caught(&r, "token.owner", "another user than the request named");
}

#[tokio::test]
async fn an_answer_that_hands_a_token_to_the_user_the_request_names_is_caught() {
    // Issued to user 7; asked about it as user 8, the server says it is user 8's. The answer
    // agrees with the request, and nothing was regenerated: only the first answer about the
    // token, in the ledger, shows that its owner changed.
    let mut handed_over = good_refresh(TOKEN);
    handed_over["user_id"] = json!(8);
    let mocks = vec![
        Mock::given(method("POST"))
            .and(path(CREATE))
            .respond_with(json_response(201, &good_refresh(TOKEN))),
        Mock::given(method("POST"))
            .and(path(VALIDATE))
            .respond_with(json_response(200, &handed_over)),
    ];
    let case = format!(
        "{CREATE_CASE}    capture: {{t: body.refresh_token}}
  - call: validateRefreshToken
    body: {{refresh_token: '{{{{ t }}}}', user_id: 8}}
    expect: {{status: [200, 401]}}
"
    );
    let r = run_against(mocks, &case, "").await;
    let f = caught(
        &r,
        "token.owner",
        "was issued to another user than this answer names",
    );
    assert_eq!(
        (f.expected.as_deref(), f.actual.as_deref()),
        (Some("7"), Some("8"))
    );
    let owner: Vec<String> = findings(&r)
        .into_iter()
        .filter(|f| f.check == "token.owner")
        .map(|f| f.message)
        .collect();
    assert_eq!(owner.len(), 1, "only that comparison: {owner:#?}");
}
