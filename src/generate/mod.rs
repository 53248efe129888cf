//! The negative space around the written cases, generated from the contract.
//!
//! Written cases show sequences; the probes here vary what one request carries, everywhere
//! the contract says a request takes it, so that a fault nobody listed is still met. Each
//! family reads the contract (request schemas and media types, `x-token`, `x-login`,
//! `x-token-effects`) and emits one case per probe, `generated.<family>.<operation>.<variant>`,
//! which loads, runs, lists, filters and reports exactly like a written one: a new operation or
//! field in the contract gets its probes without a new case file.
//!
//! | family | what every probe shows |
//! |---|---|
//! | `credentials` | a value near an issued token (or the run's own account's password) that is not it is refused |
//! | `identity` | another user's `user_id`, in every encoding and form the field takes, is refused |
//! | `text` | a name with what each encoding treats specially comes back exactly as sent |
//! | `media` | a media type with parameters (MUST) or in other letter case (SHOULD) is taken like the bare type |
//! | `methods` | another method on an operation's path is never a 5xx (405 preferred) |
//! | `bounds` | an integer field at its edges is never a 5xx, nor a 2xx unless it is the owner's id |
//! | `lengths` | a string field at its `maxLength` is read as any value, one past it refused |
//! | `untouched` | a successful call changes no token its `x-token-effects` do not name |
//!
//! Probes are built as the JSON form of a case file (JSON is YAML) and go through the case
//! loader, so they are held to every rule a written case is.

mod bounds;
mod credentials;
mod identity;
mod lengths;
mod media;
mod methods;
mod text;
mod untouched;

use serde_json::{Map, Value, json};

use crate::case::{self, Case};
use crate::error::Error;
use crate::spec::{Effect, Operation, Spec, TokenKind};

/// One probe before it is loaded: the fields of a case file.
struct Probe {
    family: &'static str,
    operation: String,
    variant: String,
    title: String,
    requirement: String,
    severity: &'static str,
    needs: Vec<&'static str>,
    steps: Vec<Value>,
}

impl Probe {
    fn id(&self) -> String {
        format!(
            "generated.{}.{}.{}",
            self.family, self.operation, self.variant
        )
    }

    fn document(&self) -> Value {
        json!({
            "id": self.id(),
            "title": self.title,
            "tags": ["generated", self.family, self.operation],
            "severity": self.severity,
            "requirement": self.requirement,
            "source": sources(self.family),
            "needs": self.needs,
            "steps": self.steps,
        })
    }
}

/// What each family's MUST rests on (`crate::source::Source`'s spelling).
fn sources(family: &str) -> &'static [&'static str] {
    match family {
        // A value that is not the credential is a bad token or bad credentials: 401, which
        // clients branch on to log in again.
        "credentials" | "identity" => &["vendor-page", "client:allie-sdk"],
        // The token is created "with this name" and answers with it.
        "text" => &["vendor-page"],
        // .NET's HttpClient sends `application/json; charset=utf-8`.
        "media" => &["client:dotnet-httpclient"],
        // A refusal is a 4xx and nothing else: clients raise on anything but their success
        // codes, and a 5xx is the server's fault.
        "methods" | "bounds" | "lengths" => &["client:allie-sdk"],
        // An operation does to tokens what its effects say and nothing else: the SDK revokes
        // "the Access Tokens of an Alation API Refresh Token", not the user's others.
        _ => &["client:allie-sdk"],
    }
}

/// Every generated case for `spec`. An error means a generator wrote a case the loader
/// refuses: a bug here, or a contract whose extensions contradict each other.
pub fn cases(spec: &Spec) -> Result<Vec<Case>, Vec<Error>> {
    let g = Gen { spec };
    let mut probes = Vec::new();
    credentials::probes(&g, &mut probes);
    identity::probes(&g, &mut probes);
    text::probes(&g, &mut probes);
    media::probes(&g, &mut probes);
    methods::probes(&g, &mut probes);
    bounds::probes(&g, &mut probes);
    lengths::probes(&g, &mut probes);
    untouched::probes(&g, &mut probes);
    let (mut cases, mut errors) = (Vec::new(), Vec::new());
    for p in probes {
        let text =
            serde_json::to_string_pretty(&p.document()).expect("a JSON value always serialises");
        // Generated cases name the contract they come from; their steps have no line.
        match case::parse(&text, &spec.file, spec) {
            Ok(mut c) => {
                c.steps.iter_mut().for_each(|s| s.line = 0);
                c.generated = true;
                cases.push(c);
            }
            Err(mut e) => {
                e.message = format!("generated case {}: {}", p.id(), e.message);
                errors.push(e);
            }
        }
    }
    if errors.is_empty() {
        Ok(cases)
    } else {
        Err(errors)
    }
}

/// What the families share: the contract, and what it says about tokens.
struct Gen<'s> {
    spec: &'s Spec,
}

/// A token of one kind the probe holds: the steps that get it, and the captures that name its
/// value and its owner's id.
struct Holding {
    steps: Vec<Value>,
    value: &'static str,
    owner: &'static str,
}

impl<'s> Gen<'s> {
    /// The operations that name a token in their request, in operationId order.
    fn token_operations(&self) -> impl Iterator<Item = (&'s Operation, TokenKind)> {
        self.spec
            .operations
            .values()
            .filter_map(|o| Some((o, o.request_token.as_ref()?.kind)))
    }

    /// The operation that mints a token of `kind` from one of `from`.
    fn minting(&self, kind: TokenKind, from: TokenKind) -> Option<&'s Operation> {
        self.spec.operations.values().find(|o| {
            o.issues() == Some(kind) && o.request_token.as_ref().is_some_and(|t| t.kind == from)
        })
    }

    /// The documented 2xx statuses of `op`.
    fn success(op: &Operation) -> Vec<u16> {
        op.responses
            .keys()
            .copied()
            .filter(|s| (200..300).contains(s))
            .collect()
    }

    /// The body that names the token in captures `value` and `owner` to `op`.
    fn naming(op: &Operation, value: &str, owner: &str) -> Map<String, Value> {
        let mut body = Map::new();
        if let Some(t) = &op.request_token {
            body.insert(t.value.clone(), json!(value));
            if let Some(o) = &t.owner {
                body.insert(o.clone(), json!(owner));
            }
        }
        body
    }

    /// The steps that give the probe a live token of `kind` of the profile's user: a borrowed
    /// refresh token, and an access token minted from it. `None` when the contract offers no
    /// way to get one.
    fn hold(&self, kind: TokenKind) -> Option<Holding> {
        let shape = self.spec.token_shape(TokenKind::Refresh)?;
        let owner = shape.owner.as_ref()?;
        let borrow = json!({"borrow_refresh_token": {"capture": {
            "refresh": format!("body.{}", shape.value),
            "user_id": format!("body.{owner}"),
        }}});
        match kind {
            TokenKind::Refresh => Some(Holding {
                steps: vec![borrow],
                value: "{{ refresh }}",
                owner: "{{ user_id }}",
            }),
            TokenKind::Access => {
                let mint = self.minting(TokenKind::Access, TokenKind::Refresh)?;
                let access = self.spec.token_shape(TokenKind::Access)?;
                Some(Holding {
                    steps: vec![
                        borrow,
                        self.mint_step(mint, "{{ refresh }}", "access", &access.value),
                    ],
                    value: "{{ access }}",
                    owner: "{{ user_id }}",
                })
            }
        }
    }

    /// What `op` changes of the token it names lies also in the access tokens minted from
    /// it (`revoke-access-tokens-of`): the steps of [`Gen::hold`] and one more, so that a
    /// refusal that revokes them anyway can be seen.
    fn hold_for(&self, op: &Operation, kind: TokenKind) -> Option<Holding> {
        let mut held = self.hold(kind)?;
        let field = op.request_token.as_ref()?.value.clone();
        if kind == TokenKind::Refresh && Self::effects_on(op, &field).1.is_some() {
            let mint = self.minting(TokenKind::Access, TokenKind::Refresh)?;
            let access = self.spec.token_shape(TokenKind::Access)?;
            held.steps
                .push(self.mint_step(mint, held.value, "access", &access.value));
        }
        Some(held)
    }

    /// A step that mints from the refresh token in `from` and captures the new value as
    /// `capture`.
    fn mint_step(&self, mint: &Operation, from: &str, capture: &str, field: &str) -> Value {
        json!({
            "name": format!("mint {capture} to use"),
            "call": mint.id,
            "body": Self::naming(mint, from, "{{ user_id }}"),
            "expect": {"status": Self::success(mint)},
            "capture": {capture: format!("body.{field}")},
        })
    }

    /// The expectation for presenting a token the case knows is dead to `op`: refused, or,
    /// where `op` changes nothing (a validation), answered with a dead status word.
    fn dead(&self, op: &Operation) -> Value {
        let word_field = op
            .responses
            .values()
            .find_map(|d| d.token.as_ref()?.status.clone());
        let states = op.responses.values().find_map(|d| d.states.clone());
        match (op.effects.is_empty(), word_field, states) {
            (true, Some(field), Some(states)) => json!({"one_of": [
                {"refused": [401]},
                {"status": Self::success(op), "body": {field: {"one_of": [states.expired, states.revoked]}}},
            ]}),
            _ => json!({"refused": [401]}),
        }
    }

    /// Whether a successful call of `op` revokes the token in its request field `field`, and
    /// how firmly; and likewise for the access tokens minted from it.
    fn effects_on(op: &Operation, field: &str) -> (Option<&'static str>, Option<&'static str>) {
        let severity = |s: crate::spec::Severity| match s {
            crate::spec::Severity::Must => "must",
            crate::spec::Severity::Should => "should",
        };
        let (mut itself, mut children) = (None, None);
        for e in &op.effects {
            match e {
                Effect::Revoke {
                    field: f,
                    severity: s,
                } if f == field => {
                    itself = Some(severity(*s));
                }
                Effect::RevokeAccessTokensOf {
                    field: f,
                    severity: s,
                } if f == field => {
                    children = Some(severity(*s));
                }
                _ => {}
            }
        }
        (itself, children)
    }
}

/// A kebab-case variant name.
fn kebab(s: &str) -> String {
    s.replace('_', "-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{BUNDLED_SPEC, BUNDLED_SPEC_NAME};
    use std::path::Path;

    fn spec() -> Spec {
        Spec::parse(BUNDLED_SPEC, Path::new(BUNDLED_SPEC_NAME)).expect("the contract loads")
    }

    #[test]
    fn every_family_generates_loadable_cases_with_unique_ids() {
        let spec = spec();
        let cases = cases(&spec).unwrap_or_else(|e| panic!("{e:#?}"));
        let mut ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate generated ids");
        for family in [
            "credentials",
            "identity",
            "text",
            "media",
            "methods",
            "bounds",
            "lengths",
            "untouched",
        ] {
            let prefix = format!("generated.{family}.");
            assert!(
                cases.iter().any(|c| c.id.starts_with(&prefix)),
                "no case of the {family} family"
            );
        }
        assert!(
            cases
                .iter()
                .all(|c| c.generated && c.id.starts_with("generated."))
        );
    }

    #[test]
    fn a_new_operation_in_the_contract_gets_its_probes() {
        // A seventh operation that takes a refresh token, added to the contract alone.
        let extra = BUNDLED_SPEC.replacen(
            "  /integration/v1/revokeAPIAccessTokens/:",
            "  /integration/v1/describeRefreshToken/:\n    post:\n      operationId: describeRefreshToken\n      requestBody:\n        required: true\n        content:\n          application/json:\n            schema: { $ref: '#/components/schemas/RefreshTokenRequest' }\n          application/x-www-form-urlencoded:\n            schema: { $ref: '#/components/schemas/RefreshTokenRequest' }\n      responses:\n        '200':\n          description: the token\n          content:\n            application/json:\n              schema: { $ref: '#/components/schemas/RefreshToken' }\n        '400': { $ref: '#/components/responses/BadRequest' }\n        '401': { $ref: '#/components/responses/Unauthorized' }\n  /integration/v1/revokeAPIAccessTokens/:",
            1,
        );
        let spec =
            Spec::parse(&extra, Path::new("extra.yaml")).expect("the extended contract loads");
        let cases = cases(&spec).unwrap_or_else(|e| panic!("{e:#?}"));
        let of = |family: &str| {
            cases
                .iter()
                .filter(|c| {
                    c.id.starts_with(&format!("generated.{family}.describeRefreshToken."))
                })
                .count()
        };
        for family in [
            "credentials",
            "identity",
            "media",
            "methods",
            "bounds",
            "untouched",
        ] {
            assert!(of(family) > 0, "no {family} probe of the new operation");
        }
        // It takes two media types, so it gets the probes of two, not three.
        assert_eq!(of("media"), 4);
    }
}
