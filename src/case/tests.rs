//! The loader's tests.

use std::path::Path;

use serde_json::Value;

use super::load::*;
use super::model::*;
use super::parse::*;
use crate::encoding::Encoding;
use crate::error::{Error, ErrorKind};
use crate::spec::Spec;
use crate::spec::{BUNDLED_SPEC, BUNDLED_SPEC_NAME};
use crate::target::{Capability, Need};

fn spec() -> Spec {
    Spec::parse(BUNDLED_SPEC, Path::new(BUNDLED_SPEC_NAME)).expect("spec")
}

const GOOD: &str = "\
id: refresh.create
title: Create
tags: [smoke]
requirement: createRefreshToken answers 201
source: vendor-page
steps:
  - call: createRefreshToken
    encoding: form
    body:
      username: '{{ profile.username }}'
      password: '{{ profile.password }}'
      name: '{{ run.unique }}'
    expect:
      status: 201
      body:
        token_status: {equals: ACTIVE}
        last_used_at: {equals: null}
    capture:
      refresh: body.refresh_token
  - advance_clock: 25h
  - call: validateRefreshToken
    body: {refresh_token: '{{ refresh }}', user_id: 1}
    expect:
      one_of:
        - status: 401
        - status: 200
          body:
            token_status: {one_of: [EXPIRED, REVOKED]}
            refresh_token: {same_as: refresh}
";

/// A case author's slips are the case's errors, found at load time with the line and a
/// suggestion, never a run's failure of the target.
#[test]
fn template_capture_and_matcher_slips_are_case_errors() {
    let cases = [
        (
            GOOD.replace(
                "refresh_token: '{{ refresh }}'",
                "refresh_token: '{{ refesh }}'",
            ),
            "`{{ refesh }}` names nothing",
            Some("did you mean `refresh`?"),
        ),
        (
            GOOD.replace("refresh: body.refresh_token", "refresh: body.refresh_tokn"),
            "capture `refresh` reads `body.refresh_tokn`: the answer declares no field `refresh_tokn`",
            Some("did you mean `refresh_token`?"),
        ),
        (
            GOOD.replace(
                "token_status: {equals: ACTIVE}",
                "token_stauts: {equals: ACTIVE}",
            ),
            "the matcher `token_stauts`: the answer declares no field `token_stauts`",
            Some("did you mean `token_status`?"),
        ),
        (
            GOOD.replace("'{{ run.unique }}'", "'{{ refresh }}'"),
            "`{{ refresh }}` names nothing: no earlier step captures `refresh`",
            None,
        ),
        (
            GOOD.replace("'{{ run.unique }}'", "'{{ run.unique | shout }}'"),
            "no filter `shout`",
            None,
        ),
    ];
    for (text, message, hint) in cases {
        let e = parse(&text, Path::new("slip.yaml"), &spec()).expect_err(message);
        assert!(e.to_string().contains(message), "{e}");
        assert!(e.place.as_ref().is_some_and(|p| p.line.is_some()), "{e}");
        if let Some(h) = hint {
            assert_eq!(e.hint.as_deref(), Some(h), "{e}");
        }
    }
    // An error's `detail`, misspelt: the Error schema is what a refusal answers.
    let detail = GOOD.replace(
        "        - status: 401\n",
        "        - status: 401\n          body: {detial: {type: string}}\n",
    );
    let e = parse(&detail, Path::new("slip.yaml"), &spec()).expect_err("detial");
    assert_eq!(e.hint.as_deref(), Some("did you mean `detail`?"), "{e}");
}

#[test]
fn a_good_case_loads_with_its_needs() {
    let c = parse(GOOD, Path::new("good.yaml"), &spec()).expect("loads");
    assert_eq!(c.steps.len(), 3);
    assert_eq!(c.steps[1].line, 20);
    assert!(c.needs.contains(&Need::Capability(Capability::Clock)));
    assert!(c.is_exclusive());
    let Action::Call(call) = &c.steps[0].action else {
        panic!("call")
    };
    assert_eq!(call.encoding, Encoding::Form);
    assert_eq!(
        call.outcomes[0].body["last_used_at"].equals,
        Some(Value::Null)
    );
    let Action::Call(v) = &c.steps[2].action else {
        panic!("call")
    };
    assert_eq!(v.outcomes.len(), 2);
}

/// A SHOULD case needs no source; a MUST case's sources are kept, one or a list.
#[test]
fn sources_are_read_and_a_should_case_needs_none() {
    let should = GOOD.replace("source: vendor-page\n", "severity: should\n");
    assert!(parse(&should, Path::new("s.yaml"), &spec()).is_ok());
    let two = GOOD.replace(
        "source: vendor-page",
        "source: [vendor-page, client:allie-sdk, rfc9110#15.6.2]",
    );
    let c = parse(&two, Path::new("two.yaml"), &spec()).expect("loads");
    let spelled: Vec<String> = c.sources.iter().map(ToString::to_string).collect();
    assert_eq!(
        spelled,
        ["vendor-page", "client:allie-sdk", "rfc9110#15.6.2"]
    );
}

/// What each step reads is known at load, so a failed step ends its case only where a later
/// step depends on it.
#[test]
fn each_step_knows_the_captures_it_reads() {
    let c = parse(GOOD, Path::new("good.yaml"), &spec()).expect("loads");
    assert!(
        c.steps[0]
            .reads
            .iter()
            .all(|r| r.starts_with("profile.") || r.starts_with("run."))
    );
    assert!(
        c.steps[2].reads.contains("refresh"),
        "{:?}",
        c.steps[2].reads
    );
}

fn error_of(text: &str) -> Error {
    parse(text, Path::new("bad.yaml"), &spec()).expect_err("should fail")
}

#[test]
fn misspelled_keys_and_operations_get_suggestions_with_lines() {
    let e = error_of(&GOOD.replace("      status: 201", "      stauts: 201"));
    assert_eq!(e.place.as_ref().and_then(|p| p.line), Some(14), "{e}");
    assert_eq!(e.hint.as_deref(), Some("did you mean `status`?"), "{e}");

    let e = error_of(&GOOD.replace("call: createRefreshToken", "call: createRefreshTokn"));
    assert_eq!(e.place.as_ref().and_then(|p| p.line), Some(7), "{e}");
    assert_eq!(
        e.hint.as_deref(),
        Some("did you mean `createRefreshToken`?"),
        "{e}"
    );

    let e = error_of(&GOOD.replace("encoding: form", "encoding: xml"));
    assert!(e.message.contains("xml"), "{e}");
}

#[test]
fn semantic_mistakes_are_errors() {
    for (from, to, needle) in [
        (
            "      status: 201",
            "      status: 204",
            "does not document",
        ),
        (
            "same_as: refresh",
            "same_as: refesh",
            "did you mean `refresh`",
        ),
        (
            "  - advance_clock: 25h",
            "  - advance_clock: 25",
            "needs a unit",
        ),
        ("  - advance_clock: 25h", "  - {}", "does nothing"),
        (
            "title: Create\n",
            "title: Create\ntitle: Again\n",
            "duplicate",
        ),
        (
            "        token_status: {equals: ACTIVE}",
            "        token_status: {}",
            "checks nothing",
        ),
        (
            "      refresh: body.refresh_token",
            "      refresh: refresh_token",
            "body.FIELD",
        ),
        (
            "      name: '{{ run.unique }}'",
            "      nmae: '{{ run.unique }}'",
            "did you mean `name`",
        ),
        // A MUST names what it rests on; a project's own decision is no source.
        ("source: vendor-page\n", "", "names no source"),
        ("source: vendor-page", "source: decision", "is not a source"),
        (
            "source: vendor-page",
            "source: client:alie-sdk",
            "not a client",
        ),
        (
            "source: vendor-page",
            "source: [vendor-page, case]",
            "not a case's own source",
        ),
        (
            "        - status: 401\n",
            "        - status: 401\n          when: {refersh: {equals: 1}}\n",
            "names capture `refersh`",
        ),
    ] {
        assert!(GOOD.contains(from), "{from}");
        let e = error_of(&GOOD.replace(from, to));
        assert!(
            e.to_string()
                .to_lowercase()
                .contains(&needle.to_lowercase()),
            "{from}: {e}"
        );
        assert_eq!(e.kind, ErrorKind::Case);
    }
}

#[test]
fn ids_follow_file_paths() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::create_dir(dir.path().join("area")).expect("mkdir");
    let good = GOOD.replace("id: refresh.create", "id: area.create.form");
    std::fs::write(dir.path().join("area/create.form.yaml"), &good).expect("write");
    assert_eq!(load_dir(dir.path(), &spec()).expect("loads").len(), 1);
    std::fs::write(dir.path().join("area/other.yaml"), &good).expect("write");
    let errors = load_dir(dir.path(), &spec()).expect_err("id off its path");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        errors[0].hint.as_deref(),
        Some("write `id: area.other`, or rename the file after the id")
    );
    // The place is the `id:` line, wherever it stands.
    let late = format!("# a comment first\n{good}");
    std::fs::write(dir.path().join("area/other.yaml"), late).expect("write");
    let errors = load_dir(dir.path(), &spec()).expect_err("id off its path");
    assert_eq!(errors[0].place.as_ref().and_then(|p| p.line), Some(2));
}

/// The editor schema in `cases/` accepts every shipped case and refuses what the loader refuses.
#[test]
fn editor_schema_agrees_with_the_loader() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("cases/case.schema.json")).expect("schema"),
    )
    .expect("schema is JSON");
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .build(&schema)
        .expect("schema compiles");
    let cases = load_dir(&root.join("cases"), &spec()).expect("shipped cases load");
    assert!(cases.len() >= 30);
    for c in &cases {
        let text = std::fs::read_to_string(&c.file).expect("read");
        let doc: Value = crate::yaml::parse(&text, &c.file, ErrorKind::Case).expect("yaml");
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", c.file.display());
    }
    for bad in [
        GOOD.replace("      status: 201", "      stauts: 201"),
        GOOD.replace(
            "  - advance_clock: 25h",
            "  - advance_clock: 25h\n    call: validateRefreshToken",
        ),
        GOOD.replace("encoding: form", "encoding: xml"),
    ] {
        let doc: Value =
            crate::yaml::parse(&bad, Path::new("b.yaml"), ErrorKind::Case).expect("yaml");
        assert!(!validator.is_valid(&doc), "schema accepts: {bad}");
        assert!(
            parse(&bad, Path::new("b.yaml"), &spec()).is_err(),
            "loader accepts: {bad}"
        );
    }
}
