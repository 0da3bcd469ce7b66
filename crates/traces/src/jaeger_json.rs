//! Spans rendered in the JSON shapes of Jaeger's query service (`/api/traces`, `/api/traces/{id}`):
//! a trace with its spans and a `processes` table, tags typed as Jaeger types them, OTLP fields
//! that Jaeger keeps as tags (`span.kind`, `otel.status_code`, `error`, `otel.scope.*`), events as
//! logs and links as `FOLLOWS_FROM` references. Also the `{"data":..,"total":..}` envelope.

use crate::span::{KeyValue, Resource, Span, SpanKind, StatusCode, Value};
use serde_json::{json, Value as J};
use std::sync::Arc;

fn tag(key: &str, v: &Value) -> J {
    let (t, value) = match v {
        Value::Str(s) => ("string", json!(s)),
        Value::Bool(b) => ("bool", json!(b)),
        Value::Int(i) => ("int64", json!(i)),
        Value::Double(d) => (
            "float64",
            v.to_json().as_f64().map(|_| json!(d)).unwrap_or(json!(0)),
        ),
        Value::Bytes(_) => ("binary", json!(v.as_text())),
        Value::Array(_) | Value::Map(_) => ("string", json!(v.as_text())),
    };
    json!({"key": key, "type": t, "value": value})
}

fn tags(kvs: &[KeyValue]) -> Vec<J> {
    kvs.iter().map(|kv| tag(&kv.key, &kv.value)).collect()
}

/// The span's own tags plus the OTLP fields Jaeger shows as tags.
fn span_tags(s: &Span) -> Vec<J> {
    let mut t = tags(&s.attributes);
    if !s.scope.name.is_empty() {
        t.push(tag("otel.scope.name", &Value::Str(s.scope.name.clone())));
    }
    if !s.scope.version.is_empty() {
        t.push(tag(
            "otel.scope.version",
            &Value::Str(s.scope.version.clone()),
        ));
    }
    if s.kind != SpanKind::Unspecified {
        t.push(tag("span.kind", &Value::Str(s.kind.jaeger_name().into())));
    }
    match s.status_code {
        StatusCode::Error => {
            t.push(tag("otel.status_code", &Value::Str("ERROR".into())));
            t.push(tag("error", &Value::Bool(true)));
        }
        StatusCode::Ok => t.push(tag("otel.status_code", &Value::Str("OK".into()))),
        StatusCode::Unset => {}
    }
    if !s.status_message.is_empty() {
        t.push(tag(
            "otel.status_description",
            &Value::Str(s.status_message.clone()),
        ));
    }
    if !s.trace_state.is_empty() {
        t.push(tag("w3c.tracestate", &Value::Str(s.trace_state.clone())));
    }
    t
}

/// A trace (its spans, any order) as Jaeger's query API returns it.
pub fn trace_json(spans: &[Arc<Span>]) -> J {
    let mut processes: Vec<Arc<Resource>> = Vec::new();
    let mut out_spans = Vec::with_capacity(spans.len());
    for s in spans {
        let pi = match processes
            .iter()
            .position(|p| Arc::ptr_eq(p, &s.resource) || **p == *s.resource)
        {
            Some(i) => i,
            None => {
                processes.push(s.resource.clone());
                processes.len() - 1
            }
        };
        let mut refs = Vec::new();
        if !s.parent_span_id.is_zero() {
            refs.push(json!({"refType": "CHILD_OF", "traceID": s.trace_id.to_jaeger(), "spanID": s.parent_span_id.to_hex()}));
        }
        for l in &s.links {
            refs.push(json!({"refType": "FOLLOWS_FROM", "traceID": l.trace_id.to_jaeger(), "spanID": l.span_id.to_hex()}));
        }
        let logs: Vec<J> = s
            .events
            .iter()
            .map(|e| {
                let mut fields = vec![tag("event", &Value::Str(e.name.clone()))];
                fields.extend(tags(&e.attributes));
                json!({"timestamp": e.time_ns / 1000, "fields": fields})
            })
            .collect();
        out_spans.push(json!({
            "traceID": s.trace_id.to_jaeger(),
            "spanID": s.span_id.to_hex(),
            "flags": s.flags,
            "operationName": s.name,
            "references": refs,
            "startTime": s.start_ns / 1000,
            "duration": s.duration_ns() / 1000,
            "tags": span_tags(s),
            "logs": logs,
            "processID": format!("p{}", pi + 1),
            "warnings": null,
        }));
    }
    let procs: serde_json::Map<String, J> = processes
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let ptags: Vec<KeyValue> = r
                .attributes
                .iter()
                .filter(|kv| kv.key != "service.name")
                .cloned()
                .collect();
            (
                format!("p{}", i + 1),
                json!({"serviceName": r.service, "tags": tags(&ptags)}),
            )
        })
        .collect();
    json!({
        "traceID": spans.first().map(|s| s.trace_id.to_jaeger()).unwrap_or_default(),
        "spans": out_spans,
        "processes": procs,
        "warnings": null,
    })
}

/// Jaeger's response envelope.
pub fn envelope(data: J, total: usize) -> J {
    json!({"data": data, "total": total, "limit": 0, "offset": 0, "errors": null})
}

/// Jaeger's error envelope (`{"data":null,...,"errors":[{"code":..,"msg":..}]}`).
pub fn error(code: u16, msg: &str) -> J {
    json!({"data": null, "total": 0, "limit": 0, "offset": 0, "errors": [{"code": code, "msg": msg}]})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::{Event, Scope, SpanId, TraceId};

    #[test]
    fn shape() {
        let r = Arc::new(Resource::new(vec![
            KeyValue::str("service.name", "api"),
            KeyValue::str("host.name", "h"),
        ]));
        let s = Span {
            trace_id: TraceId::from_parts(0, 0xab),
            span_id: SpanId::from_u64(2),
            parent_span_id: SpanId::from_u64(1),
            trace_state: String::new(),
            name: "op".into(),
            kind: SpanKind::Server,
            start_ns: 5_000_000,
            end_ns: 7_000_000,
            resource: r,
            scope: Arc::new(Scope::default()),
            attributes: vec![KeyValue::new("n", Value::Int(3))],
            events: vec![Event {
                time_ns: 6_000_000,
                name: "e".into(),
                attributes: vec![],
            }],
            links: vec![],
            status_code: StatusCode::Error,
            status_message: String::new(),
            flags: 1,
        };
        let j = trace_json(&[Arc::new(s)]);
        assert_eq!(j["traceID"], "00000000000000ab");
        let sp = &j["spans"][0];
        assert_eq!(sp["startTime"], 5000);
        assert_eq!(sp["duration"], 2000);
        assert_eq!(sp["references"][0]["refType"], "CHILD_OF");
        assert_eq!(sp["references"][0]["spanID"], "0000000000000001");
        assert_eq!(sp["tags"][0], json!({"key":"n","type":"int64","value":3}));
        assert!(sp["tags"]
            .as_array()
            .unwrap()
            .contains(&json!({"key":"error","type":"bool","value":true})));
        assert_eq!(sp["logs"][0]["fields"][0]["value"], "e");
        assert_eq!(j["processes"]["p1"]["serviceName"], "api");
        assert_eq!(j["processes"]["p1"]["tags"][0]["key"], "host.name");
    }
}
