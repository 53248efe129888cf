//! The token page and Swagger UI as a person uses them: headless Chromium driven through
//! WebDriver (chromedriver), against the server binary. It signs in, creates a token and reads
//! its value off the page, uses it through the API, revokes it on the page and sees the API
//! refuse both values, signs in as an SSO user through a one-time link, and turns Swagger UI on
//! and finds the six operations. A screenshot of each page goes to
//! `target/browser-screenshots/`.
//!
//! It needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Without them
//! the test is reported ignored, its name saying why, unless `TOKEN_CONFORMANCE_REQUIRE_TOOLS`
//! is set, as in CI, where a missing browser is a failure.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{KillOnDrop, PASSWORD, SSO_USER, USER};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

/// The first of `names` found on PATH.
fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// Where screenshots go: the workspace's target directory.
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    let dir = target.join("browser-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    let path = screenshot_dir().join(format!("{name}.png"));
    std::fs::write(&path, png).expect("write screenshot");
    eprintln!("screenshot: {}", path.display());
}

/// The reference server binary with a password user and an SSO user; its address.
fn start_server(db: &Path) -> (KillOnDrop, String) {
    let user = format!("{USER}:{PASSWORD}");
    common::spawn_server(&["--user", &user, "--sso-user", SSO_USER], db)
}

/// chromedriver on a port it picks itself (`--port=0`, which it then prints), once it answers.
async fn start_driver(driver: &Path) -> (KillOnDrop, String) {
    use std::io::BufRead as _;
    let mut child = KillOnDrop(
        Command::new(driver)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = std::io::BufReader::new(stdout).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("chromedriver printed its port before exiting")
            .expect("stdout");
        if let Some(rest) = line.split("started successfully on port ").nth(1) {
            break rest.trim_end_matches('.').to_owned();
        }
    };
    // Keep reading its output, so that it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let url = format!("http://127.0.0.1:{port}");
    let http = common::client();
    for _ in 0..200 {
        if http.get(format!("{url}/status")).send().await.is_ok() {
            return (child, url);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("chromedriver did not answer on {url}");
}

async fn api(base: &str, op: &str, body: Value) -> (u16, Value) {
    let r = common::client()
        .post(format!("{base}/integration/v1/{op}/"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("the API answers");
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn cli(db: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_reference-server"))
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .expect("the command runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .expect(css)
        .click()
        .await
        .expect(css);
}

async fn text_of(c: &Client, css: &str) -> String {
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .expect(css)
        .text()
        .await
        .expect(css)
}

/// The browser session, the server's address and database.
struct Run {
    c: Client,
    base: String,
    db: PathBuf,
}

impl Run {
    fn page(&self) -> String {
        format!("{}/account/auth", self.base)
    }
}

/// The trial, reported ignored with its reason when the tool is missing.
pub fn trial() -> libtest_mimic::Trial {
    let tools = (
        on_path(&["chromedriver"]),
        on_path(&["chromium", "chromium-browser", "google-chrome"]),
    );
    let missing = match &tools {
        (Some(_), Some(_)) => None,
        _ => Some("no chromium and chromedriver (apt-get install chromium chromium-driver)"),
    };
    common::tool_trial(
        "a_person_signs_in_uses_and_revokes_a_token_and_finds_swagger_ui",
        missing,
        move || {
            let (Some(driver), Some(browser)) = tools else {
                return Err("no chromium and chromedriver".into());
            };
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| format!("runtime: {e}"))?
                .block_on(person(driver, browser));
            Ok(())
        },
    )
}

async fn person(driver: PathBuf, browser: PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("browser.db");
    let (_server, base) = start_server(&db);
    let (_driver, driver_url) = start_driver(&driver).await;
    let caps = json!({
        "goog:chromeOptions": {
            "binary": browser,
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,1000"]
        }
    });
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver_url)
        .await
        .expect("a browser session");
    let run = Run { c, base, db };
    sign_in(&run).await;
    let (value, user_id) = create_token(&run).await;
    revoke_on_the_page(&run, &value, user_id).await;
    phone_width(&run).await;
    sso_link(&run).await;
    swagger_ui(&run).await;
    run.c.close().await.expect("close the browser");
}

async fn type_into(c: &Client, css: &str, text: &str) {
    c.find(Locator::Css(css))
        .await
        .expect(css)
        .send_keys(text)
        .await
        .expect(css);
}

/// 1. Signs in with a password.
async fn sign_in(run: &Run) {
    let c = &run.c;
    c.goto(&run.page()).await.expect("the page");
    shot(c, "01-sign-in").await;
    type_into(c, "#username", USER).await;
    type_into(c, "#password", PASSWORD).await;
    click(c, "form[action='/account/auth/sign-in'] button").await;
    assert_eq!(text_of(c, "#signed-in-as").await, USER);
    shot(c, "02-signed-in").await;
}

/// 2. Creates a token and reads its value, and the user id, from the page.
async fn create_token(run: &Run) -> (String, i64) {
    let c = &run.c;
    type_into(c, "#name", "from the browser").await;
    click(c, "form.create button").await;
    let field = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#new-token"))
        .await
        .expect("shown");
    let value = field.prop("value").await.expect("value").expect("a value");
    let user_id: i64 = text_of(c, "#new-token-user")
        .await
        .parse()
        .expect("a user id");
    let copy = c
        .find(Locator::Css("button[data-copy]"))
        .await
        .expect("copy button");
    assert!(
        copy.is_displayed().await.expect("visible?"),
        "the script shows the copy button"
    );
    shot(c, "03-token-created").await;
    (value, user_id)
}

/// 3 and 4. Uses the token through the API, revokes it on the page, and sees the API refuse
/// both the refresh token and the access token minted from it.
async fn revoke_on_the_page(run: &Run, value: &str, user_id: i64) {
    let c = &run.c;
    let refresh = json!({"refresh_token": value, "user_id": user_id});
    let (status, access) = api(&run.base, "createAPIAccessToken", refresh.clone()).await;
    assert_eq!(status, 201, "{access}");
    let access = json!({"api_access_token": access["api_access_token"], "user_id": user_id});
    c.goto(&run.page()).await.expect("the page");
    assert!(
        !c.source().await.expect("source").contains(value),
        "shown once"
    );
    let mut revoked = false;
    for row in c
        .find_all(Locator::Css("tr[data-token-id]"))
        .await
        .expect("rows")
    {
        let name = row.find(Locator::Css("td.name")).await.expect("name");
        if name.text().await.expect("text") == "from the browser" {
            let button = row
                .find(Locator::Css("button.revoke"))
                .await
                .expect("revoke");
            button.click().await.expect("click");
            revoked = true;
            break;
        }
    }
    assert!(revoked, "the token's row");
    text_of(c, "p.done").await;
    assert!(c.source().await.expect("source").contains(">REVOKED<"));
    shot(c, "04-revoked").await;
    let (status, body) = api(&run.base, "validateRefreshToken", refresh).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (401, Some("Refresh token provided is expired or revoked."))
    );
    let (status, body) = api(&run.base, "validateAPIAccessToken", access).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (
            401,
            Some("API Access Token provided is expired or revoked.")
        )
    );
}

/// At phone width the page is still readable, without sideways scrolling.
async fn phone_width(run: &Run) {
    let c = &run.c;
    c.set_window_size(390, 844).await.expect("resize");
    c.goto(&run.page()).await.expect("the page");
    shot(c, "05-phone-width").await;
    let overflow = c
        .execute(
            "return document.documentElement.scrollWidth > window.innerWidth;",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(
        overflow,
        json!(false),
        "no sideways scrolling at phone width"
    );
    c.set_window_size(1280, 1000).await.expect("resize");
}

/// 5. Signs out, then in as the SSO user through a one-time link.
async fn sso_link(run: &Run) {
    let c = &run.c;
    click(c, "form[action='/account/auth/sign-out'] button").await;
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#username"))
        .await
        .expect("signed out");
    let printed = cli(&run.db, &["sso-link", SSO_USER, "--base-url", &run.base]);
    let link = printed.lines().next().expect("a link");
    c.goto(link).await.expect("the link");
    assert_eq!(text_of(c, "#sso-user").await, SSO_USER);
    shot(c, "06-sso-link").await;
    click(c, "form[action='/account/auth/sso'] button").await;
    assert_eq!(text_of(c, "#signed-in-as").await, SSO_USER);
    shot(c, "07-sso-signed-in").await;
}

/// The operations Swagger UI shows, by path.
async fn swagger_operations(c: &Client) -> Vec<(String, fantoccini::elements::Element)> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ops = c.find_all(Locator::Css(".opblock")).await.expect("find");
        if ops.len() >= 6 || tokio::time::Instant::now() > deadline {
            let mut found = Vec::new();
            for op in ops {
                let path = op
                    .find(Locator::Css(".opblock-summary-path"))
                    .await
                    .expect("path");
                // Swagger UI breaks long paths with zero-width spaces.
                let text = path.text().await.expect("text").replace('\u{200b}', "");
                found.push((text, op));
            }
            return found;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// 6. Turns Swagger UI on, finds the six operations, and sends one with "Try it out".
async fn swagger_ui(run: &Run) {
    let c = &run.c;
    cli(
        &run.db,
        &["conf", ".feature_flags.enable_swagger", "-s", "true"],
    );
    c.goto(&format!("{}/openapi/api_authentication/ui/", run.base))
        .await
        .expect("swagger");
    let ops = swagger_operations(c).await;
    let mut paths: Vec<&str> = ops.iter().map(|(p, _)| p.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "/integration/v1/createAPIAccessToken/",
            "/integration/v1/createRefreshToken/",
            "/integration/v1/regenRefreshToken/",
            "/integration/v1/revokeAPIAccessTokens/",
            "/integration/v1/validateAPIAccessToken/",
            "/integration/v1/validateRefreshToken/",
        ]
    );
    scroll_to(c, ".opblock-tag-section").await;
    shot(c, "08-swagger-ui").await;
    // The example body names an unknown token: this server answers 401 in the Error shape.
    let (_, op) = ops
        .iter()
        .find(|(p, _)| p == "/integration/v1/validateRefreshToken/")
        .expect("validateRefreshToken");
    op.find(Locator::Css(".opblock-summary"))
        .await
        .expect("summary")
        .click()
        .await
        .expect("open");
    for button in [".try-out__btn", "button.execute"] {
        let b = c
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(button))
            .await
            .expect(button);
        b.click().await.expect(button);
    }
    let status = text_of(c, ".live-responses-table tbody .response-col_status").await;
    assert!(
        status.trim().starts_with("401"),
        "Try it out reached this server: {status}"
    );
    let answer = text_of(c, ".live-responses-table tbody .microlight").await;
    assert!(
        answer.contains("Refresh token provided is invalid."),
        "{answer}"
    );
    scroll_to(c, ".live-responses-table").await;
    shot(c, "09-swagger-try-it-out").await;
}

async fn scroll_to(c: &Client, css: &str) {
    c.execute(
        &format!("document.querySelector('{css}').scrollIntoView();"),
        vec![],
    )
    .await
    .expect("scroll");
}
