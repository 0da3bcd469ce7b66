//! The embedded trace store: spans are appended to the WAL (fsync) before an ingest call
//! returns, then indexed in memory: spans grouped by trace (late spans join their trace), and
//! indexes by trace id, service (with span start time), operation (with span kind), trace start
//! time and tag values (hashed `key=value` → traces). Duration and the remaining predicates are
//! checked span by span on the candidates. Startup replays the WAL; retention drops old traces
//! and whole WAL segments. Limits (span size, attribute count, ingest rate) reject a request
//! before anything is written.

use crate::query::TraceQuery;
use crate::span::{Span, SpanKind, TraceId};
use crate::spanmetrics::{self, SpanMetrics};
use crate::wal::Wal;
use crate::{otlp, DecodeError};
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Settings from `traces:` in pharos.yml.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceStoreOptions {
    /// Traces whose last span ended longer ago are dropped. 0 keeps everything.
    pub retention_ns: u64,
    /// A span larger than this (names, attributes, events, links) is rejected with 413.
    pub max_span_bytes: usize,
    /// A span with more attributes is rejected with 400.
    pub max_attributes_per_span: usize,
    /// Sustained ingest rate in spans per second (0 = unlimited); beyond it requests get 429.
    pub ingestion_rate_spans: u64,
    /// Burst allowance of the rate limit, in spans.
    pub ingestion_burst_spans: u64,
    /// WAL segment size before a new segment is started.
    pub segment_bytes: u64,
    /// zstd level of WAL records.
    pub compression_level: i32,
}

impl Default for TraceStoreOptions {
    fn default() -> Self {
        TraceStoreOptions {
            retention_ns: 7 * 24 * 3600 * 1_000_000_000,
            max_span_bytes: 1 << 20,
            max_attributes_per_span: 1000,
            ingestion_rate_spans: 0,
            ingestion_burst_spans: 0,
            segment_bytes: 64 << 20,
            compression_level: 3,
        }
    }
}

/// Why an ingest call was refused; each maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// 400
    #[error("{0}")]
    BadInput(String),
    /// 413
    #[error("{0}")]
    TooLarge(String),
    /// 429
    #[error("{0}")]
    RateLimited(String),
    /// 500
    #[error("trace storage failure: {0}")]
    Io(String),
}

impl IngestError {
    pub fn http_status(&self) -> u16 {
        match self {
            IngestError::BadInput(_) => 400,
            IngestError::TooLarge(_) => 413,
            IngestError::RateLimited(_) => 429,
            IngestError::Io(_) => 500,
        }
    }
}

impl From<DecodeError> for IngestError {
    fn from(e: DecodeError) -> Self {
        IngestError::BadInput(e.0)
    }
}

impl From<std::io::Error> for IngestError {
    fn from(e: std::io::Error) -> Self {
        IngestError::Io(e.to_string())
    }
}

struct TraceEntry {
    spans: Vec<Arc<Span>>,
    start_ns: u64,
    end_ns: u64,
}

#[derive(Default)]
struct ServiceIdx {
    operations: BTreeMap<String, BTreeSet<SpanKind>>,
    /// (span start, trace number) of every span of the service.
    spans: BTreeSet<(u64, u32)>,
}

#[derive(Default)]
struct Index {
    next_no: u32,
    traces: HashMap<u32, TraceEntry>,
    by_id: HashMap<TraceId, u32>,
    by_time: BTreeSet<(u64, u32)>,
    services: BTreeMap<String, ServiceIdx>,
    tags: HashMap<u64, Vec<u32>>,
    /// (minute, parent service, child service) → calls.
    edges: BTreeMap<(u64, String, String), u64>,
    spans: usize,
}

/// A new cross-service parent → child edge found while indexing.
struct Edge {
    client: String,
    server: String,
    failed: bool,
}

const MAX_TAG_VALUE: usize = 256;
const MINUTE_NS: u64 = 60_000_000_000;

fn tag_hash(key: &str, value: &str) -> u64 {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    value.hash(&mut h);
    h.finish()
}

impl Index {
    fn index_tag(&mut self, no: u32, key: &str, value: &crate::span::Value) {
        use crate::span::Value;
        let text = match value {
            Value::Array(_) | Value::Map(_) => return,
            v => v.as_text(),
        };
        if text.len() > MAX_TAG_VALUE {
            return;
        }
        let list = self.tags.entry(tag_hash(key, &text)).or_default();
        if list.last() != Some(&no) {
            list.push(no);
        }
    }

    /// Adds one span; returns cross-service edges it completes, or `None` for a duplicate.
    fn insert(&mut self, s: Arc<Span>) -> Option<Vec<Edge>> {
        let no = match self.by_id.get(&s.trace_id) {
            Some(&no) => no,
            None => {
                let no = self.next_no;
                self.next_no = self.next_no.wrapping_add(1);
                self.by_id.insert(s.trace_id, no);
                self.traces.insert(
                    no,
                    TraceEntry {
                        spans: Vec::new(),
                        start_ns: s.start_ns,
                        end_ns: s.end_ns,
                    },
                );
                self.by_time.insert((s.start_ns, no));
                no
            }
        };
        let mut edges = Vec::new();
        {
            let t = self.traces.get_mut(&no)?;
            if t.spans
                .iter()
                .any(|x| x.span_id == s.span_id && x.start_ns == s.start_ns)
            {
                return None;
            }
            for x in &t.spans {
                if !s.parent_span_id.is_zero() && x.span_id == s.parent_span_id {
                    if x.service() != s.service() {
                        edges.push(Edge {
                            client: x.service().to_string(),
                            server: s.service().to_string(),
                            failed: spanmetrics::failed(&s),
                        });
                    }
                } else if x.parent_span_id == s.span_id && x.service() != s.service() {
                    edges.push(Edge {
                        client: s.service().to_string(),
                        server: x.service().to_string(),
                        failed: spanmetrics::failed(x),
                    });
                }
            }
            if s.start_ns < t.start_ns {
                self.by_time.remove(&(t.start_ns, no));
                t.start_ns = s.start_ns;
                self.by_time.insert((t.start_ns, no));
            }
            t.end_ns = t.end_ns.max(s.end_ns);
            t.spans.push(s.clone());
        }
        let svc = self.services.entry(s.service().to_string()).or_default();
        svc.operations
            .entry(s.name.clone())
            .or_default()
            .insert(s.kind);
        svc.spans.insert((s.start_ns, no));
        for kv in s.attributes.iter().chain(s.resource.attributes.iter()) {
            self.index_tag(no, &kv.key, &kv.value);
        }
        for e in &s.events {
            for kv in &e.attributes {
                self.index_tag(no, &kv.key, &kv.value);
            }
        }
        for e in &edges {
            *self
                .edges
                .entry((s.start_ns / MINUTE_NS, e.client.clone(), e.server.clone()))
                .or_default() += 1;
        }
        self.spans += 1;
        Some(edges)
    }

    fn remove_before(&mut self, cutoff_ns: u64) -> usize {
        let old: Vec<u32> = self
            .traces
            .iter()
            .filter(|(_, t)| t.end_ns < cutoff_ns)
            .map(|(no, _)| *no)
            .collect();
        if old.is_empty() {
            return 0;
        }
        let gone: HashSet<u32> = old.iter().copied().collect();
        for no in &old {
            if let Some(t) = self.traces.remove(no) {
                self.by_time.remove(&(t.start_ns, *no));
                for s in &t.spans {
                    if let Some(svc) = self.services.get_mut(s.service()) {
                        svc.spans.remove(&(s.start_ns, *no));
                    }
                    self.by_id.remove(&s.trace_id);
                }
                self.spans -= t.spans.len();
            }
        }
        self.services.retain(|_, s| !s.spans.is_empty());
        self.tags.retain(|_, l| {
            l.retain(|n| !gone.contains(n));
            !l.is_empty()
        });
        let minute = cutoff_ns / MINUTE_NS;
        self.edges = self
            .edges
            .split_off(&(minute, String::new(), String::new()));
        old.len()
    }
}

struct TokenBucket {
    tokens: f64,
    last: Instant,
}

/// Counters for `/metrics`-style reporting and the benchmark.
#[derive(Default)]
pub struct StoreStats {
    pub spans_received: AtomicU64,
    pub spans_refused: AtomicU64,
    pub requests_refused: AtomicU64,
}

pub struct TraceStore {
    opts: TraceStoreOptions,
    dir: PathBuf,
    wal: Mutex<Wal>,
    index: RwLock<Index>,
    metrics: Arc<SpanMetrics>,
    limiter: Mutex<TokenBucket>,
    pub stats: StoreStats,
}

/// Per-service counts for the status page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceStats {
    pub name: String,
    pub spans: usize,
    pub operations: usize,
}

/// What an ingest call stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestStats {
    pub spans: usize,
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl TraceStore {
    /// Opens (creating) the store in `dir` (`<data>/traces`), replaying its WAL.
    pub fn open(dir: &Path, opts: TraceStoreOptions) -> Result<Arc<TraceStore>, IngestError> {
        let wal_dir = dir.join("wal");
        std::fs::create_dir_all(&wal_dir)?;
        let metrics = Arc::new(SpanMetrics::open(&dir.join("spanmetrics.json")));
        let counted = metrics.position();
        let cutoff = if opts.retention_ns == 0 {
            0
        } else {
            now_ns().saturating_sub(opts.retention_ns)
        };
        let mut index = Index::default();
        let mut ends: Vec<(u64, u64)> = Vec::new();
        let mut bad = 0usize;
        let started = Instant::now();
        let mut w = Wal::open(&wal_dir, opts.segment_bytes, opts.compression_level)?;
        w.replay(|pos, payload| {
            let spans = match otlp::decode_traces_data(payload) {
                Ok(s) => s,
                Err(_) => {
                    bad += 1;
                    return;
                }
            };
            let max_end = spans.iter().map(|s| s.end_ns).max().unwrap_or(0);
            match ends.iter_mut().find(|(s, _)| *s == pos.0) {
                Some((_, m)) => *m = (*m).max(max_end),
                None => ends.push((pos.0, max_end)),
            }
            let recount = counted.is_none_or(|c| pos > c);
            if recount {
                metrics.observe(spans.iter(), Some(pos));
            }
            for s in spans {
                if s.end_ns < cutoff {
                    continue;
                }
                if let Some(edges) = index.insert(Arc::new(s)) {
                    if recount {
                        for e in edges {
                            metrics.observe_edge(&e.client, &e.server, e.failed);
                        }
                    }
                }
            }
        })?;
        if bad > 0 {
            tracing::warn!("{bad} undecodable records in the trace WAL were skipped");
        }
        tracing::info!(
            spans = index.spans,
            traces = index.traces.len(),
            ms = started.elapsed().as_millis() as u64,
            "trace WAL replayed"
        );
        for (seq, end) in ends {
            w.note_end(seq, end);
        }
        Ok(Arc::new(TraceStore {
            limiter: Mutex::new(TokenBucket {
                tokens: opts.ingestion_burst_spans.max(opts.ingestion_rate_spans) as f64,
                last: Instant::now(),
            }),
            opts,
            dir: dir.to_path_buf(),
            wal: Mutex::new(w),
            index: RwLock::new(index),
            metrics,
            stats: StoreStats::default(),
        }))
    }

    pub fn options(&self) -> &TraceStoreOptions {
        &self.opts
    }

    pub fn span_metrics(&self) -> &Arc<SpanMetrics> {
        &self.metrics
    }

    fn check_limits(&self, spans: &[Span]) -> Result<(), IngestError> {
        for s in spans {
            if s.attributes.len() > self.opts.max_attributes_per_span {
                return Err(IngestError::BadInput(format!(
                    "span {} ({:?}) has {} attributes, more than the limit of {} (traces.limits.max_attributes_per_span)",
                    s.span_id,
                    s.name,
                    s.attributes.len(),
                    self.opts.max_attributes_per_span
                )));
            }
            let size = s.size();
            if size > self.opts.max_span_bytes {
                return Err(IngestError::TooLarge(format!(
                    "span {} ({:?}) is {size} bytes, more than the limit of {} bytes (traces.limits.max_span_bytes)",
                    s.span_id, s.name, self.opts.max_span_bytes
                )));
            }
        }
        if self.opts.ingestion_rate_spans > 0 {
            let mut b = self.limiter.lock();
            let now = Instant::now();
            let rate = self.opts.ingestion_rate_spans as f64;
            let burst = self
                .opts
                .ingestion_burst_spans
                .max(self.opts.ingestion_rate_spans) as f64;
            b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * rate).min(burst);
            b.last = now;
            let n = spans.len() as f64;
            if n > b.tokens {
                return Err(IngestError::RateLimited(format!(
                    "ingestion rate limit of {} spans/s (burst {}) exceeded while adding {} spans; retry later",
                    self.opts.ingestion_rate_spans, burst, spans.len()
                )));
            }
            b.tokens -= n;
        }
        Ok(())
    }

    /// Stores spans: checks limits, appends them to the WAL and fsyncs, counts span metrics,
    /// then indexes them. When this returns `Ok`, the spans survive a crash.
    pub fn append(&self, spans: Vec<Span>) -> Result<IngestStats, IngestError> {
        if spans.is_empty() {
            return Ok(IngestStats::default());
        }
        if let Err(e) = self.check_limits(&spans) {
            self.stats.requests_refused.fetch_add(1, Ordering::Relaxed);
            self.stats
                .spans_refused
                .fetch_add(spans.len() as u64, Ordering::Relaxed);
            return Err(e);
        }
        let payload = otlp::encode_protobuf(&spans);
        let max_end = spans.iter().map(|s| s.end_ns).max().unwrap_or(0);
        {
            let mut w = self.wal.lock();
            let pos = w.append(&payload, max_end)?;
            self.metrics.observe(spans.iter(), Some(pos));
        }
        let n = spans.len();
        let mut edges = Vec::new();
        {
            let mut idx = self.index.write();
            for s in spans {
                if let Some(e) = idx.insert(Arc::new(s)) {
                    edges.extend(e);
                }
            }
        }
        for e in edges {
            self.metrics.observe_edge(&e.client, &e.server, e.failed);
        }
        self.stats
            .spans_received
            .fetch_add(n as u64, Ordering::Relaxed);
        Ok(IngestStats { spans: n })
    }

    /// The spans of a trace, ordered by start time.
    pub fn trace(&self, id: &TraceId) -> Option<Vec<Arc<Span>>> {
        let idx = self.index.read();
        let no = idx.by_id.get(id)?;
        let mut spans = idx.traces.get(no)?.spans.clone();
        spans.sort_by_key(|s| (s.start_ns, s.span_id));
        Some(spans)
    }

    /// Sorted service names.
    pub fn services(&self) -> Vec<String> {
        self.index.read().services.keys().cloned().collect()
    }

    /// Operations of a service with the span kinds they were seen with, sorted.
    pub fn operations(&self, service: &str) -> Vec<(String, SpanKind)> {
        let idx = self.index.read();
        let Some(s) = idx.services.get(service) else {
            return Vec::new();
        };
        s.operations
            .iter()
            .flat_map(|(n, kinds)| kinds.iter().map(move |k| (n.clone(), *k)))
            .collect()
    }

    /// Traces with at least one span matching `q`, newest first, at most `q.limit` (0 = 20).
    pub fn search(&self, q: &TraceQuery) -> Vec<Vec<Arc<Span>>> {
        let limit = if q.limit == 0 { 20 } else { q.limit };
        let idx = self.index.read();
        let mut out: Vec<(u64, u32)> = Vec::new();
        let check = |no: u32, out: &mut Vec<(u64, u32)>| {
            if let Some(t) = idx.traces.get(&no) {
                if t.spans.iter().any(|s| q.matches(s)) {
                    out.push((t.start_ns, no));
                }
            }
        };
        let tag_lists: Vec<Option<&Vec<u32>>> = q
            .tags
            .iter()
            .map(|(k, v)| idx.tags.get(&tag_hash(k, v)))
            .collect();
        // Tags Jaeger derives from span fields (span.kind, error, ...) are not in the index.
        let derived = |k: &str| {
            matches!(
                k,
                "span.kind"
                    | "error"
                    | "otel.status_code"
                    | "otel.status_description"
                    | "otel.scope.name"
                    | "otel.library.name"
                    | "event"
            )
        };
        let indexed: Vec<&Vec<u32>> = q
            .tags
            .iter()
            .zip(&tag_lists)
            .filter(|((k, _), _)| !derived(k))
            .filter_map(|(_, l)| *l)
            .collect();
        let missing = q
            .tags
            .iter()
            .zip(&tag_lists)
            .any(|((k, v), l)| l.is_none() && !derived(k) && v.len() <= MAX_TAG_VALUE);
        if missing {
            return Vec::new();
        }
        if let Some(smallest) = indexed.iter().min_by_key(|l| l.len()) {
            let mut seen = HashSet::new();
            for &no in smallest.iter() {
                if seen.insert(no) {
                    check(no, &mut out);
                }
            }
            out.sort_by(|a, b| b.cmp(a));
            out.truncate(limit);
        } else if let Some(svc) = q.service.as_ref() {
            let Some(s) = idx.services.get(svc) else {
                return Vec::new();
            };
            let mut seen = HashSet::new();
            for &(_, no) in s.spans.range((q.start_ns, 0)..=(q.end_ns, u32::MAX)).rev() {
                if seen.insert(no) {
                    check(no, &mut out);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
        } else {
            for &(_, no) in idx.by_time.range(..=(q.end_ns, u32::MAX)).rev() {
                check(no, &mut out);
                if out.len() >= limit {
                    break;
                }
            }
        }
        out.iter()
            .filter_map(|(_, no)| idx.traces.get(no))
            .map(|t| {
                let mut spans = t.spans.clone();
                spans.sort_by_key(|s| (s.start_ns, s.span_id));
                spans
            })
            .collect()
    }

    /// Parent → child service call counts from spans starting in `[start_ns, end_ns]`
    /// (minute precision).
    pub fn dependencies(&self, start_ns: u64, end_ns: u64) -> Vec<(String, String, u64)> {
        let idx = self.index.read();
        let mut sum: BTreeMap<(String, String), u64> = BTreeMap::new();
        let (a, b) = (start_ns / MINUTE_NS, end_ns / MINUTE_NS);
        for ((m, p, c), n) in idx.edges.range((a, String::new(), String::new())..) {
            if *m > b {
                break;
            }
            *sum.entry((p.clone(), c.clone())).or_default() += n;
        }
        sum.into_iter().map(|((p, c), n)| (p, c, n)).collect()
    }

    /// Drops traces that ended before the retention cutoff and WAL segments holding only them.
    pub fn enforce_retention(&self) -> Result<usize, IngestError> {
        if self.opts.retention_ns == 0 {
            return Ok(0);
        }
        let cutoff = now_ns().saturating_sub(self.opts.retention_ns);
        let dropped = self.index.write().remove_before(cutoff);
        self.wal.lock().remove_before(cutoff)?;
        Ok(dropped)
    }

    /// Spans and operations per service, in service order.
    pub fn service_stats(&self) -> Vec<ServiceStats> {
        self.index
            .read()
            .services
            .iter()
            .map(|(name, s)| ServiceStats {
                name: name.clone(),
                spans: s.spans.len(),
                operations: s.operations.len(),
            })
            .collect()
    }

    /// The ingest counters and store sizes in text exposition format.
    pub fn write_self_metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        let (traces, spans) = self.counts();
        let _ = writeln!(
            out,
            "# HELP jaeger_collector_spans_received_total Spans stored.\n# TYPE jaeger_collector_spans_received_total counter\njaeger_collector_spans_received_total {}",
            self.stats.spans_received.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP jaeger_collector_spans_rejected_total Spans refused by limits.\n# TYPE jaeger_collector_spans_rejected_total counter\njaeger_collector_spans_rejected_total {}",
            self.stats.spans_refused.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP pharos_trace_store_traces Traces in the trace store.\n# TYPE pharos_trace_store_traces gauge\npharos_trace_store_traces {traces}\n# HELP pharos_trace_store_spans Spans in the trace store.\n# TYPE pharos_trace_store_spans gauge\npharos_trace_store_spans {spans}"
        );
        let wal = self.wal.lock().stats();
        wal.write_metrics(out, "pharos_traces_wal");
    }

    /// (traces, spans) in memory.
    pub fn counts(&self) -> (usize, usize) {
        let idx = self.index.read();
        (idx.traces.len(), idx.spans)
    }

    /// Bytes of the WAL on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.wal.lock().disk_bytes()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::*;

    pub(crate) fn mk(
        trace: u64,
        id: u64,
        parent: u64,
        svc: &str,
        name: &str,
        start_ms: u64,
        dur_ms: u64,
    ) -> Span {
        Span {
            trace_id: TraceId::from_parts(7, trace),
            span_id: SpanId::from_u64(id),
            parent_span_id: SpanId::from_u64(parent),
            trace_state: String::new(),
            name: name.into(),
            kind: if parent == 0 {
                SpanKind::Server
            } else {
                SpanKind::Internal
            },
            start_ns: start_ms * 1_000_000,
            end_ns: (start_ms + dur_ms) * 1_000_000,
            resource: Arc::new(Resource::new(vec![KeyValue::str("service.name", svc)])),
            scope: Arc::new(Scope::default()),
            attributes: vec![
                KeyValue::str("email.workflow", "support"),
                KeyValue::new("n", Value::Int(id as i64)),
            ],
            events: vec![],
            links: vec![],
            status_code: StatusCode::Unset,
            status_message: String::new(),
            flags: 0,
        }
    }

    fn now_ms() -> u64 {
        now_ns() / 1_000_000
    }

    #[test]
    fn ingest_search_replay() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = now_ms() - 60_000;
        {
            let st = TraceStore::open(dir.path(), TraceStoreOptions::default()).unwrap();
            st.append(vec![
                mk(1, 1, 0, "web", "GET /", t0, 100),
                mk(1, 2, 1, "api", "email.process", t0 + 10, 50),
            ])
            .unwrap();
            st.append(vec![mk(2, 3, 0, "web", "GET /health", t0 + 1000, 1)])
                .unwrap();
            // A late span joins trace 1.
            st.append(vec![mk(1, 4, 2, "api", "db.query", t0 + 20, 5)])
                .unwrap();
            // Duplicates are ignored.
            st.append(vec![mk(2, 3, 0, "web", "GET /health", t0 + 1000, 1)])
                .unwrap();
            assert_eq!(st.counts(), (2, 4));
        }
        let st = TraceStore::open(dir.path(), TraceStoreOptions::default()).unwrap();
        assert_eq!(st.counts(), (2, 4));
        assert_eq!(st.services(), vec!["api", "web"]);
        let t = st.trace(&TraceId::from_parts(7, 1)).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].name, "GET /");
        let base = TraceQuery {
            start_ns: (t0 - 1000) * 1_000_000,
            end_ns: (t0 + 5000) * 1_000_000,
            ..Default::default()
        };
        let q = |f: &dyn Fn(&mut TraceQuery)| {
            let mut q = base.clone();
            f(&mut q);
            st.search(&q).len()
        };
        assert_eq!(q(&|q| q.service = Some("web".into())), 2);
        assert_eq!(q(&|q| q.service = Some("api".into())), 1);
        assert_eq!(q(&|_| {}), 2);
        assert_eq!(
            q(&|q| {
                q.service = Some("api".into());
                q.operation = Some("email.process".into())
            }),
            1
        );
        assert_eq!(
            q(&|q| {
                q.service = Some("web".into());
                q.min_duration_ns = Some(50_000_000)
            }),
            1
        );
        assert_eq!(
            q(&|q| {
                q.service = Some("web".into());
                q.max_duration_ns = Some(2_000_000)
            }),
            1
        );
        assert_eq!(
            q(&|q| {
                q.service = Some("api".into());
                q.tags = vec![("n".into(), "2".into())]
            }),
            1
        );
        assert_eq!(
            q(&|q| {
                q.service = Some("api".into());
                q.tags = vec![("n".into(), "9".into())]
            }),
            0
        );
        assert_eq!(
            q(&|q| {
                q.service = Some("web".into());
                q.tags = vec![("span.kind".into(), "server".into())]
            }),
            2
        );
        assert_eq!(
            q(&|q| {
                q.service = Some("web".into());
                q.limit = 1
            }),
            1
        );
        let deps = st.dependencies(base.start_ns, base.end_ns);
        assert_eq!(deps, vec![("web".to_string(), "api".to_string(), 1)]);
        assert_eq!(st.operations("api").len(), 2);
    }

    #[test]
    fn limits() {
        let dir = tempfile::tempdir().unwrap();
        let st = TraceStore::open(
            dir.path(),
            TraceStoreOptions {
                max_attributes_per_span: 1,
                max_span_bytes: 200,
                ingestion_rate_spans: 2,
                ..Default::default()
            },
        )
        .unwrap();
        let t0 = now_ms();
        let e = st.append(vec![mk(1, 1, 0, "a", "x", t0, 1)]).unwrap_err();
        assert_eq!(e.http_status(), 400);
        let mut big = mk(1, 1, 0, "a", "x", t0, 1);
        big.attributes = vec![KeyValue::str("k", "v".repeat(500))];
        assert_eq!(st.append(vec![big]).unwrap_err().http_status(), 413);
        let mut ok = mk(1, 1, 0, "a", "x", t0, 1);
        ok.attributes.clear();
        st.append(vec![ok.clone(), ok.clone()]).unwrap();
        let e = st.append(vec![ok]).unwrap_err();
        assert_eq!(e.http_status(), 429, "{e}");
    }

    #[test]
    fn retention_drops_old_traces() {
        let dir = tempfile::tempdir().unwrap();
        let st = TraceStore::open(
            dir.path(),
            TraceStoreOptions {
                retention_ns: 3_600_000_000_000,
                ..Default::default()
            },
        )
        .unwrap();
        let now = now_ms();
        st.append(vec![mk(1, 1, 0, "a", "x", now - 7_200_000, 1)])
            .unwrap();
        st.append(vec![mk(2, 2, 0, "a", "x", now, 1)]).unwrap();
        assert_eq!(st.enforce_retention().unwrap(), 1);
        assert_eq!(st.counts(), (1, 1));
        assert!(st.trace(&TraceId::from_parts(7, 1)).is_none());
    }

    #[test]
    fn span_metrics_restart_exact() {
        let dir = tempfile::tempdir().unwrap();
        let mem = model::MemStorage::new();
        let t0 = now_ms();
        {
            let st = TraceStore::open(dir.path(), TraceStoreOptions::default()).unwrap();
            st.append(vec![mk(1, 1, 0, "web", "GET /", t0, 10)])
                .unwrap();
            st.span_metrics().flush(&mem, 1).unwrap();
            // Not flushed before the "crash": must be recounted from the WAL.
            st.append(vec![mk(2, 2, 0, "web", "GET /", t0, 10)])
                .unwrap();
        }
        let st = TraceStore::open(dir.path(), TraceStoreOptions::default()).unwrap();
        let calls = st
            .span_metrics()
            .series(2)
            .into_iter()
            .find(|s| s.labels.get("__name__") == Some("traces_spanmetrics_calls_total"))
            .unwrap();
        assert_eq!(calls.samples[0].v, 2.0);
    }

    /// A data directory written before the shared WAL (`wal/NNNNNNNN.seg`, records framed by
    /// hand here as the old code wrote them: zstd-compressed OTLP protobuf) opens with every
    /// span, and new spans go to the next segment.
    #[test]
    fn opens_a_directory_in_the_pre_shared_wal_layout() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = now_ms() - 60_000;
        let mut seg = Vec::new();
        for spans in [
            vec![mk(1, 1, 0, "web", "GET /", t0, 100)],
            vec![mk(1, 2, 1, "api", "db.query", t0 + 10, 20)],
        ] {
            let body = zstd::bulk::compress(&otlp::encode_protobuf(&spans), 3).unwrap();
            seg.extend_from_slice(&(body.len() as u32).to_le_bytes());
            seg.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
            seg.extend_from_slice(&body);
        }
        std::fs::create_dir_all(dir.path().join("wal")).unwrap();
        std::fs::write(dir.path().join("wal/00000001.seg"), &seg).unwrap();
        let st = TraceStore::open(dir.path(), TraceStoreOptions::default()).unwrap();
        assert_eq!(st.counts(), (1, 2));
        assert_eq!(st.trace(&TraceId::from_parts(7, 1)).unwrap().len(), 2);
        st.append(vec![mk(2, 3, 0, "web", "GET /x", t0, 1)])
            .unwrap();
        assert!(dir.path().join("wal/00000002.seg").exists());
        drop(st);
        let st = TraceStore::open(dir.path(), TraceStoreOptions::default()).unwrap();
        assert_eq!(st.counts(), (2, 3));
    }
}
