//! The embedded log store: per-tenant streams keyed by label set, a WAL written (and fsynced)
//! before a push is acknowledged, in-memory head blocks per stream, and immutable zstd-compressed
//! chunk segments (`chunks/<n>.seg` + `chunks/<n>.meta`) with min/max time per chunk. Streams are
//! found through label postings; chunks outside the queried time range are never read.
//! Retention deletes whole segments by time and by total size. Loki's delete requests
//! ([`crate::deletes`]) hide lines from every scan as soon as they are accepted; [`purge`]
//! removes the lines from the segments after the cancel period.

mod purge;
pub use purge::PurgeStats;

use crate::codec::{self, Reader};
use crate::colchunk;
use crate::limits::{Limits, RateLimiter};
use crate::wal;
use ::wal::Wal;
use model::{
    Direction, LabelMatcher, Labels, LogEntry, LogPushStats, LogQueryable, LogSink, LogStream,
    ScanStats, StorageError,
};
use parking_lot::{Mutex, RwLock};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

/// Tunables of the store (limits are replaceable at runtime with [`LogStore::set_limits`]).
#[derive(Clone, Debug)]
pub struct LogStoreOptions {
    pub limits: Limits,
    /// Total bytes of chunk segments to keep; 0 = unlimited.
    pub retention_size_bytes: u64,
    /// Head bytes (all streams) that trigger a flush into a segment.
    pub head_flush_bytes: usize,
    /// Seconds after which heads are flushed even when small.
    pub head_max_age_secs: u64,
    /// Uncompressed bytes per chunk (Loki's `chunk_target_size` is 1.5MB).
    pub chunk_target_bytes: usize,
    /// fsync the WAL before acknowledging (only tests and benchmarks turn this off).
    pub fsync: bool,
    /// Run the background flusher/retention thread.
    pub background: bool,
    /// Write chunks of JSON lines in the columnar format (`colchunk`); `false` writes every
    /// chunk in the previous single-zstd-frame format. Both formats are read either way.
    pub columnar_chunks: bool,
    /// The oldest WAL segment a forwarder still has to read (`u64::MAX`: none): a flush keeps
    /// that segment and every newer one, so forwarding survives flushes and restarts.
    pub wal_hold: Arc<std::sync::atomic::AtomicU64>,
    /// Loki's `compactor.delete_request_cancel_period`: a delete request can be cancelled for
    /// this long, and its lines are removed from disk after it (they are hidden at once).
    pub delete_cancel_period_ms: i64,
    /// Loki's `compactor.delete_max_interval` (0: none): the largest `max_interval` a delete
    /// request with line filters may give.
    pub delete_max_interval_ms: i64,
}

impl Default for LogStoreOptions {
    fn default() -> Self {
        LogStoreOptions {
            limits: Limits::default(),
            retention_size_bytes: 0,
            head_flush_bytes: 64 << 20,
            head_max_age_secs: 900,
            chunk_target_bytes: 1536 * 1024,
            fsync: true,
            background: true,
            columnar_chunks: true,
            wal_hold: Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX)),
            delete_cancel_period_ms: 24 * 3_600_000,
            delete_max_interval_ms: 24 * 3_600_000,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct ChunkRef {
    seg: u64,
    offset: u64,
    len: u32,
    min_ts: i64,
    max_ts: i64,
    entries: u32,
    raw_bytes: u64,
}

/// Sealed head blocks are shared with queries without copying.
const HEAD_BLOCK_ENTRIES: usize = 1024;

/// zstd level of sealed chunks (any level reads back: frames are self-describing).
const CHUNK_ZSTD_LEVEL: i32 = 3;

#[derive(Default)]
struct Stream {
    labels: Arc<Labels>,
    sealed: Vec<Arc<Vec<LogEntry>>>,
    open: Vec<LogEntry>,
    head_min: i64,
    head_max: i64,
    /// Head blocks a running flush is writing into a segment: still queried from memory until
    /// their chunks are installed (the flush compresses without holding the store lock).
    flushing: Vec<Arc<Vec<LogEntry>>>,
    flush_min: i64,
    flush_max: i64,
    chunks: Vec<ChunkRef>,
    /// Time bounds of `chunks` (meaningful when `chunks` is not empty).
    chunk_min: i64,
    chunk_max: i64,
}

impl Stream {
    fn has_head(&self) -> bool {
        !self.open.is_empty() || !self.sealed.is_empty()
    }
    fn add_chunk(&mut self, c: ChunkRef) {
        if self.chunks.is_empty() {
            (self.chunk_min, self.chunk_max) = (c.min_ts, c.max_ts);
        } else {
            self.chunk_min = self.chunk_min.min(c.min_ts);
            self.chunk_max = self.chunk_max.max(c.max_ts);
        }
        self.chunks.push(c);
    }
    fn retain_chunks(&mut self, keep: impl Fn(&ChunkRef) -> bool) {
        self.chunks.retain(keep);
        self.chunk_min = self.chunks.iter().map(|c| c.min_ts).min().unwrap_or(0);
        self.chunk_max = self.chunks.iter().map(|c| c.max_ts).max().unwrap_or(0);
    }
    /// Oldest and newest timestamp the stream holds (heads, flushing blocks and chunks).
    fn bounds(&self) -> Option<(i64, i64)> {
        let mut b: Option<(i64, i64)> = None;
        let mut add = |lo: i64, hi: i64| {
            b = Some(match b {
                None => (lo, hi),
                Some((a, z)) => (a.min(lo), z.max(hi)),
            })
        };
        if self.has_head() {
            add(self.head_min, self.head_max);
        }
        if !self.flushing.is_empty() {
            add(self.flush_min, self.flush_max);
        }
        if !self.chunks.is_empty() {
            add(self.chunk_min, self.chunk_max);
        }
        b
    }
    fn overlaps(&self, start: i64, end: i64) -> bool {
        self.bounds()
            .is_some_and(|(lo, hi)| hi >= start && lo < end)
    }
}

#[derive(Default)]
struct Tenant {
    streams: Vec<Stream>,
    by_labels: HashMap<Arc<Labels>, u32>,
    /// label name -> value -> stream ids (ascending).
    postings: BTreeMap<String, BTreeMap<String, Vec<u32>>>,
}

impl Tenant {
    fn matching(&self, matchers: &[LabelMatcher]) -> Vec<u32> {
        // Start from the most selective matcher's postings (a matcher that rejects the empty
        // value only matches streams with the label: the union of its matching values'
        // postings), then check all matchers.
        let mut candidates: Option<Vec<u32>> = None;
        for m in matchers {
            if m.matches("") {
                continue;
            }
            let vals = self.postings.get(&m.name);
            let ids = if m.op == model::MatchOp::Equal {
                vals.and_then(|v| v.get(&m.value))
                    .cloned()
                    .unwrap_or_default()
            } else {
                let mut ids: Vec<u32> = vals
                    .into_iter()
                    .flatten()
                    .filter(|(v, _)| m.matches(v))
                    .flat_map(|(_, ids)| ids.iter().copied())
                    .collect();
                ids.sort_unstable();
                ids
            };
            if candidates.as_ref().is_none_or(|c| ids.len() < c.len()) {
                candidates = Some(ids);
            }
        }
        let ids: Vec<u32> = candidates.unwrap_or_else(|| (0..self.streams.len() as u32).collect());
        ids.into_iter()
            .filter(|id| {
                let l = &self.streams[*id as usize].labels;
                matchers
                    .iter()
                    .all(|m| m.matches(l.get(&m.name).unwrap_or("")))
            })
            .collect()
    }
}

#[derive(Clone, Debug)]
struct SegmentMeta {
    id: u64,
    bytes: u64,
    max_ts: i64,
}

struct Inner {
    tenants: HashMap<String, Tenant>,
    segments: Vec<SegmentMeta>,
    next_seg: u64,
    head_bytes: usize,
    head_since: std::time::Instant,
}

impl Inner {
    fn stream_mut(&mut self, tenant: &str, sid: u32) -> Option<&mut Stream> {
        self.tenants
            .get_mut(tenant)
            .and_then(|t| t.streams.get_mut(sid as usize))
    }
}

/// Lines pushed, as seen by live tails.
#[derive(Debug)]
pub struct TailBatch {
    pub tenant: String,
    pub streams: Vec<(Labels, Vec<LogEntry>)>,
}

/// Counts for `/loki/api/v1/index/stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct IndexStats {
    pub streams: u64,
    pub chunks: u64,
    pub entries: u64,
    pub bytes: u64,
}

/// Lines and bytes stored since start (after limits), for `/metrics` and the overview page.
#[derive(Default)]
pub struct IngestCounters {
    pub lines: std::sync::atomic::AtomicU64,
    pub bytes: std::sync::atomic::AtomicU64,
}

/// Number of distinct values and of streams of one label name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelCardinality {
    pub name: String,
    pub values: usize,
    pub streams: usize,
}

/// What the store holds, for the status page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreSummary {
    pub tenants: usize,
    pub streams: usize,
    pub lines_received: u64,
    pub bytes_received: u64,
    /// Uncompressed bytes in the in-memory heads.
    pub head_bytes: u64,
    pub segments: usize,
    /// Compressed bytes of the segments on disk.
    pub disk_bytes: u64,
    /// Label names across tenants, most distinct values first.
    pub labels: Vec<LabelCardinality>,
}

pub struct LogStore {
    /// Counters of accepted pushes.
    pub ingest: IngestCounters,
    dir: PathBuf,
    opts: LogStoreOptions,
    limits: RwLock<Limits>,
    wal: Wal,
    checkpoint: RwLock<()>,
    inner: RwLock<Inner>,
    /// Serializes flushes (each hands the heads over, then writes one segment).
    flush_lock: Mutex<()>,
    rate: RateLimiter,
    stream_rate: RateLimiter,
    tail: tokio::sync::broadcast::Sender<Arc<TailBatch>>,
    stop: Mutex<bool>,
    deletes: crate::deletes::DeleteRequests,
    /// Serializes purge passes.
    purge_lock: Mutex<()>,
}

fn io(e: impl std::fmt::Display) -> StorageError {
    StorageError::Io(e.to_string())
}

pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

impl LogStore {
    /// Opens (or creates) the store in `dir`, loads segment metadata and replays the WAL.
    pub fn open(dir: &Path, opts: LogStoreOptions) -> Result<Arc<LogStore>, StorageError> {
        let chunks_dir = dir.join("chunks");
        let wal_dir = dir.join("wal");
        std::fs::create_dir_all(&chunks_dir).map_err(io)?;
        std::fs::create_dir_all(&wal_dir).map_err(io)?;
        let mut inner = Inner {
            tenants: HashMap::new(),
            segments: Vec::new(),
            next_seg: 1,
            head_bytes: 0,
            head_since: std::time::Instant::now(),
        };
        purge::finish_replacements(&chunks_dir)?;
        load_segments(&chunks_dir, &mut inner)?;
        let deletes = crate::deletes::DeleteRequests::open(dir)?;
        // Replay the WAL into the heads.
        let wal = wal::open(&wal_dir, opts.fsync).map_err(io)?;
        let mut replayed = 0usize;
        wal.replay(|_, rec| match decode_push(rec) {
            Ok((tenant, streams)) => {
                replayed += streams.iter().map(|s| s.entries.len()).sum::<usize>();
                apply(&mut inner, &tenant, streams);
            }
            Err(e) => tracing::warn!("log WAL: skipping undecodable record: {e}"),
        })
        .map_err(io)?;
        let (tail, _) = tokio::sync::broadcast::channel(1024);
        let store = Arc::new(LogStore {
            ingest: IngestCounters::default(),
            dir: dir.to_path_buf(),
            limits: RwLock::new(opts.limits.clone()),
            opts,
            wal,
            checkpoint: RwLock::new(()),
            inner: RwLock::new(inner),
            flush_lock: Mutex::new(()),
            rate: RateLimiter::default(),
            stream_rate: RateLimiter::default(),
            tail,
            stop: Mutex::new(false),
            deletes,
            purge_lock: Mutex::new(()),
        });
        if replayed > 0 {
            tracing::info!(entries = replayed, "log WAL replayed");
        }
        // Persist what was replayed so the old WAL files can go.
        store.flush()?;
        if store.opts.background {
            let weak = Arc::downgrade(&store);
            std::thread::Builder::new()
                .name("logs-flush".into())
                .spawn(move || background(weak))
                .map_err(io)?;
        }
        Ok(store)
    }

    pub fn set_limits(&self, limits: Limits) {
        *self.limits.write() = limits;
    }

    pub fn limits(&self) -> Limits {
        self.limits.read().clone()
    }

    /// Loki's delete requests of every tenant.
    pub fn deletes(&self) -> &crate::deletes::DeleteRequests {
        &self.deletes
    }

    /// (`delete_request_cancel_period`, `delete_max_interval`) in milliseconds.
    pub fn delete_settings(&self) -> (i64, i64) {
        (
            self.opts.delete_cancel_period_ms,
            self.opts.delete_max_interval_ms,
        )
    }

    /// A receiver of every accepted push (for live tailing).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<TailBatch>> {
        self.tail.subscribe()
    }

    /// Stops the background thread and flushes the heads.
    pub fn close(&self) -> Result<(), StorageError> {
        *self.stop.lock() = true;
        self.flush()
    }

    /// Moves every head into a new compressed segment and drops the WAL it came from. The
    /// store lock is held only to roll the WAL and hand the heads over (they stay queryable as
    /// `flushing` blocks); compression and the segment write run while pushes and queries go on.
    pub fn flush(&self) -> Result<(), StorageError> {
        let _serial = self.flush_lock.lock();
        type Work = (String, u32, Arc<Labels>, Vec<Arc<Vec<LogEntry>>>);
        let (wal_seq, id, work) = {
            let _cp = self.checkpoint.write();
            let mut inner = self.inner.write();
            let wal_seq = self.wal.roll().map_err(io)?;
            let mut work: Vec<Work> = Vec::new();
            for (tname, t) in inner.tenants.iter_mut() {
                for (sid, s) in t.streams.iter_mut().enumerate() {
                    if !s.has_head() {
                        continue;
                    }
                    let mut blocks = std::mem::take(&mut s.sealed);
                    if !s.open.is_empty() {
                        let mut open = std::mem::take(&mut s.open);
                        open.sort_by_key(|e| e.ts_ns);
                        blocks.push(Arc::new(open));
                    }
                    s.flushing = blocks.clone();
                    (s.flush_min, s.flush_max) = (s.head_min, s.head_max);
                    work.push((tname.clone(), sid as u32, s.labels.clone(), blocks));
                }
            }
            let id = inner.next_seg;
            if !work.is_empty() {
                inner.next_seg = id + 1;
            }
            inner.head_bytes = 0;
            inner.head_since = std::time::Instant::now();
            (wal_seq, id, work)
        };
        if !work.is_empty() {
            match self.write_segment(id, &work) {
                Ok((refs, seg_bytes, seg_max)) => {
                    let mut inner = self.inner.write();
                    for (tname, sid, _, _) in &work {
                        if let Some(s) = inner.stream_mut(tname, *sid) {
                            s.flushing.clear();
                        }
                    }
                    for (i, c) in refs {
                        let (tname, sid, _, _) = &work[i];
                        if let Some(s) = inner.stream_mut(tname, *sid) {
                            s.add_chunk(c);
                        }
                    }
                    inner.segments.push(SegmentMeta {
                        id,
                        bytes: seg_bytes,
                        max_ts: seg_max,
                    });
                }
                Err(e) => {
                    // Hand the blocks back to the heads: their WAL is kept, a later flush
                    // retries them.
                    let mut inner = self.inner.write();
                    for (tname, sid, _, _) in &work {
                        if let Some(s) = inner.stream_mut(tname, *sid) {
                            let blocks = std::mem::take(&mut s.flushing);
                            if s.has_head() {
                                s.head_min = s.head_min.min(s.flush_min);
                                s.head_max = s.head_max.max(s.flush_max);
                            } else {
                                (s.head_min, s.head_max) = (s.flush_min, s.flush_max);
                            }
                            s.sealed.splice(0..0, blocks);
                        }
                    }
                    return Err(e);
                }
            }
        }
        let hold = self
            .opts
            .wal_hold
            .load(std::sync::atomic::Ordering::Acquire);
        self.wal
            .remove_segments_before(wal_seq.min(hold))
            .map_err(io)?;
        Ok(())
    }

    /// Compresses the handed-over head blocks into chunks, writes segment `id` and its index
    /// (fsynced, index renamed into place last). Returns (work index, chunk) pairs, the segment
    /// size and its newest timestamp.
    #[allow(clippy::type_complexity)]
    fn write_segment(
        &self,
        id: u64,
        work: &[(String, u32, Arc<Labels>, Vec<Arc<Vec<LogEntry>>>)],
    ) -> Result<(Vec<(usize, ChunkRef)>, u64, i64), StorageError> {
        let mut seg: Vec<u8> = Vec::new();
        let mut meta: Vec<u8> = Vec::new();
        let mut refs: Vec<(usize, ChunkRef)> = Vec::new();
        let mut seg_max = i64::MIN;
        let target = self.opts.chunk_target_bytes.max(1);
        let mut comp = zstd::bulk::Compressor::new(CHUNK_ZSTD_LEVEL).map_err(io)?;
        for (wi, (tname, _, labels, blocks)) in work.iter().enumerate() {
            let mut entries: Vec<&LogEntry> = blocks.iter().flat_map(|b| b.iter()).collect();
            if blocks.len() > 1 {
                entries.sort_by_key(|e| e.ts_ns);
            }
            let mut start = 0;
            while start < entries.len() {
                let mut end = start;
                let mut raw = 0usize;
                while end < entries.len() && (end == start || raw < target) {
                    raw += entries[end].line.len() + 16;
                    end += 1;
                }
                let part = &entries[start..end];
                let z = if self.opts.columnar_chunks {
                    colchunk::encode(&mut comp, part)
                } else {
                    colchunk::encode_legacy(&mut comp, part)
                }
                .map_err(io)?;
                let c = ChunkRef {
                    seg: id,
                    offset: seg.len() as u64,
                    len: z.len() as u32,
                    min_ts: part[0].ts_ns,
                    max_ts: part[part.len() - 1].ts_ns,
                    entries: part.len() as u32,
                    raw_bytes: part.iter().map(|e| e.line.len() as u64).sum(),
                };
                seg.extend_from_slice(&z);
                seg_max = seg_max.max(c.max_ts);
                put_chunk_meta(&mut meta, tname, labels, &c);
                refs.push((wi, c));
                start = end;
            }
        }
        write_segment_files(&self.dir.join("chunks"), id, &seg, &meta)?;
        Ok((refs, seg.len() as u64, seg_max))
    }

    /// Applies retention by time (Loki `retention_period`, per tenant too) and total size.
    pub fn enforce_retention(&self) -> Result<(), StorageError> {
        self.enforce_tenant_retention()?;
        let period = self.limits.read().retention_period_ns;
        let cutoff = if period > 0 {
            now_ns() - period
        } else {
            i64::MIN
        };
        let mut inner = self.inner.write();
        let mut total: u64 = inner.segments.iter().map(|s| s.bytes).sum();
        let mut drop_ids = Vec::new();
        let mut keep = Vec::new();
        let n = inner.segments.len();
        for (i, s) in inner.segments.iter().enumerate() {
            // Never drop the newest segment for size alone.
            let too_big = self.opts.retention_size_bytes > 0
                && total > self.opts.retention_size_bytes
                && i + 1 < n;
            if s.max_ts < cutoff || too_big {
                total -= s.bytes;
                drop_ids.push(s.id);
            } else {
                keep.push(s.clone());
            }
        }
        if drop_ids.is_empty() {
            return Ok(());
        }
        inner.segments = keep;
        for t in inner.tenants.values_mut() {
            for s in t.streams.iter_mut() {
                s.retain_chunks(|c| !drop_ids.contains(&c.seg));
            }
        }
        drop(inner);
        let chunks_dir = self.dir.join("chunks");
        for id in &drop_ids {
            let _ = std::fs::remove_file(chunks_dir.join(format!("{id:08}.meta")));
            let _ = std::fs::remove_file(chunks_dir.join(format!("{id:08}.seg")));
        }
        wal::sync_dir(&chunks_dir);
        tracing::info!(segments = drop_ids.len(), "log retention deleted segments");
        Ok(())
    }

    /// Per-tenant retention (a tenant's own `retention_period`, pharos.yml `tenants:`), as
    /// Loki's compactor applies it: the tenant's chunks whose every entry is older than its
    /// cutoff are dropped (heads holding such entries are flushed into chunks first), and a
    /// segment no stream refers to any more is deleted. Segments are shared by tenants, so a
    /// segment still holding another tenant's chunks stays on disk until those go; its dropped
    /// chunks are no longer answered.
    fn enforce_tenant_retention(&self) -> Result<(), StorageError> {
        let base = self.limits.read().clone();
        let now = now_ns();
        let cutoffs: HashMap<String, i64> = {
            let inner = self.inner.read();
            inner
                .tenants
                .keys()
                .filter_map(|t| {
                    let p = crate::limits::for_tenant(t, &base).retention_period_ns;
                    (p > 0 && p != base.retention_period_ns).then(|| (t.clone(), now - p))
                })
                .collect()
        };
        if cutoffs.is_empty() {
            return Ok(());
        }
        let stale_heads = {
            let inner = self.inner.read();
            cutoffs.iter().any(|(t, cut)| {
                inner
                    .tenants
                    .get(t)
                    .is_some_and(|t| t.streams.iter().any(|s| s.has_head() && s.head_min < *cut))
            })
        };
        if stale_heads {
            self.flush()?;
        }
        let doomed: Vec<u64> = {
            let mut inner = self.inner.write();
            let mut dropped = 0usize;
            for (t, cut) in &cutoffs {
                if let Some(t) = inner.tenants.get_mut(t) {
                    for s in t.streams.iter_mut() {
                        let before = s.chunks.len();
                        s.retain_chunks(|c| c.max_ts >= *cut);
                        dropped += before - s.chunks.len();
                    }
                }
            }
            if dropped == 0 {
                return Ok(());
            }
            let used: std::collections::HashSet<u64> = inner
                .tenants
                .values()
                .flat_map(|t| {
                    t.streams
                        .iter()
                        .flat_map(|s| s.chunks.iter().map(|c| c.seg))
                })
                .collect();
            let doomed: Vec<u64> = inner
                .segments
                .iter()
                .map(|s| s.id)
                .filter(|id| !used.contains(id))
                .collect();
            inner.segments.retain(|s| used.contains(&s.id));
            tracing::info!(
                chunks = dropped,
                segments = doomed.len(),
                "per-tenant log retention"
            );
            doomed
        };
        let chunks_dir = self.dir.join("chunks");
        for id in &doomed {
            let _ = std::fs::remove_file(chunks_dir.join(format!("{id:08}.meta")));
            let _ = std::fs::remove_file(chunks_dir.join(format!("{id:08}.seg")));
        }
        if !doomed.is_empty() {
            wal::sync_dir(&chunks_dir);
        }
        Ok(())
    }

    /// Label names of the tenant's streams matching `matchers` with data in `[start, end)`.
    /// Answered from the postings: without matchers a name is in when one stream of one of
    /// its values overlaps the range (no walk over every stream).
    pub fn label_names(
        &self,
        tenant: &str,
        matchers: &[LabelMatcher],
        start: i64,
        end: i64,
    ) -> Vec<String> {
        let inner = self.inner.read();
        let Some(t) = inner.tenants.get(tenant) else {
            return Vec::new();
        };
        let live = |id: &u32| t.streams[*id as usize].overlaps(start, end);
        if matchers.is_empty() {
            return t
                .postings
                .iter()
                .filter(|(_, vals)| vals.values().any(|ids| ids.iter().any(live)))
                .map(|(name, _)| name.clone())
                .collect();
        }
        let mut names = std::collections::BTreeSet::new();
        for id in t.matching(matchers).iter().filter(|id| live(id)) {
            for p in t.streams[*id as usize].labels.iter() {
                names.insert(p.name.as_str());
            }
        }
        names.into_iter().map(str::to_string).collect()
    }

    /// Values of label `name` in matching streams with data in `[start, end)`, from the
    /// postings of `name` (each value's streams are checked until one overlaps the range).
    pub fn label_values(
        &self,
        tenant: &str,
        name: &str,
        matchers: &[LabelMatcher],
        start: i64,
        end: i64,
    ) -> Vec<String> {
        let inner = self.inner.read();
        let Some(t) = inner.tenants.get(tenant) else {
            return Vec::new();
        };
        let Some(vals) = t.postings.get(name) else {
            return Vec::new();
        };
        let live = |id: &u32| t.streams[*id as usize].overlaps(start, end);
        if matchers.is_empty() {
            return vals
                .iter()
                .filter(|(_, ids)| ids.iter().any(live))
                .map(|(v, _)| v.clone())
                .collect();
        }
        let mut out = std::collections::BTreeSet::new();
        for id in t.matching(matchers).iter().filter(|id| live(id)) {
            if let Some(v) = t.streams[*id as usize].labels.get(name) {
                out.insert(v);
            }
        }
        out.into_iter().map(str::to_string).collect()
    }

    /// Streams/chunks/entries/bytes of matching streams overlapping `[start, end)`.
    pub fn index_stats(
        &self,
        tenant: &str,
        matchers: &[LabelMatcher],
        start: i64,
        end: i64,
    ) -> IndexStats {
        let mut st = IndexStats::default();
        for (_, s) in self.stream_stats(tenant, matchers, start, end) {
            st.streams += 1;
            st.chunks += s.chunks;
            st.entries += s.entries;
            st.bytes += s.bytes;
        }
        st
    }

    /// Per-stream chunks/entries/bytes of matching streams with data in `[start, end)` (chunk
    /// counts and bytes are whole chunks overlapping the range, as Loki's index reports them).
    pub fn stream_stats(
        &self,
        tenant: &str,
        matchers: &[LabelMatcher],
        start: i64,
        end: i64,
    ) -> Vec<(Labels, IndexStats)> {
        let inner = self.inner.read();
        let mut out = Vec::new();
        let Some(t) = inner.tenants.get(tenant) else {
            return out;
        };
        for id in t.matching(matchers) {
            let s = &t.streams[id as usize];
            let mut st = IndexStats {
                streams: 1,
                ..Default::default()
            };
            for c in &s.chunks {
                if c.max_ts >= start && c.min_ts < end {
                    st.chunks += 1;
                    st.entries += c.entries as u64;
                    st.bytes += c.raw_bytes;
                }
            }
            let mut head_any = false;
            for e in s
                .sealed
                .iter()
                .chain(s.flushing.iter())
                .flat_map(|b| b.iter())
                .chain(s.open.iter())
            {
                if e.ts_ns >= start && e.ts_ns < end {
                    st.entries += 1;
                    st.bytes += e.line.len() as u64;
                    head_any = true;
                }
            }
            if head_any {
                st.chunks += 1;
            }
            if st.chunks > 0 {
                out.push(((*s.labels).clone(), st));
            }
        }
        out
    }

    /// Bytes of chunk segments on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.inner.read().segments.iter().map(|s| s.bytes).sum()
    }

    /// Streams, label cardinality, ingest totals and sizes across tenants.
    pub fn summary(&self) -> StoreSummary {
        use std::sync::atomic::Ordering::Relaxed;
        let inner = self.inner.read();
        let mut labels: BTreeMap<&str, (std::collections::HashSet<&str>, usize)> = BTreeMap::new();
        let mut streams = 0;
        for t in inner.tenants.values() {
            streams += t.streams.len();
            for (name, values) in &t.postings {
                let e = labels.entry(name.as_str()).or_default();
                for (v, ids) in values {
                    e.0.insert(v.as_str());
                    e.1 += ids.len();
                }
            }
        }
        let mut labels: Vec<LabelCardinality> = labels
            .into_iter()
            .map(|(name, (values, streams))| LabelCardinality {
                name: name.to_string(),
                values: values.len(),
                streams,
            })
            .collect();
        labels.sort_by(|a, b| b.values.cmp(&a.values).then_with(|| a.name.cmp(&b.name)));
        StoreSummary {
            tenants: inner.tenants.len(),
            streams,
            lines_received: self.ingest.lines.load(Relaxed),
            bytes_received: self.ingest.bytes.load(Relaxed),
            head_bytes: inner.head_bytes as u64,
            segments: inner.segments.len(),
            disk_bytes: inner.segments.iter().map(|s| s.bytes).sum(),
            labels,
        }
    }

    /// Loki's ingest counters and stream gauge in text exposition format.
    pub fn write_self_metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        use std::sync::atomic::Ordering::Relaxed;
        let streams: usize = self
            .inner
            .read()
            .tenants
            .values()
            .map(|t| t.streams.len())
            .sum();
        let _ = writeln!(
            out,
            "# HELP loki_distributor_lines_received_total Log lines stored.\n# TYPE loki_distributor_lines_received_total counter\nloki_distributor_lines_received_total {}",
            self.ingest.lines.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP loki_distributor_bytes_received_total Bytes of log lines stored.\n# TYPE loki_distributor_bytes_received_total counter\nloki_distributor_bytes_received_total {}",
            self.ingest.bytes.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP loki_ingester_memory_streams Streams in the log store.\n# TYPE loki_ingester_memory_streams gauge\nloki_ingester_memory_streams {streams}"
        );
        self.wal.stats().write_metrics(out, "pharos_logs_wal");
        crate::limits::write_discarded_metrics(out);
    }

    fn maybe_flush(&self) {
        let (bytes, age) = {
            let i = self.inner.read();
            (i.head_bytes, i.head_since.elapsed().as_secs())
        };
        if bytes >= self.opts.head_flush_bytes || (bytes > 0 && age >= self.opts.head_max_age_secs)
        {
            if let Err(e) = self.flush() {
                tracing::error!("log store flush failed: {e}");
            }
        }
    }
}

fn background(weak: Weak<LogStore>) {
    let mut ticks = 0u64;
    loop {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let Some(s) = weak.upgrade() else { return };
        if *s.stop.lock() {
            return;
        }
        s.maybe_flush();
        ticks += 1;
        if ticks.is_multiple_of(20) {
            if let Err(e) = s.purge_deleted() {
                tracing::error!("applying log delete requests failed: {e}");
            }
        }
        if ticks.is_multiple_of(120) {
            if let Err(e) = s.enforce_retention() {
                tracing::error!("log retention failed: {e}");
            }
        }
    }
}

/// Appends the index record of chunk `c` of stream `labels` of `tenant`.
fn put_chunk_meta(meta: &mut Vec<u8>, tenant: &str, labels: &Labels, c: &ChunkRef) {
    codec::put_str(meta, tenant);
    codec::put_labels(meta, labels);
    for v in [
        c.offset as i64,
        c.len as i64,
        c.min_ts,
        c.max_ts,
        c.entries as i64,
        c.raw_bytes as i64,
    ] {
        codec::put_varint(meta, v);
    }
}

/// Writes segment `id` into `dir`: the chunks, then the index (checksummed, renamed into place
/// last, so a segment without its index is an unfinished write), all fsynced.
fn write_segment_files(dir: &Path, id: u64, seg: &[u8], meta: &[u8]) -> Result<(), StorageError> {
    write_synced(&dir.join(format!("{id:08}.seg")), seg)?;
    let mut m = Vec::with_capacity(meta.len() + 4);
    m.extend_from_slice(&crc32fast::hash(meta).to_le_bytes());
    m.extend_from_slice(meta);
    let tmp = dir.join(format!("{id:08}.meta.tmp"));
    write_synced(&tmp, &m)?;
    std::fs::rename(&tmp, dir.join(format!("{id:08}.meta"))).map_err(io)?;
    wal::sync_dir(dir);
    Ok(())
}

/// The decompressed bytes of chunk `c` (`z`: its stored bytes, either chunk format) in the
/// layout of `codec::put_entries`.
fn decompress_chunk(z: &[u8], c: &ChunkRef) -> Result<Vec<u8>, colchunk::DecodeError> {
    colchunk::decode(z, chunk_decode_limit(c))
}

/// The most decoded bytes chunk `c` may give (a corrupt chunk cannot make a read allocate more).
fn chunk_decode_limit(c: &ChunkRef) -> usize {
    let limit = (c.raw_bytes + 64 * (c.entries as u64 + 1)) * 8 + (1 << 20);
    usize::try_from(limit).unwrap_or(usize::MAX)
}

pub(crate) fn write_synced(path: &Path, data: &[u8]) -> Result<(), StorageError> {
    use std::io::Write;
    let mut f = std::fs::File::create(path).map_err(io)?;
    f.write_all(data).map_err(io)?;
    f.sync_all().map_err(io)?;
    Ok(())
}

fn load_segments(dir: &Path, inner: &mut Inner) -> Result<(), StorageError> {
    let mut ids = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io)? {
        let e = e.map_err(io)?;
        let name = e.file_name().to_string_lossy().to_string();
        if let Some(id) = name
            .strip_suffix(".meta")
            .and_then(|s| s.parse::<u64>().ok())
        {
            ids.push(id);
        } else if name.ends_with(".tmp") {
            let _ = std::fs::remove_file(e.path());
        }
    }
    ids.sort_unstable();
    // Segments without meta are incomplete flushes whose data is still in the WAL.
    for e in std::fs::read_dir(dir).map_err(io)? {
        let e = e.map_err(io)?;
        let name = e.file_name().to_string_lossy().to_string();
        if let Some(id) = name
            .strip_suffix(".seg")
            .and_then(|s| s.parse::<u64>().ok())
        {
            if !ids.contains(&id) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    for id in ids {
        let data = std::fs::read(dir.join(format!("{id:08}.meta"))).map_err(io)?;
        if data.len() < 4
            || crc32fast::hash(&data[4..])
                != u32::from_le_bytes([data[0], data[1], data[2], data[3]])
        {
            return Err(StorageError::Io(format!(
                "corrupt chunk index {id:08}.meta"
            )));
        }
        let seg_bytes = std::fs::metadata(dir.join(format!("{id:08}.seg")))
            .map_err(io)?
            .len();
        let mut r = Reader::new(&data[4..]);
        let mut seg_max = i64::MIN;
        let bad = |e: codec::Corrupt| StorageError::Io(format!("chunk index {id:08}.meta: {e}"));
        while !r.done() {
            let tenant = r.string().map_err(bad)?;
            let labels = codec::read_labels(&mut r).map_err(bad)?;
            let mut v = [0i64; 6];
            for x in v.iter_mut() {
                *x = r.varint().map_err(bad)?;
            }
            let c = ChunkRef {
                seg: id,
                offset: v[0] as u64,
                len: v[1] as u32,
                min_ts: v[2],
                max_ts: v[3],
                entries: v[4] as u32,
                raw_bytes: v[5] as u64,
            };
            seg_max = seg_max.max(c.max_ts);
            let t = inner.tenants.entry(tenant).or_default();
            let sid = stream_id(t, labels);
            t.streams[sid as usize].add_chunk(c);
        }
        inner.segments.push(SegmentMeta {
            id,
            bytes: seg_bytes,
            max_ts: seg_max,
        });
        inner.next_seg = id + 1;
    }
    Ok(())
}

fn stream_id(t: &mut Tenant, labels: Labels) -> u32 {
    if let Some(id) = t.by_labels.get(&labels) {
        return *id;
    }
    let id = t.streams.len() as u32;
    let labels = Arc::new(labels);
    for p in labels.iter() {
        t.postings
            .entry(p.name.clone())
            .or_default()
            .entry(p.value.clone())
            .or_default()
            .push(id);
    }
    t.by_labels.insert(labels.clone(), id);
    t.streams.push(Stream {
        labels,
        ..Default::default()
    });
    id
}

fn apply(inner: &mut Inner, tenant: &str, streams: Vec<LogStream>) {
    let t = match inner.tenants.get_mut(tenant) {
        Some(t) => t,
        None => inner.tenants.entry(tenant.to_string()).or_default(),
    };
    let mut added = 0usize;
    for s in streams {
        if s.entries.is_empty() {
            continue;
        }
        let sid = stream_id(t, s.labels);
        let st = &mut t.streams[sid as usize];
        for e in s.entries {
            if !st.has_head() {
                st.head_min = e.ts_ns;
                st.head_max = e.ts_ns;
            } else {
                st.head_min = st.head_min.min(e.ts_ns);
                st.head_max = st.head_max.max(e.ts_ns);
            }
            added += e.line.len()
                + 24
                + e.metadata
                    .iter()
                    .map(|(k, v)| k.len() + v.len())
                    .sum::<usize>();
            st.open.push(e);
            if st.open.len() >= HEAD_BLOCK_ENTRIES {
                let mut b = std::mem::take(&mut st.open);
                b.sort_by_key(|e| e.ts_ns);
                st.sealed.push(Arc::new(b));
            }
        }
    }
    inner.head_bytes += added;
}

fn encode_push(tenant: &str, streams: &[LogStream]) -> Vec<u8> {
    let mut b = Vec::new();
    codec::put_str(&mut b, tenant);
    codec::put_uvarint(&mut b, streams.len() as u64);
    for s in streams {
        codec::put_labels(&mut b, &s.labels);
        codec::put_entries(&mut b, &s.entries);
    }
    b
}

/// Decodes one WAL record: the tenant and the streams of one accepted push.
pub fn decode_push(b: &[u8]) -> Result<(String, Vec<LogStream>), codec::Corrupt> {
    let mut r = Reader::new(b);
    let tenant = r.string()?;
    let n = r.uvarint()? as usize;
    let mut streams = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let labels = codec::read_labels(&mut r)?;
        let entries = codec::read_entries(&mut r)?;
        streams.push(LogStream { labels, entries });
    }
    Ok((tenant, streams))
}

impl LogSink for LogStore {
    /// Validates against the limits, appends the valid entries to the WAL (durable on return)
    /// and the heads. Invalid entries are dropped and reported as `BadInput` after the valid
    /// ones were stored, as Loki does; rate and stream limits reject the whole push (`Limit`).
    fn push(&self, tenant: &str, streams: Vec<LogStream>) -> Result<LogPushStats, StorageError> {
        let limits = crate::limits::for_tenant(tenant, &self.limits.read());
        let now = now_ns();
        let mut errors: Vec<String> = Vec::new();
        let mut valid: Vec<LogStream> = Vec::with_capacity(streams.len());
        let mut stats = LogPushStats::default();
        let mut total_lines = 0usize;
        for mut s in streams {
            total_lines += s.entries.len();
            if let Err(e) = limits.validate_labels(&s.labels) {
                crate::limits::discard(crate::limits::reason_of(&e), tenant, s.entries.len());
                errors.push(e);
                continue;
            }
            let labels = &s.labels;
            s.entries.retain_mut(|e| {
                match limits.validate_entry(labels, e.ts_ns, &mut e.line, now) {
                    Ok(()) => true,
                    Err(msg) => {
                        crate::limits::discard(crate::limits::reason_of(&msg), tenant, 1);
                        errors.push(msg);
                        false
                    }
                }
            });
            if !s.entries.is_empty() {
                stats.accepted_lines += s.entries.len();
                stats.accepted_bytes += s.entries.iter().map(|e| e.line.len()).sum::<usize>();
                valid.push(s);
            }
        }
        if stats.accepted_lines > 0
            && !self.rate.allow(
                tenant,
                stats.accepted_bytes,
                limits.ingestion_rate_bytes,
                limits.ingestion_burst_bytes,
            )
        {
            crate::limits::discard("rate_limited", tenant, stats.accepted_lines);
            return Err(StorageError::Limit(format!(
                "Ingestion rate limit exceeded for user {tenant} (limit: {} bytes/sec) while attempting to ingest '{}' lines totaling '{}' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased",
                limits.ingestion_rate_bytes as u64, total_lines, stats.accepted_bytes
            )));
        }
        if limits.per_stream_rate_bytes > 0.0 {
            let mut limited = Vec::new();
            valid.retain(|s| {
                let bytes: usize = s.entries.iter().map(|e| e.line.len()).sum();
                let key = format!("{tenant}\u{0}{}", s.labels.hash64());
                if self.stream_rate.allow(&key, bytes, limits.per_stream_rate_bytes, limits.per_stream_burst_bytes) {
                    true
                } else {
                    crate::limits::discard("per_stream_rate_limit", tenant, s.entries.len());
                    limited.push(format!(
                        "Per stream rate limit exceeded (limit: {}B/sec) while attempting to ingest for stream '{}' totaling {bytes}B, consider splitting a stream via additional labels or contact your Loki administrator to see if the limit can be increased",
                        limits.per_stream_rate_bytes as u64,
                        crate::limits::labels_string(&s.labels)
                    ));
                    false
                }
            });
            if !limited.is_empty() {
                if !valid.is_empty() {
                    // Store the streams within their limits, then report the others.
                    self.push_valid(tenant, valid, &limits, &mut stats)?;
                }
                return Err(StorageError::Limit(limited.join("\n")));
            }
        }
        if !valid.is_empty() {
            self.push_valid(tenant, valid, &limits, &mut stats)?;
        }
        if !errors.is_empty() {
            let n = errors.len();
            let mut msg = errors.into_iter().take(10).collect::<Vec<_>>().join("\n");
            if n > 10 {
                msg.push_str(&format!("\nand {} more errors", n - 10));
            }
            return Err(StorageError::BadInput(msg));
        }
        Ok(stats)
    }
}

impl LogStore {
    fn push_valid(
        &self,
        tenant: &str,
        valid: Vec<LogStream>,
        limits: &Limits,
        stats: &mut LogPushStats,
    ) -> Result<(), StorageError> {
        {
            let _cp = self.checkpoint.read();
            {
                let inner = self.inner.read();
                let t = inner.tenants.get(tenant);
                let new_streams = valid
                    .iter()
                    .filter(|s| t.is_none_or(|t| !t.by_labels.contains_key(&s.labels)))
                    .count();
                let existing = t.map(|t| t.streams.len()).unwrap_or(0);
                if limits.max_streams_per_user > 0
                    && new_streams > 0
                    && existing + new_streams > limits.max_streams_per_user
                {
                    let lines = valid.iter().map(|s| s.entries.len()).sum();
                    crate::limits::discard("stream_limit", tenant, lines);
                    return Err(StorageError::Limit(format!(
                        "Maximum active stream limit exceeded, reduce the number of active streams (reduce labels or reduce label values), or contact your Loki administrator to see if the limit can be increased, user: '{tenant}'"
                    )));
                }
                stats.streams_created = new_streams;
            }
            self.wal.append(&encode_push(tenant, &valid)).map_err(io)?;
            let tail = if self.tail.receiver_count() > 0 {
                Some(
                    valid
                        .iter()
                        .map(|s| (s.labels.clone(), s.entries.clone()))
                        .collect::<Vec<_>>(),
                )
            } else {
                None
            };
            let (lines, bytes) = valid.iter().fold((0u64, 0u64), |(l, b), s| {
                let sb: usize = s.entries.iter().map(|e| e.line.len()).sum();
                (l + s.entries.len() as u64, b + sb as u64)
            });
            apply(&mut self.inner.write(), tenant, valid);
            use std::sync::atomic::Ordering::Relaxed;
            self.ingest.lines.fetch_add(lines, Relaxed);
            self.ingest.bytes.fetch_add(bytes, Relaxed);
            if let Some(streams) = tail {
                let _ = self.tail.send(Arc::new(TailBatch {
                    tenant: tenant.to_string(),
                    streams,
                }));
            }
        }
        Ok(())
    }
}

enum Source {
    Chunk(ChunkRef),
    Mem(Arc<Vec<LogEntry>>),
}

struct StreamSnap {
    labels: Arc<Labels>,
    sources: Vec<(i64, i64, Source)>,
}

struct Cursor {
    entries: Vec<LogEntry>,
    /// Next index (forward) or one past next (backward).
    pos: usize,
}

struct Item {
    key: i64,
    stream: u32,
    /// Pending sources sort before open cursors with the same key.
    pending: bool,
    src: usize,
    forward: bool,
}

impl PartialEq for Item {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Item {
    /// BinaryHeap is a max-heap: the "greatest" item is visited next.
    fn cmp(&self, o: &Self) -> Ordering {
        let k = if self.forward {
            o.key.cmp(&self.key)
        } else {
            self.key.cmp(&o.key)
        };
        k.then(self.pending.cmp(&o.pending))
            .then(o.stream.cmp(&self.stream))
            .then(o.src.cmp(&self.src))
    }
}

impl LogStore {
    fn snapshot(
        &self,
        tenant: &str,
        matchers: &[LabelMatcher],
        start: i64,
        end: i64,
    ) -> Vec<StreamSnap> {
        let inner = self.inner.read();
        let Some(t) = inner.tenants.get(tenant) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for id in t.matching(matchers) {
            let s = &t.streams[id as usize];
            let mut sources = Vec::new();
            for c in &s.chunks {
                if c.max_ts >= start && c.min_ts < end {
                    sources.push((c.min_ts, c.max_ts, Source::Chunk(*c)));
                }
            }
            if !s.flushing.is_empty() && s.flush_max >= start && s.flush_min < end {
                for b in &s.flushing {
                    if let (Some(f), Some(l)) = (b.first(), b.last()) {
                        if l.ts_ns >= start && f.ts_ns < end {
                            sources.push((f.ts_ns, l.ts_ns, Source::Mem(b.clone())));
                        }
                    }
                }
            }
            if s.has_head() && s.head_max >= start && s.head_min < end {
                for b in &s.sealed {
                    if let (Some(f), Some(l)) = (b.first(), b.last()) {
                        if l.ts_ns >= start && f.ts_ns < end {
                            sources.push((f.ts_ns, l.ts_ns, Source::Mem(b.clone())));
                        }
                    }
                }
                let mut open: Vec<LogEntry> = s
                    .open
                    .iter()
                    .filter(|e| e.ts_ns >= start && e.ts_ns < end)
                    .cloned()
                    .collect();
                if !open.is_empty() {
                    open.sort_by_key(|e| e.ts_ns);
                    let (f, l) = (open[0].ts_ns, open[open.len() - 1].ts_ns);
                    sources.push((f, l, Source::Mem(Arc::new(open))));
                }
            }
            if !sources.is_empty() {
                out.push(StreamSnap {
                    labels: s.labels.clone(),
                    sources,
                });
            }
        }
        out
    }

    /// The entries of chunk `c` in `[start, end)` whose line passes `keep`, decoded from the
    /// decompressed bytes without building the entries that fail.
    fn read_chunk(
        &self,
        c: &ChunkRef,
        start: i64,
        end: i64,
        keep: Option<Keep>,
        st: &mut ScanStats,
    ) -> Result<Vec<LogEntry>, StorageError> {
        let path = self.dir.join("chunks").join(format!("{:08}.seg", c.seg));
        let f = match std::fs::File::open(&path) {
            Ok(f) => f,
            // Deleted by retention while the query ran.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(e)),
        };
        let mut buf = vec![0u8; c.len as usize];
        f.read_exact_at(&mut buf, c.offset).map_err(io)?;
        let corrupt = |e: &dyn std::fmt::Display| {
            StorageError::Io(format!("chunk in {}: {e}", path.display()))
        };
        let mut out = Vec::new();
        // Lines are rebuilt (columnar chunks) or walked (legacy) one at a time and tested in
        // place; only the ones that pass become entries. Lines outside the range, and columnar
        // lines that lack a required needle, are not rebuilt at all.
        let filter = colchunk::RowFilter {
            start,
            end,
            needles: keep.map_or(&[][..], |k| k.needles),
        };
        let mut skipped = |len: usize| {
            st.entries += 1;
            st.bytes += len as u64;
        };
        let mut counted = ScanStats::default();
        colchunk::for_each_entry_where(
            &buf,
            chunk_decode_limit(c),
            Some(&filter),
            &mut |e| {
                counted.entries += 1;
                counted.bytes += e.line.len() as u64;
                if keep.is_none_or(|k| (k.keep)(e.line)) {
                    out.push(e.to_entry()?);
                }
                Ok(())
            },
            &mut skipped,
        )
        .map_err(|e| corrupt(&e))?;
        st.entries += counted.entries;
        st.bytes += counted.bytes;
        Ok(out)
    }

    /// Reads the chunk sources `batch` (indexes into `srcs`), on several threads when there is
    /// more than one.
    #[allow(clippy::too_many_arguments)]
    fn read_batch(
        &self,
        srcs: &[(u32, Source)],
        batch: &[usize],
        start: i64,
        end: i64,
        keep: Option<Keep>,
        st: &mut ScanStats,
        ready: &mut HashMap<usize, Vec<LogEntry>>,
    ) -> Result<(), StorageError> {
        let read = |idx: &[usize]| {
            let mut st = ScanStats::default();
            let mut got = Vec::with_capacity(idx.len());
            for &i in idx {
                if let Source::Chunk(c) = &srcs[i].1 {
                    got.push((i, self.read_chunk(c, start, end, keep, &mut st)?));
                }
            }
            Ok::<_, StorageError>((got, st))
        };
        let threads = scan_threads().min(batch.len());
        let parts: Vec<Result<_, StorageError>> = if threads <= 1 {
            vec![read(batch)]
        } else {
            let per = batch.len().div_ceil(threads);
            std::thread::scope(|sc| {
                let hs: Vec<_> = batch
                    .chunks(per)
                    .map(|b| sc.spawn(move || read(b)))
                    .collect();
                hs.into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or_else(|_| Err(io("chunk reader thread panicked")))
                    })
                    .collect()
            })
        };
        for p in parts {
            let (got, s) = p?;
            st.entries += s.entries;
            st.bytes += s.bytes;
            ready.extend(got);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    /// The k-way merge behind `scan` and `scan_filtered`: sources are decoded when the merge
    /// reaches them (chunks a few at a time, in parallel), filtered by `keep` first.
    fn scan_merge(
        &self,
        tenant: &str,
        matchers: &[LabelMatcher],
        start_ns: i64,
        end_ns: i64,
        direction: Direction,
        keep: Option<Keep>,
        visit: &mut dyn FnMut(&Labels, &LogEntry) -> bool,
    ) -> Result<ScanStats, StorageError> {
        let snaps = self.snapshot(tenant, matchers, start_ns, end_ns);
        let deletes = self.deletes.for_range(tenant, start_ns, end_ns);
        // Per stream: the delete requests whose selector matches it.
        let mut stream_deletes: Vec<Vec<Arc<crate::deletes::Compiled>>> = Vec::new();
        let forward = direction == Direction::Forward;
        let mut st = ScanStats::default();
        // Flatten sources; each heap item refers to one.
        let mut srcs: Vec<(u32, Source)> = Vec::new();
        let mut heap = BinaryHeap::new();
        let mut labels: Vec<Arc<Labels>> = Vec::new();
        // Chunk sources in the order the merge will likely reach them (for read-ahead).
        let mut order: Vec<(i64, usize)> = Vec::new();
        for (sid, s) in snaps.into_iter().enumerate() {
            stream_deletes.push(
                deletes
                    .iter()
                    .filter(|d| d.selects(&s.labels))
                    .cloned()
                    .collect(),
            );
            labels.push(s.labels);
            for (lo, hi, src) in s.sources {
                let key = if forward { lo } else { hi };
                if matches!(src, Source::Chunk(_)) {
                    order.push((if forward { key } else { -key }, srcs.len()));
                }
                heap.push(Item {
                    key,
                    stream: sid as u32,
                    pending: true,
                    src: srcs.len(),
                    forward,
                });
                srcs.push((sid as u32, src));
            }
        }
        order.sort_unstable();
        let mut next_order = 0usize;
        let mut taken = vec![false; srcs.len()];
        let mut ready: HashMap<usize, Vec<LogEntry>> = HashMap::new();
        let read_ahead = scan_threads() * 2;
        let mut cursors: HashMap<usize, Cursor> = HashMap::new();
        let mut prev: (u32, i64, Vec<String>) = (u32::MAX, i64::MIN, Vec::new());
        while let Some(it) = heap.pop() {
            if it.pending {
                let mut entries = match &srcs[it.src].1 {
                    Source::Chunk(_) => {
                        if !taken[it.src] {
                            let mut batch = vec![it.src];
                            taken[it.src] = true;
                            while batch.len() < read_ahead && next_order < order.len() {
                                let j = order[next_order].1;
                                next_order += 1;
                                if !taken[j] {
                                    taken[j] = true;
                                    batch.push(j);
                                }
                            }
                            self.read_batch(
                                &srcs, &batch, start_ns, end_ns, keep, &mut st, &mut ready,
                            )?;
                        }
                        ready.remove(&it.src).unwrap_or_default()
                    }
                    Source::Mem(m) => {
                        let mut v = Vec::new();
                        for e in m.iter() {
                            if e.ts_ns < start_ns || e.ts_ns >= end_ns {
                                continue;
                            }
                            st.entries += 1;
                            st.bytes += e.line.len() as u64;
                            if keep.is_none_or(|k| (k.keep)(e.line.as_bytes())) {
                                v.push(e.clone());
                            }
                        }
                        v
                    }
                };
                let dels = &stream_deletes[it.stream as usize];
                if !dels.is_empty() {
                    let l = &labels[it.stream as usize];
                    entries.retain(|e| !dels.iter().any(|d| d.deletes(l, e)));
                }
                if entries.windows(2).any(|w| w[0].ts_ns > w[1].ts_ns) {
                    entries.sort_by_key(|e| e.ts_ns);
                }
                if entries.is_empty() {
                    continue;
                }
                let pos = if forward { 0 } else { entries.len() };
                let key = if forward {
                    entries[0].ts_ns
                } else {
                    entries[entries.len() - 1].ts_ns
                };
                cursors.insert(it.src, Cursor { entries, pos });
                heap.push(Item {
                    key,
                    pending: false,
                    ..it
                });
                continue;
            }
            let Some(c) = cursors.get_mut(&it.src) else {
                continue;
            };
            let idx = if forward { c.pos } else { c.pos - 1 };
            // Identical entries (same stream, timestamp and line) are stored once, as in Loki;
            // this also hides a replayed WAL record whose segment was already written.
            // Entries of one stream with one timestamp come out contiguously.
            if prev.0 != it.stream || prev.1 != c.entries[idx].ts_ns {
                prev.0 = it.stream;
                prev.1 = c.entries[idx].ts_ns;
                prev.2.clear();
            }
            // (bounded, so a stream with very many lines at one timestamp stays linear)
            if prev.2.len() >= 256 || !prev.2.contains(&c.entries[idx].line) {
                if !visit(&labels[it.stream as usize], &c.entries[idx]) {
                    return Ok(st);
                }
                if prev.2.len() < 256 {
                    prev.2.push(std::mem::take(&mut c.entries[idx].line));
                }
            }
            let next = if forward {
                c.pos += 1;
                c.entries.get(c.pos).map(|e| e.ts_ns)
            } else {
                c.pos -= 1;
                if c.pos > 0 {
                    Some(c.entries[c.pos - 1].ts_ns)
                } else {
                    None
                }
            };
            match next {
                Some(key) => heap.push(Item { key, ..it }),
                None => {
                    cursors.remove(&it.src);
                }
            }
        }
        Ok(st)
    }
}

/// A line predicate pushed into the scan (LogQL's leading line filters).
/// A scan's leading line filters: the predicate over line bytes, and the byte strings every
/// kept line contains (compiled for the columnar scan: lines lacking one are not rebuilt).
#[derive(Clone, Copy)]
struct Keep<'a> {
    keep: &'a (dyn Fn(&[u8]) -> bool + Sync),
    needles: &'a [colchunk::Needle],
}

/// Threads a scan decodes chunks on.
fn scan_threads() -> usize {
    static N: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *N.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(8)
    })
}

impl LogQueryable for LogStore {
    fn streams(
        &self,
        tenant: &str,
        matchers: &[LabelMatcher],
        start_ns: i64,
        end_ns: i64,
    ) -> Result<Vec<Labels>, StorageError> {
        let inner = self.inner.read();
        let Some(t) = inner.tenants.get(tenant) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for id in t.matching(matchers) {
            let s = &t.streams[id as usize];
            if let Some((lo, hi)) = s.bounds() {
                if hi >= start_ns && lo < end_ns {
                    out.push((*s.labels).clone());
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn scan(
        &self,
        tenant: &str,
        matchers: &[LabelMatcher],
        start_ns: i64,
        end_ns: i64,
        direction: Direction,
        visit: &mut dyn FnMut(&Labels, &LogEntry) -> bool,
    ) -> Result<(), StorageError> {
        self.scan_merge(tenant, matchers, start_ns, end_ns, direction, None, visit)
            .map(|_| ())
    }

    #[allow(clippy::too_many_arguments)]
    fn scan_filtered(
        &self,
        tenant: &str,
        matchers: &[LabelMatcher],
        start_ns: i64,
        end_ns: i64,
        direction: Direction,
        keep: &(dyn Fn(&[u8]) -> bool + Sync),
        required: &[&[u8]],
        visit: &mut dyn FnMut(&Labels, &LogEntry) -> bool,
    ) -> Result<ScanStats, StorageError> {
        let needles: Vec<colchunk::Needle> = required
            .iter()
            .filter_map(|n| colchunk::Needle::new(n))
            .collect();
        self.scan_merge(
            tenant,
            matchers,
            start_ns,
            end_ns,
            direction,
            Some(Keep {
                keep,
                needles: &needles,
            }),
            visit,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::MatchOp;

    fn opts() -> LogStoreOptions {
        LogStoreOptions {
            background: false,
            limits: Limits {
                reject_old_samples: false,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn entry(ts: i64, line: &str) -> LogEntry {
        LogEntry {
            ts_ns: ts,
            line: line.into(),
            metadata: vec![],
        }
    }

    fn collect(s: &LogStore, m: &[LabelMatcher], dir: Direction) -> Vec<(String, i64, String)> {
        let mut v = Vec::new();
        s.scan("fake", m, 0, i64::MAX, dir, &mut |l, e| {
            v.push((
                l.get("job").unwrap_or("").to_string(),
                e.ts_ns,
                e.line.clone(),
            ));
            true
        })
        .unwrap();
        v
    }

    #[test]
    fn push_flush_reopen_scan_ordered() {
        let d = tempfile::tempdir().unwrap();
        let s = LogStore::open(d.path(), opts()).unwrap();
        let a = Labels::from_pairs([("job", "a")]);
        let b = Labels::from_pairs([("job", "b")]);
        s.push(
            "fake",
            vec![LogStream {
                labels: a.clone(),
                entries: vec![entry(3, "a3"), entry(1, "a1")],
            }],
        )
        .unwrap();
        s.flush().unwrap();
        s.push(
            "fake",
            vec![
                LogStream {
                    labels: b.clone(),
                    entries: vec![entry(2, "b2")],
                },
                LogStream {
                    labels: a.clone(),
                    entries: vec![entry(2, "a2"), entry(5, "a5")],
                },
            ],
        )
        .unwrap();
        let m = [LabelMatcher::new("job", MatchOp::RegexMatch, ".+").unwrap()];
        let fwd: Vec<i64> = collect(&s, &m, Direction::Forward)
            .iter()
            .map(|x| x.1)
            .collect();
        assert_eq!(fwd, vec![1, 2, 2, 3, 5]);
        drop(s);
        // Reopen: heads come back from the WAL.
        let s = LogStore::open(d.path(), opts()).unwrap();
        let bwd: Vec<String> = collect(&s, &m, Direction::Backward)
            .iter()
            .map(|x| x.2.clone())
            .collect();
        assert_eq!(bwd[..2], ["a5", "a3"]);
        assert_eq!(bwd[4], "a1");
        let ma = [LabelMatcher::new("job", MatchOp::Equal, "a").unwrap()];
        assert_eq!(collect(&s, &ma, Direction::Forward).len(), 4);
        assert_eq!(s.streams("fake", &m, 0, 3).unwrap().len(), 2);
        assert_eq!(s.streams("fake", &m, 4, 10).unwrap(), vec![a.clone()]);
        assert_eq!(s.streams("other", &m, 0, 10).unwrap().len(), 0);
        let st = s.index_stats("fake", &m, 0, i64::MAX);
        assert_eq!((st.streams, st.entries), (2, 5));
    }

    #[test]
    fn label_endpoints_from_postings_respect_range_and_matchers() {
        let d = tempfile::tempdir().unwrap();
        let s = LogStore::open(d.path(), opts()).unwrap();
        let push = |app: &str, extra: Option<&str>, ts: i64| {
            let mut l = vec![("app", app.to_string())];
            if let Some(x) = extra {
                l.push(("extra", x.to_string()));
            }
            s.push(
                "fake",
                vec![LogStream {
                    labels: Labels::from_pairs(l),
                    entries: vec![entry(ts, "line")],
                }],
            )
            .unwrap();
        };
        push("a", None, 10);
        s.flush().unwrap();
        push("b", Some("x"), 20);
        let all: [LabelMatcher; 0] = [];
        assert_eq!(s.label_names("fake", &all, 0, 100), vec!["app", "extra"]);
        assert_eq!(s.label_names("fake", &all, 0, 15), vec!["app"]);
        assert_eq!(s.label_values("fake", "app", &all, 0, 100), vec!["a", "b"]);
        assert_eq!(s.label_values("fake", "app", &all, 15, 100), vec!["b"]);
        assert!(s.label_values("fake", "nope", &all, 0, 100).is_empty());
        assert!(s.label_names("other", &all, 0, 100).is_empty());
        let m = [LabelMatcher::new("app", MatchOp::RegexMatch, "a|c").unwrap()];
        assert_eq!(s.label_names("fake", &m, 0, 100), vec!["app"]);
        assert_eq!(s.label_values("fake", "app", &m, 0, 100), vec!["a"]);
        let m = [LabelMatcher::new("extra", MatchOp::NotEqual, "y").unwrap()];
        assert_eq!(s.label_values("fake", "app", &m, 0, 100), vec!["a", "b"]);
    }

    #[test]
    fn scan_filtered_counts_everything_and_visits_matches() {
        let d = tempfile::tempdir().unwrap();
        let s = LogStore::open(d.path(), opts()).unwrap();
        let a = Labels::from_pairs([("job", "a")]);
        s.push(
            "fake",
            vec![LogStream {
                labels: a.clone(),
                entries: vec![entry(1, "keep 1"), entry(2, "drop"), entry(3, "keep 3")],
            }],
        )
        .unwrap();
        s.flush().unwrap();
        s.push(
            "fake",
            vec![LogStream {
                labels: a.clone(),
                entries: vec![entry(4, "keep 4"), entry(5, "nope")],
            }],
        )
        .unwrap();
        let m = [LabelMatcher::new("job", MatchOp::Equal, "a").unwrap()];
        for dir in [Direction::Forward, Direction::Backward] {
            let mut got = Vec::new();
            let st = s
                .scan_filtered(
                    "fake",
                    &m,
                    0,
                    i64::MAX,
                    dir,
                    &|l| l.starts_with(b"keep"),
                    &[],
                    &mut |_, e| {
                        got.push(e.ts_ns);
                        true
                    },
                )
                .unwrap();
            if dir == Direction::Backward {
                got.reverse();
            }
            assert_eq!(got, vec![1, 3, 4]);
            assert_eq!(st.entries, 5);
        }
    }

    #[test]
    fn limits_reject() {
        let d = tempfile::tempdir().unwrap();
        let mut o = opts();
        o.limits.max_line_size = 3;
        let s = LogStore::open(d.path(), o).unwrap();
        let a = Labels::from_pairs([("job", "a")]);
        let e = s
            .push(
                "fake",
                vec![LogStream {
                    labels: a.clone(),
                    entries: vec![entry(1, "long line"), entry(2, "ok")],
                }],
            )
            .unwrap_err();
        assert!(matches!(e, StorageError::BadInput(_)));
        let m = [LabelMatcher::new("job", MatchOp::Equal, "a").unwrap()];
        assert_eq!(collect(&s, &m, Direction::Forward).len(), 1);
        let e = s
            .push(
                "fake",
                vec![LogStream {
                    labels: Labels::empty(),
                    entries: vec![entry(1, "x")],
                }],
            )
            .unwrap_err();
        assert!(e.to_string().contains("at least one label pair"));
    }

    #[test]
    fn identical_entries_are_stored_once() {
        let d = tempfile::tempdir().unwrap();
        let s = LogStore::open(d.path(), opts()).unwrap();
        let a = Labels::from_pairs([("job", "a")]);
        let push = || {
            s.push(
                "fake",
                vec![LogStream {
                    labels: a.clone(),
                    entries: vec![entry(1, "x"), entry(1, "y")],
                }],
            )
            .unwrap()
        };
        push();
        s.flush().unwrap();
        push();
        let m = [LabelMatcher::new("job", MatchOp::Equal, "a").unwrap()];
        for dir in [Direction::Forward, Direction::Backward] {
            let mut lines: Vec<String> = collect(&s, &m, dir).into_iter().map(|x| x.2).collect();
            lines.sort();
            assert_eq!(lines, vec!["x", "y"]);
        }
    }

    #[test]
    fn per_stream_rate_limit() {
        let d = tempfile::tempdir().unwrap();
        let mut o = opts();
        o.limits.per_stream_rate_bytes = 1.0;
        o.limits.per_stream_burst_bytes = 10.0;
        let s = LogStore::open(d.path(), o).unwrap();
        let a = Labels::from_pairs([("job", "a")]);
        let b = Labels::from_pairs([("job", "b")]);
        s.push(
            "fake",
            vec![LogStream {
                labels: a.clone(),
                entries: vec![entry(1, "0123456789")],
            }],
        )
        .unwrap();
        let e = s
            .push(
                "fake",
                vec![
                    LogStream {
                        labels: a.clone(),
                        entries: vec![entry(2, "more")],
                    },
                    LogStream {
                        labels: b.clone(),
                        entries: vec![entry(2, "other")],
                    },
                ],
            )
            .unwrap_err();
        assert!(
            matches!(&e, StorageError::Limit(m) if m.starts_with("Per stream rate limit exceeded")),
            "{e}"
        );
        // The stream within its limit was stored.
        let m = [LabelMatcher::new("job", MatchOp::Equal, "b").unwrap()];
        assert_eq!(collect(&s, &m, Direction::Forward).len(), 1);
    }

    #[test]
    fn retention_by_time() {
        let d = tempfile::tempdir().unwrap();
        let s = LogStore::open(d.path(), opts()).unwrap();
        let a = Labels::from_pairs([("job", "a")]);
        let now = now_ns();
        s.push(
            "fake",
            vec![LogStream {
                labels: a.clone(),
                entries: vec![entry(now - 7_200_000_000_000, "old")],
            }],
        )
        .unwrap();
        s.flush().unwrap();
        s.push(
            "fake",
            vec![LogStream {
                labels: a.clone(),
                entries: vec![entry(now, "new")],
            }],
        )
        .unwrap();
        s.flush().unwrap();
        s.set_limits(Limits {
            retention_period_ns: 3_600_000_000_000,
            ..s.limits()
        });
        s.enforce_retention().unwrap();
        let m = [LabelMatcher::new("job", MatchOp::Equal, "a").unwrap()];
        let lines: Vec<String> = collect(&s, &m, Direction::Forward)
            .into_iter()
            .map(|x| x.2)
            .collect();
        assert_eq!(lines, vec!["new"]);
        // The deletion survives a restart.
        drop(s);
        let s = LogStore::open(d.path(), opts()).unwrap();
        assert_eq!(collect(&s, &m, Direction::Forward).len(), 1);
    }

    #[test]
    fn retention_by_size() {
        let d = tempfile::tempdir().unwrap();
        let mut o = opts();
        o.retention_size_bytes = 1;
        let s = LogStore::open(d.path(), o).unwrap();
        let a = Labels::from_pairs([("job", "a")]);
        for i in 0..3 {
            s.push(
                "fake",
                vec![LogStream {
                    labels: a.clone(),
                    entries: vec![entry(i, "x")],
                }],
            )
            .unwrap();
            s.flush().unwrap();
        }
        s.enforce_retention().unwrap();
        let m = [LabelMatcher::new("job", MatchOp::Equal, "a").unwrap()];
        assert_eq!(collect(&s, &m, Direction::Forward).len(), 1);
    }

    /// A data directory written before the shared WAL (`wal/NNNNNNNN.log` of plain records,
    /// framed by hand here as the old code wrote them) opens with every line.
    #[test]
    fn opens_a_directory_in_the_pre_shared_wal_layout() {
        let d = tempfile::tempdir().unwrap();
        let a = Labels::from_pairs([("job", "a")]);
        let mut seg = Vec::new();
        for (ts, line) in [(1, "a1"), (2, "a2")] {
            let payload = encode_push(
                "fake",
                &[LogStream {
                    labels: a.clone(),
                    entries: vec![entry(ts, line)],
                }],
            );
            seg.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            seg.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
            seg.extend_from_slice(&payload);
        }
        std::fs::create_dir_all(d.path().join("wal")).unwrap();
        std::fs::write(d.path().join("wal/00000001.log"), &seg).unwrap();
        let s = LogStore::open(d.path(), opts()).unwrap();
        let m = [LabelMatcher::new("job", MatchOp::Equal, "a").unwrap()];
        let got = collect(&s, &m, Direction::Forward);
        assert_eq!(
            got,
            vec![
                ("a".to_string(), 1, "a1".to_string()),
                ("a".to_string(), 2, "a2".to_string())
            ]
        );
        // Opening persisted them as chunks and removed the old segment.
        assert!(!d.path().join("wal/00000001.log").exists());
        drop(s);
        let s = LogStore::open(d.path(), opts()).unwrap();
        assert_eq!(collect(&s, &m, Direction::Forward).len(), 2);
    }
}
