//! The embedded trace store: spans are appended to the WAL (fsync) before an ingest call
//! returns, then indexed in the in-memory head: spans grouped by trace (late spans join their
//! trace), and indexes by trace id, service (with span start time), operation (with span kind),
//! trace start time and tag values (hashed `key=value` → traces). Duration and the remaining
//! predicates are checked span by span on the candidates.
//!
//! When the head holds `head_max_spans` spans (or traces sit idle for `head_idle_ns`), its
//! least recently touched traces are compacted into an immutable segment file ([`crate::segment`]);
//! an ingest call finding the head full while a compaction runs waits for it (the head stays
//! bounded: no second compaction is skipped while spans pile up);
//! once the segment is durable, WAL segments no head trace needs any more are deleted. A trace
//! that receives spans after compaction lives in several places (head, segments); lookups and
//! searches merge the parts. Startup loads segment indexes and replays the WAL into the head,
//! skipping spans a segment already holds (a data directory with only a WAL, the previous
//! layout, replays whole and is compacted). Retention drops old head traces and deletes whole
//! segments. Limits (span size, attribute count, ingest rate) reject a request before anything
//! is written.

use crate::query::TraceQuery;
use crate::segment::{self, tag_hash, Segment, MAX_TAG_VALUE};
use crate::span::{Span, SpanKind, TraceId};
use crate::spanmetrics::{self, SpanMetrics};
use crate::wal::{self, Syncer, Wal, WalPos};
use crate::{otlp, DecodeError};
use model::hash::{FastMap, FastSet};
use model::ratelimit::TokenBucket;
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
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
    /// zstd level of segment blocks (WAL records use at most level 1: [`wal::record_level`]).
    pub compression_level: i32,
    /// Spans the in-memory head may hold before its oldest traces are compacted to a segment.
    pub head_max_spans: usize,
    /// Traces without new spans for this long are compacted (checked on ingest at most this
    /// often). 0 disables the idle pass.
    pub head_idle_ns: u64,
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
            head_max_spans: 100_000,
            head_idle_ns: 300_000_000_000,
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
    /// When a span last joined (ns), for choosing what to compact.
    touched_ns: u64,
    /// Lowest WAL segment holding one of its spans: WAL segments from here on are kept.
    wal_seq: u64,
    /// Tag hashes of its spans' attributes as indexed here (repeats included), handed to the
    /// segment writer so compaction does not hash them again.
    tags: Vec<u64>,
}

/// A trace's id and spans.
type TraceSpans = (TraceId, Vec<Arc<Span>>);

/// Traces taken out of the head while their segment is written (still answered from here).
struct Frozen {
    traces: Vec<TraceSpans>,
    /// Per trace (same order), the attribute tag hashes the head computed.
    tags: Vec<Vec<u64>>,
    by_id: FastMap<TraceId, usize>,
    wal_seq: u64,
}

impl Frozen {
    fn search(&self, q: &TraceQuery, out: &mut Vec<(u64, TraceId)>) {
        for (id, spans) in &self.traces {
            if spans.iter().any(|s| q.matches(s)) {
                let start = spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
                out.push((start, *id));
            }
        }
    }
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
    traces: FastMap<u32, TraceEntry>,
    by_id: FastMap<TraceId, u32>,
    by_time: BTreeSet<(u64, u32)>,
    services: BTreeMap<String, ServiceIdx>,
    tags: FastMap<u64, Vec<u32>>,
    /// (minute, parent service, child service) → calls.
    edges: BTreeMap<(u64, String, String), u64>,
    spans: usize,
    frozen: Vec<Arc<Frozen>>,
    segments: Vec<Arc<Segment>>,
}

/// A new cross-service parent → child edge found while indexing.
struct Edge {
    client: String,
    server: String,
    failed: bool,
}

const MINUTE_NS: u64 = 60_000_000_000;

impl Index {
    /// Adds one span; returns cross-service edges it completes, or `None` for a duplicate.
    fn insert(&mut self, s: Arc<Span>, wal_seq: u64, now: u64) -> Option<Vec<Edge>> {
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
                        touched_ns: now,
                        wal_seq,
                        tags: Vec::new(),
                    },
                );
                self.by_time.insert((s.start_ns, no));
                no
            }
        };
        let mut edges = Vec::new();
        // The resource's attributes are indexed for this trace already when another of its
        // spans shares the resource (the spans of one request do).
        let mut resource_indexed = false;
        {
            let t = self.traces.get_mut(&no)?;
            if t.spans
                .iter()
                .any(|x| x.span_id == s.span_id && x.start_ns == s.start_ns)
            {
                return None;
            }
            for x in &t.spans {
                resource_indexed |= Arc::ptr_eq(&x.resource, &s.resource);
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
            t.touched_ns = now;
            t.wal_seq = t.wal_seq.min(wal_seq);
            let mut buf = String::new();
            let resource = if resource_indexed {
                &[][..]
            } else {
                &s.resource.attributes[..]
            };
            let events = s.events.iter().flat_map(|e| e.attributes.iter());
            for kv in s.attributes.iter().chain(resource).chain(events) {
                if let Some(h) = segment::attr_tag_hash(&kv.key, &kv.value, &mut buf) {
                    t.tags.push(h);
                    let list = self.tags.entry(h).or_default();
                    if list.last() != Some(&no) {
                        list.push(no);
                    }
                }
            }
            t.spans.push(s.clone());
        }
        // Looked up before inserting: no key allocation for a known service or operation.
        let svc = match self.services.get_mut(s.service()) {
            Some(svc) => svc,
            None => self.services.entry(s.service().to_string()).or_default(),
        };
        match svc.operations.get_mut(&s.name) {
            Some(kinds) => {
                kinds.insert(s.kind);
            }
            None => {
                svc.operations
                    .insert(s.name.clone(), BTreeSet::from([s.kind]));
            }
        }
        svc.spans.insert((s.start_ns, no));
        for e in &edges {
            *self
                .edges
                .entry((s.start_ns / MINUTE_NS, e.client.clone(), e.server.clone()))
                .or_default() += 1;
        }
        self.spans += 1;
        Some(edges)
    }

    /// Takes traces out of the head, returning their ids and spans, and per trace the tag
    /// hashes of its attributes.
    fn extract(&mut self, nos: &[u32]) -> (Vec<TraceSpans>, Vec<Vec<u64>>) {
        let gone: FastSet<u32> = nos.iter().copied().collect();
        let mut out = Vec::with_capacity(nos.len());
        let mut tags = Vec::with_capacity(nos.len());
        for no in nos {
            if let Some(t) = self.traces.remove(no) {
                self.by_time.remove(&(t.start_ns, *no));
                for s in &t.spans {
                    if let Some(svc) = self.services.get_mut(s.service()) {
                        svc.spans.remove(&(s.start_ns, *no));
                    }
                }
                self.spans -= t.spans.len();
                if let Some(id) = t.spans.first().map(|s| s.trace_id) {
                    self.by_id.remove(&id);
                    out.push((id, t.spans));
                    tags.push(t.tags);
                }
            }
        }
        self.services.retain(|_, s| !s.spans.is_empty());
        self.tags.retain(|_, l| {
            l.retain(|n| !gone.contains(n));
            !l.is_empty()
        });
        (out, tags)
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
        self.extract(&old);
        let minute = cutoff_ns / MINUTE_NS;
        self.edges = self
            .edges
            .split_off(&(minute, String::new(), String::new()));
        old.len()
    }

    /// Head traces to compact: every trace idle since `idle_before`, and when the head holds
    /// more than `max_spans`, the least recently touched ones until a quarter of it is left.
    fn pick(&self, max_spans: usize, idle_before: u64) -> Vec<u32> {
        let mut all: Vec<(u64, u32, usize)> = self
            .traces
            .iter()
            .map(|(no, t)| (t.touched_ns, *no, t.spans.len()))
            .collect();
        all.sort_unstable();
        let mut left = self.spans;
        let mut out = Vec::new();
        for (touched, no, n) in all {
            if touched < idle_before
                || (max_spans > 0 && left > max_spans / 4 && self.spans >= max_spans)
            {
                out.push(no);
                left -= n;
            } else {
                break;
            }
        }
        out
    }

    /// Head traces with a span matching `q`: (trace start, id), newest first, at most `limit`.
    fn search_head(&self, q: &TraceQuery, limit: usize) -> Vec<(u64, TraceId)> {
        let idx = self;
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
        let derived = segment::derived;
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
            .filter_map(|(start, no)| {
                let t = idx.traces.get(no)?;
                Some((*start, t.spans.first()?.trace_id))
            })
            .collect()
    }

    /// The lowest WAL segment a head or frozen trace still needs.
    fn wal_pin(&self) -> u64 {
        let head = self
            .traces
            .values()
            .map(|t| t.wal_seq)
            .min()
            .unwrap_or(u64::MAX);
        let frozen = self
            .frozen
            .iter()
            .map(|f| f.wal_seq)
            .min()
            .unwrap_or(u64::MAX);
        head.min(frozen)
    }
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
    /// Syncs the WAL without its lock (group commit).
    syncer: Syncer,
    index: RwLock<Index>,
    metrics: Arc<SpanMetrics>,
    limiter: Mutex<TokenBucket>,
    pub stats: StoreStats,
    /// Held by the one compaction running.
    compacting: Mutex<()>,
    next_segment: AtomicU64,
    last_idle_pass_ns: AtomicU64,
    deletes: crate::deletes::TraceDeletes,
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

/// Opens every segment in `dir` (dropping those wholly before `cutoff`, leftovers of an
/// interrupted write, and setting aside unreadable ones as `.bad`); returns them in order and
/// the next segment number.
fn load_segments(dir: &Path, cutoff: u64) -> Result<(Vec<Segment>, u64), IngestError> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".tmp") {
            let _ = std::fs::remove_file(e.path());
        } else if let Some(seq) = segment::parse_name(&name) {
            found.push((seq, e.path()));
        }
    }
    found.sort();
    let next = found.last().map(|(s, _)| s + 1).unwrap_or(1);
    let mut out = Vec::new();
    for (seq, path) in found {
        match Segment::open(&path, seq) {
            Ok(s) if cutoff > 0 && s.max_end < cutoff => {
                std::fs::remove_file(&path)?;
            }
            Ok(s) => out.push(s),
            Err(e) => {
                tracing::warn!(
                    "trace segment {} is unreadable and set aside: {e}",
                    path.display()
                );
                let _ = std::fs::rename(&path, path.with_extension("tseg.bad"));
            }
        }
    }
    Ok((out, next))
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
        let seg_dir = dir.join("segments");
        std::fs::create_dir_all(&seg_dir)?;
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
        let (segments, next_segment) = load_segments(&seg_dir, cutoff)?;
        // Spans of WAL records written before a segment's compaction are in that segment.
        let first_wal = w.first_segment()?;
        let mut in_segments: HashMap<TraceId, WalPos> = HashMap::new();
        for seg in segments.iter().filter(|s| s.flush_pos.0 >= first_wal) {
            for id in seg.trace_ids() {
                let p = in_segments.entry(*id).or_insert(seg.flush_pos);
                *p = (*p).max(seg.flush_pos);
            }
        }
        for seg in &segments {
            for (m, p, c, n) in &seg.edges {
                *index.edges.entry((*m, p.clone(), c.clone())).or_default() += n;
            }
        }
        let now = now_ns();
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
                if s.end_ns < cutoff || in_segments.get(&s.trace_id).is_some_and(|p| pos <= *p) {
                    continue;
                }
                if let Some(edges) = index.insert(Arc::new(s), pos.0, now) {
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
            segments = segments.len(),
            ms = started.elapsed().as_millis() as u64,
            "trace WAL replayed"
        );
        for (seq, end) in ends {
            w.note_end(seq, end);
        }
        index.segments = segments.into_iter().map(Arc::new).collect();
        let compact_now = index.spans >= opts.head_max_spans;
        let store = Arc::new(TraceStore {
            compacting: Mutex::new(()),
            next_segment: AtomicU64::new(next_segment),
            last_idle_pass_ns: AtomicU64::new(now),
            limiter: Mutex::new(TokenBucket::default()),
            deletes: crate::deletes::TraceDeletes::open(dir)?,
            opts,
            dir: dir.to_path_buf(),
            syncer: w.syncer(),
            wal: Mutex::new(w),
            index: RwLock::new(index),
            metrics,
            stats: StoreStats::default(),
        });
        if compact_now {
            tracing::info!("compacting the replayed trace WAL into a segment");
            store.compact(false)?;
        }
        Ok(store)
    }

    /// Moves head traces into a new segment file: every trace idle for `head_idle_ns`, and when
    /// `idle_only` is false and the head is over `head_max_spans`, the least recently
    /// touched traces too. Then deletes WAL segments no remaining head trace needs.
    pub fn compact(&self, idle_only: bool) -> Result<usize, IngestError> {
        let Some(_running) = self.compacting.try_lock() else {
            return Ok(0);
        };
        let now = now_ns();
        let idle_before = if self.opts.head_idle_ns == 0 {
            0
        } else {
            now.saturating_sub(self.opts.head_idle_ns)
        };
        let (frozen, flush_pos) = {
            let mut w = self.wal.lock();
            let mut idx = self.index.write();
            let max = if idle_only {
                0
            } else {
                self.opts.head_max_spans
            };
            let nos = idx.pick(max, idle_before);
            if nos.is_empty() {
                return Ok(0);
            }
            let wal_seq = nos
                .iter()
                .filter_map(|no| idx.traces.get(no))
                .map(|t| t.wal_seq)
                .min()
                .unwrap_or(u64::MAX);
            let (traces, tags) = idx.extract(&nos);
            let by_id = traces
                .iter()
                .enumerate()
                .map(|(i, (id, _))| (*id, i))
                .collect();
            let pos = w.position();
            let f = Arc::new(Frozen {
                traces,
                tags,
                by_id,
                wal_seq,
            });
            idx.frozen.push(f.clone());
            // The compacted records' WAL segment closes, so it can go once nothing pins it.
            if let Err(e) = w.roll() {
                tracing::warn!("rolling the trace WAL failed: {e}");
            }
            (f, pos)
        };
        let seq = self.next_segment.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let seg = segment::write_hashed(
            &self.dir.join("segments"),
            seq,
            &frozen.traces,
            Some(&frozen.tags),
            flush_pos,
            self.opts.compression_level,
        )
        .map_err(|e| {
            tracing::warn!(
                "writing trace segment {seq} failed (its spans stay in memory and the WAL): {e}"
            );
            IngestError::Io(e.to_string())
        })?;
        tracing::debug!(
            seq,
            spans = seg.spans,
            traces = seg.trace_count(),
            bytes = seg.bytes,
            ms = started.elapsed().as_millis() as u64,
            "trace segment written"
        );
        let n = seg.trace_count();
        let pin = {
            let mut idx = self.index.write();
            idx.segments.push(Arc::new(seg));
            idx.frozen.retain(|f| !Arc::ptr_eq(f, &frozen));
            idx.wal_pin()
        };
        // Span metrics recount the records after their saved position on restart: save them
        // before those records go.
        if let Err(e) = self.metrics.save() {
            tracing::warn!("saving span metrics failed, the trace WAL is kept: {e}");
            return Ok(n);
        }
        let mut w = self.wal.lock();
        let pin = pin.min(w.position().0);
        w.remove_segments_before(pin)?;
        Ok(n)
    }

    /// The delete requests ([`crate::deletes`]).
    pub fn deletes(&self) -> &crate::deletes::TraceDeletes {
        &self.deletes
    }

    /// Rewrites each segment `wants` where `drop` selects spans, without them (a segment left
    /// empty is deleted): the new segment is durable before the old one goes, compactions wait
    /// meanwhile. Returns (segments rewritten, spans removed, the highest segment number).
    pub(crate) fn rewrite_segments(
        &self,
        wants: &dyn Fn(&Segment) -> bool,
        drop: &dyn Fn(&Segment, &Span) -> bool,
    ) -> Result<(usize, usize, u64), IngestError> {
        let _running = self.compacting.lock();
        let segments = self.index.read().segments.clone();
        let (mut rewritten, mut removed) = (0, 0);
        for seg in segments.iter().filter(|s| wants(s)) {
            let mut kept = Vec::with_capacity(seg.trace_count());
            let mut gone = 0;
            for id in seg.trace_ids() {
                let spans = seg.trace(id)?;
                let n = spans.len();
                let keep: Vec<Arc<Span>> = spans
                    .into_iter()
                    .filter(|s| !drop(seg, s))
                    .map(Arc::new)
                    .collect();
                gone += n - keep.len();
                kept.push((*id, keep));
            }
            if gone == 0 {
                continue;
            }
            let new = if kept.iter().any(|(_, s)| !s.is_empty()) {
                let seq = self.next_segment.fetch_add(1, Ordering::Relaxed);
                let dir = self.dir.join("segments");
                let level = self.opts.compression_level;
                Some(Arc::new(segment::write(
                    &dir,
                    seq,
                    &kept,
                    seg.flush_pos,
                    level,
                )?))
            } else {
                None
            };
            {
                let mut idx = self.index.write();
                idx.segments.retain(|s| !Arc::ptr_eq(s, seg));
                idx.segments.extend(new);
            }
            std::fs::remove_file(seg.path())?;
            rewritten += 1;
            removed += gone;
        }
        let through = self.next_segment.load(Ordering::Relaxed).saturating_sub(1);
        Ok((rewritten, removed, through))
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
            let rate = self.opts.ingestion_rate_spans as f64;
            let burst = self
                .opts
                .ingestion_burst_spans
                .max(self.opts.ingestion_rate_spans) as f64;
            if !self.limiter.lock().take(spans.len() as f64, rate, burst) {
                return Err(IngestError::RateLimited(format!(
                    "ingestion rate limit of {} spans/s (burst {}) exceeded while adding {} spans; retry later",
                    self.opts.ingestion_rate_spans, burst, spans.len()
                )));
            }
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
        self.head_backpressure();
        // Encoded and compressed before any lock is taken.
        let stored = wal::compress(
            &otlp::encode_protobuf(&spans),
            wal::record_level(self.opts.compression_level),
        )?;
        let max_end = spans.iter().map(|s| s.end_ns).max().unwrap_or(0);
        let n = spans.len();
        let mut edges = Vec::new();
        let now = now_ns();
        let (pos, compact) = {
            let mut w = self.wal.lock();
            let pos = w.write(&stored, max_end)?;
            self.metrics.observe(spans.iter(), Some(pos));
            // The head lock is taken before the WAL lock is let go: a compaction (which takes
            // both) sees every record before its WAL position in the head. The record is
            // synced after both locks are let go (below), so concurrent calls share fsyncs;
            // their spans are in the head meanwhile, and acknowledged only once synced.
            let mut idx = self.index.write();
            drop(w);
            for s in spans {
                if let Some(e) = idx.insert(Arc::new(s), pos.0, now) {
                    edges.extend(e);
                }
            }
            let idle_due = self.opts.head_idle_ns > 0
                && now.saturating_sub(self.last_idle_pass_ns.load(Ordering::Relaxed))
                    >= self.opts.head_idle_ns;
            if idle_due {
                self.last_idle_pass_ns.store(now, Ordering::Relaxed);
            }
            let compact = (idx.spans >= self.opts.head_max_spans)
                .then_some(false)
                .or(idle_due.then_some(true));
            (pos, compact)
        };
        self.syncer.sync(pos)?;
        for e in edges {
            self.metrics.observe_edge(&e.client, &e.server, e.failed);
        }
        self.stats
            .spans_received
            .fetch_add(n as u64, Ordering::Relaxed);
        if let Some(idle_only) = compact {
            // The spans are durable in the WAL already; a failed compaction is retried later.
            if let Err(e) = self.compact(idle_only) {
                tracing::warn!("trace head compaction failed: {e}");
            }
        }
        Ok(IngestStats { spans: n })
    }

    /// Bounds the head: when it holds `head_max_spans` spans while a compaction runs (which
    /// lets go of the head while it writes its segment), the caller waits for that compaction
    /// and then compacts itself, instead of growing the head past its limit. Nothing is
    /// refused and nothing acknowledged is touched: the spans are not written yet. The head
    /// overshoots by at most the requests already past this check.
    fn head_backpressure(&self) {
        if self.opts.head_max_spans == 0 || self.index.read().spans < self.opts.head_max_spans {
            return;
        }
        drop(self.compacting.lock());
        if self.index.read().spans >= self.opts.head_max_spans {
            if let Err(e) = self.compact(false) {
                tracing::warn!("trace head compaction failed: {e}");
            }
        }
    }

    /// The spans of a trace, ordered by start time: its head part, a part being compacted,
    /// and the parts in segments.
    pub fn trace(&self, id: &TraceId) -> Option<Vec<Arc<Span>>> {
        let (mut spans, segments) = {
            let idx = self.index.read();
            let mut spans: Vec<Arc<Span>> = idx
                .by_id
                .get(id)
                .and_then(|no| idx.traces.get(no))
                .map(|t| t.spans.clone())
                .unwrap_or_default();
            for f in &idx.frozen {
                if let Some(&i) = f.by_id.get(id) {
                    spans.extend(f.traces[i].1.iter().cloned());
                }
            }
            (spans, idx.segments.clone())
        };
        let mut parts = 0;
        for seg in &segments {
            match seg.trace(id) {
                Ok(found) if !found.is_empty() => {
                    parts += 1;
                    spans.extend(found.into_iter().map(Arc::new));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("reading trace segment {}: {e}", seg.path().display()),
            }
        }
        self.deletes.hide(&mut spans);
        if spans.is_empty() {
            return None;
        }
        spans.sort_by_key(|s| (s.start_ns, s.span_id));
        if parts > 0 {
            // A span can be in a segment and the head when a crash hit between the two.
            spans.dedup_by(|a, b| a.span_id == b.span_id && a.start_ns == b.start_ns);
        }
        Some(spans)
    }

    /// Sorted service names.
    pub fn services(&self) -> Vec<String> {
        let idx = self.index.read();
        let mut all: BTreeSet<&String> = idx.services.keys().collect();
        for seg in &idx.segments {
            all.extend(seg.services.keys());
        }
        all.into_iter().cloned().collect()
    }

    /// Operations of a service with the span kinds they were seen with, sorted.
    pub fn operations(&self, service: &str) -> Vec<(String, SpanKind)> {
        let idx = self.index.read();
        let mut all: BTreeSet<(String, SpanKind)> = BTreeSet::new();
        if let Some(s) = idx.services.get(service) {
            for (n, kinds) in &s.operations {
                all.extend(kinds.iter().map(|k| (n.clone(), *k)));
            }
        }
        for seg in &idx.segments {
            if let Some(s) = seg.services.get(service) {
                all.extend(s.operations().map(|(n, k)| (n.to_string(), k)));
            }
        }
        all.into_iter().collect()
    }

    /// Traces with at least one span matching `q`, newest first, at most `q.limit` (0 = 20).
    /// The head, traces being compacted and segments (newest first, stopping once no older
    /// segment can hold a newer trace than those found) each name candidates; the merged top
    /// `limit` are read whole.
    pub fn search(&self, q: &TraceQuery) -> Vec<Vec<Arc<Span>>> {
        let limit = if q.limit == 0 { 20 } else { q.limit };
        let (mut hits, frozen, mut segments) = {
            let idx = self.index.read();
            (
                idx.search_head(q, limit),
                idx.frozen.clone(),
                idx.segments.clone(),
            )
        };
        for f in &frozen {
            f.search(q, &mut hits);
        }
        fn settle(hits: &mut Vec<(u64, TraceId)>, limit: usize) {
            hits.sort_unstable_by_key(|a| (a.1, a.0));
            hits.dedup_by(|a, b| a.1 == b.1);
            hits.sort_unstable_by(|a, b| b.cmp(a));
            hits.truncate(limit);
        }
        settle(&mut hits, limit);
        segments.sort_by_key(|s| std::cmp::Reverse(s.max_start));
        for seg in &segments {
            if hits.len() >= limit && hits.last().is_some_and(|l| seg.max_start < l.0) {
                break;
            }
            if let Err(e) = seg.search(q, limit, &mut hits) {
                tracing::warn!("searching trace segment {}: {e}", seg.path().display());
            }
            settle(&mut hits, limit);
        }
        hits.iter()
            .filter_map(|(_, id)| self.trace(id))
            .filter(|t| t.iter().any(|s| q.matches(s)))
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

    /// Compacts idle head traces, then drops traces that ended before the retention cutoff:
    /// from the head, whole segments whose every span ended before it, and WAL segments holding
    /// only such spans. Returns the traces dropped.
    pub fn enforce_retention(&self) -> Result<usize, IngestError> {
        if let Err(e) = self.compact(true) {
            tracing::warn!("trace head compaction failed: {e}");
        }
        if self.opts.retention_ns == 0 {
            return Ok(0);
        }
        let cutoff = now_ns().saturating_sub(self.opts.retention_ns);
        let (mut dropped, old) = {
            let mut idx = self.index.write();
            let n = idx.remove_before(cutoff);
            let (old, keep): (Vec<_>, Vec<_>) =
                idx.segments.drain(..).partition(|s| s.max_end < cutoff);
            idx.segments = keep;
            (n, old)
        };
        for seg in old {
            dropped += seg.trace_count();
            if let Err(e) = std::fs::remove_file(seg.path()) {
                tracing::warn!("removing trace segment {}: {e}", seg.path().display());
            }
        }
        self.wal.lock().remove_before(cutoff)?;
        Ok(dropped)
    }

    /// Spans and operations per service, in service order (operations: the most any one part
    /// of the store knows, as segments keep their own lists).
    pub fn service_stats(&self) -> Vec<ServiceStats> {
        let idx = self.index.read();
        let mut all: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for (name, s) in &idx.services {
            let e = all.entry(name).or_default();
            e.0 += s.spans.len();
            e.1 = e.1.max(s.operations.len());
        }
        for seg in &idx.segments {
            for (name, s) in &seg.services {
                let e = all.entry(name).or_default();
                e.0 += s.spans as usize;
                e.1 = e.1.max(s.operation_count());
            }
        }
        all.into_iter()
            .map(|(name, (spans, operations))| ServiceStats {
                name: name.to_string(),
                spans,
                operations,
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
        let (segments, seg_bytes, head) = {
            let idx = self.index.read();
            (
                idx.segments.len(),
                idx.segments.iter().map(|s| s.bytes).sum::<u64>(),
                idx.spans,
            )
        };
        let _ = writeln!(
            out,
            "# HELP pharos_trace_store_head_spans Spans in the in-memory head.\n# TYPE pharos_trace_store_head_spans gauge\npharos_trace_store_head_spans {head}\n# HELP pharos_trace_store_segments Trace segment files.\n# TYPE pharos_trace_store_segments gauge\npharos_trace_store_segments {segments}\n# HELP pharos_trace_store_segment_bytes Bytes of trace segment files.\n# TYPE pharos_trace_store_segment_bytes gauge\npharos_trace_store_segment_bytes {seg_bytes}"
        );
        let wal = self.wal.lock().stats();
        wal.write_metrics(out, "pharos_traces_wal");
        self.deletes.write_metrics(out);
    }

    /// (traces, spans) stored: the head's plus the segments' (a trace with spans in several
    /// parts counts once per part).
    pub fn counts(&self) -> (usize, usize) {
        let idx = self.index.read();
        let seg_traces: usize = idx.segments.iter().map(|s| s.trace_count()).sum();
        let seg_spans: u64 = idx.segments.iter().map(|s| s.spans).sum();
        (
            idx.traces.len() + seg_traces,
            idx.spans + seg_spans as usize,
        )
    }

    /// Bytes of the WAL and segment files on disk.
    pub fn disk_bytes(&self) -> u64 {
        let seg: u64 = self.index.read().segments.iter().map(|s| s.bytes).sum();
        self.wal.lock().disk_bytes() + seg
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

    fn small_head() -> TraceStoreOptions {
        TraceStoreOptions {
            head_max_spans: 40,
            ..Default::default()
        }
    }

    /// Answers of every query surface over a store, to compare before and after compaction.
    fn answers(st: &TraceStore, t0: u64) -> Vec<String> {
        let mut out = vec![format!("{:?}", st.services())];
        for svc in st.services() {
            out.push(format!("{svc}: {:?}", st.operations(&svc)));
        }
        for t in 0..60u64 {
            let spans = st.trace(&TraceId::from_parts(7, t));
            out.push(format!(
                "{t}: {:?}",
                spans.map(|s| s
                    .iter()
                    .map(|s| (s.span_id, s.name.clone()))
                    .collect::<Vec<_>>())
            ));
        }
        let base = TraceQuery {
            start_ns: (t0 - 1000) * 1_000_000,
            end_ns: (t0 + 100_000) * 1_000_000,
            ..Default::default()
        };
        type Edit = Box<dyn Fn(&mut TraceQuery)>;
        let qs: Vec<Edit> = vec![
            Box::new(|_| {}),
            Box::new(|q| q.service = Some("web".into())),
            Box::new(|q| q.service = Some("api".into())),
            Box::new(|q| {
                q.service = Some("api".into());
                q.operation = Some("db.query".into())
            }),
            Box::new(|q| q.tags = vec![("n".into(), "3".into())]),
            Box::new(|q| q.tags = vec![("email.workflow".into(), "support".into())]),
            Box::new(|q| q.tags = vec![("span.kind".into(), "server".into())]),
            Box::new(|q| {
                q.service = Some("web".into());
                q.min_duration_ns = Some(150_000_000)
            }),
            Box::new(|q| {
                q.service = Some("api".into());
                q.max_duration_ns = Some(3_000_000);
                q.limit = 5
            }),
            Box::new(|q| q.limit = 100),
        ];
        for f in qs {
            let mut q = base.clone();
            f(&mut q);
            let ids: Vec<String> = st
                .search(&q)
                .iter()
                .map(|t| format!("{}/{}", t[0].trace_id.low(), t.len()))
                .collect();
            out.push(format!("{q:?} → {ids:?}"));
        }
        out.push(format!("{:?}", st.dependencies(base.start_ns, base.end_ns)));
        out
    }

    fn fill(st: &TraceStore, t0: u64) {
        for t in 0..50u64 {
            let base = t0 + t * 1000;
            st.append(vec![
                mk(t, t * 10 + 1, 0, "web", "GET /", base, 100 + t * 2),
                mk(
                    t,
                    t * 10 + 2,
                    t * 10 + 1,
                    "api",
                    "db.query",
                    base + 5,
                    1 + t % 5,
                ),
            ])
            .unwrap();
        }
        // Late spans of early traces (after those traces were compacted). Same service as
        // their parent: a service-graph edge whose parent span was compacted before the child
        // arrived is not counted (the parent is no longer in the head).
        for t in 0..5u64 {
            st.append(vec![mk(
                t,
                t * 10 + 3,
                t * 10 + 2,
                "api",
                "SELECT",
                t0 + t * 1000 + 7,
                1,
            )])
            .unwrap();
        }
    }

    /// Concurrent writers wait for a running compaction instead of growing the head past
    /// `head_max_spans` (by more than the batches already past the check), and every span of
    /// every acknowledged batch is there afterwards.
    #[test]
    fn head_stays_bounded_under_concurrent_ingest() {
        let dir = tempfile::tempdir().unwrap();
        let st = TraceStore::open(dir.path(), small_head()).unwrap();
        let t0 = now_ms() - 10_000;
        let peak = AtomicU64::new(0);
        let (writers, batches, batch) = (4u64, 50u64, 5u64);
        std::thread::scope(|sc| {
            for w in 0..writers {
                let (st, peak) = (&st, &peak);
                sc.spawn(move || {
                    for b in 0..batches {
                        let spans = (1..=batch)
                            .map(|i| mk(w * 1000 + b, i, 0, "api", "op", t0 + b, 1))
                            .collect();
                        st.append(spans).unwrap();
                        peak.fetch_max(st.index.read().spans as u64, Ordering::Relaxed);
                    }
                });
            }
        });
        let peak = peak.load(Ordering::Relaxed);
        assert!(peak <= 40 + writers * batch, "head peaked at {peak} spans");
        assert_eq!(st.counts().1 as u64, writers * batches * batch);
        for w in 0..writers {
            for b in 0..batches {
                let t = st.trace(&TraceId::from_parts(7, w * 1000 + b)).unwrap();
                assert_eq!(t.len() as u64, batch);
            }
        }
    }

    /// Every query answers the same whether the spans sit in the head or in segment files, and
    /// after a restart (segments loaded, the WAL tail replayed without duplicates).
    #[test]
    fn segments_answer_like_the_head() {
        let t0 = now_ms() - 600_000;
        let mem = tempfile::tempdir().unwrap();
        let st = TraceStore::open(mem.path(), TraceStoreOptions::default()).unwrap();
        fill(&st, t0);
        let expected = answers(&st, t0);
        assert_eq!(st.counts(), (50, 105));

        let dir = tempfile::tempdir().unwrap();
        {
            let st = TraceStore::open(dir.path(), small_head()).unwrap();
            fill(&st, t0);
            assert!(
                !st.index.read().segments.is_empty(),
                "the head was compacted"
            );
            assert!(st.index.read().spans <= 40);
            assert_eq!(answers(&st, t0), expected);
            // Nothing but the tail the head still needs is left in the WAL.
            assert!(st.wal.lock().first_segment().unwrap() > 1);
        }
        // As after kill -9: reopen from what is on disk.
        let st = TraceStore::open(dir.path(), small_head()).unwrap();
        assert_eq!(answers(&st, t0), expected);
        assert_eq!(st.counts().1, 105);
        // Compacting everything keeps the answers.
        let st2 = TraceStore::open(
            dir.path(),
            TraceStoreOptions {
                head_max_spans: 1,
                ..Default::default()
            },
        );
        drop(st);
        let st2 = st2.unwrap();
        st2.compact(false).unwrap();
        assert_eq!(st2.index.read().spans, 0);
        assert_eq!(answers(&st2, t0), expected);
        drop(st2);
        let st = TraceStore::open(dir.path(), small_head()).unwrap();
        assert_eq!(answers(&st, t0), expected);
    }

    /// A WAL-only directory (the layout before segments) holding more than the head may keep
    /// is replayed whole, then compacted; nothing is lost or duplicated.
    #[test]
    fn a_wal_only_directory_is_compacted_on_open() {
        let t0 = now_ms() - 600_000;
        let dir = tempfile::tempdir().unwrap();
        {
            let st = TraceStore::open(dir.path(), TraceStoreOptions::default()).unwrap();
            fill(&st, t0);
        }
        let expected = answers(
            &TraceStore::open(dir.path(), TraceStoreOptions::default()).unwrap(),
            t0,
        );
        let st = TraceStore::open(dir.path(), small_head()).unwrap();
        assert!(!st.index.read().segments.is_empty());
        assert_eq!(answers(&st, t0), expected);
        drop(st);
        let st = TraceStore::open(dir.path(), small_head()).unwrap();
        assert_eq!(answers(&st, t0), expected);
        assert_eq!(st.counts().1, 105);
    }

    /// Retention deletes whole segments whose spans all ended before the cutoff.
    #[test]
    fn retention_deletes_whole_segments() {
        let dir = tempfile::tempdir().unwrap();
        let opts = TraceStoreOptions {
            retention_ns: 3_600_000_000_000,
            head_max_spans: 4,
            ..Default::default()
        };
        let st = TraceStore::open(dir.path(), opts.clone()).unwrap();
        let now = now_ms();
        for t in 0..8 {
            st.append(vec![mk(t, t + 1, 0, "a", "x", now - 7_200_000, 1)])
                .unwrap();
        }
        st.append(vec![mk(100, 100, 0, "a", "x", now, 1)]).unwrap();
        let segs = st.index.read().segments.len();
        assert!(segs >= 1);
        let files = || {
            std::fs::read_dir(dir.path().join("segments"))
                .unwrap()
                .count()
        };
        assert_eq!(files(), segs);
        assert_eq!(st.enforce_retention().unwrap(), 8);
        assert_eq!(st.counts(), (1, 1));
        assert!(st.trace(&TraceId::from_parts(7, 0)).is_none());
        assert!(st.trace(&TraceId::from_parts(7, 100)).is_some());
        assert_eq!(files(), st.index.read().segments.len());
        drop(st);
        let st = TraceStore::open(dir.path(), opts).unwrap();
        assert_eq!(st.counts(), (1, 1));
    }
}
