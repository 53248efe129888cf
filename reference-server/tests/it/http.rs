//! The reference server over real HTTP on 127.0.0.1, with a real SQLite file: what needs the
//! transport, persistence across restarts, and the database on disk. The API's answers are
//! tested in-process in `api.rs`.

#![allow(clippy::unwrap_used)]

use crate::common;

use common::*;
use serde_json::Value;
use time::Duration;

#[tokio::test]
async fn every_endpoint_answers_in_all_three_encodings() {
    let h = Harness::start().await;
    for enc in ENCODINGS {
        let name = format!("token {enc:?}");
        let r = h.create_refresh(enc, USER, PASSWORD, &name).await;
        assert_eq!(r.status, 201, "{enc:?}: {}", r.text);
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        let refresh = r.json.clone();
        let keys: Vec<&str> = refresh
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = vec![
            "user_id",
            "created_at",
            "token_expires_at",
            "token_status",
            "last_used_at",
            "name",
            "refresh_token",
        ];
        expected.sort_unstable();
        assert_eq!(keys, expected);
        // Key order as real servers send it.
        assert!(r.text.starts_with(r#"{"user_id":"#), "{}", r.text);
        assert!(refresh["user_id"].is_i64());
        assert_eq!(refresh["token_status"], "ACTIVE");
        assert_eq!(refresh["last_used_at"], Value::Null);
        assert_eq!(refresh["name"], name.as_str());
        assert_eq!(lifespan(&refresh), Duration::days(60));
        assert_eq!(refresh["refresh_token"].as_str().unwrap().len(), 86);

        // user_id goes out as a string in form encodings, as a number in JSON.
        let fields = refresh_fields(&refresh);
        let r = h.call("validateRefreshToken", enc, &fields).await;
        assert_eq!(r.status, 200, "{enc:?}: {}", r.text);
        assert_eq!(r.json["refresh_token"], refresh["refresh_token"]);
        assert_eq!(r.json["token_status"], "ACTIVE");

        let r = h.call("createAPIAccessToken", enc, &fields).await;
        assert_eq!(r.status, 201, "{enc:?}: {}", r.text);
        assert_eq!(r.header("cache-control"), Some("no-store"));
        let access = r.json.clone();
        assert_eq!(
            access.as_object().unwrap().len(),
            5,
            "AccessToken has exactly five fields: {access}"
        );
        assert_eq!(lifespan(&access), Duration::hours(24));
        assert_eq!(access["api_access_token"].as_str().unwrap().len(), 43);

        // Minting records the use on the refresh token.
        let r = h.call("validateRefreshToken", enc, &fields).await;
        assert_eq!(r.json["last_used_at"], access["created_at"]);

        let r = h
            .call("validateAPIAccessToken", enc, &access_fields(&access))
            .await;
        assert_eq!(r.status, 200, "{enc:?}: {}", r.text);
        assert_eq!(r.json["api_access_token"], access["api_access_token"]);

        let r = h.call("revokeAPIAccessTokens", enc, &fields).await;
        assert_eq!(r.status, 200, "{enc:?}: {}", r.text);
        assert!(r.json["detail"].is_string());

        let r = h.call("regenRefreshToken", enc, &fields).await;
        assert_eq!(r.status, 200, "{enc:?}: {}", r.text);
        assert_ne!(r.json["refresh_token"], refresh["refresh_token"]);
    }
}

#[tokio::test]
async fn concurrent_regenerations_of_one_token_let_exactly_one_succeed() {
    let h = Harness::start().await;
    let t = h.login("race").await;
    let fields = refresh_fields(&t);
    let calls = (0..8).map(|_| h.call("regenRefreshToken", Enc::Json, &fields));
    let replies = futures_util::future::join_all(calls).await;
    let ok = replies.iter().filter(|r| r.status == 200).count();
    assert_eq!(
        ok,
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(replies.iter().all(|r| r.status == 200 || r.status == 401));
}

#[tokio::test]
async fn a_restart_on_the_same_database_keeps_every_token() {
    let mut h = Harness::start().await;
    let r1 = h.login("keep").await;
    let a1 = h.mint(&r1).await;
    let r2 = h.login("revoked later").await;
    let a2 = h.mint(&r2).await;
    assert_eq!(
        h.call("revokeAPIAccessTokens", Enc::Json, &refresh_fields(&r2))
            .await
            .status,
        200
    );

    h.restart().await;

    let r = h
        .call("validateRefreshToken", Enc::Json, &refresh_fields(&r1))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["created_at"], r1["created_at"]);
    assert_eq!(r.json["token_expires_at"], r1["token_expires_at"]);
    assert_eq!(r.json["last_used_at"], a1["created_at"]);
    let r = h
        .call("validateAPIAccessToken", Enc::Json, &access_fields(&a1))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["token_expires_at"], a1["token_expires_at"]);
    assert_eq!(
        h.call("validateRefreshToken", Enc::Json, &refresh_fields(&r2))
            .await
            .status,
        200
    );
    h.call("validateAPIAccessToken", Enc::Json, &access_fields(&a2))
        .await
        .assert_error(401, "API Access Token provided is expired or revoked.");
    // Users configured at the first start are still there.
    h.login("after restart").await;
}

/// `--user` with the password a user has changes nothing; with a new one, everything the old
/// password opened ends: refresh tokens, their access tokens, web sessions (ASVS 5 V7.4.3).
#[tokio::test]
async fn a_new_password_from_the_command_line_ends_the_users_tokens_and_sessions() {
    let mut h = Harness::start().await;
    let kept = h.login("kept").await;
    h.restart_with(|_| {}).await;
    assert_eq!(
        h.call("validateRefreshToken", Enc::Json, &refresh_fields(&kept))
            .await
            .status,
        200,
        "the same password again ends nothing"
    );
    let access = h.mint(&kept).await;
    let store = reference_server::Store::open(&common::db_path(&h.dir)).unwrap();
    let uid = kept["user_id"].as_i64().unwrap();
    let now = time::OffsetDateTime::now_utc();
    store
        .write(move |tx| {
            tx.create_web_session(&[7; 32], uid, "csrf", now, now + time::Duration::hours(1))
        })
        .await
        .unwrap();
    drop(store);

    h.restart_with(|c| c.users = vec![(USER.into(), "a new password".into())])
        .await;
    h.call("validateRefreshToken", Enc::Json, &refresh_fields(&kept))
        .await
        .assert_error(401, "Refresh token provided is expired or revoked.");
    h.call("validateAPIAccessToken", Enc::Json, &access_fields(&access))
        .await
        .assert_error(401, "API Access Token provided is expired or revoked.");
    let store = reference_server::Store::open(&common::db_path(&h.dir)).unwrap();
    let session = store
        .read(|r| r.web_session(&[7; 32], time::OffsetDateTime::now_utc()))
        .unwrap();
    assert!(session.is_none(), "the web session ended");
    let r = h
        .call(
            "createRefreshToken",
            Enc::Json,
            &[
                ("username", USER.into()),
                ("password", "a new password".into()),
                ("name", "new".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test]
async fn conf_changes_lifespans_for_new_tokens_only_while_running() {
    let h = Harness::start().await;
    let before = h.login("before").await;
    let a_before = h.mint(&before).await;
    let db = db_path(&h.dir);
    let conf = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_reference-server"))
            .arg("conf")
            .args(args)
            .arg("--db")
            .arg(&db)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(
        conf(&[".authentication.token.refresh_token_lifespan"]).trim(),
        ".authentication.token.refresh_token_lifespan = 60 (days)"
    );
    conf(&[".authentication.token.refresh_token_lifespan", "-s", "180"]);
    conf(&[".authentication.token.access_token_lifespan", "-s", "2"]);
    assert_eq!(
        conf(&[".authentication.token.access_token_lifespan"]).trim(),
        ".authentication.token.access_token_lifespan = 2 (hours)"
    );

    let after = h.login("after").await;
    assert_eq!(lifespan(&after), Duration::days(180));
    assert_eq!(lifespan(&h.mint(&after).await), Duration::hours(2));
    // Tokens created before keep their expiry.
    let r = h
        .call("validateRefreshToken", Enc::Json, &refresh_fields(&before))
        .await;
    assert_eq!(lifespan(&r.json), Duration::days(60));
    let r = h
        .call(
            "validateAPIAccessToken",
            Enc::Json,
            &access_fields(&a_before),
        )
        .await;
    assert_eq!(lifespan(&r.json), Duration::hours(24));

    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_reference-server"))
        .args(["conf", ".authentication.token.nope", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown key"));

    let typo = std::process::Command::new(env!("CARGO_BIN_EXE_reference-server"))
        .args([
            "conf",
            ".authentication.token.access_token_lifespan",
            "-s",
            "3",
            "--db",
        ])
        .arg(h.dir.path().join("typo.db"))
        .output()
        .unwrap();
    assert_eq!(typo.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&typo.stderr).contains("no database at"));
    assert!(
        !h.dir.path().join("typo.db").exists(),
        "conf created a database"
    );
}

/// `sso-link` prints a link the running server accepts; `conf` turns Swagger UI on and off.
#[tokio::test]
async fn sso_links_and_the_swagger_flag_from_the_command_line() {
    let h = Harness::start().await;
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_reference-server"))
            .args(args)
            .arg("--db")
            .arg(db_path(&h.dir))
            .output()
            .unwrap()
    };
    let out = cli(&["sso-link", common::SSO_USER, "--base-url", &h.base]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let url = stdout.lines().next().unwrap();
    assert!(
        url.starts_with(&format!("{}/account/auth/sso?link=", h.base)),
        "{stdout}"
    );
    assert!(stdout.contains("works once, for 10 minutes"), "{stdout}");
    let page = h.http.get(url).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.unwrap().contains(common::SSO_USER));
    for (who, why) in [
        (common::USER, "signs in with a password"),
        ("nobody@example.com", "no user"),
    ] {
        let out = cli(&["sso-link", who]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains(why), "{who}");
    }

    let ui = format!("{}/openapi/api_authentication/ui/", h.base);
    async fn get_status(http: &reqwest::Client, url: &str) -> u16 {
        http.get(url).send().await.unwrap().status().as_u16()
    }
    let flag = ".feature_flags.enable_swagger";
    let said = |args: &[&str]| String::from_utf8_lossy(&cli(args).stdout).trim().to_owned();
    assert_eq!(said(&["conf", flag]), format!("{flag} = false"));
    assert_eq!(get_status(&h.http, &ui).await, 404, "off by default");
    assert_eq!(
        said(&["conf", flag, "-s", "true"]),
        format!("{flag} = true")
    );
    assert_eq!(
        get_status(&h.http, &ui).await,
        200,
        "on for the next request"
    );
    let bad = cli(&["conf", flag, "-s", "yes"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("takes true or false"));
    let bad = cli(&[
        "conf",
        ".authentication.token.access_token_lifespan",
        "-s",
        "soon",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("whole number of hours"));
}

/// `reference-server purge` works on a running server's database, like `conf`.
#[tokio::test]
async fn purge_deletes_dead_tokens_of_a_running_server() {
    let h = Harness::start().await;
    let old = h.login("old").await;
    let new = h
        .call("regenRefreshToken", Enc::Json, &refresh_fields(&old))
        .await
        .json;
    let purge = |days: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_reference-server"))
            .args(["purge", "--retention-days", days, "--db"])
            .arg(db_path(&h.dir))
            .output()
            .unwrap()
    };
    // Within the default retention, nothing goes.
    let out = purge("30");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("purged 0 refresh token(s)"));
    h.call("validateRefreshToken", Enc::Json, &refresh_fields(&old))
        .await
        .assert_error(401, "Refresh token provided is expired or revoked.");
    let out = purge("0");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "purged 1 refresh token(s) and 0 access token(s) dead for over 0 day(s)"
    );
    h.call("validateRefreshToken", Enc::Json, &refresh_fields(&old))
        .await
        .assert_error(401, "Refresh token provided is invalid.");
    let r = h
        .call("validateRefreshToken", Enc::Json, &refresh_fields(&new))
        .await;
    assert_eq!(r.status, 200, "the live token stays: {}", r.text);
    let out = purge("-1");
    assert_eq!(
        out.status.code(),
        Some(2),
        "a negative retention is refused"
    );
}

#[tokio::test]
async fn database_files_never_hold_a_token_or_password() {
    let h = Harness::start().await;
    let mut secrets = vec![PASSWORD.to_owned()];
    for i in 0..5 {
        let t = h.login(&format!("t{i}")).await;
        let a = h.mint(&t).await;
        let r = h
            .call("regenRefreshToken", Enc::Json, &refresh_fields(&t))
            .await;
        secrets.push(t["refresh_token"].as_str().unwrap().to_owned());
        secrets.push(a["api_access_token"].as_str().unwrap().to_owned());
        secrets.push(r.json["refresh_token"].as_str().unwrap().to_owned());
    }
    let db = db_path(&h.dir);
    let mut files = 0;
    for suffix in ["", "-wal", "-shm"] {
        let path = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        files += 1;
        let text = String::from_utf8_lossy(&bytes);
        for s in &secrets {
            assert!(
                !text.contains(s.as_str()),
                "{} holds a secret",
                path.display()
            );
        }
    }
    // The WAL must exist (WAL mode) alongside the main file.
    assert!(files >= 2, "expected the database and its -wal file");
}

#[tokio::test]
async fn oversized_bodies_get_413_not_a_broken_pipe() {
    let h = Harness::start().await;
    let path = "/integration/v1/regenRefreshToken/";
    // Modest oversize: drained, then refused, so the client reads the 413 (repeat to catch a race).
    for _ in 0..20 {
        let r = h
            .raw(
                "POST",
                path,
                Some("application/json"),
                vec![b'a'; 1024 * 1024],
            )
            .await;
        assert_eq!(r.status, 413, "{}", r.text);
    }
    // Chunked (no Content-Length) over the limit is refused too.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..40).map(|_| Ok(vec![b'a'; 1024])).collect();
    let r = h
        .http
        .post(format!("{}{path}", h.base))
        .header("Content-Type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
}

/// A client that sends its whole body before it reads anything (as Python's urllib does) reads
/// the 413, not a broken pipe: the server keeps reading after it answers (a lingering close).
#[tokio::test]
async fn a_client_that_sends_4_mib_before_reading_gets_the_413() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let h = Harness::start().await;
    let addr = h.base.trim_start_matches("http://").to_owned();
    let size = 4 * 1024 * 1024;
    for chunked in [false, true] {
        let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = if chunked {
            "POST /integration/v1/createRefreshToken/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_owned()
        } else {
            format!(
                "POST /integration/v1/createRefreshToken/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
            )
        };
        sock.write_all(head.as_bytes()).await.unwrap();
        let chunk = vec![b'a'; 64 * 1024];
        for _ in 0..(size / chunk.len()) {
            if chunked {
                sock.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await
                    .unwrap();
                sock.write_all(&chunk).await.unwrap();
                sock.write_all(b"\r\n").await.unwrap();
            } else {
                sock.write_all(&chunk).await.unwrap();
            }
        }
        if chunked {
            sock.write_all(b"0\r\n\r\n").await.unwrap();
        }
        let mut answer = vec![0u8; 1024];
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), sock.read(&mut answer))
            .await
            .expect("an answer within 10 s")
            .expect("read, not a reset");
        let text = String::from_utf8_lossy(&answer[..n]);
        assert!(
            text.starts_with("HTTP/1.1 413"),
            "chunked={chunked}: {text}"
        );
    }
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_is_disconnected() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&dir);
    cfg.header_timeout = std::time::Duration::from_millis(300);
    let server = reference_server::spawn(cfg).await.unwrap();
    let mut sock = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    sock.write_all(b"POST /integration/v1/validateRefreshToken/ HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // The headers never end; the server must give up on its own.
    let mut buf = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        sock.read_to_end(&mut buf),
    )
    .await;
    assert!(read.is_ok(), "the connection was still open after 5 s");
    // A well-behaved client is served as before.
    let r = client()
        .post(format!(
            "http://{}/integration/v1/validateRefreshToken/",
            server.addr()
        ))
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    server.shutdown().await;
}
