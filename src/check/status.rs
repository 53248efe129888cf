//! `status.documented`.

use super::{CheckInfo, Context, Finding, Findings};

/// The status is documented for the operation.
pub(crate) const DOCUMENTED: CheckInfo = CheckInfo::must(
    "status.documented",
    "The status code is one the contract documents for the operation.",
);

/// `status.documented`.
pub fn documented(cx: &Context<'_>, out: &mut Findings) {
    let op = cx.x.operation;
    if op.documents(cx.x.status) {
        return;
    }
    let documented: Vec<String> = op.responses.keys().map(u16::to_string).collect();
    out.push(
        Finding::new(
            DOCUMENTED,
            format!(
                "{} answered {}, which the contract does not document",
                op.id, cx.x.status
            ),
        )
        .values(
            format!("one of {}", documented.join(", ")),
            cx.x.status.to_string(),
        ),
    );
}
