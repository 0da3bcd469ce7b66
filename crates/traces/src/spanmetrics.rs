//! APM from spans: per (service, span name, kind, status) call counters and duration
//! histograms, and service-graph edge counters, kept cumulative in memory and written into the
//! TSDB through [`model::MetricSink`] on every flush, with Tempo metrics-generator names:
//! `traces_spanmetrics_calls_total{service,span_name,span_kind,status_code}`,
//! `traces_spanmetrics_duration_seconds_{bucket,sum,count}` (Tempo's default buckets 2ms·2^n up
//! to 16.384s) and `traces_service_graph_request_total{client,server}` /
//! `traces_service_graph_request_failed_total`. The state is saved with the WAL position it
//! covers, so after a restart the store re-observes only the spans the snapshot missed: counters
//! stay exact and monotonic across restarts.

use crate::span::{Span, StatusCode};
use crate::wal::WalPos;
use model::exemplars::Exemplar;
use model::{Labels, MetricSink, Sample, Series, StorageError};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Tempo's default span-metrics histogram buckets (seconds).
pub const DEFAULT_BUCKETS: [f64; 14] = [
    0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192,
    16.384,
];

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
struct Agg {
    calls: u64,
    sum: f64,
    /// Non-cumulative counts per bucket; the last slot is +Inf.
    buckets: Vec<u64>,
    /// The latest span per bucket, the bucket's exemplar (same slots as `buckets`).
    #[serde(default)]
    exemplars: Vec<Option<BucketExemplar>>,
}

/// The span that last fell into a bucket: its exemplar links the bucket to the trace.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
struct BucketExemplar {
    trace_id: String,
    span_id: String,
    /// Duration in seconds.
    value: f64,
    /// Span end, ms.
    ts_ms: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
struct EdgeAgg {
    total: u64,
    failed: u64,
}

#[derive(Default, Serialize, Deserialize)]
struct State {
    /// Key: service \x1f span_name \x1f span_kind \x1f status_code.
    spans: BTreeMap<String, Agg>,
    /// Key: client \x1f server.
    edges: BTreeMap<String, EdgeAgg>,
    /// WAL position up to which spans are counted.
    pos: Option<WalPos>,
}

pub struct SpanMetrics {
    state: Mutex<State>,
    buckets: Vec<f64>,
    file: Option<PathBuf>,
}

impl SpanMetrics {
    /// In-memory only (tests).
    pub fn new() -> SpanMetrics {
        SpanMetrics {
            state: Mutex::new(State::default()),
            buckets: DEFAULT_BUCKETS.to_vec(),
            file: None,
        }
    }

    /// Loads the saved state from `file` if there is one (a corrupt file starts from zero with a
    /// warning: counters then reset, which `rate()` handles).
    pub fn open(file: &Path) -> SpanMetrics {
        let state = match std::fs::read(file) {
            Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
                tracing::warn!(
                    "ignoring unreadable span metrics state {}: {e}",
                    file.display()
                );
                State::default()
            }),
            Err(_) => State::default(),
        };
        SpanMetrics {
            state: Mutex::new(state),
            buckets: DEFAULT_BUCKETS.to_vec(),
            file: Some(file.to_path_buf()),
        }
    }

    /// The WAL position the loaded state covers.
    pub fn position(&self) -> Option<WalPos> {
        self.state.lock().pos
    }

    /// Counts spans of one WAL record ending at `pos`.
    pub fn observe<'a>(&self, spans: impl IntoIterator<Item = &'a Span>, pos: Option<WalPos>) {
        let mut st = self.state.lock();
        // Keys and exemplar ids are written into reused strings: no allocation per span once a
        // series exists.
        let mut key = String::new();
        for s in spans {
            key.clear();
            for (i, part) in [
                s.service(),
                &s.name,
                s.kind.tempo_name(),
                s.status_code.tempo_name(),
            ]
            .into_iter()
            .enumerate()
            {
                if i > 0 {
                    key.push('\x1f');
                }
                key.push_str(part);
            }
            let secs = s.duration_ns() as f64 / 1e9;
            let n = self.buckets.len();
            let agg = match st.spans.get_mut(key.as_str()) {
                Some(agg) => agg,
                None => st.spans.entry(key.clone()).or_insert_with(|| Agg {
                    calls: 0,
                    sum: 0.0,
                    buckets: vec![0; n + 1],
                    exemplars: vec![None; n + 1],
                }),
            };
            agg.calls += 1;
            agg.sum += secs;
            let i = self.buckets.iter().position(|b| secs <= *b).unwrap_or(n);
            if let Some(c) = agg.buckets.get_mut(i) {
                *c += 1;
            }
            agg.exemplars.resize(n + 1, None);
            if let Some(e) = agg.exemplars.get_mut(i) {
                let e = e.get_or_insert_with(BucketExemplar::default);
                e.trace_id.clear();
                crate::span::push_hex(&mut e.trace_id, &s.trace_id.0);
                e.span_id.clear();
                crate::span::push_hex(&mut e.span_id, &s.span_id.0);
                e.value = secs;
                e.ts_ms = (s.end_ns / 1_000_000) as i64;
            }
        }
        if pos.is_some() {
            st.pos = pos;
        }
    }

    /// Counts one service-graph edge (a span of `server` whose parent belongs to `client`).
    pub fn observe_edge(&self, client: &str, server: &str, failed: bool) {
        let mut key = String::with_capacity(client.len() + server.len() + 1);
        key.push_str(client);
        key.push('\x1f');
        key.push_str(server);
        let mut st = self.state.lock();
        let e = st.edges.entry(key).or_default();
        e.total += 1;
        if failed {
            e.failed += 1;
        }
    }

    /// Every series with its current cumulative value at `t_ms`.
    pub fn series(&self, t_ms: i64) -> Vec<Series> {
        self.series_and_exemplars(t_ms).0
    }

    /// The duration-bucket exemplars: per bucket series, the latest span that fell into it
    /// (`trace_id`, `span_id`, duration in seconds, span end time).
    pub fn exemplars(&self) -> Vec<(Labels, Exemplar)> {
        self.series_and_exemplars(0).1
    }

    fn series_and_exemplars(&self, t_ms: i64) -> (Vec<Series>, Vec<(Labels, Exemplar)>) {
        let st = self.state.lock();
        let mut out = Vec::new();
        let mut exemplars = Vec::new();
        let one = |labels: Labels, v: f64| Series {
            labels,
            samples: vec![Sample { t: t_ms, v }],
        };
        for (key, agg) in &st.spans {
            let mut parts = key.split('\x1f');
            let (service, name, kind, status) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            );
            let base = [
                ("service", service),
                ("span_kind", kind),
                ("span_name", name),
                ("status_code", status),
            ];
            let with = |metric: &str, extra: Option<(&str, &str)>| {
                let mut v: Vec<(&str, &str)> = vec![("__name__", metric)];
                v.extend(base);
                if let Some(e) = extra {
                    v.push(e);
                }
                Labels::from_pairs(v)
            };
            out.push(one(
                with("traces_spanmetrics_calls_total", None),
                agg.calls as f64,
            ));
            out.push(one(
                with("traces_spanmetrics_duration_seconds_count", None),
                agg.calls as f64,
            ));
            out.push(one(
                with("traces_spanmetrics_duration_seconds_sum", None),
                agg.sum,
            ));
            let mut cum = 0u64;
            for (i, c) in agg.buckets.iter().enumerate() {
                cum += c;
                let le = match self.buckets.get(i) {
                    Some(b) => format_le(*b),
                    None => "+Inf".to_string(),
                };
                let labels = with(
                    "traces_spanmetrics_duration_seconds_bucket",
                    Some(("le", &le)),
                );
                if let Some(Some(e)) = agg.exemplars.get(i) {
                    exemplars.push((
                        labels.clone(),
                        Exemplar {
                            labels: Labels::from_pairs([
                                ("span_id", e.span_id.as_str()),
                                ("trace_id", e.trace_id.as_str()),
                            ]),
                            value: e.value,
                            ts: e.ts_ms,
                        },
                    ));
                }
                out.push(one(labels, cum as f64));
            }
        }
        for (key, e) in &st.edges {
            let (client, server) = key.split_once('\x1f').unwrap_or((key, ""));
            for (metric, v) in [
                ("traces_service_graph_request_total", e.total),
                ("traces_service_graph_request_failed_total", e.failed),
            ] {
                out.push(one(
                    Labels::from_pairs([
                        ("__name__", metric),
                        ("client", client),
                        ("server", server),
                    ]),
                    v as f64,
                ));
            }
        }
        (out, exemplars)
    }

    /// Writes every series at `t_ms` into `sink`, then saves the state (with its WAL position)
    /// so a restart continues the counters.
    pub fn flush(&self, sink: &dyn MetricSink, t_ms: i64) -> Result<usize, StorageError> {
        let series = self.series(t_ms);
        if !series.is_empty() {
            sink.append_series(&series)?;
        }
        self.save()?;
        Ok(series.len())
    }

    /// Saves the state file atomically (write to temp, fsync, rename).
    pub fn save(&self) -> Result<(), StorageError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let body = {
            let st = self.state.lock();
            serde_json::to_vec(&*st).map_err(|e| StorageError::Io(e.to_string()))?
        };
        let tmp = file.with_extension("tmp");
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&body)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, file)?;
        Ok(())
    }
}

impl Default for SpanMetrics {
    fn default() -> Self {
        SpanMetrics::new()
    }
}

/// Formats a bucket bound as Prometheus client libraries do (`0.002`, `1.024`, `16.384`).
fn format_le(b: f64) -> String {
    let s = format!("{b}");
    if s.contains('.') || s.contains('e') {
        s
    } else {
        format!("{s}.0")
    }
}

/// True when the span counts as failed for the service graph.
pub fn failed(s: &Span) -> bool {
    s.status_code == StatusCode::Error
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::*;
    use std::sync::Arc;

    fn span(ms: u64, status: StatusCode) -> Span {
        Span {
            trace_id: TraceId::from_parts(0, 1),
            span_id: SpanId::from_u64(1),
            parent_span_id: SpanId::default(),
            trace_state: String::new(),
            name: "GET /".into(),
            kind: SpanKind::Server,
            start_ns: 0,
            end_ns: ms * 1_000_000,
            resource: Arc::new(Resource::new(vec![KeyValue::str("service.name", "api")])),
            scope: Arc::new(Scope::default()),
            attributes: vec![],
            events: vec![],
            links: vec![],
            status_code: status,
            status_message: String::new(),
            flags: 0,
        }
    }

    #[test]
    fn bucket_exemplars_carry_the_trace_id() {
        let m = SpanMetrics::new();
        m.observe(&[span(3, StatusCode::Unset)], None);
        let ex = m.exemplars();
        assert_eq!(ex.len(), 1);
        let (labels, e) = &ex[0];
        assert_eq!(labels.get("le"), Some("0.004"));
        assert_eq!(
            labels.metric_name(),
            Some("traces_spanmetrics_duration_seconds_bucket")
        );
        assert_eq!(
            e.labels.get("trace_id"),
            Some(TraceId::from_parts(0, 1).to_hex().as_str())
        );
        assert_eq!((e.value, e.ts), (0.003, 3));
    }

    #[test]
    fn cumulative_series() {
        let m = SpanMetrics::new();
        m.observe(
            &[
                span(1, StatusCode::Unset),
                span(3, StatusCode::Unset),
                span(20_000, StatusCode::Unset),
            ],
            None,
        );
        m.observe(&[span(5, StatusCode::Error)], Some((1, 10)));
        m.observe_edge("web", "api", true);
        let s = m.series(1000);
        let get = |name: &str, extra: &[(&str, &str)]| {
            s.iter()
                .find(|x| {
                    x.labels.get("__name__") == Some(name)
                        && x.labels.get("status_code") != Some("STATUS_CODE_ERROR")
                        && extra.iter().all(|(k, v)| x.labels.get(k) == Some(*v))
                })
                .map(|x| x.samples[0].v)
        };
        assert_eq!(get("traces_spanmetrics_calls_total", &[]), Some(3.0));
        assert_eq!(
            get(
                "traces_spanmetrics_duration_seconds_bucket",
                &[("le", "0.002")]
            ),
            Some(1.0)
        );
        assert_eq!(
            get(
                "traces_spanmetrics_duration_seconds_bucket",
                &[("le", "0.004")]
            ),
            Some(2.0)
        );
        assert_eq!(
            get(
                "traces_spanmetrics_duration_seconds_bucket",
                &[("le", "16.384")]
            ),
            Some(2.0)
        );
        assert_eq!(
            get(
                "traces_spanmetrics_duration_seconds_bucket",
                &[("le", "+Inf")]
            ),
            Some(3.0)
        );
        assert_eq!(
            get(
                "traces_service_graph_request_failed_total",
                &[("client", "web")]
            ),
            Some(1.0)
        );
        assert_eq!(m.position(), Some((1, 10)));
    }

    #[test]
    fn state_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("sm.json");
        let m = SpanMetrics::open(&f);
        m.observe(&[span(1, StatusCode::Ok)], Some((2, 99)));
        let mem = model::MemStorage::default();
        m.flush(&mem, 1000).unwrap();
        let m2 = SpanMetrics::open(&f);
        assert_eq!(m2.position(), Some((2, 99)));
        assert_eq!(m2.series(1).len(), m.series(1).len());
    }
}
