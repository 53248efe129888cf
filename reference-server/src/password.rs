//! Passwords: argon2id with the OWASP minimum parameters (19 MiB, 2 passes, 1 lane) and a
//! random salt, computed by a fixed set of worker threads.
//!
//! argon2id costs 19 MiB per computation. Run on an unbounded pool, a burst of logins holds
//! that much per thread and the allocator keeps it afterwards (5 s of logins once took a server
//! to 3.3 GiB). So there are at most as many workers as cores, each with one memory block it
//! reuses for every computation, behind a short bounded queue, fair between clients
//! (`hash_queue.rs`); a login that finds no room is answered 503 with Retry-After instead of
//! waiting without bound. An unknown user is
//! checked against a dummy hash with the same parameters, so it costs exactly what a known
//! user costs.

use std::sync::Arc;

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::oneshot;

use crate::error::ApiError;
pub use crate::hash_queue::Turn;
use crate::hash_queue::{FairQueue, Full};
use crate::token;

/// Waiting computations per worker, at most. A queued login holds only its password, and
/// one computation takes some tens of milliseconds, so 32 per worker bounds the wait near a
/// second while a burst as large as a client's usual pool (say 32 at once on 2 cores) is
/// served rather than refused.
const QUEUE_PER_WORKER: usize = 32;

/// Waiting computations of one client (an address, IPv6 by /64), at most: a person logs in
/// once at a time, so a few cover a page reloaded or a script retrying, and a flooder's share
/// is no larger however fast it sends.
pub const QUEUED_PER_CLIENT: usize = 4;

/// How long a refused login is told to wait.
const BUSY_RETRY_SECS: u64 = 1;

enum Job {
    Verify {
        stored: Arc<str>,
        password: String,
        reply: oneshot::Sender<Result<bool, String>>,
    },
    Hash {
        password: String,
        reply: oneshot::Sender<Result<String, String>>,
    },
}

/// The password workers.
pub struct Passwords {
    jobs: Arc<FairQueue<Job>>,
    /// The hash of a random password, checked for unknown users.
    dummy: Arc<str>,
}

impl Drop for Passwords {
    fn drop(&mut self) {
        // The workers return once the queue is closed.
        self.jobs.close();
    }
}

impl Passwords {
    /// Starts one worker per core, and makes the dummy hash.
    pub fn new() -> Result<Self, String> {
        let workers = std::thread::available_parallelism().map_or(2, usize::from);
        Self::with_workers(workers, workers * QUEUE_PER_WORKER)
    }

    /// Starts `workers` workers behind a queue of `queued` computations, and makes the dummy
    /// hash.
    fn with_workers(workers: usize, queued: usize) -> Result<Self, String> {
        let jobs = Arc::new(FairQueue::new(QUEUED_PER_CLIENT, queued));
        for i in 0..workers {
            let queue = Arc::clone(&jobs);
            std::thread::Builder::new()
                .name(format!("password-{i}"))
                .spawn(move || work(&queue))
                .map_err(|e| format!("cannot start a password worker: {e}"))?;
        }
        // Made once, here, so that start-up does not depend on the workers.
        let dummy = token::generate(18).map_err(|e| format!("CSPRNG: {e}"))?;
        Ok(Self {
            jobs,
            dummy: hash(&dummy)?.into(),
        })
    }

    fn send(&self, turn: Turn, job: Job) -> Result<(), ApiError> {
        self.jobs
            .push(turn, job)
            .map_err(|Full| ApiError::Unavailable(BUSY_RETRY_SECS))
    }

    /// Whether `password` matches `stored`; with no stored hash (an unknown user) it is
    /// checked against the dummy, and the answer is always no. `turn` says whose login it is,
    /// for its place in the queue; 503 when there is no room for it there.
    pub async fn verify(
        &self,
        stored: Option<String>,
        password: String,
        turn: Turn,
    ) -> Result<bool, ApiError> {
        let known = stored.is_some();
        let stored: Arc<str> = stored.map_or_else(|| Arc::clone(&self.dummy), Arc::from);
        let (reply, answer) = oneshot::channel();
        self.send(
            turn,
            Job::Verify {
                stored,
                password,
                reply,
            },
        )?;
        let ok = answer
            .await
            .map_err(|_| ApiError::Internal("a password worker stopped".into()))?
            .map_err(|e| ApiError::Internal(format!("stored password hash unreadable: {e}")))?;
        Ok(ok && known)
    }

    /// A new hash of `password` (the server's own work: served first).
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.send(Turn::FIRST, Job::Hash { password, reply })?;
        answer
            .await
            .map_err(|_| ApiError::Internal("a password worker stopped".into()))?
            .map_err(ApiError::Internal)
    }

    /// [`Passwords::hash`] for a thread that is not async (start-up).
    pub fn hash_blocking(&self, password: String) -> Result<String, String> {
        let (reply, answer) = oneshot::channel();
        // At start-up nothing else is queued, and each hash is awaited before the next.
        self.jobs
            .push(Turn::FIRST, Job::Hash { password, reply })
            .map_err(|Full| "the password queue is full".to_owned())?;
        answer
            .blocking_recv()
            .map_err(|_| "a password worker stopped".to_owned())?
    }
}

/// A worker: takes jobs until the [`Passwords`] is dropped, reusing one memory block.
fn work(queue: &FairQueue<Job>) {
    let mut blocks: Vec<Block> = Vec::new();
    while let Some(job) = queue.pop() {
        match job {
            Job::Verify {
                stored,
                password,
                reply,
            } => {
                let _ = reply.send(verify_with(&mut blocks, &stored, password.as_bytes()));
            }
            Job::Hash { password, reply } => {
                let _ = reply.send(hash_with(&mut blocks, password.as_bytes()));
            }
        }
    }
}

/// The block buffer, grown (once) to what `params` need.
fn memory<'b>(blocks: &'b mut Vec<Block>, params: &Params) -> &'b mut [Block] {
    if blocks.len() < params.block_count() {
        blocks.resize(params.block_count(), Block::default());
    }
    &mut blocks[..params.block_count()]
}

/// Verifies against a PHC string, with the parameters it names.
fn verify_with(blocks: &mut Vec<Block>, stored: &str, password: &[u8]) -> Result<bool, String> {
    let hash = PasswordHash::new(stored).map_err(|e| e.to_string())?;
    let params = Params::try_from(&hash).map_err(|e| e.to_string())?;
    let algorithm = Algorithm::try_from(hash.algorithm).map_err(|e| e.to_string())?;
    let version = hash
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return Err("the hash has no salt or output".into());
    };
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf).map_err(|e| e.to_string())?;
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params.clone())
        .hash_password_into_with_memory(password, salt, &mut out, memory(blocks, &params))
        .map_err(|e| e.to_string())?;
    // Output's equality is constant-time.
    Ok(Output::new(&out).map_err(|e| e.to_string())? == expected)
}

/// Hashes with argon2id, the default (OWASP minimum) parameters and a fresh salt.
fn hash_with(blocks: &mut Vec<Block>, password: &[u8]) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("CSPRNG: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    let params = Params::default();
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_buf)
        .map_err(|e| e.to_string())?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password, salt_bytes, &mut out, memory(blocks, &params))
        .map_err(|e| e.to_string())?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&params)
            .try_into()
            .map_err(|e: argon2::password_hash::Error| e.to_string())?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `stored`, on this thread (start-up).
pub fn matches(stored: &str, password: &str) -> Result<bool, String> {
    verify_with(&mut Vec::new(), stored, password.as_bytes())
}

/// Hashes a password the usual way (allocating), for the `conf` tool and tests.
pub fn hash(password: &str) -> Result<String, String> {
    hash_with(&mut Vec::new(), password.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordVerifier as _;

    #[test]
    fn hashes_are_standard_argon2id_phc_strings() {
        let h = hash("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        // The reference implementation agrees with ours, both ways.
        let parsed = PasswordHash::new(&h).expect("phc");
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        let mut blocks = Vec::new();
        assert_eq!(verify_with(&mut blocks, &h, b"correct horse"), Ok(true));
        assert_eq!(verify_with(&mut blocks, &h, b"wrong"), Ok(false));
        assert_eq!(
            blocks.len(),
            Params::default().block_count(),
            "one buffer, reused"
        );
    }

    #[tokio::test]
    async fn a_full_queue_is_503_not_a_wait() {
        // One worker and room for one more, whatever the machine's cores: the test's own.
        let p = Passwords::with_workers(1, 1).expect("workers");
        let h = p.hash("pw".into()).await.expect("hash");
        assert!(
            p.verify(Some(h.clone()), "pw".into(), Turn::default())
                .await
                .expect("verify")
        );
        assert!(
            !p.verify(None, "pw".into(), Turn::default())
                .await
                .expect("verify")
        );
        // Far more at once than workers and queue hold: some are refused at once.
        let p = Arc::new(p);
        let tries: Vec<_> = (0..64)
            .map(|_| {
                let (p, h) = (Arc::clone(&p), h.clone());
                tokio::spawn(async move { p.verify(Some(h), "pw".into(), Turn::default()).await })
            })
            .collect();
        let mut busy = 0;
        for t in tries {
            match t.await.expect("join") {
                Err(ApiError::Unavailable(_)) => busy += 1,
                Ok(true) => {}
                other => panic!("{other:?}"),
            }
        }
        // At most the one being computed, the one queued, and those a worker finished while
        // the 64 were handed in (each takes milliseconds, the hand-in microseconds) get in.
        assert!(
            busy >= 60,
            "only {busy} of 64 verifications at once were refused"
        );
    }
}
