//! Encodes spans straight into OTLP `TracesData` protobuf bytes (the WAL record and segment
//! block format) without building the `opentelemetry-proto` message tree first: no string is
//! copied into an intermediate message, nested lengths are patched in place. Decodes to the
//! same message as encoding [`crate::otlp::to_resource_spans`] with prost (tested below).

use crate::otlp::FOLLOWS_FROM_ATTR;
use crate::span::{KeyValue, Resource, Scope, Span, StatusCode, Value};
use prost::encoding::{encode_key, encode_varint, WireType};
use std::collections::HashMap;
use std::sync::Arc;

fn key(buf: &mut Vec<u8>, field: u32, wt: WireType) {
    encode_key(field, wt, buf);
}

/// A length-delimited field whose body `f` writes. One byte is set aside for the length (most
/// nested messages are under 128 bytes); only a longer body is moved to make room for a longer
/// varint.
fn nested(buf: &mut Vec<u8>, field: u32, f: impl FnOnce(&mut Vec<u8>)) {
    key(buf, field, WireType::LengthDelimited);
    let at = buf.len();
    buf.push(0);
    f(buf);
    let len = buf.len() - at - 1;
    if len < 0x80 {
        buf[at] = len as u8;
    } else {
        let mut tmp = [0u8; 10];
        let mut n = 0;
        let mut v = len as u64;
        while v >= 0x80 {
            tmp[n] = (v as u8) | 0x80;
            v >>= 7;
            n += 1;
        }
        tmp[n] = v as u8;
        buf.splice(at..at + 1, tmp[..=n].iter().copied());
    }
}

fn bytes_field(buf: &mut Vec<u8>, field: u32, b: &[u8]) {
    if !b.is_empty() {
        bytes_always(buf, field, b);
    }
}

fn bytes_always(buf: &mut Vec<u8>, field: u32, b: &[u8]) {
    key(buf, field, WireType::LengthDelimited);
    encode_varint(b.len() as u64, buf);
    buf.extend_from_slice(b);
}

fn varint_field(buf: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        key(buf, field, WireType::Varint);
        encode_varint(v, buf);
    }
}

fn fixed64_field(buf: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        key(buf, field, WireType::SixtyFourBit);
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

fn fixed32_field(buf: &mut Vec<u8>, field: u32, v: u32) {
    if v != 0 {
        key(buf, field, WireType::ThirtyTwoBit);
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

/// `AnyValue`: the oneof field is written even when it holds its default.
fn any_value(buf: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Str(s) => bytes_always(buf, 1, s.as_bytes()),
        Value::Bool(b) => {
            key(buf, 2, WireType::Varint);
            encode_varint(*b as u64, buf);
        }
        Value::Int(i) => {
            key(buf, 3, WireType::Varint);
            encode_varint(*i as u64, buf);
        }
        Value::Double(d) => {
            key(buf, 4, WireType::SixtyFourBit);
            buf.extend_from_slice(&d.to_le_bytes());
        }
        Value::Array(a) => nested(buf, 5, |buf| {
            for x in a {
                nested(buf, 1, |buf| any_value(buf, x));
            }
        }),
        Value::Map(m) => nested(buf, 6, |buf| {
            for kv in m {
                key_value(buf, 1, &kv.key, &kv.value);
            }
        }),
        Value::Bytes(b) => bytes_always(buf, 7, b),
    }
}

fn key_value(buf: &mut Vec<u8>, field: u32, k: &str, v: &Value) {
    nested(buf, field, |buf| {
        bytes_field(buf, 1, k.as_bytes());
        nested(buf, 2, |buf| any_value(buf, v));
    });
}

fn attributes(buf: &mut Vec<u8>, field: u32, kvs: &[KeyValue]) {
    for kv in kvs {
        key_value(buf, field, &kv.key, &kv.value);
    }
}

fn span(buf: &mut Vec<u8>, s: &Span) {
    bytes_field(buf, 1, &s.trace_id.0);
    bytes_field(buf, 2, &s.span_id.0);
    bytes_field(buf, 3, s.trace_state.as_bytes());
    if !s.parent_span_id.is_zero() {
        bytes_field(buf, 4, &s.parent_span_id.0);
    }
    bytes_field(buf, 5, s.name.as_bytes());
    varint_field(buf, 6, s.kind.to_otlp() as u64);
    fixed64_field(buf, 7, s.start_ns);
    fixed64_field(buf, 8, s.end_ns);
    attributes(buf, 9, &s.attributes);
    for e in &s.events {
        nested(buf, 11, |buf| {
            fixed64_field(buf, 1, e.time_ns);
            bytes_field(buf, 2, e.name.as_bytes());
            attributes(buf, 3, &e.attributes);
        });
    }
    for l in &s.links {
        nested(buf, 13, |buf| {
            bytes_field(buf, 1, &l.trace_id.0);
            bytes_field(buf, 2, &l.span_id.0);
            bytes_field(buf, 3, l.trace_state.as_bytes());
            attributes(buf, 4, &l.attributes);
            if l.follows_from {
                key_value(buf, 4, FOLLOWS_FROM_ATTR, &Value::Bool(true));
            }
        });
    }
    if s.status_code != StatusCode::Unset || !s.status_message.is_empty() {
        nested(buf, 15, |buf| {
            bytes_field(buf, 2, s.status_message.as_bytes());
            varint_field(buf, 3, s.status_code.to_otlp() as u64);
        });
    }
    fixed32_field(buf, 16, s.flags);
}

/// Encodes spans as an OTLP `TracesData` protobuf, grouped by (resource, scope) as
/// [`crate::otlp::to_resource_spans`] groups them (spans sharing an `Arc` share a group; span
/// order within a group kept).
pub fn encode_spans<'a>(spans: impl IntoIterator<Item = &'a Span>) -> Vec<u8> {
    let mut buf = Vec::with_capacity(256);
    encode_spans_into(&mut buf, spans);
    buf
}

/// [`encode_spans`] appending to `buf` (a buffer reused across segment blocks).
pub fn encode_spans_into<'a>(buf: &mut Vec<u8>, spans: impl IntoIterator<Item = &'a Span>) {
    // Group first: (resource, [(scope, [span])]) in order of first appearance.
    type Group<'a> = (&'a Arc<Resource>, Vec<(&'a Arc<Scope>, Vec<&'a Span>)>);
    let mut groups: Vec<Group<'a>> = Vec::new();
    let mut by_res: HashMap<*const Resource, usize> = HashMap::new();
    for s in spans {
        // The spans of one request mostly share the last group seen.
        let gi = match groups.last() {
            Some((r, _)) if Arc::ptr_eq(r, &s.resource) => groups.len() - 1,
            _ => *by_res.entry(Arc::as_ptr(&s.resource)).or_insert_with(|| {
                groups.push((&s.resource, Vec::new()));
                groups.len() - 1
            }),
        };
        let scopes = &mut groups[gi].1;
        match scopes.iter_mut().rfind(|(sc, _)| Arc::ptr_eq(sc, &s.scope)) {
            Some((_, v)) => v.push(s),
            None => scopes.push((&s.scope, vec![s])),
        }
    }
    for (res, scopes) in groups {
        nested(buf, 1, |buf| {
            nested(buf, 1, |buf| attributes(buf, 1, &res.attributes));
            for (scope, spans) in scopes {
                nested(buf, 2, |buf| {
                    nested(buf, 1, |buf| {
                        bytes_field(buf, 1, scope.name.as_bytes());
                        bytes_field(buf, 2, scope.version.as_bytes());
                    });
                    for s in spans {
                        nested(buf, 2, |buf| span(buf, s));
                    }
                });
            }
        });
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::span::*;
    use opentelemetry_proto::tonic::trace::v1 as pt;
    use prost::Message;

    pub(crate) fn spans() -> Vec<Span> {
        let r1 = Arc::new(Resource::new(vec![
            KeyValue::str("service.name", "api"),
            KeyValue::new("n", Value::Int(-3)),
        ]));
        let r2 = Arc::new(Resource::new(vec![]));
        let sc = Arc::new(Scope {
            name: "lib".into(),
            version: "1.2".into(),
        });
        let sc0 = Arc::new(Scope::default());
        let base = Span {
            trace_id: TraceId::from_parts(1, 2),
            span_id: SpanId::from_u64(3),
            parent_span_id: SpanId::default(),
            trace_state: String::new(),
            name: "GET /".into(),
            kind: SpanKind::Server,
            start_ns: 5,
            end_ns: 9,
            resource: r1.clone(),
            scope: sc.clone(),
            attributes: vec![
                KeyValue::str("empty", ""),
                KeyValue::new("zero", Value::Int(0)),
                KeyValue::new("f", Value::Bool(false)),
                KeyValue::new("d", Value::Double(0.0)),
                KeyValue::new("d2", Value::Double(-1.5)),
                KeyValue::new("b", Value::Bytes(vec![])),
                KeyValue::new(
                    "a",
                    Value::Array(vec![Value::Int(1), Value::Str(String::new())]),
                ),
                KeyValue::new(
                    "m",
                    Value::Map(vec![KeyValue::new("x", Value::Array(vec![]))]),
                ),
            ],
            events: vec![Event {
                time_ns: 7,
                name: "ev".into(),
                attributes: vec![KeyValue::str("k", "v")],
            }],
            links: vec![Link {
                trace_id: TraceId::from_parts(0, 9),
                span_id: SpanId::from_u64(8),
                trace_state: "ts".into(),
                attributes: vec![],
                follows_from: true,
            }],
            status_code: StatusCode::Error,
            status_message: "boom".into(),
            flags: 257,
        };
        let mut out = vec![base.clone()];
        let mut s = base.clone();
        s.span_id = SpanId::from_u64(4);
        s.parent_span_id = SpanId::from_u64(3);
        s.scope = sc0.clone();
        s.status_code = StatusCode::Unset;
        s.status_message.clear();
        s.links.clear();
        s.flags = 0;
        s.kind = SpanKind::Unspecified;
        out.push(s.clone());
        s.resource = r2;
        s.status_message = "only a message".into();
        out.push(s.clone());
        s.resource = r1;
        s.scope = sc;
        out.push(s);
        out
    }

    #[test]
    fn decodes_like_the_prost_encoding() {
        let spans = spans();
        let ours = pt::TracesData::decode(&encode_spans(&spans)[..]).unwrap();
        let theirs = pt::TracesData {
            resource_spans: crate::otlp::to_resource_spans(&spans),
        };
        assert_eq!(ours, theirs);
        // Grouping reorders spans across groups, as the prost path does.
        let back = crate::otlp::decode_traces_data(&encode_spans(&spans)).unwrap();
        assert_eq!(
            back,
            crate::otlp::decode_traces_data(&theirs.encode_to_vec()).unwrap()
        );
        assert_eq!(back.len(), spans.len());
        assert!(back.contains(&spans[1]) && back.contains(&spans[3]));
        assert!(encode_spans(&[]).is_empty());
    }
}
