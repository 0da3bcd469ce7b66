//! The `pharos.yml` format: which peer config files to load and where data lives. Every key
//! is optional; sections of later pharos features are accepted with a notice.

use crate::{locate, prometheus, ConfigError, LoadedConfig};
use model::time::PromDuration;
use serde::Deserialize;
use serde_yaml_ng::Value;
use std::path::{Path, PathBuf};

/// TSDB settings from `storage.tsdb`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TsdbSettings {
    pub retention_time_ms: i64,
    /// 0 = no size limit.
    pub retention_size_bytes: u64,
    pub out_of_order_window_ms: i64,
}

impl Default for TsdbSettings {
    fn default() -> Self {
        TsdbSettings {
            retention_time_ms: 15 * 24 * 3_600_000,
            retention_size_bytes: 0,
            out_of_order_window_ms: 0,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TsdbSection {
    #[serde(default)]
    retention_time: Option<PromDuration>,
    #[serde(default)]
    retention_size: Option<Value>,
    #[serde(default)]
    out_of_order_time_window: Option<PromDuration>,
}

/// `logs:` of pharos.yml: LogQL rule files (Loki's ruler). Other keys are noted and ignored.
#[derive(Debug, Default, Deserialize)]
struct LogsSection {
    /// Globs of rule files (Prometheus' rule-file format, `expr` in LogQL), relative to pharos.yml.
    #[serde(default)]
    rule_files: Vec<String>,
    /// Tenant whose logs `rule_files` query (Loki's `fake` when auth is disabled).
    #[serde(default)]
    rule_tenant: Option<String>,
    /// Loki ruler's `storage.local.directory` layout: `<dir>/<tenant>/<namespace>.yml`.
    #[serde(default)]
    rules_directory: Option<PathBuf>,
    #[serde(flatten)]
    other: std::collections::BTreeMap<String, Value>,
}

/// LogQL rule settings from `logs:` (paths resolved against pharos.yml's directory).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogsSettings {
    pub rule_files: Vec<PathBuf>,
    pub rule_tenant: Option<String>,
    pub rules_directory: Option<PathBuf>,
}

impl LogsSettings {
    /// The LogQL rule files with their tenants: `rule_files` globs (tenant `rule_tenant`,
    /// default `fake`), then every file of every tenant directory under `rules_directory`.
    pub fn resolved_rule_files(&self) -> Vec<(PathBuf, String)> {
        let tenant = self.rule_tenant.clone().unwrap_or_else(|| "fake".into());
        let mut out = Vec::new();
        for pattern in &self.rule_files {
            let mut found: Vec<PathBuf> = glob::glob(&pattern.to_string_lossy())
                .map(|p| p.flatten().collect())
                .unwrap_or_default();
            found.sort();
            out.extend(found.into_iter().map(|p| (p, tenant.clone())));
        }
        if let Some(dir) = &self.rules_directory {
            let mut tenants: Vec<_> = std::fs::read_dir(dir)
                .map(|d| d.flatten().map(|e| e.path()).collect())
                .unwrap_or_default();
            tenants.sort();
            for t in tenants.into_iter().filter(|p| p.is_dir()) {
                let Some(name) = t.file_name().and_then(|n| n.to_str()).map(String::from) else {
                    continue;
                };
                let mut files: Vec<PathBuf> = std::fs::read_dir(&t)
                    .map(|d| d.flatten().map(|e| e.path()).collect())
                    .unwrap_or_default();
                files.retain(|f| f.is_file());
                files.sort();
                out.extend(files.into_iter().map(|f| (f, name.clone())));
            }
        }
        out
    }
}

/// `ruler.storage.local.directory` of a Loki config file (when its `storage.type` is `local`
/// or unset), relative paths resolved against the Loki config's directory.
pub fn loki_ruler_directory(path: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: Value = serde_yaml_ng::from_str(&text).ok()?;
    let st = v.get("ruler")?.get("storage")?;
    if st
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t != "local")
    {
        return None;
    }
    let dir = PathBuf::from(st.get("local")?.get("directory")?.as_str()?);
    Some(if dir.is_absolute() {
        dir
    } else {
        path.parent().unwrap_or(Path::new("")).join(dir)
    })
}

/// One provisioned dashboards folder from `dashboards:` (Grafana dashboard JSON files, watched).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardProvider {
    /// The folder (relative paths are resolved against pharos.yml's directory).
    pub path: PathBuf,
    /// Saves in the UI/API are written back into the dashboard's file.
    #[serde(default)]
    pub writable: bool,
    /// Grafana folder the dashboards appear in ("" = General).
    #[serde(default)]
    pub folder: String,
}

/// `dashboards:` is one provider (a map) or a list of them.
#[derive(Debug)]
struct DashboardsSection(Vec<DashboardProvider>);

impl<'de> Deserialize<'de> for DashboardsSection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = DashboardsSection;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map {path, writable, folder} or a list of such maps")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                m: A,
            ) -> Result<Self::Value, A::Error> {
                let one = DashboardProvider::deserialize(
                    serde::de::value::MapAccessDeserializer::new(m),
                )?;
                Ok(DashboardsSection(vec![one]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                s: A,
            ) -> Result<Self::Value, A::Error> {
                let many = Vec::<DashboardProvider>::deserialize(
                    serde::de::value::SeqAccessDeserializer::new(s),
                )?;
                Ok(DashboardsSection(many))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StorageSection {
    #[serde(default)]
    tsdb: TsdbSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PharosFile {
    #[serde(default)]
    prometheus_config: Option<PathBuf>,
    #[serde(default)]
    listen: Option<String>,
    #[serde(default)]
    data_dir: Option<PathBuf>,
    #[serde(default)]
    storage: StorageSection,
    /// Path of an alertmanager.yml for the built-in Alertmanager.
    #[serde(default)]
    alertmanager_config: Option<PathBuf>,
    // Sections of features that arrive in later releases: accepted, noted, ignored.
    /// Path of a Loki config.yml (auth_enabled, server.http_listen_port, limits_config, retention).
    #[serde(default)]
    loki_config: Option<PathBuf>,
    #[serde(default)]
    promtail_config: Option<PathBuf>,
    #[serde(default)]
    logs: Option<LogsSection>,
    #[serde(default)]
    traces: Option<crate::traces::TracesSection>,
    #[serde(default)]
    errors: Option<crate::errors::ErrorsSection>,
    #[serde(default)]
    listeners: Option<crate::traces::ListenerSettings>,
    /// Provisioned Grafana dashboard folders.
    #[serde(default)]
    dashboards: Option<DashboardsSection>,
    /// The shipped security rule set (on by default).
    #[serde(default)]
    security: Option<crate::rulesets::SecuritySection>,
    /// The cost rule set and its pricing table (on when present).
    #[serde(default)]
    cost: Option<crate::rulesets::CostSection>,
    /// The built-in collectors (self and host).
    #[serde(default)]
    collectors: Option<crate::collectors::CollectorsSection>,
    /// Level and format of pharos' own logs.
    #[serde(default)]
    log: Option<crate::troubleshoot::LogSection>,
    /// The slow query log.
    #[serde(default)]
    query_log: Option<crate::troubleshoot::QueryLogSection>,
    /// Uptime probes (blackbox_exporter modules, targets, status page).
    #[serde(default)]
    probes: Option<crate::probes::ProbesSection>,
    /// The URL people reach pharos at (links in notifications).
    #[serde(default)]
    external_url: Option<String>,
    /// The incident page's label join.
    #[serde(default)]
    incident: Option<crate::incident::IncidentSection>,
    /// TLS, basic auth, response headers, lifecycle/admin API switches.
    #[serde(default)]
    web: Option<crate::web::WebSection>,
    /// Bearer tokens with scopes and tenants.
    #[serde(default)]
    auth: Option<crate::web::AuthSection>,
    /// Log, trace and error forwarders.
    #[serde(default)]
    forward: Option<crate::forward::ForwardSection>,
    /// Per-tenant limits and rule files.
    #[serde(default)]
    tenants: Option<crate::tenants::TenantsSection>,
    /// Feature flags (Prometheus' `--enable-feature` names).
    #[serde(default)]
    features: Vec<String>,
}

/// Parses a byte size such as `512MB`, `10GB`, `1TiB` or a plain number of bytes.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let digits: String = s
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let unit = s[digits.len()..].trim().to_ascii_uppercase();
    let n: f64 = digits.parse().map_err(|_| format!("invalid size {s:?}"))?;
    let mult: f64 = match unit.as_str() {
        "" | "B" => 1.0,
        "KB" | "K" => 1e3,
        "MB" | "M" => 1e6,
        "GB" | "G" => 1e9,
        "TB" | "T" => 1e12,
        "PB" => 1e15,
        "KIB" => 1024.0,
        "MIB" => 1024.0 * 1024.0,
        "GIB" => 1024.0 * 1024.0 * 1024.0,
        "TIB" => 1024.0f64.powi(4),
        _ => {
            return Err(format!(
                "invalid size unit in {s:?} (use B, KB, MB, GB, TB)"
            ))
        }
    };
    Ok((n * mult) as u64)
}

/// Parses pharos.yml text (already `${VAR}`-expanded) and the prometheus.yml it names.
pub fn parse(file: &Path, text: &str) -> Result<LoadedConfig, ConfigError> {
    let f: PharosFile = if text.trim().is_empty() {
        PharosFile::default()
    } else {
        serde_yaml_ng::from_str(text).map_err(|e| ConfigError::from_yaml(file, &e))?
    };
    let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut out = LoadedConfig {
        path: Some(file.to_path_buf()),
        listen: f.listen,
        data_dir: f
            .data_dir
            .map(|d| if d.is_absolute() { d } else { base.join(d) }),
        ..Default::default()
    };
    let (features, unknown) =
        crate::features::Features::parse(f.features.iter().map(String::as_str));
    out.features = features;
    out.warnings.extend(
        unknown
            .into_iter()
            .map(|w| format!("{}: features: {w}", file.display())),
    );
    let t = &f.storage.tsdb;
    if let Some(d) = t.retention_time {
        out.tsdb.retention_time_ms = d.0;
    }
    if let Some(d) = t.out_of_order_time_window {
        out.tsdb.out_of_order_window_ms = d.0;
    }
    if let Some(v) = &t.retention_size {
        let text_value = match v {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            _ => String::new(),
        };
        out.tsdb.retention_size_bytes = parse_bytes(&text_value).map_err(|m| {
            let (l, c) = locate(text, "retention_size", 1);
            ConfigError::at(file, l, c, m)
        })?;
    }
    if let Some(l) = f.logs {
        let abs = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        out.logs = LogsSettings {
            rule_files: l.rule_files.into_iter().map(|p| abs(p.into())).collect(),
            rule_tenant: l.rule_tenant,
            rules_directory: l.rules_directory.map(abs),
        };
        for k in l.other.keys() {
            out.warnings.push(format!(
                "{}: key logs.{k} is not used by this pharos version yet",
                file.display()
            ));
        }
    }
    if let Some(e) = f.errors {
        out.errors = e.resolve(file, text)?;
    }
    out.promtail_config = f
        .promtail_config
        .map(|p| if p.is_absolute() { p } else { base.join(p) });
    out.loki_config = f
        .loki_config
        .map(|p| if p.is_absolute() { p } else { base.join(p) });
    out.alertmanager_config =
        f.alertmanager_config
            .map(|p| if p.is_absolute() { p } else { base.join(p) });
    if let Some(t) = f.traces {
        out.traces = t.resolve(file, text)?;
    }
    out.listeners = f.listeners.unwrap_or_default();
    if let Some(sec) = f.security {
        out.security = sec.resolve(file, text)?;
    }
    if let Some(c) = f.cost {
        out.cost = c.resolve(file, text)?;
    }
    if let Some(c) = f.collectors {
        out.collectors = c.resolve(file, text)?;
    }
    out.log = crate::troubleshoot::resolve_log(file, text, f.log)?;
    out.query_log = crate::troubleshoot::resolve_query_log(f.query_log);
    if let Some(p) = f.probes {
        out.probes = p.resolve(file, text, &base)?;
    }
    out.incident = crate::incident::resolve(file, text, f.external_url, f.incident)?;
    out.web = crate::web::resolve(file, text, &base, f.web, f.auth)?;
    out.forward = f.forward.unwrap_or_default();
    if let Some(t) = f.tenants {
        out.tenants = t.resolve(file, text, &base)?;
    }
    for p in f.dashboards.map(|d| d.0).unwrap_or_default() {
        if p.path.as_os_str().is_empty() {
            let (l, c) = locate(text, "dashboards", 1);
            return Err(ConfigError::at(
                file,
                l,
                c,
                "dashboards: path must not be empty",
            ));
        }
        let path = if p.path.is_absolute() {
            p.path
        } else {
            base.join(p.path)
        };
        out.dashboards.push(DashboardProvider { path, ..p });
    }
    if let Some(p) = f.prometheus_config {
        let p = if p.is_absolute() { p } else { base.join(p) };
        let raw = crate::read(&p)?;
        let expanded = crate::env::expand(&p, &raw)?;
        let (cfg, warnings) = prometheus::parse(&p, &expanded)?;
        out.prometheus = cfg;
        out.prometheus_yaml = expanded;
        out.prometheus_path = Some(p);
        out.warnings.extend(warnings);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("512MB").unwrap(), 512_000_000);
        assert_eq!(parse_bytes("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("0").unwrap(), 0);
        assert!(parse_bytes("5XB").is_err());
    }

    #[test]
    fn logs_rule_files_and_tenant_directories() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("rules/fake")).unwrap();
        std::fs::create_dir_all(d.join("loki-rules/team-a")).unwrap();
        std::fs::write(d.join("rules/fake/a.yml"), "groups: []\n").unwrap();
        std::fs::write(d.join("loki-rules/team-a/ns.yaml"), "groups: []\n").unwrap();
        let p = d.join("pharos.yml");
        let text =
            "logs:\n  rule_files: ['rules/*/*.yml']\n  rules_directory: loki-rules\n  later: 1\n";
        std::fs::write(&p, text).unwrap();
        let c = parse(&p, text).unwrap();
        let files = c.logs.resolved_rule_files();
        assert_eq!(
            files,
            vec![
                (d.join("rules/fake/a.yml"), "fake".to_string()),
                (d.join("loki-rules/team-a/ns.yaml"), "team-a".to_string()),
            ]
        );
        assert!(
            c.warnings.iter().any(|w| w.contains("logs.later")),
            "{:?}",
            c.warnings
        );
        let c = parse(&p, "logs:\n  rule_files: [x.yml]\n  rule_tenant: t1\n").unwrap();
        assert!(c.logs.resolved_rule_files().is_empty());
        assert_eq!(c.logs.rule_tenant.as_deref(), Some("t1"));
        assert!(parse(&p, "logs:\n  rule_files: 3\n").is_err());
    }

    #[test]
    fn loki_ruler_local_directory() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("loki.yml");
        std::fs::write(
            &p,
            "ruler:\n  storage:\n    type: local\n    local:\n      directory: rules\n",
        )
        .unwrap();
        assert_eq!(loki_ruler_directory(&p), Some(dir.path().join("rules")));
        std::fs::write(
            &p,
            "ruler:\n  storage:\n    type: s3\n    local: {directory: /r}\n",
        )
        .unwrap();
        assert_eq!(loki_ruler_directory(&p), None);
        std::fs::write(&p, "auth_enabled: false\n").unwrap();
        assert_eq!(loki_ruler_directory(&p), None);
    }

    #[test]
    fn dashboards_providers_map_or_list() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pharos.yml");
        let c = parse(&p, "dashboards: {path: ./dashboards, writable: true}\n").unwrap();
        assert_eq!(
            c.dashboards,
            vec![DashboardProvider {
                path: dir.path().join("./dashboards"),
                writable: true,
                folder: String::new(),
            }]
        );
        let c = parse(
            &p,
            "dashboards:\n  - path: /abs/a\n  - path: b\n    folder: Team B\n",
        )
        .unwrap();
        assert_eq!(c.dashboards.len(), 2);
        assert_eq!(c.dashboards[0].path, PathBuf::from("/abs/a"));
        assert!(!c.dashboards[0].writable);
        assert_eq!(c.dashboards[1].path, dir.path().join("b"));
        assert_eq!(c.dashboards[1].folder, "Team B");
        let e = parse(&p, "listen: x\ndashboards:\n  path: a\n  writeable: true\n").unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert!(e.message.contains("writeable"), "{e}");
        let e = parse(&p, "dashboards:\n  - writable: true\n").unwrap_err();
        assert!(e.message.contains("path"), "{e}");
        assert!(e.line >= 2, "{e}");
        assert!(parse(&p, "dashboards: 3\n").is_err());
        assert!(parse(&p, "dashboards: {path: ''}\n").is_err());
    }

    #[test]
    fn pharos_file_with_prometheus() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("prom.yml"),
            "global:\n  scrape_interval: 5s\n",
        )
        .unwrap();
        let p = dir.path().join("pharos.yml");
        std::fs::write(
            &p,
            "prometheus_config: prom.yml\nlisten: 127.0.0.1:0\nstorage:\n  tsdb:\n    retention_time: 1d\n    retention_size: 1GB\n",
        )
        .unwrap();
        let c = crate::load(&p).unwrap();
        assert_eq!(c.prometheus.global.scrape_interval.0, 5000);
        assert_eq!(c.tsdb.retention_time_ms, 86_400_000);
        assert_eq!(c.tsdb.retention_size_bytes, 1_000_000_000);
        assert_eq!(c.listen.as_deref(), Some("127.0.0.1:0"));
        assert!(!c.features.promql_experimental_functions());
        std::fs::write(
            &p,
            "features: [promql-experimental-functions, not-a-feature]\n",
        )
        .unwrap();
        let c = crate::load(&p).unwrap();
        assert!(c.features.promql_experimental_functions());
        assert!(!c.features.created_timestamp_zero_ingestion());
        assert!(c.warnings.iter().any(|w| w.contains("not-a-feature")));
        std::fs::write(&p, "listn: x\n").unwrap();
        let e = crate::load(&p).unwrap_err();
        assert_eq!(e.line, 1);
    }
}
