//! The ledger's own tests: a proxy's ledger keeps no value and stays bounded.
use super::fields::parse_http_date;
use super::*;
use serde_json::json;
use std::time::Duration;

fn shape() -> TokenShape {
    TokenShape {
        kind: TokenKind::Access,
        value: "api_access_token".into(),
        owner: Some("user_id".into()),
        created: Some("created_at".into()),
        expires: Some("token_expires_at".into()),
        status: Some("token_status".into()),
        used: None,
        name: None,
    }
}

fn body(value: &str) -> Map<String, Value> {
    json!({"api_access_token": value, "user_id": 7, "created_at": "2026-11-30T00:00:00.000000Z"})
        .as_object()
        .cloned()
        .unwrap_or_default()
}

fn traffic(capacity: usize, access: Span) -> Ledger {
    let lifespans = Lifespans {
        refresh: Span::from_secs(60),
        access,
    };
    let from = (LifespanFrom::VendorDefault, LifespanFrom::VendorDefault);
    Ledger::for_traffic(lifespans, from, capacity)
}

#[test]
fn a_traffic_ledger_keeps_no_value_and_stays_within_its_capacity() {
    let mut ledger = traffic(3, Span::from_secs(3600));
    let values: Vec<String> = (0..5).map(|i| format!("secret-token-value-{i}")).collect();
    for v in &values {
        ledger.adopt(&shape(), body(v), Instant::now());
    }
    assert_eq!((ledger.len(), ledger.evicted()), (3, 2));
    assert!(
        ledger.first_answer(&values[0]).is_none(),
        "the oldest went first"
    );
    assert_eq!(
        ledger.first_answer(&values[4]).and_then(|f| f.owner),
        Some(7)
    );
    let memory = format!("{ledger:?}");
    assert!(
        values.iter().all(|v| !memory.contains(v.as_str())),
        "{memory}"
    );
    assert!(
        ledger.facts().is_empty(),
        "a traffic ledger can hand back no value"
    );
}

#[test]
fn tokens_dead_longer_than_their_lifespan_are_forgotten() {
    let mut ledger = traffic(10, Span::from_secs(1));
    // Three seconds ago, for a token whose lifespan is one: dead for two, longer than its life.
    let Some(long_ago) = Instant::now().checked_sub(Duration::from_secs(3)) else {
        return; // a machine up for less than three seconds
    };
    ledger.adopt(&shape(), body("expired-twice-over"), long_ago);
    ledger.adopt(&shape(), body("fresh"), Instant::now());
    ledger.forget_dead();
    assert!(ledger.first_answer("expired-twice-over").is_none());
    assert!(ledger.first_answer("fresh").is_some());
    // A reported status counts from then on: revoked stays revoked.
    let states = crate::spec::States {
        active: "ACTIVE".into(),
        expired: "EXPIRED".into(),
        revoked: "REVOKED".into(),
    };
    ledger.reported("fresh", "revoked", &states);
    assert_eq!(
        ledger.expected("fresh", Span::from_secs(1)),
        Some(Expected::Revoked(Severity::Must))
    );
}

#[test]
fn http_dates_parse() {
    let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").map(|t| t.unix_timestamp());
    assert_eq!(t, Some(784_111_777));
    assert!(parse_http_date("Sun, 06 Nov 1994 08:49:37 PST").is_none());
    assert!(parse_http_date("yesterday").is_none());
}
