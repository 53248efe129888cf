//! The target's tests: merging, resolution, and every refusal.

use std::io::Write as _;
use std::path::Path;

use super::capability::*;
use super::resolve::*;
use super::settings::*;
use crate::duration::Span;
use crate::error::ErrorKind;
use clap::Args as _;

fn profile(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("tmp");
    f.write_all(text.as_bytes()).expect("write");
    f
}

#[test]
fn flags_beat_env_beat_file() {
    let f = profile(
        "base_url: https://staging.example.com/\nusername: file@example.com\npassword_env: MY_PW\naccess_token_lifespan_hours: 2\ntolerance: 2s\n",
    );
    let env = |k: &str| match k {
        "MY_PW" => Some("from-env".to_owned()),
        ENV_USERNAME => Some("env@example.com".to_owned()),
        _ => None,
    };
    let t = Target::resolve(Some(f.path()), &Settings::default(), env).expect("ok");
    assert_eq!(t.base_url, "https://staging.example.com");
    assert_eq!(t.username, "env@example.com");
    assert_eq!(t.password.expose(), "from-env");
    assert_eq!(format!("{:?}", t.password), "<redacted>");
    assert_eq!(t.access_lifespan, Span::from_secs(7200));
    assert_eq!(t.refresh_lifespan, Span::from_secs(60 * 86_400));
    assert_eq!(t.tolerance, Span::from_secs(2));
    let o = Settings {
        username: Some("flag@example.com".into()),
        ..Settings::default()
    };
    let t = Target::resolve(Some(f.path()), &o, env).expect("ok");
    assert_eq!(t.username, "flag@example.com");
}

#[test]
fn every_setting_merges_the_same_way() {
    let f = profile(
        "base_url: http://localhost\nusername: u\ncontrol_url: http://localhost/c\ncapabilities: [clock]\ntls: {insecure: true}\n",
    );
    let flags = Settings {
        password: Some(Secret::new("pw")),
        tls: Tls {
            ca_file: Some("ca.pem".into()),
            insecure: false,
        },
        ..Settings::default()
    };
    let t = Target::resolve(Some(f.path()), &flags, |_| None).expect("ok");
    assert!(
        t.tls.insecure,
        "the file's switch survives a flag layer without it"
    );
    assert_eq!(t.tls.ca_file.as_deref(), Some(Path::new("ca.pem")));
    assert_eq!(
        t.capabilities.len(),
        1,
        "an empty flag list keeps the file's"
    );
    let flags = Settings {
        capabilities: vec![Capability::Users, Capability::Lifespans],
        ..flags
    };
    let t = Target::resolve(Some(f.path()), &flags, |_| None).expect("ok");
    assert!(
        !t.capabilities.contains(&Capability::Clock),
        "flags replace the list"
    );
}

#[test]
fn plain_http_to_another_host_is_refused_unless_allowed() {
    let at = |url: &str, allow: bool| {
        let s = Settings {
            base_url: Some(url.into()),
            username: Some("u".into()),
            password: Some(Secret::new("p")),
            allow_plain_http: allow,
            ..Settings::default()
        };
        Target::resolve(None, &s, |_| None)
    };
    for ok in [
        "http://localhost:8080",
        "http://127.0.0.1",
        "http://127.9.8.7:1/x",
        "http://[::1]:8080",
        "https://staging.example.com",
        "http://user@LOCALHOST/",
    ] {
        assert!(at(ok, false).is_ok(), "{ok}");
    }
    for refused in [
        "http://staging.example.com",
        "http://10.0.0.1:8080",
        "http://localhost.example.com",
        "http://127.0.0.1.nip.io",
        "http://[::2]",
    ] {
        let e = at(refused, false).expect_err(refused);
        assert!(e.message.contains("clear text"), "{e}");
        assert!(
            at(refused, true).is_ok(),
            "{refused} with --allow-plain-http"
        );
    }
}

#[test]
fn headers_read_the_environment_and_add_up() {
    let f = profile("base_url: https://x\nusername: u\nheaders: ['X-Api-Key: ${GATEWAY_KEY}']\n");
    let flags = Settings {
        password: Some(Secret::new("p")),
        headers: vec!["X-Trace: run-${RUN}-a".into()],
        ..Settings::default()
    };
    let env = |k: &str| match k {
        "GATEWAY_KEY" => Some("k-123".to_owned()),
        "RUN" => Some("7".to_owned()),
        _ => None,
    };
    let t = Target::resolve(Some(f.path()), &flags, env).expect("ok");
    let got: Vec<(&str, &str)> = t
        .headers
        .iter()
        .map(|h| (h.name.as_str(), h.expose()))
        .collect();
    assert_eq!(got, [("x-api-key", "k-123"), ("x-trace", "run-7-a")]);
    assert!(t.headers.iter().all(|h| h.value.is_sensitive()));
    let e = Target::resolve(Some(f.path()), &flags, |_| None).expect_err("unset");
    assert!(
        e.message.contains("${GATEWAY_KEY}, which is not set"),
        "{e}"
    );
    for (spec, why) in [
        ("no colon", "has no `:`"),
        ("X Y: 1", "has no valid header name"),
        ("X-Y: a\u{7f}b", "has a control character"),
        ("X-Y: a\rb", "has a control character"),
    ] {
        let bad = Settings {
            headers: vec![spec.into()],
            ..flags.clone()
        };
        let e = Target::resolve(Some(f.path()), &bad, env).expect_err(spec);
        assert!(e.message.contains(why), "{spec}: {e}");
    }
    // A value beyond ASCII is sent as its UTF-8 bytes, by `run` and `proxy` alike.
    let utf8 = Settings {
        headers: vec!["X-Name: Zoë".into()],
        ..flags
    };
    let t = Target::resolve(Some(f.path()), &utf8, env).expect("ok");
    let last = t
        .headers
        .last()
        .expect("the flag's header, after the file's");
    assert_eq!(last.expose(), "Zoë");
}

#[test]
fn a_tolerance_under_a_second_is_refused_and_a_second_is_the_default() {
    let at = |t: &str| {
        let f = profile(&format!("base_url: http://localhost\nusername: u\n{t}"));
        Target::resolve(Some(f.path()), &Settings::default(), |_| Some("pw".into()))
    };
    assert_eq!(at("").expect("default").tolerance, Span::from_secs(1));
    assert_eq!(
        at("tolerance: 1s\n").expect("1s").tolerance,
        Span::from_secs(1)
    );
    let e = at("tolerance: 500ms\n").expect_err("500ms");
    assert!(e.message.contains("tolerance 500ms is less than 1s"), "{e}");
    assert_eq!(e.exit(), crate::error::Exit::Error);
}

#[test]
fn a_password_in_the_file_is_refused() {
    let f = profile("base_url: http://x\nusername: u\npassword: hunter2\n");
    let e = Target::resolve(Some(f.path()), &Settings::default(), |_| None).expect_err("no");
    assert_eq!(e.kind, ErrorKind::Profile);
    assert!(e.hint.expect("hint").contains("password_env"));
}

#[test]
fn typos_and_bad_urls_are_profile_errors() {
    let f = profile("base_ulr: http://x\n");
    let e = Target::resolve(Some(f.path()), &Settings::default(), |_| None).expect_err("typo");
    assert_eq!(e.hint.as_deref(), Some("did you mean `base_url`?"));
    let o = Settings {
        base_url: Some("ftp://x".into()),
        ..Settings::default()
    };
    let e = Target::resolve(None, &o, |_| None).expect_err("url");
    assert!(e.message.contains("not an http"), "{e}");
}

#[test]
fn the_declared_defaults_are_the_bottom_layer() {
    let d = Settings::defaults();
    assert_eq!(d.timeout, Some(Span::from_secs(10)));
    assert_eq!(d.tolerance, Some(MIN_TOLERANCE));
    assert_eq!(d.max_response_bytes, Some(1024 * 1024));
    let s = Settings {
        base_url: Some("https://x".into()),
        username: Some("u".into()),
        password: Some(Secret::new("p")),
        ..Settings::default()
    };
    let t = Target::resolve(None, &s, |_| None).expect("ok");
    assert_eq!(t.timeout, Span::from_secs(10));
    assert_eq!(t.max_response_bytes, 1024 * 1024);
    assert_eq!(t.refresh_lifespan, Span::from_secs(60 * 86_400));
    assert_eq!(t.access_lifespan, Span::from_secs(24 * 3_600));
    assert!(t.lifespans_defaulted());
    let f = profile("timeout: 3s\n");
    let t = Target::resolve(Some(f.path()), &s, |_| None).expect("ok");
    assert_eq!(
        t.timeout,
        Span::from_secs(3),
        "a profile's value beats a default"
    );
}

#[test]
fn the_help_shows_each_declared_default_and_variable() {
    let cmd = Settings::document(Settings::augment_args(clap::Command::new("run")));
    let help = |id: &str| {
        cmd.get_arguments()
            .find(|a| a.get_id() == id)
            .and_then(|a| a.get_help())
            .map(ToString::to_string)
            .unwrap_or_default()
    };
    assert!(
        help("timeout").ends_with("[default: 10s]"),
        "{}",
        help("timeout")
    );
    assert!(help("tolerance").ends_with("[default: 1s]"));
    assert!(help("password").ends_with("[env: TOKEN_CONFORMANCE_PASSWORD]"));
    assert!(!help("control_url").contains("[default"));
}
