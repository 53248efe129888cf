//! The YAML case format and its loader.
//!
//! A case is one file under `cases/`: an id, a title, tags, a severity, the requirement it
//! tests, the capabilities it needs, and ordered steps. The format is documented in
//! `cases/README.md` and described for editors by `cases/case.schema.json`.
//!
//! Loading is strict: unknown keys and duplicate keys are errors, every error names the file
//! and line, misspelled keys and operationIds get a "did you mean".
//!
//! Files: `model.rs` (what a loaded case is), `parse.rs` (one file, step by step, against the
//! contract), `validate.rs` (templates, captures and response paths a case may use),
//! `load.rs` (a directory of files, or the built-in ones), `template.rs` (the `{{ ... }}`
//! language of case files: checked when a case loads, rendered when it runs).

mod load;
mod model;
mod parse;
pub mod template;
mod validate;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

pub use crate::encoding::Encoding;
pub use crate::spec::Severity;
pub use load::{load_builtin, load_dir};
pub use model::{
    Action, Body, Borrow, Call, Case, ClockTarget, CreateUser, Expect, JsonType, Matcher, Outcome,
    Pattern, SetLifespans, Statuses, Step,
};
pub use parse::parse;
