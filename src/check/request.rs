//! `request.method`, `request.media_type`, `request.body`: the checks of a request against the
//! contract. A run never applies them (it breaks the contract on purpose to see the refusals);
//! the proxy applies them to the traffic of real clients, and a finding is the **client's**.

use std::cell::RefCell;
use std::collections::HashSet;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::{CheckInfo, Finding, Findings};
use crate::spec::{Operation, Spec};
use crate::wire;

/// A request the harness did not write, as the request checks judge it: its record, borrowed.
pub struct RequestExchange<'a> {
    /// The contract.
    pub spec: &'a Spec,
    /// The operation whose path it was sent to.
    pub operation: &'a Operation,
    /// The request as the client sent it.
    pub request: &'a wire::Request,
}

impl RequestExchange<'_> {
    /// The method sent.
    pub fn method(&self) -> &str {
        &self.request.method
    }

    /// The `Content-Type` header, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.request.header("content-type")
    }

    /// The `Content-Encoding` header, if any: a body in another coding than `identity` is not
    /// read (whether the target takes it is the target's business).
    pub fn content_encoding(&self) -> Option<&str> {
        self.request.header("content-encoding")
    }
}

/// The signature of a request check.
pub type RequestCheckFn = fn(&RequestExchange<'_>, &mut Findings);

/// The operation's method.
pub(crate) const METHOD: CheckInfo = CheckInfo::must(
    "request.method",
    "(client) A request to an operation's path uses the method the contract documents for it.",
)
.because(&["vendor-page"]);
/// A documented media type.
pub(crate) const MEDIA_TYPE: CheckInfo = CheckInfo::must(
    "request.media_type",
    "(client) A request's `Content-Type` is one the operation documents; its parameters and letter case aside.",
)
.because(&["vendor-page"]);
/// A body the schema accepts.
pub(crate) const BODY: CheckInfo = CheckInfo::must(
    "request.body",
    "(client) A request's body parses in its media type, gives no field twice, and matches the operation's request schema.",
)
.because(&["vendor-page"]);

/// Whether `id` is a request check's: a finding about the client, never the target.
pub(crate) fn is_client_check(id: &str) -> bool {
    REQUEST_CHECKS.iter().any(|(info, _)| info.id == id)
}

/// Every request check, in the order it runs and CHECKS.md lists it.
pub(crate) const REQUEST_CHECKS: &[(CheckInfo, RequestCheckFn)] =
    &[(METHOD, method), (MEDIA_TYPE, media_type), (BODY, body)];

/// Judges a request with every request check.
pub(crate) fn judge_request(r: &RequestExchange<'_>) -> Findings {
    let mut out = Findings::default();
    for (_, check) in REQUEST_CHECKS {
        check(r, &mut out);
    }
    out
}

/// `request.method`.
pub fn method(r: &RequestExchange<'_>, out: &mut Findings) {
    if !r.method().eq_ignore_ascii_case(&r.operation.method) {
        out.push(
            Finding::new(
                METHOD,
                format!("{} takes {}", r.operation.id, r.operation.method),
            )
            .values(r.operation.method.clone(), r.method()),
        );
    }
}

/// Whether the request's media type is one the operation takes.
fn documented_type(r: &RequestExchange<'_>) -> bool {
    r.content_type().is_some_and(|ct| {
        let e = crate::encoding::essence(ct);
        r.operation
            .request_types
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&e))
    })
}

/// `request.media_type`.
pub fn media_type(r: &RequestExchange<'_>, out: &mut Findings) {
    if r.operation.request_types.is_empty() || !r.method().eq_ignore_ascii_case(&r.operation.method)
    {
        return;
    }
    if !documented_type(r) {
        out.push(
            Finding::new(
                MEDIA_TYPE,
                format!("{} takes no body of this media type", r.operation.id),
            )
            .values(
                r.operation.request_types.join(", "),
                r.content_type().unwrap_or("no Content-Type"),
            ),
        );
    }
}

/// The fields of the body, or what is wrong with it.
fn fields(content_type: &str, body: &[u8]) -> Result<Map<String, Value>, String> {
    match crate::encoding::essence(content_type).as_str() {
        "application/json" => match serde_json::from_slice::<Value>(body) {
            // serde_json keeps the last of a repeated key without a word; servers differ on
            // which one they take (the self-test's Django-built variant takes the last), so a
            // client that sends one does not know what the target read.
            Ok(Value::Object(m)) => match repeated_key(body) {
                Some(k) => Err(format!("the field `{k}` is given twice")),
                None => Ok(m),
            },
            Ok(other) => Err(format!(
                "the JSON body is {}, not an object",
                match other {
                    Value::Array(_) => "an array",
                    Value::String(_) => "a string",
                    Value::Number(_) => "a number",
                    Value::Bool(_) => "a boolean",
                    _ => "null",
                }
            )),
            Err(e) => Err(format!("the body is not JSON: {e}")),
        },
        "application/x-www-form-urlencoded" => {
            let text = std::str::from_utf8(body)
                .map_err(|_| "the form body is not UTF-8 after decoding".to_owned())?;
            let mut out = Map::new();
            for (k, v) in form_urlencoded::parse(text.as_bytes()) {
                if out
                    .insert(k.clone().into_owned(), Value::String(v.into_owned()))
                    .is_some()
                {
                    return Err(format!("the field `{k}` is given twice"));
                }
            }
            Ok(out)
        }
        "multipart/form-data" => {
            let boundary_given = content_type.to_ascii_lowercase().contains("boundary=");
            let parts = crate::encoding::multipart_parts(content_type, body);
            if !boundary_given {
                return Err("the multipart body has no boundary parameter".to_owned());
            }
            if parts.is_empty() && !body.is_empty() {
                return Err("the multipart body has no part its boundary delimits".to_owned());
            }
            let mut out = Map::new();
            for (k, v) in parts {
                if out.insert(k.clone(), Value::String(v)).is_some() {
                    return Err(format!("the field `{k}` is given twice"));
                }
            }
            Ok(out)
        }
        _ => Err("no field can be read from this media type".to_owned()),
    }
}

/// The first key that a JSON text gives twice in one object, at any depth (after unescaping:
/// `"a"` and `"\u0061"` are one key). `None` for JSON without one, and for text that is not
/// JSON, which the caller reports by itself.
fn repeated_key(body: &[u8]) -> Option<String> {
    let found = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(body);
    // The error only stops the walk at the repeated key; what it was is in `found`.
    let _ = Unique(&found).deserialize(&mut de);
    found.into_inner()
}

/// Walks a JSON value, noting in its cell the first key an object repeats.
#[derive(Clone, Copy)]
struct Unique<'a>(&'a RefCell<Option<String>>);

impl<'de> DeserializeSeed<'de> for Unique<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if keys.contains(&key) {
                *self.0.borrow_mut() = Some(key);
                return Err(serde::de::Error::custom("a repeated key"));
            }
            map.next_value_seed(self)?;
            keys.insert(key);
        }
        Ok(())
    }
}

/// `request.body`.
pub fn body(r: &RequestExchange<'_>, out: &mut Findings) {
    let coded = r
        .content_encoding()
        .is_some_and(|c| !c.trim().eq_ignore_ascii_case("identity"));
    if coded || !documented_type(r) || !r.method().eq_ignore_ascii_case(&r.operation.method) {
        return;
    }
    let content_type = r.content_type().unwrap_or_default();
    let map = match fields(content_type, &r.request.body) {
        Ok(m) => m,
        Err(why) => {
            out.push(Finding::new(BODY, why));
            return;
        }
    };
    let violations = r.spec.validate_request(r.operation, &Value::Object(map), 5);
    if !violations.is_empty() {
        out.push(Finding::new(
            BODY,
            format!(
                "the body does not match {}'s request schema: {}",
                r.operation.id,
                violations.join("; ")
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::spec::{BUNDLED_SPEC, BUNDLED_SPEC_NAME};

    /// The `request.body` findings of a POST to validateRefreshToken.
    fn body_findings(content_type: &str, encoding: Option<&str>, body: &[u8]) -> Vec<String> {
        let spec = Spec::parse(BUNDLED_SPEC, Path::new(BUNDLED_SPEC_NAME)).expect("spec");
        let operation = &spec.operations["validateRefreshToken"];
        let mut headers = vec![("Content-Type".to_owned(), content_type.to_owned())];
        if let Some(coding) = encoding {
            headers.push(("Content-Encoding".to_owned(), coding.to_owned()));
        }
        let request = wire::Request {
            method: "POST".to_owned(),
            url: operation.path.clone(),
            headers,
            body: bytes::Bytes::copy_from_slice(body),
        };
        let r = RequestExchange {
            spec: &spec,
            operation,
            request: &request,
        };
        let mut out = Findings::default();
        super::body(&r, &mut out);
        out.into_vec()
            .into_iter()
            .inspect(|f| assert_eq!(f.check, BODY.id))
            .map(|f| f.message)
            .collect()
    }

    const JSON: &str = "application/json";

    #[test]
    fn a_repeated_json_key_is_a_field_given_twice() {
        let twice = br#"{"refresh_token": "a", "user_id": 1, "refresh_token": "b"}"#;
        assert_eq!(
            body_findings(JSON, None, twice),
            ["the field `refresh_token` is given twice"]
        );
        // The same key, spelled with an escape the second time.
        let escaped = br#"{"user_id": 1, "refresh_token": "a", "refresh_tok\u0065n": "b"}"#;
        assert_eq!(
            body_findings(JSON, None, escaped),
            ["the field `refresh_token` is given twice"]
        );
        // Deeper down too: an object inside a field repeats a key of its own.
        let nested = br#"{"refresh_token": "a", "user_id": 1, "x": [{"k": 1, "k": 2}]}"#;
        assert_eq!(
            body_findings(JSON, None, nested),
            ["the field `k` is given twice"]
        );
    }

    #[test]
    fn the_same_key_in_sibling_objects_and_a_clean_body_pass() {
        let clean = br#"{"refresh_token": "a", "user_id": 1}"#;
        assert_eq!(body_findings(JSON, None, clean), Vec::<String>::new());
        // Each object has its own keys: `k` once in each is no repetition. The extra field is
        // allowed by the request schema (it does not forbid additional properties).
        let siblings = br#"{"refresh_token": "a", "user_id": 1, "x": [{"k": 1}, {"k": 2}]}"#;
        assert_eq!(body_findings(JSON, None, siblings), Vec::<String>::new());
    }

    #[test]
    fn a_repeated_multipart_part_is_a_field_given_twice() {
        let ct = "multipart/form-data; boundary=b";
        let part = |name: &str, v: &str| {
            format!("--b\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{v}\r\n")
        };
        let token = part("refresh_token", "t");
        let twice = format!(
            "{token}{}{}--b--\r\n",
            part("user_id", "1"),
            part("user_id", "2")
        );
        assert_eq!(
            body_findings(ct, None, twice.as_bytes()),
            ["the field `user_id` is given twice"]
        );
        let once = format!("{token}{}--b--\r\n", part("user_id", "1"));
        assert_eq!(
            body_findings(ct, None, once.as_bytes()),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_repeated_form_field_is_given_twice_and_a_coded_body_is_not_read() {
        let form = "application/x-www-form-urlencoded";
        assert_eq!(
            body_findings(form, None, b"refresh_token=a&user_id=1&user_id=2"),
            ["the field `user_id` is given twice"]
        );
        // gzip's magic bytes: not JSON, but a coded body is not read at all.
        let coded = b"\x1f\x8b\x08\x00garbage";
        assert_eq!(
            body_findings(JSON, Some("gzip"), coded),
            Vec::<String>::new()
        );
        assert_eq!(body_findings(JSON, Some("identity"), coded).len(), 1);
    }
}
