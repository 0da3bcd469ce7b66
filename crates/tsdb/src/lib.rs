//! Embedded time-series database: WAL written before acknowledging, in-memory head, immutable
//! compressed blocks, inverted label index, compaction and retention.
//!
//! (Skeleton: currently backed by `model::MemStorage`; the real engine replaces it.)

use model::{
    AppendStats, LabelMatcher, Labels, MemStorage, MetricSink, Queryable, Sample, Series,
    StorageError,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

/// The database handle. Cheap to share behind `Arc`.
pub struct Tsdb {
    dir: PathBuf,
    mem: MemStorage,
}

impl Tsdb {
    /// Opens (or creates) the database in `dir`, replaying the WAL.
    pub fn open(dir: &Path, _opts: TsdbOptions) -> Result<Arc<Tsdb>, StorageError> {
        std::fs::create_dir_all(dir)?;
        Ok(Arc::new(Tsdb {
            dir: dir.to_path_buf(),
            mem: MemStorage::new(),
        }))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends this database's self metrics (`prometheus_tsdb_*` names) in text exposition format.
    pub fn write_self_metrics(&self, out: &mut String) {
        out.push_str("# TYPE prometheus_tsdb_head_series gauge\n");
        out.push_str(&format!(
            "prometheus_tsdb_head_series {}\n",
            self.mem.num_series()
        ));
    }

    /// Flushes and closes; later calls on the handle fail.
    pub fn close(&self) -> Result<(), StorageError> {
        Ok(())
    }
}

impl MetricSink for Tsdb {
    fn append(&self, batch: &[(Labels, Sample)]) -> Result<AppendStats, StorageError> {
        self.mem.append(batch)
    }
}

impl Queryable for Tsdb {
    fn select(
        &self,
        m: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Series>, StorageError> {
        self.mem.select(m, mint, maxt)
    }
    fn label_names(
        &self,
        m: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        self.mem.label_names(m, mint, maxt)
    }
    fn label_values(
        &self,
        n: &str,
        m: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        self.mem.label_values(n, m, mint, maxt)
    }
}
