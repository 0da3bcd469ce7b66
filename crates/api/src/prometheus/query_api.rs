//! `/api/v1/query` and `/api/v1/query_range`: parameter validation as Prometheus does it, PromQL
//! evaluation off the async runtime with a timeout, and result encoding.

use super::json::{success, ApiError, ErrorType};
use super::params::Params;
use super::result_json;
use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use promql::QueryResult;
use serde_json::Value as Json;
use std::sync::Arc;
use std::time::Duration;

/// Prometheus refuses range queries with more points per series than this.
const MAX_POINTS: i64 = 11_000;
/// Default query timeout, as Prometheus' `--query.timeout`.
const DEFAULT_TIMEOUT_MS: i64 = 2 * 60_000;

/// Parses a timestamp parameter (`time`, `start`, `end`), with a default when absent.
pub fn parse_time_param(params: &Params, key: &str, default_ms: i64) -> Result<i64, ApiError> {
    match params.get(key) {
        None => Ok(default_ms),
        Some(s) => model::time::parse_timestamp_ms(s)
            .map_err(|e| ApiError::bad_data(format!("invalid parameter \"{key}\": {e}"))),
    }
}

/// Parses a duration parameter given as float seconds or as a Prometheus duration (`15s`).
pub fn parse_duration_param(s: &str, key: &str) -> Result<i64, ApiError> {
    if let Ok(secs) = s.parse::<f64>() {
        let ms = secs * 1000.0;
        if !ms.is_finite() || ms.abs() > i64::MAX as f64 / 2.0 {
            return Err(ApiError::bad_data(format!(
                "invalid parameter \"{key}\": cannot parse {s:?} to a valid duration. It overflows int64"
            )));
        }
        return Ok(ms.round() as i64);
    }
    model::time::parse_duration_ms(s).map_err(|_| {
        ApiError::bad_data(format!(
            "invalid parameter \"{key}\": cannot parse {s:?} to a valid duration"
        ))
    })
}

fn timeout_of(params: &Params) -> Result<i64, ApiError> {
    match params.get("timeout") {
        None => Ok(DEFAULT_TIMEOUT_MS),
        Some(s) => {
            let t = parse_duration_param(s, "timeout")?;
            Ok(if t <= 0 {
                DEFAULT_TIMEOUT_MS
            } else {
                t.min(DEFAULT_TIMEOUT_MS)
            })
        }
    }
}

fn query_of(params: &Params) -> Result<String, ApiError> {
    params
        .get("query")
        .map(str::to_string)
        .ok_or_else(|| ApiError::bad_data("invalid parameter \"query\": query must not be empty"))
}

/// Runs a query closure on the blocking pool with a timeout.
async fn run_query<F>(timeout_ms: i64, f: F) -> Result<QueryResult, ApiError>
where
    F: FnOnce() -> Result<QueryResult, promql::QueryError> + Send + 'static,
{
    let handle = tokio::task::spawn_blocking(f);
    match tokio::time::timeout(Duration::from_millis(timeout_ms as u64), handle).await {
        Err(_) => Err(ApiError {
            kind: ErrorType::Timeout,
            message: format!(
                "query timed out in query execution after {}",
                model::time::PromDuration(timeout_ms)
            ),
        }),
        Ok(Err(join)) => Err(ApiError::internal(format!(
            "query evaluation failed: {join}"
        ))),
        Ok(Ok(Err(e))) => Err(ApiError {
            kind: ErrorType::from_query(e.error_type()),
            message: e.to_string(),
        }),
        Ok(Ok(Ok(r))) => Ok(r),
    }
}

/// The optional `limit` parameter (0 = no limit).
pub(crate) fn limit_of(params: &Params) -> Result<usize, ApiError> {
    match params.get("limit") {
        None => Ok(0),
        Some(s) => s.parse::<usize>().map_err(|_| {
            ApiError::bad_data(format!(
                "invalid parameter \"limit\": cannot parse {s:?} to a valid limit"
            ))
        }),
    }
}

/// `GET|POST /api/v1/query`.
pub async fn instant(
    State(state): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let query = query_of(&params)?;
    let t = parse_time_param(&params, "time", model::time::now_ms())?;
    let timeout = timeout_of(&params)?;
    let limit = limit_of(&params)?;
    let st = state.clone();
    let storage = super::tenant::storage(&state, &headers);
    let r = run_query(timeout, move || {
        st.engine.instant_query(storage.as_ref(), &query, t)
    })
    .await?;
    Ok(result_json::success_response(
        &r.value,
        limit,
        &r.warnings,
        &r.infos,
    ))
}

/// `GET|POST /api/v1/query_range`.
pub async fn range(
    State(state): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let query = query_of(&params)?;
    let start = params
        .get("start")
        .ok_or_else(|| {
            ApiError::bad_data(
                "invalid parameter \"start\": cannot parse \"\" to a valid timestamp",
            )
        })
        .and_then(|_| parse_time_param(&params, "start", 0))?;
    let end = params
        .get("end")
        .ok_or_else(|| {
            ApiError::bad_data("invalid parameter \"end\": cannot parse \"\" to a valid timestamp")
        })
        .and_then(|_| parse_time_param(&params, "end", 0))?;
    if end < start {
        return Err(ApiError::bad_data(
            "invalid parameter \"end\": end timestamp must not be before start time",
        ));
    }
    let step_text = params.get("step").ok_or_else(|| {
        ApiError::bad_data("invalid parameter \"step\": cannot parse \"\" to a valid duration")
    })?;
    let step = parse_duration_param(step_text, "step")?;
    if step <= 0 {
        return Err(ApiError::bad_data(
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    if (end - start) / step > MAX_POINTS {
        return Err(ApiError::bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let timeout = timeout_of(&params)?;
    let limit = limit_of(&params)?;
    let st = state.clone();
    let storage = super::tenant::storage(&state, &headers);
    let r = run_query(timeout, move || {
        st.engine
            .range_query(storage.as_ref(), &query, start, end, step)
    })
    .await?;
    Ok(result_json::success_response(
        &r.value,
        limit,
        &r.warnings,
        &r.infos,
    ))
}

/// `GET|POST /api/v1/format_query`: the expression as the parser prints it.
pub async fn format_query(
    State(state): State<Arc<AppState>>,
    params: Params,
) -> Result<Response, ApiError> {
    let query = query_of(&params)?;
    let expr = promql::experimental::parse(&query, state.engine.opts.experimental_functions)
        .map_err(ApiError::bad_data)?;
    Ok(success(Json::String(expr.prettify()), &[], &[]))
}
