//! Request bodies in the three encodings real clients send: JSON, URL-encoded forms and
//! multipart forms, read into one flat map of fields.
//!
//! The body is read under a size limit before any parsing, so an oversized body costs at most
//! the limit in memory and gets 413, and every way a body can be wrong becomes a 400 or 415 in
//! the Error shape rather than a framework's plain-text rejection.

use std::ops::Range;
use std::time::Duration;

use axum::body::{Bytes, HttpBody};
use axum::http::{HeaderMap, header};
use http_body_util::BodyExt as _;

use crate::error::ApiError;

/// How long a client may take to send its body before the request is refused.
const BODY_TIMEOUT: Duration = Duration::from_secs(15);

/// The longest value a field may have, per field; anything longer is refused before use
/// (a megabyte-long "password" would otherwise cost a megabyte of argon2 input).
fn max_len(field: &str) -> usize {
    match field {
        "username" => 254,
        "name" => 255,
        "password" => 1024,
        _ => 512,
    }
}

/// Whether a value counts as not given: empty, or only spaces, tabs and line breaks (the
/// ASCII white space of JSON Schema's `\s`). Other Unicode white space is text like any other:
/// where that line falls must not depend on whose definition of "white space" a client uses,
/// and the contract says exactly this (`pattern: '[^ \t\n\r\f\v]'`).
fn blank(value: &str) -> bool {
    value
        .bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
}

/// The id given for a `user_id` too large to be one: ids are positive, so no user has it.
const NO_USER: i64 = -1;

/// A field's name or text value: as sent (a range of the body, where it is UTF-8 and needed no
/// decoding, as nearly every value does), or decoded.
#[derive(Clone, Debug, PartialEq)]
enum Text {
    Sent(Range<usize>),
    Decoded(String),
}

/// One field's value as it arrived.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Text(Text),
    Number(serde_json::Number),
    /// A JSON value of another type; the name of the type, for the message.
    Other(&'static str),
    /// JSON `null`: read as absent, but present for the duplicate check, so that
    /// `{"user_id": null, "user_id": 1}` is refused like any other repeated key (a proxy that
    /// keeps the first member and this server must not read two different requests).
    Null,
}

/// What a body holds under one name.
#[derive(Debug, PartialEq)]
enum Found<'f> {
    Text(&'f str),
    Number(&'f serde_json::Number),
    Other(&'static str),
    Null,
    /// The field came more than once. Unknown fields are ignored, repeated or not; a field an
    /// operation reads is refused when repeated.
    Repeated,
}

/// The fields of a request body, in the order sent, a repeated name as often as it came.
///
/// A list rather than a map: a body has two or three fields, and finding one by comparing
/// names costs less than hashing them, with nothing to allocate for each. A lookup goes
/// through every field, so a body of many tiny fields costs time linear in its size for each
/// of the few names an operation reads, never more: no hash to flood.
#[derive(Debug, Default)]
pub struct Fields {
    /// The body the `Text::Sent` ranges are in.
    body: Bytes,
    fields: Vec<(Text, Value)>,
}

impl Fields {
    /// The bytes of `text`: for comparing names.
    fn bytes<'f>(&'f self, text: &'f Text) -> &'f [u8] {
        match text {
            Text::Sent(range) => self.body.get(range.clone()).unwrap_or_default(),
            Text::Decoded(s) => s.as_bytes(),
        }
    }

    /// `text` as text. A range is made only of text that is UTF-8 (a form body is checked
    /// whole before it is split, at ASCII separators), so the check here never fails.
    fn str<'f>(&'f self, text: &'f Text) -> &'f str {
        std::str::from_utf8(self.bytes(text)).unwrap_or_default()
    }

    /// What the body holds under `name`, if anything.
    fn get(&self, name: &str) -> Option<Found<'_>> {
        let mut found = None;
        for (n, value) in &self.fields {
            if self.bytes(n) == name.as_bytes() {
                if found.is_some() {
                    return Some(Found::Repeated);
                }
                found = Some(value);
            }
        }
        Some(match found? {
            Value::Text(t) => Found::Text(self.str(t)),
            Value::Number(n) => Found::Number(n),
            Value::Other(kind) => Found::Other(kind),
            Value::Null => Found::Null,
        })
    }

    /// Fails with one 400 that names every field that is missing or empty.
    pub fn require(&self, names: &[&str]) -> Result<(), ApiError> {
        self.require_with(names, &[])
    }

    /// Like [`Fields::require`], but the fields in `may_be_empty` only have to be present.
    pub fn require_with(&self, names: &[&str], may_be_empty: &[&str]) -> Result<(), ApiError> {
        let fine = |n: &&str| match self.get(n) {
            Some(Found::Text(t)) => !blank(t) || may_be_empty.contains(n),
            Some(Found::Number(_) | Found::Other(_)) => true,
            None | Some(Found::Null | Found::Repeated) => false,
        };
        if names.iter().all(fine) {
            return Ok(());
        }
        if let Some(name) = names.iter().find(|n| self.get(n) == Some(Found::Repeated)) {
            return Err(repeated(name));
        }
        let missing: Vec<&str> = names.iter().copied().filter(|n| !fine(n)).collect();
        Err(ApiError::BadRequest(format!(
            "Missing required field(s): {}.",
            missing.join(", ")
        )))
    }

    /// A required text field.
    pub fn text(&self, name: &str) -> Result<&str, ApiError> {
        match self.get(name) {
            None | Some(Found::Null) => Err(missing(name)),
            Some(Found::Text(t)) if blank(t) => Err(missing(name)),
            Some(Found::Text(t)) if t.chars().count() > max_len(name) => {
                Err(ApiError::BadRequest(format!(
                    "Field '{name}' is longer than {} characters.",
                    max_len(name)
                )))
            }
            Some(Found::Text(t)) => Ok(t),
            Some(Found::Number(_)) => Err(wrong_type(name, "string", "number")),
            Some(Found::Other(kind)) => Err(wrong_type(name, "string", kind)),
            Some(Found::Repeated) => Err(repeated(name)),
        }
    }

    /// A field that may be empty or blank (a password: white space is a password like any
    /// other, and an empty one is a wrong password, not a missing one).
    pub fn text_or_empty(&self, name: &str) -> Result<&str, ApiError> {
        match self.get(name) {
            Some(Found::Text(t)) if blank(t) => Ok(t),
            _ => self.text(name),
        }
    }

    /// The required `user_id`, as a JSON number or a string of digits (with an optional `-`:
    /// no `+`, which some parsers take and others refuse, so that a proxy and this server
    /// cannot read one request as two different ids).
    pub fn user_id(&self) -> Result<i64, ApiError> {
        // An integer too large for an id is well-formed, but no user has it: it answers like any
        // unknown owner (401), not as a malformed request.
        let parsed = match self.get("user_id") {
            None | Some(Found::Null) => return Err(missing("user_id")),
            Some(Found::Text(t)) if blank(t) => return Err(missing("user_id")),
            Some(Found::Repeated) => return Err(repeated("user_id")),
            Some(Found::Number(n)) => n.as_i64().or(n.as_u64().map(|_| NO_USER)),
            Some(Found::Text(t)) => {
                let t = t.trim();
                let digits = t.strip_prefix('-').unwrap_or(t);
                let plain = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
                plain.then(|| t.parse::<i64>().ok()).flatten().or_else(|| {
                    (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())).then_some(NO_USER)
                })
            }
            Some(Found::Other(_)) => None,
        };
        parsed.ok_or_else(|| ApiError::BadRequest("Field 'user_id' must be an integer.".into()))
    }
}

fn missing(name: &str) -> ApiError {
    ApiError::BadRequest(format!("Missing required field(s): {name}."))
}

fn repeated(name: &str) -> ApiError {
    ApiError::BadRequest(format!("Field '{name}' is given more than once."))
}

fn wrong_type(name: &str, want: &str, got: &str) -> ApiError {
    ApiError::BadRequest(format!("Field '{name}' must be a {want}, not a {got}."))
}

/// The essence of the `Content-Type` header: `application/json; charset=utf-8` gives
/// `application/json`. Compare it with [`str::eq_ignore_ascii_case`].
fn media_type(headers: &HeaderMap) -> Option<&str> {
    let raw = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(raw.split(';').next().unwrap_or_default().trim())
}

/// The three encodings, by their media type.
enum Encoding {
    Json,
    Form,
    Multipart,
}

fn encoding(media: &str) -> Option<Encoding> {
    let is = |m: &str| media.eq_ignore_ascii_case(m);
    if is("application/json") || is("text/json") {
        Some(Encoding::Json)
    } else if is("application/x-www-form-urlencoded") {
        Some(Encoding::Form)
    } else if is("multipart/form-data") {
        Some(Encoding::Multipart)
    } else {
        None
    }
}

/// After a 413, what the client still sends is read and thrown away (a lingering close), up to
/// this many bytes and for at most [`LINGER_TIME`]: a client that sends its whole body before
/// reading (Python's urllib does) then reads the 413 instead of a broken pipe. Nothing of it is
/// kept, so it costs bandwidth, never memory.
pub const LINGER_BYTES: u64 = 33_554_432; // 32 MiB

/// How long the rest of a refused body is read, at most.
pub const LINGER_TIME: Duration = Duration::from_secs(10);

/// Reads what is left of a refused body in the background and discards it, within bounds.
fn linger<B>(mut body: B)
where
    B: HttpBody<Data = Bytes> + Send + Unpin + 'static,
{
    tokio::spawn(async move {
        let drain = async {
            let mut seen: u64 = 0;
            while let Some(Ok(frame)) = body.frame().await {
                seen += frame.data_ref().map_or(0, |d| d.len() as u64);
                if seen > LINGER_BYTES {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(LINGER_TIME, drain).await;
    });
}

/// Reads the whole body, refusing it with 413 as soon as it passes `limit` bytes (or declares
/// more). At most `limit` bytes are ever held in memory; the rest lingers (see `linger`).
///
/// A body that comes in one piece, as a small one does (and as the policy layer hands every
/// body on to its handler), is returned as that piece, not copied.
pub async fn read_limited<B>(headers: &HeaderMap, body: B, limit: usize) -> Result<Bytes, ApiError>
where
    B: HttpBody<Data = Bytes> + Send + Unpin + 'static,
{
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        // Refused before a byte of the body is read.
        linger(body);
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let read = std::pin::pin!(async {
        let mut body = body;
        // The first piece, and the pieces joined once a second one comes.
        let mut first = Bytes::new();
        let mut joined: Option<Vec<u8>> = None;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                return Err(ApiError::BadRequest(
                    "Request body could not be read.".into(),
                ));
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            let so_far = joined.as_ref().map_or(first.len(), Vec::len);
            if so_far + data.len() > limit {
                linger(body);
                return Err(ApiError::PayloadTooLarge(limit));
            }
            match &mut joined {
                Some(all) => all.extend_from_slice(&data),
                None if first.is_empty() => first = data,
                None => joined = Some([&first[..], &data[..]].concat()),
            }
        }
        Ok(joined.map_or(first, Bytes::from))
    });
    crate::deadline::within(BODY_TIMEOUT, read)
        .await
        .unwrap_or_else(|| {
            Err(ApiError::BadRequest(
                "Request body was not received in time.".into(),
            ))
        })
}

/// Reads and parses a body in any of the three encodings.
pub async fn read_fields<B>(headers: &HeaderMap, body: B, limit: usize) -> Result<Fields, ApiError>
where
    B: HttpBody<Data = Bytes> + Send + Unpin + 'static,
{
    let bytes = read_limited(headers, body, limit).await?;
    let Some(media) = media_type(headers) else {
        // No content type: an empty body is an empty form (so the answer is "missing fields"),
        // anything else is a body we cannot interpret.
        return if bytes.is_empty() {
            Ok(Fields::default())
        } else {
            Err(ApiError::UnsupportedMediaType)
        };
    };
    match encoding(media) {
        Some(Encoding::Json) => parse_json(&bytes),
        Some(Encoding::Form) => parse_form(bytes),
        Some(Encoding::Multipart) => parse_multipart(headers, &bytes),
        None => Err(ApiError::UnsupportedMediaType),
    }
}

/// Parses a JSON object body (the control protocol takes only JSON).
pub async fn read_json_object<B>(
    headers: &HeaderMap,
    body: B,
    limit: usize,
) -> Result<serde_json::Map<String, serde_json::Value>, ApiError>
where
    B: HttpBody<Data = Bytes> + Send + Unpin + 'static,
{
    let bytes = read_limited(headers, body, limit).await?;
    if !media_type(headers).is_some_and(|m| m.eq_ignore_ascii_case("application/json")) {
        return Err(ApiError::UnsupportedMediaType);
    }
    json_object(&bytes)
}

fn json_object(bytes: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::BadRequest(
            "Request body must be a JSON object.".into(),
        )),
        Err(e) => Err(ApiError::BadRequest(format!(
            "Request body is not valid JSON (line {}, column {}).",
            e.line(),
            e.column()
        ))),
    }
}

/// A JSON object's members in the order written, a key given twice kept twice (a map keeps
/// only the last, which would let `{"user_id": 1, "user_id": 2}` pass as either).
struct Members(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Members, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = m.next_entry()? {
                    out.push(entry);
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(Visit)
    }
}

fn parse_json(bytes: &[u8]) -> Result<Fields, ApiError> {
    let members = match serde_json::from_slice::<Members>(bytes) {
        Ok(m) => m.0,
        // Well-formed JSON of another shape than an object.
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            return Err(ApiError::BadRequest(
                "Request body must be a JSON object.".into(),
            ));
        }
        Err(e) => {
            return Err(ApiError::BadRequest(format!(
                "Request body is not valid JSON (line {}, column {}).",
                e.line(),
                e.column()
            )));
        }
    };
    let mut fields = Fields::default();
    for (k, v) in members {
        let value = match v {
            // null is treated as absent, as form clients have no way to send it; it still
            // counts as the key given, for the duplicate check.
            serde_json::Value::Null => Value::Null,
            serde_json::Value::String(s) => Value::Text(Text::Decoded(s)),
            serde_json::Value::Number(n) => Value::Number(n),
            serde_json::Value::Bool(_) => Value::Other("boolean"),
            serde_json::Value::Array(_) => Value::Other("array"),
            serde_json::Value::Object(_) => Value::Other("object"),
        };
        fields.fields.push((Text::Decoded(k), value));
    }
    Ok(fields)
}

/// A text field's value that is not UTF-8 (in a form, once decoded; in a multipart part):
/// refused if an operation reads it (never turned into U+FFFD and stored), ignored like any
/// other unknown field if not.
const NOT_UTF8: Value = Value::Other("value that is not UTF-8");

fn parse_form(body: Bytes) -> Result<Fields, ApiError> {
    if std::str::from_utf8(&body).is_err() {
        return Err(ApiError::BadRequest("Form body is not valid UTF-8.".into()));
    }
    let mut fields = Vec::new();
    let mut at = 0;
    while at <= body.len() {
        let end = memchr::memchr(b'&', &body[at..]).map_or(body.len(), |i| at + i);
        let pair = at..end;
        at = end + 1;
        if pair.is_empty() {
            continue;
        }
        let (name, value) = match memchr::memchr(b'=', &body[pair.clone()]) {
            Some(i) => (pair.start..pair.start + i, pair.start + i + 1..pair.end),
            None => (pair.clone(), pair.end..pair.end),
        };
        // A name that is not UTF-8 once decoded names no field anyone reads.
        let Some(name) = form_text(&body, name) else {
            continue;
        };
        let value = form_text(&body, value).map_or(NOT_UTF8, Value::Text);
        fields.push((name, value));
    }
    Ok(Fields { body, fields })
}

/// A form's name or value at `range` of `body`: as sent when nothing in it is encoded, else
/// decoded (`+` is a space, `%XX` a byte); `None` when that is not UTF-8.
fn form_text(body: &[u8], range: Range<usize>) -> Option<Text> {
    let raw = body.get(range.clone())?;
    if !raw.iter().any(|b| matches!(b, b'%' | b'+')) {
        return Some(Text::Sent(range));
    }
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    let decoded: Vec<u8> = percent_encoding::percent_decode(&plus_as_space).collect();
    String::from_utf8(decoded).ok().map(Text::Decoded)
}

fn parse_multipart(headers: &HeaderMap, bytes: &[u8]) -> Result<Fields, ApiError> {
    let malformed = |what: &str| ApiError::BadRequest(format!("Malformed multipart body: {what}."));
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = crate::multipart::boundary(content_type)
        .ok_or_else(|| malformed("no boundary in Content-Type"))?;
    let mut fields = Fields::default();
    for (name, value) in crate::multipart::parse(bytes, boundary).map_err(malformed)? {
        let value = value.map_or(NOT_UTF8, |text| Value::Text(Text::Decoded(text)));
        fields.fields.push((Text::Decoded(name), value));
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `body` parsed as a form (which takes the body as it arrives, as `Bytes`).
    fn form(body: &[u8]) -> Result<Fields, ApiError> {
        parse_form(Bytes::copy_from_slice(body))
    }

    #[test]
    fn only_ascii_white_space_is_blank() {
        for b in ["", " ", "\t\r\n", "\u{b}\u{c}"] {
            assert!(blank(b), "{b:?}");
        }
        // What JSON Schema's `\S` accepts is not blank, whatever Rust's `trim` thinks.
        for t in ["a", "\u{85}", "\u{a0}", "\u{3000}", "\u{1c}"] {
            assert!(!blank(t), "{t:?}");
        }
    }

    #[test]
    fn user_id_as_number_or_string() {
        let f = parse_json(br#"{"user_id": 5}"#).expect("json");
        assert_eq!(f.user_id().expect("id"), 5);
        let f = form(b"user_id=7").expect("form");
        assert_eq!(f.user_id().expect("id"), 7);
        let f = form(b"user_id=seven").expect("form");
        assert!(f.user_id().is_err());
        // (`+` in a form is a space: `user_id=+1` is " 1", which is 1.)
        for signed in [&b"user_id=%2B1"[..], b"user_id=--1", b"user_id=-"] {
            let f = form(signed).expect("form");
            assert!(f.user_id().is_err(), "{}", String::from_utf8_lossy(signed));
        }
        let f = parse_json(br#"{"user_id": "+1"}"#).expect("json");
        assert!(f.user_id().is_err(), "a plus sign is no digit");
        let f = parse_json(br#"{"user_id": "-4"}"#).expect("json");
        assert_eq!(f.user_id().expect("negative"), -4, "no user has it: 401");
        let f = parse_json(br#"{"user_id": 1.5}"#).expect("json");
        assert!(f.user_id().is_err());
        for huge in [
            &b"user_id=5807345090640623349086"[..],
            b"user_id=17083345694763179486",
        ] {
            let f = form(huge).expect("form");
            assert_eq!(f.user_id().expect("well-formed"), NO_USER);
        }
        let f = parse_json(br#"{"user_id": 17083345694763179486}"#).expect("json");
        assert_eq!(f.user_id().expect("well-formed"), NO_USER);
    }

    #[test]
    fn form_values_that_are_not_utf8_are_refused_when_read_never_replaced() {
        let f = form(b"name=a%FFb&other=%C3%28&refresh_token=ok+%C3%A9").expect("form");
        let Err(ApiError::BadRequest(msg)) = f.text("name") else {
            panic!("expected 400");
        };
        assert!(msg.contains("not UTF-8"), "{msg}");
        assert_eq!(f.text("refresh_token").expect("text"), "ok é");
        // Unknown fields stay ignored, whatever they hold; a name that is not UTF-8 too.
        let f = form(b"%FF=1&other=%FF&user_id=4").expect("form");
        assert_eq!(f.user_id().expect("id"), 4);
    }

    #[test]
    fn missing_fields_are_named_together() {
        let f = parse_json(br#"{"username": "a", "password": ""}"#).expect("json");
        let Err(ApiError::BadRequest(msg)) = f.require(&["username", "password", "name"]) else {
            panic!("expected 400");
        };
        assert_eq!(msg, "Missing required field(s): password, name.");
    }

    #[test]
    fn wrong_json_shapes_are_400() {
        assert!(parse_json(b"[1,2]").is_err());
        assert!(parse_json(b"{").is_err());
        let f = parse_json(br#"{"name": true}"#).expect("json");
        assert!(f.text("name").is_err());
    }

    #[test]
    fn a_key_given_twice_in_json_is_refused_when_read() {
        let f = parse_json(br#"{"user_id": 1, "user_id": 2, "x": 1, "x": 2}"#).expect("json");
        assert!(f.user_id().is_err(), "neither value may be taken");
        assert!(f.require(&["refresh_token"]).is_err());
        let f = parse_json(br#"{"user_id": null, "user_id": 1}"#).expect("json");
        assert!(f.user_id().is_err(), "a null first is a key given too");
        let f = parse_json(br#"{"user_id": 1, "user_id": null}"#).expect("json");
        assert!(f.user_id().is_err(), "and a null last");
        let f = parse_json(br#"{"user_id": null}"#).expect("json");
        assert!(matches!(
            f.user_id(),
            Err(ApiError::BadRequest(m)) if m == "Missing required field(s): user_id."
        ));
        let f = parse_json(br#"{"user_id": 3, "x": 1, "x": 2}"#).expect("json");
        assert_eq!(
            f.user_id().expect("id"),
            3,
            "a repeated unknown key is ignored"
        );
        assert!(matches!(
            parse_json(b"[1]"),
            Err(ApiError::BadRequest(m)) if m == "Request body must be a JSON object."
        ));
        assert!(matches!(
            parse_json(br#"{"username": "#),
            Err(ApiError::BadRequest(m)) if m == "Request body is not valid JSON (line 1, column 13)."
        ));
    }

    #[test]
    fn a_repeated_field_is_refused_only_when_read() {
        let f = form(b"name=a&name=b&foo=1&foo=2&user_id=3").expect("form");
        assert!(f.text("name").is_err());
        assert!(f.require(&["name"]).is_err());
        assert_eq!(
            f.user_id().expect("id"),
            3,
            "a repeated unknown field is ignored"
        );
    }
}

/// Property tests: whatever the body and its content type, reading it gives fields or a 400,
/// 413 or 415, never a panic, and reading the fields gives a value or a 400.
#[cfg(test)]
mod properties {
    use super::*;
    use axum::body::Body;
    use proptest::prelude::*;

    /// Reads every field the API reads, in every way it reads them.
    fn read_all(fields: &Fields) {
        let _ = fields.require(&["username", "password", "name"]);
        let _ = fields.require_with(&["username", "password"], &["password"]);
        for name in ["username", "name", "refresh_token", "api_access_token"] {
            let _ = fields.text(name);
        }
        let _ = fields.text_or_empty("password");
        let _ = fields.user_id();
    }

    fn status(e: &ApiError) -> u16 {
        match e {
            ApiError::BadRequest(_) => 400,
            ApiError::PayloadTooLarge(_) => 413,
            ApiError::UnsupportedMediaType => 415,
            _ => 500,
        }
    }

    /// Bodies near the shape of real ones: known and unknown names, odd values, in any of the
    /// three encodings, sometimes cut short.
    fn body() -> impl Strategy<Value = (String, Vec<u8>)> {
        let name = prop::sample::select(vec![
            "username",
            "password",
            "name",
            "user_id",
            "refresh_token",
            "api_access_token",
            "",
            "x\u{5}",
            "é",
        ]);
        let value = prop_oneof![
            any::<String>(),
            Just("7".to_owned()),
            Just("99999999999999999999999".to_owned()),
            Just(" ".to_owned()),
        ];
        let fields = prop::collection::vec((name, value), 0..6);
        (fields, 0u8..3, any::<usize>(), any::<bool>()).prop_map(|(fields, enc, cut, truncate)| {
            let (content_type, mut bytes) = match enc {
                0 => {
                    let map: serde_json::Map<String, serde_json::Value> = fields
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v)))
                        .collect();
                    (
                        "application/json".to_owned(),
                        serde_json::to_vec(&map).unwrap_or_default(),
                    )
                }
                1 => {
                    let mut form = form_urlencoded::Serializer::new(String::new());
                    for (k, v) in &fields {
                        form.append_pair(k, v);
                    }
                    (
                        "application/x-www-form-urlencoded".to_owned(),
                        form.finish().into_bytes(),
                    )
                }
                _ => {
                    let mut out = Vec::new();
                    for (k, v) in &fields {
                        out.extend_from_slice(b"--B\r\nContent-Disposition: form-data; name=\"");
                        out.extend_from_slice(k.as_bytes());
                        out.extend_from_slice(b"\"\r\n\r\n");
                        out.extend_from_slice(v.as_bytes());
                        out.extend_from_slice(b"\r\n");
                    }
                    out.extend_from_slice(b"--B--\r\n");
                    ("multipart/form-data; boundary=B".to_owned(), out)
                }
            };
            if truncate {
                bytes.truncate(cut % (bytes.len() + 1));
            }
            (content_type, bytes)
        })
    }

    fn read(content_type: &str, bytes: Vec<u8>) -> Result<Fields, ApiError> {
        let mut headers = HeaderMap::new();
        if let Ok(v) = axum::http::HeaderValue::from_str(content_type) {
            headers.insert(header::CONTENT_TYPE, v);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        runtime.block_on(read_fields(&headers, Body::from(bytes), 4096))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1500))]

        #[test]
        fn shaped_bodies_read_or_refuse((content_type, bytes) in body()) {
            match read(&content_type, bytes) {
                Ok(fields) => read_all(&fields),
                Err(e) => prop_assert!([400, 413, 415].contains(&status(&e)), "{e:?}"),
            }
        }

        #[test]
        fn any_bytes_under_any_content_type_read_or_refuse(
            content_type in prop::sample::select(vec![
                "application/json", "text/json", "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=B", "multipart/form-data", "text/plain", "",
            ]),
            bytes in prop::collection::vec(any::<u8>(), 0..600),
        ) {
            match read(content_type, bytes) {
                Ok(fields) => read_all(&fields),
                Err(e) => prop_assert!([400, 413, 415].contains(&status(&e)), "{e:?}"),
            }
        }

        #[test]
        fn multipart_splits_anything_or_says_why(
            bytes in prop::collection::vec(
                prop_oneof![
                    any::<u8>(),
                    Just(b'-'), Just(b'\r'), Just(b'\n'), Just(b'"'), Just(b'B'),
                ],
                0..300,
            ),
        ) {
            let _ = crate::multipart::parse(&bytes, "B");
        }
    }
}
