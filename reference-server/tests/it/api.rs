//! The API's answers, in-process: `app()` called through `tower::ServiceExt::oneshot`, with a
//! real SQLite file but no socket. Request parsing, the Error shape, and what each operation
//! does to tokens.

#![allow(clippy::unwrap_used)]

use crate::common;

use common::*;
use serde_json::{Value, json};
use time::Duration;

#[tokio::test]
async fn user_id_may_be_a_json_string() {
    let h = Harness::in_process().await;
    let t = h.login("s").await;
    let r = h
        .call(
            "validateRefreshToken",
            Enc::Json,
            &[
                ("refresh_token", t["refresh_token"].clone()),
                ("user_id", Value::String(t["user_id"].to_string())),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json["user_id"].is_i64());
}

#[tokio::test]
async fn duplicate_names_give_new_tokens() {
    let h = Harness::in_process().await;
    let a = h.login("same").await;
    let b = h.login("same").await;
    assert_ne!(a["refresh_token"], b["refresh_token"]);
    for t in [&a, &b] {
        let r = h
            .call("validateRefreshToken", Enc::Form, &refresh_fields(t))
            .await;
        assert_eq!(r.status, 200);
    }
}

#[tokio::test]
async fn wrong_password_and_unknown_user_are_indistinguishable() {
    let h = Harness::in_process().await;
    let wrong = h.create_refresh(Enc::Form, USER, "nope", "n").await;
    let unknown = h
        .create_refresh(Enc::Form, "nobody@example.com", "nope", "n")
        .await;
    wrong.assert_error(401, "Invalid username or password.");
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(wrong.text, unknown.text);
}

#[tokio::test]
async fn usernames_ignore_case() {
    let h = Harness::in_process().await;
    let r = h
        .create_refresh(Enc::Json, &USER.to_uppercase(), PASSWORD, "n")
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test]
async fn sso_users_get_403() {
    let h = Harness::in_process().await;
    let r = h.create_refresh(Enc::Json, SSO_USER, "x", "n").await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.json["detail"].as_str().unwrap().contains("/account/auth"));
}

#[tokio::test]
async fn missing_and_mistyped_fields_get_400_in_the_error_shape() {
    let h = Harness::in_process().await;
    let t = h.login("m").await;
    for op in [
        "validateRefreshToken",
        "regenRefreshToken",
        "createAPIAccessToken",
        "revokeAPIAccessTokens",
    ] {
        let r = h
            .call(op, Enc::Form, &[("user_id", t["user_id"].clone())])
            .await;
        r.assert_error(400, "Missing required field(s): refresh_token.");
        let r = h
            .call(
                op,
                Enc::Json,
                &[
                    ("refresh_token", t["refresh_token"].clone()),
                    ("user_id", "abc".into()),
                ],
            )
            .await;
        r.assert_error(400, "Field 'user_id' must be an integer.");
    }
    let r = h.call("validateAPIAccessToken", Enc::Multipart, &[]).await;
    r.assert_error(400, "Missing required field(s): api_access_token, user_id.");
    let r = h
        .call(
            "createRefreshToken",
            Enc::Json,
            &[("username", USER.into())],
        )
        .await;
    r.assert_error(400, "Missing required field(s): password, name.");
    let r = h
        .call(
            "createRefreshToken",
            Enc::Json,
            &[
                ("username", USER.into()),
                ("password", PASSWORD.into()),
                ("name", json!(["x"])),
            ],
        )
        .await;
    r.assert_error(400, "Field 'name' must be a string, not a array.");
}

#[tokio::test]
async fn bodies_that_cannot_be_parsed_get_400_in_the_error_shape() {
    let h = Harness::in_process().await;
    let path = "/integration/v1/validateRefreshToken/";
    // (content type, body, the detail or how it starts): every refusal is 400 in the Error shape.
    let table: &[(Option<&str>, &[u8], &str)] = &[
        (
            Some("application/json"),
            b"{not json",
            "Request body is not valid JSON",
        ),
        (
            Some("application/json"),
            b"[1]",
            "Request body must be a JSON object.",
        ),
        (
            Some("multipart/form-data; boundary=xyz"),
            b"garbage",
            "Malformed multipart body",
        ),
        (
            Some("application/x-www-form-urlencoded"),
            b"user_id=1&user_id=2",
            "Field 'user_id' is given more than once.",
        ),
        // No content type and no body: an empty form, so the answer names the missing fields.
        (
            None,
            b"",
            "Missing required field(s): refresh_token, user_id.",
        ),
    ];
    for (content_type, body, detail) in table {
        let r = h.raw("POST", path, *content_type, body.to_vec()).await;
        assert_eq!(r.status, 400, "{content_type:?}: {}", r.text);
        let got = r.json["detail"].as_str().unwrap_or_default();
        assert!(got.starts_with(detail), "{content_type:?}: {got}");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.json["code"], "400000", "{content_type:?}: {}", r.text);
    }
}

#[tokio::test]
async fn a_form_value_that_is_not_utf8_is_refused_never_replaced() {
    let h = Harness::in_process().await;
    let body = format!(
        "username={}&password={}&name=caf%E9",
        USER.replace('@', "%40"),
        PASSWORD.replace(' ', "+")
    );
    let r = h
        .raw(
            "POST",
            "/integration/v1/createRefreshToken/",
            Some("application/x-www-form-urlencoded"),
            body.into_bytes(),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.json["detail"].as_str().unwrap().contains("UTF-8"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn wrong_content_type_is_415_and_big_bodies_413() {
    let h = Harness::in_process().await;
    let path = "/integration/v1/createRefreshToken/";
    let r = h
        .raw("POST", path, Some("text/plain"), b"username=x".to_vec())
        .await;
    assert_eq!(r.status, 415, "{}", r.text);
    assert_eq!(r.json["code"], "415000");
    let r = h.raw("POST", path, None, b"username=x".to_vec()).await;
    assert_eq!(r.status, 415, "{}", r.text);
    let big = vec![b'a'; reference_server::DEFAULT_BODY_LIMIT + 1];
    let r = h.raw("POST", path, Some("application/json"), big).await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert_eq!(r.json["code"], "413000");
}

/// The body limit is exact: a body of exactly the limit is read and judged, one byte more is
/// 413, whether the size is declared (`Content-Length`, refused before reading) or found while
/// reading (no length: here one frame of the whole body).
#[tokio::test]
async fn the_body_limit_is_exact_whether_declared_or_found_reading() {
    let h = Harness::in_process().await;
    let path = "/integration/v1/validateRefreshToken/";
    let limit = reference_server::DEFAULT_BODY_LIMIT;
    let body = |n: usize| {
        let mut b = br#"{"refresh_token": "not-a-token", "user_id": 1}"#.to_vec();
        b.resize(n, b' ');
        b
    };
    for declared in [false, true] {
        for (size, want) in [(limit, 401), (limit + 1, 413)] {
            let length = size.to_string();
            let mut headers = vec![("Content-Type", "application/json")];
            if declared {
                headers.push(("Content-Length", length.as_str()));
            }
            let r = h.exchange("POST", path, &headers, body(size)).await;
            assert_eq!(
                r.status, want,
                "{size} bytes, length declared: {declared}: {}",
                r.text
            );
        }
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_in_the_error_shape() {
    let h = Harness::in_process().await;
    let r = h
        .raw(
            "GET",
            "/integration/v1/createRefreshToken/",
            None,
            Vec::new(),
        )
        .await;
    r.assert_error(405, "Method not allowed; these endpoints take POST.");
    let r = h
        .raw(
            "POST",
            "/integration/v1/createRefreshToken",
            None,
            Vec::new(),
        )
        .await;
    r.assert_error(404, "Not found.");
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled_with_retry_after() {
    let h = Harness::in_process().await;
    let bad = [
        ("username", USER.into()),
        ("password", "wrong".into()),
        ("name", "n".into()),
    ];
    for _ in 0..reference_server::DEFAULT_MAX_FAILED_LOGINS {
        let r = h.call("createRefreshToken", Enc::Form, &bad).await;
        assert_eq!(r.status, 401);
    }
    let good = [
        ("username", USER.into()),
        ("password", PASSWORD.into()),
        ("name", "n".into()),
    ];
    let r = h.call("createRefreshToken", Enc::Form, &good).await;
    assert_eq!(
        r.status, 429,
        "even the right password is refused while locked: {}",
        r.text
    );
    let secs: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&secs), "{secs}");
    assert_eq!(r.json["code"], "429000");
    // Another account is not affected.
    let other = [
        ("username", "x@example.com".into()),
        ("password", "p".into()),
        ("name", "n".into()),
    ];
    assert_eq!(
        h.call("createRefreshToken", Enc::Form, &other).await.status,
        401
    );
}

#[tokio::test]
async fn token_header_is_ignored() {
    let h = Harness::in_process().await;
    let t = h.login("t").await;
    for header in ["TOKEN", "token", "Token"] {
        let r = h
            .send(
                "validateRefreshToken",
                Enc::Json,
                &refresh_fields(&t),
                &[(header, "garbage")],
            )
            .await;
        assert_eq!(r.status, 200, "{header}: {}", r.text);
    }
}

#[tokio::test]
async fn tokens_of_another_user_are_invalid() {
    let h = Harness::in_process().await;
    let t = h.login("x").await;
    let a = h.mint(&t).await;
    let other = h
        .control(
            "users",
            json!({"username": "other@example.com", "password": "pw-other"}),
        )
        .await;
    assert_eq!(other.status, 201, "{}", other.text);
    let other_id = other.json["user_id"].clone();
    assert_ne!(other_id, t["user_id"]);
    let fields = [
        ("refresh_token", t["refresh_token"].clone()),
        ("user_id", other_id.clone()),
    ];
    for op in [
        "validateRefreshToken",
        "regenRefreshToken",
        "createAPIAccessToken",
        "revokeAPIAccessTokens",
    ] {
        h.call(op, Enc::Json, &fields)
            .await
            .assert_error(401, "Refresh token provided is invalid.");
    }
    h.call(
        "validateAPIAccessToken",
        Enc::Json,
        &[
            ("api_access_token", a["api_access_token"].clone()),
            ("user_id", other_id),
        ],
    )
    .await
    .assert_error(401, "API Access Token provided is invalid.");
    // And the token is still fine for its owner.
    assert_eq!(
        h.call("validateRefreshToken", Enc::Json, &refresh_fields(&t))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn unknown_tokens_are_invalid() {
    let h = Harness::in_process().await;
    let fields = [
        ("refresh_token", json!("no-such-token")),
        ("user_id", json!(1)),
    ];
    for op in [
        "validateRefreshToken",
        "regenRefreshToken",
        "createAPIAccessToken",
        "revokeAPIAccessTokens",
    ] {
        h.call(op, Enc::Form, &fields)
            .await
            .assert_error(401, "Refresh token provided is invalid.");
    }
    h.call(
        "validateAPIAccessToken",
        Enc::Form,
        &[
            ("api_access_token", json!("no-such-token")),
            ("user_id", json!(1)),
        ],
    )
    .await
    .assert_error(401, "API Access Token provided is invalid.");
}

#[tokio::test]
async fn regeneration_replaces_the_token_and_revokes_its_access_tokens() {
    let h = Harness::in_process().await;
    let old = h.login("regen me").await;
    let a1 = h.mint(&old).await;
    let a2 = h.mint(&old).await;
    let sibling = h.login("sibling").await;
    let a3 = h.mint(&sibling).await;

    let r = h
        .call("regenRefreshToken", Enc::Json, &refresh_fields(&old))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let new = r.json.clone();
    assert_eq!(new["name"], "regen me");
    assert_eq!(new["token_status"], "ACTIVE");
    assert_eq!(new["last_used_at"], Value::Null);
    assert!(ts(&new["created_at"]) > ts(&old["created_at"]));
    assert_eq!(lifespan(&new), Duration::days(60));

    h.call("validateRefreshToken", Enc::Json, &refresh_fields(&old))
        .await
        .assert_error(401, "Refresh token provided is expired or revoked.");
    h.call("createAPIAccessToken", Enc::Json, &refresh_fields(&old))
        .await
        .assert_error(401, "Refresh token provided is expired or revoked.");
    h.call("regenRefreshToken", Enc::Json, &refresh_fields(&old))
        .await
        .assert_error(401, "Refresh token provided is expired or revoked.");
    for a in [&a1, &a2] {
        h.call("validateAPIAccessToken", Enc::Json, &access_fields(a))
            .await
            .assert_error(401, "API Access Token provided is expired or revoked.");
    }
    // Other refresh tokens' access tokens are untouched; the new token works.
    assert_eq!(
        h.call("validateAPIAccessToken", Enc::Json, &access_fields(&a3))
            .await
            .status,
        200
    );
    assert_eq!(
        h.call("validateRefreshToken", Enc::Json, &refresh_fields(&new))
            .await
            .status,
        200
    );
    h.mint(&new).await;
}

#[tokio::test]
async fn revocation_kills_access_tokens_but_not_the_refresh_token() {
    let h = Harness::in_process().await;
    let t = h.login("rev").await;
    let a1 = h.mint(&t).await;
    let a2 = h.mint(&t).await;
    assert_ne!(a1["api_access_token"], a2["api_access_token"]);
    let r = h
        .call("revokeAPIAccessTokens", Enc::Json, &refresh_fields(&t))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/json"));
    for a in [&a1, &a2] {
        h.call("validateAPIAccessToken", Enc::Json, &access_fields(a))
            .await
            .assert_error(401, "API Access Token provided is expired or revoked.");
    }
    assert_eq!(
        h.call("validateRefreshToken", Enc::Json, &refresh_fields(&t))
            .await
            .status,
        200
    );
    let a3 = h.mint(&t).await;
    assert_eq!(
        h.call("validateAPIAccessToken", Enc::Json, &access_fields(&a3))
            .await
            .status,
        200
    );
    // Revoking again, with nothing left to revoke, still answers 200.
    assert_eq!(
        h.call("revokeAPIAccessTokens", Enc::Json, &refresh_fields(&t))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn tokens_expire_when_the_clock_moves() {
    let h = Harness::in_process().await;
    let t = h.login("exp").await;
    let a = h.mint(&t).await;
    let r = h
        .control("clock/advance", json!({"seconds": 24 * 3600 + 1}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    h.call("validateAPIAccessToken", Enc::Json, &access_fields(&a))
        .await
        .assert_error(401, "API Access Token provided is expired or revoked.");
    assert_eq!(
        h.call("validateRefreshToken", Enc::Json, &refresh_fields(&t))
            .await
            .status,
        200
    );

    let r = h
        .control("clock/advance", json!({"seconds": 60 * 86400}))
        .await;
    assert_eq!(r.status, 200);
    for op in [
        "validateRefreshToken",
        "createAPIAccessToken",
        "revokeAPIAccessTokens",
    ] {
        h.call(op, Enc::Json, &refresh_fields(&t))
            .await
            .assert_error(401, "Refresh token provided is expired or revoked.");
    }
    // An expired refresh token can still be regenerated; the new one is dated by the moved clock.
    let r = h
        .call("regenRefreshToken", Enc::Json, &refresh_fields(&t))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["token_status"], "ACTIVE");
    let moved = ts(&r.json["created_at"]) - ts(&t["created_at"]);
    assert!(moved >= Duration::days(61), "{moved}");
}

/// A test clock at the end of the calendar: creating a token there cannot compute its expiry.
/// That request fails alone (500 in the Error shape), and every write after it works, also the
/// same one once the clock is back: the writer thread lives on.
#[tokio::test]
async fn a_write_that_cannot_be_done_fails_alone() {
    let h = Harness::in_process().await;
    let t = h.login("before").await;
    let r = h
        .control("clock", json!({"now": "9999-12-30T00:00:00Z"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    h.create_refresh(Enc::Json, USER, PASSWORD, "at the end of time")
        .await
        .assert_error(500, "Internal server error.");
    // Regeneration works on an expired token, and its successor could not expire either.
    h.call("regenRefreshToken", Enc::Json, &refresh_fields(&t))
        .await
        .assert_error(500, "Internal server error.");
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let r = h.control("clock", json!({ "now": now })).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The failed regeneration changed nothing: the old token is as it was.
    let r = h
        .call("validateRefreshToken", Enc::Json, &refresh_fields(&t))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["token_status"], "ACTIVE");
    let again = h.login("after").await;
    assert_eq!(again["token_status"], "ACTIVE");
    assert_eq!(h.mint(&again).await["token_status"], "ACTIVE");
}

#[tokio::test]
async fn control_protocol_sets_clock_lifespans_and_users() {
    let h = Harness::in_process().await;
    let r = h.raw("GET", "/conformance/v1/", None, Vec::new()).await;
    assert_eq!(
        r.json["capabilities"],
        json!(["clock", "lifespans", "users", "revoke_refresh_token"])
    );

    let r = h
        .control("clock", json!({"now": "2031-03-04T05:06:07Z"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.json["now"]
            .as_str()
            .unwrap()
            .starts_with("2031-03-04T05:06:0")
    );
    let t = h.login("dated").await;
    assert!(
        t["created_at"]
            .as_str()
            .unwrap()
            .starts_with("2031-03-04T05:06:")
    );

    let r = h
        .control("lifespans", json!({"access_token_lifespan_hours": 2}))
        .await;
    assert_eq!(
        r.json,
        json!({"refresh_token_lifespan_days": 60, "access_token_lifespan_hours": 2})
    );
    assert_eq!(lifespan(&h.mint(&t).await), Duration::hours(2));

    let r = h
        .control(
            "users",
            json!({"username": "sso2@example.com", "sso": true}),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = h
        .create_refresh(Enc::Json, "sso2@example.com", "x", "n")
        .await;
    assert_eq!(r.status, 403);

    let r = h
        .control(
            "revokeRefreshToken",
            json!({"refresh_token": t["refresh_token"]}),
        )
        .await;
    assert_eq!(r.json, json!({"revoked": true}));
    h.call("validateRefreshToken", Enc::Json, &refresh_fields(&t))
        .await
        .assert_error(401, "Refresh token provided is expired or revoked.");

    for (path, body) in [
        ("clock", json!({"now": "yesterday"})),
        ("clock/advance", json!({"seconds": "ten"})),
        ("clock/advance", json!({"seconds": 1e300})),
        ("lifespans", json!({"access_token_lifespan_hours": 0})),
        ("lifespans", json!({})),
        ("users", json!({"username": "p@example.com"})),
    ] {
        let r = h.control(path, body.clone()).await;
        assert_eq!(r.status, 400, "{path} {body}: {}", r.text);
        assert_eq!(r.json["code"], "400000");
    }
}

#[tokio::test]
async fn control_protocol_is_off_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&dir);
    cfg.test_control = false;
    let server = reference_server::spawn(cfg).await.unwrap();
    let r = client()
        .post(format!(
            "http://{}/conformance/v1/clock/advance",
            server.addr()
        ))
        .header("Content-Type", "application/json")
        .body(r#"{"seconds": 100000}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    server.shutdown().await;
}

#[tokio::test]
async fn serves_its_contract() {
    let h = Harness::in_process().await;
    let r = h
        .raw("GET", "/openapi/api_authentication/", None, Vec::new())
        .await;
    assert_eq!(r.status, 200);
    assert!(r.text.starts_with("openapi: 3.0.3"));
    assert!(r.text.contains("operationId: revokeAPIAccessTokens"));
}

#[tokio::test]
async fn internal_errors_say_nothing_about_internals() {
    let h = Harness::in_process().await;
    let t = h.login("broken db").await;
    // Break the database under the running server, as a failing disk or a bad migration would.
    let conn = rusqlite::Connection::open(db_path(&h.dir)).unwrap();
    conn.execute_batch("DROP TABLE access_tokens;").unwrap();
    let r = h
        .call("createAPIAccessToken", Enc::Json, &refresh_fields(&t))
        .await;
    r.assert_error(500, "Internal server error.");
    assert!(
        !r.text.contains("access_tokens") && !r.text.to_lowercase().contains("sql"),
        "{}",
        r.text
    );
    // The rest of the API still answers.
    assert_eq!(
        h.call("validateRefreshToken", Enc::Json, &refresh_fields(&t))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn an_empty_or_blank_password_is_a_wrong_password() {
    let h = Harness::in_process().await;
    for (enc, password) in ENCODINGS.into_iter().flat_map(|e| [(e, ""), (e, " \t")]) {
        h.create_refresh(enc, USER, password, "n")
            .await
            .assert_error(401, "Invalid username or password.");
    }
    // A missing password is still a missing field.
    h.call(
        "createRefreshToken",
        Enc::Json,
        &[("username", USER.into()), ("name", "n".into())],
    )
    .await
    .assert_error(400, "Missing required field(s): password.");
}

#[tokio::test]
async fn repeated_unknown_fields_are_ignored_and_repeated_known_ones_refused() {
    let h = Harness::in_process().await;
    let t = h.login("r").await;
    let path = "/integration/v1/validateRefreshToken/";
    let form = |extra: &str| {
        format!(
            "refresh_token={}&user_id={}{extra}",
            t["refresh_token"].as_str().unwrap(),
            t["user_id"]
        )
        .into_bytes()
    };
    let r = h
        .raw(
            "POST",
            path,
            Some("application/x-www-form-urlencoded"),
            form("&x=1&x=2"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = h
        .raw(
            "POST",
            path,
            Some("application/x-www-form-urlencoded"),
            form("&user_id=1"),
        )
        .await;
    r.assert_error(400, "Field 'user_id' is given more than once.");
}

/// A storage fault answers 503 with Retry-After in the Error shape, changes nothing, and
/// passes by itself: a full disk (`max_page_count`), a read-only database (`query_only`), and
/// a database another process holds locked.
#[tokio::test]
async fn storage_faults_are_503_change_nothing_and_pass() {
    let h = Harness::in_process().await;
    let store = &h.state.as_ref().unwrap().store;
    let t = h.login("faults").await;
    let a = h.mint(&t).await;
    let pages: i64 = store.read(|r| r.page_count()).unwrap();
    for (fault, undo) in [
        (
            format!("PRAGMA max_page_count = {pages}"),
            "PRAGMA max_page_count = 1073741823".to_owned(),
        ),
        (
            "PRAGMA query_only = ON".to_owned(),
            "PRAGMA query_only = OFF".to_owned(),
        ),
    ] {
        store.configure(&fault).await.unwrap();
        // A full disk refuses what needs a new page; mint until it does.
        let mut refused = None;
        for _ in 0..300 {
            let r = h
                .call("createAPIAccessToken", Enc::Json, &refresh_fields(&t))
                .await;
            if r.status == 503 {
                refused = Some(r);
                break;
            }
        }
        let r = refused.unwrap_or_else(|| panic!("{fault}: never refused"));
        r.assert_error(
            503,
            "The service is busy or its storage unavailable; try again in 2 seconds.",
        );
        assert_eq!(r.header("retry-after"), Some("2"));
        let r = h
            .call("revokeAPIAccessTokens", Enc::Json, &refresh_fields(&t))
            .await;
        assert_eq!(r.status, 503, "{fault}: {}", r.text);
        let r = h
            .call("regenRefreshToken", Enc::Json, &refresh_fields(&t))
            .await;
        assert_eq!(r.status, 503, "{fault}: {}", r.text);
        // Reads still answer, and show that nothing changed.
        let r = h
            .call("validateAPIAccessToken", Enc::Json, &access_fields(&a))
            .await;
        assert_eq!(
            (r.status, r.json["token_status"].as_str()),
            (200, Some("ACTIVE")),
            "{fault}"
        );
        store.configure(&undo).await.unwrap();
        let r = h
            .call("createAPIAccessToken", Enc::Json, &refresh_fields(&t))
            .await;
        assert_eq!(r.status, 201, "{fault}: recovered by itself: {}", r.text);
    }
    // Another process holds the database: writes wait their busy timeout, then 503.
    let other = rusqlite::Connection::open(db_path(&h.dir)).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let r = h
        .call("createAPIAccessToken", Enc::Json, &refresh_fields(&t))
        .await;
    assert_eq!(r.status, 503, "{}", r.text);
    other.execute_batch("COMMIT").unwrap();
    let r = h
        .call("createAPIAccessToken", Enc::Json, &refresh_fields(&t))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

/// Dead tokens are deleted once the retention has passed since they died, and a purged token
/// then answers as one never issued.
#[tokio::test]
async fn purged_tokens_go_after_the_retention() {
    let h = Harness::in_process().await;
    let store = &h.state.as_ref().unwrap().store;
    let t = h.login("purge").await;
    h.call("regenRefreshToken", Enc::Json, &refresh_fields(&t))
        .await;
    let now = time::OffsetDateTime::now_utc();
    // Within the retention nothing goes; a retention later, the revoked token does.
    assert_eq!(
        store
            .purge(now - reference_server::store::PURGE_RETENTION)
            .await
            .unwrap(),
        (0, 0)
    );
    let (refresh, _) = store.purge(now + time::Duration::seconds(1)).await.unwrap();
    assert_eq!(refresh, 1, "the regenerated token went");
    h.call("validateRefreshToken", Enc::Json, &refresh_fields(&t))
        .await
        .assert_error(401, "Refresh token provided is invalid.");
}
