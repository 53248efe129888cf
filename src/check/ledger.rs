//! What a case knows about the tokens it has seen, so `token_status.agrees` can tell an expired
//! or revoked token reported `ACTIVE`, and `expiry.lifespan` can use the lifespan that was in
//! force when each token was created.
//!
//! Time is tracked without trusting the target's absolute clock: a token's age is the local
//! time since it was issued plus every clock move the case made since. That needs no clock
//! agreement between harness and target, only the control protocol's moves.

use std::collections::HashMap;
use std::time::Instant;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::{Exchange, Lifespans};
use crate::case::Severity;
use crate::duration::Span;

/// Which kind of token a value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A RefreshToken (`refresh_token`).
    Refresh,
    /// An API access token (`api_access_token`).
    Access,
}

impl TokenKind {
    /// The body field that carries a value of this kind.
    pub fn field(self) -> &'static str {
        match self {
            Self::Refresh => "refresh_token",
            Self::Access => "api_access_token",
        }
    }

    /// For messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Refresh => "refresh token",
            Self::Access => "access token",
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
    /// `created_at`, parsed.
    pub created_at: Option<OffsetDateTime>,
    /// `token_expires_at`, parsed.
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

    /// Records an administrator's revocation of a refresh token and its access tokens.
    pub fn admin_revoked(&mut self, refresh: &str) {
        self.revoke_family(refresh, Severity::Must, Severity::Must);
    }

    fn revoke_family(&mut self, refresh: &str, own: Severity, children: Severity) {
        if let Some(k) = self.tokens.get_mut(refresh) {
            k.revoked = Some(k.revoked.map_or(own, |s| s.min(own)));
        }
        for k in self.tokens.values_mut() {
            if k.parent.as_deref() == Some(refresh) {
                k.revoked = Some(k.revoked.map_or(children, |s| s.min(children)));
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

    /// Registers the tokens in a 2xx response body and returns them.
    pub fn observe(&mut self, x: &Exchange<'_>, json: &Value) -> Vec<Seen> {
        let Some(body) = json.as_object() else {
            return Vec::new();
        };
        let mut seen = Vec::new();
        for kind in [TokenKind::Refresh, TokenKind::Access] {
            let Some(value) = text(body, kind.field()) else {
                continue;
            };
            let is_new = !x
                .request
                .values()
                .any(|v| v.as_str() == Some(value.as_str()));
            let created_at = text(body, "created_at").and_then(|s| super::timestamp::parse(&s));
            let expires_at =
                text(body, "token_expires_at").and_then(|s| super::timestamp::parse(&s));
            let reported = match (created_at, expires_at) {
                (Some(c), Some(e)) => i64::try_from((e - c).whole_microseconds())
                    .ok()
                    .map(Span::from_micros),
                _ => None,
            };
            let lifespan = match kind {
                TokenKind::Refresh => self.lifespans.refresh,
                TokenKind::Access => self.lifespans.access,
            };
            let parent = match kind {
                TokenKind::Access => text(x.request, "refresh_token"),
                TokenKind::Refresh => None,
            };
            let moved = self.moved;
            let entry = self.tokens.entry(value.clone()).or_insert_with(|| Known {
                kind,
                lifespan,
                reported_lifespan: reported,
                issued: Instant::now(),
                moved_at_issue: moved,
                revoked: None,
                parent,
            });
            seen.push(Seen {
                kind,
                value,
                is_new,
                lifespan: entry.lifespan,
                created_at,
                expires_at,
            });
        }
        seen
    }

    /// Applies what a successful call does to the tokens the case knows: regeneration revokes
    /// the old refresh token (MUST) and its access tokens (SHOULD); revokeAPIAccessTokens
    /// revokes the access tokens minted from the refresh token (MUST).
    pub fn after_success(&mut self, operation: &str, request: &Map<String, Value>) {
        let Some(refresh) = text(request, "refresh_token") else {
            return;
        };
        match operation {
            "regenRefreshToken" => self.revoke_family(&refresh, Severity::Must, Severity::Should),
            "revokeAPIAccessTokens" => {
                let children: Vec<String> = self
                    .tokens
                    .iter()
                    .filter(|(_, k)| {
                        k.kind == TokenKind::Access && k.parent.as_deref() == Some(refresh.as_str())
                    })
                    .map(|(v, _)| v.clone())
                    .collect();
                for c in children {
                    if let Some(k) = self.tokens.get_mut(&c) {
                        k.revoked = Some(Severity::Must);
                    }
                }
            }
            _ => {}
        }
    }
}
