//! How the mutant reads a request body: its own parser, independent of the reference server's,
//! with three ways of judging what it read.
//!
//! - `Strict` is the contract's preferred way: a known field given twice, a mistyped field or a
//!   blank one is 400; an empty password is a wrong one (401).
//! - `Lenient` is Django REST framework's: the last of a repeated field wins (forms, multipart
//!   and JSON alike), a number where a string belongs is taken as its text, white space around
//!   a string is trimmed, a blank field is 400 "This field may not be blank.", an integer field
//!   takes `"007"`, `" 7 "` and `7.0`.
//! - `Mistyped401` is strict, but answers a mistyped credential as a non-matching one: 401.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;

/// How a body's fields are judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// The contract's preferred refusals.
    Strict,
    /// Django REST framework's.
    Lenient,
    /// Strict, with 401 for a mistyped credential.
    Mistyped401,
}

/// Why a request is refused: (status, detail).
pub type Refusal = (u16, String);

/// The encoding a body came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// JSON.
    Json,
    /// URL-encoded form.
    Form,
    /// multipart/form-data.
    Multipart,
    /// No body at all.
    None,
}

/// The fields of a body, every occurrence in order.
#[derive(Debug)]
pub struct Body {
    /// The encoding.
    pub encoding: Encoding,
    pairs: Vec<(String, Value)>,
}

/// The JSON object's members in order, duplicates kept (serde_json's map keeps the last).
struct Pairs(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Pairs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Pairs;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Pairs, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, Value>()? {
                    out.push((k, v));
                }
                Ok(Pairs(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Knobs of the parser that faults turn.
#[derive(Clone, Copy, Debug, Default)]
pub struct Parsing {
    /// Media types compared as written: `Application/JSON` is not JSON.
    pub exact_media_type: bool,
    /// A media type with parameters is refused (415).
    pub parameters_refused: bool,
    /// A quoted boundary keeps its quotes.
    pub quoted_boundary_kept: bool,
    /// Multipart bodies are read only as the common clients write them: no preamble, no
    /// padding, `Content-Disposition` spelt so, names quoted.
    pub strict_multipart: bool,
}

fn media(raw: &str, p: Parsing) -> Result<(String, Option<String>), Refusal> {
    let mut parts = raw.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    let essence = if p.exact_media_type {
        essence.to_owned()
    } else {
        essence.to_ascii_lowercase()
    };
    let params: Vec<&str> = parts.map(str::trim).filter(|s| !s.is_empty()).collect();
    let boundary = params.iter().find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().to_owned())
    });
    let only_boundary = params
        .iter()
        .all(|x| x.to_ascii_lowercase().starts_with("boundary="));
    if p.parameters_refused && !only_boundary {
        return Err((415, "Unsupported media type.".into()));
    }
    let boundary = boundary.map(|b| {
        if p.quoted_boundary_kept {
            b
        } else {
            b.trim_matches('"').to_owned()
        }
    });
    Ok((essence, boundary))
}

/// Parses a body by its `Content-Type`.
pub fn parse(content_type: Option<&str>, bytes: &[u8], p: Parsing) -> Result<Body, Refusal> {
    let Some(raw) = content_type else {
        return if bytes.is_empty() {
            Ok(Body {
                encoding: Encoding::None,
                pairs: Vec::new(),
            })
        } else {
            Err((415, "Unsupported media type.".into()))
        };
    };
    let (essence, boundary) = media(raw, p)?;
    let (encoding, pairs) = match essence.as_str() {
        "application/json" | "text/json" => {
            let pairs = serde_json::from_slice::<Pairs>(bytes)
                .map_err(|e| (400, format!("JSON parse error - {e}")))?;
            (Encoding::Json, pairs.0)
        }
        "application/x-www-form-urlencoded" => {
            let pairs = form_urlencoded::parse(bytes)
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect();
            (Encoding::Form, pairs)
        }
        "multipart/form-data" => {
            let b = boundary.ok_or((400, "Multipart form parse error - no boundary.".into()))?;
            (
                Encoding::Multipart,
                multipart(bytes, &b, p.strict_multipart)?,
            )
        }
        _ => return Err((415, format!("Unsupported media type \"{raw}\" in request."))),
    };
    Ok(Body { encoding, pairs })
}

fn multipart(bytes: &[u8], boundary: &str, strict: bool) -> Result<Vec<(String, Value)>, Refusal> {
    let bad = || {
        (
            400,
            "Multipart form parse error - Invalid boundary in multipart.".to_owned(),
        )
    };
    let text = std::str::from_utf8(bytes).map_err(|_| bad())?;
    let delimiter = format!("--{boundary}");
    // A preamble before the first delimiter is ignored (RFC 2046), unless strict.
    let body = if text.starts_with(&delimiter) {
        text
    } else if strict {
        return Err(bad());
    } else {
        let at = text.find(&format!("\r\n{delimiter}")).ok_or_else(bad)?;
        &text[at + 2..]
    };
    let mut out = Vec::new();
    for part in body.split(&delimiter).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let part = if strict {
            part
        } else {
            part.trim_start_matches([' ', '\t'])
        };
        let part = part.strip_prefix("\r\n").ok_or_else(bad)?;
        let (head, value) = part.split_once("\r\n\r\n").ok_or_else(bad)?;
        let disposition = head.split("\r\n").find_map(|line| {
            let (key, params) = line.split_once(':')?;
            let wanted = if strict {
                key == "Content-Disposition"
            } else {
                key.trim().eq_ignore_ascii_case("content-disposition")
            };
            wanted.then_some(params)
        });
        let name = disposition
            .and_then(|d| {
                d.split(';').find_map(|x| {
                    let n = x.trim().strip_prefix("name=")?;
                    if strict && !n.starts_with('"') {
                        return None;
                    }
                    Some(n.trim_matches('"').to_owned())
                })
            })
            .ok_or_else(bad)?;
        let value = value.strip_suffix("\r\n").unwrap_or(value);
        out.push((name, Value::String(value.to_owned())));
    }
    Ok(out)
}

/// A field's value once judged: what the handler uses.
impl Body {
    /// Every value the field was given, in order.
    fn all(&self, name: &str) -> Vec<&Value> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v)
            .collect()
    }

    /// The one value of `name`: the last where repeats are allowed, else a refusal.
    pub fn one(
        &self,
        name: &str,
        style: Style,
        last_wins: bool,
    ) -> Result<Option<&Value>, Refusal> {
        let all = self.all(name);
        if all.len() > 1 && style != Style::Lenient && !last_wins {
            return Err((400, format!("Field '{name}' is given more than once.")));
        }
        Ok(all.last().copied())
    }

    /// Every value of `name` as text, for a fault that joins them.
    pub fn joined(&self, name: &str) -> Option<String> {
        let all = self.all(name);
        (all.len() > 1).then(|| {
            all.iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(",")
        })
    }

    /// Whether any field's name is not among `known`.
    pub fn has_unknown(&self, known: &[&str]) -> bool {
        self.pairs.iter().any(|(k, _)| !known.contains(&k.as_str()))
    }

    /// Whether the field arrived as a JSON number.
    pub fn is_number(&self, name: &str) -> bool {
        self.all(name).last().is_some_and(|v| v.is_number())
    }
}

/// Blank: empty, or ASCII white space only.
pub fn blank(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_whitespace())
}

/// A required string field. `credential` says what a mistyped one is for `Mistyped401`.
pub fn text(
    body: &Body,
    name: &str,
    style: Style,
    last_wins: bool,
    credential: Option<&str>,
) -> Result<String, Refusal> {
    let v = body.one(name, style, last_wins)?;
    let mistyped = |kind: &str| match (style, credential) {
        (Style::Mistyped401, Some(detail)) => (401, detail.to_owned()),
        (Style::Lenient, _) => (400, "Not a valid string.".to_owned()),
        _ => (
            400,
            format!("Field '{name}' must be a string, not a {kind}."),
        ),
    };
    let text = match v {
        None | Some(Value::Null) => {
            return Err((400, format!("Missing required field(s): {name}.")));
        }
        Some(Value::String(s)) => s.clone(),
        // Django REST framework's CharField takes a number as its text.
        Some(Value::Number(n)) if style == Style::Lenient => n.to_string(),
        Some(Value::Number(_)) => return Err(mistyped("number")),
        Some(Value::Bool(_)) => return Err(mistyped("boolean")),
        Some(Value::Array(_)) => return Err(mistyped("array")),
        Some(Value::Object(_)) => return Err(mistyped("object")),
    };
    let text = if style == Style::Lenient {
        text.trim().to_owned()
    } else {
        text
    };
    if blank(&text) {
        return Err(match style {
            Style::Lenient => (400, "This field may not be blank.".into()),
            _ => (400, format!("Missing required field(s): {name}.")),
        });
    }
    Ok(text)
}

/// The password: present, any text; a blank one is a wrong password, except for
/// `Lenient`, which refuses it as blank (400).
pub fn password(body: &Body, name: &str, style: Style, last_wins: bool) -> Result<String, Refusal> {
    match body.one(name, style, last_wins)? {
        None | Some(Value::Null) => Err((400, format!("Missing required field(s): {name}."))),
        Some(Value::String(s)) if blank(s) && style == Style::Lenient => {
            Err((400, "This field may not be blank.".into()))
        }
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) if style == Style::Lenient => Ok(n.to_string()),
        Some(_) if style == Style::Mistyped401 => {
            Err((401, "Invalid username or password.".into()))
        }
        Some(_) => Err((400, format!("Field '{name}' must be a string."))),
    }
}

/// How a user id arrived, once judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Id {
    /// A user id.
    Some(i64),
    /// Well-formed, but no user's (too large for an int64).
    Nobody,
}

/// Knobs of the id parser that faults turn.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdParsing {
    /// A fraction is cut to its integer part.
    pub truncate_fractions: bool,
    /// An id too large for an int64 crashes.
    pub overflow_crashes: bool,
}

/// The required `user_id`.
pub fn user_id(
    body: &Body,
    style: Style,
    last_wins: bool,
    p: IdParsing,
    invalid: &str,
) -> Result<Id, Refusal> {
    let v = body.one("user_id", style, last_wins)?;
    let bad = || match style {
        Style::Mistyped401 => (401, invalid.to_owned()),
        Style::Lenient => (400, "A valid integer is required.".to_owned()),
        Style::Strict => (400, "Field 'user_id' must be an integer.".to_owned()),
    };
    let crash = || (500, "Internal Server Error".to_owned());
    let digits = |t: &str| -> Result<Id, Refusal> {
        match t.parse::<i64>() {
            Ok(n) => Ok(Id::Some(n)),
            Err(_) if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => {
                if p.overflow_crashes {
                    Err(crash())
                } else {
                    Ok(Id::Nobody)
                }
            }
            Err(_) => Err(bad()),
        }
    };
    match v {
        None | Some(Value::Null) => Err((400, "Missing required field(s): user_id.".into())),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                return Ok(Id::Some(i));
            }
            if n.as_u64().is_some() {
                return if p.overflow_crashes {
                    Err(crash())
                } else {
                    Ok(Id::Nobody)
                };
            }
            let f = n.as_f64().unwrap_or(f64::NAN);
            if p.truncate_fractions && f.is_finite() {
                #[allow(clippy::cast_possible_truncation)]
                return Ok(Id::Some(f.trunc() as i64));
            }
            // Django REST framework's IntegerField takes `7.0` as 7.
            if style == Style::Lenient && f.fract() == 0.0 && f.abs() < 9e15 {
                #[allow(clippy::cast_possible_truncation)]
                return Ok(Id::Some(f as i64));
            }
            Err(bad())
        }
        Some(Value::String(s)) => {
            let t = s.trim();
            if style == Style::Lenient {
                let t = t.strip_suffix(".0").unwrap_or(t);
                return digits(t);
            }
            if p.truncate_fractions
                && let Ok(f) = t.parse::<f64>()
            {
                #[allow(clippy::cast_possible_truncation)]
                return Ok(Id::Some(f.trunc() as i64));
            }
            digits(t)
        }
        Some(_) => Err(bad()),
    }
}
