//! Log, trace and error forwarding (`forward:` of pharos.yml) between two real pharos
//! processes: what the sender acknowledged reaches the receiver through the Loki push, OTLP/HTTP
//! and Sentry envelope endpoints, relabel rules drop what they should, and nothing is lost
//! across a receiver outage followed by a `kill -9` of the sender.

use crate::common::{free_port, push_loki, scripted_receiver, Pharos};
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

const KEY: &str = "0123456789abcdef0123456789abcdef";

pub(crate) const BASE: &str =
    "collectors: {self: {enabled: false}, host: {enabled: false}}\nsecurity: {enabled: false}\n";

fn projects() -> String {
    format!("errors:\n  projects:\n    - {{id: 1, name: api, keys: [{KEY}]}}\n")
}

fn receiver_config(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("receiver.yml");
    std::fs::write(&p, format!("{BASE}{}", projects())).unwrap();
    p
}

fn sender_config(dir: &Path, receiver: &str) -> std::path::PathBuf {
    let q = "queue_config: {batch_send_deadline: 100ms, min_backoff: 50ms, max_backoff: 300ms}";
    let host = receiver.trim_start_matches("http://");
    let p = dir.join("sender.yml");
    std::fs::write(
        &p,
        format!(
            "{BASE}{}forward:\n  logs:\n    - url: {receiver}/loki/api/v1/push\n      name: central\n      {q}\n      write_relabel_configs:\n        - {{source_labels: [secret], regex: 'yes', action: drop}}\n  traces:\n    - url: {receiver}/v1/traces\n      {q}\n  errors:\n    - url: http://{KEY}@{host}/1\n      {q}\n",
            projects()
        ),
    )
    .unwrap();
    p
}

pub(crate) fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

pub(crate) fn push_logs(p: &Pharos, from: u32, to: u32) {
    let base = now_ns();
    let values: Vec<Value> = (from..to)
        .map(|i| json!([(base + u128::from(i)).to_string(), format!("line {i}")]))
        .collect();
    push_loki(
        p,
        &json!({"streams": [
            {"stream": {"job": "fw", "secret": "no"}, "values": values},
            {"stream": {"job": "fw", "secret": "yes"}, "values": [[base.to_string(), format!("hidden {from}")]]}
        ]}),
    );
}

pub(crate) fn trace_id(i: u32) -> String {
    format!("{:032x}", 0xf0000 + i)
}

pub(crate) fn push_trace(c: &Client, p: &Pharos, i: u32) {
    let start = now_ns();
    let body = json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "fw-svc"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": trace_id(i), "spanId": format!("{:016x}", 0xa0 + i), "name": format!("op {i}"),
            "kind": 2, "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + 1_000_000).to_string()
        }]}]
    }]});
    let r = c
        .post(p.url("/v1/traces"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap_or_default());
}

fn event_id(i: u32) -> String {
    format!("{:032x}", 0xe0000 + i)
}

fn push_error(c: &Client, p: &Pharos, i: u32) {
    let ev = json!({"event_id": event_id(i), "platform": "python", "level": "error",
        "exception": {"values": [{"type": "ValueError", "value": format!("bad {i}")}]}});
    let payload = ev.to_string();
    let body = format!(
        "{}\n{}\n{payload}\n",
        json!({"event_id": event_id(i)}),
        json!({"type": "event", "length": payload.len()})
    );
    let r = c
        .post(p.url("/api/1/envelope/"))
        .header(
            "X-Sentry-Auth",
            format!("Sentry sentry_version=7, sentry_key={KEY}"),
        )
        .body(body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap_or_default());
}

/// Log lines of job `fw` on `p` (with duplicates, in any order).
pub(crate) fn lines(c: &Client, p: &Pharos) -> Vec<String> {
    let r = c
        .get(p.url("/loki/api/v1/query_range"))
        .query(&[
            ("query", "{job=\"fw\"}"),
            ("limit", "5000"),
            ("start", &(now_ns() - 3_600_000_000_000).to_string()),
            ("end", &(now_ns() + 60_000_000_000).to_string()),
        ])
        .send();
    let Ok(r) = r else { return Vec::new() };
    let v: Value = r.json().unwrap_or(Value::Null);
    let mut out = Vec::new();
    for s in v["data"]["result"].as_array().into_iter().flatten() {
        for e in s["values"].as_array().into_iter().flatten() {
            out.push(e[1].as_str().unwrap_or("").to_string());
        }
    }
    out
}

pub(crate) fn has_trace(c: &Client, p: &Pharos, i: u32) -> bool {
    c.get(p.url(&format!("/api/traces/{}", trace_id(i))))
        .send()
        .ok()
        .and_then(|r| r.json::<Value>().ok())
        .is_some_and(|v| {
            v["data"][0]["spans"]
                .as_array()
                .is_some_and(|s| !s.is_empty())
        })
}

fn has_event(c: &Client, p: &Pharos, i: u32) -> bool {
    c.get(p.url(&format!("/api/pharos/v1/errors/events/{}", event_id(i))))
        .send()
        .is_ok_and(|r| r.status() == 200)
}

pub(crate) fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

fn metric(c: &Client, p: &Pharos, name: &str, signal: &str) -> f64 {
    let text = c.get(p.url("/metrics")).send().unwrap().text().unwrap();
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(&format!("signal=\"{signal}\"")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn logs_traces_errors_forwarded_across_outage_and_kill9() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let rcfg = receiver_config(dir.path());
    let rdata = dir.path().join("receiver");
    let rextra: [&std::ffi::OsStr; 2] = ["--config".as_ref(), rcfg.as_os_str()];
    let receiver = Pharos::start_listen("serve", &listen, &rdata, &rextra);
    let scfg = sender_config(dir.path(), &receiver.base);
    let sdata = dir.path().join("sender");
    let sender = Pharos::start(&sdata, Some(&scfg));
    let c = Client::new();

    // Round 1: everything arrives; the relabel rule keeps secret="yes" away.
    push_logs(&sender, 0, 50);
    for i in 0..3 {
        push_trace(&c, &sender, i);
        push_error(&c, &sender, i);
    }
    wait_for("round 1 logs", || lines(&c, &receiver).len() >= 50);
    wait_for("round 1 traces", || {
        (0..3).all(|i| has_trace(&c, &receiver, i))
    });
    wait_for("round 1 errors", || {
        (0..3).all(|i| has_event(&c, &receiver, i))
    });
    let got = lines(&c, &receiver);
    assert!(got.iter().all(|l| !l.starts_with("hidden")), "{got:?}");
    assert_eq!(
        metric(&c, &sender, "pharos_forward_items_sent_total", "logs"),
        50.0
    );
    assert_eq!(
        metric(&c, &sender, "pharos_forward_items_dropped_total", "logs"),
        1.0
    );
    assert_eq!(
        metric(&c, &sender, "pharos_forward_items_sent_total", "traces"),
        3.0
    );
    assert_eq!(
        metric(&c, &sender, "pharos_forward_items_sent_total", "errors"),
        3.0
    );

    // Round 2: the receiver is down; the sender acknowledges, retries, then dies by kill -9.
    receiver.kill9();
    push_logs(&sender, 50, 120);
    for i in 3..6 {
        push_trace(&c, &sender, i);
        push_error(&c, &sender, i);
    }
    wait_for("retries while the receiver is down", || {
        metric(&c, &sender, "pharos_forward_items_retried_total", "logs") > 0.0
            && metric(&c, &sender, "pharos_forward_pending_bytes", "logs") > 0.0
    });
    sender.kill9();

    // Both come back; the sender resumes from its saved positions.
    let sender = Pharos::start(&sdata, Some(&scfg));
    let receiver = Pharos::start_listen("serve", &listen, &rdata, &rextra);
    push_logs(&sender, 120, 130);
    wait_for("every acknowledged line", || {
        let got: BTreeSet<String> = lines(&c, &receiver).into_iter().collect();
        (0..130).all(|i| got.contains(&format!("line {i}")))
    });
    wait_for("every trace", || {
        (0..6).all(|i| has_trace(&c, &receiver, i))
    });
    wait_for("every error event", || {
        (0..6).all(|i| has_event(&c, &receiver, i))
    });
    let all = lines(&c, &receiver);
    let unique: BTreeSet<&String> = all.iter().collect();
    eprintln!(
        "forwarded lines: {} received, {} unique, {} duplicates (at-least-once)",
        all.len(),
        unique.len(),
        all.len() - unique.len()
    );
    assert!(all.iter().all(|l| !l.starts_with("hidden")));
    wait_for("pending drained", || {
        metric(&c, &sender, "pharos_forward_pending_bytes", "logs") == 0.0
    });
}

#[test]
fn bad_forward_config_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("pharos.yml");
    std::fs::write(
        &p,
        format!("{BASE}forward:\n  traces:\n    - url: http://127.0.0.1:1/v1/traces\n      format: loki\n"),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pharos"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&p)
        .arg("--data")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "forward.traces http://127.0.0.1:1/v1/traces: format \"loki\" is not one of otlp"
        ),
        "{err}"
    );
}

/// Elasticsearch `_bulk` forwarding: a 429 is resent after its `Retry-After` (not the 10 ms
/// backoff) with the same documents, a 400 drops the batch (counted as failed) and later lines
/// still go; the body is `create` actions with `@timestamp`, `message` and the stream labels.
#[test]
fn elasticsearch_bulk_retry_after_and_refusal() {
    let (url, hits) = scripted_receiver(vec![(429, "retry-after: 1\r\n"), (400, "")]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(
        &cfg,
        format!("{BASE}forward:\n  logs:\n    - url: {url}\n      format: elasticsearch\n      index: app\n      name: es\n      bearer_token: s3cret\n      queue_config: {{batch_send_deadline: 50ms, min_backoff: 10ms, max_backoff: 20ms}}\n"),
    )
    .unwrap();
    let p = Pharos::start(&dir.path().join("data"), Some(&cfg));
    let c = Client::new();
    push_logs(&p, 0, 3);
    let deadline = Instant::now() + Duration::from_secs(20);
    while hits.lock().unwrap().len() < 3 && Instant::now() < deadline {
        if hits.lock().unwrap().len() == 2 {
            push_logs(&p, 3, 4);
            std::thread::sleep(Duration::from_millis(500));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let hits = hits.lock().unwrap();
    assert!(hits.len() >= 3, "only {} requests", hits.len());
    let waited = hits[1].at - hits[0].at;
    assert!(
        waited >= Duration::from_millis(900),
        "Retry-After ignored: {waited:?}"
    );
    assert_eq!(
        hits[0].body, hits[1].body,
        "the 429'd batch was not resent as it was"
    );
    for want in [
        "content-type: application/x-ndjson",
        "content-encoding: gzip",
        "authorization: bearer s3cret",
    ] {
        assert!(
            hits[0].headers.iter().any(|h| h == want),
            "{want}: {:?}",
            hits[0].headers
        );
    }
    let body = crate::forward_compression::gunzip(&hits[0].body);
    let lines: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // 3 lines of the kept stream and 1 of the other (no rules here).
    assert_eq!(lines.len(), 8, "{body}");
    assert_eq!(lines[0], json!({"create": {"_index": "app"}}));
    assert_eq!(lines[1]["job"], "fw");
    assert!(lines[1]["@timestamp"].as_str().unwrap().ends_with('Z'));
    assert!(lines.iter().any(|d| d["message"] == "line 2"));
    let later = crate::forward_compression::gunzip(&hits[2].body);
    assert!(
        later.contains("line 3") && !later.contains("line 2\""),
        "{later}"
    );
    assert_eq!(
        metric(&c, &p, "pharos_forward_items_failed_total", "logs"),
        4.0
    );
    assert_eq!(
        metric(&c, &p, "pharos_forward_items_retried_total", "logs"),
        4.0
    );
}
