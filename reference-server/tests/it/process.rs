//! The `reference-server` binary started the way a developer starts it.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::io::{BufRead, BufReader, Read as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Starts the binary on a free port with no `--user`, reads the demo credentials it prints, logs
/// in with them, stops it with SIGTERM, and checks it exits cleanly without logging a secret.
#[tokio::test]
async fn binary_prints_demo_user_once_serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    // Port 0: the server binds a free port itself and prints its address, so no other
    // process can take the port between a test's choice and the server's bind.
    let start = |extra: &[&str]| {
        common::KillOnDrop(
            Command::new(env!("CARGO_BIN_EXE_reference-server"))
                .args(["--listen", "127.0.0.1:0", "--db"])
                .arg(&db)
                .args(extra)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        )
    };
    // The first run logs every request, so the log can be searched for secrets.
    let mut child = start(&["--log-requests", "--max-failed-logins", "1"]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    // "Created demo user demo@example.com with password XXXX (shown only now)."
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&words[..3], ["Created", "demo", "user"], "{line}");
    let (user, password) = (words[3].to_owned(), words[6].to_owned());
    let (_, base) = listening(&mut stdout);

    let http = common::client();
    let url = format!("{base}/integration/v1/createRefreshToken/");
    let deadline = Instant::now() + Duration::from_secs(20);
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("username", &user)
        .append_pair("password", &password)
        .append_pair("name", "demo")
        .finish();
    let reply = loop {
        match http
            .post(&url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
        {
            Ok(r) => break r,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("server never answered: {e}"),
        }
    };
    assert_eq!(reply.status().as_u16(), 201);
    let token: serde_json::Value = serde_json::from_str(&reply.text().await.unwrap()).unwrap();
    let token = token["refresh_token"].as_str().unwrap().to_owned();
    wrong_password(&http, &url).await;

    let log = terminate(child);
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("status=201"), "{log}");
    assert!(!log.contains(&password), "the log holds the password");
    failures_logged(&log);
    assert!(!log.contains(&token), "the log holds a token");

    // A second start on the same database creates no new demo user and prints no password.
    let mut again = start(&[]);
    let mut out = BufReader::new(again.stdout.take().unwrap());
    let (before, base) = listening(&mut out);
    assert!(!before.contains("password"), "{before}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while http
        .get(format!("{base}/openapi/api_authentication/"))
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "second start never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = terminate(again);
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(!rest.contains("password"), "{rest}");
    assert!(log.contains("shutting down"), "{log}");
    assert!(
        !log.contains("status=200"),
        "requests are not logged by default: {log}"
    );
}

/// A wrong password from 127.0.0.1, which (with one free failure) also locks that pair.
async fn wrong_password(http: &reqwest::Client, url: &str) {
    let guess = form_urlencoded::Serializer::new(String::new())
        .append_pair("username", "nobody@example.com")
        .append_pair("password", "wrong-guess-91x")
        .append_pair("name", "demo")
        .finish();
    let refused = http
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(guess)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
}

/// Request lines name their client; the failed login and the lockout it began are in the log,
/// with the client's address and the username, without the password.
fn failures_logged(log: &str) {
    assert!(
        log.lines()
            .any(|l| l.contains("status=201") && l.contains("client=127.0.0.1")),
        "a request line names its client: {log}"
    );
    let logged = |what: &str| {
        log.lines().any(|l| {
            l.contains(what) && l.contains("client=127.0.0.1") && l.contains("nobody@example.com")
        })
    };
    assert!(logged("failed login"), "the failed login is logged: {log}");
    assert!(logged("login lockout"), "and the lockout it began: {log}");
    assert!(
        !log.contains("wrong-guess-91x"),
        "the log holds the wrong password"
    );
}

/// Reads the server's stdout up to the line that gives its address: what came before, and the
/// base URL.
fn listening(out: &mut impl BufRead) -> (String, String) {
    let mut before = String::new();
    loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the server exited before printing its address: {before}"
        );
        if let Some(url) = line
            .trim_end()
            .strip_prefix("reference server listening on ")
        {
            return (before, url.to_owned());
        }
        before.push_str(&line);
    }
}

/// Sends SIGTERM, checks the process exits cleanly, and returns what it logged.
fn terminate(mut child: common::KillOnDrop) -> String {
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "exit after SIGTERM: {status}");
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    log
}

#[test]
fn bad_flags_and_unusable_database_fail_with_a_clear_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_reference-server"))
        .args(["--user", "no-colon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("EMAIL:PASSWORD"));

    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_reference-server"))
        .args(["--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("missing-dir/x.db"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open database"));
}

/// Passwords need not be on the command line, where other processes can read them: a file,
/// or an environment variable, holds them; a bad line is named without its content.
#[tokio::test]
async fn users_come_from_a_file_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users");
    std::fs::write(
        &file,
        "# the CI account\nfile@example.com:from a file\n\nsecond@example.com:two\n",
    )
    .unwrap();
    let mut child = common::KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_reference-server"))
            .args(["--listen", "127.0.0.1:0", "--user-file"])
            .arg(&file)
            .arg("--db")
            .arg(dir.path().join("u.db"))
            .env(
                "REFERENCE_SERVER_USERS",
                "env@example.com:from the environment",
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut out = std::io::BufReader::new(child.0.stdout.take().unwrap());
    let (_, base) = listening(&mut out);
    let http = common::client();
    for (user, password) in [
        ("file@example.com", "from a file"),
        ("second@example.com", "two"),
        ("env@example.com", "from the environment"),
    ] {
        let r = http
            .post(format!("{base}/integration/v1/createRefreshToken/"))
            .header("Content-Type", "application/json")
            .body(
                serde_json::json!({"username": user, "password": password, "name": "n"})
                    .to_string(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{user}");
    }
    drop(child);

    std::fs::write(&file, "ok@example.com:fine\nsecret-without-a-colon\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_reference-server"))
        .arg("--user-file")
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(":2: expected EMAIL:PASSWORD"), "{err}");
    assert!(
        !err.contains("secret-without-a-colon"),
        "the line is not echoed: {err}"
    );
}
