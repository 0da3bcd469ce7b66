//! `GET /api/v1/rules` and `GET /api/v1/alerts` in Prometheus' JSON shape, read from the rules
//! engine's snapshot (`alerting::RuleManager::groups`). Filters: `type=alert|record`,
//! `rule_name[]`, `rule_group[]`, `file[]`, `exclude_alerts`. Loki's ruler paths
//! `/prometheus/api/v1/rules` and `/prometheus/api/v1/alerts` answer the same for the LogQL
//! groups only (of the `X-Scope-OrgID` tenant when the header is sent).

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value as Json};

use alerting::rule::{ActiveAlert, AlertState, Group, Rule};

use super::json::{success, ApiError};
use super::tenant::tenant_of;

/// State of the rules endpoints.
pub struct RulesState {
    pub manager: Arc<alerting::RuleManager>,
}

/// The rules routes, to be merged into the main router.
pub fn routes(state: Arc<RulesState>) -> Router {
    Router::new()
        .route("/api/v1/rules", get(rules))
        .route("/api/v1/alerts", get(alerts))
        .route(
            "/prometheus/api/v1/rules",
            get(
                |s: State<Arc<RulesState>>, h: HeaderMap, q: RawQuery| async move {
                    rules_of(s, q, Some(tenant_of(&h)), None).await
                },
            ),
        )
        .route(
            "/prometheus/api/v1/alerts",
            get(|s: State<Arc<RulesState>>, h: HeaderMap| async move {
                alerts_of(s, Some(tenant_of(&h)), None).await
            }),
        )
        .with_state(state)
}

/// `logql: Some(tenant filter)` keeps only LogQL groups (Loki's ruler paths: those of the
/// `X-Scope-OrgID` tenant, or all); `tenant: Some(t)` keeps only the groups of tenant `t`
/// (its PromQL rule files and its LogQL ones), as Mimir's ruler shows a tenant its own.
fn keep_group(g: &Group, logql: &Option<Option<String>>, tenant: &Option<String>) -> bool {
    if let Some(t) = tenant {
        if g.tenant.as_ref() != Some(t) && g.logql_tenant.as_ref() != Some(t) {
            return false;
        }
    }
    match logql {
        None => true,
        Some(None) => g.logql_tenant.is_some(),
        Some(Some(t)) => g.logql_tenant.as_deref() == Some(t.as_str()),
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn params(q: &Option<String>) -> Vec<(String, String)> {
    q.as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// RFC 3339 with nanosecond precision and trailing zeros trimmed, as Go's `time.RFC3339Nano`.
pub fn rfc3339_nano(ms: Option<i64>) -> String {
    let Some(ms) = ms else {
        return "0001-01-01T00:00:00Z".to_string();
    };
    match chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms) {
        Some(t) => {
            let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
            let frac = ms.rem_euclid(1000);
            if frac == 0 {
                format!("{base}Z")
            } else {
                let f = format!("{frac:03}");
                format!("{base}.{}Z", f.trim_end_matches('0'))
            }
        }
        None => "0001-01-01T00:00:00Z".to_string(),
    }
}

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)` (alert values in the API).
pub fn format_e(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let s = format!("{v:e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = exp.parse().unwrap_or(0);
    let sign = if e < 0 { '-' } else { '+' };
    format!("{mant}e{sign}{:02}", e.unsigned_abs())
}

fn map_json(m: &std::collections::BTreeMap<String, String>) -> Json {
    Json::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .collect::<Map<_, _>>(),
    )
}

fn alert_json(a: &ActiveAlert) -> Json {
    let mut o = json!({
        "labels": super::json::labels_json(&a.labels),
        "annotations": map_json(&a.annotations),
        "state": a.state.as_str(),
        "activeAt": rfc3339_nano(Some(a.active_at)),
        "value": format_e(a.value),
    });
    if let Some(k) = a.keep_firing_since {
        o["keepFiringSince"] = json!(rfc3339_nano(Some(k)));
    }
    o
}

fn active_alerts(r: &alerting::rule::AlertingRule) -> Vec<&ActiveAlert> {
    r.active
        .values()
        .filter(|a| a.state != AlertState::Inactive)
        .collect()
}

fn rule_json(r: &Rule, exclude_alerts: bool) -> Json {
    let c = r.common();
    let mut o = match r {
        Rule::Alerting(a) => {
            let act = active_alerts(a);
            let state = act
                .iter()
                .map(|x| x.state)
                .max()
                .unwrap_or(AlertState::Inactive);
            let mut o = json!({
                "state": state.as_str(),
                "name": c.name,
                "query": c.expr,
                "duration": a.for_ms as f64 / 1000.0,
                "keepFiringFor": a.keep_firing_for_ms as f64 / 1000.0,
                "labels": map_json(&c.labels),
                "annotations": map_json(&a.annotations),
                "health": c.health.as_str(),
                "evaluationTime": c.eval_seconds,
                "lastEvaluation": rfc3339_nano(c.last_eval_ms),
                "type": "alerting",
            });
            if !exclude_alerts {
                o["alerts"] = Json::Array(act.into_iter().map(alert_json).collect());
            }
            o
        }
        Rule::Recording(_) => {
            let mut o = json!({
                "name": c.name,
                "query": c.expr,
                "health": c.health.as_str(),
                "evaluationTime": c.eval_seconds,
                "lastEvaluation": rfc3339_nano(c.last_eval_ms),
                "type": "recording",
            });
            if !c.labels.is_empty() {
                o["labels"] = map_json(&c.labels);
            }
            o
        }
    };
    if let Some(e) = &c.last_error {
        o["lastError"] = json!(e);
    }
    o
}

async fn rules(st: State<Arc<RulesState>>, h: HeaderMap, q: RawQuery) -> Response {
    rules_of(st, q, None, tenant_of(&h)).await
}

async fn rules_of(
    State(st): State<Arc<RulesState>>,
    RawQuery(q): RawQuery,
    logql: Option<Option<String>>,
    tenant: Option<String>,
) -> Response {
    let ps = params(&q);
    let get_all = |k: &str| -> Vec<String> {
        ps.iter()
            .filter(|(n, _)| n == k || *n == format!("{k}[]"))
            .map(|(_, v)| v.clone())
            .collect()
    };
    let typ = ps
        .iter()
        .find(|(k, _)| k == "type")
        .map(|(_, v)| v.to_lowercase());
    let (want_alert, want_record) = match typ.as_deref() {
        None | Some("") => (true, true),
        Some("alert") => (true, false),
        Some("record") => (false, true),
        Some(other) => {
            return ApiError::bad_data(format!("unsupported type {other:?}")).into_response();
        }
    };
    let exclude_alerts = match ps
        .iter()
        .find(|(k, _)| k == "exclude_alerts")
        .map(|(_, v)| v.as_str())
    {
        None | Some("") | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => {
            return ApiError::bad_data(format!(
                "parameter \"exclude_alerts\": invalid boolean {other:?}"
            ))
            .into_response();
        }
    };
    let names = get_all("rule_name");
    let groups_f = get_all("rule_group");
    let files_f = get_all("file");
    let mut out = Vec::new();
    for g in st.manager.groups() {
        if !keep_group(&g, &logql, &tenant) {
            continue;
        }
        if !groups_f.is_empty() && !groups_f.contains(&g.name) {
            continue;
        }
        let file = g.file.display().to_string();
        if !files_f.is_empty() && !files_f.contains(&file) {
            continue;
        }
        let rules: Vec<Json> = g
            .rules
            .iter()
            .filter(|r| match r {
                Rule::Alerting(_) => want_alert,
                Rule::Recording(_) => want_record,
            })
            .filter(|r| names.is_empty() || names.contains(&r.common().name))
            .map(|r| rule_json(r, exclude_alerts))
            .collect();
        if rules.is_empty() && (typ.is_some() || !names.is_empty()) {
            continue;
        }
        out.push(group_json(&g, file, rules));
    }
    success(json!({ "groups": out }), &[], &[])
}

fn group_json(g: &Group, file: String, rules: Vec<Json>) -> Json {
    json!({
        "name": g.name,
        "file": file,
        "rules": rules,
        "interval": g.interval_ms as f64 / 1000.0,
        "limit": g.limit,
        "evaluationTime": g.eval_seconds,
        "lastEvaluation": rfc3339_nano(g.last_eval_ms),
    })
}

async fn alerts(st: State<Arc<RulesState>>, h: HeaderMap) -> Response {
    alerts_of(st, None, tenant_of(&h)).await
}

async fn alerts_of(
    State(st): State<Arc<RulesState>>,
    logql: Option<Option<String>>,
    tenant: Option<String>,
) -> Response {
    let mut out = Vec::new();
    for g in st.manager.groups() {
        if !keep_group(&g, &logql, &tenant) {
            continue;
        }
        for r in &g.rules {
            if let Rule::Alerting(a) = r {
                out.extend(active_alerts(a).into_iter().map(alert_json));
            }
        }
    }
    success(json!({ "alerts": out }), &[], &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        assert_eq!(format_e(1.0), "1e+00");
        assert_eq!(format_e(0.0732), "7.32e-02");
        assert_eq!(format_e(1234.5), "1.2345e+03");
        assert_eq!(format_e(f64::NAN), "NaN");
        assert_eq!(
            rfc3339_nano(Some(1_700_000_000_000)),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(
            rfc3339_nano(Some(1_700_000_000_120)),
            "2023-11-14T22:13:20.12Z"
        );
        assert_eq!(rfc3339_nano(None), "0001-01-01T00:00:00Z");
        assert_eq!(percent_decode("a%20b+c%2"), "a b c%2");
    }
}
