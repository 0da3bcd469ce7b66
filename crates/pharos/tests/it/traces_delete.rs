//! The trace delete API (`/api/traces/v1/delete`, shaped like Loki's) against the real binary:
//! 403 until the admin API is enabled; a request by tenant + time range + service hides exactly
//! its spans at once (the tenant's other services and other tenants stay), answers 400 on bad
//! input, survives kill -9, and once past `traces.delete_request_cancel_period` reads
//! `processed` and its spans are gone from the segments (they stay gone with the request file
//! removed).

use crate::common::Pharos;
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

const BASE: &str =
    "collectors: {self: {enabled: false}, host: {enabled: false}}\nsecurity: {enabled: false}\n";

/// pharos with the admin API on or off; `head_max_spans: 1` puts every span in a segment.
fn start(dir: &Path, admin: bool, cancel_period: &str) -> Pharos {
    let cfg = dir.join("pharos.yml");
    std::fs::write(
        &cfg,
        format!("{BASE}web: {{enable_admin_api: {admin}}}\ntraces:\n  head_max_spans: 1\n  delete_request_cancel_period: {cancel_period}\n"),
    )
    .unwrap();
    Pharos::start(&dir.join("data"), Some(&cfg))
}

pub(crate) fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A delete API shaped like Loki's (`path`, e.g. `/api/traces/v1/delete`) as one tenant
/// (`X-Scope-OrgID`, when given) sees it; the errors' API test uses it too.
pub(crate) struct DeleteApi<'a> {
    pub c: &'a Client,
    pub p: &'a Pharos,
    pub path: &'static str,
    pub tenant: Option<&'a str>,
}

impl DeleteApi<'_> {
    fn call(&self, m: reqwest::Method) -> reqwest::blocking::RequestBuilder {
        let r = self.c.request(m, self.p.url(self.path));
        match self.tenant {
            Some(t) => r.header("X-Scope-OrgID", t),
            None => r,
        }
    }

    /// Adds a request: the status, and the request id (or the answer's text).
    pub fn add(&self, q: &[(&str, String)]) -> (u16, String) {
        let r = self.call(reqwest::Method::POST).query(q).send().unwrap();
        let id = r
            .headers()
            .get("x-delete-request-id")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let status = r.status().as_u16();
        (status, id.unwrap_or_else(|| r.text().unwrap_or_default()))
    }

    /// The tenant's requests.
    pub fn list(&self) -> Vec<Value> {
        self.call(reqwest::Method::GET)
            .send()
            .unwrap()
            .json::<Vec<Value>>()
            .unwrap()
    }

    /// Cancels a request: the status.
    pub fn cancel(&self, id: &str, force: bool) -> u16 {
        let mut q = vec![("request_id", id)];
        if force {
            q.push(("force", "true"));
        }
        let r = self.call(reqwest::Method::DELETE).query(&q).send().unwrap();
        r.status().as_u16()
    }

    /// Waits (at most a minute) until every request reads `processed`.
    pub fn wait_processed(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let l = self.list();
            if l.iter().all(|r| r["status"] == "processed") {
                return;
            }
            assert!(Instant::now() < deadline, "not processed: {l:?}");
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

fn trace_id(n: u8) -> String {
    format!("{n:02x}").repeat(16)
}

/// One span of trace `n` of `service`, started a minute ago, pushed as `tenant`.
fn push(c: &Client, p: &Pharos, tenant: &str, n: u8, service: &str) {
    let start = (now_s() - 60) * 1_000_000_000;
    let body = json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"spans": [{"traceId": trace_id(n), "spanId": format!("{n:02x}").repeat(8),
            "name": "op", "startTimeUnixNano": start.to_string(),
            "endTimeUnixNano": (start + 1_000_000).to_string()}]}]}]});
    let r = c
        .post(p.url("/v1/traces"))
        .header("X-Scope-OrgID", tenant)
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap_or_default());
}

fn found(c: &Client, p: &Pharos, tenant: &str, n: u8) -> bool {
    let r = c
        .get(p.url(&format!("/api/traces/{}", trace_id(n))))
        .header("X-Scope-OrgID", tenant)
        .send()
        .unwrap();
    r.status() == 200
}

fn api<'a>(c: &'a Client, p: &'a Pharos, tenant: &'a str) -> DeleteApi<'a> {
    DeleteApi {
        c,
        p,
        path: "/api/traces/v1/delete",
        tenant: Some(tenant),
    }
}

#[test]
fn trace_delete_needs_the_admin_api() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(dir.path(), false, "24h");
    let c = Client::new();
    let (status, body) = api(&c, &p, "t1").add(&[("start", (now_s() - 60).to_string())]);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("enable_admin_api"), "{body}");
}

#[test]
fn trace_delete_hides_at_once_survives_kill9_and_removes_after_the_cancel_period() {
    let dir = tempfile::tempdir().unwrap();
    let c = Client::new();
    let p = start(dir.path(), true, "24h");
    push(&c, &p, "t1", 1, "checkout");
    push(&c, &p, "t1", 2, "db");
    push(&c, &p, "t2", 3, "checkout");
    assert!(found(&c, &p, "t1", 1));
    // Bad input answers 400 with Loki's words.
    let t1 = api(&c, &p, "t1");
    let (s, m) = t1.add(&[("service", "checkout".into())]);
    assert_eq!((s, m.trim()), (400, "start time not set"));
    let (s, m) = t1.add(&[
        ("start", (now_s() - 3600).to_string()),
        ("tags", "{".into()),
    ]);
    assert_eq!(s, 400, "{m}");
    let q = [
        ("start", (now_s() - 3600).to_string()),
        ("end", now_s().to_string()),
        ("service", "checkout".to_string()),
    ];
    let (s, id) = t1.add(&q);
    assert_eq!(s, 204, "{id}");
    // Hidden at once: only t1's checkout spans.
    assert!(!found(&c, &p, "t1", 1));
    assert!(found(&c, &p, "t1", 2));
    assert!(found(&c, &p, "t2", 3));
    let search: Value = c
        .get(p.url("/api/traces"))
        .header("X-Scope-OrgID", "t1")
        .query(&[("service", "checkout")])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(search["data"].as_array().map(Vec::len), Some(0), "{search}");
    let listed = t1.list();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["request_id"], id.as_str());
    assert_eq!(listed[0]["status"], "received");
    assert_eq!(listed[0]["service"], "checkout");
    assert!(api(&c, &p, "t2").list().is_empty());
    // A second request can be cancelled within the period.
    let (_, id2) = t1.add(&q);
    assert_eq!(t1.cancel(&id2, false), 204);
    assert_eq!(t1.list().len(), 1);
    p.kill9();

    // After kill -9 the request still hides the spans; with a short cancel period the pass
    // removes them from the segments and marks the request processed.
    let p = start(dir.path(), true, "2s");
    assert!(!found(&c, &p, "t1", 1), "the request survives kill -9");
    let t1 = api(&c, &p, "t1");
    t1.wait_processed();
    let m = c.get(p.url("/metrics")).send().unwrap().text().unwrap();
    assert!(
        m.contains("pharos_traces_deleted_spans_total 1\n"),
        "{}",
        m.lines()
            .filter(|l| l.starts_with("pharos_traces_del"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Processed requests cannot be cancelled.
    assert_eq!(t1.cancel(&id, true), 400);
    p.kill9();
    // Physically gone: without the request file the span does not come back.
    std::fs::remove_file(dir.path().join("data/traces/delete_requests.json")).unwrap();
    let p = start(dir.path(), true, "2s");
    assert!(!found(&c, &p, "t1", 1));
    assert!(found(&c, &p, "t1", 2));
    assert!(found(&c, &p, "t2", 3));
}
