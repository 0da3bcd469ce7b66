//! The error signal of pharos: a Sentry-compatible error store. Official Sentry SDKs send
//! envelopes (or legacy store bodies) to a DSN pointing at pharos; this crate parses them
//! ([`envelope`], [`decode`]), normalises and scrubs events ([`event`], [`scrub`]), groups them
//! into issues ([`grouping`]), keeps them durable in the shared write-ahead log and indexes
//! issues for the query API ([`store`]), enforces rate limits ([`limits`]) and tells the rest of
//! pharos what happened ([`hooks`]). HTTP lives in `api::sentry`; this crate does no I/O but
//! its own files.

pub mod decode;
pub mod deletes;
pub mod envelope;
pub mod event;
#[cfg(test)]
mod fuzz_tests;
pub mod grouping;
pub mod hooks;
pub mod limits;
pub mod scrub;
pub mod store;
pub mod tenants;

pub use hooks::{ErrorHooks, IssueEvent, IssueEventKind, NoHooks};
pub use store::{ErrorStore, IssueQuery, Project, ProjectKey, Rejection, Status, StoreOptions};

#[cfg(test)]
mod store_tests;
