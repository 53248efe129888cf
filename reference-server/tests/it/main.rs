//! The reference server's end-to-end tests, one binary (each test binary links the whole
//! tree): its API and web page over real HTTP, its process as users start it, crash recovery,
//! hostile clients and load. `cargo test -p reference-server --test it crash::` runs one
//! file's tests.

#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

mod api;
mod crash;
mod hostile;
mod http;
mod load;
mod process;
mod web;
