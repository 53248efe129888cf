//! Access tokens recently found active, so that validating one does not read the database:
//! validation is most of the traffic, and a read transaction costs more than the rest of the
//! request (file locks on the WAL index, two per read).
//!
//! Only a row found active is kept, and a hit is used only while the row is still active at the
//! clock's `now` and belongs to the user asking; anything else goes to the database, which
//! stays the truth for every answer but "active".
//!
//! A row changes only by being revoked or deleted, and both happen only in the writer's
//! transactions (revocation, regeneration, purging). The writer's connection reports every
//! UPDATE or DELETE of an access token (SQLite's update hook); after such a transaction
//! commits, and before any of its answers is sent, the writer empties the cache. A validation
//! that read the database before that commit could otherwise put back the row it read, now
//! stale: so every emptying starts a new epoch, and a row read in an older epoch is not kept.
//! Other processes on the same file (`reference-server conf` and `purge`) never revoke a live
//! token, so they cannot make a kept row wrong.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use time::OffsetDateTime;

use super::AccessTokenRow;
use crate::token::TokenStatus;

/// Rows kept at most; past it the cache starts again empty. A few MiB at most.
const CAPACITY: usize = 16_384;

/// The cache. Cheap to share; every operation takes one short lock.
#[derive(Default)]
pub(super) struct ActiveAccess {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    epoch: u64,
    rows: HashMap<[u8; 32], AccessTokenRow>,
}

impl ActiveAccess {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The kept row for `digest`, if it belongs to `user_id` and is active at `now`.
    pub(super) fn get(
        &self,
        digest: &[u8; 32],
        user_id: i64,
        now: OffsetDateTime,
    ) -> Option<AccessTokenRow> {
        self.lock()
            .rows
            .get(digest)
            .filter(|r| r.user_id == user_id && r.status(now) == TokenStatus::Active)
            .cloned()
    }

    /// The current epoch; read it before reading the database.
    pub(super) fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    /// Keeps a row read from the database in `epoch`, unless the cache was emptied since.
    pub(super) fn keep(&self, epoch: u64, digest: [u8; 32], row: AccessTokenRow) {
        let mut inner = self.lock();
        if inner.epoch != epoch {
            return;
        }
        if inner.rows.len() >= CAPACITY {
            inner.rows.clear();
        }
        inner.rows.insert(digest, row);
    }

    /// Empties the cache and starts a new epoch.
    pub(super) fn invalidate(&self) {
        let mut inner = self.lock();
        inner.epoch += 1;
        inner.rows.clear();
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.lock().rows.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn row(user_id: i64) -> AccessTokenRow {
        AccessTokenRow {
            id: 1,
            user_id,
            refresh_token_id: 1,
            created_at: datetime!(2030-01-01 0:00 UTC),
            expires_at: datetime!(2030-01-02 0:00 UTC),
            revoked_at: None,
        }
    }

    #[test]
    fn a_hit_needs_the_owner_and_an_active_row() {
        let c = ActiveAccess::default();
        c.keep(c.epoch(), [1; 32], row(7));
        let noon = datetime!(2030-01-01 12:00 UTC);
        assert!(c.get(&[1; 32], 7, noon).is_some());
        assert!(c.get(&[1; 32], 8, noon).is_none(), "another user's token");
        assert!(
            c.get(&[1; 32], 7, datetime!(2030-01-03 0:00 UTC)).is_none(),
            "expired by now"
        );
        assert!(c.get(&[2; 32], 7, noon).is_none());
    }

    #[test]
    fn a_row_read_before_an_invalidation_is_not_kept() {
        let c = ActiveAccess::default();
        let before = c.epoch();
        c.invalidate();
        c.keep(before, [1; 32], row(7));
        assert_eq!(c.len(), 0, "stale read discarded");
        c.keep(c.epoch(), [1; 32], row(7));
        assert_eq!(c.len(), 1);
        c.invalidate();
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn it_stays_bounded() {
        let c = ActiveAccess::default();
        for i in 0..(CAPACITY + 10) {
            let mut d = [0; 32];
            d[..8].copy_from_slice(&(i as u64).to_le_bytes());
            c.keep(c.epoch(), d, row(1));
        }
        assert!(c.len() <= CAPACITY);
    }
}
