//! `client_error.kept` and `server_error.none`: what holds of the status whatever the case
//! expects.

use super::{CheckInfo, Context, Finding, Findings};

/// A request the case expects refused gets a client error, whatever else the case expects.
pub(crate) const KEPT: CheckInfo = CheckInfo::must(
    "client_error.kept",
    "A request the case expects refused (every status it expects is 4xx: bad input, a dead or unknown token, a wrong password) gets a 4xx: not a 2xx, which accepted it, nor a 5xx, which crashed on it.",
)
.because(&["client:allie-sdk"])
.in_every_case();

/// No request gets a server error.
pub(crate) const NO_SERVER_ERROR: CheckInfo = CheckInfo::must(
    "server_error.none",
    "No request gets a 5xx: the contract documents 500, but a conformant server answers every request of the suite, well-formed or not, without an internal error (a 503 is waited out first, and judged by the case; a 501 for a method the server does not implement is a refusal).",
)
.because(&["client:allie-sdk"])
.in_every_case();

/// Whether the step expects a refusal: every status it names is a 4xx.
fn expects_refusal(expected: &[u16]) -> bool {
    !expected.is_empty() && expected.iter().all(|s| (400..500).contains(s))
}

/// `client_error.kept`.
pub fn kept(cx: &Context<'_>, out: &mut Findings) {
    let expected = cx.x.expected;
    if !expects_refusal(expected) {
        return;
    }
    let status = cx.x.status();
    let what = if (200..300).contains(&status) {
        "accepted"
    } else if status >= 500 {
        "crashed on"
    } else {
        return;
    };
    let want: Vec<String> = expected.iter().map(u16::to_string).collect();
    out.push(
        Finding::new(
            KEPT,
            format!(
                "{} {what} a request the case expects it to refuse (it answered {status})",
                cx.x.operation.id
            ),
        )
        .values(format!("a 4xx: {}", want.join(" or ")), status.to_string()),
    );
}

/// `server_error.none`. A crash on a request the step expects refused is `client_error.kept`'s
/// finding; a 503 says "later", not "broken", and the run has already waited it out. A 501 to
/// a method the operation does not document is how a server that does not recognise the
/// method refuses it (RFC 9110 §15.6.2; Python's `http.server` and Apache do).
pub fn none(cx: &Context<'_>, out: &mut Findings) {
    let status = cx.x.status();
    if status < 500 || status == 503 || cx.x.expected.contains(&status) {
        return;
    }
    if status == 501 && cx.x.other_method {
        return;
    }
    if expects_refusal(cx.x.expected) && !cx.x.other_method {
        return;
    }
    out.push(
        Finding::new(
            NO_SERVER_ERROR,
            format!(
                "{} {} answered {status}, a server error",
                cx.x.method(),
                cx.x.operation.path
            ),
        )
        .values("no 5xx", status.to_string()),
    );
}
