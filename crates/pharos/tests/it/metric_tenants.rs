//! Metric tenants through the real binary: remote_write with `X-Scope-OrgID` keeps tenants
//! apart in queries, series, labels and label values; a request without the header sees the
//! whole store; a tenant-bound token writes and reads only its own tenant whatever header the
//! client sends.

use crate::common::{write_request, Pharos};
use reqwest::blocking::Client;
use serde_json::Value;

const BASE: &str =
    "collectors: {self: {enabled: false}, host: {enabled: false}}\nsecurity: {enabled: false}\n";

fn write(c: &Client, p: &Pharos, tenant: Option<&str>, token: Option<&str>, value: f64) -> u16 {
    let now = chrono::Utc::now().timestamp_millis();
    let v = value.to_string();
    let body = write_request(&[(
        vec![
            ("__name__", "tenant_metric"),
            ("job", "app"),
            ("v", v.as_str()),
        ],
        vec![(now - 1000, value)],
    )]);
    let mut r = c
        .post(p.url("/api/v1/write"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0");
    if let Some(t) = tenant {
        r = r.header("X-Scope-OrgID", t);
    }
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.body(body).send().unwrap().status().as_u16()
}

fn get(c: &Client, p: &Pharos, path: &str, tenant: Option<&str>, token: Option<&str>) -> Value {
    let mut r = c.get(p.url(path));
    if let Some(t) = tenant {
        r = r.header("X-Scope-OrgID", t);
    }
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let resp = r.send().unwrap();
    assert_eq!(resp.status(), 200, "{path}");
    resp.json().unwrap()
}

/// Values of `tenant_metric` a request sees.
fn values(c: &Client, p: &Pharos, tenant: Option<&str>, token: Option<&str>) -> Vec<String> {
    let v = get(c, p, "/api/v1/query?query=tenant_metric", tenant, token);
    let mut out: Vec<String> = v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["value"][1].as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

#[test]
fn remote_write_and_queries_are_per_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(&cfg, BASE).unwrap();
    let p = Pharos::start(&dir.path().join("data"), Some(&cfg));
    let c = Client::new();
    assert_eq!(write(&c, &p, Some("a"), None, 1.0), 204);
    assert_eq!(write(&c, &p, Some("b"), None, 2.0), 204);
    assert_eq!(values(&c, &p, Some("a"), None), ["1"]);
    assert_eq!(values(&c, &p, Some("b"), None), ["2"]);
    assert!(values(&c, &p, Some("c"), None).is_empty());
    // No header: the whole store, the tenant label visible.
    assert_eq!(values(&c, &p, None, None), ["1", "2"]);
    let all = get(&c, &p, "/api/v1/query?query=tenant_metric", None, None);
    assert!(all.to_string().contains("__tenant__"), "{all}");

    // A tenant never sees the tenant label nor another tenant's series or values.
    let s = get(
        &c,
        &p,
        "/api/v1/series?match[]=tenant_metric",
        Some("a"),
        None,
    );
    assert_eq!(s["data"].as_array().unwrap().len(), 1, "{s}");
    assert!(!s.to_string().contains("__tenant__"), "{s}");
    let l = get(&c, &p, "/api/v1/labels", Some("a"), None);
    assert!(!l.to_string().contains("__tenant__"), "{l}");
    let lv = get(&c, &p, "/api/v1/label/v/values", Some("a"), None);
    assert_eq!(lv["data"], serde_json::json!(["1"]));
    let lv = get(&c, &p, "/api/v1/label/v/values", Some("c"), None);
    assert_eq!(lv["data"], serde_json::json!([]));
    let r = get(
        &c,
        &p,
        &format!(
            "/api/v1/query_range?query=tenant_metric&start={}&end={}&step=15",
            chrono::Utc::now().timestamp() - 60,
            chrono::Utc::now().timestamp()
        ),
        Some("b"),
        None,
    );
    assert_eq!(r["data"]["result"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["data"]["result"][0]["metric"]["v"], "2");
    // /federate answers a tenant with its own series only.
    let fed = |tenant: &str| {
        c.get(p.url("/federate?match[]=tenant_metric"))
            .header("X-Scope-OrgID", tenant)
            .send()
            .unwrap()
            .text()
            .unwrap()
    };
    let a = fed("a");
    assert!(
        a.contains("v=\"1\"") && !a.contains("v=\"2\"") && !a.contains("__tenant__"),
        "{a}"
    );
    assert!(!fed("c").contains("tenant_metric{"));
}

#[test]
fn tenant_bound_tokens_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(
        &cfg,
        format!("{BASE}auth:\n  tokens:\n    - {{name: app-a, token: push-a, scopes: [write], tenant: team-a}}\n    - {{name: grafana-a, token: read-a, scopes: [read], tenant: team-a}}\n    - {{name: grafana-b, token: read-b, scopes: [read], tenant: team-b}}\n    - {{name: ops, token: ops, scopes: [read, write, admin]}}\n"),
    )
    .unwrap();
    let p = Pharos::start(&dir.path().join("data"), Some(&cfg));
    let c = Client::new();
    // The client claims tenant b; the token's tenant wins.
    assert_eq!(write(&c, &p, Some("team-b"), Some("push-a"), 7.0), 204);
    assert_eq!(values(&c, &p, None, Some("read-a")), ["7"]);
    assert!(values(&c, &p, None, Some("read-b")).is_empty());
    assert!(values(&c, &p, Some("team-a"), Some("read-b")).is_empty());
    // An unbound token may pick a tenant with the header, or see everything without it.
    assert_eq!(values(&c, &p, Some("team-a"), Some("ops")), ["7"]);
    assert!(values(&c, &p, Some("team-b"), Some("ops")).is_empty());
    assert_eq!(values(&c, &p, None, Some("ops")), ["7"]);
}
