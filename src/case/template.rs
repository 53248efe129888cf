//! Templates in case files.
//!
//! `{{ NAME }}` draws on what a case may use: `profile.username`, `profile.password`,
//! `sso.username` (an SSO user, from the profile or made through the control protocol),
//! `run.name` (`token-conformance <run id> <case id>`, the name of every token a case
//! creates), `run.unique` (unique to the case in this run, for throw-away user names),
//! `run.id`, and any value an earlier step captured.
//!
//! A filter after `|` changes the value: `string` gives its text as a JSON string (a captured
//! `user_id` sent as `"5"`), `json` its JSON text (to splice into a `raw_body`), `form` its
//! form-encoded text (to splice into a raw form body), and `other_user` turns a user id into the id of another user (the run's second user when it has
//! one, else the next id).
//!
//! The near-miss filters turn a value into one near it that is not it, for probes that present
//! a credential that must be refused: `change_first`, `change_middle`, `change_last` (one
//! character replaced by another of its kind), `swap_case`, `drop_last`, `add_char`, and `pad`
//! (white space around it, which a server may trim). The number filters write a user id the
//! way a careless parser may misread: `decimal` (`7.0`), `leading_zeros` (`007`), `fraction`
//! (`7.5`, which truncates to the id), `exponent` (`1e3`, or `2e3` when the id is 1000).
//!
//! `{{ fill(N, "c") }}` repeats `c` until the whole string is N characters long, for names
//! exactly as long as the contract allows.
//!
//! A string that is exactly one template (no other characters, not even spaces) takes the
//! value's JSON type, so a captured `user_id` stays a number in a JSON body; anything else is
//! text.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

/// A template that cannot be rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplateError {
    /// `{{ name }}` names nothing in scope.
    Unknown(String),
    /// `{{` without `}}`.
    Unclosed(String),
    /// `| name` names no filter.
    UnknownFilter(String),
    /// A filter that cannot apply to this value.
    Filter(String, String),
    /// `fill(...)` not written as `fill(N, "c")`.
    Fill(String),
    /// A filter has nothing to change in this value (`swap_case` of a value without letters):
    /// the step does not apply to this target and is left out.
    NotApplicable(String),
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown(name) => write!(
                f,
                "`{{{{ {name} }}}}` names nothing: not a capture of an earlier step, nor profile.username, profile.password, sso.username (when the run has an SSO user), other.username and other.password (when the run has a second account: --other-username, or the control protocol's users), run.name, run.unique, run.id"
            ),
            Self::Unclosed(text) => write!(f, "unclosed `{{{{` in `{text}`"),
            Self::UnknownFilter(name) => {
                write!(f, "no filter `{name}` (there are {})", FILTERS.join(", "))
            }
            Self::Filter(name, value) => write!(f, "the filter `{name}` cannot apply to {value}"),
            Self::Fill(expr) => write!(f, "`{expr}` is not fill(WIDTH, \"TEXT\")"),
            Self::NotApplicable(why) => write!(f, "{why}"),
        }
    }
}

/// The values a near miss must not land on: the tokens issued in the run.
pub trait Crowding {
    /// Whether other values lie so near `value` (two characters or fewer apart) that a value
    /// near it may be one of them.
    fn crowded(&self, value: &str) -> bool;
}

/// What templates can draw on.
pub struct Scope<'a> {
    /// The profile's username.
    pub username: &'a str,
    /// The profile's password.
    pub password: &'a str,
    /// An SSO user's name, when the run has one.
    pub sso_username: Option<&'a str>,
    /// The id of a user other than the profile's, when the run knows one.
    pub other_user_id: Option<i64>,
    /// A second account the run can log in as (made through the control protocol).
    pub other_login: Option<(&'a str, &'a str)>,
    /// Unique per case per run.
    pub unique: &'a str,
    /// `token-conformance <run id> <case id>`.
    pub name: &'a str,
    /// The run's id.
    pub run_id: &'a str,
    /// Captures so far.
    pub captures: &'a BTreeMap<String, Value>,
    /// The token values issued in the run, so a near miss is never another issued token.
    pub issued: Option<&'a dyn Crowding>,
}

impl Scope<'_> {
    fn lookup(&self, name: &str) -> Result<Value, TemplateError> {
        let text = |s: &str| Ok(Value::String(s.to_owned()));
        match name {
            "profile.username" => text(self.username),
            "profile.password" => text(self.password),
            "sso.username" => self
                .sso_username
                .map_or_else(|| Err(TemplateError::Unknown(name.to_owned())), text),
            "other.username" | "other.password" => {
                let (user, password) = self
                    .other_login
                    .ok_or_else(|| TemplateError::Unknown(name.to_owned()))?;
                text(if name == "other.username" {
                    user
                } else {
                    password
                })
            }
            "run.unique" => text(self.unique),
            "run.name" => text(self.name),
            "run.id" => text(self.run_id),
            other => self
                .captures
                .get(other)
                .cloned()
                .ok_or_else(|| TemplateError::Unknown(other.to_owned())),
        }
    }

    /// `NAME | filter | ...`.
    fn expression(&self, expr: &str) -> Result<Value, TemplateError> {
        let mut parts = expr.split('|').map(str::trim);
        let name = parts.next().expect("a split gives at least one part");
        let mut value = self.lookup(name)?;
        for filter in parts {
            value = self.filter(filter, value)?;
        }
        Ok(value)
    }

    fn filter(&self, filter: &str, value: Value) -> Result<Value, TemplateError> {
        let text = as_text(&value);
        if let Some(near) = near_miss(filter, &text) {
            // Counters: the value next to one token is the next token, not a near miss.
            if self.issued.is_some_and(|i| i.crowded(&text)) {
                return Err(TemplateError::NotApplicable(
                    "other tokens of this run differ from it in two characters or fewer, so a value near it may be one of them".into(),
                ));
            }
            return near.map(Value::String);
        }
        if let Some(written) = number_form(filter, &value) {
            return written.map(Value::String);
        }
        match filter {
            "string" => Ok(Value::String(as_text(&value))),
            "json" => Ok(Value::String(value.to_string())),
            // A value written into a raw form body, as a browser would encode it.
            "form" => Ok(Value::String(
                form_urlencoded::byte_serialize(as_text(&value).as_bytes()).collect(),
            )),
            "other_user" => {
                let id = match &value {
                    Value::Number(n) => n.as_i64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                }
                .ok_or_else(|| TemplateError::Filter(filter.to_owned(), value.to_string()))?;
                let other = self
                    .other_user_id
                    .filter(|o| *o != id)
                    .unwrap_or(id.saturating_add(1));
                Ok(Value::from(other))
            }
            _ => Err(TemplateError::UnknownFilter(filter.to_owned())),
        }
    }
}

/// The names a template may use besides captures.
pub(crate) const BUILTINS: &[&str] = &[
    "profile.username",
    "profile.password",
    "sso.username",
    "other.username",
    "other.password",
    "run.name",
    "run.unique",
    "run.id",
];

/// One `{{ ... }}` of a text: the name it reads, and its filters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Use {
    /// The name (a capture or a builtin).
    pub name: String,
    /// The filters after `|`.
    pub filters: Vec<String>,
}

/// The templates of a text, as far as they are well formed (`fill(...)` reads nothing); the
/// text of the first unclosed `{{` is an error.
pub fn uses(text: &str) -> Result<Vec<Use>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| TemplateError::Unclosed(text.to_owned()))?;
        let expr = after[..end].trim();
        if fill_spec(expr).is_none() {
            let mut parts = expr.split('|').map(str::trim);
            out.push(Use {
                name: parts
                    .next()
                    .expect("a split gives at least one part")
                    .to_owned(),
                filters: parts.map(str::to_owned).collect(),
            });
        }
        rest = &after[end + 2..];
    }
    Ok(out)
}

/// Every filter there is, for messages.
pub(crate) const FILTERS: &[&str] = &[
    "string",
    "json",
    "form",
    "other_user",
    "change_first",
    "change_middle",
    "change_last",
    "swap_case",
    "drop_last",
    "add_char",
    "pad",
    "decimal",
    "leading_zeros",
    "fraction",
    "exponent",
];

/// Another character of the same kind as `c` (a letter of the same case, a digit, `-` for
/// `_`), so that a changed value stays in the alphabet a server may check before looking it up.
fn other_char(c: char) -> char {
    let next = |c: char, first: char, last: char| {
        if c == last {
            first
        } else {
            char::from_u32(c as u32 + 1).unwrap_or(first)
        }
    };
    match c {
        'a'..='z' => next(c, 'a', 'z'),
        'A'..='Z' => next(c, 'A', 'Z'),
        '0'..='9' => next(c, '0', '9'),
        '-' => '_',
        '_' => '-',
        _ => 'x',
    }
}

/// A near-miss filter applied to `text`; `None` when `filter` is not one.
fn near_miss(filter: &str, text: &str) -> Option<Result<String, TemplateError>> {
    let chars: Vec<char> = text.chars().collect();
    let change = |at: usize| -> Result<String, TemplateError> {
        let mut c = chars.clone();
        let slot = c
            .get_mut(at)
            .ok_or_else(|| TemplateError::NotApplicable(format!("`{filter}` of an empty value")))?;
        *slot = other_char(*slot);
        Ok(c.into_iter().collect())
    };
    Some(match filter {
        "change_first" => change(0),
        "change_middle" => change(chars.len() / 2),
        "change_last" => change(chars.len().saturating_sub(1)),
        "swap_case" if !chars.iter().any(char::is_ascii_alphabetic) => Err(
            TemplateError::NotApplicable("the value has no letters whose case could change".into()),
        ),
        "swap_case" => Ok(chars
            .iter()
            .map(|c| {
                if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()),
        "drop_last" if chars.len() < 2 => Err(TemplateError::NotApplicable(
            "the value is too short to shorten".into(),
        )),
        "drop_last" => Ok(chars[..chars.len() - 1].iter().collect()),
        "add_char" => Ok(format!(
            "{text}{}",
            other_char(chars.last().copied().unwrap_or('a'))
        )),
        "pad" => Ok(format!(" {text} ")),
        _ => return None,
    })
}

/// A number filter applied to a user id; `None` when `filter` is not one.
fn number_form(filter: &str, value: &Value) -> Option<Result<String, TemplateError>> {
    if !["decimal", "leading_zeros", "fraction", "exponent"].contains(&filter) {
        return None;
    }
    let id = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    let Some(id) = id else {
        return Some(Err(TemplateError::Filter(
            filter.to_owned(),
            value.to_string(),
        )));
    };
    Some(Ok(match filter {
        "decimal" => format!("{id}.0"),
        "leading_zeros" => format!("00{id}"),
        "fraction" => format!("{id}.5"),
        // Never the id itself: `exponent` is a probe of a value that is not the owner's.
        _ if id == 1000 => "2e3".to_owned(),
        _ => "1e3".to_owned(),
    }))
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `fill(N, "c")`: the width and the character, if `expr` is one.
fn fill_spec(expr: &str) -> Option<Result<(usize, String), TemplateError>> {
    let args = expr.strip_prefix("fill(")?.strip_suffix(')')?;
    let bad = || TemplateError::Fill(expr.to_owned());
    let parse = || {
        let (width, with) = args.split_once(',')?;
        let width: usize = width.trim().parse().ok()?;
        let with = with.trim().strip_prefix('"')?.strip_suffix('"')?;
        (!with.is_empty()).then(|| (width, with.to_owned()))
    };
    Some(parse().ok_or_else(bad))
}

/// Renders one string.
pub(crate) fn render_str(s: &str, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    if let Some(inner) = s.strip_prefix("{{").and_then(|r| r.strip_suffix("}}"))
        && !inner.contains("{{")
        && fill_spec(inner.trim()).is_none()
    {
        return scope.expression(inner.trim());
    }
    let mut out = String::new();
    let mut fill: Option<(usize, usize, String)> = None;
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| TemplateError::Unclosed(s.to_owned()))?;
        let expr = after[..end].trim();
        match fill_spec(expr) {
            Some(spec) => {
                let (width, with) = spec?;
                fill = Some((out.len(), width, with));
            }
            None => out.push_str(&as_text(&scope.expression(expr)?)),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    if let Some((at, width, with)) = fill {
        let mut padding = String::new();
        let mut len = out.chars().count();
        while len < width {
            padding.push_str(&with);
            len += with.chars().count();
        }
        out.insert_str(at, &padding);
    }
    Ok(Value::String(out))
}

/// Renders every string inside a JSON value.
pub fn render(v: &Value, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    Ok(match v {
        Value::String(s) => render_str(s, scope)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| render(i, scope))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), render(v, scope)?)))
                .collect::<Result<_, TemplateError>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope(captures: &BTreeMap<String, Value>) -> Scope<'_> {
        Scope {
            username: "u@x",
            password: "pw",
            sso_username: None,
            other_user_id: None,
            other_login: None,
            issued: None,
            unique: "tc-1",
            name: "token-conformance r a.b",
            run_id: "r",
            captures,
        }
    }

    #[test]
    fn whole_templates_keep_their_type_and_parts_splice() {
        let captures = BTreeMap::from([("uid".to_owned(), json!(7))]);
        let scope = scope(&captures);
        assert_eq!(render_str("{{ uid }}", &scope).expect("ok"), json!(7));
        assert_eq!(render_str("{{uid}}", &scope).expect("ok"), json!(7));
        assert_eq!(
            render_str("id={{uid}}!", &scope).expect("ok"),
            json!("id=7!")
        );
        // Anything around the template, a space included, makes text.
        assert_eq!(render_str("{{ uid }} ", &scope).expect("ok"), json!("7 "));
        assert_eq!(
            render_str("{{ run.unique }}-x", &scope).expect("ok"),
            json!("tc-1-x")
        );
        assert_eq!(
            render_str("{{ nope }}", &scope).expect_err("unknown"),
            TemplateError::Unknown("nope".into())
        );
        assert!(render_str("{{ uid", &scope).is_err());
        assert!(render_str("{{ sso.username }}", &scope).is_err());
    }

    #[test]
    fn filters_give_a_string_or_another_user() {
        let captures = BTreeMap::from([("uid".to_owned(), json!(7))]);
        let mut s = scope(&captures);
        assert_eq!(
            render_str("{{ uid | string }}", &s).expect("ok"),
            json!("7")
        );
        assert_eq!(
            render_str("{{ uid | other_user }}", &s).expect("ok"),
            json!(8)
        );
        s.other_user_id = Some(42);
        assert_eq!(
            render_str("{{ uid | other_user }}", &s).expect("ok"),
            json!(42)
        );
        s.other_user_id = Some(7);
        assert_eq!(
            render_str("{{ uid | other_user }}", &s).expect("ok"),
            json!(8)
        );
        assert_eq!(
            render_str("{{ uid | other_user | string }}", &s).expect("ok"),
            json!("8")
        );
        assert!(matches!(
            render_str("{{ uid | shout }}", &s),
            Err(TemplateError::UnknownFilter(_))
        ));
    }

    #[test]
    fn near_misses_differ_from_the_value_and_stay_in_its_alphabet() {
        let captures = BTreeMap::from([
            ("t".to_owned(), json!("aZ9_-x")),
            ("digits".to_owned(), json!("0123")),
            ("uid".to_owned(), json!(7)),
        ]);
        let s = scope(&captures);
        let r = |t: &str| render_str(t, &s).map(|v| v.as_str().unwrap_or_default().to_owned());
        assert_eq!(r("{{ t | change_first }}").expect("ok"), "bZ9_-x");
        assert_eq!(r("{{ t | change_middle }}").expect("ok"), "aZ9--x");
        assert_eq!(r("{{ t | change_last }}").expect("ok"), "aZ9_-y");
        assert_eq!(r("{{ t | swap_case }}").expect("ok"), "Az9_-X");
        assert_eq!(r("{{ t | drop_last }}").expect("ok"), "aZ9_-");
        assert_eq!(r("{{ t | add_char }}").expect("ok"), "aZ9_-xy");
        assert_eq!(r("{{ t | pad }}").expect("ok"), " aZ9_-x ");
        assert_eq!(r("{{ digits | change_last }}").expect("ok"), "0124");
        assert!(matches!(
            render_str("{{ digits | swap_case }}", &s),
            Err(TemplateError::NotApplicable(_))
        ));
        assert_eq!(r("{{ uid | decimal }}").expect("ok"), "7.0");
        assert_eq!(r("{{ uid | leading_zeros }}").expect("ok"), "007");
        assert_eq!(r("{{ uid | fraction }}").expect("ok"), "7.5");
        assert_eq!(r("{{ uid | exponent }}").expect("ok"), "1e3");
        assert_eq!(r("{{ t | json }}").expect("ok"), "\"aZ9_-x\"");
        for f in [
            "change_first",
            "change_middle",
            "change_last",
            "swap_case",
            "drop_last",
            "add_char",
            "pad",
        ] {
            assert_ne!(
                r(&format!("{{{{ t | {f} }}}}")).expect("ok"),
                "aZ9_-x",
                "{f}"
            );
        }
    }

    #[test]
    fn fill_pads_the_whole_string_to_its_width() {
        let captures = BTreeMap::new();
        let s = scope(&captures);
        let v = render_str("{{ run.name }} ü{{ fill(40, \"é\") }}😀", &s).expect("ok");
        let text = v.as_str().expect("text");
        assert_eq!(text.chars().count(), 40, "{text}");
        assert!(text.starts_with("token-conformance r a.b üé") && text.ends_with("é😀"));
        let v = render_str("{{ fill(5, \"ab\") }}", &s).expect("ok");
        assert_eq!(v, json!("ababab"), "never shorter than the width");
        assert!(render_str("{{ fill(x, \"a\") }}", &s).is_err());
    }
}
