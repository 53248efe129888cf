//! The signed result bundle, end to end through the binary: `keygen`, `run --bundle --sign-key
//! --badge` against the embedded reference server, and `verify`, which must accept the bundle as
//! written and refuse every change to it (one byte of each file in turn, a file added, each file
//! removed, no signature) with a message that names the file, and the right exit
//! code: 0 when everything matches, 1 when anything was changed, 2 when it is malformed; and
//! another key is named as such, not as a change.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{command, text};
use token_conformance::bundle::files_under;

fn run_in(dir: &Path, args: &[&str]) -> Output {
    command(dir).args(args).output().unwrap()
}

/// A key pair and a signed bundle of a short run (a few cases, so the test stays quick).
fn signed_bundle(dir: &Path) -> (PathBuf, PathBuf) {
    let o = run_in(dir, &["keygen", "--out", "keys"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let cases = dir.join("cases");
    std::fs::create_dir_all(cases.join("more")).unwrap();
    std::fs::write(
        cases.join("more/create.yaml"),
        "id: more.create\ntitle: create\nrequirement: r\nsource: vendor-page\nsteps:\n  - call: createRefreshToken\n    \
         body: {username: '{{ profile.username }}', password: '{{ profile.password }}', name: n}\n    \
         expect: {status: 201}\n",
    )
    .unwrap();
    let o = run_in(
        dir,
        &[
            "run",
            "--cases",
            "cases",
            "--no-generated",
            "--bundle",
            "bundle",
            "--sign-key",
            "keys/conformance.key",
            "--badge",
            "badge.svg",
        ],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("signed by key"), "{out}");
    (dir.join("bundle"), dir.join("keys/conformance.pub"))
}

fn verify(dir: &Path, bundle: &Path, key: &Path) -> (Option<i32>, String) {
    let o = run_in(
        dir,
        &[
            "verify",
            bundle.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
    );
    (o.status.code(), text(&o))
}

#[test]
fn a_signed_bundle_verifies_and_says_what_it_attests() {
    let tmp = tempfile::tempdir().unwrap();
    let (bundle, key) = signed_bundle(tmp.path());
    let files = files_under(&bundle).unwrap();
    for want in [
        "manifest.json",
        "manifest.sig",
        "report.json",
        "report.junit.xml",
        "report.md",
        "badge.svg",
        "contract/token-auth.openapi.yaml",
        "cases/more/create.yaml",
        "snapshots/more.create.snap",
    ] {
        assert!(files.iter().any(|f| f == want), "{want} in {files:?}");
    }
    let (code, out) = verify(tmp.path(), &bundle, &key);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("verdict:  conforms (1/1 MUST cases passed"),
        "{out}"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["format"], "token-conformance-bundle/1");
    assert_eq!(manifest["cases"]["source"], "directory");
    assert_eq!(manifest["cases"]["files"], 1);
    assert_eq!(manifest["verdict"]["exit_code"], 0);
    assert!(manifest["shaping"]["access_lifespan"].is_string());
    // The manifest follows its published schema.
    let errors = common::schema_errors("bundle-manifest.schema.json", &manifest);
    assert!(errors.is_empty(), "{errors:#?}");
    // No token value in any file of the bundle: every one the run saw is replaced by a
    // placeholder. (The contract carries example values, the manifest hex digests.)
    let long_run = regex::Regex::new(r"[A-Za-z0-9_-]{40,}").unwrap();
    let report = std::fs::read_to_string(bundle.join("report.json")).unwrap();
    assert!(
        report.contains("<redacted>"),
        "values are redacted in report.json"
    );
    for f in files
        .iter()
        .filter(|f| !f.starts_with("contract/") && f.as_str() != "manifest.json")
    {
        let bytes = std::fs::read(bundle.join(f)).unwrap();
        let body = String::from_utf8_lossy(&bytes);
        assert!(
            long_run.find(&body).is_none(),
            "a token-like value in {f}: {:?}",
            long_run.find(&body)
        );
    }
    // The badge beside it is the one in the bundle, well-formed and with the counts.
    let badge = std::fs::read_to_string(tmp.path().join("badge.svg")).unwrap();
    assert!(badge.contains("1/1 MUST"), "{badge}");
    let mut reader = quick_xml::Reader::from_str(&badge);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("badge.svg is not well-formed XML: {e}"),
        }
    }
}

#[test]
fn every_change_to_a_bundle_fails_verification_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (bundle, key) = signed_bundle(tmp.path());
    let files = files_under(&bundle).unwrap();
    assert_eq!(files.len(), 9, "{files:?}");
    for f in &files {
        let path = bundle.join(f);
        let original = std::fs::read(&path).unwrap();
        // One byte changed, in the middle of the file.
        let mut changed = original.clone();
        let i = changed.len() / 2;
        changed[i] ^= 0x01;
        std::fs::write(&path, &changed).unwrap();
        let (code, out) = verify(tmp.path(), &bundle, &key);
        assert_eq!(code, Some(1), "one byte of {f} changed: {out}");
        assert!(out.contains(f.as_str()), "one byte of {f} changed: {out}");
        // Removed.
        std::fs::remove_file(&path).unwrap();
        let (code, out) = verify(tmp.path(), &bundle, &key);
        let want = if f == "manifest.json" { 2 } else { 1 };
        assert_eq!(code, Some(want), "{f} removed: {out}");
        assert!(out.contains(f.as_str()), "{f} removed: {out}");
        std::fs::write(&path, &original).unwrap();
    }
    let (code, out) = verify(tmp.path(), &bundle, &key);
    assert_eq!(code, Some(0), "restored: {out}");
    // A file added, at the top and deeper down.
    for added in ["extra.txt", "snapshots/extra.snap"] {
        std::fs::write(bundle.join(added), "added").unwrap();
        let (code, out) = verify(tmp.path(), &bundle, &key);
        assert_eq!(code, Some(1), "{added} added: {out}");
        assert!(
            out.contains(added) && out.contains("not in the manifest"),
            "{out}"
        );
        std::fs::remove_file(bundle.join(added)).unwrap();
    }
}

/// A customer holding an old (or another vendor's) public key is told which key signed the
/// bundle and which one they gave, with exit 1 and no word of tampering; a bundle changed and
/// re-labelled with the given key's fingerprint is still called changed.
#[test]
fn another_key_is_named_and_not_called_tampering() {
    use token_conformance::bundle::keys;
    let tmp = tempfile::tempdir().unwrap();
    let (bundle, key) = signed_bundle(tmp.path());
    let o = run_in(tmp.path(), &["keygen", "--out", "other"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let other = tmp.path().join("other/conformance.pub");
    let signer = keys::fingerprint(&keys::read_public(&key).unwrap());
    let given = keys::fingerprint(&keys::read_public(&other).unwrap());
    let (code, out) = verify(tmp.path(), &bundle, &other);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "signed by key {signer}; the key you gave is {given}"
        )),
        "{out}"
    );
    for word in ["changed", "tamper", "trusted"] {
        assert!(!out.contains(word), "{word}: {out}");
    }
    // The manifest edited to name the given key: the signature still fails under it, and that
    // is a change after signing.
    let path = bundle.join("manifest.json");
    let manifest = std::fs::read_to_string(&path).unwrap();
    assert!(manifest.contains(&signer), "{manifest}");
    std::fs::write(&path, manifest.replace(&signer, &given)).unwrap();
    let (code, out) = verify(tmp.path(), &bundle, &other);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("manifest.sig") && out.contains("changed after it was signed"),
        "{out}"
    );
}

#[test]
fn malformed_bundles_and_keys_exit_2_and_unsigned_ones_1() {
    let tmp = tempfile::tempdir().unwrap();
    let (bundle, key) = signed_bundle(tmp.path());
    // A key that is not a public key.
    let (code, out) = verify(
        tmp.path(),
        &bundle,
        &tmp.path().join("keys/conformance.key"),
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("conformance.key"), "{out}");
    // Not a bundle at all.
    let (code, out) = verify(tmp.path(), &tmp.path().join("keys"), &key);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("manifest.json"), "{out}");
    // Signed by the right key, but not a manifest: malformed, not changed.
    let signing =
        token_conformance::bundle::keys::read_private(&tmp.path().join("keys/conformance.key"))
            .unwrap();
    use ed25519_dalek::Signer as _;
    let forged = tmp.path().join("forged");
    std::fs::create_dir(&forged).unwrap();
    std::fs::write(forged.join("manifest.json"), b"not json").unwrap();
    std::fs::write(
        forged.join("manifest.sig"),
        signing.sign(b"not json").to_bytes(),
    )
    .unwrap();
    let (code, out) = verify(tmp.path(), &forged, &key);
    assert_eq!(code, Some(2), "{out}");
    // A manifest that lists a path outside the bundle is refused before anything is read.
    let escaping =
        br#"{"format": "token-conformance-bundle/1", "files": {"../keys/conformance.pub": "00"}}"#;
    std::fs::write(forged.join("manifest.json"), escaping).unwrap();
    std::fs::write(
        forged.join("manifest.sig"),
        signing.sign(escaping).to_bytes(),
    )
    .unwrap();
    let (code, out) = verify(tmp.path(), &forged, &key);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("../keys/conformance.pub"), "{out}");
}

#[test]
fn unsigned_bundles_fail_verification_and_unwritable_ones_fail_the_run_early() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, key) = signed_bundle(tmp.path());
    // An unsigned bundle: written, and then refused by verify for its missing signature.
    let o = run_in(
        tmp.path(),
        &[
            "run",
            "--cases",
            "cases",
            "--no-generated",
            "--bundle",
            "unsigned",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("not signed"), "{}", text(&o));
    let (code, out) = verify(tmp.path(), &tmp.path().join("unsigned"), &key);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("manifest.sig"), "{out}");
    // A bundle never goes into a directory that holds something.
    let o = run_in(
        tmp.path(),
        &[
            "run",
            "--cases",
            "cases",
            "--no-generated",
            "--bundle",
            "keys",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("not empty"), "{}", text(&o));
    // A signing key that cannot be read fails before the run, not after it.
    let o = run_in(
        tmp.path(),
        &[
            "run",
            "--cases",
            "cases",
            "--no-generated",
            "--bundle",
            "b2",
            "--sign-key",
            "absent.key",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("absent.key"), "{}", text(&o));
    assert!(!text(&o).contains("PASS"), "no case ran: {}", text(&o));
    assert!(!tmp.path().join("b2").exists());
}

#[test]
fn a_failing_run_is_bundled_as_failing_with_a_red_badge_and_still_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let o = run_in(dir, &["keygen", "--out", "keys"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The reference server answers a good login 201; this case wants 400, so it fails.
    let cases = dir.join("cases/more");
    std::fs::create_dir_all(&cases).unwrap();
    std::fs::write(
        cases.join("create.yaml"),
        "id: more.create\ntitle: create\nrequirement: r\nsource: vendor-page\nsteps:\n  - call: createRefreshToken\n    \
         body: {username: '{{ profile.username }}', password: '{{ profile.password }}', name: n}\n    \
         expect: {status: 400}\n",
    )
    .unwrap();
    let o = run_in(
        dir,
        &[
            "run",
            "--cases",
            "cases",
            "--no-generated",
            "--bundle",
            "bundle",
            "--sign-key",
            "keys/conformance.key",
            "--badge",
            "badge.svg",
        ],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let bundle = dir.join("bundle");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["verdict"]["conforms"], false, "{manifest:#}");
    assert_eq!(manifest["verdict"]["exit_code"], 1, "{manifest:#}");
    let errors = common::schema_errors("bundle-manifest.schema.json", &manifest);
    assert!(errors.is_empty(), "{errors:#?}");
    // Red, with the count, beside the bundle and in it alike.
    let badge = std::fs::read_to_string(dir.join("badge.svg")).unwrap();
    assert!(badge.contains("fill=\"#e05d44\""), "{badge}");
    assert!(badge.contains("0/1 MUST · 1 case failed"), "{badge}");
    assert!(
        !badge.contains("#4c1"),
        "no green in a failing badge: {badge}"
    );
    assert_eq!(
        std::fs::read_to_string(bundle.join("badge.svg")).unwrap(),
        badge
    );
    // An honest record of a failure is still authentic: verify checks the signature, not
    // the verdict, and says what the verdict was.
    let (code, out) = verify(dir, &bundle, &dir.join("keys/conformance.pub"));
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("verdict:  does not conform"), "{out}");
}
