//! The contract loader's tests.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use serde_json::json;

use super::build::*;
use super::model::*;
use super::*;
use crate::error::ErrorKind;

fn bundled() -> Spec {
    Spec::parse(BUNDLED_SPEC, Path::new(BUNDLED_SPEC_NAME)).expect("bundled spec loads")
}

#[test]
fn bundled_spec_has_six_operations_with_their_statuses() {
    let spec = bundled();
    let ids: Vec<&str> = spec.operations.keys().map(String::as_str).collect();
    assert_eq!(
        ids,
        [
            "createAPIAccessToken",
            "createRefreshToken",
            "regenRefreshToken",
            "revokeAPIAccessTokens",
            "validateAPIAccessToken",
            "validateRefreshToken"
        ]
    );
    let create = spec.operation("createRefreshToken").expect("op");
    assert_eq!(create.method, "POST");
    assert_eq!(
        create.responses.keys().copied().collect::<Vec<_>>(),
        [201, 400, 401, 403, 404, 413, 415, 429, 500, 503]
    );
    assert_eq!(create.request_types.len(), 3);
    let created = create.response(201).expect("201");
    assert_eq!(
        created.datetime_fields,
        ["created_at", "last_used_at", "token_expires_at"]
    );
    assert!(created.enum_fields.contains_key("token_status"));
    assert!(
        !spec
            .operation("regenRefreshToken")
            .expect("op")
            .documents(204)
    );
}

#[test]
fn token_roles_states_and_effects_come_from_the_extensions() {
    let spec = bundled();
    let validate = spec.operation("validateRefreshToken").expect("op");
    let shape = validate
        .response(200)
        .and_then(|d| d.token.clone())
        .expect("x-token");
    assert_eq!(shape.kind, TokenKind::Refresh);
    assert_eq!(shape.value, "refresh_token");
    assert_eq!(shape.status.as_deref(), Some("token_status"));
    let states = validate
        .response(200)
        .and_then(|d| d.states.clone())
        .expect("x-states");
    assert_eq!(states.revoked, "REVOKED");
    assert_eq!(
        validate.request_token.as_ref().map(|t| t.kind),
        Some(TokenKind::Refresh)
    );
    assert!(validate.effects.is_empty());
    let regen = spec.operation("regenRefreshToken").expect("op");
    assert_eq!(
        regen.effects,
        [
            Effect::Issues(TokenKind::Refresh),
            Effect::Revoke {
                field: "refresh_token".into(),
                severity: Severity::Must
            },
            Effect::RevokeAccessTokensOf {
                field: "refresh_token".into(),
                severity: Severity::Should
            }
        ]
    );
    assert_eq!(
        spec.operation("createAPIAccessToken").expect("op").issues(),
        Some(TokenKind::Access)
    );
    let create = spec.operation("createRefreshToken").expect("op");
    assert!(
        create
            .response(500)
            .and_then(|d| d.not_provokable.as_ref())
            .is_some()
    );
    assert!(
        create
            .response(429)
            .and_then(|d| d.not_provokable.as_ref())
            .is_none()
    );
    assert_eq!(
        spec.login().map(|o| o.id.as_str()),
        Some("createRefreshToken")
    );
    assert_eq!(
        spec.regenerate(TokenKind::Refresh).map(|o| o.id.as_str()),
        Some("regenRefreshToken")
    );
    assert_eq!(
        spec.revoke_access_tokens().map(|o| o.id.as_str()),
        Some("revokeAPIAccessTokens")
    );
    assert_eq!(
        spec.validation(TokenKind::Access).map(|o| o.id.as_str()),
        Some("validateAPIAccessToken")
    );
    let secrets: Vec<&str> = spec.secret_fields.iter().map(String::as_str).collect();
    assert_eq!(secrets, ["api_access_token", "password", "refresh_token"]);
}

#[test]
fn malformed_extensions_are_spec_errors() {
    let with = |schema_ext: &str, op_ext: &str| {
        format!(
            "openapi: 3.0.3\ninfo: {{title: t, version: '1'}}\npaths:\n  /a:\n    post:\n      operationId: a\n{op_ext}      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema:\n                type: object\n{schema_ext}                properties: {{v: {{type: string}}}}\n"
        )
    };
    for (text, needle) in [
        (
            with("                x-token: {kind: refresh, value: w}\n", ""),
            "`x-token` names `w`",
        ),
        (
            with("                x-token: {kind: bearer, value: v}\n", ""),
            "`x-token` is malformed",
        ),
        (
            with("", "      x-token-effects: [{severity: must}]\n"),
            "give exactly one action",
        ),
        // A MUST effect rests on a source; a project decision is none.
        (
            with("", "      x-token-effects: [{revoke: v, severity: must}]\n"),
            "names no source",
        ),
        (
            with(
                "",
                "      x-token-effects: [{revoke: v, severity: must, source: our-decision}]\n",
            ),
            "is not a source",
        ),
    ] {
        let e = Spec::parse(&text, Path::new("x.yaml")).expect_err(&text);
        assert!(e.to_string().contains(needle), "{e}");
    }
    let fine = with("                x-token: {kind: access, value: v}\n", "");
    Spec::parse(&fine, Path::new("x.yaml")).expect("a well-formed x-token loads");
    let should = with(
        "",
        "      x-token-effects: [{revoke: v, severity: should}]\n",
    );
    Spec::parse(&should, Path::new("x.yaml")).expect("a SHOULD effect needs no source");
}

#[test]
fn validates_bodies_with_nullable_and_formats() {
    let spec = bundled();
    let doc = spec
        .operation("createRefreshToken")
        .expect("op")
        .response(201)
        .expect("201");
    let mut good = json!({
        "user_id": 1, "created_at": "2026-11-28T02:10:46.588497Z",
        "token_expires_at": "2027-01-27T02:10:46.588497Z", "token_status": "ACTIVE",
        "last_used_at": null, "name": "n", "refresh_token": "abc"
    });
    assert!(spec.validate(doc, &good, 10).is_empty());
    good["created_at"] = json!("yesterday");
    good["token_status"] = json!("VALID");
    good["user_id"] = json!("1");
    let errors = spec.validate(doc, &good, 10);
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(
        errors.iter().any(|e| e.starts_with("at /user_id")),
        "{errors:#?}"
    );
}

#[test]
fn unknown_operation_suggests_the_closest() {
    let e = bundled()
        .operation("validateRefreshTokn")
        .expect_err("unknown");
    assert_eq!(
        e.hint.as_deref(),
        Some("did you mean `validateRefreshToken`?")
    );
}

#[test]
fn broken_documents_are_errors_not_panics() {
    let file = Path::new("x.yaml");
    for (text, needle) in [
        (
            "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n",
            "unsupported OpenAPI version 3.1.0",
        ),
        ("swagger: '2.0'\n", "no `openapi` version"),
        (
            "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n",
            "no operations",
        ),
        ("openapi: 3.0.3\ninfo: [\n", "x.yaml:2: unclosed bracket"),
        (
            "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    post:\n      operationId: a\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {$ref: '#/components/schemas/Missing'}\n",
            "nothing at #/components/schemas/Missing",
        ),
    ] {
        let e = Spec::parse(text, file).expect_err(text);
        assert_eq!(e.kind, ErrorKind::Spec);
        assert!(e.to_string().contains(needle), "{e}");
    }
}

/// Every example in the contract (taken from the reference server's output) matches the
/// schema it illustrates, and the control protocol's document loads too.
#[test]
fn examples_match_their_schemas_and_the_control_document_loads() {
    let spec = bundled();
    let raw: Value =
        crate::yaml::parse(BUNDLED_SPEC, Path::new(BUNDLED_SPEC_NAME), ErrorKind::Spec)
            .expect("yaml");
    let mut checked = 0;
    for op in spec.operations.values() {
        for (status, doc) in &op.responses {
            let mut response = raw
                .pointer(&format!(
                    "/paths/{}/post/responses/{status}",
                    escape(&op.path)
                ))
                .expect("response");
            if let Some(r) = response.get("$ref").and_then(Value::as_str) {
                response = raw.pointer(r.trim_start_matches('#')).expect("ref");
            }
            let Some(example) = response.pointer("/content/application~1json/example") else {
                continue;
            };
            let errors = spec.validate(doc, example, 5);
            assert!(errors.is_empty(), "{} {status}: {errors:?}", op.id);
            checked += 1;
        }
    }
    assert_eq!(checked, 51, "every documented response has an example");
    let control = Spec::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/conformance-control.openapi.yaml"),
    )
    .expect("control document loads");
    assert_eq!(control.operations.len(), 8);
}

/// Every OpenAPI link names an operation of the contract, fills exactly the fields that
/// operation requires, and takes each from a field the linking response has, so stateful
/// tools (schemathesis) chain real calls rather than guesses.
#[test]
fn links_fill_their_targets_required_fields_from_the_response() {
    let raw: Value =
        crate::yaml::parse(BUNDLED_SPEC, Path::new(BUNDLED_SPEC_NAME), ErrorKind::Spec)
            .expect("yaml");
    let deref = |v: &'_ Value| -> Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => raw.pointer(r.trim_start_matches('#')).expect("ref").clone(),
            None => v.clone(),
        }
    };
    let schema_of = |body: &Value| deref(&body["content"]["application/json"]["schema"]);
    let paths = raw["paths"].as_object().expect("paths");
    let request_of = |id: &str| {
        paths
            .values()
            .map(|p| &p["post"])
            .find(|op| op["operationId"] == id)
            .map(|op| schema_of(&op["requestBody"]))
    };
    let mut linked = BTreeSet::new();
    for op in paths.values().map(|p| &p["post"]) {
        for (status, response) in op["responses"].as_object().expect("responses") {
            let response = deref(response);
            let Some(links) = response.get("links").and_then(Value::as_object) else {
                continue;
            };
            let source = schema_of(&response);
            for link in links.values().map(deref) {
                let target = link["operationId"].as_str().expect("operationId");
                let wanted = request_of(target).unwrap_or_else(|| panic!("{target}"));
                let body = link["requestBody"].as_object().expect("requestBody");
                let mut required: Vec<&str> = wanted["required"]
                    .as_array()
                    .expect("required")
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                required.sort_unstable();
                assert_eq!(
                    body.keys().map(String::as_str).collect::<Vec<_>>(),
                    required,
                    "{} {status} -> {target}",
                    op["operationId"]
                );
                for expr in body.values() {
                    let field = expr
                        .as_str()
                        .and_then(|e| e.strip_prefix("$response.body#/"))
                        .unwrap_or_else(|| panic!("{expr}"));
                    assert!(
                        source["properties"].get(field).is_some(),
                        "{} {status} has no {field}",
                        op["operationId"]
                    );
                }
                linked.insert(format!("{} -> {target}", op["operationId"]));
            }
        }
    }
    assert_eq!(linked.len(), 9, "{linked:?}");
}
