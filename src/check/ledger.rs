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

use sha2::{Digest, Sha256};

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

/// A token's key in the ledger: the first 16 bytes of the SHA-256 of its value. The ledger of a
/// proxy keeps nothing else of a value, so its memory holds no secret.
type Key = [u8; 16];

fn key(value: &str) -> Key {
    let digest = Sha256::digest(value.as_bytes());
    let mut k = [0; 16];
    k.copy_from_slice(&digest[..16]);
    k
}

/// What the first answer about a token said of it: what later answers must repeat.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FirstAnswer {
    /// The owner's user id (`102` whether sent as a number or a string of digits); `None`
    /// when the field is missing or no number, and then not compared.
    pub owner: Option<i64>,
    /// The creation time.
    pub created: Option<OffsetDateTime>,
    /// The expiry.
    pub expires: Option<OffsetDateTime>,
    /// The name, for tokens that have one.
    pub name: Option<Box<str>>,
}

/// What only a run's ledger keeps of a token: its value, where it came from, which token
/// replaced it, and its latest token object. A proxy's ledger keeps none of it: no value, and
/// a small entry per token, so a model of a hundred thousand tokens stays small.
#[derive(Clone, Debug)]
struct RunSide {
    value: Box<str>,
    successor: Option<Key>,
    origin: Origin,
    body: Map<String, Value>,
    /// Whether `body` shows the token's last use as it is now: a call that mints from the
    /// token moves it without showing it, until a response carries the token again.
    use_current: bool,
}

#[derive(Clone, Debug)]
struct Known {
    kind: TokenKind,
    lifespan: Span,
    reported_lifespan: Option<Span>,
    issued: Instant,
    /// How old the token already was when the ledger first saw it (zero for tokens issued in
    /// view); `None` when that cannot be told, and its expiry is then not judged.
    age_at_sight: Option<Span>,
    moved_at_issue: Span,
    revoked: Option<Severity>,
    /// When it died, by revocation or a reported dead status (local clock).
    died: Option<Instant>,
    /// An answer reported it expired.
    reported_expired: bool,
    parent: Option<Key>,
    first: FirstAnswer,
    /// What a run keeps besides (`None` in a proxy's ledger).
    run: Option<Box<RunSide>>,
}

impl Known {
    /// The value, when the ledger keeps values.
    fn value(&self) -> Option<String> {
        self.run.as_ref().map(|r| r.value.to_string())
    }

    fn origin(&self) -> Origin {
        self.run.as_ref().map_or(Origin::Seen, |r| r.origin)
    }

    fn successor(&self) -> Option<Key> {
        self.run.as_ref().and_then(|r| r.successor)
    }
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
/// The tokens a ledger holds: an index by key into slots. A run's grows as it needs; a
/// proxy's is a ring of fixed size, where a new token takes the slot of the oldest. The index
/// holds only a key and a slot number, so the churn of a long session (tokens forgotten and
/// new ones seen) never makes it grow: a map that held whole entries would, as removals leave
/// markers behind.
#[derive(Debug, Default)]
struct Tokens {
    index: HashMap<Key, u32>,
    slots: Vec<Option<(Key, Known)>>,
    ring: Option<usize>,
    next: usize,
}

impl Tokens {
    fn ring(capacity: usize) -> Self {
        let capacity = capacity.clamp(1, u32::MAX as usize);
        Self {
            index: HashMap::with_capacity(capacity),
            slots: Vec::with_capacity(capacity),
            ring: Some(capacity),
            next: 0,
        }
    }

    fn len(&self) -> usize {
        self.index.len()
    }

    fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn slot(&self, k: &Key) -> Option<usize> {
        self.index.get(k).map(|i| *i as usize)
    }

    fn get(&self, k: &Key) -> Option<&Known> {
        self.slots.get(self.slot(k)?)?.as_ref().map(|(_, v)| v)
    }

    fn get_mut(&mut self, k: &Key) -> Option<&mut Known> {
        let i = self.slot(k)?;
        self.slots.get_mut(i)?.as_mut().map(|(_, v)| v)
    }

    fn contains_key(&self, k: &Key) -> bool {
        self.index.contains_key(k)
    }

    fn iter(&self) -> impl Iterator<Item = (&Key, &Known)> {
        self.slots.iter().flatten().map(|(k, v)| (k, v))
    }

    fn values(&self) -> impl Iterator<Item = &Known> {
        self.slots.iter().flatten().map(|(_, v)| v)
    }

    fn values_mut(&mut self) -> impl Iterator<Item = &mut Known> {
        self.slots.iter_mut().flatten().map(|(_, v)| v)
    }

    /// Adds a token it does not hold; returns whether an older one was forgotten for it.
    fn insert(&mut self, k: Key, v: Known) -> bool {
        let (i, evicted) = match self.ring {
            Some(cap) if self.slots.len() >= cap => {
                let i = self.next;
                self.next = (i + 1) % cap;
                let old = self.slots[i].take();
                if let Some((old, _)) = &old {
                    self.index.remove(old);
                }
                (i, old.is_some())
            }
            _ => {
                self.slots.push(None);
                (self.slots.len() - 1, false)
            }
        };
        self.slots[i] = Some((k, v));
        self.index.insert(k, u32::try_from(i).unwrap_or(u32::MAX));
        evicted
    }

    /// Keeps only the tokens `keep` says to.
    fn retain(&mut self, mut keep: impl FnMut(&Known) -> bool) {
        for slot in &mut self.slots {
            if let Some((k, v)) = slot
                && !keep(v)
            {
                self.index.remove(k);
                *slot = None;
            }
        }
    }
}

/// The case's knowledge.
#[derive(Debug)]
pub struct Ledger {
    tokens: Tokens,
    lifespans: Lifespans,
    /// Where the lifespans in force come from: (refresh, access).
    lifespans_from: (String, String),
    moved: Span,
    profile_username: String,
    /// Whether values (and token objects) are kept: a run's ledger does, a proxy's does not.
    keeps_values: bool,
    /// Tokens forgotten before they were dead for a lifespan, to stay within the capacity.
    evicted: u64,
    inserts: u64,
}

/// A user id as a number, when it is one: `102`, `"102"`, `" 102 "` and `102.0` are the same
/// user (a server may read a decimal's integer value, as Django REST framework does).
pub fn user_id(id: &str) -> Option<i64> {
    let id = id.trim();
    id.parse().ok().or_else(|| {
        let f: f64 = id.parse().ok()?;
        // Within i64, where every user id lies; the cast is exact for an integral value there.
        #[allow(clippy::cast_possible_truncation)]
        (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e18).then_some(f as i64)
    })
}

/// A token's owner field as text: `102` whether the body sent a number or a string.
pub fn owner_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
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

/// What a token object says of the fields later answers must repeat.
fn first_answer(shape: &TokenShape, body: &Map<String, Value>) -> FirstAnswer {
    FirstAnswer {
        owner: shape
            .owner
            .as_ref()
            .and_then(|f| body.get(f))
            .and_then(owner_text)
            .and_then(|o| user_id(&o)),
        created: time_field(body, shape.created.as_ref()),
        expires: time_field(body, shape.expires.as_ref()),
        name: shape
            .name
            .as_ref()
            .and_then(|f| text(body, f))
            .map(String::into_boxed_str),
    }
}

/// How old a token created at `created` is by the server's clock: its `Date` header, or the
/// harness's clock when it sends none. `None` when the creation time is unknown.
fn age_by_server(x: &Exchange<'_>, created: Option<OffsetDateTime>) -> Option<Span> {
    let now = x
        .header("date")
        .and_then(parse_http_date)
        .unwrap_or(x.sent_at);
    let age = now - created?;
    i64::try_from(age.whole_microseconds())
        .ok()
        .map(|m| Span::from_micros(m.max(0)))
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110's IMF-fixdate).
pub fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    let mut parts = s.split_ascii_whitespace().skip(1);
    let day: u8 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => time::Month::January,
        "Feb" => time::Month::February,
        "Mar" => time::Month::March,
        "Apr" => time::Month::April,
        "May" => time::Month::May,
        "Jun" => time::Month::June,
        "Jul" => time::Month::July,
        "Aug" => time::Month::August,
        "Sep" => time::Month::September,
        "Oct" => time::Month::October,
        "Nov" => time::Month::November,
        "Dec" => time::Month::December,
        _ => return None,
    };
    let year: i32 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<u8>().ok());
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next()??);
    if parts.next()? != "GMT" {
        return None;
    }
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let t = time::Time::from_hms(h, m, sec).ok()?;
    Some(time::PrimitiveDateTime::new(date, t).assume_utc())
}

impl Ledger {
    /// A ledger for a case on a target with these lifespans (which come `from` where it
    /// says: refresh, access), logging in as `profile_username`.
    pub fn new(lifespans: Lifespans, from: (String, String), profile_username: &str) -> Self {
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
    pub fn for_traffic(lifespans: Lifespans, from: (String, String), capacity: usize) -> Self {
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
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Forgets the tokens dead for longer than their lifespan: nothing an answer about them
    /// can say is judged differently after that long (a dead token stays dead).
    pub fn forget_dead(&mut self) {
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
        let k = key(refresh);
        self.revoke(&k, Severity::Must);
        self.revoke_children(&k, Severity::Must);
    }

    /// Takes a token lent by the run's pool: `body` is its latest token object, issued at
    /// `issued` (local clock), shaped as `shape` says.
    pub fn adopt(&mut self, shape: &TokenShape, body: Map<String, Value>, issued: Instant) {
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
    pub fn first_answer(&self, value: &str) -> Option<&FirstAnswer> {
        self.tokens.get(&self.resolve(value)).map(|k| &k.first)
    }

    /// The tokens the case holds and expects alive, with their latest token objects: those it
    /// borrowed or was issued, not those it only saw, and none near its expiry.
    pub fn held_alive(&self, tolerance: Span) -> Vec<Held> {
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
    pub fn reread(&mut self, value: &str, body: Map<String, Value>) {
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
        // A run sees every token it judges issued or lent; traffic shows tokens issued before
        // the proxy started, whose age is what the server's clock says since their creation.
        let age_at_sight = if is_new || self.keeps_values {
            Some(Span::default())
        } else {
            age_by_server(x, created_at)
        };
        let k = key(&value);
        let keeps_values = self.keeps_values;
        let new = || Known {
            kind: shape.kind,
            lifespan,
            reported_lifespan: reported_lifespan(shape, body),
            issued: Instant::now(),
            age_at_sight,
            moved_at_issue: moved,
            revoked: None,
            died: None,
            reported_expired: false,
            parent,
            first: first_answer(shape, body),
            run: keeps_values.then(|| {
                Box::new(RunSide {
                    value: value.clone().into_boxed_str(),
                    successor: None,
                    origin,
                    body: Map::new(),
                    use_current: true,
                })
            }),
        };
        if !self.tokens.contains_key(&k) {
            let known = new();
            self.add(k, known);
        }
        let Some(entry) = self.tokens.get_mut(&k) else {
            return Vec::new();
        };
        if let Some(run) = entry.run.as_mut() {
            run.body = body.clone();
            run.use_current = true;
        }
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
            && let Some(run) = self.tokens.get_mut(&value).and_then(|k| k.run.as_mut())
        {
            run.use_current = false;
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
                    if let (Some(new), Some(run)) = (
                        new,
                        self.tokens.get_mut(&value).and_then(|k| k.run.as_mut()),
                    ) {
                        run.successor = Some(key(&new.value));
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
        let mut current = key(value);
        // A chain longer than the tokens known would be a loop.
        for _ in 0..=self.tokens.len() {
            match self.tokens.get(&current).and_then(Known::successor) {
                Some(next) => current = next,
                None => break,
            }
        }
        self.value_of(&current).unwrap_or_else(|| value.to_owned())
    }

    /// Everything the case learnt about its tokens.
    pub fn facts(&self) -> Vec<Fact> {
        self.tokens
            .values()
            .filter_map(|k| Some((k.value()?, k)))
            .map(|(value, k)| Fact {
                value,
                kind: k.kind,
                origin: k.origin(),
                revoked: k.revoked,
                parent: k.parent.and_then(|p| self.value_of(&p)),
                successor: k.successor().and_then(|s| self.value_of(&s)),
                body: k.run.as_ref().map(|r| r.body.clone()).unwrap_or_default(),
                issued: k.issued,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
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
        Ledger::for_traffic(lifespans, (String::new(), String::new()), capacity)
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
        let long_ago = Instant::now()
            .checked_sub(Duration::from_secs(3))
            .unwrap_or_else(Instant::now);
        ledger.adopt(&shape(), body("expired-twice-over"), long_ago);
        ledger.adopt(&shape(), body("fresh"), Instant::now());
        ledger.forget_dead();
        assert!(
            ledger.first_answer("expired-twice-over").is_none()
                || long_ago.elapsed() < Duration::from_secs(2)
        );
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
}
