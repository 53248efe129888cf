//! The OpenAPI 3.0 document: operations by operationId, the statuses each documents, and a
//! compiled JSON Schema validator for every documented response body.
//!
//! The document is read once at start-up. `openapiv3` checks its structure; body validation
//! works on the raw JSON of the document (openapiv3 resolves no `$ref`), with OpenAPI's
//! `nullable` rewritten to JSON Schema's `type: [T, "null"]` and validated as Draft 4, the
//! dialect OpenAPI 3.0 schemas are based on. Validators are built once, shared by schema, and
//! reused for every response.
//!
//! Two extensions carry what the checks need to know beyond plain OpenAPI, so that nothing the
//! contract says is copied into Rust: `x-token` on a schema names the roles of a token object's
//! fields, and `x-token-effects` on an operation says what a successful call does to tokens.
//!
//! Files: `model.rs` (operations, responses, token shapes and effects), `document.rs` (the
//! loaded [`Spec`] and its questions), `build.rs` (reading the document into them).

mod build;
mod document;
mod model;

#[cfg(test)]
mod tests;

pub use document::{BUNDLED_SPEC, BUNDLED_SPEC_NAME, Spec};
pub use model::{
    Effect, FieldSchema, Login, Operation, ResponseDoc, Severity, States, TokenKind, TokenShape,
};
