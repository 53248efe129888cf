//! What a check sees of one response: the exchange, the parsed body, what the contract
//! documents for that operation and status, the tokens the body carries, and what the case
//! knows of them. Built once per response by [`super::judge`].

use serde_json::{Map, Value};

use super::{IssuedTokens, Ledger, Seen};
use crate::duration::Span;
use crate::spec::{Operation, ResponseDoc, Spec};

/// One request and its response, as the run saw them.
pub struct Judged<'a> {
    /// The contract.
    pub spec: &'a Spec,
    /// The operation called.
    pub operation: &'a Operation,
    /// The method sent: the operation's, or another one (`other_method`).
    pub method: &'a str,
    /// The request used a method the operation does not document: the contract says nothing
    /// of the answer, so only what holds of every request is judged.
    pub other_method: bool,
    /// The request body's fields, rendered (empty for raw bodies).
    pub request: &'a Map<String, Value>,
    /// The status.
    pub status: u16,
    /// The response headers, names lower-cased.
    pub headers: &'a [(String, String)],
    /// The raw body.
    pub body: &'a [u8],
    /// The tolerance for time arithmetic.
    pub tolerance: Span,
    /// Where this exchange happened ("case-id step N: ..."), for messages that point back.
    pub place: &'a str,
    /// The statuses the case expects (empty for the run's own requests).
    pub expected: &'a [u16],
    /// When the request was sent, by the harness's clock.
    pub sent_at: time::OffsetDateTime,
    /// How far the target's clock is from the harness's, when the control protocol says.
    pub target_clock: Option<Span>,
}

impl Judged<'_> {
    /// The first response header of this name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How the response body parsed.
pub enum Body<'a> {
    /// The contract documents no JSON body for this status, so it is not judged.
    NotJudged,
    /// A JSON document.
    Json(&'a Value),
    /// Not JSON, though JSON was due; the parser's complaint.
    NotJson(&'a str),
}

/// Everything a check may look at.
pub struct Context<'a> {
    /// The exchange.
    pub x: &'a Judged<'a>,
    /// What the contract documents for this operation and status.
    pub documented: Option<&'a ResponseDoc>,
    /// The body.
    pub body: Body<'a>,
    /// The tokens a 2xx body carries.
    pub tokens: &'a [Seen],
    /// What the case knows of its tokens (after registering `tokens`).
    pub ledger: &'a Ledger,
    /// Every token value issued so far in the run.
    pub issued: &'a IssuedTokens,
}

impl Context<'_> {
    /// Whether the response is due a JSON body: its status documents one, or it is an error.
    pub(crate) fn wants_json(&self) -> bool {
        !matches!(self.body, Body::NotJudged)
    }

    /// The JSON body, when one was due and parsed.
    pub fn json(&self) -> Option<&Value> {
        match self.body {
            Body::Json(v) => Some(v),
            _ => None,
        }
    }

    /// The start of the body as text, for a finding about a body that is not JSON.
    pub(crate) fn body_start(&self) -> String {
        let body = self.x.body;
        String::from_utf8_lossy(&body[..body.len().min(120)]).into_owned()
    }

    /// Whether the status is 2xx.
    pub fn success(&self) -> bool {
        (200..300).contains(&self.x.status)
    }

    /// Whether the status is 4xx.
    pub fn client_error(&self) -> bool {
        (400..500).contains(&self.x.status)
    }

    /// The allowed values of a string enum field of the documented body.
    pub(crate) fn enum_values(&self, field: &str) -> Option<&[String]> {
        self.documented?.enum_fields.get(field).map(Vec::as_slice)
    }
}
