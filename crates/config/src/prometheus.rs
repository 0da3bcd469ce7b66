//! The `prometheus.yml` format: global settings, scrape configs (static and file-based
//! discovery, auth, TLS, limits, relabeling), rule files, alerting and remote write/read
//! sections. Unknown keys are errors (as in Prometheus); valid Prometheus sections pharos does not
//! act on yet (other service discoveries, ...) are accepted with a warning.

use crate::relabel::RelabelConfig;
use crate::{locate, ConfigError};
use model::time::PromDuration;
use serde::Deserialize;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Top-level keys that mark a file as a prometheus.yml (`storage` exists in both formats).
const PROMETHEUS_KEYS: [&str; 8] = [
    "global",
    "scrape_configs",
    "rule_files",
    "alerting",
    "remote_write",
    "remote_read",
    "scrape_config_files",
    "tracing",
];

/// Whether the text's top-level mapping has a prometheus.yml key.
pub fn looks_like_prometheus_yml(text: &str) -> bool {
    text.lines().any(|l| {
        let key = l.split(':').next().unwrap_or("");
        !l.starts_with([' ', '\t', '#', '-']) && PROMETHEUS_KEYS.contains(&key.trim())
    })
}

fn d_1m() -> PromDuration {
    PromDuration(60_000)
}

impl GlobalConfig {
    /// The global scrape timeout: as written, else 10s capped at the scrape interval.
    pub fn effective_scrape_timeout(&self) -> PromDuration {
        self.scrape_timeout
            .unwrap_or(PromDuration(10_000.min(self.scrape_interval.0)))
    }
}

/// `global:`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalConfig {
    #[serde(default = "d_1m")]
    pub scrape_interval: PromDuration,
    /// As written; `effective_scrape_timeout` applies Prometheus' default (10s, capped at the
    /// interval).
    #[serde(default)]
    pub scrape_timeout: Option<PromDuration>,
    #[serde(default = "d_1m")]
    pub evaluation_interval: PromDuration,
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub rule_query_offset: Option<PromDuration>,
    #[serde(default)]
    pub query_log_file: Option<String>,
    #[serde(default)]
    pub scrape_failure_log_file: Option<String>,
    #[serde(default)]
    pub body_size_limit: Option<String>,
    #[serde(default)]
    pub sample_limit: Option<u64>,
    #[serde(default)]
    pub label_limit: Option<u64>,
    #[serde(default)]
    pub label_name_length_limit: Option<u64>,
    #[serde(default)]
    pub label_value_length_limit: Option<u64>,
    #[serde(default)]
    pub target_limit: Option<u64>,
    #[serde(default)]
    pub keep_dropped_targets: Option<u64>,
    #[serde(default)]
    pub scrape_protocols: Option<Vec<String>>,
    #[serde(default)]
    pub metric_name_validation_scheme: Option<String>,
    #[serde(default)]
    pub metric_name_escaping_scheme: Option<String>,
    #[serde(default)]
    pub always_scrape_classic_histograms: Option<bool>,
    #[serde(default)]
    pub convert_classic_histograms_to_nhcb: Option<bool>,
    #[serde(default)]
    pub scrape_native_histograms: Option<bool>,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        serde_yaml_ng::from_str("{}").unwrap_or(GlobalConfig {
            scrape_interval: d_1m(),
            scrape_timeout: None,
            evaluation_interval: d_1m(),
            external_labels: BTreeMap::new(),
            rule_query_offset: None,
            query_log_file: None,
            scrape_failure_log_file: None,
            body_size_limit: None,
            sample_limit: None,
            label_limit: None,
            label_name_length_limit: None,
            label_value_length_limit: None,
            target_limit: None,
            keep_dropped_targets: None,
            scrape_protocols: None,
            metric_name_validation_scheme: None,
            metric_name_escaping_scheme: None,
            always_scrape_classic_histograms: None,
            convert_classic_histograms_to_nhcb: None,
            scrape_native_histograms: None,
        })
    }
}

/// `basic_auth:`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub username_file: Option<PathBuf>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

/// `authorization:`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    #[serde(default, rename = "type")]
    pub auth_type: Option<String>,
    #[serde(default)]
    pub credentials: Option<String>,
    #[serde(default)]
    pub credentials_file: Option<PathBuf>,
}

/// `tls_config:`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    #[serde(default)]
    pub insecure_skip_verify: bool,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub ca: Option<String>,
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    #[serde(default)]
    pub cert: Option<String>,
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub server_name: Option<String>,
    #[serde(default)]
    pub min_version: Option<String>,
    #[serde(default)]
    pub max_version: Option<String>,
}

/// A `static_configs` entry (also the shape of file_sd files).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    #[serde(default)]
    pub targets: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A group of discovered targets with their source (for `__meta_filepath`).
pub type TargetGroup = StaticConfig;

/// `file_sd_configs:` entry.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    pub files: Vec<String>,
    #[serde(default = "d_5m")]
    pub refresh_interval: PromDuration,
}

fn d_5m() -> PromDuration {
    PromDuration(300_000)
}

fn default_metrics_path() -> String {
    "/metrics".into()
}
fn default_scheme() -> String {
    "http".into()
}
fn yes() -> bool {
    true
}

/// One `scrape_configs` entry, after inheriting global defaults.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeConfig {
    pub job_name: String,
    #[serde(default)]
    pub scrape_interval: Option<PromDuration>,
    #[serde(default)]
    pub scrape_timeout: Option<PromDuration>,
    #[serde(default = "default_metrics_path")]
    pub metrics_path: String,
    #[serde(default = "default_scheme")]
    pub scheme: String,
    #[serde(default)]
    pub params: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub honor_labels: bool,
    #[serde(default = "yes")]
    pub honor_timestamps: bool,
    #[serde(default)]
    pub track_timestamps_staleness: bool,
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    #[serde(default)]
    pub authorization: Option<Authorization>,
    #[serde(default)]
    pub bearer_token: Option<String>,
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    #[serde(default)]
    pub tls_config: TlsConfig,
    #[serde(default)]
    pub sample_limit: u64,
    #[serde(default)]
    pub label_limit: u64,
    #[serde(default)]
    pub label_name_length_limit: u64,
    #[serde(default)]
    pub label_value_length_limit: u64,
    #[serde(default)]
    pub target_limit: u64,
    #[serde(default)]
    pub body_size_limit: Option<String>,
    #[serde(default)]
    pub static_configs: Vec<StaticConfig>,
    #[serde(default)]
    pub file_sd_configs: Vec<FileSdConfig>,
    #[serde(default)]
    pub relabel_configs: Vec<RelabelConfig>,
    #[serde(default)]
    pub metric_relabel_configs: Vec<RelabelConfig>,
    #[serde(default = "yes")]
    pub follow_redirects: bool,
    #[serde(default = "yes")]
    pub enable_http2: bool,
    #[serde(default = "yes")]
    pub enable_compression: bool,
    #[serde(default)]
    pub proxy_url: Option<String>,
    #[serde(default)]
    pub no_proxy: Option<String>,
    #[serde(default)]
    pub proxy_from_environment: Option<bool>,
    #[serde(default)]
    pub proxy_connect_header: Option<Value>,
    #[serde(default)]
    pub oauth2: Option<Value>,
    #[serde(default)]
    pub http_headers: Option<Value>,
    #[serde(default)]
    pub scrape_protocols: Option<Vec<String>>,
    #[serde(default)]
    pub fallback_scrape_protocol: Option<String>,
    #[serde(default)]
    pub scrape_classic_histograms: Option<bool>,
    #[serde(default)]
    pub always_scrape_classic_histograms: Option<bool>,
    #[serde(default)]
    pub scrape_native_histograms: Option<bool>,
    #[serde(default)]
    pub convert_classic_histograms_to_nhcb: Option<bool>,
    #[serde(default)]
    pub native_histogram_bucket_limit: Option<u64>,
    #[serde(default)]
    pub native_histogram_min_bucket_factor: Option<f64>,
    #[serde(default)]
    pub keep_dropped_targets: Option<u64>,
    #[serde(default)]
    pub metric_name_validation_scheme: Option<String>,
    #[serde(default)]
    pub metric_name_escaping_scheme: Option<String>,
    #[serde(default)]
    pub scrape_failure_log_file: Option<String>,
    // Service discoveries pharos does not implement yet: accepted, warned about, ignored.
    #[serde(default)]
    pub kubernetes_sd_configs: Option<Value>,
    #[serde(default)]
    pub consul_sd_configs: Option<Value>,
    #[serde(default)]
    pub dns_sd_configs: Option<Value>,
    #[serde(default)]
    pub ec2_sd_configs: Option<Value>,
    #[serde(default)]
    pub azure_sd_configs: Option<Value>,
    #[serde(default)]
    pub gce_sd_configs: Option<Value>,
    #[serde(default)]
    pub http_sd_configs: Option<Value>,
    #[serde(default)]
    pub docker_sd_configs: Option<Value>,
    #[serde(default)]
    pub dockerswarm_sd_configs: Option<Value>,
    #[serde(default)]
    pub nomad_sd_configs: Option<Value>,
    #[serde(default)]
    pub openstack_sd_configs: Option<Value>,
    #[serde(default)]
    pub marathon_sd_configs: Option<Value>,
    #[serde(default)]
    pub eureka_sd_configs: Option<Value>,
    #[serde(default)]
    pub hetzner_sd_configs: Option<Value>,
    #[serde(default)]
    pub digitalocean_sd_configs: Option<Value>,
    #[serde(default)]
    pub linode_sd_configs: Option<Value>,
    #[serde(default)]
    pub lightsail_sd_configs: Option<Value>,
    #[serde(default)]
    pub kuma_sd_configs: Option<Value>,
    #[serde(default)]
    pub scaleway_sd_configs: Option<Value>,
    #[serde(default)]
    pub serverset_sd_configs: Option<Value>,
    #[serde(default)]
    pub triton_sd_configs: Option<Value>,
    #[serde(default)]
    pub uyuni_sd_configs: Option<Value>,
    #[serde(default)]
    pub vultr_sd_configs: Option<Value>,
    #[serde(default)]
    pub puppetdb_sd_configs: Option<Value>,
    #[serde(default)]
    pub ionos_sd_configs: Option<Value>,
    #[serde(default)]
    pub nerve_sd_configs: Option<Value>,
    #[serde(default)]
    pub ovhcloud_sd_configs: Option<Value>,
    #[serde(default)]
    pub stackit_sd_configs: Option<Value>,
}

impl ScrapeConfig {
    /// Effective scrape interval in ms (set by `parse` from global when absent).
    pub fn interval_ms(&self) -> i64 {
        self.scrape_interval.map(|d| d.0).unwrap_or(60_000)
    }

    /// Effective scrape timeout in ms.
    pub fn timeout_ms(&self) -> i64 {
        self.scrape_timeout.map(|d| d.0).unwrap_or(10_000)
    }

    /// Names of configured service discoveries pharos ignores.
    pub fn unsupported_discoveries(&self) -> Vec<&'static str> {
        let all: [(&'static str, bool); 28] = [
            (
                "kubernetes_sd_configs",
                self.kubernetes_sd_configs.is_some(),
            ),
            ("consul_sd_configs", self.consul_sd_configs.is_some()),
            ("dns_sd_configs", self.dns_sd_configs.is_some()),
            ("ec2_sd_configs", self.ec2_sd_configs.is_some()),
            ("azure_sd_configs", self.azure_sd_configs.is_some()),
            ("gce_sd_configs", self.gce_sd_configs.is_some()),
            ("http_sd_configs", self.http_sd_configs.is_some()),
            ("docker_sd_configs", self.docker_sd_configs.is_some()),
            (
                "dockerswarm_sd_configs",
                self.dockerswarm_sd_configs.is_some(),
            ),
            ("nomad_sd_configs", self.nomad_sd_configs.is_some()),
            ("openstack_sd_configs", self.openstack_sd_configs.is_some()),
            ("marathon_sd_configs", self.marathon_sd_configs.is_some()),
            ("eureka_sd_configs", self.eureka_sd_configs.is_some()),
            ("hetzner_sd_configs", self.hetzner_sd_configs.is_some()),
            (
                "digitalocean_sd_configs",
                self.digitalocean_sd_configs.is_some(),
            ),
            ("linode_sd_configs", self.linode_sd_configs.is_some()),
            ("lightsail_sd_configs", self.lightsail_sd_configs.is_some()),
            ("kuma_sd_configs", self.kuma_sd_configs.is_some()),
            ("scaleway_sd_configs", self.scaleway_sd_configs.is_some()),
            ("serverset_sd_configs", self.serverset_sd_configs.is_some()),
            ("triton_sd_configs", self.triton_sd_configs.is_some()),
            ("uyuni_sd_configs", self.uyuni_sd_configs.is_some()),
            ("vultr_sd_configs", self.vultr_sd_configs.is_some()),
            ("puppetdb_sd_configs", self.puppetdb_sd_configs.is_some()),
            ("ionos_sd_configs", self.ionos_sd_configs.is_some()),
            ("nerve_sd_configs", self.nerve_sd_configs.is_some()),
            ("ovhcloud_sd_configs", self.ovhcloud_sd_configs.is_some()),
            ("stackit_sd_configs", self.stackit_sd_configs.is_some()),
        ];
        all.into_iter()
            .filter(|(_, on)| *on)
            .map(|(n, _)| n)
            .collect()
    }
}

/// `alerting.alertmanagers[]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerConfig {
    #[serde(default)]
    pub static_configs: Vec<StaticConfig>,
    #[serde(default)]
    pub file_sd_configs: Vec<FileSdConfig>,
    #[serde(default)]
    pub path_prefix: Option<String>,
    #[serde(default)]
    pub scheme: Option<String>,
    #[serde(default)]
    pub timeout: Option<PromDuration>,
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    #[serde(default)]
    pub authorization: Option<Authorization>,
    #[serde(default)]
    pub tls_config: Option<TlsConfig>,
    #[serde(default)]
    pub relabel_configs: Vec<RelabelConfig>,
    #[serde(default)]
    pub alert_relabel_configs: Vec<RelabelConfig>,
    #[serde(default)]
    pub follow_redirects: Option<bool>,
    #[serde(default)]
    pub enable_http2: Option<bool>,
    #[serde(default)]
    pub proxy_url: Option<String>,
    #[serde(default)]
    pub oauth2: Option<Value>,
    #[serde(default)]
    pub kubernetes_sd_configs: Option<Value>,
    #[serde(default)]
    pub dns_sd_configs: Option<Value>,
    #[serde(default)]
    pub consul_sd_configs: Option<Value>,
    #[serde(default)]
    pub http_sd_configs: Option<Value>,
}

/// `alerting:`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertingConfig {
    #[serde(default)]
    pub alertmanagers: Vec<AlertmanagerConfig>,
    #[serde(default)]
    pub alert_relabel_configs: Vec<RelabelConfig>,
}

/// A `remote_write` / `remote_read` entry: the URL and auth are typed, tuning is accepted.
#[derive(Clone, Debug, Deserialize)]
pub struct RemoteEndpoint {
    pub url: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    #[serde(default)]
    pub bearer_token: Option<String>,
    #[serde(default)]
    pub write_relabel_configs: Vec<RelabelConfig>,
    /// Every other documented key (queue_config, metadata_config, ...), kept as written.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// A whole prometheus.yml.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    #[serde(default)]
    pub global: GlobalConfig,
    #[serde(default)]
    pub scrape_configs: Vec<ScrapeConfig>,
    #[serde(default)]
    pub scrape_config_files: Vec<String>,
    /// Rule file globs as written.
    #[serde(default)]
    pub rule_files: Vec<String>,
    #[serde(default)]
    pub alerting: AlertingConfig,
    #[serde(default)]
    pub remote_write: Vec<RemoteEndpoint>,
    #[serde(default)]
    pub remote_read: Vec<RemoteEndpoint>,
    #[serde(default)]
    pub storage: Option<Value>,
    #[serde(default)]
    pub tracing: Option<Value>,
    #[serde(default)]
    pub otlp: Option<Value>,
    #[serde(default)]
    pub runtime: Option<Value>,
    /// Directory of the file, for resolving relative paths (set by `parse`).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

impl PrometheusConfig {
    /// Rule files matched by the `rule_files` globs, resolved against the config's directory.
    pub fn resolved_rule_files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for pattern in &self.rule_files {
            let full = if Path::new(pattern).is_absolute() {
                PathBuf::from(pattern)
            } else {
                self.base_dir.join(pattern)
            };
            if let Ok(paths) = glob::glob(&full.to_string_lossy()) {
                out.extend(paths.flatten());
            }
        }
        out.sort();
        out
    }
}

/// Parses and validates prometheus.yml text. Returns the config and warnings.
pub fn parse(file: &Path, text: &str) -> Result<(PrometheusConfig, Vec<String>), ConfigError> {
    let mut cfg: PrometheusConfig = if text.trim().is_empty() {
        PrometheusConfig::default()
    } else {
        serde_yaml_ng::from_str(text).map_err(|e| ConfigError::from_yaml(file, &e))?
    };
    cfg.base_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut warnings = Vec::new();
    let g = cfg.global.clone();
    if g.effective_scrape_timeout().0 > g.scrape_interval.0 {
        let (l, c) = locate(text, "scrape_timeout", 1);
        return Err(ConfigError::at(
            file,
            l,
            c,
            format!(
                "global scrape timeout {} greater than scrape interval {}",
                g.effective_scrape_timeout(),
                g.scrape_interval
            ),
        ));
    }
    for name in g.external_labels.keys() {
        check_label_name(file, text, name, "external_labels")?;
    }
    if let Err(e) = crate::otlp::OtlpConfig::from_value(cfg.otlp.as_ref()) {
        let (l, c) = locate(text, "otlp", 1);
        return Err(ConfigError::at(file, l, c, e));
    }
    let mut seen = std::collections::BTreeMap::new();
    for sc in &mut cfg.scrape_configs {
        let occurrence = seen.get(&sc.job_name).copied().unwrap_or(0);
        let job_line = locate_job(text, &sc.job_name, occurrence);
        if seen.insert(sc.job_name.clone(), occurrence + 1).is_some() {
            return Err(ConfigError::at(
                file,
                job_line,
                1,
                format!(
                    "found multiple scrape configs with job name {:?}",
                    sc.job_name
                ),
            ));
        }
        if sc.job_name.is_empty() {
            return Err(ConfigError::at(file, job_line, 1, "job_name is empty"));
        }
        let interval = sc.scrape_interval.unwrap_or(g.scrape_interval);
        // As Prometheus: an unset timeout inherits the global one, capped at the interval.
        let timeout = match sc.scrape_timeout {
            Some(t) => t,
            None => PromDuration(g.effective_scrape_timeout().0.min(interval.0)),
        };
        if timeout.0 > interval.0 {
            let (l, c) = locate(text, "scrape_timeout", job_line);
            return Err(ConfigError::at(
                file,
                l,
                c,
                format!(
                    "scrape timeout greater than scrape interval for scrape config with job name {:?}",
                    sc.job_name
                ),
            ));
        }
        if interval.0 <= 0 {
            let (l, c) = locate(text, "scrape_interval", job_line);
            return Err(ConfigError::at(
                file,
                l,
                c,
                "scrape_interval must be positive",
            ));
        }
        sc.scrape_interval = Some(interval);
        sc.scrape_timeout = Some(timeout);
        inherit_global_limits(sc, &g);
        for protocol in sc
            .scrape_protocols
            .iter()
            .flatten()
            .chain(&sc.fallback_scrape_protocol)
        {
            if !SCRAPE_PROTOCOLS.contains(&protocol.as_str()) {
                let (l, c) = locate(text, protocol, job_line);
                return Err(ConfigError::at(
                    file,
                    l,
                    c,
                    format!(
                        "unknown scrape protocol {protocol:?}, supported: {}",
                        SCRAPE_PROTOCOLS.join(", ")
                    ),
                ));
            }
        }
        if sc.scheme != "http" && sc.scheme != "https" {
            let (l, c) = locate(text, "scheme", job_line);
            return Err(ConfigError::at(
                file,
                l,
                c,
                format!("unknown scheme {:?}: must be http or https", sc.scheme),
            ));
        }
        if !sc.metrics_path.starts_with('/') {
            let (l, c) = locate(text, "metrics_path", job_line);
            return Err(ConfigError::at(
                file,
                l,
                c,
                format!("metrics_path {:?} must start with /", sc.metrics_path),
            ));
        }
        let auths = [
            sc.basic_auth.is_some(),
            sc.authorization.is_some(),
            sc.bearer_token.is_some() || sc.bearer_token_file.is_some(),
        ];
        if auths.iter().filter(|a| **a).count() > 1 {
            let (l, c) = locate(text, "basic_auth", job_line);
            return Err(ConfigError::at(
                file,
                l,
                c,
                format!("at most one of basic_auth, authorization and bearer_token(_file) may be configured (job {:?})", sc.job_name),
            ));
        }
        if sc.bearer_token.is_some() && sc.bearer_token_file.is_some() {
            let (l, c) = locate(text, "bearer_token", job_line);
            return Err(ConfigError::at(
                file,
                l,
                c,
                "at most one of bearer_token & bearer_token_file must be configured",
            ));
        }
        for st in &sc.static_configs {
            for name in st.labels.keys() {
                check_label_name(file, text, name, "labels")?;
            }
            for t in &st.targets {
                if t.contains('/') {
                    let (l, c) = locate(text, t, job_line);
                    return Err(ConfigError::at(file, l, c, format!("{t:?} is not a valid hostname: a target is host:port, without scheme or path")));
                }
            }
        }
        for (i, rc) in sc
            .relabel_configs
            .iter()
            .chain(&sc.metric_relabel_configs)
            .enumerate()
        {
            if let Err(msg) = rc.validate() {
                let (l, c) = locate(text, "relabel_configs", job_line);
                return Err(ConfigError::at(
                    file,
                    l,
                    c,
                    format!("job {:?}: relabel rule {}: {msg}", sc.job_name, i + 1),
                ));
            }
        }
        for d in sc.unsupported_discoveries() {
            warnings.push(format!(
                "{}: job {:?} uses {d}, which pharos does not support yet; targets from it are ignored",
                file.display(),
                sc.job_name
            ));
        }
    }
    for am in &cfg.alerting.alertmanagers {
        for rc in am.relabel_configs.iter().chain(&am.alert_relabel_configs) {
            if let Err(msg) = rc.validate() {
                let (l, c) = locate(text, "relabel_configs", 1);
                return Err(ConfigError::at(file, l, c, msg));
            }
        }
    }
    for rw in &cfg.remote_write {
        if !(rw.url.starts_with("http://") || rw.url.starts_with("https://")) {
            let (l, c) = locate(text, &rw.url, 1);
            return Err(ConfigError::at(
                file,
                l,
                c,
                format!("remote_write url {:?} must be http(s)", rw.url),
            ));
        }
    }
    if !cfg.scrape_config_files.is_empty() {
        warnings.push(format!(
            "{}: scrape_config_files is not supported yet and is ignored",
            file.display()
        ));
    }
    Ok((cfg, warnings))
}

/// The `scrape_protocols` names Prometheus accepts.
const SCRAPE_PROTOCOLS: [&str; 5] = [
    "PrometheusProto",
    "OpenMetricsText0.0.1",
    "OpenMetricsText1.0.0",
    "PrometheusText0.0.4",
    "PrometheusText1.0.0",
];

/// As Prometheus: limits and scrape protocols left unset (0) in a scrape config take the global
/// value.
fn inherit_global_limits(sc: &mut ScrapeConfig, g: &GlobalConfig) {
    let inherit = |local: &mut u64, global: Option<u64>| {
        if *local == 0 {
            *local = global.unwrap_or(0);
        }
    };
    inherit(&mut sc.sample_limit, g.sample_limit);
    inherit(&mut sc.label_limit, g.label_limit);
    inherit(&mut sc.label_name_length_limit, g.label_name_length_limit);
    inherit(&mut sc.label_value_length_limit, g.label_value_length_limit);
    inherit(&mut sc.target_limit, g.target_limit);
    if sc.body_size_limit.is_none() {
        sc.body_size_limit.clone_from(&g.body_size_limit);
    }
    if sc.scrape_protocols.is_none() {
        sc.scrape_protocols.clone_from(&g.scrape_protocols);
    }
    let flags = [
        (&mut sc.scrape_native_histograms, g.scrape_native_histograms),
        (
            &mut sc.always_scrape_classic_histograms,
            g.always_scrape_classic_histograms,
        ),
        (
            &mut sc.convert_classic_histograms_to_nhcb,
            g.convert_classic_histograms_to_nhcb,
        ),
    ];
    for (local, global) in flags {
        if local.is_none() {
            *local = global;
        }
    }
}

/// 1-based line of the `occurrence`-th (0-based) `job_name: <name>` key, or 0 when not found.
fn locate_job(text: &str, name: &str, occurrence: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let key = line.trim_start().trim_start_matches("- ").trim_start();
            key.strip_prefix("job_name:").is_some_and(|value| {
                let value = value.split(" #").next().unwrap_or("").trim();
                value.trim_matches(|c| c == '\'' || c == '"') == name
            })
        })
        .nth(occurrence)
        .map_or(0, |(i, _)| i + 1)
}

fn check_label_name(file: &Path, text: &str, name: &str, field: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty() && !name.starts_with("__");
    if ok {
        return Ok(());
    }
    let (l, c) = locate(text, name, 1);
    Err(ConfigError::at(
        file,
        l,
        c,
        format!("{name:?} is not a valid label name for {field}"),
    ))
}

/// Reads a file_sd file (JSON or YAML list of `{targets, labels}`).
pub fn load_file_sd(path: &Path) -> Result<Vec<TargetGroup>, ConfigError> {
    let text = crate::read(path)?;
    let is_json = path.extension().is_some_and(|e| e == "json");
    if is_json {
        serde_json_like(path, &text)
    } else {
        serde_yaml_ng::from_str(&text).map_err(|e| ConfigError::from_yaml(path, &e))
    }
}

/// JSON is a subset of YAML 1.2 for these documents, so the YAML parser reads it too.
fn serde_json_like(path: &Path, text: &str) -> Result<Vec<TargetGroup>, ConfigError> {
    serde_yaml_ng::from_str(text).map_err(|e| ConfigError::from_yaml(path, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUIDE: &str = r#"# prometheus/prometheus.yml
global:
  scrape_interval: 15s
  evaluation_interval: 15s

alerting:
  alertmanagers:
    - static_configs:
        - targets:
            - alertmanager:9093

rule_files:
  - "alerts/*.yml"

scrape_configs:
  - job_name: 'crewai-app'
    static_configs:
      - targets: ['app:9090']
    metrics_path: '/metrics'
    
  - job_name: 'node-exporter'
    static_configs:
      - targets: ['node-exporter:9100']
      
  - job_name: 'redis-exporter'
    static_configs:
      - targets: ['redis-exporter:9121']
      
  - job_name: 'postgres-exporter'
    static_configs:
      - targets: ['postgres-exporter:9187']
"#;

    #[test]
    fn guide_config_loads() {
        assert!(looks_like_prometheus_yml(GUIDE));
        let (cfg, warnings) = parse(Path::new("prometheus.yml"), GUIDE).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(cfg.scrape_configs.len(), 4);
        assert_eq!(cfg.scrape_configs[0].interval_ms(), 15_000);
        assert_eq!(cfg.scrape_configs[0].timeout_ms(), 10_000);
        assert_eq!(
            cfg.alerting.alertmanagers[0].static_configs[0].targets,
            vec!["alertmanager:9093"]
        );
    }

    #[test]
    fn typo_reports_line_and_field() {
        let text = "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: a\n    scrape_intervall: 5s\n";
        let e = parse(Path::new("p.yml"), text).unwrap_err();
        assert_eq!(e.line, 5);
        assert!(e.message.contains("scrape_intervall"), "{}", e.message);
    }

    #[test]
    fn semantic_errors_are_located() {
        let text =
            "scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 10s\n";
        let e = parse(Path::new("p.yml"), text).unwrap_err();
        assert_eq!(e.line, 4);
        let dup = "scrape_configs:\n  - job_name: a\n  - job_name: 'a'\n";
        let e = parse(Path::new("p.yml"), dup).unwrap_err();
        assert!(e.message.contains("multiple"));
        assert_eq!(e.line, 3, "points at the second definition");
        // The timeout error points into the offending job, not an earlier one.
        let two = "scrape_configs:\n  - job_name: ok\n    scrape_timeout: 1s\n  - job_name: bad\n    scrape_interval: 5s\n    scrape_timeout: 10s\n";
        assert_eq!(parse(Path::new("p.yml"), two).unwrap_err().line, 6);
        let bad_duration = "global:\n  scrape_interval: 15x\n";
        assert_eq!(parse(Path::new("p.yml"), bad_duration).unwrap_err().line, 2);
    }

    #[test]
    fn global_limits_and_protocols_are_inherited() {
        let text = "global:\n  sample_limit: 100\n  scrape_protocols: [PrometheusText0.0.4]\nscrape_configs:\n  - job_name: a\n  - job_name: b\n    sample_limit: 5\n";
        let (cfg, _) = parse(Path::new("p.yml"), text).unwrap();
        assert_eq!(cfg.scrape_configs[0].sample_limit, 100);
        assert_eq!(cfg.scrape_configs[1].sample_limit, 5);
        assert_eq!(
            cfg.scrape_configs[0].scrape_protocols.as_deref(),
            Some(&["PrometheusText0.0.4".to_string()][..])
        );
        let bad = "scrape_configs:\n  - job_name: a\n    scrape_protocols: [Text]\n";
        let e = parse(Path::new("p.yml"), bad).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("unknown scrape protocol"));
    }

    #[test]
    fn unsupported_discovery_is_a_warning() {
        let text =
            "scrape_configs:\n  - job_name: k\n    kubernetes_sd_configs:\n      - role: pod\n";
        let (_, w) = parse(Path::new("p.yml"), text).unwrap();
        assert_eq!(w.len(), 1);
    }
}
