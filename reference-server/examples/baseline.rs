//! The benchmark baseline (`bench/run.sh`): the smallest server on the reference server's own
//! stack (tokio, hyper through axum, the same features) that answers every POST with a fixed
//! JSON body the size of a validation answer. What the reference server does beyond this is
//! its own cost; the benchmark reports it as a ratio.
//!
//! `cargo run --release -p reference-server --example baseline -- 127.0.0.1:0` prints
//! `baseline listening on http://ADDR`.

use axum::Router;
use axum::http::header;
use axum::routing::post;

/// A validation answer's shape and size.
const BODY: &str = r#"{"user_id":1,"created_at":"2026-11-28T02:10:46.718155Z","token_expires_at":"2026-11-29T02:10:46.718155Z","token_status":"ACTIVE","api_access_token":"EWBWdWrX20cY8EpwxWSTlI98pRyV1rhmXcevEUHG5Lc"}"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8081".to_owned());
    let app = Router::new().fallback(post(|| async {
        ([(header::CONTENT_TYPE, "application/json")], BODY)
    }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("baseline listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
