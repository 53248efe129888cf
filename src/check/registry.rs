//! The one table of response checks, and the driver that builds a [`Context`] for a response
//! and runs them all.

use serde_json::Value;

use super::context::Body;
use super::{
    CheckFn, CheckInfo, Context, ENGINE_CHECKS, Findings, IssuedTokens, Judged, Ledger,
    cache_control, client_error, content_type, dead_token, error_shape, expiry, lineage, request,
    schema, status, timestamp, token_status, token_value,
};

/// Every response check, in the order it runs and CHECKS.md lists it.
pub(crate) const RESPONSE_CHECKS: &[(CheckInfo, CheckFn)] = &[
    (status::DOCUMENTED, status::documented),
    (status::REFUSAL_DOCUMENTED, status::refusal_documented),
    (content_type::JSON, content_type::json),
    (content_type::EXACT, content_type::exact),
    (content_type::BODY_JSON, content_type::body_json),
    (schema::BODY, schema::body),
    (error_shape::SHAPE, error_shape::shape),
    (error_shape::CODE, error_shape::code),
    (client_error::KEPT, client_error::kept),
    (client_error::NO_SERVER_ERROR, client_error::none),
    (timestamp::RFC3339, timestamp::rfc3339),
    (timestamp::FRACTION, timestamp::fraction),
    (timestamp::SKEW, timestamp::skew),
    (token_status::KNOWN, token_status::known),
    (token_status::UPPERCASE, token_status::uppercase),
    (token_status::AGREES, token_status::agrees),
    (token_status::CASCADE, token_status::cascade),
    (dead_token::REFUSED, dead_token::refused),
    (dead_token::UNUSABLE, dead_token::unusable),
    (lineage::OWNER, lineage::owner),
    (lineage::STABLE, lineage::stable),
    (lineage::NAME_KEPT, lineage::name_kept),
    (expiry::LIFESPAN, expiry::lifespan),
    (token_value::UNIQUE, token_value::unique),
    (token_value::ENTROPY, token_value::entropy),
    (cache_control::NO_STORE, cache_control::no_store),
];

/// Every check there is: the response checks, the request checks (a client's findings, which
/// the proxy judges), then those the engine raises.
pub fn all() -> impl Iterator<Item = CheckInfo> {
    RESPONSE_CHECKS
        .iter()
        .map(|(info, _)| *info)
        .chain(request::REQUEST_CHECKS.iter().map(|(info, _)| *info))
        .chain(ENGINE_CHECKS.iter().copied())
}

/// Judges one response with every check. `ledger` is the case's knowledge of its tokens,
/// updated with what the response shows and what the call did; `issued` is the run-wide set
/// of token values. Returns the findings and the body, if it is JSON.
pub fn judge(
    x: &Judged<'_>,
    ledger: &mut Ledger,
    issued: &IssuedTokens,
) -> (Findings, Option<Value>) {
    let documented = x.operation.response(x.status()).filter(|_| !x.other_method);
    let wants_json = documented.is_some_and(|d| d.schema_pointer.is_some()) || x.status() >= 400;
    let parsed = serde_json::from_slice::<Value>(x.body);
    let success = (200..300).contains(&x.status());
    let tokens = match (&parsed, documented) {
        (Ok(json), Some(doc)) if success && wants_json => ledger.observe(x, doc, json),
        _ => Vec::new(),
    };
    let complaint = parsed.as_ref().err().map(ToString::to_string);
    let body = match (&parsed, &complaint) {
        _ if !wants_json => Body::NotJudged,
        (Ok(v), _) => Body::Json(v),
        (Err(_), c) => Body::NotJson(c.as_deref().unwrap_or_default()),
    };
    let cx = Context {
        x,
        documented,
        body,
        tokens: &tokens,
        ledger,
        issued,
    };
    let mut out = Findings::default();
    if x.other_method {
        // Nothing the contract documents applies to a method it does not document.
        client_error::none(&cx, &mut out);
        return (out, parsed.ok());
    }
    for (_, check) in RESPONSE_CHECKS {
        check(&cx, &mut out);
    }
    if success
        && wants_json
        && let Ok(json) = &parsed
    {
        // What this answer reported counts for later ones, once it has been judged itself.
        if let (Some(states), Some(field)) = (
            documented.and_then(|d| d.states.as_ref()),
            documented.and_then(|d| d.token.as_ref()?.status.as_deref()),
        ) && let Some(word) = json.get(field).and_then(Value::as_str)
        {
            for t in &tokens {
                ledger.reported(&t.value, word, states);
            }
        }
        ledger.apply_effects(x.operation, x.fields, &tokens);
    }
    (out, parsed.ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every MUST names what it rests on, and CHECKS.md says it beside the check; a SHOULD
    /// needs none. `case` is for the engine's expectation checks alone.
    #[test]
    fn every_must_names_its_source() {
        let doc = include_str!("../../CHECKS.md");
        for c in all() {
            if c.severity == crate::spec::Severity::Should {
                continue;
            }
            assert!(!c.sources.is_empty(), "{} is a MUST without a source", c.id);
            let parsed: Vec<crate::source::Source> = c
                .sources
                .iter()
                .map(|s| {
                    crate::source::Source::parse(s).unwrap_or_else(|e| panic!("{}: {e:?}", c.id))
                })
                .collect();
            let line = format!("Source: {}.", crate::source::list(&parsed));
            let entry = doc
                .split(&format!("## `{}` (MUST)", c.id))
                .nth(1)
                .and_then(|rest| rest.split("\n## ").next())
                .unwrap_or_default();
            assert!(
                entry.contains(&line),
                "CHECKS.md's entry for {} lacks `{line}`",
                c.id
            );
        }
    }

    #[test]
    fn checks_md_lists_every_check() {
        let doc = include_str!("../../CHECKS.md");
        for c in all() {
            let heading = format!("## `{}` ({})", c.id, c.severity.name());
            assert!(doc.contains(&heading), "CHECKS.md lacks {heading}");
        }
        let ids: std::collections::BTreeSet<&str> = all().map(|c| c.id).collect();
        assert_eq!(ids.len(), all().count(), "duplicate check ids");
        let headings = doc.lines().filter(|l| l.starts_with("## `")).count();
        assert_eq!(
            headings,
            ids.len(),
            "CHECKS.md documents a check that does not exist"
        );
    }
}
