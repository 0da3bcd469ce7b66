//! `pharos-bench`: generates a node-exporter-like dataset (hosts × ~200 series, 15 s interval),
//! remote-writes the same pre-encoded requests into every target given (pharos and Prometheus),
//! and prints ingest samples/s, bytes per sample on disk and query latencies side by side, with
//! ratios. The servers are started by `bench/run.sh`; this program only drives them.

use api::prometheus::remote_write::{Label, TimeSeries, WireSample, WriteRequest};
use clap::Parser;
use prost::Message;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser, Debug, Clone)]
struct Args {
    /// Targets as NAME=URL=DATA_DIR[=PID] (data dir is measured for bytes on disk; with the
    /// server's PID, its CPU time during the push and its resident memory are read from /proc).
    #[arg(long = "target", required = true)]
    targets: Vec<String>,
    /// Number of simulated hosts (~200 series each).
    #[arg(long, default_value_t = 525)]
    hosts: usize,
    /// Hours of data at a 15 s interval, ending now.
    #[arg(long, default_value_t = 4.0)]
    hours: f64,
    /// Samples per series in one remote-write request.
    #[arg(long, default_value_t = 8)]
    steps_per_request: usize,
    /// At most this many series in one remote-write request (0 = a sender's whole partition):
    /// keeps requests of the 1 M-series run at the size of the default run's.
    #[arg(long, default_value_t = 0)]
    series_per_request: usize,
    /// Parallel senders (each owns a partition of the series, keeping per-series order).
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Seconds to wait after ingest into each server (before its queries and disk figures) for it
    /// to cut and compact blocks; the next server is only fed afterwards.
    #[arg(long, default_value_t = 90)]
    settle_seconds: u64,
}

/// Deterministic xorshift generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Clone, Copy)]
enum Kind {
    /// Counter increasing by about `rate` per second.
    Counter(f64),
    /// Gauge random walk around a level.
    Gauge(f64),
    /// Value that never changes (many node-exporter gauges).
    Constant(f64),
}

struct SeriesDef {
    labels: Vec<(String, String)>,
    kind: Kind,
}

fn node_exporter_series(hosts: usize) -> Vec<SeriesDef> {
    let mut out = Vec::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for h in 0..hosts {
        let instance = format!("host-{h}:9100");
        let base = |name: &str| {
            vec![
                ("__name__".to_string(), name.to_string()),
                ("instance".to_string(), instance.clone()),
                ("job".to_string(), "node".to_string()),
            ]
        };
        for cpu in 0..8 {
            for mode in [
                "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
            ] {
                let mut l = base("node_cpu_seconds_total");
                l.push(("cpu".into(), cpu.to_string()));
                l.push(("mode".into(), mode.into()));
                let rate = if mode == "idle" {
                    0.8
                } else {
                    0.02 + rng.unit() * 0.05
                };
                out.push(SeriesDef {
                    labels: l,
                    kind: Kind::Counter(rate),
                });
            }
        }
        for i in 0..40 {
            let name = format!("node_memory_metric{i}_bytes");
            let kind = if i % 3 == 0 {
                Kind::Constant(8e9 + i as f64)
            } else {
                Kind::Gauge(1e9 * (1.0 + rng.unit()))
            };
            out.push(SeriesDef {
                labels: base(&name),
                kind,
            });
        }
        out.push(SeriesDef {
            labels: base("node_memory_MemAvailable_bytes"),
            kind: Kind::Gauge(4e9),
        });
        for (dev, mnt) in [
            ("sda1", "/"),
            ("sda2", "/var"),
            ("sdb1", "/data"),
            ("tmpfs", "/run"),
            ("sdc1", "/srv"),
        ] {
            for (name, kind) in [
                ("node_filesystem_avail_bytes", Kind::Gauge(5e10)),
                ("node_filesystem_size_bytes", Kind::Constant(1e11)),
                ("node_filesystem_free_bytes", Kind::Gauge(5.5e10)),
                ("node_filesystem_files_free", Kind::Gauge(1e6)),
            ] {
                let mut l = base(name);
                l.push(("device".into(), dev.into()));
                l.push(("fstype".into(), "ext4".into()));
                l.push(("mountpoint".into(), mnt.into()));
                out.push(SeriesDef { labels: l, kind });
            }
        }
        for dev in ["eth0", "eth1", "lo", "docker0"] {
            for dir in ["receive", "transmit"] {
                for (what, rate) in [
                    ("bytes", 1e5),
                    ("packets", 200.0),
                    ("errs", 0.0),
                    ("drop", 0.001),
                ] {
                    let mut l = base(&format!("node_network_{dir}_{what}_total"));
                    l.push(("device".into(), dev.into()));
                    out.push(SeriesDef {
                        labels: l,
                        kind: Kind::Counter(rate * rng.unit()),
                    });
                }
            }
        }
        for dev in ["sda", "sdb", "sdc"] {
            for (name, rate) in [
                ("node_disk_read_bytes_total", 5e4),
                ("node_disk_written_bytes_total", 2e5),
                ("node_disk_reads_completed_total", 10.0),
                ("node_disk_writes_completed_total", 40.0),
                ("node_disk_io_time_seconds_total", 0.05),
                ("node_disk_read_time_seconds_total", 0.01),
                ("node_disk_write_time_seconds_total", 0.03),
            ] {
                let mut l = base(name);
                l.push(("device".into(), dev.into()));
                out.push(SeriesDef {
                    labels: l,
                    kind: Kind::Counter(rate * rng.unit()),
                });
            }
        }
        for i in 0..10 {
            out.push(SeriesDef {
                labels: base(&format!("node_vmstat_counter{i}")),
                kind: Kind::Counter(rng.unit() * 100.0),
            });
        }
        out.push(SeriesDef {
            labels: base("node_load1"),
            kind: Kind::Gauge(1.5),
        });
        out.push(SeriesDef {
            labels: base("node_load5"),
            kind: Kind::Gauge(1.2),
        });
        out.push(SeriesDef {
            labels: base("node_boot_time_seconds"),
            kind: Kind::Constant(1.7e9),
        });
    }
    for s in &mut out {
        s.labels.sort();
    }
    out
}

/// Pre-encodes every request: partition → list of snappy bodies in time order.
fn encode_requests(
    defs: &[SeriesDef],
    args: &Args,
    start_ms: i64,
    steps: usize,
) -> (Vec<Vec<Vec<u8>>>, u64) {
    let parts = args.concurrency.max(1);
    let mut bodies: Vec<Vec<Vec<u8>>> = vec![Vec::new(); parts];
    let mut values: Vec<f64> = vec![0.0; defs.len()];
    let mut rng = Rng(42);
    for (i, d) in defs.iter().enumerate() {
        values[i] = match d.kind {
            Kind::Counter(_) => (rng.unit() * 1e6).round(),
            Kind::Gauge(level) => level,
            Kind::Constant(v) => v,
        };
    }
    let mut total = 0u64;
    let series_per_part = defs.len().div_ceil(parts);
    let mut step = 0;
    while step < steps {
        let n = args.steps_per_request.min(steps - step);
        // Values for this group of steps, for every series.
        let mut group: Vec<Vec<WireSample>> = vec![Vec::with_capacity(n); defs.len()];
        for k in 0..n {
            let t = start_ms + ((step + k) as i64) * 15_000;
            for (i, d) in defs.iter().enumerate() {
                let v = &mut values[i];
                match d.kind {
                    Kind::Counter(rate) => *v += (rate * 15.0 * (0.5 + rng.unit())).round(),
                    Kind::Gauge(level) => {
                        *v = (*v + (rng.unit() - 0.5) * level * 0.01).max(0.0).round()
                    }
                    Kind::Constant(_) => {}
                }
                group[i].push(WireSample {
                    value: *v,
                    timestamp: t,
                });
            }
        }
        for (p, part_bodies) in bodies.iter_mut().enumerate() {
            let lo = p * series_per_part;
            let hi = ((p + 1) * series_per_part).min(defs.len());
            if lo >= hi {
                continue;
            }
            let per = match args.series_per_request {
                0 => hi - lo,
                n => n,
            };
            for from in (lo..hi).step_by(per) {
                let to = (from + per).min(hi);
                let req = WriteRequest {
                    timeseries: (from..to)
                        .map(|i| TimeSeries {
                            labels: defs[i]
                                .labels
                                .iter()
                                .map(|(n, v)| Label {
                                    name: n.clone(),
                                    value: v.clone(),
                                })
                                .collect(),
                            samples: std::mem::take(&mut group[i]),
                            ..Default::default()
                        })
                        .collect(),
                    metadata: vec![],
                };
                total += ((to - from) * n) as u64;
                let raw = req.encode_to_vec();
                part_bodies.push(
                    snap::raw::Encoder::new()
                        .compress_vec(&raw)
                        .unwrap_or_default(),
                );
            }
        }
        step += n;
    }
    (bodies, total)
}

fn dir_size(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                dir_size(&path)
            } else {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            }
        })
        .sum()
}

/// Bytes and samples of the persisted blocks (directories with a meta.json) under `p`.
fn block_stats(p: &Path) -> (u64, u64) {
    let mut bytes = 0;
    let mut samples = 0;
    let mut stack = vec![p.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                let meta = path.join("meta.json");
                if let Ok(text) = std::fs::read_to_string(&meta) {
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                        samples += v["stats"]["numSamples"].as_u64().unwrap_or(0);
                        bytes += dir_size(&path);
                        continue;
                    }
                }
                stack.push(path);
            }
        }
    }
    (bytes, samples)
}

/// One timed query: table label, API path and query parameters.
type TimedQuery = (&'static str, &'static str, Vec<(&'static str, String)>);

struct Target {
    name: String,
    url: String,
    data: PathBuf,
    pid: Option<u32>,
}

/// utime + stime of a process in seconds (`/proc/PID/stat`), NaN without a readable PID.
fn cpu_seconds(pid: Option<u32>) -> f64 {
    let Some(stat) = pid.and_then(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
    else {
        return f64::NAN;
    };
    // Fields after the command name (which may hold spaces) start at ") ".
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name and state.
    let hz = clk_tck();
    (ticks(11) + ticks(12)) / hz
}

/// The kernel's clock ticks per second for /proc times (`getconf CLK_TCK`; 100 on Linux).
fn clk_tck() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Resident memory of a process in MiB (`VmRSS` of `/proc/PID/status`), NaN without a PID.
fn rss_mib(pid: Option<u32>) -> f64 {
    pid.and_then(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

struct Results {
    ingest_seconds: f64,
    /// Server CPU seconds (user + sys) spent during the push.
    ingest_cpu: f64,
    /// Resident memory after the push and the settle time, MiB.
    rss_mib: f64,
    samples_per_sec: f64,
    disk_bytes: u64,
    block_bytes: u64,
    block_samples: u64,
    query_ms: Vec<(String, f64)>,
    /// Head truncations (block cuts) the server counted by the end of the push.
    cuts_during_ingest: f64,
}

/// The value of an unlabelled sample `name` on the server's own `/metrics` (NaN if absent).
async fn self_metric(client: &reqwest::Client, url: &str, name: &str) -> f64 {
    let Ok(r) = client.get(format!("{url}/metrics")).send().await else {
        return f64::NAN;
    };
    let body = r.text().await.unwrap_or_default();
    body.lines()
        .filter_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .find_map(|v| v.trim().parse().ok())
        .unwrap_or(f64::NAN)
}

async fn push_all(
    client: &reqwest::Client,
    url: &str,
    bodies: &[Vec<Vec<u8>>],
) -> Result<f64, String> {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for part in bodies {
        let client = client.clone();
        let url = format!("{url}/api/v1/write");
        let part = part.clone();
        tasks.push(tokio::spawn(async move {
            for body in part {
                let r = client
                    .post(&url)
                    .header("Content-Encoding", "snappy")
                    .header("Content-Type", "application/x-protobuf")
                    .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if !r.status().is_success() {
                    let status = r.status();
                    return Err(format!("{status}: {}", r.text().await.unwrap_or_default()));
                }
            }
            Ok::<(), String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(start.elapsed().as_secs_f64())
}

async fn time_query(
    client: &reqwest::Client,
    url: &str,
    path: &str,
    params: &[(&str, String)],
) -> Result<f64, String> {
    let mut times = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let r = client
            .get(format!("{url}{path}"))
            .query(params)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status();
        let body = r.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{path} {params:?}: {status} {body}"));
        }
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    Ok(times.get(times.len() / 2).copied().unwrap_or(f64::NAN))
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let targets: Vec<Target> = args
        .targets
        .iter()
        .map(|t| {
            let mut p = t.splitn(4, '=');
            Target {
                name: p.next().unwrap_or("?").to_string(),
                url: p.next().unwrap_or("").to_string(),
                data: PathBuf::from(p.next().unwrap_or(".")),
                pid: p.next().and_then(|v| v.parse().ok()),
            }
        })
        .collect();
    let defs = node_exporter_series(args.hosts);
    let steps = (args.hours * 3600.0 / 15.0) as usize;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let start_ms = (now_ms - steps as i64 * 15_000) / 15_000 * 15_000;
    let end_ms = start_ms + (steps as i64 - 1) * 15_000;
    eprintln!("generating {} series x {steps} samples ...", defs.len());
    let (bodies, total) = encode_requests(&defs, &args, start_ms, steps);
    let wire: usize = bodies.iter().flatten().map(Vec::len).sum();
    eprintln!(
        "{total} samples in {} requests ({} MB snappy)",
        bodies.iter().map(Vec::len).sum::<usize>(),
        wire >> 20
    );
    let bodies = Arc::new(bodies);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .map_err(|e| e.to_string())?;
    let end_s = end_ms as f64 / 1000.0;
    let queries: Vec<TimedQuery> = vec![
        (
            "instant sum by(instance)(rate(cpu[5m]))",
            "/api/v1/query",
            vec![
                (
                    "query",
                    "sum by (instance) (rate(node_cpu_seconds_total{mode!=\"idle\"}[5m]))".into(),
                ),
                ("time", end_s.to_string()),
            ],
        ),
        (
            "range 1h/60s sum by(mode)(rate(cpu[5m]))",
            "/api/v1/query_range",
            vec![
                (
                    "query",
                    "sum by (mode) (rate(node_cpu_seconds_total[5m]))".into(),
                ),
                ("start", (end_s - 3600.0).to_string()),
                ("end", end_s.to_string()),
                ("step", "60".into()),
            ],
        ),
        (
            "range 1h/15s one series",
            "/api/v1/query_range",
            vec![
                (
                    "query",
                    "node_memory_MemAvailable_bytes{instance=\"host-7:9100\"}".into(),
                ),
                ("start", (end_s - 3600.0).to_string()),
                ("end", end_s.to_string()),
                ("step", "15".into()),
            ],
        ),
        (
            "instant topk(10, rate(net[5m]))",
            "/api/v1/query",
            vec![
                (
                    "query",
                    "topk(10, rate(node_network_receive_bytes_total[5m]))".into(),
                ),
                ("time", end_s.to_string()),
            ],
        ),
        (
            "instant over 3h-old block data",
            "/api/v1/query",
            vec![
                ("query", "sum(rate(node_disk_read_bytes_total[10m]))".into()),
                ("time", (end_s - 3.0 * 3600.0).to_string()),
            ],
        ),
    ];
    // One server at a time: push, let it cut and compact blocks, then time queries and measure
    // disk, so neither server's background work overlaps the other's measurements.
    let mut results = Vec::new();
    for t in &targets {
        eprintln!("ingesting into {} ({}) ...", t.name, t.url);
        let cpu0 = cpu_seconds(t.pid);
        let secs = push_all(&client, &t.url, &bodies).await?;
        let ingest_cpu = cpu_seconds(t.pid) - cpu0;
        let cuts = self_metric(&client, &t.url, "prometheus_tsdb_head_truncations_total").await;
        eprintln!(
            "  {:.1}s, {:.0} samples/s, {cuts} head cut(s) finished during ingest",
            secs,
            total as f64 / secs
        );
        eprintln!(
            "  waiting {}s for block cuts and compaction ...",
            args.settle_seconds
        );
        tokio::time::sleep(Duration::from_secs(args.settle_seconds)).await;
        // Before the queries: their results would add the allocator's retained memory.
        let rss = rss_mib(t.pid);
        let mut q = Vec::new();
        for (name, path, params) in &queries {
            q.push((
                name.to_string(),
                time_query(&client, &t.url, path, params).await?,
            ));
        }
        let (block_bytes, block_samples) = block_stats(&t.data);
        results.push(Results {
            ingest_seconds: secs,
            ingest_cpu,
            rss_mib: rss,
            samples_per_sec: total as f64 / secs,
            disk_bytes: dir_size(&t.data),
            block_bytes,
            block_samples,
            query_ms: q,
            cuts_during_ingest: cuts,
        });
    }
    println!(
        "dataset: {} series x {steps} samples = {total} samples ({:.1} h at 15s)",
        defs.len(),
        args.hours
    );
    print!("{:<52}", "metric");
    for t in &targets {
        print!("{:>16}", t.name);
    }
    if targets.len() == 2 {
        print!("{:>12}", "ratio");
    }
    println!();
    let row = |label: &str, vals: Vec<f64>, fmt: &dyn Fn(f64) -> String| {
        print!("{label:<52}");
        for v in &vals {
            print!("{:>16}", fmt(*v));
        }
        if vals.len() == 2 && vals[1] != 0.0 {
            print!("{:>12.2}", vals[0] / vals[1]);
        }
        println!();
    };
    row(
        "ingest seconds",
        results.iter().map(|r| r.ingest_seconds).collect(),
        &|v| format!("{v:.1}"),
    );
    row(
        "ingest samples/s",
        results.iter().map(|r| r.samples_per_sec).collect(),
        &|v| format!("{v:.0}"),
    );
    row(
        "ingest server CPU us/sample",
        results
            .iter()
            .map(|r| r.ingest_cpu * 1e6 / total as f64)
            .collect(),
        &|v| format!("{v:.3}"),
    );
    row(
        "RSS MiB after ingest + settle",
        results.iter().map(|r| r.rss_mib).collect(),
        &|v| format!("{v:.0}"),
    );
    row(
        "RSS bytes per series",
        results
            .iter()
            .map(|r| r.rss_mib * 1048576.0 / defs.len() as f64)
            .collect(),
        &|v| format!("{v:.0}"),
    );
    row(
        "head cuts finished during ingest",
        results.iter().map(|r| r.cuts_during_ingest).collect(),
        &|v| format!("{v:.0}"),
    );
    row(
        "disk bytes/sample (all files)",
        results
            .iter()
            .map(|r| r.disk_bytes as f64 / total as f64)
            .collect(),
        &|v| format!("{v:.3}"),
    );
    row(
        "block bytes/sample (persisted blocks)",
        results
            .iter()
            .map(|r| {
                if r.block_samples > 0 {
                    r.block_bytes as f64 / r.block_samples as f64
                } else {
                    0.0
                }
            })
            .collect(),
        &|v| format!("{v:.3}"),
    );
    row(
        "samples in blocks",
        results.iter().map(|r| r.block_samples as f64).collect(),
        &|v| format!("{v:.0}"),
    );
    for (i, (label, _, _)) in queries.iter().enumerate() {
        row(
            &format!("query ms: {label}"),
            results
                .iter()
                .map(|r| r.query_ms.get(i).map_or(f64::NAN, |q| q.1))
                .collect(),
            &|v| format!("{v:.1}"),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(concurrency: usize) -> Args {
        Args::parse_from([
            "pharos-bench",
            "--target",
            "x=http://127.0.0.1:1=/tmp",
            "--concurrency",
            &concurrency.to_string(),
        ])
    }

    #[test]
    fn every_host_has_the_same_191_distinct_sorted_series() {
        let defs = node_exporter_series(3);
        assert_eq!(defs.len(), 3 * 191);
        let mut seen = std::collections::HashSet::new();
        for d in &defs {
            assert!(d.labels.windows(2).all(|w| w[0].0 < w[1].0));
            assert!(seen.insert(d.labels.clone()), "duplicate {:?}", d.labels);
        }
    }

    #[test]
    fn requests_hold_every_sample_in_time_order_per_series() {
        let defs = node_exporter_series(2);
        let (bodies, total) = encode_requests(&defs, &args(3), 1_000_000, 20);
        assert_eq!(total, (defs.len() * 20) as u64);
        let mut decoded = 0usize;
        for part in &bodies {
            let mut last_ts: std::collections::HashMap<Vec<(String, String)>, i64> =
                Default::default();
            for body in part {
                let raw = snap::raw::Decoder::new()
                    .decompress_vec(body)
                    .expect("valid snappy");
                let req = WriteRequest::decode(raw.as_slice()).expect("valid protobuf");
                for ts in req.timeseries {
                    let key: Vec<_> = ts
                        .labels
                        .iter()
                        .map(|l| (l.name.clone(), l.value.clone()))
                        .collect();
                    for s in ts.samples {
                        let prev = last_ts.insert(key.clone(), s.timestamp);
                        assert!(prev.is_none_or(|p| p < s.timestamp));
                        decoded += 1;
                    }
                }
            }
        }
        assert_eq!(decoded as u64, total);
    }

    #[test]
    fn counters_never_decrease() {
        let defs = node_exporter_series(1);
        let (bodies, _) = encode_requests(&defs, &args(1), 0, 40);
        let mut last: std::collections::HashMap<String, f64> = Default::default();
        for body in bodies.iter().flatten() {
            let raw = snap::raw::Decoder::new()
                .decompress_vec(body)
                .expect("snappy");
            let req = WriteRequest::decode(raw.as_slice()).expect("protobuf");
            for ts in req.timeseries {
                let name = format!(
                    "{:?}",
                    ts.labels.iter().map(|l| &l.value).collect::<Vec<_>>()
                );
                if !ts.labels.iter().any(|l| l.value.ends_with("_total")) {
                    continue;
                }
                for s in ts.samples {
                    let prev = last.insert(name.clone(), s.value).unwrap_or(f64::MIN);
                    assert!(s.value >= prev, "{name} went from {prev} to {}", s.value);
                }
            }
        }
        assert!(!last.is_empty());
    }
}
