//! CPU per sample of the remote_write 1.0 receive path without HTTP: snappy body → decode →
//! TSDB append (WAL fsync included), on node-exporter-like series shaped as `pharos-bench`
//! makes them, through the prost path (`decode_body` → `to_batch` → `append_series`) and the
//! direct path (`remote_write_direct::decode_body` → `append_encoded`), alternately on fresh
//! databases. `cargo run --release -p api --example remote_write_ingest [HOSTS] [STEPS]`.

use api::prometheus::{remote_write as rw, remote_write_direct as direct};
use model::MetricSink;
use prost::Message;

/// This thread's CPU time (ns), from the scheduler's accounting.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Label sets of one host: 191 series as node_exporter's main families.
fn host_series(host: usize) -> Vec<Vec<(String, String)>> {
    let base = |name: &str| {
        vec![
            ("__name__".to_string(), name.to_string()),
            ("instance".to_string(), format!("host-{host}:9100")),
            ("job".to_string(), "node".to_string()),
        ]
    };
    let with = |name: &str, extra: &[(&str, String)]| {
        let mut l = base(name);
        l.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        l
    };
    let mut out = Vec::new();
    for cpu in 0..8 {
        for mode in [
            "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
        ] {
            out.push(with(
                "node_cpu_seconds_total",
                &[("cpu", cpu.to_string()), ("mode", mode.to_string())],
            ));
        }
    }
    for i in 0..41 {
        out.push(base(&format!("node_memory_Field{i}_bytes")));
    }
    for m in 0..5 {
        for f in ["avail_bytes", "size_bytes", "free_bytes", "files_free"] {
            out.push(with(
                &format!("node_filesystem_{f}"),
                &[
                    ("device", format!("/dev/sd{m}")),
                    ("fstype", "ext4".into()),
                    ("mountpoint", format!("/mnt/{m}")),
                ],
            ));
        }
    }
    for d in 0..4 {
        for dir in ["receive", "transmit"] {
            for k in ["bytes", "packets", "errs", "drop"] {
                out.push(with(
                    &format!("node_network_{dir}_{k}_total"),
                    &[("device", format!("eth{d}"))],
                ));
            }
        }
    }
    for d in 0..3 {
        for k in 0..7 {
            out.push(with(
                &format!("node_disk_op{k}_total"),
                &[("device", format!("sd{d}"))],
            ));
        }
    }
    while out.len() < 191 {
        out.push(base(&format!("node_vmstat_field{}", out.len())));
    }
    out
}

/// Snappy remote_write bodies: 4 partitions of the series, `per` samples per series per request.
fn bodies(series: &[Vec<(String, String)>], steps: usize, per: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut x: u64 = 42;
    let t0 = 1_700_000_000_000i64;
    for first in (0..steps).step_by(per) {
        for part in series.chunks(series.len().div_ceil(4)) {
            let timeseries = part
                .iter()
                .enumerate()
                .map(|(i, labels)| rw::TimeSeries {
                    labels: labels
                        .iter()
                        .map(|(n, v)| rw::Label {
                            name: n.clone(),
                            value: v.clone(),
                        })
                        .collect(),
                    samples: (first..(first + per).min(steps))
                        .map(|s| {
                            x ^= x << 13;
                            x ^= x >> 7;
                            x ^= x << 17;
                            rw::WireSample {
                                value: (i * 1000) as f64 + (x % 100) as f64,
                                timestamp: t0 + s as i64 * 15_000,
                            }
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect();
            let raw = rw::WriteRequest {
                timeseries,
                metadata: Vec::new(),
            }
            .encode_to_vec();
            out.push(
                snap::raw::Encoder::new()
                    .compress_vec(&raw)
                    .expect("snappy"),
            );
        }
    }
    out
}

fn run(bodies: &[Vec<u8>], direct_path: bool) -> (u64, usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = tsdb::Tsdb::open(dir.path(), tsdb::TsdbOptions::default()).expect("open");
    let (mut ns, mut samples) = (0, 0);
    for body in bodies {
        let cpu = thread_cpu_ns();
        let st = if direct_path {
            let batch = direct::decode_body(body)
                .ok()
                .flatten()
                .expect("direct path");
            let st = db.append_encoded(&batch);
            direct::recycle(batch);
            st
        } else {
            let req = rw::decode_body(body).expect("decode");
            let (batch, _) = rw::to_batch(req).expect("batch");
            db.append_series(&batch)
        }
        .expect("append");
        ns += thread_cpu_ns() - cpu;
        samples += st.appended;
    }
    let _ = db.close();
    (ns, samples)
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let hosts = args.first().copied().unwrap_or(100);
    let steps = args.get(1).copied().unwrap_or(240);
    let series: Vec<_> = (0..hosts).flat_map(host_series).collect();
    let bodies = bodies(&series, steps, 8);
    println!(
        "{} series x {steps} samples in {} requests",
        series.len(),
        bodies.len()
    );
    for round in 0..2 {
        for direct_path in [false, true] {
            let (ns, n) = run(&bodies, direct_path);
            println!(
                "round {round} {:<32} {:.3} us/sample CPU ({n} samples)",
                if direct_path {
                    "direct (append_encoded)"
                } else {
                    "prost (to_batch, append_series)"
                },
                ns as f64 / n as f64 / 1000.0
            );
        }
    }
}
