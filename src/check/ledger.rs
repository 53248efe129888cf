//! What a case knows about the tokens it has seen, so `token_status.agrees` can tell an expired
//! or revoked token reported `ACTIVE`, and `expiry.lifespan` can use the lifespan that was in
//! force when each token was created.
//!
//! Time is tracked without trusting the target's absolute clock: a token's age is the local
//! time since it was issued plus every clock move the case made since. That needs no clock
//! agreement between harness and target, only the control protocol's moves.
//!
//! What a call does to tokens is not written here: it is the operation's `x-token-effects` in
//! the contract. The one effect the contract cannot state, because it happens outside the API,
//! is an administrator's revocation (the control protocol's document: it cascades).

use std::collections::HashMap;
use std::time::Instant;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::Exchange;
use crate::duration::Span;
use crate::spec::{EffectAction, Operation, ResponseDoc, Severity, TokenKind};

/// The lifespans in force for new tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifespans {
    /// Refresh tokens.
    pub refresh: Span,
    /// Access tokens.
    pub access: Span,
}

impl Lifespans {
    /// The lifespan of a kind of token.
    pub fn of(self, kind: TokenKind) -> Span {
        match kind {
            TokenKind::Refresh => self.refresh,
            TokenKind::Access => self.access,
        }
    }
}

/// What the case expects a token's status to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// Alive.
    Active,
    /// Past its expiry.
    Expired,
    /// Revoked; the severity says how sure (SHOULD when only by cascade).
    Revoked(Severity),
    /// Both expired and revoked: either word is right, ACTIVE is not.
    Dead,
}

#[derive(Clone, Debug)]
struct Known {
    kind: TokenKind,
    lifespan: Span,
    reported_lifespan: Option<Span>,
    issued: Instant,
    moved_at_issue: Span,
    revoked: Option<Severity>,
    parent: Option<String>,
}

/// One token value seen in a response body.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Its kind.
    pub kind: TokenKind,
    /// The value.
    pub value: String,
    /// Whether this response issued it (it was not in the request).
    pub is_new: bool,
    /// The lifespan in force when it was created.
    pub lifespan: Span,
    /// Its creation time, parsed.
    pub created_at: Option<OffsetDateTime>,
    /// Its expiry, parsed.
    pub expires_at: Option<OffsetDateTime>,
}

/// The case's knowledge.
#[derive(Debug)]
pub struct Ledger {
    tokens: HashMap<String, Known>,
    lifespans: Lifespans,
    moved: Span,
}

fn text(map: &Map<String, Value>, field: &str) -> Option<String> {
    match map.get(field)? {
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn time_field(map: &Map<String, Value>, field: Option<&String>) -> Option<OffsetDateTime> {
    text(map, field?).and_then(|s| super::timestamp::parse(&s))
}

impl Ledger {
    /// A ledger for a case on a target with these lifespans.
    pub fn new(lifespans: Lifespans) -> Self {
        Self {
            tokens: HashMap::new(),
            lifespans,
            moved: Span::default(),
        }
    }

    /// The lifespans in force for new tokens.
    pub fn lifespans(&self) -> Lifespans {
        self.lifespans
    }

    /// Records a lifespan change (applies to tokens created afterwards).
    pub fn set_lifespans(&mut self, l: Lifespans) {
        self.lifespans = l;
    }

    /// Records a move of the target's clock.
    pub fn clock_moved(&mut self, by: Span) {
        self.moved = Span::from_micros(self.moved.micros().saturating_add(by.micros()));
    }

    /// Records an administrator's revocation of a refresh token, which the control protocol's
    /// document says revokes its access tokens too.
    pub fn admin_revoked(&mut self, refresh: &str) {
        self.revoke(refresh, Severity::Must);
        self.revoke_children(refresh, Severity::Must);
    }

    fn mark(k: &mut Known, how: Severity) {
        k.revoked = Some(k.revoked.map_or(how, |s| s.min(how)));
    }

    fn revoke(&mut self, value: &str, how: Severity) {
        if let Some(k) = self.tokens.get_mut(value) {
            Self::mark(k, how);
        }
    }

    fn revoke_children(&mut self, parent: &str, how: Severity) {
        for k in self.tokens.values_mut() {
            if k.kind == TokenKind::Access && k.parent.as_deref() == Some(parent) {
                Self::mark(k, how);
            }
        }
    }

    /// What the case expects of this token now, if it can tell: `None` for unknown tokens
    /// and for tokens within `tolerance` of their expiry.
    pub fn expected(&self, value: &str, tolerance: Span) -> Option<Expected> {
        let k = self.tokens.get(value)?;
        let age = Span::from_micros(
            i64::try_from(k.issued.elapsed().as_micros())
                .unwrap_or(i64::MAX)
                .saturating_add(self.moved.micros() - k.moved_at_issue.micros()),
        );
        let lifespan = k.reported_lifespan.unwrap_or(k.lifespan);
        let margin = tolerance.micros().max(1_000_000);
        let expired = if age.micros() > lifespan.micros() + margin {
            Some(true)
        } else if age.micros() < lifespan.micros() - margin {
            Some(false)
        } else {
            None
        };
        match (k.revoked, expired) {
            (Some(_), Some(true)) => Some(Expected::Dead),
            (Some(s), _) => Some(Expected::Revoked(s)),
            (None, Some(true)) => Some(Expected::Expired),
            (None, Some(false)) => Some(Expected::Active),
            (None, None) => None,
        }
    }

    /// Registers the token a 2xx body carries (as the contract's `x-token` shapes it) and
    /// returns it.
    pub fn observe(&mut self, x: &Exchange<'_>, doc: &ResponseDoc, json: &Value) -> Vec<Seen> {
        let (Some(shape), Some(body)) = (&doc.token, json.as_object()) else {
            return Vec::new();
        };
        let Some(value) = text(body, &shape.value) else {
            return Vec::new();
        };
        let is_new = !x
            .request
            .values()
            .any(|v| v.as_str() == Some(value.as_str()));
        let created_at = time_field(body, shape.created.as_ref());
        let expires_at = time_field(body, shape.expires.as_ref());
        let reported = match (created_at, expires_at) {
            (Some(c), Some(e)) => i64::try_from((e - c).whole_microseconds())
                .ok()
                .map(Span::from_micros),
            _ => None,
        };
        // An access token's parent is the refresh token its request named.
        let parent = match (shape.kind, &x.operation.request_token) {
            (TokenKind::Access, Some(req)) if req.kind == TokenKind::Refresh => {
                text(x.request, &req.value)
            }
            _ => None,
        };
        let (lifespan, moved) = (self.lifespans.of(shape.kind), self.moved);
        let entry = self.tokens.entry(value.clone()).or_insert_with(|| Known {
            kind: shape.kind,
            lifespan,
            reported_lifespan: reported,
            issued: Instant::now(),
            moved_at_issue: moved,
            revoked: None,
            parent,
        });
        vec![Seen {
            kind: shape.kind,
            value,
            is_new,
            lifespan: entry.lifespan,
            created_at,
            expires_at,
        }]
    }

    /// Applies what a successful call of `op` does to the tokens its request names, as the
    /// operation's `x-token-effects` declare.
    pub fn apply_effects(&mut self, op: &Operation, request: &Map<String, Value>) {
        for effect in &op.effects {
            let Some(value) = text(request, &effect.field) else {
                continue;
            };
            match effect.action {
                EffectAction::Revoke => self.revoke(&value, effect.severity),
                EffectAction::RevokeAccessTokensOf => {
                    self.revoke_children(&value, effect.severity);
                }
            }
        }
    }
}
