//! The loaded contract ([`Spec`]) and the questions the harness asks it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::build::{ValidatorSet, escape, nullable_to_type_arrays, secret_fields, spec_error};
use super::model::{Effect, Operation, ResponseDoc, TokenKind, TokenShape};
use crate::error::{Error, ErrorKind, did_you_mean};

/// The loaded contract.
pub struct Spec {
    /// Where it was read from.
    pub file: PathBuf,
    /// `info.title`.
    pub title: String,
    /// `info.version`.
    pub version: String,
    /// Operations by operationId.
    pub operations: BTreeMap<String, Operation>,
    /// Fields whose values are secrets: `format: password`, and every token value field.
    pub secret_fields: BTreeSet<String>,
    validators: Vec<jsonschema::Validator>,
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spec")
            .field("file", &self.file)
            .field("version", &self.version)
            .field("operations", &self.operations.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Spec {
    /// Reads and compiles the document at `file`.
    pub fn load(file: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| spec_error(file, format!("cannot read the OpenAPI document: {e}")))?;
        Self::parse(&text, file)
    }

    /// Compiles a document given as text (`file` names it in messages).
    pub fn parse(text: &str, file: &Path) -> Result<Self, Error> {
        let raw: Value = crate::yaml::parse(text, file, ErrorKind::Spec)?;
        let version = raw.get("openapi").and_then(Value::as_str).ok_or_else(|| {
            spec_error(
                file,
                "no `openapi` version string at the top of the document",
            )
            .hint("this harness reads OpenAPI 3.0.x documents")
        })?;
        if !version.starts_with("3.0.") {
            return Err(
                spec_error(file, format!("unsupported OpenAPI version {version}"))
                    .hint("this harness reads OpenAPI 3.0.x documents"),
            );
        }
        // Structure check only: a document openapiv3 cannot read is not OpenAPI 3.0.
        serde_json::from_value::<openapiv3::OpenAPI>(raw.clone())
            .map_err(|e| spec_error(file, format!("not a valid OpenAPI 3.0 document: {e}")))?;

        let doc = nullable_to_type_arrays(raw.clone());
        let mut builder = ValidatorSet::new(&doc, file);
        let mut operations = BTreeMap::new();
        let paths = raw
            .get("paths")
            .and_then(Value::as_object)
            .ok_or_else(|| spec_error(file, "the document has no `paths`"))?;
        for (path, item) in paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            for method in [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ] {
                let Some(op) = item.get(method) else { continue };
                let base = format!("/paths/{}/{method}", escape(path));
                let id = op
                    .get("operationId")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        spec_error(
                            file,
                            format!("{} {path} has no operationId", method.to_uppercase()),
                        )
                    })?
                    .to_owned();
                let operation = builder.operation(&id, method, path, op, &base)?;
                if operations.insert(id.clone(), operation).is_some() {
                    return Err(spec_error(file, format!("operationId {id} is used twice")));
                }
            }
        }
        if operations.is_empty() {
            return Err(spec_error(file, "the document defines no operations"));
        }
        Ok(Self {
            file: file.to_owned(),
            title: raw
                .pointer("/info/title")
                .and_then(Value::as_str)
                .unwrap_or("untitled")
                .to_owned(),
            version: raw
                .pointer("/info/version")
                .and_then(Value::as_str)
                .unwrap_or("unversioned")
                .to_owned(),
            operations,
            secret_fields: secret_fields(&raw),
            validators: builder.validators,
        })
    }

    /// The operation with this operationId, or an error with a "did you mean".
    pub fn operation(&self, id: &str) -> Result<&Operation, Error> {
        self.operations.get(id).ok_or_else(|| {
            let mut e = Error::new(
                ErrorKind::Case,
                format!("no operation `{id}` in {}", self.file.display()),
            );
            if let Some(best) = did_you_mean(id, self.operations.keys().map(String::as_str)) {
                e = e.hint(format!("did you mean `{best}`?"));
            }
            e
        })
    }

    /// The shape of the token objects of `kind` that responses carry.
    pub(crate) fn token_shape(&self, kind: TokenKind) -> Option<&TokenShape> {
        self.operations
            .values()
            .flat_map(|o| o.responses.values())
            .filter_map(|d| d.token.as_ref())
            .find(|t| t.kind == kind)
    }

    /// The operation that logs in and issues a refresh token (`x-login`).
    pub fn login(&self) -> Option<&Operation> {
        self.operations.values().find(|o| o.login.is_some())
    }

    /// The operation that regenerates a token of `kind`: it issues one and revokes the one its
    /// request names.
    pub(crate) fn regenerate(&self, kind: TokenKind) -> Option<&Operation> {
        self.operations.values().find(|o| {
            o.issues() == Some(kind) && o.request_token.as_ref().is_some_and(|t| t.kind == kind)
        })
    }

    /// The operation that revokes the access tokens minted from a refresh token.
    pub(crate) fn revoke_access_tokens(&self) -> Option<&Operation> {
        self.operations.values().find(|o| {
            o.issues().is_none()
                && o.effects
                    .iter()
                    .any(|e| matches!(e, Effect::RevokeAccessTokensOf { .. }))
        })
    }

    /// The operation that validates a token of `kind`: it names one and changes nothing.
    pub fn validation(&self, kind: TokenKind) -> Option<&Operation> {
        self.operations.values().find(|o| {
            o.effects.is_empty() && o.request_token.as_ref().is_some_and(|t| t.kind == kind)
        })
    }

    /// Validates `body` against the schema documented for `status`; returns one line per
    /// violation (at most `limit`), each naming the JSON location.
    pub fn validate(&self, response: &ResponseDoc, body: &Value, limit: usize) -> Vec<String> {
        self.violations(response.schema, body, limit, false)
    }

    /// Validates a request body's fields against the operation's request schema, like
    /// [`Spec::validate`]. The lines never quote a value: a request's values are the client's
    /// secrets (its password, its tokens).
    pub(crate) fn validate_request(
        &self,
        op: &Operation,
        body: &Value,
        limit: usize,
    ) -> Vec<String> {
        self.violations(op.request_validator, body, limit, true)
    }

    fn violations(
        &self,
        schema: Option<usize>,
        body: &Value,
        limit: usize,
        mask: bool,
    ) -> Vec<String> {
        let Some(validator) = schema.and_then(|i| self.validators.get(i)) else {
            return Vec::new();
        };
        validator
            .iter_errors(body)
            .take(limit)
            .map(|e| {
                let at = e.instance_path().to_string();
                let at = if at.is_empty() { "/".to_owned() } else { at };
                if mask {
                    format!("at {at}: {}", e.masked_with("the value"))
                } else {
                    format!("at {at}: {e}")
                }
            })
            .collect()
    }
}

/// The contract shipped with the harness, compiled into the binary so that `run` works from any
/// directory.
pub const BUNDLED_SPEC: &str = include_str!("../../specs/token-auth.openapi.yaml");

/// The file name under which [`BUNDLED_SPEC`] is reported.
pub const BUNDLED_SPEC_NAME: &str = "the built-in contract (specs/token-auth.openapi.yaml)";
