//! Target discovery for one scrape config: static targets and file_sd files become target label
//! sets, which relabeling turns into active targets (with their scrape URL) or dropped ones,
//! exactly as Prometheus builds them (`__address__`, `__scheme__`, `__metrics_path__`,
//! `__param_*`, `__scrape_interval__`, `__scrape_timeout__`, `job`, then `instance`).

use config::relabel;
use config::ScrapeConfig;
use model::time::PromDuration;
use model::{Labels, LabelsBuilder};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A target ready to scrape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetSpec {
    /// Labels before relabeling (shown as `discoveredLabels`).
    pub discovered: Labels,
    /// Final labels attached to every scraped series (no `__` labels).
    pub labels: Labels,
    pub url: String,
    pub interval_ms: i64,
    pub timeout_ms: i64,
}

/// Result of discovery for one scrape config.
#[derive(Clone, Debug, Default)]
pub struct Discovered {
    pub active: Vec<TargetSpec>,
    pub dropped: Vec<Labels>,
    /// Problems reading file_sd files (a file that fails keeps its last good content when a
    /// `FileSdCache` is used).
    pub errors: Vec<String>,
}

/// A group of targets sharing labels: (labels, addresses).
type Group = (BTreeMap<String, String>, Vec<String>);

/// The last good content of every file_sd file, so a file that is briefly unreadable or
/// half-written keeps its targets (as Prometheus does) instead of dropping them.
#[derive(Default)]
pub struct FileSdCache {
    groups: parking_lot::Mutex<std::collections::HashMap<PathBuf, Vec<Group>>>,
}

/// Target groups of a scrape config (static ones, then those read from file_sd files) and the
/// errors met reading files.
fn target_groups(
    sc: &ScrapeConfig,
    base_dir: &std::path::Path,
    cache: &FileSdCache,
) -> (Vec<Group>, Vec<String>) {
    let mut groups = Vec::new();
    let mut errors = Vec::new();
    for st in &sc.static_configs {
        groups.push((st.labels.clone(), st.targets.clone()));
    }
    for fsd in &sc.file_sd_configs {
        for pattern in &fsd.files {
            let full: PathBuf = if std::path::Path::new(pattern).is_absolute() {
                PathBuf::from(pattern)
            } else {
                base_dir.join(pattern)
            };
            let paths = match glob::glob(&full.to_string_lossy()) {
                Ok(p) => p,
                Err(e) => {
                    errors.push(format!("invalid file_sd pattern {pattern:?}: {e}"));
                    continue;
                }
            };
            for path in paths.flatten() {
                match config::prometheus::load_file_sd(&path) {
                    Ok(list) => {
                        let file_groups: Vec<Group> = list
                            .into_iter()
                            .map(|g| {
                                let mut labels = g.labels;
                                labels.insert("__meta_filepath".into(), path.display().to_string());
                                (labels, g.targets)
                            })
                            .collect();
                        groups.extend(file_groups.iter().cloned());
                        cache.groups.lock().insert(path, file_groups);
                    }
                    Err(e) => {
                        errors.push(e.to_string());
                        if let Some(last_good) = cache.groups.lock().get(&path) {
                            groups.extend(last_good.iter().cloned());
                        }
                    }
                }
            }
        }
    }
    (groups, errors)
}

/// Runs discovery and relabeling for one scrape config (without memory of earlier file_sd reads).
pub fn discover(sc: &ScrapeConfig, base_dir: &std::path::Path) -> Discovered {
    discover_cached(sc, base_dir, &FileSdCache::default())
}

/// Runs discovery and relabeling for one scrape config; file_sd files that cannot be read or
/// parsed contribute their last good content from `cache`.
pub fn discover_cached(
    sc: &ScrapeConfig,
    base_dir: &std::path::Path,
    cache: &FileSdCache,
) -> Discovered {
    let (groups, errors) = target_groups(sc, base_dir, cache);
    let mut out = Discovered {
        errors,
        ..Default::default()
    };
    for (group_labels, targets) in groups {
        for addr in targets {
            let mut b = LabelsBuilder::default();
            for (k, v) in &group_labels {
                b.set(k.clone(), v.clone());
            }
            b.set("__address__", addr.clone());
            let defaults = [
                ("job", sc.job_name.clone()),
                (
                    "__scrape_interval__",
                    PromDuration(sc.interval_ms()).to_string(),
                ),
                (
                    "__scrape_timeout__",
                    PromDuration(sc.timeout_ms()).to_string(),
                ),
                ("__metrics_path__", sc.metrics_path.clone()),
                ("__scheme__", sc.scheme.clone()),
            ];
            for (k, v) in defaults {
                if b.get(k).is_none() {
                    b.set(k, v);
                }
            }
            for (k, vs) in &sc.params {
                let key = format!("__param_{k}");
                if b.get(&key).is_none() {
                    if let Some(v) = vs.first() {
                        b.set(key, v.clone());
                    }
                }
            }
            let discovered = b.build();
            match build_target(sc, &discovered) {
                Some(t) => out.active.push(t),
                None => out.dropped.push(discovered),
            }
        }
    }
    out
}

fn build_target(sc: &ScrapeConfig, discovered: &Labels) -> Option<TargetSpec> {
    let relabeled = relabel::process(discovered, &sc.relabel_configs)?;
    let address = relabeled
        .get("__address__")
        .filter(|a| !a.is_empty())?
        .to_string();
    let scheme = relabeled.get("__scheme__").unwrap_or("http").to_string();
    let path = relabeled
        .get("__metrics_path__")
        .unwrap_or("/metrics")
        .to_string();
    let interval_ms = relabeled
        .get("__scrape_interval__")
        .and_then(|s| model::time::parse_duration_ms(s).ok())
        .filter(|v| *v > 0)
        .unwrap_or(sc.interval_ms());
    let timeout_ms = relabeled
        .get("__scrape_timeout__")
        .and_then(|s| model::time::parse_duration_ms(s).ok())
        .filter(|v| *v > 0)
        .unwrap_or(sc.timeout_ms())
        .min(interval_ms);
    let mut query = Vec::new();
    // Parameters not rewritten into labels keep all their values.
    for (k, vs) in &sc.params {
        let label = relabeled.get(&format!("__param_{k}"));
        match label {
            Some(v) if vs.first().map(String::as_str) != Some(v) => {
                query.push((k.clone(), v.to_string()))
            }
            _ => query.extend(vs.iter().map(|v| (k.clone(), v.clone()))),
        }
    }
    for l in relabeled.iter() {
        if let Some(k) = l.name.strip_prefix("__param_") {
            if !sc.params.contains_key(k) {
                query.push((k.to_string(), l.value.clone()));
            }
        }
    }
    let mut url = format!("{scheme}://{address}{path}");
    if !query.is_empty() {
        let qs: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        url.push(if path.contains('?') { '&' } else { '?' });
        url.push_str(&qs.join("&"));
    }
    let mut b = relabeled.builder();
    if b.get("instance").is_none() {
        b.set("instance", address);
    }
    b.retain(|l| !l.name.starts_with("__"));
    Some(TargetSpec {
        discovered: discovered.clone(),
        labels: b.build(),
        url,
        interval_ms,
        timeout_ms,
    })
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(yaml: &str) -> ScrapeConfig {
        let text = format!("scrape_configs:\n{yaml}");
        let (c, _) = config::prometheus::parse(std::path::Path::new("p.yml"), &text).unwrap();
        c.scrape_configs[0].clone()
    }

    #[test]
    fn static_target_labels() {
        let sc = cfg("  - job_name: app\n    scrape_interval: 5s\n    params:\n      module: [http_2xx]\n    static_configs:\n      - targets: ['app:9090']\n        labels: {env: prod}\n");
        let d = discover(&sc, std::path::Path::new("."));
        assert_eq!(d.active.len(), 1);
        let t = &d.active[0];
        assert_eq!(t.url, "http://app:9090/metrics?module=http_2xx");
        assert_eq!(t.labels.get("instance"), Some("app:9090"));
        assert_eq!(t.labels.get("job"), Some("app"));
        assert_eq!(t.labels.get("env"), Some("prod"));
        assert_eq!(t.labels.get("__scheme__"), None);
        assert_eq!(t.interval_ms, 5000);
        assert_eq!(t.discovered.get("__scrape_interval__"), Some("5s"));
    }

    #[test]
    fn relabel_drops_and_rewrites() {
        let sc = cfg("  - job_name: app\n    static_configs:\n      - targets: ['a:1', 'b:2']\n    relabel_configs:\n      - source_labels: [__address__]\n        regex: 'b:.*'\n        action: drop\n      - target_label: instance\n        replacement: renamed\n");
        let d = discover(&sc, std::path::Path::new("."));
        assert_eq!(d.active.len(), 1);
        assert_eq!(d.dropped.len(), 1);
        assert_eq!(d.active[0].labels.get("instance"), Some("renamed"));
    }

    #[test]
    fn file_sd_targets() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("t.json"),
            r#"[{"targets": ["x:1"], "labels": {"team": "a"}}]"#,
        )
        .unwrap();
        let sc = cfg("  - job_name: f\n    file_sd_configs:\n      - files: ['*.json']\n");
        let d = discover(&sc, dir.path());
        assert_eq!(d.active.len(), 1);
        assert_eq!(d.active[0].labels.get("team"), Some("a"));
        assert!(d.active[0].discovered.get("__meta_filepath").is_some());
    }

    #[test]
    fn broken_file_sd_keeps_last_good_targets() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.yml");
        std::fs::write(&file, "- targets: ['x:1', 'y:2']\n").unwrap();
        let sc = cfg("  - job_name: f\n    file_sd_configs:\n      - files: ['*.yml']\n");
        let cache = FileSdCache::default();
        assert_eq!(discover_cached(&sc, dir.path(), &cache).active.len(), 2);
        std::fs::write(&file, "- targets: ['x:1'\n").unwrap();
        let d = discover_cached(&sc, dir.path(), &cache);
        assert_eq!(d.active.len(), 2);
        assert_eq!(d.errors.len(), 1);
        std::fs::write(&file, "- targets: ['z:3']\n").unwrap();
        let d = discover_cached(&sc, dir.path(), &cache);
        assert_eq!(d.active.len(), 1);
        assert_eq!(d.active[0].labels.get("instance"), Some("z:3"));
    }
}
