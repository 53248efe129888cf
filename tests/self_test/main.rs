//! The self-test: the whole suite, run against a catalogue of faulty implementations and of
//! faultless variants, each with its expected verdict written down.
//!
//! - A MUST fault is caught when the check it names fails (with MUST severity).
//! - A SHOULD departure is caught when the check it names warns, and nothing fails: a SHOULD
//!   departure must never turn into a MUST failure.
//! - A faultless variant (another valid form of the contract) must pass, with no warning but
//!   those it lists.
//!
//! Prints one line per entry and `faults caught: N/N`; fails on a miss, a wrong check, or a
//! flagged faultless variant.

#![allow(clippy::unwrap_used)]

mod mutant;

use std::path::Path;
use std::sync::Arc;

use futures_util::StreamExt as _;
use mutant::{Fault, Mode, Variant};
use token_conformance::case::{self, Case, Severity};
use token_conformance::check::Finding;
use token_conformance::duration::Span;
use token_conformance::run::{self, Options, RunReport};
use token_conformance::spec::Spec;
use token_conformance::target::{Secret, Settings, Target};

/// What an entry must show.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// This check fails.
    Must(&'static str),
    /// This check warns, and nothing fails.
    Warns(&'static str),
    /// Nothing fails; warnings only from these checks.
    Passes(&'static [&'static str]),
}

/// One implementation of the catalogue.
struct Entry {
    name: &'static str,
    mode: Mode,
    expect: Expect,
    /// Run without the control protocol, as most real deployments are.
    plain: bool,
}

const fn fault(name: &'static str, f: Fault, expect: Expect) -> Entry {
    Entry {
        name,
        mode: Mode::Fault(f),
        expect,
        plain: false,
    }
}

const fn plain(e: Entry) -> Entry {
    Entry { plain: true, ..e }
}

const fn variant(name: &'static str, v: Variant, allowed: &'static [&'static str]) -> Entry {
    Entry {
        name,
        mode: Mode::Variant(v),
        expect: Expect::Passes(allowed),
        plain: false,
    }
}

use Expect::{Must, Warns};

/// The catalogue.
const CATALOGUE: &[Entry] = &[
    // Users and tokens.
    fault(
        "ignores user_id",
        Fault::IgnoresUserId,
        Must("expect.status"),
    ),
    plain(fault(
        "ignores user_id (plain)",
        Fault::IgnoresUserId,
        Must("expect.status"),
    )),
    fault(
        "unknown user answered differently (enumeration)",
        Fault::UnknownUserDiffers,
        Must("expect.status"),
    ),
    fault(
        "empty password logs in",
        Fault::EmptyPasswordLogsIn,
        Must("client_error.kept"),
    ),
    fault(
        "TOKEN header stands in for the password",
        Fault::TokenHeaderAuthenticates,
        Must("client_error.kept"),
    ),
    fault(
        "SSO users let in",
        Fault::SsoLetIn,
        Must("client_error.kept"),
    ),
    plain(fault(
        "SSO users let in (plain, profile's SSO user)",
        Fault::SsoLetIn,
        Must("client_error.kept"),
    )),
    // Revocation.
    fault(
        "revocation revokes all of the user's access tokens",
        Fault::RevokesAllOfTheUser,
        Must("expect.status"),
    ),
    plain(fault(
        "revocation scope (plain)",
        Fault::RevokesAllOfTheUser,
        Must("expect.status"),
    )),
    fault(
        "revocation revokes nothing",
        Fault::RevokeDoesNothing,
        Must("token_status.agrees"),
    ),
    fault(
        "revocation accepts a dead refresh token",
        Fault::RevokeAcceptsDead,
        Must("client_error.kept"),
    ),
    fault(
        "revocation answers 204 with no body",
        Fault::RevokeAnswers204,
        Must("status.documented"),
    ),
    // Regeneration.
    fault(
        "regeneration leaves the old value valid",
        Fault::RegenKeepsOld,
        Must("token_status.agrees"),
    ),
    fault(
        "regeneration hands back the same value",
        Fault::RegenSameValue,
        Must("token.unique"),
    ),
    fault(
        "regeneration keeps stale timestamps",
        Fault::RegenStaleTimestamps,
        Must("expect.body"),
    ),
    fault(
        "regeneration refuses an expired token",
        Fault::RegenRefusesExpired,
        Must("expect.status"),
    ),
    fault(
        "regeneration accepts a revoked token",
        Fault::RegenAcceptsRevoked,
        Must("client_error.kept"),
    ),
    // Dead tokens.
    fault(
        "mints from a dead refresh token",
        Fault::MintsFromDead,
        Must("client_error.kept"),
    ),
    fault(
        "a dead refresh token validates ACTIVE",
        Fault::ValidatesDeadAsActive,
        Must("token_status.agrees"),
    ),
    // Time.
    fault(
        "expiry enforced an hour early",
        Fault::ExpiresEarly,
        Must("expect.status"),
    ),
    fault(
        "expiry enforced an hour late",
        Fault::ExpiresLate,
        Must("expect.body"),
    ),
    fault(
        "the clock moves but expiry ignores it",
        Fault::ClockNotUsedForExpiry,
        Must("token_status.agrees"),
    ),
    fault(
        "the clock does not move",
        Fault::ClockDoesNotMove,
        Must("control"),
    ),
    fault(
        "lifespan changes ignored",
        Fault::LifespansIgnored,
        Must("expiry.lifespan"),
    ),
    fault(
        "lifespans answered other than set",
        Fault::LifespansMisreported,
        Must("control"),
    ),
    fault(
        "lifespan changes applied to old tokens",
        Fault::LifespansApplyToOld,
        Must("expect.body"),
    ),
    fault(
        "access tokens live 23 hours, not 24",
        Fault::WrongAccessLifespan,
        Must("expiry.lifespan"),
    ),
    // Bad input.
    fault(
        "a user_id that is not a number crashes",
        Fault::BadUserIdCrashes,
        Must("client_error.kept"),
    ),
    fault(
        "malformed JSON crashes",
        Fault::MalformedJsonCrashes,
        Must("client_error.kept"),
    ),
    fault(
        "a known form field twice is accepted",
        Fault::DuplicateFieldAccepted,
        Warns("expect.preferred"),
    ),
    fault(
        "unknown fields refused",
        Fault::UnknownFieldsRefused,
        Must("expect.status"),
    ),
    // Encodings.
    fault(
        "form bodies refused",
        Fault::FormRefused,
        Must("expect.status"),
    ),
    fault(
        "multipart bodies refused",
        Fault::MultipartRefused,
        Must("expect.status"),
    ),
    fault(
        "user_id as a JSON string refused",
        Fault::UserIdStringRefused,
        Must("expect.status"),
    ),
    // Names.
    fault(
        "names cut to 100 characters",
        Fault::NamesTruncated,
        Must("expect.body"),
    ),
    fault(
        "non-ASCII names mangled",
        Fault::NamesAsciiOnly,
        Must("expect.body"),
    ),
    fault(
        "duplicate names refused",
        Fault::DuplicateNameRefused,
        Must("expect.status"),
    ),
    // Codes, fields, types, formats.
    fault(
        "validation answers 201",
        Fault::ValidateAnswers201,
        Must("status.documented"),
    ),
    fault(
        "RefreshToken without name",
        Fault::BodyLacksName,
        Must("schema.body"),
    ),
    fault(
        "user_id answered as a string",
        Fault::UserIdAsString,
        Must("schema.body"),
    ),
    fault(
        "timestamps without an offset",
        Fault::TimestampWithoutOffset,
        Must("timestamp.rfc3339"),
    ),
    fault(
        "token_status VALID",
        Fault::StatusWordUnknown,
        Must("token_status.known"),
    ),
    fault(
        "errors in plain text",
        Fault::ErrorsPlainText,
        Must("content_type.json"),
    ),
    fault(
        "errors without detail",
        Fault::ErrorsWithoutDetail,
        Must("error.shape"),
    ),
    fault(
        "answers in text/html",
        Fault::HtmlContentType,
        Must("content_type.json"),
    ),
    fault(
        "a validation body that is not JSON",
        Fault::ValidateBodyNotJson,
        Must("body.json"),
    ),
    // Reused values, transport.
    fault(
        "one access token for everyone",
        Fault::ReusedAccessToken,
        Must("token.unique"),
    ),
    fault(
        "regeneration never answers a form body",
        Fault::RegenHangsOnForm,
        Must("transport"),
    ),
    // SHOULD departures: warnings, never failures.
    fault(
        "token_status in lower case",
        Fault::LowerCaseStatus,
        Warns("token_status.uppercase"),
    ),
    fault(
        "timestamps without a fraction",
        Fault::NoFraction,
        Warns("timestamp.fraction"),
    ),
    fault(
        "errors without code",
        Fault::ErrorsWithoutCode,
        Warns("error.code"),
    ),
    fault(
        "no Cache-Control",
        Fault::NoCacheControl,
        Warns("cache_control.no_store"),
    ),
    fault(
        "counting token values",
        Fault::CounterTokens,
        Warns("token.entropy"),
    ),
    fault(
        "16-character token values",
        Fault::ShortTokens,
        Warns("token.entropy"),
    ),
    fault(
        "last_used_at never set",
        Fault::LastUsedNeverSet,
        Warns("expect.body"),
    ),
    fault(
        "regeneration keeps the access tokens",
        Fault::NoCascadeOnRegen,
        Warns("token_status.cascade"),
    ),
    fault(
        "failed logins never throttled",
        Fault::NeverThrottles,
        Warns("expect.status"),
    ),
    fault("no body limit", Fault::NoBodyLimit, Warns("expect.status")),
    plain(fault(
        "created_at a local time written as UTC",
        Fault::LocalTimeAsUtc,
        Warns("timestamp.skew"),
    )),
    // Faultless variants: other valid forms of the contract.
    Entry {
        name: "correct",
        mode: Mode::Correct,
        expect: Expect::Passes(&[]),
        plain: false,
    },
    plain(Entry {
        name: "correct (plain)",
        mode: Mode::Correct,
        expect: Expect::Passes(&[]),
        plain: false,
    }),
    variant("regeneration answers 201", Variant::Regen201, &[]),
    variant(
        "dead tokens answered 200 with EXPIRED or REVOKED",
        Variant::DeadAnswered200,
        &["dead_token.refused"],
    ),
    variant(
        "text/json",
        Variant::TextJson,
        &["content_type.application_json"],
    ),
    variant("extra response fields", Variant::ExtraFields, &[]),
    variant(
        "timestamps with a +02:00 offset",
        Variant::NonUtcOffset,
        &[],
    ),
    variant("keys in reverse order", Variant::KeysReversed, &[]),
    variant("no last_used_at", Variant::NoLastUsedAt, &["expect.body"]),
];

/// Runs the whole suite against one entry.
async fn run(spec: &Arc<Spec>, cases: &[Case], entry: &Entry) -> RunReport {
    let base = mutant::start(entry.mode).await;
    let settings = Settings {
        base_url: Some(base.clone()),
        username: Some(mutant::USER.to_owned()),
        password: Some(Secret::new(mutant::PASSWORD)),
        control_url: (!entry.plain).then(|| format!("{base}/conformance/v1")),
        // A vendor names its SSO account in the profile when it has no control protocol.
        sso_username: entry.plain.then(|| mutant::SSO_USER.to_owned()),
        timeout: Some(Span::from_secs(2)),
        ..Settings::default()
    };
    let target = Target::resolve(None, &settings, |_| None).unwrap();
    run::run(
        Arc::clone(spec),
        cases,
        target,
        &Options::default(),
        &|_| {},
    )
    .await
    .unwrap_or_else(|e| panic!("{}: the run stopped: {e}", entry.name))
}

/// Whether the entry's expected verdict holds; the reason when it does not.
fn judge(entry: &Entry, report: &RunReport) -> Result<(), String> {
    let findings: Vec<&Finding> = report
        .cases
        .iter()
        .flat_map(|c| &c.steps)
        .flat_map(|s| &s.findings)
        .collect();
    let failing: Vec<&str> = findings
        .iter()
        .filter(|f| f.severity == Severity::Must)
        .map(|f| f.check)
        .collect();
    let warning: Vec<&str> = findings
        .iter()
        .filter(|f| f.severity == Severity::Should)
        .map(|f| f.check)
        .collect();
    let listed = |v: &[&str]| {
        let mut v = v.to_vec();
        v.sort_unstable();
        v.dedup();
        v.join(", ")
    };
    match entry.expect {
        Expect::Must(check) if failing.contains(&check) => Ok(()),
        Expect::Must(check) => Err(format!(
            "expected `{check}` to fail; failed: [{}]",
            listed(&failing)
        )),
        Expect::Warns(check) if !failing.is_empty() => Err(format!(
            "a SHOULD departure ({check}) turned into MUST failures: [{}]",
            listed(&failing)
        )),
        Expect::Warns(check) if warning.contains(&check) => Ok(()),
        Expect::Warns(check) => Err(format!(
            "expected `{check}` to warn; warned: [{}]",
            listed(&warning)
        )),
        Expect::Passes(_) if !failing.is_empty() => Err(format!(
            "a faultless variant failed: [{}]",
            listed(&failing)
        )),
        Expect::Passes(allowed) => {
            let extra: Vec<&str> = warning
                .iter()
                .copied()
                .filter(|w| !allowed.contains(w))
                .collect();
            if extra.is_empty() {
                Ok(())
            } else {
                Err(format!("a faultless variant warned: [{}]", listed(&extra)))
            }
        }
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let spec = Arc::new(Spec::load(&root.join("specs/token-auth.openapi.yaml")).unwrap());
    let cases = case::load_dir(&root.join("cases"), &spec).unwrap();
    let entries = CATALOGUE;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let outcomes: Vec<(usize, Result<(), String>, std::time::Duration)> = runtime.block_on(async {
        futures_util::stream::iter(entries.iter().enumerate())
            .map(|(i, e)| {
                let (spec, cases) = (&spec, &cases);
                async move {
                    let t = std::time::Instant::now();
                    let verdict = judge(e, &run(spec, cases, e).await);
                    (i, verdict, t.elapsed())
                }
            })
            .buffer_unordered(4)
            .collect()
            .await
    });
    let mut outcomes = outcomes;
    outcomes.sort_by_key(|(i, _, _)| *i);
    let (mut faults, mut caught, mut variants, mut passed) = (0, 0, 0, 0);
    for (i, outcome, took) in &outcomes {
        let e = &entries[*i];
        let is_fault = !matches!(e.expect, Expect::Passes(_));
        let ok = outcome.is_ok();
        if is_fault {
            faults += 1;
            caught += usize::from(ok);
        } else {
            variants += 1;
            passed += usize::from(ok);
        }
        let (word, detail) = match (&e.expect, outcome) {
            (Expect::Must(c) | Expect::Warns(c), Ok(())) => ("caught", format!("[{c}]")),
            (Expect::Passes(_), Ok(())) => ("passes", String::new()),
            (_, Err(why)) => ("WRONG ", why.clone()),
        };
        println!("{word} {} {detail} ({} ms)", e.name, took.as_millis());
    }
    println!(
        "faults caught: {caught}/{faults}; faultless variants passed: {passed}/{variants} ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
    let total = faults + variants;
    if caught + passed != total {
        eprintln!(
            "the self-test found {} wrong verdicts",
            total - caught - passed
        );
        std::process::exit(1);
    }
    // Keep the test runner's summary line last, as cargo's own tests end with one.
    println!("test result: ok. {total} passed; 0 failed");
}
