//! The validating proxy in front of a target. Real clients' traffic passes through unchanged,
//! and the same checks as `run`, from the same table, judge every exchange to the contract's
//! paths: the request (a **client** finding when it breaks the contract) and the response (a
//! **server** finding). A model of every token seen, keyed by a digest of its value, carries
//! what earlier answers said into the judgement of later ones.
//!
//! - `listen`: the listener, one task per client connection, `--enforce`, and when the
//!   session ends (graceful shutdown on the signal the command gives it).
//! - `forward`: one request to the target and its whole answer, or why there is none.
//! - `upstream`: the connection to the target (plain or TLS), one per client connection.
//! - `traffic`: the model and the judgement of each exchange.
//! - `record`: what the reports are made from (counters, kept exchanges, the HAR), bounded
//!   however long the proxy runs.

mod forward;
mod listen;
mod record;
mod traffic;
mod upstream;

pub use listen::{Options, ServeError, serve};
pub use traffic::{Judgement, Model};
pub use upstream::Upstream;

/// The largest request or response body the proxy holds to judge: far above anything the
/// contract's operations carry.
pub(crate) const MAX_BODY: usize = 16 * 1024 * 1024;
