//! Request bodies in the contract's three encodings: writing them as the harness sends them
//! (`encode`), and reading the fields of any body, the harness's own or a client's (`decode`).
//! A leaf: cases name an [`Encoding`], runs encode with it, checks and the proxy decode.

use serde::Deserialize;
use serde_json::{Map, Value};

/// How a step encodes its request body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// `application/json`.
    #[default]
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// `multipart/form-data`.
    Multipart,
}

impl Encoding {
    /// The name used in case files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Form => "form",
            Self::Multipart => "multipart",
        }
    }

    /// Its media type.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Form => "application/x-www-form-urlencoded",
            Self::Multipart => "multipart/form-data",
        }
    }
}

/// The boundary of multipart bodies the harness sends.
pub(crate) const BOUNDARY: &str = "token-conformance-7f3a9c1e5b";

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The content type and bytes of `fields` in one encoding. Form encodings send every value as
/// text, as browsers and `requests.post(data=...)` do.
pub(crate) fn encode(encoding: Encoding, fields: &Map<String, Value>) -> (String, Vec<u8>) {
    match encoding {
        Encoding::Json => (
            "application/json".into(),
            serde_json::to_vec(fields).expect("a JSON object always serialises"),
        ),
        Encoding::Form => {
            let mut s = form_urlencoded::Serializer::new(String::new());
            for (k, v) in fields {
                s.append_pair(k, &as_text(v));
            }
            (
                "application/x-www-form-urlencoded".into(),
                s.finish().into_bytes(),
            )
        }
        Encoding::Multipart => {
            let mut body = String::new();
            for (k, v) in fields {
                body.push_str(&format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{}\r\n",
                    k.replace('"', "%22"),
                    as_text(v)
                ));
            }
            body.push_str(&format!("--{BOUNDARY}--\r\n"));
            (
                format!("multipart/form-data; boundary={BOUNDARY}"),
                body.into_bytes(),
            )
        }
    }
}

/// A media type without its parameters, in lower case: `Application/JSON; charset=utf-8` is
/// `application/json`.
pub(crate) fn essence(content_type: &str) -> String {
    content_type
        .split_once(';')
        .map_or(content_type, |(essence, _)| essence)
        .trim()
        .to_ascii_lowercase()
}

/// The fields a raw body of `content_type` carries, as far as they can be read: what the
/// checks and the case's ledger see of a request written by hand. A field given twice counts
/// with its last value; a body that cannot be read has no fields.
pub(crate) fn decode(content_type: &str, body: &[u8]) -> Map<String, Value> {
    match essence(content_type).as_str() {
        "application/json" => match serde_json::from_slice(body) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        },
        "application/x-www-form-urlencoded" => form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect(),
        "multipart/form-data" => multipart_fields(content_type, body),
        _ => Map::new(),
    }
}

/// The named text parts of a multipart body, as far as it follows its boundary.
fn multipart_fields(content_type: &str, body: &[u8]) -> Map<String, Value> {
    multipart_parts(content_type, body)
        .into_iter()
        .map(|(name, value)| (name, Value::String(value)))
        .collect()
}

/// Every named part of a multipart body, in order, a name given twice included (the request
/// checks refuse that; [`decode`] keeps the last).
pub(crate) fn multipart_parts(content_type: &str, body: &[u8]) -> Vec<(String, String)> {
    let boundary = content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("boundary")).then(|| v.trim().trim_matches('"').to_owned())
    });
    let (Some(boundary), Ok(text)) = (boundary, std::str::from_utf8(body)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for part in text.split(&format!("--{boundary}")).skip(1) {
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let name = head.split(';').find_map(|p| {
            let (k, v) = p.split_once('=')?;
            (k.trim() == "name").then(|| v.trim().trim_matches('"').to_owned())
        });
        if let Some(name) = name {
            let value = value.strip_suffix("\r\n").unwrap_or(value);
            out.push((name, value.to_owned()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hand_written_bodies_give_their_fields() {
        let form = decode(
            "application/x-www-form-urlencoded; charset=UTF-8",
            b"refresh_token=a%2Bb&user_id=1&user_id=2",
        );
        assert_eq!(form.get("refresh_token"), Some(&json!("a+b")));
        assert_eq!(
            form.get("user_id"),
            Some(&json!("2")),
            "the last value counts"
        );
        let multi = decode(
            "multipart/form-data; boundary=\"tcb\"",
            b"--tcb\r\nContent-Disposition: form-data; name=\"refresh_token\"\r\n\r\nabc\r\n--tcb--\r\n",
        );
        assert_eq!(multi.get("refresh_token"), Some(&json!("abc")));
        assert!(decode("application/json", b"[1]").is_empty());
        assert!(decode("text/plain", b"a=b").is_empty());
    }

    #[test]
    fn encodes_the_three_ways() {
        let fields = json!({"refresh_token": "a b&c", "user_id": 5});
        let fields = fields.as_object().expect("object");
        let (ct, body) = encode(Encoding::Form, fields);
        assert_eq!(ct, "application/x-www-form-urlencoded");
        assert_eq!(
            String::from_utf8(body).expect("utf8"),
            "refresh_token=a+b%26c&user_id=5"
        );
        let (ct, body) = encode(Encoding::Json, fields);
        assert_eq!(ct, "application/json");
        assert_eq!(
            String::from_utf8(body).expect("utf8"),
            r#"{"refresh_token":"a b&c","user_id":5}"#
        );
        let (ct, body) = encode(Encoding::Multipart, fields);
        assert!(ct.starts_with("multipart/form-data; boundary="));
        let text = String::from_utf8(body).expect("utf8");
        assert!(text.contains("name=\"user_id\"\r\n\r\n5\r\n"), "{text}");
    }
}
