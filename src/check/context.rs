//! What a check sees of one response: the exchange as it went over the wire, the parsed body,
//! what the contract documents for that operation and status, the tokens the body carries, and
//! what the case knows of them. Built once per response by [`super::judge`].

use serde_json::{Map, Value};

use super::{IssuedTokens, Ledger, Seen};
use crate::duration::Span;
use crate::spec::{Operation, ResponseDoc, Spec};
use crate::wire;

/// One answered exchange as the response checks judge it: its record, borrowed, and what it
/// is judged against.
pub struct Judged<'a> {
    /// The contract.
    pub spec: &'a Spec,
    /// The operation called.
    pub operation: &'a Operation,
    /// The request as it was sent.
    pub request: &'a wire::Request,
    /// The response as it was received.
    pub response: &'a wire::Response,
    /// The response body as clients read it, decoded from its content coding: the run's
    /// record holds it so, the proxy's as it passed (and the proxy decodes it to judge it).
    pub body: &'a [u8],
    /// The request used a method the operation does not document: the contract says nothing
    /// of the answer, so only what holds of every request is judged.
    pub other_method: bool,
    /// The request body's fields: the run's as it rendered them (empty for raw bodies), the
    /// proxy's as it read them from the body.
    pub fields: &'a Map<String, Value>,
    /// The tolerance for time arithmetic.
    pub tolerance: Span,
    /// Where this exchange happened ("case-id step N: ..."), for messages that point back.
    pub place: &'a str,
    /// The statuses the case expects (empty for the run's own requests).
    pub expected: &'a [u16],
    /// When the request was sent, by the harness's clock: the record's start.
    pub sent_at: time::OffsetDateTime,
    /// How far the target's clock is from the harness's, when the control protocol says.
    pub target_clock: Option<Span>,
}

impl Judged<'_> {
    /// The method sent: the operation's, or another one (`other_method`).
    pub fn method(&self) -> &str {
        &self.request.method
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.response.status
    }

    /// The first response header of this name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.response.header(name)
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
        (200..300).contains(&self.x.status())
    }

    /// Whether the status is 4xx.
    pub fn client_error(&self) -> bool {
        (400..500).contains(&self.x.status())
    }

    /// The allowed values of a string enum field of the documented body.
    pub(crate) fn enum_values(&self, field: &str) -> Option<&[String]> {
        self.documented?.enum_fields.get(field).map(Vec::as_slice)
    }
}
