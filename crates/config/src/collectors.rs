//! `collectors:` of pharos.yml: the built-in collectors pharos runs without any scrape config —
//! itself (`self`, job `pharos`) and the host (`host`, job `node`) — both on by default (no
//! config, or a pharos.yml), every 15 s; off when pharos is given a bare prometheus.yml, which
//! runs exactly its own scrape_configs; and the scrape configs that collect them.

use crate::{locate, ConfigError, ScrapeConfig};
use model::time::PromDuration;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The default collection interval of the built-in collectors.
pub const DEFAULT_INTERVAL_MS: i64 = 15_000;

/// One built-in collector's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltinCollector {
    pub enabled: bool,
    pub interval_ms: i64,
}

impl Default for BuiltinCollector {
    fn default() -> Self {
        BuiltinCollector {
            enabled: true,
            interval_ms: DEFAULT_INTERVAL_MS,
        }
    }
}

/// `collectors:` after defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectorsSettings {
    /// pharos' own /metrics (job `pharos`).
    pub self_metrics: BuiltinCollector,
    /// The host collector (job `node`).
    pub host: BuiltinCollector,
    /// Root of the host's filesystem (`/`; `/host` when a container mounts the host there).
    pub host_rootfs: PathBuf,
    /// Redis servers (job `redis`), see db_collectors.rs.
    pub redis: Vec<crate::db_collectors::RedisInstance>,
    /// PostgreSQL servers (job `postgres`), see db_collectors.rs.
    pub postgres: Vec<crate::db_collectors::PostgresInstance>,
}

impl Default for CollectorsSettings {
    fn default() -> Self {
        CollectorsSettings {
            self_metrics: BuiltinCollector::default(),
            host: BuiltinCollector::default(),
            host_rootfs: PathBuf::from("/"),
            redis: Vec::new(),
            postgres: Vec::new(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SelfSection {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    interval: Option<PromDuration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostSection {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    interval: Option<PromDuration>,
    #[serde(default)]
    rootfs: Option<PathBuf>,
}

/// The raw `collectors:` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorsSection {
    #[serde(default, rename = "self")]
    self_metrics: Option<SelfSection>,
    #[serde(default)]
    host: Option<HostSection>,
    #[serde(default)]
    redis: Vec<crate::db_collectors::DbEntry>,
    #[serde(default)]
    postgres: Vec<crate::db_collectors::DbEntry>,
}

impl CollectorsSection {
    /// Applies defaults and checks values; errors point at the offending key of `file`.
    pub fn resolve(self, file: &Path, text: &str) -> Result<CollectorsSettings, ConfigError> {
        let mut out = CollectorsSettings::default();
        let start = locate(text, "collectors:", 1).0.max(1);
        let check = |section: &str, d: Option<PromDuration>| -> Result<i64, ConfigError> {
            match d {
                None => Ok(DEFAULT_INTERVAL_MS),
                Some(d) if d.0 > 0 => Ok(d.0),
                Some(_) => {
                    let from = locate(text, &format!("{section}:"), start).0.max(start);
                    let (l, c) = locate(text, "interval", from);
                    Err(ConfigError::at(
                        file,
                        l,
                        c,
                        format!("collectors.{section}.interval must be positive"),
                    ))
                }
            }
        };
        if let Some(s) = self.self_metrics {
            out.self_metrics = BuiltinCollector {
                enabled: s.enabled.unwrap_or(true),
                interval_ms: check("self", s.interval)?,
            };
        }
        if let Some(h) = self.host {
            out.host = BuiltinCollector {
                enabled: h.enabled.unwrap_or(true),
                interval_ms: check("host", h.interval)?,
            };
            if let Some(r) = h.rootfs {
                if !r.is_absolute() {
                    let from = locate(text, "host:", start).0.max(start);
                    let (l, c) = locate(text, "rootfs", from);
                    return Err(ConfigError::at(
                        file,
                        l,
                        c,
                        format!("collectors.host.rootfs must be an absolute path, got {r:?}"),
                    ));
                }
                out.host_rootfs = r;
            }
        }
        out.redis = crate::db_collectors::resolve_redis(self.redis, file, text, start)?;
        out.postgres = crate::db_collectors::resolve_postgres(self.postgres, file, text, start)?;
        Ok(out)
    }
}

/// The metrics path pharos serves the host collector's exposition at.
pub const HOST_METRICS_PATH: &str = "/metrics/node";

impl CollectorsSettings {
    /// Both built-in collectors off (a bare prometheus.yml: only its own scrape_configs).
    pub fn disabled() -> Self {
        let off = BuiltinCollector {
            enabled: false,
            interval_ms: DEFAULT_INTERVAL_MS,
        };
        CollectorsSettings {
            self_metrics: off.clone(),
            host: off,
            ..Default::default()
        }
    }

    /// The scrape configs that collect the enabled built-in collectors from pharos' own
    /// listener at `target` (`host:port`): job `pharos` (`/metrics`) and job `node`
    /// (`/metrics/node`). Jobs named in `taken` (the user's own) are left out.
    pub fn scrape_configs(&self, target: &str, taken: &[&str]) -> Vec<ScrapeConfig> {
        let mut out = Vec::new();
        for (job, path, c) in [
            ("pharos", "/metrics", &self.self_metrics),
            ("node", HOST_METRICS_PATH, &self.host),
        ] {
            if !c.enabled || taken.contains(&job) {
                continue;
            }
            let yaml = format!(
                "job_name: {job}\nscrape_interval: {}\nscrape_timeout: {}\nmetrics_path: {path}\n\
                 static_configs:\n  - targets: ['{target}']\n",
                PromDuration(c.interval_ms),
                PromDuration(c.interval_ms.min(10_000)),
            );
            match serde_yaml_ng::from_str::<ScrapeConfig>(&yaml) {
                Ok(sc) => out.push(sc),
                Err(e) => tracing_free_warn(&format!("built-in scrape config {job}: {e}")),
            }
        }
        out.extend(crate::db_collectors::scrape_configs(self, target, taken));
        out
    }

    /// One line saying what is on, for the startup log and the config API.
    pub fn describe(&self) -> String {
        let one = |name: &str, job: &str, c: &BuiltinCollector| {
            if c.enabled {
                format!(
                    "{name} on (job={job}, every {})",
                    PromDuration(c.interval_ms)
                )
            } else {
                format!("{name} off")
            }
        };
        format!(
            "built-in collectors: {}; {}{}",
            one("self", "pharos", &self.self_metrics),
            one("host", "node", &self.host),
            crate::db_collectors::describe(self)
        )
    }
}

fn tracing_free_warn(msg: &str) {
    eprintln!("pharos: {msg}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<CollectorsSettings, ConfigError> {
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).unwrap();
        let sec: CollectorsSection =
            serde_yaml_ng::from_value(v.get("collectors").cloned().unwrap_or_default())
                .map_err(|e| ConfigError::at(Path::new("p.yml"), 0, 0, e.to_string()))?;
        sec.resolve(Path::new("p.yml"), text)
    }

    #[test]
    fn defaults_and_overrides() {
        let c =
            parse("collectors:\n  self: {enabled: false}\n  host: {interval: 5s, rootfs: /host}\n")
                .unwrap();
        assert!(!c.self_metrics.enabled);
        assert_eq!(c.host.interval_ms, 5000);
        assert_eq!(c.host_rootfs, PathBuf::from("/host"));
        let sc = c.scrape_configs("127.0.0.1:9090", &[]);
        assert_eq!(sc.len(), 1);
        assert_eq!(sc[0].job_name, "node");
        assert_eq!(sc[0].metrics_path, "/metrics/node");
        assert_eq!(sc[0].scrape_interval, Some(PromDuration(5000)));
        assert_eq!(sc[0].static_configs[0].targets, vec!["127.0.0.1:9090"]);
        let d = CollectorsSettings::default();
        assert_eq!(d.scrape_configs("h:1", &["node"]).len(), 1);
        assert!(d.describe().contains("host on (job=node, every 15s)"));
    }

    #[test]
    fn bad_values_point_at_the_line() {
        let e = parse("collectors:\n  self: {}\n  host:\n    interval: 0s\n").unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        let e = parse("collectors:\n  host:\n    rootfs: host\n").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(parse("collectors:\n  host: {enable: true}\n").is_err());
    }
}
