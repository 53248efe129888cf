//! The command examples of README.md and cases/README.md (their `console` blocks), and the
//! golden transcripts of `tests/cmd/` (usage and profile errors, case files that do not load,
//! `list` and `lint`, with their hints and exit codes), run as written with trycmd, so neither
//! the documentation nor the messages drift unseen. Every block runs from the repository root;
//! `[..]` and `...` stand for what differs between machines.

#[test]
fn documented_commands_print_what_the_documents_say() {
    trycmd::TestCases::new()
        .register_bin(
            "token-conformance",
            std::path::Path::new(env!("CARGO_BIN_EXE_token-conformance")),
        )
        .env("NO_COLOR", "1")
        // An empty variable counts as unset: the transcripts do not depend on the caller's
        // credentials.
        .env("TOKEN_CONFORMANCE_USERNAME", "")
        .env("TOKEN_CONFORMANCE_PASSWORD", "")
        .env("TOKEN_CONFORMANCE_OTHER_PASSWORD", "")
        .case("README.md")
        .case("cases/README.md")
        .case("tests/cmd/*.md");
}

/// The example case of cases/README.md, copied as its reader would (into a cases directory, at
/// the path its id names), loads cleanly: `lint` exits 0 on it.
#[test]
fn the_cases_readme_example_lints_when_copied() {
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cases/README.md"),
    )
    .unwrap();
    let start = readme.find("```yaml\n").expect("an example case") + "```yaml\n".len();
    let example = &readme[start..];
    let example = &example[..example.find("```").unwrap()];
    let id = example
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap();
    let (area, name) = id.split_once('.').unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("my-cases").join(area);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.yaml")), example).unwrap();
    let o = crate::common::command(tmp.path())
        .args(["lint", "--cases", "my-cases", "--no-generated"])
        .output()
        .unwrap();
    let out = crate::common::text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("1 cases load cleanly"), "{out}");
}
