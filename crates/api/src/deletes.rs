//! The HTTP shape every delete API shares (Loki's `/loki/api/v1/delete`, and the traces' and
//! errors' APIs made after it): 400 with a plain-text message on bad input, 204 with
//! `X-Delete-Request-ID` when a request is added, the tenant's requests as a JSON list
//! (optionally those overlapping `start`..`end`), and Loki's answers to a cancellation.
//! Each API supplies its own parameters, store calls and request fields.

use crate::loki::delete::parse_time;
use crate::loki::text;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use model::deletes::CancelError;
use std::collections::HashMap;

/// 400 with a plain-text message, as Loki answers bad delete input.
pub(crate) fn bad(msg: impl Into<String>) -> Response {
    text(StatusCode::BAD_REQUEST, msg.into())
}

/// A query parameter, trimmed; `None` when absent or empty.
pub(crate) fn opt(q: &HashMap<String, String>, k: &str) -> Option<String> {
    q.get(k)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(String::from)
}

/// The answer to adding a request: 204 with `X-Delete-Request-ID` (logged with `what`), or
/// the store's error through `refused`.
pub(crate) fn added<E: std::fmt::Display>(
    r: Result<Result<String, E>, tokio::task::JoinError>,
    what: &str,
    tenant: &str,
    refused: impl FnOnce(E) -> Response,
) -> Response {
    match r {
        Ok(Ok(id)) => {
            tracing::info!(tenant, request_id = id, "{what} delete request added");
            let mut resp = StatusCode::NO_CONTENT.into_response();
            if let Ok(v) = id.parse() {
                resp.headers_mut().insert("x-delete-request-id", v);
            }
            resp
        }
        Ok(Err(e)) => refused(e),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// 500 with the error's text.
pub(crate) fn internal(e: impl std::fmt::Display) -> Response {
    text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// The requests as JSON (`json` of each), only those whose `range` (start, end in ms)
/// overlaps `start`..`end` when both parameters are given (Loki's words on a bad one).
pub(crate) fn listed<R>(
    mut reqs: Vec<R>,
    q: &HashMap<String, String>,
    range: impl Fn(&R) -> (i64, i64),
    json: impl Fn(&R) -> serde_json::Value,
) -> Response {
    if let (Some(s), Some(e)) = (q.get("start"), q.get("end")) {
        let now = model::time::now_ms();
        let Ok(s) = parse_time(s, now) else {
            return bad("invalid start time: require unix seconds or RFC3339 format");
        };
        let Ok(e) = parse_time(e, now) else {
            return bad("invalid end time: require unix seconds or RFC3339 format");
        };
        reqs.retain(|r| {
            let (start, end) = range(r);
            start <= e && end >= s
        });
    }
    axum::Json(reqs.iter().map(json).collect::<Vec<_>>()).into_response()
}

/// `request_id` and `force=true` of a cancellation.
pub(crate) fn cancel_params(q: &HashMap<String, String>) -> (String, bool) {
    (
        q.get("request_id").cloned().unwrap_or_default(),
        q.get("force").map(String::as_str) == Some("true"),
    )
}

/// Loki's answers to a cancellation.
pub(crate) fn cancel_response(
    r: Result<Result<(), CancelError>, tokio::task::JoinError>,
) -> Response {
    match r {
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(CancelError::NotFound)) => text(
            StatusCode::NOT_FOUND,
            "could not find delete request with given id".into(),
        ),
        Ok(Err(CancelError::NotAllowed(m))) => bad(m),
        Ok(Err(CancelError::Io(m))) => text(StatusCode::INTERNAL_SERVER_ERROR, m),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// A request as the errors' and traces' APIs list it: id, range and creation in Unix
/// seconds (the milliseconds as a fraction), status, then the signal's own `fields`.
pub(crate) fn request_json<R: model::deletes::Request>(
    r: &R,
    (start_ms, end_ms): (i64, i64),
    fields: [(&str, serde_json::Value); 2],
) -> serde_json::Value {
    let secs = |ms: i64| serde_json::json!(ms as f64 / 1000.0);
    let mut m = serde_json::Map::new();
    m.insert("request_id".into(), r.request_id().into());
    m.insert("start_time".into(), secs(start_ms));
    m.insert("end_time".into(), secs(end_ms));
    m.insert("status".into(), serde_json::json!(r.status()));
    m.insert("created_at".into(), secs(r.created_at_ms()));
    for (k, v) in fields {
        m.insert(k.into(), v);
    }
    m.into()
}
