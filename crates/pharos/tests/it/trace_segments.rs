//! Trace segments through the binary: with a small head, spans are compacted into segment files;
//! by-id lookups, searches and services answer the same before and after kill -9.

use crate::common::*;
use std::time::{SystemTime, UNIX_EPOCH};

fn body(trace: u64, start_ns: u64) -> serde_json::Value {
    let span = |id: u64, parent: &str, name: &str, svc_attr: &str| {
        serde_json::json!({
            "traceId": format!("{:032x}", 0xabc0000u64 + trace),
            "spanId": format!("{:016x}", trace * 10 + id),
            "parentSpanId": parent,
            "name": name,
            "kind": 2,
            "startTimeUnixNano": (start_ns + id * 1000).to_string(),
            "endTimeUnixNano": (start_ns + id * 1000 + 5_000_000).to_string(),
            "attributes": [{"key": "user.id", "value": {"stringValue": svc_attr}}]
        })
    };
    serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]},
        "scopeSpans": [{"spans": [
            span(1, "", "GET /cart", &format!("u{}", trace % 4)),
            span(2, &format!("{:016x}", trace * 10 + 1), "db.query", "db"),
        ]}]
    }]})
}

fn answers(c: &reqwest::blocking::Client, p: &Pharos) -> Vec<String> {
    let get =
        |path: &str| -> serde_json::Value { c.get(p.url(path)).send().unwrap().json().unwrap() };
    let mut out = Vec::new();
    for t in 0..30u64 {
        let v = get(&format!("/api/traces/{:x}", 0xabc0000u64 + t));
        let spans = v["data"][0]["spans"]
            .as_array()
            .map(|a| a.len())
            .unwrap_or(0);
        out.push(format!("{t}: {spans} spans"));
    }
    let ids = |v: serde_json::Value| -> Vec<String> {
        let mut ids: Vec<String> = v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["traceID"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    out.push(format!(
        "{:?}",
        ids(get("/api/traces?service=shop&limit=100&lookback=1h"))
    ));
    out.push(format!(
        "{:?}",
        ids(get(
            "/api/traces?service=shop&tags=%7B%22user.id%22%3A%22u1%22%7D&limit=100&lookback=1h"
        ))
    ));
    out.push(format!(
        "{:?}",
        ids(get(
            "/api/traces?service=shop&operation=db.query&limit=3&lookback=1h"
        ))
    ));
    out.push(get("/api/services")["data"].to_string());
    out
}

#[test]
fn segments_answer_across_kill9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(
        &cfg,
        "collectors: {self: {enabled: false}, host: {enabled: false}}\nsecurity: {enabled: false}\ntraces:\n  head_max_spans: 8\n",
    )
    .unwrap();
    let c = reqwest::blocking::Client::new();
    let p = Pharos::start(&data, Some(&cfg));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    for t in 0..30u64 {
        let r = c
            .post(p.url("/v1/traces"))
            .json(&body(t, now - 600_000_000_000 + t * 1_000_000_000))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let segments = std::fs::read_dir(data.join("traces/segments"))
        .unwrap()
        .count();
    assert!(segments >= 2, "{segments} segment files");
    let before = answers(&c, &p);
    assert!(
        before[..30].iter().all(|l| l.ends_with(": 2 spans")),
        "{before:?}"
    );
    assert_eq!(before[30].matches(',').count(), 29, "{}", before[30]);
    assert_eq!(before[31].matches(',').count(), 7, "{}", before[31]);
    assert_eq!(before[32].matches(',').count(), 2, "{}", before[32]);
    p.kill9();
    let p = Pharos::start(&data, Some(&cfg));
    assert_eq!(answers(&c, &p), before);
}
