//! Redaction of secrets in everything a report shows: the password, every token value the
//! run saw, and any value of a field named like a secret.

use serde_json::Value;

/// Field names whose values are always secret.
pub const SECRET_FIELDS: [&str; 3] = ["password", "refresh_token", "api_access_token"];

/// The placeholder that replaces a secret.
pub const REDACTED: &str = "<redacted>";

/// Replaces secrets in text.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor for these secrets (short values, under 4 characters, are ignored: replacing
    /// them would shred ordinary text).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| s.len() >= 4).collect();
        // Longest first, so a secret that contains another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets }
    }

    /// Adds secrets found in a JSON value's secret fields (e.g. a request body).
    pub fn learn(&mut self, v: &Value) {
        if let Value::Object(map) = v {
            for (k, val) in map {
                if SECRET_FIELDS.contains(&k.as_str()) {
                    if let Value::String(s) = val
                        && s.len() >= 8
                        && !self.secrets.contains(s)
                    {
                        self.secrets.push(s.clone());
                    }
                } else {
                    self.learn(val);
                }
            }
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// A redactor for a run: the password, and every value of a secret field in any request
    /// or response body the run recorded (JSON or form-encoded).
    pub fn for_report(report: &crate::run::RunReport, password: &str) -> Self {
        let mut r = Self::new(std::iter::once(password.to_owned()));
        for step in report.cases.iter().flat_map(|c| &c.steps) {
            let bodies = [
                step.request.as_ref().map(|q| q.body.as_str()),
                step.response.as_ref().map(|p| p.body.as_str()),
            ];
            for text in bodies.into_iter().flatten() {
                if let Ok(v) = serde_json::from_str::<Value>(text) {
                    r.learn(&v);
                }
                let form: serde_json::Map<String, Value> = form_urlencoded::parse(text.as_bytes())
                    .filter(|(k, _)| SECRET_FIELDS.contains(&k.as_ref()))
                    .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                    .collect();
                r.learn(&Value::Object(form));
                // Multipart parts: `name="field"` then a blank line, then the value.
                for part in text
                    .split("Content-Disposition: form-data; name=\"")
                    .skip(1)
                {
                    if let Some((name, rest)) = part.split_once('"')
                        && SECRET_FIELDS.contains(&name)
                        && let Some(value) = rest
                            .split("\r\n\r\n")
                            .nth(1)
                            .and_then(|v| v.split("\r\n").next())
                    {
                        r.learn(&serde_json::json!({ name: value }));
                    }
                }
            }
        }
        r
    }

    /// The text with every secret replaced, including URL-encoded forms of them.
    pub fn text(&self, s: &str) -> String {
        let mut out = s.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
            let encoded: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            if encoded != *secret && out.contains(&encoded) {
                out = out.replace(&encoded, REDACTED);
            }
            let json = serde_json::to_string(secret).unwrap_or_default();
            let json_inner = json.trim_matches('"');
            if json_inner != secret && out.contains(json_inner) {
                out = out.replace(json_inner, REDACTED);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_plain_and_encoded_forms() {
        let r = Redactor::new([
            "p@ss word&1".to_owned(),
            "tok-123456".to_owned(),
            "ab".to_owned(),
        ]);
        assert_eq!(
            r.text("password=p%40ss+word%261&x=tok-123456"),
            "password=<redacted>&x=<redacted>"
        );
        assert_eq!(
            r.text(r#"{"password":"p@ss word&1"}"#),
            r#"{"password":"<redacted>"}"#
        );
        assert_eq!(r.text("ab stays"), "ab stays");
    }
}
