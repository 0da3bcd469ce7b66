//! Measures the head's memory per active series: appends `SERIES` node-exporter-like series
//! (default 1,000,000; 5 labels like `node_cpu_seconds_total{cpu,instance,job,mode}`) with
//! `SAMPLES` samples each (default 60 = 15 min at 15 s) through `Tsdb::append_series`, then
//! prints live heap bytes per series (counted by a wrapping allocator) and the process' RSS.
//!
//! `cargo run --release -p tsdb --example head_memory [SERIES] [SAMPLES]`

use model::{Labels, MetricSink, Sample, Series};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

/// Counts live heap bytes (requested sizes, so allocator overhead shows in RSS only).
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: `p` came from `alloc` with the same layout.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn rss_bytes() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<i64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

fn series_labels(i: usize) -> Labels {
    const MODES: [&str; 8] = [
        "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
    ];
    Labels::from_pairs([
        ("__name__", "node_cpu_seconds_total".to_string()),
        ("cpu", ((i / 8) % 8).to_string()),
        ("instance", format!("host-{}:9100", i / 64)),
        ("job", "node".to_string()),
        ("mode", MODES[i % 8].to_string()),
    ])
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let samples: i64 = args.next().and_then(|v| v.parse().ok()).unwrap_or(60);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = tsdb::Tsdb::open(dir.path(), tsdb::TsdbOptions::default()).expect("open");
    let (heap0, rss0) = (LIVE.load(Ordering::Relaxed), rss_bytes());
    let t0 = 1_700_000_000_000i64;
    let cpu = std::time::Instant::now();
    // Remote-write-like requests: 8 samples per series, 25,000 series per request.
    for step in (0..samples).step_by(8) {
        for part in (0..n).step_by(25_000) {
            let batch: Vec<Series> = (part..(part + 25_000).min(n))
                .map(|k| Series {
                    labels: series_labels(k),
                    samples: (step..(step + 8).min(samples))
                        .map(|s| Sample {
                            t: t0 + s * 15_000,
                            v: (k as f64) * 1.5 + s as f64 * 0.25,
                        })
                        .collect(),
                })
                .collect();
            db.append_series(&batch).expect("append");
        }
    }
    let secs = cpu.elapsed().as_secs_f64();
    let heap = LIVE.load(Ordering::Relaxed) - heap0;
    let rss = rss_bytes() - rss0;
    println!(
        "{n} series x {samples} samples: heap {:.0} bytes/series, RSS {:.0} bytes/series, \
         {:.2} M samples/s (wall, one thread)",
        heap as f64 / n as f64,
        rss as f64 / n as f64,
        (n as f64 * samples as f64) / secs / 1e6
    );
}
