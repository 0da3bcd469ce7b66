//! Wiring of the rules engine into `pharos serve`: builds the `AlertSink` fan-out (external
//! Alertmanagers from `alerting.alertmanagers` plus the in-process one when present), starts
//! the rule manager over the TSDB and reloads its rule files with the configuration.

use std::sync::Arc;
use std::time::Duration;

use alerting::notifier::{AlertmanagerTarget, HttpAlertmanagerSink};
use alerting::{ManagerOptions, RuleManager};
use model::{AlertSink, FanoutAlertSink, MetricSink, Queryable};

/// Alertmanager endpoints of `alerting.alertmanagers[].static_configs` (Prometheus' API v2 path).
pub fn external_targets(cfg: &config::LoadedConfig) -> Vec<AlertmanagerTarget> {
    let mut out = Vec::new();
    for am in &cfg.prometheus.alerting.alertmanagers {
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
) -> Result<Arc<RuleManager>, String> {
    let mut fan = FanoutAlertSink::new();
    let targets = external_targets(cfg);
    if !targets.is_empty() {
        fan.push(Arc::new(HttpAlertmanagerSink::new(targets)));
    }
    if let Some(s) = in_process {
        fan.push(s);
    }
    let mgr = RuleManager::new(ManagerOptions::new(storage, sink, Arc::new(fan)));
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
    let files = cfg.prometheus.resolved_rule_files();
    let g = &cfg.prometheus.global;
    match mgr.update(
        &files,
        g.evaluation_interval.0,
        g.external_labels.clone(),
        external_url.to_string(),
    ) {
        Ok(n) => {
            tracing::info!(files = files.len(), rules = n, "rules loaded");
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
