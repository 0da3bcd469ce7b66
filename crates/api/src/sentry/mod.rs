//! Sentry's ingest protocol (`ingest.rs`: `POST /api/{project}/envelope/` and the legacy
//! `/store/`, with CORS for browser SDKs) and pharos' own error query API under
//! `/api/pharos/v1/errors/` (`query.rs`: projects, issues, events) over the error store of the
//! `errors` crate. Ingest errors have Sentry's shape `{"detail": "..."}`; query errors are
//! `{"error": "..."}` like the rest of `/api/pharos/v1`.

// Helpers return a finished error `Response` for early exit from handlers; its size is fine.
#![allow(clippy::result_large_err)]

pub mod ingest;
pub mod query;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::sync::Arc;

/// State of the Sentry routes.
pub struct SentryState {
    /// The default store and one per tenant (`errors::tenants`).
    pub tenants: Arc<errors::tenants::TenantStores>,
    /// Largest request body accepted (compressed and decompressed).
    pub max_body_bytes: usize,
}

/// The error store of the request's tenant (`X-Scope-OrgID`, set from a token's tenant by the
/// front door), or the default store without one. An invalid tenant id answers 400.
pub struct TenantStore(pub Arc<errors::ErrorStore>);

impl FromRequestParts<Arc<SentryState>> for TenantStore {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        st: &Arc<SentryState>,
    ) -> Result<Self, Self::Rejection> {
        let tenant = crate::prometheus::tenant::tenant_of(&parts.headers);
        let tenants = st.tenants.clone();
        let got = tokio::task::spawn_blocking(move || tenants.get(tenant.as_deref())).await;
        match got {
            Ok(Ok(s)) => Ok(TenantStore(s)),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::InvalidInput => Err((
                axum::http::StatusCode::BAD_REQUEST,
                axum::Json(serde_json::json!({ "detail": e.to_string() })),
            )
                .into_response()),
            Ok(Err(e)) => Err((
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(serde_json::json!({ "detail": format!("opening the tenant's error store: {e}") })),
            )
                .into_response()),
            Err(e) => Err((axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()),
        }
    }
}

/// Every error route: ingest and query.
pub fn routes(state: Arc<SentryState>) -> Router {
    ingest::routes(state.clone()).merge(query::routes(state))
}
