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
    for (op_id, method, path, body, expected) in calls {
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
        assert_eq!(status, expected, "{op_id} {path}: {body}");
        let doc = op
            .response(status)
            .unwrap_or_else(|| panic!("{op_id} answered undocumented {status}: {body}"));
        let errors = spec.validate(doc, &body, 5);
        assert!(errors.is_empty(), "{op_id} {status}: {errors:?} in {body}");
        statuses.push((op_id, status));
    }
    // Every operation of the document was called.
    for op in spec.operations.keys() {
        assert!(
            statuses.iter().any(|(o, _)| o == op),
            "{op} was never called"
        );
    }
    server.stop().await;
}

/// One request: (operationId, method, path, body, the status it must get).
type Call = (&'static str, &'static str, &'static str, Option<Value>, u16);

/// One request per documented answer worth seeing, with the status each must get.
fn calls(token: &Value) -> Vec<Call> {
    vec![
        ("getCapabilities", "GET", "/", None, 200),
        ("getClock", "GET", "/clock", None, 200),
        (
            "setClock",
            "POST",
            "/clock",
            Some(json!({"now": "2031-01-01T00:00:00Z"})),
            200,
        ),
        (
            "setClock",
            "POST",
            "/clock",
            Some(json!({"now": "not a date"})),
            400,
        ),
        (
            "advanceClock",
            "POST",
            "/clock/advance",
            Some(json!({"seconds": 90061.5})),
            200,
        ),
        (
            "advanceClock",
            "POST",
            "/clock/advance",
            Some(json!({})),
            400,
        ),
        ("getLifespans", "GET", "/lifespans", None, 200),
        (
            "setLifespans",
            "POST",
            "/lifespans",
            Some(json!({"access_token_lifespan_hours": 2})),
            200,
        ),
        (
            "setLifespans",
            "POST",
            "/lifespans",
            Some(json!({"refresh_token_lifespan_days": 0})),
            400,
        ),
        (
            "createUser",
            "POST",
            "/users",
            Some(json!({"username": "sso@example.com", "sso": true})),
            201,
        ),
        (
            "createUser",
            "POST",
            "/users",
            Some(json!({"username": "nopass@example.com"})),
            400,
        ),
        (
            "revokeRefreshToken",
            "POST",
            "/revokeRefreshToken",
            Some(json!({"refresh_token": token["refresh_token"]})),
            200,
        ),
        (
            "revokeRefreshToken",
            "POST",
            "/revokeRefreshToken",
            Some(json!({})),
            400,
        ),
    ]
}
