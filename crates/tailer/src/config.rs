//! The promtail configuration file: `scrape_configs` (`job_name`, `static_configs` with
//! `__path__` globs and labels, `pipeline_stages`), `positions` (`filename`, `sync_period`) and
//! `target_config.sync_period`. `server` and `clients` are accepted and ignored with a notice:
//! pharos itself is the client.

use crate::pipeline::Stage;
use serde::Deserialize;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: Option<Value>,
    #[serde(default)]
    clients: Option<Value>,
    #[serde(default)]
    client: Option<Value>,
    #[serde(default)]
    positions: RawPositions,
    #[serde(default)]
    scrape_configs: Vec<RawScrape>,
    #[serde(default)]
    target_config: RawTarget,
    #[serde(default)]
    limits_config: Option<Value>,
    #[serde(default)]
    options: Option<Value>,
    #[serde(default)]
    tracing: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPositions {
    #[serde(default)]
    filename: Option<PathBuf>,
    #[serde(default)]
    sync_period: Option<String>,
    #[serde(default)]
    #[allow(dead_code)] // accepted for promtail compatibility
    ignore_invalid_yaml: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    #[serde(default)]
    sync_period: Option<String>,
    #[serde(default)]
    #[allow(dead_code)] // accepted for promtail compatibility
    stdin: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct RawScrape {
    job_name: String,
    #[serde(default)]
    static_configs: Vec<RawStatic>,
    #[serde(default)]
    pipeline_stages: Vec<Value>,
    #[serde(default)]
    relabel_configs: Option<Value>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatic {
    #[serde(default)]
    #[allow(dead_code)] // promtail requires `targets: [localhost]`; files come from __path__
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// One static target group: the path glob and the labels of its streams.
#[derive(Clone, Debug)]
pub struct Target {
    pub path_glob: String,
    pub labels: BTreeMap<String, String>,
}

#[derive(Clone, Debug)]
pub struct ScrapeConfig {
    pub job_name: String,
    pub targets: Vec<Target>,
    pub stages: Vec<Stage>,
}

#[derive(Clone, Debug)]
pub struct TailerConfig {
    pub positions_file: Option<PathBuf>,
    pub positions_sync: Duration,
    /// How often globs are re-evaluated to find new files.
    pub glob_period: Duration,
    pub scrape_configs: Vec<ScrapeConfig>,
    /// Notices about accepted-but-ignored sections.
    pub notices: Vec<String>,
}

/// Parses a Go-style duration (`10s`, `1m30s`, `250ms`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    model::time::parse_duration_ms(s)
        .map(|ms| Duration::from_millis(ms.max(0) as u64))
        .map_err(|e| e.to_string())
}

/// Parses promtail config text. Relative positions paths are resolved against `base`.
pub fn parse(text: &str, base: &Path) -> Result<TailerConfig, String> {
    let raw: RawConfig = if text.trim().is_empty() {
        RawConfig::default()
    } else {
        serde_yaml_ng::from_str(text).map_err(|e| match e.location() {
            Some(l) => format!("line {}, column {}: {e}", l.line(), l.column()),
            None => e.to_string(),
        })?
    };
    let mut notices = Vec::new();
    for (name, present) in [
        ("server", raw.server.is_some()),
        ("clients", raw.clients.is_some() || raw.client.is_some()),
        ("limits_config", raw.limits_config.is_some()),
        ("options", raw.options.is_some()),
        ("tracing", raw.tracing.is_some()),
    ] {
        if present {
            notices.push(format!(
                "promtail section {name:?} is ignored: pharos stores tailed lines itself"
            ));
        }
    }
    let positions_sync = match &raw.positions.sync_period {
        Some(s) => parse_duration(s).map_err(|e| format!("positions.sync_period: {e}"))?,
        None => Duration::from_secs(10),
    };
    let glob_period = match &raw.target_config.sync_period {
        Some(s) => parse_duration(s).map_err(|e| format!("target_config.sync_period: {e}"))?,
        None => Duration::from_secs(10),
    };
    let positions_file = raw
        .positions
        .filename
        .map(|p| if p.is_absolute() { p } else { base.join(p) });
    let mut scrape_configs = Vec::new();
    for sc in raw.scrape_configs {
        let mut targets = Vec::new();
        for st in sc.static_configs {
            let mut labels = st.labels.clone();
            let Some(glob) = labels.remove("__path__") else {
                notices.push(format!(
                    "job {:?}: a static_config without __path__ tails nothing",
                    sc.job_name
                ));
                continue;
            };
            labels.retain(|k, _| !k.starts_with("__"));
            targets.push(Target {
                path_glob: glob,
                labels,
            });
        }
        for k in sc.other.keys() {
            notices.push(format!(
                "job {:?}: {k} is not supported (only static_configs); ignored",
                sc.job_name
            ));
        }
        if sc.relabel_configs.is_some() {
            notices.push(format!(
                "job {:?}: relabel_configs are ignored by the pharos tailer",
                sc.job_name
            ));
        }
        let mut stages = Vec::new();
        for (i, v) in sc.pipeline_stages.iter().enumerate() {
            stages.push(
                Stage::parse(v)
                    .map_err(|e| format!("job {:?}: pipeline_stages[{i}]: {e}", sc.job_name))?,
            );
        }
        scrape_configs.push(ScrapeConfig {
            job_name: sc.job_name,
            targets,
            stages,
        });
    }
    Ok(TailerConfig {
        positions_file,
        positions_sync,
        glob_period,
        scrape_configs,
        notices,
    })
}

/// Reads and parses a promtail config file (with `${VAR}` expansion done by the caller).
pub fn load(path: &Path) -> Result<TailerConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    parse(&text, &base).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promtail_docs_example() {
        let text = r#"
server:
  http_listen_port: 9080
  grpc_listen_port: 0
positions:
  filename: /tmp/positions.yaml
clients:
  - url: http://loki:3100/loki/api/v1/push
scrape_configs:
- job_name: system
  static_configs:
  - targets:
      - localhost
    labels:
      job: varlogs
      __path__: /var/log/*log
  pipeline_stages:
  - docker: {}
  - json:
      expressions:
        level: level
  - labels:
      level:
"#;
        let c = parse(text, Path::new("/etc")).unwrap();
        assert_eq!(
            c.positions_file.as_deref(),
            Some(Path::new("/tmp/positions.yaml"))
        );
        assert_eq!(c.scrape_configs[0].targets[0].path_glob, "/var/log/*log");
        assert_eq!(
            c.scrape_configs[0].targets[0]
                .labels
                .get("job")
                .map(String::as_str),
            Some("varlogs")
        );
        assert_eq!(c.scrape_configs[0].stages.len(), 3);
        assert_eq!(c.notices.len(), 2);
    }

    #[test]
    fn errors_are_located() {
        let e = parse("positions:\n  filenme: x\n", Path::new("/")).unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        let e = parse(
            "scrape_configs:\n- job_name: a\n  pipeline_stages:\n  - bogus: {}\n",
            Path::new("/"),
        )
        .unwrap_err();
        assert!(e.contains("bogus"), "{e}");
    }

    proptest::proptest! {
        #[test]
        fn config_parser_never_panics(text in "[ -~\n]{0,120}") {
            let _ = parse(&text, Path::new("/"));
        }
    }
}
