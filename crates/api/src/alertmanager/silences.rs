//! `GET/POST /api/v2/silences`, `GET/DELETE /api/v2/silence/{id}`.

use super::{error, fail, parse_filters, tenant, AmState, Fail};
use alertmanager::{Silence, SilenceError, SilenceMatcher};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use model::alert::{format_rfc3339_ms, parse_rfc3339_ms};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostableSilence {
    #[serde(default)]
    id: String,
    matchers: Vec<SilenceMatcher>,
    starts_at: String,
    ends_at: String,
    created_by: String,
    comment: String,
}

fn silence_json(s: &Silence, now: i64) -> Value {
    json!({
        "id": s.id,
        "status": {"state": s.state(now).as_str()},
        "updatedAt": format_rfc3339_ms(s.updated_at),
        "comment": s.comment,
        "createdBy": s.created_by,
        "endsAt": format_rfc3339_ms(s.ends_at),
        "matchers": s.matchers,
        "startsAt": format_rfc3339_ms(s.starts_at),
    })
}

fn silence_error(e: SilenceError) -> Response {
    match e {
        SilenceError::Invalid(m) => error(StatusCode::BAD_REQUEST, m),
        SilenceError::NotFound(m) => error(StatusCode::NOT_FOUND, m),
        SilenceError::Internal(m) => error(StatusCode::INTERNAL_SERVER_ERROR, m),
    }
}

/// `GET /api/v2/silences?filter=...`: silences whose matchers, read as labels, satisfy every
/// filter; sorted active (by end), pending (by start), expired (latest end first).
pub async fn list(
    State(st): State<Arc<AmState>>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let filters = match parse_filters(&q) {
        Ok(f) => f,
        Err(f) => return fail(f),
    };
    let now = model::time::now_ms();
    let t = tenant::tenant_of(&headers);
    let t = t.as_deref();
    let mut list: Vec<Silence> = st
        .am
        .silences()
        .into_iter()
        .filter(|s| tenant::owns_silence(s, t))
        .map(|s| tenant::strip_silence(s, t))
        .filter(|s| {
            let as_labels: BTreeMap<&str, &str> = s
                .matchers
                .iter()
                .map(|m| (m.name.as_str(), m.value.as_str()))
                .collect();
            filters
                .iter()
                .all(|f| f.matches(as_labels.get(f.name.as_str()).copied().unwrap_or("")))
        })
        .collect();
    list.sort_by_key(|s| {
        use alertmanager::silence::SilenceState::*;
        match s.state(now) {
            Active => (0, s.ends_at),
            Pending => (1, s.starts_at),
            Expired => (2, -s.ends_at),
        }
    });
    axum::Json(
        list.iter()
            .map(|s| silence_json(s, now))
            .collect::<Vec<_>>(),
    )
    .into_response()
}

/// `POST /api/v2/silences`: create, or update when `id` is given.
pub async fn post(State(st): State<Arc<AmState>>, headers: HeaderMap, body: Bytes) -> Response {
    let mut p: PostableSilence = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("parsing silence: {e}")),
    };
    let t = tenant::tenant_of(&headers);
    if let Some(t) = &t {
        // An update names a silence of this tenant; another tenant's is not found.
        if !p.id.is_empty()
            && !st
                .am
                .silence(&p.id)
                .is_some_and(|s| tenant::owns_silence(&s, Some(t)))
        {
            return error(StatusCode::NOT_FOUND, format!("silence {} not found", p.id));
        }
        p.matchers.retain(|m| m.name != tenant::TENANT_LABEL);
        p.matchers.push(tenant::matcher(t));
    }
    let time = |s: &str, what: &str| -> Result<i64, Fail> {
        match parse_rfc3339_ms(s) {
            Ok(Some(t)) => Ok(t),
            Ok(None) => Err((StatusCode::BAD_REQUEST, format!("{what} is required"))),
            Err(e) => Err((StatusCode::BAD_REQUEST, format!("{what}: {e}"))),
        }
    };
    let starts_at = match time(&p.starts_at, "startsAt") {
        Ok(t) => t,
        Err(f) => return fail(f),
    };
    let ends_at = match time(&p.ends_at, "endsAt") {
        Ok(t) => t,
        Err(f) => return fail(f),
    };
    if ends_at < starts_at {
        return error(
            StatusCode::BAD_REQUEST,
            "Failed to create silence: start time must be before end time",
        );
    }
    let s = Silence {
        id: p.id,
        matchers: p.matchers,
        starts_at,
        ends_at,
        updated_at: 0,
        created_by: p.created_by,
        comment: p.comment,
    };
    match st.am.set_silence(s) {
        Ok(id) => axum::Json(json!({ "silenceID": id })).into_response(),
        Err(e) => silence_error(e),
    }
}

/// `GET /api/v2/silence/{id}`.
pub async fn get_one(
    State(st): State<Arc<AmState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let t = tenant::tenant_of(&headers);
    let t = t.as_deref();
    match st.am.silence(&id).filter(|s| tenant::owns_silence(s, t)) {
        Some(s) => axum::Json(silence_json(
            &tenant::strip_silence(s, t),
            model::time::now_ms(),
        ))
        .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `DELETE /api/v2/silence/{id}`: expires the silence.
pub async fn delete(
    State(st): State<Arc<AmState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let t = tenant::tenant_of(&headers);
    if !st
        .am
        .silence(&id)
        .is_some_and(|s| tenant::owns_silence(&s, t.as_deref()))
    {
        return StatusCode::NOT_FOUND.into_response();
    }
    match st.am.expire_silence(&id) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(SilenceError::NotFound(_)) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => silence_error(e),
    }
}
