//! Zipkin v2 JSON ⇄ span model: decodes `POST /api/v2/spans` bodies (as the Zipkin exporters
//! send them) and renders spans in the v2 JSON shape for `GET /api/v2/trace/{id}` and
//! `/api/v2/traces`. Mapping follows the OpenTelemetry Zipkin translation: `localEndpoint.serviceName`
//! is the service, tags become string attributes, annotations become events, `error` and
//! `otel.status_code` tags become the span status.

use crate::jaeger_thrift::split_tags;
use crate::span::{Event, KeyValue, Resource, Span, SpanId, SpanKind, StatusCode, TraceId, Value};
use crate::DecodeError;
use serde::Deserialize;
use serde_json::{json, Map};
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ZEndpoint {
    #[serde(default)]
    service_name: Option<String>,
    #[serde(default)]
    ipv4: Option<String>,
    #[serde(default)]
    ipv6: Option<String>,
    #[serde(default)]
    port: Option<u16>,
}

#[derive(Deserialize)]
struct ZAnnotation {
    timestamp: u64,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ZSpan {
    trace_id: String,
    id: String,
    #[serde(default)]
    parent_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    timestamp: Option<u64>,
    #[serde(default)]
    duration: Option<u64>,
    #[serde(default)]
    local_endpoint: Option<ZEndpoint>,
    #[serde(default)]
    remote_endpoint: Option<ZEndpoint>,
    #[serde(default)]
    annotations: Vec<ZAnnotation>,
    #[serde(default)]
    tags: HashMap<String, serde_json::Value>,
}

/// Decodes a Zipkin v2 JSON list of spans.
pub fn decode_json(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    let raw: Vec<ZSpan> = serde_json::from_slice(body).map_err(|e| {
        DecodeError(format!(
            "invalid Zipkin v2 JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        ))
    })?;
    let mut resources: HashMap<String, Arc<Resource>> = HashMap::new();
    let mut scopes: Vec<Arc<crate::span::Scope>> = Vec::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, z) in raw.into_iter().enumerate() {
        let trace_id = TraceId::parse_hex(&z.trace_id)
            .filter(|t| !t.is_zero() && z.trace_id.len() <= 32)
            .ok_or_else(|| {
                DecodeError(format!(
                    "span {i}: traceId {:?} is not 16 or 32 hex digits",
                    z.trace_id
                ))
            })?;
        let span_id = SpanId::parse_hex(&z.id)
            .filter(|s| !s.is_zero())
            .ok_or_else(|| DecodeError(format!("span {i}: id {:?} is not 16 hex digits", z.id)))?;
        let parent = match z.parent_id.as_deref() {
            None | Some("") => SpanId::default(),
            Some(p) => SpanId::parse_hex(p).ok_or_else(|| {
                DecodeError(format!("span {i}: parentId {p:?} is not 16 hex digits"))
            })?,
        };
        let service = z
            .local_endpoint
            .as_ref()
            .and_then(|e| e.service_name.clone())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown_service".to_string());
        let resource = resources
            .entry(service.clone())
            .or_insert_with(|| {
                Arc::new(Resource::new(vec![KeyValue::str("service.name", service)]))
            })
            .clone();
        let mut tags: Vec<KeyValue> = z
            .tags
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                KeyValue::str(k, v)
            })
            .collect();
        tags.sort_by(|a, b| a.key.cmp(&b.key));
        // Zipkin's `error` tag carries the message; Jaeger's is a boolean.
        let mut error_message = None;
        if let Some(pos) = tags.iter().position(|t| t.key == "error") {
            let v = tags.remove(pos).value.as_text();
            error_message = Some(if v == "true" { String::new() } else { v });
        }
        let (mut attributes, _, mut status, mut message, scope) = split_tags(tags);
        if let Some(m) = error_message {
            status = StatusCode::Error;
            if message.is_empty() {
                message = m;
            }
        }
        if let Some(r) = z.remote_endpoint {
            if let Some(s) = r.service_name {
                attributes.push(KeyValue::str("peer.service", s));
            }
            if let Some(ip) = r.ipv4.or(r.ipv6) {
                attributes.push(KeyValue::str("net.peer.ip", ip));
            }
            if let Some(p) = r.port {
                attributes.push(KeyValue::new("net.peer.port", Value::Int(p as i64)));
            }
        }
        let scope = match scopes.iter().find(|x| ***x == scope) {
            Some(x) => x.clone(),
            None => {
                let a = Arc::new(scope);
                scopes.push(a.clone());
                a
            }
        };
        let kind = match z.kind.as_deref() {
            Some(k) => SpanKind::parse(k).ok_or_else(|| {
                DecodeError(format!(
                    "span {i}: kind {k:?} is not CLIENT, SERVER, PRODUCER or CONSUMER"
                ))
            })?,
            None => SpanKind::Internal,
        };
        let start_ns = z.timestamp.unwrap_or(0).saturating_mul(1000);
        out.push(Span {
            trace_id,
            span_id,
            parent_span_id: parent,
            trace_state: String::new(),
            name: z.name.unwrap_or_default(),
            kind,
            start_ns,
            end_ns: start_ns.saturating_add(z.duration.unwrap_or(0).saturating_mul(1000)),
            resource,
            scope,
            attributes,
            events: z
                .annotations
                .into_iter()
                .map(|a| Event {
                    time_ns: a.timestamp.saturating_mul(1000),
                    name: a.value,
                    attributes: Vec::new(),
                })
                .collect(),
            links: Vec::new(),
            status_code: status,
            status_message: message,
            flags: 0,
        });
    }
    Ok(out)
}

/// Zipkin's id rendering: 16 hex digits for 64-bit trace ids, else 32.
fn zipkin_trace_id(t: &TraceId) -> String {
    t.to_jaeger()
}

/// One span in Zipkin v2 JSON.
pub fn span_json(s: &Span) -> serde_json::Value {
    let mut o = Map::new();
    o.insert("traceId".into(), json!(zipkin_trace_id(&s.trace_id)));
    if !s.parent_span_id.is_zero() {
        o.insert("parentId".into(), json!(s.parent_span_id.to_hex()));
    }
    o.insert("id".into(), json!(s.span_id.to_hex()));
    let kind = match s.kind {
        SpanKind::Server => Some("SERVER"),
        SpanKind::Client => Some("CLIENT"),
        SpanKind::Producer => Some("PRODUCER"),
        SpanKind::Consumer => Some("CONSUMER"),
        _ => None,
    };
    if let Some(k) = kind {
        o.insert("kind".into(), json!(k));
    }
    o.insert("name".into(), json!(s.name.to_lowercase()));
    o.insert("timestamp".into(), json!(s.start_ns / 1000));
    o.insert("duration".into(), json!((s.duration_ns() / 1000).max(1)));
    o.insert(
        "localEndpoint".into(),
        json!({"serviceName": s.service().to_lowercase()}),
    );
    if !s.events.is_empty() {
        o.insert(
            "annotations".into(),
            serde_json::Value::Array(
                s.events
                    .iter()
                    .map(|e| json!({"timestamp": e.time_ns / 1000, "value": e.name}))
                    .collect(),
            ),
        );
    }
    let mut tags: BTreeMap<String, String> = s
        .attributes
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.as_text()))
        .collect();
    match s.status_code {
        StatusCode::Error => {
            tags.insert("otel.status_code".into(), "ERROR".into());
            tags.insert("error".into(), s.status_message.clone());
        }
        StatusCode::Ok => {
            tags.insert("otel.status_code".into(), "OK".into());
        }
        StatusCode::Unset => {}
    }
    if !s.scope.name.is_empty() {
        tags.insert("otel.scope.name".into(), s.scope.name.clone());
    }
    if !tags.is_empty() {
        o.insert("tags".into(), json!(tags));
    }
    serde_json::Value::Object(o)
}

/// A trace as Zipkin returns it: a list of spans.
pub fn trace_json(spans: &[Span]) -> serde_json::Value {
    serde_json::Value::Array(spans.iter().map(span_json).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"[{"traceId":"5af7183fb1d4cf5f","parentId":"6b221d5bc9e6496c","id":"352bff9a74ca9ad2",
      "kind":"CLIENT","name":"get /api","timestamp":1556604172355737,"duration":1431,
      "localEndpoint":{"serviceName":"backend","ipv4":"192.168.99.1","port":3306},
      "remoteEndpoint":{"serviceName":"db","ipv4":"172.19.0.2","port":58648},
      "annotations":[{"timestamp":1556604172355800,"value":"ws"}],
      "tags":{"http.method":"GET","error":"timeout","otel.library.name":"lib"}},
      {"traceId":"5af7183fb1d4cf5f","id":"6b221d5bc9e6496c","name":"root","timestamp":1556604172355000,"duration":3000,"localEndpoint":{"serviceName":"frontend"}}]"#;

    #[test]
    fn decodes_v2() {
        let s = decode_json(BODY.as_bytes()).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].service(), "backend");
        assert_eq!(s[0].kind, SpanKind::Client);
        assert_eq!(s[0].status_code, StatusCode::Error);
        assert_eq!(s[0].status_message, "timeout");
        assert_eq!(s[0].scope.name, "lib");
        assert_eq!(s[0].duration_ns(), 1_431_000);
        assert_eq!(s[0].events[0].name, "ws");
        assert_eq!(s[0].parent_span_id.to_hex(), "6b221d5bc9e6496c");
        assert_eq!(s[1].service(), "frontend");
        assert!(s[1].is_root());
        assert_eq!(s[0].trace_id.to_jaeger(), "5af7183fb1d4cf5f");
        let j = span_json(&s[0]);
        assert_eq!(j["traceId"], "5af7183fb1d4cf5f");
        assert_eq!(j["kind"], "CLIENT");
        assert_eq!(j["tags"]["error"], "timeout");
        assert_eq!(j["localEndpoint"]["serviceName"], "backend");
        let again = decode_json(trace_json(&s).to_string().as_bytes()).unwrap();
        assert_eq!(again[0].span_id, s[0].span_id);
        assert_eq!(again[0].status_code, StatusCode::Error);
    }

    #[test]
    fn errors_say_where() {
        let e = decode_json(br#"[{"traceId":"zz","id":"1"}]"#).unwrap_err();
        assert!(e.0.contains("span 0: traceId"), "{e}");
        let e = decode_json(br#"[{"traceId":"1","id":"1","kind":"SIDEWAYS"}]"#).unwrap_err();
        assert!(e.0.contains("kind"), "{e}");
        assert!(decode_json(b"{").is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = decode_json(&b);
        }
        #[test]
        fn mutated_never_panics(pos in 0usize..700, byte in proptest::prelude::any::<u8>()) {
            let mut b = BODY.as_bytes().to_vec();
            let n = b.len();
            b[pos % n] = byte;
            let _ = decode_json(&b);
        }
    }
}
