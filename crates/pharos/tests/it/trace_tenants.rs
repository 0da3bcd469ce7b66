//! Trace tenants through the real binary: spans pushed with `X-Scope-OrgID` (OTLP/HTTP, or a
//! tenant-bound token) are found by that tenant's Jaeger, Zipkin and Tempo queries only; a query
//! without a tenant sees every trace.

use crate::common::Pharos;
use reqwest::blocking::Client;
use serde_json::json;

const BASE: &str =
    "collectors: {self: {enabled: false}, host: {enabled: false}}\nsecurity: {enabled: false}\n";

fn push(c: &Client, p: &Pharos, trace: &str, tenant: Option<&str>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let body = json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "tenant-svc"}}]},
        "scopeSpans": [{"spans": [{"traceId": trace, "spanId": "00f067aa0ba902b7", "name": "op",
            "startTimeUnixNano": now.to_string(), "endTimeUnixNano": (now + 1000).to_string()}]}]}]});
    let mut r = c
        .post(p.url("/v1/traces"))
        .header("content-type", "application/json");
    if let Some(t) = tenant {
        r = r.header("X-Scope-OrgID", t);
    }
    assert_eq!(r.body(body.to_string()).send().unwrap().status(), 200);
}

fn status(c: &Client, p: &Pharos, path: &str, tenant: Option<&str>) -> u16 {
    let mut r = c.get(p.url(path));
    if let Some(t) = tenant {
        r = r.header("X-Scope-OrgID", t);
    }
    r.send().unwrap().status().as_u16()
}

fn found(c: &Client, p: &Pharos, tenant: Option<&str>) -> usize {
    let mut r = c.get(p.url("/api/traces?service=tenant-svc&lookback=1h&limit=20"));
    if let Some(t) = tenant {
        r = r.header("X-Scope-OrgID", t);
    }
    let v: serde_json::Value = r.send().unwrap().json().unwrap();
    v["data"].as_array().map_or(0, Vec::len)
}

#[test]
fn traces_are_per_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(&cfg, BASE).unwrap();
    let p = Pharos::start(&dir.path().join("data"), Some(&cfg));
    let c = Client::new();
    let ta = "0af7651916cd43dd8448eb211c80319a";
    let tb = "0af7651916cd43dd8448eb211c80319b";
    push(&c, &p, ta, Some("a"));
    push(&c, &p, tb, Some("b"));
    for path in [
        format!("/api/traces/{ta}"),
        format!("/api/v2/trace/{ta}"),
        format!("/api/v2/traces/{ta}"),
    ] {
        assert_eq!(status(&c, &p, &path, Some("a")), 200, "{path}");
        assert_eq!(status(&c, &p, &path, Some("b")), 404, "{path}");
        assert_eq!(status(&c, &p, &path, None), 200, "{path}");
    }
    assert_eq!(found(&c, &p, Some("a")), 1);
    assert_eq!(found(&c, &p, Some("b")), 1);
    assert_eq!(found(&c, &p, Some("c")), 0);
    assert_eq!(found(&c, &p, None), 2);
}
