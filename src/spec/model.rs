//! What the contract says, as the harness uses it: operations, their documented responses and
//! the roles of token fields (`x-token`), and what a call does to tokens (`x-token-effects`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{Problem, did_you_mean};

/// How firmly the contract requires something: MUST failures fail a run, SHOULD ones warn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A requirement of the contract.
    #[default]
    Must,
    /// A recommendation; a failure is a warning.
    Should,
}

impl Severity {
    /// Upper-case name, as in RFC 2119.
    pub fn name(self) -> &'static str {
        match self {
            Self::Must => "MUST",
            Self::Should => "SHOULD",
        }
    }
}

impl serde::Serialize for Severity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The two kinds of token the contract knows (`x-token: {kind: refresh|access}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// A RefreshToken.
    Refresh,
    /// An API access token.
    Access,
}

impl TokenKind {
    /// For messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Refresh => "refresh token",
            Self::Access => "access token",
        }
    }

    /// `lifespan` as every report writes it: in the unit the target is configured in (days
    /// for refresh tokens, hours for access tokens), so `run`, `proxy` and a finding all say
    /// `24h` of the same access token lifespan, never `1d` in one place and `24h` in another.
    pub fn lifespan_text(self, lifespan: crate::duration::Span) -> String {
        let unit = match self {
            Self::Refresh => crate::duration::Span::from_secs(86_400),
            Self::Access => crate::duration::Span::from_secs(3_600),
        };
        lifespan.in_units_of(unit)
    }
}

/// The roles of a token object's fields, from `x-token` on its schema.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenShape {
    /// Which kind of token.
    pub kind: TokenKind,
    /// The field that holds the value.
    pub value: String,
    /// The field that holds the owner's user id.
    #[serde(default)]
    pub owner: Option<String>,
    /// The creation timestamp's field (response objects only).
    #[serde(default)]
    pub created: Option<String>,
    /// The expiry timestamp's field (response objects only).
    #[serde(default)]
    pub expires: Option<String>,
    /// The status field (response objects only).
    #[serde(default)]
    pub status: Option<String>,
    /// The field that says when the token was last used to mint another (response objects
    /// only): a refused request must not move it.
    #[serde(default)]
    pub used: Option<String>,
    /// The name given at creation (response objects only), which a regenerated token keeps.
    #[serde(default)]
    pub name: Option<String>,
}

/// The fields of the login request (`x-login` on its schema).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The username field.
    pub username: String,
    /// The password field.
    pub password: String,
    /// The token name field.
    pub name: String,
}

/// The canonical word of each token state, from `x-states` on the status enum's schema.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct States {
    /// Usable.
    pub active: String,
    /// Past its expiry.
    pub expired: String,
    /// Revoked.
    pub revoked: String,
}

/// What a successful call does to tokens (`x-token-effects`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The response carries a new token of this kind.
    Issues(TokenKind),
    /// The token a request field names is revoked.
    Revoke {
        /// The request field.
        field: String,
        /// How firmly the contract requires it.
        severity: Severity,
    },
    /// Every access token minted from the refresh token a request field names is revoked.
    RevokeAccessTokensOf {
        /// The request field.
        field: String,
        /// How firmly the contract requires it.
        severity: Severity,
    },
}

/// One documented response of an operation.
#[derive(Clone, Debug)]
pub struct ResponseDoc {
    /// The validator of its JSON body, if it documents one (an index into the spec's validators).
    pub(super) schema: Option<usize>,
    /// The JSON pointer of the body schema in the document, for messages.
    pub schema_pointer: Option<String>,
    /// Top-level properties of the body documented as `format: date-time`.
    pub datetime_fields: Vec<String>,
    /// Top-level properties whose schema is a string enum, with the allowed values.
    pub enum_fields: BTreeMap<String, Vec<String>>,
    /// The roles of the body's fields, when the body is a token object.
    pub token: Option<TokenShape>,
    /// The canonical state words of the body's status field, when it has one.
    pub states: Option<States>,
    /// Why no request to a correct server provokes this response (`x-not-provokable`), when
    /// none can.
    pub not_provokable: Option<String>,
    /// The status this one is an alternative to (`x-alternative-to`): an implementation
    /// answers one or the other.
    pub alternative_to: Option<u16>,
    /// The top-level properties its JSON body declares (empty when it declares none).
    pub properties: Vec<String>,
    /// Whether the body may have no other properties (`additionalProperties: false`).
    pub closed: bool,
}

impl ResponseDoc {
    /// What is wrong with a body path (`detail`, `a.b`, `$`) a case reads from this response,
    /// if anything: a first segment the schema does not declare, and that is one typo away from
    /// one it does (or any undeclared one, where the schema allows no others). The message and
    /// a hint.
    pub(crate) fn path_problem(&self, path: &str) -> Option<Problem> {
        let first = path.split('.').next().unwrap_or(path);
        if path == "$" || self.properties.is_empty() || self.properties.iter().any(|p| p == first) {
            return None;
        }
        match did_you_mean(first, self.properties.iter().map(String::as_str)) {
            Some(best) => Some(Problem::of(
                format!("the answer declares no field `{first}`"),
                Some(format!("did you mean `{best}`?")),
            )),
            None if self.closed => Some(Problem::of(
                format!("the answer declares no field `{first}`"),
                Some(format!("its fields are {}", self.properties.join(", "))),
            )),
            None => None,
        }
    }
}

/// What a request field's schema allows, as far as the generated probes need it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSchema {
    /// It takes an integer (alone, or as one of `oneOf`'s forms).
    pub integer: bool,
    /// It takes a string.
    pub string: bool,
    /// Its `maxLength`, when it is a string with one.
    pub max_length: Option<u64>,
}

/// One operation.
#[derive(Clone, Debug)]
pub struct Operation {
    /// The operationId.
    pub id: String,
    /// The HTTP method, upper case.
    pub method: String,
    /// The path, e.g. `/integration/v1/createRefreshToken/`.
    pub path: String,
    /// The request content types the operation documents.
    pub request_types: Vec<String>,
    /// The request body's declared fields.
    pub request_fields: Vec<String>,
    /// What the request schema says of each declared field that the generated probes vary.
    pub request_schema: BTreeMap<String, FieldSchema>,
    /// The token the request names, when its body schema is marked with `x-token`.
    pub request_token: Option<TokenShape>,
    /// The login fields, when the request is a login (`x-login`).
    pub login: Option<Login>,
    /// The validator of the request body's schema (an index into the spec's validators).
    pub(super) request_validator: Option<usize>,
    /// What a successful call does to the tokens its request names.
    pub effects: Vec<Effect>,
    /// Documented statuses and their bodies.
    pub responses: BTreeMap<u16, ResponseDoc>,
    /// A `default` response documents every other status.
    pub has_default: bool,
}

impl Operation {
    /// The documentation of `status`, if the operation documents it.
    pub fn response(&self, status: u16) -> Option<&ResponseDoc> {
        self.responses.get(&status)
    }

    /// Whether the operation documents `status`.
    pub fn documents(&self, status: u16) -> bool {
        self.has_default || self.responses.contains_key(&status)
    }

    /// The kind of token a successful call issues, if it issues one.
    pub(crate) fn issues(&self) -> Option<TokenKind> {
        self.effects.iter().find_map(|e| match e {
            Effect::Issues(kind) => Some(*kind),
            _ => None,
        })
    }
}
