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
                        && s.len() >= 4
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
