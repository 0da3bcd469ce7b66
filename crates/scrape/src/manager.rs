//! The scrape manager: one pool per scrape config, one task per target. Applies new configs
//! without disturbing unchanged targets, spreads scrapes over the interval, writes report series
//! (`up`, `scrape_*`) and staleness markers, and keeps per-target status and metric metadata.

use crate::discovery::{discover_cached, FileSdCache, TargetSpec};
use crate::scrape_loop::{run_target, TargetState};
use crate::target::{DroppedTarget, MetadataEntry, TargetStatus, TargetsSnapshot};
use config::{PrometheusConfig, ScrapeConfig};
use model::exemplars::ExemplarStore;
use model::MetricSink;
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often file_sd files are re-read.
const FILE_SD_POLL: std::time::Duration = std::time::Duration::from_secs(5);

struct RunningTarget {
    spec: TargetSpec,
    state: Arc<Mutex<TargetState>>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

struct Pool {
    /// Debug text of the config: a changed config restarts the pool's targets.
    config_key: String,
    config: Arc<ScrapeConfig>,
    client: reqwest::Client,
    targets: HashMap<String, RunningTarget>,
    dropped: Vec<model::Labels>,
}

/// Active targets (with their live state) and dropped targets of one pool.
type PoolStatus = (
    Vec<(TargetSpec, Arc<Mutex<TargetState>>)>,
    Vec<model::Labels>,
);

/// Counters exported at `/metrics`.
#[derive(Default)]
pub struct ScrapeStats {
    pub exceeded_sample_limit: AtomicU64,
    pub scrapes_total: AtomicU64,
    pub scrape_failures: AtomicU64,
}

/// Runs every scrape pool of the current config.
pub struct ScrapeManager {
    sink: Arc<dyn MetricSink>,
    pools: tokio::sync::Mutex<BTreeMap<String, Pool>>,
    /// Status snapshot per pool, readable without the async lock.
    status: Mutex<BTreeMap<String, PoolStatus>>,
    metadata: Arc<Mutex<BTreeMap<String, MetadataEntry>>>,
    stats: Arc<ScrapeStats>,
    exemplars: Arc<ExemplarStore>,
    base_dir: Mutex<PathBuf>,
    file_sd_task: Mutex<Option<JoinHandle<()>>>,
    config: Mutex<Option<PrometheusConfig>>,
    file_sd_cache: FileSdCache,
}

impl ScrapeManager {
    pub fn new(sink: Arc<dyn MetricSink>) -> Arc<ScrapeManager> {
        Arc::new(ScrapeManager {
            sink,
            pools: tokio::sync::Mutex::new(BTreeMap::new()),
            status: Mutex::new(BTreeMap::new()),
            metadata: Arc::new(Mutex::new(BTreeMap::new())),
            stats: Arc::new(ScrapeStats::default()),
            exemplars: Arc::new(ExemplarStore::default()),
            base_dir: Mutex::new(PathBuf::new()),
            file_sd_task: Mutex::new(None),
            config: Mutex::new(None),
            file_sd_cache: FileSdCache::default(),
        })
    }

    /// The exemplar storage shared by scrapes, remote_write, OTLP and span metrics (sized by
    /// `storage.exemplars.max_exemplars` of the applied config).
    pub fn exemplars(&self) -> &Arc<ExemplarStore> {
        &self.exemplars
    }

    /// Applies a (new) configuration: starts, stops and restarts targets as needed.
    pub async fn apply_config(self: &Arc<Self>, cfg: &PrometheusConfig) {
        self.exemplars.resize(max_exemplars(cfg));
        *self.base_dir.lock() = cfg.base_dir.clone();
        *self.config.lock() = Some(cfg.clone());
        self.sync_pools(cfg).await;
        let uses_file_sd = cfg
            .scrape_configs
            .iter()
            .any(|s| !s.file_sd_configs.is_empty());
        let mut task = self.file_sd_task.lock();
        if let Some(t) = task.take() {
            t.abort();
        }
        if uses_file_sd {
            let me = Arc::downgrade(self);
            *task = Some(tokio::spawn(async move {
                loop {
                    tokio::time::sleep(FILE_SD_POLL).await;
                    let Some(m) = me.upgrade() else { return };
                    let cfg = m.config.lock().clone();
                    if let Some(cfg) = cfg {
                        m.sync_pools(&cfg).await;
                    }
                }
            }));
        }
    }

    async fn sync_pools(&self, cfg: &PrometheusConfig) {
        let mut pools = self.pools.lock().await;
        let wanted: BTreeMap<&str, &ScrapeConfig> = cfg
            .scrape_configs
            .iter()
            .map(|s| (s.job_name.as_str(), s))
            .collect();
        // Stop pools that are gone.
        let gone: Vec<String> = pools
            .keys()
            .filter(|k| !wanted.contains_key(k.as_str()))
            .cloned()
            .collect();
        for name in gone {
            if let Some(pool) = pools.remove(&name) {
                for (_, t) in pool.targets {
                    stop_target(t).await;
                }
            }
        }
        for (name, sc) in wanted {
            let key = format!("{sc:?}");
            let restart = pools.get(name).is_none_or(|p| p.config_key != key);
            if restart {
                if let Some(old) = pools.remove(name) {
                    for (_, t) in old.targets {
                        stop_target(t).await;
                    }
                }
                let client = match build_client(sc) {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::error!(job = name, "cannot build HTTP client: {e}");
                        continue;
                    }
                };
                pools.insert(
                    name.to_string(),
                    Pool {
                        config_key: key,
                        config: Arc::new(sc.clone()),
                        client,
                        targets: HashMap::new(),
                        dropped: Vec::new(),
                    },
                );
            }
            let Some(pool) = pools.get_mut(name) else {
                continue;
            };
            let found = discover_cached(sc, &cfg.base_dir, &self.file_sd_cache);
            for e in &found.errors {
                tracing::warn!(job = name, "target discovery: {e}");
            }
            pool.dropped = found.dropped;
            let mut new_specs: HashMap<String, TargetSpec> = HashMap::new();
            for spec in found.active {
                new_specs.entry(target_key(&spec)).or_insert(spec);
            }
            let stale: Vec<String> = pool
                .targets
                .keys()
                .filter(|k| !new_specs.contains_key(*k))
                .cloned()
                .collect();
            for k in stale {
                if let Some(t) = pool.targets.remove(&k) {
                    stop_target(t).await;
                }
            }
            // As Prometheus: over target_limit, every target of the pool fails its scrapes.
            let forced_error = (sc.target_limit > 0 && new_specs.len() as u64 > sc.target_limit)
                .then(|| {
                    format!(
                        "target_limit exceeded (number of targets: {}, limit: {})",
                        new_specs.len(),
                        sc.target_limit
                    )
                });
            for t in pool.targets.values() {
                t.state.lock().forced_error.clone_from(&forced_error);
            }
            for (k, spec) in new_specs {
                if pool.targets.contains_key(&k) {
                    continue;
                }
                let state = Arc::new(Mutex::new(TargetState {
                    forced_error: forced_error.clone(),
                    ..TargetState::default()
                }));
                let (stop_tx, stop_rx) = watch::channel(false);
                let task = tokio::spawn(run_target(
                    spec.clone(),
                    pool.config.clone(),
                    pool.client.clone(),
                    self.sink.clone(),
                    state.clone(),
                    self.metadata.clone(),
                    self.stats.clone(),
                    self.exemplars.clone(),
                    stop_rx,
                ));
                pool.targets.insert(
                    k,
                    RunningTarget {
                        spec,
                        state,
                        stop: stop_tx,
                        task,
                    },
                );
            }
        }
        let mut status = self.status.lock();
        status.clear();
        for (name, pool) in pools.iter() {
            let mut list: Vec<(TargetSpec, Arc<Mutex<TargetState>>)> = pool
                .targets
                .values()
                .map(|t| (t.spec.clone(), t.state.clone()))
                .collect();
            list.sort_by(|a, b| a.0.labels.cmp(&b.0.labels));
            status.insert(name.clone(), (list, pool.dropped.clone()));
        }
    }

    /// Active and dropped targets with their last scrape state.
    pub fn targets(&self) -> TargetsSnapshot {
        let status = self.status.lock();
        let mut snap = TargetsSnapshot::default();
        for (pool, (active, dropped)) in status.iter() {
            for (spec, state) in active {
                let st = state.lock();
                snap.active.push(TargetStatus {
                    discovered_labels: to_map(&spec.discovered),
                    labels: to_map(&spec.labels),
                    scrape_pool: pool.clone(),
                    scrape_url: spec.url.clone(),
                    global_url: spec.url.clone(),
                    last_error: st.last_error.clone(),
                    last_scrape: st
                        .last_scrape_ms
                        .and_then(chrono::DateTime::from_timestamp_millis)
                        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
                        .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string()),
                    last_scrape_duration: st.last_duration_s,
                    health: st.health().to_string(),
                    scrape_interval: model::time::PromDuration(spec.interval_ms).to_string(),
                    scrape_timeout: model::time::PromDuration(spec.timeout_ms).to_string(),
                });
            }
            for d in dropped {
                snap.dropped.push(DroppedTarget {
                    discovered_labels: to_map(d),
                });
            }
            snap.dropped_counts.insert(pool.clone(), dropped.len());
        }
        snap
    }

    /// Records metadata received by push (OTLP, remote_write) next to the scraped one.
    pub fn record_metadata(&self, entries: Vec<MetadataEntry>) {
        let mut md = self.metadata.lock();
        for m in entries {
            md.insert(m.metric.clone(), m);
        }
    }

    /// Metric metadata seen on all targets (latest wins per metric family).
    pub fn metadata(&self) -> Vec<MetadataEntry> {
        self.metadata.lock().values().cloned().collect()
    }

    /// Scrape self metrics in text format.
    pub fn write_self_metrics(&self, out: &mut String) {
        let status = self.status.lock();
        out.push_str("# TYPE prometheus_sd_discovered_targets gauge\n");
        for (pool, (active, dropped)) in status.iter() {
            let _ = writeln!(
                out,
                "prometheus_sd_discovered_targets{{config=\"{pool}\",name=\"scrape\"}} {}",
                active.len() + dropped.len()
            );
        }
        out.push_str("# TYPE prometheus_target_scrape_pool_targets gauge\n");
        for (pool, (active, _)) in status.iter() {
            let _ = writeln!(
                out,
                "prometheus_target_scrape_pool_targets{{scrape_job=\"{pool}\"}} {}",
                active.len()
            );
        }
        let s = &self.stats;
        let _ = writeln!(out, "# TYPE prometheus_target_scrapes_exceeded_sample_limit_total counter\nprometheus_target_scrapes_exceeded_sample_limit_total {}", s.exceeded_sample_limit.load(Ordering::Relaxed));
        let _ = writeln!(
            out,
            "# TYPE pharos_scrapes_total counter\npharos_scrapes_total {}",
            s.scrapes_total.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# TYPE pharos_scrape_failures_total counter\npharos_scrape_failures_total {}",
            s.scrape_failures.load(Ordering::Relaxed)
        );
    }

    /// Stops every target (writing staleness markers).
    pub async fn stop(&self) {
        if let Some(t) = self.file_sd_task.lock().take() {
            t.abort();
        }
        let mut pools = self.pools.lock().await;
        for (_, pool) in std::mem::take(&mut *pools) {
            for (_, t) in pool.targets {
                stop_target(t).await;
            }
        }
        self.status.lock().clear();
    }
}

fn to_map(l: &model::Labels) -> BTreeMap<String, String> {
    l.iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect()
}

fn target_key(spec: &TargetSpec) -> String {
    format!(
        "{}|{}|{}|{}",
        spec.url, spec.labels, spec.interval_ms, spec.timeout_ms
    )
}

async fn stop_target(t: RunningTarget) {
    let _ = t.stop.send(true);
    // The loop writes staleness markers and exits; don't wait forever on a stuck scrape.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), t.task).await;
}

/// `storage.exemplars.max_exemplars` (Prometheus' default 100000; 0 or less disables storage).
fn max_exemplars(cfg: &PrometheusConfig) -> usize {
    cfg.storage
        .as_ref()
        .and_then(|s| s.get("exemplars"))
        .and_then(|e| e.get("max_exemplars"))
        .and_then(|m| m.as_i64())
        .map(|m| m.max(0) as usize)
        .unwrap_or(model::exemplars::DEFAULT_MAX_EXEMPLARS)
}

fn build_client(sc: &ScrapeConfig) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder()
        .danger_accept_invalid_certs(sc.tls_config.insecure_skip_verify)
        .redirect(if sc.follow_redirects {
            reqwest::redirect::Policy::limited(10)
        } else {
            reqwest::redirect::Policy::none()
        })
        .gzip(sc.enable_compression)
        .user_agent(concat!(
            "Prometheus/3.0.0 pharos/",
            env!("CARGO_PKG_VERSION")
        ));
    if let Some(ca) = &sc.tls_config.ca_file {
        let pem =
            std::fs::read(ca).map_err(|e| format!("reading ca_file {}: {e}", ca.display()))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
        b = b.add_root_certificate(cert);
    }
    if let Some(ca) = &sc.tls_config.ca {
        let cert = reqwest::Certificate::from_pem(ca.as_bytes()).map_err(|e| format!("ca: {e}"))?;
        b = b.add_root_certificate(cert);
    }
    // A client certificate (cert_file/key_file or inline cert/key), as Prometheus sends it.
    let read = |p: &std::path::PathBuf, what: &str| {
        std::fs::read(p).map_err(|e| format!("reading {what} {}: {e}", p.display()))
    };
    let cert = match (&sc.tls_config.cert_file, &sc.tls_config.cert) {
        (Some(p), _) => Some(read(p, "cert_file")?),
        (None, Some(c)) => Some(c.clone().into_bytes()),
        _ => None,
    };
    let key = match (&sc.tls_config.key_file, &sc.tls_config.key) {
        (Some(p), _) => Some(read(p, "key_file")?),
        (None, Some(k)) => Some(k.clone().into_bytes()),
        _ => None,
    };
    match (cert, key) {
        (Some(mut pem), Some(key)) => {
            pem.push(b'\n');
            pem.extend_from_slice(&key);
            let id = reqwest::Identity::from_pem(&pem)
                .map_err(|e| format!("tls_config client certificate: {e}"))?;
            b = b.identity(id);
        }
        (None, None) => {}
        _ => return Err("tls_config: cert_file and key_file must be given together".into()),
    }
    if sc.proxy_url.is_none() {
        b = b.no_proxy();
    }
    b.build().map_err(|e| e.to_string())
}
