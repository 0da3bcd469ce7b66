//! Chunk codec figures for bench/README: bytes per sample and decode CPU per sample of XOR
//! chunks (head, `PHTSDB01/02` blocks) vs persisted `PHTSDB03` chunks, on node-exporter-like
//! series shaped as `pharos-bench` makes them (counters, random-walk gauges, constants; integer
//! values at a regular 15 s interval; seeded).
//!
//! `cargo run --release -p tsdb --example chunk_codec`

use tsdb::chunk::ChunkEncoder;

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

/// One host's worth of series kinds, in the driver's proportions: (counter rate | gauge level |
/// constant) per series.
fn kinds(rng: &mut Rng) -> Vec<(u8, f64)> {
    let mut k = Vec::new();
    for _ in 0..8 {
        k.push((0, 0.8));
        for _ in 0..7 {
            k.push((0, 0.02 + rng.unit() * 0.05));
        }
    }
    for i in 0..40 {
        k.push(if i % 3 == 0 {
            (2, 8e9)
        } else {
            (1, 1e9 * (1.0 + rng.unit()))
        });
    }
    k.push((1, 4e9));
    for _ in 0..5 {
        k.extend([(1, 5e10), (2, 1e11), (1, 5.5e10), (1, 1e6)]);
    }
    for _ in 0..8 {
        for r in [1e5, 200.0, 0.0, 0.001] {
            k.push((0, r * rng.unit()));
        }
    }
    for _ in 0..3 {
        for r in [5e4, 2e5, 10.0, 40.0, 0.05, 0.01, 0.03] {
            k.push((0, r * rng.unit()));
        }
    }
    for _ in 0..10 {
        k.push((0, rng.unit() * 100.0));
    }
    k.extend([(1, 1.5), (1, 1.2), (2, 1.7e9)]);
    k
}

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer to a timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn main() {
    let mut rng = Rng(42);
    let hosts = 20;
    let mut series = Vec::new();
    let mut samples_total = 0usize;
    for h in 0..hosts {
        for (j, (kind, p)) in kinds(&mut rng).into_iter().enumerate() {
            let mut v = match kind {
                0 => (rng.unit() * 1e6).round(),
                _ => p,
            };
            // 2 h at 15 s: 4 head chunks of 120 samples.
            let mut chunks = Vec::new();
            for c in 0..4 {
                let mut e = ChunkEncoder::new();
                for i in 0..120i64 {
                    let t = 1_700_000_000_000 + (c * 120 + i) * 15_000;
                    match kind {
                        0 => v += (p * 15.0 * (0.5 + rng.unit())).round(),
                        1 => v = (v + (rng.unit() - 0.5) * p * 0.01).max(0.0).round(),
                        _ => {}
                    }
                    e.append(t, v);
                }
                samples_total += e.len();
                chunks.push(e.into_chunk());
            }
            let labels = model::Labels::from_pairs([
                ("__name__", format!("node_metric_{j}").as_str()),
                ("instance", format!("host-{h}:9100").as_str()),
                ("job", "node"),
            ]);
            series.push((labels, chunks));
        }
    }
    let xor: Vec<tsdb::chunk::Chunk> = series.iter().flat_map(|s| s.1.clone()).collect();
    let xor_bytes: usize = xor.iter().map(|c| c.data.len()).sum();
    let dir = tempfile::tempdir().expect("temp dir");
    let cpu = thread_cpu_ns();
    let block = tsdb::block::write(dir.path(), 0, i64::MAX, series, Vec::new()).expect("write");
    let write_ns = thread_cpu_ns() - cpu;
    let refs: Vec<_> = block.series.iter().flat_map(|s| s.1.iter()).collect();
    let chunk_bytes: usize = refs.iter().map(|c| block.chunk_bytes(c).len()).sum();
    let n = samples_total as f64;
    println!(
        "{} XOR chunks, {samples_total} samples: XOR chunk bytes {:.3}/sample; PHTSDB03 block {} chunks, chunk bytes {:.3}/sample ({:.2}x), whole block (data + meta.json) {:.3}/sample; write {:.0} ns/sample CPU",
        xor.len(),
        xor_bytes as f64 / n,
        refs.len(),
        chunk_bytes as f64 / n,
        chunk_bytes as f64 / xor_bytes as f64,
        block.size_bytes as f64 / n,
        write_ns as f64 / n,
    );
    let all: Vec<u8> = refs
        .iter()
        .flat_map(|c| block.chunk_bytes(c).to_vec())
        .collect();
    let zstd_bytes = zstd::bulk::compress(&all, 3).map(|z| z.len()).unwrap_or(0);
    println!(
        "zstd -3 over all chunk bytes would give {:.3} bytes/sample",
        zstd_bytes as f64 / n
    );
    let rounds = 20;
    let mut out = Vec::with_capacity(480);
    let mut check = 0f64;
    let t0 = thread_cpu_ns();
    for _ in 0..rounds {
        for c in &xor {
            out.clear();
            tsdb::chunk::decode_into(&c.data, c.count, i64::MIN, i64::MAX, &mut out);
            check += out.last().map_or(0.0, |s| s.v);
        }
    }
    let t_xor = thread_cpu_ns() - t0;
    let t0 = thread_cpu_ns();
    for _ in 0..rounds {
        for c in &refs {
            out.clear();
            block.decode_into(c, i64::MIN, i64::MAX, &mut out);
            check -= out.last().map_or(0.0, |s| s.v);
        }
    }
    let t_new = thread_cpu_ns() - t0;
    // The last 5 minutes of each series (an instant query's lookback).
    let t0 = thread_cpu_ns();
    let (lo, hi) = (
        1_700_000_000_000 + 450 * 15_000,
        1_700_000_000_000 + 470 * 15_000,
    );
    let mut inst = 0usize;
    for _ in 0..rounds {
        for c in &refs {
            out.clear();
            block.decode_into(c, lo, hi, &mut out);
            inst += out.len();
        }
    }
    let t_inst = thread_cpu_ns() - t0;
    let rn = n * rounds as f64;
    println!(
        "decode CPU: XOR {:.2} ns/sample, PHTSDB03 {:.2} ns/sample ({:.2}x); a 5 min window per series {:.0} ns ({} samples) [check {check}]",
        t_xor as f64 / rn,
        t_new as f64 / rn,
        t_new as f64 / t_xor as f64,
        t_inst as f64 / (refs.len() * rounds) as f64,
        inst / rounds,
    );
}
