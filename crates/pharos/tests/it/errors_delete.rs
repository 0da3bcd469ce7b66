//! The error delete API (`/api/errors/v1/delete`, shaped like Loki's) against the real binary:
//! 403 until the admin API is enabled; a request by time range + issue or project hides exactly
//! its events at once from every errors read (an issue left without events disappears, the
//! other issues stay), a cancelled request gives its events back, the request survives kill -9,
//! and once past `errors.delete_request_cancel_period` it reads `processed` and its events are
//! gone from the log (they stay gone with the request file removed).

use crate::common::Pharos;
use crate::traces_delete::{now_s, DeleteApi};
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::path::Path;

const KEY: &str = "0123456789abcdef0123456789abcdef";
const KEY2: &str = "fedcba9876543210fedcba9876543210";

fn start(dir: &Path, admin: bool, cancel_period: &str) -> Pharos {
    let cfg = dir.join("pharos.yml");
    std::fs::write(
        &cfg,
        format!(
            "collectors: {{self: {{enabled: false}}, host: {{enabled: false}}}}\nsecurity: {{enabled: false}}\nweb: {{enable_admin_api: {admin}}}\nerrors:\n  delete_request_cancel_period: {cancel_period}\n  projects:\n    - {{id: 1, name: api, keys: [{KEY}]}}\n    - {{id: 2, name: web, keys: [{KEY2}]}}\n"
        ),
    )
    .unwrap();
    Pharos::start(&dir.join("data"), Some(&cfg))
}

fn id(n: u32) -> String {
    format!("{n:032x}")
}

/// Event `n` of project 1 (KEY) or 2 (KEY2) raised in `func`, `ago` seconds old.
fn send(c: &Client, p: &Pharos, project: u32, n: u32, func: &str, ago: u64) {
    let key = if project == 1 { KEY } else { KEY2 };
    let ev = json!({
        "event_id": id(n), "platform": "python", "level": "error", "timestamp": now_s() - ago,
        "exception": {"values": [{"type": "ValueError", "value": "bad", "stacktrace": {"frames": [
            {"function": func, "module": "app.views", "lineno": 20, "in_app": true}]}}]},
    });
    let payload = ev.to_string();
    let body = format!(
        "{{\"event_id\":\"{}\"}}\n{{\"type\":\"event\",\"length\":{}}}\n{payload}\n",
        id(n),
        payload.len()
    );
    let r = c
        .post(p.url(&format!("/api/{project}/envelope/")))
        .header(
            "X-Sentry-Auth",
            format!("Sentry sentry_version=7, sentry_key={key}"),
        )
        .body(body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap_or_default());
}

fn event_found(c: &Client, p: &Pharos, n: u32) -> bool {
    let r = c
        .get(p.url(&format!("/api/pharos/v1/errors/events/{}", id(n))))
        .send()
        .unwrap();
    r.status() == 200
}

/// Issue id -> event count, by culprit function.
fn issues(c: &Client, p: &Pharos) -> Vec<(String, String, u64)> {
    let v: Value = c
        .get(p.url("/api/pharos/v1/errors/issues?status=all"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let mut out: Vec<(String, String, u64)> = v["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["culprit"].as_str().unwrap_or("").to_string(),
                i["id"].as_str().unwrap_or("").to_string(),
                i["count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    out.sort();
    out
}

fn api<'a>(c: &'a Client, p: &'a Pharos) -> DeleteApi<'a> {
    DeleteApi {
        c,
        p,
        path: "/api/errors/v1/delete",
        tenant: None,
    }
}

#[test]
fn errors_delete_needs_the_admin_api() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(dir.path(), false, "24h");
    let c = Client::new();
    let (status, body) = api(&c, &p).add(&[("start", (now_s() - 60).to_string())]);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("enable_admin_api"), "{body}");
}

#[test]
fn errors_delete_hides_at_once_survives_kill9_and_removes_after_the_cancel_period() {
    let dir = tempfile::tempdir().unwrap();
    let c = Client::new();
    let p = start(dir.path(), true, "24h");
    send(&c, &p, 1, 1, "handler", 60);
    send(&c, &p, 1, 2, "handler", 30);
    send(&c, &p, 1, 6, "third", 60);
    send(&c, &p, 2, 3, "other", 60);
    send(&c, &p, 2, 4, "other", 7200);
    let before = issues(&c, &p);
    assert_eq!(before.len(), 3, "{before:?}");
    let handler = before
        .iter()
        .find(|i| i.0.starts_with("handler"))
        .unwrap()
        .1
        .clone();
    let range = |q: &mut Vec<(&str, String)>| {
        q.push(("start", (now_s() - 3600).to_string()));
        q.push(("end", now_s().to_string()));
    };
    // Bad input answers 400.
    let d = api(&c, &p);
    let (s, m) = d.add(&[("issue", handler.clone())]);
    assert_eq!((s, m.trim()), (400, "start time not set"));
    let mut q = vec![("issue", "abc".to_string())];
    range(&mut q);
    assert_eq!(d.add(&q).0, 400);
    // Every event of issue `handler` in the range: the issue disappears at once.
    let mut q = vec![("issue", handler.clone())];
    range(&mut q);
    let (s, rid) = d.add(&q);
    assert_eq!(s, 204, "{rid}");
    // Project 2's events of the last hour: its issue keeps the older event.
    let mut q = vec![("project", "2".to_string())];
    range(&mut q);
    let (s, rid2) = d.add(&q);
    assert_eq!(s, 204, "{rid2}");
    let after = issues(&c, &p);
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(after.iter().any(|i| i.0.starts_with("third") && i.2 == 1));
    assert!(after.iter().any(|i| i.0.starts_with("other") && i.2 == 1));
    for n in [1, 2, 3] {
        assert!(!event_found(&c, &p, n), "event {n} is hidden");
    }
    assert!(event_found(&c, &p, 4) && event_found(&c, &p, 6));
    let r = c
        .get(p.url(&format!("/api/pharos/v1/errors/issues/{handler}")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
    let listed = d.list();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0]["request_id"], rid.as_str());
    assert_eq!(listed[0]["status"], "received");
    assert_eq!(listed[0]["issue"], handler.as_str());
    // A cancelled request gives its events back.
    let mut q = vec![("project", "1".to_string())];
    range(&mut q);
    let (_, rid3) = d.add(&q);
    assert!(!event_found(&c, &p, 6));
    assert_eq!(d.cancel(&rid3, false), 204);
    assert!(event_found(&c, &p, 6), "back after the cancel");
    assert!(!event_found(&c, &p, 1), "still hidden by the first request");
    assert_eq!(d.list().len(), 2);
    p.kill9();

    // After kill -9 the requests still hide the events; with a short cancel period the pass
    // removes them from the log and marks the requests processed.
    let p = start(dir.path(), true, "2s");
    assert!(!event_found(&c, &p, 1), "the request survives kill -9");
    assert_eq!(issues(&c, &p).len(), 2);
    api(&c, &p).wait_processed();
    let m = c.get(p.url("/metrics")).send().unwrap().text().unwrap();
    let mine: Vec<&str> = m
        .lines()
        .filter(|l| l.starts_with("pharos_errors_delete"))
        .collect();
    assert!(
        m.contains("pharos_errors_deleted_events_total 3\n")
            && m.contains("pharos_errors_delete_requests{status=\"processed\"} 2\n"),
        "{mine:?}"
    );
    p.kill9();
    // Physically gone: without the request file the events do not come back.
    std::fs::remove_file(dir.path().join("data/errors/delete_requests.json")).unwrap();
    let p = start(dir.path(), true, "2s");
    for n in [1, 2, 3] {
        assert!(!event_found(&c, &p, n), "event {n} is gone");
    }
    assert!(event_found(&c, &p, 4) && event_found(&c, &p, 6));
    assert_eq!(issues(&c, &p).len(), 2);
}
