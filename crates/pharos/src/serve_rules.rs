//! Wiring of the rules engine into `pharos serve`: builds the `AlertSink` fan-out (external
//! Alertmanagers from `alerting.alertmanagers` plus the in-process one when present), applies
//! `alerting.alert_relabel_configs` (global, then per Alertmanager) as Prometheus' notifier
//! does, starts the rule manager over the TSDB and reloads rule files and Alertmanager
//! settings with the configuration. LogQL rule files (`logs.rule_files` / `logs.rules_directory`
//! of pharos.yml) are evaluated over the log store as Loki's ruler does.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::RwLock;

use alerting::notifier::{AlertmanagerTarget, HttpAlertmanagerSink};
use alerting::{ManagerOptions, RuleManager, RuleSource};
use model::{AlertSink, FanoutAlertSink, MetricSink, Queryable};

/// Applies relabel configs to alert labels (dropping alerts whose label set is dropped).
struct RelabelSink {
    configs: Vec<config::relabel::RelabelConfig>,
    inner: Arc<dyn AlertSink>,
}

impl AlertSink for RelabelSink {
    fn send(&self, alerts: Vec<model::Alert>) {
        if self.configs.is_empty() {
            return self.inner.send(alerts);
        }
        let out: Vec<model::Alert> = alerts
            .into_iter()
            .filter_map(|mut a| {
                let l =
                    model::Labels::from_pairs(a.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
                let l = config::relabel::process(&l, &self.configs)?;
                a.labels = l
                    .iter()
                    .map(|x| (x.name.clone(), x.value.clone()))
                    .collect();
                Some(a)
            })
            .collect();
        if !out.is_empty() {
            self.inner.send(out);
        }
    }
}

/// The rule manager's `AlertSink`: swapped on reload (new Alertmanager targets/relabelling).
struct AlertRouter {
    current: RwLock<Arc<dyn AlertSink>>,
    in_process: Option<Arc<dyn AlertSink>>,
}

impl AlertSink for AlertRouter {
    fn send(&self, alerts: Vec<model::Alert>) {
        let s = self.current.read().clone();
        s.send(alerts);
    }
}

/// One router per process (`pharos serve` runs one rule manager).
static ROUTER: OnceLock<Arc<AlertRouter>> = OnceLock::new();

fn build_sink(
    cfg: &config::LoadedConfig,
    in_process: Option<Arc<dyn AlertSink>>,
) -> Arc<dyn AlertSink> {
    let mut fan = FanoutAlertSink::new();
    for am in &cfg.prometheus.alerting.alertmanagers {
        let targets = targets_of(am);
        if targets.is_empty() {
            continue;
        }
        fan.push(Arc::new(RelabelSink {
            configs: am.alert_relabel_configs.clone(),
            inner: Arc::new(HttpAlertmanagerSink::new(targets)),
        }));
    }
    if let Some(s) = in_process {
        fan.push(s);
    }
    Arc::new(RelabelSink {
        configs: cfg.prometheus.alerting.alert_relabel_configs.clone(),
        inner: Arc::new(fan),
    })
}

/// Alertmanager endpoints of one `alerting.alertmanagers[]` entry (Prometheus' API v2 path).
fn targets_of(am: &config::prometheus::AlertmanagerConfig) -> Vec<AlertmanagerTarget> {
    let mut out = Vec::new();
    {
        let scheme = am.scheme.clone().unwrap_or_else(|| "http".into());
        let prefix = am.path_prefix.clone().unwrap_or_default();
        let prefix = prefix.trim_end_matches('/');
        let timeout = am
            .timeout
            .map(|d| Duration::from_millis(d.0.max(1) as u64))
            .unwrap_or(Duration::from_secs(10));
        let basic_auth = am
            .basic_auth
            .as_ref()
            .map(|b| (b.username.clone(), b.password.clone().unwrap_or_default()));
        let bearer_token = am
            .authorization
            .as_ref()
            .and_then(|a| a.credentials.clone());
        for sc in &am.static_configs {
            for t in &sc.targets {
                out.push(AlertmanagerTarget {
                    url: format!("{scheme}://{t}{prefix}/api/v2/alerts"),
                    basic_auth: basic_auth.clone(),
                    bearer_token: bearer_token.clone(),
                    timeout,
                });
            }
        }
    }
    out
}

/// Start the rule manager; `in_process` is the built-in Alertmanager's sink, if any.
pub fn start(
    cfg: &config::LoadedConfig,
    storage: Arc<dyn Queryable>,
    sink: Arc<dyn MetricSink>,
    in_process: Option<Arc<dyn AlertSink>>,
    external_url: String,
    log_querier: Option<Arc<dyn model::LogRuleQuerier>>,
) -> Result<Arc<RuleManager>, String> {
    let router = Arc::new(AlertRouter {
        // `reload` below builds the real sink.
        current: RwLock::new(Arc::new(FanoutAlertSink::new())),
        in_process,
    });
    let _ = ROUTER.set(router.clone());
    let (st, sk) = (storage.clone(), sink.clone());
    let mut opts = ManagerOptions::new(storage, sink, router);
    opts.engine.opts.experimental_functions = cfg.features.promql_experimental_functions();
    opts.tenant_scope = Some(alerting::manager::TenantScope {
        label: api::prometheus::tenant::TENANT_LABEL,
        scope: Arc::new(move |t: &str| api::prometheus::tenant::scoped(st.clone(), sk.clone(), t)),
    });
    opts.log_querier = log_querier;
    opts.logql_check = Some(Arc::new(check_logql));
    let mgr = RuleManager::new(opts);
    reload(&mgr, cfg, &external_url)?;
    mgr.start();
    Ok(mgr)
}

/// Reload the rule files of `cfg` (all or nothing; errors keep the running rules).
pub fn reload(
    mgr: &RuleManager,
    cfg: &config::LoadedConfig,
    external_url: &str,
) -> Result<(), String> {
    let mut files: Vec<RuleSource> = cfg
        .prometheus
        .resolved_rule_files()
        .into_iter()
        .map(|path| RuleSource {
            path,
            logql_tenant: None,
            tenant: None,
        })
        .collect();
    files.extend(
        logql_rule_files(cfg)
            .into_iter()
            .map(|(path, tenant)| RuleSource {
                path,
                logql_tenant: Some(tenant),
                tenant: None,
            }),
    );
    // The tenants' PromQL rule files (`tenants.rules_directory`, one directory per tenant).
    files.extend(
        cfg.tenants
            .rule_files()
            .into_iter()
            .map(|(path, tenant)| RuleSource {
                path,
                logql_tenant: None,
                tenant: Some(tenant),
            }),
    );
    files.extend(crate::rulesets::sources(cfg)?);
    // Per-tenant write limits follow the same reloads as the tenants' rules.
    api::prometheus::limits::configure(&cfg.tenants);
    let g = &cfg.prometheus.global;
    match mgr.update_sources(
        &files,
        g.evaluation_interval.0,
        g.external_labels.clone(),
        external_url.to_string(),
    ) {
        Ok(n) => {
            tracing::info!(files = files.len(), rules = n, "rules loaded");
            if let Some(r) = ROUTER.get() {
                *r.current.write() = build_sink(cfg, r.in_process.clone());
            }
            Ok(())
        }
        Err(errs) => Err(format!(
            "loading rule files: {}",
            errs.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        )),
    }
}

/// The LogQL rule files with their tenants: `logs:` of pharos.yml, then the Loki config's
/// `ruler.storage.local.directory` (`<dir>/<tenant>/<namespace>.yml`, relative to the Loki
/// config's directory), as Loki's ruler reads them.
pub fn logql_rule_files(cfg: &config::LoadedConfig) -> Vec<(std::path::PathBuf, String)> {
    let mut out = cfg.logs.resolved_rule_files();
    if let Some(dir) = cfg
        .loki_config
        .as_deref()
        .and_then(config::pharos::loki_ruler_directory)
    {
        let s = config::pharos::LogsSettings {
            rules_directory: Some(dir),
            ..Default::default()
        };
        out.extend(s.resolved_rule_files());
    }
    out
}

/// Validates a LogQL rule expression (LogQL rule files); the error text for `check rules`.
pub fn check_logql(expr: &str) -> Result<(), String> {
    logs::logql::parse(expr)
        .map(|_| ())
        .map_err(|e| e.to_string())
}
