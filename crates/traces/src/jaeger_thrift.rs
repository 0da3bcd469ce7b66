//! Jaeger collector ingest: a hand-written decoder for the Thrift binary protocol and the
//! `jaeger.thrift` `Batch` struct that Jaeger clients and `@opentelemetry/exporter-jaeger` POST to
//! `/api/traces` (`application/x-thrift`), mapped onto the span model. Only what `Batch` needs is
//! implemented (no services, no compact protocol); every read is bounds-checked and nesting is
//! limited, so hostile input gives a [`DecodeError`] naming the field, never a panic.
//!
//! jaeger.thrift (jaeger-idl):
//! `Tag{1 key, 2 vType, 3 vStr, 4 vDouble, 5 vBool, 6 vLong, 7 vBinary}`, `Log{1 timestamp, 2 fields}`,
//! `SpanRef{1 refType, 2 traceIdLow, 3 traceIdHigh, 4 spanId}`, `Span{1 traceIdLow, 2 traceIdHigh,
//! 3 spanId, 4 parentSpanId, 5 operationName, 6 references, 7 flags, 8 startTime, 9 duration,
//! 10 tags, 11 logs}`, `Process{1 serviceName, 2 tags}`, `Batch{1 process, 2 spans, 3 seqNo, 4 stats}`.

use crate::span::{
    Event, KeyValue, Link, Resource, Scope, Span, SpanId, SpanKind, StatusCode, TraceId, Value,
};
use crate::DecodeError;
use std::sync::Arc;

const T_STOP: u8 = 0;
const T_BOOL: u8 = 2;
const T_BYTE: u8 = 3;
const T_DOUBLE: u8 = 4;
const T_I16: u8 = 6;
const T_I32: u8 = 8;
const T_I64: u8 = 10;
const T_STRING: u8 = 11;
const T_STRUCT: u8 = 12;
const T_MAP: u8 = 13;
const T_SET: u8 = 14;
const T_LIST: u8 = 15;

const MAX_DEPTH: usize = 32;

/// A Thrift binary protocol reader over a byte slice.
struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn err(&self, what: &str) -> DecodeError {
        DecodeError(format!(
            "invalid Jaeger thrift at byte {}: {what}",
            self.pos
        ))
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.b.len() - self.pos < n {
            return Err(self.err(&format!("truncated (need {n} more bytes)")));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn i16(&mut self) -> Result<i16, DecodeError> {
        let s = self.take(2)?;
        Ok(i16::from_be_bytes([s[0], s[1]]))
    }
    fn i32(&mut self) -> Result<i32, DecodeError> {
        let s = self.take(4)?;
        Ok(i32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn i64(&mut self) -> Result<i64, DecodeError> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(i64::from_be_bytes(a))
    }
    fn f64(&mut self) -> Result<f64, DecodeError> {
        Ok(f64::from_bits(self.i64()? as u64))
    }
    fn binary(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.i32()?;
        if n < 0 {
            return Err(self.err("negative string length"));
        }
        self.take(n as usize)
    }
    fn string(&mut self) -> Result<String, DecodeError> {
        let b = self.binary()?;
        Ok(String::from_utf8_lossy(b).into_owned())
    }
    /// Reads a field header; `None` at the struct's STOP.
    fn field(&mut self) -> Result<Option<(u8, i16)>, DecodeError> {
        let t = self.u8()?;
        if t == T_STOP {
            return Ok(None);
        }
        Ok(Some((t, self.i16()?)))
    }
    /// Reads a list header, checking the element type and that the count is plausible.
    fn list(&mut self, want: u8) -> Result<usize, DecodeError> {
        let et = self.u8()?;
        let n = self.i32()?;
        if n < 0 {
            return Err(self.err("negative list size"));
        }
        if et != want {
            return Err(self.err(&format!("list of type {et}, expected {want}")));
        }
        // Every element takes at least one byte.
        if n as usize > self.b.len() - self.pos {
            return Err(self.err(&format!("list of {n} elements exceeds the body")));
        }
        Ok(n as usize)
    }
    fn skip(&mut self, t: u8, depth: usize) -> Result<(), DecodeError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        match t {
            T_BOOL | T_BYTE => {
                self.take(1)?;
            }
            T_I16 => {
                self.take(2)?;
            }
            T_I32 => {
                self.take(4)?;
            }
            T_DOUBLE | T_I64 => {
                self.take(8)?;
            }
            T_STRING => {
                self.binary()?;
            }
            T_STRUCT => {
                while let Some((ft, _)) = self.field()? {
                    self.skip(ft, depth + 1)?;
                }
            }
            T_MAP => {
                let kt = self.u8()?;
                let vt = self.u8()?;
                let n = self.i32()?;
                if n < 0 || n as usize > self.b.len() - self.pos {
                    return Err(self.err("bad map size"));
                }
                for _ in 0..n {
                    self.skip(kt, depth + 1)?;
                    self.skip(vt, depth + 1)?;
                }
            }
            T_SET | T_LIST => {
                let et = self.u8()?;
                let n = self.i32()?;
                if n < 0 || n as usize > self.b.len() - self.pos {
                    return Err(self.err("bad list size"));
                }
                for _ in 0..n {
                    self.skip(et, depth + 1)?;
                }
            }
            other => return Err(self.err(&format!("unknown thrift type {other}"))),
        }
        Ok(())
    }
}

/// Decoded `jaeger.thrift` Tag.
fn read_tag(r: &mut Reader) -> Result<KeyValue, DecodeError> {
    let mut key = None;
    let mut vtype = 0i32;
    let (mut vstr, mut vdouble, mut vbool, mut vlong, mut vbin) = (None, None, None, None, None);
    while let Some((t, id)) = r.field()? {
        match (id, t) {
            (1, T_STRING) => key = Some(r.string()?),
            (2, T_I32) => vtype = r.i32()?,
            (3, T_STRING) => vstr = Some(r.string()?),
            (4, T_DOUBLE) => vdouble = Some(r.f64()?),
            (5, T_BOOL) => vbool = Some(r.u8()? != 0),
            (6, T_I64) => vlong = Some(r.i64()?),
            (7, T_STRING) => vbin = Some(r.binary()?.to_vec()),
            _ => r.skip(t, 1)?,
        }
    }
    let key = key.ok_or_else(|| r.err("Tag without key"))?;
    let value = match vtype {
        0 => Value::Str(vstr.unwrap_or_default()),
        1 => Value::Double(vdouble.unwrap_or_default()),
        2 => Value::Bool(vbool.unwrap_or_default()),
        3 => Value::Int(vlong.unwrap_or_default()),
        4 => Value::Bytes(vbin.unwrap_or_default()),
        other => return Err(r.err(&format!("Tag {key:?} has unknown vType {other}"))),
    };
    Ok(KeyValue { key, value })
}

fn read_tags(r: &mut Reader) -> Result<Vec<KeyValue>, DecodeError> {
    let n = r.list(T_STRUCT)?;
    let mut v = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        v.push(read_tag(r)?);
    }
    Ok(v)
}

struct RawRef {
    follows: bool,
    trace: TraceId,
    span: SpanId,
}

struct RawSpan {
    trace_low: i64,
    trace_high: i64,
    span_id: i64,
    parent: i64,
    name: String,
    refs: Vec<RawRef>,
    flags: i32,
    start_us: i64,
    duration_us: i64,
    tags: Vec<KeyValue>,
    logs: Vec<(i64, Vec<KeyValue>)>,
}

fn read_span(r: &mut Reader) -> Result<RawSpan, DecodeError> {
    let mut s = RawSpan {
        trace_low: 0,
        trace_high: 0,
        span_id: 0,
        parent: 0,
        name: String::new(),
        refs: Vec::new(),
        flags: 0,
        start_us: 0,
        duration_us: 0,
        tags: Vec::new(),
        logs: Vec::new(),
    };
    while let Some((t, id)) = r.field()? {
        match (id, t) {
            (1, T_I64) => s.trace_low = r.i64()?,
            (2, T_I64) => s.trace_high = r.i64()?,
            (3, T_I64) => s.span_id = r.i64()?,
            (4, T_I64) => s.parent = r.i64()?,
            (5, T_STRING) => s.name = r.string()?,
            (6, T_LIST) => {
                let n = r.list(T_STRUCT)?;
                for _ in 0..n {
                    let (mut kind, mut lo, mut hi, mut sp) = (0, 0i64, 0i64, 0i64);
                    while let Some((t, id)) = r.field()? {
                        match (id, t) {
                            (1, T_I32) => kind = r.i32()?,
                            (2, T_I64) => lo = r.i64()?,
                            (3, T_I64) => hi = r.i64()?,
                            (4, T_I64) => sp = r.i64()?,
                            _ => r.skip(t, 1)?,
                        }
                    }
                    s.refs.push(RawRef {
                        follows: kind == 1,
                        trace: TraceId::from_parts(hi as u64, lo as u64),
                        span: SpanId::from_u64(sp as u64),
                    });
                }
            }
            (7, T_I32) => s.flags = r.i32()?,
            (8, T_I64) => s.start_us = r.i64()?,
            (9, T_I64) => s.duration_us = r.i64()?,
            (10, T_LIST) => s.tags = read_tags(r)?,
            (11, T_LIST) => {
                let n = r.list(T_STRUCT)?;
                for _ in 0..n {
                    let (mut ts, mut fields) = (0i64, Vec::new());
                    while let Some((t, id)) = r.field()? {
                        match (id, t) {
                            (1, T_I64) => ts = r.i64()?,
                            (2, T_LIST) => fields = read_tags(r)?,
                            _ => r.skip(t, 1)?,
                        }
                    }
                    s.logs.push((ts, fields));
                }
            }
            _ => r.skip(t, 1)?,
        }
    }
    Ok(s)
}

/// Decodes a Thrift-binary `Batch` (the Jaeger collector's HTTP body) into spans.
pub fn decode_batch(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    let mut r = Reader { b: body, pos: 0 };
    let mut service = None;
    let mut process_tags = Vec::new();
    let mut raw = Vec::new();
    let mut saw_any = false;
    while let Some((t, id)) = r.field()? {
        saw_any = true;
        match (id, t) {
            (1, T_STRUCT) => {
                while let Some((t, id)) = r.field()? {
                    match (id, t) {
                        (1, T_STRING) => service = Some(r.string()?),
                        (2, T_LIST) => process_tags = read_tags(&mut r)?,
                        _ => r.skip(t, 1)?,
                    }
                }
            }
            (2, T_LIST) => {
                let n = r.list(T_STRUCT)?;
                for _ in 0..n {
                    raw.push(read_span(&mut r)?);
                }
            }
            _ => r.skip(t, 0)?,
        }
    }
    if !saw_any {
        return Err(r.err("empty Batch"));
    }
    if r.pos != body.len() {
        return Err(r.err("trailing bytes after the Batch"));
    }
    let service = service.ok_or_else(|| r.err("Batch without process.serviceName"))?;
    Ok(to_spans(service, process_tags, raw))
}

fn to_spans(service: String, process_tags: Vec<KeyValue>, raw: Vec<RawSpan>) -> Vec<Span> {
    let mut res_attrs = vec![KeyValue::str("service.name", service)];
    res_attrs.extend(process_tags);
    let resource = Arc::new(Resource::new(res_attrs));
    let mut scopes: Vec<Arc<Scope>> = Vec::new();
    let mut out = Vec::with_capacity(raw.len());
    for s in raw {
        let trace_id = TraceId::from_parts(s.trace_high as u64, s.trace_low as u64);
        let mut parent = SpanId::from_u64(s.parent as u64);
        let mut links = Vec::new();
        for r in s.refs {
            if !r.follows && parent.is_zero() && r.trace == trace_id {
                parent = r.span;
            } else if !(r.span == parent && r.trace == trace_id) {
                links.push(Link {
                    trace_id: r.trace,
                    span_id: r.span,
                    trace_state: String::new(),
                    attributes: Vec::new(),
                    follows_from: r.follows,
                });
            }
        }
        let (attributes, kind, status_code, status_message, scope) = split_tags(s.tags);
        let scope = match scopes.iter().find(|x| ***x == scope) {
            Some(x) => x.clone(),
            None => {
                let a = Arc::new(scope);
                scopes.push(a.clone());
                a
            }
        };
        let events = s
            .logs
            .into_iter()
            .map(|(ts, mut fields)| {
                let name = match fields.iter().position(|f| f.key == "event") {
                    Some(i) => fields.remove(i).value.as_text(),
                    None => String::new(),
                };
                Event {
                    time_ns: (ts.max(0) as u64).saturating_mul(1000),
                    name,
                    attributes: fields,
                }
            })
            .collect();
        let start_ns = (s.start_us.max(0) as u64).saturating_mul(1000);
        out.push(Span {
            trace_id,
            span_id: SpanId::from_u64(s.span_id as u64),
            parent_span_id: parent,
            trace_state: String::new(),
            name: s.name,
            kind,
            start_ns,
            end_ns: start_ns.saturating_add((s.duration_us.max(0) as u64).saturating_mul(1000)),
            resource: resource.clone(),
            scope,
            attributes,
            events,
            links,
            status_code,
            status_message,
            flags: s.flags as u32,
        });
    }
    out
}

/// Splits Jaeger tags into attributes and the fields OTLP models separately (`span.kind`,
/// `otel.status_code`, `error`, `otel.scope.*`/`otel.library.*`), as Jaeger's OTLP translator does.
pub(crate) fn split_tags(
    tags: Vec<KeyValue>,
) -> (Vec<KeyValue>, SpanKind, StatusCode, String, Scope) {
    let mut attrs = Vec::with_capacity(tags.len());
    let mut kind = SpanKind::Unspecified;
    let mut status = StatusCode::Unset;
    let mut message = String::new();
    let mut scope = Scope::default();
    let mut error_tag = false;
    for t in tags {
        match t.key.as_str() {
            "span.kind" => match SpanKind::parse(&t.value.as_text()) {
                Some(k) => kind = k,
                None => attrs.push(t),
            },
            "otel.status_code" => {
                status = match t.value.as_text().as_str() {
                    "ERROR" => StatusCode::Error,
                    "OK" => StatusCode::Ok,
                    _ => StatusCode::Unset,
                }
            }
            "otel.status_description" => message = t.value.as_text(),
            "otel.scope.name" | "otel.library.name" => scope.name = t.value.as_text(),
            "otel.scope.version" | "otel.library.version" => scope.version = t.value.as_text(),
            "error" => {
                error_tag = matches!(t.value, Value::Bool(true))
                    || t.value.as_text().eq_ignore_ascii_case("true");
                if !error_tag {
                    attrs.push(t);
                }
            }
            _ => attrs.push(t),
        }
    }
    if error_tag {
        status = StatusCode::Error;
    }
    (attrs, kind, status, message, scope)
}

/// Encodes a `Batch` with the Thrift binary protocol (tests and the benchmark use it to speak
/// like a Jaeger client).
pub mod encode {
    use super::*;

    fn field(out: &mut Vec<u8>, t: u8, id: i16) {
        out.push(t);
        out.extend_from_slice(&id.to_be_bytes());
    }
    fn string(out: &mut Vec<u8>, s: &[u8]) {
        out.extend_from_slice(&(s.len() as i32).to_be_bytes());
        out.extend_from_slice(s);
    }
    fn i64f(out: &mut Vec<u8>, id: i16, v: i64) {
        field(out, T_I64, id);
        out.extend_from_slice(&v.to_be_bytes());
    }
    fn tags(out: &mut Vec<u8>, id: i16, tags: &[KeyValue]) {
        field(out, T_LIST, id);
        out.push(T_STRUCT);
        out.extend_from_slice(&(tags.len() as i32).to_be_bytes());
        for t in tags {
            field(out, T_STRING, 1);
            string(out, t.key.as_bytes());
            let vt: i32 = match &t.value {
                Value::Bool(_) => 2,
                Value::Int(_) => 3,
                Value::Double(_) => 1,
                _ => 0,
            };
            field(out, T_I32, 2);
            out.extend_from_slice(&vt.to_be_bytes());
            match &t.value {
                Value::Bool(b) => {
                    field(out, T_BOOL, 5);
                    out.push(*b as u8);
                }
                Value::Int(i) => i64f(out, 6, *i),
                Value::Double(d) => {
                    field(out, T_DOUBLE, 4);
                    out.extend_from_slice(&d.to_bits().to_be_bytes());
                }
                other => {
                    field(out, T_STRING, 3);
                    string(out, other.as_text().as_bytes());
                }
            }
            out.push(T_STOP);
        }
    }

    /// One span of a batch, in Jaeger's terms.
    pub struct JSpan<'a> {
        pub trace_id: TraceId,
        pub span_id: u64,
        pub parent_span_id: u64,
        pub name: &'a str,
        pub start_us: i64,
        pub duration_us: i64,
        pub tags: Vec<KeyValue>,
        pub logs: Vec<(i64, Vec<KeyValue>)>,
    }

    pub fn batch(service: &str, process_tags: &[KeyValue], spans: &[JSpan]) -> Vec<u8> {
        let mut out = Vec::new();
        field(&mut out, T_STRUCT, 1);
        field(&mut out, T_STRING, 1);
        string(&mut out, service.as_bytes());
        tags(&mut out, 2, process_tags);
        out.push(T_STOP);
        field(&mut out, T_LIST, 2);
        out.push(T_STRUCT);
        out.extend_from_slice(&(spans.len() as i32).to_be_bytes());
        for s in spans {
            i64f(&mut out, 1, s.trace_id.low() as i64);
            i64f(&mut out, 2, s.trace_id.high() as i64);
            i64f(&mut out, 3, s.span_id as i64);
            i64f(&mut out, 4, s.parent_span_id as i64);
            field(&mut out, T_STRING, 5);
            string(&mut out, s.name.as_bytes());
            field(&mut out, T_I32, 7);
            out.extend_from_slice(&1i32.to_be_bytes());
            i64f(&mut out, 8, s.start_us);
            i64f(&mut out, 9, s.duration_us);
            tags(&mut out, 10, &s.tags);
            field(&mut out, T_LIST, 11);
            out.push(T_STRUCT);
            out.extend_from_slice(&(s.logs.len() as i32).to_be_bytes());
            for (ts, fields) in &s.logs {
                i64f(&mut out, 1, *ts);
                tags(&mut out, 2, fields);
                out.push(T_STOP);
            }
            out.push(T_STOP);
        }
        out.push(T_STOP);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::encode::{batch, JSpan};
    use super::*;

    fn sample() -> Vec<u8> {
        batch(
            "crewai-api",
            &[KeyValue::str("hostname", "h1")],
            &[
                JSpan {
                    trace_id: TraceId::from_parts(0x1122, 0x3344),
                    span_id: 0x10,
                    parent_span_id: 0,
                    name: "GET /",
                    start_us: 1_700_000_000_000_000,
                    duration_us: 1500,
                    tags: vec![
                        KeyValue::str("span.kind", "server"),
                        KeyValue::new("http.status_code", Value::Int(500)),
                        KeyValue::new("error", Value::Bool(true)),
                        KeyValue::str("otel.library.name", "http"),
                    ],
                    logs: vec![(
                        1_700_000_000_000_100,
                        vec![
                            KeyValue::str("event", "exception"),
                            KeyValue::str("exception.message", "x"),
                        ],
                    )],
                },
                JSpan {
                    trace_id: TraceId::from_parts(0x1122, 0x3344),
                    span_id: 0x11,
                    parent_span_id: 0x10,
                    name: "email.process",
                    start_us: 1_700_000_000_000_200,
                    duration_us: 700,
                    tags: vec![KeyValue::new("ratio", Value::Double(0.5))],
                    logs: vec![],
                },
            ],
        )
    }

    #[test]
    fn decodes_batch() {
        let spans = decode_batch(&sample()).unwrap();
        assert_eq!(spans.len(), 2);
        let root = &spans[0];
        assert_eq!(root.service(), "crewai-api");
        assert_eq!(root.kind, SpanKind::Server);
        assert_eq!(root.status_code, StatusCode::Error);
        assert_eq!(root.scope.name, "http");
        assert_eq!(
            root.trace_id.to_jaeger(),
            "00000000000011220000000000003344"
        );
        assert_eq!(root.duration_ns(), 1_500_000);
        assert_eq!(root.events[0].name, "exception");
        assert_eq!(root.events[0].attributes.len(), 1);
        assert_eq!(
            crate::span::find(&root.resource.attributes, "hostname"),
            Some(&Value::Str("h1".into()))
        );
        assert_eq!(spans[1].parent_span_id, SpanId::from_u64(0x10));
        assert_eq!(spans[1].attributes[0].value, Value::Double(0.5));
    }

    #[test]
    fn bad_input() {
        let b = sample();
        for cut in [0, 1, 5, b.len() / 2, b.len() - 1] {
            assert!(decode_batch(&b[..cut]).is_err(), "cut {cut}");
        }
        let mut extra = b.clone();
        extra.push(1);
        assert!(decode_batch(&extra).is_err());
        // A list claiming 2^31-1 elements.
        let e = decode_batch(&[T_LIST, 0, 2, T_STRUCT, 0x7f, 0xff, 0xff, 0xff]).unwrap_err();
        assert!(e.0.contains("exceeds"), "{e}");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = decode_batch(&b);
        }

        #[test]
        fn mutations_never_panic(pos in 0usize..400, byte in proptest::prelude::any::<u8>()) {
            let mut b = sample();
            let n = b.len();
            b[pos % n] = byte;
            let _ = decode_batch(&b);
        }
    }
}
