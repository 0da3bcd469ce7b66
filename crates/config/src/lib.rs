//! Configuration: `pharos.yml` (which files to load, where data lives) and the standard
//! `prometheus.yml` it points at — or that is given directly — loaded with `${VAR}` expansion,
//! strict field checking and errors naming file, line and field; plus the relabeling rules those
//! files define (`relabel`).

pub mod collectors;
pub mod db_collectors;
pub mod env;
pub mod errors;
pub mod features;
pub mod forward;
#[cfg(test)]
mod fuzz_tests;
pub mod incident;
pub mod otlp;
pub mod pharos;
pub mod probes;
pub mod prometheus;
pub mod relabel;
pub mod rulesets;
pub mod tenants;
pub mod traces;
pub mod troubleshoot;
pub mod web;

use std::path::{Path, PathBuf};

pub use pharos::TsdbSettings;
pub use prometheus::{
    BasicAuth, FileSdConfig, GlobalConfig, PrometheusConfig, ScrapeConfig, StaticConfig,
    TargetGroup, TlsConfig,
};
pub use relabel::RelabelConfig;
pub use traces::{ListenerSettings, TracesSettings};

/// A configuration error, printed as `file:line:column: message` (line 0 = whole file).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.render())]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based; 0 when unknown.
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl ConfigError {
    fn render(&self) -> String {
        if self.line == 0 {
            format!("{}: {}", self.file.display(), self.message)
        } else {
            format!(
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )
        }
    }

    pub(crate) fn at(file: &Path, line: usize, column: usize, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }

    /// Converts a YAML deserialization error, keeping its location.
    pub(crate) fn from_yaml(file: &Path, e: &serde_yaml_ng::Error) -> Self {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        // serde_yaml_ng appends " at line X column Y"; we print the location in front instead.
        let msg = e.to_string();
        let msg = match msg.find(" at line ") {
            Some(p) => msg[..p].to_string(),
            None => msg,
        };
        ConfigError::at(file, line, column, msg)
    }
}

/// Everything `pharos serve` needs from its config files.
#[derive(Clone, Debug, Default)]
pub struct LoadedConfig {
    /// The file given on the command line (pharos.yml or prometheus.yml).
    pub path: Option<PathBuf>,
    /// The prometheus.yml text after `${VAR}` expansion, for `/api/v1/status/config`.
    pub prometheus_yaml: String,
    /// `listen` from pharos.yml.
    pub listen: Option<String>,
    /// `data_dir` from pharos.yml (relative paths resolved against the file's directory).
    pub data_dir: Option<PathBuf>,
    pub tsdb: TsdbSettings,
    pub prometheus: PrometheusConfig,
    /// Where the prometheus.yml came from, when there is one.
    pub prometheus_path: Option<PathBuf>,
    /// Notices worth logging (accepted but unsupported sections, ...).
    pub warnings: Vec<String>,
    /// `traces:` from pharos.yml.
    pub traces: TracesSettings,
    /// `listeners:` from pharos.yml (compatibility listeners on the peers' ports).
    pub listeners: ListenerSettings,
    /// `alertmanager_config` from pharos.yml (resolved against the file's directory): the
    /// alertmanager.yml of the built-in Alertmanager.
    pub alertmanager_config: Option<PathBuf>,
    /// `loki_config` from pharos.yml (resolved against the file's directory): a Loki
    /// config.yml, read by the log store and the Loki compatibility listener.
    pub loki_config: Option<PathBuf>,
    /// `promtail_config` from pharos.yml (resolved against the file's directory): a promtail
    /// config file whose `scrape_configs` the built-in file tailer follows.
    pub promtail_config: Option<PathBuf>,
    /// `logs:` from pharos.yml: LogQL rule files for the rules engine.
    pub logs: pharos::LogsSettings,
    /// `dashboards:` from pharos.yml: provisioned Grafana dashboard folders.
    pub dashboards: Vec<pharos::DashboardProvider>,
    /// `security:` from pharos.yml: the shipped security rule set.
    pub security: rulesets::SecuritySettings,
    /// `cost:` from pharos.yml: the cost rule set and its pricing table.
    pub cost: rulesets::CostSettings,
    /// `errors:` from pharos.yml: the error store's projects, scrubbing, retention, limits.
    pub errors: errors::ErrorsSettings,
    /// `collectors:` from pharos.yml: the built-in self and host collectors (on by default).
    pub collectors: collectors::CollectorsSettings,
    /// `log:` from pharos.yml: level and format of pharos' own logs.
    pub log: troubleshoot::LogSettings,
    /// `query_log:` from pharos.yml: the slow query log threshold.
    pub query_log: troubleshoot::QueryLogSettings,
    /// `probes:` from pharos.yml: uptime probes (blackbox_exporter modules and targets).
    pub probes: probes::ProbesSettings,
    /// `external_url:` and `incident:` from pharos.yml: the base of links in notifications and
    /// the label join of the incident page.
    pub incident: incident::IncidentSettings,
    /// `web:` and `auth:` from pharos.yml: TLS, basic auth, tokens, lifecycle/admin switches.
    pub web: web::WebSettings,
    /// `forward:` from pharos.yml: log, trace and error forwarders.
    pub forward: forward::ForwardSection,
    /// Per-tenant limits and the tenants' PromQL rule files (`tenants:`).
    pub tenants: tenants::TenantsSettings,
    /// `features:` from pharos.yml (Prometheus' `--enable-feature` names; unknown ones warned
    /// about in `warnings`).
    pub features: features::Features,
}

/// Loads `path`, which may be a `pharos.yml` or directly a `prometheus.yml`.
pub fn load(path: &Path) -> Result<LoadedConfig, ConfigError> {
    let text = read(path)?;
    let expanded = env::expand(path, &text)?;
    if prometheus::looks_like_prometheus_yml(&expanded) {
        let (prometheus, warnings) = prometheus::parse(path, &expanded)?;
        return Ok(LoadedConfig {
            path: Some(path.to_path_buf()),
            prometheus_yaml: expanded,
            prometheus,
            prometheus_path: Some(path.to_path_buf()),
            warnings,
            // A bare prometheus.yml runs exactly its scrape_configs, as Prometheus would.
            collectors: collectors::CollectorsSettings::disabled(),
            // ... and no shipped security rules (Prometheus has none).
            security: rulesets::SecuritySettings {
                enabled: false,
                ..Default::default()
            },
            ..Default::default()
        });
    }
    pharos::parse(path, &expanded)
}

pub(crate) fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map_err(|e| ConfigError::at(path, 0, 0, format!("cannot read: {e}")))
}

/// 1-based line and column of the first occurrence of `needle` at or after line `from_line`,
/// used to point semantic errors at the offending key.
pub(crate) fn locate(text: &str, needle: &str, from_line: usize) -> (usize, usize) {
    for (i, line) in text.lines().enumerate().skip(from_line.saturating_sub(1)) {
        if let Some(col) = line.find(needle) {
            return (i + 1, col + 1);
        }
    }
    (0, 0)
}
