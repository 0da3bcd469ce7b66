//! Integration tests of the rules engine in the real binary: a prometheus.yml with `rule_files`
//! and `alerting.alertmanagers`, samples fed by remote_write, then `/api/v1/alerts` firing with
//! the rendered annotation, `ALERTS` queryable, `/api/v1/rules` in Prometheus' shape, alerts
//! POSTed to an external Alertmanager's `/api/v2/alerts`, reload keeping good rules on a bad
//! file, and the `check rules` / `test rules` commands.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{write_request, Pharos};
use serde_json::Value;

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

fn get_json(url: &str) -> Value {
    client()
        .get(url)
        .send()
        .expect("request")
        .json()
        .expect("json")
}

/// A fake Alertmanager: records the requests POSTed to it as "request line\nbody".
fn fake_alertmanager() -> (String, Arc<Mutex<Vec<String>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    let base = crate::common::receiver_with(200, move |r| {
        let body = String::from_utf8_lossy(&r.body);
        g.lock()
            .unwrap()
            .push(format!("{}\n{body}", r.request_line));
    });
    (base.trim_start_matches("http://").to_string(), got)
}

const RULES: &str = r#"groups:
  - name: db
    interval: 1s
    rules:
      - record: job:db_connections:ratio
        expr: database_connections_active / database_connections_max
      - alert: DatabaseConnectionPoolExhausted
        expr: database_connections_active / database_connections_max > 0.9
        for: 2s
        labels:
          severity: critical
        annotations:
          summary: Database connection pool nearly exhausted
          description: "{{ $value | humanizePercentage }} of connections in use"
"#;

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn alerts_fire_and_reach_the_external_alertmanager() {
    let dir = tempfile::tempdir().unwrap();
    let (am_addr, am_got) = fake_alertmanager();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(dir.path().join("rules/db.yml"), RULES).unwrap();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  evaluation_interval: 1s\n  external_labels:\n    cluster: test\nalerting:\n  alert_relabel_configs:\n    - target_label: source\n      replacement: pharos\n  alertmanagers:\n    - static_configs:\n        - targets: ['{am_addr}']\n      alert_relabel_configs:\n        - source_labels: [severity]\n          regex: none\n          action: drop\nrule_files:\n  - rules/*.yml\n"
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let p = Pharos::start_lifecycle(&data, &cfg);

    // Feed 37/40 connections for the next minute.
    let now = model::time::now_ms();
    let samples: Vec<(i64, f64)> = (0..12).map(|i| (now - 5_000 + i * 5_000, 37.0)).collect();
    let max: Vec<(i64, f64)> = samples.iter().map(|(t, _)| (*t, 40.0)).collect();
    let body = write_request(&[
        (
            vec![
                ("__name__", "database_connections_active"),
                ("instance", "db-1:9187"),
            ],
            samples,
        ),
        (
            vec![
                ("__name__", "database_connections_max"),
                ("instance", "db-1:9187"),
            ],
            max,
        ),
    ]);
    let st = client()
        .post(p.url("/api/v1/write"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .body(body)
        .send()
        .unwrap()
        .status();
    assert!(st.is_success(), "{st}");

    // /api/v1/alerts: firing with the rendered annotation.
    let alert = wait_for("a firing alert", || {
        let v = get_json(&p.url("/api/v1/alerts"));
        v["data"]["alerts"]
            .as_array()?
            .iter()
            .find(|a| a["state"] == "firing")
            .cloned()
    });
    assert_eq!(
        alert["labels"]["alertname"],
        "DatabaseConnectionPoolExhausted"
    );
    assert_eq!(alert["labels"]["severity"], "critical");
    assert_eq!(alert["labels"]["instance"], "db-1:9187");
    assert_eq!(
        alert["annotations"]["description"],
        "92.5% of connections in use"
    );
    assert_eq!(alert["value"], "9.25e-01");
    assert!(alert["activeAt"].as_str().unwrap().ends_with('Z'));

    // ALERTS and the recording rule are queryable.
    let alerts_series = wait_for("ALERTS series", || {
        let v = get_json(&p.url("/api/v1/query?query=ALERTS%7Balertstate%3D%22firing%22%7D"));
        let r = v["data"]["result"].as_array()?.clone();
        (!r.is_empty()).then_some(r)
    });
    assert_eq!(
        alerts_series[0]["metric"]["alertname"],
        "DatabaseConnectionPoolExhausted"
    );
    assert_eq!(alerts_series[0]["value"][1], "1");
    let v = get_json(&p.url("/api/v1/query?query=job:db_connections:ratio"));
    assert_eq!(v["data"]["result"][0]["value"][1], "0.925");
    let v = get_json(&p.url("/api/v1/query?query=ALERTS_FOR_STATE"));
    assert_eq!(v["data"]["result"].as_array().map(|a| a.len()), Some(1));

    // /api/v1/rules shape and filters.
    let v = get_json(&p.url("/api/v1/rules"));
    assert_eq!(v["status"], "success");
    let g = &v["data"]["groups"][0];
    assert_eq!(g["name"], "db");
    assert!(g["file"].as_str().unwrap().ends_with("rules/db.yml"));
    assert_eq!(g["interval"], 1.0);
    let rules = g["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0]["type"], "recording");
    assert_eq!(rules[0]["health"], "ok");
    assert_eq!(rules[1]["type"], "alerting");
    assert_eq!(rules[1]["state"], "firing");
    assert_eq!(rules[1]["duration"], 2.0);
    assert_eq!(rules[1]["alerts"][0]["state"], "firing");
    assert_ne!(rules[1]["lastEvaluation"], "0001-01-01T00:00:00Z");
    let v = get_json(&p.url("/api/v1/rules?type=record"));
    assert_eq!(v["data"]["groups"][0]["rules"].as_array().unwrap().len(), 1);
    let r = client()
        .get(p.url("/api/v1/rules?type=bogus"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);

    // The external Alertmanager got the alert, with external labels, on /api/v2/alerts.
    let posted = wait_for("a POST to the alertmanager", || {
        let g = am_got.lock().unwrap();
        g.iter()
            .find(|b| b.contains("DatabaseConnectionPoolExhausted"))
            .cloned()
    });
    assert!(posted.starts_with("POST /api/v2/alerts "), "{posted}");
    let body: Value = serde_json::from_str(posted.split_once('\n').unwrap().1).unwrap();
    assert_eq!(body[0]["labels"]["cluster"], "test");
    assert_eq!(
        body[0]["labels"]["source"], "pharos",
        "alert_relabel_configs applied"
    );
    assert_eq!(
        body[0]["annotations"]["description"],
        "92.5% of connections in use"
    );
    assert!(body[0]["startsAt"].as_str().is_some());
    assert!(body[0]["generatorURL"]
        .as_str()
        .unwrap()
        .contains("/graph?g0.expr="));

    // Self metrics of the rule groups on /metrics.
    let m = client()
        .get(p.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let line = m
        .lines()
        .find(|l| {
            l.starts_with("prometheus_rule_evaluations_total{rule_group=")
                && l.contains("db.yml;db\"}")
        })
        .unwrap_or_else(|| panic!("no rule metrics in:\n{m}"));
    assert!(
        line.rsplit(' ').next().unwrap().parse::<f64>().unwrap() >= 2.0,
        "{line}"
    );
    assert!(m.contains("prometheus_rule_group_rules{rule_group="), "{m}");

    // A broken rule file on reload: the reload fails, the running rules stay.
    std::fs::write(
        dir.path().join("rules/bad.yml"),
        "groups:\n  - name: bad\n    rules:\n      - alert: X\n        expr: sum(\n",
    )
    .unwrap();
    let r = client().post(p.url("/-/reload")).send().unwrap();
    assert!(!r.status().is_success());
    let text = r.text().unwrap();
    assert!(text.contains("bad.yml:4:1"), "{text}");
    let v = get_json(&p.url("/api/v1/rules"));
    assert_eq!(v["data"]["groups"].as_array().unwrap().len(), 1);
}

#[test]
fn check_and_test_rules_commands() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(env!("CARGO_BIN_EXE_pharos"))
        .args(["check", "rules"])
        .arg(root.join("examples/prometheus/alerts/application.yml"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("SUCCESS: 6 rules found"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations:\n          d: \"{{ $value | nosuchfunc }}\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pharos"))
        .args(["check", "rules"])
        .arg(&bad)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(text.contains("bad.yml:4:1: group \"g\", rule 1, \"A\": annotation \"d\": template: __alert_A:1: function \"nosuchfunc\" not defined"), "{text}");

    let out = Command::new(env!("CARGO_BIN_EXE_pharos"))
        .args(["test", "rules"])
        .arg(root.join("tests/rules/application_test.yml"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.trim_end().ends_with("passed, 0 failed"), "{text}");
}

/// `for` state survives a crash: after kill -9 and restart, the pending alert's activeAt is
/// restored from ALERTS_FOR_STATE (shifted by the downtime), not reset to the restart time.
#[test]
fn for_state_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(
        dir.path().join("rules/slow.yml"),
        "groups:\n  - name: slow\n    interval: 1s\n    rules:\n      - alert: SlowBurn\n        expr: vector(1)\n        for: 1h\n",
    )
    .unwrap();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        "global:\n  evaluation_interval: 1s\nrule_files:\n  - rules/*.yml\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let active_at = |p: &Pharos| -> Option<i64> {
        let v = get_json(&p.url("/api/v1/alerts"));
        let a = v["data"]["alerts"].as_array()?.first()?.clone();
        let s = a["activeAt"].as_str()?.to_string();
        Some(
            chrono::DateTime::parse_from_rfc3339(&s)
                .ok()?
                .timestamp_millis(),
        )
    };
    let p = Pharos::start(&data, Some(&cfg));
    let first = wait_for("a pending alert", || active_at(&p));
    // let ALERTS_FOR_STATE be written for a while (restore happens after the 2nd evaluation)
    std::thread::sleep(Duration::from_secs(7));
    let v = get_json(&p.url("/api/v1/query?query=ALERTS_FOR_STATE"));
    assert_eq!(
        v["data"]["result"].as_array().map(|a| a.len()),
        Some(1),
        "{v}"
    );
    p.kill9();
    let restart = model::time::now_ms();
    let p = Pharos::start(&data, Some(&cfg));
    // wait for the restore pass (2 evaluations)
    std::thread::sleep(Duration::from_secs(4));
    let restored = wait_for("the alert after restart", || active_at(&p));
    assert!(restart - first >= 7_000);
    // activeAt = first + downtime (~1-2s), far from the restart time
    assert!(
        restored - first < 5_000,
        "activeAt not restored: first={first} restored={restored} restart={restart}"
    );
    assert!(restored >= first - 1000);
}

/// Rules reload on SIGHUP: an added rule appears in /api/v1/rules, a removed group disappears.
#[test]
fn rules_reload_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    let one = "groups:\n  - name: a\n    interval: 1s\n    rules:\n      - record: one\n        expr: vector(1)\n";
    std::fs::write(dir.path().join("rules/a.yml"), one).unwrap();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        "global:\n  evaluation_interval: 1s\nrule_files:\n  - rules/*.yml\n",
    )
    .unwrap();
    let p = Pharos::start(&dir.path().join("data"), Some(&cfg));
    let count = |p: &Pharos| -> (usize, usize) {
        let v = get_json(&p.url("/api/v1/rules"));
        let groups = v["data"]["groups"].as_array().cloned().unwrap_or_default();
        let rules = groups
            .iter()
            .map(|g| g["rules"].as_array().map(|r| r.len()).unwrap_or(0))
            .sum();
        (groups.len(), rules)
    };
    assert_eq!(count(&p), (1, 1));
    std::fs::write(
        dir.path().join("rules/a.yml"),
        format!("{one}      - record: two\n        expr: vector(2)\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("rules/b.yml"),
        "groups:\n  - name: b\n    rules:\n      - alert: B\n        expr: vector(1)\n",
    )
    .unwrap();
    let pid = p.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    wait_for("the reloaded rules", || (count(&p) == (2, 3)).then_some(()));
    // the new recording rule is evaluated
    wait_for("the new recording rule's series", || {
        let v = get_json(&p.url("/api/v1/query?query=two"));
        (v["data"]["result"][0]["value"][1] == "2").then_some(())
    });
    std::fs::remove_file(dir.path().join("rules/b.yml")).unwrap();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    wait_for("group b removed", || (count(&p) == (1, 2)).then_some(()));
}
