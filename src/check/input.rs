//! `bad_input.rejected`.

use super::{CheckInfo, Context, Finding, Findings};

/// Bad input gets a client error, whatever else the case expects.
pub const REJECTED: CheckInfo = CheckInfo::must(
    "bad_input.rejected",
    "A request the case marks as bad input (every status it expects is 4xx) gets a 4xx: not a 2xx, which accepts it, nor a 5xx, which crashed on it.",
)
.in_every_case();

/// `bad_input.rejected`.
pub fn rejected(cx: &Context<'_>, out: &mut Findings) {
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
            REJECTED,
            format!(
                "{} {what} a request the case marks as bad input (it answered {status})",
                cx.x.operation.id
            ),
        )
        .values(format!("a 4xx: {}", want.join(" or ")), status.to_string()),
    );
}
