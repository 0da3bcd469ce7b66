//! pharos.yml `traces:` (trace store retention, ingest limits, span metrics) and `listeners:`
//! (compatibility listeners on the peers' default ports, e.g. Jaeger 14268, Zipkin 9411, OTLP
//! 4317/4318). Every key is optional; sizes take units (`16MB`), durations Prometheus syntax.

use crate::pharos::parse_bytes;
use crate::{locate, ConfigError};
use model::time::PromDuration;
use serde::Deserialize;
use serde_yaml_ng::Value;
use std::path::Path;

/// Trace settings after defaults are applied.
#[derive(Clone, Debug, PartialEq)]
pub struct TracesSettings {
    /// 0 = keep forever.
    pub retention_ms: i64,
    pub max_request_bytes: u64,
    pub max_span_bytes: u64,
    pub max_attributes_per_span: usize,
    /// Spans per second, 0 = unlimited.
    pub ingestion_rate_spans: u64,
    pub ingestion_burst_spans: u64,
    pub span_metrics_enabled: bool,
    pub span_metrics_flush_interval_ms: i64,
    /// Spans the in-memory head holds before its oldest traces are compacted to a segment file.
    pub head_max_spans: usize,
    /// How long a trace delete request can be cancelled before its spans leave the segments
    /// (Loki's `compactor.delete_request_cancel_period`).
    pub delete_request_cancel_period_ms: i64,
}

impl Default for TracesSettings {
    fn default() -> Self {
        TracesSettings {
            retention_ms: 7 * 24 * 3_600_000,
            max_request_bytes: 16 << 20,
            max_span_bytes: 1 << 20,
            max_attributes_per_span: 1000,
            ingestion_rate_spans: 0,
            ingestion_burst_spans: 0,
            span_metrics_enabled: true,
            span_metrics_flush_interval_ms: 15_000,
            head_max_spans: 100_000,
            delete_request_cancel_period_ms: 24 * 3_600_000,
        }
    }
}

/// Optional extra listeners, each serving the peer's protocol on its own address.
/// Other signals add their peers' ports here (e.g. `loki`, `alertmanager`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerSettings {
    /// Jaeger collector HTTP (`POST /api/traces`) and query API; Jaeger's port is 14268.
    #[serde(default)]
    pub jaeger: Option<String>,
    /// Zipkin v2 API; Zipkin's port is 9411.
    #[serde(default)]
    pub zipkin: Option<String>,
    /// OTLP/HTTP (`/v1/traces`); OTLP's port is 4318.
    #[serde(default)]
    pub otlp_http: Option<String>,
    /// OTLP/gRPC; OTLP's port is 4317.
    #[serde(default)]
    pub otlp_grpc: Option<String>,
    /// Alertmanager API v2 (`/api/v2/*`); Alertmanager's port is 9093.
    #[serde(default)]
    pub alertmanager: Option<String>,
    /// Jaeger agent UDP, Thrift compact `emitBatch` (Go/Java/Python clients); Jaeger's port is 6831.
    #[serde(default)]
    pub jaeger_agent_compact: Option<String>,
    /// Jaeger agent UDP, Thrift binary `emitBatch` (Node clients); Jaeger's port is 6832.
    #[serde(default)]
    pub jaeger_agent_binary: Option<String>,
    /// Elasticsearch API (`/_bulk`, `/{index}/_search`, ...); Elasticsearch's port is 9200.
    #[serde(default)]
    pub elasticsearch: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TracesLimits {
    #[serde(default)]
    max_request_bytes: Option<Value>,
    #[serde(default)]
    max_span_bytes: Option<Value>,
    #[serde(default)]
    max_attributes_per_span: Option<usize>,
    #[serde(default)]
    ingestion_rate_spans: Option<u64>,
    #[serde(default)]
    ingestion_burst_spans: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SpanMetricsSection {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    flush_interval: Option<PromDuration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TracesSection {
    #[serde(default)]
    retention: Option<PromDuration>,
    #[serde(default)]
    limits: TracesLimits,
    #[serde(default)]
    span_metrics: SpanMetricsSection,
    #[serde(default)]
    head_max_spans: Option<usize>,
    #[serde(default)]
    delete_request_cancel_period: Option<PromDuration>,
}

fn size(file: &Path, text: &str, key: &str, v: &Option<Value>) -> Result<Option<u64>, ConfigError> {
    let Some(v) = v else { return Ok(None) };
    let s = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => String::new(),
    };
    parse_bytes(&s).map(Some).map_err(|m| {
        let (l, c) = locate(text, key, 1);
        ConfigError::at(file, l, c, format!("traces.limits.{key}: {m}"))
    })
}

impl TracesSection {
    pub(crate) fn resolve(self, file: &Path, text: &str) -> Result<TracesSettings, ConfigError> {
        let mut s = TracesSettings::default();
        if let Some(r) = self.retention {
            s.retention_ms = r.0;
        }
        if let Some(p) = self.delete_request_cancel_period {
            s.delete_request_cancel_period_ms = p.0;
        }
        let l = &self.limits;
        if let Some(v) = size(file, text, "max_request_bytes", &l.max_request_bytes)? {
            s.max_request_bytes = v;
        }
        if let Some(v) = size(file, text, "max_span_bytes", &l.max_span_bytes)? {
            s.max_span_bytes = v;
        }
        if let Some(v) = l.max_attributes_per_span {
            s.max_attributes_per_span = v;
        }
        if let Some(v) = l.ingestion_rate_spans {
            s.ingestion_rate_spans = v;
        }
        if let Some(v) = l.ingestion_burst_spans {
            s.ingestion_burst_spans = v;
        }
        if let Some(v) = self.head_max_spans {
            if v == 0 {
                let (l, c) = locate(text, "head_max_spans", 1);
                return Err(ConfigError::at(
                    file,
                    l,
                    c,
                    "traces.head_max_spans must be positive",
                ));
            }
            s.head_max_spans = v;
        }
        if let Some(v) = self.span_metrics.enabled {
            s.span_metrics_enabled = v;
        }
        if let Some(v) = self.span_metrics.flush_interval {
            if v.0 <= 0 {
                let (l, c) = locate(text, "flush_interval", 1);
                return Err(ConfigError::at(
                    file,
                    l,
                    c,
                    "traces.span_metrics.flush_interval must be positive",
                ));
            }
            s.span_metrics_flush_interval_ms = v.0;
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn traces_and_listeners() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pharos.yml");
        std::fs::write(
            &p,
            "traces:\n  retention: 2d\n  delete_request_cancel_period: 10m\n  head_max_spans: 5000\n  limits:\n    max_request_bytes: 4MB\n    ingestion_rate_spans: 100\n  span_metrics:\n    flush_interval: 1s\nlisteners:\n  jaeger: 127.0.0.1:14268\n  otlp_grpc: 127.0.0.1:0\n",
        )
        .unwrap();
        let c = crate::load(&p).unwrap();
        assert_eq!(c.traces.retention_ms, 2 * 86_400_000);
        assert_eq!(c.traces.delete_request_cancel_period_ms, 600_000);
        assert_eq!(c.traces.max_request_bytes, 4_000_000);
        assert_eq!(c.traces.ingestion_rate_spans, 100);
        assert_eq!(c.traces.span_metrics_flush_interval_ms, 1000);
        assert_eq!(c.traces.head_max_spans, 5000);
        assert_eq!(c.listeners.jaeger.as_deref(), Some("127.0.0.1:14268"));
        assert_eq!(c.listeners.zipkin, None);
        std::fs::write(&p, "traces:\n  limits:\n    max_span_bytes: 5XB\n").unwrap();
        let e = crate::load(&p).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        std::fs::write(&p, "traces:\n  head_max_spans: 0\n").unwrap();
        let e = crate::load(&p).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        std::fs::write(&p, "listeners:\n  jeager: x\n").unwrap();
        let e = crate::load(&p).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
    }
}
