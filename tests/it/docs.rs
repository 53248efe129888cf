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
