//! One remote_write queue: a thread follows the WAL (see `watcher`) and hands samples to
//! shards (by series, so each series stays in order); each shard batches up to
//! `max_samples_per_send` or `batch_send_deadline`, sends snappy protobuf (1.0's
//! `prometheus.WriteRequest`, or 2.0's `io.prometheus.write.v2.Request` with each series'
//! metadata when `protobuf_message` asks for it) and retries 5xx, 429 (honouring
//! `Retry-After`) and network errors with exponential backoff, never other 4xx. A 2.0 queue
//! whose receiver answers 415, or a 2xx without the `X-Prometheus-Remote-Write-*-Written`
//! headers (a 1.0 receiver that ignored the Content-Type and decoded nothing), resends the
//! batch as 1.0 and stays on 1.0 until it restarts. With `send_native_histograms: true` the
//! queue also follows the TSDB's native-histogram log (see `histlog`) and sends its samples as
//! float histograms, its position saved in `<state dir>/<name>.histograms.position`.
//! The WAL position up to which every sample is delivered (or dropped on a 4xx) is saved to
//! `<state dir>/<name>.position`; a restart resumes there, so nothing still in the WAL is lost
//! and at most the batches in flight at a crash are sent twice. Shards are resharded between
//! `min_shards` and `max_shards` from the measured send time and backlog.

use crate::histlog::HistLog;
use crate::settings::Settings;
use crate::watcher::Watcher;
use api::prometheus::remote_write::{TimeSeries, WireSample, WriteRequest};
use api::prometheus::remote_write_v2 as v2;
use model::HistogramSample;
use model::Labels;
use parking_lot::Mutex;
use prost::Message;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use wal::Position;

/// Buckets of `prometheus_remote_storage_sent_batch_duration_seconds` (Prometheus' own).
pub const DURATION_BUCKETS: [f64; 15] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0, 120.0, 300.0,
];

/// Counters and gauges of one queue, read by `/metrics`.
#[derive(Default)]
pub struct QueueMetrics {
    pub samples_in: AtomicU64,
    pub samples_sent: AtomicU64,
    pub samples_failed: AtomicU64,
    pub samples_retried: AtomicU64,
    pub samples_dropped: AtomicU64,
    /// Native histograms, counted apart as Prometheus does (`histograms_*`).
    pub histograms_in: AtomicU64,
    pub histograms_sent: AtomicU64,
    pub histograms_failed: AtomicU64,
    pub histograms_retried: AtomicU64,
    pub histograms_dropped: AtomicU64,
    /// Of `pending`, how many are histograms.
    pub histograms_pending: AtomicI64,
    /// Samples and histograms in the shards.
    pub pending: AtomicI64,
    pub shards: AtomicU64,
    pub shards_desired: AtomicU64,
    pub capacity: AtomicU64,
    pub bytes: AtomicU64,
    pub highest_sent_ms: AtomicI64,
    pub highest_read_ms: AtomicI64,
    pub enqueue_retries: AtomicU64,
    /// Histogram: counts per bucket (cumulative at render), sum in µs, count.
    pub duration_buckets: [AtomicU64; DURATION_BUCKETS.len()],
    pub duration_sum_us: AtomicU64,
    pub duration_count: AtomicU64,
    pub wal_segment: AtomicU64,
    /// Send time spent (µs), for resharding.
    pub send_us: AtomicU64,
    pub last_send_failed: AtomicBool,
    /// Newest native-histogram timestamp delivered (saved with the histogram log position).
    pub hist_delivered_ms: AtomicI64,
    /// Metric families sent in 1.0 metadata requests, and dropped after failed sends.
    pub metadata_sent: AtomicU64,
    pub metadata_failed: AtomicU64,
}

impl QueueMetrics {
    fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        for (b, le) in self.duration_buckets.iter().zip(DURATION_BUCKETS) {
            if s <= le {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.duration_sum_us
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
        self.duration_count.fetch_add(1, Ordering::Relaxed);
    }
}

/// What `/api/v1/metadata` knows of a metric family, for 2.0 requests.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FamilyMetadata {
    pub metric_type: String,
    pub help: String,
    pub unit: String,
}

/// Where a queue finds metric metadata: metric family name → its metadata.
pub type MetadataSource = Arc<dyn Fn() -> HashMap<String, FamilyMetadata> + Send + Sync>;

/// One sample on its way to a shard.
struct Item {
    labels: Arc<Labels>,
    t: i64,
    v: f64,
    /// The number of the WAL record it came from (of the histogram log's frame for a histogram).
    rec: u64,
    /// A native histogram (from the histogram log) instead of the float `v`.
    hist: Option<Arc<HistogramSample>>,
}

/// Which WAL records are fully delivered: the saved position is the end of the longest
/// prefix of records whose samples are all sent (or dropped).
#[derive(Default)]
struct Progress {
    /// (record number, position after it, samples still undelivered), oldest first.
    open: VecDeque<(u64, Position, usize)>,
    next_rec: u64,
    committed: Position,
}

impl Progress {
    fn add(&mut self, pos: Position, n: usize) -> u64 {
        let rec = self.next_rec;
        self.next_rec += 1;
        self.open.push_back((rec, pos, n));
        self.settle();
        rec
    }

    fn done(&mut self, recs: impl Iterator<Item = u64>) {
        let first = self.open.front().map_or(0, |f| f.0);
        for r in recs {
            if let Some(e) = r
                .checked_sub(first)
                .and_then(|i| self.open.get_mut(i as usize))
            {
                e.2 = e.2.saturating_sub(1);
            }
        }
        self.settle();
    }

    fn settle(&mut self) {
        while let Some((_, pos, 0)) = self.open.front().copied() {
            self.committed = pos;
            self.open.pop_front();
        }
    }
}

/// A running queue.
pub struct Queue {
    pub settings: Settings,
    pub metrics: Arc<QueueMetrics>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Queue {
    /// Starts the queue: resumes at the saved position in `state_dir`, or at the end of the log.
    pub fn start(
        settings: Settings,
        wal_dir: &Path,
        state_dir: &Path,
        rt: tokio::runtime::Handle,
        metadata: Option<MetadataSource>,
    ) -> Result<Queue, String> {
        let client = settings.client()?;
        std::fs::create_dir_all(state_dir)
            .map_err(|e| format!("creating {}: {e}", state_dir.display()))?;
        let pos_file = state_dir.join(format!("{}.position", settings.name));
        let saved = read_position(&pos_file);
        let watcher = Watcher::open(wal_dir, saved)
            .map_err(|e| format!("remote_write {}: reading the WAL: {e}", settings.url))?;
        if saved.is_none() {
            save_position(&pos_file, watcher.pos);
        }
        let hist_pos_file = state_dir.join(format!("{}.histograms.position", settings.name));
        let histlog = settings.send_native_histograms.then(|| {
            let saved = read_hist_position(&hist_pos_file);
            let tsdb_dir = wal_dir.parent().unwrap_or(wal_dir);
            let log = HistLog::open(
                tsdb_dir,
                saved.map(|s| s.0),
                saved.map_or(i64::MIN, |s| s.1),
            );
            if saved.is_none() {
                save_hist_position(&hist_pos_file, log.pos, i64::MIN);
            }
            log
        });
        let metrics = Arc::new(QueueMetrics::default());
        if let Some(saved) = read_hist_position(&hist_pos_file) {
            metrics.hist_delivered_ms.store(saved.1, Ordering::Relaxed);
        } else {
            metrics.hist_delivered_ms.store(i64::MIN, Ordering::Relaxed);
        }
        metrics
            .shards
            .store(settings.queue.min_shards as u64, Ordering::Relaxed);
        metrics
            .capacity
            .store(settings.queue.capacity as u64, Ordering::Relaxed);
        let stop = Arc::new(AtomicBool::new(false));
        let run = Runner {
            settings: settings.clone(),
            client,
            metrics: metrics.clone(),
            stop: stop.clone(),
            progress: Arc::new(Mutex::new(Progress {
                committed: watcher.pos,
                ..Default::default()
            })),
            hist_progress: Arc::new(Mutex::new(Progress {
                committed: histlog.as_ref().map(|h| h.pos).unwrap_or_default(),
                ..Default::default()
            })),
            hist_pos_file,
            pos_file,
            rt,
            metadata,
            v1_fallback: Arc::new(AtomicBool::new(false)),
        };
        let thread = std::thread::Builder::new()
            .name(format!("remote-write-{}", settings.name))
            .spawn(move || run.run(watcher, histlog))
            .map_err(|e| e.to_string())?;
        Ok(Queue {
            settings,
            metrics,
            stop,
            thread: Some(thread),
        })
    }

    /// Stops reading and sending; saves the delivered position. Undelivered samples are
    /// read again from the WAL by the next start.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn read_position(path: &Path) -> Option<Position> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut it = text.split_whitespace();
    let seq = it.next()?.parse().ok()?;
    let offset = it.next()?.parse().ok()?;
    Some(Position { seq, offset })
}

/// The histogram log's saved position and the newest histogram timestamp delivered.
fn read_hist_position(path: &Path) -> Option<(Position, i64)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut it = text.split_whitespace();
    let seq = it.next()?.parse().ok()?;
    let offset = it.next()?.parse().ok()?;
    let delivered = it.next()?.parse().ok()?;
    Some((Position { seq, offset }, delivered))
}

fn save_hist_position(path: &Path, pos: Position, delivered: i64) {
    let tmp = path.with_extension("position.tmp");
    let ok = std::fs::write(&tmp, format!("{} {} {delivered}\n", pos.seq, pos.offset))
        .and_then(|_| std::fs::rename(&tmp, path));
    if let Err(e) = ok {
        tracing::error!("remote_write: saving {}: {e}", path.display());
    }
}

fn save_position(path: &Path, pos: Position) {
    let tmp = path.with_extension("position.tmp");
    let ok = std::fs::write(&tmp, format!("{} {}\n", pos.seq, pos.offset))
        .and_then(|_| std::fs::rename(&tmp, path));
    if let Err(e) = ok {
        tracing::error!("remote_write: saving {}: {e}", path.display());
    }
}

struct Runner {
    settings: Settings,
    client: reqwest::Client,
    metrics: Arc<QueueMetrics>,
    stop: Arc<AtomicBool>,
    progress: Arc<Mutex<Progress>>,
    /// The same for the frames of the histogram log.
    hist_progress: Arc<Mutex<Progress>>,
    hist_pos_file: PathBuf,
    pos_file: PathBuf,
    rt: tokio::runtime::Handle,
    metadata: Option<MetadataSource>,
    /// A 2.0 queue whose receiver only speaks 1.0.
    v1_fallback: Arc<AtomicBool>,
}

struct Shards {
    senders: Vec<mpsc::Sender<Item>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Runner {
    fn shard(&self) -> Shard {
        Shard {
            settings: self.settings.clone(),
            client: self.client.clone(),
            metrics: self.metrics.clone(),
            progress: self.progress.clone(),
            hist_progress: self.hist_progress.clone(),
            stop: self.stop.clone(),
            metadata: self.metadata.clone(),
            v1_fallback: self.v1_fallback.clone(),
        }
    }

    /// 1.0 carries metadata in requests of its own (Prometheus' metadata watcher): every
    /// `metadata_config.send_interval`, all known families in requests of at most
    /// `max_samples_per_send`, sent in the background with a few retries.
    fn send_metadata(&self) {
        let Some(source) = &self.metadata else {
            return;
        };
        let mut families: Vec<(String, FamilyMetadata)> = source().into_iter().collect();
        families.sort_by(|a, b| a.0.cmp(&b.0));
        for chunk in families.chunks(self.settings.metadata_max_per_send.max(1)) {
            let body = encode_metadata(chunk);
            let shard = self.shard();
            let n = chunk.len() as u64;
            self.rt.spawn(async move {
                let m = &shard.metrics;
                let mut backoff = Duration::from_millis(shard.settings.queue.min_backoff.0.max(1) as u64);
                for attempt in 0..5 {
                    match shard.send(body.clone(), false).await {
                        Ok(()) => {
                            m.metadata_sent.fetch_add(n, Ordering::Relaxed);
                            return;
                        }
                        Err(SendError::Retry(why, after)) if attempt < 4 => {
                            tracing::debug!(queue = %shard.settings.name, "remote_write: metadata send failed, retrying: {why}");
                            tokio::time::sleep(after.unwrap_or(backoff)).await;
                            backoff *= 2;
                        }
                        Err(SendError::Retry(why, _) | SendError::Permanent(why) | SendError::NotV2(why)) => {
                            tracing::warn!(queue = %shard.settings.name, "remote_write: dropping {n} metadata: {why}");
                            m.metadata_failed.fetch_add(n, Ordering::Relaxed);
                            return;
                        }
                    }
                }
            });
        }
    }

    fn start_shards(&self, n: usize) -> Shards {
        let per_shard = self.settings.queue.capacity.max(1);
        let mut senders = Vec::with_capacity(n);
        let mut tasks = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = mpsc::channel(per_shard);
            senders.push(tx);
            tasks.push(self.rt.spawn(self.shard().run(rx)));
        }
        self.metrics.shards.store(n as u64, Ordering::Relaxed);
        Shards { senders, tasks }
    }

    /// Closes the shards' queues and waits until they have sent what they hold.
    fn drain_shards(&self, shards: Shards) {
        drop(shards.senders);
        for t in shards.tasks {
            let _ = self.rt.block_on(t);
        }
    }

    fn run(self, mut watcher: Watcher, mut histlog: Option<HistLog>) {
        let mut n = self.settings.queue.min_shards;
        let mut shards = self.start_shards(n);
        let mut labels_cache: HashMap<u64, Option<Arc<Labels>>> = HashMap::new();
        let mut hist_labels: HashMap<Labels, Option<Arc<Labels>>> = HashMap::new();
        let mut hist_saved = self.hist_progress.lock().committed;
        let mut last_metadata = Instant::now();
        let mut last_saved = self.progress.lock().committed;
        let mut last_save = Instant::now();
        let mut last_reshard = Instant::now();
        let mut sent_at_reshard = 0u64;
        let mut send_us_at_reshard = 0u64;
        let mut in_at_reshard = 0u64;
        while !self.stop.load(Ordering::Relaxed) {
            self.metrics
                .wal_segment
                .store(watcher.pos.seq, Ordering::Relaxed);
            let mut items = Vec::new();
            let poll = watcher.poll(|pos, samples| {
                items.clear();
                for s in samples {
                    let labels = labels_cache
                        .entry(s.series)
                        .or_insert_with(|| self.transform(s.labels));
                    self.metrics
                        .highest_read_ms
                        .fetch_max(s.t, Ordering::Relaxed);
                    self.metrics.samples_in.fetch_add(1, Ordering::Relaxed);
                    match labels {
                        Some(l) => items.push((l.clone(), s.t, s.v)),
                        None => {
                            self.metrics.samples_dropped.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                let rec = self.progress.lock().add(pos, items.len());
                for (labels, t, v) in items.drain(..) {
                    let shard = (labels.hash64() % shards.senders.len() as u64) as usize;
                    self.metrics.pending.fetch_add(1, Ordering::Relaxed);
                    let item = Item {
                        labels,
                        t,
                        v,
                        rec,
                        hist: None,
                    };
                    // Blocks while the shard's queue is full: a slow or down receiver holds
                    // the reader back (the WAL keeps the data), memory stays bounded.
                    if shards.senders[shard].blocking_send(item).is_err() {
                        self.metrics.pending.fetch_sub(1, Ordering::Relaxed);
                    }
                }
            });
            let poll = match poll {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(queue = %self.settings.name, "remote_write: reading the WAL: {e}");
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
            };
            let mut hist_frames = 0;
            if let Some(log) = histlog.as_mut() {
                let polled = log.poll(|pos, labels, samples| {
                    let labels = hist_labels
                        .entry(labels)
                        .or_insert_with_key(|l| self.transform(l))
                        .clone();
                    let n = samples.len();
                    self.metrics
                        .histograms_in
                        .fetch_add(n as u64, Ordering::Relaxed);
                    let Some(labels) = labels else {
                        self.metrics
                            .histograms_dropped
                            .fetch_add(n as u64, Ordering::Relaxed);
                        self.hist_progress.lock().add(pos, 0);
                        return;
                    };
                    let rec = self.hist_progress.lock().add(pos, n);
                    let shard = (labels.hash64() % shards.senders.len() as u64) as usize;
                    for s in samples {
                        self.metrics
                            .highest_read_ms
                            .fetch_max(s.t, Ordering::Relaxed);
                        self.metrics.pending.fetch_add(1, Ordering::Relaxed);
                        self.metrics
                            .histograms_pending
                            .fetch_add(1, Ordering::Relaxed);
                        let item = Item {
                            labels: labels.clone(),
                            t: s.t,
                            v: 0.0,
                            rec,
                            hist: Some(Arc::new(s)),
                        };
                        if shards.senders[shard].blocking_send(item).is_err() {
                            self.metrics.pending.fetch_sub(1, Ordering::Relaxed);
                            self.metrics
                                .histograms_pending
                                .fetch_sub(1, Ordering::Relaxed);
                        }
                    }
                });
                match polled {
                    Ok(n) => hist_frames = n,
                    Err(e) => {
                        tracing::error!(queue = %self.settings.name, "remote_write: reading the histogram log: {e}")
                    }
                }
                let committed = self.hist_progress.lock().committed;
                if committed != hist_saved {
                    save_hist_position(
                        &self.hist_pos_file,
                        committed,
                        self.metrics.hist_delivered_ms.load(Ordering::Relaxed),
                    );
                    hist_saved = committed;
                }
            }
            if poll.advanced_segment {
                // Series ids are per head: a new segment may reuse an id for another series.
                labels_cache.clear();
            }
            let committed = self.progress.lock().committed;
            if committed != last_saved && last_save.elapsed() >= Duration::from_millis(500) {
                save_position(&self.pos_file, committed);
                last_saved = committed;
                last_save = Instant::now();
            }
            let speaks_v1 = !self.settings.v2 || self.v1_fallback.load(Ordering::Relaxed);
            if speaks_v1
                && self.settings.send_metadata
                && last_metadata.elapsed() >= self.settings.metadata_interval
            {
                last_metadata = Instant::now();
                self.send_metadata();
            }
            if last_reshard.elapsed() >= Duration::from_secs(10) {
                let m = &self.metrics;
                let sent = m.samples_sent.load(Ordering::Relaxed)
                    + m.histograms_sent.load(Ordering::Relaxed);
                let send_us = m.send_us.load(Ordering::Relaxed);
                let samples_in =
                    m.samples_in.load(Ordering::Relaxed) + m.histograms_in.load(Ordering::Relaxed);
                let want = desired_shards(
                    (sent - sent_at_reshard) as f64,
                    (send_us - send_us_at_reshard) as f64 / 1e6,
                    (samples_in - in_at_reshard) as f64 / last_reshard.elapsed().as_secs_f64(),
                    m.pending.load(Ordering::Relaxed).max(0) as f64,
                    n,
                    &self.settings,
                );
                m.shards_desired.store(want as u64, Ordering::Relaxed);
                if want != n && !m.last_send_failed.load(Ordering::Relaxed) {
                    tracing::info!(queue = %self.settings.name, from = n, to = want, "remote_write: resharding");
                    self.drain_shards(shards);
                    n = want;
                    shards = self.start_shards(n);
                }
                (sent_at_reshard, send_us_at_reshard, in_at_reshard) = (sent, send_us, samples_in);
                last_reshard = Instant::now();
            }
            if poll.records == 0 && !poll.advanced_segment && hist_frames == 0 {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        // Stopping: shards stop retrying and exit; what they had not delivered stays after
        // the saved position and is read again by the next start.
        drop(shards.senders);
        for t in shards.tasks {
            t.abort();
        }
        save_position(&self.pos_file, self.progress.lock().committed);
        if histlog.is_some() {
            save_hist_position(
                &self.hist_pos_file,
                self.hist_progress.lock().committed,
                self.metrics.hist_delivered_ms.load(Ordering::Relaxed),
            );
        }
    }

    /// External labels (where the series lacks them), then write_relabel_configs.
    fn transform(&self, labels: &Labels) -> Option<Arc<Labels>> {
        let mut l = labels.clone();
        if !self.settings.external_labels.is_empty() {
            let mut b = l.builder();
            for (k, v) in &self.settings.external_labels {
                if labels.get(k).is_none() {
                    b.set(k.clone(), v.clone());
                }
            }
            l = b.build();
        }
        if !self.settings.relabel.is_empty() {
            l = config::relabel::process(&l, &self.settings.relabel)?;
        }
        Some(Arc::new(l))
    }
}

/// Prometheus' rule in short: shards needed = time per sample × (incoming rate + a twentieth
/// of the backlog per second), kept when within 30 % of the current count, clamped to the
/// configured range.
fn desired_shards(
    sent: f64,
    send_secs: f64,
    in_rate: f64,
    pending: f64,
    current: usize,
    s: &Settings,
) -> usize {
    let (lo, hi) = (s.queue.min_shards, s.queue.max_shards);
    if sent <= 0.0 {
        return current.clamp(lo, hi);
    }
    let per_sample = send_secs / sent;
    let want = per_sample * (in_rate + 0.05 * pending);
    let cur = current as f64;
    if want > cur * 0.7 && want < cur * 1.3 {
        return current.clamp(lo, hi);
    }
    (want.ceil() as usize).clamp(lo, hi)
}

struct Shard {
    settings: Settings,
    client: reqwest::Client,
    metrics: Arc<QueueMetrics>,
    progress: Arc<Mutex<Progress>>,
    hist_progress: Arc<Mutex<Progress>>,
    stop: Arc<AtomicBool>,
    metadata: Option<MetadataSource>,
    v1_fallback: Arc<AtomicBool>,
}

/// Why a send gave up.
enum SendError {
    /// Retrying cannot help (a 4xx other than 429): the batch is dropped.
    Permanent(String),
    /// Worth retrying, after the given delay if the receiver asked for one.
    Retry(String, Option<Duration>),
    /// A 2.0 request the receiver does not take: send it again as 1.0.
    NotV2(String),
}

impl Shard {
    async fn run(self, mut rx: mpsc::Receiver<Item>) {
        let max = self.settings.queue.max_samples_per_send;
        let deadline =
            Duration::from_millis(self.settings.queue.batch_send_deadline.0.max(1) as u64);
        let mut batch: Vec<Item> = Vec::with_capacity(max);
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            let item = if batch.is_empty() {
                rx.recv().await
            } else {
                match tokio::time::timeout(deadline, rx.recv()).await {
                    Ok(i) => i,
                    Err(_) => {
                        self.flush(&mut batch).await;
                        continue;
                    }
                }
            };
            match item {
                Some(i) => {
                    batch.push(i);
                    if batch.len() >= max {
                        self.flush(&mut batch).await;
                    }
                }
                None => {
                    self.flush(&mut batch).await;
                    return;
                }
            }
        }
    }

    async fn flush(&self, batch: &mut Vec<Item>) {
        if batch.is_empty() {
            return;
        }
        let n = batch.len() as u64;
        let hists = batch.iter().filter(|i| i.hist.is_some()).count() as u64;
        let floats = n - hists;
        let mut as_v2 = self.settings.v2 && !self.v1_fallback.load(Ordering::Relaxed);
        let mut body = self.encode(batch, as_v2);
        let mut backoff = Duration::from_millis(self.settings.queue.min_backoff.0.max(1) as u64);
        let max_backoff = Duration::from_millis(self.settings.queue.max_backoff.0.max(1) as u64);
        let m = &self.metrics;
        loop {
            let started = Instant::now();
            let result = self.send(body.clone(), as_v2).await;
            let took = started.elapsed();
            m.observe(took);
            m.send_us
                .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
            match result {
                Ok(()) => {
                    m.last_send_failed.store(false, Ordering::Relaxed);
                    m.samples_sent.fetch_add(floats, Ordering::Relaxed);
                    m.histograms_sent.fetch_add(hists, Ordering::Relaxed);
                    m.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                    let newest = batch.iter().map(|i| i.t).max().unwrap_or(0);
                    m.highest_sent_ms.fetch_max(newest, Ordering::Relaxed);
                    break;
                }
                Err(SendError::NotV2(why)) => {
                    tracing::warn!(queue = %self.settings.name, url = %self.settings.url, "remote_write: the receiver does not take io.prometheus.write.v2.Request ({why}); sending prometheus.WriteRequest from now on");
                    self.v1_fallback.store(true, Ordering::Relaxed);
                    as_v2 = false;
                    body = self.encode(batch, false);
                }
                Err(SendError::Permanent(why)) => {
                    tracing::error!(queue = %self.settings.name, url = %self.settings.url, samples = n, "remote_write: non-recoverable error, dropping the batch: {why}");
                    m.samples_failed.fetch_add(floats, Ordering::Relaxed);
                    m.histograms_failed.fetch_add(hists, Ordering::Relaxed);
                    break;
                }
                Err(SendError::Retry(why, after)) => {
                    m.last_send_failed.store(true, Ordering::Relaxed);
                    m.samples_retried.fetch_add(floats, Ordering::Relaxed);
                    m.histograms_retried.fetch_add(hists, Ordering::Relaxed);
                    tracing::warn!(queue = %self.settings.name, url = %self.settings.url, samples = n, "remote_write: send failed, retrying: {why}");
                    let wait = after.unwrap_or(backoff);
                    let until = Instant::now() + wait;
                    while Instant::now() < until {
                        if self.stop.load(Ordering::Relaxed) {
                            return;
                        }
                        tokio::time::sleep(
                            (until - Instant::now()).min(Duration::from_millis(200)),
                        )
                        .await;
                    }
                    backoff = (backoff * 2).min(max_backoff);
                }
            }
        }
        m.pending.fetch_sub(n as i64, Ordering::Relaxed);
        m.histograms_pending
            .fetch_sub(hists as i64, Ordering::Relaxed);
        self.progress
            .lock()
            .done(batch.iter().filter(|i| i.hist.is_none()).map(|i| i.rec));
        if let Some(newest) = batch.iter().filter(|i| i.hist.is_some()).map(|i| i.t).max() {
            m.hist_delivered_ms.fetch_max(newest, Ordering::Relaxed);
            self.hist_progress
                .lock()
                .done(batch.iter().filter(|i| i.hist.is_some()).map(|i| i.rec));
        }
        batch.clear();
    }

    /// The batch as a snappy-compressed request of the queue's message.
    fn encode(&self, batch: &[Item], as_v2: bool) -> Vec<u8> {
        if !as_v2 {
            return encode(batch);
        }
        let metadata = match (&self.metadata, self.settings.send_metadata) {
            (Some(source), true) => source(),
            _ => HashMap::new(),
        };
        encode_v2(batch, &metadata)
    }

    async fn send(&self, body: Vec<u8>, as_v2: bool) -> Result<(), SendError> {
        let (content_type, version) = if as_v2 {
            (
                "application/x-protobuf;proto=io.prometheus.write.v2.Request",
                "2.0.0",
            )
        } else {
            ("application/x-protobuf", "0.1.0")
        };
        let mut req = self
            .client
            .post(&self.settings.url)
            .timeout(self.settings.remote_timeout)
            .header("Content-Encoding", "snappy")
            .header("Content-Type", content_type)
            .header(
                "User-Agent",
                concat!("Prometheus/3.0.0 pharos/", env!("CARGO_PKG_VERSION")),
            )
            .header("X-Prometheus-Remote-Write-Version", version);
        for (k, v) in &self.settings.headers {
            req = req.header(k, v);
        }
        if let Some(a) = &self.settings.authorization {
            req = req.header("Authorization", a);
        }
        let resp = req
            .body(body)
            .send()
            .await
            .map_err(|e| SendError::Retry(error_chain(&e), None))?;
        let status = resp.status();
        if status.is_success() {
            // 2.0 receivers confirm with the written headers; none at all means a 1.0
            // receiver that took the body for an empty 1.0 request.
            let confirmed = [
                "X-Prometheus-Remote-Write-Samples-Written",
                "X-Prometheus-Remote-Write-Histograms-Written",
                "X-Prometheus-Remote-Write-Exemplars-Written",
            ]
            .iter()
            .any(|h| resp.headers().contains_key(*h));
            if as_v2 && !confirmed {
                return Err(SendError::NotV2(format!(
                    "HTTP {status} without X-Prometheus-Remote-Write-*-Written headers"
                )));
            }
            return Ok(());
        }
        if as_v2 && status.as_u16() == 415 {
            return Err(SendError::NotV2(format!("HTTP {status}")));
        }
        let retry_after = resp
            .headers()
            .get("Retry-After")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let text = resp.text().await.unwrap_or_default();
        let why = http_error(status, &text);
        // Prometheus honours Retry-After on a 5xx too.
        if status.is_server_error()
            || (status.as_u16() == 429 && self.settings.queue.retry_on_http_429)
        {
            Err(SendError::Retry(why, retry_after))
        } else {
            Err(SendError::Permanent(why))
        }
    }
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// `HTTP <status>: <first line of the answer, at most 300 characters>`.
pub(crate) fn http_error(status: reqwest::StatusCode, text: &str) -> String {
    format!(
        "HTTP {status}: {}",
        text.lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(300)
            .collect::<String>()
    )
}

/// `Retry-After` as seconds (the HTTP-date form is not used by remote_write receivers).
pub(crate) fn parse_retry_after(v: &str) -> Option<Duration> {
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The batch as a snappy-compressed `prometheus.WriteRequest`, one `TimeSeries` per series.
fn encode(batch: &[Item]) -> Vec<u8> {
    let mut index: HashMap<*const Labels, usize> = HashMap::new();
    let mut req = WriteRequest {
        timeseries: Vec::new(),
        metadata: Vec::new(),
    };
    for i in batch {
        let at = *index.entry(Arc::as_ptr(&i.labels)).or_insert_with(|| {
            req.timeseries.push(TimeSeries {
                labels: crate::read::wire_labels(&i.labels),
                samples: Vec::new(),
                exemplars: Vec::new(),
                histograms: Vec::new(),
            });
            req.timeseries.len() - 1
        });
        match &i.hist {
            Some(h) => req.timeseries[at]
                .histograms
                .push(api::prometheus::remote_write::from_histogram_sample(h)),
            None => req.timeseries[at].samples.push(WireSample {
                value: i.v,
                timestamp: i.t,
            }),
        }
    }
    let raw = req.encode_to_vec();
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .unwrap_or_default()
}

/// A 1.0 metadata-only request (`prometheus.WriteRequest.metadata`), snappy-compressed.
fn encode_metadata(families: &[(String, FamilyMetadata)]) -> Vec<u8> {
    let req = WriteRequest {
        timeseries: Vec::new(),
        metadata: families
            .iter()
            .map(|(name, m)| api::prometheus::remote_write::MetricMetadata {
                r#type: v2::metric_type_code(&m.metric_type),
                metric_family_name: name.clone(),
                help: m.help.clone(),
                unit: m.unit.clone(),
            })
            .collect(),
    };
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap_or_default()
}

/// The metadata of a series' metric family: its name, else its name less a suffix of a
/// counter's or a classic histogram's or summary's series.
fn family_of<'a>(
    name: &str,
    metadata: &'a HashMap<String, FamilyMetadata>,
) -> Option<&'a FamilyMetadata> {
    metadata.get(name).or_else(|| {
        ["_bucket", "_sum", "_count", "_total", "_created"]
            .iter()
            .find_map(|s| metadata.get(name.strip_suffix(s)?))
    })
}

/// The batch as a snappy-compressed `io.prometheus.write.v2.Request`: one symbols table, one
/// `TimeSeries` per series with its samples and its family's metadata.
fn encode_v2(batch: &[Item], metadata: &HashMap<String, FamilyMetadata>) -> Vec<u8> {
    let mut index: HashMap<*const Labels, usize> = HashMap::new();
    let mut symbols = v2::SymbolTable::default();
    let mut timeseries: Vec<v2::TimeSeries> = Vec::new();
    for i in batch {
        let at = *index.entry(Arc::as_ptr(&i.labels)).or_insert_with(|| {
            let md = i
                .labels
                .get("__name__")
                .and_then(|n| family_of(n, metadata))
                .map(|m| v2::Metadata {
                    r#type: v2::metric_type_code(&m.metric_type),
                    help_ref: symbols.symbolize(&m.help),
                    unit_ref: symbols.symbolize(&m.unit),
                });
            timeseries.push(v2::TimeSeries {
                labels_refs: symbols.labels(&i.labels),
                metadata: md,
                ..Default::default()
            });
            timeseries.len() - 1
        });
        match &i.hist {
            Some(h) => timeseries[at]
                .histograms
                .push(api::prometheus::remote_write::from_histogram_sample(h)),
            None => timeseries[at].samples.push(v2::Sample2 {
                value: i.v,
                timestamp: i.t,
                start_timestamp: 0,
            }),
        }
    }
    let req = v2::Request {
        symbols: symbols.into_symbols(),
        timeseries,
    };
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_requests_share_symbols_and_carry_metadata() {
        let a = Arc::new(Labels::from_pairs([
            ("__name__", "rpc_total"),
            ("job", "x"),
        ]));
        let b = Arc::new(Labels::from_pairs([
            ("__name__", "rpc_total"),
            ("job", "y"),
        ]));
        let item = |labels: &Arc<Labels>, t| Item {
            labels: labels.clone(),
            t,
            v: t as f64,
            rec: 0,
            hist: None,
        };
        let md = HashMap::from([(
            "rpc".to_string(),
            FamilyMetadata {
                metric_type: "counter".into(),
                help: "RPCs.".into(),
                unit: String::new(),
            },
        )]);
        let body = encode_v2(&[item(&a, 1), item(&b, 1), item(&a, 2)], &md);
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        let req = v2::Request::decode(raw.as_slice()).unwrap();
        assert_eq!(req.timeseries.len(), 2);
        assert_eq!(req.timeseries[0].samples.len(), 2);
        // "", "RPCs.", __name__, rpc_total, job, x, y: each string once.
        assert_eq!(req.symbols.len(), 7, "{:?}", req.symbols);
        let d = v2::decode_request(&req);
        assert!(d.errors.is_empty());
        assert_eq!(d.series[1].labels.get("job"), Some("y"));
        assert_eq!(d.metadata[0].metric_type, "counter");
        assert_eq!(d.metadata[0].help, "RPCs.");
    }

    #[test]
    fn progress_commits_only_fully_delivered_prefixes() {
        let mut p = Progress::default();
        let pos = |o| Position { seq: 1, offset: o };
        let a = p.add(pos(10), 2);
        let b = p.add(pos(20), 1);
        let _empty = p.add(pos(30), 0);
        p.done([b].into_iter());
        assert_eq!(p.committed, Position::default());
        p.done([a].into_iter());
        assert_eq!(p.committed, Position::default());
        p.done([a].into_iter());
        assert_eq!(p.committed, pos(30));
        p.add(pos(40), 0);
        assert_eq!(p.committed, pos(40));
    }

    #[test]
    fn retry_after_seconds() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
