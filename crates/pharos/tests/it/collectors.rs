//! Integration tests of the built-in collectors in the real binary: a fresh `pharos serve`
//! with no config stores host (`job="node"`) and self (`job="pharos"`) series within 30 s,
//! lists both as scrape targets and serves `/metrics/node`; `collectors:` in pharos.yml
//! turns them off or changes the interval (also on reload); a bare prometheus.yml runs only its
//! own jobs; bad values fail with file:line.

use crate::common::Pharos;
use serde_json::Value;
use std::time::{Duration, Instant};

fn get(p: &Pharos, path: &str) -> Value {
    reqwest::blocking::get(p.url(path))
        .and_then(|r| r.json())
        .unwrap_or(Value::Null)
}

fn query(p: &Pharos, q: &str) -> Vec<Value> {
    let url = format!(
        "/api/v1/query?query={}",
        q.replace('{', "%7B")
            .replace('}', "%7D")
            .replace('"', "%22")
            .replace('=', "%3D")
    );
    get(p, &url)["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Polls until every query has a result; returns how long it took.
fn wait_for_series(p: &Pharos, queries: &[&str], within: Duration) -> Duration {
    let start = Instant::now();
    let mut missing: Vec<&str> = queries.to_vec();
    while start.elapsed() < within {
        missing.retain(|q| query(p, q).is_empty());
        if missing.is_empty() {
            return start.elapsed();
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("no data within {within:?} for {missing:?}");
}

fn jobs(p: &Pharos) -> Vec<(String, String, String)> {
    let v = get(p, "/api/v1/targets");
    v["data"]["activeTargets"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|t| {
            (
                t["labels"]["job"].as_str().unwrap_or("").to_string(),
                t["labels"]["instance"].as_str().unwrap_or("").to_string(),
                t["scrapeUrl"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn no_config_collects_host_and_self_within_30s() {
    let dir = tempfile::tempdir().unwrap();
    let p = Pharos::start(&dir.path().join("data"), None);
    let took = wait_for_series(
        &p,
        &[
            "node_cpu_seconds_total{job=\"node\"}",
            "node_memory_MemTotal_bytes{job=\"node\"}",
            "node_load1",
            "node_filesystem_size_bytes",
            "process_resident_memory_bytes{job=\"pharos\"}",
            "prometheus_http_requests_total{job=\"pharos\"}",
            "up{job=\"node\"} == 1",
            "up{job=\"pharos\"} == 1",
        ],
        Duration::from_secs(30),
    );
    eprintln!("host and self series queryable after {took:?}");
    // The instance label is the address pharos scraped, as a scrape sets it.
    let host = p.base.trim_start_matches("http://").to_string();
    let up = query(&p, "up{job=\"node\"}");
    assert_eq!(up[0]["metric"]["instance"], host.as_str());
    // MemTotal agrees with /proc/meminfo.
    let mem = query(&p, "node_memory_MemTotal_bytes");
    let stored: f64 = mem[0]["value"][1].as_str().unwrap().parse().unwrap();
    let proc_kb: f64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert_eq!(stored, proc_kb * 1024.0);
    // One cpu label per CPU line of /proc/stat.
    let cpus = query(&p, "count(count by (cpu) (node_cpu_seconds_total))");
    let n_proc = std::fs::read_to_string("/proc/stat")
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count();
    assert_eq!(cpus[0]["value"][1], n_proc.to_string().as_str());
    // Both are scrape targets, on the Targets page like any other.
    let t = jobs(&p);
    assert!(
        t.iter()
            .any(|(j, i, u)| j == "node" && *i == host && u.ends_with("/metrics/node")),
        "{t:?}"
    );
    assert!(
        t.iter()
            .any(|(j, _, u)| j == "pharos" && u.ends_with("/metrics")),
        "{t:?}"
    );
    // /metrics/node is node_exporter's text format.
    let r = reqwest::blocking::get(p.url("/metrics/node")).unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().unwrap();
    assert!(
        text.contains("# TYPE node_cpu_seconds_total counter"),
        "{text}"
    );
    assert!(text.contains("node_uname_info{"), "{text}");
    // What is on: the collectors API and the config shown by /api/v1/status/config.
    let c = get(&p, "/api/pharos/v1/collectors");
    assert_eq!(c["data"]["host"]["enabled"], true);
    assert_eq!(c["data"]["self"]["interval"], "15s");
    let yaml = get(&p, "/api/v1/status/config")["data"]["yaml"].clone();
    assert!(
        yaml.as_str()
            .unwrap()
            .contains("built-in collectors: self on"),
        "{yaml}"
    );
}

#[test]
fn pharos_yml_turns_collectors_off_and_on_reload() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(
        &cfg,
        "collectors:\n  self:\n    enabled: false\n  host:\n    interval: 1s\n",
    )
    .unwrap();
    let p = Pharos::start_lifecycle(&dir.path().join("data"), &cfg);
    let t = jobs(&p);
    assert!(t.iter().any(|(j, _, _)| j == "node"), "{t:?}");
    assert!(!t.iter().any(|(j, _, _)| j == "pharos"), "{t:?}");
    // A 1 s interval: several samples within a few seconds.
    let start = Instant::now();
    loop {
        let r = query(&p, "count_over_time(up{job=\"node\"}[1m])");
        let n: f64 = r
            .first()
            .and_then(|s| s["value"][1].as_str())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        if n >= 3.0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "only {n} samples"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(
        get(&p, "/api/pharos/v1/collectors")["data"]["self"]["enabled"],
        false
    );
    // Turned off on reload; a user job named `node` replaces the built-in one.
    std::fs::write(&cfg, "collectors:\n  host: {enabled: false}\n").unwrap();
    let r = reqwest::blocking::Client::new()
        .post(p.url("/-/reload"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let t = jobs(&p);
    assert!(!t.iter().any(|(j, _, _)| j == "node"), "{t:?}");
    assert!(t.iter().any(|(j, _, _)| j == "pharos"), "{t:?}");
}

#[test]
fn bare_prometheus_yml_runs_only_its_own_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, "global:\n  scrape_interval: 1m\nscrape_configs: []\n").unwrap();
    let p = Pharos::start(&dir.path().join("data"), Some(&cfg));
    assert_eq!(jobs(&p), vec![]);
    let c = get(&p, "/api/pharos/v1/collectors");
    assert_eq!(c["data"]["host"]["enabled"], false);
    assert_eq!(c["data"]["self"]["enabled"], false);
    // /metrics/node is still served for an external Prometheus.
    let text = reqwest::blocking::get(p.url("/metrics/node"))
        .unwrap()
        .text()
        .unwrap();
    assert!(text.contains("node_memory_MemTotal_bytes "), "{text}");
}

#[test]
fn bad_collectors_config_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pharos.yml");
    for (text, line) in [
        ("collectors:\n  host:\n    interval: 0s\n", ":3:"),
        ("collectors:\n  host:\n    rootfs: relative/dir\n", ":3:"),
        ("collectors:\n  self:\n    enabeld: true\n", ":3:"),
        ("collectors:\n  host:\n    interval: soon\n", ":3:"),
    ] {
        std::fs::write(&cfg, text).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pharos"))
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&cfg)
            .arg("--data")
            .arg(dir.path().join("data"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{text}: {err}");
        assert!(err.contains(&format!("pharos.yml{line}")), "{text}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
