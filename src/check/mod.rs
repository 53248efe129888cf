//! Named checks applied to every response, with no line in any case, and the ids of the
//! findings the engine itself raises.
//!
//! Every response check is `fn(&Context, &mut Findings)` listed once in `RESPONSE_CHECKS`
//! (registry.rs); each has an id, a severity and a fixed failure text documented in
//! `CHECKS.md`, which a test keeps in step. A SHOULD finding is a warning; it fails the run only
//! under `--strict`.

mod cache_control;
mod client_error;
mod content_type;
mod context;
mod dead_token;
mod engine;
mod error_shape;
mod expiry;
mod finding;
mod ledger;
mod lineage;
mod registry;
mod request;
mod schema;
mod status;
mod timestamp;
mod token_status;
mod token_value;

pub(crate) use client_error::KEPT as CLIENT_ERROR_KEPT;
pub use context::{Context, Judged};
pub use engine::EXPECT_BODY;
pub(crate) use engine::{
    CAPTURE, CONTROL, ENGINE_CHECKS, EXPECT_HEADER, EXPECT_PREFERRED, EXPECT_STATUS, RATE_LIMITED,
    REFUSAL_UNCHANGED, SETUP, SNAPSHOT_DRIFT, TRANSPORT,
};
pub use finding::{CheckFn, CheckInfo, Finding, Findings};
pub(crate) use ledger::owner_text;
pub use ledger::{Expected, Fact, FirstAnswer, Held, Ledger, Lifespans, Origin, Seen, user_id};
pub use registry::{all, judge};
pub use request::{RequestCheckFn, RequestExchange};
pub(crate) use request::{is_client_check, judge_request};
pub use timestamp::parse as parse_timestamp;
pub use token_value::IssuedTokens;
