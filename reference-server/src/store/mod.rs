//! The only module that speaks SQL.
//!
//! Invariants:
//! - Only the SHA-256 digest of a token is stored (see [`crate::token::digest`]), never the value;
//!   passwords only as argon2id PHC strings.
//! - One transaction per API operation: a check and the change it allows (e.g. "the refresh token
//!   is active" and "mint an access token from it") happen in the same transaction, so two
//!   concurrent regenerations of one token cannot both succeed.
//! - Writes go through one writer thread, which commits every operation waiting for it in one
//!   `IMMEDIATE` transaction (group commit), each inside its own savepoint so that one failing
//!   operation undoes only itself. The database is in WAL mode with `synchronous=FULL`, and an
//!   operation's result is handed back only after its transaction's COMMIT: an answer is sent
//!   only once its change is on disk.
//! - Reads use their own connections (WAL readers never wait for the writer), kept in a small
//!   pool, with cached prepared statements and a short busy timeout.
//! - A storage fault (a full disk, a read-only or locked database, an I/O error) is a
//!   [`StoreError::Unavailable`]: answered 503 with Retry-After, never a token made valid by it,
//!   and the next operation tries again, so the server recovers by itself when the fault clears.
//! - Lifespans are read from the `settings` table inside the transaction that creates a token,
//!   so `reference-server conf` run against a live server's database applies to the next token.
//! - Instants are stored as microseconds since the Unix epoch, the precision the API publishes.
//! - Active access tokens found by validation are kept in memory (see `cache.rs`), emptied
//!   after every transaction that revokes or deletes one, before its answers go out.
//! - The database file is created readable by its owner only (0600), and so are its `-wal`
//!   and `-shm`; an existing file that others may read is warned about at start.
//! - Revoked and expired rows are deleted [`PURGE_RETENTION`] after they died ([`Store::purge`]),
//!   so the file stays bounded under churn.
//!
//! Files: `types.rs` (errors, keys, rows), `database.rs` (the [`Store`]: opening, reads, writes,
//! purging), `rows.rs` (what the queries share), `reader.rs` and `tx.rs` (the SQL of reads and
//! of writes), `writer.rs` (the writer thread), `cache.rs` (active access tokens).

mod cache;
mod database;
mod reader;
mod rows;
#[cfg(test)]
mod tests;
mod tx;
mod types;
mod writer;

pub use database::{PURGE_RETENTION, Store, readable_by_others};
pub use reader::Reader;
pub use tx::Tx;
pub use types::{
    AccessTokenRow, FeatureFlag, LifespanKey, RefreshTokenRow, Refusal, StoreError, User,
    WebSession,
};
