//! The error store's reactions through the real binary: a new issue, a regression and "more
//! than N events in M minutes" reach a webhook through the built-in Alertmanager with labels
//! project, level, environment and a link to the issue; a Sentry transaction shows in the
//! trace store (Jaeger query API) as spans, and so do streamed `span` items; `log` items land in
//! the log store.

use crate::common::{webhook, Pharos};
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const KEY: &str = "0123456789abcdef0123456789abcdef";

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

fn send(c: &Client, p: &Pharos, item_type: &str, payload: &Value) {
    let body = format!("{{}}\n{{\"type\":\"{item_type}\"}}\n{payload}\n");
    let r = c
        .post(p.url(&format!("/api/1/envelope/?sentry_key={KEY}")))
        .body(body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text());
}

fn alerts_named(got: &std::sync::Mutex<Vec<Value>>, name: &str) -> Vec<Value> {
    got.lock()
        .unwrap()
        .iter()
        .flat_map(|b| b["alerts"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["labels"]["alertname"] == name)
        .collect()
}

#[test]
fn issue_alerts_and_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let (hook, got) = webhook();
    std::fs::write(
        dir.path().join("alertmanager.yml"),
        format!("route:\n  receiver: hook\n  group_by: [alertname, issue_id]\n  group_wait: 100ms\n  group_interval: 1s\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: '{hook}'\n"),
    )
    .unwrap();
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(
        &cfg,
        format!("alertmanager_config: alertmanager.yml\nerrors:\n  alert_threshold: {{events: 3, minutes: 5}}\n  projects:\n    - {{id: 1, name: api, keys: [{KEY}]}}\n"),
    )
    .unwrap();
    let p = Pharos::start(&dir.path().join("data"), Some(&cfg));
    let c = Client::new();
    let ev = json!({"level": "error", "environment": "prod", "message": "db down"});
    send(&c, &p, "event", &ev);
    let new = wait_for("the new-issue alert", || {
        alerts_named(&got, "ErrorIssueNew").into_iter().next()
    });
    assert_eq!(new["labels"]["project"], "api");
    assert_eq!(new["labels"]["level"], "error");
    assert_eq!(new["labels"]["environment"], "prod");
    let issue = new["labels"]["issue_id"].as_str().unwrap().to_string();
    assert!(new["annotations"]["issue_url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/errors/{issue}")));
    // Resolve, send again: a regression alert.
    let r = c
        .put(p.url(&format!("/api/pharos/v1/errors/issues/{issue}")))
        .json(&json!({"status": "resolved"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    std::thread::sleep(Duration::from_millis(20));
    send(&c, &p, "event", &ev);
    let reg = wait_for("the regression alert", || {
        alerts_named(&got, "ErrorIssueRegression")
            .into_iter()
            .next()
    });
    assert_eq!(reg["labels"]["issue_id"], issue.as_str());
    // Two more: four events within five minutes is more than three.
    send(&c, &p, "event", &ev);
    send(&c, &p, "event", &ev);
    wait_for("the frequency alert", || {
        alerts_named(&got, "ErrorIssueFrequency").into_iter().next()
    });

    // A transaction becomes spans of the trace store.
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    let tx = json!({
        "type": "transaction", "transaction": "POST /checkout", "start_timestamp": now - 0.5,
        "timestamp": now, "server_name": "checkout-svc", "event_id": "0123456789abcdef0123456789abcdee",
        "contexts": {"trace": {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7", "op": "http.server", "status": "ok"}},
        "spans": [{"span_id": "00f067aa0ba902b8", "parent_span_id": "00f067aa0ba902b7", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                   "op": "db.query", "description": "SELECT * FROM orders", "start_timestamp": now - 0.4, "timestamp": now - 0.1}]
    });
    send(&c, &p, "transaction", &tx);
    let trace: Value = wait_for("the trace", || {
        let r = c
            .get(p.url("/api/traces/4bf92f3577b34da6a3ce929d0e0e4736"))
            .send()
            .ok()?;
        (r.status() == 200).then(|| r.json().ok()).flatten()
    });
    let spans = trace["data"][0]["spans"].as_array().unwrap();
    let mut names: Vec<&str> = spans
        .iter()
        .map(|s| s["operationName"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, vec!["POST /checkout", "SELECT * FROM orders"]);
    let procs = trace["data"][0]["processes"].to_string();
    assert!(procs.contains("checkout-svc"), "{procs}");
}

/// Newer SDKs stream spans as `span` items (a v2 container) and send structured logs as `log`
/// items: the spans are one trace in the trace store, the log line is in the log store with its
/// trace id as structured metadata.
#[test]
fn span_and_log_items() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(
        &cfg,
        format!("errors:\n  projects:\n    - {{id: 1, name: api, keys: [{KEY}]}}\n"),
    )
    .unwrap();
    let p = Pharos::start(&dir.path().join("data"), Some(&cfg));
    let c = Client::new();
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    let trace = "5bf92f3577b34da6a3ce929d0e0e4736";
    let attr = |v: &str| json!({"value": v, "type": "string"});
    let spans = json!({"version": 2, "items": [
        {"name": "GET /orders", "span_id": "10f067aa0ba902b7", "trace_id": trace,
         "start_timestamp": now - 0.5, "end_timestamp": now, "is_segment": true, "status": "ok",
         "attributes": {"sentry.op": attr("http.server"), "service.name": attr("orders")}},
        {"name": "SELECT * FROM orders", "span_id": "10f067aa0ba902b8", "parent_span_id": "10f067aa0ba902b7",
         "trace_id": trace, "start_timestamp": now - 0.4, "end_timestamp": now - 0.1, "status": "error",
         "attributes": {"sentry.op": attr("db.query"), "service.name": attr("orders")}}
    ]});
    send(&c, &p, "span", &spans);
    let got: Value = wait_for("the streamed spans", || {
        let r = c.get(p.url(&format!("/api/traces/{trace}"))).send().ok()?;
        (r.status() == 200).then(|| r.json().ok()).flatten()
    });
    let spans = got["data"][0]["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2, "{got}");
    let db = spans
        .iter()
        .find(|s| s["operationName"] == "SELECT * FROM orders")
        .unwrap();
    assert_eq!(db["references"][0]["spanID"], "10f067aa0ba902b7");
    assert!(got["data"][0]["processes"].to_string().contains("orders"));
    assert!(db["tags"].to_string().contains("\"error\""), "{db}");

    let logs = json!({"items": [{"timestamp": now, "level": "error", "body": "payment failed",
        "trace_id": trace, "attributes": {"service.name": attr("orders"), "order": {"value": 7, "type": "integer"}}}]});
    send(&c, &p, "log", &logs);
    let start = ((now - 60.0) * 1e9) as i64;
    let q = format!("{{service_name=\"orders\"}} | trace_id=\"{trace}\" | order=\"7\"");
    let lines: Value = wait_for("the log line", || {
        let r: Value = c
            .get(p.url("/loki/api/v1/query_range"))
            .query(&[("query", q.as_str()), ("start", &start.to_string())])
            .send()
            .ok()?
            .json()
            .ok()?;
        (!r["data"]["result"].as_array()?.is_empty()).then_some(r)
    });
    assert_eq!(lines["data"]["result"][0]["values"][0][1], "payment failed");
}
