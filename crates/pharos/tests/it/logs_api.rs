//! Integration tests of the log signal against the real binary: Loki push (JSON, protobuf+snappy,
//! gzip) on the main port and on the Loki compatibility listener configured by the CrewAI monitoring guide's
//! loki/config.yml, Loki query API shapes, limits and bad input as 4xx, tenants, and a kill -9
//! crash test (every acknowledged line is back after restart).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Srv {
    child: Child,
    base: String,
    loki: Option<String>,
}

impl Drop for Srv {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &Path, config: Option<&Path>, loki_listen: bool) -> Srv {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pharos"));
    cmd.arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data")
        .arg(data);
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    if loki_listen {
        cmd.arg("--loki-listen").arg("127.0.0.1:0");
    }
    let mut child = cmd
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut reader = BufReader::new(child.stderr.take().expect("stderr"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut base, mut loki) = (String::new(), None);
    let mut line = String::new();
    while Instant::now() < deadline {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some(r) = line.trim().strip_prefix("pharos: loki listening on ") {
            loki = Some(r.to_string());
        }
        if let Some(r) = line.trim().strip_prefix("pharos: listening on ") {
            base = r.to_string();
        }
        if !base.is_empty() && (loki.is_some() || !loki_listen) {
            break;
        }
    }
    assert!(!base.is_empty(), "pharos did not start");
    std::thread::spawn(move || {
        let mut s = String::new();
        while reader.read_line(&mut s).unwrap_or(0) > 0 {
            s.clear();
        }
    });
    Srv { child, base, loki }
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn push_json(
    c: &reqwest::blocking::Client,
    base: &str,
    tenant: Option<&str>,
    body: &serde_json::Value,
) -> reqwest::blocking::Response {
    let mut r = c
        .post(format!("{base}/loki/api/v1/push"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(t) = tenant {
        r = r.header("X-Scope-OrgID", t);
    }
    r.send().unwrap()
}

fn query_range(
    c: &reqwest::blocking::Client,
    base: &str,
    tenant: Option<&str>,
    q: &str,
    extra: &[(&str, &str)],
) -> (u16, String) {
    let start = (now_ns() - 3_600_000_000_000).to_string();
    let end = (now_ns() + 60_000_000_000).to_string();
    let mut params = extra.to_vec();
    params.extend_from_slice(&[
        ("query", q),
        ("start", start.as_str()),
        ("end", end.as_str()),
        ("limit", "5000"),
    ]);
    let mut r = c
        .get(format!("{base}/loki/api/v1/query_range"))
        .query(&params);
    if let Some(t) = tenant {
        r = r.header("X-Scope-OrgID", t);
    }
    let resp = r.send().unwrap();
    (resp.status().as_u16(), resp.text().unwrap())
}

/// Protobuf `logproto.PushRequest` with one stream, written by hand (field numbers from Loki's push.proto).
fn proto_push(labels: &str, entries: &[(i64, &str)]) -> Vec<u8> {
    fn varint(o: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            o.push((v as u8) | 0x80);
            v >>= 7;
        }
        o.push(v as u8);
    }
    fn field(o: &mut Vec<u8>, tag: u32, bytes: &[u8]) {
        varint(o, ((tag << 3) | 2) as u64);
        varint(o, bytes.len() as u64);
        o.extend_from_slice(bytes);
    }
    let mut stream = Vec::new();
    field(&mut stream, 1, labels.as_bytes());
    for (ts, line) in entries {
        let mut t = Vec::new();
        varint(&mut t, 8);
        varint(&mut t, (ts / 1_000_000_000) as u64);
        varint(&mut t, 16);
        varint(&mut t, (ts % 1_000_000_000) as u64);
        let mut e = Vec::new();
        field(&mut e, 1, &t);
        field(&mut e, 2, line.as_bytes());
        field(&mut stream, 2, &e);
    }
    let mut req = Vec::new();
    field(&mut req, 1, &stream);
    snap::raw::Encoder::new().compress_vec(&req).unwrap()
}

fn write_config(dir: &Path, loki_yaml: &str) -> std::path::PathBuf {
    let loki = dir.join("loki.yml");
    std::fs::write(&loki, loki_yaml).unwrap();
    let p = dir.join("pharos.yml");
    std::fs::write(&p, format!("loki_config: {}\n", loki.display())).unwrap();
    p
}

#[test]
fn loki_push_and_query_api() {
    let d = tempfile::tempdir().unwrap();
    let guide = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/loki/config.yml"
    ))
    .unwrap();
    let cfg = write_config(d.path(), &guide);
    let s = start(&d.path().join("data"), Some(&cfg), true);
    let loki = s
        .loki
        .clone()
        .expect("the CrewAI monitoring guide's server.http_listen_port opens a Loki listener");
    let c = client();
    let t = now_ns();
    // JSON with structured metadata, on the Loki listener.
    let r = push_json(
        &c,
        &loki,
        None,
        &serde_json::json!({"streams":[{"stream":{"app":"api","level":"info"},"values":[
        [t.to_string(), "{\"msg\":\"hello\",\"status\":200}", {"trace_id":"abc123"}],
        [(t + 1).to_string(), "{\"msg\":\"slow\",\"status\":500}"]]}]}),
    );
    assert_eq!(r.status().as_u16(), 204, "{:?}", r.text());
    // protobuf + snappy on the main port.
    let r = c
        .post(format!("{}/loki/api/v1/push", s.base))
        .header("content-type", "application/x-protobuf")
        .body(proto_push(r#"{app="web"}"#, &[(t + 2, "proto line")]))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    // gzip JSON.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(serde_json::json!({"streams":[{"stream":{"app":"gz"},"values":[[(t + 3).to_string(), "zipped"]]}]}).to_string().as_bytes()).unwrap();
    let r = c
        .post(format!("{}/loki/api/v1/push", s.base))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);

    let (st, body) = query_range(
        &c,
        &s.base,
        None,
        r#"{app=~"api|web|gz"}"#,
        &[("direction", "forward")],
    );
    assert_eq!(st, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["resultType"], "streams");
    let lines: Vec<String> = v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e[1].as_str().unwrap().to_string())
        })
        .collect();
    for want in ["proto line", "zipped", "{\"msg\":\"slow\",\"status\":500}"] {
        assert!(
            lines.iter().any(|l| l == want),
            "{want} missing in {lines:?}"
        );
    }
    assert!(
        v["data"]["stats"]["summary"]["totalLinesProcessed"]
            .as_u64()
            .unwrap()
            >= 4
    );
    // Categorized labels: structured metadata as the third element.
    let r = c
        .get(format!("{}/loki/api/v1/query_range", s.base))
        .header("X-Loki-Response-Encoding-Flags", "categorize-labels")
        .query(&[
            ("query", r#"{app="api"} | json"#),
            ("start", &(t - 1000).to_string()),
            ("end", &(t + 1000).to_string()),
            ("direction", "forward"),
        ])
        .send()
        .unwrap();
    let v: serde_json::Value = r.json().unwrap();
    let first = &v["data"]["result"][0];
    assert_eq!(
        first["stream"],
        serde_json::json!({"app":"api","level":"info"})
    );
    let e0 = &first["values"][0];
    assert_eq!(e0[0], t.to_string());
    assert_eq!(e0[2]["structuredMetadata"]["trace_id"], "abc123");
    assert_eq!(e0[2]["parsed"]["msg"], "hello");
    // Metric query: instant vector.
    let r = c
        .get(format!("{}/loki/api/v1/query", s.base))
        .query(&[
            (
                "query",
                r#"sum by (app) (count_over_time({app=~".+"}[5m]))"#,
            ),
            ("time", &(t + 1_000_000_000).to_string()),
        ])
        .send()
        .unwrap();
    let v: serde_json::Value = r.json().unwrap();
    assert_eq!(v["data"]["resultType"], "vector");
    let res = v["data"]["result"].as_array().unwrap();
    let api = res.iter().find(|x| x["metric"]["app"] == "api").unwrap();
    assert_eq!(api["value"][1], "2");
    // Matrix.
    let (st, body) = query_range(
        &c,
        &s.base,
        None,
        r#"count_over_time({app="api"}[1m])"#,
        &[("step", "60")],
    );
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("\"resultType\":\"matrix\""));
    // Labels, values, series, index stats, buildinfo, ready.
    let v: serde_json::Value = c
        .get(format!("{}/loki/api/v1/labels", s.base))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(v["data"], serde_json::json!(["app", "level"]));
    let v: serde_json::Value = c
        .get(format!("{}/loki/api/v1/label/app/values", s.base))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(v["data"], serde_json::json!(["api", "gz", "web"]));
    let v: serde_json::Value = c
        .get(format!("{}/loki/api/v1/series", s.base))
        .query(&[("match[]", r#"{app="web"}"#)])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(v["data"], serde_json::json!([{"app":"web"}]));
    let v: serde_json::Value = c
        .get(format!("{}/loki/api/v1/index/stats", s.base))
        .query(&[("query", r#"{app="api"}"#)])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(v["streams"], 1);
    assert_eq!(v["entries"], 2);
    let v: serde_json::Value = c
        .get(format!("{}/loki/api/v1/index/volume", s.base))
        .query(&[("query", r#"{app=~"api|web"}"#)])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        v["data"]["result"][0]["metric"],
        serde_json::json!({"app": "api"})
    );
    assert_eq!(v["data"]["result"].as_array().unwrap().len(), 2);
    assert!(c
        .get(format!("{}/loki/api/v1/status/buildinfo", s.base))
        .send()
        .unwrap()
        .text()
        .unwrap()
        .contains("version"));
    assert_eq!(
        c.get(format!("{loki}/ready"))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        200
    );

    // Bad input: 4xx with a message, never a crash.
    let r = c
        .post(format!("{}/loki/api/v1/push", s.base))
        .header("content-type", "application/json")
        .body("{\"streams\":[")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = c
        .post(format!("{}/loki/api/v1/push", s.base))
        .header("content-type", "application/x-protobuf")
        .body(vec![1u8, 2, 3, 255, 0])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let huge = "x".repeat(300 * 1024);
    let r = push_json(
        &c,
        &s.base,
        None,
        &serde_json::json!({"streams":[{"stream":{"app":"big"},"values":[[t.to_string(), huge]]}]}),
    );
    assert_eq!(r.status().as_u16(), 400);
    assert!(r
        .text()
        .unwrap()
        .contains("Max entry size '262144' bytes exceeded"));
    // reject_old_samples_max_age: 168h from the CrewAI monitoring guide config.
    let old = t - 8 * 86_400 * 1_000_000_000;
    let r = push_json(
        &c,
        &s.base,
        None,
        &serde_json::json!({"streams":[{"stream":{"app":"old"},"values":[[old.to_string(), "old"]]}]}),
    );
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().unwrap().contains("timestamp too old"));
    let (st, body) = query_range(&c, &s.base, None, r#"sum(rate({app="api"}[5m])"#, &[]);
    assert_eq!(st, 400);
    assert!(body.starts_with("parse error at line 1, col"), "{body}");
    let (st, _) = query_range(&c, &s.base, None, r#"{app="api"}"#, &[("limit", "100000")]);
    assert_eq!(st, 400);
    assert_eq!(
        push_json(
            &c,
            &s.base,
            None,
            &serde_json::json!({"streams":[{"stream":{},"values":[[t.to_string(), "x"]]}]})
        )
        .status()
        .as_u16(),
        400
    );

    // OTLP logs (JSON) become a stream with service_name.
    let otlp = serde_json::json!({"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"otel-svc"}}]},
        "scopeLogs":[{"logRecords":[{"timeUnixNano": t.to_string(),"severityText":"warn","body":{"stringValue":"otlp line"},"traceId":"5b8efff798038103d269b633813fc60c"}]}]}]});
    let r = c
        .post(format!("{}/v1/logs", s.base))
        .header("content-type", "application/json")
        .body(otlp.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (_, body) = query_range(
        &c,
        &s.base,
        None,
        r#"{service_name="otel-svc"} | trace_id="5b8efff798038103d269b633813fc60c""#,
        &[],
    );
    assert!(body.contains("otlp line"), "{body}");
}

#[test]
fn tenants_are_isolated_when_auth_enabled() {
    let d = tempfile::tempdir().unwrap();
    let cfg = write_config(d.path(), "auth_enabled: true\nlimits_config:\n  ingestion_rate_mb: 0.001\n  ingestion_burst_size_mb: 0.002\n");
    let s = start(&d.path().join("data"), Some(&cfg), false);
    let c = client();
    let t = now_ns();
    let body = serde_json::json!({"streams":[{"stream":{"app":"a"},"values":[[t.to_string(), "tenant one"]]}]});
    assert_eq!(push_json(&c, &s.base, None, &body).status().as_u16(), 401);
    assert_eq!(
        push_json(&c, &s.base, Some("one"), &body).status().as_u16(),
        204
    );
    let (st, b) = query_range(&c, &s.base, Some("one"), r#"{app="a"}"#, &[]);
    assert_eq!(st, 200);
    assert!(b.contains("tenant one"));
    let (_, b) = query_range(&c, &s.base, Some("two"), r#"{app="a"}"#, &[]);
    assert!(!b.contains("tenant one"), "{b}");
    let (st, _) = query_range(&c, &s.base, None, r#"{app="a"}"#, &[]);
    assert_eq!(st, 401);
    // Ingestion rate: burst of ~2KB per tenant -> 429 with Loki's message.
    let big = serde_json::json!({"streams":[{"stream":{"app":"a"},"values":[[t.to_string(), "y".repeat(4000)]]}]});
    let r = push_json(&c, &s.base, Some("one"), &big);
    assert_eq!(r.status().as_u16(), 429);
    assert!(r
        .text()
        .unwrap()
        .contains("Ingestion rate limit exceeded for user one"));
}

#[test]
fn kill9_keeps_every_acknowledged_line() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let s = start(&data, None, false);
    let base = s.base.clone();
    let acked = std::sync::Arc::new(parking_lot_free::Acked::default());
    let mut handles = Vec::new();
    for w in 0..4 {
        let base = base.clone();
        let acked = acked.clone();
        handles.push(std::thread::spawn(move || {
            let c = client();
            for i in 0..100_000 {
                let line = format!("w{w} line {i}");
                let body = serde_json::json!({"streams":[{"stream":{"app":"crash","w":w.to_string()},"values":[[now_ns().to_string(), line.clone()]]}]});
                match c.post(format!("{base}/loki/api/v1/push")).header("content-type", "application/json").body(body.to_string()).send() {
                    Ok(r) if r.status().as_u16() == 204 => acked.push(line),
                    _ => return,
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(1500));
    drop(s); // SIGKILL
    for h in handles {
        let _ = h.join();
    }
    let acked = acked.take();
    assert!(
        acked.len() > 10,
        "too few pushes acknowledged: {}",
        acked.len()
    );
    let s = start(&data, None, false);
    let c = client();
    let mut got = std::collections::HashSet::new();
    for w in 0..4 {
        let (st, body) = query_range(
            &c,
            &s.base,
            None,
            &format!(r#"{{app="crash", w="{w}"}}"#),
            &[],
        );
        assert_eq!(st, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        for st in v["data"]["result"].as_array().unwrap() {
            for e in st["values"].as_array().unwrap() {
                got.insert(e[1].as_str().unwrap().to_string());
            }
        }
    }
    let missing: Vec<_> = acked.iter().filter(|l| !got.contains(*l)).take(5).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged lines lost after kill -9, e.g. {missing:?}",
        acked.iter().filter(|l| !got.contains(*l)).count()
    );
}

mod parking_lot_free {
    #[derive(Default)]
    pub struct Acked(std::sync::Mutex<Vec<String>>);
    impl Acked {
        pub fn push(&self, s: String) {
            self.0.lock().unwrap().push(s);
        }
        pub fn take(&self) -> Vec<String> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }
}

/// Reads one unmasked server WebSocket frame's payload.
fn ws_read_frame(s: &mut std::net::TcpStream) -> (u8, Vec<u8>) {
    use std::io::Read;
    let mut h = [0u8; 2];
    s.read_exact(&mut h).unwrap();
    let mut len = (h[1] & 0x7f) as u64;
    if len == 126 {
        let mut b = [0u8; 2];
        s.read_exact(&mut b).unwrap();
        len = u16::from_be_bytes(b) as u64;
    } else if len == 127 {
        let mut b = [0u8; 8];
        s.read_exact(&mut b).unwrap();
        len = u64::from_be_bytes(b);
    }
    let mut p = vec![0u8; len as usize];
    s.read_exact(&mut p).unwrap();
    (h[0] & 0x0f, p)
}

#[test]
fn tail_over_websocket() {
    use std::io::Read;
    let d = tempfile::tempdir().unwrap();
    let s = start(&d.path().join("data"), None, false);
    let c = client();
    let t = now_ns();
    let r = push_json(
        &c,
        &s.base,
        None,
        &serde_json::json!({"streams":[{"stream":{"app":"tail"},"values":[[t.to_string(), "before"]]}]}),
    );
    assert_eq!(r.status().as_u16(), 204);
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut ws = std::net::TcpStream::connect(&addr).unwrap();
    ws.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let q = "%7Bapp%3D%22tail%22%7D%20%7C%3D%20%22e%22";
    write!(ws, "GET /loki/api/v1/tail?query={q} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        ws.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    // History first.
    let (op, p) = ws_read_frame(&mut ws);
    assert_eq!(op, 1);
    let v: serde_json::Value = serde_json::from_slice(&p).unwrap();
    assert_eq!(v["streams"][0]["stream"]["app"], "tail");
    assert_eq!(v["streams"][0]["values"][0][1], "before");
    // Then live lines that pass the filter.
    let r = push_json(
        &c,
        &s.base,
        None,
        &serde_json::json!({"streams":[{"stream":{"app":"tail"},"values":[[(t + 1).to_string(), "xyz"], [(t + 2).to_string(), "live one"]]}]}),
    );
    assert_eq!(r.status().as_u16(), 204);
    let (_, p) = ws_read_frame(&mut ws);
    let v: serde_json::Value = serde_json::from_slice(&p).unwrap();
    let lines: Vec<&str> = v["streams"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[1].as_str().unwrap())
        .collect();
    assert_eq!(lines, vec!["live one"]);
    assert!(v.get("dropped_entries").is_some());
}
