//! `status.documented` and `status.refusal_documented`: the status class is what clients branch
//! on (MUST), the exact 4xx is the framework's business (SHOULD).

use super::{CheckInfo, Context, Finding, Findings};

/// A status other than a client or server error is one the contract documents.
pub(crate) const DOCUMENTED: CheckInfo = CheckInfo::must(
    "status.documented",
    "A status that is not an error (1xx, 2xx, 3xx) is one the contract documents for the operation: clients accept only their documented success codes.",
)
.because(&["vendor-page", "client:allie-sdk"]);

/// A 4xx is one the contract documents.
pub(crate) const REFUSAL_DOCUMENTED: CheckInfo = CheckInfo::should(
    "status.refusal_documented",
    "A 4xx is one the contract documents for the operation (FastAPI's 422 is a refusal, but not one the contract names).",
);

/// The statuses the operation documents, for messages.
fn documented_list(cx: &Context<'_>) -> String {
    let documented: Vec<String> =
        cx.x.operation
            .responses
            .keys()
            .map(u16::to_string)
            .collect();
    format!("one of {}", documented.join(", "))
}

/// `status.documented`. Errors are judged elsewhere: a 5xx by `server_error.none`, a 4xx's
/// number by `status.refusal_documented`.
pub fn documented(cx: &Context<'_>, out: &mut Findings) {
    let op = cx.x.operation;
    if cx.x.status() >= 400 || op.documents(cx.x.status()) {
        return;
    }
    out.push(
        Finding::new(
            DOCUMENTED,
            format!(
                "{} answered {}, which the contract does not document",
                op.id,
                cx.x.status()
            ),
        )
        .values(documented_list(cx), cx.x.status().to_string()),
    );
}

/// `status.refusal_documented`.
pub fn refusal_documented(cx: &Context<'_>, out: &mut Findings) {
    let op = cx.x.operation;
    if !cx.client_error() || op.documents(cx.x.status()) {
        return;
    }
    out.push(
        Finding::new(
            REFUSAL_DOCUMENTED,
            format!(
                "{} refused with {}, a status the contract does not name for it",
                op.id,
                cx.x.status()
            ),
        )
        .values(documented_list(cx), cx.x.status().to_string()),
    );
}
