//! `POST/GET /api/v2/alerts` and `GET /api/v2/alerts/groups`.

use super::{bool_param, error, fail, parse_filters, tenant, AmState, Fail};
use alertmanager::alert::fingerprint_hex;
use alertmanager::AlertView;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use model::alert::format_rfc3339_ms;
use serde_json::{json, Value};
use std::sync::Arc;

/// `POST /api/v2/alerts`: a JSON array of postable alerts.
pub async fn post_alerts(
    State(st): State<Arc<AmState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut alerts: Vec<model::alert::Alert> = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("parsing alerts: {e}")),
    };
    if let Some(t) = tenant::tenant_of(&headers) {
        for a in &mut alerts {
            a.labels.insert(tenant::TENANT_LABEL.into(), t.clone());
        }
    }
    match st.am.put_alerts(alerts) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}

/// The alert as a tenant sees it: without the tenant label when a tenant asks.
fn tenant_view(v: &AlertView, t: Option<&str>) -> Value {
    let mut j = alert_json(v);
    if t.is_some() {
        if let Some(l) = j.get_mut("labels").and_then(Value::as_object_mut) {
            l.remove(tenant::TENANT_LABEL);
        }
    }
    j
}

pub(crate) fn alert_json(v: &AlertView) -> Value {
    let a = &v.alert;
    json!({
        "annotations": a.annotations,
        "endsAt": format_rfc3339_ms(a.ends_at),
        "fingerprint": fingerprint_hex(a.fingerprint),
        "receivers": v.receivers.iter().map(|r| json!({"name": r})).collect::<Vec<_>>(),
        "startsAt": format_rfc3339_ms(a.starts_at),
        "status": {
            "inhibitedBy": v.inhibited_by,
            "silencedBy": v.silenced_by,
            "mutedBy": [],
            "state": v.state(),
        },
        "updatedAt": format_rfc3339_ms(a.updated_at),
        "generatorURL": a.generator_url,
        "labels": a.labels,
    })
}

struct Filter {
    matchers: Vec<model::LabelMatcher>,
    active: bool,
    silenced: bool,
    inhibited: bool,
    receiver: Option<regex::Regex>,
}

impl Filter {
    fn parse(q: &[(String, String)]) -> Result<Filter, Fail> {
        let receiver = match q.iter().find(|(k, _)| k == "receiver") {
            Some((_, r)) if !r.is_empty() => {
                Some(regex::Regex::new(&format!("^(?:{r})$")).map_err(|e| {
                    (
                        StatusCode::BAD_REQUEST,
                        format!("failed to parse receiver param: {e}"),
                    )
                })?)
            }
            _ => None,
        };
        Ok(Filter {
            matchers: parse_filters(q)?,
            active: bool_param(q, "active", true)?,
            silenced: bool_param(q, "silenced", true)?,
            inhibited: bool_param(q, "inhibited", true)?,
            receiver,
        })
    }

    fn accepts(&self, v: &AlertView) -> bool {
        if let Some(re) = &self.receiver {
            if !v.receivers.iter().any(|r| re.is_match(r)) {
                return false;
            }
        }
        if !self.matchers.iter().all(|m| {
            m.matches(
                v.alert
                    .labels
                    .get(&m.name)
                    .map(String::as_str)
                    .unwrap_or(""),
            )
        }) {
            return false;
        }
        if !self.silenced && !v.silenced_by.is_empty() {
            return false;
        }
        if !self.inhibited && !v.inhibited_by.is_empty() {
            return false;
        }
        if !self.active && v.state() == "active" {
            return false;
        }
        true
    }
}

/// `GET /api/v2/alerts`.
pub async fn get_alerts(
    State(st): State<Arc<AmState>>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let f = match Filter::parse(&q) {
        Ok(f) => f,
        Err(f) => return fail(f),
    };
    let t = tenant::tenant_of(&headers);
    let t = t.as_deref();
    let out: Vec<Value> = st
        .am
        .alerts()
        .iter()
        .filter(|v| tenant::owns_alert(&v.alert.labels, t) && f.accepts(v))
        .map(|v| tenant_view(v, t))
        .collect();
    axum::Json(out).into_response()
}

/// `GET /api/v2/alerts/groups`.
pub async fn get_groups(
    State(st): State<Arc<AmState>>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let f = match Filter::parse(&q) {
        Ok(f) => f,
        Err(f) => return fail(f),
    };
    let t = tenant::tenant_of(&headers);
    let t = t.as_deref();
    let mut out = Vec::new();
    for g in st.am.groups() {
        if let Some(re) = &f.receiver {
            if !re.is_match(&g.receiver) {
                continue;
            }
        }
        let alerts: Vec<Value> = g
            .alerts
            .iter()
            .filter(|v| {
                // The receiver filter applies to groups, not to each alert's receivers.
                let mut v = (*v).clone();
                v.receivers = vec![g.receiver.clone()];
                tenant::owns_alert(&v.alert.labels, t) && f.accepts(&v)
            })
            .map(|v| tenant_view(v, t))
            .collect();
        if alerts.is_empty() {
            continue;
        }
        let mut labels = json!(g.labels);
        if t.is_some() {
            if let Some(l) = labels.as_object_mut() {
                l.remove(tenant::TENANT_LABEL);
            }
        }
        out.push(json!({
            "alerts": alerts,
            "labels": labels,
            "receiver": {"name": g.receiver},
        }));
    }
    axum::Json(out).into_response()
}
