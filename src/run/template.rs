//! Templates in case files: `{{ profile.username }}`, `{{ profile.password }}`,
//! `{{ run.unique }}` (a name unique to this case in this run), `{{ run.id }}`, and
//! `{{ NAME }}` for a value an earlier step captured.
//!
//! A string that is exactly one template takes the captured value's JSON type (so a captured
//! `user_id` stays a number in a JSON body); otherwise values are spliced in as text.

use std::collections::BTreeMap;

use serde_json::Value;

use super::error::TemplateError;

/// What templates can draw on.
pub struct Scope<'a> {
    /// The profile's username.
    pub username: &'a str,
    /// The profile's password.
    pub password: &'a str,
    /// Unique per case per run.
    pub unique: &'a str,
    /// The run's id.
    pub run_id: &'a str,
    /// Captures so far.
    pub captures: &'a BTreeMap<String, Value>,
}

impl Scope<'_> {
    fn lookup(&self, name: &str) -> Result<Value, TemplateError> {
        match name {
            "profile.username" => Ok(Value::String(self.username.to_owned())),
            "profile.password" => Ok(Value::String(self.password.to_owned())),
            "run.unique" => Ok(Value::String(self.unique.to_owned())),
            "run.id" => Ok(Value::String(self.run_id.to_owned())),
            other => self
                .captures
                .get(other)
                .cloned()
                .ok_or_else(|| TemplateError::Unknown(other.to_owned())),
        }
    }
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Renders one string.
pub fn render_str(s: &str, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    let trimmed = s.trim();
    if trimmed.starts_with("{{") && trimmed.ends_with("}}") && trimmed.matches("{{").count() == 1 {
        return scope.lookup(trimmed[2..trimmed.len() - 2].trim());
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| TemplateError::Unclosed(s.to_owned()))?;
        out.push_str(&as_text(&scope.lookup(after[..end].trim())?));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
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

    #[test]
    fn whole_templates_keep_their_type_and_parts_splice() {
        let mut captures = BTreeMap::new();
        captures.insert("uid".to_owned(), json!(7));
        let scope = Scope {
            username: "u@x",
            password: "pw",
            unique: "tc-1",
            run_id: "r",
            captures: &captures,
        };
        assert_eq!(render_str("{{ uid }}", &scope).expect("ok"), json!(7));
        assert_eq!(
            render_str("id={{uid}}!", &scope).expect("ok"),
            json!("id=7!")
        );
        assert_eq!(
            render_str("{{ run.unique }}-x", &scope).expect("ok"),
            json!("tc-1-x")
        );
        assert_eq!(
            render_str("{{ nope }}", &scope).expect_err("unknown"),
            TemplateError::Unknown("nope".into())
        );
        assert!(render_str("{{ uid", &scope).is_err());
    }
}
