//! Redaction of secrets in everything a report shows: the password (and any other secret the
//! profile holds), every token value the run saw, and any value of a field the contract marks
//! as secret (`format: password`, and every `x-token` value field).

use std::collections::BTreeSet;

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, MatchKind};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::run::{Body, Report};

/// Each part's name and first value line in a multipart body's text, without its boundary:
/// `Content-Disposition` in any letter case, `name="x"` or `name=x`, CRLF or LF.
fn multipart_fields(text: &str) -> Vec<(&str, &str)> {
    let lower = text.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find("content-disposition:") {
        let start = from + at;
        from = start + 1;
        let line_end = text[start..].find('\n').map_or(text.len(), |e| start + e);
        let line = &text[start..line_end];
        // The part's name: `name=` not part of `filename=`.
        let lower_line = line.to_ascii_lowercase();
        let Some(n) = lower_line
            .match_indices("name=")
            .map(|(i, _)| i)
            .find(|&i| !line[..i].ends_with(|c: char| c.is_ascii_alphabetic()))
        else {
            continue;
        };
        let rest = &line[n + 5..];
        let name = match rest.strip_prefix('"') {
            Some(quoted) => quoted.split('"').next().unwrap_or(""),
            None => rest.split([';', ' ', '\r']).next().unwrap_or(""),
        };
        // The blank line that ends the part's headers, this header's own line ending included.
        let head = &text[start..];
        let blank = ["\r\n\r\n", "\n\n"]
            .iter()
            .filter_map(|b| head.find(b).map(|i| i + b.len()))
            .min();
        if let Some(b) = blank {
            let value = head[b..].split(['\r', '\n']).next().unwrap_or("");
            out.push((name, value));
        }
    }
    out
}

/// The placeholder that replaces a secret.
pub(crate) const REDACTED: &str = "<redacted>";

/// Replaces secrets in text.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    fields: BTreeSet<String>,
    secrets: Vec<String>,
    /// The secrets that are token values the target issued: their placeholder carries a
    /// short SHA-256 of the value, so a vendor can find the token in its own logs. Never a
    /// password's: a hash prefix of a password is something to test guesses against.
    tokens: BTreeSet<String>,
    /// Every form of every secret (as it is, URL-encoded, JSON-escaped) in one automaton: a
    /// run's report redacts hundreds of token values in megabytes of bodies, and a pass per
    /// form of each secret took a minute where one pass takes a moment.
    /// Built at the first redaction after the secrets last changed, with each form's
    /// placeholder.
    forms: OnceLock<Option<(AhoCorasick, Vec<String>)>>,
}

impl Redactor {
    /// A redactor for these secrets (short values, under 4 characters, are ignored: replacing
    /// them would shred ordinary text).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut r = Self::default();
        r.add(secrets);
        r
    }

    /// A redactor for these secret fields and secrets.
    pub(crate) fn with_fields<'a>(
        fields: impl IntoIterator<Item = &'a str>,
        secrets: impl IntoIterator<Item = String>,
    ) -> Self {
        let mut r = Self {
            fields: fields.into_iter().map(str::to_owned).collect(),
            secrets: Vec::new(),
            tokens: BTreeSet::new(),
            forms: OnceLock::new(),
        };
        r.add(secrets);
        r
    }

    /// Whether values of this field are secret.
    pub(crate) fn is_secret_field(&self, name: &str) -> bool {
        self.fields.contains(name)
    }

    fn add(&mut self, secrets: impl IntoIterator<Item = String>) {
        self.secrets
            .extend(secrets.into_iter().filter(|s| s.len() >= 4));
        // Longest first, so a secret that contains another is replaced whole.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        self.secrets.dedup();
        self.forms = OnceLock::new();
    }

    /// Adds secrets found in a JSON value's secret fields (e.g. a request body).
    fn learn(&mut self, v: &Value) {
        let mut found = Vec::new();
        self.collect(v, &mut found);
        self.add(found);
    }

    fn collect(&self, v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, val) in map {
                    match val {
                        Value::String(s) if self.fields.contains(k) && s.len() >= 8 => {
                            out.push(s.clone());
                        }
                        _ => self.collect(val, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| self.collect(i, out)),
            _ => {}
        }
    }

    /// Learns the secret-field values of one recorded body: JSON, form-encoded or multipart.
    fn learn_body(&mut self, text: &str) {
        if let Ok(v) = serde_json::from_str::<Value>(text) {
            self.learn(&v);
        }
        let form: serde_json::Map<String, Value> = form_urlencoded::parse(text.as_bytes())
            .filter(|(k, _)| self.fields.contains(k.as_ref()))
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        self.learn(&Value::Object(form));
        // Multipart parts, in any dialect a server may take: the header's name in any case,
        // the part's name quoted or not, then a blank line, then the value.
        for (name, value) in multipart_fields(text) {
            if self.fields.contains(name) {
                self.learn(&serde_json::json!({ name: value }));
            }
        }
    }

    /// A redactor for a report: the given secrets (the password), and every value of a secret
    /// `field` in any request or response body it holds.
    pub fn for_report(
        report: &Report,
        fields: &BTreeSet<String>,
        secrets: impl IntoIterator<Item = String>,
    ) -> Self {
        let mut r = Self::with_fields(fields.iter().map(String::as_str), secrets);
        // The bodies' texts as the reports show them.
        let bodies: Vec<String> = match &report.body {
            Body::Suite(s) => s
                .cases
                .iter()
                .flat_map(|c| &c.steps)
                .flat_map(|step| {
                    [
                        step.request().map(|q| q.body),
                        step.response().map(|p| p.body),
                    ]
                })
                .flatten()
                .collect(),
            Body::Traffic(t) => t
                .kept_exchanges
                .iter()
                .flat_map(|x| [x.request.body.clone(), x.response.body.clone()])
                .collect(),
        };
        for text in &bodies {
            r.learn_body(text);
        }
        if let Body::Suite(s) = &report.body {
            let issued: Vec<String> = s.issued.iter().map(|t| t.expose().to_owned()).collect();
            r.tokens
                .extend(issued.iter().filter(|t| t.len() >= 4).cloned());
            r.add(issued);
        }
        r
    }

    /// What stands for `value` once redacted: `<redacted sha256:1a2b3c4d>` for a token value
    /// the target issued (the first 8 hex digits of its SHA-256), `<redacted>` for anything
    /// else.
    pub(crate) fn placeholder(&self, value: &str) -> String {
        if self.tokens.contains(value) {
            let digest = Sha256::digest(value.as_bytes());
            let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
            format!("<redacted sha256:{hex}>")
        } else {
            REDACTED.to_owned()
        }
    }

    /// One automaton for every form of every secret (as it is, URL-encoded, JSON-escaped),
    /// and each form's placeholder.
    fn forms(&self) -> Option<(AhoCorasick, Vec<String>)> {
        let mut forms: Vec<(String, String)> = Vec::new();
        for secret in &self.secrets {
            let placeholder = self.placeholder(secret);
            let encoded: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            let json = serde_json::to_string(secret).expect("a string always serialises");
            forms.push((secret.clone(), placeholder.clone()));
            forms.push((encoded, placeholder.clone()));
            forms.push((json.trim_matches('"').to_owned(), placeholder));
        }
        forms.sort();
        forms.dedup_by(|a, b| a.0 == b.0);
        if forms.is_empty() {
            return None;
        }
        // Leftmost-longest: where one form holds another, the whole is replaced, as passes
        // over the secrets longest first did.
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(forms.iter().map(|(f, _)| f))
            .expect("literal patterns of a few hundred secrets build");
        Some((automaton, forms.into_iter().map(|(_, p)| p).collect()))
    }

    /// The text with every secret replaced, including URL-encoded forms of them.
    pub fn text(&self, s: &str) -> String {
        match self.forms.get_or_init(|| self.forms()) {
            Some((forms, placeholders)) => {
                let mut out = String::with_capacity(s.len());
                forms.replace_all_with(s, &mut out, |m, _, dst| {
                    dst.push_str(&placeholders[m.pattern().as_usize()]);
                    true
                });
                out
            }
            None => s.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Redactor;

    #[test]
    fn a_token_is_redacted_with_its_digest_and_a_password_without() {
        let mut r = Redactor::new(["pass-word-1".to_owned()]);
        r.tokens.insert("tok-4711-abcdefgh".to_owned());
        r.add(["tok-4711-abcdefgh".to_owned()]);
        // `echo -n tok-4711-abcdefgh | sha256sum`: 0573b623…
        assert_eq!(
            r.text("t=tok-4711-abcdefgh p=pass-word-1 q=pass%2Dword-1"),
            "t=<redacted sha256:0573b623> p=<redacted> q=pass%2Dword-1"
        );
        assert_eq!(r.placeholder("pass-word-1"), "<redacted>");
        assert_eq!(
            r.text(r#"{"a":"tok-4711-abcdefgh"}"#),
            r#"{"a":"<redacted sha256:0573b623>"}"#
        );
    }

    #[test]
    fn multipart_fields_are_read_in_every_dialect() {
        let text = "--b\r\ncontent-disposition:form-data;name=refresh_token\r\n\r\nVALUE-one\r\n--b\r\nContent-Disposition: form-data; name=\"user_id\"\r\n\r\n5\r\n--b\nCONTENT-DISPOSITION: form-data; filename=\"f\"; name=\"x\"\n\nlf\n--b--";
        assert_eq!(
            super::multipart_fields(text),
            [
                ("refresh_token", "VALUE-one"),
                ("user_id", "5"),
                ("x", "lf")
            ]
        );
    }

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
