//! Loki's log deletion API, as Loki's compactor serves it (`pkg/compactor/deletion`):
//! `POST|PUT /loki/api/v1/delete?query=&start=&end=[&max_interval=]` (204 with
//! `X-Delete-Request-ID`), `GET /loki/api/v1/delete[?start=&end=]` (the tenant's requests, oldest
//! first), `DELETE /loki/api/v1/delete?request_id=[&force=true]` (cancel) and
//! `GET /loki/api/v1/cache/generation_numbers`. Per tenant (`X-Scope-OrgID`); the front door lets
//! these through only with the admin API enabled. Errors are Loki's plain-text messages.
//!
//! Differences from Loki, by design: a request is never split into `max_interval` shards (the
//! parameter is validated as Loki does, then needs no sharding), and queries hide a request's
//! lines from the moment it is accepted, in every status (Loki stops filtering a while after
//! processing); the lines leave the disk after `compactor.delete_request_cancel_period`.

use super::LokiState;
use crate::deletes::{added, bad, cancel_params, cancel_response, listed};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use logs::deletes::{go_duration, parse_query, DeleteRequest};
use std::collections::HashMap;
use std::sync::Arc;

type Params = Query<HashMap<String, String>>;

fn now_ms() -> i64 {
    logs::store::now_ns() / 1_000_000
}

/// Loki's `parseTime` for deletes: empty is now; RFC3339, or exactly 10 digits of Unix seconds.
/// Milliseconds.
pub(crate) fn parse_time(v: &str, now: i64) -> Result<i64, ()> {
    if v.is_empty() {
        return Ok(now);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(t.timestamp_millis());
    }
    if v.len() != 10 {
        return Err(());
    }
    let f: f64 = v.parse().map_err(|_| ())?;
    Ok((f * 1000.0).round() as i64)
}

/// `start`, `end` and `max_interval` checked in Loki's order and words; (start, end) in ms.
pub(crate) fn time_range(
    p: &HashMap<String, String>,
    has_filter: bool,
    max_interval_ms: i64,
    now: i64,
) -> Result<(i64, i64), String> {
    let start = match p.get("start").map(String::as_str) {
        None | Some("") => return Err("start time not set".into()),
        Some(s) => parse_time(s, now)
            .map_err(|_| "invalid start time: require unix seconds or RFC3339 format")?,
    };
    let end = parse_time(p.get("end").map(String::as_str).unwrap_or(""), now)
        .map_err(|_| "invalid end time: require unix seconds or RFC3339 format")?;
    if end > now {
        return Err("deletes in the future are not allowed".into());
    }
    if start >= end {
        return Err("start time can't be greater than or equal to end time".into());
    }
    if has_filter {
        if let Some(v) = p.get("max_interval").filter(|v| !v.is_empty()) {
            let ms = logs::logql::lexer::parse_duration(v.trim())
                .map(|ns| ns / 1_000_000)
                .filter(|ms| *ms >= 1000)
                .ok_or("invalid max_interval: valid time units are 's', 'm', 'h'")?;
            if max_interval_ms != 0 && ms > max_interval_ms {
                return Err(format!(
                    "max_interval can't be greater than {}",
                    go_duration(max_interval_ms)
                ));
            }
            if ms > end - start {
                return Err(format!(
                    "max_interval can't be greater than the interval to be deleted ({})",
                    go_duration(end - start)
                ));
            }
        }
    }
    Ok((start, end))
}

/// `POST|PUT /loki/api/v1/delete`.
pub async fn add(State(st): State<Arc<LokiState>>, headers: HeaderMap, q: Params) -> Response {
    let tenant = match st.tenant(&headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let query = match q.get("query").map(|s| s.trim()) {
        None | Some("") => return bad("query not set"),
        Some(s) => s.to_string(),
    };
    let has_filter = match parse_query(&query) {
        Ok((_, stages)) => !stages.is_empty(),
        Err(e) => return bad(format!("invalid query expression: {e}")),
    };
    let now = now_ms();
    let (_, max_interval) = st.store.delete_settings();
    let (start, end) = match time_range(&q, has_filter, max_interval, now) {
        Ok(r) => r,
        Err(e) => return bad(e),
    };
    let store = st.store.clone();
    let t = tenant.clone();
    let r =
        tokio::task::spawn_blocking(move || store.deletes().add(&t, &query, start, end, now)).await;
    added(r, "log", &tenant, super::storage_error)
}

/// Loki's `model.Time` in JSON: seconds, with the milliseconds as a fraction when there are any.
fn seconds(ms: i64) -> serde_json::Value {
    if ms % 1000 == 0 {
        (ms / 1000).into()
    } else {
        (ms as f64 / 1000.0).into()
    }
}

fn request_json(r: &DeleteRequest) -> serde_json::Value {
    serde_json::json!({
        "request_id": r.request_id,
        "start_time": seconds(r.start_ms),
        "end_time": seconds(r.end_ms),
        "query": r.query,
        "status": r.status,
        "created_at": seconds(r.created_at_ms),
        "user_id": "",
    })
}

/// `GET /loki/api/v1/delete`: the tenant's requests (overlapping `start`..`end` when both are
/// given), oldest first.
pub async fn list(State(st): State<Arc<LokiState>>, headers: HeaderMap, q: Params) -> Response {
    let tenant = match st.tenant(&headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    listed(
        st.store.deletes().list(&tenant),
        &q,
        |r| (r.start_ms, r.end_ms),
        request_json,
    )
}

/// `DELETE /loki/api/v1/delete?request_id=`: cancels a request still within the cancel period
/// (`force=true`: past it, as long as it is not processed).
pub async fn cancel(State(st): State<Arc<LokiState>>, headers: HeaderMap, q: Params) -> Response {
    let tenant = match st.tenant(&headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let (id, force) = cancel_params(&q);
    let store = st.store.clone();
    let (cancel_period, _) = store.delete_settings();
    let r = tokio::task::spawn_blocking(move || {
        store
            .deletes()
            .cancel(&tenant, &id, force, cancel_period, now_ms())
    })
    .await;
    cancel_response(r)
}

/// `GET /loki/api/v1/cache/generation_numbers`: the tenant's cache generation number, a JSON
/// string (unix ns of its last delete request added or cancelled; "" before any).
pub async fn cache_generation(State(st): State<Arc<LokiState>>, headers: HeaderMap) -> Response {
    match st.tenant(&headers) {
        Ok(t) => axum::Json(st.store.deletes().cache_generation(&t)).into_response(),
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(kv: &[(&str, &str)]) -> HashMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn time_range_checks_in_lokis_words() {
        let now = 1_700_000_000_000;
        let r = |kv: &[(&str, &str)], f: bool| time_range(&params(kv), f, 86_400_000, now);
        assert_eq!(r(&[], false).unwrap_err(), "start time not set");
        assert_eq!(
            r(&[("start", "1600000000")], false).unwrap(),
            (1_600_000_000_000, now)
        );
        assert_eq!(
            r(
                &[
                    ("start", "2023-11-14T22:00:00Z"),
                    ("end", "2023-11-14T22:13:19.5Z")
                ],
                false
            )
            .unwrap(),
            (1_699_999_200_000, 1_699_999_999_500)
        );
        assert!(r(&[("start", "16000000")], false)
            .unwrap_err()
            .starts_with("invalid start time"));
        assert!(r(&[("start", "1600000000"), ("end", "x")], false)
            .unwrap_err()
            .starts_with("invalid end time"));
        assert_eq!(
            r(&[("start", "1600000000"), ("end", "1800000000")], false).unwrap_err(),
            "deletes in the future are not allowed"
        );
        assert_eq!(
            r(&[("start", "1600000000"), ("end", "1600000000")], false).unwrap_err(),
            "start time can't be greater than or equal to end time"
        );
        let mi = |v: &str| {
            r(
                &[
                    ("start", "1699999000"),
                    ("end", "1700000000"),
                    ("max_interval", v),
                ],
                true,
            )
        };
        assert!(mi("100s").is_ok());
        assert!(mi("0.5s").unwrap_err().starts_with("invalid max_interval"));
        assert_eq!(
            mi("2000s").unwrap_err(),
            "max_interval can't be greater than the interval to be deleted (16m40s)"
        );
        assert_eq!(
            mi("48h").unwrap_err(),
            "max_interval can't be greater than 24h0m0s"
        );
    }
}
