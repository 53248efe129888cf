//! Throttling of failed logins: per account and where it is tried from, per account across
//! sources, and per client address, so that guessing is slow and bounded while the owner is
//! never locked out by anyone else's failures.
//!
//! Where a login comes from (its **source**) is its client's address, IPv6 grouped by /64
//! ([`crate::peer::client_group`]), or on the token page a device cookie that signed in to the
//! account before. A source from which the account signed in successfully is **recognised**
//! (for [`KNOWN_FOR`] after that success).
//!
//! - **A pair** (one account from one source) may fail `free` times (`--max-failed-logins`,
//!   10 by default); after that, each failure locks the pair for a minute, doubling with every
//!   further failure up to an hour. The count is kept for a day after the pair's last failure,
//!   across lockouts, and a success of the pair clears it. So one source gets about
//!   `free` + 29 guesses at an account a day.
//! - **An account** counts the failures of every source it does not recognise. Once they reach
//!   [`ACCOUNT_LIMIT`] (or `free`, if that is higher) within a day (NIST SP 800-63B §5.2.2: at most 100 consecutive failures),
//!   no unrecognised source gets a guess judged: 429 with Retry-After, a minute after the last
//!   failure, doubling with each further one up to an hour. However many addresses an attacker
//!   has, the account sees about 100 + 30 guesses a day. A recognised source keeps its own
//!   pair's allowance: others' failures never lock the owner out, and the owner's own typos
//!   never count against the account. A success from an unrecognised source ends the run of
//!   failures; a recognised one does not (the owner signing in every day would otherwise give
//!   the attackers 100 guesses a day).
//! - **A client address** that fails `free` × [`CLIENT_FACTOR`] times across any accounts
//!   within a day (password spraying), or whose logins the hashing queue had to shed, is
//!   locked for all of them, a minute doubling to an hour. Only this machine's own addresses
//!   (127.0.0.1 and ::1, where a developer runs the suite against a local server again and
//!   again) are exempt from this one; other loopback addresses count as the distinct clients
//!   they are, and pairs and accounts are limited for everyone.
//!
//! Usernames are keyed as sent (trimmed, lower-cased), whether or not such a user exists, so
//! the throttle does not reveal which users exist. Logins still in flight count against a
//! pair's, an account's and an address's remaining failures ([`LoginThrottle::begin`] admits a
//! login only while they stay under the limit), so concurrent guesses cannot outrun the count;
//! a login that would pass it only because of others in flight waits for them, for 10 s at
//! most: then it is told the server is busy (503 with Retry-After), never that the account is
//! locked (429), which it is not.
//!
//! State is in memory and bounded ([`MAX_ENTRIES`], [`MAX_KNOWN`]); a restart forgets it.
//! Stale entries go first, then the older half of those that neither lock anything nor are
//! one failure from doing so; an entry that locks something is never evicted. When the table
//! is full of those, a login that would need a new entry is refused as busy (it fails closed):
//! only recognised sources still get in. It runs on the real monotonic clock, not the test
//! clock.

mod attempt;
mod counts;
mod limiter;
#[cfg(test)]
mod tests;

use std::time::Duration;

pub use counts::Client;
pub use limiter::{LoginThrottle, NotNow};

/// Entries kept at most (pairs, accounts and addresses together): some MiB at most.
pub const MAX_ENTRIES: usize = 50_000;

/// Recognised (account, source) pairs kept at most; the oldest success goes first.
pub const MAX_KNOWN: usize = 50_000;

/// How long a success makes its source recognised for the account.
pub const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// How many more failures one client address may have, across accounts, than one pair.
pub const CLIENT_FACTOR: u32 = 10;

/// Failures of one account from the sources it does not recognise, within [`MEMORY`], from
/// which those sources get no guess judged.
pub const ACCOUNT_LIMIT: u32 = 100;

/// How long failures are remembered after the last one.
pub const MEMORY: Duration = Duration::from_secs(24 * 3600);

/// The first lockout; each further failure doubles it, up to [`LOCK_MAX`].
pub const LOCK_BASE: Duration = Duration::from_secs(60);

/// The longest lockout.
pub const LOCK_MAX: Duration = Duration::from_secs(3600);

/// How long a login waits for others in flight at most, before it is told to come back.
const MAX_WAIT: Duration = Duration::from_secs(10);
