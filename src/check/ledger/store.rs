//! How a ledger stores its tokens: each under a digest of its value, in slots a run's ledger
//! grows and a proxy's reuses as a ring, with what a run alone keeps (the value, the latest
//! token object) boxed apart.

use std::collections::HashMap;
use std::time::Instant;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::Origin;
use crate::duration::Span;
use crate::spec::{Severity, TokenKind};

/// A token's key in the ledger: the first 16 bytes of the SHA-256 of its value. The ledger of a
/// proxy keeps nothing else of a value, so its memory holds no secret.
pub type Key = [u8; 16];

pub(crate) fn key(value: &str) -> Key {
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
pub(super) struct RunSide {
    pub(super) value: Box<str>,
    pub(super) successor: Option<Key>,
    pub(super) origin: Origin,
    pub(super) body: Map<String, Value>,
    /// Whether `body` shows the token's last use as it is now: a call that mints from the
    /// token moves it without showing it, until a response carries the token again.
    pub(super) use_current: bool,
}

#[derive(Clone, Debug)]
pub(super) struct Known {
    pub(super) kind: TokenKind,
    pub(super) lifespan: Span,
    pub(super) reported_lifespan: Option<Span>,
    pub(super) issued: Instant,
    /// How old the token already was when the ledger first saw it (zero for tokens issued in
    /// view); `None` when that cannot be told, and its expiry is then not judged.
    pub(super) age_at_sight: Option<Span>,
    pub(super) moved_at_issue: Span,
    pub(super) revoked: Option<Severity>,
    /// When it died, by revocation or a reported dead status (local clock).
    pub(super) died: Option<Instant>,
    /// An answer reported it expired.
    pub(super) reported_expired: bool,
    pub(super) parent: Option<Key>,
    pub(super) first: FirstAnswer,
    /// What a run keeps besides (`None` in a proxy's ledger).
    pub(super) run: Option<Box<RunSide>>,
}

impl Known {
    /// The value, when the ledger keeps values.
    pub(super) fn value(&self) -> Option<String> {
        self.run.as_ref().map(|r| r.value.to_string())
    }

    pub(super) fn origin(&self) -> Origin {
        self.run.as_ref().map_or(Origin::Seen, |r| r.origin)
    }

    pub(super) fn successor(&self) -> Option<Key> {
        self.run.as_ref().and_then(|r| r.successor)
    }
}

/// The tokens a ledger holds: an index by key into slots. A run's grows as it needs; a
/// proxy's is a ring of fixed size, where a new token takes the slot of the oldest. The index
/// holds only a key and a slot number, so the churn of a long session (tokens forgotten and
/// new ones seen) never makes it grow: a map that held whole entries would, as removals leave
/// markers behind.
#[derive(Debug, Default)]
pub(super) struct Tokens {
    pub(super) index: HashMap<Key, u32>,
    pub(super) slots: Vec<Option<(Key, Known)>>,
    pub(super) ring: Option<usize>,
    pub(super) next: usize,
}

impl Tokens {
    pub(super) fn ring(capacity: usize) -> Self {
        let capacity = capacity.clamp(1, u32::MAX as usize);
        Self {
            index: HashMap::with_capacity(capacity),
            slots: Vec::with_capacity(capacity),
            ring: Some(capacity),
            next: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub(super) fn slot(&self, k: &Key) -> Option<usize> {
        self.index.get(k).map(|i| *i as usize)
    }

    pub(super) fn get(&self, k: &Key) -> Option<&Known> {
        self.slots.get(self.slot(k)?)?.as_ref().map(|(_, v)| v)
    }

    pub(super) fn get_mut(&mut self, k: &Key) -> Option<&mut Known> {
        let i = self.slot(k)?;
        self.slots.get_mut(i)?.as_mut().map(|(_, v)| v)
    }

    pub(super) fn contains_key(&self, k: &Key) -> bool {
        self.index.contains_key(k)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&Key, &Known)> {
        self.slots.iter().flatten().map(|(k, v)| (k, v))
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &Known> {
        self.slots.iter().flatten().map(|(_, v)| v)
    }

    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut Known> {
        self.slots.iter_mut().flatten().map(|(_, v)| v)
    }

    /// Adds a token it does not hold; returns whether an older one was forgotten for it.
    pub(super) fn insert(&mut self, k: Key, v: Known) -> bool {
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
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&Known) -> bool) {
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
