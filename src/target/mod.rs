//! A target: where the implementation is, how to log in, what it is configured with, and what
//! it lets the harness control.
//!
//! Every setting is declared once, in `settings.rs`: one field of [`Settings`], which is at
//! once the profile file's key, the `run` flag and its help, with its default and its
//! environment variable beside it. Four layers are merged, each over the one before (see
//! [`Layer`]): the declared defaults, the profile file, the environment (credentials only), the
//! flags. [`Target::resolve`] then checks the
//! result one concern at a time. Secrets come from the environment or flags, never the file.
//!
//! Files: `settings.rs` (the settings and their secrets), `capability.rs` (what a target lets
//! the harness control, what a case needs), `resolve.rs` (the resolved [`Target`]).

mod capability;
mod resolve;
mod settings;

#[cfg(test)]
mod tests;

pub use capability::{Capability, Need};
pub use resolve::{Header, Target};
pub use settings::{ENV_PASSWORD, ENV_USERNAME, Layer, Secret, Settings, Tls};
