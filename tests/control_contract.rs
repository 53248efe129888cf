//! The reference server's test-control protocol answers as `specs/conformance-control.openapi.yaml`
//! documents: the document vendors implement is the one the reference server proves.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use serde_json::{Value, json};
use token_conformance::spec::Spec;

#[tokio::test]
async fn every_control_operation_answers_as_documented() {
    let spec = Spec::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/conformance-control.openapi.yaml"),
    )
    .unwrap();
    let server = reference_server::embedded::start().await.unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let base = server.base_url.clone();
    let token: Value = {
        let r = http
            .post(format!("{base}/integration/v1/createRefreshToken/"))
            .header("content-type", "application/json")
            .body(
                json!({"username": server.username, "password": server.password, "name": "n"})
                    .to_string(),
            )
            .send()
            .await
            .unwrap();
        serde_json::from_str(&r.text().await.unwrap()).unwrap()
    };
    let calls = calls(&token);
    let mut statuses = Vec::new();
    for (op_id, method, path, body) in calls {
        let op = spec.operation(op_id).unwrap();
        assert_eq!(op.method, method, "{op_id}");
        let mut req = http.request(
            method.parse().unwrap(),
            format!("{base}/conformance/v1{path}"),
        );
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        let doc = op
            .response(status)
            .unwrap_or_else(|| panic!("{op_id} answered undocumented {status}: {body}"));
        let errors = spec.validate(doc, &body, 5);
        assert!(errors.is_empty(), "{op_id} {status}: {errors:?} in {body}");
        statuses.push((op_id, status));
    }
    assert!(statuses.contains(&("setClock", 400)) && statuses.contains(&("setClock", 200)));
    assert!(statuses.contains(&("createUser", 201)) && statuses.contains(&("createUser", 400)));
    server.stop().await;
}

/// One request per documented answer worth seeing: (operationId, method, path, body).
fn calls(token: &Value) -> Vec<(&'static str, &'static str, &'static str, Option<Value>)> {
    vec![
        ("getCapabilities", "GET", "/", None),
        ("getClock", "GET", "/clock", None),
        (
            "setClock",
            "POST",
            "/clock",
            Some(json!({"now": "2031-01-01T00:00:00Z"})),
        ),
        (
            "setClock",
            "POST",
            "/clock",
            Some(json!({"now": "not a date"})),
        ),
        (
            "advanceClock",
            "POST",
            "/clock/advance",
            Some(json!({"seconds": 90061.5})),
        ),
        ("advanceClock", "POST", "/clock/advance", Some(json!({}))),
        ("getLifespans", "GET", "/lifespans", None),
        (
            "setLifespans",
            "POST",
            "/lifespans",
            Some(json!({"access_token_lifespan_hours": 2})),
        ),
        (
            "setLifespans",
            "POST",
            "/lifespans",
            Some(json!({"refresh_token_lifespan_days": 0})),
        ),
        (
            "createUser",
            "POST",
            "/users",
            Some(json!({"username": "sso@example.com", "sso": true})),
        ),
        (
            "createUser",
            "POST",
            "/users",
            Some(json!({"username": "nopass@example.com"})),
        ),
        (
            "revokeRefreshToken",
            "POST",
            "/revokeRefreshToken",
            Some(json!({"refresh_token": token["refresh_token"]})),
        ),
        (
            "revokeRefreshToken",
            "POST",
            "/revokeRefreshToken",
            Some(json!({})),
        ),
    ]
}
