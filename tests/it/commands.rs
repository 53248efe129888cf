//! What a new user and a packager meet first: the shell completions and the man page made from
//! the binary, `list`'s columns, and the help of `--rate`.

#![allow(clippy::unwrap_used)]

use std::process::Output;

use crate::common::{command, text};

fn bin(args: &[&str]) -> Output {
    command(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(0), "{}", text(o));
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn completions_name_the_commands_and_their_flags() {
    let bash = stdout(&bin(&["completions", "bash"]));
    assert!(bash.contains("token-conformance"), "{bash}");
    for word in [" run ", "--target", "--profile", "verify", "completions"] {
        assert!(bash.contains(word), "bash completions lack `{word}`");
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let script = stdout(&bin(&["completions", shell]));
        assert!(script.contains("target"), "{shell}: {script}");
    }
    let o = bin(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn the_man_page_is_roff_with_every_command() {
    let page = stdout(&bin(&["man"]));
    // clap_mangen opens with two lines that define the apostrophe string for groff and other
    // troffs (`.ie \n(.g ...`, `.el ...`); the page itself starts at its title.
    let first = page
        .lines()
        .find(|l| !l.starts_with(".ie ") && !l.starts_with(".el "))
        .unwrap();
    assert!(first.starts_with(".TH token-conformance 1"), "{page}");
    assert!(page.contains(".SH NAME"), "{page}");
    for command in [
        "run",
        "proxy",
        "lint",
        "verify",
        "serve",
        "completions",
        "man",
    ] {
        assert!(
            page.contains(&format!("token\\-conformance\\-{command}(1)"))
                || page.contains(&format!("\n{command}\n"))
                || page.contains(&format!("{command}\\fR")),
            "{command} missing from the man page: {page}"
        );
    }
}

/// Generated ids are longer than 48 characters (the old fixed width): every line's `tags:`
/// and `needs:` still start in the same column.
#[test]
fn list_columns_line_up_for_long_ids() {
    let listing = stdout(&bin(&["list"]));
    let lines: Vec<&str> = listing.lines().filter(|l| l.contains(" tags: ")).collect();
    assert!(
        lines
            .iter()
            .any(|l| l.split(' ').next().unwrap().len() > 48),
        "no long id to test with: {listing}"
    );
    for column in [" tags: ", " needs: "] {
        let at: std::collections::BTreeSet<usize> =
            lines.iter().map(|l| l.find(column).unwrap()).collect();
        assert_eq!(at.len(), 1, "`{column}` starts at {at:?}");
    }
}

#[test]
fn rate_0_is_documented_as_no_limit() {
    let help = stdout(&bin(&["run", "--help"]));
    let rate = &help[help.find("--rate <N>").unwrap()..];
    let rate = &rate[..rate.find("\n  -").unwrap_or(rate.len())];
    assert!(rate.contains("0 (or none given)"), "{rate}");
    assert!(rate.contains("without a limit"), "{rate}");
}

#[test]
fn man_out_writes_a_page_per_command() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("man1");
    let o = bin(&["man", "--out", dir.to_str().unwrap()]);
    let listed = stdout(&o);
    for page in [
        "token-conformance.1",
        "token-conformance-run.1",
        "token-conformance-verify.1",
        "token-conformance-completions.1",
    ] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        assert!(text.contains(".TH "), "{page}: {text}");
        assert!(listed.contains(page), "{listed}");
    }
    let run = std::fs::read_to_string(dir.join("token-conformance-run.1")).unwrap();
    assert!(run.contains("target"), "{run}");
}

/// The README's install commands: `--locked` (the dependency versions the tests passed with,
/// which `cargo install` ignores without it), and both binaries, since the README and the token
/// page tell users to run `reference-server sso-link`.
#[test]
fn the_readme_installs_both_binaries_locked() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let installs: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("cargo install ") && l.contains("--path"))
        .collect();
    assert!(!installs.is_empty(), "no install command in the README");
    let mut packages = std::collections::BTreeSet::new();
    for line in &installs {
        assert!(line.contains(" --locked "), "{line}");
        let words: Vec<&str> = line.split_whitespace().collect();
        let path = words[words.iter().position(|w| *w == "--path").unwrap() + 1];
        let manifest = std::fs::read_to_string(root.join(path).join("Cargo.toml")).unwrap();
        let name = manifest
            .lines()
            .skip_while(|l| l.trim() != "[package]")
            .find_map(|l| l.strip_prefix("name = "))
            .unwrap()
            .trim_matches('"')
            .to_owned();
        packages.insert(name);
    }
    assert_eq!(
        packages.into_iter().collect::<Vec<_>>(),
        ["reference-server", "token-conformance"],
        "{installs:?}"
    );
    assert!(readme.contains("reference-server sso-link"));
}
