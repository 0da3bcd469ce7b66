//! Per-tenant limits and retention of every signal through the real binary (pharos.yml
//! `tenants:` with the peers' names): a tenant past its logs rate, stream count or line size,
//! its traces' byte rate or live traces, or its error events per second gets the peer's 429
//! (or 400) while another tenant is accepted, and the discarded items are counted under the
//! peers' metric names; a tenant's short `retention_period` removes its old metric samples,
//! log lines, traces and error events while another tenant's stay.

use crate::common::{write_request, Pharos};
use reqwest::blocking::{Client, RequestBuilder};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const BASE: &str = "collectors: {self: {enabled: false}, host: {enabled: false}}\nsecurity: {enabled: false}\nerrors:\n  projects:\n    - {id: 1, name: api, keys: [k1]}\n";

fn start(dir: &std::path::Path, tenants: &str) -> Pharos {
    std::fs::write(dir.join("loki.yml"), "auth_enabled: true\n").unwrap();
    let cfg = dir.join("pharos.yml");
    std::fs::write(
        &cfg,
        format!("{BASE}loki_config: loki.yml\ntenants:\n{tenants}"),
    )
    .unwrap();
    Pharos::start(&dir.join("data"), Some(&cfg))
}

fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn tenant(r: RequestBuilder, t: &str) -> RequestBuilder {
    r.header("X-Scope-OrgID", t)
}

/// Pushes one line per `(labels value, line)` at `ts`; the status and body.
fn push_logs(c: &Client, p: &Pharos, t: &str, app: &str, line: &str, ts: u128) -> (u16, String) {
    let body = json!({"streams": [{"stream": {"app": app}, "values": [[ts.to_string(), line]]}]});
    let r = tenant(c.post(p.url("/loki/api/v1/push")), t)
        .json(&body)
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap_or_default())
}

fn log_lines(c: &Client, p: &Pharos, t: &str, query: &str) -> usize {
    let now = now_ns();
    let r = tenant(c.get(p.url("/loki/api/v1/query_range")), t)
        .query(&[
            ("query", query.to_string()),
            ("start", (now - 3_600_000_000_000).to_string()),
            ("end", (now + 1_000_000_000).to_string()),
            ("limit", "100".to_string()),
        ])
        .send()
        .unwrap();
    let v: Value = r.json().unwrap();
    v["data"]["result"].as_array().map_or(0, |a| {
        a.iter()
            .map(|s| s["values"].as_array().map_or(0, Vec::len))
            .sum()
    })
}

/// Pushes one OTLP/JSON span of `trace` ending at `end_ns`, named `name`; the status and body.
fn push_span(
    c: &Client,
    p: &Pharos,
    t: &str,
    trace: &str,
    name: &str,
    end_ns: u128,
) -> (u16, String) {
    let body = json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "limits-svc"}}]},
        "scopeSpans": [{"spans": [{"traceId": trace, "spanId": "00f067aa0ba902b7", "name": name,
            "startTimeUnixNano": (end_ns - 1000).to_string(), "endTimeUnixNano": end_ns.to_string()}]}]}]});
    let r = tenant(c.post(p.url("/v1/traces")), t)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap_or_default())
}

fn traces_found(c: &Client, p: &Pharos, t: &str) -> usize {
    let v: Value = tenant(
        c.get(p.url("/api/traces?service=limits-svc&lookback=2h&limit=20")),
        t,
    )
    .send()
    .unwrap()
    .json()
    .unwrap();
    v["data"].as_array().map_or(0, Vec::len)
}

fn send_error(c: &Client, p: &Pharos, t: &str, n: u32) -> reqwest::blocking::Response {
    let id = format!("{n:032x}");
    let ev = json!({"event_id": id, "platform": "python", "level": "error",
        "exception": {"values": [{"type": "ValueError", "value": "limited", "stacktrace": {"frames": [
            {"function": "f", "module": "app", "lineno": 1, "in_app": true}]}}]}})
    .to_string();
    let body = format!(
        "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\",\"length\":{}}}\n{ev}\n",
        ev.len()
    );
    tenant(c.post(p.url("/api/1/envelope/")), t)
        .header(
            "X-Sentry-Auth",
            "Sentry sentry_version=7, sentry_client=t/1.0, sentry_key=k1",
        )
        .body(body)
        .send()
        .unwrap()
}

fn issues(c: &Client, p: &Pharos, t: &str) -> usize {
    let v: Value = tenant(c.get(p.url("/api/pharos/v1/errors/issues")), t)
        .send()
        .unwrap()
        .json()
        .unwrap();
    v["issues"].as_array().map_or(0, Vec::len)
}

#[test]
fn limits_of_every_signal_per_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(
        dir.path(),
        "  overrides:\n    slow: {ingestion_rate_mb: 0.001, ingestion_burst_size_mb: 0.002, ingestion_rate_limit_bytes: 100, ingestion_burst_size_bytes: 1500, errors_ingestion_rate: 0.01, errors_ingestion_burst_size: 1}\n    narrow: {max_global_streams_per_user: 2, max_line_size: 10, max_traces_per_user: 1}\n",
    );
    let c = Client::new();
    let now = now_ns();

    // Logs rate: 4000 bytes exceed slow's burst of ~2 KB (Loki's 429 and message); another
    // tenant pushes the same.
    let big = "y".repeat(4000);
    let (s, m) = push_logs(&c, &p, "slow", "a", &big, now);
    assert_eq!(s, 429, "{m}");
    assert!(
        m.contains("Ingestion rate limit exceeded for user slow (limit: 1048 bytes/sec) while attempting to ingest '1' lines totaling '4000' bytes"),
        "{m}"
    );
    assert_eq!(push_logs(&c, &p, "other", "a", &big, now).0, 204);
    // Streams: two allowed; a third is refused, the first two still written to.
    for (app, want) in [("s1", 204), ("s2", 204), ("s3", 429), ("s1", 204)] {
        let (s, m) = push_logs(&c, &p, "narrow", app, "short", now);
        assert_eq!(s, want, "{app}: {m}");
        if want == 429 {
            assert!(m.contains("Maximum active stream limit exceeded"), "{m}");
        }
    }
    assert_eq!(push_logs(&c, &p, "other", "s3", "short", now).0, 204);
    // Line size: 10 bytes for narrow (Loki's 400), Loki's default for others.
    let (s, m) = push_logs(&c, &p, "narrow", "s1", "twenty bytes of text", now);
    assert_eq!(s, 400, "{m}");
    assert!(m.contains("Max entry size '10' bytes exceeded"), "{m}");
    assert_eq!(
        push_logs(&c, &p, "other", "s1", "twenty bytes of text", now).0,
        204
    );

    // Traces rate: one request larger than slow's burst of 1500 bytes.
    let long_name = "n".repeat(2000);
    let (s, m) = push_span(
        &c,
        &p,
        "slow",
        "0af7651916cd43dd8448eb211c803190",
        &long_name,
        now,
    );
    assert_eq!(s, 429, "{m}");
    assert!(m.contains("RATE_LIMITED: ingestion rate limit"), "{m}");
    let (s, m) = push_span(
        &c,
        &p,
        "other",
        "0af7651916cd43dd8448eb211c803190",
        &long_name,
        now,
    );
    assert_eq!(s, 200, "{m}");
    // Live traces: one for narrow; a second trace is refused, more spans of the first are not.
    let (ta, tb) = (
        "0af7651916cd43dd8448eb211c8031a1",
        "0af7651916cd43dd8448eb211c8031a2",
    );
    assert_eq!(push_span(&c, &p, "narrow", ta, "op", now).0, 200);
    let (s, m) = push_span(&c, &p, "narrow", tb, "op", now);
    assert_eq!(s, 429, "{m}");
    assert!(m.contains("LIVE_TRACES_EXCEEDED"), "{m}");
    assert_eq!(push_span(&c, &p, "narrow", ta, "op2", now).0, 200);
    assert_eq!(push_span(&c, &p, "other", tb, "op", now).0, 200);

    // Errors: a burst of one event for slow, then Sentry's 429 with its headers.
    assert_eq!(send_error(&c, &p, "slow", 1).status(), 200);
    let r = send_error(&c, &p, "slow", 2);
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1, "{retry}");
    let rl = r.headers()["x-sentry-rate-limits"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(rl, format!("{retry}::organization"));
    for n in 3..6 {
        assert_eq!(send_error(&c, &p, "other", n).status(), 200);
    }

    // The discarded items under the peers' names.
    let metrics = c.get(p.url("/metrics")).send().unwrap().text().unwrap();
    for want in [
        "loki_discarded_samples_total{reason=\"rate_limited\",tenant=\"slow\"} 1",
        "loki_discarded_samples_total{reason=\"stream_limit\",tenant=\"narrow\"} 1",
        "loki_discarded_samples_total{reason=\"line_too_long\",tenant=\"narrow\"} 1",
        "tempo_discarded_spans_total{reason=\"rate_limited\",tenant=\"slow\"} 1",
        "tempo_discarded_spans_total{reason=\"live_traces_exceeded\",tenant=\"narrow\"} 1",
        "pharos_errors_discarded_events_total{reason=\"rate_limited\",tenant=\"slow\"} 1",
    ] {
        assert!(metrics.contains(want), "{want} missing");
    }
}

#[test]
fn short_retention_removes_one_tenants_old_data() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(
        dir.path(),
        "  overrides:\n    short: {retention_period: 20s}\n    mimir: {compactor_blocks_retention_period: 20s}\n",
    );
    let c = Client::new();
    let now = now_ns();
    let old = now - 60_000_000_000;

    // Metrics at one minute ago, for each tenant.
    let old_ms = (old / 1_000_000) as i64;
    for t in ["short", "mimir", "long"] {
        let body = write_request(&[(
            vec![("__name__", "retained_metric"), ("job", "x")],
            vec![(old_ms, 1.0)],
        )]);
        let r = tenant(c.post(p.url("/api/v1/write")), t)
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .body(body)
            .send()
            .unwrap();
        assert_eq!(r.status(), 204, "{t}");
    }
    let metric = |t: &str| {
        let v: Value = tenant(c.get(p.url("/api/v1/query")), t)
            .query(&[
                ("query", "retained_metric".to_string()),
                ("time", format!("{}", (old_ms + 1000) as f64 / 1000.0)),
            ])
            .send()
            .unwrap()
            .json()
            .unwrap();
        v["data"]["result"].as_array().map_or(0, Vec::len)
    };
    assert_eq!(metric("long"), 1);
    assert_eq!(metric("short"), 0, "older than short's retention");
    assert_eq!(metric("mimir"), 0, "Mimir's alias");

    // Logs and traces of a minute ago, an error event now.
    for (t, trace) in [
        ("short", "0af7651916cd43dd8448eb211c8031b1"),
        ("long", "0af7651916cd43dd8448eb211c8031b2"),
    ] {
        assert_eq!(push_logs(&c, &p, t, "r", "old line", old).0, 204);
        let (s, m) = push_span(&c, &p, t, trace, "old", old);
        assert_eq!(s, 200, "{m}");
        assert_eq!(send_error(&c, &p, t, 7).status(), 200);
    }
    assert_eq!(traces_found(&c, &p, "long"), 1);
    assert_eq!(
        traces_found(&c, &p, "short"),
        0,
        "older than short's retention"
    );
    assert_eq!(log_lines(&c, &p, "long", "{app=\"r\"}"), 1);
    assert_eq!(issues(&c, &p, "short"), 1);

    // The retention loops (each minute) delete short's log chunks and error events.
    let deadline = Instant::now() + Duration::from_secs(150);
    loop {
        let (logs, errs) = (
            log_lines(&c, &p, "short", "{app=\"r\"}"),
            issues(&c, &p, "short"),
        );
        if logs == 0 && errs == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "short's data still there: {logs} lines, {errs} issues"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    assert_eq!(log_lines(&c, &p, "long", "{app=\"r\"}"), 1);
    assert_eq!(issues(&c, &p, "long"), 1);
    assert_eq!(traces_found(&c, &p, "long"), 1);
    assert_eq!(metric("long"), 1);
}
