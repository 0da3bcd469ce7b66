//! Integration test of the incident context in the real binary: an alert fires from a rule over
//! remote-written metrics of job "shop"; logs of job "shop" (one error), a failed Zipkin trace
//! of service "shop" and a Sentry error event are pushed; `/api/pharos/v1/incident` returns the
//! rule's series, the log lines errors first with a histogram, the failed trace and the issue;
//! the webhook notification carries the incident link at the configured external_url.

use crate::common::{push_loki, webhook, write_request, Pharos};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const KEY: &str = "0123456789abcdef0123456789abcdef";

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < end {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn incident_context_of_a_firing_alert() {
    let dir = tempfile::tempdir().unwrap();
    let (hook, got) = webhook();
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n  - name: shop\n    rules:\n      - alert: ShopErrors\n        expr: shop_errors_total > 0\n        labels: {severity: critical}\n        annotations: {summary: shop is failing}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        "global:\n  evaluation_interval: 1s\nrule_files:\n  - rules.yml\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("alertmanager.yml"),
        format!("route:\n  receiver: hook\n  group_wait: 100ms\n  group_interval: 1s\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: '{hook}'\n"),
    )
    .unwrap();
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(
        &cfg,
        format!("prometheus_config: prometheus.yml\nalertmanager_config: alertmanager.yml\nexternal_url: https://pharos.example.com/\ncollectors: {{self: {{enabled: false}}, host: {{enabled: false}}}}\nsecurity: {{enabled: false}}\nerrors:\n  projects:\n    - {{id: 1, name: shop, keys: [{KEY}]}}\n"),
    )
    .unwrap();
    let p = Pharos::start(&dir.path().join("data"), Some(&cfg));
    let c = reqwest::blocking::Client::new();
    let now = chrono::Utc::now().timestamp_millis();

    // Metrics: the rule's series.
    let samples: Vec<(i64, f64)> = (0..10).map(|i| (now - 90_000 + i * 10_000, 3.0)).collect();
    let body = write_request(&[(
        vec![
            ("__name__", "shop_errors_total"),
            ("job", "shop"),
            ("instance", "shop:80"),
        ],
        samples,
    )]);
    let r = c
        .post(p.url("/api/v1/write"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .body(body)
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    // Logs of the same job, and of another one.
    let ns = |ms: i64| (ms * 1_000_000).to_string();
    push_loki(
        &p,
        &json!({"streams": [
            {"stream": {"job": "shop", "level": "info"}, "values": [[ns(now - 30_000), "GET /cart 200"]]},
            {"stream": {"job": "shop", "level": "error"}, "values": [[ns(now - 20_000), "payment gateway timeout"]]},
            {"stream": {"job": "other"}, "values": [[ns(now - 20_000), "error elsewhere"]]},
        ]}),
    );
    // A failed trace of service "shop" (Zipkin v2 JSON).
    let us = (now - 25_000) * 1000;
    let r = c
        .post(p.url("/api/v2/spans"))
        .json(&json!([{
            "traceId": "00000000000000000000000000abcdef", "id": "00000000000000a1", "name": "POST /checkout",
            "timestamp": us, "duration": 1_500_000, "localEndpoint": {"serviceName": "shop"},
            "tags": {"error": "gateway timeout", "http.status_code": "500"}
        }]))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    // A Sentry error event of project "shop".
    let event = json!({"event_id": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "level": "error", "platform": "node",
        "exception": {"values": [{"type": "GatewayTimeout", "value": "payment gateway timeout"}]}});
    let r = c
        .post(p.url(&format!("/api/1/store/?sentry_key={KEY}")))
        .json(&event)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text());

    // The alert fires and the webhook gets the link.
    let sent = wait_for("the ShopErrors notification", || {
        got.lock()
            .unwrap()
            .iter()
            .flat_map(|b| b["alerts"].as_array().cloned().unwrap_or_default())
            .find(|a| a["labels"]["alertname"] == "ShopErrors")
    });
    let link = sent["incidentURL"].as_str().unwrap().to_string();
    assert!(
        link.starts_with("https://pharos.example.com/incident?alertname=ShopErrors&"),
        "{link}"
    );
    assert!(
        link.contains("job=shop") && link.contains("__start="),
        "{link}"
    );

    // The incident page's data, from the link's query string.
    let query = link.split_once('?').unwrap().1;
    let v: Value = c
        .get(p.url(&format!("/api/pharos/v1/incident?{query}")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(v["alert"]["state"], "firing", "{v}");
    assert_eq!(v["rule"]["expr"], "shop_errors_total > 0");
    assert!(
        !v["rule"]["series"].as_array().unwrap().is_empty(),
        "{}",
        v["rule"]
    );
    assert_eq!(
        v["join"]["labels"][0],
        json!({"name": "job", "value": "shop"})
    );
    let lines = v["logs"]["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{}", v["logs"]);
    assert_eq!(lines[0]["line"], "payment gateway timeout");
    assert_eq!(lines[0]["error"], true);
    assert_eq!(
        (v["logs"]["total"].as_u64(), v["logs"]["errors"].as_u64()),
        (Some(2), Some(1))
    );
    let hist: u64 = v["logs"]["histogram"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["total"].as_u64().unwrap())
        .sum();
    assert_eq!(hist, 2);
    // The Explore link opens the selector that found the lines (job="shop"), not the first one
    // tried (service="shop", empty).
    assert_eq!(v["logs"]["exploreQuery"], "{job=\"shop\"}", "{}", v["logs"]);
    assert_eq!(
        v["traces"]["failed"][0]["traceID"], "00000000000000000000000000abcdef",
        "{}",
        v["traces"]
    );
    assert_eq!(v["traces"]["slowest"][0]["durationMs"], 1500.0);
    let issues = v["errors"]["issues"].as_array().unwrap();
    assert!(
        issues.iter().any(
            |i| i["title"].as_str().unwrap_or("").contains("GatewayTimeout")
                && i["sameService"] == true
        ),
        "{}",
        v["errors"]
    );

    // Bad input is a 400 with a message.
    let r = c
        .get(p.url("/api/pharos/v1/incident?job=shop"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = c
        .get(p.url("/api/pharos/v1/incident?alertname=X&__start=yesterday"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
}

/// `/api/pharos/v1/events`: pharos' start and a config reload, in the window asked for; a bad
/// time is a 400.
#[test]
fn own_events_for_annotations() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(
        &cfg,
        "collectors: {self: {enabled: false}, host: {enabled: false}}\nsecurity: {enabled: false}\n",
    )
    .unwrap();
    let before = chrono::Utc::now().timestamp_millis();
    let p = Pharos::start_lifecycle(&dir.path().join("data"), &cfg);
    let c = reqwest::blocking::Client::new();
    let r = c.post(p.url("/-/reload")).send().unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let events: Value = c
        .get(p.url(&format!("/api/pharos/v1/events?start={}", before - 60_000)))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let kinds: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"pharos_start"), "{events}");
    assert!(kinds.contains(&"config_reload"), "{events}");
    assert!(events["data"][0]["time"].as_i64().unwrap() >= before - 60_000);
    // A window before the start holds nothing.
    let old: Value = c
        .get(p.url("/api/pharos/v1/events?start=0&end=1000"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(old["data"], json!([]));
    let bad = c
        .get(p.url("/api/pharos/v1/events?start=yesterday"))
        .send()
        .unwrap();
    assert_eq!(bad.status(), 400);
}
