//! Prometheus' TSDB admin API that changes data: `delete_series` (tombstones hide the matching
//! samples from queries at once) and `clean_tombstones` (blocks rewritten without them). The
//! front door lets these through only with `web.enable_admin_api` and the admin scope; with a
//! tenant (`X-Scope-OrgID` or a token's), only that tenant's series are deleted.

use super::json::ApiError;
use super::metadata_api::{matcher_sets, time_range};
use super::params::Params;
use super::tenant::{tenant_matcher, tenant_of};
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use model::StorageError;
use std::sync::Arc;

fn storage_error(e: StorageError) -> ApiError {
    match e {
        StorageError::BadInput(m) => ApiError::bad_data(m),
        e => ApiError::internal(e.to_string()),
    }
}

/// `POST|PUT /api/v1/admin/tsdb/delete_series?match[]=…&start=…&end=…`: 204 when done.
pub async fn delete_series(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let mut sets = matcher_sets(&params)?;
    if sets.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let (start, end) = time_range(&params)?;
    if let Some(t) = tenant_of(&headers) {
        for s in &mut sets {
            s.push(tenant_matcher(&t));
        }
    }
    let tsdb = state.tsdb.clone();
    tokio::task::spawn_blocking(move || {
        for s in &sets {
            tsdb.delete_series(s, start, end)?;
        }
        Ok::<_, StorageError>(())
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(storage_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST|PUT /api/v1/admin/tsdb/clean_tombstones`: 204 once the blocks are rewritten.
pub async fn clean_tombstones(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let tsdb = state.tsdb.clone();
    tokio::task::spawn_blocking(move || tsdb.clean_tombstones())
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(storage_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
