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

mod fields;
mod observe;
mod store;
#[cfg(test)]
mod tests;

pub(crate) use fields::first_answer;
pub(crate) use fields::owner_text;
pub use fields::user_id;
pub use store::FirstAnswer;

use std::time::Instant;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::duration::{LifespanFrom, Span};
use crate::spec::{Severity, TokenKind, TokenShape};
use fields::{reported_lifespan, text};
pub(crate) use store::{Key, key};
use store::{Known, RunSide, Tokens};

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
    pub(crate) fn is_dead(self) -> bool {
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
    /// Where that lifespan comes from, for messages.
    pub lifespan_from: LifespanFrom,
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
    tokens: Tokens,
    lifespans: Lifespans,
    /// Where the lifespans in force come from: (refresh, access).
    lifespans_from: (LifespanFrom, LifespanFrom),
    moved: Span,
    profile_username: String,
    /// Whether values (and token objects) are kept: a run's ledger does, a proxy's does not.
    keeps_values: bool,
    /// Tokens forgotten before they were dead for a lifespan, to stay within the capacity.
    evicted: u64,
    inserts: u64,
}

impl Ledger {
    /// A ledger for a case on a target with these lifespans (which come `from` where it
    /// says: refresh, access), logging in as `profile_username`.
    pub fn new(
        lifespans: Lifespans,
        from: (LifespanFrom, LifespanFrom),
        profile_username: &str,
    ) -> Self {
        Self {
            tokens: Tokens::default(),
            lifespans,
            lifespans_from: from,
            moved: Span::default(),
            profile_username: profile_username.to_owned(),
            keeps_values: true,
            evicted: 0,
            inserts: 0,
        }
    }

    /// A ledger of traffic the harness did not write (the proxy's): it keeps no token value
    /// and no token object, only a digest of each value and what the answers said, and holds
    /// at most `capacity` tokens. Tokens dead for longer than their lifespan are forgotten
    /// ([`Ledger::forget_dead`]); past the capacity, the oldest are.
    pub(crate) fn for_traffic(
        lifespans: Lifespans,
        from: (LifespanFrom, LifespanFrom),
        capacity: usize,
    ) -> Self {
        Self {
            keeps_values: false,
            tokens: Tokens::ring(capacity),
            ..Self::new(lifespans, from, "")
        }
    }

    /// How many tokens the ledger holds.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Tokens forgotten early to stay within the capacity.
    pub(crate) fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Forgets the tokens dead for longer than their lifespan: nothing an answer about them
    /// can say is judged differently after that long (a dead token stays dead).
    pub(crate) fn forget_dead(&mut self) {
        let now = Instant::now();
        self.tokens.retain(|k| {
            let lifespan = k.reported_lifespan.unwrap_or(k.lifespan).to_std();
            let expired_at = k
                .age_at_sight
                .and_then(|a| (lifespan + lifespan).checked_sub(a.to_std()))
                .map(|rest| k.issued + rest);
            let revoked_long_ago = k.died.is_some_and(|d| now.duration_since(d) > lifespan);
            let expired_long_ago = expired_at.is_some_and(|t| now > t);
            !(revoked_long_ago || expired_long_ago)
        });
    }

    /// Adds a token the ledger does not hold yet; in a proxy's, forgets the dead from time to
    /// time, and the oldest when it is full.
    fn add(&mut self, k: Key, known: Known) {
        if self.tokens.ring.is_some() {
            self.inserts += 1;
            if self.inserts.is_multiple_of(4096) {
                self.forget_dead();
            }
        }
        if self.tokens.insert(k, known) {
            self.evicted += 1;
        }
    }

    /// The lifespans in force for new tokens.
    pub fn lifespans(&self) -> Lifespans {
        self.lifespans
    }

    /// Records a lifespan change (applies to tokens created afterwards).
    pub(crate) fn set_lifespans(&mut self, l: Lifespans) {
        if l.refresh != self.lifespans.refresh {
            self.lifespans_from.0 = LifespanFrom::CaseStep;
        }
        if l.access != self.lifespans.access {
            self.lifespans_from.1 = LifespanFrom::CaseStep;
        }
        self.lifespans = l;
    }

    /// Records a move of the target's clock.
    pub(crate) fn clock_moved(&mut self, by: Span) {
        self.moved = Span::from_micros(self.moved.micros().saturating_add(by.micros()));
    }

    /// How far the case has moved the target's clock.
    pub(crate) fn moved(&self) -> Span {
        self.moved
    }

    /// Records an administrator's revocation of a refresh token, which the control protocol's
    /// document says revokes its access tokens too.
    pub(crate) fn admin_revoked(&mut self, refresh: &str) {
        let k = key(refresh);
        self.revoke(&k, Severity::Must);
        self.revoke_children(&k, Severity::Must);
    }

    /// Takes a token lent by the run's pool: `body` is its latest token object, issued at
    /// `issued` (local clock), shaped as `shape` says.
    pub(crate) fn adopt(&mut self, shape: &TokenShape, body: Map<String, Value>, issued: Instant) {
        let Some(value) = text(&body, &shape.value) else {
            return;
        };
        let k = key(&value);
        let first = first_answer(shape, &body);
        let reported_lifespan = reported_lifespan(shape, &body);
        let run = self.keeps_values.then(|| {
            Box::new(RunSide {
                value: value.into_boxed_str(),
                successor: None,
                origin: Origin::Borrowed,
                body,
                use_current: true,
            })
        });
        self.add(
            k,
            Known {
                kind: shape.kind,
                lifespan: self.lifespans.of(shape.kind),
                reported_lifespan,
                issued,
                age_at_sight: Some(Span::default()),
                moved_at_issue: self.moved,
                revoked: None,
                died: None,
                reported_expired: false,
                parent: None,
                first,
                run,
            },
        );
    }

    /// The known token a request's value names: itself, or the token it names once the white
    /// space around it is trimmed (a server may trim it, as Django REST framework does).
    fn resolve(&self, value: &str) -> Key {
        let (exact, trimmed) = (key(value), key(value.trim()));
        if self.tokens.contains_key(&exact) || !self.tokens.contains_key(&trimmed) {
            exact
        } else {
            trimmed
        }
    }

    /// What the first answer about this token said, if the ledger knows it.
    pub(crate) fn first_answer(&self, value: &str) -> Option<&FirstAnswer> {
        self.tokens.get(&self.resolve(value)).map(|k| &k.first)
    }

    /// The tokens the case holds and expects alive, with their latest token objects: those it
    /// borrowed or was issued, not those it only saw, and none near its expiry.
    pub(crate) fn held_alive(&self, tolerance: Span) -> Vec<Held> {
        let mut out: Vec<Held> = self
            .tokens
            .iter()
            .filter(|(_, k)| k.origin() != Origin::Seen)
            .filter(|(_, k)| k.run.as_ref().is_some_and(|r| !r.body.is_empty()))
            .filter(|(v, _)| self.expected_of(v, tolerance) == Some(Expected::Active))
            .filter_map(|(_, k)| Some((k.value()?, k)))
            .map(|(v, k)| Held {
                value: v,
                kind: k.kind,
                body: k.run.as_ref().map(|r| r.body.clone()).unwrap_or_default(),
                use_current: k.run.as_ref().is_some_and(|r| r.use_current),
                parent: k.parent.and_then(|p| self.value_of(&p)),
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

    fn value_of(&self, k: &Key) -> Option<String> {
        self.tokens.get(k).and_then(Known::value)
    }

    /// Records a token object the run itself read (not a case's step), as the token's latest.
    pub(crate) fn reread(&mut self, value: &str, body: Map<String, Value>) {
        if let Some(run) = self
            .tokens
            .get_mut(&key(value))
            .and_then(|k| k.run.as_mut())
        {
            run.body = body;
            run.use_current = true;
        }
    }

    /// Whether the case left this token as it got it: nothing minted from it, not replaced,
    /// not revoked. Such a token needs no cleaning before another case borrows it.
    pub fn untouched(&self, value: &str) -> bool {
        let me = key(value);
        self.tokens.get(&me).is_some_and(|k| {
            k.revoked.is_none()
                && k.successor().is_none()
                && !self.tokens.values().any(|c| c.parent == Some(me))
        })
    }

    fn mark(k: &mut Known, how: Severity) {
        k.revoked = Some(k.revoked.map_or(how, |s| s.min(how)));
        k.died.get_or_insert_with(Instant::now);
    }

    fn revoke(&mut self, value: &Key, how: Severity) {
        if let Some(k) = self.tokens.get_mut(value) {
            Self::mark(k, how);
        }
    }

    fn revoke_children(&mut self, parent: &Key, how: Severity) {
        for k in self.tokens.values_mut() {
            if k.kind == TokenKind::Access && k.parent.as_ref() == Some(parent) {
                Self::mark(k, how);
            }
        }
    }

    /// Records what an answer reported of a token's status, once the checks have judged it:
    /// a token reported revoked or expired is dead from then on, whatever its times say, and
    /// a later answer that treats it as alive contradicts this one.
    pub fn reported(&mut self, value: &str, word: &str, states: &crate::spec::States) {
        let k = self.resolve(value);
        let Some(known) = self.tokens.get_mut(&k) else {
            return;
        };
        if word.eq_ignore_ascii_case(&states.revoked) {
            Self::mark(known, Severity::Must);
        } else if word.eq_ignore_ascii_case(&states.expired) {
            known.reported_expired = true;
            known.died.get_or_insert_with(Instant::now);
        }
    }

    /// What the case expects of this token now, if it can tell: `None` for unknown tokens
    /// and for tokens within `tolerance` of their expiry.
    pub fn expected(&self, value: &str, tolerance: Span) -> Option<Expected> {
        self.expected_of(&self.resolve(value), tolerance)
    }

    fn expected_of(&self, value: &Key, tolerance: Span) -> Option<Expected> {
        let k = self.tokens.get(value)?;
        let age = k.age_at_sight.map(|at_sight| {
            Span::from_micros(
                i64::try_from(k.issued.elapsed().as_micros())
                    .unwrap_or(i64::MAX)
                    .saturating_add(self.moved.micros() - k.moved_at_issue.micros())
                    .saturating_add(at_sight.micros()),
            )
        });
        let lifespan = k.reported_lifespan.unwrap_or(k.lifespan);
        // The target's tolerance is at least a second (`target::MIN_TOLERANCE`): the run's
        // clock starts when the answer arrives, the server's when it wrote the token.
        let margin = tolerance.micros();
        let expired = match age {
            _ if k.reported_expired => Some(true),
            Some(age) if age.micros() > lifespan.micros() + margin => Some(true),
            Some(age) if age.micros() < lifespan.micros() - margin => Some(false),
            _ => None,
        };
        match (k.revoked, expired) {
            (Some(_), Some(true)) => Some(Expected::Dead),
            (Some(s), _) => Some(Expected::Revoked(s)),
            (None, Some(true)) => Some(Expected::Expired),
            (None, Some(false)) => Some(Expected::Active),
            (None, None) => None,
        }
    }
}
