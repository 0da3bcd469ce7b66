//! The incident context of one alert, `GET /api/pharos/v1/incident?alertname=..&<label>=..
//! [&__start=<ms>][&__end=<ms>]`: everything pharos knows around the alert's time window,
//! joined by labels without per-alert setup — the rule's query over the lookback before the
//! alert, the log lines of the same service (errors first, with a volume histogram), the
//! slowest and failed traces of that service, error issues active in the window, targets down,
//! and restarts and config reloads in the window. The alert's labels travel in the query string
//! (so a link in a notification keeps working after the alert resolved); `__start`/`__end` are
//! free of collisions because Prometheus reserves label names starting with `__`.
//!
//! The join: a label of the alert named in `incident.service_labels` (default `service`,
//! `service_name`, `app`, `job`) names a service; its value is looked for under every one of
//! those names in log streams and series, and as the trace service name and error project.
//! Without one, `incident.instance_labels` (default `instance`, `host`) are used the same way.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use model::logs::{Direction, LogQueryable};
use model::matcher::{LabelMatcher, MatchOp};
use parking_lot::{Mutex, RwLock};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

/// Lines returned at most (errors first).
const MAX_LINES: usize = 200;
/// Lines scanned at most per join label.
const MAX_SCAN: usize = 20_000;
const HISTOGRAM_BUCKETS: i64 = 30;
/// The window after `__end` (or after the start of a still-firing alert, up to now).
const AFTER_MS: i64 = 15 * 60_000;
/// The logs/traces/errors window starts this long before the alert started.
const BEFORE_MS: i64 = 15 * 60_000;

/// pharos' own events the page lists (config reloads; its start is `start_time_ms`).
static EVENTS: Mutex<Vec<(i64, &'static str, String)>> = Mutex::new(Vec::new());

/// Records one of pharos' own events (kept in memory, last 1000).
pub fn record_event(kind: &'static str, text: impl Into<String>) {
    let mut e = EVENTS.lock();
    e.push((model::time::now_ms(), kind, text.into()));
    let n = e.len();
    if n > 1000 {
        e.drain(..n - 1000);
    }
}

/// What the incident page reads.
pub struct IncidentState {
    pub storage: Arc<dyn model::Queryable>,
    pub engine: promql::Engine,
    pub rules: Arc<alerting::RuleManager>,
    pub logs: Arc<dyn LogQueryable>,
    pub traces: Arc<traces::store::TraceStore>,
    pub errors: Arc<errors::ErrorStore>,
    pub scrape: Arc<scrape::ScrapeManager>,
    pub alertmanager: alertmanager::Alertmanager,
    pub settings: RwLock<config::incident::IncidentSettings>,
    /// Process start, Unix ms.
    pub start_time_ms: i64,
}

/// The route.
pub fn routes(state: Arc<IncidentState>) -> axum::Router {
    axum::Router::new()
        .route("/api/pharos/v1/incident", axum::routing::get(incident))
        .route("/api/pharos/v1/events", axum::routing::get(events))
        .with_state(state)
}

fn bad(msg: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({ "error": msg.into() })),
    )
        .into_response()
}

fn parse_time(name: &str, v: &str) -> Result<i64, String> {
    if let Ok(n) = v.parse::<i64>() {
        return Ok(n);
    }
    chrono::DateTime::parse_from_rfc3339(v)
        .map(|d| d.timestamp_millis())
        .map_err(|_| format!("{name} must be Unix milliseconds or RFC 3339, got {v:?}"))
}

/// The request: the alert's labels and its time window.
struct Request {
    labels: BTreeMap<String, String>,
    start: Option<i64>,
    end: Option<i64>,
}

fn parse_request(q: &[(String, String)]) -> Result<Request, String> {
    let mut r = Request {
        labels: BTreeMap::new(),
        start: None,
        end: None,
    };
    for (k, v) in q {
        match k.as_str() {
            "__start" => r.start = Some(parse_time(k, v)?),
            "__end" => r.end = Some(parse_time(k, v)?).filter(|e| *e > 0),
            k if k.starts_with("__") => {}
            k => {
                if !v.is_empty() {
                    r.labels.insert(k.to_string(), v.clone());
                }
            }
        }
    }
    if !r.labels.contains_key("alertname") {
        return Err("send the alert's labels as query parameters, alertname at least (e.g. ?alertname=HighErrorRate&job=api)".into());
    }
    Ok(r)
}

/// The join values: `(label name, value)` of the alert for the service (or instance) labels,
/// and every label name the values are looked for under.
fn join_of(
    labels: &BTreeMap<String, String>,
    s: &config::incident::IncidentSettings,
) -> (Vec<(String, String)>, Vec<String>) {
    for names in [&s.service_labels, &s.instance_labels] {
        let found: Vec<(String, String)> = names
            .iter()
            .filter_map(|n| labels.get(n).map(|v| (n.clone(), v.clone())))
            .collect();
        if !found.is_empty() {
            return (found, names.clone());
        }
    }
    (Vec::new(), Vec::new())
}

/// Whether a log line reads as an error (a level label, a JSON/logfmt level, or the word).
pub fn is_error_line(labels: &model::Labels, line: &str) -> bool {
    for k in ["level", "detected_level", "severity", "lvl"] {
        if let Some(v) = labels.get(k) {
            let v = v.to_ascii_lowercase();
            return matches!(
                v.as_str(),
                "error" | "err" | "fatal" | "critical" | "crit" | "panic" | "emerg" | "alert"
            );
        }
    }
    let l = line.to_ascii_lowercase();
    [
        "\"level\":\"error\"",
        "\"level\": \"error\"",
        "level=error",
        "\"level\":\"fatal\"",
        "level=fatal",
        "error",
        "exception",
        "panic",
        "fatal",
    ]
    .iter()
    .any(|p| l.contains(p))
}

fn labels_json(l: &model::Labels) -> Value {
    Value::Object(
        l.iter()
            .map(|x| (x.name.clone(), Value::String(x.value.clone())))
            .collect(),
    )
}

async fn incident(
    State(st): State<Arc<IncidentState>>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let req = match parse_request(&q) {
        Ok(r) => r,
        Err(e) => return bad(e),
    };
    let st2 = st.clone();
    match tokio::task::spawn_blocking(move || assemble(&st2, req)).await {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({ "error": format!("incident assembly failed: {e}") })),
        )
            .into_response(),
    }
}

/// `GET /api/pharos/v1/events?start=&end=` (Unix ms or RFC 3339, default the last 24 h):
/// pharos' own events in the window (its start, config reloads), oldest first, for the UI to
/// draw as annotations.
async fn events(
    State(st): State<Arc<IncidentState>>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let now = model::time::now_ms();
    let mut from = now - 24 * 3_600_000;
    let mut to = now;
    for (k, v) in &q {
        let t = match k.as_str() {
            "start" | "end" => match parse_time(k, v) {
                Ok(t) => t,
                Err(e) => return bad(e),
            },
            _ => continue,
        };
        if k == "start" {
            from = t;
        } else {
            to = t;
        }
    }
    let list: Vec<Value> = own_events(&st, from, to)
        .into_iter()
        .map(|(t, k, text)| json!({"time": t, "kind": k, "text": text}))
        .collect();
    axum::Json(json!({"status": "success", "data": list})).into_response()
}

/// pharos' start and the recorded events inside `[from, to]`.
fn own_events(st: &IncidentState, from: i64, to: i64) -> Vec<(i64, String, String)> {
    let mut out: Vec<(i64, String, String)> = Vec::new();
    if (from..=to).contains(&st.start_time_ms) {
        out.push((
            st.start_time_ms,
            "pharos_start".into(),
            "pharos started".into(),
        ));
    }
    for (t, kind, text) in EVENTS.lock().iter() {
        if (from..=to).contains(t) {
            out.push((*t, kind.to_string(), text.clone()));
        }
    }
    out.sort();
    out
}

fn assemble(st: &IncidentState, req: Request) -> Value {
    let now = model::time::now_ms();
    let settings = st.settings.read().clone();
    // The alert as the Alertmanager holds it (for its start and state), when it still does.
    let fp = alertmanager::alert::fingerprint(&req.labels);
    let held = st
        .alertmanager
        .alerts()
        .into_iter()
        .find(|a| a.alert.fingerprint == fp);
    let start = req
        .start
        .or(held.as_ref().map(|a| a.alert.starts_at))
        .unwrap_or(now - AFTER_MS);
    let resolved_at = req
        .end
        .or(held.as_ref().map(|a| a.alert.ends_at).filter(|e| *e <= now));
    let state = match (&held, resolved_at) {
        (_, Some(_)) => "resolved",
        (Some(_), None) => "firing",
        (None, None) => "unknown",
    };
    let from = start - BEFORE_MS;
    let to = resolved_at
        .map(|e| e + AFTER_MS)
        .unwrap_or(now)
        .min(now)
        .max(from + 60_000);
    let graph_from = start - settings.lookback_ms;
    let (join, names) = join_of(&req.labels, &settings);
    let values: BTreeSet<String> = join.iter().map(|(_, v)| v.clone()).collect();

    let rule = rule_json(st, &req.labels, graph_from, to);
    let logs = logs_json(st, &names, &values, from, to);
    let traces = traces_json(st, &values, from, to);
    let issues = errors_json(st, &values, from, to);
    let targets = targets_json(st, &names, &values, from, to);
    let events = events_json(st, &names, &values, from, to);
    json!({
        "alert": {
            "labels": req.labels,
            "annotations": held.as_ref().map(|a| json!(a.alert.annotations)).unwrap_or(json!({})),
            "state": state,
            "startsAt": start,
            "endsAt": resolved_at,
            "fingerprint": alertmanager::alert::fingerprint_hex(fp),
        },
        "window": {"from": from, "to": to, "graphFrom": graph_from},
        "join": {
            "labels": join.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
            "lookedUpUnder": names,
            "serviceLabels": settings.service_labels,
            "instanceLabels": settings.instance_labels,
        },
        "rule": rule,
        "logs": logs,
        "traces": traces,
        "errors": issues,
        "targets": targets,
        "events": events,
    })
}

fn step_for(from: i64, to: i64) -> i64 {
    ((to - from) / 240).max(15_000) / 1000 * 1000
}

fn matrix_json(r: &promql::QueryResult) -> Vec<Value> {
    match &r.value {
        promql::Value::Matrix(m) => m
            .iter()
            .map(|s| {
                json!({
                    "metric": labels_json(&s.labels),
                    "values": s.samples.iter().map(|p| json!([p.t as f64 / 1000.0, p.v.to_string()])).collect::<Vec<_>>(),
                })
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The alert's rule (by alertname; the first whose own labels the alert carries) and its
/// query over `[graph_from, to]`.
fn rule_json(
    st: &IncidentState,
    labels: &BTreeMap<String, String>,
    graph_from: i64,
    to: i64,
) -> Value {
    let name = labels.get("alertname").cloned().unwrap_or_default();
    let groups = st.rules.groups();
    let found = groups.iter().find_map(|g| {
        g.rules.iter().find_map(|r| match r {
            alerting::rule::Rule::Alerting(a)
                if a.common.name == name
                    && a.common
                        .labels
                        .iter()
                        .all(|(k, v)| labels.get(k) == Some(v)) =>
            {
                Some((g, a))
            }
            _ => None,
        })
    });
    let Some((g, a)) = found else {
        return json!({"found": false, "name": name});
    };
    let logql = g.logql_tenant.is_some();
    let step = step_for(graph_from, to);
    let (series, error) = if logql {
        (Vec::new(), None)
    } else {
        match st
            .engine
            .range_query(&*st.storage, &a.common.expr, graph_from, to, step)
        {
            Ok(r) => (matrix_json(&r), None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        }
    };
    json!({
        "found": true,
        "name": a.common.name,
        "group": g.name,
        "file": g.file.display().to_string(),
        "expr": a.common.expr,
        "language": if logql { "logql" } else { "promql" },
        "for": a.for_ms,
        "annotations": a.annotations,
        "health": format!("{:?}", a.common.health).to_lowercase(),
        "lastError": a.common.last_error,
        "series": series,
        "error": error,
        "step": step,
    })
}

fn eq(name: &str, value: &str) -> Option<LabelMatcher> {
    LabelMatcher::new(name, MatchOp::Equal, value).ok()
}

fn logs_json(
    st: &IncidentState,
    names: &[String],
    values: &BTreeSet<String>,
    from: i64,
    to: i64,
) -> Value {
    let (from_ns, to_ns) = (from.saturating_mul(1_000_000), to.saturating_mul(1_000_000));
    let bucket_ms = ((to - from) / HISTOGRAM_BUCKETS).max(1000);
    let mut hist: Vec<(i64, u64, u64)> = (0..HISTOGRAM_BUCKETS + 1)
        .map(|i| (from + i * bucket_ms, 0, 0))
        .collect();
    let mut seen: HashSet<(String, i64, u64)> = HashSet::new();
    let mut errors: Vec<Value> = Vec::new();
    let mut others: Vec<Value> = Vec::new();
    let (mut total, mut error_total) = (0u64, 0u64);
    let mut selectors: Vec<(String, usize)> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    for name in names {
        for value in values {
            let Some(m) = eq(name, value) else { continue };
            let mut scanned = 0usize;
            let r = st.logs.scan(
                model::logs::DEFAULT_TENANT,
                &[m],
                from_ns,
                to_ns,
                Direction::Backward,
                &mut |labels, e| {
                    scanned += 1;
                    let key = (format!("{labels:?}"), e.ts_ns, seahash(&e.line));
                    if !seen.insert(key) {
                        return scanned < MAX_SCAN;
                    }
                    let err = is_error_line(labels, &e.line);
                    total += 1;
                    if err {
                        error_total += 1;
                    }
                    let i = ((e.ts_ns / 1_000_000 - from) / bucket_ms).clamp(0, HISTOGRAM_BUCKETS)
                        as usize;
                    if let Some(b) = hist.get_mut(i) {
                        b.1 += 1;
                        if err {
                            b.2 += 1;
                        }
                    }
                    let list = if err { &mut errors } else { &mut others };
                    if list.len() < MAX_LINES {
                        list.push(json!({
                            "ts": e.ts_ns.to_string(),
                            "labels": labels_json(labels),
                            "line": e.line,
                            "error": err,
                        }));
                    }
                    scanned < MAX_SCAN
                },
            );
            if let Err(e) = r {
                problems.push(e.to_string());
            }
            selectors.push((format!("{{{name}={value:?}}}"), scanned));
        }
    }
    // The page's Explore link opens the selector that found the most lines.
    let best = selectors
        .iter()
        .max_by_key(|(_, n)| *n)
        .filter(|(_, n)| *n > 0)
        .map(|(q, _)| q.clone());
    let mut lines = errors;
    let room = MAX_LINES.saturating_sub(lines.len());
    lines.extend(others.into_iter().take(room));
    json!({
        "query": selectors.iter().map(|(q, _)| q.as_str()).collect::<Vec<_>>().join(" or "),
        "selectors": selectors.iter().map(|(q, n)| json!({"query": q, "lines": n})).collect::<Vec<_>>(),
        "exploreQuery": best,
        "total": total,
        "errors": error_total,
        "lines": lines,
        "histogram": {
            "stepMs": bucket_ms,
            "buckets": hist.iter().map(|(t, n, e)| json!({"t": t, "total": n, "errors": e})).collect::<Vec<_>>(),
        },
        "problems": problems,
    })
}

/// A cheap hash of a line (dedupe of a stream found under two join labels).
fn seahash(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

fn trace_summary(spans: &[Arc<traces::Span>]) -> Value {
    let start = spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
    let end = spans.iter().map(|s| s.end_ns).max().unwrap_or(0);
    let root = spans.iter().find(|s| s.is_root()).or_else(|| spans.first());
    let failed: Vec<&Arc<traces::Span>> = spans
        .iter()
        .filter(|s| s.status_code == traces::StatusCode::Error)
        .collect();
    json!({
        "traceID": spans.first().map(|s| s.trace_id.to_hex()).unwrap_or_default(),
        "root": root.map(|s| format!("{}: {}", s.service(), s.name)).unwrap_or_default(),
        "startMs": start / 1_000_000,
        "durationMs": end.saturating_sub(start) as f64 / 1e6,
        "spans": spans.len(),
        "errorSpans": failed.len(),
        "error": failed.first().map(|s| if s.status_message.is_empty() { s.name.clone() } else { s.status_message.clone() }),
    })
}

fn traces_json(st: &IncidentState, values: &BTreeSet<String>, from: i64, to: i64) -> Value {
    let mut all: Vec<Vec<Arc<traces::Span>>> = Vec::new();
    let known: BTreeSet<String> = st.traces.services().into_iter().collect();
    let services: Vec<&String> = values.iter().filter(|v| known.contains(*v)).collect();
    for svc in &services {
        let q = traces::query::TraceQuery {
            service: Some((*svc).clone()),
            start_ns: (from.max(0) as u64).saturating_mul(1_000_000),
            end_ns: (to.max(0) as u64).saturating_mul(1_000_000),
            limit: 500,
            ..Default::default()
        };
        all.extend(st.traces.search(&q));
    }
    let dur = |t: &Vec<Arc<traces::Span>>| {
        let s = t.iter().map(|s| s.start_ns).min().unwrap_or(0);
        t.iter()
            .map(|s| s.end_ns)
            .max()
            .unwrap_or(0)
            .saturating_sub(s)
    };
    let mut by_dur: Vec<&Vec<Arc<traces::Span>>> = all.iter().collect();
    by_dur.sort_by_key(|t| std::cmp::Reverse(dur(t)));
    let failed: Vec<Value> = all
        .iter()
        .filter(|t| t.iter().any(|s| s.status_code == traces::StatusCode::Error))
        .take(10)
        .map(|t| trace_summary(t))
        .collect();
    json!({
        "services": services,
        "total": all.len(),
        "slowest": by_dur.iter().take(10).map(|t| trace_summary(t)).collect::<Vec<_>>(),
        "failed": failed,
    })
}

fn errors_json(st: &IncidentState, values: &BTreeSet<String>, from: i64, to: i64) -> Value {
    let q = errors::IssueQuery {
        status: Some("all".into()),
        start: Some(from as f64 / 1000.0),
        end: Some(to as f64 / 1000.0),
        sort: Some("count".into()),
        limit: 50,
        ..Default::default()
    };
    let (issues, total) = st.errors.list_issues(&q);
    // Issues of a project named like the service first.
    let (mut same, other): (Vec<Value>, Vec<Value>) = issues.into_iter().partition(|i| {
        i.get("project")
            .and_then(Value::as_str)
            .is_some_and(|p| values.contains(p))
            || ["projectName", "project_name"].iter().any(|k| {
                i.get(*k)
                    .and_then(Value::as_str)
                    .is_some_and(|p| values.contains(p))
            })
    });
    for i in &mut same {
        if let Some(o) = i.as_object_mut() {
            o.insert("sameService".into(), Value::Bool(true));
        }
    }
    same.extend(other);
    same.truncate(20);
    json!({"total": total, "issues": same})
}

fn selector(names: &[String], values: &BTreeSet<String>) -> Option<String> {
    if names.is_empty() || values.is_empty() {
        return None;
    }
    let re = values
        .iter()
        .map(|v| regex_escape(v))
        .collect::<Vec<_>>()
        .join("|");
    Some(
        names
            .iter()
            .map(|n| format!("{{{n}=~{:?}}}", re))
            .collect::<Vec<_>>()
            .join(" or "),
    )
}

fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Targets down now, and `up` series that were 0 at some step of the window.
fn targets_json(
    st: &IncidentState,
    names: &[String],
    values: &BTreeSet<String>,
    from: i64,
    to: i64,
) -> Value {
    let snap = st.scrape.targets();
    let matches = |l: &BTreeMap<String, String>| {
        names
            .iter()
            .any(|n| l.get(n).is_some_and(|v| values.contains(v)))
    };
    let mut down_now: Vec<Value> = snap
        .active
        .iter()
        .filter(|t| t.health == "down")
        .map(|t| {
            json!({
                "labels": t.labels,
                "scrapeUrl": t.scrape_url,
                "lastError": t.last_error,
                "lastScrape": t.last_scrape,
                "sameService": matches(&t.labels),
            })
        })
        .collect();
    down_now.sort_by_key(|v| !v["sameService"].as_bool().unwrap_or(false));
    let mut in_window: Vec<Value> = Vec::new();
    let step = step_for(from, to);
    if let Ok(r) = st
        .engine
        .range_query(&*st.storage, "up == 0", from, to, step)
    {
        if let promql::Value::Matrix(m) = r.value {
            for s in m {
                let (Some(a), Some(b)) = (s.samples.first(), s.samples.last()) else {
                    continue;
                };
                let l: BTreeMap<String, String> = s
                    .labels
                    .iter()
                    .map(|x| (x.name.clone(), x.value.clone()))
                    .collect();
                in_window.push(json!({
                    "labels": l,
                    "from": a.t,
                    "to": b.t,
                    "sameService": matches(&l),
                }));
            }
        }
    }
    in_window.sort_by_key(|v| !v["sameService"].as_bool().unwrap_or(false));
    json!({"downNow": down_now, "downInWindow": in_window})
}

/// Restarts of the service (`process_start_time_seconds` of its series changing value inside
/// the window), pharos' own start and its config reloads.
fn events_json(
    st: &IncidentState,
    names: &[String],
    values: &BTreeSet<String>,
    from: i64,
    to: i64,
) -> Value {
    let mut out = own_events(st, from, to);
    if let Some(sel) = selector(names, values) {
        let expr = sel
            .split(" or ")
            .map(|s| format!("process_start_time_seconds{s}"))
            .collect::<Vec<_>>()
            .join(" or ");
        let step = step_for(from, to);
        if let Ok(r) = st.engine.range_query(&*st.storage, &expr, from, to, step) {
            if let promql::Value::Matrix(m) = r.value {
                for s in m {
                    let mut seen: BTreeSet<i64> = BTreeSet::new();
                    for p in &s.samples {
                        let started = (p.v * 1000.0) as i64;
                        if (from..=to).contains(&started) && seen.insert(started) {
                            let who = ["job", "instance"]
                                .iter()
                                .filter_map(|k| s.labels.get(k))
                                .collect::<Vec<_>>()
                                .join(" ");
                            out.push((started, "restart".into(), format!("{who} (re)started")));
                        }
                    }
                }
            }
        }
    }
    out.sort();
    Value::Array(
        out.into_iter()
            .map(|(t, k, text)| json!({"time": t, "kind": k, "text": text}))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_url_and_join() {
        let q = vec![
            ("alertname".to_string(), "HighErrorRate".to_string()),
            ("job".into(), "api".into()),
            ("__start".into(), "1700000000000".into()),
        ];
        let r = parse_request(&q).unwrap();
        assert_eq!(r.start, Some(1_700_000_000_000));
        assert_eq!(r.labels.len(), 2);
        assert!(parse_request(&q[1..]).is_err());
        assert!(parse_request(&[
            ("alertname".into(), "a".into()),
            ("__start".into(), "x".into())
        ])
        .is_err());
        let url = alertmanager::alert::incident_url("http://p:9090/", &r.labels, 5);
        assert_eq!(
            url,
            "http://p:9090/incident?alertname=HighErrorRate&job=api&__start=5"
        );
        let s = config::incident::IncidentSettings::default();
        let (join, names) = join_of(&r.labels, &s);
        assert_eq!(join, [("job".to_string(), "api".to_string())]);
        assert_eq!(names, ["service", "service_name", "app", "job"]);
        let only_instance: BTreeMap<String, String> = [
            ("alertname".to_string(), "X".to_string()),
            ("instance".into(), "h:1".into()),
        ]
        .into();
        assert_eq!(join_of(&only_instance, &s).1, ["instance", "host"]);
        let l = model::Labels::from_pairs([("level", "warn")]);
        assert!(!is_error_line(&l, "an error word but level says warn"));
        assert!(is_error_line(
            &model::Labels::empty(),
            r#"{"level":"error","msg":"x"}"#
        ));
        assert!(!is_error_line(&model::Labels::empty(), "GET /health 200"));
        assert_eq!(
            selector(&["job".into()], &["a.b".to_string()].into()).unwrap(),
            r#"{job=~"a\\.b"}"#
        );
    }
}
