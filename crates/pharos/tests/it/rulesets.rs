//! Integration tests of the rule sets pharos ships, in the real binary. Security: the CrewAI
//! monitoring guide's SecurityMonitor log lines pushed to the Loki API — 10 suspicious-activity
//! lines of one user do not alert, the 11th does (one alert, for that user), a security
//! violation alerts at once, both with `severity: critical` through the built-in Alertmanager to
//! a webhook; failed logins are counted per reason; rejected pushes are counted on `/metrics`.
//! Cost: fixed host usage written by remote write gives hand-computed `cloud_costs`, and the
//! budget alert follows `monthly_budget` across a reload. Bad settings fail with file:line.

use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::common::{webhook, write_request, Pharos};
use serde_json::{json, Value};

fn get_json(p: &Pharos, path: &str) -> Value {
    reqwest::blocking::get(p.url(path))
        .expect("request")
        .json()
        .expect("json")
}

fn wait_for<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting for {what}");
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Pushes winston JSON lines (the guide's logger format) to the Loki API, one stream per level.
fn push_lines(p: &Pharos, level: &str, lines: &[Value]) {
    let t = now_ns();
    let values: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| json!([(t + i as u128).to_string(), l.to_string()]))
        .collect();
    let body =
        json!({"streams": [{"stream": {"app": "crewai-api", "level": level}, "values": values}]});
    crate::common::push_loki(p, &body);
}

fn suspicious(user: &str, activity: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({"level": "warn", "message": "Suspicious activity detected",
                   "event": "suspicious_activity", "userId": user, "activity": activity,
                   "details": {"path": format!("/api/crews/{i}")},
                   "service": "crewai-api", "timestamp": "2026-12-01T00:00:00.000Z"})
        })
        .collect()
}

fn auth_failure(user: &str, reason: &str) -> Value {
    json!({"level": "warn", "message": "Authentication failure", "event": "auth_failure",
           "userId": user, "reason": reason, "ip": "203.0.113.7", "service": "crewai-api"})
}

/// Firing alerts of `/api/v1/alerts` named `name`.
fn firing(p: &Pharos, name: &str) -> Vec<Value> {
    get_json(p, "/api/v1/alerts")["data"]["alerts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a["labels"]["alertname"] == name && a["state"] == "firing")
        .collect()
}

/// `(labels, value)` of every series of an instant query.
fn query(p: &Pharos, q: &str) -> Vec<(Value, f64)> {
    let v = reqwest::blocking::Client::new()
        .get(p.url("/api/v1/query"))
        .query(&[("query", q)])
        .send()
        .expect("query")
        .json::<Value>()
        .expect("json");
    v["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            let x = r["value"][1]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(f64::NAN);
            (r["metric"].clone(), x)
        })
        .collect()
}

/// Alerts named `name` the webhook has received (each notification's alerts).
fn hooked(got: &std::sync::Mutex<Vec<Value>>, name: &str) -> Vec<Value> {
    got.lock()
        .unwrap()
        .iter()
        .flat_map(|n| n["alerts"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["labels"]["alertname"] == name)
        .collect()
}

fn am_config(hook: &str) -> String {
    format!(
        "route:\n  receiver: hook\n  group_by: [alertname, userId, subtype]\n  group_wait: 200ms\n  group_interval: 1s\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: '{hook}'\n"
    )
}

#[test]
fn security_rules_alert_on_the_guides_log_lines() {
    let (hook, got) = webhook();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("am.yml"), am_config(&hook)).unwrap();
    let cfg = d.join("pharos.yml");
    std::fs::write(
        &cfg,
        "alertmanager_config: am.yml\nsecurity:\n  evaluation_interval: 500ms\n",
    )
    .unwrap();
    let p = Pharos::start(&d.join("data"), Some(&cfg));

    // The shipped rules are loaded from <data>/rulesets/ and listed like any rule file.
    let rules = get_json(&p, "/api/v1/rules");
    let group = rules["data"]["groups"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["name"] == "pharos-security").cloned())
        .expect("pharos-security group listed");
    assert!(group["file"]
        .as_str()
        .is_some_and(|f| f.ends_with("rulesets/security.yml")));
    assert_eq!(group["rules"].as_array().map(Vec::len), Some(3));

    // 10 suspicious events of u1 (and 10 of u2, another kind for u1): below the threshold.
    push_lines(&p, "warn", &suspicious("u1", "rapid_requests", 10));
    push_lines(&p, "warn", &suspicious("u2", "rapid_requests", 10));
    push_lines(&p, "warn", &suspicious("u1", "token_reuse", 4));
    // Failed logins, pushed after them: once they are counted, an evaluation has seen all the
    // suspicious lines above.
    push_lines(
        &p,
        "warn",
        &[
            auth_failure("u1", "invalid_password"),
            auth_failure("u3", "invalid_password"),
            auth_failure("u4", "unknown_user"),
            json!("plain text line mentioning auth_failure"),
        ],
    );
    let counts = wait_for("auth failures counted", 20, || {
        let r = query(&p, "security:auth_failures:count1m");
        (r.len() == 2).then_some(r)
    });
    let by_reason = |reason: &str| {
        counts
            .iter()
            .find(|(m, _)| m["reason"] == reason)
            .map(|(_, v)| *v)
    };
    assert_eq!(by_reason("invalid_password"), Some(2.0), "{counts:?}");
    assert_eq!(by_reason("unknown_user"), Some(1.0), "{counts:?}");
    // Two more evaluations: still nothing.
    std::thread::sleep(Duration::from_millis(1200));
    assert!(firing(&p, "SuspiciousActivityThresholdExceeded").is_empty());
    assert!(hooked(&got, "SuspiciousActivityThresholdExceeded").is_empty());

    // The 11th event of u1 within the window, as winston-elasticsearch sends it (the fields
    // under "fields"): one alert, for u1 and that activity.
    push_lines(
        &p,
        "warn",
        &[
            json!({"@timestamp": "2026-12-01T00:00:00.000Z", "message": "Suspicious activity detected",
                 "severity": "warn", "fields": {"event": "suspicious_activity", "userId": "u1",
                 "activity": "rapid_requests"}}),
        ],
    );
    let alerts = wait_for("suspicious activity alert", 20, || {
        let a = firing(&p, "SuspiciousActivityThresholdExceeded");
        (!a.is_empty()).then_some(a)
    });
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let a = &alerts[0];
    assert_eq!(a["labels"]["userId"], "u1");
    assert_eq!(a["labels"]["activity"], "rapid_requests");
    assert_eq!(a["labels"]["severity"], "critical");
    assert_eq!(a["labels"]["type"], "security");
    assert_eq!(a["labels"]["subtype"], "threshold_exceeded");
    assert_eq!(
        a["annotations"]["description"],
        "11 suspicious_activity events (rapid_requests) of user u1 within 1h (threshold 10)."
    );
    let sent = wait_for("suspicious activity at the webhook", 20, || {
        let h = hooked(&got, "SuspiciousActivityThresholdExceeded");
        (!h.is_empty()).then_some(h)
    });
    assert!(sent.iter().all(|a| a["labels"]["userId"] == "u1"
        && a["labels"]["activity"] == "rapid_requests"
        && a["labels"]["severity"] == "critical"));

    // A violation alerts at once.
    push_lines(
        &p,
        "error",
        &[
            json!({"level": "error", "message": "Security violation", "event": "security_violation",
                 "type": "sql_injection", "details": {"query": "1; DROP TABLE crews"}}),
        ],
    );
    let sent = wait_for("security violation at the webhook", 20, || {
        let h = hooked(&got, "SecurityViolation");
        (!h.is_empty()).then_some(h)
    });
    assert_eq!(sent[0]["labels"]["subtype"], "sql_injection");
    assert_eq!(sent[0]["labels"]["severity"], "critical");
    assert_eq!(sent[0]["status"], "firing");
    assert_eq!(
        sent[0]["annotations"]["summary"],
        "Security violation: sql_injection"
    );
    assert_eq!(firing(&p, "SuspiciousActivityThresholdExceeded").len(), 1);
}

#[test]
fn rejected_pushes_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let p = Pharos::start(&dir.path().join("data"), None);
    let c = reqwest::blocking::Client::new();
    for _ in 0..2 {
        let r = c
            .post(p.url("/api/v1/write"))
            .body("not snappy")
            .send()
            .unwrap();
        assert_eq!(r.status(), 400);
    }
    let r = c
        .post(p.url("/loki/api/v1/push"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    // Accepted pushes and failed queries are not rejections.
    let ok = c
        .post(p.url("/api/v1/write"))
        .body(write_request(&[(vec![("__name__", "x")], vec![(1, 1.0)])]))
        .send()
        .unwrap();
    assert!(ok.status().is_success(), "{}", ok.status());
    let _ = c.get(p.url("/api/v1/query?query=(")).send().unwrap();
    let m = c.get(p.url("/metrics")).send().unwrap().text().unwrap();
    let lines: Vec<&str> = m
        .lines()
        .filter(|l| l.starts_with("pharos_rejected_requests_total{"))
        .collect();
    assert_eq!(
        lines,
        vec![
            "pharos_rejected_requests_total{api=\"loki_push\",reason=\"bad_request\"} 1",
            "pharos_rejected_requests_total{api=\"prometheus_remote_write\",reason=\"bad_request\"} 2",
        ]
    );
}

/// Remote-writes a fixed host: 4 vCPUs, 500 GB of disks (a bind mount and a tmpfs that do not
/// count), 250 kB/s sent on eth0 for the last two hours (and more on lo, which does not count).
fn write_fixed_usage(p: &Pharos) {
    let now = (now_ns() / 1_000_000) as i64;
    let job = ("job", "cost-fixture");
    let mut series: Vec<crate::common::TestSeries> = Vec::new();
    for cpu in ["0", "1", "2", "3"] {
        for mode in ["idle", "user"] {
            series.push((
                vec![
                    ("__name__", "node_cpu_seconds_total"),
                    job,
                    ("instance", "h1"),
                    ("cpu", cpu),
                    ("mode", mode),
                ],
                vec![(now - 1000, 1234.5)],
            ));
        }
    }
    for (device, mountpoint, fstype, bytes) in [
        ("/dev/sda1", "/", "ext4", 100e9),
        ("/dev/sda1", "/var/lib/docker", "ext4", 100e9),
        ("/dev/sdb1", "/data", "xfs", 400e9),
        ("tmpfs", "/run", "tmpfs", 5e9),
    ] {
        series.push((
            vec![
                ("__name__", "node_filesystem_size_bytes"),
                job,
                ("instance", "h1"),
                ("device", device),
                ("mountpoint", mountpoint),
                ("fstype", fstype),
            ],
            vec![(now - 1000, bytes)],
        ));
    }
    for (device, per_s) in [("eth0", 250_000.0), ("lo", 9e9)] {
        // One sample a minute for two hours, the last one just now.
        let samples: Vec<(i64, f64)> = (0..=120)
            .map(|i| {
                let t = now - 1000 - (120 - i) * 60_000;
                (t, 1e12 + per_s * 60.0 * i as f64)
            })
            .collect();
        series.push((
            vec![
                ("__name__", "node_network_transmit_bytes_total"),
                job,
                ("instance", "h1"),
                ("device", device),
            ],
            samples,
        ));
    }
    let r = reqwest::blocking::Client::new()
        .post(p.url("/api/v1/write"))
        .header("Content-Encoding", "snappy")
        .body(write_request(&series))
        .send()
        .expect("remote write");
    assert!(r.status().is_success(), "remote write: {}", r.status());
}

fn cost_config(budget: u32) -> String {
    format!("cost:\n  monthly_budget: {budget}\n  db_instances: 2\n  evaluation_interval: 500ms\n  label_matchers: 'job=\"cost-fixture\"'\nalertmanager_config: am.yml\n")
}

#[test]
fn cost_rules_compute_the_guides_numbers() {
    let (hook, got) = webhook();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("am.yml"), am_config(&hook)).unwrap();
    let cfg = d.join("pharos.yml");
    // Hand-computed (USD per day, the guide's prices):
    //   compute  4 vCPUs x 24 h x 0.10            = 9.6
    //   storage  500 GB x 0.023 / 30              = 0.38333…
    //   network  250 kB/s x 86400 s = 21.6 GB x 0.09 = 1.944
    //   database 2 x 24 h x 0.15                  = 7.2
    //   daily 19.127333…, projected monthly x 30   = 573.82
    // A 700 budget alerts (573.82 > 560), an 800 budget does not (> 640 needed).
    std::fs::write(&cfg, cost_config(700)).unwrap();
    let p = Pharos::start_lifecycle(&d.join("data"), &cfg);
    write_fixed_usage(&p);
    let costs = wait_for("cloud_costs", 20, || {
        let r = query(&p, "cloud_costs");
        (r.len() == 4).then_some(r)
    });
    let expect = [
        ("compute", 9.6),
        ("storage", 500.0 * 0.023 / 30.0),
        ("network", 21.6 * 0.09),
        ("database", 7.2),
    ];
    for (resource, want) in expect {
        let got = costs
            .iter()
            .find(|(m, _)| m["resource"] == resource)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no cloud_costs{{resource={resource:?}}}: {costs:?}"));
        assert!(
            (got - want).abs() < 1e-6,
            "cloud_costs{{resource={resource:?}}} = {got}, want {want}"
        );
    }
    let daily: f64 = expect.iter().map(|(_, v)| v).sum();
    // The projection's first evaluations may precede some resources' first cost sample (their
    // usage was written after start), so they project less: wait for one over all four.
    let projected = wait_for("projection over all four resources", 20, || {
        query(&p, "cloud_costs_projected_monthly")
            .first()
            .map(|r| r.1)
            .filter(|v| (v - daily * 30.0).abs() < 1e-6)
    });
    assert!((projected - daily * 30.0).abs() < 1e-6, "{projected}");
    assert!((projected - 573.82).abs() < 1e-6, "{projected}");
    let budget = query(&p, "cloud_costs_monthly_budget");
    assert_eq!(budget.first().map(|r| r.1), Some(700.0));

    let sent = wait_for("budget alert at the webhook", 20, || {
        let h = hooked(&got, "CloudCostBudgetExceeded");
        (!h.is_empty()).then_some(h)
    });
    assert_eq!(sent[0]["labels"]["severity"], "warning");
    assert_eq!(
        sent[0]["annotations"]["summary"],
        "Projected monthly cloud cost 573.82 USD is over 80% of the 700 USD budget"
    );
    assert_eq!(
        sent[0]["annotations"]["description"],
        "Current daily cost 19.13 USD, projected monthly 573.82 USD, 81.97% of the budget."
    );

    // A larger budget: the alert resolves after a reload.
    std::fs::write(&cfg, cost_config(800)).unwrap();
    let r = reqwest::blocking::Client::new()
        .post(p.url("/-/reload"))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "reload: {}", r.status());
    wait_for("the new budget", 20, || {
        let b = query(&p, "cloud_costs_monthly_budget").first().map(|r| r.1);
        (b == Some(800.0)).then_some(())
    });
    wait_for("budget alert resolved", 20, || {
        firing(&p, "CloudCostBudgetExceeded")
            .is_empty()
            .then_some(())
    });
}

#[test]
fn bad_settings_fail_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases = [
        (
            "listen: 127.0.0.1:0\ncost:\n  pricing:\n    vcpu_hour: -1\n",
            ":4:",
        ),
        ("security:\n  suspicious_activity:\n    limit: 3\n", ":3:"),
        ("security:\n  log_selector: '{app=}'\n", ":2:"),
        ("cost:\n  label_matchers: 'job=='\n", ":2:"),
    ];
    for (text, loc) in cases {
        let cfg = d.join("pharos.yml");
        std::fs::write(&cfg, text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_pharos"))
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data")
            .arg(d.join("data"))
            .arg("--config")
            .arg(&cfg)
            .output()
            .expect("run pharos");
        assert!(!out.status.success(), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        let want = format!("{}{loc}", cfg.display());
        assert!(err.contains(&want), "{text}: want {want} in {err}");
    }
}
