//! The command examples of README.md and cases/README.md (their `console` blocks), run as
//! written with trycmd, so the documentation cannot drift from the binary. Each block runs in
//! its file's directory; `[..]` and `...` stand for what differs between machines.

#[test]
fn documented_commands_print_what_the_documents_say() {
    trycmd::TestCases::new()
        .register_bin(
            "token-conformance",
            std::path::Path::new(env!("CARGO_BIN_EXE_token-conformance")),
        )
        .env("NO_COLOR", "1")
        .case("README.md")
        .case("cases/README.md");
}
