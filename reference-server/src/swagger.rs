//! Swagger UI for the contract at `/openapi/api_authentication/ui/`, off by default as on the
//! vendor's servers: `reference-server conf .feature_flags.enable_swagger -s true` turns it on,
//! for the next request (the flag is read from the database each time).
//!
//! The assets (the bundle and its CSS) are vendored in `assets/swagger-ui/` and compiled in:
//! nothing is fetched at build or run time. (They were the `swagger-ui-dist` crate's, which also
//! compiled in their source maps, 2.2 MB, and turned on axum features this server does not use.)
//! An inline start-up script would break this server's Content-Security-Policy, so the index
//! and the start-up script are this module's.
//!
//! The UI reads a copy of the contract whose `servers` entry is `/`, so that "Try it out" goes
//! to whatever address the page was opened at.

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state, map_response};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::FeatureFlag;

/// Where the UI lives.
pub const UI: &str = "/openapi/api_authentication/ui";

/// Swagger UI sets inline styles, so unlike the token page it needs `'unsafe-inline'` for
/// styles (never for scripts), and `data:` images for its icons.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const INDEX: &str = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>Token Authentication API · Swagger UI</title>\n\
<link rel=\"stylesheet\" href=\"swagger-ui.css\">\n</head>\n<body>\n\
<div id=\"swagger-ui\"></div>\n<script src=\"swagger-ui-bundle.js\"></script>\n\
<script src=\"swagger-init.js\"></script>\n</body>\n</html>\n";

const INIT: &str = "\"use strict\";\n\
window.addEventListener(\"load\", function () {\n\
  window.ui = SwaggerUIBundle({ url: \"openapi.yaml\", dom_id: \"#swagger-ui\" });\n\
});\n";

/// Swagger UI itself (`assets/swagger-ui/README.md` says which and whence): its script and
/// its style sheet.
const BUNDLE: &str = include_str!("../assets/swagger-ui/swagger-ui-bundle.js");
const CSS: &str = include_str!("../assets/swagger-ui/swagger-ui.css");

/// The contract this server implements, served at `GET /openapi/api_authentication/`.
pub const OPENAPI_YAML: &str = include_str!("../../specs/token-auth.openapi.yaml");

/// The contract with one server, this one, whatever its address.
static UI_SPEC: LazyLock<String> = LazyLock::new(|| same_origin(OPENAPI_YAML));

/// Replaces the top-level `servers:` block of an OpenAPI document with `- url: /`.
fn same_origin(spec: &str) -> String {
    let mut out = String::with_capacity(spec.len());
    let mut in_servers = false;
    for line in spec.split_inclusive('\n') {
        if line.trim_end() == "servers:" {
            in_servers = true;
            out.push_str("servers:\n  - url: /\n    description: this server\n");
            continue;
        }
        if in_servers && (line.starts_with(' ') || line.trim().is_empty()) {
            continue;
        }
        in_servers = false;
        out.push_str(line);
    }
    out
}

/// The UI's routes, answering 404 while the flag is off.
pub fn routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route(UI, get(|| async { redirect_to_index() }))
        .route(&format!("{UI}/"), get(|| async { html(INDEX) }))
        .route(&format!("{UI}/swagger-init.js"), get(|| async { js(INIT) }))
        .route(&format!("{UI}/openapi.yaml"), get(|| async { yaml() }))
        .route(&format!("{UI}/swagger-ui.css"), get(|| async { css(CSS) }))
        .route(
            &format!("{UI}/swagger-ui-bundle.js"),
            get(|| async { js(BUNDLE) }),
        )
        .route_layer(from_fn_with_state(state, only_when_enabled))
        .layer(map_response(|r| async {
            crate::respond::security_headers(r, CSP)
        }))
}

async fn only_when_enabled(State(app): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    match app
        .store
        .read(|r| r.feature_flag(FeatureFlag::EnableSwagger))
    {
        Ok(true) => next.run(req).await,
        Ok(false) => ApiError::NotFound.into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

fn redirect_to_index() -> Response {
    (
        StatusCode::MOVED_PERMANENTLY,
        [(header::LOCATION, HeaderValue::from_static("ui/"))],
    )
        .into_response()
}

fn typed(content_type: &'static str, body: &'static str) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

fn html(body: &'static str) -> Response {
    typed("text/html; charset=utf-8", body)
}

fn css(body: &'static str) -> Response {
    typed("text/css; charset=utf-8", body)
}

fn js(body: &'static str) -> Response {
    typed("text/javascript; charset=utf-8", body)
}

fn yaml() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/yaml"),
        )],
        UI_SPEC.as_str(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ui_copy_of_the_contract_points_at_this_server_and_changes_nothing_else() {
        let ui = same_origin(OPENAPI_YAML);
        assert!(
            ui.contains("servers:\n  - url: /\n"),
            "{}",
            &ui[..ui.len().min(4000)]
        );
        assert!(!ui.contains("127.0.0.1:8080"));
        let strip = |s: &str| -> Vec<String> {
            let mut in_servers = false;
            s.lines()
                .filter(|l| {
                    if l.trim_end() == "servers:" {
                        in_servers = true;
                        return false;
                    }
                    if in_servers && l.starts_with(' ') {
                        return false;
                    }
                    in_servers = false;
                    true
                })
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(
            strip(&ui),
            strip(OPENAPI_YAML),
            "only the servers block changed"
        );
    }
}
