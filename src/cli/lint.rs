//! `list` and `lint`: what the suite holds, how it loads against the contract, and what a run
//! of it can do to the account it logs in with (wrong passwords, refresh tokens left behind).

use super::{Sources, load, report_errors};
use crate::case::Case;
use crate::error::{Error, ErrorKind, Exit};
use crate::spec::Spec;

/// Prints what `f` makes of the loaded spec and cases, or the load errors.
fn print_loaded(sources: &Sources, f: impl FnOnce(&Spec, &[Case]) -> String) -> Exit {
    match load(sources) {
        Ok((spec, cases)) => {
            print!("{}", f(&spec, &cases));
            Exit::Success
        }
        Err(errors) => report_errors(&errors),
    }
}

/// `list`: prints every case with its tags and needed capabilities.
pub fn list(sources: &Sources) -> Exit {
    print_loaded(sources, |_, cases| list_text(cases))
}

/// The most wrong passwords a run may send the profile's account: the wrong password, the
/// empty password and the `TOKEN` header cases. Well under any lockout threshold, so a run can
/// never lock out the account it logs in with.
pub(crate) const MAX_WRONG_PASSWORDS: usize = 3;

/// The most refresh tokens a plain run's cases may create for the profile's account beyond
/// those its pool lends (the API cannot revoke them): a plain deployment keeps at most
/// `--jobs` + this many. Three cases about creating tokens, and the name-fidelity probes (one
/// token each, whose live successors the pool lends on), which need no second account.
pub(crate) const MAX_CREATED_TOKENS: usize = 10;

/// `lint`: prints how the cases load against the contract, and what they leave untested; fails
/// when the cases would send the profile's account more wrong passwords than promised, or leave
/// it more refresh tokens on a plain deployment.
pub fn lint(sources: &Sources) -> Exit {
    match load(sources) {
        Ok((spec, cases)) => {
            print!("{}", lint_text(&spec, &cases));
            let mut errors = Vec::new();
            let wrong = wrong_passwords(&spec, &cases);
            if wrong.len() > MAX_WRONG_PASSWORDS {
                errors.push(Error::new(
                    ErrorKind::Case,
                    format!(
                        "the cases send the profile's account {} wrong passwords, more than the {MAX_WRONG_PASSWORDS} promised: {}",
                        wrong.len(),
                        wrong.join(", ")
                    ),
                )
                .hint("use a throw-away user name for failed logins: 'nobody-{{ run.unique }}@example.invalid'"));
            }
            let created = created_tokens(&spec, &cases);
            if created.len() > MAX_CREATED_TOKENS {
                errors.push(Error::new(
                    ErrorKind::Case,
                    format!(
                        "on a plain deployment the cases create {} refresh tokens for the profile's account, more than the {MAX_CREATED_TOKENS} promised: {}",
                        created.len(),
                        created.join(", ")
                    ),
                )
                .hint("borrow a token (borrow_refresh_token), or create for the account the control protocol makes (needs: [users], other.username)"));
            }
            if errors.is_empty() {
                Exit::Success
            } else {
                report_errors(&errors)
            }
        }
        Err(errors) => report_errors(&errors),
    }
}

/// The login steps with the profile's username whose password template satisfies
/// `password_is`, in cases a run may include: `case-id step N`.
fn profile_logins(
    spec: &Spec,
    cases: &[Case],
    password_is: impl Fn(Option<&str>) -> bool,
) -> Vec<String> {
    let Some(login) = spec.login().and_then(|o| o.login.as_ref().map(|l| (o, l))) else {
        return Vec::new();
    };
    let (op, fields) = login;
    let mut out = Vec::new();
    for c in cases {
        for s in &c.steps {
            let crate::case::Action::Call(call) = &s.action else {
                continue;
            };
            let (username, password) = match &call.body {
                crate::case::Body::Fields(body) => {
                    let field = |name: &str| body.get(name).and_then(serde_json::Value::as_str);
                    (
                        field(&fields.username) == Some("{{ profile.username }}"),
                        field(&fields.password),
                    )
                }
                // A raw body (a form with a field given twice) names the account in a
                // template, maybe filtered for its encoding.
                crate::case::Body::Raw(raw) => (
                    raw.contains("{{ profile.username"),
                    raw.contains("{{ profile.password")
                        .then_some("{{ profile.password }}"),
                ),
                crate::case::Body::Size(_) => (false, None),
            };
            if call.operation == op.id && username && password_is(password) {
                out.push(format!("{} step {}", c.id, s.index));
            }
        }
    }
    out
}

/// The steps that create a refresh token for the profile's account in cases a plain
/// deployment runs (they need no capability of the control protocol): each leaves a token the
/// API cannot revoke, beyond those the pool lends.
fn created_tokens(spec: &Spec, cases: &[Case]) -> Vec<String> {
    let plain: Vec<Case> = cases
        .iter()
        .filter(|c| {
            !c.needs
                .iter()
                .any(|n| matches!(n, crate::target::Need::Capability(_)))
        })
        .cloned()
        .collect();
    profile_logins(spec, &plain, |p| p == Some("{{ profile.password }}"))
}

/// How many login steps send the second account a password other than its own.
fn second_account_wrong_passwords(spec: &Spec, cases: &[Case]) -> usize {
    let Some((op, fields)) = spec.login().and_then(|o| o.login.as_ref().map(|l| (o, l))) else {
        return 0;
    };
    cases
        .iter()
        .flat_map(|c| &c.steps)
        .filter(|s| {
            let crate::case::Action::Call(call) = &s.action else {
                return false;
            };
            let crate::case::Body::Fields(body) = &call.body else {
                return false;
            };
            let field = |name: &str| body.get(name).and_then(serde_json::Value::as_str);
            call.operation == op.id
                && field(&fields.username) == Some("{{ other.username }}")
                && field(&fields.password) != Some("{{ other.password }}")
        })
        .count()
}

/// The steps that log in as the profile's user with another password than the profile's:
/// `case-id step N`.
fn wrong_passwords(spec: &Spec, cases: &[Case]) -> Vec<String> {
    profile_logins(spec, cases, |p| p != Some("{{ profile.password }}"))
}

/// The listing of `list`.
fn list_text(cases: &[Case]) -> String {
    let mut out = String::new();
    for c in cases {
        let needs: Vec<&str> = c.needs.iter().map(|n| n.name()).collect();
        out.push_str(&format!(
            "{:<48} {:<6} tags: {:<32} needs: {}\n",
            c.id,
            c.severity.name(),
            c.tags.join(","),
            if needs.is_empty() {
                "-".to_owned()
            } else {
                needs.join(",")
            }
        ));
    }
    out.push_str(&format!("{} cases\n", cases.len()));
    out
}

/// The report of `lint`: the cases load cleanly, and the documented (operation, status) pairs
/// no case expects.
fn lint_text(spec: &Spec, cases: &[Case]) -> String {
    let mut expected = std::collections::BTreeSet::new();
    for c in cases {
        for s in &c.steps {
            if let crate::case::Action::Call(call) = &s.action {
                for st in call
                    .outcomes
                    .iter()
                    .flat_map(crate::case::Outcome::statuses)
                {
                    expected.insert((call.operation.clone(), st));
                }
            }
        }
    }
    let mut out = format!(
        "{} cases load cleanly against {} ({} {})\n",
        cases.len(),
        spec.file.display(),
        spec.title,
        spec.version
    );
    let pairs = crate::report::coverage::pairs(spec);
    let missing: Vec<String> = pairs
        .iter()
        .filter(|p| p.not_provokable.is_none())
        .filter(|p| !expected.contains(&(p.operation.clone(), p.status)))
        .map(|p| format!("{} {}", p.operation, p.status))
        .collect();
    for line in crate::report::coverage::exclusions(&pairs) {
        out.push_str(&format!("not provokable, left out of coverage: {line}\n"));
    }
    let wrong = wrong_passwords(spec, cases);
    out.push_str(&format!(
        "the profile's account receives {} wrong passwords per run (at most {MAX_WRONG_PASSWORDS} promised): {}\n",
        wrong.len(),
        if wrong.is_empty() { "none".to_owned() } else { wrong.join(", ") }
    ));
    let other = second_account_wrong_passwords(spec, cases);
    out.push_str(&format!(
        "the second account (--other-username) receives {} wrong passwords per run: use an account dedicated to testing, whose lockout threshold (if any) is higher\n",
        other
    ));
    let created = created_tokens(spec, cases);
    out.push_str(&format!(
        "a plain deployment keeps at most --jobs + {} refresh tokens of the profile's account (at most --jobs + {MAX_CREATED_TOKENS} promised), created by: {}\n",
        created.len(),
        if created.is_empty() { "none".to_owned() } else { created.join(", ") }
    ));
    if !missing.is_empty() {
        out.push_str(&format!(
            "no case expects these documented responses: {}\n",
            missing.join(", ")
        ));
    }
    out
}
