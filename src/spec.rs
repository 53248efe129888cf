//! The OpenAPI 3.0 document: operations by operationId, the statuses each documents, and a
//! compiled JSON Schema validator for every documented response body.
//!
//! The document is read once at start-up. `openapiv3` checks its structure; body validation
//! works on the raw JSON of the document (openapiv3 resolves no `$ref`), with OpenAPI's
//! `nullable` rewritten to JSON Schema's `type: [T, "null"]` and validated as Draft 4, the
//! dialect OpenAPI 3.0 schemas are based on. Validators are built once, shared by schema, and
//! reused for every response.
//!
//! Two extensions carry what the checks need to know beyond plain OpenAPI, so that nothing the
//! contract says is copied into Rust: `x-token` on a schema names the roles of a token object's
//! fields, and `x-token-effects` on an operation says what a successful call does to tokens.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, ErrorKind, Place, did_you_mean};

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

/// An effect as written in the document.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct EffectFile {
    #[serde(default)]
    issues: Option<TokenKind>,
    #[serde(default)]
    revoke: Option<String>,
    #[serde(default)]
    revoke_access_tokens_of: Option<String>,
    #[serde(default)]
    severity: Severity,
}

impl EffectFile {
    fn effect(self) -> Option<Effect> {
        let severity = self.severity;
        match (self.issues, self.revoke, self.revoke_access_tokens_of) {
            (Some(kind), None, None) => Some(Effect::Issues(kind)),
            (None, Some(field), None) => Some(Effect::Revoke { field, severity }),
            (None, None, Some(field)) => Some(Effect::RevokeAccessTokensOf { field, severity }),
            _ => None,
        }
    }
}

/// One documented response of an operation.
#[derive(Clone, Debug)]
pub struct ResponseDoc {
    /// The validator of its JSON body, if it documents one (an index into the spec's validators).
    schema: Option<usize>,
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
    pub fn path_problem(&self, path: &str) -> Option<(String, Option<String>)> {
        let first = path.split('.').next().unwrap_or(path);
        if path == "$" || self.properties.is_empty() || self.properties.iter().any(|p| p == first) {
            return None;
        }
        match did_you_mean(first, self.properties.iter().map(String::as_str)) {
            Some(best) => Some((
                format!("the answer declares no field `{first}`"),
                Some(format!("did you mean `{best}`?")),
            )),
            None if self.closed => Some((
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
    pub fn issues(&self) -> Option<TokenKind> {
        self.effects.iter().find_map(|e| match e {
            Effect::Issues(kind) => Some(*kind),
            _ => None,
        })
    }
}

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

fn spec_error(file: &Path, message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Spec, message).at(Place::file(file))
}

/// Escapes one JSON pointer segment.
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
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
    pub fn token_shape(&self, kind: TokenKind) -> Option<&TokenShape> {
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
    pub fn regenerate(&self, kind: TokenKind) -> Option<&Operation> {
        self.operations.values().find(|o| {
            o.issues() == Some(kind) && o.request_token.as_ref().is_some_and(|t| t.kind == kind)
        })
    }

    /// The operation that revokes the access tokens minted from a refresh token.
    pub fn revoke_access_tokens(&self) -> Option<&Operation> {
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
        let Some(index) = response.schema else {
            return Vec::new();
        };
        let validator = &self.validators[index];
        validator
            .iter_errors(body)
            .take(limit)
            .map(|e| {
                let at = e.instance_path().to_string();
                let at = if at.is_empty() { "/".to_owned() } else { at };
                format!("at {at}: {e}")
            })
            .collect()
    }
}

/// What an operation's request body documents.
#[derive(Default)]
struct Request {
    types: Vec<String>,
    fields: Vec<String>,
    schema: BTreeMap<String, FieldSchema>,
    token: Option<TokenShape>,
    login: Option<Login>,
}

/// Builds validators, one per distinct schema location.
struct ValidatorSet<'a> {
    doc: &'a Value,
    file: &'a Path,
    by_pointer: BTreeMap<String, usize>,
    validators: Vec<jsonschema::Validator>,
}

impl<'a> ValidatorSet<'a> {
    fn new(doc: &'a Value, file: &'a Path) -> Self {
        Self {
            doc,
            file,
            by_pointer: BTreeMap::new(),
            validators: Vec::new(),
        }
    }

    /// Follows `$ref`s (local ones only) from `pointer` to the object they name.
    fn resolve(&self, pointer: &str) -> Result<(String, &'a Value), Error> {
        let mut pointer = pointer.to_owned();
        for _ in 0..16 {
            let value = self
                .doc
                .pointer(&pointer)
                .ok_or_else(|| spec_error(self.file, format!("nothing at #{pointer}")))?;
            match value.get("$ref").and_then(Value::as_str) {
                Some(r) => match r.strip_prefix('#') {
                    Some(local) => pointer = local.to_owned(),
                    None => {
                        return Err(spec_error(
                            self.file,
                            format!("#{pointer}: only local $refs are supported, not {r}"),
                        ));
                    }
                },
                None => return Ok((pointer, value)),
            }
        }
        Err(spec_error(
            self.file,
            format!("#{pointer}: $ref chain too long or circular"),
        ))
    }

    fn validator(&mut self, pointer: &str) -> Result<usize, Error> {
        if let Some(i) = self.by_pointer.get(pointer) {
            return Ok(*i);
        }
        // The whole document is the root, so every `#/components/...` ref resolves; its `$ref`
        // names the body schema. Draft 4 ignores the siblings of `$ref`.
        let mut root = self.doc.clone();
        if let Some(obj) = root.as_object_mut() {
            obj.insert("$ref".into(), Value::String(format!("#{pointer}")));
        }
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .should_validate_formats(true)
            .build(&root)
            .map_err(|e| {
                spec_error(
                    self.file,
                    format!("schema at #{pointer} does not compile: {e}"),
                )
            })?;
        self.validators.push(validator);
        let index = self.validators.len() - 1;
        self.by_pointer.insert(pointer.to_owned(), index);
        Ok(index)
    }

    fn operation(
        &mut self,
        id: &str,
        method: &str,
        path: &str,
        op: &Value,
        base: &str,
    ) -> Result<Operation, Error> {
        let Request {
            types: request_types,
            fields: request_fields,
            schema: request_schema,
            token: request_token,
            login,
        } = self.request(op, base)?;
        let mut responses = BTreeMap::new();
        let mut has_default = false;
        let listed = op
            .get("responses")
            .and_then(Value::as_object)
            .ok_or_else(|| spec_error(self.file, format!("{id} documents no responses")))?;
        for code in listed.keys() {
            if code == "default" {
                has_default = true;
                continue;
            }
            let status: u16 = code.parse().map_err(|_| {
                spec_error(
                    self.file,
                    format!("{id}: response `{code}` is not a status code (ranges like 4XX are not supported)"),
                )
            })?;
            let doc = self.response(&format!("{base}/responses/{}", escape(code)))?;
            responses.insert(status, doc);
        }
        Ok(Operation {
            id: id.to_owned(),
            method: method.to_uppercase(),
            path: path.to_owned(),
            request_types,
            request_fields,
            request_schema,
            request_token,
            login,
            effects: self.effects(id, op)?,
            responses,
            has_default,
        })
    }

    /// The request body's media types, declared fields, and `x-token` shape.
    fn request(&self, op: &Value, base: &str) -> Result<Request, Error> {
        let mut r = Request::default();
        if op.get("requestBody").is_none() {
            return Ok(r);
        }
        let (body_ptr, body) = self.resolve(&format!("{base}/requestBody"))?;
        let Some(content) = body.get("content").and_then(Value::as_object) else {
            return Ok(r);
        };
        for (media, m) in content {
            r.types.push(media.clone());
            if m.get("schema").is_some() && r.fields.is_empty() {
                let (ptr, schema) =
                    self.resolve(&format!("{body_ptr}/content/{}/schema", escape(media)))?;
                if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                    r.fields = props.keys().cloned().collect();
                    for name in props.keys() {
                        let at = format!("{ptr}/properties/{}", escape(name));
                        r.schema.insert(name.clone(), self.field_schema(&at)?);
                    }
                }
                r.token = self.token_shape(&ptr, schema)?;
                if let Some(login) = schema.get("x-login") {
                    r.login = Some(serde_json::from_value(login.clone()).map_err(|e| {
                        spec_error(self.file, format!("#{ptr}: `x-login` is malformed: {e}"))
                    })?);
                }
            }
        }
        Ok(r)
    }

    /// What the schema at `pointer` (a request field's) allows: its types, through `$ref` and
    /// `oneOf`/`anyOf`, and its `maxLength`.
    fn field_schema(&self, pointer: &str) -> Result<FieldSchema, Error> {
        let (at, schema) = self.resolve(pointer)?;
        let mut out = FieldSchema::default();
        match schema.get("type").and_then(Value::as_str) {
            Some("integer") => out.integer = true,
            Some("string") => {
                out.string = true;
                out.max_length = schema.get("maxLength").and_then(Value::as_u64);
            }
            _ => {}
        }
        for key in ["oneOf", "anyOf"] {
            let n = schema
                .get(key)
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            for i in 0..n {
                let part = self.field_schema(&format!("{at}/{key}/{i}"))?;
                out.integer |= part.integer;
                out.string |= part.string;
                out.max_length = out.max_length.or(part.max_length);
            }
        }
        Ok(out)
    }

    /// One documented response: its body's validator, date-time and enum fields, token shape.
    fn response(&mut self, pointer: &str) -> Result<ResponseDoc, Error> {
        let (resp_ptr, resp) = self.resolve(pointer)?;
        let json_media = resp
            .get("content")
            .and_then(Value::as_object)
            .and_then(|c| {
                c.keys()
                    .find(|m| m.as_str() == "application/json" || m.ends_with("+json"))
                    .cloned()
            });
        let mut doc = ResponseDoc {
            schema: None,
            schema_pointer: None,
            datetime_fields: Vec::new(),
            enum_fields: BTreeMap::new(),
            token: None,
            states: None,
            not_provokable: resp
                .get("x-not-provokable")
                .and_then(Value::as_str)
                .map(str::to_owned),
            alternative_to: resp
                .get("x-alternative-to")
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok()),
            properties: Vec::new(),
            closed: false,
        };
        if let Some(media) = json_media {
            let schema_ptr = format!("{resp_ptr}/content/{}/schema", escape(&media));
            if self.doc.pointer(&schema_ptr).is_some() {
                let (target, schema) = self.resolve(&schema_ptr)?;
                doc.schema = Some(self.validator(&schema_ptr)?);
                doc.schema_pointer = Some(format!("#{target}"));
                doc.token = self.token_shape(&target, schema)?;
                self.describe(schema, &mut doc)?;
            }
        }
        Ok(doc)
    }

    /// The `x-token` extension of the schema at `pointer`, checked against its properties.
    fn token_shape(&self, pointer: &str, schema: &Value) -> Result<Option<TokenShape>, Error> {
        let Some(raw) = schema.get("x-token") else {
            return Ok(None);
        };
        let shape: TokenShape = serde_json::from_value(raw.clone()).map_err(|e| {
            spec_error(
                self.file,
                format!("#{pointer}: `x-token` is malformed: {e}"),
            )
        })?;
        let props = schema.get("properties").and_then(Value::as_object);
        let named = [
            Some(&shape.value),
            shape.owner.as_ref(),
            shape.created.as_ref(),
            shape.expires.as_ref(),
            shape.status.as_ref(),
            shape.used.as_ref(),
        ];
        for field in named.into_iter().flatten() {
            if !props.is_some_and(|p| p.contains_key(field)) {
                return Err(spec_error(
                    self.file,
                    format!(
                        "#{pointer}: `x-token` names `{field}`, which the schema does not declare"
                    ),
                ));
            }
        }
        Ok(Some(shape))
    }

    /// The `x-token-effects` of an operation.
    fn effects(&self, id: &str, op: &Value) -> Result<Vec<Effect>, Error> {
        let Some(raw) = op.get("x-token-effects") else {
            return Ok(Vec::new());
        };
        let bad = |why: String| {
            spec_error(self.file, format!("{id}: `x-token-effects` is malformed: {why}"))
                .hint("each effect is {revoke: FIELD, severity: must|should} or {revoke-access-tokens-of: FIELD, severity: ...}")
        };
        let files: Vec<EffectFile> =
            serde_json::from_value(raw.clone()).map_err(|e| bad(e.to_string()))?;
        files
            .into_iter()
            .map(|f| {
                f.effect()
                    .ok_or_else(|| bad("give exactly one action".into()))
            })
            .collect()
    }

    /// Records the top-level properties of an object schema that checks care about.
    fn describe(&self, schema: &Value, doc: &mut ResponseDoc) -> Result<(), Error> {
        let Some(props) = schema.get("properties").and_then(Value::as_object) else {
            return Ok(());
        };
        doc.properties = props.keys().cloned().collect();
        doc.closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
        for (name, prop) in props {
            let resolved = match prop.get("$ref").and_then(Value::as_str) {
                Some(r) => self.resolve(r.trim_start_matches('#'))?.1,
                None => prop,
            };
            if resolved.get("format").and_then(Value::as_str) == Some("date-time") {
                doc.datetime_fields.push(name.clone());
            }
            if let Some(states) = resolved.get("x-states") {
                doc.states = Some(serde_json::from_value(states.clone()).map_err(|e| {
                    spec_error(
                        self.file,
                        format!("`x-states` of `{name}` is malformed: {e}"),
                    )
                })?);
            }
            if let Some(values) = resolved.get("enum").and_then(Value::as_array) {
                doc.enum_fields.insert(
                    name.clone(),
                    values
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect(),
                );
            }
        }
        Ok(())
    }
}

/// Every field the document marks as secret: `format: password`, and the value of every
/// `x-token`. Reports redact their values wherever they appear.
fn secret_fields(doc: &Value) -> BTreeSet<String> {
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(f)) = map.get("x-token").and_then(|t| t.get("value")) {
                    out.insert(f.clone());
                }
                if let Some(Value::Object(props)) = map.get("properties") {
                    for (name, p) in props {
                        if p.get("format").and_then(Value::as_str) == Some("password") {
                            out.insert(name.clone());
                        }
                    }
                }
                map.values().for_each(|c| walk(c, out));
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(doc, &mut out);
    out
}

/// Rewrites OpenAPI 3.0's `nullable: true` into JSON Schema: `type: T` becomes `type: [T, "null"]`,
/// and an `enum` gains `null`.
fn nullable_to_type_arrays(mut value: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                if map.get("nullable") == Some(&Value::Bool(true)) {
                    if let Some(Value::String(t)) = map.get("type").cloned() {
                        map.insert("type".into(), serde_json::json!([t, "null"]));
                    }
                    if let Some(Value::Array(values)) = map.get_mut("enum")
                        && !values.contains(&Value::Null)
                    {
                        values.push(Value::Null);
                    }
                }
                map.remove("nullable");
                for child in map.values_mut() {
                    walk(child);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut value);
    value
}

/// The contract shipped with the harness, compiled into the binary so that `run` works from any
/// directory.
pub const BUNDLED_SPEC: &str = include_str!("../specs/token-auth.openapi.yaml");

/// The file name under which [`BUNDLED_SPEC`] is reported.
pub const BUNDLED_SPEC_NAME: &str = "the built-in contract (specs/token-auth.openapi.yaml)";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bundled() -> Spec {
        Spec::parse(BUNDLED_SPEC, Path::new(BUNDLED_SPEC_NAME)).expect("bundled spec loads")
    }

    #[test]
    fn bundled_spec_has_six_operations_with_their_statuses() {
        let spec = bundled();
        let ids: Vec<&str> = spec.operations.keys().map(String::as_str).collect();
        assert_eq!(
            ids,
            [
                "createAPIAccessToken",
                "createRefreshToken",
                "regenRefreshToken",
                "revokeAPIAccessTokens",
                "validateAPIAccessToken",
                "validateRefreshToken"
            ]
        );
        let create = spec.operation("createRefreshToken").expect("op");
        assert_eq!(create.method, "POST");
        assert_eq!(
            create.responses.keys().copied().collect::<Vec<_>>(),
            [201, 400, 401, 403, 404, 413, 415, 429, 500, 503]
        );
        assert_eq!(create.request_types.len(), 3);
        let created = create.response(201).expect("201");
        assert_eq!(
            created.datetime_fields,
            ["created_at", "last_used_at", "token_expires_at"]
        );
        assert!(created.enum_fields.contains_key("token_status"));
        assert!(
            !spec
                .operation("regenRefreshToken")
                .expect("op")
                .documents(204)
        );
    }

    #[test]
    fn token_roles_states_and_effects_come_from_the_extensions() {
        let spec = bundled();
        let validate = spec.operation("validateRefreshToken").expect("op");
        let shape = validate
            .response(200)
            .and_then(|d| d.token.clone())
            .expect("x-token");
        assert_eq!(shape.kind, TokenKind::Refresh);
        assert_eq!(shape.value, "refresh_token");
        assert_eq!(shape.status.as_deref(), Some("token_status"));
        let states = validate
            .response(200)
            .and_then(|d| d.states.clone())
            .expect("x-states");
        assert_eq!(states.revoked, "REVOKED");
        assert_eq!(
            validate.request_token.as_ref().map(|t| t.kind),
            Some(TokenKind::Refresh)
        );
        assert!(validate.effects.is_empty());
        let regen = spec.operation("regenRefreshToken").expect("op");
        assert_eq!(
            regen.effects,
            [
                Effect::Issues(TokenKind::Refresh),
                Effect::Revoke {
                    field: "refresh_token".into(),
                    severity: Severity::Must
                },
                Effect::RevokeAccessTokensOf {
                    field: "refresh_token".into(),
                    severity: Severity::Should
                }
            ]
        );
        assert_eq!(
            spec.operation("createAPIAccessToken").expect("op").issues(),
            Some(TokenKind::Access)
        );
        let create = spec.operation("createRefreshToken").expect("op");
        assert!(
            create
                .response(500)
                .and_then(|d| d.not_provokable.as_ref())
                .is_some()
        );
        assert!(
            create
                .response(429)
                .and_then(|d| d.not_provokable.as_ref())
                .is_none()
        );
        assert_eq!(
            spec.login().map(|o| o.id.as_str()),
            Some("createRefreshToken")
        );
        assert_eq!(
            spec.regenerate(TokenKind::Refresh).map(|o| o.id.as_str()),
            Some("regenRefreshToken")
        );
        assert_eq!(
            spec.revoke_access_tokens().map(|o| o.id.as_str()),
            Some("revokeAPIAccessTokens")
        );
        assert_eq!(
            spec.validation(TokenKind::Access).map(|o| o.id.as_str()),
            Some("validateAPIAccessToken")
        );
        let secrets: Vec<&str> = spec.secret_fields.iter().map(String::as_str).collect();
        assert_eq!(secrets, ["api_access_token", "password", "refresh_token"]);
    }

    #[test]
    fn malformed_extensions_are_spec_errors() {
        let with = |schema_ext: &str, op_ext: &str| {
            format!(
                "openapi: 3.0.3\ninfo: {{title: t, version: '1'}}\npaths:\n  /a:\n    post:\n      operationId: a\n{op_ext}      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema:\n                type: object\n{schema_ext}                properties: {{v: {{type: string}}}}\n"
            )
        };
        for (text, needle) in [
            (
                with("                x-token: {kind: refresh, value: w}\n", ""),
                "`x-token` names `w`",
            ),
            (
                with("                x-token: {kind: bearer, value: v}\n", ""),
                "`x-token` is malformed",
            ),
            (
                with("", "      x-token-effects: [{severity: must}]\n"),
                "give exactly one action",
            ),
        ] {
            let e = Spec::parse(&text, Path::new("x.yaml")).expect_err(&text);
            assert!(e.to_string().contains(needle), "{e}");
        }
        let fine = with("                x-token: {kind: access, value: v}\n", "");
        Spec::parse(&fine, Path::new("x.yaml")).expect("a well-formed x-token loads");
    }

    #[test]
    fn validates_bodies_with_nullable_and_formats() {
        let spec = bundled();
        let doc = spec
            .operation("createRefreshToken")
            .expect("op")
            .response(201)
            .expect("201");
        let mut good = json!({
            "user_id": 1, "created_at": "2026-11-28T02:10:46.588497Z",
            "token_expires_at": "2027-01-27T02:10:46.588497Z", "token_status": "ACTIVE",
            "last_used_at": null, "name": "n", "refresh_token": "abc"
        });
        assert!(spec.validate(doc, &good, 10).is_empty());
        good["created_at"] = json!("yesterday");
        good["token_status"] = json!("VALID");
        good["user_id"] = json!("1");
        let errors = spec.validate(doc, &good, 10);
        assert_eq!(errors.len(), 3, "{errors:#?}");
        assert!(
            errors.iter().any(|e| e.starts_with("at /user_id")),
            "{errors:#?}"
        );
    }

    #[test]
    fn unknown_operation_suggests_the_closest() {
        let e = bundled()
            .operation("validateRefreshTokn")
            .expect_err("unknown");
        assert_eq!(
            e.hint.as_deref(),
            Some("did you mean `validateRefreshToken`?")
        );
    }

    #[test]
    fn broken_documents_are_errors_not_panics() {
        let file = Path::new("x.yaml");
        for (text, needle) in [
            (
                "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n",
                "unsupported OpenAPI version 3.1.0",
            ),
            ("swagger: '2.0'\n", "no `openapi` version"),
            (
                "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n",
                "no operations",
            ),
            ("openapi: 3.0.3\ninfo: [\n", "x.yaml:2: unclosed bracket"),
            (
                "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    post:\n      operationId: a\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {$ref: '#/components/schemas/Missing'}\n",
                "nothing at #/components/schemas/Missing",
            ),
        ] {
            let e = Spec::parse(text, file).expect_err(text);
            assert_eq!(e.kind, ErrorKind::Spec);
            assert!(e.to_string().contains(needle), "{e}");
        }
    }

    /// Every example in the contract (taken from the reference server's output) matches the
    /// schema it illustrates, and the control protocol's document loads too.
    #[test]
    fn examples_match_their_schemas_and_the_control_document_loads() {
        let spec = bundled();
        let raw: Value =
            crate::yaml::parse(BUNDLED_SPEC, Path::new(BUNDLED_SPEC_NAME), ErrorKind::Spec)
                .expect("yaml");
        let mut checked = 0;
        for op in spec.operations.values() {
            for (status, doc) in &op.responses {
                let mut response = raw
                    .pointer(&format!(
                        "/paths/{}/post/responses/{status}",
                        escape(&op.path)
                    ))
                    .expect("response");
                if let Some(r) = response.get("$ref").and_then(Value::as_str) {
                    response = raw.pointer(r.trim_start_matches('#')).expect("ref");
                }
                let Some(example) = response.pointer("/content/application~1json/example") else {
                    continue;
                };
                let errors = spec.validate(doc, example, 5);
                assert!(errors.is_empty(), "{} {status}: {errors:?}", op.id);
                checked += 1;
            }
        }
        assert_eq!(checked, 51, "every documented response has an example");
        let control = Spec::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/conformance-control.openapi.yaml"),
        )
        .expect("control document loads");
        assert_eq!(control.operations.len(), 8);
    }

    /// Every OpenAPI link names an operation of the contract, fills exactly the fields that
    /// operation requires, and takes each from a field the linking response has, so stateful
    /// tools (schemathesis) chain real calls rather than guesses.
    #[test]
    fn links_fill_their_targets_required_fields_from_the_response() {
        let raw: Value =
            crate::yaml::parse(BUNDLED_SPEC, Path::new(BUNDLED_SPEC_NAME), ErrorKind::Spec)
                .expect("yaml");
        let deref = |v: &'_ Value| -> Value {
            match v.get("$ref").and_then(Value::as_str) {
                Some(r) => raw.pointer(r.trim_start_matches('#')).expect("ref").clone(),
                None => v.clone(),
            }
        };
        let schema_of = |body: &Value| deref(&body["content"]["application/json"]["schema"]);
        let paths = raw["paths"].as_object().expect("paths");
        let request_of = |id: &str| {
            paths
                .values()
                .map(|p| &p["post"])
                .find(|op| op["operationId"] == id)
                .map(|op| schema_of(&op["requestBody"]))
        };
        let mut linked = BTreeSet::new();
        for op in paths.values().map(|p| &p["post"]) {
            for (status, response) in op["responses"].as_object().expect("responses") {
                let response = deref(response);
                let Some(links) = response.get("links").and_then(Value::as_object) else {
                    continue;
                };
                let source = schema_of(&response);
                for link in links.values().map(deref) {
                    let target = link["operationId"].as_str().expect("operationId");
                    let wanted = request_of(target).unwrap_or_else(|| panic!("{target}"));
                    let body = link["requestBody"].as_object().expect("requestBody");
                    let mut required: Vec<&str> = wanted["required"]
                        .as_array()
                        .expect("required")
                        .iter()
                        .filter_map(Value::as_str)
                        .collect();
                    required.sort_unstable();
                    assert_eq!(
                        body.keys().map(String::as_str).collect::<Vec<_>>(),
                        required,
                        "{} {status} -> {target}",
                        op["operationId"]
                    );
                    for expr in body.values() {
                        let field = expr
                            .as_str()
                            .and_then(|e| e.strip_prefix("$response.body#/"))
                            .unwrap_or_else(|| panic!("{expr}"));
                        assert!(
                            source["properties"].get(field).is_some(),
                            "{} {status} has no {field}",
                            op["operationId"]
                        );
                    }
                    linked.insert(format!("{} -> {target}", op["operationId"]));
                }
            }
        }
        assert_eq!(linked.len(), 9, "{linked:?}");
    }
}
