//! Sentry's ingest protocol (`ingest.rs`: `POST /api/{project}/envelope/` and the legacy
//! `/store/`, with CORS for browser SDKs) and pharos' own error query API under
//! `/api/pharos/v1/errors/` (`query.rs`: projects, issues, events) over the error store of the
//! `errors` crate. Ingest errors have Sentry's shape `{"detail": "..."}`; query errors are
//! `{"error": "..."}` like the rest of `/api/pharos/v1`.

// Helpers return a finished error `Response` for early exit from handlers; its size is fine.
#![allow(clippy::result_large_err)]

pub mod ingest;
pub mod query;

use axum::Router;
use std::sync::Arc;

/// State of the Sentry routes.
pub struct SentryState {
    pub store: Arc<errors::ErrorStore>,
    /// Largest request body accepted (compressed and decompressed).
    pub max_body_bytes: usize,
}

/// Every error route: ingest and query.
pub fn routes(state: Arc<SentryState>) -> Router {
    ingest::routes(state.clone()).merge(query::routes(state))
}
