//! remote_write sending, as Prometheus' queue manager does it: every `remote_write` entry of
//! prometheus.yml is a queue that reads pharos' own metrics WAL from a saved position and
//! sends protobuf 1.0 or 2.0 (`protobuf_message`) to the receiver; the queues follow config
//! reloads and report `prometheus_remote_storage_*` metrics under Prometheus' names.
//! [`signals`] does the same for logs, traces and errors (`forward:` of pharos.yml).

pub mod grpc;
pub mod histlog;
pub mod queue;
pub mod read;
pub mod settings;
pub mod signals;
pub mod tail;
pub mod watcher;

use config::prometheus::PrometheusConfig;
use parking_lot::Mutex;
use queue::{Queue, QueueMetrics, DURATION_BUCKETS};
use settings::Settings;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

/// All remote_write queues of one pharos.
pub struct RemoteWrite {
    wal_dir: PathBuf,
    state_dir: PathBuf,
    queues: Mutex<Vec<Queue>>,
    metadata: Mutex<Option<queue::MetadataSource>>,
}

impl RemoteWrite {
    /// Queues read the TSDB log in `wal_dir` and keep their positions under `state_dir`.
    pub fn new(wal_dir: &Path, state_dir: &Path) -> RemoteWrite {
        RemoteWrite {
            wal_dir: wal_dir.to_path_buf(),
            state_dir: state_dir.to_path_buf(),
            queues: Mutex::new(Vec::new()),
            metadata: Mutex::new(None),
        }
    }

    /// Where queues started from now on find metric metadata for 2.0 requests.
    pub fn set_metadata_source(&self, source: queue::MetadataSource) {
        *self.metadata.lock() = Some(source);
    }

    /// Checks every entry of `cfg.remote_write` without starting anything.
    pub fn validate(cfg: &PrometheusConfig) -> Result<Vec<Settings>, String> {
        let mut out: Vec<Settings> = Vec::new();
        for ep in &cfg.remote_write {
            let s = Settings::from_endpoint(ep, &cfg.global.external_labels)?;
            if out.iter().any(|o| o.name == s.name) {
                return Err(format!(
                    "remote_write {}: duplicate remote write name {:?} (or URL)",
                    ep.url, s.name
                ));
            }
            out.push(s);
        }
        Ok(out)
    }

    /// Runs exactly the queues of `cfg`: unchanged ones keep running, changed and removed
    /// ones stop (saving their position), new ones start. Call from within the tokio runtime.
    /// On an error nothing changes.
    pub fn apply(&self, cfg: &PrometheusConfig) -> Result<(), String> {
        let wanted = Self::validate(cfg)?;
        let rt = tokio::runtime::Handle::try_current().map_err(|e| e.to_string())?;
        let mut queues = self.queues.lock();
        let old = std::mem::take(&mut *queues);
        let mut keep = Vec::new();
        for q in old {
            if wanted.contains(&q.settings) {
                keep.push(q);
            } else {
                tracing::info!(queue = %q.settings.name, url = %q.settings.url, "remote_write: stopping queue");
                q.stop();
            }
        }
        for s in wanted {
            if let Some(i) = keep.iter().position(|q| q.settings == s) {
                queues.push(keep.swap_remove(i));
                continue;
            }
            tracing::info!(queue = %s.name, url = %s.url, "remote_write: starting queue");
            let metadata = self.metadata.lock().clone();
            match Queue::start(s, &self.wal_dir, &self.state_dir, rt.clone(), metadata) {
                Ok(q) => queues.push(q),
                Err(e) => {
                    // Queues already running stay; the error fails this apply.
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Stops every queue, saving positions.
    pub fn stop(&self) {
        for q in std::mem::take(&mut *self.queues.lock()) {
            q.stop();
        }
    }

    /// The `prometheus_remote_storage_*` families (Prometheus' names, labels `remote_name`
    /// and `url`).
    pub fn write_metrics(&self, out: &mut String) {
        let queues = self.queues.lock();
        let rows: Vec<(String, &QueueMetrics)> = queues
            .iter()
            .map(|q| {
                (
                    format!(
                        "remote_name=\"{}\",url=\"{}\"",
                        escape(&q.settings.name),
                        escape(&q.settings.url)
                    ),
                    &*q.metrics,
                )
            })
            .collect();
        let highest = rows
            .iter()
            .map(|(_, m)| m.highest_read_ms.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0);
        let _ = writeln!(
            out,
            "# HELP prometheus_remote_storage_highest_timestamp_in_seconds Highest timestamp that has come into the remote storage via the WAL, in seconds since epoch.\n# TYPE prometheus_remote_storage_highest_timestamp_in_seconds gauge\nprometheus_remote_storage_highest_timestamp_in_seconds {}",
            highest as f64 / 1000.0
        );
        let samples_in: u64 = rows
            .iter()
            .map(|(_, m)| m.samples_in.load(Ordering::Relaxed))
            .sum();
        let _ = writeln!(
            out,
            "# HELP prometheus_remote_storage_samples_in_total Samples read from the WAL by remote storage queues.\n# TYPE prometheus_remote_storage_samples_in_total counter\nprometheus_remote_storage_samples_in_total {samples_in}"
        );
        let histograms_in: u64 = rows
            .iter()
            .map(|(_, m)| m.histograms_in.load(Ordering::Relaxed))
            .sum();
        let _ = writeln!(
            out,
            "# HELP prometheus_remote_storage_histograms_in_total HistogramSamples in to remote storage, compare to histograms out for queue managers.\n# TYPE prometheus_remote_storage_histograms_in_total counter\nprometheus_remote_storage_histograms_in_total {histograms_in}"
        );
        if rows.is_empty() {
            return;
        }
        type Get = fn(&QueueMetrics) -> f64;
        let families: [(&str, &str, &str, Get); 19] = [
            ("samples_total", "counter", "Total number of samples sent to remote storage.", |m| m.samples_sent.load(Ordering::Relaxed) as f64),
            ("samples_failed_total", "counter", "Total number of samples which failed on send to remote storage, non-recoverable errors.", |m| m.samples_failed.load(Ordering::Relaxed) as f64),
            ("samples_retried_total", "counter", "Total number of samples which failed on send to remote storage but were retried because the send error was recoverable.", |m| m.samples_retried.load(Ordering::Relaxed) as f64),
            ("samples_dropped_total", "counter", "Total number of samples which were dropped after being read from the WAL before being sent via remote write, either via relabelling or unintentionally because of an unknown reference ID.", |m| m.samples_dropped.load(Ordering::Relaxed) as f64),
            ("samples_pending", "gauge", "The number of samples pending in the queues shards to be sent to the remote storage.", |m| (m.pending.load(Ordering::Relaxed) - m.histograms_pending.load(Ordering::Relaxed)).max(0) as f64),
            ("histograms_total", "counter", "Total number of histograms sent to remote storage.", |m| m.histograms_sent.load(Ordering::Relaxed) as f64),
            ("histograms_failed_total", "counter", "Total number of histograms which failed on send to remote storage, non-recoverable errors.", |m| m.histograms_failed.load(Ordering::Relaxed) as f64),
            ("histograms_retried_total", "counter", "Total number of histograms which failed on send to remote storage but were retried because the send error was recoverable.", |m| m.histograms_retried.load(Ordering::Relaxed) as f64),
            ("histograms_dropped_total", "counter", "Total number of histograms which were dropped after being read from the WAL before being sent via remote write, either via relabelling, due to being too old or unintentionally because of an unknown reference ID.", |m| m.histograms_dropped.load(Ordering::Relaxed) as f64),
            ("histograms_pending", "gauge", "The number of histograms pending in the queues shards to be sent to the remote storage.", |m| m.histograms_pending.load(Ordering::Relaxed).max(0) as f64),
            ("shards", "gauge", "The number of shards used for parallel sending to the remote storage.", |m| m.shards.load(Ordering::Relaxed) as f64),
            ("shards_desired", "gauge", "The number of shards that the queues shard calculation wants to run based on the rate of samples in vs. samples out.", |m| m.shards_desired.load(Ordering::Relaxed) as f64),
            ("bytes_total", "counter", "The total number of bytes of data (not metadata) sent by the queue after compression.", |m| m.bytes.load(Ordering::Relaxed) as f64),
            ("queue_highest_sent_timestamp_seconds", "gauge", "Timestamp from a WAL sample, the highest timestamp successfully sent by this queue, in seconds since epoch.", |m| m.highest_sent_ms.load(Ordering::Relaxed) as f64 / 1000.0),
            ("queue_highest_timestamp_seconds", "gauge", "Highest timestamp that was enqueued, in seconds since epoch.", |m| m.highest_read_ms.load(Ordering::Relaxed) as f64 / 1000.0),
            ("shard_capacity", "gauge", "The capacity of each shard of the queue used for parallel sending to the remote storage.", |m| m.capacity.load(Ordering::Relaxed) as f64),
            ("wal_segment_current", "gauge", "Current WAL segment the remote write queue is reading from.", |m| m.wal_segment.load(Ordering::Relaxed) as f64),
            ("metadata_total", "counter", "Total number of metadata entries sent to remote storage.", |m| m.metadata_sent.load(Ordering::Relaxed) as f64),
            ("metadata_failed_total", "counter", "Total number of metadata entries which failed on send to remote storage, non-recoverable errors.", |m| m.metadata_failed.load(Ordering::Relaxed) as f64),
        ];
        for (name, kind, help, get) in families {
            let _ = writeln!(
                out,
                "# HELP prometheus_remote_storage_{name} {help}\n# TYPE prometheus_remote_storage_{name} {kind}"
            );
            for (labels, m) in &rows {
                let _ = writeln!(
                    out,
                    "prometheus_remote_storage_{name}{{{labels}}} {}",
                    get(m)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP prometheus_remote_storage_sent_batch_duration_seconds Duration of send calls to the remote storage.\n# TYPE prometheus_remote_storage_sent_batch_duration_seconds histogram"
        );
        for (labels, m) in &rows {
            for (le, b) in DURATION_BUCKETS.iter().zip(&m.duration_buckets) {
                let _ = writeln!(
                    out,
                    "prometheus_remote_storage_sent_batch_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}",
                    b.load(Ordering::Relaxed)
                );
            }
            let count = m.duration_count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "prometheus_remote_storage_sent_batch_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}\nprometheus_remote_storage_sent_batch_duration_seconds_sum{{{labels}}} {}\nprometheus_remote_storage_sent_batch_duration_seconds_count{{{labels}}} {count}",
                m.duration_sum_us.load(Ordering::Relaxed) as f64 / 1e6
            );
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
