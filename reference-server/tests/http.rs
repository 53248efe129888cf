//! The reference server over real HTTP on 127.0.0.1, with a real SQLite file.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{Value, json};
use time::Duration;

fn lifespan(v: &Value) -> Duration {
    ts(&v["token_expires_at"]) - ts(&v["created_at"])
}

#[tokio::test]
async fn every_endpoint_answers_in_all_three_encodings() {
    let h = Harness::start().await;
    for enc in ENCODINGS {
        let name = format!("token {enc:?}");
        let r = h
            .call(
                "createRefreshToken",
                enc,
                &[
                    ("username", USER.into()),
                    ("password", PASSWORD.into()),
                    ("name", name.clone().into()),
                ],
            )
            .await;
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
async fn user_id_may_be_a_json_string() {
    let h = Harness::start().await;
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
    let h = Harness::start().await;
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
    let h = Harness::start().await;
    let wrong = h
        .call(
            "createRefreshToken",
            Enc::Form,
            &[
                ("username", USER.into()),
                ("password", "nope".into()),
                ("name", "n".into()),
            ],
        )
        .await;
    let unknown = h
        .call(
            "createRefreshToken",
            Enc::Form,
            &[
                ("username", "nobody@example.com".into()),
                ("password", "nope".into()),
                ("name", "n".into()),
            ],
        )
        .await;
    wrong.assert_error(401, "Invalid username or password.");
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(wrong.text, unknown.text);
}

#[tokio::test]
async fn usernames_ignore_case() {
    let h = Harness::start().await;
    let r = h
        .call(
            "createRefreshToken",
            Enc::Json,
            &[
                ("username", USER.to_uppercase().into()),
                ("password", PASSWORD.into()),
                ("name", "n".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test]
async fn sso_users_get_403() {
    let h = Harness::start().await;
    let r = h
        .call(
            "createRefreshToken",
            Enc::Json,
            &[
                ("username", SSO_USER.into()),
                ("password", "x".into()),
                ("name", "n".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.json["detail"].as_str().unwrap().contains("/account/auth"));
}

#[tokio::test]
async fn malformed_requests_get_400_in_the_error_shape() {
    let h = Harness::start().await;
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

    let path = "/integration/v1/validateRefreshToken/";
    let r = h
        .raw(
            "POST",
            path,
            Some("application/json"),
            b"{not json".to_vec(),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.json["detail"]
            .as_str()
            .unwrap()
            .starts_with("Request body is not valid JSON")
    );
    let r = h
        .raw("POST", path, Some("application/json"), b"[1]".to_vec())
        .await;
    r.assert_error(400, "Request body must be a JSON object.");
    let r = h
        .raw(
            "POST",
            path,
            Some("multipart/form-data; boundary=xyz"),
            b"garbage".to_vec(),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.json["detail"]
            .as_str()
            .unwrap()
            .starts_with("Malformed multipart body")
    );
    let r = h
        .raw(
            "POST",
            path,
            Some("application/x-www-form-urlencoded"),
            b"user_id=1&user_id=2".to_vec(),
        )
        .await;
    r.assert_error(400, "Field 'user_id' is given more than once.");
    // No content type and no body: an empty form, so the answer names the missing fields.
    let r = h.raw("POST", path, None, Vec::new()).await;
    r.assert_error(400, "Missing required field(s): refresh_token, user_id.");
}

#[tokio::test]
async fn wrong_content_type_is_415_and_big_bodies_413() {
    let h = Harness::start().await;
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

#[tokio::test]
async fn unknown_paths_and_methods_answer_in_the_error_shape() {
    let h = Harness::start().await;
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
    let h = Harness::start().await;
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
    let h = Harness::start().await;
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
    let h = Harness::start().await;
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
    let h = Harness::start().await;
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
    let h = Harness::start().await;
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
async fn revocation_kills_access_tokens_but_not_the_refresh_token() {
    let h = Harness::start().await;
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
    let h = Harness::start().await;
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

#[tokio::test]
async fn control_protocol_sets_clock_lifespans_and_users() {
    let h = Harness::start().await;
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
        .call(
            "createRefreshToken",
            Enc::Json,
            &[
                ("username", "sso2@example.com".into()),
                ("password", "x".into()),
                ("name", "n".into()),
            ],
        )
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
    let h = Harness::start().await;
    let r = h
        .raw("GET", "/openapi/api_authentication/", None, Vec::new())
        .await;
    assert_eq!(r.status, 200);
    assert!(r.text.starts_with("openapi: 3.0.3"));
    assert!(r.text.contains("operationId: revokeAPIAccessTokens"));
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
async fn internal_errors_say_nothing_about_internals() {
    let h = Harness::start().await;
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
