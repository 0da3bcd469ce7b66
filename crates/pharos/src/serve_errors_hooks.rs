//! How pharos reacts to the error store (its `ErrorHooks`): Sentry `transaction` items become
//! spans in the trace store (one model with the OTLP/Jaeger/Zipkin traces, so span metrics and
//! trace views cover Sentry-instrumented apps), and a new issue, a regression, and "more than N
//! events in M minutes for an issue" (`errors.alert_threshold`) become alerts handed to the
//! built-in Alertmanager, labelled project, level, environment, with a link to the issue.
//! Sessions go to release health (`crate::release_health`): crash-free series in the TSDB.
//! `span` and `log` items (newer SDKs) go to the trace and log stores (`crate::serve_errors_items`).

use errors::{ErrorHooks, IssueEvent, IssueEventKind};
use parking_lot::Mutex;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use traces::span::{KeyValue, Resource, Scope, Span, SpanId, SpanKind, StatusCode, TraceId};

/// The hooks: where alerts and spans go.
pub struct PharosErrorHooks {
    pub alerts: Arc<dyn model::AlertSink>,
    pub traces: Arc<traces::TraceStore>,
    /// `http://host:port` of the UI, for issue links.
    pub external_url: String,
    /// (events, minutes): alert when an issue gets more than `events` in `minutes`.
    pub threshold: Option<(u64, f64)>,
    /// Recent event times per issue (for the threshold) and when its alert last fired.
    recent: Mutex<HashMap<String, (VecDeque<f64>, f64)>>,
    /// Where `session`/`sessions` items go (none: they are only counted).
    release_health: Option<Arc<crate::release_health::ReleaseHealth>>,
    /// Where `log` items go (none: they are only counted).
    logs: Option<Arc<dyn model::LogSink>>,
}

impl PharosErrorHooks {
    pub fn new(
        alerts: Arc<dyn model::AlertSink>,
        traces: Arc<traces::TraceStore>,
        external_url: String,
        threshold: Option<(u64, f64)>,
    ) -> PharosErrorHooks {
        PharosErrorHooks {
            alerts,
            traces,
            external_url,
            threshold,
            recent: Mutex::new(HashMap::new()),
            release_health: None,
            logs: None,
        }
    }

    /// Sends sessions to `health` (crash-free series per release).
    pub fn with_release_health(
        mut self,
        health: Arc<crate::release_health::ReleaseHealth>,
    ) -> PharosErrorHooks {
        self.release_health = Some(health);
        self
    }

    /// Sends Sentry `log` items to `logs` (the log store, default tenant).
    pub fn with_logs(mut self, logs: Arc<dyn model::LogSink>) -> PharosErrorHooks {
        self.logs = Some(logs);
        self
    }

    fn alert(&self, name: &str, ev: &IssueEvent, summary: String) {
        let now = model::time::now_ms();
        let mut labels = BTreeMap::new();
        labels.insert("alertname".to_string(), name.to_string());
        labels.insert("project".to_string(), ev.project_name.clone());
        labels.insert("project_id".to_string(), ev.project.clone());
        labels.insert("issue_id".to_string(), ev.issue_id.clone());
        labels.insert("level".to_string(), ev.level.clone());
        labels.insert(
            "environment".to_string(),
            ev.environment.clone().unwrap_or_default(),
        );
        labels.insert("severity".to_string(), severity(&ev.level).to_string());
        let link = format!("{}/errors/{}", self.external_url, ev.issue_id);
        let mut annotations = BTreeMap::new();
        annotations.insert("summary".to_string(), summary);
        annotations.insert("description".to_string(), ev.title.clone());
        annotations.insert("culprit".to_string(), ev.culprit.clone());
        annotations.insert("issue_url".to_string(), link.clone());
        if let Some(r) = &ev.release {
            annotations.insert("release".to_string(), r.clone());
        }
        self.alerts.send(vec![model::Alert {
            labels,
            annotations,
            starts_at: Some(now),
            // A one-off event: resolved by itself after 5 minutes.
            ends_at: Some(now + 5 * 60_000),
            generator_url: link,
        }]);
    }
}

fn severity(level: &str) -> &'static str {
    match level {
        "fatal" | "error" => "critical",
        "warning" => "warning",
        _ => "info",
    }
}

impl ErrorHooks for PharosErrorHooks {
    fn on_issue_event(&self, ev: &IssueEvent) {
        match ev.kind {
            IssueEventKind::New => self.alert(
                "ErrorIssueNew",
                ev,
                format!("New issue in {}: {}", ev.project_name, ev.title),
            ),
            IssueEventKind::Regression => self.alert(
                "ErrorIssueRegression",
                ev,
                format!("Regression in {}: {}", ev.project_name, ev.title),
            ),
            IssueEventKind::Event => {}
        }
        let Some((n, minutes)) = self.threshold else {
            return;
        };
        let now = errors::store::now_secs();
        let window = minutes * 60.0;
        let fire = {
            let mut recent = self.recent.lock();
            let (times, last_fired) = recent.entry(ev.issue_id.clone()).or_default();
            times.push_back(now);
            while times.front().is_some_and(|t| *t < now - window) {
                times.pop_front();
            }
            let over = times.len() as u64 > n && now - *last_fired >= window;
            if over {
                *last_fired = now;
            }
            over
        };
        if fire {
            self.alert(
                "ErrorIssueFrequency",
                ev,
                format!(
                    "More than {n} events in {minutes} minutes in {}: {}",
                    ev.project_name, ev.title
                ),
            );
        }
    }

    fn on_transaction(&self, project: &str, payload: &Value) {
        let spans = transaction_spans(project, payload);
        if spans.is_empty() {
            return;
        }
        if let Err(e) = self.traces.append(spans) {
            tracing::warn!("Sentry transaction not stored as spans: {e}");
        }
    }
    fn on_sessions(&self, project: &str, item_type: &str, payload: &Value) {
        if let Some(health) = &self.release_health {
            health.record(project, item_type, payload);
        }
    }

    fn on_item(&self, project: &str, item_type: &str, payload: &[u8]) {
        use crate::serve_errors_items::{log_item_streams, span_item_spans};
        let Ok(v) = serde_json::from_slice::<Value>(payload) else {
            return;
        };
        match item_type {
            "span" => {
                let spans = span_item_spans(project, &v);
                if !spans.is_empty() {
                    if let Err(e) = self.traces.append(spans) {
                        tracing::warn!("Sentry span item not stored: {e}");
                    }
                }
            }
            "log" => {
                let Some(sink) = &self.logs else { return };
                let streams = log_item_streams(project, &v, logs::store::now_ns());
                if !streams.is_empty() {
                    if let Err(e) = sink.push(model::logs::DEFAULT_TENANT, streams) {
                        tracing::warn!("Sentry log item not stored: {e}");
                    }
                }
            }
            _ => {}
        }
    }
}

/// Nanoseconds of a Sentry timestamp (Unix seconds or RFC 3339).
pub(crate) fn ns(v: Option<&Value>) -> Option<u64> {
    errors::event::parse_timestamp(v?).map(|s| (s * 1e9) as u64)
}

fn status(s: Option<&str>) -> StatusCode {
    match s {
        None | Some("") => StatusCode::Unset,
        Some("ok") => StatusCode::Ok,
        Some(_) => StatusCode::Error,
    }
}

/// The OpenTelemetry span kind a Sentry `op` stands for.
pub(crate) fn kind(op: &str) -> SpanKind {
    if op.starts_with("http.server") || op == "http" {
        SpanKind::Server
    } else if op.starts_with("http.client") || op.starts_with("db") || op.starts_with("cache") {
        SpanKind::Client
    } else if op.starts_with("queue.publish") {
        SpanKind::Producer
    } else if op.starts_with("queue.process") {
        SpanKind::Consumer
    } else {
        SpanKind::Internal
    }
}

fn attrs(kv: &mut Vec<KeyValue>, obj: Option<&Value>) {
    if let Some(Value::Object(m)) = obj {
        for (k, v) in m {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            kv.push(KeyValue::str(k.clone(), text));
        }
    }
}

/// The spans of a Sentry transaction: the root from `contexts.trace`, children from `spans`.
pub fn transaction_spans(project: &str, tx: &Value) -> Vec<Span> {
    let str_of = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(String::from);
    let Some(trace) = tx.pointer("/contexts/trace") else {
        return vec![];
    };
    let Some(trace_id) = trace
        .get("trace_id")
        .and_then(Value::as_str)
        .and_then(TraceId::parse_hex)
    else {
        return vec![];
    };
    let service = tx
        .pointer("/contexts/trace/data/service.name")
        .and_then(Value::as_str)
        .map(String::from)
        .or_else(|| str_of(tx, "server_name"))
        .unwrap_or_else(|| format!("sentry-project-{project}"));
    let mut res = vec![
        KeyValue::str("service.name", service),
        KeyValue::str("sentry.project", project),
    ];
    for k in ["release", "environment", "platform"] {
        if let Some(v) = str_of(tx, k) {
            res.push(KeyValue::str(format!("sentry.{k}"), v));
        }
    }
    let resource = Arc::new(Resource::new(res));
    let scope = Arc::new(Scope {
        name: tx
            .pointer("/sdk/name")
            .and_then(Value::as_str)
            .unwrap_or("sentry")
            .to_string(),
        version: tx
            .pointer("/sdk/version")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    });
    let make = |v: &Value, name: String, start: Option<&Value>, end: Option<&Value>| {
        let span_id = v
            .get("span_id")
            .and_then(Value::as_str)
            .and_then(SpanId::parse_hex)?;
        let parent = v
            .get("parent_span_id")
            .and_then(Value::as_str)
            .and_then(SpanId::parse_hex)
            .unwrap_or_default();
        let start_ns = ns(start)?;
        let end_ns = ns(end).unwrap_or(start_ns).max(start_ns);
        let op = v.get("op").and_then(Value::as_str).unwrap_or("");
        let mut attributes = vec![KeyValue::str("sentry.op", op)];
        attrs(&mut attributes, v.get("data"));
        attrs(&mut attributes, v.get("tags"));
        let st = v.get("status").and_then(Value::as_str);
        Some(Span {
            trace_id,
            span_id,
            parent_span_id: parent,
            trace_state: String::new(),
            name,
            kind: kind(op),
            start_ns,
            end_ns,
            resource: resource.clone(),
            scope: scope.clone(),
            attributes,
            events: vec![],
            links: vec![],
            status_code: status(st),
            status_message: if status(st) == StatusCode::Error {
                st.unwrap_or("").to_string()
            } else {
                String::new()
            },
            flags: 0,
        })
    };
    let mut out = Vec::new();
    let root_name = str_of(tx, "transaction").unwrap_or_else(|| "transaction".into());
    if let Some(mut root) = make(
        trace,
        root_name,
        tx.get("start_timestamp"),
        tx.get("timestamp"),
    ) {
        attrs(&mut root.attributes, tx.get("tags"));
        out.push(root);
    }
    for s in tx
        .get("spans")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = str_of(s, "description")
            .or_else(|| str_of(s, "op"))
            .unwrap_or_else(|| "span".into());
        if let Some(sp) = make(s, name, s.get("start_timestamp"), s.get("timestamp")) {
            out.push(sp);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn transaction_becomes_spans() {
        let tx = json!({
            "type": "transaction", "transaction": "POST /checkout", "platform": "node",
            "start_timestamp": 1700000000.0, "timestamp": 1700000000.5, "release": "1.0",
            "contexts": {"trace": {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                "span_id": "00f067aa0ba902b7", "op": "http.server", "status": "ok"}},
            "spans": [{"span_id": "00f067aa0ba902b8", "parent_span_id": "00f067aa0ba902b7",
                "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "op": "db.query",
                "description": "SELECT 1", "start_timestamp": 1700000000.1,
                "timestamp": 1700000000.2, "status": "internal_error"},
                {"op": "broken"}]
        });
        let spans = transaction_spans("1", &tx);
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].name, "POST /checkout");
        assert!(spans[0].is_root());
        assert_eq!(spans[0].kind, SpanKind::Server);
        assert_eq!(spans[0].duration_ns(), 500_000_000);
        assert_eq!(spans[0].service(), "sentry-project-1");
        assert_eq!(spans[1].name, "SELECT 1");
        assert_eq!(spans[1].parent_span_id, spans[0].span_id);
        assert_eq!(spans[1].kind, SpanKind::Client);
        assert_eq!(spans[1].status_code, StatusCode::Error);
        assert!(transaction_spans("1", &json!({"spans": []})).is_empty());
    }
}
