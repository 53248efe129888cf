//! Reading the document: `$ref`s resolved, `nullable` rewritten for Draft 4, a validator compiled
//! once per schema, and the `x-` extensions read into the model.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::model::{
    Effect, FieldSchema, Login, Operation, ResponseDoc, Severity, TokenKind, TokenShape,
};
use crate::error::{Error, ErrorKind, Place};

/// An effect as written in the document.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct EffectFile {
    #[serde(default)]
    pub(super) issues: Option<TokenKind>,
    #[serde(default)]
    pub(super) revoke: Option<String>,
    #[serde(default)]
    pub(super) revoke_access_tokens_of: Option<String>,
    #[serde(default)]
    pub(super) severity: Severity,
    /// What a MUST effect rests on (`crate::source::Source`'s spelling): one or a list.
    #[serde(default)]
    pub(super) source: Option<serde_json::Value>,
}

impl EffectFile {
    /// Its sources, checked: a MUST effect names at least one, each a source.
    fn sources(&self) -> Result<Vec<crate::source::Source>, String> {
        let texts: Vec<String> = match &self.source {
            None => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or("`source` is a list of strings")?,
            Some(_) => return Err("`source` is a string or a list of strings".into()),
        };
        let sources = texts
            .iter()
            .map(|t| crate::source::Source::parse(t).map_err(|e| e.message))
            .collect::<Result<Vec<_>, _>>()?;
        let must = self.severity == Severity::Must;
        if must && sources.is_empty() {
            return Err(
                "a MUST effect names no source (vendor-page, an RFC's MUST, client:NAME)".into(),
            );
        }
        Ok(sources)
    }

    pub(super) fn effect(self) -> Option<Effect> {
        let severity = self.severity;
        match (self.issues, self.revoke, self.revoke_access_tokens_of) {
            (Some(kind), None, None) => Some(Effect::Issues(kind)),
            (None, Some(field), None) => Some(Effect::Revoke { field, severity }),
            (None, None, Some(field)) => Some(Effect::RevokeAccessTokensOf { field, severity }),
            _ => None,
        }
    }
}

pub(super) fn spec_error(file: &Path, message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Spec, message).at(Place::file(file))
}

/// Escapes one JSON pointer segment.
pub(super) fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// What an operation's request body documents.
#[derive(Default)]
pub(super) struct Request {
    pub(super) types: Vec<String>,
    pub(super) fields: Vec<String>,
    pub(super) schema: BTreeMap<String, FieldSchema>,
    pub(super) token: Option<TokenShape>,
    pub(super) login: Option<Login>,
    pub(super) validator: Option<usize>,
}

/// Builds validators, one per distinct schema location.
pub(super) struct ValidatorSet<'a> {
    pub(super) doc: &'a Value,
    pub(super) file: &'a Path,
    pub(super) by_pointer: BTreeMap<String, usize>,
    pub(super) validators: Vec<jsonschema::Validator>,
}

impl<'a> ValidatorSet<'a> {
    pub(super) fn new(doc: &'a Value, file: &'a Path) -> Self {
        Self {
            doc,
            file,
            by_pointer: BTreeMap::new(),
            validators: Vec::new(),
        }
    }

    /// Follows `$ref`s (local ones only) from `pointer` to the object they name.
    pub(super) fn resolve(&self, pointer: &str) -> Result<(String, &'a Value), Error> {
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

    pub(super) fn validator(&mut self, pointer: &str) -> Result<usize, Error> {
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

    pub(super) fn operation(
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
            validator: request_validator,
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
            request_validator,
            effects: self.effects(id, op)?,
            responses,
            has_default,
        })
    }

    /// The request body's media types, declared fields, and `x-token` shape.
    pub(super) fn request(&mut self, op: &Value, base: &str) -> Result<Request, Error> {
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
                r.validator = Some(self.validator(&ptr)?);
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
    pub(super) fn field_schema(&self, pointer: &str) -> Result<FieldSchema, Error> {
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
    pub(super) fn response(&mut self, pointer: &str) -> Result<ResponseDoc, Error> {
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
    pub(super) fn token_shape(
        &self,
        pointer: &str,
        schema: &Value,
    ) -> Result<Option<TokenShape>, Error> {
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
    pub(super) fn effects(&self, id: &str, op: &Value) -> Result<Vec<Effect>, Error> {
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
                let sources = f.sources();
                let effect = f
                    .effect()
                    .ok_or_else(|| bad("give exactly one action".into()))?;
                sources.map_err(&bad)?;
                Ok(effect)
            })
            .collect()
    }

    /// Records the top-level properties of an object schema that checks care about.
    pub(super) fn describe(&self, schema: &Value, doc: &mut ResponseDoc) -> Result<(), Error> {
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
pub(super) fn secret_fields(doc: &Value) -> BTreeSet<String> {
    pub(super) fn walk(v: &Value, out: &mut BTreeSet<String>) {
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
pub(super) fn nullable_to_type_arrays(mut value: Value) -> Value {
    pub(super) fn walk(v: &mut Value) {
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
