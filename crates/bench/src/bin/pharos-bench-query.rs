//! `pharos-bench-query`: the range-query mode of the benchmark. Remote-writes a fixed, seeded
//! dashboard dataset (50 gauge series, 50 counter series, 5 classic histograms × 10 buckets, 24 h
//! at a 15 s interval) into every target given, then times the dashboard's range queries over
//! the whole 24 h (median of several runs, and 20 panel queries six at a time as a browser sends
//! them) and prints them side by side with ratios. Started by `bench/query.sh`.

use api::prometheus::remote_write::{Label, TimeSeries, WireSample, WriteRequest};
use clap::Parser;
use prost::Message;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
struct Args {
    /// Targets as NAME=URL.
    #[arg(long = "target", required = true)]
    targets: Vec<String>,
    /// Hours of data at a 15 s interval, ending now.
    #[arg(long, default_value_t = 24.0)]
    hours: f64,
    /// Runs per query (the median is printed).
    #[arg(long, default_value_t = 7)]
    runs: usize,
    /// Seconds to wait after ingest (for head cuts and compaction, which Prometheus starts at
    /// once on 24 h of fresh data) before querying.
    #[arg(long, default_value_t = 60)]
    settle_seconds: u64,
}

/// A deterministic xorshift draw in `[0, 1)`.
fn unit(state: &mut u64) -> f64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

const BUCKETS: [&str; 10] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf",
];

/// The series: labels and whether they are counters (monotonic) or gauges.
fn series() -> Vec<(Vec<(String, String)>, bool)> {
    let mut out = Vec::new();
    let l = |pairs: &[(&str, String)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect()
    };
    for k in 0..50 {
        out.push((
            l(&[
                ("__name__", "bench_value".into()),
                ("job", "bench".into()),
                ("series", format!("s{k}")),
            ]),
            false,
        ));
    }
    for k in 0..50 {
        out.push((
            l(&[
                ("__name__", "bench_requests_total".into()),
                ("job", "bench".into()),
                ("l", format!("g{}", k % 5)),
                ("series", format!("s{k}")),
            ]),
            true,
        ));
    }
    for i in 0..5 {
        for le in BUCKETS {
            out.push((
                l(&[
                    ("__name__", "bench_latency_seconds_bucket".into()),
                    ("instance", format!("i{i}")),
                    ("job", "bench".into()),
                    ("le", le.into()),
                ]),
                true,
            ));
        }
    }
    out
}

/// Snappy-compressed remote-write bodies, in time order, `per` steps of every series each.
fn encode(start_ms: i64, steps: usize, per: usize) -> (Vec<Vec<u8>>, usize) {
    let defs = series();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut values: Vec<f64> = defs
        .iter()
        .map(|_| (unit(&mut rng) * 1e3).round())
        .collect();
    let mut bodies = Vec::new();
    let mut total = 0;
    let mut step = 0;
    while step < steps {
        let n = per.min(steps - step);
        let mut group: Vec<Vec<WireSample>> = vec![Vec::with_capacity(n); defs.len()];
        for k in 0..n {
            let t = start_ms + (step + k) as i64 * 15_000;
            // Histogram buckets: one draw per instance, counted in every bucket it falls under.
            let draws: Vec<f64> = (0..5)
                .map(|_| unit(&mut rng) * unit(&mut rng) * 3.0)
                .collect();
            for (i, (labels, counter)) in defs.iter().enumerate() {
                let v = &mut values[i];
                if let Some(le) = labels.iter().find(|(n, _)| n == "le") {
                    let bound: f64 = le.1.parse().unwrap_or(f64::INFINITY);
                    let inst = (i - 100) / BUCKETS.len();
                    let hits = (draws[inst] * 20.0).round();
                    if draws[inst] <= bound {
                        *v += 20.0 + hits;
                    }
                } else if *counter {
                    *v += (unit(&mut rng) * 30.0).round();
                } else {
                    *v = (t as f64 / 600_000.0 + i as f64).sin() * 10.0 + i as f64;
                }
                group[i].push(WireSample {
                    value: *v,
                    timestamp: t,
                });
            }
        }
        let req = WriteRequest {
            timeseries: defs
                .iter()
                .zip(group.iter_mut())
                .map(|((labels, _), samples)| TimeSeries {
                    labels: labels
                        .iter()
                        .map(|(n, v)| Label {
                            name: n.clone(),
                            value: v.clone(),
                        })
                        .collect(),
                    samples: std::mem::take(samples),
                    ..Default::default()
                })
                .collect(),
            metadata: vec![],
        };
        total += defs.len() * n;
        bodies.push(
            snap::raw::Encoder::new()
                .compress_vec(&req.encode_to_vec())
                .unwrap_or_default(),
        );
        step += n;
    }
    (bodies, total)
}

async fn get(
    client: &reqwest::Client,
    url: &str,
    params: &[(&str, String)],
) -> Result<f64, String> {
    let start = Instant::now();
    let r = client
        .get(format!("{url}/api/v1/query_range"))
        .query(params)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status();
    let body = r.bytes().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!(
            "{params:?}: {status} {}",
            String::from_utf8_lossy(&body)
        ));
    }
    Ok(start.elapsed().as_secs_f64() * 1000.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let targets: Vec<(String, String)> = args
        .targets
        .iter()
        .map(|t| match t.split_once('=') {
            Some((n, u)) => (n.to_string(), u.to_string()),
            None => (t.clone(), t.clone()),
        })
        .collect();
    let steps = (args.hours * 3600.0 / 15.0) as usize;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let start_ms = (now_ms - steps as i64 * 15_000) / 15_000 * 15_000;
    let end_s = (start_ms + (steps as i64 - 1) * 15_000) / 1000;
    let from_s = end_s - (args.hours * 3600.0) as i64;
    let (bodies, total) = encode(start_ms, steps, 40);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .map_err(|e| e.to_string())?;
    let range = |q: &str, step: u32| -> Vec<(&'static str, String)> {
        vec![
            ("query", q.to_string()),
            ("start", from_s.to_string()),
            ("end", end_s.to_string()),
            ("step", step.to_string()),
        ]
    };
    let queries: Vec<(&str, Vec<(&str, String)>)> =
        vec![
        ("panel: bench_value{job} + 3, step 60s", range("bench_value{job=\"bench\"} + 3", 60)),
        ("panel: bench_value{job} + 3, step 15s", range("bench_value{job=\"bench\"} + 3", 15)),
        ("one series, step 15s", range("bench_value{series=\"s7\"}", 15)),
        ("rate(x[5m]) 50 series, step 60s", range("rate(bench_requests_total[5m])", 60)),
        (
            "sum by (l) (rate(x[5m])), step 60s",
            range("sum by (l) (rate(bench_requests_total[5m]))", 60),
        ),
        (
            "histogram_quantile(0.99, sum by (le) (rate)), 60s",
            range(
                "histogram_quantile(0.99, sum by (le) (rate(bench_latency_seconds_bucket[5m])))",
                60,
            ),
        ),
        (
            "topk(5, rate(x[5m])), step 60s",
            range("topk(5, rate(bench_requests_total[5m]))", 60),
        ),
        (
            "avg_over_time(x[5m]) 50 series, step 60s",
            range("avg_over_time(bench_value[5m])", 60),
        ),
    ];
    let mut table: Vec<Vec<f64>> = Vec::new();
    for (name, url) in &targets {
        eprintln!("ingesting {total} samples into {name} ({url}) ...");
        let t0 = Instant::now();
        for body in &bodies {
            let r = client
                .post(format!("{url}/api/v1/write"))
                .header("Content-Encoding", "snappy")
                .header("Content-Type", "application/x-protobuf")
                .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                .body(body.clone())
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if !r.status().is_success() {
                let status = r.status();
                return Err(format!(
                    "{name}: {status}: {}",
                    r.text().await.unwrap_or_default()
                ));
            }
        }
        eprintln!(
            "  {:.1}s; settling {}s",
            t0.elapsed().as_secs_f64(),
            args.settle_seconds
        );
        tokio::time::sleep(Duration::from_secs(args.settle_seconds)).await;
        let mut col = Vec::new();
        for (_, params) in &queries {
            get(&client, url, params).await?; // warm-up
            let mut times = Vec::new();
            for _ in 0..args.runs {
                times.push(get(&client, url, params).await?);
            }
            col.push(median(times));
        }
        // The UI's dashboard: 20 panels of `bench_value{job} + i` at a 60 s step, six in
        // flight at once (a browser's connections per host); wall time for all 20 and median.
        let mut walls = Vec::new();
        let mut per = Vec::new();
        for _ in 0..args.runs.min(5) {
            let t0 = Instant::now();
            let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(6));
            let mut tasks = Vec::new();
            for i in 0..20 {
                let (client, url, sem) = (client.clone(), url.clone(), sem.clone());
                let params = range(&format!("bench_value{{job=\"bench\"}} + {i}"), 60);
                tasks.push(tokio::spawn(async move {
                    let _permit = sem.acquire().await.map_err(|e| e.to_string())?;
                    get(&client, &url, &params).await
                }));
            }
            for t in tasks {
                per.push(t.await.map_err(|e| e.to_string())??);
            }
            walls.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
        col.push(median(walls));
        col.push(median(per));
        table.push(col);
    }
    let mut labels: Vec<&str> = queries.iter().map(|q| q.0).collect();
    labels.push("dashboard: 20 panels, 6 at once: wall");
    labels.push("dashboard: 20 panels, 6 at once: median each");
    println!(
        "range queries over {:.0} h of 15 s samples ({} series, {total} samples), median ms",
        args.hours,
        series().len()
    );
    print!("{:<52}", "query");
    for (n, _) in &targets {
        print!("{n:>12}");
    }
    if targets.len() == 2 {
        print!("{:>8}", "ratio");
    }
    println!();
    for (i, label) in labels.iter().enumerate() {
        print!("{label:<52}");
        let vals: Vec<f64> = table
            .iter()
            .map(|c| c.get(i).copied().unwrap_or(f64::NAN))
            .collect();
        for v in &vals {
            print!("{v:>12.1}");
        }
        if let [a, b] = vals[..] {
            print!("{:>8.2}", a / b);
        }
        println!();
    }
    Ok(())
}
