//! `credentials`: every value near an issued token that is not that token is refused as
//! invalid, by every operation that takes one: one character changed (first, middle, last),
//! the letter case changed, one character dropped or added, the other kind of token of the
//! same user, a live token of another user, a regenerated token's predecessor. White space
//! around the value may be trimmed (accepting it as the same token conforms too). Passwords
//! likewise, on the account the run made through the control protocol only, so the profile's
//! account never receives them.

use serde_json::{Value, json};

use super::{Gen, Probe};
use crate::spec::{Operation, TokenKind};

/// The near misses: (variant, template filter, what it does).
const NEAR: &[(&str, &str, &str)] = &[
    (
        "change-first",
        "change_first",
        "its first character changed",
    ),
    (
        "change-middle",
        "change_middle",
        "its middle character changed",
    ),
    ("change-last", "change_last", "its last character changed"),
    ("swap-case", "swap_case", "the case of its letters swapped"),
    ("truncated", "drop_last", "its last character dropped"),
    ("extended", "add_char", "a character added"),
];

pub(super) fn probes(g: &Gen<'_>, out: &mut Vec<Probe>) {
    for (op, kind) in g.token_operations() {
        tokens(g, op, kind, out);
    }
    if let Some(login) = g.spec.login() {
        passwords(login, out);
    }
}

fn probe(op: &Operation, variant: &str, what: &str, steps: Vec<Value>) -> Probe {
    Probe {
        family: "credentials",
        operation: op.id.clone(),
        variant: variant.to_owned(),
        title: format!("{} refuses a credential with {what}", op.id),
        requirement: format!(
            "{}: a value near an issued credential that is not it is refused as invalid, and changes nothing",
            op.id
        ),
        severity: "must",
        needs: Vec::new(),
        steps,
    }
}

/// The probes of one operation that takes a token of `kind`.
fn tokens(g: &Gen<'_>, op: &Operation, kind: TokenKind, out: &mut Vec<Probe>) {
    let Some(held) = g.hold(kind) else {
        return;
    };
    let capture = held.value.trim_start_matches("{{ ").trim_end_matches(" }}");
    let present = |value: String, expect: Value, name: String| {
        json!({
            "name": name,
            "call": op.id,
            "body": Gen::naming(op, &value, held.owner),
            "expect": expect,
        })
    };
    let kind_name = kind.name();
    for (variant, filter, what) in NEAR {
        let mut steps = held.steps.clone();
        steps.push(present(
            format!("{{{{ {capture} | {filter} }}}}"),
            json!({"refused": [401]}),
            format!("the {kind_name} with {what}"),
        ));
        out.push(probe(
            op,
            variant,
            &format!("the {kind_name} with {what}"),
            steps,
        ));
    }
    other_kind(g, op, kind, out);
    other_user(g, op, kind, out);
    predecessor(g, op, kind, out);
    // White space around a value may be trimmed: both answers conform, and an accepted padded
    // value is the token itself.
    let mut accepted = json!({"status": Gen::success(op)});
    if op.effects.is_empty()
        && let Some(t) = &op.request_token
    {
        accepted["body"] = json!({t.value.clone(): {"same_as": capture}});
    }
    let mut steps = held.steps.clone();
    steps.push(present(
        format!("{{{{ {capture} | pad }}}}"),
        json!({"one_of": [accepted, {"refused": [400, 401]}]}),
        format!("the {kind_name} with white space around it"),
    ));
    let mut p = probe(op, "padded", &format!("the {kind_name} padded"), steps);
    p.title = format!(
        "{} takes a {kind_name} with white space around it as that token, or refuses it",
        op.id
    );
    p.requirement = format!(
        "{}: a server may trim white space around a token value; refusing the padded value and taking it as the same token both conform",
        op.id
    );
    out.push(p);
}

/// The other kind of token of the same user, where this one is asked for.
fn other_kind(g: &Gen<'_>, op: &Operation, kind: TokenKind, out: &mut Vec<Probe>) {
    let Some(held) = g.hold(TokenKind::Access) else {
        return;
    };
    // Holding an access token means holding its refresh token too: present the other one.
    let other = match kind {
        TokenKind::Refresh => "{{ access }}",
        TokenKind::Access => "{{ refresh }}",
    };
    let mut steps = held.steps;
    steps.push(json!({
        "name": format!("the user's {} where a {} is asked for", other_name(kind), kind.name()),
        "call": op.id,
        "body": Gen::naming(op, other, held.owner),
        "expect": {"refused": [401]},
    }));
    out.push(probe(
        op,
        "other-kind",
        &format!(
            "the user's {} in place of a {}",
            other_name(kind),
            kind.name()
        ),
        steps,
    ));
}

fn other_name(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Refresh => TokenKind::Access.name(),
        TokenKind::Access => TokenKind::Refresh.name(),
    }
}

/// A live token of another user (the account the run made), sent with the profile user's id.
fn other_user(g: &Gen<'_>, op: &Operation, kind: TokenKind, out: &mut Vec<Probe>) {
    let (Some(login), Some(held), Some(refresh)) = (
        g.spec.login(),
        g.hold(kind),
        g.spec.token_shape(TokenKind::Refresh),
    ) else {
        return;
    };
    let (Some(fields), Some(owner)) = (&login.login, &refresh.owner) else {
        return;
    };
    let mut steps = held.steps;
    steps.push(json!({
        "name": "the other account logs in",
        "call": login.id,
        "body": {
            fields.username.clone(): "{{ other.username }}",
            fields.password.clone(): "{{ other.password }}",
            fields.name.clone(): "{{ run.name }}",
        },
        "expect": {"status": Gen::success(login)},
        "capture": {"theirs": format!("body.{}", refresh.value), "their_id": format!("body.{owner}")},
    }));
    let theirs = match kind {
        TokenKind::Refresh => "{{ theirs }}",
        TokenKind::Access => {
            let (Some(mint), Some(access)) = (
                g.minting(TokenKind::Access, TokenKind::Refresh),
                g.spec.token_shape(TokenKind::Access),
            ) else {
                return;
            };
            steps.push(json!({
                "name": "it mints an access token",
                "call": mint.id,
                "body": Gen::naming(mint, "{{ theirs }}", "{{ their_id }}"),
                "expect": {"status": Gen::success(mint)},
                "capture": {"their_access": format!("body.{}", access.value)},
            }));
            "{{ their_access }}"
        }
    };
    steps.push(json!({
        "name": format!("another user's live {} with this user's id", kind.name()),
        "call": op.id,
        "body": Gen::naming(op, theirs, held.owner),
        "expect": {"refused": [401]},
    }));
    let p = probe(
        op,
        "other-user",
        &format!("another user's live {}", kind.name()),
        steps,
    );
    out.push(p);
}

/// The value a regeneration replaced.
fn predecessor(g: &Gen<'_>, op: &Operation, kind: TokenKind, out: &mut Vec<Probe>) {
    let (Some(regen), Some(held)) = (g.spec.regenerate(kind), g.hold(kind)) else {
        return;
    };
    let mut steps = held.steps;
    steps.push(json!({
        "name": format!("regenerate the {}", kind.name()),
        "call": regen.id,
        "body": Gen::naming(regen, held.value, held.owner),
        "expect": {"status": Gen::success(regen)},
    }));
    steps.push(json!({
        "name": format!("present the {} it replaced", kind.name()),
        "call": op.id,
        "body": Gen::naming(op, held.value, held.owner),
        "expect": g.dead(op),
    }));
    out.push(probe(
        op,
        "predecessor",
        &format!("the {} a regeneration replaced", kind.name()),
        steps,
    ));
}

/// The near misses of a password tried on the second account: few, so that a deployment's
/// lockout (django-axes locks at 3 by default) is not reached by a run: a prefix compared
/// (dropped, added) and case ignored (`lint` counts them against its promise).
const NEAR_PASSWORD: &[(&str, &str, &str)] = &[
    ("truncated", "drop_last", "its last character dropped"),
    ("extended", "add_char", "a character added"),
    ("swap-case", "swap_case", "the case of its letters swapped"),
];

/// Near misses of the password of the second account: never the profile's.
fn passwords(login: &Operation, out: &mut Vec<Probe>) {
    let Some(fields) = &login.login else {
        return;
    };
    // White space around a password may be trimmed before it is checked: NIST SP 800-63B-4
    // §3.1.1.2 allows a verifier that, and Django REST framework's CharField does it by default.
    // Taking it is a warning (the contract trims only around a token or a name, D24).
    let padded = ("padded", "pad", "white space around it");
    for (variant, filter, what) in NEAR_PASSWORD.iter().chain(std::iter::once(&padded)) {
        let steps = vec![json!({
            "name": format!("the password with {what}"),
            "call": login.id,
            "body": {
                fields.username.clone(): "{{ other.username }}",
                fields.password.clone(): format!("{{{{ other.password | {filter} }}}}"),
                fields.name.clone(): "{{ run.name }}",
            },
            "expect": {"refused": [401]},
        })];
        let mut p = probe(
            login,
            &format!("password-{variant}"),
            &format!("a password with {what}"),
            steps,
        );
        p.requirement = format!(
            "{}: a password near the user's that is not it is a wrong password (tried on the second account, never the profile's)",
            login.id
        );
        if *variant == "padded" {
            p.severity = "should";
            p.requirement = format!(
                "{}: a password with white space around it is best refused as a wrong one (SHOULD: NIST SP 800-63B-4 lets a verifier trim it)",
                login.id
            );
        }
        out.push(p);
    }
}
