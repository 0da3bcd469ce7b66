//! Trace store of pharos (the Jaeger/Zipkin/Tempo replacement): one span model
//! ([`span`]), decoders for every ingest protocol ([`otlp`], [`jaeger_thrift`], [`zipkin`]), a
//! WAL-backed store grouping spans by trace with trace/service/operation/time/duration/tag
//! indexes ([`store`]), the Jaeger and Zipkin JSON shapes of query results ([`jaeger_json`],
//! [`zipkin`]), span metrics and the service dependency graph ([`spanmetrics`]).
//!
//! Dependencies: `opentelemetry-proto` + `prost` (OTLP types, also the WAL record format),
//! `zstd` (WAL record compression).

pub mod deletes;
#[cfg(test)]
mod fuzz_tests;
pub mod jaeger_json;
pub mod jaeger_thrift;
pub mod otlp;
pub mod pbdecode;
pub mod query;
pub mod segment;
pub mod span;
pub mod spanmetrics;
pub mod store;
pub mod tenant;
pub mod wal;
pub mod wire;
pub mod zipkin;

pub use span::{Span, SpanId, SpanKind, StatusCode, TraceId};
pub use store::{TraceStore, TraceStoreOptions};

/// A request body that could not be decoded; the message says where and why (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);
