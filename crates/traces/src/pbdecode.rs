//! OTLP protobuf straight into the span model: decodes an `ExportTraceServiceRequest` (OTLP/HTTP
//! body) or a `TracesData` (WAL record, segment block; the same wire layout) in one pass over the
//! bytes, with no `opentelemetry-proto` message tree in between. Follows prost's semantics where
//! the wire allows a choice (last scalar wins, repeated fields append, a message field seen twice
//! is merged, unknown fields and groups are skipped, nesting deeper than 100 is an error, strings
//! must be UTF-8), so it yields the spans the prost path yields (tested below) and an error for
//! every input prost rejects. Never panics on any input.

use crate::span::{
    Event, KeyValue, Link, Resource, Scope, Span, SpanId, SpanKind, StatusCode, TraceId, Value,
};
use crate::DecodeError;
use std::sync::Arc;

/// prost's recursion limit for nested messages.
const MAX_DEPTH: u32 = 100;

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const SGROUP: u8 = 3;
const EGROUP: u8 = 4;
const FIXED32: u8 = 5;

type R<T> = Result<T, DecodeError>;

fn err(msg: impl Into<String>) -> DecodeError {
    DecodeError(format!("invalid OTLP protobuf: {}", msg.into()))
}

/// A cursor over one message's bytes.
struct Rd<'a> {
    b: &'a [u8],
}

impl<'a> Rd<'a> {
    fn new(b: &'a [u8]) -> Self {
        Rd { b }
    }

    fn done(&self) -> bool {
        self.b.is_empty()
    }

    fn varint(&mut self) -> R<u64> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let Some((&byte, rest)) = self.b.split_first() else {
                return Err(err("buffer underflow"));
            };
            self.b = rest;
            if i == 9 && byte > 1 {
                return Err(err("invalid varint"));
            }
            v |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                return Ok(v);
            }
        }
        Err(err("invalid varint"))
    }

    /// The next field's number and wire type.
    fn key(&mut self) -> R<(u32, u8)> {
        let k = self.varint()?;
        if k > u64::from(u32::MAX) {
            return Err(err(format!("invalid key value: {k}")));
        }
        let wt = (k & 7) as u8;
        if wt > FIXED32 {
            return Err(err(format!("invalid wire type value: {wt}")));
        }
        let field = (k >> 3) as u32;
        if field == 0 {
            return Err(err("invalid field number: 0"));
        }
        Ok((field, wt))
    }

    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        if n > self.b.len() {
            return Err(err("buffer underflow"));
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(head)
    }

    fn bytes(&mut self) -> R<&'a [u8]> {
        let n = self.varint()?;
        let n = usize::try_from(n).map_err(|_| err("buffer underflow"))?;
        self.take(n)
    }

    fn fixed64(&mut self) -> R<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn fixed32(&mut self) -> R<u32> {
        let b = self.take(4)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_le_bytes(a))
    }

    /// Skips a field of wire type `wt` (groups to their matching end).
    fn skip(&mut self, field: u32, wt: u8, depth: u32) -> R<()> {
        match wt {
            VARINT => {
                self.varint()?;
            }
            FIXED64 => {
                self.take(8)?;
            }
            LEN => {
                self.bytes()?;
            }
            FIXED32 => {
                self.take(4)?;
            }
            SGROUP => {
                if depth >= MAX_DEPTH {
                    return Err(err("recursion limit reached"));
                }
                loop {
                    let (f, w) = self.key()?;
                    if w == EGROUP {
                        if f != field {
                            return Err(err("unexpected end group tag"));
                        }
                        break;
                    }
                    self.skip(f, w, depth + 1)?;
                }
            }
            _ => return Err(err("unexpected end group tag")),
        }
        Ok(())
    }

    /// Checks a known field's wire type.
    fn want(wt: u8, expected: u8) -> R<()> {
        if wt == expected {
            Ok(())
        } else {
            Err(err(format!(
                "invalid wire type: {wt} (expected {expected})"
            )))
        }
    }

    fn msg(&mut self, wt: u8, depth: u32) -> R<Rd<'a>> {
        Self::want(wt, LEN)?;
        if depth >= MAX_DEPTH {
            return Err(err("recursion limit reached"));
        }
        Ok(Rd::new(self.bytes()?))
    }

    fn string(&mut self, wt: u8) -> R<&'a str> {
        Self::want(wt, LEN)?;
        std::str::from_utf8(self.bytes()?)
            .map_err(|_| err("invalid string value: data is not UTF-8 encoded"))
    }

    fn u64v(&mut self, wt: u8) -> R<u64> {
        Self::want(wt, VARINT)?;
        self.varint()
    }

    fn f64v(&mut self, wt: u8) -> R<u64> {
        Self::want(wt, FIXED64)?;
        self.fixed64()
    }

    fn f32v(&mut self, wt: u8) -> R<u32> {
        Self::want(wt, FIXED32)?;
        self.fixed32()
    }
}

/// Decodes an `ExportTraceServiceRequest` or `TracesData` (field 1: repeated `ResourceSpans`).
pub fn decode(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    let mut out = Vec::new();
    repeated(body, 1, 0, |ri, m| resource_spans(m, ri, 1, &mut out))?;
    Ok(out)
}

/// `ResourceSpans`: the resource is read first (it may follow the scope spans on the wire).
fn resource_spans(m: Rd<'_>, ri: usize, depth: u32, out: &mut Vec<Span>) -> R<()> {
    let mut attributes = Vec::new();
    let mut r = Rd::new(m.b);
    while !r.done() {
        let (f, wt) = r.key()?;
        match f {
            1 => {
                let mut res = r.msg(wt, depth)?;
                while !res.done() {
                    let (f, wt) = res.key()?;
                    match f {
                        1 => attributes.push(key_value(res.msg(wt, depth + 1)?, depth + 2)?),
                        2 => {
                            res.u64v(wt)?;
                        }
                        3 => entity_ref(res.msg(wt, depth + 1)?, depth + 2)?,
                        _ => res.skip(f, wt, depth + 1)?,
                    }
                }
            }
            2 => {
                r.msg(wt, depth)?;
            }
            3 => {
                r.string(wt)?;
            }
            _ => r.skip(f, wt, depth)?,
        }
    }
    let resource = Arc::new(Resource::new(attributes));
    repeated(m.b, 2, depth, |si, ss| {
        scope_spans(ss, &resource, (ri, si), depth + 1, out)
    })
}

/// Calls `f` with the index and body of every occurrence of message field `field` in `b`
/// (other fields skipped).
fn repeated<'a>(
    b: &'a [u8],
    field: u32,
    depth: u32,
    mut f: impl FnMut(usize, Rd<'a>) -> R<()>,
) -> R<()> {
    let mut r = Rd::new(b);
    let mut i = 0usize;
    while !r.done() {
        let (fno, wt) = r.key()?;
        if fno == field {
            f(i, r.msg(wt, depth)?)?;
            i += 1;
        } else {
            r.skip(fno, wt, depth)?;
        }
    }
    Ok(())
}

/// `ScopeSpans`: the scope first, then its spans.
fn scope_spans(
    m: Rd<'_>,
    resource: &Arc<Resource>,
    (ri, si): (usize, usize),
    depth: u32,
    out: &mut Vec<Span>,
) -> R<()> {
    let mut scope = Scope::default();
    let mut r = Rd::new(m.b);
    while !r.done() {
        let (f, wt) = r.key()?;
        match f {
            1 => {
                let mut sc = r.msg(wt, depth)?;
                while !sc.done() {
                    let (f, wt) = sc.key()?;
                    match f {
                        1 => scope.name = sc.string(wt)?.to_string(),
                        2 => scope.version = sc.string(wt)?.to_string(),
                        3 => {
                            key_value(sc.msg(wt, depth + 1)?, depth + 2)?;
                        }
                        4 => {
                            sc.u64v(wt)?;
                        }
                        _ => sc.skip(f, wt, depth + 1)?,
                    }
                }
            }
            2 => {
                r.msg(wt, depth)?;
            }
            3 => {
                r.string(wt)?;
            }
            _ => r.skip(f, wt, depth)?,
        }
    }
    let scope = Arc::new(scope);
    repeated(m.b, 2, depth, |pi, sp| {
        out.push(span(sp, resource, &scope, (ri, si, pi), depth + 1)?);
        Ok(())
    })
}

fn span(
    mut r: Rd<'_>,
    resource: &Arc<Resource>,
    scope: &Arc<Scope>,
    (ri, si, pi): (usize, usize, usize),
    depth: u32,
) -> R<Span> {
    let mut trace_id: &[u8] = &[];
    let mut span_id: &[u8] = &[];
    let mut parent: &[u8] = &[];
    let mut trace_state = "";
    let mut name = "";
    let mut kind = 0i32;
    let (mut start_ns, mut end_ns) = (0u64, 0u64);
    let mut attributes = Vec::new();
    let mut events = Vec::new();
    let mut links = Vec::new();
    let mut status_code = 0i32;
    let mut status_message = "";
    let mut flags = 0u32;
    while !r.done() {
        let (f, wt) = r.key()?;
        match f {
            1 => trace_id = bytes(&mut r, wt)?,
            2 => span_id = bytes(&mut r, wt)?,
            3 => trace_state = r.string(wt)?,
            4 => parent = bytes(&mut r, wt)?,
            5 => name = r.string(wt)?,
            6 => kind = r.u64v(wt)? as i32,
            7 => start_ns = r.f64v(wt)?,
            8 => end_ns = r.f64v(wt)?,
            9 => attributes.push(key_value(r.msg(wt, depth)?, depth + 1)?),
            10 | 12 | 14 => {
                r.u64v(wt)?;
            }
            11 => events.push(event(r.msg(wt, depth)?, depth + 1)?),
            13 => links.push(link(r.msg(wt, depth)?, depth + 1)?),
            15 => {
                let mut st = r.msg(wt, depth)?;
                while !st.done() {
                    let (f, wt) = st.key()?;
                    match f {
                        2 => status_message = st.string(wt)?,
                        3 => status_code = st.u64v(wt)? as i32,
                        _ => st.skip(f, wt, depth + 1)?,
                    }
                }
            }
            16 => flags = r.f32v(wt)?,
            _ => r.skip(f, wt, depth)?,
        }
    }
    let at = || format!("resourceSpans[{ri}].scopeSpans[{si}].spans[{pi}]");
    let trace_id = TraceId::from_slice(trace_id)
        .filter(|t| !t.is_zero() && trace_id.len() == 16)
        .ok_or_else(|| {
            DecodeError(format!(
                "{}: traceId must be 16 non-zero bytes, got {} bytes",
                at(),
                trace_id.len()
            ))
        })?;
    let span_id = SpanId::from_slice(span_id)
        .filter(|s| !s.is_zero())
        .ok_or_else(|| {
            DecodeError(format!(
                "{}: spanId must be 8 non-zero bytes, got {} bytes",
                at(),
                span_id.len()
            ))
        })?;
    let parent_span_id = if parent.is_empty() {
        SpanId::default()
    } else {
        SpanId::from_slice(parent).ok_or_else(|| {
            DecodeError(format!(
                "{}: parentSpanId must be empty or 8 bytes, got {} bytes",
                at(),
                parent.len()
            ))
        })?
    };
    let links = links
        .into_iter()
        .map(|l: RawLink| {
            let (Some(t), Some(s)) = (
                TraceId::from_slice(l.trace_id),
                SpanId::from_slice(l.span_id),
            ) else {
                return Err(DecodeError(format!(
                    "{}: a link needs a 16-byte traceId and an 8-byte spanId",
                    at()
                )));
            };
            Ok(Link {
                trace_id: t,
                span_id: s,
                trace_state: l.trace_state.to_string(),
                attributes: l.attributes,
                follows_from: false,
            })
        })
        .collect::<R<Vec<_>>>()?;
    Ok(Span {
        trace_id,
        span_id,
        parent_span_id,
        trace_state: trace_state.to_string(),
        name: name.to_string(),
        kind: SpanKind::from_otlp(kind),
        start_ns,
        end_ns: end_ns.max(start_ns),
        resource: resource.clone(),
        scope: scope.clone(),
        attributes,
        events,
        links,
        status_code: StatusCode::from_otlp(status_code),
        status_message: status_message.to_string(),
        flags,
    })
}

/// `EntityRef` (a resource's entity reference): checked as prost checks it, then dropped.
fn entity_ref(mut r: Rd<'_>, depth: u32) -> R<()> {
    while !r.done() {
        let (f, wt) = r.key()?;
        match f {
            1..=4 => {
                r.string(wt)?;
            }
            _ => r.skip(f, wt, depth)?,
        }
    }
    Ok(())
}

fn bytes<'a>(r: &mut Rd<'a>, wt: u8) -> R<&'a [u8]> {
    Rd::want(wt, LEN)?;
    r.bytes()
}

fn event(mut r: Rd<'_>, depth: u32) -> R<Event> {
    let mut e = Event {
        time_ns: 0,
        name: String::new(),
        attributes: Vec::new(),
    };
    while !r.done() {
        let (f, wt) = r.key()?;
        match f {
            1 => e.time_ns = r.f64v(wt)?,
            2 => e.name = r.string(wt)?.to_string(),
            3 => e.attributes.push(key_value(r.msg(wt, depth)?, depth + 1)?),
            4 => {
                r.u64v(wt)?;
            }
            _ => r.skip(f, wt, depth)?,
        }
    }
    Ok(e)
}

/// A link before its ids are checked (after the whole span is read, as the prost path does).
struct RawLink<'a> {
    trace_id: &'a [u8],
    span_id: &'a [u8],
    trace_state: &'a str,
    attributes: Vec<KeyValue>,
}

fn link<'a>(mut r: Rd<'a>, depth: u32) -> R<RawLink<'a>> {
    let mut l = RawLink {
        trace_id: &[],
        span_id: &[],
        trace_state: "",
        attributes: Vec::new(),
    };
    while !r.done() {
        let (f, wt) = r.key()?;
        match f {
            1 => l.trace_id = bytes(&mut r, wt)?,
            2 => l.span_id = bytes(&mut r, wt)?,
            3 => l.trace_state = r.string(wt)?,
            4 => l.attributes.push(key_value(r.msg(wt, depth)?, depth + 1)?),
            5 => {
                r.u64v(wt)?;
            }
            6 => {
                r.f32v(wt)?;
            }
            _ => r.skip(f, wt, depth)?,
        }
    }
    Ok(l)
}

fn key_value(mut r: Rd<'_>, depth: u32) -> R<KeyValue> {
    let mut key = "";
    let mut value: Option<Value> = None;
    while !r.done() {
        let (f, wt) = r.key()?;
        match f {
            1 => key = r.string(wt)?,
            2 => any_value(r.msg(wt, depth)?, depth + 1, &mut value)?,
            // key_strindex: profiles only, ignored as the OTLP spec asks.
            3 => {
                r.u64v(wt)?;
            }
            _ => r.skip(f, wt, depth)?,
        }
    }
    Ok(KeyValue {
        key: key.to_string(),
        value: value.unwrap_or_else(|| Value::Str(String::new())),
    })
}

/// Merges an `AnyValue` message into `v` (a oneof: the last variant wins; an array or map
/// seen again extends the one before, as prost merges a repeated message field).
fn any_value(mut r: Rd<'_>, depth: u32, v: &mut Option<Value>) -> R<()> {
    while !r.done() {
        let (f, wt) = r.key()?;
        match f {
            1 => *v = Some(Value::Str(r.string(wt)?.to_string())),
            2 => *v = Some(Value::Bool(r.u64v(wt)? != 0)),
            3 => *v = Some(Value::Int(r.u64v(wt)? as i64)),
            4 => *v = Some(Value::Double(f64::from_bits(r.f64v(wt)?))),
            5 => {
                let mut a = r.msg(wt, depth)?;
                let mut values = match v.take() {
                    Some(Value::Array(x)) => x,
                    _ => Vec::new(),
                };
                while !a.done() {
                    let (f, wt) = a.key()?;
                    if f == 1 {
                        let mut x = None;
                        any_value(a.msg(wt, depth + 1)?, depth + 2, &mut x)?;
                        values.push(x.unwrap_or_else(|| Value::Str(String::new())));
                    } else {
                        a.skip(f, wt, depth + 1)?;
                    }
                }
                *v = Some(Value::Array(values));
            }
            6 => {
                let mut m = r.msg(wt, depth)?;
                let mut values = match v.take() {
                    Some(Value::Map(x)) => x,
                    _ => Vec::new(),
                };
                while !m.done() {
                    let (f, wt) = m.key()?;
                    if f == 1 {
                        values.push(key_value(m.msg(wt, depth + 1)?, depth + 2)?);
                    } else {
                        m.skip(f, wt, depth + 1)?;
                    }
                }
                *v = Some(Value::Map(values));
            }
            7 => *v = Some(Value::Bytes(bytes(&mut r, wt)?.to_vec())),
            // String-table references exist only in OTLP profiles.
            8 => *v = Some(Value::Int(i64::from(r.u64v(wt)? as i32))),
            _ => r.skip(f, wt, depth)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::decode;
    use crate::otlp::decode_protobuf_prost;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1 as pc;
    use opentelemetry_proto::tonic::resource::v1 as pr;
    use opentelemetry_proto::tonic::trace::v1 as pt;
    use proptest::prelude::*;
    use prost::Message;

    /// Both decoders agree: the same spans (compared by their debug form, so NaN equals NaN),
    /// or both an error.
    fn same(body: &[u8]) -> Result<(), TestCaseError> {
        let ours = decode(body);
        let theirs = decode_protobuf_prost(body);
        match (&ours, &theirs) {
            (Ok(a), Ok(b)) => prop_assert_eq!(format!("{a:?}"), format!("{b:?}")),
            (Err(_), Err(_)) => {}
            _ => prop_assert!(false, "ours {:?} vs prost {:?}", ours, theirs),
        }
        Ok(())
    }

    fn any_value() -> impl Strategy<Value = pc::AnyValue> {
        use pc::any_value::Value as V;
        let leaf = prop_oneof![
            ".{0,12}".prop_map(V::StringValue),
            any::<bool>().prop_map(V::BoolValue),
            any::<i64>().prop_map(V::IntValue),
            any::<f64>().prop_map(V::DoubleValue),
            proptest::collection::vec(any::<u8>(), 0..6).prop_map(V::BytesValue),
            any::<i32>().prop_map(V::StringValueStrindex),
        ]
        .prop_map(|v| pc::AnyValue { value: Some(v) });
        let leaf = prop_oneof![9 => leaf, 1 => Just(pc::AnyValue { value: None })];
        leaf.prop_recursive(3, 12, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(|values| pc::AnyValue {
                    value: Some(pc::any_value::Value::ArrayValue(pc::ArrayValue { values }))
                }),
                proptest::collection::vec(("[a-z.]{0,6}", proptest::option::of(inner)), 0..4)
                    .prop_map(|kvs| pc::AnyValue {
                        value: Some(pc::any_value::Value::KvlistValue(pc::KeyValueList {
                            values: kvs
                                .into_iter()
                                .map(|(key, value)| pc::KeyValue {
                                    key,
                                    value,
                                    ..Default::default()
                                })
                                .collect(),
                        })),
                    }),
            ]
        })
    }

    fn attrs() -> impl Strategy<Value = Vec<pc::KeyValue>> {
        proptest::collection::vec(("[a-z._]{0,10}", proptest::option::of(any_value())), 0..5)
            .prop_map(|kvs| {
                kvs.into_iter()
                    .map(|(key, value)| pc::KeyValue {
                        key,
                        value,
                        ..Default::default()
                    })
                    .collect()
            })
    }

    /// Ids mostly valid, sometimes of a wrong length or zero (both decoders must refuse those).
    fn id(n: usize) -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            20 => proptest::collection::vec(1u8..=255, n..=n),
            1 => proptest::collection::vec(any::<u8>(), 0..20),
        ]
    }

    fn span() -> impl Strategy<Value = pt::Span> {
        let ids = (id(16), id(8), prop_oneof![Just(Vec::new()), id(8)]);
        let events = proptest::collection::vec(
            (any::<u64>(), ".{0,8}", attrs()).prop_map(|(t, name, attributes)| pt::span::Event {
                time_unix_nano: t,
                name,
                attributes,
                dropped_attributes_count: 0,
            }),
            0..3,
        );
        let links = proptest::collection::vec(
            (id(16), id(8), ".{0,4}", attrs(), any::<u32>()).prop_map(
                |(trace_id, span_id, trace_state, attributes, flags)| pt::span::Link {
                    trace_id,
                    span_id,
                    trace_state,
                    attributes,
                    dropped_attributes_count: 1,
                    flags,
                },
            ),
            0..2,
        );
        let status = proptest::option::of(
            (".{0,8}", -1i32..4).prop_map(|(message, code)| pt::Status { message, code }),
        );
        (
            ids,
            (".{0,6}", ".{0,16}", -1i32..7, any::<u64>(), any::<u64>()),
            attrs(),
            events,
            links,
            status,
            any::<u32>(),
        )
            .prop_map(
                |(
                    (trace_id, span_id, parent_span_id),
                    (trace_state, name, kind, start, end),
                    attributes,
                    events,
                    links,
                    status,
                    flags,
                )| {
                    pt::Span {
                        trace_id,
                        span_id,
                        trace_state,
                        parent_span_id,
                        flags,
                        name,
                        kind,
                        start_time_unix_nano: start,
                        end_time_unix_nano: end,
                        attributes,
                        dropped_attributes_count: 2,
                        events,
                        dropped_events_count: 0,
                        links,
                        dropped_links_count: 0,
                        status,
                    }
                },
            )
    }

    fn request() -> impl Strategy<Value = ExportTraceServiceRequest> {
        let scope = (
            proptest::option::of((".{0,8}", ".{0,4}", attrs()).prop_map(
                |(name, version, attributes)| pc::InstrumentationScope {
                    name,
                    version,
                    attributes,
                    dropped_attributes_count: 0,
                },
            )),
            proptest::collection::vec(span(), 0..4),
            ".{0,4}",
        )
            .prop_map(|(scope, spans, schema_url)| pt::ScopeSpans {
                scope,
                spans,
                schema_url,
            });
        let rs = (
            proptest::option::of(attrs().prop_map(|attributes| pr::Resource {
                attributes,
                dropped_attributes_count: 0,
                entity_refs: vec![pc::EntityRef {
                    schema_url: "s".into(),
                    r#type: "service".into(),
                    id_keys: vec!["service.name".into()],
                    description_keys: vec![],
                }],
            })),
            proptest::collection::vec(scope, 0..3),
        )
            .prop_map(|(resource, scope_spans)| pt::ResourceSpans {
                resource,
                scope_spans,
                schema_url: String::new(),
            });
        proptest::collection::vec(rs, 0..3)
            .prop_map(|resource_spans| ExportTraceServiceRequest { resource_spans })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Generated OTLP requests decode to the spans the prost path gives (or both refuse).
        #[test]
        fn same_spans_as_prost(req in request()) {
            same(&req.encode_to_vec())?;
        }

        /// Every prefix of a valid request: no panic, the same answer as prost.
        #[test]
        fn truncated_requests(req in request(), cut in any::<prop::sample::Index>()) {
            let body = req.encode_to_vec();
            let n = cut.index(body.len() + 1);
            same(&body[..n])?;
        }

        /// A valid request with bytes overwritten: no panic, the same answer as prost.
        #[test]
        fn mutated_requests(req in request(), edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
            let mut body = req.encode_to_vec();
            if !body.is_empty() {
                let n = body.len();
                for (i, b) in edits {
                    body[i.index(n)] = b;
                }
            }
            same(&body)?;
        }

        /// Arbitrary bytes: no panic, the same answer as prost.
        #[test]
        fn arbitrary_bytes(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            same(&b)?;
        }
    }

    #[test]
    fn fields_out_of_order_repeated_and_unknown() {
        // The resource after its scope spans, a span's status given twice (merged), an unknown
        // field and a group in between, a value's oneof set twice (the last wins).
        use prost::encoding::{encode_key, encode_varint, WireType};
        let mut span = pt::Span {
            trace_id: vec![7; 16],
            span_id: vec![8; 8],
            name: "op".into(),
            status: Some(pt::Status {
                message: "m".into(),
                code: 0,
            }),
            ..Default::default()
        }
        .encode_to_vec();
        pt::Span {
            status: Some(pt::Status {
                message: String::new(),
                code: 2,
            }),
            attributes: vec![pc::KeyValue {
                key: "k".into(),
                value: Some(pc::AnyValue {
                    value: Some(pc::any_value::Value::IntValue(5)),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }
        .encode_raw(&mut span);
        encode_key(99, WireType::Varint, &mut span);
        encode_varint(1, &mut span);
        encode_key(98, WireType::StartGroup, &mut span);
        encode_key(1, WireType::Varint, &mut span);
        encode_varint(3, &mut span);
        encode_key(98, WireType::EndGroup, &mut span);
        let mut ss = Vec::new();
        encode_key(2, WireType::LengthDelimited, &mut ss);
        encode_varint(span.len() as u64, &mut ss);
        ss.extend_from_slice(&span);
        let mut rs = Vec::new();
        encode_key(2, WireType::LengthDelimited, &mut rs);
        encode_varint(ss.len() as u64, &mut rs);
        rs.extend_from_slice(&ss);
        pt::ResourceSpans {
            resource: Some(pr::Resource {
                attributes: vec![pc::KeyValue {
                    key: "service.name".into(),
                    value: Some(pc::AnyValue {
                        value: Some(pc::any_value::Value::StringValue("svc".into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_raw(&mut rs);
        let mut body = Vec::new();
        encode_key(1, WireType::LengthDelimited, &mut body);
        encode_varint(rs.len() as u64, &mut body);
        body.extend_from_slice(&rs);
        let spans = decode(&body).unwrap();
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].service(), "svc");
        assert_eq!(spans[0].status_code, crate::StatusCode::Error);
        assert_eq!(spans[0].status_message, "m");
        assert_eq!(spans[0].attributes.len(), 1);
        same(&body).unwrap();
    }

    #[test]
    fn refusals_are_errors_not_panics() {
        for body in [
            &[0x0a, 0x05, 0x01][..], // length beyond the end
            &[0x0b][..],             // a group that never ends
            &[0x0c][..],             // an end group without a start
            &[0x0f][..],             // wire type 7
            &[0x00][..],             // field 0
            &[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
            ][..], // varint overflow
            &[0x09, 1, 2, 3][..],    // fixed64 cut short
            &[0x08, 0x01][..],       // field 1 as a varint: wrong wire type
        ] {
            let e = decode(body).unwrap_err();
            assert!(e.0.starts_with("invalid OTLP protobuf"), "{e}");
            assert!(decode_protobuf_prost(body).is_err());
        }
        // Nesting past prost's recursion limit is refused, not a stack overflow.
        let mut v = pc::AnyValue {
            value: Some(pc::any_value::Value::IntValue(1)),
        };
        for _ in 0..200 {
            v = pc::AnyValue {
                value: Some(pc::any_value::Value::ArrayValue(pc::ArrayValue {
                    values: vec![v],
                })),
            };
        }
        let mut req = crate::otlp::tests::sample_request();
        req.resource_spans[0].scope_spans[0].spans[0]
            .attributes
            .push(pc::KeyValue {
                key: "deep".into(),
                value: Some(v),
                ..Default::default()
            });
        assert!(decode(&req.encode_to_vec()).is_err());
    }

    /// The benchmark's requests (service, HTTP attributes, errors) and the Tempo-style sample.
    #[test]
    fn real_payloads_decode_like_prost() {
        same(&crate::otlp::tests::sample_request().encode_to_vec()).unwrap();
        let spans = crate::wire::tests::spans();
        let body = crate::wire::encode_spans(&spans);
        same(&body).unwrap();
        assert_eq!(decode(&body).unwrap().len(), spans.len());
    }
}
