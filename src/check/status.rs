//! `status.documented`.

use super::{Exchange, Finding, STATUS_DOCUMENTED};

pub(super) fn check(x: &Exchange<'_>, out: &mut Vec<Finding>) {
    if !x.operation.documents(x.status) {
        let documented: Vec<String> = x.operation.responses.keys().map(u16::to_string).collect();
        out.push(
            Finding::new(
                STATUS_DOCUMENTED,
                format!(
                    "{} answered {}, which the contract does not document",
                    x.operation.id, x.status
                ),
            )
            .values(
                format!("one of {}", documented.join(", ")),
                x.status.to_string(),
            ),
        );
    }
}
