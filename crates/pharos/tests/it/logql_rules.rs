//! Integration tests of log-derived rules (Loki's ruler) in the real binary: a pharos.yml with a
//! Loki config and `logs.rule_files` holding LogQL alerting and recording rules; log lines pushed
//! through `POST /loki/api/v1/push` make the alert fire in `/api/v1/alerts` with its rendered
//! annotation, the recording rule's series is queryable with PromQL, the group shows in
//! `/api/v1/rules`; `check rules --logql` and `check config` locate LogQL parse errors.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::Pharos;
use serde_json::{json, Value};

fn get_json(url: &str) -> Value {
    reqwest::blocking::get(url)
        .expect("request")
        .json()
        .expect("json")
}

const LOG_RULES: &str = r#"groups:
  - name: api-errors
    interval: 1s
    rules:
      - alert: ApiErrorSpike
        expr: sum by (app) (count_over_time({app="api"} |= "error" [1m])) > 5
        for: 0s
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.app }} logged {{ $value }} errors in 1m"
      - record: app:log_errors:count1m
        expr: sum by (app) (count_over_time({app="api"} |= "error" [1m]))
"#;

fn push(p: &Pharos, n: usize, text: &str) {
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let values: Vec<Value> = (0..n)
        .map(|i| {
            json!([
                (now_ns - 1000 + i as u128).to_string(),
                format!("{text} {i}")
            ])
        })
        .collect();
    let body = json!({"streams": [{"stream": {"app": "api", "env": "prod"}, "values": values}]});
    crate::common::push_loki(p, &body);
}

#[test]
fn logql_alert_fires_and_recording_rule_lands_in_the_tsdb() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Loki's ruler layout: <ruler.storage.local.directory>/<tenant>/<namespace>.yml.
    std::fs::write(
        d.join("loki.yml"),
        "auth_enabled: false\nruler:\n  storage:\n    type: local\n    local:\n      directory: loki-rules\n",
    )
    .unwrap();
    std::fs::create_dir_all(d.join("loki-rules/fake")).unwrap();
    std::fs::write(
        d.join("loki-rules/fake/ns.yml"),
        "groups:\n- name: loki-dir\n  interval: 1s\n  rules:\n  - record: app:log_lines:count1m\n    expr: sum by (app) (count_over_time({app=\"api\"}[1m]))\n",
    )
    .unwrap();
    std::fs::create_dir_all(d.join("log-rules")).unwrap();
    std::fs::write(d.join("log-rules/api.yml"), LOG_RULES).unwrap();
    let cfg = d.join("pharos.yml");
    std::fs::write(
        d.join("rules.yml"),
        "groups:\n- name: prom\n  rules:\n  - record: one\n    expr: vector(1)\n",
    )
    .unwrap();
    std::fs::write(d.join("prometheus.yml"), "rule_files: [rules.yml]\n").unwrap();
    std::fs::write(
        &cfg,
        "prometheus_config: prometheus.yml\nloki_config: loki.yml\nlogs:\n  rule_files: ['log-rules/*.yml']\n",
    )
    .unwrap();
    let data = d.join("data");
    let p = Pharos::start(&data, Some(&cfg));
    push(&p, 3, "level=info ok");
    push(&p, 8, "level=error boom");

    let deadline = Instant::now() + Duration::from_secs(20);
    let mut firing = None;
    while Instant::now() < deadline {
        let v = get_json(&p.url("/api/v1/alerts"));
        if let Some(a) = v["data"]["alerts"].as_array().and_then(|a| {
            a.iter()
                .find(|a| a["labels"]["alertname"] == "ApiErrorSpike" && a["state"] == "firing")
                .cloned()
        }) {
            firing = Some(a);
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let a = firing.expect("ApiErrorSpike never fired");
    assert_eq!(a["labels"]["app"], "api");
    assert_eq!(a["labels"]["severity"], "page");
    assert_eq!(a["annotations"]["summary"], "api logged 8 errors in 1m");

    let v = get_json(&p.url("/api/v1/query?query=app:log_errors:count1m"));
    let r = &v["data"]["result"];
    assert_eq!(r.as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(r[0]["metric"]["app"], "api");
    assert_eq!(r[0]["value"][1], "8");

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = get_json(&p.url("/api/v1/query?query=app:log_lines:count1m"));
        if v["data"]["result"][0]["value"][1] == "11" {
            break;
        }
        assert!(Instant::now() < deadline, "{v}");
        std::thread::sleep(Duration::from_millis(200));
    }

    let v = get_json(&p.url("/api/v1/rules"));
    let groups = v["data"]["groups"].as_array().cloned().unwrap_or_default();
    let g = groups
        .iter()
        .find(|g| g["name"] == "api-errors")
        .unwrap_or_else(|| panic!("group missing: {v}"));
    assert_eq!(g["rules"][0]["health"], "ok", "{g}");
    assert_eq!(g["rules"][1]["type"], "recording");

    // Loki's ruler paths show the LogQL groups only (of the tenant when X-Scope-OrgID is sent).
    let v = get_json(&p.url("/prometheus/api/v1/rules"));
    let mut names: Vec<&str> = v["data"]["groups"]
        .as_array()
        .map(|g| g.iter().filter_map(|g| g["name"].as_str()).collect())
        .unwrap_or_default();
    names.sort();
    // pharos' shipped security rules are LogQL too (tenant `fake`).
    assert_eq!(
        names,
        vec!["api-errors", "loki-dir", "pharos-security"],
        "{v}"
    );
    let v: Value = reqwest::blocking::Client::new()
        .get(p.url("/prometheus/api/v1/alerts"))
        .header("X-Scope-OrgID", "other")
        .send()
        .expect("request")
        .json()
        .expect("json");
    assert_eq!(v["data"]["alerts"].as_array().map(Vec::len), Some(0), "{v}");
    let v = get_json(&p.url("/prometheus/api/v1/alerts"));
    assert_eq!(
        v["data"]["alerts"][0]["labels"]["alertname"], "ApiErrorSpike",
        "{v}"
    );

    // The built-in Alertmanager got the alert.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = get_json(&p.url("/api/v2/alerts"));
        if v.as_array().is_some_and(|a| {
            a.iter()
                .any(|a| a["labels"]["alertname"] == "ApiErrorSpike")
        }) {
            break;
        }
        assert!(Instant::now() < deadline, "not in the Alertmanager: {v}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn check_rules_logql_locates_parse_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yml");
    std::fs::write(&good, LOG_RULES).unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: sum(count_over_time({app=\"api\"} |= [1m]))\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_pharos"))
            .args(args)
            .output()
            .expect("run")
    };
    let out = run(&["check", "rules", "--logql", good.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("SUCCESS: 2 rules found"), "{text}");
    // A LogQL file is not PromQL: without --logql it is rejected.
    let out = run(&["check", "rules", good.to_str().unwrap()]);
    assert!(!out.status.success());
    let out = run(&["check", "rules", "--logql", bad.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success(), "{text}");
    let loc = format!(
        "{}:4:1: group \"g\", rule 1, \"A\": could not parse expression",
        bad.display()
    );
    assert!(text.contains(&loc), "{text}");
    // `check config` checks the LogQL rule files of pharos.yml.
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(&cfg, "logs:\n  rule_files: [bad.yml]\n").unwrap();
    let out = run(&["check", "config", cfg.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success(), "{text}");
    assert!(text.contains(&loc), "{text}");
}
