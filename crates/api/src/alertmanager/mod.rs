//! Alertmanager API v2 (`/api/v2/alerts`, `/api/v2/alerts/groups`, `/api/v2/silences`,
//! `/api/v2/silence/{id}`, `/api/v2/status`, `/api/v2/receivers`) over the built-in
//! Alertmanager, with Alertmanager's JSON shapes and status codes so Prometheus' notifier and
//! `amtool` work unchanged. Errors are JSON strings, as go-swagger writes them.

mod alerts;
mod silences;
mod status;

/// Alerts and silences per tenant, as Mimir's multi-tenant Alertmanager keeps them apart: with
/// a tenant (`X-Scope-OrgID`, or a token's tenant) posted alerts carry the hidden label
/// `__tenant__` and posted silences a `__tenant__="<id>"` matcher (so they mute only that
/// tenant's alerts); reads show only the tenant's own, without the label or matcher. Without
/// a tenant everything is seen, as for metrics.
pub(crate) mod tenant {
    pub use crate::prometheus::tenant::{tenant_of, TENANT_LABEL};
    use alertmanager::{Silence, SilenceMatcher};
    use std::collections::BTreeMap;

    /// The matcher a tenant's silences carry.
    pub fn matcher(t: &str) -> SilenceMatcher {
        SilenceMatcher {
            name: TENANT_LABEL.into(),
            value: t.into(),
            is_regex: false,
            is_equal: true,
        }
    }

    /// Whether the silence is the tenant's (`None`: tenant-less requests see every silence).
    pub fn owns_silence(s: &Silence, t: Option<&str>) -> bool {
        t.is_none_or(|t| s.matchers.contains(&matcher(t)))
    }

    /// Whether the alert's labels are the tenant's.
    pub fn owns_alert(labels: &BTreeMap<String, String>, t: Option<&str>) -> bool {
        t.is_none_or(|t| labels.get(TENANT_LABEL).map(String::as_str) == Some(t))
    }

    /// The silence as its tenant sees it (without the tenant matcher).
    pub fn strip_silence(mut s: Silence, t: Option<&str>) -> Silence {
        if let Some(t) = t {
            let m = matcher(t);
            s.matchers.retain(|x| *x != m);
        }
        s
    }
}

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

/// State of the Alertmanager API: the built-in Alertmanager.
pub struct AmState {
    pub am: alertmanager::Alertmanager,
}

/// The Alertmanager API routes.
pub fn routes(state: Arc<AmState>) -> Router {
    Router::new()
        .route(
            "/api/v2/alerts",
            get(alerts::get_alerts).post(alerts::post_alerts),
        )
        .route("/api/v2/alerts/groups", get(alerts::get_groups))
        .route("/api/v2/silences", get(silences::list).post(silences::post))
        .route(
            "/api/v2/silence/{id}",
            get(silences::get_one).delete(silences::delete),
        )
        .route("/api/v2/status", get(status::status))
        .route("/api/v2/receivers", get(status::receivers))
        .layer(axum::extract::DefaultBodyLimit::max(crate::MAX_BODY_BYTES))
        .with_state(state)
}

/// A request error: status and message, turned into a response by [`fail`].
pub(crate) type Fail = (StatusCode, String);

/// The response for a [`Fail`].
pub(crate) fn fail(f: Fail) -> Response {
    error(f.0, f.1)
}

/// An error response with a JSON string body.
pub(crate) fn error(code: StatusCode, msg: impl Into<String>) -> Response {
    (code, axum::Json(serde_json::Value::String(msg.into()))).into_response()
}

/// Parses repeated `filter` query parameters (Alertmanager matcher syntax).
pub(crate) fn parse_filters(query: &[(String, String)]) -> Result<Vec<model::LabelMatcher>, Fail> {
    let mut out = Vec::new();
    for (k, v) in query {
        if k == "filter" {
            let ms = alertmanager::matchers::parse_matchers(v)
                .map_err(|e| (StatusCode::BAD_REQUEST, format!("bad matcher format: {e}")))?;
            out.extend(ms);
        }
    }
    Ok(out)
}

/// A boolean query parameter with a default.
pub(crate) fn bool_param(
    query: &[(String, String)],
    name: &str,
    default: bool,
) -> Result<bool, Fail> {
    match query.iter().rev().find(|(k, _)| k == name) {
        None => Ok(default),
        Some((_, v)) => match v.as_str() {
            "true" | "1" | "" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err((
                StatusCode::BAD_REQUEST,
                format!("{name} in query should be of type boolean: {v:?}"),
            )),
        },
    }
}
