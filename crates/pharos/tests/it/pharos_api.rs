//! Integration tests of pharos' own UI API in the real binary: `/api/pharos/v1/overview`
//! (ingest totals of metrics, logs and traces, targets, alerts, storage), `/notifications`
//! (the built-in Alertmanager's delivery attempts, a success and a failure with its error) and
//! `/stores` (log label cardinality, trace services), plus the log and trace counters on
//! `/metrics`.

use crate::common::{write_request, Pharos};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// An HTTP endpoint answering every request with `status`.
fn responder(status: u16) -> String {
    format!("{}/hook", crate::common::receiver(status).0)
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

fn get(p: &Pharos, path: &str) -> (u16, Value) {
    let r = client().get(p.url(path)).send().unwrap();
    let code = r.status().as_u16();
    (code, r.json().unwrap_or(Value::Null))
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn overview_notifications_and_stores() {
    let ok = responder(200);
    let bad = responder(400);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("alertmanager.yml"),
        format!(
            "route:\n  receiver: ok\n  group_by: [alertname]\n  group_wait: 200ms\n  group_interval: 1s\n  routes:\n    - matchers: ['team=\"bad\"']\n      receiver: bad\nreceivers:\n  - name: ok\n    webhook_configs:\n      - url: '{ok}'\n  - name: bad\n    webhook_configs:\n      - url: '{bad}'\n"
        ),
    )
    .unwrap();
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(&cfg, "alertmanager_config: alertmanager.yml\n").unwrap();
    let data = dir.path().join("data");
    let p = Pharos::start(&data, Some(&cfg));
    let c = client();

    // Before anything arrives: the shape, with zero totals.
    let (code, o) = get(&p, "/api/pharos/v1/overview");
    assert_eq!(code, 200, "{o}");
    for k in [
        "now_ms",
        "start_time_ms",
        "uptime_seconds",
        "build",
        "metrics",
        "logs",
        "traces",
        "alerts",
        "dashboards",
        "storage",
    ] {
        assert!(o.get(k).is_some(), "overview has {k}: {o}");
    }
    assert_eq!(o["logs"]["lines_received_total"], 0);
    assert!(o["build"]["version"].is_string());

    // Metrics: remote write.
    let now = chrono::Utc::now().timestamp_millis();
    let body = write_request(&[
        (
            vec![("__name__", "m1"), ("job", "a")],
            vec![(now - 1000, 1.0), (now, 2.0)],
        ),
        (vec![("__name__", "m2"), ("job", "a")], vec![(now, 3.0)]),
    ]);
    let r = c
        .post(p.url("/api/v1/write"))
        .header("content-encoding", "snappy")
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text());
    // Logs: Loki push.
    let ns = format!("{}", now as i128 * 1_000_000);
    let r = c
        .post(p.url("/loki/api/v1/push"))
        .json(&json!({"streams": [
            {"stream": {"app": "api", "env": "prod"}, "values": [[ns, "hello"], [ns, "world!"]]},
            {"stream": {"app": "web", "env": "prod"}, "values": [[ns, "x"]]}
        ]}))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text());
    // Traces: Zipkin JSON.
    let us = now * 1000;
    let r = c
        .post(p.url("/api/v2/spans"))
        .json(&json!([
            {"traceId": "463ac35c9f6413ad48485a3953bb6124", "id": "a2fb4a1d1a96d312",
             "name": "get /users", "timestamp": us, "duration": 1500,
             "localEndpoint": {"serviceName": "frontend"}, "kind": "SERVER"},
            {"traceId": "463ac35c9f6413ad48485a3953bb6124", "id": "b2fb4a1d1a96d312",
             "parentId": "a2fb4a1d1a96d312", "name": "select", "timestamp": us + 10,
             "duration": 500, "localEndpoint": {"serviceName": "db"}, "kind": "CLIENT"}
        ]))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text());
    // Alerts: one goes to the working receiver, one to the failing one.
    let r = c
        .post(p.url("/api/v2/alerts"))
        .json(&json!([
            {"labels": {"alertname": "Good", "team": "ok"}, "annotations": {"summary": "s"}},
            {"labels": {"alertname": "Bad", "team": "bad"}},
        ]))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);

    let (_, o) = get(&p, "/api/pharos/v1/overview");
    assert!(
        o["metrics"]["samples_appended_total"].as_u64().unwrap() >= 3,
        "{o}"
    );
    assert!(o["metrics"]["head_series"].as_u64().unwrap() >= 2, "{o}");
    assert_eq!(o["logs"]["lines_received_total"], 3);
    assert_eq!(o["logs"]["bytes_received_total"], 12);
    assert_eq!(o["logs"]["streams"], 2);
    assert_eq!(o["traces"]["spans_received_total"], 2);
    assert_eq!(o["traces"]["traces"], 1);
    assert_eq!(o["traces"]["services"], 2);
    assert_eq!(o["alerts"]["active"], 2);
    // Disk usage is measured at most every 5 s: the overview read before any write may still
    // be the one answered (nothing was under metrics/ then).
    wait_for("metric bytes on disk", || {
        let (_, o) = get(&p, "/api/pharos/v1/overview");
        o["storage"]["metrics_bytes"]
            .as_u64()
            .is_some_and(|b| b > 0)
    });
    assert!(o["storage"]["total_bytes"].as_u64().unwrap() > 0, "{o}");
    assert!(o["now_ms"].as_i64().unwrap() >= now);

    // Notifications: both receivers tried, the failure with its error text.
    wait_for("both notifications", || {
        let (_, n) = get(&p, "/api/pharos/v1/notifications");
        n["notifications"].as_array().is_some_and(|a| a.len() >= 2)
    });
    let (code, n) = get(&p, "/api/pharos/v1/notifications?limit=10");
    assert_eq!(code, 200);
    let list = n["notifications"].as_array().unwrap();
    let ok_one = list
        .iter()
        .find(|a| a["receiver"] == "ok")
        .expect("ok sent");
    assert_eq!(ok_one["success"], true);
    assert_eq!(ok_one["integration"], "webhook");
    assert_eq!(ok_one["error"], Value::Null);
    assert_eq!(ok_one["group_labels"], json!({"alertname": "Good"}));
    assert_eq!(ok_one["alerts"][0]["labels"]["alertname"], "Good");
    assert_eq!(ok_one["alerts"][0]["status"], "firing");
    assert_eq!(ok_one["firing"], 1);
    assert!(ok_one["time"].as_str().unwrap().ends_with('Z'));
    let bad_one = list
        .iter()
        .find(|a| a["receiver"] == "bad")
        .expect("bad tried");
    assert_eq!(bad_one["success"], false);
    assert_eq!(bad_one["retryable"], false);
    assert!(
        bad_one["error"].as_str().unwrap().contains("400"),
        "{bad_one}"
    );
    let (_, failed) = get(&p, "/api/pharos/v1/notifications?status=failed");
    assert!(failed["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["success"] == false));
    let (_, one) = get(&p, "/api/pharos/v1/notifications?limit=1&receiver=ok");
    assert_eq!(one["notifications"].as_array().unwrap().len(), 1);
    assert_eq!(get(&p, "/api/pharos/v1/notifications?limit=-1").0, 400);
    assert_eq!(get(&p, "/api/pharos/v1/notifications?status=meh").0, 400);
    let (_, o) = get(&p, "/api/pharos/v1/overview");
    assert!(
        o["alerts"]["notifications_total"].as_u64().unwrap() >= 2,
        "{o}"
    );
    assert!(
        o["alerts"]["notifications_failed_total"].as_u64().unwrap() >= 1,
        "{o}"
    );

    // Stores.
    let (code, s) = get(&p, "/api/pharos/v1/stores");
    assert_eq!(code, 200, "{s}");
    assert_eq!(s["logs"]["streams"], 2);
    let labels = s["logs"]["labels"].as_array().unwrap();
    assert_eq!(labels[0], json!({"name": "app", "values": 2, "streams": 2}));
    assert_eq!(labels[1], json!({"name": "env", "values": 1, "streams": 2}));
    assert_eq!(s["traces"]["services"], 2);
    assert_eq!(s["traces"]["spans"], 2);
    let names: Vec<&str> = s["traces"]["top_services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["db", "frontend"]);
    assert!(s["metrics"]["head_series"].as_u64().unwrap() >= 2);
    let (_, s1) = get(&p, "/api/pharos/v1/stores?limit=1");
    assert_eq!(s1["logs"]["labels"].as_array().unwrap().len(), 1);
    assert_eq!(get(&p, "/api/pharos/v1/stores?limit=x").0, 400);

    // The same counters on /metrics.
    let text = c.get(p.url("/metrics")).send().unwrap().text().unwrap();
    assert!(
        text.contains("\nloki_distributor_lines_received_total 3\n"),
        "{text}"
    );
    assert!(text.contains("\njaeger_collector_spans_received_total 2\n"));
}
