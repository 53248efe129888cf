//! `token.owner`, `token.stable`, `token.name_kept`: what answers about one token keep agreeing
//! on across calls. Its owner and its times never change; a regenerated token keeps its
//! predecessor's owner and name. The first answer about each token is in the ledger, so these
//! hold across the calls of a case and across the exchanges a proxy sees.

use serde_json::Value;

use super::ledger::{FirstAnswer, first_answer, owner_text, user_id};
use super::{CheckInfo, Context, Finding, Findings, Seen};
use crate::spec::TokenShape;

/// The owner of a token is the user it was issued to.
pub(crate) const OWNER: CheckInfo = CheckInfo::must(
    "token.owner",
    "A token object names the user the request named, the user the token was issued to, and for a regenerated token its predecessor's owner.",
)
.because(&["vendor-page"]);
/// A token's times never change.
pub(crate) const STABLE: CheckInfo = CheckInfo::must(
    "token.stable",
    "`created_at` and `token_expires_at` of a token are the same, within the tolerance, in every answer about it.",
)
.because(&["vendor-page"]);
/// Regeneration keeps the name: the contract's decision, which no client depends on.
pub(crate) const NAME_KEPT: CheckInfo = CheckInfo::should(
    "token.name_kept",
    "A regenerated token keeps its predecessor's name.",
);

/// The first answer's view of the token object in this response.
fn now_says(shape: &TokenShape, json: &Value) -> FirstAnswer {
    json.as_object()
        .map(|body| first_answer(shape, body))
        .unwrap_or_default()
}

/// The request's token (by its field) when the response's token replaces it: the same kind,
/// issued by this call.
fn predecessor<'a>(cx: &'a Context<'_>, token: &Seen) -> Option<&'a str> {
    let req = cx.x.operation.request_token.as_ref()?;
    (token.is_new && req.kind == token.kind).then_some(())?;
    cx.x.fields.get(&req.value)?.as_str()
}

/// Two owners that differ, as text for the finding. Only ids both read as numbers are
/// compared: another spelling is no other user.
fn differ(a: Option<i64>, b: Option<i64>) -> Option<(String, String)> {
    match (a, b) {
        (Some(a), Some(b)) if a != b => Some((a.to_string(), b.to_string())),
        _ => None,
    }
}

/// `token.owner`.
pub fn owner(cx: &Context<'_>, out: &mut Findings) {
    let (Some(shape), Some(json)) = (cx.documented.and_then(|d| d.token.as_ref()), cx.json())
    else {
        return;
    };
    let now = now_says(shape, json);
    let requested =
        cx.x.operation
            .request_token
            .as_ref()
            .and_then(|r| r.owner.as_ref())
            .and_then(|f| cx.x.fields.get(f))
            .and_then(owner_text)
            .and_then(|o| user_id(&o));
    for token in cx.tokens {
        let kind = token.kind.name();
        if let Some((want, got)) = differ(requested, now.owner) {
            out.push(
                Finding::new(
                    OWNER,
                    format!(
                        "the {kind} in this answer belongs to another user than the request named"
                    ),
                )
                .values(want, got),
            );
        }
        let first = cx.ledger.first_answer(&token.value);
        if let Some((want, got)) = differ(first.and_then(|f| f.owner), now.owner) {
            out.push(
                Finding::new(
                    OWNER,
                    format!("this {kind} was issued to another user than this answer names"),
                )
                .values(want, got),
            );
        }
        let before = predecessor(cx, token).and_then(|p| cx.ledger.first_answer(p));
        if let Some((want, got)) = differ(before.and_then(|f| f.owner), now.owner) {
            out.push(
                Finding::new(
                    OWNER,
                    format!(
                        "the regenerated {kind} belongs to another user than the one it replaces"
                    ),
                )
                .values(want, got),
            );
        }
    }
}

/// `token.stable`.
pub fn stable(cx: &Context<'_>, out: &mut Findings) {
    let (Some(shape), Some(json)) = (cx.documented.and_then(|d| d.token.as_ref()), cx.json())
    else {
        return;
    };
    let now = now_says(shape, json);
    let tolerance = cx.x.tolerance.micros().unsigned_abs();
    for token in cx.tokens.iter().filter(|t| !t.is_new) {
        let Some(first) = cx.ledger.first_answer(&token.value) else {
            continue;
        };
        let pairs = [
            (shape.created.as_deref(), first.created, now.created),
            (shape.expires.as_deref(), first.expires, now.expires),
        ];
        for (field, was, is) in pairs {
            let (Some(field), Some(was), Some(is)) = (field, was, is) else {
                continue;
            };
            if (is - was).whole_microseconds().unsigned_abs() > u128::from(tolerance) {
                out.push(
                    Finding::new(
                        STABLE,
                        format!(
                            "`{field}` of this {} differs from what an earlier answer said",
                            token.kind.name()
                        ),
                    )
                    .values(stamp(was), stamp(is)),
                );
            }
        }
    }
}

fn stamp(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// `token.name_kept`.
pub fn name_kept(cx: &Context<'_>, out: &mut Findings) {
    let (Some(shape), Some(json)) = (cx.documented.and_then(|d| d.token.as_ref()), cx.json())
    else {
        return;
    };
    let now = now_says(shape, json);
    for token in cx.tokens {
        let before = predecessor(cx, token).and_then(|p| cx.ledger.first_answer(p));
        if let (Some(was), Some(is)) = (before.and_then(|b| b.name.as_deref()), now.name.as_deref())
            && was != is
        {
            out.push(
                Finding::new(
                    NAME_KEPT,
                    format!(
                        "the regenerated {} has another name than the one it replaces",
                        token.kind.name()
                    ),
                )
                .values(was, is),
            );
        }
    }
}
