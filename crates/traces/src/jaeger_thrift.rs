//! Jaeger collector ingest: a hand-written decoder for the Thrift binary protocol and the
//! `jaeger.thrift` `Batch` struct that Jaeger clients and `@opentelemetry/exporter-jaeger` POST to
//! `/api/traces` (`application/x-thrift`), and of the Jaeger agent's UDP `emitBatch` datagrams in
//! the compact (6831) and binary (6832) protocols, mapped onto the span model. Only what `Batch`
//! needs is implemented; every read is bounds-checked and nesting is
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
fn read_tag<R: Proto>(r: &mut R) -> Result<KeyValue, DecodeError> {
    let mut key = None;
    let mut vtype = 0i32;
    let (mut vstr, mut vdouble, mut vbool, mut vlong, mut vbin) = (None, None, None, None, None);
    r.begin();
    while let Some((t, id)) = r.field()? {
        match (id, t) {
            (1, T_STRING) => key = Some(r.string()?),
            (2, T_I32) => vtype = r.i32()?,
            (3, T_STRING) => vstr = Some(r.string()?),
            (4, T_DOUBLE) => vdouble = Some(r.f64()?),
            (5, T_BOOL) => vbool = Some(r.bool()?),
            (6, T_I64) => vlong = Some(r.i64()?),
            (7, T_STRING) => vbin = Some(r.bytes()?),
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

fn read_tags<R: Proto>(r: &mut R) -> Result<Vec<KeyValue>, DecodeError> {
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

fn read_span<R: Proto>(r: &mut R) -> Result<RawSpan, DecodeError> {
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
    r.begin();
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
                    r.begin();
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
                    r.begin();
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
    let spans = read_batch(&mut r)?;
    if r.pos != body.len() {
        return Err(r.err("trailing bytes after the Batch"));
    }
    Ok(spans)
}

/// Reads a `Batch` struct (up to its STOP) from any protocol.
fn read_batch<R: Proto>(r: &mut R) -> Result<Vec<Span>, DecodeError> {
    let mut service = None;
    let mut process_tags = Vec::new();
    let mut raw = Vec::new();
    let mut saw_any = false;
    r.begin();
    while let Some((t, id)) = r.field()? {
        saw_any = true;
        match (id, t) {
            (1, T_STRUCT) => {
                r.begin();
                while let Some((t, id)) = r.field()? {
                    match (id, t) {
                        (1, T_STRING) => service = Some(r.string()?),
                        (2, T_LIST) => process_tags = read_tags(r)?,
                        _ => r.skip(t, 1)?,
                    }
                }
            }
            (2, T_LIST) => {
                let n = r.list(T_STRUCT)?;
                for _ in 0..n {
                    raw.push(read_span(r)?);
                }
            }
            _ => r.skip(t, 0)?,
        }
    }
    if !saw_any {
        return Err(r.err("empty Batch"));
    }
    let service = service.ok_or_else(|| r.err("Batch without process.serviceName"))?;
    Ok(to_spans(service, process_tags, raw))
}

/// Decodes a Jaeger agent UDP datagram: an `Agent.emitBatch` oneway call in the Thrift compact
/// protocol (port 6831, Go/Java/Python clients) or binary protocol (port 6832, Node clients).
pub fn decode_agent_datagram(d: &[u8], compact: bool) -> Result<Vec<Span>, DecodeError> {
    if compact {
        let mut r = Compact::new(d);
        if r.byte()? != 0x82 {
            return Err(r.err("not a Thrift compact message (protocol id 0x82 expected)"));
        }
        let _version_and_type = r.byte()?;
        let _seq = r.varint()?;
        let name = r.string()?;
        read_emit_batch(&mut r, &name)
    } else {
        let mut r = Reader { b: d, pos: 0 };
        let v = r.i32()?;
        let name = if v < 0 {
            if (v as u32) & 0xffff_0000 != 0x8001_0000 {
                return Err(r.err("bad Thrift binary message version"));
            }
            let n = r.string()?;
            r.i32()?;
            n
        } else {
            let n = String::from_utf8_lossy(r.take(v as usize)?).into_owned();
            r.u8()?;
            r.i32()?;
            n
        };
        read_emit_batch(&mut r, &name)
    }
}

fn read_emit_batch<R: Proto>(r: &mut R, name: &str) -> Result<Vec<Span>, DecodeError> {
    if name != "emitBatch" {
        return Err(r.err(&format!("unsupported agent call {name:?} (only emitBatch)")));
    }
    let mut spans = None;
    r.begin();
    while let Some((t, id)) = r.field()? {
        match (id, t) {
            (1, T_STRUCT) => spans = Some(read_batch(r)?),
            _ => r.skip(t, 0)?,
        }
    }
    spans.ok_or_else(|| r.err("emitBatch without a Batch"))
}

/// What the struct readers need from a Thrift protocol; field and list types are reported with
/// the binary protocol's type ids.
trait Proto {
    fn err(&self, what: &str) -> DecodeError;
    /// Called before reading the fields of a struct (the compact protocol tracks field ids).
    fn begin(&mut self);
    fn field(&mut self) -> Result<Option<(u8, i16)>, DecodeError>;
    fn bool(&mut self) -> Result<bool, DecodeError>;
    fn i32(&mut self) -> Result<i32, DecodeError>;
    fn i64(&mut self) -> Result<i64, DecodeError>;
    fn f64(&mut self) -> Result<f64, DecodeError>;
    fn bytes(&mut self) -> Result<Vec<u8>, DecodeError>;
    fn string(&mut self) -> Result<String, DecodeError> {
        Ok(String::from_utf8_lossy(&self.bytes()?).into_owned())
    }
    fn list(&mut self, want: u8) -> Result<usize, DecodeError>;
    fn skip(&mut self, t: u8, depth: usize) -> Result<(), DecodeError>;
}

impl Proto for Reader<'_> {
    fn err(&self, what: &str) -> DecodeError {
        Reader::err(self, what)
    }
    fn begin(&mut self) {}
    fn field(&mut self) -> Result<Option<(u8, i16)>, DecodeError> {
        Reader::field(self)
    }
    fn bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.u8()? != 0)
    }
    fn i32(&mut self) -> Result<i32, DecodeError> {
        Reader::i32(self)
    }
    fn i64(&mut self) -> Result<i64, DecodeError> {
        Reader::i64(self)
    }
    fn f64(&mut self) -> Result<f64, DecodeError> {
        Reader::f64(self)
    }
    fn bytes(&mut self) -> Result<Vec<u8>, DecodeError> {
        Ok(self.binary()?.to_vec())
    }
    fn string(&mut self) -> Result<String, DecodeError> {
        Reader::string(self)
    }
    fn list(&mut self, want: u8) -> Result<usize, DecodeError> {
        Reader::list(self, want)
    }
    fn skip(&mut self, t: u8, depth: usize) -> Result<(), DecodeError> {
        Reader::skip(self, t, depth)
    }
}

/// Thrift compact protocol reader (zigzag varints, field-id deltas, bools in the field type).
struct Compact<'a> {
    b: &'a [u8],
    pos: usize,
    last: i16,
    stack: Vec<i16>,
    pending_bool: Option<bool>,
}

impl<'a> Compact<'a> {
    fn new(b: &'a [u8]) -> Self {
        Compact {
            b,
            pos: 0,
            last: 0,
            stack: Vec::new(),
            pending_bool: None,
        }
    }
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let v = *self
            .b
            .get(self.pos)
            .ok_or_else(|| Proto::err(self, "truncated"))?;
        self.pos += 1;
        Ok(v)
    }
    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Proto::err(self, "varint too long"))
    }
    fn zigzag(&mut self) -> Result<i64, DecodeError> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }
    fn ctype(&self, c: u8) -> Result<u8, DecodeError> {
        Ok(match c {
            1 | 2 => T_BOOL,
            3 => T_BYTE,
            4 => T_I16,
            5 => T_I32,
            6 => T_I64,
            7 => T_DOUBLE,
            8 => T_STRING,
            9 => T_LIST,
            10 => T_SET,
            11 => T_MAP,
            12 => T_STRUCT,
            other => return Err(Proto::err(self, &format!("unknown compact type {other}"))),
        })
    }
    fn size(&mut self, n: u64) -> Result<usize, DecodeError> {
        if n as usize > self.b.len() - self.pos {
            return Err(Proto::err(self, &format!("size {n} exceeds the datagram")));
        }
        Ok(n as usize)
    }
}

impl Proto for Compact<'_> {
    fn err(&self, what: &str) -> DecodeError {
        DecodeError(format!(
            "invalid Jaeger compact thrift at byte {}: {what}",
            self.pos
        ))
    }
    fn begin(&mut self) {
        self.stack.push(self.last);
        self.last = 0;
    }
    fn field(&mut self) -> Result<Option<(u8, i16)>, DecodeError> {
        let h = self.byte()?;
        if h == 0 {
            self.last = self.stack.pop().unwrap_or(0);
            return Ok(None);
        }
        let delta = (h >> 4) as i16;
        let id = if delta != 0 {
            self.last.wrapping_add(delta)
        } else {
            self.zigzag()? as i16
        };
        self.last = id;
        let c = h & 0x0f;
        if c == 1 || c == 2 {
            self.pending_bool = Some(c == 1);
        }
        Ok(Some((self.ctype(c)?, id)))
    }
    fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.pending_bool.take() {
            Some(b) => Ok(b),
            None => Ok(self.byte()? == 1),
        }
    }
    fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(self.zigzag()? as i32)
    }
    fn i64(&mut self) -> Result<i64, DecodeError> {
        self.zigzag()
    }
    fn f64(&mut self) -> Result<f64, DecodeError> {
        let mut a = [0u8; 8];
        for x in &mut a {
            *x = self.byte()?;
        }
        Ok(f64::from_le_bytes(a))
    }
    fn bytes(&mut self) -> Result<Vec<u8>, DecodeError> {
        let n = self.varint()?;
        let n = self.size(n)?;
        let v = self.b[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(v)
    }
    fn list(&mut self, want: u8) -> Result<usize, DecodeError> {
        let h = self.byte()?;
        let mut n = (h >> 4) as u64;
        if n == 15 {
            n = self.varint()?;
        }
        let t = self.ctype(h & 0x0f)?;
        if t != want {
            return Err(Proto::err(
                self,
                &format!("list of type {t}, expected {want}"),
            ));
        }
        self.size(n)
    }
    fn skip(&mut self, t: u8, depth: usize) -> Result<(), DecodeError> {
        if depth > MAX_DEPTH {
            return Err(Proto::err(self, "nesting too deep"));
        }
        match t {
            T_BOOL => {
                Proto::bool(self)?;
            }
            T_BYTE => {
                self.byte()?;
            }
            T_I16 | T_I32 | T_I64 => {
                self.varint()?;
            }
            T_DOUBLE => {
                Proto::f64(self)?;
            }
            T_STRING => {
                self.bytes()?;
            }
            T_STRUCT => {
                self.begin();
                while let Some((ft, _)) = Proto::field(self)? {
                    self.skip(ft, depth + 1)?;
                }
            }
            T_MAP => {
                let n = self.varint()?;
                let n = self.size(n)?;
                if n > 0 {
                    let kv = self.byte()?;
                    let (k, v) = (self.ctype(kv >> 4)?, self.ctype(kv & 0x0f)?);
                    for _ in 0..n {
                        self.skip(k, depth + 1)?;
                        self.skip(v, depth + 1)?;
                    }
                }
            }
            T_SET | T_LIST => {
                let h = self.byte()?;
                let mut n = (h >> 4) as u64;
                if n == 15 {
                    n = self.varint()?;
                }
                let n = self.size(n)?;
                let et = self.ctype(h & 0x0f)?;
                for _ in 0..n {
                    self.skip(et, depth + 1)?;
                }
            }
            other => return Err(Proto::err(self, &format!("unknown thrift type {other}"))),
        }
        Ok(())
    }
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

    /// The binary-protocol `emitBatch` datagram Node's UDP sender writes.
    fn binary_agent(batch: &[u8]) -> Vec<u8> {
        let mut d = vec![0x80, 0x01, 0x00, 0x04];
        d.extend_from_slice(&9i32.to_be_bytes());
        d.extend_from_slice(b"emitBatch");
        d.extend_from_slice(&1i32.to_be_bytes());
        d.extend_from_slice(&[T_STRUCT, 0, 1]);
        d.extend_from_slice(batch);
        d.push(T_STOP);
        d
    }

    /// A compact-protocol `emitBatch` with one span, field by field as jaeger-client-go writes it.
    fn compact_agent() -> Vec<u8> {
        fn zz(v: i64) -> Vec<u8> {
            let mut u = ((v << 1) ^ (v >> 63)) as u64;
            let mut out = Vec::new();
            while u >= 0x80 {
                out.push((u as u8) | 0x80);
                u >>= 7;
            }
            out.push(u as u8);
            out
        }
        fn s(out: &mut Vec<u8>, v: &str) {
            out.push(v.len() as u8); // varint length (< 128)
            out.extend_from_slice(v.as_bytes());
        }
        let mut d = vec![0x82, 0x81]; // protocol id, version 1 + type call
        d.push(1); // seqid varint
        s(&mut d, "emitBatch");
        d.push(0x1c); // args field 1, struct
        d.push(0x1c); // Batch.process (1), struct
        d.push(0x18); // serviceName (1), binary
        s(&mut d, "go-svc");
        d.push(0x19); // tags (2), list
        d.push(0x1c); // 1 element of struct
        d.push(0x18);
        s(&mut d, "hostname");
        d.push(0x15); // vType (2), i32
        d.extend(zz(0));
        d.push(0x18); // vStr (3)
        s(&mut d, "h1");
        d.push(0); // end Tag
        d.push(0); // end Process
        d.push(0x19); // spans (2), list
        d.push(0x1c); // 1 span
        d.push(0x16); // traceIdLow (1) i64
        d.extend(zz(0x77));
        d.push(0x16); // traceIdHigh (2)
        d.extend(zz(0));
        d.push(0x16); // spanId (3)
        d.extend(zz(5));
        d.push(0x16); // parentSpanId (4)
        d.extend(zz(0));
        d.push(0x18); // operationName (5)
        s(&mut d, "HTTP GET");
        d.push(0x25); // flags (7), i32, delta 2
        d.extend(zz(1));
        d.push(0x16); // startTime (8)
        d.extend(zz(1_700_000_000_000_000));
        d.push(0x16); // duration (9)
        d.extend(zz(2500));
        d.push(0x19); // tags (10)
        d.push(0x2c); // 2 structs
        d.push(0x18);
        s(&mut d, "error");
        d.push(0x15);
        d.extend(zz(2)); // BOOL
        d.push(0x31); // vBool (5), delta 3, true
        d.push(0);
        d.push(0x18);
        s(&mut d, "span.kind");
        d.push(0x15);
        d.extend(zz(0));
        d.push(0x18);
        s(&mut d, "client");
        d.push(0);
        d.push(0); // end Span
        d.push(0); // end Batch
        d.push(0); // end args
        d
    }

    #[test]
    fn agent_datagrams() {
        let spans = decode_agent_datagram(&binary_agent(&sample()), false).unwrap();
        assert_eq!(spans.len(), 2);
        let c = decode_agent_datagram(&compact_agent(), true).unwrap();
        assert_eq!(c.len(), 1, "{c:?}");
        let s = &c[0];
        assert_eq!(s.service(), "go-svc");
        assert_eq!(s.name, "HTTP GET");
        assert_eq!(s.trace_id, TraceId::from_parts(0, 0x77));
        assert_eq!(s.span_id, SpanId::from_u64(5));
        assert_eq!(s.kind, SpanKind::Client);
        assert_eq!(s.status_code, StatusCode::Error);
        assert_eq!(s.duration_ns(), 2_500_000);
        assert!(decode_agent_datagram(&compact_agent()[..20], true).is_err());
        assert!(decode_agent_datagram(b"\x82\x81\x01\x04ping\x00", true).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = decode_batch(&b);
            let _ = decode_agent_datagram(&b, true);
            let _ = decode_agent_datagram(&b, false);
        }

        #[test]
        fn compact_mutations_never_panic(pos in 0usize..200, byte in proptest::prelude::any::<u8>()) {
            let mut b = compact_agent();
            let n = b.len();
            b[pos % n] = byte;
            let _ = decode_agent_datagram(&b, true);
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
