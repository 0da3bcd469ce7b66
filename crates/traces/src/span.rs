//! The one span model every trace decoder produces and every query surface reads: ids, parent,
//! name, kind, service and resource attributes, attributes, events, links, status and
//! instrumentation scope. Shaped after OTLP, which is a superset of Jaeger's and Zipkin's models.

use std::fmt;
use std::sync::Arc;

/// A 128-bit trace id (64-bit ids from Jaeger/Zipkin are zero-extended on the left).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub [u8; 16]);

/// A 64-bit span id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(pub [u8; 8]);

impl TraceId {
    pub fn from_parts(high: u64, low: u64) -> TraceId {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&high.to_be_bytes());
        b[8..].copy_from_slice(&low.to_be_bytes());
        TraceId(b)
    }
    pub fn high(&self) -> u64 {
        u64::from_be_bytes(self.0[..8].try_into().unwrap_or_default())
    }
    pub fn low(&self) -> u64 {
        u64::from_be_bytes(self.0[8..].try_into().unwrap_or_default())
    }
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }
    /// From raw bytes: 16 bytes, or 8 bytes (a 64-bit id).
    pub fn from_slice(b: &[u8]) -> Option<TraceId> {
        match b.len() {
            16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(b);
                Some(TraceId(a))
            }
            8 => {
                let mut a = [0u8; 16];
                a[8..].copy_from_slice(b);
                Some(TraceId(a))
            }
            _ => None,
        }
    }
    /// Parses 1 to 32 hex digits (shorter ids are zero-extended on the left, as Jaeger and
    /// Zipkin accept 64-bit ids and ids without leading zeros).
    pub fn parse_hex(s: &str) -> Option<TraceId> {
        let s = s.trim();
        if s.is_empty() || s.len() > 32 {
            return None;
        }
        let v = u128::from_str_radix(s, 16).ok()?;
        if !s.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        Some(TraceId(v.to_be_bytes()))
    }
    /// 32 lowercase hex digits (OTLP, Tempo, Zipkin 128-bit).
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
    /// Jaeger's rendering: 16 hex digits when the high half is zero, else 32.
    pub fn to_jaeger(&self) -> String {
        if self.high() == 0 {
            hex(&self.0[8..])
        } else {
            hex(&self.0)
        }
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl SpanId {
    pub fn from_u64(v: u64) -> SpanId {
        SpanId(v.to_be_bytes())
    }
    pub fn as_u64(&self) -> u64 {
        u64::from_be_bytes(self.0)
    }
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 8]
    }
    pub fn from_slice(b: &[u8]) -> Option<SpanId> {
        if b.len() != 8 {
            return None;
        }
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(SpanId(a))
    }
    /// Parses 1 to 16 hex digits.
    pub fn parse_hex(s: &str) -> Option<SpanId> {
        let s = s.trim();
        if s.is_empty() || s.len() > 16 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        u64::from_str_radix(s, 16).ok().map(SpanId::from_u64)
    }
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Lowercase hex of bytes.
pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    push_hex(&mut s, b);
    s
}

/// Appends the lowercase hex of bytes to `s`.
pub fn push_hex(s: &mut String, b: &[u8]) {
    const D: &[u8; 16] = b"0123456789abcdef";
    for &x in b {
        s.push(D[(x >> 4) as usize] as char);
        s.push(D[(x & 15) as usize] as char);
    }
}

/// An attribute value (OTLP `AnyValue`).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(String),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    Map(Vec<KeyValue>),
}

impl Value {
    /// The value as text, as Jaeger's tag search and span metrics labels compare it.
    pub fn as_text(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Double(d) => d.to_string(),
            Value::Bytes(b) => hex(b),
            Value::Array(_) | Value::Map(_) => self.to_json().to_string(),
        }
    }
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Double(d) => serde_json::Number::from_f64(*d)
                .map(serde_json::Value::Number)
                .unwrap_or_else(|| serde_json::Value::String(d.to_string())),
            Value::Bytes(b) => serde_json::Value::String(hex(b)),
            Value::Array(a) => serde_json::Value::Array(a.iter().map(Value::to_json).collect()),
            Value::Map(m) => serde_json::Value::Object(
                m.iter()
                    .map(|kv| (kv.key.clone(), kv.value.to_json()))
                    .collect(),
            ),
        }
    }
    /// Rough heap size, for limits.
    pub fn size(&self) -> usize {
        match self {
            Value::Str(s) => s.len(),
            Value::Bytes(b) => b.len(),
            Value::Array(a) => a.iter().map(Value::size).sum(),
            Value::Map(m) => m.iter().map(KeyValue::size).sum(),
            _ => 8,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct KeyValue {
    pub key: String,
    pub value: Value,
}

impl KeyValue {
    pub fn new(key: impl Into<String>, value: Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value,
        }
    }
    pub fn str(key: impl Into<String>, value: impl Into<String>) -> KeyValue {
        KeyValue::new(key, Value::Str(value.into()))
    }
    pub fn size(&self) -> usize {
        self.key.len() + self.value.size()
    }
}

/// Finds an attribute by key.
pub fn find<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs.iter().find(|kv| kv.key == key).map(|kv| &kv.value)
}

/// The process/resource that emitted spans. `service` is `service.name` (or Jaeger's
/// `serviceName`, Zipkin's `localEndpoint.serviceName`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resource {
    pub service: String,
    /// Every resource attribute, `service.name` included.
    pub attributes: Vec<KeyValue>,
}

impl Resource {
    pub fn new(attributes: Vec<KeyValue>) -> Resource {
        let service = match find(&attributes, "service.name") {
            Some(Value::Str(s)) if !s.is_empty() => s.clone(),
            _ => "unknown_service".to_string(),
        };
        Resource {
            service,
            attributes,
        }
    }
}

/// Instrumentation scope (library) that produced spans.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scope {
    pub name: String,
    pub version: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SpanKind {
    #[default]
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl SpanKind {
    pub fn from_otlp(v: i32) -> SpanKind {
        match v {
            1 => SpanKind::Internal,
            2 => SpanKind::Server,
            3 => SpanKind::Client,
            4 => SpanKind::Producer,
            5 => SpanKind::Consumer,
            _ => SpanKind::Unspecified,
        }
    }
    pub fn to_otlp(self) -> i32 {
        match self {
            SpanKind::Unspecified => 0,
            SpanKind::Internal => 1,
            SpanKind::Server => 2,
            SpanKind::Client => 3,
            SpanKind::Producer => 4,
            SpanKind::Consumer => 5,
        }
    }
    /// Jaeger's `span.kind` tag value ("" for unspecified).
    pub fn jaeger_name(self) -> &'static str {
        match self {
            SpanKind::Unspecified => "",
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        }
    }
    /// Parses Jaeger's/Zipkin's spelling (case-insensitive).
    pub fn parse(s: &str) -> Option<SpanKind> {
        Some(match s.to_ascii_lowercase().as_str() {
            "internal" | "span_kind_internal" => SpanKind::Internal,
            "server" | "span_kind_server" => SpanKind::Server,
            "client" | "span_kind_client" => SpanKind::Client,
            "producer" | "span_kind_producer" => SpanKind::Producer,
            "consumer" | "span_kind_consumer" => SpanKind::Consumer,
            "" | "unspecified" | "span_kind_unspecified" => SpanKind::Unspecified,
            _ => return None,
        })
    }
    /// The label value Tempo's metrics-generator uses (`SPAN_KIND_SERVER`, ...).
    pub fn tempo_name(self) -> &'static str {
        match self {
            SpanKind::Unspecified => "SPAN_KIND_UNSPECIFIED",
            SpanKind::Internal => "SPAN_KIND_INTERNAL",
            SpanKind::Server => "SPAN_KIND_SERVER",
            SpanKind::Client => "SPAN_KIND_CLIENT",
            SpanKind::Producer => "SPAN_KIND_PRODUCER",
            SpanKind::Consumer => "SPAN_KIND_CONSUMER",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum StatusCode {
    #[default]
    Unset,
    Ok,
    Error,
}

impl StatusCode {
    pub fn from_otlp(v: i32) -> StatusCode {
        match v {
            1 => StatusCode::Ok,
            2 => StatusCode::Error,
            _ => StatusCode::Unset,
        }
    }
    pub fn to_otlp(self) -> i32 {
        match self {
            StatusCode::Unset => 0,
            StatusCode::Ok => 1,
            StatusCode::Error => 2,
        }
    }
    /// Tempo's label value (`STATUS_CODE_ERROR`, ...).
    pub fn tempo_name(self) -> &'static str {
        match self {
            StatusCode::Unset => "STATUS_CODE_UNSET",
            StatusCode::Ok => "STATUS_CODE_OK",
            StatusCode::Error => "STATUS_CODE_ERROR",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub time_ns: u64,
    pub name: String,
    pub attributes: Vec<KeyValue>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub trace_state: String,
    pub attributes: Vec<KeyValue>,
    /// Jaeger `FOLLOWS_FROM` references become links marked this way.
    pub follows_from: bool,
}

/// One span. `resource` and `scope` are shared by the spans of one batch.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// Zero when the span is a root.
    pub parent_span_id: SpanId,
    pub trace_state: String,
    pub name: String,
    pub kind: SpanKind,
    pub start_ns: u64,
    pub end_ns: u64,
    pub resource: Arc<Resource>,
    pub scope: Arc<Scope>,
    pub attributes: Vec<KeyValue>,
    pub events: Vec<Event>,
    pub links: Vec<Link>,
    pub status_code: StatusCode,
    pub status_message: String,
    pub flags: u32,
}

impl Span {
    pub fn service(&self) -> &str {
        &self.resource.service
    }
    pub fn duration_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }
    pub fn is_root(&self) -> bool {
        self.parent_span_id.is_zero()
    }
    /// Rough encoded size (attributes, events, links, names), for the span size limit.
    pub fn size(&self) -> usize {
        64 + self.name.len()
            + self.status_message.len()
            + self.attributes.iter().map(KeyValue::size).sum::<usize>()
            + self
                .events
                .iter()
                .map(|e| 16 + e.name.len() + e.attributes.iter().map(KeyValue::size).sum::<usize>())
                .sum::<usize>()
            + self
                .links
                .iter()
                .map(|l| 32 + l.attributes.iter().map(KeyValue::size).sum::<usize>())
                .sum::<usize>()
    }
    /// An attribute of the span, or else of its resource.
    pub fn attribute(&self, key: &str) -> Option<&Value> {
        find(&self.attributes, key).or_else(|| find(&self.resource.attributes, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        let t = TraceId::parse_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        assert_eq!(t.to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.to_jaeger(), t.to_hex());
        let short = TraceId::parse_hex("abc").unwrap();
        assert_eq!(short.to_jaeger(), "0000000000000abc");
        assert_eq!(short, TraceId::from_parts(0, 0xabc));
        assert!(TraceId::parse_hex("xyz").is_none());
        assert!(TraceId::parse_hex("+1").is_none());
        assert!(TraceId::parse_hex(&"1".repeat(33)).is_none());
        assert_eq!(
            SpanId::parse_hex("00f067aa0ba902b7").unwrap().to_hex(),
            "00f067aa0ba902b7"
        );
        assert_eq!(TraceId::from_slice(&[1; 8]).unwrap().high(), 0);
    }

    #[test]
    fn resource_service() {
        assert_eq!(Resource::new(vec![]).service, "unknown_service");
        assert_eq!(
            Resource::new(vec![KeyValue::str("service.name", "api")]).service,
            "api"
        );
    }
}
