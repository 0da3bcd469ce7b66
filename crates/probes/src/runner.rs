//! The probe scheduler: one task per configured target runs its module every `interval`, writes
//! the series into the TSDB with the labels a blackbox scrape relabeled the usual way would have
//! (`job="probe"`, `instance=<target>`, `module`, plus the target's `labels`), keeps each probe's
//! latest result, and appends up/down transitions with the error to `<data>/probes/incidents.jsonl`
//! (fsynced, so incidents survive kill -9). `apply` swaps the targets on a config reload.

use crate::uptime::{self, Incident};
use crate::ProbeOutput;
use config::probes::{Module, ProbeTarget, ProbesSettings};
use model::{Labels, MetricSink, Queryable, Sample};
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// The latest result of one probe.
#[derive(Clone, Debug, Serialize)]
pub struct LastResult {
    pub time: i64,
    pub success: bool,
    pub duration_seconds: f64,
    pub error: Option<String>,
    pub status_code: Option<f64>,
    pub cert_expiry: Option<f64>,
}

/// One line of the transition log.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Transition {
    probe: String,
    up: bool,
    t: i64,
    #[serde(default)]
    error: String,
}

struct Inner {
    sink: Arc<dyn MetricSink>,
    store: Arc<dyn Queryable>,
    settings: RwLock<ProbesSettings>,
    last: RwLock<BTreeMap<String, LastResult>>,
    /// Closed and open incidents per probe, oldest first.
    incidents: Mutex<BTreeMap<String, Vec<Incident>>>,
    log_path: Option<PathBuf>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// Runs the configured probes; cheap to clone.
#[derive(Clone)]
pub struct Runner {
    inner: Arc<Inner>,
}

/// Modules a target may name: the configured ones over blackbox_exporter's example defaults.
pub fn module_for<'a>(
    settings: &'a ProbesSettings,
    name: &str,
) -> Option<std::borrow::Cow<'a, Module>> {
    match settings.modules.get(name) {
        Some(m) => Some(std::borrow::Cow::Borrowed(m)),
        None => config::probes::default_modules()
            .remove(name)
            .map(std::borrow::Cow::Owned),
    }
}

impl Runner {
    /// A runner writing into `sink`, reading history from `store`, keeping its transition log in
    /// `data_dir` (None: in memory only).
    pub fn new(
        sink: Arc<dyn MetricSink>,
        store: Arc<dyn Queryable>,
        data_dir: Option<PathBuf>,
    ) -> Result<Runner, String> {
        let mut incidents: BTreeMap<String, Vec<Incident>> = BTreeMap::new();
        let log_path = match data_dir {
            Some(d) => {
                std::fs::create_dir_all(&d)
                    .map_err(|e| format!("creating {}: {e}", d.display()))?;
                let p = d.join("incidents.jsonl");
                if let Ok(text) = std::fs::read_to_string(&p) {
                    for line in text.lines() {
                        // A torn last line after a crash is skipped.
                        if let Ok(t) = serde_json::from_str::<Transition>(line) {
                            apply_transition(&mut incidents, &t);
                        }
                    }
                }
                Some(p)
            }
            None => None,
        };
        Ok(Runner {
            inner: Arc::new(Inner {
                sink,
                store,
                settings: RwLock::new(ProbesSettings::default()),
                last: RwLock::new(BTreeMap::new()),
                incidents: Mutex::new(incidents),
                log_path,
                tasks: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The current settings.
    pub fn settings(&self) -> ProbesSettings {
        self.inner.settings.read().clone()
    }

    /// Replaces the probe set: stops every task and starts one per target.
    pub fn apply(&self, settings: &ProbesSettings) {
        *self.inner.settings.write() = settings.clone();
        let mut tasks = self.inner.tasks.lock();
        for t in tasks.drain(..) {
            t.abort();
        }
        for target in &settings.targets {
            let Some(module) = module_for(settings, &target.module).map(|m| m.into_owned()) else {
                continue;
            };
            let weak = Arc::downgrade(&self.inner);
            let target = target.clone();
            tasks.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_millis(
                    target.interval_ms as u64,
                ));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let out = crate::run_probe(&module, &target.target).await;
                    let Some(inner) = weak.upgrade() else { return };
                    Runner { inner }.record(&target, &out, model::time::now_ms());
                }
            }));
        }
    }

    /// Stops every probe task.
    pub fn stop(&self) {
        for t in self.inner.tasks.lock().drain(..) {
            t.abort();
        }
    }

    /// Stores one result: series into the sink, the latest result, a transition if any.
    pub fn record(&self, target: &ProbeTarget, out: &ProbeOutput, t: i64) {
        let mut batch: Vec<(Labels, Sample)> = Vec::with_capacity(out.metrics.len());
        for m in &out.metrics {
            let mut pairs: Vec<(String, String)> = vec![
                ("__name__".into(), m.name.to_string()),
                ("job".into(), "probe".into()),
                ("instance".into(), target.target.clone()),
                ("module".into(), target.module.clone()),
            ];
            for (k, v) in &target.labels {
                if !pairs.iter().any(|(n, _)| n == k) {
                    pairs.push((k.clone(), v.clone()));
                }
            }
            for (k, v) in &m.labels {
                pairs.push((k.to_string(), v.clone()));
            }
            batch.push((Labels::from_pairs(pairs), Sample { t, v: m.value }));
        }
        if let Err(e) = self.inner.sink.append(&batch) {
            tracing::warn!(probe = %target.name, "storing probe result failed: {e}");
        }
        let was_up = {
            let inc = self.inner.incidents.lock();
            inc.get(&target.name)
                .and_then(|v| v.last())
                .is_none_or(|i| i.end.is_some())
        };
        if was_up != out.success {
            let tr = Transition {
                probe: target.name.clone(),
                up: out.success,
                t,
                error: out.error.clone().unwrap_or_default(),
            };
            self.persist(&tr);
            apply_transition(&mut self.inner.incidents.lock(), &tr);
        }
        self.inner.last.write().insert(
            target.name.clone(),
            LastResult {
                time: t,
                success: out.success,
                duration_seconds: out.duration_seconds,
                error: out.error.clone(),
                status_code: out.value("probe_http_status_code"),
                cert_expiry: out.value("probe_ssl_earliest_cert_expiry"),
            },
        );
    }

    fn persist(&self, tr: &Transition) {
        let Some(p) = &self.inner.log_path else {
            return;
        };
        let Ok(line) = serde_json::to_string(tr) else {
            return;
        };
        let r = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .and_then(|mut f| {
                f.write_all(format!("{line}\n").as_bytes())?;
                f.sync_data()
            });
        if let Err(e) = r {
            tracing::warn!("writing {}: {e}", p.display());
        }
    }

    /// Incidents of `probe`, newest first, durations up to `now` for an open one.
    pub fn incidents(&self, probe: &str, now: i64) -> Vec<Incident> {
        let inc = self.inner.incidents.lock();
        let mut v: Vec<Incident> = inc.get(probe).cloned().unwrap_or_default();
        for i in &mut v {
            i.duration_seconds = (i.end.unwrap_or(now) - i.start) as f64 / 1000.0;
        }
        v.reverse();
        v
    }

    /// The latest result of `probe`.
    pub fn last(&self, probe: &str) -> Option<LastResult> {
        self.inner.last.read().get(probe).cloned()
    }

    /// The history store.
    pub fn store(&self) -> &dyn Queryable {
        self.inner.store.as_ref()
    }

    /// Uptime % of `target` over the last `window_ms` before `now`.
    pub fn uptime(&self, target: &ProbeTarget, now: i64, window_ms: i64) -> Option<f64> {
        let s = uptime::samples(
            self.store(),
            "probe_success",
            &target.target,
            &target.module,
            now - window_ms,
            now,
        );
        uptime::uptime_percent(&s)
    }
}

fn apply_transition(incidents: &mut BTreeMap<String, Vec<Incident>>, t: &Transition) {
    let list = incidents.entry(t.probe.clone()).or_default();
    let open = list.last_mut().filter(|i| i.end.is_none());
    match (t.up, open) {
        (true, Some(i)) => {
            i.end = Some(t.t);
            i.duration_seconds = (t.t - i.start) as f64 / 1000.0;
        }
        (false, None) => list.push(Incident {
            start: t.t,
            end: None,
            duration_seconds: 0.0,
            error: t.error.clone(),
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(ok: bool) -> ProbeOutput {
        let mut o = ProbeOutput {
            success: ok,
            ..Default::default()
        };
        o.set(
            "probe_success",
            crate::HELP_SUCCESS,
            if ok { 1.0 } else { 0.0 },
        );
        if !ok {
            o.error = Some("connection refused".into());
        }
        o
    }

    #[test]
    fn transitions_become_incidents_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mem = Arc::new(model::MemStorage::new());
        let r = Runner::new(mem.clone(), mem.clone(), Some(dir.path().into())).unwrap();
        let t = ProbeTarget {
            name: "api".into(),
            target: "http://x/".into(),
            module: "http_2xx".into(),
            interval_ms: 1000,
            labels: BTreeMap::new(),
        };
        r.record(&t, &out(true), 1000);
        r.record(&t, &out(false), 2000);
        r.record(&t, &out(false), 3000);
        r.record(&t, &out(true), 5000);
        r.record(&t, &out(false), 9000);
        let inc = r.incidents("api", 10_000);
        assert_eq!(inc.len(), 2);
        assert_eq!(inc[0].start, 9000);
        assert_eq!(inc[0].end, None);
        assert_eq!(inc[0].duration_seconds, 1.0);
        assert_eq!(inc[1].start, 2000);
        assert_eq!(inc[1].end, Some(5000));
        assert_eq!(inc[1].duration_seconds, 3.0);
        assert_eq!(inc[1].error, "connection refused");
        assert_eq!(r.uptime(&t, 10_000, 10_000), Some(40.0));
        let again = Runner::new(mem.clone(), mem, Some(dir.path().into())).unwrap();
        assert_eq!(again.incidents("api", 10_000), inc);
    }
}
