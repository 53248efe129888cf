//! `client_error.kept`.

use super::{CheckInfo, Context, Finding, Findings};

/// A request the case expects refused gets a client error, whatever else the case expects.
pub const KEPT: CheckInfo = CheckInfo::must(
    "client_error.kept",
    "A request the case expects refused (every status it expects is 4xx: bad input, a dead or unknown token, a wrong password) gets a 4xx: not a 2xx, which accepted it, nor a 5xx, which crashed on it.",
)
.in_every_case();

/// `client_error.kept`.
pub fn kept(cx: &Context<'_>, out: &mut Findings) {
    let expected = cx.x.expected;
    if expected.is_empty() || !expected.iter().all(|s| (400..500).contains(s)) {
        return;
    }
    let status = cx.x.status;
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
