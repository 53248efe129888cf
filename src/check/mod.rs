//! Named checks applied to every response, with no line in any case.
//!
//! Each check has an id, a severity and a fixed failure text documented in `CHECKS.md`; the
//! `checks_md_lists_every_check` test keeps the two in step. A SHOULD finding is a warning; it
//! fails the run only under `--strict`.

mod cache_control;
mod content_type;
mod error_shape;
mod expiry;
mod ledger;
mod schema;
mod status;
mod timestamp;
mod token_status;
mod token_value;

pub use ledger::{Ledger, TokenKind};
pub use timestamp::parse as parse_timestamp;
pub use token_value::IssuedTokens;

use serde_json::Value;

use crate::case::Severity;
use crate::duration::Span;
use crate::spec::{Operation, Spec};

/// A check's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckInfo {
    /// Stable id, e.g. `schema.body`.
    pub id: &'static str,
    /// MUST or SHOULD.
    pub severity: Severity,
    /// One line: what it verifies.
    pub summary: &'static str,
}

const fn must(id: &'static str, summary: &'static str) -> CheckInfo {
    CheckInfo {
        id,
        severity: Severity::Must,
        summary,
    }
}

const fn should(id: &'static str, summary: &'static str) -> CheckInfo {
    CheckInfo {
        id,
        severity: Severity::Should,
        summary,
    }
}

/// The status is documented for the operation.
pub const STATUS_DOCUMENTED: CheckInfo = must(
    "status.documented",
    "The status code is one the contract documents for the operation.",
);
/// The Content-Type is a JSON media type.
pub const CONTENT_TYPE_JSON: CheckInfo = must(
    "content_type.json",
    "Responses with a documented body have a JSON Content-Type.",
);
/// The Content-Type is exactly application/json.
pub const CONTENT_TYPE_EXACT: CheckInfo = should(
    "content_type.application_json",
    "The Content-Type is application/json (not text/json or another JSON type).",
);
/// The body parses as JSON.
pub const BODY_JSON: CheckInfo = must("body.json", "A documented JSON body parses as JSON.");
/// The body matches the documented schema.
pub const SCHEMA_BODY: CheckInfo = must(
    "schema.body",
    "The body matches the schema documented for that operation and status.",
);
/// 4xx bodies have the Error shape.
pub const ERROR_SHAPE: CheckInfo = must(
    "error.shape",
    "A 4xx body is a JSON object with a string `detail`.",
);
/// 4xx bodies carry a string code.
pub const ERROR_CODE: CheckInfo = should(
    "error.code",
    "A 4xx body carries a string `code`, as real servers send.",
);
/// Timestamps are RFC 3339 with an offset.
pub const TIMESTAMP_RFC3339: CheckInfo = must(
    "timestamp.rfc3339",
    "Every date-time field is RFC 3339 with a UTC offset.",
);
/// Timestamps carry a fractional second.
pub const TIMESTAMP_FRACTION: CheckInfo = should(
    "timestamp.fraction",
    "Every date-time field carries fractional seconds (an SDK drops values without).",
);
/// token_status is one of the three values.
pub const TOKEN_STATUS_KNOWN: CheckInfo = must(
    "token_status.known",
    "`token_status` is ACTIVE, EXPIRED or REVOKED.",
);
/// token_status is upper case.
pub const TOKEN_STATUS_UPPERCASE: CheckInfo = should(
    "token_status.uppercase",
    "`token_status` is in upper case, as every real server sends.",
);
/// token_status agrees with what the case knows.
pub const TOKEN_STATUS_AGREES: CheckInfo = must(
    "token_status.agrees",
    "`token_status` agrees with what the case knows of the token (revoked, expired, active).",
);
/// Access tokens of a regenerated refresh token are reported revoked.
pub const TOKEN_STATUS_CASCADE: CheckInfo = should(
    "token_status.cascade",
    "Access tokens minted from a regenerated refresh token are no longer reported ACTIVE.",
);
/// Expiry arithmetic.
pub const EXPIRY_LIFESPAN: CheckInfo = must(
    "expiry.lifespan",
    "`token_expires_at - created_at` equals the configured lifespan within the tolerance.",
);
/// Every issued token is new.
pub const TOKEN_UNIQUE: CheckInfo = must(
    "token.unique",
    "Every token value issued during the run is unique.",
);
/// Tokens carry enough entropy.
pub const TOKEN_ENTROPY: CheckInfo = should(
    "token.entropy",
    "Token values carry at least 128 bits by a length and alphabet estimate.",
);
/// Responses carrying tokens are not cached.
pub const CACHE_NO_STORE: CheckInfo = should(
    "cache_control.no_store",
    "Responses that carry a token send `Cache-Control: no-store`.",
);
/// The case's expected status.
pub const EXPECT_STATUS: CheckInfo = must("expect.status", "The status is one the case expects.");
/// The case's body matchers.
pub const EXPECT_BODY: CheckInfo =
    must("expect.body", "The body fields match the case's matchers.");
/// The case's header matchers.
pub const EXPECT_HEADER: CheckInfo =
    must("expect.header", "The headers match the case's matchers.");
/// A capture found its value.
pub const CAPTURE: CheckInfo = must(
    "capture",
    "A value the case captures for later steps is in the response.",
);
/// The target answered at all.
pub const TRANSPORT: CheckInfo = must(
    "transport",
    "The target answers within the timeout with a complete response under the size cap.",
);
/// The control protocol did what was asked.
pub const CONTROL: CheckInfo = must(
    "control",
    "The control protocol accepts the request of a clock, lifespan or user step.",
);

/// A case's responses differ from its accepted snapshot.
pub const SNAPSHOT_DRIFT: CheckInfo = must(
    "snapshot.drift",
    "The redacted responses of a case equal its accepted snapshot.",
);

/// Every check, in the order CHECKS.md lists them.
pub const ALL: [CheckInfo; 24] = [
    STATUS_DOCUMENTED,
    CONTENT_TYPE_JSON,
    CONTENT_TYPE_EXACT,
    BODY_JSON,
    SCHEMA_BODY,
    ERROR_SHAPE,
    ERROR_CODE,
    TIMESTAMP_RFC3339,
    TIMESTAMP_FRACTION,
    TOKEN_STATUS_KNOWN,
    TOKEN_STATUS_UPPERCASE,
    TOKEN_STATUS_AGREES,
    TOKEN_STATUS_CASCADE,
    EXPIRY_LIFESPAN,
    TOKEN_UNIQUE,
    TOKEN_ENTROPY,
    CACHE_NO_STORE,
    EXPECT_STATUS,
    EXPECT_BODY,
    EXPECT_HEADER,
    CAPTURE,
    TRANSPORT,
    CONTROL,
    SNAPSHOT_DRIFT,
];

/// One thing a check found wrong.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// The check's id.
    pub check: &'static str,
    /// Its effective severity (a SHOULD case makes every finding SHOULD).
    pub severity: Severity,
    /// The failure text.
    pub message: String,
    /// What was expected, when it is a value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What was found, when it is a value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
}

impl serde::Serialize for Severity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl Finding {
    /// A finding of `check` with a message.
    pub fn new(check: CheckInfo, message: impl Into<String>) -> Self {
        Self {
            check: check.id,
            severity: check.severity,
            message: message.into(),
            expected: None,
            actual: None,
        }
    }

    /// Adds expected and actual values.
    pub fn values(mut self, expected: impl Into<String>, actual: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self.actual = Some(actual.into());
        self
    }
}

/// The lifespans in force for new tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifespans {
    /// Refresh tokens.
    pub refresh: Span,
    /// Access tokens.
    pub access: Span,
}

/// What a check sees of one exchange.
pub struct Exchange<'a> {
    /// The contract.
    pub spec: &'a Spec,
    /// The operation called.
    pub operation: &'a Operation,
    /// The request body's fields, rendered (empty for raw bodies).
    pub request: &'a serde_json::Map<String, Value>,
    /// The status.
    pub status: u16,
    /// The `Content-Type` header, if any.
    pub content_type: Option<&'a str>,
    /// The `Cache-Control` header, if any.
    pub cache_control: Option<&'a str>,
    /// The raw body.
    pub body: &'a [u8],
    /// The tolerance for expiry arithmetic.
    pub tolerance: Span,
}

/// Runs every check on one exchange. `ledger` is the case's knowledge of its tokens, updated
/// here with what the response shows; `issued` is the run-wide set of token values.
pub fn apply_all(
    x: &Exchange<'_>,
    ledger: &mut Ledger,
    issued: &IssuedTokens,
    where_: &str,
) -> (Vec<Finding>, Option<Value>) {
    let mut out = Vec::new();
    status::check(x, &mut out);
    let documented = x.operation.response(x.status);
    let wants_json = documented.is_some_and(|d| d.schema_pointer.is_some()) || x.status >= 400;
    if !wants_json {
        return (out, serde_json::from_slice(x.body).ok());
    }
    content_type::check(x, &mut out);
    let json: Value = match serde_json::from_slice(x.body) {
        Ok(v) => v,
        Err(e) => {
            let shown = String::from_utf8_lossy(&x.body[..x.body.len().min(120)]).into_owned();
            out.push(
                Finding::new(BODY_JSON, format!("the body is not JSON: {e}"))
                    .values("a JSON document", shown),
            );
            return (out, None);
        }
    };
    if let Some(doc) = documented {
        schema::check(x, doc, &json, &mut out);
        timestamp::check(doc, &json, &mut out);
    }
    if (400..500).contains(&x.status) {
        error_shape::check(&json, &mut out);
    }
    if (200..300).contains(&x.status) {
        let tokens = ledger.observe(x, &json);
        token_status::check(&json, &tokens, ledger, x.tolerance, &mut out);
        expiry::check(&json, &tokens, x.tolerance, &mut out);
        token_value::check(x, &tokens, issued, where_, &mut out);
        cache_control::check(x, &tokens, &mut out);
        ledger.after_success(&x.operation.id, x.request);
    }
    (out, Some(json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_md_lists_every_check() {
        let doc = include_str!("../../CHECKS.md");
        for c in ALL {
            let heading = format!("## `{}` ({})", c.id, c.severity.name());
            assert!(doc.contains(&heading), "CHECKS.md lacks {heading}");
        }
        let ids: std::collections::BTreeSet<&str> = ALL.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), ALL.len(), "duplicate check ids");
    }
}
