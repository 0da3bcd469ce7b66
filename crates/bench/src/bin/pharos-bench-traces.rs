//! `pharos-bench-traces`: the traces mode of the benchmark. Generates a synthetic workload of
//! traces (services × operations, parent/child spans, typical HTTP attributes), sends it to
//! pharos as pre-encoded OTLP/HTTP protobuf requests from several senders, and reports spans/s
//! ingested, bytes per span on disk (`<data>/traces`), and trace-by-id / search latencies
//! (p50/p99) over the Jaeger query API. Started by `bench/traces.sh`.

use clap::Parser;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
struct Args {
    /// pharos base URL.
    #[arg(long)]
    url: String,
    /// pharos data directory (for bytes on disk).
    #[arg(long)]
    data: PathBuf,
    /// Number of traces.
    #[arg(long, default_value_t = 100_000)]
    traces: usize,
    /// Spans per trace.
    #[arg(long, default_value_t = 10)]
    spans_per_trace: usize,
    /// Traces per OTLP request.
    #[arg(long, default_value_t = 100)]
    traces_per_request: usize,
    /// Parallel senders.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Queries per latency figure.
    #[arg(long, default_value_t = 200)]
    queries: usize,
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const SERVICES: [&str; 6] = ["frontend", "api", "auth", "email", "db-proxy", "billing"];

fn kv(k: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn trace_id(i: usize) -> Vec<u8> {
    let mut b = vec![0u8; 16];
    b[..8].copy_from_slice(&0x5eed_0000_0000_0000u64.to_be_bytes());
    b[8..].copy_from_slice(&(i as u64 + 1).to_be_bytes());
    b
}

/// One request holding traces `[first, first+n)`; one ResourceSpans per service.
fn request(first: usize, n: usize, spans_per_trace: usize, t0_ns: u64, rng: &mut Rng) -> Vec<u8> {
    let mut by_service: Vec<Vec<Span>> = vec![Vec::new(); SERVICES.len()];
    for t in first..first + n {
        let tid = trace_id(t);
        let start = t0_ns + (t as u64) * 1_000_000;
        for s in 0..spans_per_trace {
            let svc = if s == 0 {
                0
            } else {
                1 + (rng.next() as usize % (SERVICES.len() - 1))
            };
            let dur = 1_000_000 + rng.next() % 200_000_000;
            let status = if rng.next().is_multiple_of(50) { 2 } else { 0 };
            by_service[svc].push(Span {
                trace_id: tid.clone(),
                span_id: ((t as u64) << 8 | (s as u64 + 1)).to_be_bytes().to_vec(),
                parent_span_id: if s == 0 {
                    vec![]
                } else {
                    ((t as u64) << 8 | (rng.next() % s as u64 + 1))
                        .to_be_bytes()
                        .to_vec()
                },
                name: format!(
                    "{} op-{}",
                    if s == 0 { "GET" } else { "call" },
                    rng.next() % 20
                ),
                kind: if s == 0 {
                    2
                } else {
                    1 + (rng.next() % 3) as i32
                },
                start_time_unix_nano: start + s as u64 * 100_000,
                end_time_unix_nano: start + s as u64 * 100_000 + dur,
                attributes: vec![
                    kv("http.method", any_value::Value::StringValue("GET".into())),
                    kv(
                        "http.status_code",
                        any_value::Value::IntValue(if status == 2 { 500 } else { 200 }),
                    ),
                    kv(
                        "http.route",
                        any_value::Value::StringValue(format!("/api/v1/items/{}", rng.next() % 50)),
                    ),
                    kv(
                        "user.id",
                        any_value::Value::StringValue(format!("user-{}", rng.next() % 10_000)),
                    ),
                ],
                status: Some(Status {
                    message: String::new(),
                    code: status,
                }),
                ..Default::default()
            });
        }
    }
    ExportTraceServiceRequest {
        resource_spans: by_service
            .into_iter()
            .enumerate()
            .filter(|(_, v)| !v.is_empty())
            .map(|(i, spans)| ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        kv(
                            "service.name",
                            any_value::Value::StringValue(SERVICES[i].into()),
                        ),
                        kv(
                            "host.name",
                            any_value::Value::StringValue(format!("node-{i}")),
                        ),
                    ],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "bench".into(),
                        ..Default::default()
                    }),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            })
            .collect(),
    }
    .encode_to_vec()
}

fn dir_bytes(p: &Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                n += dir_bytes(&path);
            } else if let Ok(m) = e.metadata() {
                n += m.len();
            }
        }
    }
    n
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    if v.is_empty() {
        return 0.0;
    }
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1000.0
}

async fn latency(client: &reqwest::Client, urls: Vec<String>) -> (f64, f64, usize) {
    let mut times = Vec::with_capacity(urls.len());
    let mut found = 0usize;
    for u in urls {
        let t = Instant::now();
        let r = client.get(&u).send().await;
        if let Ok(r) = r {
            if r.status().is_success() {
                if let Ok(v) = r.json::<serde_json::Value>().await {
                    found += v["data"].as_array().map(|a| a.len()).unwrap_or(0);
                }
            }
        }
        times.push(t.elapsed());
    }
    (pct(&mut times, 0.5), pct(&mut times, 0.99), found)
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    // Traces are spread over the last traces × 1 ms.
    let t0 = now_ns - a.traces as u64 * 1_000_000;
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let gen = Instant::now();
    let mut bodies = Vec::new();
    let mut first = 0;
    while first < a.traces {
        let n = a.traces_per_request.min(a.traces - first);
        bodies.push(request(first, n, a.spans_per_trace, t0, &mut rng));
        first += n;
    }
    let total_spans = a.traces * a.spans_per_trace;
    let wire: usize = bodies.iter().map(Vec::len).sum();
    println!(
        "workload: {} traces x {} spans = {} spans in {} OTLP requests ({:.1} MB protobuf), generated in {:.1}s",
        a.traces, a.spans_per_trace, total_spans, bodies.len(), wire as f64 / 1e6, gen.elapsed().as_secs_f64()
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(a.concurrency)
        .build()
        .expect("client");
    let bodies = Arc::new(bodies);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let url = format!("{}/v1/traces", a.url);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.concurrency {
        let (bodies, next, client, url) =
            (bodies.clone(), next.clone(), client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut failures = 0usize;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(b) = bodies.get(i) else { break };
                let r = client
                    .post(&url)
                    .header("content-type", "application/x-protobuf")
                    .body(b.clone())
                    .send()
                    .await;
                if !matches!(r, Ok(ref r) if r.status().is_success()) {
                    failures += 1;
                }
            }
            failures
        }));
    }
    let mut failures = 0;
    for t in tasks {
        failures += t.await.unwrap_or(1);
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "ingest (OTLP/HTTP protobuf, {} senders): {:.0} spans/s ({:.1}s, {} failed requests)",
        a.concurrency,
        total_spans as f64 / secs,
        secs,
        failures
    );
    let disk = dir_bytes(&a.data.join("traces"));
    println!(
        "disk: {:.1} MB in {}/traces = {:.1} bytes/span (OTLP protobuf on the wire: {:.1} bytes/span)",
        disk as f64 / 1e6,
        a.data.display(),
        disk as f64 / total_spans as f64,
        wire as f64 / total_spans as f64
    );
    let mut rng = Rng(42);
    let ids: Vec<String> = (0..a.queries)
        .map(|_| {
            let t = rng.next() as usize % a.traces;
            format!("{}/api/traces/{}", a.url, traces_hex(&trace_id(t)))
        })
        .collect();
    let (p50, p99, found) = latency(&client, ids).await;
    println!(
        "trace by id: p50 {p50:.2} ms, p99 {p99:.2} ms ({found}/{} found)",
        a.queries
    );
    let lookback = format!("{}ms", a.traces + 60_000);
    let searches: Vec<(&str, String)> = vec![
        ("service", "service=api&limit=20".to_string()),
        (
            "service+operation",
            "service=api&operation=call%20op-7&limit=20".to_string(),
        ),
        (
            "service+tag",
            "service=auth&tags=%7B%22user.id%22%3A%22user-42%22%7D&limit=20".to_string(),
        ),
        (
            "service+minDuration",
            "service=email&minDuration=190ms&limit=20".to_string(),
        ),
        (
            "service+error",
            "service=billing&tags=error%3Dtrue&limit=20".to_string(),
        ),
    ];
    for (name, q) in searches {
        let urls = (0..a.queries / 4)
            .map(|_| format!("{}/api/traces?{q}&lookback={lookback}", a.url))
            .collect();
        let (p50, p99, found) = latency(&client, urls).await;
        println!(
            "search {name}: p50 {p50:.2} ms, p99 {p99:.2} ms ({} traces per answer)",
            found / (a.queries / 4).max(1)
        );
    }
}

fn traces_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
