//! Views of a run's report.

pub mod badge;
pub mod console;
pub mod coverage;
pub mod files;
pub mod github;
pub mod har;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod redact;

pub use console::Style;
pub use files::ReportFlags;
pub use redact::Redactor;
