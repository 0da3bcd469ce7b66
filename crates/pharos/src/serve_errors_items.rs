//! Sentry `span` and `log` envelope items into pharos' trace and log stores. Newer SDKs (e.g.
//! `@sentry/node` 10+ with span streaming) send spans as `span` items instead of transactions:
//! a v2 container `{"version": 2, "items": [...]}` of spans with typed `attributes`, or one v1
//! span object (`op`, `description`, `timestamp`, `data`). `log` items are containers of
//! structured logs (`timestamp`, `level`, `body`, `trace_id`, typed `attributes`). Both land in
//! the same model as OTLP data: spans with a `service.name` resource, log lines in a
//! `service_name` stream with attributes, level and trace id as structured metadata.

use crate::serve_errors_hooks::{kind, ns};
use serde_json::Value;
use std::sync::Arc;
use traces::span::{KeyValue, Resource, Scope, Span, SpanId, StatusCode, TraceId};

/// Items of a container payload (`{"items": [...]}`), else the payload itself as one item.
fn container_items(payload: &Value) -> Vec<&Value> {
    match payload.get("items").and_then(Value::as_array) {
        Some(items) => items.iter().filter(|v| v.is_object()).collect(),
        None if payload.is_object() => vec![payload],
        None => vec![],
    }
}

/// A typed attribute (`{"value": ..., "type": ...}`) or a plain JSON value as a span value.
fn attr_value(v: &Value) -> traces::span::Value {
    use traces::span::Value as V;
    let inner = match v {
        Value::Object(m) if m.contains_key("value") => &m["value"],
        other => other,
    };
    match inner {
        Value::String(s) => V::Str(s.clone()),
        Value::Bool(b) => V::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => V::Int(i),
            None => V::Double(n.as_f64().unwrap_or(0.0)),
        },
        other => V::Str(other.to_string()),
    }
}

/// Attributes (typed v2 or plain `data`) as span key-values.
fn span_attrs(out: &mut Vec<KeyValue>, obj: Option<&Value>) {
    if let Some(Value::Object(m)) = obj {
        for (k, v) in m {
            out.push(KeyValue::new(k.clone(), attr_value(v)));
        }
    }
}

/// The text of an attribute (typed or plain).
fn attr_text(attrs: Option<&Value>, key: &str) -> Option<String> {
    let v = attrs?.get(key)?;
    let v = v.get("value").unwrap_or(v);
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Null | Value::String(_) => None,
        other => Some(other.to_string()),
    }
}

/// The service a span or log of `project` belongs to: its `service.name` attribute, else the
/// project's name as the transaction conversion names it.
fn service_of(attrs: Option<&Value>, project: &str) -> String {
    attr_text(attrs, "service.name").unwrap_or_else(|| format!("sentry-project-{project}"))
}

/// The spans of a `span` item payload (v2 container or one v1 span). Spans without valid ids
/// or start time are skipped.
pub fn span_item_spans(project: &str, payload: &Value) -> Vec<Span> {
    let mut out = Vec::new();
    for s in container_items(payload) {
        let attrs = s.get("attributes");
        let Some(trace_id) = s
            .get("trace_id")
            .and_then(Value::as_str)
            .and_then(TraceId::parse_hex)
        else {
            continue;
        };
        let Some(span_id) = s
            .get("span_id")
            .and_then(Value::as_str)
            .and_then(SpanId::parse_hex)
        else {
            continue;
        };
        let Some(start_ns) = ns(s.get("start_timestamp")) else {
            continue;
        };
        let end_ns = ns(s.get("end_timestamp").or_else(|| s.get("timestamp")))
            .unwrap_or(start_ns)
            .max(start_ns);
        let parent = s
            .get("parent_span_id")
            .and_then(Value::as_str)
            .and_then(SpanId::parse_hex)
            .unwrap_or_default();
        let op = s
            .get("op")
            .and_then(Value::as_str)
            .map(String::from)
            .or_else(|| attr_text(attrs, "sentry.op"))
            .unwrap_or_default();
        let name = ["name", "description"]
            .iter()
            .find_map(|k| s.get(*k).and_then(Value::as_str).filter(|n| !n.is_empty()))
            .map(String::from)
            .unwrap_or_else(|| {
                if op.is_empty() {
                    "span".into()
                } else {
                    op.clone()
                }
            });
        let mut res = vec![
            KeyValue::str("service.name", service_of(attrs, project)),
            KeyValue::str("sentry.project", project),
        ];
        for (attr, key) in [
            ("sentry.release", "sentry.release"),
            ("sentry.environment", "sentry.environment"),
        ] {
            if let Some(v) = attr_text(attrs, attr) {
                res.push(KeyValue::str(key, v));
            }
        }
        let scope = Scope {
            name: attr_text(attrs, "sentry.sdk.name").unwrap_or_else(|| "sentry".into()),
            version: attr_text(attrs, "sentry.sdk.version").unwrap_or_default(),
        };
        let mut attributes = Vec::new();
        if !op.is_empty() {
            attributes.push(KeyValue::str("sentry.op", op.clone()));
        }
        span_attrs(&mut attributes, attrs);
        span_attrs(&mut attributes, s.get("data"));
        span_attrs(&mut attributes, s.get("tags"));
        // The first of a key wins (op, then typed attributes, data, tags).
        let mut seen = std::collections::HashSet::new();
        attributes.retain(|kv| seen.insert(kv.key.clone()));
        let st = s.get("status").and_then(Value::as_str).unwrap_or("");
        let (status_code, status_message) = match st {
            "" => (StatusCode::Unset, String::new()),
            "ok" => (StatusCode::Ok, String::new()),
            other => (StatusCode::Error, other.to_string()),
        };
        out.push(Span {
            trace_id,
            span_id,
            parent_span_id: parent,
            trace_state: String::new(),
            name,
            kind: kind(&op),
            start_ns,
            end_ns,
            resource: Arc::new(Resource::new(res)),
            scope: Arc::new(scope),
            attributes,
            events: vec![],
            links: vec![],
            status_code,
            status_message,
            flags: 0,
        });
    }
    out
}

/// The log streams of a `log` item payload: one `service_name` stream per service, each line
/// with `severity_text`, `severity_number`, `trace_id`, `span_id` and its attributes (names
/// sanitised as LogQL labels) as structured metadata. `now_ns` stands in for a missing time.
pub fn log_item_streams(project: &str, payload: &Value, now_ns: i64) -> Vec<model::LogStream> {
    use std::collections::BTreeMap;
    let mut by_service: BTreeMap<String, Vec<model::LogEntry>> = BTreeMap::new();
    for l in container_items(payload) {
        let attrs = l.get("attributes");
        let line = match l.get("body") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        let ts_ns = errors::event::parse_timestamp(l.get("timestamp").unwrap_or(&Value::Null))
            .map(|s| (s * 1e9) as i64)
            .unwrap_or(now_ns);
        let mut meta: Vec<(String, String)> = Vec::new();
        if let Some(lv) = l.get("level").and_then(Value::as_str) {
            meta.push(("severity_text".into(), lv.to_string()));
        }
        if let Some(n) = l.get("severity_number").and_then(Value::as_i64) {
            meta.push(("severity_number".into(), n.to_string()));
        }
        for k in ["trace_id", "span_id"] {
            if let Some(v) = l.get(k).and_then(Value::as_str).filter(|v| !v.is_empty()) {
                meta.push((k.to_string(), v.to_ascii_lowercase()));
            }
        }
        if let Some(Value::Object(m)) = attrs {
            for k in m.keys() {
                if let Some(v) = attr_text(attrs, k) {
                    meta.push((logs::logql::pipeline::sanitize(k), v));
                }
            }
        }
        meta.push(("sentry_project".into(), project.to_string()));
        by_service
            .entry(service_of(attrs, project))
            .or_default()
            .push(model::LogEntry {
                ts_ns,
                line,
                metadata: meta,
            });
    }
    by_service
        .into_iter()
        .map(|(service, entries)| model::LogStream {
            labels: model::Labels::from_pairs([("service_name", service.as_str())]),
            entries,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use traces::span::SpanKind;

    #[test]
    fn v2_span_container_becomes_spans() {
        // As @sentry/node 11 streams them.
        let payload = json!({"version": 2, "items": [
            {"name": "SELECT * FROM orders", "span_id": "a7acf18e58b9b39c",
             "trace_id": "20a2f9b1904342079df0453399fa051b", "parent_span_id": "bb0cbd91c4d1a0c6",
             "start_timestamp": 1796221127.5, "end_timestamp": 1796221127.75, "is_segment": false,
             "status": "ok", "attributes": {"sentry.op": {"value": "db.query", "type": "string"},
                "sentry.release": {"value": "api@2", "type": "string"},
                "sentry.sdk.name": {"value": "sentry.javascript.node", "type": "string"},
                "rows": {"value": 3, "type": "integer"}}},
            {"name": "POST /checkout", "span_id": "bb0cbd91c4d1a0c6",
             "trace_id": "20a2f9b1904342079df0453399fa051b", "start_timestamp": 1796221127.0,
             "end_timestamp": 1796221128.0, "is_segment": true, "status": "error",
             "attributes": {"sentry.op": {"value": "http.server", "type": "string"},
                "service.name": {"value": "checkout", "type": "string"}}},
            {"name": "no ids"}, 7
        ]});
        let spans = span_item_spans("3", &payload);
        assert_eq!(spans.len(), 2);
        let db = &spans[0];
        assert_eq!(db.name, "SELECT * FROM orders");
        assert_eq!(db.kind, SpanKind::Client);
        // Float seconds: nanoseconds are exact to well under a microsecond.
        assert!(
            db.duration_ns().abs_diff(250_000_000) < 1_000,
            "{}",
            db.duration_ns()
        );
        assert_eq!(db.service(), "sentry-project-3");
        assert_eq!(db.scope.name, "sentry.javascript.node");
        assert_eq!(db.status_code, StatusCode::Ok);
        assert!(db
            .attributes
            .iter()
            .any(|kv| kv.key == "rows" && kv.value == traces::span::Value::Int(3)));
        assert_eq!(
            db.attributes
                .iter()
                .filter(|kv| kv.key == "sentry.op")
                .count(),
            1
        );
        let root = &spans[1];
        assert!(root.is_root());
        assert_eq!(root.kind, SpanKind::Server);
        assert_eq!(root.service(), "checkout");
        assert_eq!(root.status_code, StatusCode::Error);
        assert_eq!(db.parent_span_id, root.span_id);
    }

    #[test]
    fn v1_single_span_becomes_a_span() {
        let payload = json!({"span_id": "00f067aa0ba902b8", "parent_span_id": "00f067aa0ba902b7",
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "op": "cache.get",
            "description": "GET user:1", "start_timestamp": "2026-01-01T00:00:00Z",
            "timestamp": "2026-01-01T00:00:01.5Z", "status": "internal_error",
            "data": {"cache.hit": false}});
        let spans = span_item_spans("1", &payload);
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].name, "GET user:1");
        assert_eq!(spans[0].kind, SpanKind::Client);
        assert_eq!(spans[0].duration_ns(), 1_500_000_000);
        assert_eq!(spans[0].status_message, "internal_error");
        assert!(span_item_spans("1", &json!("x")).is_empty());
        assert!(span_item_spans("1", &json!({"items": "x"})).is_empty());
    }

    #[test]
    fn log_container_becomes_streams() {
        let payload = json!({"version": 2, "items": [
            {"timestamp": 1796221127.5, "level": "info", "body": "order placed",
             "trace_id": "20A2F9B1904342079DF0453399FA051B", "severity_number": 9,
             "attributes": {"order": {"value": 42, "type": "integer"},
                "sentry.release": {"value": "api@2", "type": "string"}}},
            {"level": "error", "body": "payment failed",
             "attributes": {"service.name": {"value": "billing", "type": "string"}}}
        ]});
        let streams = log_item_streams("5", &payload, 7);
        assert_eq!(streams.len(), 2);
        let billing = streams
            .iter()
            .find(|s| s.labels.get("service_name") == Some("billing"))
            .unwrap();
        assert_eq!(billing.entries[0].ts_ns, 7);
        let app = streams
            .iter()
            .find(|s| s.labels.get("service_name") == Some("sentry-project-5"))
            .unwrap();
        let e = &app.entries[0];
        assert_eq!(e.line, "order placed");
        assert_eq!(e.ts_ns, 1_796_221_127_500_000_000);
        let m: std::collections::HashMap<_, _> = e.metadata.iter().cloned().collect();
        assert_eq!(m["trace_id"], "20a2f9b1904342079df0453399fa051b");
        assert_eq!(m["severity_text"], "info");
        assert_eq!(m["order"], "42");
        assert_eq!(m["sentry_release"], "api@2");
        assert!(log_item_streams("5", &json!([1]), 0).is_empty());
    }
}
