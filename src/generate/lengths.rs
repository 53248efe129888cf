//! `lengths`: every string field the contract bounds with `maxLength`, at that length and one
//! past it, where the field's role says what the answer must be.
//!
//! - A token field at its longest holds a value that is no token: refused as invalid,
//!   preferably 401 (a 400 says the server's limit is below the contract's). One past it is
//!   refused, 400 or 401 alike: a value too long to be a token is a wrong token either way.
//! - The login's username and password at their longest log in (SHOULD: the vendor documents no
//!   limit, so a shorter one is a departure, not a failure), on an account the run creates
//!   through the control protocol. One past their longest is refused, 400 or 401 alike, for a
//!   throw-away username, so the profile's account never sees it.
//! - A name one past its longest is refused (400), or taken with a warning; the longest name is
//!   the `text` family's.
//!
//! Fields of other roles have no answer the contract fixes, and get no probe.

use serde_json::{Map, Value, json};

use super::{Gen, Probe};
use crate::spec::{Login, Operation};

pub(super) fn probes(g: &Gen<'_>, out: &mut Vec<Probe>) {
    for (op, kind) in g.token_operations() {
        let Some(token) = &op.request_token else {
            continue;
        };
        let Some(max) = op
            .request_schema
            .get(&token.value)
            .and_then(|f| f.max_length)
        else {
            continue;
        };
        let Some(held) = g.hold(kind) else { continue };
        let field = &token.value;
        let mut steps = held.steps.clone();
        let mut call = |name: String, value: String, expect: Value| {
            steps.push(json!({
                "name": name,
                "call": op.id,
                "body": Gen::naming(op, &value, held.owner),
                "expect": expect,
            }));
        };
        call(
            format!("`{field}` of {max} characters that is no token"),
            format!("{{{{ fill({max}, \"A\") }}}}"),
            json!({"refused": [401]}),
        );
        call(
            format!("`{field}` of {} characters", max + 1),
            format!("{{{{ fill({}, \"A\") }}}}", max + 1),
            json!({"refused": [400, 401]}),
        );
        out.push(Probe {
            family: "lengths",
            operation: op.id.clone(),
            variant: super::kebab(field),
            title: format!(
                "{} refuses a `{field}` as long as the contract allows, and one longer, without a server error",
                op.id
            ),
            requirement: format!(
                "{}: a token field of any length up to its maxLength ({max}) is read as a token (an unknown one is invalid, 401); a longer one is refused",
                op.id
            ),
            severity: "must",
            needs: Vec::new(),
            steps,
        });
    }
    if let Some(login) = g.spec.login()
        && let Some(fields) = &login.login
    {
        let l = LoginProbes { login, fields };
        l.longest(out);
        l.too_long_credentials(out);
        l.too_long_name(out);
    }
}

/// The login operation and its fields, for the login's probes.
struct LoginProbes<'a> {
    login: &'a Operation,
    fields: &'a Login,
}

impl LoginProbes<'_> {
    fn max(&self, field: &str) -> Option<u64> {
        self.login
            .request_schema
            .get(field)
            .and_then(|f| f.max_length)
    }

    fn body(&self, username: &str, password: &str, name: &str) -> Map<String, Value> {
        Map::from_iter([
            (self.fields.username.clone(), json!(username)),
            (self.fields.password.clone(), json!(password)),
            (self.fields.name.clone(), json!(name)),
        ])
    }

    fn probe(&self, variant: String, title: String, requirement: String) -> Probe {
        Probe {
            family: "lengths",
            operation: self.login.id.clone(),
            variant,
            title,
            requirement: format!("{}: {requirement}", self.login.id),
            severity: "must",
            needs: Vec::new(),
            steps: Vec::new(),
        }
    }

    /// One account with the longest username and the longest password, made for the probe
    /// (one account rather than two: each costs a login to check it and a revocation).
    fn longest(&self, out: &mut Vec<Probe>) {
        let f = self.fields;
        let (Some(u), Some(p)) = (self.max(&f.username), self.max(&f.password)) else {
            return;
        };
        let username = format!("{{{{ run.unique }}}}-{{{{ fill({u}, \"u\") }}}}@example.invalid");
        let password = format!("{{{{ run.unique }}}}{{{{ fill({p}, \"p\") }}}}");
        let mut probe = self.probe(
            "longest-credentials".into(),
            format!(
                "{} logs in with a {} ({u}) and a {} ({p}) as long as the contract allows",
                self.login.id, f.username, f.password
            ),
            "credentials of any length up to their maxLength are taken (SHOULD: the vendor documents no limit)".into(),
        );
        probe.severity = "should";
        probe.needs = vec!["users"];
        probe.steps = vec![
            json!({"create_user": {"username": username, "password": password}}),
            json!({
                "name": format!("log in with a {} of {u} characters and a {} of {p}", f.username, f.password),
                "call": self.login.id,
                "body": self.body(&username, &password, "{{ run.name }}"),
                "expect": {"status": Gen::success(self.login)},
            }),
        ];
        out.push(probe);
    }

    /// One past the longest username or password, for a throw-away account: refused either
    /// way, and the profile's account never sees it.
    fn too_long_credentials(&self, out: &mut Vec<Probe>) {
        let f = self.fields;
        let throw_away = "nobody-{{ run.unique }}@example.invalid".to_owned();
        let cases = [
            self.max(&f.username).map(|m| {
                let username = format!(
                    "{{{{ run.unique }}}}-{{{{ fill({}, \"u\") }}}}@example.invalid",
                    m + 1
                );
                (
                    &f.username,
                    m + 1,
                    username,
                    "pw-{{ run.unique }}".to_owned(),
                )
            }),
            self.max(&f.password).map(|m| {
                let password = format!("{{{{ fill({}, \"p\") }}}}", m + 1);
                (&f.password, m + 1, throw_away.clone(), password)
            }),
        ];
        for (field, n, username, password) in cases.into_iter().flatten() {
            let mut probe = self.probe(
                format!("{}-too-long", super::kebab(field)),
                format!("{} refuses a {field} of {n} characters", self.login.id),
                format!("a {field} longer than its maxLength is refused (400 or 401), never a 5xx"),
            );
            probe.steps = vec![json!({
                "name": format!("a {field} of {n} characters, for a user that does not exist"),
                "call": self.login.id,
                "body": self.body(&username, &password, "{{ run.name }}"),
                "expect": {"refused": [400, 401]},
            })];
            out.push(probe);
        }
    }

    /// One past the longest name, on the run's own account, so that a server that takes it
    /// creates a token the run can revoke.
    fn too_long_name(&self, out: &mut Vec<Probe>) {
        let name = &self.fields.name;
        let Some(m) = self.max(name) else { return };
        let n = m + 1;
        let value = format!("{{{{ run.name }}}} {{{{ fill({n}, \"n\") }}}}");
        let mut probe = self.probe(
            format!("{}-too-long", super::kebab(name)),
            format!("{} refuses a {name} of {n} characters, or takes it", self.login.id),
            format!("a {name} longer than its maxLength ({m}) is refused (400, SHOULD); taking it is a warning, a 5xx a failure"),
        );
        probe.steps = vec![json!({
            "name": format!("a {name} of {n} characters"),
            "call": self.login.id,
            "body": self.body("{{ other.username }}", "{{ other.password }}", &value),
            "expect": {"one_of": [
                {"refused": [400]},
                {"status": Gen::success(self.login),
                 "warn": format!("took a {name} longer than the contract allows ({m} characters)")},
            ]},
        })];
        out.push(probe);
    }
}
