//! `token_status.known`, `token_status.uppercase`, `token_status.agrees`, `token_status.cascade`.

use serde_json::Value;

use super::ledger::{Expected, Ledger, Seen};
use super::{
    Finding, TOKEN_STATUS_AGREES, TOKEN_STATUS_CASCADE, TOKEN_STATUS_KNOWN, TOKEN_STATUS_UPPERCASE,
};
use crate::case::Severity;
use crate::duration::Span;

const KNOWN: [&str; 3] = ["ACTIVE", "EXPIRED", "REVOKED"];

pub(super) fn check(
    json: &Value,
    seen: &[Seen],
    ledger: &Ledger,
    tolerance: Span,
    out: &mut Vec<Finding>,
) {
    let Some(Value::String(status)) = json.get("token_status") else {
        return;
    };
    if !KNOWN.contains(&status.to_ascii_uppercase().as_str()) {
        out.push(
            Finding::new(
                TOKEN_STATUS_KNOWN,
                "`token_status` is not one of the three values",
            )
            .values("ACTIVE, EXPIRED or REVOKED", status.clone()),
        );
        return;
    }
    if status.chars().any(|c| c.is_ascii_lowercase()) {
        out.push(
            Finding::new(
                TOKEN_STATUS_UPPERCASE,
                "`token_status` is not in upper case",
            )
            .values(status.to_ascii_uppercase(), status.clone()),
        );
    }
    let reported = status.to_ascii_uppercase();
    for token in seen {
        let Some(expected) = ledger.expected(&token.value, tolerance) else {
            continue;
        };
        let (ok, want, check) = match expected {
            Expected::Active => (reported == "ACTIVE", "ACTIVE", TOKEN_STATUS_AGREES),
            Expected::Expired => (reported == "EXPIRED", "EXPIRED", TOKEN_STATUS_AGREES),
            Expected::Revoked(Severity::Must) => {
                (reported == "REVOKED", "REVOKED", TOKEN_STATUS_AGREES)
            }
            Expected::Revoked(Severity::Should) => (
                reported != "ACTIVE",
                "REVOKED or EXPIRED",
                TOKEN_STATUS_CASCADE,
            ),
            Expected::Dead => (
                reported != "ACTIVE",
                "EXPIRED or REVOKED",
                TOKEN_STATUS_AGREES,
            ),
        };
        if !ok {
            out.push(
                Finding::new(
                    check,
                    format!(
                        "`token_status` of this {} contradicts what the case did to it",
                        token.kind.name()
                    ),
                )
                .values(want, status.clone()),
            );
        }
    }
}
