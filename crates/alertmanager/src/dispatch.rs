//! The Alertmanager core: the alert store, aggregation groups per route and `group_by` label
//! values, the flush timing (group_wait, group_interval, repeat_interval via the notification
//! log), resolve_timeout, inhibition, silences, mute/active time intervals, delivery with
//! exponential backoff, and the metrics `alertmanager_notifications_total`,
//! `alertmanager_notifications_failed_total` and `alertmanager_alerts`.

use crate::alert::{fingerprint_hex, StoredAlert};
use crate::config::{AlertmanagerConfig, GroupBy, Route};
use crate::nflog::{needs_update, Entry, NotificationLog};
use crate::notify::{Integration, Notification};
use crate::route::match_routes;
use crate::silence::{Silence, SilenceError, Silences};
use crate::template::{Data, Templates};
use model::time::now_ms;
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

/// The parsed configuration and its templates.
pub struct Loaded {
    pub config: AlertmanagerConfig,
    pub templates: Templates,
    /// Receiver fields that fail when rendered for a sample alert (they will render as an
    /// error string at run time).
    pub template_warnings: Vec<String>,
}

/// Every template field of a receiver, named like `slack_configs[0].text`.
fn template_fields(r: &crate::config::Receiver) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, c) in r.slack.iter().enumerate() {
        for (k, v) in [
            ("channel", &c.channel),
            ("username", &c.username),
            ("color", &c.color),
            ("title", &c.title),
            ("title_link", &c.title_link),
            ("pretext", &c.pretext),
            ("text", &c.text),
            ("footer", &c.footer),
            ("fallback", &c.fallback),
        ] {
            out.push((format!("slack_configs[{i}].{k}"), v.clone()));
        }
    }
    for (i, c) in r.pagerduty.iter().enumerate() {
        for (k, v) in [
            ("description", &c.description),
            ("client", &c.client),
            ("client_url", &c.client_url),
            ("severity", &c.severity),
        ] {
            out.push((format!("pagerduty_configs[{i}].{k}"), v.clone()));
        }
        for (k, v) in &c.details {
            out.push((format!("pagerduty_configs[{i}].details.{k}"), v.clone()));
        }
    }
    for (i, c) in r.email.iter().enumerate() {
        out.push((format!("email_configs[{i}].html"), c.html.clone()));
        out.push((format!("email_configs[{i}].text"), c.text.clone()));
        for (k, v) in &c.headers {
            out.push((format!("email_configs[{i}].headers.{k}"), v.clone()));
        }
    }
    out
}

impl Loaded {
    /// Loads templates for `config` (template parse errors name the file); receiver fields
    /// that do not parse are errors naming the receiver and field, fields that fail for a
    /// sample alert are warnings.
    pub fn new(config: AlertmanagerConfig) -> Result<Loaded, String> {
        let templates = Templates::load(&config.template_files)?;
        let sample: StoredAlert = StoredAlert {
            labels: [("alertname", "Example"), ("severity", "critical")]
                .into_iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            annotations: [("summary", "example summary"), ("description", "example")]
                .into_iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            starts_at: 0,
            ends_at: i64::MAX,
            generator_url: String::new(),
            updated_at: 0,
            timeout: true,
            fingerprint: 0,
        };
        let data = Data::new(
            "example",
            &sample.labels,
            std::slice::from_ref(&sample),
            "http://localhost",
            1,
        )
        .value();
        let mut template_warnings = Vec::new();
        for r in &config.receivers {
            for (field, text) in template_fields(r) {
                templates.check(&text).map_err(|e| {
                    format!(
                        "{}: receiver {:?}: {field}: {e}",
                        config.path.display(),
                        r.name
                    )
                })?;
                if let Err(e) = templates.render(&text, &data) {
                    template_warnings.push(format!(
                        "{}: receiver {:?}: {field} fails for a sample alert and will render as an error string: {e}",
                        config.path.display(),
                        r.name
                    ));
                }
            }
        }
        Ok(Loaded {
            config,
            templates,
            template_warnings,
        })
    }
}

/// Options of the route a group belongs to.
#[derive(Clone, Debug)]
struct RouteOpts {
    receiver: String,
    group_wait_ms: i64,
    group_interval_ms: i64,
    repeat_interval_ms: i64,
    mute: Vec<String>,
    active: Vec<String>,
}

impl RouteOpts {
    fn of(r: &Route) -> Self {
        RouteOpts {
            receiver: r.receiver.clone(),
            group_wait_ms: r.group_wait_ms,
            group_interval_ms: r.group_interval_ms,
            repeat_interval_ms: r.repeat_interval_ms,
            mute: r.mute_time_intervals.clone(),
            active: r.active_time_intervals.clone(),
        }
    }
}

struct Group {
    route: RouteOpts,
    labels: BTreeMap<String, String>,
    alerts: HashMap<u64, StoredAlert>,
    next_flush: i64,
    flushing: bool,
    has_flushed: bool,
}

/// Delivery retry policy.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub initial_ms: u64,
    pub max_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_ms: 500,
            max_ms: 10_000,
        }
    }
}

#[derive(Default)]
struct Metrics {
    /// integration -> (total, failed)
    by_integration: Mutex<BTreeMap<&'static str, (u64, u64)>>,
}

struct Inner {
    loaded: RwLock<Arc<Loaded>>,
    alerts: Mutex<HashMap<u64, StoredAlert>>,
    groups: Mutex<HashMap<String, Group>>,
    silences: Mutex<Silences>,
    nflog: Mutex<NotificationLog>,
    wake: tokio::sync::Notify,
    external_url: String,
    start_ms: i64,
    metrics: Metrics,
    retry: RetryPolicy,
    history: crate::history::History,
}

/// The built-in Alertmanager. Cheap to clone.
#[derive(Clone)]
pub struct Alertmanager {
    inner: Arc<Inner>,
}

/// An alert with its current status, as the API reports it.
#[derive(Clone, Debug)]
pub struct AlertView {
    pub alert: StoredAlert,
    pub receivers: Vec<String>,
    pub silenced_by: Vec<String>,
    pub inhibited_by: Vec<String>,
}

impl AlertView {
    pub fn state(&self) -> &'static str {
        if self.silenced_by.is_empty() && self.inhibited_by.is_empty() {
            "active"
        } else {
            "suppressed"
        }
    }
}

/// An aggregation group, as `/api/v2/alerts/groups` reports it.
#[derive(Clone, Debug)]
pub struct GroupView {
    pub labels: BTreeMap<String, String>,
    pub receiver: String,
    pub alerts: Vec<AlertView>,
}

fn group_labels(by: &GroupBy, labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    match by {
        GroupBy::All => labels.clone(),
        GroupBy::Labels(names) => names
            .iter()
            .filter_map(|n| labels.get(n).map(|v| (n.clone(), v.clone())))
            .collect(),
    }
}

/// Alertmanager's group key: route key, `:`, the group labels as `{a="b", c="d"}`.
fn group_key(route_key: &str, labels: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::matchers::quote(v)))
        .collect();
    format!("{route_key}:{{{}}}", parts.join(", "))
}

impl Alertmanager {
    /// Opens the Alertmanager with its state under `data_dir` (`None` = memory only).
    pub fn new(
        loaded: Loaded,
        data_dir: Option<PathBuf>,
        external_url: String,
        retry: RetryPolicy,
    ) -> Result<Self, String> {
        if let Some(d) = &data_dir {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        let silences = Silences::open(data_dir.clone())?;
        let nflog = NotificationLog::open(data_dir)?;
        Ok(Alertmanager {
            inner: Arc::new(Inner {
                loaded: RwLock::new(Arc::new(loaded)),
                alerts: Mutex::new(HashMap::new()),
                groups: Mutex::new(HashMap::new()),
                silences: Mutex::new(silences),
                nflog: Mutex::new(nflog),
                wake: tokio::sync::Notify::new(),
                external_url: external_url.trim_end_matches('/').to_string(),
                start_ms: now_ms(),
                metrics: Metrics::default(),
                retry,
                history: Default::default(),
            }),
        })
    }

    pub fn config(&self) -> Arc<Loaded> {
        self.inner.loaded.read().clone()
    }

    pub fn start_ms(&self) -> i64 {
        self.inner.start_ms
    }

    pub fn external_url(&self) -> &str {
        &self.inner.external_url
    }

    /// Replaces the configuration; aggregation groups are rebuilt from the current alerts (as
    /// Alertmanager does on reload), the notification log keeps deduplicating.
    pub fn reload(&self, loaded: Loaded) {
        *self.inner.loaded.write() = Arc::new(loaded);
        self.inner.groups.lock().clear();
        let alerts: Vec<StoredAlert> = self.inner.alerts.lock().values().cloned().collect();
        for a in alerts {
            self.route_alert(&a, now_ms());
        }
        self.inner.wake.notify_one();
    }

    /// Accepts alerts as `POST /api/v2/alerts` does: all are validated first; on any error
    /// nothing is stored and the messages are returned.
    pub fn put_alerts(&self, posted: Vec<model::alert::Alert>) -> Result<(), String> {
        let now = now_ms();
        let resolve_timeout = self.config().config.global.resolve_timeout_ms;
        let mut ok = Vec::with_capacity(posted.len());
        let mut errors = Vec::new();
        for p in posted {
            match StoredAlert::from_posted(p, now, resolve_timeout) {
                Ok(a) => ok.push(a),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors.join("; "));
        }
        for a in ok {
            let merged = {
                let mut store = self.inner.alerts.lock();
                let merged = match store.get(&a.fingerprint) {
                    // Merge when the activity ranges overlap (Alertmanager's provider rule).
                    Some(old)
                        if (a.ends_at > old.starts_at && a.ends_at < old.ends_at)
                            || (a.starts_at >= old.starts_at && a.starts_at <= old.ends_at) =>
                    {
                        old.merge(a)
                    }
                    _ => a,
                };
                store.insert(merged.fingerprint, merged.clone());
                merged
            };
            self.route_alert(&merged, now);
        }
        self.inner.wake.notify_one();
        Ok(())
    }

    fn route_alert(&self, a: &StoredAlert, now: i64) {
        let loaded = self.config();
        let routes = match_routes(&loaded.config.route, &a.labels);
        let mut groups = self.inner.groups.lock();
        for r in routes {
            let gl = group_labels(&r.group_by, &a.labels);
            let key = group_key(&r.key, &gl);
            let g = groups.entry(key).or_insert_with(|| Group {
                route: RouteOpts::of(r),
                labels: gl,
                alerts: HashMap::new(),
                next_flush: now + r.group_wait_ms,
                flushing: false,
                has_flushed: false,
            });
            // An alert older than group_wait is flushed right away (Alertmanager's rule).
            if !g.has_flushed && a.starts_at + g.route.group_wait_ms < now {
                g.next_flush = g.next_flush.min(now);
            }
            g.alerts.insert(a.fingerprint, a.clone());
        }
    }

    /// Runs the dispatcher until the process ends.
    pub fn spawn(&self) -> tokio::task::JoinHandle<()> {
        let am = self.clone();
        tokio::spawn(async move { am.run().await })
    }

    async fn run(self) {
        let mut last_gc = now_ms();
        loop {
            let now = now_ms();
            let mut due = Vec::new();
            let mut next = now + 1000;
            {
                let mut groups = self.inner.groups.lock();
                for (key, g) in groups.iter_mut() {
                    if g.flushing {
                        continue;
                    }
                    if g.next_flush <= now {
                        g.flushing = true;
                        g.has_flushed = true;
                        g.next_flush = now + g.route.group_interval_ms;
                        due.push((
                            key.clone(),
                            g.route.clone(),
                            g.labels.clone(),
                            g.alerts.values().cloned().collect::<Vec<_>>(),
                        ));
                    } else {
                        next = next.min(g.next_flush);
                    }
                }
            }
            for (key, route, labels, alerts) in due {
                let am = self.clone();
                tokio::spawn(async move { am.flush(key, route, labels, alerts).await });
            }
            if now - last_gc > 60_000 {
                last_gc = now;
                self.gc(now);
            }
            let wait = (next - now).clamp(5, 1000) as u64;
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_millis(wait)) => {}
                _ = self.inner.wake.notified() => {}
            }
        }
    }

    fn gc(&self, now: i64) {
        self.inner.silences.lock().gc(now);
        self.inner.nflog.lock().gc(now);
        // Resolved alerts leave the store once no group holds them any more.
        let held: BTreeSet<u64> = self
            .inner
            .groups
            .lock()
            .values()
            .flat_map(|g| g.alerts.keys().copied())
            .collect();
        self.inner
            .alerts
            .lock()
            .retain(|fp, a| !a.resolved_at(now) || held.contains(fp));
    }

    /// Fingerprints (hex) of firing alerts that inhibit `labels`.
    fn inhibited_by(
        &self,
        cfg: &AlertmanagerConfig,
        target: &StoredAlert,
        all: &HashMap<u64, StoredAlert>,
        now: i64,
    ) -> Vec<String> {
        let mut out = BTreeSet::new();
        let matches = |ms: &[model::LabelMatcher], l: &BTreeMap<String, String>| {
            ms.iter()
                .all(|m| m.matches(l.get(&m.name).map(String::as_str).unwrap_or("")))
        };
        for rule in &cfg.inhibit_rules {
            if !matches(&rule.target, &target.labels) {
                continue;
            }
            let two_sided = matches(&rule.source, &target.labels);
            for s in all.values() {
                if s.fingerprint == target.fingerprint || s.resolved_at(now) {
                    continue;
                }
                if !matches(&rule.source, &s.labels) {
                    continue;
                }
                if two_sided && matches(&rule.target, &s.labels) {
                    continue;
                }
                if rule
                    .equal
                    .iter()
                    .all(|l| s.labels.get(l) == target.labels.get(l))
                {
                    out.insert(fingerprint_hex(s.fingerprint));
                }
            }
        }
        out.into_iter().collect()
    }

    fn time_muted(cfg: &AlertmanagerConfig, route: &RouteOpts, now: i64) -> bool {
        let inside = |names: &[String]| {
            names.iter().any(|n| {
                cfg.time_intervals
                    .get(n)
                    .is_some_and(|l| crate::timeinterval::any_contains(l, now))
            })
        };
        if inside(&route.mute) {
            return true;
        }
        !route.active.is_empty() && !inside(&route.active)
    }

    async fn flush(
        self,
        key: String,
        route: RouteOpts,
        labels: BTreeMap<String, String>,
        snapshot: Vec<StoredAlert>,
    ) {
        let ok = self.flush_inner(&key, &route, &labels, &snapshot).await;
        let now = now_ms();
        let mut groups = self.inner.groups.lock();
        if let Some(g) = groups.get_mut(&key) {
            g.flushing = false;
            if ok {
                for a in &snapshot {
                    if a.resolved_at(now) {
                        if let Some(cur) = g.alerts.get(&a.fingerprint) {
                            if cur.updated_at == a.updated_at {
                                g.alerts.remove(&a.fingerprint);
                            }
                        }
                    }
                }
            }
            if g.alerts.is_empty() {
                groups.remove(&key);
            }
        }
        drop(groups);
        self.inner.wake.notify_one();
    }

    /// One flush of one group through the pipeline; true when every integration succeeded.
    async fn flush_inner(
        &self,
        key: &str,
        route: &RouteOpts,
        labels: &BTreeMap<String, String>,
        snapshot: &[StoredAlert],
    ) -> bool {
        let loaded = self.config();
        let cfg = &loaded.config;
        let now = now_ms();
        if Self::time_muted(cfg, route, now) {
            return true;
        }
        let alerts: Vec<StoredAlert> = {
            let all = self.inner.alerts.lock();
            let silences = self.inner.silences.lock();
            let mut v: Vec<StoredAlert> = snapshot
                .iter()
                .filter(|a| silences.silenced_by(&a.labels, now).is_empty())
                .filter(|a| self.inhibited_by(cfg, a, &all, now).is_empty())
                .cloned()
                .collect();
            v.sort_by(|a, b| a.labels.cmp(&b.labels));
            v
        };
        if alerts.is_empty() {
            return true;
        }
        let Some(receiver) = cfg.receiver(&route.receiver) else {
            return true;
        };
        let firing: BTreeSet<u64> = alerts
            .iter()
            .filter(|a| !a.resolved_at(now))
            .map(|a| a.fingerprint)
            .collect();
        let resolved: BTreeSet<u64> = alerts
            .iter()
            .filter(|a| a.resolved_at(now))
            .map(|a| a.fingerprint)
            .collect();
        let deadline = now + route.group_interval_ms.max(10_000);
        let mut all_ok = true;
        for (integration, idx) in Integration::all(receiver) {
            let log_key = format!("{key}\u{0}{}/{}/{idx}", receiver.name, integration.name());
            let send = {
                let log = self.inner.nflog.lock();
                needs_update(
                    log.get(&log_key),
                    &firing,
                    &resolved,
                    integration.send_resolved(),
                    route.repeat_interval_ms,
                    now,
                )
            };
            if !send {
                continue;
            }
            let to_send: Vec<StoredAlert> = if integration.send_resolved() {
                alerts.clone()
            } else {
                alerts
                    .iter()
                    .filter(|a| !a.resolved_at(now))
                    .cloned()
                    .collect()
            };
            let delivered = if to_send.is_empty() {
                true
            } else {
                self.deliver(
                    &integration,
                    idx,
                    &receiver.name,
                    key,
                    labels,
                    &to_send,
                    &loaded,
                    now,
                    deadline,
                )
                .await
            };
            if delivered {
                let entry = Entry {
                    firing: firing.clone(),
                    resolved: resolved.clone(),
                    timestamp_ms: now,
                };
                if let Err(e) = self.inner.nflog.lock().log(log_key, entry) {
                    tracing::error!("notification log: {e}");
                }
            } else {
                all_ok = false;
            }
        }
        all_ok
    }

    #[allow(clippy::too_many_arguments)]
    async fn deliver(
        &self,
        integration: &Integration,
        index: usize,
        receiver: &str,
        key: &str,
        labels: &BTreeMap<String, String>,
        alerts: &[StoredAlert],
        loaded: &Loaded,
        now: i64,
        deadline: i64,
    ) -> bool {
        let data = Data::new(receiver, labels, alerts, &self.inner.external_url, now);
        let n = Notification {
            receiver,
            group_key: key,
            group_labels: labels,
            alerts,
            data: &data,
            value: data.value(),
            templates: &loaded.templates,
            external_url: &self.inner.external_url,
            now,
        };
        let mut backoff = self.inner.retry.initial_ms;
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.count(integration.name(), false);
            let started = now_ms();
            let result = integration.notify(&n).await;
            self.inner.history.record(crate::history::Attempt {
                seq: 0,
                time_ms: started,
                duration_ms: now_ms() - started,
                receiver: receiver.to_string(),
                integration: integration.name(),
                integration_index: index,
                group_key: key.to_string(),
                group_labels: labels.clone(),
                alerts: alerts
                    .iter()
                    .map(|a| crate::history::NotifiedAlert {
                        labels: a.labels.clone(),
                        status: if a.resolved_at(now) {
                            "resolved"
                        } else {
                            "firing"
                        },
                        starts_at_ms: a.starts_at,
                        ends_at_ms: a.ends_at,
                        fingerprint: fingerprint_hex(a.fingerprint),
                    })
                    .collect(),
                attempt,
                success: result.is_ok(),
                error: result.as_ref().err().map(|e| e.message.clone()),
                retryable: result.as_ref().err().is_some_and(|e| e.retryable),
            });
            match result {
                Ok(()) => {
                    tracing::debug!(receiver, integration = integration.name(), "notified");
                    return true;
                }
                Err(e) => {
                    self.count(integration.name(), true);
                    tracing::warn!(
                        receiver,
                        integration = integration.name(),
                        attempt,
                        "notify failed: {}",
                        e.message
                    );
                    if !e.retryable || now_ms() + backoff as i64 > deadline {
                        return false;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(backoff)).await;
                    backoff = (backoff * 2).min(self.inner.retry.max_ms);
                }
            }
        }
    }

    fn count(&self, integration: &'static str, failed: bool) {
        let mut m = self.inner.metrics.by_integration.lock();
        let e = m.entry(integration).or_insert((0, 0));
        if failed {
            e.1 += 1;
        } else {
            e.0 += 1;
        }
    }

    /// The current alerts with status (resolved ones are not listed, as in Alertmanager).
    pub fn alerts(&self) -> Vec<AlertView> {
        let now = now_ms();
        let loaded = self.config();
        let all = self.inner.alerts.lock().clone();
        let silences = self.inner.silences.lock();
        let mut out: Vec<AlertView> = all
            .values()
            .filter(|a| !a.resolved_at(now))
            .map(|a| self.view(&loaded.config, a, &all, &silences, now))
            .collect();
        out.sort_by_key(|a| a.alert.fingerprint);
        out
    }

    fn view(
        &self,
        cfg: &AlertmanagerConfig,
        a: &StoredAlert,
        all: &HashMap<u64, StoredAlert>,
        silences: &Silences,
        now: i64,
    ) -> AlertView {
        let mut receivers: Vec<String> = Vec::new();
        for r in match_routes(&cfg.route, &a.labels) {
            if !receivers.contains(&r.receiver) {
                receivers.push(r.receiver.clone());
            }
        }
        AlertView {
            alert: a.clone(),
            receivers,
            silenced_by: silences.silenced_by(&a.labels, now),
            inhibited_by: self.inhibited_by(cfg, a, all, now),
        }
    }

    /// The aggregation groups with their (unresolved) alerts.
    pub fn groups(&self) -> Vec<GroupView> {
        let now = now_ms();
        let loaded = self.config();
        let all = self.inner.alerts.lock().clone();
        let silences = self.inner.silences.lock();
        let groups = self.inner.groups.lock();
        let mut out: Vec<GroupView> = groups
            .values()
            .map(|g| {
                let mut alerts: Vec<AlertView> = g
                    .alerts
                    .values()
                    .filter(|a| !a.resolved_at(now))
                    .map(|a| self.view(&loaded.config, a, &all, &silences, now))
                    .collect();
                alerts.sort_by(|a, b| a.alert.labels.cmp(&b.alert.labels));
                GroupView {
                    labels: g.labels.clone(),
                    receiver: g.route.receiver.clone(),
                    alerts,
                }
            })
            .filter(|g| !g.alerts.is_empty())
            .collect();
        out.sort_by(|a, b| (&a.labels, &a.receiver).cmp(&(&b.labels, &b.receiver)));
        out
    }

    pub fn silences(&self) -> Vec<Silence> {
        self.inner.silences.lock().all()
    }

    pub fn silence(&self, id: &str) -> Option<Silence> {
        self.inner.silences.lock().get(id).cloned()
    }

    pub fn set_silence(&self, s: Silence) -> Result<String, SilenceError> {
        let r = self.inner.silences.lock().set(s, now_ms());
        self.inner.wake.notify_one();
        r
    }

    pub fn expire_silence(&self, id: &str) -> Result<(), SilenceError> {
        self.inner.silences.lock().expire(id, now_ms())
    }

    /// The newest `limit` notification attempts, newest first, and how many were made since
    /// start.
    pub fn notification_history(&self, limit: usize) -> (Vec<crate::history::Attempt>, u64) {
        let h = &self.inner.history;
        (h.recent(limit), h.total())
    }

    /// Writes the Alertmanager metrics in text exposition format.
    pub fn write_metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        let m = self.inner.metrics.by_integration.lock().clone();
        out.push_str("# HELP alertmanager_notifications_total The total number of attempted notifications.\n# TYPE alertmanager_notifications_total counter\n");
        for i in ["email", "pagerduty", "slack", "webhook"] {
            let _ = writeln!(
                out,
                "alertmanager_notifications_total{{integration=\"{i}\"}} {}",
                m.get(i).map(|x| x.0).unwrap_or(0)
            );
        }
        out.push_str("# HELP alertmanager_notifications_failed_total The total number of failed notifications.\n# TYPE alertmanager_notifications_failed_total counter\n");
        for i in ["email", "pagerduty", "slack", "webhook"] {
            let _ = writeln!(
                out,
                "alertmanager_notifications_failed_total{{integration=\"{i}\"}} {}",
                m.get(i).map(|x| x.1).unwrap_or(0)
            );
        }
        let views = self.alerts();
        let suppressed = views.iter().filter(|v| v.state() == "suppressed").count();
        out.push_str("# HELP alertmanager_alerts How many alerts by state.\n# TYPE alertmanager_alerts gauge\n");
        let _ = writeln!(
            out,
            "alertmanager_alerts{{state=\"active\"}} {}",
            views.len() - suppressed
        );
        let _ = writeln!(
            out,
            "alertmanager_alerts{{state=\"suppressed\"}} {suppressed}"
        );
        let _ = writeln!(out, "alertmanager_alerts{{state=\"unprocessed\"}} 0");
    }

    /// The metrics as samples, for writing into the TSDB.
    pub fn metric_samples(&self, t: i64) -> Vec<(model::Labels, model::Sample)> {
        let mut text = String::new();
        self.write_metrics(&mut text);
        let mut out = Vec::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(v) = value.parse::<f64>() else {
                continue;
            };
            let Some((name, rest)) = series.split_once('{') else {
                continue;
            };
            let mut pairs = vec![("__name__".to_string(), name.to_string())];
            for kv in rest.trim_end_matches('}').split(',') {
                if let Some((k, v)) = kv.split_once('=') {
                    pairs.push((k.to_string(), v.trim_matches('"').to_string()));
                }
            }
            out.push((model::Labels::from_pairs(pairs), model::Sample { t, v }));
        }
        out
    }
}

impl model::alert::AlertSink for Alertmanager {
    fn send(&self, alerts: Vec<model::alert::Alert>) {
        if let Err(e) = self.put_alerts(alerts) {
            tracing::warn!("built-in Alertmanager rejected alerts: {e}");
        }
    }
}
