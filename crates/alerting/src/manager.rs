//! The rule manager: holds the loaded groups, evaluates each on its own interval in one
//! background thread, restores `for` state once after startup, sends alerts (with external
//! labels added, as Prometheus' notifier does) to the configured `AlertSink`, and swaps groups
//! on reload while keeping the state of unchanged rules. Read-only snapshots serve the HTTP API.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use model::{AlertSink, LogRuleQuerier, MetricSink, Queryable};
use parking_lot::{Condvar, Mutex};
use promql::Engine;

use crate::rule::{EvalContext, Group};
use crate::rulefmt::{load_rule_file_with, RuleFileError};

/// Settings of a [`RuleManager`].
pub struct ManagerOptions {
    pub engine: Engine,
    pub storage: Arc<dyn Queryable>,
    pub sink: Arc<dyn MetricSink>,
    pub alert_sink: Arc<dyn AlertSink>,
    /// Prometheus' `--rules.alert.resend-delay` (default 1m).
    pub resend_delay_ms: i64,
    /// Prometheus' `--rules.alert.for-outage-tolerance` (default 1h).
    pub outage_tolerance_ms: i64,
    /// Prometheus' `--rules.alert.for-grace-period` (default 10m).
    pub for_grace_period_ms: i64,
    /// Evaluates LogQL rule groups (Loki's ruler); required when LogQL rule files are loaded.
    pub log_querier: Option<Arc<dyn LogRuleQuerier>>,
    /// Validates LogQL expressions when LogQL rule files are loaded (returns the parse error).
    pub logql_check: Option<ExprCheck>,
    /// Scopes the groups of a tenant's PromQL rule files to that tenant's series; required
    /// when such files are loaded.
    pub tenant_scope: Option<TenantScope>,
}

/// How a tenant's rule group sees the metric store: `scope(tenant)` gives the storage it
/// queries and the sink its recording rules write to (both the tenant's only), and its alerts
/// carry `label="<tenant>"`, so the Alertmanager API shows them to that tenant only.
#[derive(Clone)]
pub struct TenantScope {
    pub label: &'static str,
    #[allow(clippy::type_complexity)]
    pub scope: Arc<dyn Fn(&str) -> (Arc<dyn Queryable>, Arc<dyn MetricSink>) + Send + Sync>,
}

/// An expression validator (returns the parse error text).
pub type ExprCheck = Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// One rule file to load: a Prometheus one (`logql_tenant: None`), or a Loki-style one whose
/// expressions are LogQL over the logs of `logql_tenant`. `tenant` makes a Prometheus one a
/// tenant's (Mimir's ruler): PromQL over that tenant's series only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSource {
    pub path: PathBuf,
    pub logql_tenant: Option<String>,
    pub tenant: Option<String>,
}

impl ManagerOptions {
    /// Options with Prometheus' defaults.
    pub fn new(
        storage: Arc<dyn Queryable>,
        sink: Arc<dyn MetricSink>,
        alert_sink: Arc<dyn AlertSink>,
    ) -> Self {
        ManagerOptions {
            engine: Engine::default(),
            storage,
            sink,
            alert_sink,
            resend_delay_ms: 60_000,
            outage_tolerance_ms: 3_600_000,
            for_grace_period_ms: 600_000,
            log_querier: None,
            logql_check: None,
            tenant_scope: None,
        }
    }
}

struct Slot {
    group: Group,
    next_eval_ms: i64,
    evals: u32,
    should_restore: bool,
    /// Rule evaluations and failed ones since the group was loaded (self metrics).
    rule_evals_total: u64,
    rule_failures_total: u64,
}

struct Settings {
    external_labels: BTreeMap<String, String>,
    external_url: String,
}

/// Loads and evaluates rule groups.
pub struct RuleManager {
    opts: ManagerOptions,
    slots: Mutex<Vec<Slot>>,
    settings: Mutex<Settings>,
    loaded_once: AtomicBool,
    wake: Condvar,
    wake_lock: Mutex<bool>,
    stop: AtomicBool,
}

impl RuleManager {
    pub fn new(opts: ManagerOptions) -> Arc<Self> {
        Arc::new(RuleManager {
            opts,
            slots: Mutex::new(Vec::new()),
            settings: Mutex::new(Settings {
                external_labels: BTreeMap::new(),
                external_url: String::new(),
            }),
            loaded_once: AtomicBool::new(false),
            wake: Condvar::new(),
            wake_lock: Mutex::new(false),
            stop: AtomicBool::new(false),
        })
    }

    /// Load `files` (all or nothing: on any error the running groups stay as they are).
    /// Returns the number of rules loaded.
    pub fn update(
        &self,
        files: &[PathBuf],
        default_interval_ms: i64,
        external_labels: BTreeMap<String, String>,
        external_url: String,
    ) -> Result<usize, Vec<RuleFileError>> {
        let sources: Vec<RuleSource> = files
            .iter()
            .map(|p| RuleSource {
                path: p.clone(),
                logql_tenant: None,
                tenant: None,
            })
            .collect();
        self.update_sources(&sources, default_interval_ms, external_labels, external_url)
    }

    /// [`RuleManager::update`] with Prometheus and LogQL rule files.
    pub fn update_sources(
        &self,
        sources: &[RuleSource],
        default_interval_ms: i64,
        external_labels: BTreeMap<String, String>,
        external_url: String,
    ) -> Result<usize, Vec<RuleFileError>> {
        let mut errs = Vec::new();
        let mut groups = Vec::new();
        let first = !self.loaded_once.load(Ordering::SeqCst);
        for src in sources {
            let f = &src.path;
            let loaded = match &src.logql_tenant {
                None if src.tenant.is_some() && self.opts.tenant_scope.is_none() => {
                    Err(vec![RuleFileError {
                        file: f.clone(),
                        line: 0,
                        col: 0,
                        message: "tenant rule files need the tenant scope".into(),
                    }])
                }
                None => {
                    let experimental = self.opts.engine.opts.experimental_functions;
                    load_rule_file_with(f, &crate::template::check, &|e| {
                        crate::rulefmt::check_promql_with(e, experimental)
                    })
                }
                Some(_) => match (&self.opts.log_querier, &self.opts.logql_check) {
                    (Some(_), Some(check)) => {
                        load_rule_file_with(f, &crate::template::check, &|e| check(e))
                    }
                    _ => Err(vec![RuleFileError {
                        file: f.clone(),
                        line: 0,
                        col: 0,
                        message: "LogQL rule files need the log store".into(),
                    }]),
                },
            };
            match loaded {
                Ok(rf) => {
                    for g in &rf.groups {
                        let mut group = Group::from_def(f.clone(), g, default_interval_ms, !first);
                        group.logql_tenant = src.logql_tenant.clone();
                        group.tenant = src.tenant.clone();
                        groups.push(group);
                    }
                }
                Err(mut e) => errs.append(&mut e),
            }
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        let n = groups.iter().map(|g| g.rules.len()).sum();
        {
            let mut slots = self.slots.lock();
            let now = model::time::now_ms();
            let mut new_slots = Vec::with_capacity(groups.len());
            for mut g in groups {
                let old = slots.iter().position(|s| {
                    s.group.file == g.file
                        && s.group.name == g.name
                        && s.group.logql_tenant == g.logql_tenant
                        && s.group.tenant == g.tenant
                });
                let slot = match old {
                    Some(i) => {
                        let o = &slots[i];
                        g.copy_state_from(&o.group);
                        Slot {
                            next_eval_ms: if o.group.interval_ms == g.interval_ms {
                                o.next_eval_ms
                            } else {
                                now
                            },
                            evals: o.evals,
                            should_restore: o.should_restore,
                            rule_evals_total: o.rule_evals_total,
                            rule_failures_total: o.rule_failures_total,
                            group: g,
                        }
                    }
                    None => Slot {
                        group: g,
                        next_eval_ms: now,
                        evals: 0,
                        should_restore: first,
                        rule_evals_total: 0,
                        rule_failures_total: 0,
                    },
                };
                new_slots.push(slot);
            }
            // Groups that are gone: end their series with stale markers, as Prometheus does.
            let mut stale = Vec::new();
            for o in slots.iter() {
                let kept = new_slots
                    .iter()
                    .any(|n| n.group.file == o.group.file && n.group.name == o.group.name);
                if !kept {
                    for l in o.group.written_series() {
                        stale.push((
                            l,
                            model::Sample {
                                t: now,
                                v: model::stale_nan(),
                            },
                        ));
                    }
                }
            }
            if !stale.is_empty() {
                if let Err(e) = self.opts.sink.append(&stale) {
                    tracing::warn!(error = %e, "writing stale markers of removed rule groups failed");
                }
            }
            *slots = new_slots;
        }
        *self.settings.lock() = Settings {
            external_labels,
            external_url,
        };
        self.loaded_once.store(true, Ordering::SeqCst);
        self.notify();
        Ok(n)
    }

    fn notify(&self) {
        let mut w = self.wake_lock.lock();
        *w = true;
        self.wake.notify_all();
    }

    /// Start the evaluation thread.
    pub fn start(self: &Arc<Self>) -> std::thread::JoinHandle<()> {
        let me = self.clone();
        std::thread::Builder::new()
            .name("rule-manager".into())
            .spawn(move || me.run())
            .unwrap_or_else(|e| panic!("cannot spawn rule manager thread: {e}"))
    }

    /// Stop the evaluation thread.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.notify();
    }

    fn run(&self) {
        while !self.stop.load(Ordering::SeqCst) {
            let now = model::time::now_ms();
            let mut next_due = now + 1000;
            {
                let (ext_labels, ext_url) = {
                    let s = self.settings.lock();
                    (s.external_labels.clone(), s.external_url.clone())
                };
                let mut slots = self.slots.lock();
                for slot in slots.iter_mut() {
                    if now >= slot.next_eval_ms {
                        // Evaluate at the group's grid point (as Prometheus: a per-group offset
                        // within the interval, so timestamps are regular and groups spread out);
                        // missed intervals are skipped.
                        let iv = slot.group.interval_ms.max(1);
                        let ts = aligned_eval_time(&slot.group, now);
                        self.eval_slot(slot, ts, &ext_labels, &ext_url);
                        slot.next_eval_ms = ts + iv;
                    }
                    next_due = next_due.min(slot.next_eval_ms);
                }
            }
            let wait = (next_due - model::time::now_ms()).clamp(5, 1000);
            let mut w = self.wake_lock.lock();
            if !*w {
                self.wake
                    .wait_for(&mut w, Duration::from_millis(wait as u64));
            }
            *w = false;
        }
    }

    fn eval_slot(
        &self,
        slot: &mut Slot,
        ts: i64,
        ext_labels: &BTreeMap<String, String>,
        ext_url: &str,
    ) {
        let tenant = slot.group.logql_tenant.clone();
        let logql = match (&tenant, &self.opts.log_querier) {
            (Some(t), Some(q)) => Some((q.as_ref(), t.as_str())),
            _ => None,
        };
        // A tenant's PromQL group reads and writes only that tenant's series.
        let scoped = match (&slot.group.tenant, &self.opts.tenant_scope) {
            (Some(t), Some(sc)) => Some((sc.scope)(t)),
            _ => None,
        };
        let (storage, sink) = match &scoped {
            Some((q, w)) => (q.clone(), w.clone()),
            None => (self.opts.storage.clone(), self.opts.sink.clone()),
        };
        let ctx = EvalContext {
            engine: &self.opts.engine,
            storage: storage.clone(),
            sink: sink.as_ref(),
            external_labels: ext_labels,
            external_url: ext_url,
            logql,
        };
        let mut alerts = slot.group.eval(&ctx, ts, self.opts.resend_delay_ms);
        if let (Some(t), Some(sc)) = (&slot.group.tenant, &self.opts.tenant_scope) {
            for a in &mut alerts {
                a.labels.insert(sc.label.to_string(), t.clone());
            }
        }
        slot.evals += 1;
        slot.rule_evals_total += slot.group.rules.len() as u64;
        slot.rule_failures_total += slot
            .group
            .rules
            .iter()
            .filter(|r| r.common().last_error.is_some())
            .count() as u64;
        if slot.should_restore && slot.evals >= 2 {
            slot.group.restore_for_state(
                storage.as_ref(),
                ts,
                self.opts.outage_tolerance_ms,
                self.opts.for_grace_period_ms,
            );
            slot.should_restore = false;
        } else if !slot.should_restore {
            slot.group.set_restored();
        }
        if !alerts.is_empty() {
            self.opts
                .alert_sink
                .send(with_external_labels(alerts, ext_labels));
        }
    }

    /// Evaluate every group once at `ts` (tests and tools; the thread need not run).
    pub fn eval_all_once(&self, ts: i64) {
        let (ext_labels, ext_url) = {
            let s = self.settings.lock();
            (s.external_labels.clone(), s.external_url.clone())
        };
        let mut slots = self.slots.lock();
        for slot in slots.iter_mut() {
            self.eval_slot(slot, ts, &ext_labels, &ext_url);
        }
    }

    /// Prometheus' rule-group self metrics in text format 0.0.4 (`prometheus_rule_*`), labelled
    /// `rule_group="FILE;NAME"` as Prometheus does.
    pub fn write_metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        let slots = self.slots.lock();
        let families: [(&str, &str, &str); 6] = [
            (
                "prometheus_rule_evaluations_total",
                "counter",
                "The total number of rule evaluations.",
            ),
            (
                "prometheus_rule_evaluation_failures_total",
                "counter",
                "The total number of rule evaluation failures.",
            ),
            (
                "prometheus_rule_group_last_duration_seconds",
                "gauge",
                "The duration of the last rule group evaluation.",
            ),
            (
                "prometheus_rule_group_interval_seconds",
                "gauge",
                "The interval of a rule group.",
            ),
            (
                "prometheus_rule_group_rules",
                "gauge",
                "The number of rules.",
            ),
            (
                "prometheus_rule_group_last_evaluation_timestamp_seconds",
                "gauge",
                "The timestamp of the last rule group evaluation in seconds.",
            ),
        ];
        for (i, (name, typ, help)) in families.iter().enumerate() {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {typ}");
            for s in slots.iter() {
                let g = &s.group;
                let key = format!("{};{}", g.file.display(), g.name)
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"");
                let v = match i {
                    0 => s.rule_evals_total as f64,
                    1 => s.rule_failures_total as f64,
                    2 => g.eval_seconds,
                    3 => g.interval_ms as f64 / 1000.0,
                    4 => g.rules.len() as f64,
                    _ => g.last_eval_ms.map(|t| t as f64 / 1000.0).unwrap_or(0.0),
                };
                let _ = writeln!(out, "{name}{{rule_group=\"{key}\"}} {v}");
            }
        }
    }

    /// A snapshot of every group (for `/api/v1/rules` and `/api/v1/alerts`), sorted by file and
    /// then group name as Prometheus lists them.
    pub fn groups(&self) -> Vec<Group> {
        let mut v: Vec<Group> = self.slots.lock().iter().map(|s| s.group.clone()).collect();
        v.sort_by(|a, b| a.file.cmp(&b.file).then_with(|| a.name.cmp(&b.name)));
        v
    }
}

/// The latest evaluation time of `g` at or before `now`: `offset + k * interval`, the offset
/// derived from the group's file and name.
pub fn aligned_eval_time(g: &Group, now: i64) -> i64 {
    use std::hash::{Hash, Hasher};
    let iv = g.interval_ms.max(1);
    let mut h = std::collections::hash_map::DefaultHasher::new();
    g.file.hash(&mut h);
    g.name.hash(&mut h);
    let offset = (h.finish() % iv as u64) as i64;
    let adj = now - offset;
    adj - adj.rem_euclid(iv) + offset
}

/// Add external labels an alert doesn't already have (Prometheus' notifier does this).
pub fn with_external_labels(
    mut alerts: Vec<model::Alert>,
    ext: &BTreeMap<String, String>,
) -> Vec<model::Alert> {
    for a in alerts.iter_mut() {
        for (k, v) in ext {
            if a.labels.get(k).is_none_or(|x| x.is_empty()) {
                a.labels.insert(k.clone(), v.clone());
            }
        }
    }
    alerts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eval_times_are_aligned_per_group() {
        let def = crate::rulefmt::parse_rule_file(
            std::path::Path::new("a.yml"),
            "groups:\n- name: g\n  interval: 10s\n  rules: []\n",
            &crate::template::check,
        )
        .unwrap();
        let g = Group::from_def("a.yml".into(), &def.groups[0], 60_000, true);
        let t1 = aligned_eval_time(&g, 1_000_000_123);
        assert!(t1 <= 1_000_000_123 && 1_000_000_123 - t1 < 10_000);
        assert_eq!(aligned_eval_time(&g, t1 + 9_999), t1);
        assert_eq!(aligned_eval_time(&g, t1 + 10_000), t1 + 10_000);
        assert_eq!((t1 - aligned_eval_time(&g, 7)).rem_euclid(10_000), 0);
    }

    /// Answers LogQL rule queries of tenant `fake` like a log store with 7 error lines of
    /// `app="api"` in the last minute; records the queries.
    struct FakeLogs(parking_lot::Mutex<Vec<(String, String, i64)>>);

    impl LogRuleQuerier for FakeLogs {
        fn instant(
            &self,
            tenant: &str,
            query: &str,
            ts_ms: i64,
        ) -> Result<Vec<(model::Labels, f64)>, String> {
            self.0.lock().push((tenant.into(), query.into(), ts_ms));
            if tenant != "fake" {
                return Ok(Vec::new());
            }
            let v = 7.0;
            if query.contains("> 100") {
                return Ok(Vec::new());
            }
            Ok(vec![(model::Labels::from_pairs([("app", "api")]), v)])
        }
    }

    #[derive(Default)]
    struct Alerts(parking_lot::Mutex<Vec<model::Alert>>);

    impl AlertSink for Alerts {
        fn send(&self, alerts: Vec<model::Alert>) {
            self.0.lock().extend(alerts);
        }
    }

    fn logql_check(e: &str) -> Result<(), String> {
        if e.contains('{') {
            Ok(())
        } else {
            Err("syntax error: unexpected IDENTIFIER".into())
        }
    }

    #[test]
    fn logql_groups_evaluate_through_the_log_querier() {
        let dir = tempfile::tempdir().unwrap();
        let prom = dir.path().join("prom.yml");
        std::fs::write(
            &prom,
            "groups:\n- name: p\n  rules:\n  - record: one\n    expr: vector(1)\n",
        )
        .unwrap();
        let logs = dir.path().join("logs.yml");
        std::fs::write(
            &logs,
            "groups:\n- name: errors\n  rules:\n  - alert: ErrorSpike\n    expr: sum by (app) (count_over_time({app=\"api\"} |= \"error\" [1m])) > 5\n    for: 0s\n    labels: {severity: page}\n    annotations:\n      summary: '{{ $labels.app }} logs {{ $value }} errors'\n  - alert: Quiet\n    expr: sum(count_over_time({app=\"api\"}[1m])) > 100\n  - record: app:errors:count1m\n    expr: sum by (app) (count_over_time({app=\"api\"} |= \"error\" [1m]))\n",
        )
        .unwrap();
        let mem = Arc::new(model::MemStorage::new());
        let fake = Arc::new(FakeLogs(Default::default()));
        let alerts = Arc::new(Alerts::default());
        let mut opts = ManagerOptions::new(mem.clone(), mem.clone(), alerts.clone());
        opts.log_querier = Some(fake.clone());
        opts.logql_check = Some(Arc::new(logql_check));
        let mgr = RuleManager::new(opts);
        let n = mgr
            .update_sources(
                &[
                    RuleSource {
                        path: prom.clone(),
                        logql_tenant: None,
                        tenant: None,
                    },
                    RuleSource {
                        path: logs.clone(),
                        logql_tenant: Some("fake".into()),
                        tenant: None,
                    },
                ],
                60_000,
                BTreeMap::new(),
                "http://pharos".into(),
            )
            .unwrap();
        assert_eq!(n, 4);
        let ts = 1_700_000_000_000;
        mgr.eval_all_once(ts);
        // Only LogQL expressions went to the log querier, for the group's tenant.
        let q = fake.0.lock().clone();
        assert_eq!(q.len(), 3, "{q:?}");
        assert!(q
            .iter()
            .all(|(t, e, at)| t == "fake" && e.contains('{') && *at == ts));
        let sent = alerts.0.lock().clone();
        assert_eq!(sent.len(), 1, "{sent:?}");
        let a = &sent[0];
        assert_eq!(
            a.labels.get("alertname").map(String::as_str),
            Some("ErrorSpike")
        );
        assert_eq!(a.labels.get("app").map(String::as_str), Some("api"));
        assert_eq!(a.labels.get("severity").map(String::as_str), Some("page"));
        assert_eq!(
            a.annotations.get("summary").map(String::as_str),
            Some("api logs 7 errors")
        );
        // The recording rule's result is in the TSDB, like Loki's ruler remote-writes it.
        let eng = Engine::default();
        let v = crate::rule::query_vector(&eng, mem.as_ref(), "app:errors:count1m", ts).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].1, 7.0);
        assert_eq!(v[0].0.get("app"), Some("api"));
        let v = crate::rule::query_vector(&eng, mem.as_ref(), "one", ts).unwrap();
        assert_eq!(v.len(), 1);
        // The state is visible in the group snapshot (API).
        let groups = mgr.groups();
        let g = groups.iter().find(|g| g.name == "errors").unwrap();
        assert_eq!(g.logql_tenant.as_deref(), Some("fake"));
        assert!(g.rules.iter().all(|r| r.common().last_error.is_none()));
    }

    #[test]
    fn logql_parse_errors_are_located_and_need_a_querier() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs.yml");
        std::fs::write(
            &logs,
            "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: '{app=\"x\"}'\n  - alert: B\n    expr: rate(foo[1m])\n",
        )
        .unwrap();
        let src = [RuleSource {
            path: logs.clone(),
            logql_tenant: Some("fake".into()),
            tenant: None,
        }];
        let mem = Arc::new(model::MemStorage::new());
        let alerts = Arc::new(Alerts::default());
        let no_logs = RuleManager::new(ManagerOptions::new(
            mem.clone(),
            mem.clone(),
            alerts.clone(),
        ));
        let e = no_logs
            .update_sources(&src, 60_000, BTreeMap::new(), String::new())
            .unwrap_err();
        assert!(e[0].message.contains("log store"), "{e:?}");
        let mut opts = ManagerOptions::new(mem.clone(), mem, alerts);
        opts.log_querier = Some(Arc::new(FakeLogs(Default::default())));
        opts.logql_check = Some(Arc::new(logql_check));
        let e = RuleManager::new(opts)
            .update_sources(&src, 60_000, BTreeMap::new(), String::new())
            .unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].line, 6);
        assert!(
            e[0].to_string()
                .contains("could not parse expression: syntax error"),
            "{e:?}"
        );
    }
}
