//! Integration tests of the trace surfaces against the real binary on port 0: Jaeger Thrift and
//! gzip'd OTLP protobuf ingest read back through the Jaeger and Zipkin query APIs, and span-metric
//! counters that stay exact across a `kill -9` (recounted from the WAL past the saved snapshot).

use crate::common::Pharos;
use std::io::Write;
use std::time::{Duration, Instant};
use traces::jaeger_thrift::encode::{batch, JSpan};
use traces::span::{KeyValue, Value};
use traces::TraceId;

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("pharos.yml");
    std::fs::write(&p, "traces:\n  span_metrics:\n    flush_interval: 200ms\n").unwrap();
    p
}

fn jaeger_body(trace: u64, n: usize) -> Vec<u8> {
    let t = now_us();
    let spans: Vec<JSpan> = (0..n)
        .map(|i| JSpan {
            trace_id: TraceId::from_parts(0, trace),
            span_id: i as u64 + 1,
            parent_span_id: i as u64,
            name: if i == 0 {
                "GET /email"
            } else {
                "email.process"
            },
            start_us: t + i as i64 * 10,
            duration_us: 5000,
            tags: vec![
                KeyValue::str("span.kind", if i == 0 { "server" } else { "internal" }),
                KeyValue::new("email.priority", Value::Str("high".into())),
            ],
            logs: vec![],
        })
        .collect();
    batch("crewai-api", &[KeyValue::str("hostname", "h")], &spans)
}

fn calls_total(client: &reqwest::blocking::Client, p: &Pharos) -> f64 {
    let body: serde_json::Value = client
        .get(p.url("/api/v1/query"))
        .query(&[("query", "sum(traces_spanmetrics_calls_total)")])
        .send()
        .unwrap()
        .json()
        .unwrap();
    body["data"]["result"][0]["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0)
}

fn wait_calls(client: &reqwest::blocking::Client, p: &Pharos, want: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut v = 0.0;
    while Instant::now() < deadline {
        v = calls_total(client, p);
        if v == want {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    v
}

#[test]
fn jaeger_thrift_and_otlp_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let p = Pharos::start(&dir.path().join("data"), Some(&config(dir.path())));
    let c = reqwest::blocking::Client::new();
    let r = c
        .post(p.url("/api/traces"))
        .header("content-type", "application/x-thrift")
        .body(jaeger_body(0xabc, 2))
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);

    // OTLP protobuf, gzip-compressed, joining the same trace late.
    let span = traces::Span {
        trace_id: TraceId::from_parts(0, 0xabc),
        span_id: traces::SpanId::from_u64(9),
        parent_span_id: traces::SpanId::from_u64(2),
        trace_state: String::new(),
        name: "db.query".into(),
        kind: traces::SpanKind::Client,
        start_ns: now_us() as u64 * 1000,
        end_ns: now_us() as u64 * 1000 + 1_000_000,
        resource: std::sync::Arc::new(traces::span::Resource::new(vec![KeyValue::str(
            "service.name",
            "db-proxy",
        )])),
        scope: Default::default(),
        attributes: vec![],
        events: vec![],
        links: vec![],
        status_code: traces::StatusCode::Error,
        status_message: "timeout".into(),
        flags: 0,
    };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&traces::otlp::encode_protobuf(&[span]))
        .unwrap();
    let r = c
        .post(p.url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);

    let t: serde_json::Value = c
        .get(p.url("/api/traces/abc"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let spans = t["data"][0]["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 3);
    assert_eq!(t["data"][0]["traceID"], "0000000000000abc");
    let procs = t["data"][0]["processes"].as_object().unwrap();
    assert_eq!(procs.len(), 2);

    let found: serde_json::Value = c
        .get(p.url("/api/traces"))
        .query(&[
            ("service", "crewai-api"),
            ("operation", "email.process"),
            ("tags", r#"{"email.priority":"high"}"#),
            ("minDuration", "4ms"),
            ("lookback", "1h"),
        ])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(found["data"].as_array().unwrap().len(), 1, "{found}");
    let deps: serde_json::Value = c
        .get(p.url("/api/dependencies"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        deps["data"][0],
        serde_json::json!({"parent":"crewai-api","child":"db-proxy","callCount":1})
    );
    let z: serde_json::Value = c
        .get(p.url("/api/v2/trace/0000000000000abc"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(z.as_array().unwrap().len(), 3);
    let otlp_err = z
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "db.query")
        .unwrap();
    assert_eq!(otlp_err["tags"]["error"], "timeout");
    // OTLP JSON export (Tempo's v2 trace by id): decodes back into the same three spans.
    let o: serde_json::Value = c
        .get(p.url("/api/v2/traces/abc"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let back = traces::otlp::decode_json(o["trace"].to_string().as_bytes()).unwrap();
    assert_eq!(back.len(), 3);
    assert!(back
        .iter()
        .any(|s| s.name == "db.query" && s.service() == "db-proxy"));
}

#[test]
fn span_metrics_exact_across_kill9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = config(dir.path());
    let c = reqwest::blocking::Client::new();
    let p = Pharos::start(&data, Some(&cfg));
    let send = |p: &Pharos, trace: u64| {
        let r = c
            .post(p.url("/api/traces"))
            .header("content-type", "application/x-thrift")
            .body(jaeger_body(trace, 3))
            .send()
            .unwrap();
        assert_eq!(r.status(), 202);
    };
    send(&p, 1);
    assert_eq!(wait_calls(&c, &p, 3.0), 3.0);
    // Acknowledged but possibly not flushed when the process dies.
    send(&p, 2);
    p.kill9();
    let p = Pharos::start(&data, Some(&cfg));
    assert_eq!(wait_calls(&c, &p, 6.0), 6.0);
    send(&p, 3);
    assert_eq!(wait_calls(&c, &p, 9.0), 9.0);
}

#[test]
fn jaeger_agent_udp_binary() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(
        &cfg,
        format!("listeners:\n  jaeger_agent_binary: 127.0.0.1:{port}\n"),
    )
    .unwrap();
    let p = Pharos::start(&dir.path().join("data"), Some(&cfg));
    // Agent.emitBatch as a oneway call in the Thrift binary protocol (what Node's UDP sender writes).
    let mut d = vec![0x80, 0x01, 0x00, 0x04];
    d.extend_from_slice(&9i32.to_be_bytes());
    d.extend_from_slice(b"emitBatch");
    d.extend_from_slice(&1i32.to_be_bytes());
    d.extend_from_slice(&[12, 0, 1]);
    d.extend_from_slice(&jaeger_body(0xdef, 2));
    d.push(0);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let c = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut found = 0;
    while Instant::now() < deadline && found == 0 {
        sock.send_to(&d, ("127.0.0.1", port)).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let t: serde_json::Value = c
            .get(p.url("/api/traces/def"))
            .send()
            .unwrap()
            .json()
            .unwrap_or_default();
        found = t["data"][0]["spans"].as_array().map_or(0, |a| a.len());
    }
    assert_eq!(found, 2);
}
