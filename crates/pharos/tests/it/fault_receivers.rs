//! Fault campaign, slow or failing receivers: one pharos forwards to an in-test receiver with
//! every forwarder kind at once (remote_write, Loki push, Elasticsearch `_bulk`, OTLP/HTTP,
//! OTLP/gRPC, Sentry DSN) while the receiver is in turn slow (each answer delayed), failing
//! (HTTP 500 / gRPC UNAVAILABLE), throttling (429 with `Retry-After: 1` / RESOURCE_EXHAUSTED
//! with a 1 s `RetryInfo`) and down (connection refused), then healthy. Throughout, pharos'
//! own write endpoints keep acknowledging, its RSS stays within a generous bound of the RSS
//! at the start, the backlog shows in the queue metrics, throttled senders wait the asked
//! time, failing ones back off (no retry storm), and once the receiver is healthy every
//! acknowledged item arrives exactly once (no crash here and no answer slower than
//! `remote_timeout`, so nothing is resent; across a crash delivery is at-least-once, see
//! `forward_signals`). `PHAROS_FAULT_RECEIVER_SECS` sets each bad phase's length (default 5 s);
//! `PHAROS_FAULT_RECEIVER_CONTROL=1` keeps the receiver healthy through the same phases and
//! only prints the RSS per phase, the figure the bad run's RSS is to be compared with (the
//! stores' own growth under the same ingest).

use crate::common::{free_port, push_loki, write_request, Pharos};
use forward::signals::{RetryInfo, RpcAny, RpcDuration, RpcStatus};
use prost::Message;
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KEY: &str = "0123456789abcdef0123456789abcdef";
/// How long a slow receiver holds each answer.
const SLOW: Duration = Duration::from_millis(500);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Healthy,
    Slow,
    Failing,
    Throttling,
    Down,
}

/// One request the receiver answered: which forwarder kind, when it arrived, the status.
struct Hit {
    kind: &'static str,
    at: Instant,
    status: u16,
}

#[derive(Default)]
struct State {
    mode: Option<Mode>,
    /// Item ids acknowledged (2xx) per kind, duplicates kept.
    got: BTreeMap<&'static str, Vec<u64>>,
    hits: Vec<Hit>,
}

type Shared = Arc<Mutex<State>>;

fn mode(s: &Shared) -> Mode {
    s.lock().unwrap().mode.unwrap_or(Mode::Healthy)
}

fn ids_after(text: &str, prefix: &str) -> Option<u64> {
    text.strip_prefix(prefix)?.trim().parse().ok()
}

/// The kind of a request and the item ids it carries.
fn decode(path: &str, body: &[u8]) -> (&'static str, Vec<u64>) {
    let unsnappy = |b: &[u8]| {
        snap::raw::Decoder::new()
            .decompress_vec(b)
            .unwrap_or_default()
    };
    if path.contains("/api/v1/write") {
        let req = api::prometheus::remote_write::WriteRequest::decode(&unsnappy(body)[..]).unwrap();
        let mut ids = Vec::new();
        for ts in req.timeseries {
            if ts
                .labels
                .iter()
                .any(|l| l.name == "__name__" && l.value == "fault_m")
            {
                ids.extend(ts.samples.iter().map(|s| s.value as u64));
            }
        }
        ("remote_write", ids)
    } else if path.contains("/loki/api/v1/push") {
        let req = api::loki::push::PushRequest::decode(&unsnappy(body)[..]).unwrap();
        let ids = req
            .streams
            .iter()
            .flat_map(|s| &s.entries)
            .filter_map(|e| ids_after(&e.line, "fl "))
            .collect();
        ("loki", ids)
    } else if path.contains("/_bulk") {
        let text = crate::forward_compression::gunzip(body);
        let ids = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|d| ids_after(d["message"].as_str()?, "fl "))
            .collect();
        ("elasticsearch", ids)
    } else if path.contains("/v1/traces") {
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(body)
            .read_to_end(&mut raw)
            .unwrap();
        (
            "otlp_http",
            span_ids(&ExportTraceServiceRequest::decode(&raw[..]).unwrap()),
        )
    } else if path.contains("/envelope/") {
        let first = body.split(|b| *b == b'\n').next().unwrap_or_default();
        let v: Value = serde_json::from_slice(first).unwrap_or(Value::Null);
        let id = v["event_id"]
            .as_str()
            .and_then(|s| u64::from_str_radix(s, 16).ok())
            .map(|x| x - 0xe0000);
        ("sentry", id.into_iter().collect())
    } else {
        ("unknown", Vec::new())
    }
}

fn span_ids(
    req: &opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
) -> Vec<u64> {
    req.resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .filter_map(|s| ids_after(&s.name, "fs "))
        .collect()
}

/// Reads one HTTP/1.1 request: (path, body).
fn read_request(s: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 65536];
    loop {
        let n = s.read(&mut tmp).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let cl = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if buf.len() < end + 4 + cl {
            continue;
        }
        let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
        return Some((path, buf[end + 4..end + 4 + cl].to_vec()));
    }
}

fn handle(state: Shared, mut s: TcpStream) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let Some((path, body)) = read_request(&mut s) else {
        return;
    };
    let at = Instant::now();
    let m = mode(&state);
    if m == Mode::Slow {
        std::thread::sleep(SLOW);
    }
    let (kind, ids) = decode(&path, &body);
    let (status, extra, text) = match m {
        Mode::Failing => (500, "", "receiver failing".to_string()),
        Mode::Throttling => (429, "retry-after: 1\r\n", "slow down".to_string()),
        _ => {
            let text = match kind {
                "elasticsearch" => r#"{"took":1,"errors":false,"items":[]}"#.to_string(),
                "sentry" => "{}".to_string(),
                _ => String::new(),
            };
            (200, "", text)
        }
    };
    {
        let mut st = state.lock().unwrap();
        st.hits.push(Hit { kind, at, status });
        if status == 200 {
            st.got.entry(kind).or_default().extend(ids);
        }
    }
    let _ = s.write_all(
        format!(
            "HTTP/1.1 {status} X\r\n{extra}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
            text.len()
        )
        .as_bytes(),
    );
}

/// The HTTP receiver on `port`: not listening at all while the mode is `Down`.
fn serve_http(state: Shared, port: u16) {
    std::thread::spawn(move || loop {
        if mode(&state) == Mode::Down {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        let Ok(l) = TcpListener::bind(("127.0.0.1", port)) else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        l.set_nonblocking(true).unwrap();
        while mode(&state) != Mode::Down {
            match l.accept() {
                Ok((s, _)) => {
                    let st = state.clone();
                    std::thread::spawn(move || handle(st, s));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
}

struct GrpcReceiver {
    state: Shared,
}

#[tonic::async_trait]
impl opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceService
    for GrpcReceiver
{
    async fn export(
        &self,
        request: tonic::Request<
            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
        >,
    ) -> Result<
        tonic::Response<
            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse,
        >,
        tonic::Status,
    > {
        let at = Instant::now();
        let m = mode(&self.state);
        if m == Mode::Slow {
            tokio::time::sleep(SLOW).await;
        }
        let ids = span_ids(request.get_ref());
        let answer = match m {
            Mode::Failing => Err(tonic::Status::unavailable("receiver failing")),
            Mode::Throttling => {
                let info = RetryInfo {
                    retry_delay: Some(RpcDuration {
                        seconds: 1,
                        nanos: 0,
                    }),
                };
                let details = RpcStatus {
                    details: vec![RpcAny {
                        type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
                        value: info.encode_to_vec(),
                    }],
                };
                Err(tonic::Status::with_details(
                    tonic::Code::ResourceExhausted,
                    "slow down",
                    details.encode_to_vec().into(),
                ))
            }
            _ => Ok(tonic::Response::new(Default::default())),
        };
        let mut st = self.state.lock().unwrap();
        st.hits.push(Hit {
            kind: "otlp_grpc",
            at,
            status: match m {
                _ if answer.is_ok() => 200,
                Mode::Throttling => 429,
                _ => 503,
            },
        });
        if answer.is_ok() {
            st.got.entry("otlp_grpc").or_default().extend(ids);
        }
        answer
    }
}

/// The OTLP/gRPC receiver on `port`: its server is shut down (listener closed) while `Down`.
fn serve_grpc(state: Shared, port: u16) {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            loop {
                if mode(&state) == Mode::Down {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                let Ok(l) = tokio::net::TcpListener::bind(("127.0.0.1", port)).await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceServiceServer;
                let svc = TraceServiceServer::new(GrpcReceiver {
                    state: state.clone(),
                })
                .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
                let st = state.clone();
                let down = async move {
                    while mode(&st) != Mode::Down {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                };
                let incoming = tonic::transport::server::TcpIncoming::from(l);
                let _ = tonic::transport::Server::builder()
                    .add_service(svc)
                    .serve_with_incoming_shutdown(incoming, down)
                    .await;
            }
        });
    });
}

fn rss_kb(p: &Pharos) -> u64 {
    std::fs::read_to_string(format!("/proc/{}/status", p.child.id()))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Sum of the values of `/metrics` lines of `family` whose labels contain `filter`.
fn metric(c: &Client, p: &Pharos, family: &str, filter: &str) -> f64 {
    let text = c.get(p.url("/metrics")).send().unwrap().text().unwrap();
    text.lines()
        .filter(|l| l.starts_with(&format!("{family}{{")) && l.contains(filter))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Items pharos acknowledged so far, per kind of item.
#[derive(Default)]
struct Acked {
    samples: u64,
    lines: u64,
    spans: u64,
    events: u64,
}

const SAMPLES_PER_TICK: u64 = 200;
const LINES_PER_TICK: u64 = 50;
const SPANS_PER_TICK: u64 = 5;

/// One round of writes to pharos' own endpoints; every one must be acknowledged.
fn ingest(c: &Client, p: &Pharos, a: &mut Acked, t0: i64) {
    let base = crate::forward_signals::now_ns();
    let samples: Vec<(i64, f64)> = (a.samples..a.samples + SAMPLES_PER_TICK)
        .map(|i| (t0 + i as i64, i as f64))
        .collect();
    let r = c
        .post(p.url("/api/v1/write"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .body(write_request(&[(
            vec![("__name__", "fault_m"), ("k", "a")],
            samples,
        )]))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "remote_write: {}", r.status());
    a.samples += SAMPLES_PER_TICK;

    let values: Vec<Value> = (a.lines..a.lines + LINES_PER_TICK)
        .map(|i| json!([(base + u128::from(i)).to_string(), format!("fl {i}")]))
        .collect();
    push_loki(
        p,
        &json!({"streams": [{"stream": {"job": "fault"}, "values": values}]}),
    );
    a.lines += LINES_PER_TICK;

    let spans: Vec<Value> = (a.spans..a.spans + SPANS_PER_TICK)
        .map(|i| {
            json!({"traceId": format!("{:032x}", 0xfa000 + i), "spanId": format!("{:016x}", 0xb0 + i),
                "name": format!("fs {i}"), "kind": 2, "startTimeUnixNano": base.to_string(),
                "endTimeUnixNano": (base + 1_000_000).to_string()})
        })
        .collect();
    let body = json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "fault-svc"}}]},
        "scopeSpans": [{"spans": spans}]
    }]});
    let r = c
        .post(p.url("/v1/traces"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap_or_default());
    a.spans += SPANS_PER_TICK;

    let id = format!("{:032x}", 0xe0000 + a.events);
    let ev = json!({"event_id": id, "platform": "python", "level": "error",
        "exception": {"values": [{"type": "ValueError", "value": format!("bad {}", a.events)}]}});
    let payload = ev.to_string();
    let r = c
        .post(p.url("/api/1/envelope/"))
        .header(
            "X-Sentry-Auth",
            format!("Sentry sentry_version=7, sentry_key={KEY}"),
        )
        .body(format!(
            "{}\n{}\n{payload}\n",
            json!({"event_id": id}),
            json!({"type": "event", "length": payload.len()})
        ))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap_or_default());
    a.events += 1;
}

const KINDS: [&str; 6] = [
    "remote_write",
    "loki",
    "elasticsearch",
    "otlp_http",
    "otlp_grpc",
    "sentry",
];

/// How many items of `kind` pharos acknowledged.
fn acked(a: &Acked, kind: &str) -> u64 {
    match kind {
        "remote_write" => a.samples,
        "loki" | "elasticsearch" => a.lines,
        "otlp_http" | "otlp_grpc" => a.spans,
        _ => a.events,
    }
}

/// The forwarder's backlog: remote_write's pending samples plus its lag (read vs sent
/// timestamps, ms), or a forwarder's `pharos_forward_pending_bytes`.
fn backlog(c: &Client, p: &Pharos, kind: &str) -> f64 {
    match kind {
        "remote_write" => {
            let f = "remote_name=\"rw\"";
            metric(c, p, "prometheus_remote_storage_samples_pending", f)
                + 1000.0
                    * (metric(
                        c,
                        p,
                        "prometheus_remote_storage_queue_highest_timestamp_seconds",
                        f,
                    ) - metric(
                        c,
                        p,
                        "prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
                        f,
                    ))
        }
        name => metric(
            c,
            p,
            "pharos_forward_pending_bytes",
            &format!("name=\"{name}\""),
        ),
    }
}

#[test]
fn every_forwarder_survives_slow_failing_throttling_and_down_receivers() {
    let phase = Duration::from_secs(
        std::env::var("PHAROS_FAULT_RECEIVER_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(5),
    );
    let control = std::env::var("PHAROS_FAULT_RECEIVER_CONTROL").is_ok_and(|v| v == "1");
    let state: Shared = Arc::default();
    let (port, gport) = (free_port(), free_port());
    serve_http(state.clone(), port);
    serve_grpc(state.clone(), gport);
    let r = format!("http://127.0.0.1:{port}");

    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("prometheus.yml");
    std::fs::write(
        &prom,
        format!("remote_write:\n  - url: {r}/api/v1/write\n    name: rw\n    remote_timeout: 10s\n    queue_config: {{batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 1s, max_samples_per_send: 500, capacity: 1000, min_shards: 1, max_shards: 1}}\n"),
    )
    .unwrap();
    let q = "queue_config: {batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 1s, max_samples_per_send: 500}";
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(
        &cfg,
        format!(
            "prometheus_config: {}\n{}errors:\n  projects:\n    - {{id: 1, name: api, keys: [{KEY}]}}\nforward:\n  logs:\n    - {{url: '{r}/loki/api/v1/push', name: loki, {q}}}\n    - {{url: '{r}/_bulk', name: elasticsearch, format: elasticsearch, index: app, {q}}}\n  traces:\n    - {{url: '{r}/v1/traces', name: otlp_http, {q}}}\n    - {{url: 'http://127.0.0.1:{gport}', name: otlp_grpc, format: otlp_grpc, {q}}}\n  errors:\n    - {{url: 'http://{KEY}@127.0.0.1:{port}/1', name: sentry, {q}}}\n",
            prom.display(),
            crate::forward_signals::BASE
        ),
    )
    .unwrap();
    let p = Pharos::start(&dir.path().join("data"), Some(&cfg));
    let c = Client::new();
    let t0 = chrono::Utc::now().timestamp_millis() - 3_600_000;
    let mut a = Acked::default();
    let tick = Duration::from_millis(100);

    // Healthy warm-up: the RSS at the start is measured with every forwarder running.
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        ingest(&c, &p, &mut a, t0);
        std::thread::sleep(tick);
    }
    let rss_start = rss_kb(&p);
    let mut rss_during = 0u64;
    let mut phase_hits: Vec<(Mode, Instant, Instant)> = Vec::new();
    let mut rss_phases = Vec::new();
    for m in [Mode::Slow, Mode::Failing, Mode::Throttling, Mode::Down] {
        state.lock().unwrap().mode = Some(if control { Mode::Healthy } else { m });
        let from = Instant::now();
        let mut rss_max = 0;
        while from.elapsed() < phase {
            ingest(&c, &p, &mut a, t0);
            rss_max = rss_max.max(rss_kb(&p));
            std::thread::sleep(tick);
        }
        rss_during = rss_during.max(rss_max);
        rss_phases.push(format!("{m:?} {} MB", rss_max / 1024));
        if matches!(m, Mode::Failing | Mode::Down) && !control {
            for kind in KINDS {
                let b = backlog(&c, &p, kind);
                assert!(
                    b > 0.0,
                    "{kind}: no backlog shown while the receiver is {m:?}"
                );
            }
        }
        phase_hits.push((m, from, Instant::now()));
    }
    if control {
        eprintln!(
            "control run (receiver healthy throughout): RSS start {} MB, max per phase [{}]",
            rss_start / 1024,
            rss_phases.join(", ")
        );
        return;
    }
    let bad_end = Instant::now();
    state.lock().unwrap().mode = Some(Mode::Healthy);
    let healthy_at = Instant::now();

    // Every acknowledged item arrives, exactly once.
    let deadline = Instant::now() + Duration::from_secs(120) + phase * 4;
    loop {
        let missing: Vec<(&str, u64, u64)> = {
            let st = state.lock().unwrap();
            KINDS
                .iter()
                .map(|k| {
                    let mut ids: Vec<u64> = st.got.get(k).cloned().unwrap_or_default();
                    ids.sort_unstable();
                    ids.dedup();
                    (*k, ids.len() as u64, acked(&a, k))
                })
                .filter(|(_, got, want)| got < want)
                .collect()
        };
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not delivered after recovery (kind, unique received, acked): {missing:?}"
        );
        rss_during = rss_during.max(rss_kb(&p));
        std::thread::sleep(Duration::from_millis(200));
    }
    let caught_up = healthy_at.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    let rss_after = rss_kb(&p);
    let st = state.lock().unwrap();
    for kind in KINDS {
        let ids = st.got.get(kind).cloned().unwrap_or_default();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        let want: Vec<u64> = (0..acked(&a, kind)).collect();
        assert_eq!(
            sorted, want,
            "{kind}: received ids differ from the acknowledged ones"
        );
        assert_eq!(
            ids.len(),
            sorted.len(),
            "{kind}: {} duplicates",
            ids.len() - sorted.len()
        );
    }

    // Retry-After (RetryInfo for gRPC) honoured: after a 429 the same forwarder waits >= 1 s.
    // While failing, backoff keeps each forwarder to a few requests per second.
    for kind in KINDS {
        let mine: Vec<&Hit> = st.hits.iter().filter(|h| h.kind == kind).collect();
        let throttled = mine.iter().filter(|h| h.status == 429).count();
        assert!(throttled > 0, "{kind}: never throttled");
        for w in mine.windows(2) {
            if in_phase(&phase_hits, Mode::Throttling, w[0].at) && w[0].status != 200 {
                let gap = w[1].at - w[0].at;
                assert!(
                    gap >= Duration::from_millis(900),
                    "{kind}: resent {gap:?} after a throttled answer asking for 1 s"
                );
            }
        }
        let failing = mine
            .iter()
            .filter(|h| in_phase(&phase_hits, Mode::Failing, h.at))
            .count() as u64;
        let bound = 3 * phase.as_secs() + 10;
        assert!(
            failing <= bound,
            "{kind}: {failing} requests in {phase:?} of failures (retry storm; bound {bound})"
        );
        eprintln!(
            "{kind}: {} acked, {} requests in all, {throttled} throttled, {failing} while failing",
            acked(&a, kind),
            mine.len()
        );
    }
    drop(st);
    eprintln!(
        "RSS: start {} MB, max per phase [{}], max while the receiver was bad or catching up {} MB, after {} MB; bad phases {:?}, caught up {:?} after recovery",
        rss_start / 1024,
        rss_phases.join(", "),
        rss_during / 1024,
        rss_after / 1024,
        bad_end - phase_hits[0].1,
        caught_up
    );
    let bound = rss_start * 2 + 150 * 1024;
    assert!(
        rss_during <= bound,
        "RSS grew to {rss_during} kB while the receiver was bad (start {rss_start} kB, bound {bound} kB)"
    );
    for kind in KINDS {
        if kind != "remote_write" {
            assert_eq!(backlog(&c, &p, kind), 0.0, "{kind}: backlog left");
        }
    }
}

fn in_phase(phases: &[(Mode, Instant, Instant)], m: Mode, at: Instant) -> bool {
    phases
        .iter()
        .any(|(pm, from, to)| *pm == m && at >= *from && at < *to)
}
