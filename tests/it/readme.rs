//! The README's journeys, run as written: the curl lifecycle against a fresh server, the server
//! commands through the installed binary, and a password reset by a later start.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common;

use common::{BIN, KillOnDrop, text};

const README: &str = include_str!("../../README.md");

/// Starts `token-conformance serve` on a free port with one password user; its base URL.
fn serve(db: &Path, user: &str) -> (KillOnDrop, String) {
    let mut server = KillOnDrop(
        Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--user", user, "--db"])
            .arg(db)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(server.0.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("reference server listening on ")
        .unwrap_or_else(|| panic!("the server did not print its address: {first}"))
        .to_owned();
    (server, url)
}

/// Whether `tool` runs here. A missing tool skips the test, unless CI requires every tool.
fn have(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("TOKEN_CONFORMANCE_REQUIRE_TOOLS").is_none(),
            "{tool} is required here (TOKEN_CONFORMANCE_REQUIRE_TOOLS) but does not run"
        );
        eprintln!("SKIPPED: {tool} is not installed");
    }
    found
}

/// The shell block that follows `marker` in the README.
fn block_after(marker: &str) -> &'static str {
    let from = README
        .find(marker)
        .unwrap_or_else(|| panic!("README.md has no {marker:?}"));
    let rest = &README[from..];
    let start = rest.find("```sh\n").unwrap() + "```sh\n".len();
    let len = rest[start..].find("```").unwrap();
    &rest[start..start + len]
}

#[test]
fn the_curl_lifecycle_runs_as_written() {
    if !have("curl") || !have("jq") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = serve(&dir.path().join("s.db"), "me@example.com:a long password");
    let block = block_after("<!-- lifecycle");
    let api_line = "API=http://127.0.0.1:8080/integration/v1\n";
    assert!(block.contains(api_line), "the block sets API: {block}");
    let script = format!(
        "set -euo pipefail\n{}\necho \"new=$REFRESH\"\n\
         curl -sS --fail-with-body -X POST \"$API/validateRefreshToken/\" \
         -d refresh_token=\"$REFRESH\" -d user_id=\"$USER_ID\"\n",
        block.replace(api_line, &format!("API={url}/integration/v1\n"))
    );
    let o = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let out = text(&o);
    assert!(o.status.success(), "the README's lifecycle failed:\n{out}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    // Validations of the refresh token, the access token and the regenerated token.
    assert_eq!(
        stdout.matches("\"token_status\":\"ACTIVE\"").count(),
        3,
        "{stdout}"
    );
    assert!(stdout.lines().any(|l| l == "401"), "{stdout}");
    assert!(stdout.contains("{\"detail\":"), "{stdout}");
    let new = stdout.lines().find_map(|l| l.strip_prefix("new=")).unwrap();
    assert!(new.len() >= 43 && new != "null", "regenerated: {new:?}");
}

#[test]
fn the_server_commands_work_from_the_installed_binary() {
    let dir = tempfile::tempdir().unwrap();
    // As the README has it: a server runs on the database the commands name.
    let _server = serve(
        &dir.path().join("token-auth.db"),
        "me@example.com:a long password",
    );
    // Every setting the README shows, in prose or in a block.
    let conf = regex::Regex::new(r"conf (\.[a-z_.]+) -s (\S+) --db token-auth\.db").unwrap();
    let commands: Vec<&str> = conf.find_iter(README).map(|m| m.as_str()).collect();
    assert!(commands.len() >= 2, "README shows conf commands");
    for command in commands {
        let args: Vec<&str> = command.split_whitespace().collect();
        let o = common::command(dir.path())
            .arg("serve")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{command}: {}", text(&o));
        // And the value reads back.
        let key = args[1];
        let o = common::command(dir.path())
            .args(["serve", "conf", key, "--db", "token-auth.db"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let value = args[args.iter().position(|a| *a == "-s").unwrap() + 1];
        assert!(text(&o).contains(value), "{key}: {}", text(&o));
    }
    let o = common::command(dir.path())
        .args(["serve", "purge", "--db", "token-auth.db"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// A login's status, through the API.
fn login(url: &str, user: &str, password: &str) -> u16 {
    let body = format!(
        "username={user}&password={}&name=readme",
        password.replace(' ', "+")
    );
    let o = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"])
        .arg(format!("{url}/integration/v1/createRefreshToken/"))
        .args(["--data", &body])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).parse().unwrap()
}

#[test]
fn a_later_start_with_another_password_resets_it() {
    if !have("curl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let (server, url) = serve(&db, "me@example.com:first password");
    assert_eq!(login(&url, "me@example.com", "first password"), 201);
    drop(server);
    let (_server, url) = serve(&db, "me@example.com:second password");
    assert_eq!(login(&url, "me@example.com", "second password"), 201);
    assert_eq!(login(&url, "me@example.com", "first password"), 401);
}
