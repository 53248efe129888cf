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
//!
//! The ledger also remembers where each token came from (borrowed from the run's pool, or
//! issued during the case) and which token replaced which, so that the run can hand live
//! tokens back to the pool and clean up what is left when it ends.

use std::collections::HashMap;
use std::time::Instant;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::Exchange;
use crate::duration::Span;
use crate::spec::{Effect, Operation, ResponseDoc, Severity, TokenKind, TokenShape};

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

impl Expected {
    /// Whether the token should no longer be usable.
    pub fn is_dead(self) -> bool {
        !matches!(self, Self::Active)
    }
}

/// Where a token the case knows came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Lent by the run's pool.
    Borrowed,
    /// Issued by a response during the case; `by_profile` when the request that made it named
    /// the profile's user.
    Issued {
        /// Made for the profile's user.
        by_profile: bool,
    },
    /// Only seen in a response, never issued here.
    Seen,
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
    successor: Option<String>,
    origin: Origin,
    body: Map<String, Value>,
    /// Whether `body` shows the token's last use as it is now: a call that mints from the
    /// token moves it without showing it, until a response carries the token again.
    use_current: bool,
}

/// A token the case holds and expects alive.
#[derive(Clone, Debug)]
pub struct Held {
    /// The value.
    pub value: String,
    /// Its kind.
    pub kind: TokenKind,
    /// Its latest token object.
    pub body: Map<String, Value>,
    /// Whether that object's last use is still the token's.
    pub use_current: bool,
    /// The refresh token an access token was minted from.
    pub parent: Option<String>,
}

/// One token value seen in a response body.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Its kind.
    pub kind: TokenKind,
    /// The value.
    pub value: String,
    /// Whether this response issued it (the operation issues tokens of its kind).
    pub is_new: bool,
    /// The lifespan in force when it was created.
    pub lifespan: Span,
    /// Where that lifespan comes from (`--access-lifespan-hours`, the profile, the vendor's
    /// default, the target's control protocol, a step of the case), for messages.
    pub lifespan_from: String,
    /// Its creation time, parsed.
    pub created_at: Option<OffsetDateTime>,
    /// Its expiry, parsed.
    pub expires_at: Option<OffsetDateTime>,
}

/// What a case leaves behind about one token, for the run's clean-up.
#[derive(Clone, Debug)]
pub struct Fact {
    /// The value.
    pub value: String,
    /// Its kind.
    pub kind: TokenKind,
    /// Where it came from.
    pub origin: Origin,
    /// Revoked, and how surely.
    pub revoked: Option<Severity>,
    /// The refresh token an access token was minted from.
    pub parent: Option<String>,
    /// The token that replaced it.
    pub successor: Option<String>,
    /// The latest token object a response showed for it.
    pub body: Map<String, Value>,
    /// When it was issued (local clock).
    pub issued: Instant,
}

/// The case's knowledge.
#[derive(Debug)]
pub struct Ledger {
    tokens: HashMap<String, Known>,
    lifespans: Lifespans,
    /// Where the lifespans in force come from: (refresh, access).
    lifespans_from: (String, String),
    moved: Span,
    profile_username: String,
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

/// `expires - created` of a token object, as its shape names the fields.
fn reported_lifespan(shape: &TokenShape, body: &Map<String, Value>) -> Option<Span> {
    let created = time_field(body, shape.created.as_ref())?;
    let expires = time_field(body, shape.expires.as_ref())?;
    i64::try_from((expires - created).whole_microseconds())
        .ok()
        .map(Span::from_micros)
}

impl Ledger {
    /// A ledger for a case on a target with these lifespans (which come `from` where it
    /// says: refresh, access), logging in as `profile_username`.
    pub fn new(lifespans: Lifespans, from: (String, String), profile_username: &str) -> Self {
        Self {
            tokens: HashMap::new(),
            lifespans,
            lifespans_from: from,
            moved: Span::default(),
            profile_username: profile_username.to_owned(),
        }
    }

    /// The lifespans in force for new tokens.
    pub fn lifespans(&self) -> Lifespans {
        self.lifespans
    }

    /// Records a lifespan change (applies to tokens created afterwards).
    pub fn set_lifespans(&mut self, l: Lifespans) {
        let step = || "the case's set_lifespans step".to_owned();
        if l.refresh != self.lifespans.refresh {
            self.lifespans_from.0 = step();
        }
        if l.access != self.lifespans.access {
            self.lifespans_from.1 = step();
        }
        self.lifespans = l;
    }

    /// Records a move of the target's clock.
    pub fn clock_moved(&mut self, by: Span) {
        self.moved = Span::from_micros(self.moved.micros().saturating_add(by.micros()));
    }

    /// How far the case has moved the target's clock.
    pub fn moved(&self) -> Span {
        self.moved
    }

    /// Records an administrator's revocation of a refresh token, which the control protocol's
    /// document says revokes its access tokens too.
    pub fn admin_revoked(&mut self, refresh: &str) {
        self.revoke(refresh, Severity::Must);
        self.revoke_children(refresh, Severity::Must);
    }

    /// Takes a token lent by the run's pool: `body` is its latest token object, issued at
    /// `issued` (local clock), shaped as `shape` says.
    pub fn adopt(&mut self, shape: &TokenShape, body: Map<String, Value>, issued: Instant) {
        let Some(value) = text(&body, &shape.value) else {
            return;
        };
        self.tokens.insert(
            value,
            Known {
                kind: shape.kind,
                lifespan: self.lifespans.of(shape.kind),
                reported_lifespan: reported_lifespan(shape, &body),
                issued,
                moved_at_issue: self.moved,
                revoked: None,
                parent: None,
                successor: None,
                origin: Origin::Borrowed,
                body,
                use_current: true,
            },
        );
    }

    /// The known token a request's value names: itself, or the token it names once the white
    /// space around it is trimmed (a server may trim it, as Django REST framework does).
    fn resolve(&self, value: &str) -> String {
        let trimmed = value.trim();
        if self.tokens.contains_key(value) || !self.tokens.contains_key(trimmed) {
            value.to_owned()
        } else {
            trimmed.to_owned()
        }
    }

    /// The tokens the case holds and expects alive, with their latest token objects: those it
    /// borrowed or was issued, not those it only saw, and none near its expiry.
    pub fn held_alive(&self, tolerance: Span) -> Vec<Held> {
        let mut out: Vec<Held> = self
            .tokens
            .iter()
            .filter(|(_, k)| k.origin != Origin::Seen && !k.body.is_empty())
            .filter(|(v, _)| self.expected(v, tolerance) == Some(Expected::Active))
            .map(|(v, k)| Held {
                value: v.clone(),
                kind: k.kind,
                body: k.body.clone(),
                use_current: k.use_current,
                parent: k.parent.clone(),
            })
            .collect();
        // Refresh tokens first, then by value: the order requests go out in is stable.
        out.sort_by(|a, b| (a.kind, &a.value).cmp(&(b.kind, &b.value)));
        out
    }

    /// Whether the case knows this value as a token (the white space around it aside).
    pub fn knows(&self, value: &str) -> bool {
        self.tokens.contains_key(&self.resolve(value))
    }

    /// Records a token object the run itself read (not a case's step), as the token's latest.
    pub fn reread(&mut self, value: &str, body: Map<String, Value>) {
        if let Some(k) = self.tokens.get_mut(value) {
            k.body = body;
            k.use_current = true;
        }
    }

    /// Whether the case left this token as it got it: nothing minted from it, not replaced,
    /// not revoked. Such a token needs no cleaning before another case borrows it.
    pub fn untouched(&self, value: &str) -> bool {
        self.tokens.get(value).is_some_and(|k| {
            k.revoked.is_none()
                && k.successor.is_none()
                && !self
                    .tokens
                    .values()
                    .any(|c| c.parent.as_deref() == Some(value))
        })
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
        // The target's tolerance is at least a second (`target::MIN_TOLERANCE`): the run's
        // clock starts when the answer arrives, the server's when it wrote the token.
        let margin = tolerance.micros();
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
        let is_new = x.operation.issues() == Some(shape.kind);
        let created_at = time_field(body, shape.created.as_ref());
        let expires_at = time_field(body, shape.expires.as_ref());
        // An access token's parent is the refresh token its request named.
        let parent = match (shape.kind, &x.operation.request_token) {
            (TokenKind::Access, Some(req)) if req.kind == TokenKind::Refresh => {
                text(x.request, &req.value).map(|v| self.resolve(&v))
            }
            _ => None,
        };
        let origin = if is_new {
            Origin::Issued {
                by_profile: x
                    .request
                    .values()
                    .any(|v| v.as_str() == Some(self.profile_username.as_str())),
            }
        } else {
            Origin::Seen
        };
        let (lifespan, moved) = (self.lifespans.of(shape.kind), self.moved);
        let entry = self.tokens.entry(value.clone()).or_insert_with(|| Known {
            kind: shape.kind,
            lifespan,
            reported_lifespan: reported_lifespan(shape, body),
            issued: Instant::now(),
            moved_at_issue: moved,
            revoked: None,
            parent,
            successor: None,
            origin,
            body: Map::new(),
            use_current: true,
        });
        entry.body = body.clone();
        entry.use_current = true;
        let lifespan_from = match shape.kind {
            TokenKind::Refresh => self.lifespans_from.0.clone(),
            TokenKind::Access => self.lifespans_from.1.clone(),
        };
        vec![Seen {
            kind: shape.kind,
            value,
            is_new,
            lifespan: entry.lifespan,
            lifespan_from,
            created_at,
            expires_at,
        }]
    }

    /// Applies what a successful call of `op` does to the tokens its request names, as the
    /// operation's `x-token-effects` declare; `seen` is what its response carried. A token that
    /// revokes the request's token of its own kind replaces it.
    pub fn apply_effects(&mut self, op: &Operation, request: &Map<String, Value>, seen: &[Seen]) {
        let issued = op.issues();
        // A token another is issued from (an access token minted from a refresh token) has
        // been used: its last use moved, unseen.
        if let Some(req) = op
            .request_token
            .as_ref()
            .filter(|r| issued.is_some_and(|i| i != r.kind))
            && let Some(value) = text(request, &req.value).map(|v| self.resolve(&v))
            && let Some(k) = self.tokens.get_mut(&value)
        {
            k.use_current = false;
        }
        for effect in &op.effects {
            match effect {
                Effect::Issues(_) => {}
                Effect::Revoke { field, severity } => {
                    let Some(value) = text(request, field).map(|v| self.resolve(&v)) else {
                        continue;
                    };
                    self.revoke(&value, *severity);
                    let kind = self.tokens.get(&value).map(|k| k.kind);
                    let new = seen
                        .iter()
                        .find(|s| s.is_new && Some(s.kind) == kind && issued == kind);
                    if let (Some(new), Some(k)) = (new, self.tokens.get_mut(&value)) {
                        k.successor = Some(new.value.clone());
                    }
                }
                Effect::RevokeAccessTokensOf { field, severity } => {
                    if let Some(value) = text(request, field).map(|v| self.resolve(&v)) {
                        self.revoke_children(&value, *severity);
                    }
                }
            }
        }
    }

    /// The token that finally replaced `value` (itself when none did).
    pub fn latest(&self, value: &str) -> String {
        let mut current = value.to_owned();
        // A chain longer than the tokens known would be a loop.
        for _ in 0..=self.tokens.len() {
            match self.tokens.get(&current).and_then(|k| k.successor.clone()) {
                Some(next) => current = next,
                None => break,
            }
        }
        current
    }

    /// Everything the case learnt about its tokens.
    pub fn facts(&self) -> Vec<Fact> {
        self.tokens
            .iter()
            .map(|(value, k)| Fact {
                value: value.clone(),
                kind: k.kind,
                origin: k.origin,
                revoked: k.revoked,
                parent: k.parent.clone(),
                successor: k.successor.clone(),
                body: k.body.clone(),
                issued: k.issued,
            })
            .collect()
    }
}
