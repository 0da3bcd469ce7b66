//! Embedded time-series database: a write-ahead log written and fsynced before an append is
//! acknowledged, an in-memory head of compressed chunks with an inverted label index, immutable
//! compressed blocks on disk, compaction of adjacent blocks, and retention by time and size.
//!
//! On disk (`<dir>/`):
//! - `wal/NNNNNNNN` — log segments of CRC-protected records (new series, samples); replayed on
//!   open, a torn tail from a crash is truncated. Rewritten (checkpointed) after each block cut.
//! - `blocks/<mint>-<maxt>/data` — symbol table, series (labels as symbol references) and their
//!   Gorilla chunks (delta-of-delta timestamps, XOR values), CRC32 trailer; `meta.json` beside it.
//!
//! The head is cut into a block once it spans 1.5 block ranges (as Prometheus does); blocks that
//! fall into one aligned window of three ranges are merged; blocks past the retention time, or
//! the oldest ones while the total size exceeds the retention size, are deleted.
//! Loaded blocks keep their compressed chunks in memory (no mmap yet).

pub mod block;
pub mod chunk;
pub mod encoding;
pub mod head;
pub mod index;
pub mod wal;

use block::Block;
use head::{Head, Outcome};
use model::{
    AppendStats, LabelMatcher, Labels, MetricSink, Queryable, Sample, Series, StorageError,
};
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wal::{Record, Wal};

/// Tuning knobs; defaults match Prometheus'.
#[derive(Clone, Debug)]
pub struct TsdbOptions {
    /// Drop blocks older than this (ms). Default 15 days.
    pub retention_time_ms: i64,
    /// Drop oldest blocks while the total on-disk size exceeds this (bytes); 0 = no limit.
    pub retention_size_bytes: u64,
    /// Accept samples up to this much older than a series' newest sample (ms); 0 = reject.
    pub out_of_order_window_ms: i64,
    /// Time span of one block (ms). Default 2 hours.
    pub block_range_ms: i64,
}

impl Default for TsdbOptions {
    fn default() -> Self {
        TsdbOptions {
            retention_time_ms: 15 * 24 * 3_600_000,
            retention_size_bytes: 0,
            out_of_order_window_ms: 0,
            block_range_ms: 2 * 3_600_000,
        }
    }
}

#[derive(Default)]
struct Stats {
    samples_appended: AtomicU64,
    out_of_order: AtomicU64,
    duplicate: AtomicU64,
    out_of_bounds: AtomicU64,
    series_created: AtomicU64,
    compactions: AtomicU64,
    head_cuts: AtomicU64,
    fsync_seconds_micros: AtomicU64,
    fsyncs: AtomicU64,
    retention_deletions: AtomicU64,
}

/// The database handle. Cheap to share behind `Arc`.
pub struct Tsdb {
    dir: PathBuf,
    opts: TsdbOptions,
    head: RwLock<Head>,
    wal: Mutex<Wal>,
    blocks: RwLock<Vec<Arc<Block>>>,
    stats: Stats,
    closed: AtomicBool,
}

impl Tsdb {
    /// Opens (or creates) the database in `dir`, loading blocks and replaying the WAL.
    /// A background thread cuts blocks, compacts and applies retention.
    pub fn open(dir: &Path, opts: TsdbOptions) -> Result<Arc<Tsdb>, StorageError> {
        std::fs::create_dir_all(dir.join("blocks"))?;
        let mut blocks = Vec::new();
        for e in std::fs::read_dir(dir.join("blocks"))? {
            let p = e?.path();
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_string();
            if name.ends_with(".tmp") {
                let _ = std::fs::remove_dir_all(&p);
                continue;
            }
            match block::read(&p) {
                Ok(b) => blocks.push(Arc::new(b)),
                Err(e) => tracing::error!("skipping unreadable block {}: {e}", p.display()),
            }
        }
        blocks.sort_by_key(|b| b.min_t);
        // Blocks merged by a compaction interrupted before the sources were deleted.
        let mut kept: Vec<Arc<Block>> = Vec::new();
        for b in blocks {
            if let Some(last) = kept.last() {
                if b.min_t < last.max_t {
                    let (keep, drop) = if b.max_t - b.min_t > last.max_t - last.min_t {
                        (b.clone(), last.clone())
                    } else {
                        (last.clone(), b.clone())
                    };
                    let _ = std::fs::remove_dir_all(&drop.dir);
                    kept.pop();
                    kept.push(keep);
                    continue;
                }
            }
            kept.push(b);
        }
        let min_valid = kept.last().map(|b| b.max_t).unwrap_or(i64::MIN);
        let mut head = Head::new(min_valid);
        let mut id_map: HashMap<u64, u32> = HashMap::new();
        let mut replayed = 0u64;
        let wal = Wal::open(&dir.join("wal"), |rec| {
            for (wal_id, labels) in rec.series {
                let (id, _) = head.get_or_create(&labels);
                id_map.insert(wal_id, id);
            }
            for (wal_id, t, v) in rec.samples {
                if let Some(id) = id_map.get(&wal_id) {
                    if head.append(*id, t, v, i64::MAX) == Outcome::Appended {
                        replayed += 1;
                    }
                }
            }
        })?;
        tracing::info!(dir = %dir.display(), blocks = kept.len(), replayed, "TSDB opened");
        let db = Arc::new(Tsdb {
            dir: dir.to_path_buf(),
            opts,
            head: RwLock::new(head),
            wal: Mutex::new(wal),
            blocks: RwLock::new(kept),
            stats: Stats::default(),
            closed: AtomicBool::new(false),
        });
        let weak = Arc::downgrade(&db);
        std::thread::Builder::new()
            .name("tsdb-maintenance".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_secs(2));
                let Some(db) = weak.upgrade() else { return };
                if db.closed.load(Ordering::Relaxed) {
                    return;
                }
                if let Err(e) = db.maintain() {
                    tracing::error!("TSDB maintenance failed: {e}");
                }
            })
            .map_err(|e| StorageError::Io(e.to_string()))?;
        Ok(db)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Cuts blocks from the head, compacts and applies retention. Runs in the background; public
    /// for tests and tools.
    pub fn maintain(&self) -> Result<(), StorageError> {
        let range = self.opts.block_range_ms.max(1);
        loop {
            let cut_before = {
                let h = self.head.read();
                if h.is_empty() || h.max_t - h.min_t <= range * 3 / 2 {
                    break;
                }
                h.min_t.div_euclid(range) * range + range
            };
            self.cut_block(cut_before)?;
        }
        self.compact()?;
        self.apply_retention()?;
        Ok(())
    }

    /// Moves every head sample older than `before` into a new block and checkpoints the WAL.
    fn cut_block(&self, before: i64) -> Result<(), StorageError> {
        let mut head = self.head.write();
        let mut wal = self.wal.lock();
        let (old, rest) = head.cut(before);
        let min_t = old
            .iter()
            .flat_map(|(_, cs)| cs.iter().map(|c| c.min_t))
            .min()
            .unwrap_or(before);
        let range = self.opts.block_range_ms.max(1);
        let block_min = min_t.div_euclid(range) * range;
        if !old.is_empty() {
            let b = block::write(
                &self.dir.join("blocks"),
                block_min.min(before - range),
                before,
                old,
            )?;
            self.blocks.write().push(Arc::new(b));
            self.blocks.write().sort_by_key(|b| b.min_t);
        }
        wal.checkpoint(&rest.checkpoint_records())?;
        *head = rest;
        self.stats.head_cuts.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Merges blocks that share one aligned window of three block ranges.
    fn compact(&self) -> Result<(), StorageError> {
        let window = self.opts.block_range_ms.max(1) * 3;
        let snapshot = self.blocks.read().clone();
        let newest = snapshot.last().map(|b| b.max_t).unwrap_or(i64::MIN);
        let mut groups: BTreeMap<i64, Vec<Arc<Block>>> = BTreeMap::new();
        for b in &snapshot {
            let key = b.min_t.div_euclid(window);
            if (b.max_t - 1).div_euclid(window) == key {
                groups.entry(key).or_default().push(b.clone());
            }
        }
        for (key, group) in groups {
            // Only windows that are complete (a newer block exists past them).
            if group.len() < 2 || (key + 1) * window > newest {
                continue;
            }
            let refs: Vec<&Block> = group.iter().map(|b| b.as_ref()).collect();
            let merged = Arc::new(block::merge(&self.dir.join("blocks"), &refs)?);
            {
                let mut blocks = self.blocks.write();
                blocks.retain(|b| !group.iter().any(|g| Arc::ptr_eq(g, b)));
                blocks.push(merged.clone());
                blocks.sort_by_key(|b| b.min_t);
            }
            for g in &group {
                if g.dir != merged.dir {
                    let _ = std::fs::remove_dir_all(&g.dir);
                }
            }
            self.stats.compactions.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn apply_retention(&self) -> Result<(), StorageError> {
        let newest = {
            let h = self.head.read();
            let bmax = self
                .blocks
                .read()
                .last()
                .map(|b| b.max_t)
                .unwrap_or(i64::MIN);
            h.max_t.max(bmax)
        };
        let mut blocks = self.blocks.write();
        let mut removed = Vec::new();
        if self.opts.retention_time_ms > 0 {
            let cutoff = newest.saturating_sub(self.opts.retention_time_ms);
            blocks.retain(|b| {
                let keep = b.max_t > cutoff;
                if !keep {
                    removed.push(b.dir.clone());
                }
                keep
            });
        }
        if self.opts.retention_size_bytes > 0 {
            let wal_bytes = self.wal.lock().disk_bytes();
            let mut total: u64 = blocks.iter().map(|b| b.size_bytes).sum::<u64>() + wal_bytes;
            while total > self.opts.retention_size_bytes && !blocks.is_empty() {
                let b = blocks.remove(0);
                total = total.saturating_sub(b.size_bytes);
                removed.push(b.dir.clone());
            }
        }
        drop(blocks);
        for d in removed {
            let _ = std::fs::remove_dir_all(&d);
            self.stats
                .retention_deletions
                .fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Bytes on disk (blocks and WAL).
    pub fn disk_bytes(&self) -> u64 {
        self.blocks.read().iter().map(|b| b.size_bytes).sum::<u64>() + self.wal.lock().disk_bytes()
    }

    /// Appends this database's self metrics (`prometheus_tsdb_*` names) in text exposition format.
    pub fn write_self_metrics(&self, out: &mut String) {
        let s = &self.stats;
        let (series, min_t, max_t, head_samples) = {
            let h = self.head.read();
            (h.series.len(), h.min_t, h.max_t, h.num_samples)
        };
        let blocks = self.blocks.read();
        let block_bytes: u64 = blocks.iter().map(|b| b.size_bytes).sum();
        let mut g = |name: &str, kind: &str, help: &str, v: String| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        };
        g(
            "prometheus_tsdb_head_series",
            "gauge",
            "Series in the head.",
            series.to_string(),
        );
        g(
            "pharos_tsdb_head_samples",
            "gauge",
            "Samples held in the head.",
            head_samples.to_string(),
        );
        g(
            "prometheus_tsdb_head_min_time",
            "gauge",
            "Lowest timestamp in the head (ms).",
            if min_t == i64::MAX {
                "0".into()
            } else {
                min_t.to_string()
            },
        );
        g(
            "prometheus_tsdb_head_max_time",
            "gauge",
            "Highest timestamp in the head (ms).",
            if max_t == i64::MIN {
                "0".into()
            } else {
                max_t.to_string()
            },
        );
        g(
            "prometheus_tsdb_head_samples_appended_total",
            "counter",
            "Samples appended.",
            s.samples_appended.load(Ordering::Relaxed).to_string(),
        );
        g(
            "prometheus_tsdb_head_series_created_total",
            "counter",
            "Series created.",
            s.series_created.load(Ordering::Relaxed).to_string(),
        );
        g(
            "prometheus_tsdb_out_of_order_samples_total",
            "counter",
            "Samples rejected as out of order.",
            s.out_of_order.load(Ordering::Relaxed).to_string(),
        );
        g(
            "prometheus_tsdb_duplicate_samples_total",
            "counter",
            "Samples rejected: same timestamp, other value.",
            s.duplicate.load(Ordering::Relaxed).to_string(),
        );
        g(
            "prometheus_tsdb_out_of_bounds_samples_total",
            "counter",
            "Samples rejected: older than the head.",
            s.out_of_bounds.load(Ordering::Relaxed).to_string(),
        );
        g(
            "prometheus_tsdb_blocks_loaded",
            "gauge",
            "Blocks loaded.",
            blocks.len().to_string(),
        );
        g(
            "prometheus_tsdb_storage_blocks_bytes",
            "gauge",
            "Bytes of all blocks.",
            block_bytes.to_string(),
        );
        g(
            "prometheus_tsdb_compactions_total",
            "counter",
            "Block merges.",
            s.compactions.load(Ordering::Relaxed).to_string(),
        );
        g(
            "prometheus_tsdb_head_truncations_total",
            "counter",
            "Head cuts into blocks.",
            s.head_cuts.load(Ordering::Relaxed).to_string(),
        );
        g(
            "prometheus_tsdb_time_retentions_total",
            "counter",
            "Blocks deleted by retention.",
            s.retention_deletions.load(Ordering::Relaxed).to_string(),
        );
        let _ = writeln!(
            out,
            "# HELP prometheus_tsdb_wal_fsync_duration_seconds Duration of WAL fsyncs.\n# TYPE prometheus_tsdb_wal_fsync_duration_seconds summary\nprometheus_tsdb_wal_fsync_duration_seconds_sum {}\nprometheus_tsdb_wal_fsync_duration_seconds_count {}",
            s.fsync_seconds_micros.load(Ordering::Relaxed) as f64 / 1e6,
            s.fsyncs.load(Ordering::Relaxed)
        );
    }

    /// Stops background work; later appends fail. Data is already durable in the WAL.
    pub fn close(&self) -> Result<(), StorageError> {
        self.closed.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn matching_series(
        &self,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> BTreeMap<Labels, Vec<Sample>> {
        let mut out: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
        let blocks = self.blocks.read().clone();
        for b in blocks.iter().filter(|b| b.max_t > mint && b.min_t <= maxt) {
            for id in b.postings.select(matchers) {
                let Some((labels, chunks)) = b.series.get(id as usize) else {
                    continue;
                };
                let mut samples = Vec::new();
                for c in chunks.iter().filter(|c| c.max_t >= mint && c.min_t <= maxt) {
                    samples.extend(
                        c.decode()
                            .into_iter()
                            .filter(|p| p.t >= mint && p.t <= maxt),
                    );
                }
                if !samples.is_empty() {
                    out.entry(labels.clone()).or_default().extend(samples);
                }
            }
        }
        let head = self.head.read();
        for id in head.postings.select(matchers) {
            let samples = head.samples(id, mint, maxt);
            if samples.is_empty() {
                continue;
            }
            if let Some(s) = head.series.get(id as usize) {
                out.entry(s.labels.clone()).or_default().extend(samples);
            }
        }
        out
    }
}

impl Tsdb {
    /// Validates and stores series (labels with their samples), logging them to the WAL before
    /// returning: the shared path of `append` and `append_series`.
    fn append_grouped<'a>(
        &self,
        groups: impl Iterator<Item = (&'a Labels, &'a [Sample])>,
    ) -> Result<AppendStats, StorageError> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(StorageError::Io("the TSDB is closed".into()));
        }
        let mut stats = AppendStats::default();
        let mut rec = Record::default();
        let mut head = self.head.write();
        for (labels, samples) in groups {
            if labels.is_empty() {
                return Err(StorageError::BadInput("series without labels".into()));
            }
            let (id, created) = head.get_or_create(labels);
            if created {
                stats.series_created += 1;
                rec.series.push((u64::from(id), labels.clone()));
            }
            for s in samples {
                match head.append(id, s.t, s.v, self.opts.out_of_order_window_ms) {
                    Outcome::Appended => {
                        stats.appended += 1;
                        rec.samples.push((u64::from(id), s.t, s.v));
                    }
                    Outcome::Repeated => stats.appended += 1,
                    Outcome::OutOfOrder => stats.out_of_order += 1,
                    Outcome::Duplicate => stats.duplicate += 1,
                    Outcome::OutOfBounds => stats.out_of_bounds += 1,
                }
            }
        }
        // Keep WAL order equal to head order: take the WAL lock before releasing the head.
        let mut wal = self.wal.lock();
        drop(head);
        let start = Instant::now();
        wal.log(&rec)?;
        drop(wal);
        let st = &self.stats;
        st.fsync_seconds_micros
            .fetch_add(start.elapsed().as_micros() as u64, Ordering::Relaxed);
        st.fsyncs.fetch_add(1, Ordering::Relaxed);
        st.samples_appended
            .fetch_add(stats.appended as u64, Ordering::Relaxed);
        st.series_created
            .fetch_add(stats.series_created as u64, Ordering::Relaxed);
        st.out_of_order
            .fetch_add(stats.out_of_order as u64, Ordering::Relaxed);
        st.duplicate
            .fetch_add(stats.duplicate as u64, Ordering::Relaxed);
        st.out_of_bounds
            .fetch_add(stats.out_of_bounds as u64, Ordering::Relaxed);
        Ok(stats)
    }
}

impl MetricSink for Tsdb {
    fn append(&self, batch: &[(Labels, Sample)]) -> Result<AppendStats, StorageError> {
        self.append_grouped(batch.iter().map(|(l, s)| (l, std::slice::from_ref(s))))
    }

    fn append_series(&self, series: &[Series]) -> Result<AppendStats, StorageError> {
        self.append_grouped(series.iter().map(|s| (&s.labels, s.samples.as_slice())))
    }
}

impl Queryable for Tsdb {
    fn select(
        &self,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Series>, StorageError> {
        Ok(self
            .matching_series(matchers, mint, maxt)
            .into_iter()
            .map(|(labels, mut samples)| {
                samples.sort_by_key(|p| p.t);
                samples.dedup_by_key(|p| p.t);
                Series { labels, samples }
            })
            .collect())
    }

    fn series(
        &self,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Labels>, StorageError> {
        let mut out: BTreeSet<Labels> = BTreeSet::new();
        let blocks = self.blocks.read().clone();
        for b in blocks.iter().filter(|b| b.max_t > mint && b.min_t <= maxt) {
            for id in b.postings.select(matchers) {
                if let Some((labels, _)) = b.series.get(id as usize) {
                    out.insert(labels.clone());
                }
            }
        }
        let head = self.head.read();
        for id in head.postings.select(matchers) {
            if let Some(s) = head.series.get(id as usize) {
                let overlaps = s.last_t >= mint
                    && (s.chunks.first().map(|c| c.min_t).unwrap_or(s.open.min_t) <= maxt
                        || !s.ooo.is_empty());
                if overlaps {
                    out.insert(s.labels.clone());
                }
            }
        }
        Ok(out.into_iter().collect())
    }

    fn label_names(
        &self,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        let mut names = BTreeSet::new();
        if matchers.is_empty() {
            let blocks = self.blocks.read().clone();
            for b in blocks.iter().filter(|b| b.max_t > mint && b.min_t <= maxt) {
                names.extend(b.postings.names().cloned());
            }
            names.extend(self.head.read().postings.names().cloned());
        } else {
            for l in self.series(matchers, mint, maxt)? {
                names.extend(l.iter().map(|l| l.name.clone()));
            }
        }
        Ok(names.into_iter().collect())
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        let mut values = BTreeSet::new();
        if matchers.is_empty() {
            let blocks = self.blocks.read().clone();
            for b in blocks.iter().filter(|b| b.max_t > mint && b.min_t <= maxt) {
                values.extend(b.postings.values(name).cloned());
            }
            values.extend(self.head.read().postings.values(name).cloned());
        } else {
            for l in self.series(matchers, mint, maxt)? {
                if let Some(v) = l.get(name) {
                    values.insert(v.to_string());
                }
            }
        }
        Ok(values.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(i: usize) -> Labels {
        Labels::from_pairs([("__name__", "m".to_string()), ("i", i.to_string())])
    }

    #[test]
    fn survives_reopen_across_blocks_and_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let opts = TsdbOptions {
            block_range_ms: 1000,
            ..Default::default()
        };
        let expected: Vec<(usize, i64)> = (0..3)
            .flat_map(|i| (0..100).map(move |t| (i, t as i64 * 100)))
            .collect();
        {
            let db = Tsdb::open(dir.path(), opts.clone()).unwrap();
            for t in 0..100 {
                let batch: Vec<(Labels, Sample)> = (0..3)
                    .map(|i| {
                        (
                            labels(i),
                            Sample {
                                t: t * 100,
                                v: t as f64,
                            },
                        )
                    })
                    .collect();
                let st = db.append(&batch).unwrap();
                assert_eq!(st.appended, 3);
            }
            db.maintain().unwrap();
            assert!(db.blocks.read().len() >= 2, "blocks cut");
            let st = db.append(&[(labels(0), Sample { t: 0, v: 1.0 })]).unwrap();
            assert_eq!(st.out_of_bounds, 1);
        }
        let db = Tsdb::open(dir.path(), opts).unwrap();
        let all = db
            .select(&[LabelMatcher::equal("__name__", "m")], i64::MIN, i64::MAX)
            .unwrap();
        assert_eq!(all.len(), 3);
        let got: Vec<(usize, i64)> = all
            .iter()
            .enumerate()
            .flat_map(|(i, s)| s.samples.iter().map(move |p| (i, p.t)))
            .collect();
        assert_eq!(got, expected);
        assert_eq!(
            db.label_values("i", &[], i64::MIN, i64::MAX).unwrap(),
            vec!["0", "1", "2"]
        );
    }

    #[test]
    fn out_of_order_rejected_and_window() {
        let dir = tempfile::tempdir().unwrap();
        let db = Tsdb::open(dir.path(), TsdbOptions::default()).unwrap();
        db.append(&[(labels(0), Sample { t: 1000, v: 1.0 })])
            .unwrap();
        let st = db
            .append(&[(labels(0), Sample { t: 500, v: 1.0 })])
            .unwrap();
        assert_eq!(st.out_of_order, 1);
        let dir2 = tempfile::tempdir().unwrap();
        let db2 = Tsdb::open(
            dir2.path(),
            TsdbOptions {
                out_of_order_window_ms: 600,
                ..Default::default()
            },
        )
        .unwrap();
        db2.append(&[(labels(0), Sample { t: 1000, v: 1.0 })])
            .unwrap();
        assert_eq!(
            db2.append(&[(labels(0), Sample { t: 500, v: 2.0 })])
                .unwrap()
                .appended,
            1
        );
        let s = db2
            .select(&[LabelMatcher::equal("i", "0")], 0, 2000)
            .unwrap();
        assert_eq!(
            s[0].samples.iter().map(|p| p.t).collect::<Vec<_>>(),
            vec![500, 1000]
        );
    }

    #[test]
    fn retention_by_time() {
        let dir = tempfile::tempdir().unwrap();
        let db = Tsdb::open(
            dir.path(),
            TsdbOptions {
                block_range_ms: 1000,
                retention_time_ms: 3000,
                ..Default::default()
            },
        )
        .unwrap();
        for t in 0..100 {
            db.append(&[(labels(0), Sample { t: t * 100, v: 1.0 })])
                .unwrap();
        }
        db.maintain().unwrap();
        let s = db
            .select(&[LabelMatcher::equal("i", "0")], i64::MIN, i64::MAX)
            .unwrap();
        assert!(
            s[0].samples[0].t >= 5000,
            "old blocks deleted, first t = {}",
            s[0].samples[0].t
        );
    }
}
