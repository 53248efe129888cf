//! What the suite holds, how it loads against the contract, and what a run of it can do to
//! the account it logs in with (wrong passwords, refresh tokens left behind): the texts of
//! `list` and `lint`, and the promises `lint` holds the cases to.

use crate::case::Case;
use crate::error::{Error, ErrorKind};
use crate::spec::Spec;

/// The most wrong passwords a run may send the profile's account: the wrong password, the
/// empty password and the `TOKEN` header cases. Well under any lockout threshold, so a run can
/// never lock out the account it logs in with.
pub(crate) const MAX_WRONG_PASSWORDS: usize = 3;

/// The most wrong passwords a run may send the second account (`--other-username`): the near
/// misses of its password, below the lockout thresholds deployments use.
pub(crate) const MAX_OTHER_WRONG_PASSWORDS: usize = 4;

/// The most refresh tokens a plain run's cases may create for the profile's account beyond
/// those its pool lends (the API cannot revoke them): a plain deployment keeps at most
/// `--jobs` + this many. Three cases about creating tokens, and the name-fidelity probes (one
/// token each, whose live successors the pool lends on), which need no second account.
pub(crate) const MAX_CREATED_TOKENS: usize = 10;

/// `lint`'s findings: how the cases load against the contract and what they leave untested
/// (the text), and the promises they break (the errors): more wrong passwords to the
/// profile's or the second account than promised, or more refresh tokens left on a plain
/// deployment.
pub fn lint(spec: &Spec, cases: &[Case]) -> (String, Vec<Error>) {
    let text = lint_text(spec, cases);
    let mut errors = Vec::new();
    let wrong = wrong_passwords(spec, cases);
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
    let other = second_account_wrong_passwords(spec, cases);
    if other > MAX_OTHER_WRONG_PASSWORDS {
        errors.push(Error::new(
            ErrorKind::Case,
            format!(
                "the cases send the second account {other} wrong passwords, more than the {MAX_OTHER_WRONG_PASSWORDS} promised"
            ),
        ));
    }
    let created = created_tokens(spec, cases);
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
    (text, errors)
}

/// What a login step sends an account (`profile` or `other`): its own password, or another
/// (a near miss, an empty one, any literal).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sends {
    Own,
    Wrong,
}

/// Whether `text` is, or holds, the template of `account`'s `field`, and through which filters:
/// `Some(true)` when every filter only writes it for an encoding (`form`, `json`, `string`).
fn names(text: &str, account: &str, field: &str) -> Option<bool> {
    let name = format!("{account}.{field}");
    let uses = crate::case::template::uses(text).unwrap_or_default();
    let used: Vec<_> = uses.iter().filter(|u| u.name == name).collect();
    if used.is_empty() {
        return None;
    }
    Some(used.iter().all(|u| {
        u.filters
            .iter()
            .all(|f| ["form", "json", "string"].contains(&f.as_str()))
    }))
}

/// The login steps of `account` (`profile` or `other`) whose password is as `sends` says, in
/// `cases`: `case-id step N`. A raw body (a form with a field given twice) is read by its
/// templates, as a body of fields is.
fn logins(spec: &Spec, cases: &[Case], account: &str, sends: Sends) -> Vec<String> {
    let Some((op, fields)) = spec.login().and_then(|o| o.login.as_ref().map(|l| (o, l))) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for c in cases {
        for s in &c.steps {
            let crate::case::Action::Call(call) = &s.action else {
                continue;
            };
            if call.operation != op.id {
                continue;
            }
            let (username, password) = match &call.body {
                crate::case::Body::Fields(body) => {
                    let field = |name: &str| body.get(name).and_then(serde_json::Value::as_str);
                    let username = field(&fields.username)
                        .and_then(|u| names(u, account, "username"))
                        .is_some();
                    let password = match field(&fields.password) {
                        Some(p) => names(p, account, "password"),
                        // No password field, or not a string: not the account's password.
                        None => Some(false),
                    };
                    (username, password)
                }
                crate::case::Body::Raw(raw) => (
                    names(raw, account, "username").is_some(),
                    names(raw, account, "password").or(Some(false)),
                ),
                crate::case::Body::Size(_) => (false, None),
            };
            let its = match password {
                Some(true) => Sends::Own,
                _ => Sends::Wrong,
            };
            if username && its == sends {
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
    logins(spec, &plain, "profile", Sends::Own)
}

/// How many login steps send the second account a password other than its own.
fn second_account_wrong_passwords(spec: &Spec, cases: &[Case]) -> usize {
    logins(spec, cases, "other", Sends::Wrong).len()
}

/// The steps that log in as the profile's user with another password than the profile's:
/// `case-id step N`.
fn wrong_passwords(spec: &Spec, cases: &[Case]) -> Vec<String> {
    logins(spec, cases, "profile", Sends::Wrong)
}

/// The listing of `list`: every case with its level, tags and needed capabilities.
pub fn list(cases: &[Case]) -> String {
    // Columns as wide as their longest entry, so that generated ids of 60 characters and more
    // do not push their line's columns out of line with the others.
    let id_width = cases
        .iter()
        .map(|c| c.id.chars().count())
        .max()
        .unwrap_or(0);
    let tags: Vec<String> = cases.iter().map(|c| c.tags.join(",")).collect();
    let tags_width = tags.iter().map(|t| t.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (c, tags) in cases.iter().zip(&tags) {
        let needs: Vec<&str> = c.needs.iter().map(|n| n.name()).collect();
        out.push_str(&format!(
            "{:<id_width$} {:<6} tags: {:<tags_width$} needs: {}\n",
            c.id,
            c.severity.name(),
            tags,
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
        "the second account (--other-username) receives {other} wrong passwords per run (at most {MAX_OTHER_WRONG_PASSWORDS} promised): use an account dedicated to testing\n"
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
