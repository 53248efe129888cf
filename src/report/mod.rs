//! Views of a run's report.

pub mod console;
pub mod redact;

pub use console::Style;
pub use redact::Redactor;
