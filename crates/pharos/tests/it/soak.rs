//! Fault campaign, soak: pharos under steady ingest on every signal (remote_write, scrapes of
//! local exporters, Loki push, OTLP traces, Sentry envelopes) plus a query load for `SOAK_SECS`
//! (60 s in CI; `bash bench/soak.sh` runs 30 min with the benchmark datasets' rates), sampling
//! its RSS and CPU into a printed curve; probes past the limits (per-tenant rates, per-stream
//! rate, request size) must answer 429/413 with a message. At the end pharos must be alive, its
//! RSS bounded (last third's mean at most `SOAK_MAX_GROWTH` % above the middle third's) and no
//! answer a 5xx.

use crate::common::{write_request, Pharos};
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const KEY: &str = "0123456789abcdef0123456789abcdef";
/// The main load's tenant; the limit probes use others.
const TENANT: &str = "soak";
/// Series per simulated host, as bench/run.sh's node-exporter dataset (64 CPU + 127 others).
const SERIES_PER_HOST: usize = 191;

fn env_u(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The load: every rate is per second of wall time.
struct Knobs {
    secs: u64,
    /// remote_write: hosts × 191 series, one sample each every `rw_interval` s.
    hosts: u64,
    rw_interval: u64,
    /// Scrapes: `targets` exporters × `target_series` series every `scrape_interval` s.
    targets: u64,
    target_series: u64,
    scrape_interval: u64,
    log_lines: u64,
    traces: u64,
    spans_per_trace: u64,
    errors: u64,
    /// Milliseconds between two queries of the query loop.
    query_ms: u64,
    sample_secs: u64,
    limit_secs: u64,
    max_growth_pct: u64,
}

impl Knobs {
    /// The short mode's figures unless overridden (bench/soak.sh sets the long mode's).
    fn from_env() -> Knobs {
        let secs = env_u("SOAK_SECS", 60);
        Knobs {
            secs,
            hosts: env_u("SOAK_HOSTS", 50),
            rw_interval: env_u("SOAK_RW_INTERVAL", 15).max(1),
            targets: env_u("SOAK_TARGETS", 5),
            target_series: env_u("SOAK_TARGET_SERIES", 1500),
            scrape_interval: env_u("SOAK_SCRAPE_INTERVAL", 5).max(1),
            log_lines: env_u("SOAK_LOG_LINES", 500),
            traces: env_u("SOAK_TRACES", 50),
            spans_per_trace: env_u("SOAK_SPANS_PER_TRACE", 10).max(1),
            errors: env_u("SOAK_ERRORS", 10),
            query_ms: env_u("SOAK_QUERY_MS", 500).max(10),
            sample_secs: env_u("SOAK_SAMPLE_SECS", (secs / 30).clamp(2, 60)),
            limit_secs: env_u("SOAK_LIMIT_SECS", (secs / 4).clamp(10, 60)),
            // A 60 s run is mostly the heads filling up (first series, first chunks): it
            // only catches gross growth; from 10 min on the heads are warm.
            max_growth_pct: env_u("SOAK_MAX_GROWTH", if secs >= 600 { 25 } else { 50 }),
        }
    }
}

/// Answers of one kind of request.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    items: AtomicU64,
    c4xx: AtomicU64,
    c5xx: AtomicU64,
    failed: AtomicU64,
    ms_total: AtomicU64,
    ms_max: AtomicU64,
}

/// Every kind of request the main load makes, by name.
struct Stats {
    kinds: Vec<(&'static str, Tally)>,
    /// The first few unexpected answers, for the failure message.
    unexpected: Mutex<Vec<String>>,
}

const KINDS: [&str; 9] = [
    "remote_write",
    "loki push",
    "otlp traces",
    "sentry envelope",
    "promql range (pushed)",
    "promql range (scraped)",
    "logql range",
    "trace search",
    "issue list",
];

impl Stats {
    fn new() -> Stats {
        Stats {
            kinds: KINDS.iter().map(|k| (*k, Tally::default())).collect(),
            unexpected: Mutex::new(Vec::new()),
        }
    }

    fn tally(&self, kind: &str) -> &Tally {
        &self
            .kinds
            .iter()
            .find(|(k, _)| *k == kind)
            .expect("a known kind")
            .1
    }

    fn items(&self, kind: &str) -> u64 {
        self.tally(kind).items.load(Relaxed)
    }

    /// Sends `req`, counts the answer under `kind` (`items` acknowledged when 2xx).
    fn send(&self, kind: &str, items: u64, req: reqwest::blocking::RequestBuilder) {
        let t = self.tally(kind);
        let start = Instant::now();
        let res = req.send();
        let ms = start.elapsed().as_millis() as u64;
        t.ms_total.fetch_add(ms, Relaxed);
        t.ms_max.fetch_max(ms, Relaxed);
        let note = match res {
            Ok(r) if r.status().is_success() => {
                let _ = r.bytes();
                t.ok.fetch_add(1, Relaxed);
                t.items.fetch_add(items, Relaxed);
                return;
            }
            Ok(r) => {
                let s = r.status().as_u16();
                if s >= 500 {
                    t.c5xx.fetch_add(1, Relaxed);
                } else {
                    t.c4xx.fetch_add(1, Relaxed);
                }
                format!("{kind}: {s} {}", clip(&r.text().unwrap_or_default()))
            }
            Err(e) => {
                t.failed.fetch_add(1, Relaxed);
                format!("{kind}: {e}")
            }
        };
        if let Ok(mut u) = self.unexpected.lock() {
            if u.len() < 20 {
                u.push(note);
            }
        }
    }
}

fn clip(s: &str) -> String {
    s.chars().take(200).collect()
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Runs `tick` every `period` until `stop`; a tick that overruns is not made up for.
fn paced(stop: &AtomicBool, period: Duration, mut tick: impl FnMut()) {
    let mut next = Instant::now();
    while !stop.load(Relaxed) {
        tick();
        next += period;
        let now = Instant::now();
        if next <= now {
            next = now;
        }
        // In short naps, so a stop is seen within 100 ms even with 15 s between ticks.
        while !stop.load(Relaxed) && Instant::now() < next {
            std::thread::sleep((next - Instant::now()).min(Duration::from_millis(100)));
        }
    }
}

/// `n` exporters on consecutive accept loops, each serving `series` counters that grow on
/// every scrape (keep-alive HTTP/1.1, as node_exporter); their `host:port`s.
fn exporters(n: u64, series: u64) -> Vec<String> {
    (0..n)
        .map(|i| {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an exporter port");
            let addr = l.local_addr().expect("local addr").to_string();
            std::thread::spawn(move || {
                let scrapes = Arc::new(AtomicU64::new(0));
                for s in l.incoming() {
                    let Ok(s) = s else { continue };
                    let scrapes = scrapes.clone();
                    std::thread::spawn(move || serve_exporter(s, i, series, &scrapes));
                }
            });
            addr
        })
        .collect()
}

fn serve_exporter(mut s: std::net::TcpStream, target: u64, series: u64, scrapes: &AtomicU64) {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    loop {
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut tmp) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
            }
        }
        if let Some(h) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..h + 4);
        }
        let n = scrapes.fetch_add(1, Relaxed) + 1;
        let mut body = String::with_capacity(series as usize * 48);
        body.push_str("# TYPE soak_exporter_requests_total counter\n");
        for j in 0..series {
            let v = n * (1 + (j * 7 + target) % 13);
            body.push_str(&format!(
                "soak_exporter_requests_total{{series=\"{j}\",group=\"{}\"}} {v}\n",
                j % 10
            ));
        }
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        if s.write_all(head.as_bytes()).is_err() || s.write_all(body.as_bytes()).is_err() {
            return;
        }
    }
}

/// bench/run.sh's node-exporter shape: per host 8 CPUs × 8 modes of
/// `node_cpu_seconds_total` and 127 other series, all with `instance` and `job`.
fn node_series(hosts: u64) -> Vec<Vec<(String, String)>> {
    let modes = [
        "idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice",
    ];
    let mut out = Vec::with_capacity(hosts as usize * SERIES_PER_HOST);
    for h in 0..hosts {
        let inst = format!("host-{h}:9100");
        let base = |name: &str| {
            vec![
                ("__name__".to_string(), name.to_string()),
                ("instance".to_string(), inst.clone()),
                ("job".to_string(), "node".to_string()),
            ]
        };
        for cpu in 0..8 {
            for m in modes {
                let mut l = base("node_cpu_seconds_total");
                l.push(("cpu".into(), cpu.to_string()));
                l.push(("mode".into(), m.into()));
                out.push(l);
            }
        }
        for k in 0..SERIES_PER_HOST - 64 {
            out.push(base(&format!("node_soak_gauge_{k}")));
        }
    }
    out
}

fn remote_write_loop(c: &Client, base: &str, k: &Knobs, st: &Stats, stop: &AtomicBool) {
    let series = node_series(k.hosts);
    let mut step = 0u64;
    paced(stop, Duration::from_secs(k.rw_interval), || {
        step += 1;
        let ts = (now_ns() / 1_000_000) as i64;
        // Four requests per round, as bench/run.sh's four senders.
        for part in series.chunks(series.len().div_ceil(4).max(1)) {
            let batch: Vec<_> = part
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let labels: Vec<(&str, &str)> =
                        l.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
                    (labels, vec![(ts, (step * (1 + i as u64 % 17)) as f64)])
                })
                .collect();
            st.send(
                "remote_write",
                part.len() as u64,
                c.post(format!("{base}/api/v1/write"))
                    .header("X-Scope-OrgID", TENANT)
                    .header("Content-Encoding", "snappy")
                    .header("Content-Type", "application/x-protobuf")
                    .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                    .body(write_request(&batch)),
            );
        }
    });
}

fn logs_loop(c: &Client, base: &str, k: &Knobs, st: &Stats, stop: &AtomicBool) {
    let per_tick = (k.log_lines / 10).max(1);
    let mut n = 0u64;
    paced(stop, Duration::from_millis(100), || {
        let t0 = now_ns();
        let mut streams: Vec<Value> = Vec::new();
        for app in 0..10u64 {
            let values: Vec<Value> = (0..per_tick.div_ceil(10))
                .map(|i| {
                    n += 1;
                    let (method, status) = match n % 20 {
                        0 => ("POST", 500),
                        1..=4 => ("POST", 201),
                        _ => ("GET", 200),
                    };
                    json!([(t0 + i as u128).to_string(), format!(
                        "{{\"method\":\"{method}\",\"path\":\"/api/items/{}\",\"status\":{status},\"duration_ms\":{},\"trace_id\":\"{n:032x}\",\"user\":\"u{}\"}}",
                        n % 997, n % 250, n % 40)])
                })
                .collect();
            streams.push(
                json!({"stream": {"job": "soak", "app": format!("app{app}")}, "values": values}),
            );
        }
        let items = per_tick.div_ceil(10) * 10;
        st.send(
            "loki push",
            items,
            c.post(format!("{base}/loki/api/v1/push"))
                .header("X-Scope-OrgID", TENANT)
                .json(&json!({ "streams": streams })),
        );
    });
}

fn traces_loop(c: &Client, base: &str, k: &Knobs, st: &Stats, stop: &AtomicBool) {
    let per_tick = (k.traces / 10).max(1);
    let mut n = 0u64;
    paced(stop, Duration::from_millis(100), || {
        let end = now_ns();
        let mut by_service: Vec<Vec<Value>> = vec![Vec::new(); 5];
        for _ in 0..per_tick {
            n += 1;
            let trace = format!("{:016x}{n:016x}", 0x50a4u64);
            for s in 0..k.spans_per_trace {
                let start = end - 50_000_000 + s as u128 * 1_000_000;
                let mut span = json!({"traceId": trace, "spanId": format!("{:08x}{s:08x}", n as u32),
                    "name": format!("GET /api/items/{}", s % 7), "kind": 2,
                    "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + 2_000_000).to_string(),
                    "attributes": [{"key": "http.status_code", "value": {"intValue": if n.is_multiple_of(25) {"500"} else {"200"}}}]});
                if s > 0 {
                    span["parentSpanId"] = json!(format!("{:08x}{:08x}", n as u32, 0));
                }
                by_service[(s % 5) as usize].push(span);
            }
        }
        let resources: Vec<Value> = by_service
            .into_iter()
            .enumerate()
            .filter(|(_, spans)| !spans.is_empty())
            .map(|(i, spans)| json!({
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": format!("soak-svc-{i}")}}]},
                "scopeSpans": [{"spans": spans}]}))
            .collect();
        st.send(
            "otlp traces",
            per_tick * k.spans_per_trace,
            c.post(format!("{base}/v1/traces"))
                .header("X-Scope-OrgID", TENANT)
                .json(&json!({ "resourceSpans": resources })),
        );
    });
}

/// A Sentry envelope holding one error event from one of 200 distinct stacks.
fn envelope(n: u64) -> String {
    let id = format!("{:016x}{n:016x}", 0x50a4u64);
    let stack = n % 200;
    let ev = json!({"event_id": id, "platform": "python", "level": "error",
        "release": "soak@1.0.0", "environment": "production", "user": {"id": format!("u{}", n % 40)},
        "exception": {"values": [{"type": format!("SoakError{}", stack % 20), "value": format!("item {n} failed"),
            "stacktrace": {"frames": [
                {"function": "handle", "module": "app.server", "lineno": 10, "in_app": true},
                {"function": format!("step_{stack}"), "module": "app.work", "lineno": 20 + stack, "in_app": true}]}}]}});
    let payload = ev.to_string();
    format!(
        "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\",\"length\":{}}}\n{payload}\n",
        payload.len()
    )
}

fn sentry(c: &Client, base: &str, tenant: &str, body: String) -> reqwest::blocking::RequestBuilder {
    c.post(format!("{base}/api/1/envelope/"))
        .header("X-Scope-OrgID", tenant)
        .header(
            "X-Sentry-Auth",
            format!("Sentry sentry_version=7, sentry_client=soak/1.0, sentry_key={KEY}"),
        )
        .body(body)
}

fn errors_loop(c: &Client, base: &str, k: &Knobs, st: &Stats, stop: &AtomicBool) {
    let per_tick = (k.errors / 10).max(1);
    let mut n = 0u64;
    paced(stop, Duration::from_millis(100), || {
        for _ in 0..per_tick {
            n += 1;
            st.send("sentry envelope", 1, sentry(c, base, TENANT, envelope(n)));
        }
    });
}

fn query_loop(c: &Client, base: &str, k: &Knobs, st: &Stats, stop: &AtomicBool) {
    let mut i = 0usize;
    paced(stop, Duration::from_millis(k.query_ms), || {
        let now_s = (now_ns() / 1_000_000_000) as u64;
        let (start, end) = ((now_s - 600).to_string(), now_s.to_string());
        let (start_ns, end_ns) = (format!("{start}000000000"), format!("{end}000000000"));
        i += 1;
        match i % 5 {
            0 => st.send(
                "promql range (pushed)",
                1,
                c.get(format!("{base}/api/v1/query_range"))
                    .header("X-Scope-OrgID", TENANT)
                    .query(&[
                        ("query", "sum by (mode) (rate(node_cpu_seconds_total[1m]))"),
                        ("start", &start),
                        ("end", &end),
                        ("step", "15"),
                    ]),
            ),
            1 => st.send(
                "promql range (scraped)",
                1,
                c.get(format!("{base}/api/v1/query_range")).query(&[
                    (
                        "query",
                        "sum by (group) (rate(soak_exporter_requests_total[1m]))",
                    ),
                    ("start", &start),
                    ("end", &end),
                    ("step", "15"),
                ]),
            ),
            2 => st.send(
                "logql range",
                1,
                c.get(format!("{base}/loki/api/v1/query_range"))
                    .header("X-Scope-OrgID", TENANT)
                    .query(&[
                        (
                            "query",
                            if i.is_multiple_of(2) {
                                "sum by (app) (count_over_time({job=\"soak\"} |= \"POST\" [1m]))"
                            } else {
                                "{job=\"soak\", app=\"app3\"} |= \"status\\\":500\" | json"
                            },
                        ),
                        ("start", &start_ns),
                        ("end", &end_ns),
                        ("step", "15"),
                        ("limit", "100"),
                    ]),
            ),
            3 => st.send(
                "trace search",
                1,
                c.get(format!(
                    "{base}/api/traces?service=soak-svc-{}&lookback=10m&limit=20",
                    i % 5
                ))
                .header("X-Scope-OrgID", TENANT),
            ),
            _ => st.send(
                "issue list",
                1,
                c.get(format!("{base}/api/pharos/v1/errors/issues"))
                    .header("X-Scope-OrgID", TENANT),
            ),
        }
    });
}

/// One probe past a limit: what was sent, the answer, whether it was the expected refusal.
struct Probe {
    name: &'static str,
    status: u16,
    message: String,
    ok: bool,
}

/// Pushes past each configured limit once; every answer must be the limit's 429/413 with a
/// message naming it. Tenants `flood` (tiny rates) and `wide` (no override) keep the main
/// load's tenant out of it.
fn probe_limits(c: &Client, base: &str, round: u64) -> Vec<Probe> {
    let mut out = Vec::new();
    let mut check =
        |name: &'static str, want: u16, needle: &str, req: reqwest::blocking::RequestBuilder| {
            // A 413 is answered before the body is read and the connection closed; a client
            // still writing may see the reset instead of the answer (no lingering close), so a
            // transport error is retried twice.
            let mut answer = (0, String::new());
            for _ in 0..3 {
                let Some(r) = req.try_clone() else { break };
                answer = match r.send() {
                    Ok(r) => (r.status().as_u16(), r.text().unwrap_or_default()),
                    Err(e) => (0, e.to_string()),
                };
                if answer.0 != 0 {
                    break;
                }
            }
            let (status, message) = answer;
            let ok = status == want && message.contains(needle);
            out.push(Probe {
                name,
                status,
                message: clip(&message),
                ok,
            });
        };
    let ts = (now_ns() / 1_000_000) as i64;
    let series: Vec<_> = (0..1000)
        .map(|i| (vec![("__name__", "flood_metric")], vec![(ts + i, i as f64)]))
        .collect();
    check(
        "metrics: tenant ingestion_rate (1000 samples, limit 100/s)",
        429,
        "ingestion rate limit",
        c.post(format!("{base}/api/v1/write"))
            .header("X-Scope-OrgID", "flood")
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .body(write_request(&series)),
    );
    let ns = now_ns().to_string();
    check(
        "logs: tenant ingestion_rate_mb (64 KB, limit 10 KB/s)",
        429,
        "Ingestion rate limit exceeded",
        c.post(format!("{base}/loki/api/v1/push"))
            .header("X-Scope-OrgID", "flood")
            .json(&json!({"streams": [{"stream": {"job": "flood"}, "values": [[ns, "x".repeat(64 << 10)]]}]})),
    );
    let lines: Vec<Value> = (0..24)
        .map(|i| json!([(now_ns() + i).to_string(), "w".repeat(64 << 10)]))
        .collect();
    check(
        "logs: per_stream_rate_limit (1.5 MB to one stream, 512 KB/s, burst 1 MB)",
        429,
        "Per stream rate limit exceeded",
        c.post(format!("{base}/loki/api/v1/push"))
            .header("X-Scope-OrgID", "wide")
            .json(&json!({"streams": [{"stream": {"job": "wide"}, "values": lines}]})),
    );
    let now = now_ns();
    check(
        "traces: tenant ingestion_rate_limit_bytes (3 KB span, burst 1500 B)",
        429,
        "RATE_LIMITED",
        c.post(format!("{base}/v1/traces"))
            .header("X-Scope-OrgID", "flood")
            .json(&json!({"resourceSpans": [{"scopeSpans": [{"spans": [{
                "traceId": format!("{:032x}", 0xf100du128 + round as u128), "spanId": "00f067aa0ba902b7",
                "name": "n".repeat(3000), "startTimeUnixNano": (now - 1000).to_string(),
                "endTimeUnixNano": now.to_string()}]}]}]})),
    );
    // 5 MB once gunzipped, a few KB on the wire: the trace API's own limit answers.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = gz.write_all(&vec![b' '; 5 << 20]);
    check(
        "traces: max_request_bytes (gzip of 5 MB, limit 4 MB)",
        413,
        "traces.limits.max_request_bytes",
        c.post(format!("{base}/v1/traces"))
            .header("X-Scope-OrgID", "wide")
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(gz.finish().unwrap_or_default()),
    );
    // Errors: the first event of a round may pass (burst 1), the next must be refused.
    let _ = sentry(c, base, "flood", envelope(1_000_000 + round * 2)).send();
    check(
        "errors: tenant errors_ingestion_rate (2 events, 0.01/s, burst 1)",
        429,
        "rate limit",
        sentry(c, base, "flood", envelope(1_000_001 + round * 2)),
    );
    if round == 0 {
        // The whole API's body limit (32 MB), once: one more MB than allowed.
        check(
            "logs: request body past 32 MB",
            413,
            "length limit exceeded",
            c.post(format!("{base}/loki/api/v1/push"))
                .header("X-Scope-OrgID", "wide")
                .header("content-type", "application/json")
                .body(vec![b' '; 33 << 20]),
        );
    }
    out
}

/// One point of the resource curve.
struct Sample {
    t: f64,
    rss_kb: u64,
    hwm_kb: u64,
    cpu_ticks: u64,
    trace_head: u64,
    head_series: u64,
}

fn proc_sample(pid: u32) -> Option<(u64, u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces): utime and stime are the 12th and 13th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some((kb("VmRSS:")?, kb("VmHWM:")?, ticks))
}

/// The sum of every sample of `metric` in pharos' own /metrics.
fn own_metric(c: &Client, base: &str, metric: &str) -> u64 {
    let text = c
        .get(format!("{base}/metrics"))
        .send()
        .and_then(|r| r.text())
        .unwrap_or_default();
    text.lines()
        .filter(|l| {
            l.strip_prefix(metric)
                .is_some_and(|r| r.starts_with(' ') || r.starts_with('{'))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn write_config(dir: &Path, k: &Knobs, targets: &[String]) -> PathBuf {
    let list: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: {i}s\n  scrape_timeout: {i}s\nscrape_configs:\n  - job_name: soak\n    static_configs:\n      - targets: [{}]\n",
            list.join(", "),
            i = k.scrape_interval
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("loki.yml"),
        "auth_enabled: true\nlimits_config:\n  per_stream_rate_limit: 512KB\n  per_stream_rate_limit_burst: 1MB\n",
    )
    .unwrap();
    let cfg = dir.join("pharos.yml");
    std::fs::write(
        &cfg,
        format!(
            "prometheus_config: {}\nloki_config: {}\n\
             collectors: {{self: {{enabled: false}}, host: {{enabled: false}}}}\n\
             security: {{enabled: false}}\n\
             traces:\n  limits: {{max_request_bytes: 4MB}}\n  head_max_spans: 20000\n\
             errors:\n  max_events_per_second: 0\n  projects:\n    - {{id: 1, name: soak, keys: [{KEY}]}}\n\
             tenants:\n  overrides:\n    flood: {{ingestion_rate: 100, ingestion_burst_size: 200, ingestion_rate_mb: 0.01, ingestion_burst_size_mb: 0.02, ingestion_rate_limit_bytes: 100, ingestion_burst_size_bytes: 1500, errors_ingestion_rate: 0.01, errors_ingestion_burst_size: 1}}\n",
            dir.join("prometheus.yml").display(),
            dir.join("loki.yml").display()
        ),
    )
    .unwrap();
    cfg
}

fn mean(v: &[u64]) -> f64 {
    v.iter().sum::<u64>() as f64 / v.len().max(1) as f64
}

#[test]
fn soak() {
    let k = Knobs::from_env();
    let dir = tempfile::tempdir().unwrap();
    let targets = exporters(k.targets, k.target_series);
    let cfg = write_config(dir.path(), &k, &targets);
    // The release binary when given (bench/soak.sh, CI's PHAROS_BIN), else the test build's.
    let bin = std::env::var_os("PHAROS_BIN")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_pharos")));
    let extra: [&std::ffi::OsStr; 2] = ["--config".as_ref(), cfg.as_os_str()];
    let mut p = Pharos::start_bin(
        &bin,
        "serve",
        "127.0.0.1:0",
        &dir.path().join("data"),
        &extra,
    );
    let pid = p.child.id();
    let base = p.base.clone();
    println!(
        "soak: {} for {} s; {} hosts x {SERIES_PER_HOST} series every {} s by remote_write, {} exporters x {} series scraped every {} s, {} log lines/s, {} traces x {} spans/s, {} error events/s, a query every {} ms",
        bin.display(), k.secs, k.hosts, k.rw_interval, k.targets, k.target_series, k.scrape_interval,
        k.log_lines, k.traces, k.spans_per_trace, k.errors, k.query_ms
    );

    let stats = Arc::new(Stats::new());
    let stop = Arc::new(AtomicBool::new(false));
    let k = Arc::new(k);
    type Loop = fn(&Client, &str, &Knobs, &Stats, &AtomicBool);
    let loops: [Loop; 5] = [
        remote_write_loop,
        logs_loop,
        traces_loop,
        errors_loop,
        query_loop,
    ];
    let workers: Vec<_> = loops
        .into_iter()
        .map(|f| {
            let (stats, stop, k, base) = (stats.clone(), stop.clone(), k.clone(), base.clone());
            std::thread::spawn(move || {
                let c = Client::builder()
                    .timeout(Duration::from_secs(60))
                    .build()
                    .expect("client");
                f(&c, &base, &k, &stats, &stop)
            })
        })
        .collect();

    let c = Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let t0 = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    let mut probes: Vec<Probe> = Vec::new();
    let mut next_probe = Duration::from_secs(5.min(k.secs / 2));
    let mut round = 0;
    println!(
        "{:>7} {:>8} {:>8} {:>6} {:>11} {:>10} {:>9} {:>8} {:>8} {:>9}",
        "t s",
        "RSS MiB",
        "HWM MiB",
        "CPU %",
        "samples rw",
        "log lines",
        "spans",
        "events",
        "series",
        "trc head"
    );
    let mut last: Option<(f64, u64)> = None;
    while t0.elapsed() < Duration::from_secs(k.secs) {
        std::thread::sleep(
            Duration::from_secs(k.sample_secs).min(
                Duration::from_secs(k.secs)
                    .saturating_sub(t0.elapsed())
                    .max(Duration::from_millis(10)),
            ),
        );
        if t0.elapsed() >= next_probe {
            probes.extend(probe_limits(&c, &base, round));
            round += 1;
            next_probe += Duration::from_secs(k.limit_secs);
        }
        let Some((rss, hwm, ticks)) = proc_sample(pid) else {
            break;
        };
        let t = t0.elapsed().as_secs_f64();
        let cpu = last.map_or(0.0, |(lt, lticks)| {
            (ticks - lticks) as f64 / 100.0 / (t - lt).max(0.001) * 100.0
        });
        last = Some((t, ticks));
        let s = Sample {
            t,
            rss_kb: rss,
            hwm_kb: hwm,
            cpu_ticks: ticks,
            trace_head: own_metric(&c, &base, "pharos_trace_store_head_spans"),
            head_series: own_metric(&c, &base, "prometheus_tsdb_head_series"),
        };
        println!(
            "{:>7.0} {:>8.1} {:>8.1} {:>6.1} {:>11} {:>10} {:>9} {:>8} {:>8} {:>9}",
            s.t,
            s.rss_kb as f64 / 1024.0,
            s.hwm_kb as f64 / 1024.0,
            cpu,
            stats.items("remote_write"),
            stats.items("loki push"),
            stats.items("otlp traces"),
            stats.items("sentry envelope"),
            s.head_series,
            s.trace_head
        );
        samples.push(s);
    }
    stop.store(true, Relaxed);
    for w in workers {
        let _ = w.join();
    }

    // Verdicts.
    let alive = p.child.try_wait().ok().flatten().is_none()
        && c.get(format!("{base}/-/ready"))
            .send()
            .is_ok_and(|r| r.status().is_success());
    let n = samples.len();
    let rss: Vec<u64> = samples.iter().map(|s| s.rss_kb).collect();
    let (middle, tail) = (mean(&rss[n / 3..2 * n / 3]), mean(&rss[2 * n / 3..]));
    let growth = (tail / middle.max(1.0) - 1.0) * 100.0;
    let secs = samples.last().map_or(0.0, |s| s.t);
    let cpu_s = samples.last().map_or(0, |s| s.cpu_ticks) as f64 / 100.0;
    let max_head = samples.iter().map(|s| s.trace_head).max().unwrap_or(0);
    println!("\nanswers of the main load:");
    println!(
        "{:<24} {:>9} {:>11} {:>6} {:>6} {:>6} {:>8} {:>8}",
        "kind", "2xx", "items", "4xx", "5xx", "no ans", "mean ms", "max ms"
    );
    let (mut bad4, mut bad5, mut failed) = (0, 0, 0);
    for (kind, t) in &stats.kinds {
        let ok = t.ok.load(Relaxed);
        let all = ok + t.c4xx.load(Relaxed) + t.c5xx.load(Relaxed) + t.failed.load(Relaxed);
        bad4 += t.c4xx.load(Relaxed);
        bad5 += t.c5xx.load(Relaxed);
        failed += t.failed.load(Relaxed);
        println!(
            "{kind:<24} {ok:>9} {:>11} {:>6} {:>6} {:>6} {:>8.1} {:>8}",
            t.items.load(Relaxed),
            t.c4xx.load(Relaxed),
            t.c5xx.load(Relaxed),
            t.failed.load(Relaxed),
            t.ms_total.load(Relaxed) as f64 / all.max(1) as f64,
            t.ms_max.load(Relaxed)
        );
    }
    let ingested: u64 = [
        "remote_write",
        "loki push",
        "otlp traces",
        "sentry envelope",
    ]
    .iter()
    .map(|k| stats.items(k))
    .sum();
    let scraped = own_metric(&c, &base, "prometheus_tsdb_head_samples_appended_total")
        .saturating_sub(stats.items("remote_write"));
    println!("\nlimit probes (refused as expected / sent, the last answer):");
    let mut names: Vec<&str> = probes.iter().map(|p| p.name).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let of: Vec<&Probe> = probes.iter().filter(|p| p.name == name).collect();
        let last = of[of.len() - 1];
        println!(
            "  {:>3}/{:<3} {name:<72} {} {}",
            of.iter().filter(|p| p.ok).count(),
            of.len(),
            last.status,
            clip(&last.message.replace('\n', " "))
        );
    }
    for pr in probes.iter().filter(|p| !p.ok) {
        println!("  FAIL {}: {} {}", pr.name, pr.status, pr.message);
    }
    println!(
        "\nsummary: {secs:.0} s, pharos {}; RSS middle third {:.1} MiB, last third {:.1} MiB ({growth:+.1} %, limit +{} %), peak (VmHWM) {:.1} MiB; CPU {cpu_s:.1} s = {:.1} % of one core, {:.2} us of CPU per ingested item of any signal ({ingested} pushed + ~{scraped} scraped samples); trace head max {max_head} spans (head_max_spans 20000); {bad4} 4xx, {bad5} 5xx, {failed} unanswered in the main load; {} limit probes, {} not refused as expected",
        if alive { "alive" } else { "DEAD" },
        middle / 1024.0,
        tail / 1024.0,
        k.max_growth_pct,
        samples.last().map_or(0, |s| s.hwm_kb) as f64 / 1024.0,
        cpu_s / secs.max(1.0) * 100.0,
        cpu_s * 1e6 / (ingested + scraped).max(1) as f64,
        probes.len(),
        probes.iter().filter(|p| !p.ok).count()
    );
    let unexpected = stats
        .unexpected
        .lock()
        .map(|u| u.clone())
        .unwrap_or_default();
    assert!(alive, "pharos died during the soak");
    assert!(n >= 3, "too few samples ({n})");
    assert!(
        growth <= k.max_growth_pct as f64,
        "RSS grew {growth:.1} % from the middle third to the last"
    );
    assert_eq!(
        bad5 + bad4 + failed,
        0,
        "unexpected answers: {unexpected:?}"
    );
    assert!(!probes.is_empty(), "no limit probe ran");
    assert!(
        probes.iter().all(|p| p.ok),
        "a limit was not refused as expected"
    );
    assert!(
        max_head <= 20_000 + k.traces * k.spans_per_trace,
        "trace head past its limit: {max_head}"
    );
    let _ = p.child.kill();
}
