//! OTLP ⇄ span model: decodes `ExportTraceServiceRequest` from protobuf (OTLP/HTTP and gRPC) and
//! from OTLP/JSON (hex ids, lowerCamelCase), and encodes spans back to OTLP `TracesData` (the WAL
//! record format and the OTLP JSON export of a trace).

use crate::span::{
    Event, KeyValue, Link, Resource, Scope, Span, SpanId, SpanKind, StatusCode, TraceId, Value,
};
use crate::DecodeError;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as pc;
use opentelemetry_proto::tonic::resource::v1 as pr;
use opentelemetry_proto::tonic::trace::v1 as pt;
use prost::Message;
use std::collections::HashMap;
use std::sync::Arc;

/// Decodes an OTLP/HTTP protobuf body straight into spans ([`crate::pbdecode`]).
pub fn decode_protobuf(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    crate::pbdecode::decode(body)
}

/// Decodes an OTLP/HTTP protobuf body through prost's message tree (the reference the direct
/// decoder is tested against).
pub fn decode_protobuf_prost(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    let req = ExportTraceServiceRequest::decode(body)
        .map_err(|e| DecodeError(format!("invalid OTLP protobuf: {e}")))?;
    from_request(req)
}

/// Decodes an OTLP/JSON body (trace and span ids are hex strings, as the OTLP spec requires).
pub fn decode_json(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    let req: ExportTraceServiceRequest = serde_json::from_slice(body).map_err(|e| {
        DecodeError(format!(
            "invalid OTLP JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        ))
    })?;
    from_request(req)
}

/// Converts a decoded request into spans, checking ids.
pub fn from_request(req: ExportTraceServiceRequest) -> Result<Vec<Span>, DecodeError> {
    from_resource_spans(req.resource_spans)
}

pub fn from_resource_spans(rs: Vec<pt::ResourceSpans>) -> Result<Vec<Span>, DecodeError> {
    let mut out = Vec::new();
    for (ri, rs) in rs.into_iter().enumerate() {
        let resource = Arc::new(Resource::new(
            rs.resource
                .map(|r| kvs_from(r.attributes))
                .unwrap_or_default(),
        ));
        for (si, ss) in rs.scope_spans.into_iter().enumerate() {
            let scope = Arc::new(
                ss.scope
                    .map(|s| Scope {
                        name: s.name,
                        version: s.version,
                    })
                    .unwrap_or_default(),
            );
            for (pi, p) in ss.spans.into_iter().enumerate() {
                let at = || format!("resourceSpans[{ri}].scopeSpans[{si}].spans[{pi}]");
                let trace_id = TraceId::from_slice(&p.trace_id)
                    .filter(|t| !t.is_zero() && p.trace_id.len() == 16)
                    .ok_or_else(|| {
                        DecodeError(format!(
                            "{}: traceId must be 16 non-zero bytes, got {} bytes",
                            at(),
                            p.trace_id.len()
                        ))
                    })?;
                let span_id = SpanId::from_slice(&p.span_id)
                    .filter(|s| !s.is_zero())
                    .ok_or_else(|| {
                        DecodeError(format!(
                            "{}: spanId must be 8 non-zero bytes, got {} bytes",
                            at(),
                            p.span_id.len()
                        ))
                    })?;
                let parent_span_id = if p.parent_span_id.is_empty() {
                    SpanId::default()
                } else {
                    SpanId::from_slice(&p.parent_span_id).ok_or_else(|| {
                        DecodeError(format!(
                            "{}: parentSpanId must be empty or 8 bytes, got {} bytes",
                            at(),
                            p.parent_span_id.len()
                        ))
                    })?
                };
                let (status_code, status_message) = p
                    .status
                    .map(|s| (StatusCode::from_otlp(s.code), s.message))
                    .unwrap_or_default();
                let mut links = Vec::with_capacity(p.links.len());
                for l in p.links {
                    let (Some(t), Some(s)) = (
                        TraceId::from_slice(&l.trace_id),
                        SpanId::from_slice(&l.span_id),
                    ) else {
                        return Err(DecodeError(format!(
                            "{}: a link needs a 16-byte traceId and an 8-byte spanId",
                            at()
                        )));
                    };
                    links.push(Link {
                        trace_id: t,
                        span_id: s,
                        trace_state: l.trace_state,
                        attributes: kvs_from(l.attributes),
                        follows_from: false,
                    });
                }
                out.push(Span {
                    trace_id,
                    span_id,
                    parent_span_id,
                    trace_state: p.trace_state,
                    name: p.name,
                    kind: SpanKind::from_otlp(p.kind),
                    start_ns: p.start_time_unix_nano,
                    end_ns: p.end_time_unix_nano.max(p.start_time_unix_nano),
                    resource: resource.clone(),
                    scope: scope.clone(),
                    attributes: kvs_from(p.attributes),
                    events: p
                        .events
                        .into_iter()
                        .map(|e| Event {
                            time_ns: e.time_unix_nano,
                            name: e.name,
                            attributes: kvs_from(e.attributes),
                        })
                        .collect(),
                    links,
                    status_code,
                    status_message,
                    flags: p.flags,
                });
            }
        }
    }
    Ok(out)
}

fn kvs_from(v: Vec<pc::KeyValue>) -> Vec<KeyValue> {
    v.into_iter()
        .map(|kv| KeyValue {
            key: kv.key,
            value: value_from(kv.value),
        })
        .collect()
}

fn value_from(v: Option<pc::AnyValue>) -> Value {
    use pc::any_value::Value as V;
    match v.and_then(|v| v.value) {
        None => Value::Str(String::new()),
        Some(V::StringValue(s)) => Value::Str(s),
        Some(V::BoolValue(b)) => Value::Bool(b),
        Some(V::IntValue(i)) => Value::Int(i),
        Some(V::DoubleValue(d)) => Value::Double(d),
        Some(V::BytesValue(b)) => Value::Bytes(b),
        Some(V::ArrayValue(a)) => {
            Value::Array(a.values.into_iter().map(|x| value_from(Some(x))).collect())
        }
        Some(V::KvlistValue(m)) => Value::Map(kvs_from(m.values)),
        // String-table references exist only in OTLP profiles.
        Some(V::StringValueStrindex(i)) => Value::Int(i as i64),
    }
}

fn kvs_to(v: &[KeyValue]) -> Vec<pc::KeyValue> {
    v.iter()
        .map(|kv| pc::KeyValue {
            key: kv.key.clone(),
            value: Some(value_to(&kv.value)),
            ..Default::default()
        })
        .collect()
}

fn value_to(v: &Value) -> pc::AnyValue {
    use pc::any_value::Value as V;
    let inner = match v {
        Value::Str(s) => V::StringValue(s.clone()),
        Value::Bool(b) => V::BoolValue(*b),
        Value::Int(i) => V::IntValue(*i),
        Value::Double(d) => V::DoubleValue(*d),
        Value::Bytes(b) => V::BytesValue(b.clone()),
        Value::Array(a) => V::ArrayValue(pc::ArrayValue {
            values: a.iter().map(value_to).collect(),
        }),
        Value::Map(m) => V::KvlistValue(pc::KeyValueList { values: kvs_to(m) }),
    };
    pc::AnyValue { value: Some(inner) }
}

fn span_to(s: &Span) -> pt::Span {
    pt::Span {
        trace_id: s.trace_id.0.to_vec(),
        span_id: s.span_id.0.to_vec(),
        trace_state: s.trace_state.clone(),
        parent_span_id: if s.parent_span_id.is_zero() {
            Vec::new()
        } else {
            s.parent_span_id.0.to_vec()
        },
        flags: s.flags,
        name: s.name.clone(),
        kind: s.kind.to_otlp(),
        start_time_unix_nano: s.start_ns,
        end_time_unix_nano: s.end_ns,
        attributes: kvs_to(&s.attributes),
        dropped_attributes_count: 0,
        events: s
            .events
            .iter()
            .map(|e| pt::span::Event {
                time_unix_nano: e.time_ns,
                name: e.name.clone(),
                attributes: kvs_to(&e.attributes),
                dropped_attributes_count: 0,
            })
            .collect(),
        dropped_events_count: 0,
        links: s
            .links
            .iter()
            .map(|l| {
                let mut attributes = kvs_to(&l.attributes);
                if l.follows_from {
                    attributes.push(pc::KeyValue {
                        key: FOLLOWS_FROM_ATTR.to_string(),
                        value: Some(value_to(&Value::Bool(true))),
                        ..Default::default()
                    });
                }
                pt::span::Link {
                    trace_id: l.trace_id.0.to_vec(),
                    span_id: l.span_id.0.to_vec(),
                    trace_state: l.trace_state.clone(),
                    attributes,
                    dropped_attributes_count: 0,
                    flags: 0,
                }
            })
            .collect(),
        dropped_links_count: 0,
        status: if s.status_code == StatusCode::Unset && s.status_message.is_empty() {
            None
        } else {
            Some(pt::Status {
                message: s.status_message.clone(),
                code: s.status_code.to_otlp(),
            })
        },
    }
}

/// Link attribute marking a Jaeger `FOLLOWS_FROM` reference (kept across the WAL round trip).
pub const FOLLOWS_FROM_ATTR: &str = "pharos.jaeger.follows_from";

/// Groups spans by (resource, scope) into OTLP `ResourceSpans`, preserving span order within a
/// group. Spans sharing the same `Arc` resource/scope land in the same group.
pub fn to_resource_spans<'a>(spans: impl IntoIterator<Item = &'a Span>) -> Vec<pt::ResourceSpans> {
    let mut out: Vec<pt::ResourceSpans> = Vec::new();
    let mut by_res: HashMap<*const Resource, usize> = HashMap::new();
    let mut by_scope: HashMap<(usize, *const Scope), usize> = HashMap::new();
    for s in spans {
        let ri = *by_res.entry(Arc::as_ptr(&s.resource)).or_insert_with(|| {
            out.push(pt::ResourceSpans {
                resource: Some(pr::Resource {
                    attributes: kvs_to(&s.resource.attributes),
                    dropped_attributes_count: 0,
                    entity_refs: Vec::new(),
                }),
                scope_spans: Vec::new(),
                schema_url: String::new(),
            });
            out.len() - 1
        });
        let rs = &mut out[ri];
        let si = *by_scope
            .entry((ri, Arc::as_ptr(&s.scope)))
            .or_insert_with(|| {
                rs.scope_spans.push(pt::ScopeSpans {
                    scope: Some(pc::InstrumentationScope {
                        name: s.scope.name.clone(),
                        version: s.scope.version.clone(),
                        attributes: Vec::new(),
                        dropped_attributes_count: 0,
                    }),
                    spans: Vec::new(),
                    schema_url: String::new(),
                });
                rs.scope_spans.len() - 1
            });
        rs.scope_spans[si].spans.push(span_to(s));
    }
    out
}

/// Encodes spans as an OTLP `TracesData` protobuf.
pub fn encode_protobuf(spans: &[Span]) -> Vec<u8> {
    encode_spans(spans)
}

/// Encodes spans given by reference as an OTLP `TracesData` protobuf (a segment block).
pub fn encode_spans<'a>(spans: impl IntoIterator<Item = &'a Span>) -> Vec<u8> {
    crate::wire::encode_spans(spans)
}

/// Decodes a `TracesData` protobuf written by `encode_protobuf` (the WAL record format), turning
/// the follows-from marker back into the flag.
pub fn decode_traces_data(b: &[u8]) -> Result<Vec<Span>, DecodeError> {
    let mut spans = crate::pbdecode::decode(b)?;
    for s in &mut spans {
        for l in &mut s.links {
            if let Some(i) = l.attributes.iter().position(|a| a.key == FOLLOWS_FROM_ATTR) {
                l.attributes.remove(i);
                l.follows_from = true;
            }
        }
    }
    Ok(spans)
}

/// The OTLP/JSON export of spans (`{"resourceSpans":[...]}` with hex ids).
pub fn to_json(spans: &[Span]) -> serde_json::Value {
    let td = pt::TracesData {
        resource_spans: to_resource_spans(spans),
    };
    serde_json::to_value(&td).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample_request() -> ExportTraceServiceRequest {
        let kv = |k: &str, v: &str| pc::KeyValue {
            key: k.into(),
            value: Some(pc::AnyValue {
                value: Some(pc::any_value::Value::StringValue(v.into())),
            }),
            ..Default::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![pt::ResourceSpans {
                resource: Some(pr::Resource {
                    attributes: vec![kv("service.name", "crewai-api")],
                    dropped_attributes_count: 0,
                    entity_refs: vec![],
                }),
                scope_spans: vec![pt::ScopeSpans {
                    scope: Some(pc::InstrumentationScope {
                        name: "crewai-api".into(),
                        ..Default::default()
                    }),
                    spans: vec![pt::Span {
                        trace_id: vec![1; 16],
                        span_id: vec![2; 8],
                        parent_span_id: vec![3; 8],
                        name: "email.process".into(),
                        kind: 1,
                        start_time_unix_nano: 1_700_000_000_000_000_000,
                        end_time_unix_nano: 1_700_000_000_050_000_000,
                        attributes: vec![kv("email.workflow", "support")],
                        status: Some(pt::Status {
                            message: String::new(),
                            code: 1,
                        }),
                        ..Default::default()
                    }],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    #[test]
    fn protobuf_round_trip() {
        let body = sample_request().encode_to_vec();
        let spans = decode_protobuf(&body).unwrap();
        assert_eq!(spans.len(), 1);
        let s = &spans[0];
        assert_eq!(s.service(), "crewai-api");
        assert_eq!(s.name, "email.process");
        assert_eq!(s.kind, SpanKind::Internal);
        assert_eq!(s.status_code, StatusCode::Ok);
        assert_eq!(s.duration_ns(), 50_000_000);
        let again = decode_traces_data(&encode_protobuf(&spans)).unwrap();
        assert_eq!(again, spans);
    }

    #[test]
    fn json_with_hex_ids() {
        let body = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},
          "scopeSpans":[{"scope":{"name":"s"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",
          "spanId":"eee19b7ec3c1b174","parentSpanId":"","name":"GET /","kind":2,
          "startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000",
          "attributes":[{"key":"http.status_code","value":{"intValue":"200"}},{"key":"ok","value":{"boolValue":true}}],
          "status":{"code":2,"message":"boom"}}]}]}]}"#;
        let spans = decode_json(body.as_bytes()).unwrap();
        assert_eq!(
            spans[0].trace_id.to_hex(),
            "5b8efff798038103d269b633813fc60c"
        );
        assert_eq!(spans[0].span_id.to_hex(), "eee19b7ec3c1b174");
        assert!(spans[0].is_root());
        assert_eq!(spans[0].kind, SpanKind::Server);
        assert_eq!(spans[0].status_code, StatusCode::Error);
        assert_eq!(spans[0].attributes[0].value, Value::Int(200));
        assert_eq!(spans[0].duration_ns(), 1_000_000_000);
        let back = to_json(&spans);
        let re = decode_json(back.to_string().as_bytes()).unwrap();
        assert_eq!(re, spans);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(decode_protobuf(&[0xff, 0xff, 0xff]).is_err());
        let e = decode_json(b"{\"resourceSpans\":[{").unwrap_err();
        assert!(e.0.contains("line 1"), "{e}");
        let mut r = sample_request();
        r.resource_spans[0].scope_spans[0].spans[0].trace_id = vec![1; 3];
        let e = decode_protobuf(&r.encode_to_vec()).unwrap_err();
        assert!(e.0.contains("traceId"), "{e}");
    }

    proptest::proptest! {
        #[test]
        fn protobuf_decoder_never_panics(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = decode_protobuf(&b);
            let _ = decode_json(&b);
        }

        #[test]
        fn mutated_valid_body_never_panics(pos in 0usize..200, byte in proptest::prelude::any::<u8>()) {
            let mut body = sample_request().encode_to_vec();
            let n = body.len();
            body[pos % n] = byte;
            let _ = decode_protobuf(&body);
        }
    }
}
