//! Chunk codec figures for bench/README: bytes per sample and decode CPU per sample of XOR
//! chunks (head, `PHTSDB01/02` blocks) vs persisted `PHTSDB03` chunks, on node-exporter-like
//! series shaped as `pharos-bench` makes them (counters, random-walk gauges, constants; integer
//! values at a regular 15 s interval; seeded).
//!
//! `cargo run --release -p tsdb --example chunk_codec`

use model::Sample;
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

thread_local!(static LOSS: std::cell::RefCell<f64> = const { std::cell::RefCell::new(0.0) });

fn main() {
    let mut rng = Rng(42);
    let hosts = 20;
    let mut xor = Vec::new();
    let mut persisted = Vec::new();
    let mut samples_total = 0usize;
    let mut buf = Vec::new();
    for _ in 0..hosts {
        for (kind, p) in kinds(&mut rng) {
            let mut v = match kind {
                0 => (rng.unit() * 1e6).round(),
                _ => p,
            };
            // 2 h at 15 s: 4 chunks of 120 samples.
            for c in 0..4 {
                let mut e = ChunkEncoder::new();
                let mut s = Vec::new();
                for i in 0..120i64 {
                    let t = 1_700_000_000_000 + (c * 120 + i) * 15_000;
                    match kind {
                        0 => v += (p * 15.0 * (0.5 + rng.unit())).round(),
                        1 => v = (v + (rng.unit() - 0.5) * p * 0.01).max(0.0).round(),
                        _ => {}
                    }
                    e.append(t, v);
                    s.push(Sample { t, v });
                }
                let chunk = e.into_chunk();
                {
                    let d: Vec<i64> = s.windows(2).map(|w| (w[1].v - w[0].v) as i64).collect();
                    let lo = *d.iter().min().unwrap();
                    let hi = *d.iter().max().unwrap();
                    let r = (hi - lo) as u64;
                    let width = 64 - r.leading_zeros();
                    let ideal = ((r + 1) as f64).log2();
                    LOSS.with(|l| *l.borrow_mut() += (width as f64 - ideal) * d.len() as f64 / 8.0);
                }
                buf.clear();
                tsdb::packed::encode(&s, chunk.min_t, chunk.max_t, &chunk.data, &mut buf);
                persisted.push((buf.clone(), chunk.min_t, chunk.max_t));
                samples_total += s.len();
                xor.push(chunk);
            }
        }
    }
    let xor_bytes: usize = xor.iter().map(|c| c.data.len()).sum();
    let new_bytes: usize = persisted.iter().map(|c| c.0.len()).sum();
    let all: Vec<u8> = persisted.iter().flat_map(|c| c.0.iter().copied()).collect();
    let zstd_bytes = zstd::bulk::compress(&all, 3).map(|z| z.len()).unwrap_or(0);
    println!(
        "{} chunks, {samples_total} samples: XOR {:.3} bytes/sample, PHTSDB03 chunks {:.3} ({:.2}x); zstd -3 over all of them would give {:.3}",
        xor.len(),
        xor_bytes as f64 / samples_total as f64,
        new_bytes as f64 / samples_total as f64,
        new_bytes as f64 / xor_bytes as f64,
        zstd_bytes as f64 / samples_total as f64,
    );
    println!(
        "ceil loss {:.3} bytes/sample",
        LOSS.with(|l| *l.borrow()) / samples_total as f64
    );
    let rounds = 20;
    let mut out = Vec::with_capacity(120);
    let mut check = 0f64;
    let t0 = thread_cpu_ns();
    for _ in 0..rounds {
        for c in &xor {
            out.clear();
            tsdb::chunk::decode_into(&c.data, c.count, i64::MIN, i64::MAX, &mut out);
            check += out[out.len() - 1].v;
        }
    }
    let t_xor = thread_cpu_ns() - t0;
    let t0 = thread_cpu_ns();
    for _ in 0..rounds {
        for (data, min_t, max_t) in &persisted {
            out.clear();
            tsdb::packed::decode_into(data, 120, (*min_t, *max_t), (i64::MIN, i64::MAX), &mut out);
            check -= out[out.len() - 1].v;
        }
    }
    let t_new = thread_cpu_ns() - t0;
    let n = (samples_total * rounds) as f64;
    println!(
        "decode CPU: XOR {:.2} ns/sample, PHTSDB03 {:.2} ns/sample ({:.2}x) [check {check}]",
        t_xor as f64 / n,
        t_new as f64 / n,
        t_new as f64 / t_xor as f64
    );
}
